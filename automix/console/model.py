"""A differentiable mixing console that renders like :func:`daw_bridge.render` does.

:class:`Console` is a torch module: ``console(stems)`` with mono stems ``[batch, tracks, samples]``
gives stereo mixes ``[batch, 2, samples]``. Every track goes through, in this order,

1. a parametric EQ: low shelf, two peaks, high shelf (pedalboard ``LowShelfFilter``,
   ``PeakFilter``, ``PeakFilter``, ``HighShelfFilter``);
2. a compressor (pedalboard ``Compressor``, then ``Gain`` for the makeup gain);
3. the fader ``gain_db`` and ``pan``, exactly daw_bridge's law: ``g = 10 ** (gain_db / 20)``,
   ``theta = (pan + 1) * pi / 4``, ``L = g cos(theta)``, ``R = g sin(theta)`` (constant power,
   -3 dB at centre; :func:`daw_bridge.session.pan_gains`).

The tracks are summed and the master bus runs the same EQ and compressor on the stereo sum.
:func:`console_to_plan` writes the settings as a :class:`daw_bridge.Session` (builtin pedalboard
plugins) and :func:`plan_to_console` reads such a plan back.

Parameters and ranges
---------------------
Every parameter is declared once, in :mod:`daw_bridge.ranges` (:data:`PARAMETER_RANGES` here:
minimum, maximum, default, unit, scale, shared with the mix plan's validation) in physical
units. The module keeps an unconstrained float64 tensor per parameter and maps it with a
sigmoid onto ``[minimum, maximum]`` (linearly, or on a log axis for frequencies, Q, ratio and
times), so any optimiser step gives a valid setting. :meth:`Console.values` gives the
physical values, :meth:`Console.set_values` sets them.

Filters
-------
pedalboard's filters are JUCE's ``dsp::IIR::Coefficients::makeLowShelf / makePeakFilter /
makeHighShelf`` with ``gainFactor = 10 ** (gain_db / 20)``: these are the RBJ "Audio EQ cookbook"
biquads (``A = sqrt(gainFactor)``, shelf ``beta = sin(w0) sqrt(A) / Q``), the same formulas as
dasp-pytorch's ``signal.biquad``. The console builds the coefficients in float64, evaluates the
cascade's complex response in real float64 arithmetic (:func:`eq_response`) and applies it by
frequency sampling (:func:`fsm_filter`, as dasp-pytorch's ``signal.sosfilt_via_fsm``): up to
65536 samples with one FFT of at least twice the signal length, so the only difference from the
recursive filter is the impulse response's wrap-around after that length; longer signals block by
block (overlap-save, 131072-point FFTs: the impulse response is cut after 1.5 s at 44.1 kHz),
so that minutes of audio cost seconds, not the response at millions of frequencies. Parity with
pedalboard: see tests/test_console.py (magnitude responses within 1e-3 dB, rendered audio SNR > 60 dB).

Compressor
----------
pedalboard's ``Compressor`` is JUCE's ``dsp::Compressor``: per channel, a peak envelope
``env[n] = |x[n]| + c (env[n-1] - |x[n]|)`` with ``c = exp(-2 pi 1000 / (t_ms fs))`` (the attack
time while ``|x|`` rises above the envelope, the release time otherwise; 0 for times under 1 us),
and a hard-knee gain ``(env / threshold) ** (1 / ratio - 1)`` where ``env >= threshold``.

``compressor="juce"`` (the default) implements exactly that, with a soft knee added (``knee_db``;
0 is JUCE's hard knee and is clamped to :data:`KNEE_EPS_DB` so the gradient stays finite) and the
makeup gain. The envelope recursion is data dependent, so it runs as a custom autograd function
looping over time in numpy (about 4 us per sample for all tracks at once, forward and backward);
on long signals the forward runs time chunks side by side (:func:`peak_ballistics`, exact to
1e-12 of the peak), so rendering minutes costs seconds; the backward stays one loop, fine for
checks and short fits. ``compressor="dasp"`` uses
``dasp_pytorch.functional.compressor`` instead: fast (FFT), but it smooths the gain curve of the
*instantaneous* level with one attack-time one-pole filter. Its gaps, wrapped or documented here:

* ``release_ms`` is ignored (dasp 0.0.1 computes and discards it): the release does nothing;
* ``knee_db = 0`` divides by zero in its soft-knee branch and gives NaN gradients: the console
  clamps the knee to ``KNEE_EPS_DB``;
* it sums the channels into one side chain (a stereo bus is compressed linked, on L + R),
  whereas JUCE compresses each channel on its own;
* its parameters must be shaped so that ``.view(-1, 1, 1)`` matches the batch; the console passes
  one value per processed signal.

So ``"dasp"`` does not match pedalboard's render (tests/test_console.py measures how far); use
it for speed, ``"juce"`` where the plan's render must match. dasp-pytorch's
``noise_shaped_reverberation`` (random per call) and ``stereo_panner`` (a different pan law:
``sqrt((pi/2 - theta) 2/pi cos(theta))``, -4.5 dB at centre, pan in [0, 1]) are not used.

A knee (``knee_db > 0``) has no pedalboard equivalent: :func:`console_to_plan` writes the hard-knee
compressor and adds a note to the session.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from daw_bridge.errors import AutomixError
from daw_bridge.ranges import CONSOLE_RANGES, ParamRange

__all__ = [
    "COMPRESSOR_PARAMETERS",
    "EQ_PARAMETERS",
    "KNEE_EPS_DB",
    "MASTER_PARAMETERS",
    "PARAMETER_GROUPS",
    "PARAMETER_RANGES",
    "TRACK_PARAMETERS",
    "Console",
    "ConsoleError",
    "ParamRange",
    "biquad_coefficients",
    "console_to_plan",
    "envelope",
    "eq_response",
    "fsm_filter",
    "ols_signal",
    "ols_spectra",
    "peak_ballistics",
    "peak_ballistics_adjoint",
    "physical_value",
    "plan_to_console",
]

#: The smallest knee (dB) the soft-knee gain computer uses: 0 would divide by zero.
KNEE_EPS_DB: float = 1e-3
_GAIN_BLOCK = 1 << 15  # samples per block when a compressor's gain is computed without gradients
#: Filter frequencies are kept at or under this fraction of the sample rate.
MAX_FREQ_FRACTION: float = 0.45


class ConsoleError(AutomixError, ValueError):
    """A plan the console cannot represent, or parameters it cannot take."""


#: Every parameter, declared once in :mod:`daw_bridge.ranges` (shared with the mix plan):
#: name -> (minimum, maximum, default, unit, scale). Track parameters use every name; the
#: master bus every name but ``gain_db`` and ``pan``.
PARAMETER_RANGES: dict[str, ParamRange] = CONSOLE_RANGES
_EQ_RANGES = [k for k in CONSOLE_RANGES if k.split("_")[0] in ("low", "peak1", "peak2", "high")]
_COMP_RANGES = [k for k in CONSOLE_RANGES if k.startswith("comp_")]
EQ_PARAMETERS: tuple[str, ...] = tuple(_EQ_RANGES)
COMPRESSOR_PARAMETERS: tuple[str, ...] = tuple(_COMP_RANGES)
TRACK_PARAMETERS: tuple[str, ...] = tuple(PARAMETER_RANGES)
MASTER_PARAMETERS: tuple[str, ...] = EQ_PARAMETERS + COMPRESSOR_PARAMETERS
#: Groups for :meth:`Console.set_trainable`: name -> (track or master, parameter names).
PARAMETER_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gain": ("track", ("gain_db",)),
    "pan": ("track", ("pan",)),
    "eq": ("track", EQ_PARAMETERS),
    "comp": ("track", COMPRESSOR_PARAMETERS),
    "master_eq": ("master", EQ_PARAMETERS),
    "master_comp": ("master", COMPRESSOR_PARAMETERS),
}
_BANDS = (("low_shelf", "low_shelf"), ("peak1", "peak"), ("peak2", "peak"), ("high_shelf", "high_shelf"))
_EDGE = 1e-9  # values are kept this fraction inside the range (the sigmoid never reaches it)


# --------------------------------------------------------------------------- parameter mapping


def _to_unit(name: str, value: Tensor) -> Tensor:
    r = PARAMETER_RANGES[name]
    if r.scale == "log":
        u = (torch.log(value) - math.log(r.minimum)) / (math.log(r.maximum) - math.log(r.minimum))
    else:
        u = (value - r.minimum) / (r.maximum - r.minimum)
    return u.clamp(_EDGE, 1.0 - _EDGE)


def _from_unit(name: str, u: Tensor) -> Tensor:
    r = PARAMETER_RANGES[name]
    if r.scale == "log":
        lo, hi = math.log(r.minimum), math.log(r.maximum)
        return torch.exp(lo + (hi - lo) * u)
    return r.minimum + (r.maximum - r.minimum) * u


def physical_value(name: str, raw: Tensor, sample_rate: float) -> Tensor:
    """Parameter ``name``'s physical value from its unconstrained ``raw`` value (a sigmoid onto its
    range; filter frequencies at most :data:`MAX_FREQ_FRACTION` of the sample rate)."""
    v = _from_unit(name, torch.sigmoid(raw))
    if name.endswith("_freq_hz"):
        v = v.clamp_max(MAX_FREQ_FRACTION * sample_rate)
    return v


def _check_value(name: str, value: float) -> None:
    r = PARAMETER_RANGES[name]
    if not (math.isfinite(value) and r.minimum <= value <= r.maximum):
        raise ConsoleError(f"{name} = {value} is outside [{r.minimum}, {r.maximum}] {r.unit}".rstrip())


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
    stack = lambda what: torch.stack([values[f"{band}_{what}"] for band, _ in _BANDS])  # [4, M]
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


def _gain_computer_db(level_db: Tensor, threshold_db: Tensor, ratio: Tensor, knee_db: Tensor) -> Tensor:
    """Gain change (dB, <= 0) of a compressor with a soft knee (knee clamped to KNEE_EPS_DB)."""
    knee = knee_db.clamp_min(KNEE_EPS_DB)
    over = level_db - threshold_db
    slope = 1.0 / ratio - 1.0
    soft = slope * (over + knee / 2) ** 2 / (2 * knee)
    return torch.where(over >= knee / 2, slope * over, torch.where(over <= -knee / 2, torch.zeros_like(over), soft))


# --------------------------------------------------------------------------- the console


class Console(nn.Module):
    """A differentiable console: ``forward(stems [batch, tracks, samples]) -> [batch, 2, samples]``.

    ``eq``, ``compressor``, ``master_eq``, ``master_compressor`` switch stages on (all on by
    default). A stage whose parameters are all neutral (EQ gains 0 dB; ratio 1 and makeup 0 dB)
    and not trainable is skipped, so a neutral console is exactly gain and pan.
    ``compressor_mode``: ``"juce"`` (pedalboard's Compressor, exact, slow) or ``"dasp"``
    (dasp-pytorch's compressor, fast, release ignored; see the module notes).
    """

    def __init__(
        self,
        n_tracks: int,
        sample_rate: int,
        *,
        eq: bool = True,
        compressor: bool = True,
        master_eq: bool = True,
        master_compressor: bool = True,
        compressor_mode: Literal["juce", "dasp"] = "juce",
        names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(n_tracks, bool) or not isinstance(n_tracks, int) or n_tracks < 1:
            raise ConsoleError(f"n_tracks must be a positive integer, got {n_tracks!r}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ConsoleError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        if compressor_mode not in ("juce", "dasp"):
            raise ConsoleError(f"compressor_mode must be 'juce' or 'dasp', got {compressor_mode!r}")
        if names is not None and len(names) != n_tracks:
            raise ConsoleError(f"{len(names)} names for {n_tracks} tracks")
        self.n_tracks = n_tracks
        self.sample_rate = sample_rate
        self.stages = {"eq": eq, "comp": compressor, "master_eq": master_eq, "master_comp": master_compressor}
        self.compressor_mode = compressor_mode
        self.names = list(names) if names is not None else [f"track{i + 1}" for i in range(n_tracks)]
        self.track = nn.ParameterDict(
            {
                k: nn.Parameter(
                    _logit(_to_unit(k, torch.full((n_tracks,), PARAMETER_RANGES[k].default, dtype=torch.float64)))
                )
                for k in TRACK_PARAMETERS
            }
        )
        self.master = nn.ParameterDict(
            {
                k: nn.Parameter(_logit(_to_unit(k, torch.full((1,), PARAMETER_RANGES[k].default, dtype=torch.float64))))
                for k in MASTER_PARAMETERS
            }
        )

    # ------------------------------------------------------------------ parameters

    def set_trainable(self, groups: Sequence[str]) -> Console:
        """Make only the parameters of ``groups`` (keys of :data:`PARAMETER_GROUPS`) trainable."""
        unknown = sorted(set(groups) - set(PARAMETER_GROUPS))
        if unknown:
            raise ConsoleError(f"unknown parameter group(s) {unknown}; use {sorted(PARAMETER_GROUPS)}")
        for p in self.parameters():
            p.requires_grad_(False)
        for g in groups:
            where, names = PARAMETER_GROUPS[g]
            for k in names:
                (self.track if where == "track" else self.master)[k].requires_grad_(True)
        return self

    def _physical(self, where: str, name: str) -> Tensor:
        return physical_value(name, (self.track if where == "track" else self.master)[name], self.sample_rate)

    def values(self, where: Literal["track", "master"] = "track", names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Physical values (float64, with gradient): track parameters ``[tracks]``, master ``[1]``
        (``names``: only these)."""
        if names is None:
            names = TRACK_PARAMETERS if where == "track" else MASTER_PARAMETERS
        return {k: self._physical(where, k) for k in names}

    def track_values(self) -> list[dict[str, float]]:
        """The tracks' settings as plain floats, one dict per track."""
        with torch.no_grad():
            v = self.values("track")
        return [{k: float(t[i]) for k, t in v.items()} for i in range(self.n_tracks)]

    def master_values(self) -> dict[str, float]:
        with torch.no_grad():
            return {k: float(t[0]) for k, t in self.values("master").items()}

    @torch.no_grad()
    def set_values(self, values: Mapping[str, Any], where: Literal["track", "master"] = "track") -> Console:
        """Set physical values: ``{name: float or per-track sequence}`` (validated against the ranges)."""
        params = self.track if where == "track" else self.master
        for k, v in values.items():
            if k not in params:
                raise ConsoleError(f"{where} has no parameter {k!r}; it has {', '.join(params)}")
            t = torch.as_tensor(v, dtype=torch.float64).expand(params[k].shape).clone()
            for x in t.tolist():
                _check_value(k, x)
            params[k].copy_(_logit(_to_unit(k, t)))
        return self

    def _stage_active(self, stage: str) -> bool:
        if not self.stages[stage]:
            return False
        where = "master" if stage.startswith("master") else "track"
        names = EQ_PARAMETERS if stage.endswith("eq") else COMPRESSOR_PARAMETERS
        params = self.track if where == "track" else self.master
        if any(params[k].requires_grad for k in names):
            return True
        with torch.no_grad():
            if stage.endswith("eq"):
                return any(bool((self._physical(where, f"{b}_gain_db").abs() > 1e-6).any()) for b, _ in _BANDS)
            ratio = self._physical(where, "comp_ratio")
            makeup = self._physical(where, "comp_makeup_db")
            return bool(((ratio - 1).abs() > 1e-6).any() or (makeup.abs() > 1e-6).any())

    # ------------------------------------------------------------------ processing

    def _eq(self, x: Tensor, v: Mapping[str, Tensor]) -> Tensor:
        """``x`` ``[M, 1, N]``; ``v`` per-signal ``[M]`` values."""
        return fsm_filter(x, lambda freqs: eq_response(v, freqs, self.sample_rate), self.sample_rate)

    def _comp(self, x: Tensor, v: Mapping[str, Tensor]) -> Tensor:
        """``x`` ``[M, C, N]``; ``v`` per-signal ``[M]`` values."""
        if self.compressor_mode == "dasp":
            from dasp_pytorch.functional import compressor

            d = x.dtype
            return compressor(
                x, self.sample_rate, v["comp_threshold_db"].to(d), v["comp_ratio"].to(d),
                v["comp_attack_ms"].to(d), v["comp_release_ms"].to(d),
                v["comp_knee_db"].clamp_min(KNEE_EPS_DB).to(d), v["comp_makeup_db"].to(d),
            )  # fmt: skip
        env = envelope(x, v["comp_attack_ms"], v["comp_release_ms"], self.sample_rate)
        p = {k: v[k].view(-1, 1, 1).to(x.dtype) for k in ("comp_threshold_db", "comp_ratio", "comp_knee_db", "comp_makeup_db")}

        def apply(x: Tensor, env: Tensor) -> Tensor:
            level_db = 20.0 * torch.log10(env.clamp_min(1e-10))
            gain_db = _gain_computer_db(level_db, p["comp_threshold_db"], p["comp_ratio"], p["comp_knee_db"])
            return x * torch.pow(10.0, (gain_db + p["comp_makeup_db"]) / 20.0)

        if torch.is_grad_enabled() and (x.requires_grad or any(t.requires_grad for t in p.values())):
            return apply(x, env)
        out = torch.empty_like(x)  # a render: block by block, so the temporaries stay in the cache
        for a in range(0, x.shape[-1], _GAIN_BLOCK):
            out[..., a : a + _GAIN_BLOCK] = apply(x[..., a : a + _GAIN_BLOCK], env[..., a : a + _GAIN_BLOCK])
        return out

    def _track_compressors(self, x: Tensor, per_signal: Mapping[str, Tensor]) -> Tensor:
        """``x`` ``[b, t, n]`` through the tracks' compressors; a render leaves out those that do
        nothing (ratio 1, makeup 0 dB), so a long render loops over fewer signals."""
        b, t, n = x.shape
        flat = x.reshape(b * t, 1, n)
        busy = ((per_signal["comp_ratio"] - 1.0).abs() > 1e-6) | (per_signal["comp_makeup_db"].abs() > 1e-6)
        grads = torch.is_grad_enabled() and (x.requires_grad or any(v.requires_grad for v in per_signal.values()))
        if grads or bool(busy.all()):
            return self._comp(flat, per_signal).reshape(b, t, n)
        out = flat.clone()
        idx = torch.nonzero(busy).flatten()
        if len(idx):
            out[idx] = self._comp(flat[idx], {k: v[idx] for k, v in per_signal.items()})
        return out.reshape(b, t, n)

    def pan_gains(self) -> Tensor:
        """``[tracks, 2]`` amplitude factors (gain x pan law), float64."""
        v = self.values("track", ("gain_db", "pan"))
        g = torch.pow(10.0, v["gain_db"] / 20.0)
        theta = (v["pan"] + 1.0) * (math.pi / 4.0)
        return torch.stack([g * torch.cos(theta), g * torch.sin(theta)], dim=-1)

    def forward(self, stems: Tensor) -> Tensor:
        if stems.ndim == 2:
            stems = stems.unsqueeze(0)
        if stems.ndim != 3 or stems.shape[1] != self.n_tracks:
            raise ConsoleError(
                f"stems must be [batch, {self.n_tracks} tracks, samples] (mono stems), got {tuple(stems.shape)}"
            )
        b, t, n = stems.shape
        x = stems
        tv = self.values("track")
        per_signal = {k: v.repeat(b) for k, v in tv.items()}  # [b * t], song-major like x.reshape
        if self._stage_active("eq"):
            x = self._eq(x.reshape(b * t, 1, n), per_signal).reshape(b, t, n)
        if self._stage_active("comp"):
            x = self._track_compressors(x, per_signal)
        coeffs = self.pan_gains().to(x.dtype)  # [t, 2]: rounded like daw_bridge's float32 coefficients
        mix = torch.einsum("btn,tc->bcn", x, coeffs)
        mv = self.values("master")
        if self._stage_active("master_eq"):
            per_channel = {k: v.expand(b * 2) for k, v in mv.items()}
            mix = self._eq(mix.reshape(b * 2, 1, n), per_channel).reshape(b, 2, n)
        if self._stage_active("master_comp"):
            mix = self._comp(mix, {k: v.expand(b) for k, v in mv.items()})
        return mix

    def extra_repr(self) -> str:
        on = ", ".join(k for k, v in self.stages.items() if v)
        return f"n_tracks={self.n_tracks}, sample_rate={self.sample_rate}, stages=[{on}], compressor={self.compressor_mode}"


def _logit(u: Tensor) -> Tensor:
    return torch.log(u) - torch.log1p(-u)


# --------------------------------------------------------------------------- plans

_EQ_PLUGINS = {
    "low_shelf": "LowShelfFilter",
    "peak1": "PeakFilter",
    "peak2": "PeakFilter",
    "high_shelf": "HighShelfFilter",
}


def _chain_specs(
    v: Mapping[str, float], stages: Mapping[str, bool], prefix: str, skip_neutral: bool
) -> tuple[list, list[str]]:
    from daw_bridge.session import PluginSpec

    specs: list[PluginSpec] = []
    notes: list[str] = []
    if stages[f"{prefix}eq"]:
        for band, _ in _BANDS:
            if skip_neutral and v[f"{band}_gain_db"] == 0.0:
                continue
            specs.append(
                PluginSpec(
                    kind="builtin",
                    name=_EQ_PLUGINS[band],
                    params={
                        "gain_db": v[f"{band}_gain_db"],
                        "cutoff_frequency_hz": v[f"{band}_freq_hz"],
                        "q": v[f"{band}_q"],
                    },
                )
            )
    if stages[f"{prefix}comp"]:
        if not (skip_neutral and v["comp_ratio"] == 1.0):
            specs.append(
                PluginSpec(
                    kind="builtin",
                    name="Compressor",
                    params={
                        "threshold_db": v["comp_threshold_db"],
                        "ratio": v["comp_ratio"],
                        "attack_ms": v["comp_attack_ms"],
                        "release_ms": v["comp_release_ms"],
                    },
                )
            )
            if v["comp_knee_db"] > 0.01:
                notes.append(
                    f"{v['comp_knee_db']:.2f} dB compressor knee written as a hard knee (pedalboard's Compressor has none)"
                )
        if not (skip_neutral and v["comp_makeup_db"] == 0.0):
            specs.append(PluginSpec(kind="builtin", name="Gain", params={"gain_db": v["comp_makeup_db"]}))
    return specs, notes


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    # defaults and range ends snap exactly (the sigmoid mapping leaves ~1e-9 residues at an end); others keep 9 digits
    out = {}
    for k, x in values.items():
        r = PARAMETER_RANGES[k]
        out[k] = float(f"{x:.9g}")
        for snap in (r.default, r.minimum, r.maximum):
            if abs(x - snap) < 1e-6 * max(1.0, abs(snap)):
                out[k] = snap
                break
    return out


def console_to_plan(
    console: Console,
    files: Sequence[str | os.PathLike[str]],
    *,
    names: Sequence[str] | None = None,
    name: str = "session",
    skip_neutral: bool = True,
) -> Any:
    """The console's settings as a :class:`daw_bridge.Session` (a mix plan) over the stem ``files``.

    Each track: its EQ bands as ``LowShelfFilter`` / ``PeakFilter`` / ``HighShelfFilter``, the
    compressor as ``Compressor`` then ``Gain`` (makeup), its gain and pan on the Track; the master
    bus likewise. ``skip_neutral`` leaves out EQ bands at 0 dB, a compressor at ratio 1 and a 0 dB
    makeup (they change nothing). Values are written to 9 significant digits.
    """
    from daw_bridge.session import Session, Track

    if len(files) != console.n_tracks:
        raise ConsoleError(f"{len(files)} files for a console of {console.n_tracks} tracks")
    names = list(names) if names is not None else list(console.names)
    if len(names) != console.n_tracks:
        raise ConsoleError(f"{len(names)} names for a console of {console.n_tracks} tracks")
    stages_t = {"eq": console.stages["eq"], "comp": console.stages["comp"]}
    stages_m = {"master_eq": console.stages["master_eq"], "master_comp": console.stages["master_comp"]}
    tracks = []
    notes: list[str] = []
    for track_name, file, v in zip(names, files, console.track_values()):
        v = _rounded(v)
        specs, said = _chain_specs(v, stages_t, "", skip_neutral)
        notes.extend(f"track {track_name!r}: {s}" for s in said)
        tracks.append(Track(name=track_name, file=Path(file), gain_db=v["gain_db"], pan=v["pan"], plugins=specs))
    master, said = _chain_specs(_rounded(console.master_values()), stages_m, "master_", skip_neutral)
    notes.extend(f"master: {s}" for s in said)
    return Session(name=name, sample_rate=console.sample_rate, tracks=tracks, master=master, notes=notes)


def _read_chain(specs: Sequence[Any], owner: str) -> dict[str, float]:
    """Console values from a chain of console plugins (in console order); raises ConsoleError."""
    v: dict[str, float] = {}
    order = ["LowShelfFilter", "PeakFilter", "HighShelfFilter", "Compressor", "Gain"]
    last = -1
    peaks = 0
    seen: set[str] = set()
    for pos, spec in enumerate(specs, start=1):
        if spec.bypass:
            continue
        label = spec.label()
        if spec.kind != "builtin" or spec.name not in order:
            raise ConsoleError(f"{owner} plugin {pos} ({label}) is not one of the console's ({', '.join(order)})")
        rank = order.index(spec.name)
        if rank < last or (spec.name != "PeakFilter" and spec.name in seen):
            raise ConsoleError(
                f"{owner} plugin {pos} ({label}): the console's chain is LowShelfFilter, PeakFilter x2, "
                f"HighShelfFilter, Compressor, Gain, each at most once and in that order"
            )
        last = rank
        seen.add(spec.name)
        p = spec.params
        if spec.name in ("LowShelfFilter", "PeakFilter", "HighShelfFilter"):
            if spec.name == "PeakFilter":
                peaks += 1
                if peaks > 2:
                    raise ConsoleError(f"{owner} plugin {pos}: the console has two peak filters")
                band = f"peak{peaks}"
            else:
                band = "low_shelf" if spec.name == "LowShelfFilter" else "high_shelf"
            v[f"{band}_gain_db"] = float(p.get("gain_db", 0.0))
            v[f"{band}_freq_hz"] = float(
                p.get(
                    "cutoff_frequency_hz",
                    440.0 if band.startswith("peak") else PARAMETER_RANGES[f"{band}_freq_hz"].default,
                )
            )
            v[f"{band}_q"] = float(p.get("q", 1 / math.sqrt(2)))
        elif spec.name == "Compressor":
            v["comp_threshold_db"] = float(p.get("threshold_db", 0.0))
            v["comp_ratio"] = float(p.get("ratio", 1.0))
            v["comp_attack_ms"] = float(p.get("attack_ms", 1.0))
            v["comp_release_ms"] = float(p.get("release_ms", 100.0))
            v["comp_knee_db"] = 0.0
        else:
            v["comp_makeup_db"] = float(p.get("gain_db", 1.0))
    for k, x in v.items():
        try:
            _check_value(k, x)
        except ConsoleError as exc:
            raise ConsoleError(f"{owner}: {exc}") from None
    return v


def plan_to_console(session: Any, **kwargs: Any) -> Console:
    """A :class:`Console` set as ``session`` says (a plan whose plugins are the console's kinds).

    Refuses (:class:`ConsoleError`) tracks with an offset, a channel, mute or solo, a pan law other
    than -3 dB, other plugins, or values outside :data:`PARAMETER_RANGES`. ``kwargs`` go to
    :class:`Console` (e.g. ``compressor_mode``).
    """
    if not session.tracks:
        raise ConsoleError("the session has no tracks")
    if abs(session.pan_law_db - (-3.0)) > 1e-12:
        raise ConsoleError(f"the console pans with the -3 dB law; the session uses {session.pan_law_db} dB")
    console = Console(len(session.tracks), session.sample_rate, names=[t.name for t in session.tracks], **kwargs)
    per_track: dict[str, list[float]] = {k: [] for k in TRACK_PARAMETERS}
    for track in session.tracks:
        owner = f"track {track.name!r}"
        if track.offset_s or track.channel is not None or track.mute or track.solo:
            raise ConsoleError(f"{owner}: the console takes tracks without offset, channel, mute or solo")
        v = _read_chain(track.plugins, owner)
        v["gain_db"] = track.gain_db
        v["pan"] = track.pan
        _check_value("gain_db", track.gain_db)
        for k in TRACK_PARAMETERS:
            per_track[k].append(v.get(k, PARAMETER_RANGES[k].default))
    console.set_values(per_track, "track")
    mv = _read_chain(session.master, "master")
    console.set_values({k: mv.get(k, PARAMETER_RANGES[k].default) for k in MASTER_PARAMETERS}, "master")
    return console
