"""Ardour's panners and gain stages against the renderer's pan law and gain.

Pans are -1 (left) .. +1 (right), Ardour azimuths 0 (left) .. 1 (right), gains linear unless
named ``_db``. The mapping and why it sounds like the render: ``docs/formats.md`` (Ardour).
"""

from __future__ import annotations

import math

from daw_bridge.errors import SessionWriteError
from daw_bridge.panlaw import CONSTANT_POWER_LAW_DB, pan_gains

#: Ardour's mono panner law constant: ``2 - 4 * 10**(-3/20)`` (its -3 dB law).
ARDOUR_PAN_SCALE: float = 2.0 - 4.0 * 10.0 ** (-3.0 / 20.0)

MONO_PANNER_URI = "http://ardour.org/plugin/panner_1in2out"
STEREO_PANNER_URI = "http://ardour.org/plugin/panner_2in2out"
BALANCE_PANNER_URI = "http://ardour.org/plugin/panner_balance"

MAX_FADER_GAIN = 2.0  # Ardour's default "max-gain" (+6.02 dB)
MAX_TRIM_GAIN = 10.0  # the trim knob's range is -20 .. +20 dB


def ardour_mono_pan_gains(azimuth: float) -> tuple[float, float]:
    """Left and right factors of Ardour's mono panner ("Equal Power Mono") at ``azimuth`` (0..1)."""
    if not 0.0 <= azimuth <= 1.0:
        raise ValueError(f"azimuth must be in [0, 1], got {azimuth}")
    s = ARDOUR_PAN_SCALE
    pr = azimuth
    pl = 1.0 - azimuth
    return pl * (s * pl + 1.0 - s), pr * (s * pr + 1.0 - s)


def _azimuth_for_ratio(ratio: float) -> float:
    """The azimuth ``a`` in [0, 0.5] with ``R(a) / L(a) == ratio`` (``ratio`` in [0, 1]).

    ``R(a) = ratio * L(a)`` is ``s(1-ratio) a^2 + ((1-s) + ratio(1+s)) a - ratio = 0``; the root in
    [0, 1] is ``2 ratio / (B + sqrt(B^2 + 4 A ratio))`` (no cancellation: ``B > 0``).
    """
    s = ARDOUR_PAN_SCALE
    a_coef = s * (1.0 - ratio)
    b_coef = (1.0 - s) + ratio * (1.0 + s)
    return 2.0 * ratio / (b_coef + math.sqrt(b_coef * b_coef + 4.0 * a_coef * ratio))


def mono_pan_to_ardour(pan: float, law_db: float = CONSTANT_POWER_LAW_DB) -> tuple[float, float]:
    """Ardour azimuth and level factor ``k`` for a mono track at ``pan`` under ``law_db``.

    ``pan_gains(pan, law_db) == k * ardour_mono_pan_gains(azimuth)``: Ardour's track gain is
    the plan's linear gain times ``k``. Hard left, centre and hard right give azimuth 0, 0.5, 1.
    """
    left, right = pan_gains(pan, law_db)
    if pan == 0.0:
        azimuth = 0.5
    elif right == 0.0:
        azimuth = 0.0
    elif left == 0.0:
        azimuth = 1.0
    elif left >= right:
        azimuth = _azimuth_for_ratio(right / left)
    else:
        azimuth = 1.0 - _azimuth_for_ratio(left / right)
    ard_left, ard_right = ardour_mono_pan_gains(azimuth)
    k = left / ard_left if left >= right else right / ard_right
    return azimuth, k


def ardour_to_mono_pan(azimuth: float, law_db: float = CONSTANT_POWER_LAW_DB) -> tuple[float, float]:
    """The plan pan for Ardour's mono panner at ``azimuth``, and the level factor ``k``.

    The inverse of :func:`mono_pan_to_ardour`: the plan's linear gain is Ardour's gain / ``k``.
    """
    azimuth = min(max(float(azimuth), 0.0), 1.0)
    pan, m = pan_for_factors(*ardour_mono_pan_gains(azimuth), law_db)
    return pan, 1.0 / m


def pan_for_factors(left: float, right: float, law_db: float) -> tuple[float, float]:
    """``(pan, m)`` with ``(left, right) == m * pan_gains(pan, law_db)`` (a mono source's factors)."""
    if not -6.0 <= law_db < 0.0:
        raise ValueError(f"pan law must be in [-6, 0) dB, got {law_db}")
    if left == right:
        pan = 0.0
    elif right == 0.0:
        pan = -1.0
    elif left == 0.0:
        pan = 1.0
    else:
        power = law_db / CONSTANT_POWER_LAW_DB
        theta = math.atan2(right ** (1.0 / power), left ** (1.0 / power))
        pan = min(max(4.0 * theta / math.pi - 1.0, -1.0), 1.0)
    pl, pr = pan_gains(pan, law_db)
    m = left / pl if pl >= pr else right / pr
    return pan, m


def balance_azimuth(pan: float) -> float:
    """The "Stereo Balance" panner's azimuth for a plan pan."""
    return 0.5 if pan == 0.0 else (pan + 1.0) / 2.0


def balance_pan(azimuth: float) -> float:
    """The plan pan of a "Stereo Balance" azimuth."""
    return 0.0 if azimuth == 0.5 else min(max(2.0 * azimuth - 1.0, -1.0), 1.0)


def gain_to_db(gain: float) -> float:
    """A linear gain in dB (``-inf`` for 0)."""
    return 20.0 * math.log10(gain) if gain > 0 else -math.inf


def split_gain(gain: float, track: str) -> tuple[float, float]:
    """(fader, trim) linear gains with ``fader * trim == gain`` within Ardour's ranges."""
    if gain <= MAX_FADER_GAIN:
        return gain, 1.0
    trim = gain / MAX_FADER_GAIN
    if trim > MAX_TRIM_GAIN:
        raise SessionWriteError(
            f"track {track!r} needs {gain_to_db(gain):+.2f} dB in Ardour, more than its fader and trim allow "
            f"({gain_to_db(MAX_FADER_GAIN * MAX_TRIM_GAIN):+.2f} dB); lower the track's gain_db"
        )
    return MAX_FADER_GAIN, trim
