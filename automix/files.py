"""Safe output files: refuse to overwrite unless asked, write to a temporary file, then rename.

Torch-free; shared by the audio writer, checkpoints and session writers (daw_bridge).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from .errors import OutputError


def shipped_folder(name: str) -> Path:
    """A top-level data folder of the project (``presets``, ``datasets``).

    ``pip install .`` installs it as ``automix/_<name>``; a source checkout has it beside the
    ``automix`` package. The installed copy wins.
    """
    package = Path(__file__).resolve().parent
    installed = package / f"_{name}"
    return installed if installed.is_dir() else package.parent / name


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
