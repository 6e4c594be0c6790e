"""Multitrack collection manifests: which stem file feeds which model slot, for every song.

A *collection* is a folder of songs; each song has stem files and, optionally, a mix. A
*manifest* (JSON, or YAML when PyYAML is importable; PyYAML is not a dependency of automix)
says which file feeds which model *slot* (format: ``docs/collections.md`` and
:mod:`automix.data.collection`). :func:`load_manifest` / :func:`parse_manifest` validate it
(unknown keys refused; :class:`ManifestError` names every bad key in one line);
:func:`scan_collection` writes a starter manifest from ``root/<song>/`` folders and
:func:`write_manifest` saves it atomically (``automix datasets manifest``). No torch here.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from daw_bridge.audio import (
    AUDIO_EXTENSIONS,
    probe,
)
from daw_bridge.errors import AutomixError, OutputError, StemMatchError
from daw_bridge.files import read_settings_file
from daw_bridge.outputs import atomic_output
from daw_bridge.stems import ROLE_ALIASES, guess_role, match_stems, natural_key, normalise_name

logger = logging.getLogger("automix")

#: The manifest format version this module reads and writes.
MANIFEST_VERSION = 1

#: Split names a song may carry.
SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: Name of the loudness cache written next to the manifest.

_MANIFEST_SUFFIXES = (".json", ".yaml", ".yml")
_MAX_LISTED = 10  # problems / files listed in one error message before "and N more"

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


def listing(items: Sequence[str], limit: int = _MAX_LISTED) -> str:
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
        raise ManifestError(f"{source} is not a valid manifest: {listing(problems)}") from None


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
    if p.suffix.lower() not in _MANIFEST_SUFFIXES:
        raise ManifestError(f"{p}: a manifest must be a .json, .yaml or .yml file")
    data = read_settings_file(p, "manifest", error=ManifestError, shape="an object with 'slots' and 'songs'")
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


def root_of(manifest: Manifest, manifest_dir: str | os.PathLike | None) -> Path:
    base = Path(manifest_dir) if manifest_dir is not None else Path.cwd()
    return (base / manifest.root).absolute()


def song_files(song: SongEntry, root: Path) -> tuple[Path, Path | None, list[Path]]:
    folder = root / song.folder_path
    mix = folder / song.mix if song.mix is not None else None
    return folder, mix, [folder / stem.file for stem in song.stems]


def check_manifest_files(manifest: Manifest, manifest_dir: str | os.PathLike | None = None) -> None:
    """Raise one :class:`ManifestError` listing every file (or song folder) that is missing.

    Relative roots are resolved against ``manifest_dir`` (default: the current folder).
    Files in ``unassigned`` are not checked.
    """
    root = root_of(manifest, manifest_dir)
    missing: list[str] = []
    for song in manifest.songs:
        folder, mix, stems = song_files(song, root)
        if not folder.is_dir():
            missing.append(f"{folder}/ (folder of song {song.name!r})")
            continue
        for path in ([mix] if mix is not None else []) + stems:
            if not path.is_file() and str(path) not in missing:
                missing.append(str(path))
    if missing:
        raise ManifestError(
            f"the manifest names {len(missing)} missing file(s): {listing(missing)}; "
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


_ScannedSong = tuple[str, str, Path | None, list[Path], list[Path]]  # (name, folder, mix, stems, extra mixes)


def _song_folders(base: Path) -> list[tuple[str, str, list[Path]]]:
    """``(name, folder, audio files)`` of every song under ``base`` (``base`` itself when it
    has no song folders but audio files); raises :class:`AutomixError` when there is none."""
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
    return found


def _split_mix(name: str, folder: str, files: list[Path]) -> _ScannedSong:
    """A song's files split into the mix (the first mix-named file, or None), the stems and
    the further mix candidates (left unassigned)."""
    candidates = [f for f in files if _is_mix_name(f, name)]
    mix = candidates[0] if candidates else None
    extra = candidates[1:]
    if extra:
        logger.warning("scan: %s: took %s as the mix; left %s unassigned", name, mix.name,
                       ", ".join(f.name for f in extra))
    stems = [f for f in files if f not in candidates]
    return name, folder, mix, stems, extra


def _song_entry(
    name: str, folder: str, mix: Path | None, stems: list[Path], extra: list[Path], slot_list: list[str]
) -> SongEntry:
    """The manifest entry of one scanned song: its stems matched to ``slot_list``, the rest unassigned."""
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
    return SongEntry(
        name=name,
        folder=folder,
        mix=mix.name if mix is not None else None,
        stems=stem_entries,
        unassigned=sorted((f.name for f in unassigned), key=lambda n: natural_key(Path(n))),
    )


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
    songs = [_split_mix(name, folder, files) for name, folder, files in _song_folders(base)]
    if slot_list is None:
        slot_list = _infer_slots([f for *_, stems, _ in songs for f in stems])
        if not slot_list:
            raise AutomixError(
                f"no file under {base} has a name that says what it is; give the slots (--slots bass,drums,...)"
            )
    entries = [_song_entry(*song, slot_list) for song in songs]
    return Manifest(root=base.as_posix(), slots=slot_list, songs=entries)
