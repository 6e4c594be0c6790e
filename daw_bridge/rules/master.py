"""Measuring tracks and calibrating the master chain so the render reaches its loudness under the ceiling."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from daw_bridge.audio import SILENCE_LUFS
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter
from daw_bridge.rules.tables import (
    BUS_COMP,
    BUS_COMP_ABOVE_LU,
    LIMITER_RELEASE_MS,
    LIMITER_THRESHOLD_DB,
    MAX_LIMITER_DRIVE_DB,
    OUTPUT_MARGIN_DB,
)

#: Crest headroom kept for the renderer's normalisation (dB).
_CREST_MARGIN_DB: float = 0.1
_MAX_CALIBRATION_STEPS: int = 24


def render_alone(session: Any, track: Any) -> float:
    """Integrated loudness (LUFS) of ``track`` rendered alone: its chain and pan, at 0 dB."""
    from daw_bridge.render import render

    solo = track.model_copy(update={"gain_db": 0.0, "mute": False, "solo": False})
    alone = session.model_copy(update={"tracks": [solo], "master": [], "target_lufs": None})
    result = render(alone, None, normalize=False, tail_s=0.0, threads=1)
    return float(result.loudness_before_lufs)


def _measure(audio: np.ndarray, rate: int) -> tuple[float, float]:
    loud = LoudnessMeter(rate, audio.shape[0])
    peak = TruePeakMeter(rate, audio.shape[0])
    loud.add(audio)
    peak.add(audio)
    return float(loud.integrated()), float(peak.true_peak_db())


def _master_chain(pre_gain: float, comp_threshold: float, ceiling: float) -> list[Any]:
    from daw_bridge.session import PluginSpec

    return [
        PluginSpec(kind="builtin", name="Gain", params={"gain_db": round(pre_gain, 4)}),
        PluginSpec(kind="builtin", name="Compressor", params={"threshold_db": round(comp_threshold, 4), **BUS_COMP}),
        PluginSpec(
            kind="builtin",
            name="Limiter",
            params={"threshold_db": LIMITER_THRESHOLD_DB, "release_ms": LIMITER_RELEASE_MS},
        ),
        PluginSpec(kind="builtin", name="Gain", params={"gain_db": round(ceiling - OUTPUT_MARGIN_DB, 4)}),
    ]


def _run_chain(specs: list[Any], audio: np.ndarray, rate: int) -> np.ndarray:
    import pedalboard

    from daw_bridge.plugins import make_plugin

    board = pedalboard.Pedalboard([make_plugin(s) for s in specs])
    return board(audio, rate)


def calibrate_master(session: Any, target: float, ceiling: float, notes: list[str]) -> list[Any]:
    """The master chain whose output the renderer can bring to ``target`` under ``ceiling``."""
    from daw_bridge.render import render

    bus = session.model_copy(update={"master": [], "target_lufs": None})
    summed = render(bus, None, normalize=False, threads=1).audio
    rate = session.sample_rate
    lufs, _peak = _measure(summed, rate)
    if lufs <= SILENCE_LUFS:
        notes.append("the summed tracks are silent: no master chain")
        return []
    # the limiter lifts what lies below its threshold by about 3.75 - threshold dB
    lift = 3.75 - LIMITER_THRESHOLD_DB
    start = target - lufs - lift - (ceiling - OUTPUT_MARGIN_DB)
    allowed = ceiling - target - _CREST_MARGIN_DB
    pre_gain = start
    chain: list[Any] = []
    crest = math.inf
    for _ in range(_MAX_CALIBRATION_STEPS):
        chain = _master_chain(pre_gain, lufs + pre_gain + BUS_COMP_ABOVE_LU, ceiling)
        out_lufs, out_peak = _measure(_run_chain(chain, summed, rate), rate)
        crest = out_peak - out_lufs
        if crest <= allowed:
            break
        if pre_gain >= start + MAX_LIMITER_DRIVE_DB:
            notes.append(
                f"master: the mix's crest stays at {crest:.1f} dB with the limiter driven "
                f"{MAX_LIMITER_DRIVE_DB:.0f} dB harder; the render will miss {target:.1f} LUFS "
                f"to keep the ceiling {ceiling:.1f} dBTP"
            )
            break
        pre_gain = min(start + MAX_LIMITER_DRIVE_DB, pre_gain + max(0.25, 1.5 * (crest - allowed)))
    else:
        notes.append(
            f"master: the mix's crest stays at {crest:.1f} dB after the limiter; the target "
            f"{target:.1f} LUFS will be missed to keep the ceiling {ceiling:.1f} dBTP"
        )
    notes.append(
        f"master: summed tracks at {lufs:.1f} LUFS; input gain {pre_gain:+.1f} dB "
        f"({pre_gain - start:+.1f} dB of it to make the crest fit {target:.1f} LUFS under {ceiling:.1f} dBTP)"
    )
    return chain
