"""Temporary files and folders beside an output, named so that a later run can clean up.

Every temporary thing automix makes beside an output is named

    ``.<output name>.automix-<host>-<pid>-<token>.<kind>[<suffix>]``

(``host``: 6 hex digits of the machine's name; ``pid``: the process writing it; ``token``: 8
random hex digits; ``kind``: ``part`` for an output being written, ``float`` for the
network's output before its loudness gain, ``stems`` for remix's separated sources). An
interrupted run (SIGINT, SIGTERM) removes its own; a killed one (SIGKILL, a power cut) cannot,
so :func:`temp_file` and :func:`temp_folder` first remove, with :func:`sweep_stale`, the
temporary things *of the same output* whose process is no longer running on this machine.
Nothing else is ever removed: not another output's, not another machine's (a shared folder),
not a running process's, and no name outside this pattern.

The process also keeps the names it made (registered before the file or folder exists): a
signal can land between two statements of a clean-up, so the CLI, when interrupted, removes
with :func:`remove_live` whatever of them is still on disk. Torch-free.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import socket
from pathlib import Path

__all__ = ["TEMP_TAG", "forget", "is_temp_of", "pid_alive", "remove_live", "sweep_stale", "temp_file", "temp_folder",
           "temp_name"]

log = logging.getLogger("automix")

#: The word every temporary name carries.
TEMP_TAG = "automix"

_TEMP_RE = re.compile(
    r"^\.(?P<name>.+)\.automix-(?P<host>[0-9a-f]{6})-(?P<pid>[0-9]{1,10})-(?P<token>[0-9a-f]{8})"
    r"\.(?P<kind>[a-z]+)(?P<suffix>\.[A-Za-z0-9]{1,8})?$"
)


_LIVE: set[Path] = set()  # temporary names this process made and has not removed or renamed away


def forget(path: str | os.PathLike[str]) -> None:
    """``path`` (a temporary name) was renamed into place or removed: no longer this process's to clean."""
    _LIVE.discard(Path(path))


def remove_live() -> list[Path]:
    """Remove every temporary file and folder this process made that is still on disk; return them."""
    removed = []
    for path in sorted(_LIVE, key=lambda p: len(p.parts), reverse=True):  # a temporary inside another first
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
                removed.append(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
                removed.append(path)
        _LIVE.discard(path)
    return removed


def _host() -> str:
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]


def temp_name(output_name: str, kind: str = "part", suffix: str = "") -> str:
    """A new temporary name for the output ``output_name`` (see the module doc)."""
    if not re.fullmatch(r"[a-z]+", kind):
        raise ValueError(f"kind must be lower-case letters, got {kind!r}")
    return f".{output_name}.{TEMP_TAG}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}.{kind}{suffix}"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def is_temp_of(entry_name: str, output_name: str) -> tuple[bool, bool]:
    """``(ours, stale)`` for the folder entry ``entry_name``: whether it is a temporary thing of
    ``output_name`` (also a temporary of such a temporary), and whether every process named in
    it is gone from this machine."""
    stale = True
    name = entry_name
    while True:
        match = _TEMP_RE.match(name)
        if match is None:
            return False, False
        if match.group("host") != _host():
            stale = False  # another machine's: never ours to judge
        elif pid_alive(int(match.group("pid"))):
            stale = False
        name = match.group("name")
        if name == output_name:
            return True, stale
        if not name.startswith("."):
            return False, False


def sweep_stale(folder: str | os.PathLike[str], output_name: str) -> list[Path]:
    """Remove from ``folder`` the temporary files and folders of ``output_name`` left by runs that
    were killed (see the module doc); return what was removed. Errors are ignored."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        ours, stale = is_temp_of(entry.name, output_name)
        if not (ours and stale):
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
    if removed:
        log.info("removed %d temporary file(s) of %s left by a run that was killed: %s", len(removed), output_name,
                 ", ".join(p.name for p in removed))
    return removed


def _drop_interrupted(path: Path) -> None:
    """A creation that raised: a signal can arrive just after the file or folder was made (its
    handler raises on the same line), so remove it if it is there; the name, with this process's
    PID and a random token, is no one else's."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        elif path.exists():
            path.unlink()
    _LIVE.discard(path)


def temp_file(output: str | os.PathLike[str], kind: str = "part", suffix: str | None = None) -> Path:
    """Create a new empty private temporary file beside ``output`` (its suffix kept unless
    ``suffix`` is given, libraries choose formats by it) after sweeping stale ones; its path."""
    output = Path(output)
    sweep_stale(output.parent, output.name)
    for _ in range(16):
        path = output.parent / temp_name(output.name, kind, output.suffix if suffix is None else suffix)
        _LIVE.add(path)  # before it exists: an interruption right after creating it still finds it
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except BaseException:
            _drop_interrupted(path)
            raise
        os.close(fd)
        return path
    raise FileExistsError(f"no free temporary name beside {output}")  # pragma: no cover


def temp_folder(output: str | os.PathLike[str], kind: str = "part") -> Path:
    """Create a new private temporary folder beside ``output`` after sweeping stale ones; its path."""
    output = Path(output)
    sweep_stale(output.parent, output.name)
    for _ in range(16):
        path = output.parent / temp_name(output.name, kind)
        _LIVE.add(path)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except BaseException:
            _drop_interrupted(path)
            raise
        return path
    raise FileExistsError(f"no free temporary name beside {output}")  # pragma: no cover
