"""Plots for evaluation reports: spectrograms, loudness over time and panning spectra.

matplotlib is imported on first use, and only its object-oriented API (``Figure`` rendered
by the Agg canvas): nothing here selects a global backend or opens a window, and importing
:mod:`automix` never imports matplotlib. Every plot takes ``signals``, a mapping from a name
(shown as a title or in the legend, in the mapping's order) to audio ``[channels, samples]``
(1-D is mono) at one ``sample_rate``, and writes a PNG file atomically
(:func:`daw_bridge.files.atomic_output`: a temporary file renamed into place; an existing file
is refused unless ``overwrite``). Each returns the absolute path written.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from daw_bridge.outputs import atomic_output, check_output_path
from automix.eval.metrics import panning_spectrum
from daw_bridge.loudness import loudness_series

__all__ = ["plot_loudness", "plot_panning", "plot_spectrograms"]

_FFT = 2048  # spectrogram frame at 44.1 kHz (scaled with the rate), hop a quarter
_MIN_HZ = 20.0
_DYNAMIC_RANGE_DB = 90.0
_DPI = 110


def _mono(audio: np.ndarray) -> np.ndarray:
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim == 1:
        return arr
    if arr.ndim != 2:
        raise ValueError(f"audio must be [channels, samples], got shape {arr.shape}")
    return arr.mean(axis=0)


def _check(signals: Mapping[str, np.ndarray], sample_rate: int) -> None:
    if not signals:
        raise ValueError("nothing to plot: no signals given")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")


def _save(fig, path: str | os.PathLike, overwrite: bool) -> Path:
    final = check_output_path(path, overwrite=overwrite)
    with atomic_output(final, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI)
    return final


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # lazy: matplotlib costs ~0.3 s to import

    return Figure(figsize=(width, height), layout="constrained")


def _band_edges(sample_rate: int, bands: int) -> np.ndarray:
    """Log-spaced band edges from 20 Hz to Nyquist."""
    return np.geomspace(_MIN_HZ, sample_rate / 2, bands + 1)


def _log_spectrogram(
    audio: np.ndarray, sample_rate: int, edges: np.ndarray, columns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrogram of the mid signal pooled onto log bands and at most ``columns`` time columns.

    Returns ``(column edges in s, dB values [bands, columns])``. Memory stays small: frames
    are transformed in blocks and averaged into their columns as they come.
    """
    x = _mono(audio)
    n = max(256, 2 ** int(round(math.log2(_FFT * sample_rate / 44100))))
    hop = n // 4
    if x.shape[0] < n:
        x = np.pad(x, (0, n - x.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
    count = frames.shape[0]
    cols = min(columns, count)
    freqs = np.arange(n // 2 + 1) * sample_rate / n
    # pooling matrix [bins, bands]: each band averages the bins inside it (the nearest bin if none)
    pool = np.zeros((freqs.shape[0], edges.shape[0] - 1), dtype=np.float32)
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        inside = np.nonzero((freqs >= lo) & (freqs < hi))[0]
        if inside.size == 0:
            inside = np.array([int(np.argmin(np.abs(freqs - math.sqrt(lo * hi))))])
        pool[inside, b] = 1.0 / inside.size
    window = np.hanning(n + 1)[:-1].astype(np.float32)
    scale = (2.0 / window.sum()) ** 2  # a full-scale sine reads 0 dB
    acc = np.zeros((cols, pool.shape[1]))
    hits = np.zeros(cols)
    column_of = (np.arange(count) * cols) // count
    block = max(1, (1 << 21) // n)
    for start in range(0, count, block):
        stop = min(start + block, count)
        spec = np.fft.rfft(frames[start:stop] * window, axis=1)
        power = (np.square(spec.real) + np.square(spec.imag)).astype(np.float32) * scale
        np.add.at(acc, column_of[start:stop], power @ pool)
        np.add.at(hits, column_of[start:stop], 1.0)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(np.maximum(acc / np.maximum(hits, 1.0)[:, None], 1e-20))
    seconds = x.shape[0] / sample_rate
    return np.linspace(0.0, seconds, cols + 1), db.T


def _hz_ticks(ax, sample_rate: int) -> None:
    """Frequency ticks in Hz and kHz on a log axis."""
    ticks = [t for t in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000) if t <= sample_rate / 2]
    ax.set_yticks(ticks, [f"{t // 1000}k" if t >= 1000 else str(t) for t in ticks])
    ax.minorticks_off()


def plot_spectrograms(
    signals: Mapping[str, np.ndarray],
    sample_rate: int,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    bands: int = 160,
    columns: int = 800,
) -> Path:
    """Spectrograms of the mid signals, two large panels per row (one for a single signal), log
    frequency, one shared dB colour scale.

    Frames of 2048 samples at 44.1 kHz (scaled with the rate), Hann window, hop a quarter;
    power averaged into ``bands`` log-spaced bands from 20 Hz to Nyquist and into at most
    ``columns`` time columns; dB relative to a full-scale sine. The colour scale spans
    90 dB below the loudest cell of all signals.
    """
    _check(signals, sample_rate)
    edges = _band_edges(sample_rate, bands)
    spectra = {name: _log_spectrogram(audio, sample_rate, edges, columns) for name, audio in signals.items()}
    top = max(float(db.max()) for _, db in spectra.values())
    per_row = 1 if len(spectra) == 1 else 2
    rows = math.ceil(len(spectra) / per_row)
    fig = _figure(6.0 * per_row + 1.2, 3.0 * rows + 0.4)
    axes = fig.subplots(rows, per_row, sharex=True, sharey=True, squeeze=False).ravel()
    mesh = None
    for index, (ax, (name, (times, db))) in enumerate(zip(axes, spectra.items())):
        mesh = ax.pcolormesh(times, edges, db, vmin=top - _DYNAMIC_RANGE_DB, vmax=top, cmap="magma", shading="flat", rasterized=True)
        ax.set_yscale("log")
        _hz_ticks(ax, sample_rate)
        ax.set_title(name, fontsize=12)
        ax.tick_params(labelbottom=True, labelsize=9)
        if index % per_row == 0:
            ax.set_ylabel("frequency (Hz)")
        if index >= len(spectra) - per_row:
            ax.set_xlabel("time (s)")
    for ax in axes[len(spectra):]:
        ax.remove()  # an odd count leaves the last row's second panel empty
    fig.colorbar(mesh, ax=list(axes[: len(spectra)]), label="level (dB re full-scale sine)")
    return _save(fig, path, overwrite)


def plot_loudness(
    signals: Mapping[str, np.ndarray],
    sample_rate: int,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    window_s: float | None = None,
) -> Path:
    """Short-term loudness (BS.1770 K-weighted, 3 s window, 100 ms hop) over time, one line per signal.

    ``window_s=None`` uses the short-term window (3 s) for signals of 6 s or more and the
    momentary one (0.4 s) for shorter ones. The legend gives each signal's integrated
    loudness. Values below -70 LUFS read -70.
    """
    from daw_bridge.loudness import measure_loudness

    _check(signals, sample_rate)
    if window_s is None:
        longest = max(np.asarray(a).shape[-1] for a in signals.values()) / sample_rate
        window_s = 3.0 if longest >= 6.0 else 0.4
    fig = _figure(8.0, 3.6)
    ax = fig.subplots()
    for name, audio in signals.items():
        times, lufs = loudness_series(audio, sample_rate, window_s=window_s)
        label = f"{name} ({measure_loudness(audio, sample_rate):.1f} LUFS)"
        ax.plot(times, lufs, label=label, linewidth=1.2, marker="o" if times.shape[0] < 4 else None)
    ax.set_xlabel("time (s, end of the window)")
    ax.set_ylabel(f"loudness (LUFS, {window_s:g} s window)")
    ax.set_title("short-term loudness" if window_s >= 3.0 else "momentary loudness", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path, overwrite)


def _smooth_log(freqs: np.ndarray, values: np.ndarray, per_octave: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Average ``values`` over 1/``per_octave``-octave bands from 20 Hz up (empty bands dropped)."""
    top = freqs[-1]
    if top <= _MIN_HZ:
        return freqs, values
    count = max(1, int(math.ceil(math.log2(top / _MIN_HZ) * per_octave)))
    edges = _MIN_HZ * 2.0 ** (np.arange(count + 1) / per_octave)
    centres, means = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (freqs >= lo) & (freqs < hi)
        if inside.any():
            centres.append(math.sqrt(lo * hi))
            means.append(float(values[inside].mean()))
    return np.array(centres), np.array(means)


def plot_panning(
    signals: Mapping[str, np.ndarray],
    sample_rate: int,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
) -> Path:
    """Panning spectra (Avendano 2003) of the stereo signals: mean panning index per frequency.

    -1 is hard left, 0 centre, +1 hard right (:func:`automix.eval.metrics.panning_spectrum`),
    averaged over 1/12-octave bands for readability. Mono signals are centred by definition
    and are listed in the title instead of plotted.
    """
    _check(signals, sample_rate)
    fig = _figure(8.0, 3.6)
    ax = fig.subplots()
    mono = []
    for name, audio in signals.items():
        arr = np.asarray(audio)
        if arr.ndim != 2 or arr.shape[0] != 2:
            mono.append(name)
            continue
        freqs, psi = panning_spectrum(arr, sample_rate)
        f, p = _smooth_log(freqs, psi)
        ax.plot(f, p, label=name, linewidth=1.2)
    ax.set_xscale("log")
    ax.set_xlim(_MIN_HZ, sample_rate / 2)
    ax.set_ylim(-1.05, 1.05)
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("panning index (-1 left, +1 right)")
    title = "panning spectrum"
    if mono:
        title += f" (mono, centred: {', '.join(mono)})"
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3, which="both")
    if len(mono) < len(signals):
        ax.legend(fontsize=8)
    return _save(fig, path, overwrite)
