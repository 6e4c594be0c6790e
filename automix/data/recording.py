"""A take's recording session: the room, where the kit stands, the microphones, the preamps (torch-free).

:func:`draw_setup` draws, from the recipe's ``recording`` part (:class:`RecordingSpec`) and the
take's random stream, everything a recording engineer decides before the drummer plays, and
:func:`record_take` records the take's stems at the levels that session gives them.

**Room** (``rooms``): a type by weight (a dead booth, a studio room, a live room), its size and
RT60 in the type's ranges; wall absorption from the RT60 (Eyring, :func:`automix.data.rooms.absorption_for`).

**Kit** (:func:`kit_layout`): the pieces stand as a right-handed drummer's kit does, in a frame
with the drummer's seat at the origin, ``x`` to the drummer's right, ``y`` away from the drummer,
``z`` up: kick in front, snare at the left knee, hi-hat left of it, two rack toms over the kick,
the floor tom on the right, crash high left, ride right, splash and cowbell in front. Sizes and
places are drawn around the nominal ones (a few cm; cymbal heights more); the kit stands
somewhere in the room, the drummer facing the room's length (+y).

**Close microphones** (``close_mics``; slots kick, snare, hi-hat, tom_N): a directional pattern
drawn per mic, a few cm above the head at its rim (snare from the front between hi-hat and rack
tom, rack toms from the front, the floor tom from the outside, the hi-hat from above, on the side
away from the snare), aimed into the head; the kick mic outside the resonant head or inside the
drum, aimed at the beater. Tom slots map to pieces: tom_1 the high rack tom, tom_2 the second tom,
tom_3 the floor tom.

**What the mics hear** (:func:`simulate`): the responses of :mod:`automix.data.rooms` from every
piece to every mic, with three refinements of the direct sound. Snare, toms and kick radiate like
heads, more along their axis (vertical; the kick's along the room's length). A direct path that
passes through another drum's shell is :data:`SHADOW_DB` down (:func:`shadowing`; the rack toms
hide the kick from their own mics, the kick shell isolates an inside kick mic). And a close mic
hears its own head from a few cm, not from the head's centre: its direct sound is raised by the
ratio of the two distances (:func:`near_field`), which gives the close mics the 15-25 dB of
separation between their own drum and the bleed that real ones have.

**Stereo pair** (``pair``; slots overhead_L and overhead_R, L on the drummer's left): placed over
the kit, or in the room in front of it (a room pair in the overhead slots), in one of three
techniques: a spaced pair (omni or cardioid, 0.6-1.1 m apart over the kit, 1-2.2 m in the room),
XY (coincident cardioids, 90-110 degrees) or ORTF (cardioids 17 cm apart, 110 degrees).

**Preamps** (:func:`soundcheck`): like an engineer at the soundcheck, each mic's gain is set so
that its own drum's reference hit (velocity 100) peaks at a level drawn in ``target_peak_dbfs``;
the pair's gain is set on the loudest piece it hears, the same on both sides (``linked``, with a
small knob mismatch) or per side. Levels are then kept whatever the take plays: a tom that is not
played leaves its mic with bleed only; a stem that would clip anyway is turned down to peak at
``peak_limit_dbfs`` (recorded as ``peak_lowered_db``). Each mic has a noise floor (pink, RMS in
dBFS).

All positions are rounded to the millimetre and gains to 0.01 dB before use, so a take's
annotation reproduces its stems (:func:`setup_from_dict`, :func:`record_take`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.signal as ssig
from pydantic import Field, field_validator

from automix.data import kits as kitlib
from automix.data import rooms
from automix.data._strict import Range, Strict, check_weights
from daw_bridge.errors import AutomixError

__all__ = [
    "PAIR_PLACEMENTS",
    "PAIR_TECHNIQUES",
    "SLOT_PIECE",
    "CloseMicSpec",
    "PairSpec",
    "RecordingSpec",
    "RoomTypeSpec",
    "Setup",
    "draw_setup",
    "kit_layout",
    "near_field",
    "record_take",
    "reference_peaks",
    "setup_from_dict",
    "shadowing",
    "simulate",
    "soundcheck",
]

SAMPLE_RATE = kitlib.SAMPLE_RATE
PAIR_PLACEMENTS = ("overhead", "room")
PAIR_TECHNIQUES = ("spaced", "xy", "ortf")
#: Close-mic slot -> the piece it is aimed at.
SLOT_PIECE: dict[str, str] = {"kick": "kick", "snare": "snare", "hi-hat": "hihat", "tom_1": "tom_high",
                              "tom_2": "tom_mid", "tom_3": "tom_floor"}
_CLOSE_ROLE = {"kick": "kick", "snare": "snare", "hi-hat": "hi-hat", "tom_1": "toms", "tom_2": "toms", "tom_3": "toms"}
_KIT_CENTRE = (0.0, 0.55, 0.7)  # where a pair points (kit frame)
_MARGIN = 0.3  # minimum distance of anything from a wall (m)
#: Level of a direct sound that passes through another drum's shell (dB).
SHADOW_DB = -10.0


# --------------------------------------------------------------------------------------------
# Recipe part


class RoomTypeSpec(Strict):
    """A kind of room: how often (weight), its size ranges (m) and RT60 range (s)."""

    weight: float = Field(ge=0)
    width_m: Range
    length_m: Range
    height_m: Range
    rt60_s: Range


class CloseMicSpec(Strict):
    """A close mic role: pattern weights, height above the head (cm), soundcheck peak (dBFS)."""

    patterns: dict[str, float]
    distance_cm: Range
    target_peak_dbfs: Range

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v):
        return check_weights(v, "patterns", rooms.PATTERNS)


class PairSpec(Strict):
    """The stereo pair: where (placement weights), how (technique weights per placement), spaced
    pairs' patterns, soundcheck peak, and how its two gains relate."""

    placements: dict[str, float]
    techniques: dict[str, dict[str, float]]
    spaced_patterns: dict[str, float]
    target_peak_dbfs: Range
    linked_probability: float = Field(ge=0, le=1)
    mismatch_db: Range

    @field_validator("placements")
    @classmethod
    def _placements(cls, v):
        return check_weights(v, "placements", PAIR_PLACEMENTS)

    @field_validator("techniques")
    @classmethod
    def _techniques(cls, v):
        for placement, weights in v.items():
            if placement not in PAIR_PLACEMENTS:
                raise ValueError(f"techniques: unknown placement '{placement}'")
            check_weights(weights, f"techniques.{placement}", PAIR_TECHNIQUES)
        return v

    @field_validator("spaced_patterns")
    @classmethod
    def _spaced(cls, v):
        return check_weights(v, "spaced_patterns", rooms.PATTERNS)


class RecordingSpec(Strict):
    """How takes are recorded (the recipe's ``recording``; see the module docstring)."""

    kits: list[str] | None = None  # catalogue names; None: every kit in the catalogue
    piece_trim_db: Range  # the drummer's balance: per piece, around the calibrated level
    rooms: dict[str, RoomTypeSpec]
    image_order: int = Field(default=8, ge=1, le=20)
    close_mics: dict[str, CloseMicSpec]
    kick_inside_probability: float = Field(ge=0, le=1)
    pair: PairSpec
    noise_floor_dbfs: Range
    noise_spread_db: float = Field(ge=0)
    peak_limit_dbfs: float = Field(le=0)

    @field_validator("kits")
    @classmethod
    def _kits(cls, v):
        if v is not None:
            unknown = sorted(set(v) - set(kitlib.CATALOGUE))
            if unknown or not v:
                raise ValueError(f"unknown kits {unknown}; the catalogue has: {', '.join(kitlib.CATALOGUE)}")
        return v

    @field_validator("rooms")
    @classmethod
    def _rooms(cls, v):
        check_weights({k: r.weight for k, r in v.items()}, "rooms")
        return v

    @field_validator("close_mics")
    @classmethod
    def _close(cls, v):
        if set(v) != {"kick", "snare", "hi-hat", "toms"}:
            raise ValueError(f"close_mics must be exactly kick, snare, hi-hat, toms; got {', '.join(v)}")
        return v

    def kit_list(self) -> list[str]:
        return list(kitlib.CATALOGUE) if self.kits is None else list(self.kits)


# --------------------------------------------------------------------------------------------
# Drawing


def _u(rng: np.random.Generator, lo: float, hi: float, digits: int = 3) -> float:
    return round(lo if hi <= lo else float(rng.uniform(lo, hi)), digits)


def _pick(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    names = list(weights)
    w = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _unit(v) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=np.float64)
    a = a / np.linalg.norm(a)
    return tuple(round(float(x), 4) for x in a)


def _r3(v) -> tuple[float, float, float]:
    return tuple(round(float(x), 3) for x in v)


def kit_layout(rng: np.random.Generator, pieces: Sequence[str]) -> dict[str, dict]:
    """Where each piece stands (kit frame, m) and its diameter: ``{piece: {"position": (x, y, z),
    "diameter": d, ...}}``; the kick also has ``depth`` and its batter head's ``y``."""
    u = lambda lo, hi: _u(rng, lo, hi)  # noqa: E731
    kick_d, kick_depth, batter = u(0.51, 0.61), u(0.36, 0.46), u(0.42, 0.50)
    rack_z = kick_d + u(0.18, 0.26)
    nominal = {
        "kick": ((0.0, round(batter + kick_depth / 2, 3), round(kick_d / 2, 3)), kick_d),
        "snare": ((u(-0.31, -0.24), u(0.34, 0.42), u(0.58, 0.66)), u(0.33, 0.36)),
        "hihat": ((u(-0.63, -0.54), u(0.36, 0.46), u(0.80, 0.92)), u(0.33, 0.36)),
        "tom_high": ((u(-0.20, -0.13), u(0.64, 0.72), rack_z), u(0.25, 0.31)),
        "tom_mid": ((u(0.14, 0.22), u(0.66, 0.74), round(rack_z + u(0.0, 0.04), 3)), u(0.30, 0.36)),
        "tom_floor": ((u(0.50, 0.60), u(0.33, 0.45), u(0.52, 0.60)), u(0.36, 0.46)),
        "crash": ((u(-0.58, -0.42), u(0.72, 0.88), u(1.08, 1.35)), u(0.41, 0.51)),
        "ride": ((u(0.56, 0.68), u(0.60, 0.76), u(0.92, 1.12)), u(0.51, 0.56)),
        "splash": ((u(-0.16, -0.04), u(0.84, 0.96), u(1.10, 1.30)), u(0.20, 0.30)),
        "cowbell": ((u(0.08, 0.16), round(batter + kick_depth + u(0.02, 0.06), 3), round(kick_d + u(0.02, 0.08), 3)),
                    0.15),
    }
    depths = {"snare": u(0.12, 0.16), "tom_high": u(0.20, 0.26), "tom_mid": u(0.22, 0.30), "tom_floor": u(0.36, 0.45)}
    out = {}
    for p in kitlib.PIECES:  # drawn for every piece: the same seed gives the same kit whatever is played
        pos, d = nominal[p]
        if p in pieces:
            out[p] = {"position": _r3(pos), "diameter": round(d, 3)}
            if p in depths:
                out[p].update({"depth": depths[p], "axis": (0.0, 0.0, 1.0)})
    if "kick" in out:
        out["kick"].update({"depth": kick_depth, "batter_y": batter, "axis": (0.0, 1.0, 0.0)})
    return out


def _inside_body(points: np.ndarray, info: dict) -> np.ndarray:
    """Which ``points`` ``[n, 3]`` (room coordinates) are inside a drum's shell (a cylinder)."""
    cx, cy, cz = info["position"]
    r = 0.95 * info["diameter"] / 2
    if tuple(info["axis"]) == (0.0, 1.0, 0.0):  # the kick lies along y; its position is its centre
        half = info["depth"] / 2
        return ((points[:, 0] - cx) ** 2 + (points[:, 2] - cz) ** 2 < r * r) & (np.abs(points[:, 1] - cy) < half)
    return ((points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2 < r * r) & \
        (points[:, 2] < cz - 0.005) & (points[:, 2] > cz - info["depth"])


def near_field(setup: Setup) -> dict[tuple[str, str], float]:
    """``{(piece, close mic): gain}`` for each close mic's own piece: a head is a large radiator,
    and a mic a few cm from it hears it as from the distance to the nearest part of the head
    (``d``, with a patch of a quarter of the radius: ``r = sqrt(d^2 + (R / 4)^2)``), not from
    its centre: the direct sound is raised by ``distance to the centre / r``. The timing stays
    that of the centre (the piece's source point)."""
    out = {}
    for m in setup.mics:
        piece = setup.mic_info[m.name].get("target")
        if piece not in setup.pieces:
            continue
        info = setup.pieces[piece]
        c = np.asarray(info["position"], dtype=np.float64)
        pos = np.asarray(m.position, dtype=np.float64)
        radius = info["diameter"] / 2
        if piece == "kick":  # the head the mic faces: the front head outside, the batter head inside
            inside = setup.mic_info[m.name].get("placement") == "inside"
            head_y = c[1] - info["depth"] / 2 if inside else c[1] + info["depth"] / 2
            axial = abs(pos[1] - head_y)
            radial = math.hypot(pos[0] - c[0], pos[2] - c[2])
        else:
            axial = abs(pos[2] - c[2])
            radial = math.hypot(pos[0] - c[0], pos[1] - c[1])
        nearest = math.hypot(axial, max(0.0, radial - radius))
        r = math.hypot(nearest, radius / 4)
        centre = float(np.linalg.norm(pos - c))
        if centre > r:
            out[(piece, m.name)] = centre / r
    return out


def shadowing(setup: Setup) -> dict[tuple[str, str], float]:
    """``{(piece, mic): gain}`` for direct paths that pass through another drum's shell
    (:data:`SHADOW_DB`: the shell and heads block the direct sound; reflections go round)."""
    drums = {p: info for p, info in setup.pieces.items() if "axis" in info}
    t = np.linspace(0.02, 0.98, 64)[:, None]
    out = {}
    for p, info in setup.pieces.items():
        src = np.asarray(info["position"], dtype=np.float64)
        for m in setup.mics:
            seg = src + t * (np.asarray(m.position, dtype=np.float64) - src)
            if any(_inside_body(seg, body).any() for q, body in drums.items() if q != p):
                out[(p, m.name)] = 10 ** (SHADOW_DB / 20)
    return out


@dataclasses.dataclass
class Setup:
    """Everything drawn for one take's recording (see the module docstring). Positions are in
    room coordinates (m); ``mics`` are in slot order."""

    room_type: str
    room: rooms.Room
    kit_origin: tuple[float, float, float]
    pieces: dict[str, dict]  # piece -> position (room), diameter, ...
    piece_trim_db: dict[str, float]
    mics: list[rooms.Mic]
    mic_info: dict[str, dict]  # slot -> role, target piece, placement, ...
    pair: dict
    target_peak_dbfs: dict[str, float]
    noise_floor_dbfs: dict[str, float]

    def sources(self) -> dict[str, tuple[float, float, float]]:
        return {p: tuple(info["position"]) for p, info in self.pieces.items()}

    def to_dict(self) -> dict:
        """The annotation's ``room`` and ``mics`` parts and the drummer's piece levels."""
        w, l, h = self.room.dims
        return {
            "room": {"type": self.room_type, "dimensions_m": [w, l, h], "rt60_s": self.room.rt60,
                     "absorption": self.room.absorption, "image_order": self.room.max_order,
                     "kit_origin_m": list(self.kit_origin)},
            "pieces": {p: {k: (list(v) if isinstance(v, tuple) else v) for k, v in info.items()}
                       for p, info in self.pieces.items()},
            "piece_trim_db": dict(self.piece_trim_db),
            "mics": {
                "pair": dict(self.pair),
                "slots": {m.name: {**self.mic_info[m.name], "position_m": list(m.position), "aim": list(m.aim),
                                   "pattern": m.pattern, "target_peak_dbfs": self.target_peak_dbfs[m.name],
                                   "noise_floor_dbfs": self.noise_floor_dbfs[m.name]}
                          for m in self.mics},
            },
        }


def setup_from_dict(data: Mapping) -> Setup:
    """Rebuild a :class:`Setup` from :meth:`Setup.to_dict` (a take annotation's ``recording`` part)."""
    r = data["room"]
    slots = data["mics"]["slots"]
    mics = [rooms.Mic(name, tuple(s["position_m"]), tuple(s["aim"]), s["pattern"]) for name, s in slots.items()]
    keep = ("role", "target", "placement", "distance_to_target_m", "height_cm")
    return Setup(
        room_type=r["type"], room=rooms.Room(tuple(r["dimensions_m"]), r["rt60_s"], r["absorption"], r["image_order"]),
        kit_origin=tuple(r["kit_origin_m"]),
        pieces={p: {k: (tuple(v) if isinstance(v, list) else v) for k, v in info.items()}
                for p, info in data["pieces"].items()},
        piece_trim_db=dict(data["piece_trim_db"]), mics=mics,
        mic_info={n: {k: s[k] for k in keep if k in s} for n, s in slots.items()}, pair=dict(data["mics"]["pair"]),
        target_peak_dbfs={n: s["target_peak_dbfs"] for n, s in slots.items()},
        noise_floor_dbfs={n: s["noise_floor_dbfs"] for n, s in slots.items()},
    )


def _close_mic(rng, slot: str, piece: str, layout: dict, spec: RecordingSpec) -> tuple[rooms.Mic, dict]:
    """A close mic in the kit frame (translated later)."""
    cm = spec.close_mics[_CLOSE_ROLE[slot]]
    pattern = _pick(rng, cm.patterns)
    height = _u(rng, *cm.distance_cm, 2) / 100
    info = layout[piece]
    cx, cy, cz = info["position"]
    radius = info["diameter"] / 2
    inside = bool(rng.random() < spec.kick_inside_probability)  # drawn for every mic: keeps the stream aligned
    azimuth = math.radians(_u(rng, *{"snare": (95, 135), "hihat": (150, 240), "tom_high": (70, 110),
                                     "tom_mid": (70, 110), "tom_floor": (-20, 40), "kick": (0, 0)}[piece], 1))
    rad = _u(rng, -0.03, 0.01)
    off = (_u(rng, -0.12, 0.12), _u(rng, -0.10, 0.05))
    tilt = math.radians(_u(rng, 35, 65, 1) if piece != "hihat" else _u(rng, 55, 80, 1))  # aim below horizontal
    if piece == "kick":
        front = info["batter_y"] + info["depth"]
        if inside:
            pos = (off[0] / 2, _u(rng, cy + 0.05, front - 0.03), cz + off[1] / 2)
            placement = "inside"
        else:
            pos = (off[0], front + height, cz + off[1])
            placement = "outside"
        target = (cx, info["batter_y"], cz - 0.02)
    else:
        if piece == "hihat":
            r = radius * (0.6 + rad * 5)  # 0.45..0.65 of the radius
            placement = "above"
        else:
            r = radius + rad
            placement = "rim"
        pos = (cx + r * math.cos(azimuth), cy + r * math.sin(azimuth), cz + height)
        if piece == "hihat":  # pointed down and outwards, away from the snare (which falls off its axis)
            aim_r = r + height / math.tan(tilt)
        else:  # pointed down into the head, at a spot inside the rim
            aim_r = r - height / math.tan(tilt)
        target = (cx + aim_r * math.cos(azimuth), cy + aim_r * math.sin(azimuth), cz)
    pos = _r3(pos)
    mic = rooms.Mic(slot, pos, _unit(np.subtract(target, pos)), pattern)
    return mic, {"role": "close", "target": piece, "placement": placement, "height_cm": round(height * 100, 1)}


def _pair_aims(principal, angle_deg: float):
    p = np.asarray(principal, dtype=np.float64)
    p = p / np.linalg.norm(p)
    x = np.array([1.0, 0.0, 0.0]) - p[0] * p
    x = x / np.linalg.norm(x)
    half = math.radians(angle_deg) / 2
    return (_unit(math.cos(half) * p - math.sin(half) * x), _unit(math.cos(half) * p + math.sin(half) * x)), x


def _pair(rng, spec: RecordingSpec, room_front: float, max_gap: float) -> tuple[list[rooms.Mic], dict]:
    """The stereo pair in the kit frame. ``room_front``: how far in front of the kit it may go."""
    ps = spec.pair
    placement = _pick(rng, ps.placements)
    weights = ps.techniques.get(placement)
    if not weights:
        raise AutomixError(f"recipe: no techniques for pair placement '{placement}'")
    technique = _pick(rng, weights)
    spaced_pattern = _pick(rng, ps.spaced_patterns)
    xs, ys, zs, spacing, angle = (_u(rng, -1, 1), _u(rng, 0, 1), _u(rng, 0, 1), _u(rng, 0, 1), _u(rng, 0, 1))
    lerp = lambda t, lo, hi: round(lo + t * (hi - lo), 3)  # noqa: E731
    if placement == "overhead":
        if technique == "spaced":
            centre = (lerp((xs + 1) / 2, -0.12, 0.12), lerp(ys, 0.35, 0.70), lerp(zs, 1.55, 2.0))
        else:
            centre = (lerp((xs + 1) / 2, -0.10, 0.10), lerp(ys, 0.15, 0.55), lerp(zs, 1.55, 1.95))
        gap = lerp(spacing, 0.6, 1.1)
    else:
        centre = (lerp((xs + 1) / 2, -0.3, 0.3), round(_KIT_CENTRE[1] + min(lerp(ys, 2.0, 3.5), room_front), 3),
                  lerp(zs, 1.0, 2.0))
        gap = lerp(spacing, 1.0, 2.2)
    gap = round(min(gap, max_gap), 3)
    principal = np.subtract(_KIT_CENTRE, centre)
    if technique == "spaced":
        pattern = spaced_pattern
        aim = (0.0, 0.0, -1.0) if placement == "overhead" else _unit(principal)
        left = _r3((centre[0] - gap / 2, centre[1], centre[2]))
        right = _r3((centre[0] + gap / 2, centre[1], centre[2]))
        aims = (aim, aim)
        included, spacing_m = 0.0, round(gap, 3)
    else:
        pattern = "cardioid"
        included = lerp(angle, 90.0, 110.0) if technique == "xy" else 110.0
        (a_l, a_r), axis = _pair_aims(principal, included)
        half = 0.085 if technique == "ortf" else 0.005
        left = _r3(np.asarray(centre) - half * axis)
        right = _r3(np.asarray(centre) + half * axis)
        aims = (a_l, a_r)
        spacing_m = round(2 * half, 3)
    mics = [rooms.Mic("overhead_L", left, aims[0], pattern), rooms.Mic("overhead_R", right, aims[1], pattern)]
    info = {"placement": placement, "technique": technique, "pattern": pattern, "spacing_m": spacing_m,
            "angle_deg": included, "height_m": round(centre[2], 3), "centre_m": list(centre)}
    return mics, info


def draw_setup(rng: np.random.Generator, spec: RecordingSpec, pieces: Sequence[str], slots: Sequence[str]) -> Setup:
    """Draw one take's room, kit placement, microphones, preamp targets and noise floors.

    ``pieces``: the kit pieces the take has (its groove's); ``slots``: the take's mic slots.
    The same number of random draws happens whatever ``pieces`` and ``slots`` are.
    """
    room_type = _pick(rng, {k: r.weight for k, r in spec.rooms.items()})
    rt = spec.rooms[room_type]
    dims = (_u(rng, *rt.width_m, 2), _u(rng, *rt.length_m, 2), _u(rng, *rt.height_m, 2))
    rt60 = _u(rng, *rt.rt60_s, 3)
    w, l, h = dims
    volume, surface = w * l * h, 2 * (w * l + w * h + l * h)
    floor = 24 * math.log(10) * volume / (rooms.SOUND_SPEED * surface * -math.log(1 - 0.9))  # Eyring, a = 0.9
    rt60 = max(rt60, round(floor + 0.0005, 3))
    absorption = round(rooms.absorption_for(rt60, dims), 5)
    layout = kit_layout(rng, kitlib.PIECES)
    trims = {p: _u(rng, *spec.piece_trim_db, 2) for p in kitlib.PIECES}
    close, close_info = {}, {}
    for slot in ("kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3"):  # every slot drawn: stream stays aligned
        mic, info = _close_mic(rng, slot, SLOT_PIECE[slot], layout, spec)
        close[slot], close_info[slot] = mic, info
    # the kit's place in the room: everything (pieces, mics) at least _MARGIN from the walls, the
    # drummer's back at least 0.9 m from the wall behind
    ox, oy = _u(rng, 0, 1), _u(rng, 0, 1)
    pair_mics, pair_info = _pair(rng, spec, room_front=max(0.5, l - 0.9 - _MARGIN - _KIT_CENTRE[1] - 0.05),
                                 max_gap=w - 2 * _MARGIN - 0.4)
    points = [info["position"] for info in layout.values()] + [m.position for m in close.values()] + \
        [m.position for m in pair_mics]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_lo, x_hi = _MARGIN - min(xs), w - _MARGIN - max(xs)
    y_lo, y_hi = max(0.9, _MARGIN - min(ys)), l - _MARGIN - max(ys)
    if x_hi < x_lo or y_hi < y_lo:
        raise AutomixError(f"a {w:g} x {l:g} m room is too small for this set-up; enlarge the recipe's rooms")
    origin_x = round(x_lo + ox * (x_hi - x_lo), 3)
    origin_y = round(y_lo + oy * (y_hi - y_lo), 3)
    origin = (origin_x, origin_y, 0.0)
    shift = lambda p: _r3(np.add(p, origin))  # noqa: E731
    pieces_room = {}
    for p in kitlib.PIECES:
        if p in pieces:
            info = dict(layout[p])
            info["position"] = shift(info["position"])
            pieces_room[p] = info
    mics, mic_info = [], {}
    for slot in slots:
        if slot in close:
            m = close[slot]
            info = dict(close_info[slot])
        else:
            m = next(pm for pm in pair_mics if pm.name == slot)
            info = {"role": "pair", "target": None, "placement": pair_info["placement"]}
        moved = rooms.Mic(slot, shift(m.position), m.aim, m.pattern)
        if moved.position[2] > h - _MARGIN:
            moved = rooms.Mic(slot, (*moved.position[:2], round(h - _MARGIN, 3)), m.aim, m.pattern)
        if info["target"] in pieces_room:
            info["distance_to_target_m"] = round(
                float(np.linalg.norm(np.subtract(moved.position, pieces_room[info["target"]]["position"]))), 3)
        mics.append(moved)
        mic_info[slot] = info
    pair_info = {**pair_info, "centre_m": list(shift(pair_info["centre_m"]))}
    # soundcheck targets and noise floors
    targets: dict[str, float] = {}
    for slot in ("kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3"):
        targets[slot] = _u(rng, *spec.close_mics[_CLOSE_ROLE[slot]].target_peak_dbfs, 2)
    linked = bool(rng.random() < spec.pair.linked_probability)
    t_l, t_r = _u(rng, *spec.pair.target_peak_dbfs, 2), _u(rng, *spec.pair.target_peak_dbfs, 2)
    mismatch = _u(rng, *spec.pair.mismatch_db, 2)
    targets["overhead_L"], targets["overhead_R"] = t_l, (t_l if linked else t_r)
    pair_info.update({"linked_gains": linked, "gain_mismatch_db": mismatch if linked else None})
    base = _u(rng, *spec.noise_floor_dbfs, 2)
    noise = {s: round(base + float(np.clip(rng.normal(0, spec.noise_spread_db), -2 * spec.noise_spread_db,
                                           2 * spec.noise_spread_db)), 2) for s in
             ("kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "overhead_L", "overhead_R")}
    return Setup(
        room_type=room_type, room=rooms.Room(dims, rt60, absorption, spec.image_order), kit_origin=origin,
        pieces=pieces_room, piece_trim_db={p: trims[p] for p in pieces_room}, mics=mics, mic_info=mic_info,
        pair=pair_info, target_peak_dbfs={s: targets[s] for s in slots}, noise_floor_dbfs={s: noise[s] for s in slots},
    )


# --------------------------------------------------------------------------------------------
# Recording


def _peak_db(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def reference_peaks(kit: kitlib.LoadedKit, setup: Setup, response: rooms.RoomResponse) -> dict[str, dict[str, float]]:
    """``{slot: {piece: peak dB}}``: each piece's reference hit (velocity 100, the drummer's piece
    level) through the direct sound and early reflections to each mic, before the preamps."""
    peaks: dict[str, dict[str, float]] = {}
    for i, piece in enumerate(response.pieces):
        hit = kit.reference_hit(piece) * 10 ** (setup.piece_trim_db[piece] / 20)
        for j, slot in enumerate(response.mics):
            peaks.setdefault(slot, {})[piece] = _peak_db(ssig.oaconvolve(hit, response.early[i, j]))
    return peaks


def soundcheck(kit: kitlib.LoadedKit, setup: Setup, response: rooms.RoomResponse) -> dict[str, float]:
    """Preamp gain (dB) per slot: the mic's own piece (the pair: its loudest piece) hit at
    velocity 100 peaks at the slot's target; a linked pair gets one gain (the louder side's) plus
    the knob mismatch on the right."""
    peaks = reference_peaks(kit, setup, response)
    gains = {}
    for m in setup.mics:
        target = setup.mic_info[m.name]["target"]
        ref = peaks[m.name].get(target) if target is not None else None
        if ref is None:  # a pair mic, or the mic's drum is not in this take's kit
            ref = max(peaks[m.name].values())
        gains[m.name] = round(setup.target_peak_dbfs[m.name] - ref, 2)
    if setup.pair.get("linked_gains") and {"overhead_L", "overhead_R"} <= set(gains):
        common = min(gains["overhead_L"], gains["overhead_R"])  # set on the louder side
        gains["overhead_L"] = common
        gains["overhead_R"] = round(common + float(setup.pair.get("gain_mismatch_db") or 0.0), 2)
    return gains


#: Pinking filter (J. O. Smith: -3 dB per octave within 0.3 dB from 10 Hz up at 44.1 kHz).
_PINK_B = (0.049922035, -0.095993537, 0.050612699, -0.004408786)
_PINK_A = (1.0, -2.494956002, 2.017265875, -0.522189400)


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS pink noise (1/f power) of ``n`` samples."""
    x = ssig.lfilter(_PINK_B, _PINK_A, rng.standard_normal(n + 4096))[4096:]  # skip the filter's settling
    return x / math.sqrt(float(np.mean(x * x)))


def simulate(kit: kitlib.LoadedKit, setup: Setup, events: Sequence[tuple[int, int, int]], length: int, *,
             tail_rng: np.random.Generator, pieces: Sequence[str] | None = None
             ) -> tuple[dict[str, np.ndarray], rooms.RoomResponse]:
    """The acoustic signal at every mic (before preamps, float64 ``[length]``), and the responses.

    ``pieces`` keeps only those pieces' sound (their contribution: the mics' signals are the sum
    of the pieces' contributions).
    """
    axes = {p: info["axis"] for p, info in setup.pieces.items() if "axis" in info}
    gains = shadowing(setup)
    for pair, g in near_field(setup).items():
        gains[pair] = gains.get(pair, 1.0) * g
    response = rooms.room_responses(setup.room, setup.sources(), setup.mics, sample_rate=SAMPLE_RATE, rng=tail_rng,
                                    axes=axes, direct_gains=gains)
    sources = kit.play(events, length, pieces=pieces)
    for p in list(sources):
        if p not in setup.pieces:
            raise AutomixError(f"the take plays {p} but its set-up has no such piece")
        sources[p] = sources[p] * 10 ** (setup.piece_trim_db[p] / 20)
    return rooms.record(response, sources, length), response


def record_take(kit: kitlib.LoadedKit, setup: Setup, events: Sequence[tuple[int, int, int]], length: int, *,
                tail_rng: np.random.Generator, noise_rng: np.random.Generator, peak_limit_dbfs: float = -0.5,
                recorded: Mapping[str, Mapping] | None = None, pieces: Sequence[str] | None = None,
                noise: bool = True) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """Stems at their recorded levels (float32) and what the recording did per slot.

    Each stem is ``(mic signal x preamp gain + noise floor)``, turned down by ``peak_lowered_db`` if
    it would peak above ``peak_limit_dbfs``. Preamp gains come from :func:`soundcheck`, unless
    ``recorded`` (a take annotation's ``recording.levels``) gives them with the peak lowering: that
    re-records the take from its annotation. ``pieces`` and ``noise=False`` record parts of a take
    (contributions, for checks); the noise generator is drawn the same way either way.
    """
    signals, response = simulate(kit, setup, events, length, tail_rng=tail_rng, pieces=pieces)
    preamps = soundcheck(kit, setup, response) if recorded is None else None
    limit = 10 ** (peak_limit_dbfs / 20)
    stems, info = {}, {}
    for m in setup.mics:
        slot = m.name
        hiss = _pink(noise_rng, length) * 10 ** (setup.noise_floor_dbfs[slot] / 20)  # drawn for every slot
        gain = float(recorded[slot]["preamp_gain_db"]) if recorded is not None else preamps[slot]
        y = signals[slot] * 10 ** (gain / 20)
        if noise:
            y = y + hiss
        if recorded is not None:
            lowered = float(recorded[slot]["peak_lowered_db"])
        else:
            peak = float(np.max(np.abs(y)))
            lowered = round(20 * math.log10(limit / peak) - 0.005, 2) if peak > limit else 0.0
        if lowered:
            y = y * 10 ** (lowered / 20)
        stems[slot] = y.astype(np.float32)
        info[slot] = {"preamp_gain_db": gain, "peak_lowered_db": lowered, "gain_db": round(gain + lowered, 2),
                      "target_peak_dbfs": setup.target_peak_dbfs[slot],
                      "noise_floor_dbfs": setup.noise_floor_dbfs[slot], "peak_dbfs": round(_peak_db(stems[slot]), 3)}
    return stems, info
