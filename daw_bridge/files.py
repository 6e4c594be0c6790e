"""Safe output files (refuse to overwrite unless asked, write to a temporary file, then rename)
and settings files in (JSON or YAML, read with one-line errors).

Torch-free; shared by the audio writer, checkpoints, recipes and daw_bridge's sessions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from daw_bridge.errors import AutomixError, OutputError


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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that ``path`` can be created; return it as an absolute :class:`Path`.

    Raises :class:`OutputError` if it exists and ``overwrite`` is false, if it is a directory,
    or if its folder is missing or not writable. Nothing is created.
    """
    path = Path(path).expanduser().absolute()
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the output")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --force (overwrite=True) to replace it")
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")
    return path


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left as it was, so a
    reader never sees a half-written file. The suffix of ``path`` is kept on the temporary
    file, so libraries that choose a format from the extension still work.
    """
    final = check_output_path(path, overwrite=overwrite)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if final.exists() and not overwrite:  # appeared while we were writing
            raise OutputError(f"{final} appeared while writing; pass --force to replace it")
        # mkstemp (or a library rewriting the file) leaves it private (0600); give it the
        # mode a plain open() would have given it
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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
