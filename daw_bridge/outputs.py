"""Shared plumbing of the session writers: their errors and the new-output-folder rule.

Every session writer (REAPER, MIDI automation, Ardour) follows the same rules:

* it never modifies the user's files: it creates a *new* output (a folder, or one file);
* a folder is built in a temporary folder beside its final place and renamed into place only
  when everything in it was written (:func:`new_output_folder`), so nobody sees half a
  project, and an error leaves nothing behind;
* an existing output is refused with one line (``<dir> exists; pass --force to replace it``)
  unless ``force=True``; then the new folder is fully written first, swapped in, and only
  then is the old one removed;
* problems the user can fix raise :class:`SessionWriteError` (writing) or
  :class:`SessionReadError` (reading a DAW file back), subclasses of
  :class:`~daw_bridge.errors.AutomixError` with one-line messages that say what to do.

Torch-free.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from daw_bridge.errors import AutomixError
from daw_bridge.files import _umask

from daw_bridge.session import SessionError

__all__ = [
    "SessionReadError",
    "SessionWriteError",
    "check_output_folder",
    "new_output_folder",
    "safe_file_name",
]


class SessionWriteError(AutomixError):
    """A session could not be written (output exists, missing or unreadable audio, ...)."""


class SessionReadError(SessionError):
    """A DAW session file (REAPER project, MIDI automation file) is missing, unreadable or corrupt."""


_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def safe_file_name(name: str, default: str = "session") -> str:
    """``name`` made safe as a file name on every system: path separators, ``:*?"<>|`` and
    control characters become ``_``, surrounding spaces and dots go; ``default`` if nothing is
    left."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip().strip(".").strip()
    return cleaned or default


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def check_output_folder(
    out_dir: str | os.PathLike[str], *, force: bool = False, protect: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Check that the folder ``out_dir`` can be created (or, with ``force``, replaced).

    Returns it as an absolute path; creates nothing. Raises :class:`SessionWriteError` when it
    exists and ``force`` is false, when it exists but is not a folder, when its parent folder
    is missing or not writable, or when ``force`` would delete one of the ``protect`` paths
    (the user's own files, e.g. the session's audio) because they lie inside it.
    """
    final = Path(out_dir).expanduser().absolute()
    if final.exists() or final.is_symlink():
        if not force:
            raise SessionWriteError(f"{final} exists; pass --force to replace it")
        if final.is_symlink() or not final.is_dir():
            raise SessionWriteError(f"{final} exists and is not a folder; remove it or choose another output folder")
        for path in protect:
            path = Path(path)
            if _inside(path, final):
                raise SessionWriteError(
                    f"{final} holds the session's own file {path}; replacing it would delete that file, "
                    "so choose another output folder"
                )
    parent = final.parent
    if not parent.is_dir():
        raise SessionWriteError(f"cannot create {final}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SessionWriteError(f"cannot create {final}: folder {parent} is not writable")
    return final


@contextlib.contextmanager
def new_output_folder(
    out_dir: str | os.PathLike[str], *, force: bool = False, protect: Iterable[str | os.PathLike[str]] = ()
) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out_dir``; on success it becomes ``out_dir``.

    The checks of :func:`check_output_folder` run first. When the ``with`` block ends
    normally the temporary folder is given the usual folder permissions and renamed to
    ``out_dir``; with ``force`` an existing ``out_dir`` is first moved aside, the new folder
    renamed into place, and only then is the old one removed (if the rename fails, the old
    folder is put back). On any exception the temporary folder is removed and ``out_dir`` is
    left exactly as it was.
    """
    protect = list(protect)
    final = check_output_folder(out_dir, force=force, protect=protect)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent))
    except OSError as exc:
        raise SessionWriteError(f"cannot create a folder beside {final}: {exc.strerror or exc}") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp leaves it private (0700)
        if final.exists() or final.is_symlink():
            check_output_folder(final, force=force, protect=protect)  # appeared while writing?
            old = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}.old"
            os.rename(final, old)
            try:
                os.rename(tmp, final)
            except BaseException:
                os.rename(old, final)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
