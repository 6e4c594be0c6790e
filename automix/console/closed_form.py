"""The closed-form start of a console fit: least-squares gains and pans of mono stems to a stereo mix.

A mix of mono stems ``x_i`` with gain and pan only is ``y_c = sum_i w_ic x_i`` with
``w_i = db_to_gain(gain_db_i) * pan_gains(pan_i)`` (daw_bridge's constant-power law). So the
gains and pans that bring such a mix closest to a target ``y`` (least squares over all samples)
are a linear least-squares problem per channel, solved on the ``[N, N]`` Gram matrix of the
stems (one pass over the audio, any length), with the weights kept non-negative (NNLS: a
negative weight would be a polarity flip, which no fader does) and a little ridge (``ridge``
times each stem's own energy) so that near-collinear stems (a close mic and its bleed) share
rather than cancel. Zero-lag, no time alignment: the stems and the target must be
sample-aligned, as stems bounced from the session of the mix are.

The weights become fader and pan by inverting the pan law exactly: ``gain = |w_i|``,
``theta = atan2(w_iR, w_iL)``, ``pan = 4 theta / pi - 1`` (:func:`weights_to_gain_pan`;
:func:`gain_pan_to_weights` is the law itself). :func:`fit_gain_pan` is the in-memory API (the
"oracle gain/pan" baseline of an evaluation: the best a fader-and-pan mix of the stems can do
against a reference). Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from automix.console.model import PARAMETER_RANGES, ConsoleError

__all__ = [
    "SILENCE_DBFS",
    "FitError",
    "GainPanFit",
    "Gram",
    "fit_gain_pan",
    "gain_pan_to_weights",
    "gram",
    "nnls",
    "weights_to_gain_pan",
]

#: A stem or target whose RMS level is at or under this (dBFS) counts as silent.
SILENCE_DBFS: float = -120.0
_CHUNK = 1 << 16  # samples per block when summing products


class FitError(ConsoleError):
    """Inputs a console fit cannot use: a silent target, silent stems, a target unlike the stems."""


@dataclass
class Gram:
    """Second-order statistics of stems ``[N, T]`` and a target ``[2, T]`` (float64).

    ``xx`` ``[N, N]``: ``sum_t x_i x_j``; ``xy`` ``[N, 2]``: ``sum_t x_i y_c``; ``yy`` ``[2]``:
    ``sum_t y_c^2``; ``frames``: ``T``.
    """

    xx: np.ndarray
    xy: np.ndarray
    yy: np.ndarray
    frames: int

    def residual(self, weights: np.ndarray) -> float:
        """Squared error of the mix with ``weights`` ``[N, 2]`` over the target's energy (exact)."""
        w = np.asarray(weights, dtype=np.float64)
        err = self.yy.sum() - 2.0 * np.sum(w * self.xy) + np.einsum("ic,ij,jc->", w, self.xx, w)
        return float(max(err, 0.0) / self.yy.sum()) if self.yy.sum() > 0 else math.inf

    def rms_db(self) -> tuple[np.ndarray, float]:
        """RMS levels (dBFS) of the stems ``[N]`` and of the target (both channels together)."""
        stems = 10.0 * np.log10(np.maximum(np.diag(self.xx), 1e-300) / max(self.frames, 1))
        target = 10.0 * math.log10(max(float(self.yy.sum()), 1e-300) / max(2 * self.frames, 1))
        return stems, target


def gram(stems: np.ndarray, target: np.ndarray) -> Gram:
    """:class:`Gram` of ``stems`` ``[N, T]`` and ``target`` ``[2, T]``, summed block by block in float64."""
    n = min(stems.shape[1], target.shape[1])
    xx = np.zeros((stems.shape[0],) * 2)
    xy = np.zeros((stems.shape[0], target.shape[0]))
    yy = np.zeros(target.shape[0])
    for a in range(0, n, _CHUNK):
        x = np.asarray(stems[:, a : a + _CHUNK], dtype=np.float64)
        y = np.asarray(target[:, a : a + _CHUNK], dtype=np.float64)
        xx += x @ x.T
        xy += x @ y.T
        yy += np.einsum("ct,ct->c", y, y)
    return Gram(xx, xy, yy, n)


def nnls(g: np.ndarray, c: np.ndarray, *, max_iter: int | None = None) -> np.ndarray:
    """``argmin_{w >= 0} w' g w / 2 - c' w`` for a positive definite ``g`` ``[N, N]`` (Lawson-Hanson)."""
    n = len(c)
    tol = 1e-12 * max(float(np.abs(c).max(initial=0.0)), 1e-300)
    w = np.zeros(n)
    free = np.zeros(n, dtype=bool)
    for _ in range(max_iter or 3 * n + 10):
        grad = c - g @ w  # the descent direction; a held (zero) weight may go free where it is positive
        candidates = np.where(~free, grad, -np.inf)
        if not (~free).any() or candidates.max() <= tol:
            break
        free[int(np.argmax(candidates))] = True
        while True:
            s = np.zeros(n)
            s[free] = np.linalg.solve(g[np.ix_(free, free)], c[free])
            if (s[free] > 0).all():
                w = s
                break
            bad = free & (s <= 0)
            alpha = float(np.min(w[bad] / (w[bad] - s[bad])))
            w = w + alpha * (s - w)
            free &= w > 1e-15 * max(float(w.max(initial=0.0)), 1e-300)
            w[~free] = 0.0
    return w


def gain_pan_to_weights(gain_db: Sequence[float] | np.ndarray, pan: Sequence[float] | np.ndarray) -> np.ndarray:
    """``[N, 2]`` left/right amplitude factors of mono tracks: ``db_to_gain(gain) * pan_gains(pan)``."""
    g = 10.0 ** (np.asarray(gain_db, dtype=np.float64) / 20.0)
    theta = (np.asarray(pan, dtype=np.float64) + 1.0) * (math.pi / 4.0)
    return np.stack([g * np.cos(theta), g * np.sin(theta)], axis=-1)


def weights_to_gain_pan(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fader (dB) and pan ``[N]`` of non-negative ``weights`` ``[N, 2]``: the pan law inverted exactly.

    A zero weight pair gives ``-inf`` dB (centre); hard left/right give pan exactly -1/+1.
    """
    w = np.maximum(np.asarray(weights, dtype=np.float64), 0.0)
    g = np.hypot(w[:, 0], w[:, 1])
    with np.errstate(divide="ignore"):
        gain_db = 20.0 * np.log10(g)
    pan = np.where(g > 0, 4.0 * np.arctan2(w[:, 1], w[:, 0]) / math.pi - 1.0, 0.0)
    pan = np.where(w[:, 1] == 0, -1.0, np.where(w[:, 0] == 0, 1.0, pan))
    return gain_db, np.where(g > 0, np.clip(pan, -1.0, 1.0), 0.0)


@dataclass
class GainPanFit:
    """Least-squares faders and pans of mono stems to a stereo target (:func:`fit_gain_pan`).

    ``gain_db`` ``[N]`` (dB, inside the console's fader range), ``pan`` ``[N]`` (-1..1),
    ``weights`` ``[N, 2]`` (the left/right factors they give), ``mix`` ``[2, T]`` float32 (the
    stems mixed so), ``residual`` (squared error over target energy), ``snr_db``
    (``-10 log10(residual)``), ``silent`` (indices of silent stems, left at 0 dB centre),
    ``notes`` (one line each: silent stems, faders at a range end).
    """

    gain_db: np.ndarray
    pan: np.ndarray
    weights: np.ndarray
    mix: np.ndarray | None
    residual: float
    silent: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def snr_db(self) -> float:
        return 200.0 if self.residual <= 1e-20 else float(min(200.0, -10.0 * math.log10(self.residual)))


def _check_audible(stats: Gram, names: Sequence[str], target_label: str) -> list[int]:
    """Indices of silent stems; raises :class:`FitError` for a silent target or all stems silent."""
    stems_db, target_db = stats.rms_db()
    if target_db <= SILENCE_DBFS:
        raise FitError(f"{target_label} is silent (RMS at or under {SILENCE_DBFS:.0f} dBFS): there is nothing to fit")
    silent = [i for i, level in enumerate(stems_db) if level <= SILENCE_DBFS]
    if len(silent) == len(names):
        raise FitError(f"all {len(names)} stems are silent (RMS at or under {SILENCE_DBFS:.0f} dBFS): there is nothing to mix")
    return silent


def _solve(stats: Gram, active: np.ndarray, fixed: np.ndarray, gain: bool, pan: bool, ridge: float) -> np.ndarray:
    """Weights ``[N, 2]`` of the ``active`` stems (the others: ``fixed``'s) by NNLS on the Gram matrix."""
    g = stats.xx[np.ix_(active, active)]
    g = g + ridge * np.diag(np.diag(g))
    xy = stats.xy[active] - stats.xx[np.ix_(active, ~active)] @ fixed[~active]  # what the others leave
    w = fixed.copy()
    if pan:
        sol = np.stack([nnls(g, xy[:, c]) for c in range(2)], axis=1)
        if not gain:  # keep the faders, take the direction only
            norm = np.hypot(sol[:, 0], sol[:, 1])
            keep = np.hypot(fixed[active, 0], fixed[active, 1])
            sol = np.where(norm[:, None] > 0, sol / np.where(norm > 0, norm, 1.0)[:, None] * keep[:, None], fixed[active])
        w[active] = sol
        return w
    u = fixed[active] / np.maximum(np.hypot(fixed[active, 0], fixed[active, 1]), 1e-300)[:, None]  # pan directions
    scale = nnls(g * (u @ u.T), np.sum(u * xy, axis=1))
    w[active] = u * scale[:, None]
    return w


def fit_gain_pan(
    stems: np.ndarray,
    target: np.ndarray,
    *,
    gain: bool = True,
    pan: bool = True,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    names: Sequence[str] | None = None,
    target_label: str = "the target mix",
    ridge: float = 1e-6,
    mix: bool = True,
) -> GainPanFit:
    """Least-squares faders and pans of mono ``stems`` ``[N, T]`` to a stereo ``target`` ``[2, T]``.

    ``gain``/``pan``: which of the two to fit; the other stays at ``start`` (``(gain_db [N],
    pan [N])``, default 0 dB centre). With both, each channel's weights are an NNLS solution;
    with the gain only, one non-negative scale per stem along its fixed pan; with the pan only,
    the direction of the free solution at the fixed fader. Faders are clipped to the console's
    range (-60..+24 dB; a stem the target does not contain goes to -60 dB); ``mix=False`` skips
    the ``[2, T]`` mix. Raises :class:`FitError` (one line) for a silent target, all stems
    silent, or a target that shares nothing with the stems.
    """
    stems = np.asarray(stems, dtype=np.float32)
    target = np.asarray(target, dtype=np.float32)
    if stems.ndim != 2 or target.ndim != 2 or target.shape[0] != 2 or stems.shape[1] != target.shape[1]:
        raise FitError(f"need stems [N, T] and a target [2, T] of one length, got {stems.shape} and {target.shape}")
    names = list(names) if names is not None else [f"track{i + 1}" for i in range(stems.shape[0])]
    stats = gram(stems, target)
    return fit_gain_pan_from_gram(stats, stems if mix else None, gain=gain, pan=pan, start=start,
                                  names=names, target_label=target_label, ridge=ridge)  # fmt: skip


def fit_gain_pan_from_gram(
    stats: Gram,
    stems: np.ndarray | None,
    *,
    gain: bool,
    pan: bool,
    start: tuple[np.ndarray, np.ndarray] | None,
    names: Sequence[str],
    target_label: str,
    ridge: float,
) -> GainPanFit:
    """:func:`fit_gain_pan` on precomputed statistics; ``stems`` (or ``None``) for the mix."""
    n = len(names)
    silent = _check_audible(stats, names, target_label)
    start_gain, start_pan = (np.zeros(n), np.zeros(n)) if start is None else map(np.asarray, start)
    fixed = gain_pan_to_weights(start_gain, start_pan)
    active = np.ones(n, dtype=bool)
    active[silent] = False
    notes = [f"stem {names[i]!r} is silent: left at {start_gain[i]:+.1f} dB, pan {start_pan[i]:+.2f}" for i in silent]
    w = _solve(stats, active, fixed, gain, pan, ridge) if (gain or pan) else fixed
    if not np.any(w[active] > 0):
        raise FitError(f"{target_label} has nothing in common with the stems (least squares gives every stem 0): "
                       "is it a mix of these stems, in the same polarity and sample-aligned?")  # fmt: skip
    gain_db, pans = weights_to_gain_pan(w)
    lo, hi = PARAMETER_RANGES["gain_db"].minimum, PARAMETER_RANGES["gain_db"].maximum
    for i in np.flatnonzero(active & ((gain_db < lo) | (gain_db > hi))):
        what = "is not in the target (least squares gives it 0)" if not np.isfinite(gain_db[i]) else f"wants {gain_db[i]:+.1f} dB"
        notes.append(f"stem {names[i]!r} {what}: fader at {min(max(gain_db[i], lo), hi):+.0f} dB, the console's limit")
    gain_db = np.clip(np.where(np.isfinite(gain_db), gain_db, lo), lo, hi)
    gain_db[silent], pans[silent] = start_gain[silent], start_pan[silent]
    weights = gain_pan_to_weights(gain_db, pans)
    mixed = None if stems is None else (weights.T.astype(np.float32) @ stems).astype(np.float32)
    return GainPanFit(gain_db, pans, weights, mixed, stats.residual(weights), silent, notes)
