"""A collection's sources read at the dataset's rate, and the cache of their loudness.

:class:`Source` is one input of a song (a file, or one channel of it); :func:`read_region`
reads any frames of it at the dataset's rate (resampled region by region, equal to resampling
the whole file), zeros outside it; :class:`LoudnessCache` keeps measured loudness of source
groups in ``LOUDNESS_INDEX_NAME`` beside the collection, keyed by path, size and mtime.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from daw_bridge.audio import read_audio, resample, to_mono
from daw_bridge.errors import OutputError
from daw_bridge.outputs import atomic_output

logger = logging.getLogger("automix")

#: Name of the per-collection loudness cache written beside the manifest's root.
LOUDNESS_INDEX_NAME = ".automix-loudness.json"
_INDEX_FORMAT = "automix-collection-loudness/1"
_RESAMPLE_MARGIN = 1024  # output samples read beyond a segment when resampling a region


# --------------------------------------------------------------------------------------------
# Reading audio regions at the dataset's rate


@dataclass(frozen=True)
class Source:
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


def _read_resampled(src: Source, rate: int, start: int, n: int) -> np.ndarray:
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


def read_region(src: Source, rate: int, start: int, n: int) -> np.ndarray:
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


def stereo(audio: np.ndarray) -> np.ndarray:
    """Mono (or more than two channels, downmixed) in the centre; stereo as it is."""
    if audio.shape[0] == 2:
        return audio
    return np.repeat(to_mono(audio), 2, axis=0)


# --------------------------------------------------------------------------------------------
# Loudness cache


class LoudnessCache:
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

    def key(self, kind: str, rate: int, sources: Sequence[Source]) -> tuple[str, list[list[Any]]]:
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
