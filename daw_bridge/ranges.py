"""Mixing parameters, declared once: the ranges shared by the mix plan and the console.

Details: ``docs/ranges.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONSOLE_RANGES",
    "FADER_DB",
    "PAN",
    "PLAN_PLACES",
    "ParamRange",
    "check_console_ranges",
]


#: Limits of built-in effects' parameters, ``{class: {parameter: (min, max)}}``: the ranges
#: pedalboard itself enforces (it raises ValueError outside them) and the ones outside which
#: the effect makes no sense or misbehaves (a filter at 0 Hz or below, a negative time).
#: Filters' cutoffs must also stay below the Nyquist frequency of the rate they run at
#: (pedalboard's filters put out inf above it): :func:`check_plugins` checks that.
BUILTIN_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "Compressor": {"ratio": (1.0, math.inf), "attack_ms": (0.0, math.inf), "release_ms": (0.0, math.inf)},
    "NoiseGate": {"ratio": (1.0, math.inf), "attack_ms": (0.0, math.inf), "release_ms": (0.0, math.inf)},
    "Limiter": {"threshold_db": (-math.inf, 0.0), "release_ms": (0.0, math.inf)},
    "Reverb": {
        "room_size": (0.0, 1.0),
        "damping": (0.0, 1.0),
        "wet_level": (0.0, 1.0),
        "dry_level": (0.0, 1.0),
        "width": (0.0, 1.0),
        "freeze_mode": (0.0, 1.0),
    },
    "Delay": {"delay_seconds": (0.0, 30.0), "feedback": (0.0, 1.0), "mix": (0.0, 1.0)},
    "Chorus": {"mix": (0.0, 1.0), "depth": (0.0, 1.0), "centre_delay_ms": (0.0, math.inf), "rate_hz": (0.0, 100.0)},
    "Phaser": {"mix": (0.0, 1.0), "depth": (0.0, 1.0), "rate_hz": (0.0, 100.0), "centre_frequency_hz": (0.0, math.inf)},
    "Bitcrush": {"bit_depth": (0.0, 32.0)},
    "HighpassFilter": {"cutoff_frequency_hz": (1e-3, math.inf)},
    "LowpassFilter": {"cutoff_frequency_hz": (1e-3, math.inf)},
    "LowShelfFilter": {"cutoff_frequency_hz": (1e-3, math.inf), "q": (1e-3, math.inf)},
    "HighShelfFilter": {"cutoff_frequency_hz": (1e-3, math.inf), "q": (1e-3, math.inf)},
    "PeakFilter": {"cutoff_frequency_hz": (1e-3, math.inf), "q": (1e-3, math.inf)},
    "LadderFilter": {"cutoff_hz": (1e-3, math.inf), "resonance": (0.0, 1.0), "drive": (1.0, math.inf)},
    "PitchShift": {"semitones": (-72.0, 72.0)},
}


@dataclass(frozen=True)
class ParamRange:
    """One parameter: ``minimum``..``maximum`` (physical units), ``default``, ``unit``,
    ``scale`` (``"lin"`` or ``"log"``: the axis an optimiser's sigmoid maps onto)."""

    minimum: float
    maximum: float
    default: float
    unit: str
    scale: Literal["lin", "log"] = "lin"

    def contains(self, value: float) -> bool:
        return math.isfinite(value) and self.minimum <= value <= self.maximum


#: A track's fader in a plan, dB (-120 is "off").
FADER_DB = ParamRange(-120.0, 24.0, 0.0, "dB")
#: A track's pan in a plan: -1 left, 0 centre, +1 right.
PAN = ParamRange(-1.0, 1.0, 0.0, "")

_SQRT_HALF = 0.7071067811865476

#: The console's parameters (track and master bus), in console order.
CONSOLE_RANGES: dict[str, ParamRange] = {
    "gain_db": ParamRange(-60.0, 24.0, 0.0, "dB"),
    "pan": ParamRange(PAN.minimum, PAN.maximum, PAN.default, PAN.unit),
    "low_shelf_gain_db": ParamRange(-24.0, 24.0, 0.0, "dB"),
    "low_shelf_freq_hz": ParamRange(20.0, 2000.0, 100.0, "Hz", "log"),
    "low_shelf_q": ParamRange(0.1, 10.0, _SQRT_HALF, "", "log"),
    "peak1_gain_db": ParamRange(-24.0, 24.0, 0.0, "dB"),
    "peak1_freq_hz": ParamRange(20.0, 20000.0, 500.0, "Hz", "log"),
    "peak1_q": ParamRange(0.1, 10.0, _SQRT_HALF, "", "log"),
    "peak2_gain_db": ParamRange(-24.0, 24.0, 0.0, "dB"),
    "peak2_freq_hz": ParamRange(20.0, 20000.0, 3000.0, "Hz", "log"),
    "peak2_q": ParamRange(0.1, 10.0, _SQRT_HALF, "", "log"),
    "high_shelf_gain_db": ParamRange(-24.0, 24.0, 0.0, "dB"),
    "high_shelf_freq_hz": ParamRange(500.0, 20000.0, 8000.0, "Hz", "log"),
    "high_shelf_q": ParamRange(0.1, 10.0, _SQRT_HALF, "", "log"),
    "comp_threshold_db": ParamRange(-60.0, 0.0, 0.0, "dB"),
    "comp_ratio": ParamRange(1.0, 20.0, 1.0, "", "log"),
    "comp_attack_ms": ParamRange(0.1, 200.0, 10.0, "ms", "log"),
    "comp_release_ms": ParamRange(5.0, 2000.0, 100.0, "ms", "log"),
    "comp_knee_db": ParamRange(0.0, 24.0, 0.0, "dB"),
    "comp_makeup_db": ParamRange(-12.0, 24.0, 0.0, "dB"),
}

_EQ_BANDS = (("low_shelf", "LowShelfFilter"), ("peak1", "PeakFilter"), ("peak2", "PeakFilter"), ("high_shelf", "HighShelfFilter"))

#: Where each console parameter lives in a plan: ``("track", field)`` or ``(plugin, parameter)``
#: of a pedalboard built-in; ``None`` where a plan has no equivalent (the knee: pedalboard's
#: compressor is hard-knee, and the console notes it when writing a plan).
PLAN_PLACES: dict[str, tuple[str, str] | None] = {
    "gain_db": ("track", "gain_db"),
    "pan": ("track", "pan"),
    **{
        f"{band}_{what}": (plugin, param)
        for band, plugin in _EQ_BANDS
        for what, param in (("gain_db", "gain_db"), ("freq_hz", "cutoff_frequency_hz"), ("q", "q"))
    },
    "comp_threshold_db": ("Compressor", "threshold_db"),
    "comp_ratio": ("Compressor", "ratio"),
    "comp_attack_ms": ("Compressor", "attack_ms"),
    "comp_release_ms": ("Compressor", "release_ms"),
    "comp_knee_db": None,
    "comp_makeup_db": ("Gain", "gain_db"),
}


def check_console_ranges(sample_rate: float = 44100.0) -> list[str]:
    """Problems with the console's ranges against what a plan accepts (empty: none).

    Each console range must lie inside its plan place's range: :data:`FADER_DB` / :data:`PAN`
    for track fields, :data:`BUILTIN_RANGES` for plugin parameters, and
    filter frequencies under Nyquist at ``sample_rate``.
    """

    track = {"gain_db": FADER_DB, "pan": PAN}
    problems = []
    for name, r in CONSOLE_RANGES.items():
        if not (r.minimum <= r.default <= r.maximum):
            problems.append(f"{name}: default {r.default} outside [{r.minimum}, {r.maximum}]")
        if r.scale == "log" and r.minimum <= 0:
            problems.append(f"{name}: a log axis needs a positive minimum")
        place = PLAN_PLACES[name]
        if place is None:
            continue
        owner, param = place
        if owner == "track":
            lo, hi = track[param].minimum, track[param].maximum
        else:
            lo, hi = BUILTIN_RANGES.get(owner, {}).get(param, (-math.inf, math.inf))
            if param == "cutoff_frequency_hz":
                hi = min(hi, sample_rate / 2)
        if not (lo <= r.minimum and r.maximum <= hi):
            problems.append(f"{name}: [{r.minimum}, {r.maximum}] is not inside {owner}.{param}'s [{lo}, {hi}]")
    return problems
