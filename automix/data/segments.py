"""Shared helpers for multitrack training data: segments, splits, and a loudness index.

Torch-free, and not tied to one dataset: :mod:`automix.data.enst` uses it, and so can any
loader of multitrack collections. Four parts:

**Segment sizes and alignment.** A context-mode Wave-U-Net maps ``input_length`` input
samples to ``output_length`` output samples; output sample ``j`` lines up with input sample
``j + context`` where ``context = (input_length - output_length) // 2``
(:class:`SegmentSizes`, :func:`segment_sizes`). Segments are addressed by their *output*
offset ``o`` in a track: the target is ``[o, o + output_length)`` and the inputs are
``[o - context, o - context + input_length)``, zero-padded where that window leaves the track,
exactly as :mod:`automix.inference.tiling` pads a whole track with ``context`` zeros on the left. Every
output sample of a track can therefore be a training target.

**Segment positions.** :func:`fixed_segments` gives deterministic positions (a fixed hop over
every track, the last one aligned to the track's end) for validation;
:class:`RandomSegmentSampler` draws random positions, tracks weighted by length, and retries
a bounded number of times when a level callback says the segment is near-silent.

**Splits.** :func:`make_split` assigns item names (e.g. ``"drummer_1/066_phrase_rock"``) to
subsets with a seeded hash order that depends only on the names and the seed (not on file
system order, Python or numpy versions); :class:`Split` reads and writes the split files
kept under ``datasets/splits/`` (format below).

**Loudness index.** :class:`LoudnessIndex` measures each file's integrated loudness once
(ITU-R BS.1770-4 with pyloudnorm, through :func:`daw_bridge.loudness.measure_loudness`) and caches
it in a JSON file keyed by path, size and modification time, so a dataset measures its files
on first use only, and again only for files that changed.

Split file format (JSON, ``format: "automix-split/1"``)::

    {
      "format": "automix-split/1",
      "dataset": "enst-drums",
      "seed": 0,
      "fractions": {"train": 0.8, "valid": 0.1, "test": 0.1},
      "options": {...how the item list was filtered or grouped, dataset-specific...},
      "subsets": {"train": ["drummer_1/...", ...], "valid": [...], "test": [...]}
    }

Lists are sorted within each subset; an item is in at most one subset.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping

import numpy as np
import soundfile as sf
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daw_bridge.audio import SILENCE_LUFS, read_audio, read_float32, to_mono
from daw_bridge.loudness import measure_loudness
from daw_bridge.errors import AudioError, AutomixError
from daw_bridge.files import shipped_folder
from daw_bridge.outputs import atomic_output

__all__ = [
    "DEFAULT_FRACTIONS",
    "INDEX_FORMAT",
    "SPLIT_FORMAT",
    "FileLoudness",
    "LoudnessIndex",
    "RandomSegmentSampler",
    "SegmentSizes",
    "Split",
    "as_channels",
    "cache_dir",
    "datasets_dir",
    "fixed_segments",
    "gain_db_for",
    "make_split",
    "read_padded",
    "resolve_split_path",
    "rms_db",
    "segment_sizes",
    "slice_padded",
    "splits_dir",
]

logger = logging.getLogger("automix")

#: Default subset fractions of :func:`make_split`.
DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.8, "valid": 0.1, "test": 0.1}

SPLIT_FORMAT = "automix-split/1"
INDEX_FORMAT = "automix-loudness-index/1"

#: Output samples per segment when only a model is given: 2 s at 44.1 kHz (the paper's).
DEFAULT_OUTPUT_LENGTH = 88200

#: Level reported by :func:`rms_db` for digital silence (dBFS).
RMS_FLOOR_DB = -200.0

_SF_ERRORS: tuple[type[BaseException], ...] = (sf.SoundFileError, RuntimeError, OSError)


# --------------------------------------------------------------------------------------------
# Where shipped data files live


def datasets_dir() -> Path:
    """The top-level ``datasets/`` folder (installed copy ``automix/_datasets`` first)."""
    return shipped_folder("datasets")


def splits_dir() -> Path:
    """Folder of the shipped split files (``datasets/splits``)."""
    return datasets_dir() / "splits"


def cache_dir() -> Path:
    """automix's cache folder: ``$AUTOMIX_CACHE``, else ``$XDG_CACHE_HOME/automix``, else ``~/.cache/automix``."""
    env = os.environ.get("AUTOMIX_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "automix"


# --------------------------------------------------------------------------------------------
# Segment sizes and alignment


@dataclass(frozen=True)
class SegmentSizes:
    """Input and output lengths of one training segment (samples).

    The output window is centred in the input window: output sample ``j`` lines up with
    input sample ``j + context``.
    """

    input_length: int
    output_length: int

    def __post_init__(self) -> None:
        if self.output_length < 1 or self.input_length < self.output_length:
            raise ValueError(
                f"need 1 <= output_length <= input_length, got input {self.input_length}, "
                f"output {self.output_length}"
            )
        if (self.input_length - self.output_length) % 2:
            raise ValueError(
                f"input_length - output_length must be even (the output is centred), got "
                f"{self.input_length} - {self.output_length}"
            )

    @property
    def context(self) -> int:
        """Input samples before the first output sample (and after the last one)."""
        return (self.input_length - self.output_length) // 2

    def input_start(self, output_offset: int) -> int:
        """First input sample (may be negative) for a segment whose output starts at ``output_offset``."""
        return int(output_offset) - self.context


def segment_sizes(
    model: Any = None,
    *,
    input_length: int | None = None,
    output_length: int | None = None,
) -> SegmentSizes:
    """Segment sizes from a model (context included) or from explicit lengths.

    ``model`` is a :class:`~automix.models.unet.WaveUNet`, or anything with a ``.net`` that is one
    (an :class:`automix.models.checkpoint.Model`). With a model: ``output_length`` (default 88,200,
    the paper's 2 s) gives the smallest valid input via ``input_length_for`` (its output may
    be a little longer than asked); ``input_length`` alone must be a valid input length;
    both must agree with the model. Without a model both lengths are needed. Raises
    :class:`~daw_bridge.errors.AutomixError` on lengths that do not fit.
    """
    net = getattr(model, "net", model)
    if net is None:
        if input_length is None or output_length is None:
            raise AutomixError("give a model, or both input_length and output_length, for the segment sizes")
        try:
            return SegmentSizes(int(input_length), int(output_length))
        except ValueError as exc:
            raise AutomixError(str(exc)) from None
    if not hasattr(net, "input_length_for"):
        raise TypeError(f"model must be a WaveUNet or have one as .net, got {type(model).__name__}")
    try:
        if input_length is not None:
            out = int(net.output_length(int(input_length)))
            if output_length is not None and int(output_length) != out:
                raise AutomixError(
                    f"input_length {input_length} gives {out} output samples with this model, not {output_length}"
                )
            return SegmentSizes(int(input_length), out)
        info = net.input_length_for(int(output_length if output_length is not None else DEFAULT_OUTPUT_LENGTH))
    except ValueError as exc:
        raise AutomixError(" ".join(str(exc).split())) from None
    return SegmentSizes(int(info.input_length), int(info.output_length))


def slice_padded(audio: np.ndarray, start: int, length: int) -> np.ndarray:
    """``audio[..., start:start + length]`` with zeros where the window leaves the array.

    ``start`` may be negative or past the end. Returns a new float32 array.
    """
    arr = np.asarray(audio)
    frames = arr.shape[-1]
    out = np.zeros(arr.shape[:-1] + (int(length),), dtype=np.float32)
    lo, hi = max(int(start), 0), min(int(start) + int(length), frames)
    if hi > lo:
        out[..., lo - start : hi - start] = arr[..., lo:hi]
    return out


def read_padded(path: str | os.PathLike, start: int, length: int, *, frames: int | None = None) -> np.ndarray:
    """Read ``length`` frames from ``start`` of an audio file, zeros outside the file.

    Seeks with soundfile (only the window is decoded). ``start`` counts frames at the file's
    rate and may be negative or past the end; ``frames`` (the file's length, if known) saves
    a look-up. Returns float32 ``[channels, length]``. Raises :class:`AudioError` if the file
    cannot be read or the window holds NaN/Inf samples.
    """
    start, length = int(start), int(length)
    finite = True  # nothing read yet: zeros
    try:
        with sf.SoundFile(str(path)) as f:
            total = int(f.frames) if frames is None else int(frames)
            out = np.zeros((int(f.channels), length), dtype=np.float32)
            lo, hi = max(start, 0), min(start + length, total)
            if hi > lo:
                f.seek(lo)
                block, finite = read_float32(f, hi - lo)  # [n, C]
                out[:, lo - start : lo - start + block.shape[0]] = block.T
    except _SF_ERRORS as exc:
        reason = " ".join(str(getattr(exc, "error_string", None) or exc or type(exc).__name__).split())
        raise AudioError(f"{path} cannot be read ({reason}); check the file") from exc
    if not finite and not np.isfinite(out).all():
        raise AudioError(f"{path} has NaN or infinite samples near frame {max(start, 0)}; re-export it")
    return out


def rms_db(audio: np.ndarray) -> float:
    """RMS level of all samples in dBFS (a sine of peak 1 is -3.01); silence gives -200."""
    arr = np.asarray(audio, dtype=np.float32)
    if arr.size == 0:
        return RMS_FLOOR_DB
    mean_square = float(np.mean(np.square(arr, dtype=np.float64)))
    if not mean_square > 0.0:
        return RMS_FLOOR_DB
    return max(10.0 * math.log10(mean_square), RMS_FLOOR_DB)


def gain_db_for(lufs: float, target_lufs: float, max_gain_db: float) -> float:
    """Gain (dB) that brings loudness ``lufs`` to ``target_lufs``, limited to ``+-max_gain_db``.

    Silence (``lufs <= SILENCE_LUFS``, what :func:`measure_loudness` reports for silent or
    fully gated audio) gets 0 dB, so it stays silent and no NaN or huge gain appears.
    """
    if not math.isfinite(lufs) or lufs <= SILENCE_LUFS:
        return 0.0
    return float(np.clip(target_lufs - lufs, -max_gain_db, max_gain_db))


def kit_lufs(stem_lufs: Sequence[float]) -> float:
    """The loudness of a kit's stems taken together: the power sum of their integrated
    loudness, ``10 log10(sum 10^(L/10))`` (silent stems left out; silence if all are)."""
    powers = [10.0 ** (v / 10.0) for v in stem_lufs if math.isfinite(v) and v > SILENCE_LUFS]
    return 10.0 * math.log10(sum(powers)) if powers else SILENCE_LUFS


def stem_gains_db(stem_lufs: Sequence[float], target_lufs: float, rule: str, max_gain_db: float) -> list[float]:
    """Input gains (dB) for stems of integrated loudness ``stem_lufs``: ``rule="each"`` brings every
    stem to ``target_lufs``; ``"kit"`` gives all of them one gain that brings their
    :func:`kit_lufs` there, keeping the recording's own balance. Silent stems get 0 dB."""
    if rule == "kit":
        gain = gain_db_for(kit_lufs(stem_lufs), target_lufs, max_gain_db)
        return [gain if math.isfinite(v) and v > SILENCE_LUFS else 0.0 for v in stem_lufs]
    if rule != "each":
        raise ValueError(f"stem gain rule must be 'each' or 'kit', got {rule!r}")
    return [gain_db_for(v, target_lufs, max_gain_db) for v in stem_lufs]


#: How a mixer's input stems are levelled (the card's ``input_rule``, the recipe's ``data.stem_gain``).
STEM_GAIN_RULES = ("each", "kit")


# --------------------------------------------------------------------------------------------
# Segment positions


def fixed_segments(lengths: Sequence[int], output_length: int, hop: int | None = None) -> list[tuple[int, int]]:
    """Deterministic ``(track, output_offset)`` positions covering every track.

    Offsets ``0, hop, 2 * hop, ...`` while the segment fits; if the last one stops short of
    the track's end, one more segment ends exactly at the end. A track shorter than a
    segment gets one segment at 0 (zero-padded). ``hop`` defaults to ``output_length``
    (adjacent segments, no overlap).
    """
    hop = int(output_length if hop is None else hop)
    if hop < 1 or output_length < 1:
        raise ValueError(f"hop and output_length must be >= 1, got {hop}, {output_length}")
    positions: list[tuple[int, int]] = []
    for track, length in enumerate(lengths):
        last = int(length) - int(output_length)
        if last <= 0:
            positions.append((track, 0))
            continue
        offsets = list(range(0, last + 1, hop))
        if offsets[-1] != last:
            offsets.append(last)
        positions.extend((track, o) for o in offsets)
    return positions


class RandomSegmentSampler:
    """Random ``(track, output_offset)`` positions; tracks weighted by their number of positions.

    Every output window ``[o, o + output_length)`` inside a track is equally likely (a track
    shorter than a segment has the single position 0). :meth:`draw_loud` retries up to
    ``max_tries`` times while a level callback reports a near-silent segment.
    """

    def __init__(self, lengths: Sequence[int], output_length: int):
        if not len(lengths):
            raise ValueError("no tracks to sample from")
        self.output_length = int(output_length)
        self._positions = [max(int(n) - self.output_length + 1, 1) for n in lengths]
        self._cumulative = np.cumsum(self._positions, dtype=np.int64)

    def draw(self, rng: np.random.Generator) -> tuple[int, int]:
        """One uniformly random position."""
        k = int(rng.integers(int(self._cumulative[-1])))
        track = int(np.searchsorted(self._cumulative, k, side="right"))
        before = int(self._cumulative[track - 1]) if track else 0
        return track, k - before

    def draw_loud(
        self,
        rng: np.random.Generator,
        level_db: Callable[[int, int], float],
        threshold_db: float,
        max_tries: int = 10,
    ) -> tuple[int, int, float, int]:
        """Draw until ``level_db(track, offset) >= threshold_db``, at most ``max_tries`` times.

        Returns ``(track, offset, level, tries)``. If every try is below the threshold, the
        loudest one is returned (training never stalls on a quiet dataset).
        """
        best: tuple[int, int, float] | None = None
        for tries in range(1, max(int(max_tries), 1) + 1):
            track, offset = self.draw(rng)
            level = float(level_db(track, offset))
            if level >= threshold_db:
                return track, offset, level, tries
            if best is None or level > best[2]:
                best = (track, offset, level)
        assert best is not None
        return best[0], best[1], best[2], tries


# --------------------------------------------------------------------------------------------
# Splits


class Split(BaseModel):
    """A split of named items into subsets; what a split file holds (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["automix-split/1"] = SPLIT_FORMAT
    dataset: str = ""
    seed: int = 0
    fractions: dict[str, float] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    subsets: dict[str, list[str]]

    def items(self, subset: str) -> list[str]:
        """The items of one subset; :class:`AutomixError` naming the subsets there are."""
        if subset not in self.subsets:
            raise AutomixError(f"the split has no subset '{subset}' (it has: {', '.join(self.subsets) or 'none'})")
        return list(self.subsets[subset])

    def subset_of(self, item: str) -> str | None:
        """The subset an item is in, or None."""
        for name, items in self.subsets.items():
            if item in items:
                return name
        return None

    def to_json(self) -> str:
        """The split file's text (2-space indent, one item a line, trailing newline)."""
        return json.dumps(self.model_dump(), indent=2) + "\n"

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the split file atomically; :class:`~daw_bridge.errors.OutputError` if it exists."""
        with atomic_output(path, overwrite=overwrite) as tmp:
            tmp.write_text(self.to_json())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Split":
        """Read a split file (a path, or the name of a file under ``datasets/splits``)."""
        p = resolve_split_path(path)
        try:
            split = cls.model_validate(json.loads(p.read_text()))
        except (OSError, UnicodeDecodeError) as exc:
            raise AutomixError(f"split file {p} cannot be read ({exc})") from None
        except json.JSONDecodeError as exc:
            raise AutomixError(f"split file {p} is not valid JSON ({exc})") from None
        except ValidationError as exc:
            raise AutomixError(f"split file {p}: {' '.join(str(exc).split())}") from None
        seen: dict[str, str] = {}
        for name, items in split.subsets.items():
            for item in items:
                if item in seen and seen[item] != name:
                    raise AutomixError(f"split file {p}: '{item}' is in both '{seen[item]}' and '{name}'")
                seen[item] = name
        return split


def resolve_split_path(spec: str | os.PathLike) -> Path:
    """A split file's path: an existing path, else ``datasets/splits/<spec>.json``.

    Raises :class:`AutomixError` naming the shipped splits when neither exists.
    """
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    if isinstance(spec, str) and os.sep not in spec and "/" not in spec:
        shipped = splits_dir() / (spec if spec.endswith(".json") else f"{spec}.json")
        if shipped.is_file():
            return shipped
    available = sorted(q.stem for q in splits_dir().glob("*.json")) if splits_dir().is_dir() else []
    raise AutomixError(
        f"split file {spec} not found (give a path, or one of the shipped splits: {', '.join(available) or 'none'})"
    )


def _hash_order(items: Iterable[str], seed: int) -> list[str]:
    """Items ordered by SHA-256 of ``"<seed>:<item>"``: a seeded shuffle that depends on nothing else."""
    return sorted(items, key=lambda item: (hashlib.sha256(f"{seed}:{item}".encode()).hexdigest(), item))


def _check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    if not fractions:
        raise AutomixError("split fractions are empty; give e.g. {'train': 0.8, 'valid': 0.1, 'test': 0.1}")
    out: dict[str, float] = {}
    for name, value in fractions.items():
        if not isinstance(name, str) or not name:
            raise AutomixError(f"split subset names must be non-empty strings, got {name!r}")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise AutomixError(f"split fraction for '{name}' must be >= 0, got {value}")
        out[name] = value
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6:
        raise AutomixError(f"split fractions must add up to 1, got {total:g} ({out})")
    return out


def _counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Largest-remainder rounding of ``n * fraction``: counts that add up to ``n``."""
    raw = {name: n * f for name, f in fractions.items()}
    counts = {name: int(math.floor(v)) for name, v in raw.items()}
    order = sorted(fractions, key=lambda name: (-(raw[name] - counts[name]), list(fractions).index(name)))
    for name in order[: n - sum(counts.values())]:
        counts[name] += 1
    return counts


def make_split(
    items: Iterable[str],
    *,
    seed: int = 0,
    fractions: Mapping[str, float] | None = None,
    fixed: Mapping[str, str] | None = None,
    dataset: str = "",
    options: Mapping[str, Any] | None = None,
) -> Split:
    """Split item names into subsets, reproducibly.

    The items are de-duplicated and sorted; those in ``fixed`` (item -> subset) go to their
    subset; the rest are put in a seeded order (SHA-256 of ``"<seed>:<item>"``, so the order
    depends only on the names and the seed: not on listing order, platform or library
    versions) and cut into consecutive runs with sizes ``fractions`` x count, rounded by
    largest remainder so they add up. ``fractions`` (default 0.8/0.1/0.1 train/valid/test)
    must add up to 1. ``options`` are recorded in the split as they are (JSON values).
    """
    fractions = _check_fractions(DEFAULT_FRACTIONS if fractions is None else fractions)
    names = sorted(set(items))
    fixed = dict(fixed or {})
    subsets: dict[str, list[str]] = {name: [] for name in fractions}
    for item in names:
        if item in fixed:
            subsets.setdefault(fixed[item], []).append(item)
    rest = _hash_order((item for item in names if item not in fixed), seed)
    start = 0
    for name, count in _counts(len(rest), fractions).items():
        subsets[name].extend(rest[start : start + count])
        start += count
    return Split(
        dataset=dataset,
        seed=int(seed),
        fractions=fractions,
        options=json.loads(json.dumps(dict(options or {}))),
        subsets={name: sorted(members) for name, members in subsets.items()},
    )


# --------------------------------------------------------------------------------------------
# Loudness index


@dataclass(frozen=True)
class FileLoudness:
    """What :class:`LoudnessIndex` knows about one file (rate, channels, frames as stored in the file)."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    #: integrated loudness (LUFS) of the file seen with ``view`` channels (see :meth:`LoudnessIndex.get`)
    lufs: float


def _view_name(channels: int | None) -> str:
    if channels is None:
        return "file"
    if channels not in (1, 2):
        raise ValueError(f"channels must be None, 1 or 2, got {channels!r}")
    return "mono" if channels == 1 else "stereo"


def as_channels(audio: np.ndarray, channels: int | None) -> np.ndarray:
    """``[C, T]`` audio seen with ``channels`` channels: 1 = downmix, 2 = mono duplicated (or the first two), None = as is."""
    if channels is None or audio.shape[0] == channels:
        return audio
    if channels == 1:
        return to_mono(audio)
    if audio.shape[0] == 1:
        return np.repeat(audio, 2, axis=0)
    return audio[:2]


class LoudnessIndex:
    """Integrated loudness of audio files, measured once and cached in a JSON file.

    Entries are keyed by the file's path (relative to ``root`` when the file is under it,
    so a dataset and its index can be moved together) and are valid while the file's size
    and modification time (ns) are unchanged; a changed file is measured again. Each entry
    also keeps the file's rate, channels and frames, so a warm index spares opening files.
    Loudness is measured at the file's own rate with :func:`daw_bridge.loudness.measure_loudness`
    (BS.1770-4 gated; finite for silence: -70 LUFS) for a *view* of its channels: as stored,
    downmixed to mono, or as stereo (mono duplicated), whichever the caller asks for.

    ``path=None`` keeps the index in memory only. :meth:`save` writes atomically, merging
    entries other processes saved meanwhile; a corrupt index file is ignored (with a
    warning) and rewritten; an unwritable one leaves the index in memory (with a warning).
    ``measured`` counts the measurements this object made.
    """

    def __init__(self, path: str | os.PathLike | None, *, root: str | os.PathLike | None = None):
        self.path = None if path is None else Path(path).expanduser()
        self.root = None if root is None else Path(root).expanduser().resolve()
        self.measured = 0
        self._entries: dict[str, dict[str, Any]] = {}
        self._dirty = False
        if self.path is not None and self.path.exists():
            self._entries = self._read(self.path)

    @staticmethod
    def default_path(root: str | os.PathLike) -> Path:
        """Index file for a dataset root in the cache folder: ``<cache>/loudness/<name>-<hash>.json``."""
        resolved = Path(root).expanduser().resolve()
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
        return cache_dir() / "loudness" / f"{resolved.name or 'root'}-{digest}.json"

    @staticmethod
    def _read(path: Path) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(path.read_text())
            if data.get("format") != INDEX_FORMAT or not isinstance(data.get("files"), dict):
                raise ValueError(f"not a {INDEX_FORMAT} file")
            return {k: v for k, v in data["files"].items() if isinstance(v, dict)}
        except (OSError, ValueError, AttributeError) as exc:
            logger.warning("loudness index %s is unreadable (%s); measuring again", path, " ".join(str(exc).split()))
            return {}

    def key(self, file: str | os.PathLike) -> str:
        """The index key of a file: its path relative to ``root`` (POSIX) if under it, else absolute."""
        resolved = Path(file).expanduser().resolve()
        if self.root is not None:
            with contextlib.suppress(ValueError):
                return resolved.relative_to(self.root).as_posix()
        return resolved.as_posix()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, file: str | os.PathLike, channels: int | None = None) -> FileLoudness:
        """Loudness and format of ``file`` seen with ``channels`` (None: as stored; 1: mono downmix; 2: stereo).

        From the index when the entry matches the file's size and mtime, else measured (the
        whole file is read) and stored. Raises :class:`AudioError` for a missing, unreadable
        or non-finite file, or one with more channels than BS.1770 weights (5) in view "file".
        """
        path = Path(file)
        try:
            st = path.stat()
        except OSError as exc:
            raise AudioError(f"{path} cannot be read ({exc.strerror or exc}); check the file") from None
        key, view = self.key(path), _view_name(channels)
        entry = self._entries.get(key)
        if entry is not None and (entry.get("size"), entry.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
            entry = None
        if entry is not None and isinstance(entry.get("lufs"), dict) and view in entry["lufs"]:
            try:
                return FileLoudness(
                    path, int(entry["sample_rate"]), int(entry["channels"]), int(entry["frames"]),
                    float(entry["lufs"][view]),
                )
            except (KeyError, TypeError, ValueError):
                entry = None
        audio, rate = read_audio(path)
        try:
            lufs = float(measure_loudness(as_channels(audio, channels), rate))
        except ValueError as exc:
            raise AudioError(f"{path}: cannot measure loudness ({exc})") from None
        self.measured += 1
        if entry is None:
            entry = {
                "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sample_rate": int(rate),
                "channels": int(audio.shape[0]), "frames": int(audio.shape[1]), "lufs": {},
            }
            self._entries[key] = entry
        entry["lufs"][view] = lufs  # full precision: a warm index gives the same gains as a cold one
        self._dirty = True
        return FileLoudness(path, int(rate), int(audio.shape[0]), int(audio.shape[1]), lufs)

    def save(self) -> bool:
        """Write the index if anything was measured; returns whether a file was written."""
        if self.path is None or not self._dirty:
            return False
        merged = self._read(self.path) if self.path.exists() else {}
        merged.update(self._entries)
        data = {
            "format": INDEX_FORMAT,
            "meter": "ITU-R BS.1770-4 integrated loudness (pyloudnorm), at the file's rate; -70 = silence",
            "root": None if self.root is None else str(self.root),
            "files": dict(sorted(merged.items())),
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".part", dir=self.path.parent)
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(data, f, indent=1)
                os.chmod(tmp, 0o644)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            logger.warning("cannot write loudness index %s (%s); keeping it in memory", self.path, exc.strerror or exc)
            return False
        self._entries = merged
        self._dirty = False
        return True
