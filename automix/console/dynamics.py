"""Compressors fitted on a pool of excerpts, against exact envelopes computed once.

A compressor's gain is a function of its envelope, and JUCE's peak envelope (the console's,
pedalboard's) depends only on the compressor's input and its attack and release times, not on
the threshold, ratio, makeup, fader or pan. So compressors are fitted on a fixed pool of short
excerpts of the song (each ``warm-up + scored`` samples; the warm-up lets filters and envelopes
settle), each track's input being its stem through its EQ:

1. :func:`make_pool` takes excerpts where each track is loudest (every compressor hears its
   track's hits), through the tracks' EQ, with the envelopes at the current settings;
2. :func:`init_compressors` computes every track's exact envelope
   (:func:`automix.console.model.peak_ballistics`, all excerpts, tracks and times side by side
   in one loop) for each attack/release pair of a small grid (:data:`ATTACKS_MS` x
   :data:`RELEASES_MS`) and sets each compressor from a grid: per track, loudest first, the
   pair, threshold and ratio whose compressed track, scaled by its best factor (to the fader or
   the makeup), leaves the least squared error against the target minus the other tracks as
   they stand (no compressor is a candidate too); then the master likewise;
3. :func:`song_gains` gives the compressors' gains over parts of the song, so that the spectral
   stage (:mod:`automix.console.spectral`) fits the EQ to compressed stems and a de-compressed
   target rather than bending the EQ to imitate compression;
4. :func:`pool_objective` is the exact console on the pool given the envelopes (the gain
   computer, faders, pans and master bus are exact and cheap; only compressors that do
   something are computed), over which thresholds, ratios and makeups are refined
   (:func:`set_envelopes` computes the envelopes again when the EQ or the mix has changed).

Attack and release times stay on the grid; the knee stays hard (a plan's compressor has none).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from automix.console.closed_form import FitError
from automix.console.model import PARAMETER_RANGES, Console, eq_response, fsm_filter, peak_ballistics

__all__ = [
    "ATTACKS_MS",
    "RELEASES_MS",
    "ExcerptPool",
    "envelope_levels",
    "init_compressors",
    "make_pool",
    "pool_mix",
    "pool_objective",
    "set_envelopes",
    "song_gains",
]

#: The attack and release times (ms) a fitted compressor chooses from.
ATTACKS_MS: tuple[float, ...] = (1.0, 5.0, 20.0)
RELEASES_MS: tuple[float, ...] = (50.0, 150.0, 500.0)
_GRID_OFFSETS_DB = (2.0, 4.0, 6.0, 9.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0)  # thresholds under the peak level
_GRID_RATIOS = (1.5, 2.0, 3.0, 4.0, 6.0, 10.0)
_GRID_DECIMATE = 8  # the grid's sums use every 8th sample
_COMP_KEYS = ("comp_threshold_db", "comp_ratio", "comp_makeup_db")


@dataclass
class ExcerptPool:
    """Excerpts at ``starts`` (samples), each ``length`` samples of which the first ``warmup`` are not
    scored. ``inputs`` ``[P, N, L]``: each track's compressor input (its stem through its EQ);
    ``target`` ``[P, 2, L]``; ``target_frames`` ``[P, 2, F, frames]``: STFT frames of ``stft``
    samples of the scored target; ``weight`` ``[F]`` the objective's bin weights;
    ``track_levels`` ``[P, N, L]`` / ``master_levels`` ``[P, 2, L]``: the compressors' envelopes
    (dB) at their attack and release times, ``compressed`` the tracks whose compressor does
    something (:func:`set_envelopes`)."""

    inputs: Tensor
    target: Tensor
    target_frames: Tensor
    weight: Tensor
    starts: list[int]
    length: int
    warmup: int
    stft: int
    sample_rate: int
    track_levels: Tensor | None = None
    master_levels: Tensor | None = None
    master_response: Tensor | None = None
    compressed: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.starts)


def _positions(stems: np.ndarray, length: int, count: int, rng: np.random.Generator) -> list[int]:
    """Starts of ``count`` excerpts of ``length`` samples where the tracks are loud: round robin over
    the tracks (loudest first), each takes the not yet taken window where it is loudest relative to
    its own loudest, so that every compressor hears its track's hits (a random 2% of the song's
    length shifts the candidate windows)."""
    frames = stems.shape[1]
    if frames <= length:
        return [0]
    hop = max(1, length // 4)
    offset = int(rng.integers(0, max(1, min(hop, frames - length))))
    count_blocks = (frames - offset) // hop
    x = stems[:, offset : offset + count_blocks * hop].reshape(stems.shape[0], count_blocks, hop)
    blocks = np.einsum("nbh,nbh->nb", x, x).astype(np.float64)  # [N, blocks]: energy per hop
    per = length // hop
    cumulative = np.concatenate([np.zeros((stems.shape[0], 1)), np.cumsum(blocks, axis=1)], axis=1)
    energy = (cumulative[:, per:] - cumulative[:, :-per]).T  # [windows, N]: windows start every hop
    starts = offset + hop * np.arange(energy.shape[0])
    fits = starts + length <= frames
    energy, starts = energy[fits], starts[fits]
    if not len(starts):
        return [0]
    share = energy / np.maximum(energy.max(0), 1e-30)
    chosen: list[int] = []
    limit, progress = min(count, len(starts)), True
    while len(chosen) < limit and progress:
        progress = False
        for i in np.argsort(-energy.sum(0)):
            free = [k for k in np.argsort(-share[:, i]) if all(abs(k - c) >= per for c in chosen)]
            if free and len(chosen) < limit:
                chosen.append(int(free[0]))
                progress = True
    return sorted(int(starts[k]) for k in chosen)


def _stft(x: Tensor, n_fft: int) -> Tensor:
    """STFT frames ``[P, C, F, frames]`` of ``x`` ``[P, C, S]`` (Hann, hop ``n_fft // 2``, no padding)."""
    p, c, s = x.shape
    out = torch.stft(x.reshape(p * c, s), n_fft, n_fft // 2, window=torch.hann_window(n_fft), center=False,
                     return_complex=True)  # fmt: skip
    return out.reshape(p, c, *out.shape[1:])


def _eq_tracks(console: Console, x: Tensor) -> Tensor:
    """``x`` ``[P, N, L]`` through each track's EQ (when the stage is on)."""
    if not console.stages["eq"]:
        return x
    v, rate = console.values("track"), console.sample_rate
    return fsm_filter(x.transpose(0, 1), lambda f: eq_response(v, f, rate), rate).transpose(0, 1).contiguous()


@torch.no_grad()
def make_pool(
    console: Console,
    stems: np.ndarray,
    target: np.ndarray,
    loss: str = "mse",
    *,
    count: int = 12,
    seconds: float = 0.75,
    warmup_s: float = 0.25,
    seed: int = 0,
    starts: Sequence[int] | None = None,
) -> ExcerptPool:
    """Up to ``count`` excerpts of ``seconds`` scored (after ``warmup_s``) from ``stems`` ``[N, T]`` and
    ``target`` ``[2, T]``, the stems through ``console``'s track EQ, with envelopes set.

    The excerpts are where the tracks are loud (each track's loudest windows in turn, not
    overlapping); a song shorter than one excerpt gives one excerpt, the song (a quarter of it as
    warm-up at most). ``loss`` picks
    the bin weights (:func:`automix.console.spectral.bin_weights`, from the pool's target);
    ``starts`` (samples) given skip the search (a second pool at the same places).
    """
    from automix.console.spectral import bin_weights, stft_size

    rate = console.sample_rate
    stft = stft_size(rate)
    frames = stems.shape[1]
    warm = round(warmup_s * rate)
    length = warm + max(round(seconds * rate), stft)
    if length > frames:
        warm = min(warm, frames // 4)
        length = frames
    if length - warm < stft:
        raise FitError(f"the take is too short to fit compressors on: {frames / rate:.2f} s")
    starts = list(starts) if starts is not None else _positions(stems, length, count, np.random.default_rng(seed))
    x = torch.from_numpy(np.stack([stems[:, s : s + length] for s in starts])).float()
    y = torch.from_numpy(np.stack([target[:, s : s + length] for s in starts])).float()
    frames_t = _stft(y[..., warm:], stft)
    freqs = torch.arange(stft // 2 + 1, dtype=torch.float64) * (rate / stft)
    weight = bin_weights(frames_t.abs().square().sum((0, 1, 3)).double(), freqs, loss).float()
    pool = ExcerptPool(_eq_tracks(console, x), y, frames_t, weight, starts, length, warm, stft, rate)
    set_envelopes(console, pool)
    return pool


def _busy(v: dict[str, float]) -> bool:
    """Whether a compressor setting does something (a ratio above 1 or a makeup gain)."""
    return v["comp_ratio"] > 1.0 + 1e-6 or abs(v["comp_makeup_db"]) > 1e-6


def _coefficient(ms: Sequence[float] | np.ndarray, rate: int) -> np.ndarray:
    """JUCE's ballistics coefficients of times in ms (0 under 1 us)."""
    ms = np.asarray(ms, dtype=np.float64)
    return np.where(ms < 1e-3, 0.0, np.exp(-2.0 * math.pi * 1000.0 / (np.maximum(ms, 1e-3) * rate)))


def _levels(x: np.ndarray, attack_ms: np.ndarray, release_ms: np.ndarray, rate: int) -> Tensor:
    """Exact envelope levels (dB, float32) of ``x`` ``[lanes, L]`` with per-lane times (ms)."""
    env = peak_ballistics(np.abs(x), _coefficient(attack_ms, rate), _coefficient(release_ms, rate), np.float32)
    return 20.0 * torch.log10(torch.from_numpy(env).clamp_min(1e-10))


def envelope_levels(x: Tensor, pairs: Sequence[tuple[float, float]], rate: int) -> Tensor:
    """Exact envelope levels (dB) ``[K, P, C, L]`` of ``x`` ``[P, C, L]`` for ``K`` (attack, release) pairs."""
    p, c, n = x.shape
    lanes = np.broadcast_to(x.numpy().reshape(1, p * c, n), (len(pairs), p * c, n)).reshape(-1, n)
    attack = np.repeat([a for a, _ in pairs], p * c)
    release = np.repeat([r for _, r in pairs], p * c)
    return _levels(lanes, attack, release, rate).reshape(len(pairs), p, c, n)


@torch.no_grad()
def set_envelopes(console: Console, pool: ExcerptPool) -> None:
    """The pool's envelopes at the compressors' attack and release times: tracks' from their inputs,
    the master's from the mix the console makes of the pool now."""
    p, n, length = pool.inputs.shape
    pool.master_response = None
    if console.stages["comp"]:
        tv = console.track_values()
        pool.compressed = [i for i, t in enumerate(tv) if _busy(t)]
        attack = np.tile([t["comp_attack_ms"] for t in tv], p)
        release = np.tile([t["comp_release_ms"] for t in tv], p)
        pool.track_levels = _levels(pool.inputs.numpy().reshape(p * n, length), attack, release,
                                    pool.sample_rate).reshape(p, n, length)  # fmt: skip
    if console.stages["master_comp"]:
        mv = console.master_values()
        mix = pool_mix(console, pool, master=False)
        pool.master_levels = envelope_levels(mix, [(mv["comp_attack_ms"], mv["comp_release_ms"])], pool.sample_rate)[0]


# --------------------------------------------------------------------------- the console on the pool


def _gain(levels: Tensor, v: dict[str, Tensor]) -> Tensor:
    """Hard-knee compressor gain (linear) of ``levels`` (dB) ``[P, C, L]``, parameters ``[C]``.

    The console's gain computer with its knee at 0 (clamped to 1e-3 dB there: 1e-4 dB apart).
    """
    shape = (1, -1, 1)
    slope = (1.0 / v["comp_ratio"] - 1.0).view(shape).float()
    over = (levels - v["comp_threshold_db"].view(shape).float()).clamp_min(0.0)
    return torch.pow(10.0, (slope * over + v["comp_makeup_db"].view(shape).float()) / 20.0)


def pool_mix(console: Console, pool: ExcerptPool, master: bool = True, scored: bool = False) -> Tensor:
    """The console's mix ``[P, 2, L]`` of the pool, its compressors on the pool's envelopes.

    ``master=False`` leaves the master compressor out; ``scored=True`` may leave the warm-up out
    (``[P, 2, L - warmup]``; it does without a master EQ).
    """
    # without a master EQ (which needs what comes before), only the scored part is mixed
    part = slice(None) if console.stages["master_eq"] or not scored else slice(pool.warmup, None)
    pan = console.pan_gains().float()
    squeezed = pool.compressed if console.stages["comp"] and pool.track_levels is not None else []
    plain = [i for i in range(pan.shape[0]) if i not in squeezed]
    mix = torch.einsum("pnl,nc->pcl", pool.inputs[:, plain, part], pan[plain])
    if squeezed:  # the gain computer only where there is a compressor
        v = {k: t[squeezed] for k, t in console.values("track", _COMP_KEYS).items()}
        x = pool.inputs[:, squeezed, part] * _gain(pool.track_levels[:, squeezed, part], v)
        mix = mix + torch.einsum("pnl,nc->pcl", x, pan[squeezed])
    mv = console.values("master")
    if console.stages["master_eq"]:
        mix = fsm_filter(mix, lambda f: _master_response(console, pool, mv, f), pool.sample_rate)
    if master and console.stages["master_comp"] and pool.master_levels is not None:
        mix = mix * _gain(pool.master_levels[..., part], {k: t.expand(2) for k, t in mv.items()})
    return mix


def _master_response(console: Console, pool: ExcerptPool, mv: dict[str, Tensor], freqs: Tensor) -> Tensor:
    """The master EQ's response at ``freqs``; kept in the pool while the master EQ is not being fitted."""
    if any(console.master[k].requires_grad for k in mv if not k.startswith("comp_")):
        return eq_response(mv, freqs, pool.sample_rate)
    if pool.master_response is None or pool.master_response.shape[-1] != len(freqs):
        with torch.no_grad():
            pool.master_response = eq_response(mv, freqs, pool.sample_rate)
    return pool.master_response


def pool_objective(console: Console, pool: ExcerptPool) -> Tensor:
    """Weighted squared error of the pool's mix on STFT frames of the scored parts, relative to the target's."""
    mix = pool_mix(console, pool, scored=True)
    frames = _stft(mix[..., mix.shape[-1] - (pool.length - pool.warmup) :], pool.stft)
    w = pool.weight[:, None]
    err = (w * (frames - pool.target_frames).abs().square()).sum()
    return (err / (w * pool.target_frames.abs().square()).sum().clamp_min(1e-30)).double()


# --------------------------------------------------------------------------- starting compressors


@dataclass
class _Choice:
    error: float
    pair: int = -1  # index into the (attack, release) pairs; -1: no compressor
    threshold: float = 0.0
    ratio: float = 1.0
    scale: float = 1.0


class _Grid:
    """Squared error of a residual ``r`` fitted by a contribution ``u`` (both ``[P, C, L]``) times
    a compressor gain and its best factor, from sums over every :data:`_GRID_DECIMATE`-th sample."""

    def __init__(self, r: Tensor, u: Tensor, levels: Tensor, warm: int) -> None:
        sl = slice(warm, None, _GRID_DECIMATE)
        r, u = r[..., sl], u[..., sl]
        self.q, self.e, self.rr = r * u, u * u, float(r.square().sum())
        self.levels = levels[..., sl]  # [K, P, C', L']: one envelope per track (C' = 1) or channel

    def error(self, g: Tensor) -> tuple[Tensor, Tensor]:
        """(error, factor) ``[...]`` for gains ``g`` ``[..., P, C', L']``."""
        num, den = (g * self.q).sum((-3, -2, -1)), (g * g * self.e).sum((-3, -2, -1))
        scale = (num / den.clamp_min(1e-30)).clamp_min(0.0)
        return self.rr - scale * num, scale

    def search(self, best: _Choice, pair: int, offsets: Sequence[float], ratios: Sequence[float]) -> _Choice:
        peak = float(self.levels[pair].amax())
        thresholds = torch.tensor([peak - o for o in offsets])
        over = (self.levels[pair][None] - thresholds[:, None, None, None]).clamp_min(0.0)  # [T, P, C', L']
        for ratio in ratios:
            err, scale = self.error(torch.pow(10.0, (1.0 / ratio - 1.0) * over / 20.0))
            i = int(torch.argmin(err))
            if float(err[i]) < best.error * (1.0 - 1e-4):
                best = _Choice(float(err[i]), pair, float(thresholds[i]), ratio, float(scale[i]))
        return best


def _best_candidate(r: Tensor, u: Tensor, levels: Tensor, warm: int) -> _Choice:
    """The grid point (see the module notes) whose compression of ``u`` best fits ``r``; first the
    thresholds and ratios at the middle (attack, release) pair, then every pair near the best.
    No compressor (``pair`` -1) is a candidate too. (The current setting is not: measured, it
    wins too often where the EQ and faders had settled around it, a local minimum.)"""
    grid = _Grid(r, u, levels, warm)
    err, scale = grid.error(torch.ones_like(grid.levels[0]))
    best = _Choice(float(err), scale=float(scale))
    middle = levels.shape[0] // 2
    best = grid.search(best, middle, _GRID_OFFSETS_DB, _GRID_RATIOS)
    if best.pair < 0:
        return best  # none: nothing near to search
    peak = float(grid.levels[middle].amax())
    offsets = [o * f for o in (peak - best.threshold,) for f in (0.8, 1.0, 1.25)]
    ratios = [best.ratio * f for f in (0.8, 1.0, 1.25)]
    for pair in range(levels.shape[0]):
        best = grid.search(best, pair, offsets, ratios)
    return best


def _apply(console: Console, where: str, i: int, choice: _Choice, pair: tuple[float, float], level_key: str) -> None:
    """Set compressor ``i`` (track) or the master's as ``choice`` says (none: ratio 1); its factor to ``level_key``."""
    current = console.track_values()[i] if where == "track" else console.master_values()
    lo, hi = PARAMETER_RANGES[level_key].minimum, PARAMETER_RANGES[level_key].maximum
    ratio = PARAMETER_RANGES["comp_ratio"]
    new = {level_key: min(max(current[level_key] + 20.0 * math.log10(max(choice.scale, 1e-6)), lo), hi)}
    if choice.pair == -1:
        new.update({"comp_threshold_db": 0.0, "comp_ratio": 1.0})
    elif choice.pair >= 0:
        new.update({
            "comp_threshold_db": min(max(choice.threshold, PARAMETER_RANGES["comp_threshold_db"].minimum), 0.0),
            "comp_ratio": min(max(choice.ratio, ratio.minimum), ratio.maximum),
            "comp_attack_ms": pair[0], "comp_release_ms": pair[1],
        })  # fmt: skip
    if where == "master":
        console.set_values(new, "master")
        return
    per_track = {k: [t[k] for t in console.track_values()] for k in new}
    for k, x in new.items():
        per_track[k][i] = x
    console.set_values(per_track, "track")


def _contributions(console: Console, pool: ExcerptPool) -> Tensor:
    """Each track's part of the mix ``[P, N, 2, L]`` (through the master EQ, which is linear)."""
    contrib = torch.einsum("pnl,nc->pncl", pool.inputs, console.pan_gains().float())
    if console.stages["master_eq"]:
        mv = console.values("master")
        p, n, _, length = contrib.shape
        contrib = fsm_filter(contrib.reshape(p * n, 2, length), lambda f: eq_response(mv, f, pool.sample_rate),
                             pool.sample_rate).reshape(p, n, 2, length)  # fmt: skip
    return contrib


def _current_gains(console: Console, pool: ExcerptPool) -> Tensor:
    """Each track's compressor gain over the pool as it stands ``[P, N, L]`` (ones without one)."""
    gains = torch.ones_like(pool.inputs)
    if pool.track_levels is not None and pool.compressed:
        v = {k: t[pool.compressed] for k, t in console.values("track", _COMP_KEYS).items()}
        gains[:, pool.compressed] = _gain(pool.track_levels[:, pool.compressed], v)
    return gains


def _note(where: str, choice: _Choice, pair: tuple[float, float]) -> str:
    if choice.pair == -1:
        return f"{where}: no compressor"
    return f"{where}: compressor started at {choice.threshold:.1f} dB, {choice.ratio:.3g}:1, {pair[0]:g}/{pair[1]:g} ms"


@torch.no_grad()
def init_compressors(console: Console, pool: ExcerptPool, tracks: bool, master: bool, level_to_fader: bool) -> list[str]:
    """Set the compressors from a grid (see the module notes) and the pool's envelopes; one note per change.

    Track by track (loudest first, the others as they stand) and then the master, the grid point
    or no compressor, whichever fits best, replaces the compressor there was.
    ``level_to_fader``: a track's best factor goes to its fader (else to its makeup gain).
    """
    pairs = [(a, r) for a in ATTACKS_MS for r in RELEASES_MS]
    notes: list[str] = []
    if tracks and console.stages["comp"]:
        levels = envelope_levels(pool.inputs, pairs, pool.sample_rate)  # [K, P, N, L]
        raw = _contributions(console, pool)  # [P, N, 2, L], no compressor
        gains = _current_gains(console, pool)
        contrib = raw * gains[:, :, None]
        for i in torch.argsort(contrib[..., pool.warmup :].square().sum((0, 2, 3)), descending=True).tolist():
            r = pool.target - contrib.sum(1) + contrib[:, i]
            had = i in pool.compressed
            choice = _best_candidate(r, raw[:, i], levels[:, :, i : i + 1], pool.warmup)
            if choice.pair == -1 and not had and abs(choice.scale - 1.0) < 1e-3:
                continue
            pair = pairs[choice.pair] if choice.pair >= 0 else (0.0, 0.0)
            _apply(console, "track", i, choice, pair, "gain_db" if level_to_fader else "comp_makeup_db")
            g = torch.ones_like(gains[:, i]) if choice.pair == -1 else torch.pow(
                10.0, (1.0 / choice.ratio - 1.0) * (levels[choice.pair, :, i] - choice.threshold).clamp_min(0.0) / 20.0)
            contrib[:, i] = raw[:, i] * (choice.scale * g)[:, None]
            if choice.pair >= 0 or had:
                notes.append(_note(f"track {console.names[i]!r}", choice, pair))
    set_envelopes(console, pool)
    if master and console.stages["master_comp"]:
        mix = pool_mix(console, pool, master=False)
        had = _busy(console.master_values())
        choice = _best_candidate(pool.target, mix, envelope_levels(mix, pairs, pool.sample_rate), pool.warmup)
        if choice.pair >= 0 or had:
            pair = pairs[choice.pair] if choice.pair >= 0 else (0.0, 0.0)
            _apply(console, "master", 0, choice, pair, "comp_makeup_db")
            notes.append(_note("master", choice, pair))
        set_envelopes(console, pool)
    return notes


# --------------------------------------------------------------------------- over the whole song


def _song_gain(x: np.ndarray, v: list[dict[str, float]], rate: int) -> np.ndarray:
    """Hard-knee compressor gains ``[C, T]`` (float32) of signals ``[C, T]``, one setting per row."""
    levels = _levels(x, np.array([t["comp_attack_ms"] for t in v]), np.array([t["comp_release_ms"] for t in v]), rate)
    params = {k: torch.tensor([t[k] for t in v], dtype=torch.float64)
              for k in ("comp_ratio", "comp_threshold_db", "comp_makeup_db")}  # fmt: skip
    return _gain(levels[None], params)[0].numpy()


@torch.no_grad()
def song_gains(
    console: Console, stems: np.ndarray, spans: Sequence[tuple[int, int]], master: bool, warmup_s: float = 1.0
) -> tuple[np.ndarray, np.ndarray | None]:
    """The compressors' gains over ``spans`` of the song (joined), as the spectral stage sees them.

    Returns the tracks' ``[N, S]`` (of the stems through the EQ as it stands) and, with ``master``
    and the master compressor on, the master's ``[2, S]`` (of the faders' and pans' mix of the
    compressed tracks, without the master EQ; else None). Each span's envelopes start
    ``warmup_s`` earlier (from silence at the song's start); all spans run side by side, so the
    spans must be of one length or one. Ones for tracks without a compressor.
    """
    rate = console.sample_rate
    warm = round(warmup_s * rate)
    size = spans[0][1] - spans[0][0]
    x = np.zeros((len(spans), stems.shape[0], warm + size), dtype=np.float32)  # [S, N, warm + size]
    for k, (a, b) in enumerate(spans):
        lead = min(a, warm)
        x[k, :, warm - lead :] = stems[:, a - lead : b]
    x = _eq_tracks(console, torch.from_numpy(x)).numpy()  # the compressors' inputs
    g = np.ones_like(x)
    tv = console.track_values()
    squeezed = [i for i, t in enumerate(tv) if _busy(t)]
    if console.stages["comp"] and squeezed:
        lanes = x[:, squeezed].reshape(-1, x.shape[-1])
        g[:, squeezed] = _song_gain(lanes, [tv[i] for i in squeezed] * len(spans), rate).reshape(len(spans), len(squeezed), -1)
    joined = lambda a: np.concatenate(list(a[..., warm:]), axis=-1)  # [S, C, warm + size] -> [C, S * size]
    if not (master and console.stages["master_comp"]):
        return joined(g), None
    mix = np.einsum("snt,nc->sct", x * g, console.pan_gains().float().numpy())
    m = _song_gain(mix.reshape(-1, mix.shape[-1]), [console.master_values()] * (2 * len(spans)), rate)
    return joined(g), joined(m.reshape(len(spans), 2, -1))
