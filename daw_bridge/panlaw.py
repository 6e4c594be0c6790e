"""The pan law and level conversions every renderer, writer and generator shares (torch-free).

A mono source at ``pan`` (-1 hard left .. +1 hard right) gets amplitude factors
``L = cos(theta)``, ``R = sin(theta)`` with ``theta = (pan + 1) * pi / 4``: constant power,
-3.01 dB per side at centre (the "-3 dB" law DAWs name). Other laws raise both factors to
``law_db / -3``. The differentiable console (:mod:`automix.console.model`) is the torch twin
of :func:`pan_gains` (tested equal).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CONSTANT_POWER_LAW_DB", "db_to_gain", "pan_from_gains", "pan_gains", "pan_gains_array"]

#: The default pan law: constant power, -3 dB at centre.
CONSTANT_POWER_LAW_DB: float = -3.0


def db_to_gain(db: float) -> float:
    """Linear amplitude factor of a level in dB: ``10 ** (db / 20)``; ``-inf`` gives 0."""
    if db == -math.inf:
        return 0.0
    return 10.0 ** (db / 20.0)


def pan_gains(pan: float, law_db: float = CONSTANT_POWER_LAW_DB) -> tuple[float, float]:
    """Left and right amplitude factors of a mono source at ``pan`` (-1 left .. +1 right).

    Hard left is exactly ``(1, 0)``, hard right ``(0, 1)``. ``law_db`` must be in ``[-6, 0)``:
    -3 constant power, -6 the linear law (``cos**2``/``sin**2``), -4.5 the compromise.
    """
    if not -1.0 <= pan <= 1.0 or math.isnan(pan):
        raise ValueError(f"pan must be in [-1, 1], got {pan}")
    if not -6.0 <= law_db < 0.0:
        raise ValueError(f"pan law must be in [-6, 0) dB, got {law_db}")
    if pan == -1.0:
        return 1.0, 0.0
    if pan == 1.0:
        return 0.0, 1.0
    theta = (pan + 1.0) * math.pi / 4.0
    left, right = math.cos(theta), math.sin(theta)
    power = law_db / CONSTANT_POWER_LAW_DB
    if power != 1.0:
        left, right = left**power, right**power
    return left, right


def pan_gains_array(pans: np.ndarray) -> np.ndarray:
    """:func:`pan_gains` (constant power) of many pans at once: ``[n]`` -> ``[n, 2]`` float64."""
    theta = (np.clip(np.asarray(pans, dtype=np.float64), -1.0, 1.0) + 1.0) * (math.pi / 4.0)
    gains = np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    gains[np.asarray(pans) <= -1.0] = (1.0, 0.0)
    gains[np.asarray(pans) >= 1.0] = (0.0, 1.0)
    return gains


def pan_from_gains(left: float, right: float) -> tuple[float, float]:
    """The inverse of ``gain x pan_gains(pan)`` (constant power): ``(gain_db, pan)``.

    ``left``, ``right`` >= 0 are a source's amplitude factors in the two channels; both zero
    gives ``(-inf, 0.0)``.
    """
    left, right = max(float(left), 0.0), max(float(right), 0.0)
    gain = math.hypot(left, right)
    if gain == 0.0:
        return -math.inf, 0.0
    theta = math.atan2(right, left)  # in [0, pi/2]
    return 20.0 * math.log10(gain), min(1.0, max(-1.0, theta * 4.0 / math.pi - 1.0))
