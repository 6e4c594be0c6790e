"""Files in: settings files (JSON or YAML, read with one-line errors), hashes, shipped data folders.

Outputs go through :mod:`daw_bridge.outputs`.

Torch-free; shared by the audio writer, checkpoints, recipes and daw_bridge's sessions.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from daw_bridge.errors import AutomixError


def shipped_folder(name: str) -> Path:
    """A top-level data folder of the project (``presets``, ``datasets``).

    ``pip install .`` installs it as ``automix/_<name>``; a source checkout has it beside the
    ``automix`` package. The installed copy wins.
    """
    top = Path(__file__).resolve().parent.parent  # site-packages, or the checkout
    installed = top / "automix" / f"_{name}"
    return installed if installed.is_dir() else top / name


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def umask() -> int:
    """The process umask (read without changing it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


YAML_SUFFIXES = (".yaml", ".yml")


def read_settings_file(
    path: str | os.PathLike,
    what: str,
    *,
    error: type[AutomixError] = AutomixError,
    shape: str = "an object of settings",
) -> dict[str, Any]:
    """The mapping held by a JSON file, or a YAML file (``.yaml``/``.yml``, needs PyYAML).

    ``what`` names the file in messages (``"recipe"``, ``"session file"``); every problem
    (missing, a folder, unreadable, not valid JSON/YAML with line and column, not a mapping:
    ``must hold {shape}``) raises ``error`` with one line saying what to do.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder; give the path of a {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {' '.join(str(exc).split())}") from None
    if path.suffix.lower() in YAML_SUFFIXES:
        try:
            import yaml
        except ImportError:
            raise error(f"reading {path} needs PyYAML, which is not installed; run `pip install pyyaml` "
                        "or write it as JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "syntax error"
            raise error(f"{what} {path} is not valid YAML{where}: {problem}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise error(
                f"{what} {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold {shape}")
    return data


def link_or_copy(source: str | os.PathLike, target: str | os.PathLike) -> str:
    """Put ``source``'s content at the new path ``target``: a hard link on the same file system
    (no space taken; both names are one file, which automix never changes), else a copy.
    Returns ``"linked"`` or ``"copied"``; ``OSError`` if neither works."""
    import shutil

    try:
        os.link(source, target)
        return "linked"
    except FileExistsError:
        raise
    except OSError:  # another file system, no hard links there, a limit reached: a copy
        shutil.copyfile(source, target)
        return "copied"
