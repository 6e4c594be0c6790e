"""The one guard every writer goes through: nothing the user owns is replaced or deleted.

* A command declares what it reads with :func:`reading` (a context); inside it,
  :func:`check_output_path` and :func:`check_output_folder` refuse an output that resolves
  (symlinks, hard links, ``..``) to one of those inputs, and a folder output that holds one,
  ``--force`` or not.
* A file is written to a temporary file beside it and renamed into place
  (:func:`atomic_output`); an existing file is replaced only with ``force``.
* A folder is built beside its place and renamed into place (:func:`new_output_folder`). It
  records what automix wrote in :data:`MARKER`; with ``force`` an existing folder is updated
  only if automix wrote it, only its own unchanged files are replaced or removed, and files
  the user added (a recorded take, an edited session) are never touched.

Torch-free.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from daw_bridge._version import __version__
from daw_bridge.errors import OutputError, SessionWriteError
from daw_bridge.files import umask
from daw_bridge.tempfiles import forget, temp_file, temp_folder

__all__ = [
    "MARKER",
    "atomic_output",
    "check_output_folder",
    "check_not_input",
    "check_output_path",
    "new_output_folder",
    "reading",
    "reads",
    "safe_file_name",
    "written_by_automix",
]

#: The ``software`` tag of every audio file automix writes (how a later run knows it wrote it).
SOFTWARE_TAG = f"automix {__version__}"
#: File in every folder automix writes: the files it wrote there, with their sizes and times.
MARKER = ".automix-written.json"

F = TypeVar("F", bound=Callable[..., Any])
_INPUTS: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("automix_inputs", default=())
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def safe_file_name(name: str, default: str = "session") -> str:
    """``name`` made safe as a file name on every system: path separators, ``:*?"<>|`` and
    control characters become ``_``, surrounding spaces and dots go; ``default`` if nothing is
    left."""
    cleaned = _UNSAFE_NAME.sub("_", name).strip().strip(".").strip()
    return cleaned or default


# --------------------------------------------------------------------------- inputs


@contextlib.contextmanager
def reading(paths: Iterable[str | os.PathLike[str] | None]) -> Iterator[None]:
    """Declare the files and folders a command reads; outputs inside the block may not be them.

    Nested blocks add to the outer ones. ``None`` entries are ignored.
    """
    added = tuple(Path(p).expanduser().absolute() for p in paths if p is not None)
    token = _INPUTS.set(_INPUTS.get() + added)
    try:
        yield
    finally:
        _INPUTS.reset(token)


def _paths_in(value: object) -> list[Path]:
    """The paths a value names: a path, a list of them, or an object with ``inputs()`` (a session)."""
    if value is None:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    if hasattr(value, "inputs") and callable(value.inputs):
        return list(value.inputs())
    if isinstance(value, (list, tuple)):
        return [p for item in value for p in _paths_in(item)]
    return []  # arrays, numbers, models: nothing on disk of the user's


def reads(*names: str) -> Callable[[F], F]:
    """Decorator: the function's parameters ``names`` are inputs (:func:`reading`) while it runs."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind_partial(*args, **kwargs)
            with reading([p for name in names for p in _paths_in(bound.arguments.get(name))]):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # symlinks and hard links
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _holds(folder: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def written_by_automix(path: Path) -> bool:
    """Whether the audio file ``path`` carries automix's tag (its ``software`` metadata)."""
    import soundfile as sf

    try:
        with sf.SoundFile(str(path)) as f:
            return (f.software or "").startswith(SOFTWARE_TAG.split()[0])
    except Exception:  # not audio, unreadable: not one of ours
        return False


def _user_audio(path: Path) -> bool:
    """An existing audio file automix did not write (it could be one of the user's stems)."""
    import soundfile as sf

    if not path.is_file():
        return False
    try:
        sf.info(str(path))
    except Exception:
        return False
    return not written_by_automix(path)


def check_not_input(path: Path, *, folder: bool, error: type[OutputError] = OutputError) -> None:
    """Raise ``error`` when ``path`` is an input of the running command (:func:`reading`), or
    (``folder``) holds one, or is audio in an input folder that automix did not write."""
    inputs = _INPUTS.get()
    for source in inputs:
        if _same(path, source):
            raise error(f"{path} is an input of this command ({source}); choose another output, automix never "
                        "writes over its inputs")
    for source in inputs:
        if folder and _holds(path, source):
            raise error(f"{path} holds an input of this command ({source}); choose another output folder")
        if not folder and source.is_dir() and _holds(source, path) and _user_audio(path):
            raise error(f"{path} is audio in the input folder {source} that automix did not write; choose another "
                        "output, automix never writes over its inputs")


# --------------------------------------------------------------------------- files


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Check that the file ``path`` can be written; return it as an absolute :class:`Path`.

    Raises :class:`OutputError` if it is an input (:func:`reading`), exists and ``overwrite``
    is false, exists and is audio automix did not write (``overwrite`` or not: its
    ``software`` tag says who wrote it), is a folder, or its folder is missing or not writable.
    Nothing is created.
    """
    path = Path(path).expanduser().absolute()
    check_not_input(path, folder=False)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name for the output")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --force to replace it")
    if path.exists() and _user_audio(path):
        raise OutputError(f"{path} is audio that automix did not write; choose another name (--force replaces only "
                          "what automix wrote)")
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

    On any exception (SIGINT and SIGTERM included) the temporary file is removed and ``path``
    is left as it was; one left by a killed run is removed by the next run writing ``path``
    (:mod:`daw_bridge.tempfiles`). The suffix of ``path`` is kept on the temporary file
    (libraries choose formats by it).
    """
    final = check_output_path(path, overwrite=overwrite)
    try:
        tmp = temp_file(final)
    except OSError as exc:
        raise OutputError(f"cannot write beside {final}: {exc.strerror or exc}") from None
    try:
        yield tmp
        if final.exists() and not overwrite:  # appeared while we were writing
            raise OutputError(f"{final} appeared while writing; pass --force to replace it")
        os.chmod(tmp, 0o666 & ~umask())  # made private (0600)
        os.replace(tmp, final)
        forget(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        forget(tmp)
        raise


# --------------------------------------------------------------------------- folders


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def _written(folder: Path) -> dict[str, list[int]] | None:
    """What automix recorded writing into ``folder`` (``None``: no or unreadable marker)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        files = data["files"]
        return {str(k): [int(v[0]), int(v[1])] for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


def _write_marker(folder: Path, names: Iterable[str]) -> None:
    files = {name: _stamp(folder / name) for name in names}
    tmp = folder / f"{MARKER}.part"
    tmp.write_text(json.dumps({"written_by": SOFTWARE_TAG, "files": files}, indent=1) + "\n")
    os.replace(tmp, folder / MARKER)


def _replaceable(final: Path, error: type[OutputError]) -> dict[str, list[int]]:
    """Check that ``final`` may be updated with ``force``; return automix's files in it."""
    if final.is_symlink() or not final.is_dir():
        raise error(f"{final} exists and is not a folder; remove it or choose another output folder")
    written = _written(final)
    if written is None:
        raise error(f"{final} exists and was not written by automix (no {MARKER}); choose a new folder, "
                    "automix only replaces what it wrote")
    for name, stamp in written.items():
        path = final / name
        if path.is_file() and _stamp(path) != stamp:
            raise error(f"{path} changed since automix wrote it; choose a new folder (your changes are kept)")
    return written


def check_output_folder(
    out_dir: str | os.PathLike[str], *, force: bool = False, error: type[OutputError] = SessionWriteError
) -> Path:
    """Check that the folder ``out_dir`` can be created (or, with ``force``, updated); an existing
    empty folder counts as new.

    Returns it as an absolute path; creates nothing. Raises ``error`` when it is or holds an
    input (:func:`reading`), when it exists and ``force`` is false, when it exists but automix
    did not write it (or a file automix wrote there changed since), and when its parent
    folder is missing or not writable.
    """
    final = Path(out_dir).expanduser().absolute()
    check_not_input(final, folder=True, error=error)
    if final.exists() and not final.is_dir():
        raise error(f"{final} is a file; give a folder for the output")
    if (final.exists() or final.is_symlink()) and not _empty_folder(final):
        if not force:
            raise error(f"{final} exists; pass --force to replace it (automix replaces only what it wrote there)")
        _replaceable(final, error)
    parent = final.parent
    if not parent.is_dir():
        raise error(f"cannot create {final}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise error(f"cannot create {final}: folder {parent} is not writable")
    return final


def _empty_folder(path: Path) -> bool:
    try:
        return path.is_dir() and not path.is_symlink() and not any(path.iterdir())
    except OSError:
        return False


def _update(final: Path, new: Path, error: type[OutputError]) -> None:
    """Move the files of ``new`` into the automix-written folder ``final``; remove automix's
    old files the new set lacks. Files automix did not write stay untouched."""
    old = _replaceable(final, error)
    names = _files_under(new)
    for name in names:
        target = final / name
        if (target.exists() or target.is_symlink()) and name not in old:
            raise error(f"{target} was not written by automix and the new output would replace it; "
                        "choose a new folder")
    for name in names:
        (final / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(new / name, final / name)
    for name in set(old) - set(names):
        with contextlib.suppress(FileNotFoundError):
            (final / name).unlink()
    _write_marker(final, names)


@contextlib.contextmanager
def new_output_folder(
    out_dir: str | os.PathLike[str], *, force: bool = False, error: type[OutputError] = SessionWriteError
) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out_dir``; on success it becomes ``out_dir``.

    The checks of :func:`check_output_folder` run first. A new ``out_dir`` is the temporary
    folder renamed into place. With ``force`` an existing automix-written ``out_dir`` receives
    the new files (each renamed into place once all are written) and loses automix's old files
    the new output lacks; anything else in it is left alone. On any exception the temporary
    folder is removed and ``out_dir`` is as it was.
    """
    final = check_output_folder(out_dir, force=force, error=error)
    try:
        tmp = temp_folder(final)
    except OSError as exc:
        raise error(f"cannot create a folder beside {final}: {exc.strerror or exc}") from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~umask())  # made private (0700)
        if _empty_folder(final):
            final.rmdir()
        if final.exists() or final.is_symlink():
            if not force:  # appeared while writing
                raise error(f"{final} appeared while writing; pass --force to replace it")
            _update(final, tmp, error)
        else:
            _write_marker(tmp, _files_under(tmp))
            os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        forget(tmp)
