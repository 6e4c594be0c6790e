"""The console's linear part fitted in the frequency domain, at a cost independent of the song's length.

Without compressors the console is linear and time-invariant per track: each stem goes through
its EQ ``H_i(f)``, its fader and pan ``w_ic`` and the master EQ ``M(f)``. On STFT frames (a
window long against the filters' impulse responses) the mix is then ``Y_c(f, t) ~= sum_i
A_ic(f) X_i(f, t)`` with ``A_ic(f) = M(f) w_ic H_i(f)`` (complex: the biquads' phase counts),
and its squared error to the target's frames, summed over all frames, is a quadratic form in
``A`` whose coefficients are the cross-spectra of the stems and the target::

    err_c(f) = Ryy_c(f) - 2 Re sum_i A_ic(f) Rxy_ic(f) + sum_ij A_ic(f) Rxx_ij(f) conj(A_jc(f))

:func:`cross_spectra` sums ``Rxx``, ``Rxy``, ``Ryy`` over the whole song once (one STFT pass);
:func:`spectral_objective` then costs ``O(bins x stems^2)`` per step, whatever the length.
A song longer than a minute is read in pieces (:func:`material_spans`).
The objective is ``sum_f weight(f) sum_c err_c(f)`` with weights that make the target's own
weighted energy 1: ``"mse"`` weighs every bin alike (the waveform's squared error: what SNR
measures), ``"spectral"`` divides each bin by the target's amplitude smoothed over a third of
an octave (floored at 1% of the loudest band's power), so quiet bands count more than in
``"mse"``. On a target the console can make, ``"mse"`` fits best on both SNR and MR-STFT
(measured); ``"spectral"`` is for targets it cannot make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from automix.console.model import EQ_PARAMETERS, Console, eq_response

__all__ = ["BAND_OCTAVES", "LOSSES", "PIECE_SECONDS", "CrossSpectra", "bands", "bin_weights", "cross_spectra",
           "effective_gains", "material_spans", "spectral_objective", "stft_size"]

#: The objectives a fit can minimise (see the module notes).
LOSSES: tuple[str, ...] = ("mse", "spectral")
_BLOCK_VALUES = 1 << 21  # samples per channel framed at a time
_FLOOR = 1e-2  # "spectral": bands under this fraction of the loudest band's power are weighed as at it


#: A long song is read in pieces of this many seconds (see :func:`material_spans`).
PIECE_SECONDS: float = 10.0


def material_spans(frames: int, sample_rate: int, seconds: float) -> list[tuple[int, int]]:
    """The parts ``[(start, end)]`` (samples) of a song of ``frames`` samples that the spectral stage
    reads: all of it when it lasts at most ``seconds``, else ``seconds`` of it in pieces of
    :data:`PIECE_SECONDS` spread evenly from its start to its end (the EQ's statistics need a
    minute of music, not all of it; the closed form and the report read everything)."""
    if frames <= seconds * sample_rate:
        return [(0, frames)]
    piece = int(PIECE_SECONDS * sample_rate)
    count = max(1, math.ceil(seconds / PIECE_SECONDS))
    starts = np.linspace(0, frames - piece, count).round().astype(int)
    return [(int(a), int(a) + piece) for a in starts]


def stft_size(sample_rate: int, seconds: float = 0.093) -> int:
    """An STFT window (samples) for ``sample_rate``: the power of two nearest ``seconds`` (4096 at 44.1 kHz)."""
    return 1 << max(8, round(math.log2(seconds * sample_rate)))


#: The cross-spectra's frames last about this long (s): ``Y = H X`` on a frame holds up to the
#: filters' impulse responses crossing its edges, and low shelves on a kick ring for tens of ms
#: (measured on the example take at the settings the target was made with: the objective is
#: -30 dB with 93 ms frames, -48 dB with 0.75 s, -53 dB with 1.5 s).
CROSS_SECONDS: float = 0.75


@dataclass
class CrossSpectra:
    """Frame-summed cross-spectra of stems and a target, weighted and gathered into bands (see the module notes).

    ``rxx`` ``[B, N, N]``, ``rxy`` ``[B, N, 2]`` complex128, ``ryy`` ``[B, 2]`` float64: each the
    sum over the band's STFT bins of the bin weight times the frame-summed product, the weights
    normalised so that the target's ``ryy`` sums to 1; ``freqs`` ``[B]`` the bands' mean bin
    frequencies (Hz); ``n_fft``/``hop`` in samples; ``frames``: STFT frames summed.
    """

    rxx: Tensor
    rxy: Tensor
    ryy: Tensor
    freqs: Tensor
    n_fft: int
    hop: int
    frames: int
    sample_rate: int


#: Bins are gathered into bands this wide (octaves) where they are narrower: the filters' responses
#: hardly change across 1/48 octave (a Q of 10 peak spans 1/7), and the objective costs bands, not bins.
BAND_OCTAVES: float = 1.0 / 48.0


def bands(freqs: Tensor) -> Tensor:
    """The band ``[F]`` of each bin: single bins at the bottom, then bands :data:`BAND_OCTAVES` wide."""
    step = float(freqs[1] - freqs[0])
    first = step / (2.0**BAND_OCTAVES - 1.0)  # from here a bin is narrower than a band
    top = torch.floor(torch.log2(freqs.clamp_min(first) / first) / BAND_OCTAVES)
    ids = torch.where(freqs < first, torch.arange(len(freqs), dtype=torch.float64), int(first // step) + 1 + top)
    return torch.unique(ids, return_inverse=True)[1]


def _frames(signals: np.ndarray, first: int, last: int, n_fft: int, hop: int, window: Tensor) -> Tensor:
    """STFT frames ``first..last-1`` (frame ``t`` centred on sample ``t * hop``; zeros outside) ``[C, F, t]``."""
    a, b = first * hop - n_fft // 2, (last - 1) * hop + n_fft // 2
    part = np.zeros((signals.shape[0], b - a), dtype=np.float32)
    lo, hi = max(a, 0), min(b, signals.shape[1])
    if hi > lo:
        part[:, lo - a : hi - a] = signals[:, lo:hi]
    return torch.stft(torch.from_numpy(part), n_fft, hop, window=window, center=False, return_complex=True)


def _frame_sums(signals: np.ndarray, n_fft: int) -> Tensor:
    """``sum_t z_i conj(z_j)`` ``[F, C, C]`` (complex128) over the STFT frames of ``signals`` ``[C, T]``."""
    hop = n_fft // 2
    window = torch.hann_window(n_fft, dtype=torch.float32)
    frames = signals.shape[1] // hop + 1
    block = max(1, _BLOCK_VALUES // n_fft)
    total = None
    for first in range(0, frames, block):
        z = _frames(signals, first, min(first + block, frames), n_fft, hop, window).permute(1, 0, 2).contiguous()
        r = torch.bmm(z, z.conj().transpose(1, 2).contiguous()).to(torch.complex128)  # [F, C, C]
        total = r if total is None else total + r
    return total


def bin_weights(power: Tensor, freqs: Tensor, loss: str) -> Tensor:
    """Unnormalised bin weights ``[F]`` for ``loss`` from the target's power spectrum ``[F]``."""
    if loss == "mse":
        return torch.ones_like(power)
    lo = torch.searchsorted(freqs, freqs * 2.0 ** (-1 / 6))
    hi = torch.searchsorted(freqs, freqs * 2.0 ** (1 / 6), right=True).clamp_min(lo + 1)
    csum = torch.cat([power.new_zeros(1), torch.cumsum(power, 0)])
    smooth = (csum[hi] - csum[lo]) / (hi - lo)
    return 1.0 / torch.sqrt(smooth + _FLOOR * smooth.max())


def cross_spectra(
    stems: np.ndarray,
    target: np.ndarray,
    sample_rate: int,
    loss: str = "mse",
    spans: list[tuple[int, int]] | None = None,
    n_fft: int | None = None,
) -> CrossSpectra:
    """:class:`CrossSpectra` of mono ``stems`` ``[N, T]`` and a stereo ``target`` ``[2, T]`` (one pass).

    ``spans``: the parts ``[(start, end)]`` to read (:func:`material_spans`; each framed on its
    own), all by default; ``n_fft``: the frame (:data:`CROSS_SECONDS` by default).
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    n = stems.shape[0]
    n_fft = n_fft or stft_size(sample_rate, CROSS_SECONDS)
    total = None
    for a, b in spans or [(0, stems.shape[1])]:
        part = np.concatenate([stems[:, a:b], target[:, a:b]]).astype(np.float32, copy=False)
        r = _frame_sums(part, n_fft)
        total = r if total is None else total + r
    freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (sample_rate / n_fft)
    power = torch.diagonal(total[:, n:, n:], dim1=1, dim2=2).real.sum(1)
    weight = bin_weights(power, freqs, loss)
    weight = weight / (weight * power).sum().clamp_min(1e-300)
    band = bands(freqs)
    count = int(band.max()) + 1

    def gather(x: Tensor) -> Tensor:
        out = x.new_zeros((count, *x.shape[1:]))
        return out.index_add_(0, band, x * weight.view(-1, *([1] * (x.ndim - 1))).to(x.dtype))

    centre = gather(freqs) / gather(torch.ones_like(freqs))  # weighted mean frequency of each band
    ryy = gather(torch.diagonal(total[:, n:, n:], dim1=1, dim2=2).real)
    return CrossSpectra(gather(total[:, :n, :n]), gather(total[:, :n, n:]), ryy, centre, n_fft, n_fft // 2,
                        stems.shape[1], sample_rate)  # fmt: skip


def effective_gains(console: Console, freqs: Tensor) -> Tensor:
    """``A_ic(f)`` ``[F, N, 2]`` complex128: master EQ x fader/pan x track EQ (stages that are on)."""
    a = console.pan_gains().to(torch.complex128)[None]  # [1, N, 2]
    rate = console.sample_rate
    if console.stages["eq"]:
        a = a * eq_response(console.values("track", EQ_PARAMETERS), freqs, rate).T[:, :, None]
    if console.stages["master_eq"]:
        a = a * eq_response(console.values("master", EQ_PARAMETERS), freqs, rate).T[:, :, None]
    return a.expand(len(freqs), -1, -1)


def spectral_objective(console: Console, spectra: CrossSpectra) -> Tensor:
    """The weighted squared error of the console's (compressor-free) mix, relative to the target's."""
    a = effective_gains(console, spectra.freqs)  # [B, N, 2]
    cross = (a * spectra.rxy).real.sum(1)
    quad = (a * torch.bmm(spectra.rxx, a.conj())).real.sum(1)  # a^T R conj(a) per channel
    return (spectra.ryy - 2.0 * cross + quad).sum()
