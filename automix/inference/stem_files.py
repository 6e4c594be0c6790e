"""Stem files in: collecting them, reading them in lock-step as a model's slots, their levels.

Torch-free; the mix flow (:mod:`automix.inference.mixing`) and every mixer use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from daw_bridge.audio import AUDIO_EXTENSIONS, AudioInfo, AudioStream
from daw_bridge.errors import AudioError, StemMatchError
from daw_bridge.loudness import LoudnessMeter
from daw_bridge.stems import StemAssignment, load_mapping_file, parse_mapping

log = logging.getLogger("automix")

StemsInput = str | os.PathLike | Sequence[str | os.PathLike]
MappingInput = Mapping[str, str | Sequence[str]] | Sequence[str] | str | os.PathLike | None
#: Peak below which a stem counts as silent (dBFS).
SILENCE_DB = -90.0
SILENCE_AMPLITUDE = 10 ** (SILENCE_DB / 20)
#: A stem with at least this many samples at full scale (|x| >= 0.999) is reported as clipped.
CLIPPED_SAMPLES = 8
#: Most gain (dB) :func:`input_gains` gives one slot, either way (the data loaders' limit).
MAX_INPUT_GAIN_DB = 30.0


def collect_stem_files(stems: StemsInput, *, exclude: Path | None = None) -> tuple[list[Path], list[str]]:
    """Audio files from folders and/or files, and notes about what was skipped.

    Folders are scanned (not recursively); hidden and non-audio files are skipped with a note,
    and so is ``exclude`` (the output being written). A file named explicitly must be audio.
    """
    items = [stems] if isinstance(stems, (str, os.PathLike)) else list(stems)
    if not items:
        raise StemMatchError("no stems given; pass a folder of stems or the stem files")
    files: list[Path] = []
    notes: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            files.extend(_scan_folder(path, exclude, notes))
        elif path.exists():
            files.append(path)
        else:
            raise AudioError(f"{path} does not exist")
    seen: set[Path] = set()
    unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
    return unique, notes


def _scan_folder(path: Path, exclude: Path | None, notes: list[str]) -> list[Path]:
    found, skipped = [], []
    for child in sorted(path.iterdir()):
        if child.name.startswith(".") or not child.is_file():
            continue
        if exclude is not None and child.resolve() == exclude.resolve():
            notes.append(f"skipped {child.name} in {path}: it is the output of this run")
            continue
        (found if child.suffix.lower() in AUDIO_EXTENSIONS else skipped).append(child)
    if skipped:
        notes.append(f"skipped {len(skipped)} non-audio file(s) in {path}: " + ", ".join(p.name for p in skipped))
    if not found:
        exts = ", ".join(sorted(AUDIO_EXTENSIONS))
        raise StemMatchError(f"folder {path} holds no audio files ({exts}); export the stems there first")
    return found


def mapping_of(value: MappingInput) -> Mapping[str, str | Sequence[str]] | None:
    """A slot mapping from a dict, CLI-style ``["kick=Kick In.wav"]`` items or a JSON file path."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (str, os.PathLike)):
        return load_mapping_file(value)
    return parse_mapping(list(value))


class StemReader:
    """Reads the assigned files in lock-step and composes the model's slot channels.

    :meth:`read` gives ``[slots, n]`` float32 blocks (times ``gains`` per slot when given) and
    keeps each slot's peak and each file's count of full-scale samples.
    """

    def __init__(self, assignment: StemAssignment, sample_rate: int, gains: np.ndarray | None = None):
        self.slots = assignment.slots
        self.gains = None if gains is None else np.asarray(gains, dtype=np.float32)[:, None]
        used = sorted({src.path for sources in assignment.sources.values() for src in sources}, key=str)
        self.streams = {}
        try:
            for path in used:
                self.streams[path] = AudioStream(path, sample_rate)
        except BaseException:
            self.close()
            raise
        self.recipe = [[(src.path, src.channel) for src in assignment.sources.get(slot, [])] for slot in self.slots]
        self.frames = max(s.frames for s in self.streams.values())
        self.peaks = np.zeros(len(self.slots), dtype=np.float32)
        # samples at |x| >= 0.999 per integer (PCM) file; a float file holds more than full scale, it cannot clip
        self.full_scale = {path: 0 for path, stream in self.streams.items() if stream.info.subtype.startswith("PCM")}

    def read(self, n: int) -> np.ndarray:
        blocks = {path: stream.read(n) for path, stream in self.streams.items()}
        for path in self.full_scale:
            self.full_scale[path] += int(np.count_nonzero(np.abs(blocks[path]) >= 0.999))
        out = np.zeros((len(self.slots), n), dtype=np.float32)
        for i, sources in enumerate(self.recipe):
            for path, channel in sources:
                block = blocks[path]
                out[i] += block[channel] if channel is not None else block.mean(axis=0)
        if n:
            np.maximum(self.peaks, np.abs(out).max(axis=1), out=self.peaks)
        if self.gains is not None:
            out *= self.gains
        return out

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()

    def level_notes(self, assignment: StemAssignment) -> list[str]:
        """Notes on silent slots and clipped files, once everything was read."""
        notes = []
        for i, slot in enumerate(assignment.slots):
            if assignment.sources.get(slot) and self.peaks[i] < SILENCE_AMPLITUDE:
                notes.append(f"{slot} ({', '.join(s.label() for s in assignment.sources[slot])}) is silent")
        for path, count in self.full_scale.items():
            if count >= CLIPPED_SAMPLES:
                notes.append(f"{path.name} looks clipped ({count} samples at full scale); the mix carries that distortion")
        return notes

    def check_not_all_silent(self, assignment: StemAssignment) -> None:
        if float(self.peaks.max(initial=0.0)) < SILENCE_AMPLITUDE:
            names = ", ".join(sorted({s.path.name for srcs in assignment.sources.values() for s in srcs}))
            raise AudioError(f"all stems are silent (peak below {SILENCE_DB:.0f} dBFS): {names}; nothing to mix")


def input_gains(loudness: Sequence[float], target_lufs: float, names: Sequence[str],
                rule: str = "each") -> tuple[np.ndarray, list[str]]:
    """Linear gains for slots of integrated ``loudness`` (LUFS), as training did (the card's
    ``input_rule``): every slot to ``target_lufs`` (``each``), or one gain for all that brings
    their power-summed loudness there (``kit``). Limited to +-:data:`MAX_INPUT_GAIN_DB`; silent
    slots keep 0 dB. Returns the gains and one note listing them.
    """
    from automix.data.segments import stem_gains_db

    gains_db = stem_gains_db(list(loudness), target_lufs, rule, MAX_INPUT_GAIN_DB)
    shown = ", ".join(f"{name} {g:+.1f} dB" for name, g in zip(names, gains_db))
    what = "each stem brought to" if rule == "each" else "the kit (one gain, its balance kept) brought to"
    note = f"{what} {target_lufs:g} LUFS, as the model was trained ({shown})"
    return 10.0 ** (np.asarray(gains_db, dtype=np.float64) / 20.0), [note]


def slot_loudness(assignment: StemAssignment, sample_rate: int) -> list[float]:
    """Integrated loudness (LUFS) of each slot of ``assignment``: one pass over the files."""
    reader = StemReader(assignment, sample_rate)
    meters = [LoudnessMeter(sample_rate, 1) for _ in assignment.slots]
    try:
        left = reader.frames
        while left > 0:
            block = reader.read(min(left, 1 << 17))
            for meter, row in zip(meters, block):
                meter.add(row)
            left -= block.shape[1]
    finally:
        reader.close()
    return [m.integrated() for m in meters]


def stems_rate(infos: Mapping[Path, AudioInfo], used: Sequence[Path]) -> int | None:
    """The rate the mix is written at: the most common among the ``used`` stems (ties: the
    highest), as the rule-based console's session takes it; ``None`` without stems."""
    from collections import Counter

    counts = Counter(infos[p].sample_rate for p in used)
    if not counts:
        return None
    return max(counts, key=lambda rate: (counts[rate], rate))


def rate_and_length_notes(infos: Mapping[Path, AudioInfo], used: Sequence[Path], sample_rate: int,
                          out_rate: int | None = None) -> list[str]:
    """Notes on files resampled to ``sample_rate`` (and the mix back to ``out_rate``) and files padded to the longest."""
    notes = []
    back = f", and the mix back to {out_rate} Hz, the stems' rate" if out_rate not in (None, sample_rate) else ""
    for path in used:
        info = infos[path]
        if info.sample_rate != sample_rate:
            notes.append(f"{path.name} is {info.sample_rate} Hz, the model runs at {sample_rate} Hz; resampled{back}")
            back = ""
    if used:
        longest = max(infos[p].duration for p in used)
        for path in used:
            short = longest - infos[path].duration
            if short > 1e-3:
                notes.append(f"{path.name} is {short:.3f} s shorter than the longest stem; padded with silence")
    return notes


def named_array(stems: Any, names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """``(array [N, T], names)`` from ``[N, T]`` with ``names``, or from ``{name: [T] or [1, T]}``
    (shorter arrays padded with silence). StemMatchError without names."""
    if isinstance(stems, Mapping):
        names = list(stems)
        arrays = [np.atleast_2d(np.asarray(v, dtype=np.float32)).mean(axis=0) for v in stems.values()]
        length = max(a.shape[-1] for a in arrays)
        stems = np.stack([np.pad(a, (0, length - a.shape[-1])) for a in arrays])
    if names is None:
        raise StemMatchError("this mixer needs each stem's name (names=[...]) to know its role")
    return np.asarray(stems, dtype=np.float32), list(names)
