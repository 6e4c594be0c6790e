"""ENST-drums: training segments for the Mix-Wave-U-Net (8 mono drum stems in, a stereo mix out).

Details: ``docs/enst-drums.md``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from daw_bridge.audio import SILENCE_LUFS, AUDIO_EXTENSIONS, probe, read_audio, resampled_length
from daw_bridge.loudness import measure_loudness
from daw_bridge.errors import AudioError, AutomixError
from daw_bridge.stems import DRUM_SLOTS
from automix.data.segment_settings import (  # re-exported: users import the defaults from here
    MAX_GAIN_DB,
    MIX_LUFS,
    SAMPLE_RATE,
    SILENCE_DB,
    STEM_LUFS,
    EnstSettings,
)
from automix.data.segments import (
    DEFAULT_FRACTIONS,
    FileLoudness,
    LoudnessIndex,
    RandomSegmentSampler,
    SegmentSizes,
    Split,
    as_channels,
    fixed_segments,
    gain_db_for,
    make_split,
    read_padded,
    rms_db,
    segment_sizes,
    slice_padded,
    stem_gains_db,
)

__all__ = [
    "CATEGORIES",
    "DATASET_NAME",
    "MAX_GAIN_DB",
    "MIX_FOLDERS",
    "MIX_LUFS",
    "SAMPLE_RATE",
    "SILENCE_DB",
    "SLOTS",
    "STEM_LUFS",
    "EnstDrums",
    "EnstSettings",
    "EnstTake",
    "make_enst_split",
    "scan_enst",
    "take_annotation",
    "take_category",
]

logger = logging.getLogger("automix")

DATASET_NAME = "enst-drums"
#: Stem slots in model order (= :data:`daw_bridge.stems.DRUM_SLOTS`); also the ENST folder names.
SLOTS: tuple[str, ...] = DRUM_SLOTS
#: Target name -> ENST folder.
MIX_FOLDERS: dict[str, str] = {"dry": "dry_mix", "wet": "wet_mix"}
#: Take categories, in the order they are matched against the word after the take number.
CATEGORIES: tuple[str, ...] = ("MIDI-minus-one", "minus-one", "phrase", "hits", "solo")

_DRUMMER_RE = re.compile(r"drummer_(\d+)")
_LAYOUT = "ROOT/drummer_N/audio/<stem>/<take>.wav"
_MAX_LOGGED = 5  # notes/skips logged one by one at construction; the rest summarised
# audio extensions accepted for a take, preferred first when one take has several
_EXTENSIONS = tuple(e for e in (".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg") if e in AUDIO_EXTENSIONS)


# --------------------------------------------------------------------------------------------
# Takes on disk


def take_category(name: str) -> str:
    """Category of an ENST take name (``"066_phrase_rock..."`` -> ``"phrase"``); ``"other"`` if unknown."""
    rest = re.sub(r"^\d+_", "", name).lower()
    for category in CATEGORIES:
        c = category.lower()
        if rest == c or rest.startswith(c + "_"):
            return category
    return "other"


@dataclass(frozen=True)
class EnstTake:
    """One take's files: ``stems`` in :data:`SLOTS` order (None where the take has no file)."""

    drummer: int
    name: str
    stems: tuple[Path | None, ...]
    dry_mix: Path | None = None
    wet_mix: Path | None = None

    @property
    def id(self) -> str:
        """``"drummer_N/<take>"``: the name used in splits and items."""
        return f"drummer_{self.drummer}/{self.name}"

    @property
    def category(self) -> str:
        return take_category(self.name)

    def mix(self, target: str) -> Path | None:
        """The mix file for ``target`` (``"dry"`` or ``"wet"``)."""
        return self.dry_mix if _target_folder(target) == "dry_mix" else self.wet_mix


def _target_folder(target: str) -> str:
    key = str(target).lower().removesuffix("_mix")
    if key not in MIX_FOLDERS:
        raise AutomixError(f"unknown ENST target '{target}' (expected 'dry' or 'wet')")
    return MIX_FOLDERS[key]


def _describe(root: Path) -> str:
    """What a folder that is not an ENST layout holds, for the error message."""
    if not root.exists():
        return "no such folder"
    if not root.is_dir():
        return "a file"
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        return f"a folder that cannot be listed ({exc.strerror or exc})"
    entries = [p for p in entries if not p.name.startswith(".")]
    if not entries:
        return "an empty folder"
    names = [p.name + ("/" if p.is_dir() else "") for p in entries]
    shown = ", ".join(names[:6]) + (f" (+{len(names) - 6} more)" if len(names) > 6 else "")
    drummers = [p for p in entries if p.is_dir() and _DRUMMER_RE.fullmatch(p.name)]
    if drummers:
        return f"{shown}, but no audio/<stem>/<take>.wav inside the drummer folders"
    if (root / "audio").is_dir():
        return f"{shown} (this looks like one drummer's folder: pass the folder that holds drummer_1, drummer_2, ...)"
    nested = [p for p in entries if p.is_dir() and any(_DRUMMER_RE.fullmatch(q.name) for q in _subdirs(p))]
    if nested:
        return f"{shown} (the ENST folder may be {nested[0]})"
    return shown


def _subdirs(path: Path) -> list[Path]:
    try:
        return [q for q in path.iterdir() if q.is_dir()]
    except OSError:
        return []


def scan_enst(root: str | os.PathLike) -> list[EnstTake]:
    """Every take under an ENST-drums root, sorted by id (``drummer_N/<take>``).

    Only names are listed (no file is opened). Takes are the union of the file names in the
    stem and mix folders (``accompaniment`` is ignored); ``.wav`` is expected, other audio
    extensions are accepted (the first of ``.wav``, ``.flac``, ... wins for one take).
    Raises :class:`AutomixError` when ``root`` holds no ENST layout.
    """
    root = Path(root).expanduser()
    rank = {ext: i for i, ext in enumerate(_EXTENSIONS)}
    found: dict[tuple[int, str], dict[str, Path]] = {}
    if root.is_dir():
        for drummer_dir in sorted(_subdirs(root), key=lambda p: p.name):
            m = _DRUMMER_RE.fullmatch(drummer_dir.name)
            audio = drummer_dir / "audio"
            if not m or not audio.is_dir():
                continue
            drummer = int(m.group(1))
            for folder in (*SLOTS, *MIX_FOLDERS.values()):
                folder_dir = audio / folder
                if not folder_dir.is_dir():
                    continue
                for f in folder_dir.iterdir():
                    ext = f.suffix.lower()
                    if ext not in rank or f.name.startswith(".") or not f.is_file():
                        continue
                    files = found.setdefault((drummer, f.stem), {})
                    old = files.get(folder)
                    if old is None or (rank[ext], f.name) < (rank[old.suffix.lower()], old.name):
                        files[folder] = f
    if not found:
        raise AutomixError(f"{root} is not an ENST-drums folder: expected {_LAYOUT}; found {_describe(root)}")
    takes = [
        EnstTake(
            drummer=drummer,
            name=name,
            stems=tuple(files.get(slot) for slot in SLOTS),
            dry_mix=files.get("dry_mix"),
            wet_mix=files.get("wet_mix"),
        )
        for (drummer, name), files in found.items()
    ]
    return sorted(takes, key=lambda t: (t.drummer, t.name))


def take_annotation(root: str | os.PathLike, take_id: str) -> dict:
    """The JSON annotation of take ``take_id`` (``drummer_N/name``) under ``root``
    (``drummer_N/annotation/name.json``, as the corpus generator writes it); ``{}`` when it has none."""
    drummer, name = take_id.split("/", 1) if "/" in take_id else ("", take_id)
    try:
        data = json.loads((Path(root) / drummer / "annotation" / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------------------------
# Splits


def _take_ids(takes: str | os.PathLike | Iterable[str | EnstTake]) -> list[str]:
    if isinstance(takes, (str, os.PathLike)):
        return [t.id for t in scan_enst(takes)]
    return [t.id if isinstance(t, EnstTake) else str(t) for t in takes]


def _drummer_of(take_id: str) -> int | None:
    m = re.match(r"drummer_(\d+)/", take_id)
    return int(m.group(1)) if m else None


def make_enst_split(
    takes: str | os.PathLike | Iterable[str | EnstTake],
    *,
    seed: int = 0,
    fractions: Mapping[str, float] | None = None,
    exclude_categories: Sequence[str] = ("hits",),
    by_drummer: Mapping[str, Iterable[int]] | None = None,
) -> Split:
    """Split ENST takes into subsets, reproducibly; save it with ``split.save(path)``.

    ``takes`` is a root folder (scanned), or take ids (``"drummer_N/<take>"``) or
    :class:`EnstTake` objects. Takes of ``exclude_categories`` (default: the ``hits`` takes,
    isolated strokes that are no mixing material) are left out. ``by_drummer`` maps a subset
    to drummers whose takes all go there (e.g. ``{"test": [3]}``); the other drummers' takes
    are split by ``fractions`` (default 0.8/0.1/0.1 train/valid/test, or with ``by_drummer``
    the defaults for the subsets it does not name, rescaled: ``{"test": [3]}`` gives
    train/valid 8:1). The order is a seeded hash of the names: the same names and seed give
    the same split whatever the file system lists.
    """
    ids = sorted(set(_take_ids(takes)))
    excluded = {c.lower() for c in exclude_categories}
    kept = [t for t in ids if take_category(t.split("/", 1)[-1]).lower() not in excluded]
    fixed: dict[str, str] = {}
    drummer_subsets: dict[str, list[int]] | None = None
    if by_drummer:
        drummer_subsets = {name: sorted({int(d) for d in ds}) for name, ds in by_drummer.items()}
        owner: dict[int, str] = {}
        for name, ds in drummer_subsets.items():
            for d in ds:
                if d in owner:
                    raise AutomixError(f"drummer {d} is given to both '{owner[d]}' and '{name}'")
                owner[d] = name
        fixed = {t: owner[d] for t in kept if (d := _drummer_of(t)) in owner}
        if fractions is None:
            rest = {k: v for k, v in DEFAULT_FRACTIONS.items() if k not in drummer_subsets}
            total = sum(rest.values())
            fractions = {k: v / total for k, v in rest.items()} if total > 0 else {"train": 1.0}
    split = make_split(
        kept,
        seed=seed,
        fractions=fractions,
        fixed=fixed,
        dataset=DATASET_NAME,
        options={
            "exclude_categories": sorted(exclude_categories),
            "by_drummer": drummer_subsets,
            "takes_found": len(ids),
            "takes_excluded": len(ids) - len(kept),
        },
    )
    return split


# --------------------------------------------------------------------------------------------
# The dataset


@dataclass
class _File:
    path: Path
    rate: int
    channels: int
    frames: int  # at the file's rate
    length: int  # at the dataset's rate
    want: int  # channels the loader uses: 1 for stems, 2 for mixes
    lufs: float  # of the file seen with `want` channels (nan when not measured)


@dataclass
class _Take:
    id: str
    stems: list[_File | None]
    mix: _File
    length: int
    stem_gains: np.ndarray  # [N] linear, take level
    mix_gain: float
    mask: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.mask = np.array([0.0 if f is None else 1.0 for f in self.stems], dtype=np.float32)


class EnstDrums(Dataset):
    """ENST-drums segments for training or validating a Mix-Wave-U-Net (see the module docstring).

    ``EnstDrums(root, settings=None, **options)``: ``settings`` an :class:`EnstSettings` (default:
    all defaults), ``options`` any of its fields by name (they replace the settings' values):
    which takes (``subset``, ``split``, ``exclude_categories``), ``target``, segment sizes
    (``model``, ``input_length``, ``output_length``), ``mode``, levels (``normalize``,
    ``stem_gain``, ...), ``seed``, ``cache_audio``, ``index_path``, ``sample_rate``. Random
    segments: item ``i`` of epoch ``e`` is drawn from ``(seed, e, i)`` alone; :meth:`set_epoch`
    picks the epoch.

    Attributes: ``settings``, ``takes`` (ids used), ``skipped`` ((take, reason) pairs), ``notes``
    (fixes applied), ``sizes`` (:class:`SegmentSizes`), ``index`` (the loudness index or None),
    ``slots``, ``sample_rate``, and the options as read (``mode``, ``normalize``, ``stem_gain``,
    ``stem_lufs``, ``mix_lufs``, ``max_gain_db``, ``silence_db``, ``max_tries``, ``seed``, ...).
    """

    slots: tuple[str, ...] = SLOTS

    def __init__(self, root: str | os.PathLike, *, settings: EnstSettings | None = None, **options: Any):
        super().__init__()
        s = self.settings = EnstSettings.of(settings, options)
        self.root = Path(root).expanduser()
        self.target_folder = _target_folder(s.target)
        self.target = self.target_folder.removesuffix("_mix")
        self.sizes: SegmentSizes = segment_sizes(s.model, input_length=s.input_length, output_length=s.output_length)
        # the sizes are all the model was for: keep them, not the model (workers would copy it)
        self.settings = replace(s, model=None, input_length=self.sizes.input_length,
                                output_length=self.sizes.output_length)
        self.mode = s.mode
        self.normalize = s.normalize
        self.stem_gain = s.stem_gain
        self.stem_lufs, self.mix_lufs, self.max_gain_db = float(s.stem_lufs), float(s.mix_lufs), float(s.max_gain_db)
        self.silence_db, self.max_tries, self.seed = float(s.silence_db), int(s.max_tries), int(s.seed)
        self.cache_audio = bool(s.cache_audio)
        self.sample_rate = int(s.sample_rate)
        self.skipped: list[tuple[str, str]] = []
        self.notes: list[str] = []

        scanned = {t.id: t for t in scan_enst(self.root)}
        wanted = self._select(scanned, s.subset, s.split, s.exclude_categories)

        if s.normalize is None:
            self.index: LoudnessIndex | None = None
        else:
            path = LoudnessIndex.default_path(self.root) if s.index_path is None else (s.index_path or None)
            self.index = LoudnessIndex(path, root=self.root)
        self._takes: list[_Take] = []
        for take_id in wanted:
            if take_id not in scanned:
                self.skipped.append((take_id, f"listed in the split but not found under {self.root}"))
                continue
            prepared = self._prepare(scanned[take_id])
            if prepared is not None:
                self._takes.append(prepared)
        if self.index is not None:
            self.index.save()
        self._log_construction()
        if not self._takes:
            first = f"; first: {self.skipped[0][0]}: {self.skipped[0][1]}" if self.skipped else ""
            which = f"subset '{s.subset}' of " if s.subset else ""
            raise AutomixError(f"no usable takes in {which}{self.root} ({len(self.skipped)} skipped{first})")

        lengths = [t.length for t in self._takes]
        self._fixed = fixed_segments(lengths, self.sizes.output_length, s.hop)
        self._sampler = RandomSegmentSampler(lengths, self.sizes.output_length)
        self.segments_per_epoch = len(self._fixed) if s.segments_per_epoch is None else int(s.segments_per_epoch)
        self._bad: set[int] = set()
        self._audio: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # take -> (stems [N, L], mix [2, L]), raw
        self._resampled: dict[Path, np.ndarray] = {}  # files at another rate, decoded and resampled
        self.epoch = 0

    # ------------------------------------------------------------------ construction
    def _select(
        self,
        scanned: Mapping[str, EnstTake],
        subset: str | None,
        split: Split | str | os.PathLike | None,
        exclude_categories: Sequence[str],
    ) -> list[str]:
        if split is not None:
            split = split if isinstance(split, Split) else Split.load(split)
            if subset is None:
                return sorted({t for items in split.subsets.values() for t in items})
            return split.items(subset)
        if subset is not None:
            return make_enst_split(list(scanned), exclude_categories=exclude_categories).items(subset)
        excluded = {c.lower() for c in exclude_categories}
        return [t for t, take in scanned.items() if take.category.lower() not in excluded]

    def _measure(self, path: Path, want: int) -> FileLoudness:
        if self.index is not None:
            return self.index.get(path, channels=want)
        info = probe(path)
        return FileLoudness(path, info.sample_rate, info.channels, info.frames, float("nan"))

    def _prepare(self, take: EnstTake) -> _Take | None:
        """Probe/measure a take's files; None (and a ``skipped`` entry) if it cannot be used."""
        mix_path = take.mix(self.target)
        if mix_path is None:
            self.skipped.append((take.id, f"no {self.target_folder} file"))
            return None
        if not any(take.stems):
            self.skipped.append((take.id, "no stem files"))
            return None
        notes: list[str] = []
        try:
            files: list[_File | None] = []
            for slot, path in [*zip(SLOTS, take.stems), (self.target_folder, mix_path)]:
                if path is None:
                    files.append(None)
                    continue
                want = 2 if slot == self.target_folder else 1
                m = self._measure(path, want)
                if want == 2 and m.channels > 2:
                    self.skipped.append((take.id, f"{path} has {m.channels} channels; expected a stereo mix"))
                    return None
                if want == 1 and m.channels > 1:
                    notes.append(f"{take.id}: {slot} has {m.channels} channels, downmixed to mono")
                if want == 2 and m.channels == 1:
                    notes.append(f"{take.id}: {slot} is mono, used on both channels")
                if m.sample_rate != self.sample_rate:
                    notes.append(
                        f"{take.id}: {slot} is {m.sample_rate} Hz, resampled to {self.sample_rate} Hz"
                    )
                length = resampled_length(m.frames, m.sample_rate, self.sample_rate)
                files.append(_File(path, m.sample_rate, m.channels, m.frames, length, want, m.lufs))
        except AudioError as exc:
            self.skipped.append((take.id, str(exc)))
            return None
        present = [f for f in files if f is not None]
        lengths = [f.length for f in present]
        length = max(lengths)
        if min(lengths) != length:
            short = [slot for slot, f in zip((*SLOTS, self.target_folder), files) if f is not None and f.length < length]
            notes.append(
                f"{take.id}: lengths differ ({min(lengths)}..{length} samples at {self.sample_rate} Hz); "
                f"{', '.join(short)} padded with silence to {length}"
            )
        stems, mix = files[:-1], files[-1]
        assert mix is not None
        if self.normalize is None:
            stem_gains = np.ones(len(SLOTS), dtype=np.float32)
            mix_gain = 1.0
        else:
            stem_gains = self._stem_gains([SILENCE_LUFS if f is None else f.lufs for f in stems])
            stem_gains[[f is None for f in stems]] = 0.0
            mix_gain = self._gain(mix.lufs, self.mix_lufs)
        self.notes.extend(notes)
        return _Take(take.id, stems, mix, length, stem_gains, mix_gain)

    def _gain(self, lufs: float, target: float) -> float:
        return float(10.0 ** (gain_db_for(lufs, target, self.max_gain_db) / 20.0))

    def _stem_gains(self, lufs: list[float]) -> np.ndarray:
        """Linear input gains of stems measured at ``lufs`` by the ``stem_gain`` rule."""
        gains_db = stem_gains_db(lufs, self.stem_lufs, self.stem_gain, self.max_gain_db)
        return (10.0 ** (np.asarray(gains_db, dtype=np.float64) / 20.0)).astype(np.float32)

    def _log_construction(self) -> None:
        for note in self.notes[:_MAX_LOGGED]:
            logger.warning("ENST: %s", note)
        if len(self.notes) > _MAX_LOGGED:
            logger.warning("ENST: %d more notes (see dataset.notes)", len(self.notes) - _MAX_LOGGED)
        for take_id, reason in self.skipped[:_MAX_LOGGED]:
            logger.warning("ENST: skipped %s: %s", take_id, reason)
        if len(self.skipped) > _MAX_LOGGED:
            logger.warning("ENST: %d more takes skipped (see dataset.skipped)", len(self.skipped) - _MAX_LOGGED)

    # ------------------------------------------------------------------ public info
    @property
    def takes(self) -> list[str]:
        """Ids of the takes in use (``"drummer_N/<take>"``)."""
        return [t.id for t in self._takes]

    @property
    def context(self) -> int:
        return self.sizes.context

    @property
    def fixed_positions(self) -> list[tuple[str, int]]:
        """``(take, offset)`` of every fixed (validation) segment, in item order."""
        return [(self._takes[t].id, o) for t, o in self._fixed]

    def take_length(self, take: str | int) -> int:
        """Length of a take in samples at the dataset's rate (the longest of its files)."""
        return self._takes[self._take_index(take)].length

    def gains_db(self, take: str | int) -> tuple[np.ndarray, float]:
        """Take-level gains (dB) of the stems (``[N]``, 0 for missing) and of the mix."""
        t = self._takes[self._take_index(take)]
        with np.errstate(divide="ignore"):
            stems = np.where(t.stem_gains > 0, 20.0 * np.log10(np.maximum(t.stem_gains, 1e-30)), 0.0)
        return stems.astype(np.float32), 20.0 * math.log10(t.mix_gain)

    def __len__(self) -> int:
        return len(self._fixed) if self.mode == "fixed" else self.segments_per_epoch

    def __repr__(self) -> str:
        return (
            f"EnstDrums({str(self.root)!r}, takes={len(self._takes)}, skipped={len(self.skipped)}, "
            f"target={self.target!r}, mode={self.mode!r}, items={len(self)}, input_length={self.sizes.input_length}, "
            f"output_length={self.sizes.output_length}, normalize={self.normalize!r})"
        )

    def _take_index(self, take: str | int) -> int:
        if isinstance(take, (int, np.integer)):
            return int(take)
        for i, t in enumerate(self._takes):
            if t.id == take:
                return i
        raise KeyError(f"take {take!r} is not in this dataset")

    # ------------------------------------------------------------------ reading
    def _full_file(self, f: _File) -> np.ndarray:
        """A whole file at the dataset's rate, ``want`` channels (kept for files at another rate)."""
        cached = self._resampled.get(f.path)
        if cached is not None:
            return cached
        audio, _ = read_audio(f.path, sample_rate=self.sample_rate)
        audio = np.ascontiguousarray(as_channels(audio, f.want), dtype=np.float32)
        if f.rate != self.sample_rate:
            self._resampled[f.path] = audio
        return audio

    def _read(self, f: _File, start: int, length: int) -> np.ndarray:
        """Raw ``[want, length]`` window of one file at the dataset's rate, zeros outside it."""
        if f.rate != self.sample_rate:
            return slice_padded(self._full_file(f), start, length)
        return as_channels(read_padded(f.path, start, length, frames=f.frames), f.want)

    def _decoded(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """A whole take, raw: stems ``[N, L]`` (zeros where missing), mix ``[2, L]``."""
        cached = self._audio.get(t)
        if cached is not None:
            return cached
        take = self._takes[t]
        stems = np.zeros((len(SLOTS), take.length), dtype=np.float32)
        for i, f in enumerate(take.stems):
            if f is not None:
                audio = self._full_file(f)
                stems[i, : audio.shape[1]] = audio[0, : take.length]
        mix_audio = self._full_file(take.mix)
        mix = np.zeros((2, take.length), dtype=np.float32)
        mix[:, : mix_audio.shape[1]] = mix_audio[:, : take.length]
        if self.cache_audio:
            self._audio[t] = (stems, mix)
        return stems, mix

    def _raw_mix(self, t: int, offset: int) -> np.ndarray:
        if self.cache_audio:
            return slice_padded(self._decoded(t)[1], offset, self.sizes.output_length)
        return self._read(self._takes[t].mix, offset, self.sizes.output_length)

    def _raw_stems(self, t: int, start: int) -> np.ndarray:
        n = self.sizes.input_length
        if self.cache_audio:
            return slice_padded(self._decoded(t)[0], start, n)
        take = self._takes[t]
        stems = np.zeros((len(SLOTS), n), dtype=np.float32)
        for i, f in enumerate(take.stems):
            if f is not None:
                stems[i] = self._read(f, start, n)[0]
        return stems

    def preload(self) -> int:
        """Decode every take into memory now (with ``cache_audio``); returns the bytes held."""
        if not self.cache_audio:
            raise AutomixError("preload() needs cache_audio=True")
        for t in range(len(self._takes)):
            if t not in self._bad:
                try:
                    self._decoded(t)
                except (AutomixError, OSError) as exc:
                    self._mark_bad(t, exc)
        return sum(s.nbytes + m.nbytes for s, m in self._audio.values())

    def load_take(self, take: str | int, *, normalized: bool = True) -> dict[str, Any]:
        """A whole take as numpy arrays: ``stems`` ``[N, L]``, ``mix`` ``[2, L]``, ``mask``, ``take``.

        ``normalized`` applies the take-level gains (as ``normalize="take"`` does); with
        ``normalize=None`` there are none. Useful for evaluation and to check levels.
        """
        t = self._take_index(take)
        stems, mix = self._decoded(t)
        info = self._takes[t]
        if normalized:
            stems = stems * info.stem_gains[:, None]
            mix = mix * np.float32(info.mix_gain)
        return {"stems": stems, "mix": mix, "mask": info.mask.copy(), "take": info.id}

    def segment(self, take: str | int, offset: int) -> dict[str, Any]:
        """The item for a segment whose mix starts at ``offset`` (numpy arrays instead of tensors)."""
        t = self._take_index(take)
        return self._segment(t, int(offset), self._raw_mix(t, int(offset)))

    def _segment(self, t: int, offset: int, raw_mix: np.ndarray) -> dict[str, Any]:
        take = self._takes[t]
        raw_stems = self._raw_stems(t, self.sizes.input_start(offset))
        if self.normalize == "segment":
            present = np.array([f is not None for f in take.stems])
            lufs = [measure_loudness(raw_stems[i], self.sample_rate) if present[i] else SILENCE_LUFS
                    for i in range(raw_stems.shape[0])]
            stems = raw_stems * (self._stem_gains(lufs) * present)[:, None]
            mix = raw_mix * np.float32(self._gain(measure_loudness(raw_mix, self.sample_rate), self.mix_lufs))
        else:
            stems = raw_stems * take.stem_gains[:, None]
            mix = raw_mix * np.float32(take.mix_gain)
        return {
            "stems": np.ascontiguousarray(stems, dtype=np.float32),
            "mix": np.ascontiguousarray(mix, dtype=np.float32),
            "mask": take.mask.copy(),
            "take": take.id,
            "offset": int(offset),
        }

    # ------------------------------------------------------------------ items
    def set_epoch(self, epoch: int) -> None:
        """Choose the random segments of ``epoch`` (each epoch draws different ones)."""
        self.epoch = int(epoch)

    def _mark_bad(self, t: int, exc: BaseException) -> None:
        if t in self._bad:
            return
        self._bad.add(t)
        reason = " ".join(str(exc).split()) or type(exc).__name__
        self.skipped.append((self._takes[t].id, f"unreadable during training: {reason}"))
        logger.warning("ENST: skipping %s from now on: %s", self._takes[t].id, reason)
        if len(self._bad) == len(self._takes):
            raise AutomixError(f"every take of {self.root} became unreadable; last: {reason}")

    def _level_db(self, t: int, raw_mix: np.ndarray) -> float:
        gain = 1.0 if self.normalize is None else self._takes[t].mix_gain
        return rms_db(raw_mix) + (20.0 * math.log10(gain) if gain > 0 else 0.0)

    def _random_item(self, index: int) -> dict[str, Any]:
        # drawn from (seed, epoch, index) alone: the same in any process or DataLoader worker,
        # so a resumed training run sees exactly the segments an uninterrupted one would
        rng = np.random.default_rng([self.seed, self.epoch, index])
        windows: dict[tuple[int, int], np.ndarray] = {}

        def level(t: int, offset: int) -> float:
            if t in self._bad:
                return -math.inf
            try:
                windows[(t, offset)] = self._raw_mix(t, offset)
            except (AutomixError, OSError) as exc:
                self._mark_bad(t, exc)
                return -math.inf
            return self._level_db(t, windows[(t, offset)])

        for _ in range(4 * len(self._takes) + 16):
            t, offset, lvl, _tries = self._sampler.draw_loud(rng, level, self.silence_db, self.max_tries)
            if t in self._bad or lvl == -math.inf:
                continue
            try:
                return self._segment(t, offset, windows[(t, offset)])
            except (AutomixError, OSError) as exc:
                self._mark_bad(t, exc)
        raise AutomixError(f"could not read a segment from {self.root} ({len(self._bad)} takes unreadable)")

    def _fixed_item(self, index: int) -> dict[str, Any]:
        n = len(self._fixed)
        for step in range(n):
            t, offset = self._fixed[(index + step) % n]
            if t in self._bad:
                continue
            try:
                return self._segment(t, offset, self._raw_mix(t, offset))
            except (AutomixError, OSError) as exc:
                self._mark_bad(t, exc)
        raise AutomixError(f"could not read a segment from {self.root} (every take unreadable)")

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} segments")
        index %= len(self)
        item = self._random_item(index) if self.mode == "random" else self._fixed_item(index)
        item["stems"] = torch.from_numpy(item["stems"])
        item["mix"] = torch.from_numpy(item["mix"])
        item["mask"] = torch.from_numpy(item["mask"])
        return item
