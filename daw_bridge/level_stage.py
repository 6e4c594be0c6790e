"""The output level stage: one gain to a loudness target under a true-peak ceiling, and, when
that gain alone cannot reach the target, a true-peak limiter (torch-free).

:func:`plan_level` decides, from the signal's measured loudness and true peak and, with the
limiter, from passes over the signal (``source()`` gives its blocks afresh each time):

* no target: nothing (gain 0 dB);
* the target fits under the ceiling with one gain: that gain (no limiter);
* it does not, limiter off: the gain up to the ceiling, and a note on the shortfall;
* limiter on: a gain and a :class:`~daw_bridge.limiter.TruePeakLimiter` at the ceiling, the
  gain found by measuring the limited result (secant steps, at most :data:`MAX_PASSES`
  passes) until its loudness is within :data:`TOLERANCE_LU` of the target; when the measured
  true peak still passes the ceiling (inter-sample peaks the limiter's gain changes made), its
  ceiling is lowered by the excess and the pass repeated. The limiter never takes more than
  :data:`MAX_LIMITING_DB` off the peaks: a target beyond that is missed, and a note says by how much.

:func:`leveled_blocks` then yields the signal at that level; its result is exactly what the
last pass measured (same blocks, same arithmetic), so :class:`Level` holds the delivered
loudness and true peak.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from daw_bridge.audio import PEAK_FLOOR_DB, SILENCE_LUFS
from daw_bridge.limiter import TruePeakLimiter
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter

__all__ = ["Level", "MAX_LIMITING_DB", "MAX_PASSES", "TOLERANCE_LU", "leveled_blocks", "measure", "plan_level"]

#: Most the limiter may take off the peaks (dB); a louder target is missed.
MAX_LIMITING_DB: float = 12.0
#: How close to the target the limited loudness must come (LU).
TOLERANCE_LU: float = 0.02
#: Most passes over the signal while searching the gain.
MAX_PASSES: int = 8
_HAIR_DB = 0.001  # kept under the ceiling so the written file's rounding cannot cross it
_FIRST_MARGIN_DB = 0.05  # the limiter's first ceiling under the asked one

Source = Callable[[], Iterable[np.ndarray]]


@dataclass
class Level:
    """What the level stage does and delivers: ``gain_db`` (before the limiter), ``limiter_ceiling_db``
    (``None``: no limiter), ``limiting_db`` (most the limiter took off), the delivered
    ``loudness_lufs`` and ``true_peak_db``, and ``notes`` for people (a shortfall, the limiting)."""

    gain_db: float = 0.0
    limiter_ceiling_db: float | None = None
    limiting_db: float = 0.0
    loudness_lufs: float = SILENCE_LUFS
    true_peak_db: float = PEAK_FLOOR_DB
    notes: list[str] = field(default_factory=list)


def leveled_blocks(blocks: Iterable[np.ndarray], sample_rate: int, channels: int, level: Level) -> Iterator[np.ndarray]:
    """``blocks`` (float32 ``[channels, n]``) with ``level``'s gain and limiter applied; as long as the input."""
    scale = np.float32(10.0 ** (level.gain_db / 20.0))
    limiter = (TruePeakLimiter(sample_rate, channels, level.limiter_ceiling_db)
               if level.limiter_ceiling_db is not None else None)
    for block in blocks:
        out = block * scale if level.gain_db else block
        if limiter is not None:
            out = limiter.process(out)
        if out.shape[1]:
            yield out
    if limiter is not None:
        rest = limiter.flush()
        if rest.shape[1]:
            yield rest


def _measure(source: Source, sample_rate: int, channels: int, gain_db: float, ceiling: float | None) -> Level:
    """One pass: the loudness and true peak of the source at ``gain_db`` through a limiter at ``ceiling``."""
    loud, peak = LoudnessMeter(sample_rate, channels), TruePeakMeter(sample_rate, channels)
    level = Level(gain_db=gain_db, limiter_ceiling_db=ceiling)
    limiter_probe = TruePeakLimiter(sample_rate, channels, ceiling) if ceiling is not None else None
    scale = np.float32(10.0 ** (gain_db / 20.0))
    for block in source():
        out = block * scale
        if limiter_probe is not None:
            out = limiter_probe.process(out)
        loud.add(out)
        peak.add(out)
    if limiter_probe is not None:
        rest = limiter_probe.flush()
        loud.add(rest)
        peak.add(rest)
        level.limiting_db = limiter_probe.gain_reduction_db
    level.loudness_lufs, level.true_peak_db = float(loud.integrated()), float(peak.true_peak_db())
    return level


def measure(source: Source, sample_rate: int, channels: int) -> tuple[float, float]:
    """``(loudness LUFS, true peak dBTP)`` of the signal ``source()`` yields."""
    level = _measure(source, sample_rate, channels, 0.0, None)
    return level.loudness_lufs, level.true_peak_db


def plan_level(source: Source, sample_rate: int, channels: int, *, lufs: float, true_peak_db: float,
               target: float | None, ceiling: float, limiter: bool,
               advice: str = "turn the limiter on (--limiter) to get there") -> Level:
    """The gain (and limiter) bringing a signal measured at ``lufs`` / ``true_peak_db`` to ``target``
    LUFS under ``ceiling`` dBTP; see the module doc. ``source()`` yields its blocks."""
    if target is None:
        return Level(loudness_lufs=lufs, true_peak_db=true_peak_db)
    if lufs <= SILENCE_LUFS:
        return Level(loudness_lufs=lufs, true_peak_db=true_peak_db,
                     notes=[f"the mix is silent (below {SILENCE_LUFS:g} LUFS); its level is left as is"])
    gain = target - lufs
    if true_peak_db + gain <= ceiling:
        return Level(gain_db=gain, loudness_lufs=target, true_peak_db=true_peak_db + gain)
    if not limiter:
        allowed = ceiling - true_peak_db - _HAIR_DB
        return Level(gain_db=allowed, loudness_lufs=lufs + allowed, true_peak_db=true_peak_db + allowed,
                     notes=[_shortfall(target, lufs + allowed, ceiling, f"the true-peak ceiling stops the gain; {advice}")])
    return _search(source, sample_rate, channels, lufs, true_peak_db, target, ceiling)


def _search(source: Source, sample_rate: int, channels: int, lufs: float, true_peak_db: float, target: float,
            ceiling: float) -> Level:
    """Gain and limiter ceiling for ``target`` (see the module doc)."""
    most = ceiling - true_peak_db + MAX_LIMITING_DB  # the gain that drives the peaks MAX_LIMITING_DB into the limiter
    limiter_ceiling = ceiling - _FIRST_MARGIN_DB
    gain = min(target - lufs, most)
    previous: Level | None = None
    best: Level | None = None
    for _ in range(MAX_PASSES):
        level = _measure(source, sample_rate, channels, gain, limiter_ceiling)
        if level.true_peak_db > ceiling - _HAIR_DB:  # inter-sample overs: lower the limiter's ceiling
            limiter_ceiling -= level.true_peak_db - ceiling + 2 * _HAIR_DB
            previous = None
            continue
        best = level
        missed = target - level.loudness_lufs
        if abs(missed) <= TOLERANCE_LU or (missed > 0 and gain >= most):
            break
        slope = 1.0
        if previous is not None and abs(gain - previous.gain_db) > 1e-6:
            slope = (level.loudness_lufs - previous.loudness_lufs) / (gain - previous.gain_db)
        previous = level
        gain = min(gain + missed / min(max(slope, 0.1), 1.0), most)
    if best is None:  # every pass crossed the ceiling: keep the last, quieter, ceiling's result
        best = _measure(source, sample_rate, channels, gain, limiter_ceiling - 0.1)
    if target - best.loudness_lufs > TOLERANCE_LU:
        best.notes.append(_shortfall(target, best.loudness_lufs, ceiling,
                                     f"the limiter takes at most {MAX_LIMITING_DB:g} dB off the peaks"))
    return best


def _shortfall(target: float, reached: float, ceiling: float, why: str) -> str:
    return (f"loudness target {target:g} LUFS missed by {target - reached:.2f} LU ({reached:.2f} LUFS under "
            f"{ceiling:g} dBTP): {why}")

