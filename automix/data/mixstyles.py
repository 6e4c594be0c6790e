"""Engineer-like target mixes: named mixing styles, their parameters drawn per take, and the chain
that renders them (torch-free, ``pedalboard``).

A *mixing style* (:class:`MixStyleSpec`, the recipe's ``mix_styles``) is a weight and the ranges
of every parameter of one way of mixing drums. The default recipe has three:

* ``balance``: faders around the recorded levels, pans by role, a corrective high-pass per
  channel; no EQ boosts, no dynamics; a modest reverb for the wet mix; loudness-normalised with
  no limiter;
* ``light``: the same plus gentle EQ (a few dB), gentle compression on kick and snare some of
  the time, an occasional glue compressor on the bus;
* ``produced``: the heavy chain the generator always used before (gates on toms, deep EQ,
  kick/snare compression, a bus compressor and a limiter).

For each take :func:`sample_mix_params` draws one style's parameters (rounded, JSON-ready; every
parameter of every slot is saved in the take's annotation, so a console mixer can learn them) and
:func:`mix_stems` renders the dry and wet mixes from the stems with them. The chain per slot:
optional gate, EQ bands, optional compressor, fader, constant-power pan (L = cos, R = sin of
(pan + 1) pi / 4), summed to a stereo bus; the wet mix adds post-fader, post-pan reverb sends
into one stereo reverb (pre-delay, ``pedalboard.Reverb`` fully wet, return high- and low-pass,
return level). Bus: optional compressor, loudness normalisation (BS.1770), optional limiter,
normalised again, and scaled to the peak ceiling if still louder. Pans are drawn from the
drummer's perspective and mirrored for an audience perspective.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pedalboard
from pydantic import Field, field_validator

from automix.data._strict import Range, Strict
from daw_bridge.audio import SILENCE_LUFS
from daw_bridge.loudness import measure_loudness, normalize_loudness
from daw_bridge.stems import DRUM_SLOTS

__all__ = [
    "PAN_LAW",
    "BusSpec",
    "DynamicsSpec",
    "EqBandSpec",
    "LimiterSpec",
    "MixStyleSpec",
    "ReverbSpec",
    "SlotSpec",
    "draw",
    "mix_stems",
    "sample_mix_params",
]

SR = 44100
PAN_LAW = "constant power: L = cos((pan + 1) pi / 4), R = sin((pan + 1) pi / 4)"


class EqBandSpec(Strict):
    """One EQ band: a pedalboard filter (``highpass``/``lowpass`` are first order, 6 dB/octave)."""

    type: Literal["highpass", "lowpass", "lowshelf", "highshelf", "peak"]
    freq_hz: Range
    gain_db: Range = (0.0, 0.0)
    q: Range = (0.7071, 0.7071)
    probability: float = Field(default=1.0, ge=0, le=1)


class DynamicsSpec(Strict):
    """A compressor or gate (``pedalboard.Compressor`` / ``pedalboard.NoiseGate``)."""

    threshold_db: Range
    ratio: Range
    attack_ms: Range
    release_ms: Range
    probability: float = Field(default=1.0, ge=0, le=1)


class SlotSpec(Strict):
    """One mic slot's channel strip."""

    gain_db: Range
    pan: Range  # drummer's perspective, -1 left .. +1 right
    eq: list[EqBandSpec] = []
    compressor: DynamicsSpec | None = None
    gate: DynamicsSpec | None = None
    reverb_send_db: Range


class LimiterSpec(Strict):
    threshold_db: Range
    release_ms: Range


class BusSpec(Strict):
    compressor: DynamicsSpec | None = None
    limiter: LimiterSpec | None = None
    target_lufs: float = Field(le=0)
    peak_ceiling_db: float = Field(le=0)


class ReverbSpec(Strict):
    room_size: Range
    damping: Range
    width: Range
    pre_delay_ms: Range
    return_highpass_hz: Range
    return_lowpass_hz: Range
    return_gain_db: Range


class MixStyleSpec(Strict):
    """One mixing style: how often it is drawn (weight) and the ranges of its parameters."""

    weight: float = Field(ge=0)
    description: str = ""
    slots: dict[str, SlotSpec]
    link_overheads: bool = True  # overhead_R mirrors overhead_L's pan and copies its strip
    perspective_flip_probability: float = Field(ge=0, le=1)
    bus: BusSpec
    reverb: ReverbSpec

    @field_validator("slots")
    @classmethod
    def _all_slots(cls, slots: dict[str, SlotSpec]) -> dict[str, SlotSpec]:
        if set(slots) != set(DRUM_SLOTS):
            raise ValueError(f"slots must be exactly {', '.join(DRUM_SLOTS)}; got {', '.join(slots)}")
        return slots


def draw(rng: np.random.Generator, bounds: Sequence[float], digits: int = 2) -> float:
    """A uniform draw in ``bounds`` rounded to ``digits`` (the bound itself for an empty range)."""
    lo, hi = float(bounds[0]), float(bounds[1])
    return round(lo if hi <= lo else float(rng.uniform(lo, hi)), digits)


def _draw_dynamics(rng, spec: DynamicsSpec | None) -> dict | None:
    if spec is None:
        return None
    use = rng.random() < spec.probability  # drawn even when certain: keeps the stream aligned
    values = {"threshold_db": draw(rng, spec.threshold_db), "ratio": draw(rng, spec.ratio),
              "attack_ms": draw(rng, spec.attack_ms), "release_ms": draw(rng, spec.release_ms)}
    return values if use else None


def sample_mix_params(rng: np.random.Generator, spec: MixStyleSpec, slots: Sequence[str], *,
                      style: str = "") -> dict:
    """Draw one take's dry and wet chain parameters (rounded, JSON-ready) of ``spec`` for ``slots``."""
    flip = bool(rng.random() < spec.perspective_flip_probability)
    strips: dict[str, dict] = {}
    for slot in DRUM_SLOTS:  # always draw every slot: the same seed gives the same strips
        s = spec.slots[slot]
        eq = []
        for band in s.eq:
            use = rng.random() < band.probability
            values = {"type": band.type, "freq_hz": draw(rng, band.freq_hz, 1), "gain_db": draw(rng, band.gain_db),
                      "q": draw(rng, band.q, 3)}
            if band.type in ("highpass", "lowpass"):
                del values["gain_db"], values["q"]
            if use:
                eq.append(values)
        pan = draw(rng, s.pan, 3)
        strips[slot] = {
            "gain_db": draw(rng, s.gain_db),
            "pan": -pan if flip else pan,
            "eq": eq,
            "gate": _draw_dynamics(rng, s.gate),
            "compressor": _draw_dynamics(rng, s.compressor),
            "reverb_send_db": draw(rng, s.reverb_send_db),
        }
    if spec.link_overheads:
        left = strips["overhead_L"]
        strips["overhead_R"] = {**json.loads(json.dumps(left)), "pan": -left["pan"]}
    rv = spec.reverb
    bus = spec.bus
    limiter = None
    if bus.limiter is not None:
        limiter = {"threshold_db": draw(rng, bus.limiter.threshold_db), "release_ms": draw(rng, bus.limiter.release_ms)}
    return {
        "style": style,
        "perspective": "audience" if flip else "drummer",
        "pan_law": PAN_LAW,
        "slots": {slot: strips[slot] for slot in slots},
        "bus": {
            "compressor": _draw_dynamics(rng, bus.compressor),
            "limiter": limiter,
            "target_lufs": bus.target_lufs,
            "peak_ceiling_db": bus.peak_ceiling_db,
        },
        "reverb": {
            "room_size": draw(rng, rv.room_size, 3), "damping": draw(rng, rv.damping, 3),
            "width": draw(rng, rv.width, 3), "pre_delay_ms": draw(rng, rv.pre_delay_ms, 1),
            "return_highpass_hz": draw(rng, rv.return_highpass_hz, 1),
            "return_lowpass_hz": draw(rng, rv.return_lowpass_hz, 1),
            "return_gain_db": draw(rng, rv.return_gain_db),
            "wet_level": 1.0, "dry_level": 0.0,
        },
    }


def _eq_plugin(band: dict):
    kind, freq = band["type"], band["freq_hz"]
    if kind == "highpass":
        return pedalboard.HighpassFilter(cutoff_frequency_hz=freq)
    if kind == "lowpass":
        return pedalboard.LowpassFilter(cutoff_frequency_hz=freq)
    cls = {"lowshelf": pedalboard.LowShelfFilter, "highshelf": pedalboard.HighShelfFilter,
           "peak": pedalboard.PeakFilter}[kind]
    return cls(cutoff_frequency_hz=freq, gain_db=band["gain_db"], q=band["q"])


def _strip_board(strip: dict) -> pedalboard.Pedalboard:
    plugins = []
    if strip.get("gate"):
        plugins.append(pedalboard.NoiseGate(**strip["gate"]))
    plugins += [_eq_plugin(band) for band in strip["eq"]]
    if strip.get("compressor"):
        plugins.append(pedalboard.Compressor(**strip["compressor"]))
    plugins.append(pedalboard.Gain(gain_db=strip["gain_db"]))
    return pedalboard.Pedalboard(plugins)


def _pan_gains(pan: float) -> tuple[float, float]:
    theta = (pan + 1.0) * math.pi / 4.0
    return math.cos(theta), math.sin(theta)


def _master(bus: np.ndarray, params: dict) -> tuple[np.ndarray, dict]:
    """Bus chain: optional compressor, loudness, optional limiter, loudness, peak ceiling. ``bus`` is [2, T]."""
    spec = params["bus"]
    x = bus.astype(np.float32)
    if spec["compressor"]:
        x = pedalboard.Compressor(**spec["compressor"])(x, SR)
    x, gain_db = normalize_loudness(x, SR, spec["target_lufs"])
    gain2_db = 0.0
    if spec.get("limiter"):
        x = pedalboard.Limiter(**spec["limiter"])(x, SR)
        for _ in range(4):  # BS.1770's absolute gate (-70 LUFS) makes loudness not quite scale-invariant
            x, step_db = normalize_loudness(x, SR, spec["target_lufs"])
            gain2_db += step_db
            if abs(step_db) < 0.005:
                break
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    ceiling = 10 ** (spec["peak_ceiling_db"] / 20)
    limited = peak > ceiling
    if limited:
        x = x * np.float32(ceiling / peak)
    lufs = measure_loudness(x, SR)
    return x.astype(np.float32), {
        "loudness_gain_db": round(gain_db + gain2_db, 4),
        "peak_limited": bool(limited),
        "peak_dbfs": round(20 * math.log10(max(float(np.max(np.abs(x))), 1e-12)), 3),
        "integrated_lufs": round(lufs, 3) if lufs > SILENCE_LUFS else None,
    }


def mix_stems(stems: dict[str, np.ndarray], params: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Dry and wet stereo mixes ``[2, T]`` float32 of mono ``stems`` with ``params``
    (:func:`sample_mix_params`), and what the bus chains did (gains, peaks, loudness)."""
    length = next(iter(stems.values())).shape[-1]
    dry = np.zeros((2, length), dtype=np.float64)
    send = np.zeros((2, length), dtype=np.float64)
    for slot, strip in params["slots"].items():
        y = _strip_board(strip)(np.asarray(stems[slot], dtype=np.float32)[None, :], SR)[0].astype(np.float64)
        gl, gr = _pan_gains(strip["pan"])
        dry[0] += gl * y
        dry[1] += gr * y
        g = 10 ** (strip["reverb_send_db"] / 20)
        send[0] += g * gl * y
        send[1] += g * gr * y
    rv = params["reverb"]
    plugins = []
    if rv["pre_delay_ms"] > 0:
        plugins.append(pedalboard.Delay(delay_seconds=rv["pre_delay_ms"] / 1000, feedback=0.0, mix=1.0))
    plugins += [
        pedalboard.Reverb(room_size=rv["room_size"], damping=rv["damping"], wet_level=rv["wet_level"],
                          dry_level=rv["dry_level"], width=rv["width"]),
        pedalboard.HighpassFilter(cutoff_frequency_hz=rv["return_highpass_hz"]),
        pedalboard.LowpassFilter(cutoff_frequency_hz=rv["return_lowpass_hz"]),
        pedalboard.Gain(gain_db=rv["return_gain_db"]),
    ]
    reverb = pedalboard.Pedalboard(plugins)(send.astype(np.float32), SR).astype(np.float64)
    dry_mix, dry_info = _master(dry, params)
    wet_mix, wet_info = _master(dry + reverb, params)
    return dry_mix, wet_mix, {"dry": dry_info, "wet": wet_info}
