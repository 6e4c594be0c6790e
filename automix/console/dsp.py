"""The console's DSP, in torch (float64): RBJ/JUCE biquads and their cascade's response, filtering
by frequency sampling (overlap-save for long signals), and JUCE's compressor (peak ballistics
with an exact adjoint, a soft-knee gain computer). Formulas and parity: ``docs/console.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

#: The smallest knee (dB) the soft-knee gain computer uses: 0 would divide by zero.
KNEE_EPS_DB: float = 1e-3
#: The EQ's bands: parameter prefix, biquad kind (in the console's order).
BANDS = (("low_shelf", "low_shelf"), ("peak1", "peak"), ("peak2", "peak"), ("high_shelf", "high_shelf"))

# --------------------------------------------------------------------------- DSP building blocks


def biquad_coefficients(kind: str, gain_db: Tensor, freq_hz: Tensor, q: Tensor, sample_rate: float) -> Tensor:
    """JUCE's (= RBJ cookbook) biquad, ``[..., 6]`` ``(b0, b1, b2, 1, a1, a2)`` normalised by a0.

    ``kind``: ``"low_shelf"``, ``"peak"`` or ``"high_shelf"``; the same formulas as pedalboard's
    ``LowShelfFilter``, ``PeakFilter`` and ``HighShelfFilter`` (gain factor ``10**(dB/20)``).
    """
    A = torch.pow(10.0, gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w, sin_w = torch.cos(w0), torch.sin(w0)
    if kind == "peak":
        alpha = sin_w / (2.0 * q)
        b = (1 + alpha * A, -2 * cos_w, 1 - alpha * A)
        a = (1 + alpha / A, -2 * cos_w, 1 - alpha / A)
    elif kind in ("low_shelf", "high_shelf"):
        beta = sin_w * torch.sqrt(A) / q
        ap, am = A + 1, A - 1
        if kind == "low_shelf":
            b = (A * (ap - am * cos_w + beta), 2 * A * (am - ap * cos_w), A * (ap - am * cos_w - beta))
            a = (ap + am * cos_w + beta, -2 * (am + ap * cos_w), ap + am * cos_w - beta)
        else:
            b = (A * (ap + am * cos_w + beta), -2 * A * (am + ap * cos_w), A * (ap + am * cos_w - beta))
            a = (ap - am * cos_w + beta, 2 * (am - ap * cos_w), ap - am * cos_w - beta)
    else:
        raise ValueError(f"unknown biquad kind {kind!r}")
    a0 = a[0]
    return torch.stack([b[0] / a0, b[1] / a0, b[2] / a0, torch.ones_like(a0), a[1] / a0, a[2] / a0], dim=-1)


def _band_coefficients(values: Mapping[str, Tensor], sample_rate: float) -> Tensor:
    """The four EQ bands' biquads ``[4, M, 6]`` at once: :func:`biquad_coefficients` vectorised over
    the bands (a shelf's formulas are the low shelf's with ``cos(w0)`` negated for the high shelf)."""
    stack = lambda what: torch.stack([values[f"{band}_{what}"] for band, _ in BANDS])  # [4, M]
    gain, freq, q = stack("gain_db"), stack("freq_hz"), stack("q")
    A = torch.pow(10.0, gain / 40.0)
    w0 = 2.0 * math.pi * freq / sample_rate
    cos_w, sin_w = torch.cos(w0), torch.sin(w0)
    side = torch.tensor([1.0, 1.0, 1.0, -1.0], dtype=cos_w.dtype)[:, None]  # +1 low shelf, -1 high shelf
    alpha = sin_w / (2.0 * q)  # peaks
    peak = (1 + alpha * A, -2 * cos_w, 1 - alpha * A, 1 + alpha / A, -2 * cos_w, 1 - alpha / A)
    beta, ap, am, c = sin_w * torch.sqrt(A) / q, A + 1, A - 1, side * cos_w  # shelves
    shelf = (A * (ap - am * c + beta), 2 * A * side * (am - ap * c), A * (ap - am * c - beta),
             ap + am * c + beta, -2 * side * (am + ap * c), ap + am * c - beta)  # fmt: skip
    is_peak = torch.tensor([False, True, True, False])[:, None]
    b0, b1, b2, a0, a1, a2 = (torch.where(is_peak, p, s) for p, s in zip(peak, shelf))
    return torch.stack([b0 / a0, b1 / a0, b2 / a0, torch.ones_like(a0), a1 / a0, a2 / a0], dim=-1)


def eq_response(values: Mapping[str, Tensor], freqs_hz: Tensor, sample_rate: float) -> Tensor:
    """Complex frequency response ``[M, F]`` of the console's four-band EQ at ``freqs_hz`` ``[F]``.

    ``values``: the EQ parameters, ``[M]`` each (physical units, as :meth:`Console.values`
    gives them). The product of the four biquads of :func:`biquad_coefficients` at
    ``z = exp(j 2 pi f / sample_rate)``, computed in real float64 arithmetic, all bands at once
    (several times faster than complex tensors on a CPU), returned as complex128 (differentiable).
    """
    w = 2.0 * math.pi * freqs_hz.to(torch.float64) / sample_rate
    cos1, sin1, cos2, sin2 = torch.cos(w), torch.sin(w), torch.cos(2 * w), torch.sin(2 * w)
    c = _band_coefficients(values, sample_rate)[..., None]  # [4, M, 6, 1]
    b0, b1, b2, a1, a2 = (c[:, :, k] for k in (0, 1, 2, 4, 5))  # [4, M, 1]
    nr, ni = b0 + b1 * cos1 + b2 * cos2, -(b1 * sin1 + b2 * sin2)  # numerator at z^-1 = exp(-jw)
    dr, di = 1.0 + a1 * cos1 + a2 * cos2, -(a1 * sin1 + a2 * sin2)
    den = dr * dr + di * di
    hr, hi = (nr * dr + ni * di) / den, (ni * dr - nr * di) / den  # [4, M, F]
    re, im = hr[0], hi[0]
    for k in range(1, 4):
        re, im = re * hr[k] - im * hi[k], re * hi[k] + im * hr[k]
    return torch.complex(re, im)


#: A signal longer than half this many samples is filtered block by block (overlap-save FFTs
#: of this size; the filters' impulse responses are cut at half of it, 1.5 s at 44.1 kHz).
OLS_FFT: int = 1 << 17


def ols_spectra(x: Tensor, n_fft: int) -> Tensor:
    """Spectra ``[..., blocks, n_fft // 2 + 1]`` of the overlap-save blocks of ``x`` ``[..., n]`` (hop ``n_fft // 2``)."""
    hop = n_fft // 2
    n = x.shape[-1]
    blocks = -(-n // hop)
    padded = torch.nn.functional.pad(x, (n_fft - hop, blocks * hop - n))
    return torch.fft.rfft(padded.unfold(-1, n_fft, hop), n=n_fft)


def ols_signal(spectra: Tensor, n_fft: int, n: int) -> Tensor:
    """The signal ``[..., n]`` from filtered overlap-save spectra ``[..., blocks, n_fft // 2 + 1]``."""
    y = torch.fft.irfft(spectra, n=n_fft)[..., n_fft // 2 :]
    return y.reshape(*y.shape[:-2], -1)[..., :n]


def fsm_filter(x: Tensor, response: Any, sample_rate: float, block_fft: int = OLS_FFT) -> Tensor:
    """``x`` ``[M, C, n]`` through filters given by their frequency response (frequency sampling).

    ``response(freqs_hz [F]) -> [M, F]`` complex. A signal of up to ``block_fft / 2`` samples is
    filtered with one FFT of at least ``2 n - 1`` points (dasp-pytorch's ``sosfilt_via_fsm``:
    the only difference from the recursive filter is the impulse response's wrap-around after
    that length); a longer one by overlap-save blocks of ``block_fft``.
    """
    n = x.shape[-1]
    ctype = torch.complex128 if x.dtype == torch.float64 else torch.complex64

    def grid(n_fft: int) -> Tensor:
        return torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (sample_rate / n_fft)

    if 2 * n - 1 <= block_fft:
        n_fft = 1 << (2 * n - 2).bit_length()
        h = response(grid(n_fft)).to(ctype)[:, None]
        return torch.fft.irfft(torch.fft.rfft(x, n=n_fft) * h, n=n_fft)[..., :n]
    h = response(grid(block_fft)).to(ctype)[:, None, None]
    return ols_signal(ols_spectra(x, block_fft) * h, block_fft, n)


#: :func:`peak_ballistics` runs time chunks side by side when the envelope forgets its start
#: to within this fraction of the signal's peak (``max(c) ** warm_up <= BALLISTICS_TOLERANCE``;
#: under float32's resolution).
BALLISTICS_TOLERANCE: float = 1e-9
_OVERHEAD_VALUES = 100  # a numpy step costs about as much as this many (scattered) values more in it


def _ballistics_loop(xs: np.ndarray, ca: np.ndarray, cr: np.ndarray, out: np.ndarray) -> None:
    """The envelope of ``xs`` ``[T, ...]`` into ``out`` ``[T, ...]`` (any strides), one numpy step per
    sample; the state is kept in float64."""
    prev = np.zeros(xs.shape[1:])
    tmp = np.empty(xs.shape[1:])
    for i in range(xs.shape[0]):
        xi = xs[i]
        np.subtract(prev, xi, out=tmp)
        tmp *= np.where(xi > prev, ca, cr)
        np.add(xi, tmp, out=prev)
        out[i] = prev


def _adjoint_loop(gs: np.ndarray, cs: np.ndarray, out: np.ndarray) -> None:
    """``acc[i] = g[i] + c[i] acc[i-1]`` over ``[T, ...]`` arrays into ``out`` (the envelope's backward,
    time reversed)."""
    prev = np.zeros(gs.shape[1:])
    for i in range(gs.shape[0]):
        prev *= cs[i]
        prev += gs[i]
        out[i] = prev


def _warm_up(c_max: float) -> int:
    """Samples after which a recursion contracting by ``c_max`` per sample has forgotten its start."""
    return 1 if c_max <= 0.0 else math.ceil(math.log(BALLISTICS_TOLERANCE) / math.log(c_max)) + 1


def _chunked(loop: Any, arrays: Sequence[np.ndarray], lane_params: Sequence[np.ndarray], warm: int,
             out_dtype: Any = np.float64) -> np.ndarray:  # fmt: skip
    """``loop(*arrays, *lane_params, out)`` over lane-major ``[L, T]`` arrays, time chunks side by side,
    each started ``warm`` samples early from zeros (see :func:`peak_ballistics`). The loop steps
    through time on strided views (time, chunk, lane) of padded copies and writes through such a
    view into the result, so nothing is transposed: a chunk's warm-up writes into the previous
    chunk's last samples before that chunk reaches them. Returns ``[L, T]`` in ``out_dtype``."""
    lanes, n = arrays[0].shape
    # (n / chunks + warm) steps, each costing (overhead + lanes * chunks): least near sqrt(overhead n / (warm lanes))
    best = math.sqrt(_OVERHEAD_VALUES * n / (max(warm, 1) * max(lanes, 1)))
    chunks = min(int(best), n // max(warm, 1))
    if chunks < 2:  # time-major copies: each step reads and writes one contiguous row
        out = np.empty((n, lanes), dtype=out_dtype)
        loop(*(np.ascontiguousarray(a.T) for a in arrays), *lane_params, out)
        return np.ascontiguousarray(out.T)
    size = -(-n // chunks)

    def view(a: np.ndarray) -> np.ndarray:  # [warm + size, chunks, lanes]: chunk k from sample k * size - warm
        rows, cols = a.strides
        return np.lib.stride_tricks.as_strided(a, (warm + size, chunks, lanes), (cols, size * cols, rows))

    padded = []
    for a in arrays:
        p = np.zeros((lanes, warm + chunks * size), dtype=a.dtype)
        p[:, warm : warm + n] = a
        padded.append(p)
    out = np.empty((lanes, warm + chunks * size), dtype=out_dtype)
    loop(*map(view, padded), *lane_params, view(out))
    return out[:, warm : warm + n]


def peak_ballistics(x: np.ndarray, ca: np.ndarray, cr: np.ndarray, out_dtype: Any = np.float64) -> np.ndarray:
    """JUCE's peak ballistics of ``x`` ``[lanes, time]`` (rectified), from silence, in float64.

    ``ca``/``cr`` ``[lanes]``: the attack/release coefficients. Returns the envelope ``[lanes,
    time]`` in ``out_dtype``. The time loop is numpy's, one call per sample for all lanes; a long
    signal is cut into chunks run side by side, each started ``warm_up`` samples early from
    silence. The map ``y -> x + c (y - x)`` contracts by ``max(ca, cr)`` per sample whichever
    branch is taken, so after the warm-up a chunk's envelope differs from the sequential one by
    at most ``BALLISTICS_TOLERANCE`` x the signal's peak (measured: bit-identical), and minutes
    of audio take seconds.
    """
    c_max = float(max(ca.max(initial=0.0), cr.max(initial=0.0)))
    return _chunked(_ballistics_loop, [x], [ca, cr], _warm_up(c_max), out_dtype)


def peak_ballistics_adjoint(
    x: np.ndarray, y: np.ndarray, g: np.ndarray, ca: np.ndarray, cr: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`peak_ballistics` (the branch taken held constant) from the output's ``g``
    ``[L, T]``: for the input ``[L, T]``, and for ``ca`` and ``cr`` summed per lane ``[L]``."""
    prev = np.concatenate([np.zeros((x.shape[0], 1)), y[:, :-1]], axis=1)
    att = x > prev
    c = np.where(att, ca[:, None], cr[:, None])
    c_next = np.concatenate([c[:, 1:], np.zeros((x.shape[0], 1))], axis=1)
    # dL/dy[i] = g[i] + c[i+1] dL/dy[i+1]: a linear recursion backwards in time, contracting like the forward
    acc = _chunked(_adjoint_loop, [g[:, ::-1], c_next[:, ::-1]], [], _warm_up(float(c.max(initial=0.0))))[:, ::-1]
    d = acc * (prev - x)
    return (1.0 - c) * acc, np.where(att, d, 0.0).sum(1), np.where(att, 0.0, d).sum(1)


class _Ballistics(torch.autograd.Function):
    """JUCE's BallisticsFilter (peak) on a rectified signal, with a hand-written backward.

    ``y[n] = (1 - c[n]) a[n] + c[n] y[n-1]``, ``c[n] = c_att`` if ``a[n] > y[n-1]`` else ``c_rel``
    (the branch is treated as constant for the gradient).
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, c_att: Tensor, c_rel: Tensor) -> Tensor:  # a: [M, C, N]; c: [M]
        m, ch, n = a.shape
        x = a.detach().cpu().numpy().reshape(m * ch, n)  # [M*C, N], float32 or float64
        ca = np.broadcast_to(c_att.detach().cpu().double().numpy()[:, None], (m, ch)).reshape(-1)
        cr = np.broadcast_to(c_rel.detach().cpu().double().numpy()[:, None], (m, ch)).reshape(-1)
        y = peak_ballistics(x, ca, cr, out_dtype=x.dtype)
        ctx.save_for_backward(c_att, c_rel)
        ctx.np = (x, y, ca, cr)
        return torch.from_numpy(y.reshape(m, ch, n)).to(a.device)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        c_att, c_rel = ctx.saved_tensors
        x, y, ca, cr = ctx.np
        m, ch, n = grad.shape
        g = grad.detach().cpu().double().numpy().reshape(m * ch, n)
        gx, gca, gcr = peak_ballistics_adjoint(x, y, g, ca, cr)
        grad_a = torch.from_numpy(gx.reshape(m, ch, n)).to(grad.dtype).to(grad.device)
        gca_t = torch.from_numpy(gca.reshape(m, ch).sum(1)).to(c_att.dtype).to(c_att.device)
        gcr_t = torch.from_numpy(gcr.reshape(m, ch).sum(1)).to(c_rel.dtype).to(c_rel.device)
        return grad_a, gca_t, gcr_t


def envelope(x: Tensor, attack_ms: Tensor, release_ms: Tensor, sample_rate: float) -> Tensor:
    """JUCE's peak envelope of ``x`` ``[M, C, N]`` per channel, times ``[M]`` in ms (differentiable)."""

    def cte(ms: Tensor) -> Tensor:
        c = torch.exp(-2.0 * math.pi * 1000.0 / (ms.clamp_min(1e-3) * sample_rate))
        return torch.where(ms < 1e-3, torch.zeros_like(c), c)

    return _Ballistics.apply(x.abs(), cte(attack_ms), cte(release_ms))


def gain_computer_db(level_db: Tensor, threshold_db: Tensor, ratio: Tensor, knee_db: Tensor) -> Tensor:
    """Gain change (dB, <= 0) of a compressor with a soft knee (knee clamped to KNEE_EPS_DB)."""
    knee = knee_db.clamp_min(KNEE_EPS_DB)
    over = level_db - threshold_db
    slope = 1.0 / ratio - 1.0
    soft = slope * (over + knee / 2) ** 2 / (2 * knee)
    return torch.where(over >= knee / 2, slope * over, torch.where(over <= -knee / 2, torch.zeros_like(over), soft))
