"""Objective metrics for mixes: SI-SDR, multi-resolution STFT distance and mix features.

Details: ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import scipy.fft
import scipy.signal

from daw_bridge.audio import SILENCE_LUFS as _SILENCE_LUFS
from daw_bridge.loudness import measure_loudness, power_to_lufs, weighted_block_powers, window_powers

__all__ = [
    "DB_FLOOR",
    "FEATURES",
    "METRICS",
    "MRSTFT_FFT_SIZES",
    "MetricInfo",
    "SI_SDR_LIMIT_DB",
    "compare",
    "compare_systems",
    "feature_errors",
    "feature_hop",
    "frame_features",
    "frame_size",
    "mape",
    "mrstft_distance",
    "panning_spectrum",
    "running_mean",
    "si_sdr",
]

#: FFT sizes of :func:`mrstft_distance` (hop n/4, Hann window of n).
MRSTFT_FFT_SIZES: tuple[int, ...] = (4096, 2048, 1024, 512, 256)
#: Floor of levels in dB (dBFS) for silence.
DB_FLOOR = -120.0
#: :func:`si_sdr` is limited to +-this many dB (identical or silent channels).
SI_SDR_LIMIT_DB = 120.0
#: Loudness of silence / blocks below the BS.1770 absolute gate (LUFS).

_REF_RATE = 44100
_REF_FRAME = 4096  # at 44.1 kHz: 92.9 ms
_SUBBLOCKS = 16  # sub-blocks per frame for the dynamic spread
_MOMENTARY_S, _SHORT_TERM_S, _LOUDNESS_HOP_S = 0.4, 3.0, 0.1
_RUNNING_MEAN_S = 1.0
_ROLLOFF = 0.85
_CONTRAST_EDGES_HZ = (200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0)  # band edges (plus 0 and Nyquist)
_CONTRAST_QUANTILE = 0.02
_CONTRAST_FLOOR = 1e-9  # -180 dB re a full-scale sine: far below any recording's noise floor
_POWER_FLOOR = _CONTRAST_FLOOR**2  # of the flatness
_PAN_BANDS: dict[str, tuple[float, float]] = {
    "total": (0.0, math.inf),
    "low": (0.0, 250.0),
    "mid": (250.0, 2500.0),
    "high": (2500.0, math.inf),
}
_ACTIVE_RANGE_DB = 60.0  # frames more than this below the loudest one are left out of the MAPEs
_ACTIVE_FLOOR_DB = -80.0
_MAPE_EPS = 1e-8
_STFT_EPS = 1e-8  # auraloss' clamp of |X|^2
_CHUNK_SAMPLES = 1 << 20  # samples per block for dot products and filters
_CHUNK_VALUES = 1 << 22  # STFT values per block


@dataclass(frozen=True)
class MetricInfo:
    """How to show one metric: a short ``label``, its ``unit`` and which way is better.

    ``better`` is ``"higher"``, ``"lower"`` or ``"zero"`` (closest to 0 is best, e.g. a signed
    loudness difference).
    """

    label: str
    unit: str
    better: str
    digits: int = 2


#: Feature key -> (label, unit), in report order.
FEATURES: dict[str, tuple[str, str]] = {
    "loudness": ("loudness", "LUFS"),
    "rms": ("RMS", "dBFS"),
    "crest_factor": ("crest factor", "dB"),
    "dynamic_spread": ("dynamic spread", "dB"),
    "centroid": ("centroid", "Hz"),
    "bandwidth": ("bandwidth", "Hz"),
    "contrast": ("contrast", "dB"),
    "rolloff": ("roll-off", "Hz"),
    "flatness": ("flatness", ""),
    "panning_total": ("panning", ""),
    "panning_low": ("panning low", ""),
    "panning_mid": ("panning mid", ""),
    "panning_high": ("panning high", ""),
}
_PANNING_FEATURES = tuple(f"panning_{band}" for band in _PAN_BANDS)

#: Every key :func:`compare` returns, in report order.
METRICS: dict[str, MetricInfo] = {
    "si_sdr": MetricInfo("SI-SDR", "dB", "higher"),
    "mrstft": MetricInfo("MR-STFT", "", "lower", 3),
    "loudness_diff_lu": MetricInfo("loudness diff.", "LU", "zero"),
    "panning_spectrum_error": MetricInfo("panning spectrum err.", "", "lower", 3),
    "mape_mean": MetricInfo("mean feature MAPE", "%", "lower", 1),
    **{f"mape_{key}": MetricInfo(f"{label} MAPE", "%", "lower", 1) for key, (label, _) in FEATURES.items()},
}


# --------------------------------------------------------------------------------------------
# Helpers


def _as_2d(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    arr = np.asarray(audio)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be [channels, samples] or 1-D, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return arr


def _pair(estimate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    est, ref = _as_2d(estimate, "estimate"), _as_2d(reference, "reference")
    if est.shape != ref.shape:
        raise ValueError(f"estimate {est.shape} and reference {ref.shape} must have the same shape")
    if est.shape[1] == 0:
        raise ValueError("nothing to compare (0 samples)")
    return est, ref


def _check_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    return int(sample_rate)


def _chunks(total: int, size: int) -> Iterator[slice]:
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def _db(power: np.ndarray | float) -> np.ndarray:
    """``10 log10(power)`` floored at :data:`DB_FLOOR`."""
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(np.maximum(power, 0.0)), DB_FLOOR)


# --------------------------------------------------------------------------------------------
# SI-SDR


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), per channel, averaged over channels.

    Per channel, both signals are made zero-mean, ``alpha = <s_hat, s> / ||s||^2``,
    ``target = alpha s``, ``noise = s_hat - target`` and
    ``SI-SDR = 10 log10(||target||^2 / ||noise||^2)``, limited to +-:data:`SI_SDR_LIMIT_DB`
    (120 dB) so it stays finite: identical channels (and two silent ones) read +120, a silent
    estimate of a non-silent reference (or the reverse) -120. The channels' dB values are
    averaged. Sums are accumulated in float64, in blocks.
    """
    est, ref = _pair(estimate, reference)
    values = []
    for e, r in zip(est, ref):
        n = e.shape[0]
        e_mean = float(np.mean(e, dtype=np.float64))
        r_mean = float(np.mean(r, dtype=np.float64))
        dot = ref_energy = est_energy = 0.0
        for s in _chunks(n, _CHUNK_SAMPLES):
            ec = e[s].astype(np.float64) - e_mean
            rc = r[s].astype(np.float64) - r_mean
            dot += float(np.dot(ec, rc))
            ref_energy += float(np.dot(rc, rc))
            est_energy += float(np.dot(ec, ec))
        if ref_energy == 0.0 or est_energy == 0.0:
            values.append(SI_SDR_LIMIT_DB if ref_energy == est_energy else -SI_SDR_LIMIT_DB)
            continue
        alpha = dot / ref_energy
        noise = 0.0
        for s in _chunks(n, _CHUNK_SAMPLES):
            d = (e[s].astype(np.float64) - e_mean) - alpha * (r[s].astype(np.float64) - r_mean)
            noise += float(np.dot(d, d))
        target = alpha * alpha * ref_energy
        if noise == 0.0 or target == 0.0:
            values.append(SI_SDR_LIMIT_DB if noise == 0.0 else -SI_SDR_LIMIT_DB)
            continue
        values.append(float(np.clip(10.0 * math.log10(target / noise), -SI_SDR_LIMIT_DB, SI_SDR_LIMIT_DB)))
    return float(np.mean(values))


# --------------------------------------------------------------------------------------------
# STFT helpers


def _frames_view(x: np.ndarray, n: int, hop: int) -> np.ndarray:
    """Frames ``[count, n]`` of a 1-D signal (a strided view; zero-padded to one frame if short)."""
    if x.shape[0] < n:
        x = np.pad(x, (0, n - x.shape[0]))
    return np.lib.stride_tricks.sliding_window_view(x, n)[::hop]


def _frame_count(samples: int, n: int, hop: int) -> int:
    return 1 + max(samples - n, 0) // hop


def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (torch.hann_window's default)."""
    return scipy.signal.get_window("hann", n, fftbins=True).astype(np.float32)


def _rfft(frames: np.ndarray) -> np.ndarray:
    return scipy.fft.rfft(frames, axis=-1, workers=-1)


def _power(spectrum: np.ndarray) -> np.ndarray:
    """``|X|^2`` of a complex spectrum (cheaper than ``abs`` then square)."""
    return np.square(spectrum.real) + np.square(spectrum.imag)


# --------------------------------------------------------------------------------------------
# Multi-resolution STFT distance


def _centred(x: np.ndarray, n: int) -> np.ndarray:
    """torch.stft(center=True) padding: ``n // 2`` each side, reflected (zeros if too short)."""
    pad = n // 2
    if x.shape[0] > pad:
        return np.pad(x, (pad, pad), mode="reflect")
    return np.pad(x, (pad, pad))


def mrstft_distance(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate: int | None = None,
    fft_sizes: Sequence[int] = MRSTFT_FFT_SIZES,
    *,
    eps: float = _STFT_EPS,
) -> float:
    """Multi-resolution STFT distance (auraloss' ``MultiResolutionSTFTLoss`` definition).

    For each FFT size ``n``: STFTs with a periodic Hann window of ``n`` samples, hop ``n // 4``,
    frames centred (reflect padding of ``n // 2``, as ``torch.stft(center=True)``);
    magnitudes ``M = sqrt(max(|X|^2, eps))``; spectral convergence
    ``SC = ||M_ref - M_est||_F / ||M_ref||_F`` and ``logmag = mean |log M_ref - log M_est|``
    (natural log), both over all channels, frames and bins. Returns the mean of
    ``SC + logmag`` over ``fft_sizes`` (dimensionless; 0 for identical signals, lower is
    better). ``sample_rate`` is accepted for a uniform signature; sizes are in samples.
    Computed in float32 (like the training loss) with sums accumulated per block in float64.
    """
    del sample_rate  # sizes are in samples, like the training loss
    est, ref = _pair(estimate, reference)
    if not fft_sizes:
        raise ValueError("fft_sizes must name at least one FFT size")
    totals = []
    for n in fft_sizes:
        n = int(n)
        if n < 4:
            raise ValueError(f"FFT sizes must be >= 4, got {n}")
        hop = n // 4
        window = _hann(n)
        chunk = max(1, _CHUNK_VALUES // n)
        diff2 = ref2 = log_sum = 0.0
        count = 0
        for e, r in zip(est, ref):
            fe = _frames_view(_centred(e.astype(np.float32, copy=False), n), n, hop)
            fr = _frames_view(_centred(r.astype(np.float32, copy=False), n), n, hop)
            for s in _chunks(fe.shape[0], chunk):
                pe = np.maximum(_power(_rfft(fe[s] * window)), np.float32(eps))
                pr = np.maximum(_power(_rfft(fr[s] * window)), np.float32(eps))
                me, mr = np.sqrt(pe), np.sqrt(pr)
                diff2 += float(np.sum(np.square(mr - me), dtype=np.float64))
                ref2 += float(np.sum(pr, dtype=np.float64))
                # |log M_ref - log M_est| = 0.5 |log(P_ref / P_est)|
                log_sum += 0.5 * float(np.sum(np.abs(np.log(pr / pe)), dtype=np.float64))
                count += pr.size
        totals.append(math.sqrt(diff2) / math.sqrt(ref2) + log_sum / count)
    return float(np.mean(totals))


# --------------------------------------------------------------------------------------------
# Framewise features


def frame_size(sample_rate: int) -> int:
    """Frame length (samples) of the spectral/dynamics features: 4096 at 44.1 and 48 kHz.

    ``2 ** round(log2(4096 * sample_rate / 44100))``, at least 256: about 93 ms at any rate.
    The hop is a quarter of it.
    """
    rate = _check_rate(sample_rate)
    return max(256, 2 ** int(round(math.log2(_REF_FRAME * rate / _REF_RATE))))


def feature_hop(name: str, sample_rate: int) -> int:
    """Hop in samples between two values of the series ``name`` of :func:`frame_features`."""
    if name not in FEATURES:
        raise KeyError(f"unknown feature {name!r}")
    if name == "loudness":
        return _hop_of(_check_rate(sample_rate))
    return frame_size(sample_rate) // 4


@dataclass
class _Analysis:
    features: dict[str, np.ndarray]
    integrated_lufs: float
    freqs: np.ndarray | None = None  # panning spectrum bins
    pan_sum: np.ndarray | None = None  # sum_m e(m,k) Gamma(m,k)
    pan_energy: np.ndarray | None = None  # sum_m e(m,k)

    def panning_spectrum(self) -> np.ndarray:
        assert self.pan_sum is not None and self.pan_energy is not None
        return np.where(self.pan_energy > 0, self.pan_sum / np.maximum(self.pan_energy, 1e-300), 0.0)


def _dynamics(arr: np.ndarray, n: int, count: int) -> dict[str, np.ndarray]:
    """RMS, crest factor and dynamic spread per frame from 16 sub-block statistics per frame."""
    channels = arr.shape[0]
    sub, step = n // _SUBBLOCKS, _SUBBLOCKS // 4  # a frame is 16 sub-blocks, the hop 4
    need = (count - 1) * step + _SUBBLOCKS  # sub-blocks covered by the frames
    ms_all = np.zeros(count)
    crest = np.zeros(count)
    spread = np.zeros(count)
    active = np.zeros(count)
    for c in range(channels):
        x = arr[c, : need * sub]
        if x.shape[0] < need * sub:
            x = np.pad(x, (0, need * sub - x.shape[0]))
        blocks = x.astype(np.float32, copy=False).reshape(need, sub)
        ms_sub = np.mean(np.square(blocks), axis=1, dtype=np.float64)
        peak_sub = np.max(np.abs(blocks), axis=1).astype(np.float64)
        ms = np.mean(np.lib.stride_tricks.sliding_window_view(ms_sub, _SUBBLOCKS)[::step], axis=1)[:count]
        peak = np.max(np.lib.stride_tricks.sliding_window_view(peak_sub, _SUBBLOCKS)[::step], axis=1)[:count]
        on = ms > 0
        level = _db(ms)
        with np.errstate(divide="ignore", invalid="ignore"):
            crest += np.where(on, 20.0 * np.log10(peak / np.sqrt(np.where(on, ms, 1.0))), 0.0)
        sub_db = np.lib.stride_tricks.sliding_window_view(_db(ms_sub), _SUBBLOCKS)[::step][:count]
        spread += np.where(on, np.mean(np.abs(sub_db - level[:, None]), axis=1), 0.0)
        ms_all += ms / channels
        active += on
    used = np.maximum(active, 1)
    return {"rms": _db(ms_all), "crest_factor": crest / used, "dynamic_spread": spread / used}


def _panning_index(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin energy ``|X_L|^2 + |X_R|^2`` and Avendano's panning index (-1 left .. +1 right)."""
    lp, rp = _power(left), _power(right)
    e = lp + rp
    lm, rm = np.sqrt(lp), np.sqrt(rp)
    with np.errstate(invalid="ignore", divide="ignore"):
        similarity = np.where(e > 0, 2.0 * lm * rm / e, np.float32(1.0))
    return e, (1.0 - similarity) * np.sign(rm - lm)


def _analyse(audio: np.ndarray, sample_rate: int) -> _Analysis:
    rate = _check_rate(sample_rate)
    arr = _as_2d(audio)
    channels, samples = arr.shape
    if channels < 1 or samples == 0:
        raise ValueError(f"no audio to analyse (shape {arr.shape})")
    if channels > 2:
        raise ValueError(f"features need mono or stereo audio, got {channels} channels")
    if not np.isfinite(arr).all():
        raise ValueError("cannot compute features of audio with NaN or infinite samples")
    n = frame_size(rate)
    hop = n // 4
    count = _frame_count(samples, n, hop)
    out = _dynamics(arr, n, count)

    window = _hann(n)
    scale = np.float32(2.0 / float(window.sum()))  # a full-scale sine on a bin centre reads 1
    freqs = np.arange(n // 2 + 1) * rate / n
    views = [_frames_view(arr[c].astype(np.float32, copy=False), n, hop) for c in range(channels)]
    # contrast bands: [lo, hi) bin ranges and the number of bins in each quantile
    edges = [0.0, *[e for e in _CONTRAST_EDGES_HZ if e < rate / 2], math.inf]
    bands = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        idx = np.nonzero((freqs >= lo) & (freqs < hi))[0]
        if idx.size:
            bands.append((int(idx[0]), int(idx[-1]) + 1, max(1, int(round(_CONTRAST_QUANTILE * idx.size)))))
    pan_masks = {band: (freqs >= lo) & (freqs < hi) for band, (lo, hi) in _PAN_BANDS.items()}
    stereo = channels == 2
    for name in ("centroid", "bandwidth", "contrast", "rolloff", "flatness", *(_PANNING_FEATURES if stereo else ())):
        out[name] = np.zeros(count)
    pan_sum = np.zeros(freqs.shape[0]) if stereo else None
    pan_energy = np.zeros(freqs.shape[0]) if stereo else None
    for s in _chunks(count, max(1, _CHUNK_VALUES // n)):
        if stereo:
            left, right = (_rfft(v[s] * window) * scale for v in views)
            mid = 0.5 * (left + right)
        else:
            mid = _rfft(views[0][s] * window) * scale
        power = _power(mid)
        mag = np.sqrt(power)
        mag64 = mag.astype(np.float64)
        total = mag64.sum(axis=1)
        safe = np.where(total > 0, total, 1.0)
        centroid = np.where(total > 0, (mag64 @ freqs) / safe, 0.0)
        second = (mag64 @ np.square(freqs)) / safe  # E[f^2]
        out["centroid"][s] = centroid
        out["bandwidth"][s] = np.where(total > 0, np.sqrt(np.maximum(second - np.square(centroid), 0.0)), 0.0)
        cum = np.cumsum(power, axis=1, dtype=np.float64)
        energy = cum[:, -1]
        idx = np.argmax(cum >= _ROLLOFF * energy[:, None], axis=1)
        out["rolloff"][s] = np.where(energy > 0, freqs[idx], 0.0)
        p = power + np.float32(_POWER_FLOOR)
        out["flatness"][s] = np.exp(np.mean(np.log(p), axis=1, dtype=np.float64)) / np.mean(p, axis=1, dtype=np.float64)
        contrast = np.zeros(mag.shape[0])
        for lo, hi, k in bands:
            width = hi - lo
            part = mag[:, lo:hi]
            part = np.partition(part, (k - 1, width - k), axis=1) if 2 * k < width else np.sort(part, axis=1)
            valley = part[:, :k].mean(axis=1, dtype=np.float64)
            peak = part[:, width - k :].mean(axis=1, dtype=np.float64)
            contrast += 20.0 * np.log10((peak + _CONTRAST_FLOOR) / (valley + _CONTRAST_FLOOR))
        out["contrast"][s] = contrast / max(len(bands), 1)
        if stereo:
            assert pan_sum is not None and pan_energy is not None
            e, gamma = _panning_index(left, right)
            weighted = e * gamma
            weighted2 = weighted * gamma
            for band, mask in pan_masks.items():
                denom = e[:, mask].sum(axis=1, dtype=np.float64)
                num = weighted2[:, mask].sum(axis=1, dtype=np.float64)
                out[f"panning_{band}"][s] = np.where(denom > 0, np.sqrt(num / np.where(denom > 0, denom, 1.0)), 0.0)
            pan_sum += weighted.sum(axis=0, dtype=np.float64)
            pan_energy += e.sum(axis=0, dtype=np.float64)

    # loudness: 100 ms K-weighted blocks give both the momentary series and the integrated value
    lhop = _hop_of(rate)
    padded = arr if samples >= lhop else np.pad(arr, ((0, 0), (0, lhop - samples)))
    blocks = weighted_block_powers(padded, rate, lhop)
    out["loudness"] = power_to_lufs(window_powers(blocks, int(round(_MOMENTARY_S / _LOUDNESS_HOP_S))))
    integrated = measure_loudness(arr, rate)
    features = {name: out[name] for name in FEATURES if name in out}
    return _Analysis(features, integrated, freqs if stereo else None, pan_sum, pan_energy)


def frame_features(audio: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """Framewise mix features of ``audio`` (``[channels, samples]``, mono or stereo).

    Returns ``{name: float64 series}`` for the keys of :data:`FEATURES` (the ``panning_*``
    ones only for stereo); see the module docstring for each formula, unit and frame grid
    (:func:`frame_size`, :func:`feature_hop`). Values are finite everywhere (silence has
    documented values). Raises ``ValueError`` for NaN/Inf samples or more than 2 channels.
    """
    return _analyse(audio, sample_rate).features


def _panning_sums(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(freqs, sum_m e Gamma, sum_m e)`` per bin of a stereo signal, frames as the features."""
    rate = _check_rate(sample_rate)
    arr = _as_2d(audio)
    if arr.shape[0] != 2:
        raise ValueError(f"the panning spectrum needs stereo audio, got {arr.shape[0]} channel(s)")
    if arr.shape[1] == 0 or not np.isfinite(arr).all():
        raise ValueError("the panning spectrum needs finite, non-empty audio")
    n = frame_size(rate)
    hop = n // 4
    window = _hann(n)
    views = [_frames_view(arr[c].astype(np.float32, copy=False), n, hop) for c in range(2)]
    pan_sum = np.zeros(n // 2 + 1)
    pan_energy = np.zeros(n // 2 + 1)
    for s in _chunks(views[0].shape[0], max(1, _CHUNK_VALUES // n)):
        e, gamma = _panning_index(*(_rfft(v[s] * window) for v in views))
        pan_sum += (e * gamma).sum(axis=0, dtype=np.float64)
        pan_energy += e.sum(axis=0, dtype=np.float64)
    return np.arange(n // 2 + 1) * rate / n, pan_sum, pan_energy


def panning_spectrum(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Avendano's panning spectrum of a stereo signal: ``(bin frequencies in Hz, mean index per bin)``.

    The panning index ``Gamma(m, k)`` (-1 hard left, 0 centre, +1 hard right; see the module
    docstring) averaged over frames per bin, weighted by the bin energy
    ``|X_L|^2 + |X_R|^2``; bins without energy read 0. Frames as :func:`frame_features`.
    Raises ``ValueError`` unless the audio has 2 channels.
    """
    freqs, pan_sum, pan_energy = _panning_sums(audio, sample_rate)
    return freqs, np.where(pan_energy > 0, pan_sum / np.maximum(pan_energy, 1e-300), 0.0)


# --------------------------------------------------------------------------------------------
# Comparing features


def running_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Moving average of a 1-D series over ``n`` values, "valid" part only.

    ``y[i] = mean(x[i : i + n])`` for ``i = 0 .. len(x) - n``: ``len(x) - n + 1`` values. A
    series shorter than ``n`` gives one value, its mean; an empty series an empty array.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"running_mean needs a 1-D series, got shape {arr.shape}")
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if arr.size == 0:
        return arr.copy()
    n = min(n, arr.size)
    csum = np.concatenate([[0.0], np.cumsum(arr)])
    return (csum[n:] - csum[:-n]) / n


def mape(estimate: np.ndarray, reference: np.ndarray, *, eps: float = _MAPE_EPS) -> float:
    """Mean absolute percentage error: ``100 * mean(|est - ref| / max(|ref|, eps))`` in percent.

    The ``eps`` guard (1e-8) keeps a zero reference value from dividing by zero: where
    ``ref == 0`` an estimate of 0 counts 0 %, anything else a huge percentage. The arrays
    must have the same shape and at least one value.
    """
    est = np.asarray(estimate, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if est.shape != ref.shape:
        raise ValueError(f"mape needs equal shapes, got {est.shape} and {ref.shape}")
    if ref.size == 0:
        raise ValueError("mape needs at least one value")
    return float(100.0 * np.mean(np.abs(est - ref) / np.maximum(np.abs(ref), eps)))


def _active(levels: np.ndarray, floor: float) -> np.ndarray:
    threshold = max(floor, float(np.max(levels)) - _ACTIVE_RANGE_DB) if levels.size else floor
    mask = levels > threshold
    return mask if mask.any() else np.ones_like(mask)


def _panning_spectrum_error(est: _Analysis, ref: _Analysis) -> float:
    """Mean |difference| of the panning spectra over the bins where the reference has energy."""
    assert ref.pan_energy is not None
    energy = ref.pan_energy
    top = float(energy.max()) if energy.size else 0.0
    if top <= 0:
        bins = np.ones_like(energy, dtype=bool)
    else:
        bins = energy >= top * 10 ** (-_ACTIVE_RANGE_DB / 10)
    return float(np.mean(np.abs(est.panning_spectrum()[bins] - ref.panning_spectrum()[bins])))


def _errors(est: _Analysis, ref: _Analysis, sample_rate: int) -> dict[str, float]:
    masks = {
        "loudness": _active(ref.features["loudness"], _SILENCE_LUFS),
        "frames": _active(ref.features["rms"], _ACTIVE_FLOOR_DB),
    }
    result: dict[str, float] = {}
    for name in FEATURES:
        if name not in ref.features or name not in est.features:
            continue
        r, e = ref.features[name], est.features[name]
        common = min(r.shape[0], e.shape[0])
        mask = masks["loudness" if name == "loudness" else "frames"][:common]
        hop = feature_hop(name, sample_rate)
        n = max(1, int(round(_RUNNING_MEAN_S * sample_rate / hop)))
        result[f"mape_{name}"] = mape(running_mean(e[:common][mask], n), running_mean(r[:common][mask], n))
    values = list(result.values())
    result = {"mape_mean": float(np.mean(values)), **result}
    if est.pan_energy is not None and ref.pan_energy is not None:
        result = {"panning_spectrum_error": _panning_spectrum_error(est, ref), **result}
    return result


def feature_errors(estimate: np.ndarray, reference: np.ndarray, sample_rate: int) -> dict[str, float]:
    """Feature errors of an estimate against a reference (same shape, 1 or 2 channels).

    For each feature of :func:`frame_features`: the frames where the reference is active
    (see the module docstring), the running means (about 1 s: ``round(1 s / hop)`` values)
    of both series over those frames, and their :func:`mape`, as ``mape_<feature>`` (%).
    ``mape_mean`` is the mean of those MAPEs. For stereo, ``panning_spectrum_error`` is the
    mean absolute difference of the two panning spectra (:func:`panning_spectrum`, index
    units, 0..2) over the bins where the reference's energy is within 60 dB of its strongest
    bin; unlike the ``panning_*`` MAPEs it sees which side a source is on.
    """
    est, ref = _pair(estimate, reference)
    rate = _check_rate(sample_rate)
    return _errors(_analyse(est, rate), _analyse(ref, rate), rate)


def _compare(est: np.ndarray, ref: np.ndarray, rate: int, ref_analysis: _Analysis, fft_sizes: Sequence[int]) -> dict[str, float]:
    analysis = _analyse(est, rate)
    result = {
        "si_sdr": si_sdr(est, ref),
        "mrstft": mrstft_distance(est, ref, rate, fft_sizes),
        "loudness_diff_lu": analysis.integrated_lufs - ref_analysis.integrated_lufs,
    }
    result.update(_errors(analysis, ref_analysis, rate))
    return {key: float(result[key]) for key in METRICS if key in result}


def compare(
    estimate: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    *,
    fft_sizes: Sequence[int] = MRSTFT_FFT_SIZES,
) -> dict[str, float]:
    """Every metric of an estimate against a reference (same shape), keyed as :data:`METRICS`.

    ``si_sdr`` (dB, :func:`si_sdr`), ``mrstft`` (:func:`mrstft_distance`),
    ``loudness_diff_lu`` (integrated loudness of the estimate minus the reference's, LU,
    BS.1770-4 as :func:`~daw_bridge.loudness.measure_loudness`; positive: the estimate is louder), and
    :func:`feature_errors` (``panning_spectrum_error`` and the ``panning_*`` MAPEs for
    stereo only), at the estimate's own level (:func:`compare_systems` matches levels).
    Raises ``ValueError`` for different shapes, more than 2 channels or NaN/Inf samples.
    """
    return compare_systems({"estimate": estimate}, reference, sample_rate, fft_sizes=fft_sizes,
                           level_match=False)["estimate"]


def compare_systems(
    systems: dict[str, np.ndarray],
    reference: np.ndarray,
    sample_rate: int,
    *,
    fft_sizes: Sequence[int] = MRSTFT_FFT_SIZES,
    level_match: bool = True,
) -> dict[str, dict[str, float]]:
    """:func:`compare` for several estimates of one reference (analysed once): ``{name: metrics}``.

    ``level_match``: every estimate is scored at the reference's integrated loudness (one gain),
    so systems differ in balance, pan and processing, not in level; ``loudness_diff_lu`` still
    reports each estimate's level as it came (positive: louder than the reference).
    """
    rate = _check_rate(sample_rate)
    ref = _as_2d(reference, "reference")
    ref_analysis = _analyse(ref, rate)
    results = {}
    for name, estimate in systems.items():
        est, _ = _pair(estimate, ref)
        if not np.isfinite(est).all():
            raise ValueError(f"{name}: cannot compare audio with NaN or infinite samples")
        delivered = measure_loudness(est, rate) - ref_analysis.integrated_lufs
        if level_match and measure_loudness(est, rate) > _SILENCE_LUFS:
            est = est * np.float32(10.0 ** (-delivered / 20.0))
        results[name] = _compare(est, ref, rate, ref_analysis, fft_sizes)
        results[name]["loudness_diff_lu"] = float(delivered)
    return results


def _hop_of(sample_rate: int) -> int:
    return max(1, int(round(_LOUDNESS_HOP_S * sample_rate)))
