"""Users' own multitrack collections: a manifest, a folder scanner and a torch dataset.

A *collection* is a folder of songs; each song has stem files and, optionally, a mix. A
*manifest* (JSON, or YAML when PyYAML is importable; PyYAML is not a dependency of automix)
says which file feeds which model *slot*::

    {
      "version": 1,
      "sample_rate": 44100,                      # optional: other rates are resampled
      "root": ".",                               # optional: song folders are relative to this,
                                                 # itself relative to the manifest file
      "slots": ["bass", "drums", "vocals", "other"],
      "songs": [
        {"name": "Song A", "folder": "Song A", "mix": "Mix.wav", "split": "train",
         "stems": [{"file": "Bass DI.wav", "slot": "bass"},
                   {"file": "Kick.wav", "slot": "drums"},
                   {"file": "OH.wav", "slot": "drums", "channel": 0}],
         "unassigned": ["Click.wav"]},
        {"name": "Song B", "mix": null, "stems": [...]}   # mix null: the sum of the stems
      ]
    }

* :func:`load_manifest` / :func:`parse_manifest` validate it (pydantic, unknown keys are
  refused) and raise :class:`ManifestError` with one line naming every bad key
  (``songs[3].stems[1].slot: 'kik' is not one of the manifest slots (...)``).
* :func:`scan_collection` writes a starter manifest by scanning ``root/<song>/`` folders and
  :func:`write_manifest` saves it atomically (the ``automix datasets manifest`` command).
* :class:`MultitrackDataset` serves training segments for mixing (stems -> mix) or
  separation (mix -> stems).

Definitions the dataset relies on (the same everywhere in this module):

* a **slot signal** is mono: the sum of the slot's sources, each source being one channel of
  a file (``channel``) or the mean of all its channels;
* the **sum-of-stems mix** (``mix: null``) is stereo: the sum of every stem, a mono source
  (or one channel, or a file of more than two channels, downmixed) placed in the centre
  with gain 1 on both sides, a stereo file kept as it is. Its mono fold-down (the mean of
  L and R) therefore equals the sum of the slot signals;
* a **mix file** is used as it is: mono is duplicated to stereo; more than two channels is
  refused (the song is skipped with a reason).

Importing this module imports torch (the dataset subclasses ``torch.utils.data.Dataset``).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from daw_bridge.audio import (
    AUDIO_EXTENSIONS,
    probe,
    read_audio,
    resample,
    resampled_length,
    to_mono,
)
from daw_bridge.errors import AutomixError, OutputError, StemMatchError
from daw_bridge.loudness import measure_loudness
from daw_bridge.outputs import atomic_output
from daw_bridge.stems import ROLE_ALIASES, guess_role, match_stems, natural_key, normalise_name

from automix.data.segments import RandomSegmentSampler, fixed_segments, gain_db_for, rms_db


__all__ = [
    "LOUDNESS_INDEX_NAME",
    "MANIFEST_VERSION",
    "SPLITS",
    "Augmentation",
    "Manifest",
    "ManifestError",
    "MultitrackDataset",
    "SkippedSong",
    "SongEntry",
    "SongInfo",
    "StemEntry",
    "check_manifest_files",
    "load_manifest",
    "parse_manifest",
    "scan_collection",
    "write_manifest",
]

logger = logging.getLogger("automix")

#: The manifest format version this module reads and writes.
MANIFEST_VERSION = 1

#: Split names a song may carry.
SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: Name of the loudness cache written next to the manifest.
LOUDNESS_INDEX_NAME = ".automix-loudness.json"

_MANIFEST_SUFFIXES = (".json", ".yaml", ".yml")
_INDEX_FORMAT = "automix-collection-loudness/1"
_MAX_LISTED = 10  # problems / files listed in one error message before "and N more"
_SILENCE_RETRIES = 10  # extra random draws when a segment is near-silent
_RESAMPLE_MARGIN = 1024  # output samples read beyond a segment when resampling a region
_MAX_GAIN_DB = 60.0  # loudness normalisation gain limit (as daw_bridge.audio.normalize_loudness)

# Roles that belong in a catch-all "drums" slot, and names of catch-all slots.
_DRUM_ROLES = frozenset(
    {"kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "tom", "overheads", "room", "ride",
     "crash", "drums", "percussion"}
)
_OTHER_SLOT_NAMES = frozenset({("other",), ("others",), ("rest",)})
_NEVER_STEMS = frozenset({"click", "mix"})  # roles never assigned to a slot by the scanner
_MIX_WORDS = ("mix", "master", "mixdown", "stereo mix", "full mix")


class ManifestError(AutomixError):
    """A manifest is malformed, names missing files, or disagrees with the audio files."""


# --------------------------------------------------------------------------------------------
# Manifest schema


class StemEntry(BaseModel):
    """One stem file (or one channel of it) feeding a slot."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(min_length=1, description="path relative to the song folder")
    slot: str = Field(min_length=1, description="one of the manifest's slots")
    channel: int | None = Field(
        None, ge=0, strict=True, description="0-based channel to take; default: all channels, downmixed"
    )


class SongEntry(BaseModel):
    """One song: its folder, its mix (or null for the sum of its stems) and its stems."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    folder: str | None = Field(None, description="relative to the manifest root; default: the name")
    mix: str | None = Field(None, description="mix file relative to the folder; null: the sum of the stems")
    stems: list[StemEntry]
    split: Literal["train", "valid", "test"] | None = None
    unassigned: list[str] = Field(default_factory=list, description="files left for the user (ignored)")

    @property
    def folder_path(self) -> str:
        return self.folder if self.folder is not None else self.name


class Manifest(BaseModel):
    """A multitrack collection: the model's slots and the songs."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = MANIFEST_VERSION
    sample_rate: int | None = Field(None, gt=0, le=768_000, strict=True)
    root: str = Field(".", min_length=1, description="folder the song folders are relative to")
    slots: list[str] = Field(min_length=1)
    songs: list[SongEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_references(self) -> "Manifest":
        problems: list[str] = []
        seen_slots: dict[str, int] = {}
        for i, slot in enumerate(self.slots):
            if not slot.strip():
                problems.append(f"slots[{i}]: empty slot name")
            elif slot in seen_slots:
                problems.append(f"slots[{i}]: {slot!r} is listed twice (also slots[{seen_slots[slot]}])")
            seen_slots.setdefault(slot, i)
        known = ", ".join(self.slots)
        seen_names: dict[str, int] = {}
        for i, song in enumerate(self.songs):
            if song.name in seen_names:
                problems.append(f"songs[{i}].name: {song.name!r} is used twice (also songs[{seen_names[song.name]}])")
            seen_names.setdefault(song.name, i)
            seen_stems: dict[tuple[str, str, int | None], int] = {}
            for j, stem in enumerate(song.stems):
                if stem.slot not in seen_slots:
                    problems.append(
                        f"songs[{i}].stems[{j}].slot: {stem.slot!r} is not one of the manifest slots ({known})"
                    )
                key = (stem.file, stem.slot, stem.channel)
                if key in seen_stems:
                    problems.append(
                        f"songs[{i}].stems[{j}]: repeats songs[{i}].stems[{seen_stems[key]}] "
                        "(same file, slot and channel)"
                    )
                seen_stems.setdefault(key, j)
        if problems:
            raise PydanticCustomError("manifest", "{text}", {"text": "; ".join(problems), "problems": problems})
        return self


_MODEL_AT_DEPTH = {0: Manifest, 2: SongEntry, 4: StemEntry}  # loc depth of the parent -> model


def _format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(exc: ValidationError) -> list[str]:
    """One readable line per pydantic error: ``key.path: what is wrong``."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "manifest":
            lines.extend(err["ctx"]["problems"])
            continue
        where = _format_loc(loc) or "manifest"
        if kind == "extra_forbidden":
            model = _MODEL_AT_DEPTH.get(len(loc) - 1)
            allowed = f" (allowed: {', '.join(model.model_fields)})" if model else ""
            lines.append(f"{where}: unknown key{allowed}")
        elif kind == "missing":
            lines.append(f"{where}: required key is missing")
        else:
            value = err.get("input")
            got = f" (got {value!r})" if isinstance(value, (str, int, float, bool)) or value is None else ""
            lines.append(f"{where}: {err['msg']}{got}")
    return lines


def _listing(items: Sequence[str], limit: int = _MAX_LISTED) -> str:
    shown = "; ".join(items[:limit])
    return shown + (f"; and {len(items) - limit} more" if len(items) > limit else "")


def parse_manifest(data: Any, source: str = "manifest") -> Manifest:
    """Validate ``data`` (a dict, or a :class:`Manifest`) into a :class:`Manifest`.

    Raises :class:`ManifestError` naming ``source`` and every bad key.
    """
    if isinstance(data, Manifest):
        return data
    if not isinstance(data, dict):
        raise ManifestError(f"{source} must hold an object with 'slots' and 'songs', got {type(data).__name__}")
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        raise ManifestError(f"{source} is not a valid manifest: {_listing(problems)}") from None


def _yaml():
    try:
        import yaml  # optional: PyYAML is not an automix dependency
    except ImportError:
        return None
    return yaml


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate a manifest file (``.json``, or ``.yaml``/``.yml`` with PyYAML).

    The returned manifest's ``root`` is made absolute (resolved against the manifest's
    folder), so it can be used from anywhere; :func:`write_manifest` makes it relative again.
    Raises :class:`ManifestError` for a missing, unparsable or invalid file.
    """
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in _MANIFEST_SUFFIXES:
        raise ManifestError(f"{p}: a manifest must be a .json, .yaml or .yml file")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"manifest {p} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read manifest {p}: {exc}") from None
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(
                f"{p} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
    else:
        yaml = _yaml()
        if yaml is None:
            raise ManifestError(f"reading {p} needs PyYAML (pip install pyyaml); or write the manifest as JSON")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ManifestError(f"{p} is not valid YAML ({' '.join(str(exc).split())})") from None
    manifest = parse_manifest(data, source=str(p))
    root = (p.absolute().parent / manifest.root).resolve()
    return manifest.model_copy(update={"root": root.as_posix()})


def _manifest_data(manifest: Manifest, folder: Path) -> dict[str, Any]:
    """Plain data for writing: root relative to ``folder``; empty optional keys left out."""
    data = manifest.model_dump(mode="json")
    root = Path(manifest.root)
    if root.is_absolute():
        try:
            data["root"] = Path(os.path.relpath(root, folder.resolve())).as_posix()
        except ValueError:  # another drive (Windows): keep it absolute
            data["root"] = root.as_posix()
    if data["sample_rate"] is None:
        del data["sample_rate"]
    for song in data["songs"]:
        for key in ("split", "folder"):
            if song[key] is None:
                del song[key]
        if not song["unassigned"]:
            del song["unassigned"]
        for stem in song["stems"]:
            if stem["channel"] is None:
                del stem["channel"]
    return data


def write_manifest(manifest: Manifest, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``manifest`` to ``path`` (``.json``, or ``.yaml``/``.yml`` with PyYAML) atomically.

    An absolute ``root`` is written relative to the manifest's folder, so the collection and
    its manifest can be moved together. Refuses to replace an existing file unless
    ``overwrite`` (:class:`~daw_bridge.errors.OutputError`). Returns the absolute path written.
    """
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in _MANIFEST_SUFFIXES:
        raise OutputError(f"{p}: name the manifest .json, .yaml or .yml")
    manifest = parse_manifest(manifest)
    data = _manifest_data(manifest, p.absolute().parent)
    if suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        yaml = _yaml()
        if yaml is None:
            raise OutputError(f"writing {p} needs PyYAML (pip install pyyaml); or name the manifest .json")
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    with atomic_output(p, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p.absolute()


# --------------------------------------------------------------------------------------------
# Files named by a manifest


def _root_of(manifest: Manifest, manifest_dir: str | os.PathLike | None) -> Path:
    base = Path(manifest_dir) if manifest_dir is not None else Path.cwd()
    return (base / manifest.root).absolute()


def _song_files(song: SongEntry, root: Path) -> tuple[Path, Path | None, list[Path]]:
    folder = root / song.folder_path
    mix = folder / song.mix if song.mix is not None else None
    return folder, mix, [folder / stem.file for stem in song.stems]


def check_manifest_files(manifest: Manifest, manifest_dir: str | os.PathLike | None = None) -> None:
    """Raise one :class:`ManifestError` listing every file (or song folder) that is missing.

    Relative roots are resolved against ``manifest_dir`` (default: the current folder).
    Files in ``unassigned`` are not checked.
    """
    root = _root_of(manifest, manifest_dir)
    missing: list[str] = []
    for song in manifest.songs:
        folder, mix, stems = _song_files(song, root)
        if not folder.is_dir():
            missing.append(f"{folder}/ (folder of song {song.name!r})")
            continue
        for path in ([mix] if mix is not None else []) + stems:
            if not path.is_file() and str(path) not in missing:
                missing.append(str(path))
    if missing:
        raise ManifestError(
            f"the manifest names {len(missing)} missing file(s): {_listing(missing)}; "
            "fix the paths or remove those entries"
        )


# --------------------------------------------------------------------------------------------
# Scanning a folder into a starter manifest


def _audio_files(folder: Path) -> list[Path]:
    files = [
        p for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in AUDIO_EXTENSIONS
    ]
    return sorted(files, key=natural_key)


def _is_mix_name(path: Path, song: str) -> bool:
    """"Mix.wav", "Master.wav", "Stereo Mix.wav", "<song> mix.wav", "<song>.wav"."""
    tokens = normalise_name(path)
    if tokens and tokens == normalise_name(song):
        return True
    if guess_role(path)[0] == "mix":
        return True
    words = " ".join(tokens)
    return any(words == w for w in _MIX_WORDS)


def _infer_slots(files: Sequence[Path]) -> list[str]:
    """Slots for the roles found in ``files``, in :data:`daw_bridge.stems.ROLE_ALIASES` order.

    A role seen with a side gets ``role_L`` / ``role_R`` slots (the sides seen).
    """
    sides: dict[str, set[str | None]] = {}
    for path in files:
        role, side = guess_role(path)
        if role is not None and role not in _NEVER_STEMS:
            sides.setdefault(role, set()).add(side)
    slots: list[str] = []
    for role in ROLE_ALIASES:
        if role not in sides:
            continue
        sided = [s for s in ("L", "R") if s in sides[role]]
        if sided:
            slots.extend(f"{role}_{s}" for s in sided)
        else:
            slots.append(role)
    return slots


def _fallback_slot(path: Path, slots: Sequence[str]) -> str | None:
    """A catch-all slot for a recognised file no slot matched ("drums", "other"), or None."""
    role, _ = guess_role(path)
    if role is None or role in _NEVER_STEMS:
        return None
    if role in _DRUM_ROLES:
        for slot in slots:
            if guess_role(slot)[0] == "drums":
                return slot
    for slot in slots:
        if normalise_name(slot) in _OTHER_SLOT_NAMES:
            return slot
    return None


def _check_slot_names(slots: Sequence[str]) -> list[str]:
    if isinstance(slots, str):
        slots = [s for s in slots.split(",")]
    out = [str(s).strip() for s in slots]
    if not out or not all(out):
        raise AutomixError(f"slots must be non-empty names, got {list(slots)!r}; e.g. --slots bass,drums,vocals,other")
    dupes = sorted({s for s in out if out.count(s) > 1})
    if dupes:
        raise AutomixError(f"slot(s) {', '.join(dupes)} given twice; list each slot once")
    return out


def scan_collection(root: str | os.PathLike, slots: Sequence[str] | None = None) -> Manifest:
    """Scan ``root/<song>/`` folders and guess a starter manifest for the user to check.

    Every sub-folder of ``root`` holding audio files is a song named after the folder (hidden
    ones are ignored; if there are none but ``root`` itself holds audio files, ``root`` is one
    song). Only the audio files directly in a song folder are considered.

    * The **mix** is found by name: "Mix", "Master", "Mixdown", "Stereo Mix", "<song> mix",
      or a file named like the song; with none, ``mix`` is null (the sum of the stems).
      Further mix candidates go to ``unassigned``.
    * Each other file's slot is guessed with :func:`daw_bridge.stems.match_stems` (the rules of
      ``automix mix``: names and aliases, sides, summed kick mics, a stereo overhead file
      split over ``*_L``/``*_R`` channels...). Several files may feed one slot (summed).
      A recognised file with no matching slot goes to a catch-all slot when there is one
      (drum parts to ``drums``, anything else to ``other``); files whose name says nothing
      (or a click track) go to the song's ``unassigned`` list, which the loader ignores.
    * ``slots=None`` makes one slot per role found, in the order of
      :data:`daw_bridge.stems.ROLE_ALIASES` (``kick``, ``snare``, ..., ``bass``, ``vocal``, ...),
      with ``_L``/``_R`` slots for roles seen with a side.

    Files are probed for their channel count (headers only); an unreadable file is still
    assigned by its name, with a warning (the loader skips its song later). ``root`` in the
    result is absolute; :func:`write_manifest` writes it relative to the manifest. Raises
    :class:`AutomixError` when ``root`` is not a folder or holds no songs.
    """
    base = Path(root).expanduser()
    if not base.is_dir():
        raise AutomixError(f"{base} is not a folder; give the folder holding one sub-folder per song")
    base = base.resolve()
    slot_list = None if slots is None else _check_slot_names(slots)
    song_dirs = [d for d in sorted(base.iterdir(), key=natural_key) if d.is_dir() and not d.name.startswith(".")]
    found: list[tuple[str, str, list[Path]]] = []  # (name, folder, files)
    for d in song_dirs:
        files = _audio_files(d)
        if files:
            found.append((d.name, d.name, files))
        else:
            logger.info("scan: %s holds no audio files; not a song", d)
    if not found:
        files = _audio_files(base)
        if not files:
            exts = ", ".join(sorted(AUDIO_EXTENSIONS))
            raise AutomixError(f"no songs under {base}: expected one folder per song holding audio files ({exts})")
        found.append((base.name, ".", files))

    songs: list[tuple[str, str, Path | None, list[Path], list[Path]]] = []
    for name, folder, files in found:
        candidates = [f for f in files if _is_mix_name(f, name)]
        mix = candidates[0] if candidates else None
        extra = candidates[1:]
        if extra:
            logger.warning("scan: %s: took %s as the mix; left %s unassigned", name, mix.name,
                           ", ".join(f.name for f in extra))
        stems = [f for f in files if f not in candidates]
        songs.append((name, folder, mix, stems, extra))
    if slot_list is None:
        slot_list = _infer_slots([f for *_, stems, _ in songs for f in stems])
        if not slot_list:
            raise AutomixError(
                f"no file under {base} has a name that says what it is; give the slots (--slots bass,drums,...)"
            )

    entries: list[SongEntry] = []
    for name, folder, mix, stems, extra in songs:
        channels: dict[Path, int] = {}
        for f in stems:
            try:
                channels[f] = probe(f).channels
            except AutomixError as exc:
                logger.warning("scan: %s (assigned by its name; the loader will skip the song)", exc)
                channels[f] = 1
        sources: dict[str, list[tuple[Path, int | None]]] = {s: [] for s in slot_list}
        unmatched: list[Path] = list(stems)
        if stems:
            try:
                assignment = match_stems(stems, slot_list, channels=channels, ignore_unmatched=True)
            except StemMatchError:
                pass  # nothing matched: every file goes through the fallback below
            else:
                for slot, srcs in assignment.sources.items():
                    sources[slot] = [(s.path, s.channel) for s in srcs]
                unmatched = list(assignment.unmatched)
                for note in assignment.notes:
                    logger.debug("scan: %s: %s", name, note)
        unassigned = []
        for f in unmatched:
            slot = _fallback_slot(f, slot_list)
            if slot is None:
                unassigned.append(f)
            else:
                sources[slot].append((f, None))
        unassigned += extra
        stem_entries = [
            StemEntry(file=path.name, slot=slot, channel=channel)
            for slot in slot_list
            for path, channel in sources[slot]
        ]
        if unassigned:
            logger.info("scan: %s: no slot for %s (listed as unassigned)", name, ", ".join(f.name for f in unassigned))
        entries.append(
            SongEntry(
                name=name,
                folder=folder,
                mix=mix.name if mix is not None else None,
                stems=stem_entries,
                unassigned=sorted((f.name for f in unassigned), key=lambda n: natural_key(Path(n))),
            )
        )
    return Manifest(root=base.as_posix(), slots=slot_list, songs=entries)


# --------------------------------------------------------------------------------------------
# Reading audio regions at the dataset's rate


@dataclass(frozen=True)
class _Source:
    """One input of a song: a file (or one channel of it), with what probing learned."""

    path: Path
    channel: int | None
    file_rate: int
    file_channels: int
    file_frames: int
    frames: int  # length at the dataset's rate

    @property
    def channels(self) -> int:
        return 1 if self.channel is not None else self.file_channels


def _read_resampled(src: _Source, rate: int, start: int, n: int) -> np.ndarray:
    """Frames ``[start, start + n)`` at ``rate`` of a file at another rate.

    Reads the region plus a margin, from a source frame that falls on a common sample of
    both rates, and resamples it: equal (to float precision) to resampling the whole file.
    """
    g = math.gcd(src.file_rate, rate)
    step_in, step_out = src.file_rate // g, rate // g
    block = max(start - _RESAMPLE_MARGIN, 0) // step_out
    s0, o0 = block * step_in, block * step_out
    s1 = min(-(-(start + n + _RESAMPLE_MARGIN) // step_out) * step_in, src.file_frames)
    audio, _ = read_audio(src.path, start=s0, frames=s1 - s0)
    return resample(audio, src.file_rate, rate)[:, start - o0 : start - o0 + n]


def _read(src: _Source, rate: int, start: int, n: int) -> np.ndarray:
    """Frames ``[start, start + n)`` of ``src`` at ``rate``, ``[channels, n]``, zeros outside the file."""
    out = np.zeros((src.file_channels, n), dtype=np.float32)
    lo, hi = max(start, 0), min(start + n, src.frames)
    if hi > lo:
        if src.file_rate == rate:
            audio, _ = read_audio(src.path, start=lo, frames=hi - lo)
        else:
            audio = _read_resampled(src, rate, lo, hi - lo)
        got = min(audio.shape[1], hi - lo)
        out[:, lo - start : lo - start + got] = audio[:, :got]
    return out[src.channel : src.channel + 1] if src.channel is not None else out


def _stereo(audio: np.ndarray) -> np.ndarray:
    """Mono (or more than two channels, downmixed) in the centre; stereo as it is."""
    if audio.shape[0] == 2:
        return audio
    return np.repeat(to_mono(audio), 2, axis=0)


# --------------------------------------------------------------------------------------------
# Loudness cache


class _LoudnessIndex:
    """Loudness measurements cached in a JSON file, keyed by the files' path, size and mtime.

    An entry measures one *group*: a mono sum ("mono") or stereo sum ("stereo", see the module
    docstring) of sources at the dataset's rate; a single stem file is a group of one. Groups
    are what a collection normalises: a slot fed by several files (Kick In + Kick Out), one
    channel of a file, and a sum-of-stems mix. (:class:`automix.data.segments.LoudnessIndex`
    measures whole files only, which is all ENST-drums needs.) Entries whose files changed or
    vanished are dropped when the index is saved.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOUDNESS_INDEX_NAME
        self.entries = self._load()
        self.dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            logger.warning("ignoring unreadable loudness index %s (%s); measuring again", self.path, exc)
            return {}
        entries = data.get("entries") if isinstance(data, dict) and data.get("format") == _INDEX_FORMAT else None
        return entries if isinstance(entries, dict) else {}

    def _identity(self, path: Path) -> list[Any]:
        st = path.stat()
        try:
            name = path.absolute().relative_to(self.folder.absolute()).as_posix()
        except ValueError:
            name = path.absolute().as_posix()
        return [name, st.st_size, st.st_mtime_ns]

    def key(self, kind: str, rate: int, sources: Sequence[_Source]) -> tuple[str, list[list[Any]]]:
        files = [self._identity(s.path) + [s.channel] for s in sources]
        parts = ";".join("|".join(str(x) for x in f) for f in files)
        return f"{kind}@{rate}:{parts}", files

    def get(self, key: str) -> float | None:
        entry = self.entries.get(key)
        value = entry.get("lufs") if isinstance(entry, dict) else None
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    def put(self, key: str, kind: str, rate: int, files: list[list[Any]], lufs: float) -> None:
        self.entries[key] = {"kind": kind, "rate": rate, "files": files, "lufs": float(lufs)}
        self.dirty = True

    def _current(self, entry: Any) -> bool:
        try:
            for name, size, mtime, _channel in entry["files"]:
                p = Path(name) if Path(name).is_absolute() else self.folder / name
                st = p.stat()
                if st.st_size != size or st.st_mtime_ns != mtime:
                    return False
        except (OSError, TypeError, ValueError, KeyError):
            return False
        return True

    def save(self) -> None:
        if not self.dirty:
            return
        merged = {**self._load(), **self.entries}  # keep what another process added meanwhile
        kept = {k: v for k, v in merged.items() if self._current(v)}
        text = json.dumps({"format": _INDEX_FORMAT, "entries": kept}, indent=1, sort_keys=True) + "\n"
        try:
            with atomic_output(self.path, overwrite=True) as tmp:
                tmp.write_text(text, encoding="utf-8")
        except (OutputError, OSError) as exc:
            logger.warning("could not save the loudness index %s (%s); it will be measured again next time",
                           self.path, exc)
        self.dirty = False


# --------------------------------------------------------------------------------------------
# Augmentation (separation)


@dataclass(frozen=True)
class Augmentation:
    """Random source gains (``gain_db``: uniform range in dB) and cross-song remixing
    (``remix``: chance per source of taking it from another song); see :class:`MultitrackDataset`."""

    gain_db: tuple[float, float] = (-6.0, 6.0)
    remix: float = 0.5

    def __post_init__(self) -> None:
        lo, hi = (float(x) for x in self.gain_db)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"gain_db must be a finite range [low, high], got {self.gain_db!r}")
        if not 0.0 <= float(self.remix) <= 1.0:
            raise ValueError(f"remix must be a probability in [0, 1], got {self.remix!r}")
        object.__setattr__(self, "gain_db", (lo, hi))
        object.__setattr__(self, "remix", float(self.remix))

    @classmethod
    def of(cls, value: Any) -> "Augmentation | None":
        if value is None or isinstance(value, Augmentation):
            return value
        if isinstance(value, dict):
            return cls(**value)
        return cls(gain_db=tuple(value.gain_db), remix=value.remix)


# --------------------------------------------------------------------------------------------
# The dataset


@dataclass(frozen=True)
class SongInfo:
    """A song the dataset serves: ``frames`` is its length at the dataset's sample rate."""

    name: str
    split: str | None
    folder: Path
    frames: int
    slots: tuple[str, ...]  # slots with at least one stem (mask 1)
    mix: Path | None  # None: the sum of the stems


@dataclass(frozen=True)
class SkippedSong:
    """A song left out, and why (one line naming the file)."""

    name: str
    reason: str


@dataclass
class _Song:
    info: SongInfo
    slots: list[list[_Source]]  # per manifest slot
    mix: _Source | None
    frames: int
    mask: np.ndarray  # [N_slots] float32
    stem_gain: np.ndarray = field(default_factory=lambda: np.ones(0, np.float32))  # [N_slots]
    mix_gain: float = 1.0

    @property
    def stems(self) -> list[_Source]:
        return [s for srcs in self.slots for s in srcs]

    @property
    def files(self) -> list[_Source]:
        return self.stems + ([self.mix] if self.mix is not None else [])


def _select_splits(split: str | Sequence[str] | None) -> set[str] | None:
    if split is None:
        return None
    wanted = {split} if isinstance(split, str) else set(split)
    bad = sorted(wanted - set(SPLITS))
    if bad or not wanted:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (or a list of them), got {split!r}")
    return wanted


class MultitrackDataset(torch.utils.data.Dataset):
    """Training segments from a multitrack collection described by a manifest.

    ``manifest_or_path``: a manifest file, or a :class:`Manifest` (a relative ``root`` is then
    taken from the current folder). ``input_length`` / ``output_length`` are the model's
    (e.g. ``WaveUNet.input_length_for(n)``); the output covers the centre of the input,
    ``context = (input_length - output_length) // 2`` samples in from each side, which must
    be a whole number (same-mode models: equal lengths).

    Each item is a dict of tensors:

    * ``mode="mix"``: ``input`` stems ``[N_slots, input_length]`` (one mono signal per slot in
      the manifest's slot order; absent slots are zeros) -> ``target`` mix
      ``[mix_channels, output_length]`` (default stereo; a mono mix file is duplicated; a
      null mix is the sum of the stems, see the module docstring);
    * ``mode="separate"``: ``input`` mix ``[mix_channels, input_length]`` -> ``target`` stems
      ``[N_slots, output_length]`` (mono);
    * ``mask`` ``[N_slots]`` float32: 1 for slots the song has stems for, 0 for absent ones;
    * ``song``: index into :attr:`songs`; ``start``: first target sample in the song (frames
      at :attr:`sample_rate`; the input starts ``context`` frames earlier). Audio outside the
      song is zeros.

    ``segment="random"``: each index draws a target window, every window position of every
    song equally likely, from ``(seed, epoch, index)`` (``seed=None``: fresh randomness on
    each call); a segment whose mix over the target window is below ``silence_db`` dBFS RMS
    is drawn again, up to 10 times (the loudest draw is kept).
    ``len()`` is ``samples_per_epoch``, by default the number of target windows that cover
    the collection once. Call :meth:`set_epoch` for new segments each epoch.
    ``segment="sequential"``: every song tiled by consecutive target windows (the last one
    ends at the song's end; a song shorter than a window gives one zero-padded window), for
    deterministic validation.

    ``loudness_target`` (LUFS): ``mode="mix"`` scales each slot signal and the mix to that
    integrated loudness over the whole song; ``mode="separate"`` scales the mix to it and the
    stems by the same gain (they keep their share of the mix). Silent signals are left
    alone; gains are limited to +-60 dB. Measurements are cached in
    ``.automix-loudness.json`` next to the manifest (keyed by path, size and mtime).

    Files and sample rates: every song's files are probed (headers) when the dataset is
    built; a manifest naming missing files raises one :class:`ManifestError` listing them;
    a song with an unreadable file is skipped: it goes to :attr:`skipped` with the reason and
    one warning is logged. A file that fails later (NaN samples found while reading a
    segment) never stops an epoch: the song is skipped from then on (logged, and added to
    :attr:`skipped` of that process's copy), a random segment is drawn from another song,
    and a sequential one is returned as zeros with an all-zero mask. ``sample_rate``
    defaults to the manifest's, else the most common rate of the files; other files are
    resampled (soxr, on the fly per segment).

    ``augment`` (``mode="separate"`` with random segments only): an :class:`Augmentation` (or
    anything with ``gain_db`` and ``remix``, such as :class:`automix.train.recipe.AugmentSpec`, or
    a dict of them). Each slot of a drawn segment is, with probability ``remix``, replaced by
    that slot from another random song and position (songs without the slot are passed
    over), then scaled by a gain drawn uniformly in ``gain_db`` (dB); the input mix is the
    sum of the augmented slots (stereo as in a sum-of-stems mix) and the targets are their
    mono signals. Everything is drawn from the item's ``(seed, epoch, index)`` generator, so
    an item is the same on every call. Sequential (validation) segments are never augmented.
    """

    def __init__(
        self,
        manifest_or_path: Manifest | str | os.PathLike,
        *,
        input_length: int,
        output_length: int,
        mode: Literal["mix", "separate"] = "mix",
        split: str | Sequence[str] | None = None,
        segment: Literal["random", "sequential"] = "random",
        samples_per_epoch: int | None = None,
        seed: int | None = 0,
        loudness_target: float | None = None,
        silence_db: float = -60.0,
        mix_channels: int = 2,
        sample_rate: int | None = None,
        augment: "Augmentation | Any | None" = None,
    ) -> None:
        super().__init__()
        if mode not in ("mix", "separate"):
            raise ValueError(f"mode must be 'mix' or 'separate', got {mode!r}")
        if segment not in ("random", "sequential"):
            raise ValueError(f"segment must be 'random' or 'sequential', got {segment!r}")
        for name, value in (("input_length", input_length), ("output_length", output_length)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if input_length < output_length or (input_length - output_length) % 2:
            raise ValueError(
                f"input_length {input_length} and output_length {output_length} leave no symmetric context; "
                "take both from WaveUNet.input_length_for"
            )
        if mix_channels not in (1, 2):
            raise ValueError(f"mix_channels must be 1 or 2, got {mix_channels!r}")
        if samples_per_epoch is not None:
            if segment != "random":
                raise ValueError("samples_per_epoch applies to random segments only")
            if isinstance(samples_per_epoch, bool) or not isinstance(samples_per_epoch, int) or samples_per_epoch < 1:
                raise ValueError(f"samples_per_epoch must be a positive integer, got {samples_per_epoch!r}")
        if loudness_target is not None and not math.isfinite(loudness_target):
            raise ValueError(f"loudness_target must be a finite LUFS value, got {loudness_target!r}")
        if sample_rate is not None and (
            isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate < 1
        ):
            raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        self.augment = Augmentation.of(augment)
        if self.augment is not None and (mode != "separate" or segment != "random"):
            raise ValueError("augment applies to separation (mode='separate') with random segments only")
        wanted_splits = _select_splits(split)

        if isinstance(manifest_or_path, (str, os.PathLike)):
            self.manifest_path: Path | None = Path(manifest_or_path).expanduser().absolute()
            manifest = load_manifest(self.manifest_path)
            index_dir = self.manifest_path.parent
        else:
            self.manifest_path = None
            manifest = parse_manifest(manifest_or_path)
            index_dir = _root_of(manifest, None)
        self.manifest = manifest
        self.root = _root_of(manifest, None)
        self.slots: tuple[str, ...] = tuple(manifest.slots)
        self.mode = mode
        self.segment = segment
        self.input_length = int(input_length)
        self.output_length = int(output_length)
        self.context = (self.input_length - self.output_length) // 2
        self.mix_channels = mix_channels
        self.loudness_target = None if loudness_target is None else float(loudness_target)
        self.silence_db = float(silence_db)
        self.seed = seed
        self.epoch = 0
        self.skipped: list[SkippedSong] = []

        check_manifest_files(manifest, None)  # root is absolute or resolved from the cwd
        chosen = [(i, s) for i, s in enumerate(manifest.songs) if wanted_splits is None or s.split in wanted_splits]
        if not chosen:
            counts = collections.Counter(s.split or "none" for s in manifest.songs)
            have = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
            raise ManifestError(f"no song has split {split!r} in the manifest (songs per split: {have})")

        songs = self._probe_songs(chosen)
        rates = collections.Counter(s.file_rate for song in songs for s in song.files)
        if sample_rate is not None:
            self.sample_rate = sample_rate
        elif manifest.sample_rate is not None:
            self.sample_rate = manifest.sample_rate
        elif rates:
            self.sample_rate = max(rates, key=lambda r: (rates[r], r))
        else:
            self.sample_rate = 44100
        songs = [self._finish_song(song) for song in songs]
        if self.loudness_target is not None:
            songs = self._measure(songs, _LoudnessIndex(index_dir))
        if self.skipped:
            logger.warning(
                "skipped %d of %d song(s) (see dataset.skipped): %s",
                len(self.skipped), len(chosen), _listing([f"{s.name}: {s.reason}" for s in self.skipped]),
            )
        if not songs:
            raise ManifestError(
                f"no readable song in the {'collection' if split is None else f'{split!r} split'}: "
                f"{_listing([f'{s.name}: {s.reason}' for s in self.skipped])}"
            )
        self._songs = songs
        self.songs: list[SongInfo] = [s.info for s in songs]
        self._failed: set[int] = set()
        self._positions = fixed_segments([s.frames for s in songs], self.output_length)
        self._len = samples_per_epoch or len(self._positions)
        self._sampler: tuple[list[int], RandomSegmentSampler] | None = None  # (alive songs, sampler)

    # ------------------------------------------------------------------ building

    def _probe_songs(self, chosen: Sequence[tuple[int, SongEntry]]) -> list[_Song]:
        songs: list[_Song] = []
        bad_channels: list[str] = []
        for i, song in chosen:
            folder, mix_path, stem_paths = _song_files(song, self.root)
            if not song.stems:
                reason = "no stems listed; assign its files to slots in the manifest"
                self.skipped.append(SkippedSong(song.name, reason))
                continue
            try:
                infos = {p: probe(p) for p in dict.fromkeys(stem_paths + ([mix_path] if mix_path else []))}
            except AutomixError as exc:
                self.skipped.append(SkippedSong(song.name, str(exc)))
                continue
            if mix_path is not None and infos[mix_path].channels > 2:
                self.skipped.append(SkippedSong(
                    song.name, f"{mix_path} has {infos[mix_path].channels} channels; a mix must be mono or stereo"
                ))
                continue
            slots: list[list[_Source]] = [[] for _ in self.slots]
            for j, (stem, path) in enumerate(zip(song.stems, stem_paths)):
                info = infos[path]
                if stem.channel is not None and stem.channel >= info.channels:
                    bad_channels.append(
                        f"songs[{i}].stems[{j}].channel: {stem.channel} but {path.name} has "
                        f"{info.channels} channel(s), numbered from 0"
                    )
                slots[self.slots.index(stem.slot)].append(
                    _Source(path, stem.channel, info.sample_rate, info.channels, info.frames, info.frames)
                )
            mix = None
            if mix_path is not None:
                info = infos[mix_path]
                mix = _Source(mix_path, None, info.sample_rate, info.channels, info.frames, info.frames)
            mask = np.array([1.0 if srcs else 0.0 for srcs in slots], dtype=np.float32)
            present = tuple(slot for slot, srcs in zip(self.slots, slots) if srcs)
            info = SongInfo(song.name, song.split, folder, 0, present, mix_path)
            songs.append(_Song(info, slots, mix, 0, mask))
        if bad_channels:
            raise ManifestError(f"the manifest asks for channels the files lack: {_listing(bad_channels)}")
        return songs

    def _finish_song(self, song: _Song) -> _Song:
        """Lengths at the dataset's rate; resampling noted once per song."""
        rate = self.sample_rate

        def at_rate(src: _Source) -> _Source:
            if src.file_rate == rate:
                return src
            frames = resampled_length(src.file_frames, src.file_rate, rate)
            return _Source(src.path, src.channel, src.file_rate, src.file_channels, src.file_frames, frames)

        song.slots = [[at_rate(s) for s in srcs] for srcs in song.slots]
        song.mix = at_rate(song.mix) if song.mix is not None else None
        others = sorted({s.file_rate for s in song.files if s.file_rate != rate})
        if others:
            logger.info("%s: resampling files at %s Hz to %d Hz", song.info.name, ", ".join(map(str, others)), rate)
        song.frames = max(s.frames for s in song.files)
        song.info = dataclasses.replace(song.info, frames=song.frames)
        song.stem_gain = np.ones(len(self.slots), dtype=np.float32)
        return song

    def _full(self, sources: Sequence[_Source], frames: int, kind: str) -> np.ndarray:
        """The whole mono or stereo sum of ``sources`` (``kind`` "mono" / "stereo")."""
        out = np.zeros((1 if kind == "mono" else 2, frames), dtype=np.float32)
        for src in sources:
            audio = _read(src, self.sample_rate, 0, frames)
            out += to_mono(audio) if kind == "mono" else _stereo(audio)
        return out

    def _lufs(self, index: _LoudnessIndex, kind: str, sources: Sequence[_Source], frames: int) -> float:
        key, files = index.key(kind, self.sample_rate, sources)
        lufs = index.get(key)
        if lufs is None:
            lufs = measure_loudness(self._full(sources, frames, kind), self.sample_rate)
            index.put(key, kind, self.sample_rate, files, lufs)
        return lufs

    def _gain(self, lufs: float) -> float:
        assert self.loudness_target is not None
        return float(10.0 ** (gain_db_for(lufs, self.loudness_target, _MAX_GAIN_DB) / 20.0))

    def _measure(self, songs: list[_Song], index: _LoudnessIndex) -> list[_Song]:
        """Loudness gains for every song (cached); songs whose files fail to read are skipped."""
        kept: list[_Song] = []
        mix_kind = "stereo" if self.mix_channels == 2 else "mono"
        for song in songs:
            mix_sources = [song.mix] if song.mix is not None else song.stems
            try:
                song.mix_gain = self._gain(self._lufs(index, mix_kind, mix_sources, song.frames))
                if self.mode == "mix":
                    song.stem_gain = np.array(
                        [self._gain(self._lufs(index, "mono", srcs, song.frames)) if srcs else 1.0
                         for srcs in song.slots],
                        dtype=np.float32,
                    )
                else:
                    song.stem_gain = np.full(len(self.slots), song.mix_gain, dtype=np.float32)
            except (AutomixError, OSError) as exc:
                self.skipped.append(SkippedSong(song.info.name, str(exc)))
                continue
            kept.append(song)
        index.save()
        return kept

    # ------------------------------------------------------------------ segments

    def __len__(self) -> int:
        return self._len

    def set_epoch(self, epoch: int) -> None:
        """Choose the random segments of ``epoch`` (each epoch draws different ones)."""
        self.epoch = int(epoch)

    def _render(self, k: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """``(input, target)`` of song ``k`` for the target window starting at ``start``."""
        song, rate = self._songs[k], self.sample_rate
        n_in, n_out, ctx = self.input_length, self.output_length, self.context
        in_start = start - ctx
        if self.mode == "mix":
            stems = np.zeros((len(self.slots), n_in), dtype=np.float32)
            mix = np.zeros((2, n_out), dtype=np.float32)
            for j, srcs in enumerate(song.slots):
                for src in srcs:
                    audio = _read(src, rate, in_start, n_in)
                    stems[j] += to_mono(audio)[0]
                    if song.mix is None:
                        mix += _stereo(audio[:, ctx : ctx + n_out])
            if song.mix is not None:
                mix = _stereo(_read(song.mix, rate, start, n_out))
            stems *= song.stem_gain[:, None]
            target = (mix if self.mix_channels == 2 else to_mono(mix)) * np.float32(song.mix_gain)
            return stems, np.ascontiguousarray(target, dtype=np.float32)
        # separate
        stems = np.zeros((len(self.slots), n_out), dtype=np.float32)
        if song.mix is None:
            mix = np.zeros((2, n_in), dtype=np.float32)
            for j, srcs in enumerate(song.slots):
                for src in srcs:
                    audio = _read(src, rate, in_start, n_in)
                    mix += _stereo(audio)
                    stems[j] += to_mono(audio)[0, ctx : ctx + n_out]
        else:
            mix = _stereo(_read(song.mix, rate, in_start, n_in))
            for j, srcs in enumerate(song.slots):
                for src in srcs:
                    stems[j] += to_mono(_read(src, rate, start, n_out))[0]
        mix = (mix if self.mix_channels == 2 else to_mono(mix)) * np.float32(song.mix_gain)
        stems *= song.stem_gain[:, None]
        return np.ascontiguousarray(mix, dtype=np.float32), stems

    def _slot_signal(self, k: int, j: int, in_start: int) -> np.ndarray:
        """Slot ``j`` of song ``k`` over the input window from ``in_start``: ``[2, input_length]``
        as it sits in a sum-of-stems mix (loudness gain applied)."""
        song = self._songs[k]
        out = np.zeros((2, self.input_length), dtype=np.float32)
        for src in song.slots[j]:
            out += _stereo(_read(src, self.sample_rate, in_start, self.input_length))
        return out * np.float32(song.stem_gain[j])

    def _augmented(self, rng: np.random.Generator) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
        """An augmented random segment: ``(song, start, mix, stems, mask)`` (see ``augment``)."""
        assert self.augment is not None
        ctx, n_out = self.context, self.output_length
        k, start, slots = self._draw_loud(
            rng,
            lambda k, start: np.stack([self._slot_signal(k, j, start - ctx) for j in range(len(self.slots))]),
            lambda slots: rms_db(slots.sum(axis=0)[:, ctx : ctx + n_out]),
        )
        mask = self._songs[k].mask.copy()
        for j in range(len(self.slots)):
            if rng.random() >= self.augment.remix:
                continue
            other = self._draw(rng)
            if other is None or not self._songs[other[0]].mask[j]:
                continue
            try:
                slots[j] = self._slot_signal(other[0], j, other[1] - ctx)
            except (AutomixError, OSError) as exc:
                self._fail(other[0], exc)
                continue
            mask[j] = 1.0
        lo, hi = self.augment.gain_db
        gains = (10.0 ** (rng.uniform(lo, hi, size=len(self.slots)) / 20.0)).astype(np.float32)
        slots *= gains[:, None, None]
        mix = slots.sum(axis=0)
        if self.mix_channels == 1:
            mix = to_mono(mix)
        stems = slots.mean(axis=1)[:, ctx : ctx + n_out]
        return k, start, np.ascontiguousarray(mix, np.float32), np.ascontiguousarray(stems, np.float32), mask

    def _draw_loud(self, rng: np.random.Generator, render, level) -> tuple[int, int, Any]:
        """``(song, start, render(song, start))`` of a random segment louder than ``silence_db``.

        At most ``_SILENCE_RETRIES + 1`` readable draws; if none is loud enough, the loudest by
        ``level(rendered)``. A song that fails to read is set aside (:meth:`_fail`) and costs no
        retry; when every song has failed, :class:`AutomixError`.
        """
        best: tuple[float, int, int, Any] | None = None
        draws = 0
        while draws <= _SILENCE_RETRIES:
            drawn = self._draw(rng)
            if drawn is None:
                if best is not None:
                    break
                raise AutomixError(
                    f"every song of the collection failed to read: "
                    f"{_listing([f'{s.name}: {s.reason}' for s in self.skipped])}"
                )
            k, start = drawn
            try:
                rendered = render(k, start)
            except (AutomixError, OSError) as exc:
                self._fail(k, exc)
                continue
            draws += 1
            value = level(rendered)
            if best is None or value > best[0]:
                best = (value, k, start, rendered)
            if value >= self.silence_db:
                break
        assert best is not None
        return best[1], best[2], best[3]

    def _mix_level(self, inp: np.ndarray, target: np.ndarray) -> float:
        """RMS level (dBFS) of the mix over the target window."""
        if self.mode == "mix":
            return rms_db(target)
        return rms_db(inp[:, self.context : self.context + self.output_length])

    def _fail(self, k: int, exc: BaseException) -> None:
        if k in self._failed:
            return
        self._failed.add(k)
        name = self._songs[k].info.name
        self.skipped.append(SkippedSong(name, str(exc)))
        logger.warning("skipping song %r from now on: %s", name, exc)

    def _item(self, k: int, start: int, inp: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
        return {
            "input": torch.from_numpy(np.ascontiguousarray(inp)),
            "target": torch.from_numpy(np.ascontiguousarray(target)),
            "mask": torch.from_numpy(mask.copy()),
            "song": k,
            "start": int(start),
        }

    def _zeros(self, k: int, start: int) -> dict[str, Any]:
        n_slots = len(self.slots)
        if self.mode == "mix":
            inp = np.zeros((n_slots, self.input_length), np.float32)
            target = np.zeros((self.mix_channels, self.output_length), np.float32)
        else:
            inp = np.zeros((self.mix_channels, self.input_length), np.float32)
            target = np.zeros((n_slots, self.output_length), np.float32)
        return self._item(k, start, inp, target, np.zeros(n_slots, np.float32))

    def tile(self, index: int) -> tuple[int, int]:
        """``(song, start)`` of sequential item ``index`` (the target window's first frame)."""
        return self._positions[index]

    def _draw(self, rng: np.random.Generator) -> tuple[int, int] | None:
        """A random ``(song, start)`` among the songs not failed yet (None if none is left)."""
        alive = [k for k in range(len(self._songs)) if k not in self._failed]
        if not alive:
            return None
        if self._sampler is None or self._sampler[0] != alive:
            lengths = [self._songs[k].frames for k in alive]
            self._sampler = (alive, RandomSegmentSampler(lengths, self.output_length))
        j, start = self._sampler[1].draw(rng)
        return alive[j], start

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        if self.segment == "sequential":
            k, start = self.tile(index)
            if k in self._failed:
                return self._zeros(k, start)
            try:
                inp, target = self._render(k, start)
            except (AutomixError, OSError) as exc:
                self._fail(k, exc)
                return self._zeros(k, start)
            return self._item(k, start, inp, target, self._songs[k].mask)
        rng = np.random.default_rng(None if self.seed is None else [self.seed, self.epoch, index])
        if self.augment is not None:
            k, start, inp, target, mask = self._augmented(rng)
            return self._item(k, start, inp, target, mask)
        k, start, (inp, target) = self._draw_loud(rng, self._render, lambda pair: self._mix_level(*pair))
        return self._item(k, start, inp, target, self._songs[k].mask)

    def __repr__(self) -> str:
        return (
            f"MultitrackDataset({len(self.songs)} songs, {len(self.skipped)} skipped, mode={self.mode!r}, "
            f"segment={self.segment!r}, slots={list(self.slots)}, sample_rate={self.sample_rate}, "
            f"input_length={self.input_length}, output_length={self.output_length}, len={len(self)})"
        )
