"""A look-ahead true-peak limiter, streamed block by block (torch-free).

What it does to a signal ``x`` (all channels linked, one gain for all):

1. the peak envelope ``p[n]``: the largest magnitude over the channels of the sample and of
   the 4x band-limited interpolation either side of it (the true-peak meter's interpolator,
   :mod:`daw_bridge.loudness`);
2. the gain each sample needs, ``r[n] = min(1, ceiling / p[n])``;
3. a look-ahead minimum over the next ``W`` samples (``lookahead_ms``), so the gain is down
   before a peak arrives;
4. a release at a constant rate in dB (``release_db_per_s``): the gain comes back up no
   faster than that (``min(h[n], h[n-1] + rate)``, computed as a running minimum);
5. a moving average over the last ``W`` samples: a smooth attack ramp. Averaging ``W`` values
   that each are at most ``r[n]`` (step 3 looked ``W`` ahead) keeps ``g[n] <= r[n]``, so every
   sample of ``g * x`` is under the ceiling; the inter-sample peaks between them are under it
   up to the slow change of ``g`` (callers measure the result and lower the ceiling by what is
   left over, see :mod:`daw_bridge.level_stage`).

The output is as long as the input and aligned with it (no delay): the limiter reads ``W``
samples plus the interpolator's reach ahead of what it returns, and :meth:`TruePeakLimiter.flush`
returns the rest once the input has ended (taken as silence after its end).
"""

from __future__ import annotations

import math

import numpy as np

from daw_bridge.loudness import interpolation_kernels, true_peak_oversampling

__all__ = ["LOOKAHEAD_MS", "RELEASE_DB_PER_S", "TruePeakLimiter", "limit"]

#: Attack ramp and look-ahead (ms).
LOOKAHEAD_MS: float = 5.0
#: How fast the gain comes back once a peak has passed (dB per second).
RELEASE_DB_PER_S: float = 60.0

_REACH = 32  # the interpolator reads this many samples either side (see daw_bridge.loudness)


def _forward_min(values: np.ndarray, width: int) -> np.ndarray:
    """``out[i] = min(values[i : i + width])`` for ``i`` in ``0 .. len - width`` (van Herk / Gil-Werman)."""
    from scipy.ndimage import minimum_filter1d

    if width == 1:
        return values.copy()
    full = minimum_filter1d(values, size=width, mode="nearest")
    shift = width // 2
    return full[shift : shift + values.shape[0] - width + 1]


class TruePeakLimiter:
    """Hold the true peak of a stream under ``ceiling_db`` dBTP (see the module doc).

    ``process(block)`` takes float32 ``[channels, n]`` and returns the output frames ready so
    far (fewer than ``n`` at first); ``flush()`` returns the rest. ``gain_reduction_db`` is the
    most the gain came down so far (a positive number of dB).
    """

    def __init__(self, sample_rate: int, channels: int, ceiling_db: float, *,
                 lookahead_ms: float = LOOKAHEAD_MS, release_db_per_s: float = RELEASE_DB_PER_S) -> None:
        if not math.isfinite(ceiling_db):
            raise ValueError(f"ceiling_db must be finite, got {ceiling_db}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.ceiling = 10.0 ** (ceiling_db / 20.0)
        self.width = max(1, round(lookahead_ms * 1e-3 * self.sample_rate))
        self.release_db = float(release_db_per_s) / self.sample_rate  # dB per sample
        kernels = interpolation_kernels(true_peak_oversampling(self.sample_rate))
        self._kernels = kernels[:, ::-1].astype(np.float32)  # convolution == correlation with the reversed kernel
        # the stream is taken as silent before its start: the gain there looks ahead into its first frames
        self._out = 1 - self.width  # next output frame (those before 0 are computed, not returned)
        self._x = np.zeros((self.channels, _REACH - self._out), dtype=np.float32)  # input from _out - _REACH on
        self._received = 0
        self._tail = np.ones(self.width - 1, dtype=np.float64)  # the last W - 1 smoothed-release gains
        self._release_state = 0.0  # release-stage gain (dB) of the frame before _out
        self.gain_reduction_db = 0.0

    @property
    def latency(self) -> int:
        """Frames the output lags behind the input until :meth:`flush`."""
        return self.width - 1 + _REACH

    def process(self, block: np.ndarray) -> np.ndarray:
        arr = np.asarray(block, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[np.newaxis]
        if arr.shape[0] != self.channels:
            raise ValueError(f"the limiter expects [{self.channels}, n] blocks, got {arr.shape}")
        self._x = np.concatenate([self._x, arr], axis=1)
        self._received += arr.shape[1]
        return self._run(self._received - self.latency)

    def flush(self) -> np.ndarray:
        pad = np.zeros((self.channels, self.latency), dtype=np.float32)
        self._x = np.concatenate([self._x, pad], axis=1)
        return self._run(self._received)

    def _run(self, end: int) -> np.ndarray:
        """Output frames ``[_out, end)``; ``_x`` holds input from ``_out - _REACH`` and reaches
        ``end + W - 1 + _REACH``."""
        count = end - self._out
        if count <= 0:
            return np.zeros((self.channels, 0), dtype=np.float32)
        w = self.width
        window = self._x[:, : count + w - 1 + 2 * _REACH]
        needed = self._needed_gain(window, count + w - 1)  # r[n], n in [_out, end + w - 1)
        held = _forward_min(needed, w)  # h[n], n in [_out, end)
        released = self._release(held)
        gains = self._smooth(released)
        out = window[:, _REACH : _REACH + count] * gains.astype(np.float32)
        self.gain_reduction_db = max(self.gain_reduction_db, -20.0 * math.log10(max(float(gains.min()), 1e-10)))
        skip = max(0, -self._out)  # frames before the stream's start
        self._x = self._x[:, count:]
        self._out = end
        return out[:, skip:]

    def _needed_gain(self, window: np.ndarray, n: int) -> np.ndarray:
        """``r`` over the ``n`` frames starting ``_REACH`` into ``window`` (float64)."""
        from scipy.signal import oaconvolve

        between = oaconvolve(window[:, np.newaxis, :], self._kernels[np.newaxis], mode="valid", axes=-1)
        # between[..., j] lies between frames j + _REACH - 1 and j + _REACH of window (j = 0 .. n)
        inter = np.abs(between).max(axis=(0, 1))[: n + 1]
        samples = np.abs(window[:, _REACH : _REACH + n]).max(axis=0)
        peak = np.maximum(samples, np.maximum(inter[:n], inter[1 : n + 1])).astype(np.float64)
        with np.errstate(divide="ignore"):
            return np.minimum(1.0, np.where(peak > 0, self.ceiling / np.maximum(peak, 1e-30), 1.0))

    def _release(self, held: np.ndarray) -> np.ndarray:
        """``g[j] = min(h[j], g[j-1] + rate)`` in dB, unrolled: ``j * rate + min(g[-1] + rate,
        running min of h[k] - k * rate)``."""
        db = 20.0 * np.log10(np.maximum(held, 1e-10))
        steps = np.arange(db.shape[0], dtype=np.float64) * self.release_db
        floor = np.minimum.accumulate(db - steps)
        released = np.minimum(np.minimum(floor, self._release_state + self.release_db) + steps, 0.0)
        self._release_state = float(released[-1])
        return 10.0 ** (released / 20.0)

    def _smooth(self, released: np.ndarray) -> np.ndarray:
        """Mean over the last ``W`` release-stage gains (the frames before come from ``_tail``)."""
        w = self.width
        if w == 1:
            return released
        joined = np.concatenate([self._tail, released])
        sums = np.cumsum(np.concatenate([[0.0], joined]))
        gains = (sums[w:] - sums[:-w]) / w
        self._tail = joined[-(w - 1):]
        return np.minimum(gains, 1.0)


def limit(audio: np.ndarray, sample_rate: int, ceiling_db: float, **options: float) -> tuple[np.ndarray, float]:
    """``audio`` ``[channels, T]`` through a :class:`TruePeakLimiter`; ``(limited, gain reduction dB)``."""
    arr = np.asarray(audio, dtype=np.float32)
    arr = arr[np.newaxis] if arr.ndim == 1 else arr
    limiter = TruePeakLimiter(sample_rate, arr.shape[0], ceiling_db, **options)
    out = np.concatenate([limiter.process(arr), limiter.flush()], axis=1)
    return out, limiter.gain_reduction_db
