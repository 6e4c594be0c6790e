"""Turn DAW exports into a :class:`~daw_bridge.session.Session`.

:func:`import_stems` reads a folder of exported stems (one audio file per track) and builds a
flat session: one track per file, role guessed from the file name, 0 dB, default pans, no
plugins. Only file headers are read (:func:`daw_bridge.audio.probe`), so it is fast on any size.

:func:`import_session_file` reads a saved automix session (JSON/YAML). Importing DAW project
files (Ardour, REAPER) will come later.
"""

from __future__ import annotations

import contextlib

import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from daw_bridge.audio import AUDIO_EXTENSIONS, AudioInfo, probe, resampled_length
from daw_bridge.errors import AutomixError
from daw_bridge.files import read_settings_file
from daw_bridge.stems import DRUM_SLOTS, guess_role, natural_key

from daw_bridge.session import Session, Track, load_session

__all__ = ["DEFAULT_PANS", "StemImportError", "import_session_file", "import_stems", "session_from_assignment"]

#: Default pan of a track by role (-1 left .. +1 right); roles not listed sit in the centre.
#: The overhead pair is spread to 70 %, not hard left/right, so the kit keeps some width
#: without the cymbals sounding detached from the close mics.
DEFAULT_PANS: dict[str, float] = {"overhead_L": -0.7, "overhead_R": 0.7}


class StemImportError(AutomixError):
    """Stems could not be imported (missing or empty folder, no audio, bad mapping)."""


def _list_audio(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> tuple[list[Path], str]:
    """The audio files to import, in natural order, and a name for the session."""
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source).expanduser()
        if not folder.exists():
            raise StemImportError(f"stems folder {folder} does not exist; check the path")
        if not folder.is_dir():
            raise StemImportError(f"{folder} is not a folder; give the folder of exported stems (or a list of files)")
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if not entries:
            raise StemImportError(f"stems folder {folder} is empty; export the tracks from your DAW into it")
        files = [p for p in entries if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS]
        if not files:
            exts = ", ".join(sorted(AUDIO_EXTENSIONS))
            raise StemImportError(f"stems folder {folder} has no audio files ({exts}); export the tracks into it")
        name = folder.absolute().name or "session"
    else:
        files = [Path(p).expanduser() for p in source]
        if not files:
            raise StemImportError("no stem files given; pass a folder or a list of audio files")
        name = "session"
    files = sorted((p.absolute() for p in files), key=natural_key)
    return files, name


def _track_names(files: Sequence[Path]) -> list[str]:
    """File name without extension; the whole file name where two stems would share one."""
    stems = Counter(p.stem for p in files)
    names = [p.stem if stems[p.stem] == 1 else p.name for p in files]
    counts = Counter(names)
    if len(counts) != len(names):  # same file name in different folders
        dupes = sorted(n for n, c in counts.items() if c > 1)
        raise StemImportError(
            f"several stems are named {', '.join(dupes)}; rename them so each track has its own name"
        )
    return names


def slot_role(file: Path, slots: Sequence[str]) -> str | None:
    """The role of a stem: the slot with the same guessed role and side, else the guessed role."""
    role, side = guess_role(file)
    if role is None:
        return None
    by_role = {guess_role(s): s for s in slots}
    return by_role.get((role, side)) or by_role.get((role, None)) or role


def _read_mapping(mapping: Mapping[str, str | None] | str | os.PathLike[str]) -> dict[str, str | None]:
    if isinstance(mapping, Mapping):
        return dict(mapping)
    return read_settings_file(
        mapping, "role mapping file", error=StemImportError, shape='an object like {"Kick In.wav": "kick"}'
    )


def _apply_mapping(
    mapping: Mapping[str, object], files: Sequence[Path], names: Sequence[str], roles: list[str | None]
) -> None:
    """Override ``roles`` in place from ``{track name or file name: role or None}``."""
    index: dict[str, int] = {}
    for i, (file, name) in enumerate(zip(files, names)):
        for key in (name, file.name):
            index.setdefault(key, i)
            index.setdefault(key.casefold(), i)
    for key, role in mapping.items():
        i = index.get(str(key), index.get(str(key).casefold()))
        if i is None:
            have = ", ".join(p.name for p in files)
            raise StemImportError(f"role mapping names {key!r}, which is not among the stems ({have})")
        if role is None or (isinstance(role, str) and role.strip().lower() in ("", "none")):
            roles[i] = None
        elif isinstance(role, str):
            roles[i] = role.strip()
        else:
            raise StemImportError(f"role mapping for {key!r} must be a role name (e.g. 'kick') or null, got {role!r}")


def import_stems(
    folder_or_files: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    mapping: Mapping[str, str | None] | str | os.PathLike[str] | None = None,
    slots: Sequence[str] | None = None,
    sample_rate: int | None = None,
    name: str | None = None,
) -> Session:
    """Build a session from a folder (or list) of stems exported from a DAW.

    One track per audio file (:data:`daw_bridge.audio.AUDIO_EXTENSIONS`; hidden files and other
    files in the folder are skipped), in natural file-name order ("Tom 2" before "Tom 10"). The
    track name is the file name without its extension; ``file`` is its absolute path.

    Roles: guessed from the file name (:func:`daw_bridge.stems.guess_role`), then named after a
    slot of ``slots`` (default :data:`daw_bridge.stems.DRUM_SLOTS`) with the same role and side,
    so "OH L.wav" gets ``"overhead_L"``; a role with no slot keeps its own name
    (``"vocal"``); an unknown one is ``None``. ``mapping`` (a dict, or a JSON/YAML file of
    ``{track name or file name: role or null}``) overrides any guess; a key that names no stem
    is an error.

    Levels: every track at 0 dB, no plugins, pan from :data:`DEFAULT_PANS` by role (else 0).

    Rates and lengths (from the headers): the session's ``sample_rate`` is the argument, or
    else the most common rate among the files (ties: the highest). Each file at another rate,
    and each file shorter than the longest (compared at the session rate), gets a one-line
    note in ``Session.notes``; the renderer resamples and pads them.

    Raises :class:`~daw_bridge.errors.AutomixError` (one line) for a missing or empty folder, a
    folder with no audio, an unreadable or corrupt file (:func:`daw_bridge.audio.probe`), or a
    bad mapping.
    """
    files, folder_name = _list_audio(folder_or_files)
    infos: list[AudioInfo] = [probe(p) for p in files]
    names = _track_names(files)
    roles = [slot_role(p, DRUM_SLOTS if slots is None else slots) for p in files]
    if mapping is not None:
        _apply_mapping(_read_mapping(mapping), files, names, roles)

    if sample_rate is None:
        counts = Counter(info.sample_rate for info in infos)
        rate = max(counts, key=lambda r: (counts[r], r))
    else:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise StemImportError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
        rate = sample_rate

    notes: list[str] = []
    for info in infos:
        if info.sample_rate != rate:
            notes.append(
                f"{info.path.name} is {info.sample_rate} Hz, the session {rate} Hz: resampled when rendering"
            )
    lengths = [resampled_length(info.frames, info.sample_rate, rate) for info in infos]
    longest = max(lengths)
    for info, length in zip(infos, lengths):
        if length != longest:
            notes.append(
                f"{info.path.name} is {length / rate:.3f} s, the longest stem {longest / rate:.3f} s: "
                "padded with silence when rendering"
            )

    tracks = [
        Track(name=n, file=info.path, role=role, pan=DEFAULT_PANS.get(role or "", 0.0))
        for n, info, role in zip(names, infos, roles)
    ]
    return Session(name=name or folder_name, sample_rate=rate, tracks=tracks, notes=notes)


def import_session_file(path: str | os.PathLike[str]) -> Session:
    """Read a saved automix session (``.json``/``.yaml``); same as :func:`~daw_bridge.session.load_session`."""
    return load_session(path)


def session_from_assignment(assignment, *, sample_rate: int, name: str = "session") -> Session:
    """A session with one track per file (channel) a model mixed, for writing back to a DAW.

    ``assignment`` is an :class:`daw_bridge.stems.StemAssignment` (``automix.mix(...).assignment``):
    each source of each slot becomes a track whose role is the slot, at 0 dB, panned by
    :data:`DEFAULT_PANS`, with no plugins; a track name is the file name without its extension
    (``:channel`` added for one channel of a file). Slots with no source get no track.
    """
    tracks: list[Track] = []
    used: set[str] = set()
    for slot in assignment.slots:
        for source in assignment.sources.get(slot, []):
            base = Path(source.path).stem + ("" if source.channel is None else f":{source.channel + 1}")
            track_name, n = base, 2
            while track_name in used:
                track_name, n = f"{base} ({n})", n + 1
            used.add(track_name)
            tracks.append(
                Track(
                    name=track_name,
                    file=Path(source.path).absolute(),
                    channel=source.channel,
                    role=slot,
                    pan=DEFAULT_PANS.get(slot, 0.0),
                )
            )
    return Session(name=name, sample_rate=sample_rate, tracks=tracks)


@contextlib.contextmanager
def temporary_stems(stems: np.ndarray, names: Sequence[str], sample_rate: int, *,
                    error: type[AutomixError] = StemImportError) -> Iterator[list[Path]]:
    """In-memory stems ``[N, frames]`` or ``[N, channels, frames]`` written as 32-bit float WAVs
    named after ``names`` (made safe and unique) in a private temporary folder, removed after the
    ``with`` block; yields their paths in order. ``error`` (one line) for bad shapes or samples."""
    import tempfile

    import soundfile as sf

    from daw_bridge.outputs import safe_file_name

    arr = np.asarray(stems, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[2] == 0:
        raise error(f"stems must be [N, frames] or [N, channels, frames] with N >= 1, got shape {arr.shape}")
    if len(names) != arr.shape[0]:
        raise error(f"{len(names)} names for {arr.shape[0]} stems")
    if not np.isfinite(arr).all():
        raise error("the stems have NaN or infinite samples")
    with tempfile.TemporaryDirectory(prefix="automix-stems-") as tmp:
        files: list[Path] = []
        used: Counter[str] = Counter()
        for name, audio in zip(names, arr):
            stem = safe_file_name(Path(str(name)).stem or "stem", default="stem")
            used[stem] += 1
            if used[stem] > 1:
                stem = f"{stem} {used[stem]}"
            path = Path(tmp) / f"{stem}.wav"
            sf.write(str(path), audio.T, int(sample_rate), subtype="FLOAT")
            files.append(path)
        yield files
