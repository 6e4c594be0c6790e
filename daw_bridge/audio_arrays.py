"""Audio arrays ``[channels, frames]`` in memory: shapes, sample rates and levels (torch-free).

Resampling (soxr, linear phase, delay compensated), mono downmix, zero-padding to a common
length, and sample peaks in dBFS. :mod:`daw_bridge.audio` re-exports the public names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import soxr

__all__ = [
    "PEAK_FLOOR_DB",
    "align_lengths",
    "amplitude_db",
    "is_silent",
    "pad_to_length",
    "peak_db",
    "resample",
    "resampled_length",
    "to_mono",
]

#: Value :func:`peak_db` reports for digital silence, in dBFS (instead of -inf).
PEAK_FLOOR_DB: float = -200.0

_RESAMPLE_QUALITY = "HQ"


# --------------------------------------------------------------------------------------------
# Array helpers and resampling


def _as_2d(audio: np.ndarray) -> np.ndarray:
    """View ``audio`` as float32 ``[channels, frames]`` (1-D is mono); copies only if needed."""
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim == 1:
        return arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValueError(f"audio must be shaped [channels, frames], got shape {arr.shape}")
    return arr


def _check_rate(rate: int, name: str = "sample_rate") -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer (Hz), got {rate!r}")
    return int(rate)


def resampled_length(frames: int, from_rate: int, to_rate: int) -> int:
    """Number of frames :func:`resample` returns for ``frames`` input frames.

    ``frames * to_rate / from_rate`` rounded to the nearest integer, halves rounded up
    (this is what libsoxr produces; note Python's ``round`` would round halves to even).
    """
    from_rate, to_rate = _check_rate(from_rate, "from_rate"), _check_rate(to_rate, "to_rate")
    return (2 * int(frames) * to_rate + from_rate) // (2 * from_rate)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample ``audio`` ``[channels, frames]`` (or 1-D) from ``from_rate`` to ``to_rate`` Hz.

    Uses soxr with quality ``"HQ"``. Returns ``audio`` itself (no copy) when the rates are
    equal. Otherwise returns float32 of the same ndim whose length is
    :func:`resampled_length` ``(frames, from_rate, to_rate)``, i.e. ``frames * to / from``
    rounded half up. The filter is linear phase and its delay is compensated, so the output
    is time-aligned with the input.
    """
    from_rate, to_rate = _check_rate(from_rate, "from_rate"), _check_rate(to_rate, "to_rate")
    if from_rate == to_rate:
        return audio
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim == 1:
        return soxr.resample(arr, from_rate, to_rate, quality=_RESAMPLE_QUALITY)
    arr = np.ascontiguousarray(_as_2d(arr))
    # arr.T is a [frames, channels] view with channel-split memory, which soxr handles directly.
    out = soxr.resample(arr.T, from_rate, to_rate, quality=_RESAMPLE_QUALITY)
    return np.ascontiguousarray(out.T)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels: ``[channels, frames]`` (or 1-D) -> float32 ``[1, frames]``."""
    arr = _as_2d(audio)
    return arr.mean(axis=0, keepdims=True, dtype=np.float32)


def pad_to_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad ``audio`` at the end (last axis) to ``length`` frames.

    Returns ``audio`` itself when it already has ``length`` frames; raises ``ValueError``
    when it is longer (this function never cuts audio).
    """
    arr = np.asarray(audio)
    frames = arr.shape[-1]
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if frames == length:
        return audio
    if frames > length:
        raise ValueError(f"audio has {frames} frames, more than the requested {length}")
    widths = [(0, 0)] * (arr.ndim - 1) + [(0, length - frames)]
    return np.pad(arr, widths)


def align_lengths(arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Zero-pad every array (``[channels, frames]``) at the end to the longest one's length."""
    if not arrays:
        return []
    longest = max(np.asarray(a).shape[-1] for a in arrays)
    return [pad_to_length(a, longest) for a in arrays]


# --------------------------------------------------------------------------------------------
# Levels


def amplitude_db(amplitude: float) -> float:
    """Level of a linear amplitude in dBFS; 0 or less gives :data:`PEAK_FLOOR_DB`."""
    return 20.0 * math.log10(amplitude) if amplitude > 0 else PEAK_FLOOR_DB


def peak_db(audio: np.ndarray) -> float:
    """Sample peak of ``audio`` in dBFS; digital silence (or no samples) gives :data:`PEAK_FLOOR_DB`.

    Raises ``ValueError`` for NaN/Inf samples.
    """
    arr = np.asarray(audio)
    if arr.size == 0:
        return PEAK_FLOOR_DB
    peak = float(np.max(np.abs(arr)))
    if not math.isfinite(peak):
        raise ValueError("cannot measure the peak of audio with NaN or infinite samples")
    return max(amplitude_db(peak), PEAK_FLOOR_DB)


def is_silent(audio: np.ndarray, threshold_db: float = -90.0) -> bool:
    """True when no sample of ``audio`` rises above ``threshold_db`` dBFS."""
    return peak_db(audio) <= threshold_db
