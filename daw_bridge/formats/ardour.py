"""Ardour 7 sessions: write a mix plan as an Ardour session, read an Ardour session as a plan.

:func:`write_ardour_session` writes a new Ardour 7 session folder (session XML version 7002,
written entirely here; Ardour itself is not needed) that sounds like the plan's render:
one track per stem, each region at the track's offset, the track's gain, pan, mute and solo.
:func:`read_ardour_session` reads an Ardour session (Ardour 6 or 7) back into a
:class:`~daw_bridge.session.Session`, noting in ``Session.notes`` whatever the model cannot
hold. Both are torch-free.

Gain and pan mapping (Ardour renders exactly what :mod:`daw_bridge.render` renders)
------------------------------------------------------------------------------------
The renderer applies, per track, ``g = db_to_gain(gain_db)`` and then

* a mono signal: ``pan_gains(pan, session.pan_law_db)`` = ``(l, r)``; constant power
  (``cos``/``sin``) by default;
* a stereo signal: a linear balance: ``pan < 0`` scales R by ``1 + pan``, ``pan > 0`` scales L
  by ``1 - pan``.

**Mono tracks** use Ardour's "Equal Power Mono" panner (``panner_1in2out``), whose law is its
own: with ``s = 2 - 4 * 10**(-3/20)`` (= -0.831783138) and azimuth ``a`` (0 left, 0.5 centre,
1 right), ``L(a) = (1-a) * (s*(1-a) + 1 - s)`` and ``R(a) = a * (s*a + 1 - s)`` (-3.0 dB at
centre against -3.0103 dB for the sin/cos law). The writer picks the azimuth whose ratio
``R(a)/L(a)`` equals ``r/l`` (a quadratic in ``a``, solved in closed form; the ratio is
monotonic) and folds what remains, ``k = l / L(a)`` (or ``r / R(a)``), into the track's gain:
Ardour gain = ``g * k``. Hard left (``a = 0``), centre (``a = 0.5``) and hard right (``a = 1``)
are exact; the centre costs ``k = 0.99881`` (-0.0103 dB) under the constant-power law, which
is why a plan's 0 dB centred track shows -0.01 dB on Ardour's fader. The reader inverts it:
``r/l = R(a)/L(a)`` gives ``theta = atan((r/l) ** (1/p))`` (``p = law_db / -3``), ``pan =
4*theta/pi - 1``, and ``gain_db`` = Ardour gain / ``k``.

**Stereo tracks** use Ardour's "Stereo Balance" panner (``panner_balance``), measured with
``ardour7-export`` to be exactly the renderer's linear balance: azimuth ``a = (pan + 1) / 2``;
``a < 0.5`` scales R by ``2a``, ``a > 0.5`` scales L by ``2 - 2a``. The gain is the plan's.
(Ardour's default for a stereo track, "Equal Power Stereo", moves each channel along a
sin/cos law with a width; it cannot produce a linear balance.)

Ardour's fader ends at +6.02 dB (a linear gain of 2); a track that needs more keeps the
fader at +6.02 dB and puts the rest on the track's trim knob (up to +20 dB). The result's
:class:`ArdourTrack` entries list the fader and trim (dB) and the azimuth of every track.

What else the writer does
-------------------------
* Regions: whole-file, the file's start at frame ``round(offset_s * sample_rate)`` (where the
  renderer starts the track), written in Ardour's superclock (282240000 per second; Ardour 7.3
  rounds superclock down to samples, so a sub-sample position would be played a sample early).
  Reading gives ``frame / sample_rate``: the plan's offset to within half a sample, exactly
  when it is a whole number of samples. Region fades are off (sample-exact).
* Sources: the user's file by absolute path when Ardour can play it as it is (WAV, FLAC or
  AIFF at the session's rate; one channel of a multichannel file through the source's
  channel); otherwise (another rate, another format, a folder whose path holds ':', which
  splits Ardour's search paths, a file inside a session folder being replaced) a 32-bit float
  WAV copy, resampled with :func:`daw_bridge.audio.resample`, in the
  session's ``interchange/<folder>/audiofiles``; each copy gets a note. The user's files are
  only read.
* ``mix=``: the rendered AI mix (stereo) on an extra track "AI mix", muted, at 0 dB, centre,
  for A/B; its route comment marks it so the reader leaves it out.
* Plugin chains (pedalboard effects have no Ardour equivalent), the master chain and the
  loudness target are not in the Ardour session; the notes say so. Ardour's master is at unity.
* The output folder follows :mod:`daw_bridge.outputs`'s rule: built beside ``out_dir`` and
  renamed into place; an existing ``out_dir`` is refused unless ``force`` (then the new folder
  is complete before the old one is moved away and removed). Even with ``force`` only an
  Ardour session folder (or an empty one) is replaced, and files the plan plays from inside it
  are copied into the new session first.

Reading
-------
The XML is parsed with expat handlers that refuse any entity declaration and any external
reference (a DOCTYPE with a system or public id, an external entity), so a session file
cannot make the reader fetch or expand anything; a file that is not an Ardour 6/7 session is
refused. This needs no extra dependency and gives precise one-line messages (``defusedxml``
refuses entities too, but lets a ``<!DOCTYPE x SYSTEM "...">`` through, unfetched, unless
told to refuse every DTD). A folder is read through the snapshot Ardour used last
(``instant.xml``), else the one named like the folder.

Audio tracks become tracks (master, monitor and busses are skipped; a bus gets a note). Files
are found as Ardour finds them: absolute names, ``interchange/*/audiofiles``, then the
session's ``audio-search-path`` (Ardour saves files it plays in place by bare name and keeps
their folders there). Gains are fader x trim (x region gain); pans invert the writer's
mapping under ``pan_law_db``. A track with several regions becomes several tracks named
``"<track>.1"``, ``"<track>.2"``, ... (same gain, pan, mute and solo). Stereo tracks as
Ardour itself makes them are read so that they sound the same (checked against
``ardour7-export``): a region playing two mono files becomes ``"<track> L"`` and
``"<track> R"``, panned hard left and right; a mono region on a stereo track (Ardour plays it
on both channels) becomes a mono track. Ardour's default stereo panner (Equal Power Stereo)
is exact at its default (centre, full width); elsewhere it is read as a balance, with a note.
Trimmed regions (placed so the audio keeps its time), region envelopes, automation, plugins,
sends, polarity, inactive tracks, outputs that bypass the master and musical-time positions
get a note each. Times are read from ``a<superclock>`` (rounded down to samples, as Ardour
7.3 plays them) and plain sample numbers (Ardour 6).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

from pydantic import ValidationError

from daw_bridge.audio import AudioInfo, probe, read_audio, write_audio
from daw_bridge.errors import AudioError

from daw_bridge.panlaw import CONSTANT_POWER_LAW_DB, db_to_gain, pan_gains
from daw_bridge.session import Session, Track
from daw_bridge.errors import SessionReadError, SessionWriteError
from daw_bridge.outputs import check_output_folder, new_output_folder, reading

__all__ = [
    "AI_MIX_TRACK",
    "ARDOUR_PAN_SCALE",
    "SUPERCLOCK_RATE",
    "ArdourSessionError",
    "ArdourTrack",
    "ArdourWriteResult",
    "ardour_mono_pan_gains",
    "ardour_to_mono_pan",
    "mono_pan_to_ardour",
    "read_ardour_session",
    "write_ardour_session",
]

#: Ardour 7's time unit for audio time: superclock ticks per second.
SUPERCLOCK_RATE: int = 282_240_000
#: The session file format written (Ardour 7.x).
ARDOUR_SESSION_VERSION: int = 7002
#: Ardour's mono panner law constant: ``2 - 4 * 10**(-3/20)`` (its -3 dB law).
ARDOUR_PAN_SCALE: float = 2.0 - 4.0 * 10.0 ** (-3.0 / 20.0)
#: Name of the extra, muted track holding the rendered AI mix.
AI_MIX_TRACK: str = "AI mix"

MONO_PANNER_URI = "http://ardour.org/plugin/panner_1in2out"
STEREO_PANNER_URI = "http://ardour.org/plugin/panner_2in2out"
BALANCE_PANNER_URI = "http://ardour.org/plugin/panner_balance"

_AI_MIX_COMMENT = "automix: the rendered AI mix, muted, for A/B; not part of the mix plan"
_ROLE_PREFIX = "automix role: "
_MAX_FADER_GAIN = 2.0  # Ardour's default "max-gain" (+6.02 dB)
_MAX_TRIM_GAIN = 10.0  # the trim knob's range is -20 .. +20 dB
_IN_PLACE_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64", "FLAC", "AIFF"})
_RESERVED_ROUTE_NAMES = frozenset({"master", "monitor", "click", "ltc", "auditioner", "control", "surround"})
# processors every Ardour route has; anything else is a plugin, a send or an insert
_BUILTIN_PROCESSORS = frozenset(
    {"diskreader", "diskwriter", "triggerbox", "polarity", "trim", "amp", "meter", "main-outs", "intreturn",
     "capture", "delay", "monitor", "unknown-processor-placeholder"}
)
_SEND_PROCESSORS = frozenset({"intsend", "send", "port", "insert", "foldbacksend"})


class ArdourSessionError(SessionReadError):
    """An Ardour session cannot be read: missing, unsafe XML, not an Ardour session, broken."""


# --------------------------------------------------------------------------- pan and gain mapping


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
    pan, m = _pan_for_factors(*ardour_mono_pan_gains(azimuth), law_db)
    return pan, 1.0 / m


def _pan_for_factors(left: float, right: float, law_db: float) -> tuple[float, float]:
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


def _balance_azimuth(pan: float) -> float:
    return 0.5 if pan == 0.0 else (pan + 1.0) / 2.0


def _balance_pan(azimuth: float) -> float:
    return 0.0 if azimuth == 0.5 else min(max(2.0 * azimuth - 1.0, -1.0), 1.0)


def _gain_db(gain: float) -> float:
    return 20.0 * math.log10(gain) if gain > 0 else -math.inf


def _split_gain(gain: float, track: str) -> tuple[float, float]:
    """(fader, trim) linear gains with ``fader * trim == gain`` within Ardour's ranges."""
    if gain <= _MAX_FADER_GAIN:
        return gain, 1.0
    trim = gain / _MAX_FADER_GAIN
    if trim > _MAX_TRIM_GAIN:
        raise SessionWriteError(
            f"track {track!r} needs {_gain_db(gain):+.2f} dB in Ardour, more than its fader and trim allow "
            f"({_gain_db(_MAX_FADER_GAIN * _MAX_TRIM_GAIN):+.2f} dB); lower the track's gain_db"
        )
    return _MAX_FADER_GAIN, trim


# --------------------------------------------------------------------------- time


def _frames_to_superclock(frames: int, sample_rate: int) -> int:
    """Superclock of a frame: exact at the usual rates, else rounded up so Ardour's floor gives ``frames``."""
    return -((-frames * SUPERCLOCK_RATE) // sample_rate)


def _superclock_to_frames(superclock: int, sample_rate: int) -> int:
    """Ardour 7.3's conversion: rounded down (measured: a region at 592.59 frames plays from 592)."""
    return (superclock * sample_rate) // SUPERCLOCK_RATE


def _offset_frame(offset_s: float, sample_rate: int) -> int:
    """The frame a track starts at: ``round(offset_s * sample_rate)``, as the renderer places it."""
    return round(offset_s * sample_rate)


# --------------------------------------------------------------------------- names and folders


def _sanitize_session_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9 _.+-]", "_", name).strip(" .")
    return cleaned or "session"


def _legalize_for_path(name: str) -> str:
    """What Ardour uses for the folder under ``interchange`` (``legalize_for_path``)."""
    return re.sub(r"[/\\]", "_", name)


def _file_stem_for(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.+-]", "_", name).strip("._")
    return cleaned or "track"


def _route_names(names: Iterable[str], reserved: Iterable[str]) -> list[tuple[str, str]]:
    """Ardour-safe, unique route names, each with why it changed ('' when it did not).

    ':' separates a port's client and name in Ardour, so it becomes '-'; Ardour's own routes
    and ports (Master, Monitor, Click, ...) and ``reserved`` names get a suffix.
    """
    used: set[str] = {"Master", *reserved}
    out: list[tuple[str, str]] = []
    for name in names:
        base = " ".join(name.replace(":", "-").split()) or "Track"
        why = "':' separates Ardour's port names" if ":" in name else ""
        if base != name and not why:
            why = "white space is tidied"
        if base.casefold() in _RESERVED_ROUTE_NAMES:
            base, why = f"{base} track", f"Ardour reserves the name {base!r}"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base} {n}"
        if candidate != base:
            why = f"{base!r} is taken"
        used.add(candidate)
        out.append((candidate, why))
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ArdourTrack:
    """How one plan track was written: Ardour's fader (dB), trim (dB), panner and azimuth.

    ``fader_db + trim_db`` is the plan's ``gain_db`` plus the pan-law difference folded into
    it (mono tracks; see the module docstring). ``source`` is the file Ardour plays.
    """

    name: str
    route: str
    gain_db: float
    pan: float
    fader_db: float
    trim_db: float
    azimuth: float
    panner: str
    channels: int
    source: Path
    converted: bool


@dataclass
class ArdourWriteResult:
    """What :func:`write_ardour_session` wrote."""

    path: Path  #: the ``.ardour`` file
    folder: Path  #: the session folder
    name: str  #: the session name (``path`` is ``folder / f"{name}.ardour"``)
    tracks: list[ArdourTrack] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    converted: list[Path] = field(default_factory=list)  #: copies written into the session


# --------------------------------------------------------------------------- writer


@dataclass
class _Source:
    path: Path  # what Ardour plays (absolute; for a copy, its path in the final folder)
    xml_name: str  # the Source's name in the XML: absolute path, or a bare name in audiofiles
    channels: list[int]  # source channels the track plays
    frames: int
    converted: bool


@dataclass
class _PlannedTrack:
    route: str
    source: _Source
    frame: int
    superclock: int
    fader: float
    trim: float
    azimuth: float
    panner: str
    mute: bool
    solo: bool
    comment: str


class _Ids:
    def __init__(self, start: int = 100) -> None:
        self.next = start

    def __call__(self) -> str:
        self.next += 1
        return str(self.next)


def _num(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _sub(parent: ET.Element, tag: str, **attrs: Any) -> ET.Element:
    return ET.SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attrs.items()})


def _controllable(parent: ET.Element, ids: _Ids, name: str, flags: str, value: Any, **extra: Any) -> ET.Element:
    node = _sub(parent, "Controllable", name=name, id=ids(), flags=flags, value=value)
    for key, val in extra.items():
        node.set(key.replace("_", "-"), str(val))
    return node


def _automation(parent: ET.Element, ids: _Ids, items: Iterable[tuple[str, str, str]]) -> None:
    node = _sub(parent, "Automation")
    for automation_id, style, domain in items:
        _sub(node, "AutomationList", automation_id=automation_id, id=ids(), interpolation_style=style,
             time_domain=domain, state="Off")


def _pannable(parent: ET.Element, ids: _Ids, azimuth: float, width: float) -> None:
    node = _sub(parent, "Pannable")
    _controllable(node, ids, "pan-azimuth", "", _num(azimuth))
    _controllable(node, ids, "pan-width", "", _num(width))
    _controllable(node, ids, "pan-elevation", "", 0)
    _controllable(node, ids, "pan-frontback", "", 0)
    _controllable(node, ids, "pan-lfe", "", 0)
    _automation(node, ids, [(f"pan-{p}", "Linear", "AudioTime")
                            for p in ("azimuth", "elevation", "width", "frontback", "lfe")])


def _gain_processors(route: ET.Element, ids: _Ids, fader: float, trim: float) -> None:
    _sub(route, "Processor", id=ids(), name="Polarity", active=1, user_latency=0, use_user_latency=0,
         type="polarity")
    trim_node = _sub(route, "Processor", id=ids(), name="Amp", active=1, user_latency=0, use_user_latency=0,
                     type="trim")
    _automation(trim_node, ids, [("trim", "Logarithmic", "AudioTime")])
    _controllable(trim_node, ids, "trimcontrol", "GainLike", _num(trim))
    amp = _sub(route, "Processor", id=ids(), name="Amp", active=1, user_latency=0, use_user_latency=0, type="amp")
    _automation(amp, ids, [("gain", "Exponential", "AudioTime")])
    _controllable(amp, ids, "gaincontrol", "GainLike", _num(fader))


def _solo_controls(route: ET.Element, ids: _Ids, solo: bool) -> None:
    _controllable(route, ids, "solo", "Toggle,RealTime", int(solo), self_solo=int(solo), soloed_by_upstream=0,
                  soloed_by_downstream=0)
    _controllable(route, ids, "solo-iso", "Toggle,RealTime", 0, solo_isolated=0)
    _controllable(route, ids, "solo-safe", "Toggle", 0, solo_safe=0)


def _io(route: ET.Element, ids: _Ids, name: str, direction: str, ports: list[tuple[str, list[str]]]) -> None:
    node = _sub(route, "IO", name=name, id=ids(), direction=direction, default_type="audio")
    for port, connections in ports:
        port_node = _sub(node, "Port", type="audio", name=port)
        for other in connections:
            _sub(port_node, "Connection", other=other)


def _master_route(ids: _Ids, inputs: list[str]) -> ET.Element:
    route = ET.Element("Route", {
        "version": str(ARDOUR_SESSION_VERSION), "id": ids(), "name": "Master", "default-type": "audio",
        "strict-io": "1", "volume-applies-to-output": "1", "active": "1", "denormal-protection": "0",
        "meter-point": "MeterOutput", "disk-io-point": "DiskIOPreFader", "meter-type": "MeterK14",
    })
    _sub(route, "PresentationInfo", order=0, flags="MasterOut,OrderSet", color=0)
    _solo_controls(route, ids, False)
    _io(route, ids, "Master", "Input", [
        (f"Master/audio_in {i}", [f"{r}/audio_out {i}" for r in inputs]) for i in (1, 2)
    ])
    _io(route, ids, "Master", "Output", [(f"Master/audio_out {i}", [f"system:playback_{i}"]) for i in (1, 2)])
    _sub(route, "MuteMaster", mute_point="PostFader,Listen,Main", muted=0)
    _controllable(route, ids, "mute", "Toggle,RealTime", 0)
    _controllable(route, ids, "phase", "Toggle", 0, phase_invert="00")
    _controllable(route, ids, "mastervolume", "GainLike,NotAutomatable", 1)
    _automation(route, ids, [(n, "Discrete", "AudioTime") for n in ("solo", "solo-iso", "solo-safe", "mute", "phase")])
    _pannable(route, ids, 0.5, 1.0)
    _gain_processors(route, ids, 1.0, 1.0)
    main = _sub(route, "Processor", id=ids(), name="Master", active=1, user_latency=0, use_user_latency=0,
                own_input=1, own_output=0, output="Master", type="main-outs", role="Main")
    _sub(main, "PannerShell", bypassed=0, user_panner="", linked_to_route=1)
    _sub(route, "Processor", id=ids(), name="meter-Master", active=1, user_latency=0, use_user_latency=0,
         type="meter")
    _sub(route, "Slavable")
    return route


def _track_route(ids: _Ids, planned: _PlannedTrack, order: int, playlist_id: str) -> ET.Element:
    name = planned.route
    n_in = len(planned.source.channels)
    route = ET.Element("Route", {
        "version": str(ARDOUR_SESSION_VERSION), "id": ids(), "name": name, "default-type": "audio",
        "strict-io": "1", "active": "1", "denormal-protection": "0", "meter-point": "MeterPostFader",
        "disk-io-point": "DiskIOPreFader", "meter-type": "MeterPeak", "audio-playlist": playlist_id,
        "saved-meter-point": "MeterPostFader", "alignment-choice": "Automatic", "mode": "Normal",
    })
    if planned.comment:
        comment = ET.SubElement(route, "Comment")
        comment.text = planned.comment
    _sub(route, "PresentationInfo", order=order, flags="AudioTrack,OrderSet", color=0)
    _solo_controls(route, ids, planned.solo)
    _io(route, ids, name, "Input", [(f"{name}/audio_in {i + 1}", []) for i in range(n_in)])
    _io(route, ids, name, "Output", [(f"{name}/audio_out {i}", [f"Master/audio_in {i}"]) for i in (1, 2)])
    _sub(route, "MuteMaster", mute_point="PostFader,Listen,Main", muted=int(planned.mute))
    _controllable(route, ids, "mute", "Toggle,RealTime", int(planned.mute))
    _controllable(route, ids, "phase", "Toggle", 0, phase_invert="0" * n_in)
    _automation(route, ids, [(n, "Discrete", "AudioTime") for n in
                             ("solo", "solo-iso", "solo-safe", "mute", "rec-enable", "rec-safe", "phase", "monitor")])
    _pannable(route, ids, planned.azimuth, 1.0)
    _sub(route, "Processor", id=ids(), name=f"recorder:{name}", active=1, user_latency=0, use_user_latency=0,
         type="diskwriter", record_safe=0)
    _sub(route, "Processor", id=ids(), name=f"player:{name}", active=1, user_latency=0, use_user_latency=0,
         type="diskreader")
    _gain_processors(route, ids, planned.fader, planned.trim)
    _sub(route, "Processor", id=ids(), name=f"meter-{name}", active=1, user_latency=0, use_user_latency=0,
         type="meter")
    main = _sub(route, "Processor", id=ids(), name=name, active=1, user_latency=0, use_user_latency=0, own_input=1,
                own_output=0, output=name, type="main-outs", role="Main")
    user_panner = BALANCE_PANNER_URI if planned.panner == BALANCE_PANNER_URI else ""
    _sub(main, "PannerShell", bypassed=0, user_panner=user_panner, linked_to_route=1)
    _sub(route, "Slavable")
    _controllable(route, ids, "monitor", "RealTime", 0, monitoring="")
    _controllable(route, ids, "rec-safe", "Toggle,RealTime", 0)
    _controllable(route, ids, "rec-enable", "Toggle,RealTime", 0)
    return route


def _region(parent: ET.Element, region_id: str, name: str, source_ids: list[str], frames: int, superclock: int,
            sample_rate: int, whole_file: bool) -> None:
    attrs = {
        "name": name, "muted": "0", "opaque": "1", "locked": "0", "video-locked": "0", "automatic": "0",
        "whole-file": str(int(whole_file)), "import": "0", "external": "1", "sync-marked": "0",
        "left-of-split": "0", "right-of-split": "0", "hidden": "0", "position-locked": "0",
        "valid-transients": "0", "start": "a0",
        "length": f"a{_frames_to_superclock(frames, sample_rate)}@a{superclock}",
        "sync-position": "a0", "ancestral-start": "a0", "ancestral-length": "a0@a0", "stretch": "1", "shift": "1",
        "layering-index": "0", "envelope-active": "0", "default-fade-in": "0", "default-fade-out": "0",
        "fade-in-active": "0", "fade-out-active": "0", "scale-amplitude": "1", "id": region_id, "type": "audio",
        "first-edit": "nothing",
    }
    for i, sid in enumerate(source_ids):
        attrs[f"source-{i}"] = sid
    for i, sid in enumerate(source_ids):
        attrs[f"master-source-{i}"] = sid
    attrs["channels"] = str(len(source_ids))
    ET.SubElement(parent, "Region", attrs)


def _session_xml(name: str, sample_rate: int, planned: list[_PlannedTrack]) -> bytes:
    ids = _Ids()
    root = ET.Element("Session", {
        "version": str(ARDOUR_SESSION_VERSION), "name": name, "sample-rate": str(sample_rate),
        "end-is-free": "0", "session-range-is-free": "0",
    })
    _sub(root, "ProgramVersion", created_with="automix (daw_bridge.formats.ardour)", modified_with="automix (daw_bridge.formats.ardour)")
    config = _sub(root, "Config")
    for key, value in (("native-file-data-format", "FormatFloat"), ("native-file-header-format", "WAVE"),
                       ("use-region-fades", "1"), ("auto-play", "0"), ("auto-return", "0")):
        _sub(config, "Option", name=key, value=value)
    _sub(root, "Metadata")
    sources = _sub(root, "Sources")
    source_ids: dict[tuple[str, int], str] = {}
    for p in planned:
        for ch in p.source.channels:
            key = (p.source.xml_name, ch)
            if key not in source_ids:
                source_ids[key] = ids()
                _sub(sources, "Source", name=p.source.xml_name, type="audio", flags="", id=source_ids[key],
                     captured_for="", take_id="", channel=ch, origin="", gain=1)
    regions = _sub(root, "Regions")
    whole_ids = []
    for p in planned:
        sids = [source_ids[(p.source.xml_name, ch)] for ch in p.source.channels]
        rid = ids()
        whole_ids.append(rid)
        _region(regions, rid, p.route, sids, p.source.frames, 0, sample_rate, whole_file=True)
    end = _frames_to_superclock(max((p.frame + p.source.frames for p in planned), default=0), sample_rate)
    locations = _sub(root, "Locations")
    _sub(locations, "Location", id=ids(), name="session", start="a0", end=f"a{end}", flags="IsSessionRange",
         locked=0, timestamp=0, cue=0)
    _sub(root, "Bundles")
    _sub(root, "VCAManager")
    routes = _sub(root, "Routes")
    routes.append(_master_route(ids, [p.route for p in planned]))
    playlists = ET.Element("Playlists")
    for order, p in enumerate(planned, start=1):
        playlist_id = ids()
        route = _track_route(ids, p, order, playlist_id)
        routes.append(route)
        playlist = _sub(playlists, "Playlist", id=playlist_id, name=p.route, type="audio",
                        orig_track_id=route.get("id"), shared_with_ids="", pgroup_id="", frozen=0, combine_ops=0)
        sids = [source_ids[(p.source.xml_name, ch)] for ch in p.source.channels]
        _region(playlist, ids(), f"{p.route}.1", sids, p.source.frames, p.superclock, sample_rate, whole_file=False)
    root.append(playlists)
    _sub(root, "UnusedPlaylists")
    _sub(root, "RouteGroups")
    tempo_map = _sub(root, "TempoMap", superclocks_per_second=SUPERCLOCK_RATE)
    tempos = _sub(tempo_map, "Tempos")
    _sub(tempos, "Tempo", npm=120, enpm=120, note_type=4, type="Tempo::Constant", active=1, locked_to_meter=0,
         continuing=0, sclock=0, quarters="0:0", bbt="1|1|0", omega=0)
    meters = _sub(tempo_map, "Meters")
    _sub(meters, "Meter", note_value=4, divisions_per_bar=4, sclock=0, quarters="0:0", bbt="1|1|0")
    _sub(tempo_map, "MusicTimes")
    click = _sub(root, "Click")
    _io(click, ids, "Click", "Output", [(f"Click/audio_out {i}", [f"system:playback_{i}"]) for i in (1, 2)])
    click_amp = _sub(click, "Processor", id=ids(), name="Amp", active=1, user_latency=0, use_user_latency=0,
                     type="amp")
    _automation(click_amp, ids, [("gain", "Exponential", "AudioTime")])
    _controllable(click_amp, ids, "gaincontrol", "GainLike", 1)
    root.set("id-counter", str(ids.next + 1))
    root.set("name-counter", "1")
    root.set("event-counter", "0")
    root.set("vca-counter", "1")
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def _plan_source(
    file: Path,
    channel: int | None,
    label: str,
    sample_rate: int,
    copy_dir: Path,
    final_copy_dir: Path,
    copy_stem: str,
    notes: list[str],
) -> tuple[_Source, AudioInfo]:
    """Decide how Ardour plays ``file`` (``channel``): the file itself, or a copy to write."""
    info = probe(file)
    if channel is not None and channel >= info.channels:
        raise SessionWriteError(
            f"{label}: channel {channel} does not exist in {file} ({info.channels} channel(s)); channels count from 0"
        )
    if channel is None and info.channels > 2:
        raise SessionWriteError(
            f"{label}: {file} has {info.channels} channels; pick one with the track's channel (0-based)"
        )
    reasons = []
    if info.sample_rate != sample_rate:
        reasons.append(f"is {info.sample_rate} Hz, the session {sample_rate} Hz: resampled")
    if info.format not in _IN_PLACE_FORMATS:
        reasons.append(f"is {info.format}, which Ardour may not play as it is: converted")
    if ":" in str(file.parent):
        reasons.append("lies in a folder whose path holds ':', which Ardour's search path (':'-separated) "
                       "cannot hold once Ardour saves the session: copied")
    if not reasons:
        channels = [channel] if channel is not None else list(range(info.channels))
        return _Source(path=file, xml_name=str(file), channels=channels, frames=info.frames, converted=False), info
    audio, _ = read_audio(file, sample_rate=sample_rate)
    if channel is not None:
        audio = audio[channel : channel + 1]
    name = f"{copy_stem}.wav"
    n = 1
    while (copy_dir / name).exists():
        n += 1
        name = f"{copy_stem}-{n}.wav"
    write_audio(copy_dir / name, audio, sample_rate, subtype="FLOAT")
    what = f"{file}" + (f" (channel {channel})" if channel is not None else "")
    notes.append(f"{label}: {what} {'; '.join(reasons)} into {final_copy_dir / name}")
    # by bare name (found in the session's audiofiles folder, so the session can move), unless the
    # folder's path holds ':', which splits Ardour's search paths: then by absolute path
    xml_name = str(final_copy_dir / name) if ":" in str(final_copy_dir) else name
    source = _Source(path=final_copy_dir / name, xml_name=xml_name, channels=list(range(audio.shape[0])),
                     frames=int(audio.shape[1]), converted=True)
    return source, info


def write_ardour_session(
    session: Session,
    out_dir: str | os.PathLike[str],
    *,
    mix: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> ArdourWriteResult:
    """Write ``session`` (a mix plan) as a new Ardour 7 session folder ``out_dir``.

    ``name`` is the session name (default ``session.name``; characters outside letters,
    digits, space and ``_.+-`` become ``_``); the folder gets ``<name>.ardour`` and Ardour's
    subfolders. ``mix`` is a rendered stereo mix placed on a muted "AI mix" track for A/B.
    Relative track paths are resolved against ``base_dir`` (default :attr:`Session.base_dir`).
    See the module docstring for the gain/pan mapping and what is (not) carried over.

    Raises :class:`~daw_bridge.errors.SessionWriteError` if ``out_dir`` exists (unless
    ``force``; even then only what automix wrote there is replaced, see :mod:`daw_bridge.outputs`), for
    what Ardour cannot hold (a missing channel, a multichannel file without ``channel``, a
    non-stereo mix, more gain than fader and trim allow), and
    :class:`~daw_bridge.errors.AudioError` for a missing or unreadable audio file; in every error
    case nothing is left behind and ``out_dir`` is as it was.
    """
    if not isinstance(session, Session):
        raise TypeError(f"session must be a daw_bridge Session, got {type(session).__name__}")
    with reading([*session.inputs(base_dir), mix]):
        return _write_ardour(session, Path(out_dir), mix=mix, name=name, force=force, base_dir=base_dir)


def _write_ardour(session: Session, out_dir: Path, *, mix: str | os.PathLike[str] | None, name: str | None,
                  force: bool, base_dir: str | os.PathLike[str] | None) -> ArdourWriteResult:
    out_dir = check_output_folder(out_dir, force=force)
    session_name = _sanitize_session_name(name if name is not None else session.name)
    resolved = session.resolve_paths(base_dir)
    rate = session.sample_rate
    interchange = _legalize_for_path(out_dir.name)
    notes: list[str] = []
    if session_name != (name if name is not None else session.name):
        notes.append(f"session name {name if name is not None else session.name!r} written as {session_name!r}")

    with new_output_folder(out_dir, force=force) as tmp:
        for sub in ("interchange", f"interchange/{interchange}/audiofiles", f"interchange/{interchange}/midifiles",
                    "peaks", "dead", "externals", "export", "analysis", "plugins"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        copy_dir = tmp / "interchange" / interchange / "audiofiles"
        final_copy_dir = out_dir / "interchange" / interchange / "audiofiles"

        routes = _route_names((t.name for t in resolved.tracks), [AI_MIX_TRACK] if mix is not None else [])
        planned: list[_PlannedTrack] = []
        mapping: list[ArdourTrack] = []
        for track, (route, why) in zip(resolved.tracks, routes):
            label = f"track {track.name!r}"
            if route != track.name:
                notes.append(f"{label} is named {route!r} in Ardour ({why})")
            source, _ = _plan_source(track.file, track.channel, label, rate, copy_dir, final_copy_dir,
                                     _file_stem_for(route), notes)
            gain = db_to_gain(track.gain_db)
            if len(source.channels) == 1:
                azimuth, k = mono_pan_to_ardour(track.pan, session.pan_law_db)
                gain *= k
                panner = MONO_PANNER_URI
            else:
                azimuth, panner = _balance_azimuth(track.pan), BALANCE_PANNER_URI
            fader, trim = _split_gain(gain, track.name)
            frame = _offset_frame(track.offset_s, rate)
            p = _PlannedTrack(
                route=route, source=source, frame=frame,
                superclock=_frames_to_superclock(frame, rate), fader=fader, trim=trim, azimuth=azimuth,
                panner=panner, mute=track.mute, solo=track.solo,
                comment=f"{_ROLE_PREFIX}{track.role}" if track.role else "",
            )
            planned.append(p)
            mapping.append(ArdourTrack(
                name=track.name, route=route, gain_db=track.gain_db, pan=track.pan, fader_db=_gain_db(fader),
                trim_db=_gain_db(trim), azimuth=azimuth, panner=panner, channels=len(source.channels),
                source=source.path, converted=source.converted,
            ))
            if track.plugins:
                chain = ", ".join(pl.label() for pl in track.plugins)
                notes.append(f"{label} has a plugin chain ({chain}) that is not in the Ardour session; "
                             "add equivalent plugins in Ardour, or use the rendered mix")

        moved = [m for m in mapping if abs(m.fader_db + m.trim_db - m.gain_db) >= 0.005]
        if moved:
            shown = ", ".join(f"{m.name!r} {m.fader_db + m.trim_db:+.2f} dB for {m.gain_db:+.2f}" for m in moved[:4])
            more = f" and {len(moved) - 4} more" if len(moved) > 4 else ""
            notes.append(f"Ardour's mono panner has its own law: the gains of mono tracks carry the difference, so "
                         f"they read slightly off the plan ({shown}{more}); the sound is the plan's")
        for m in mapping:
            if m.trim_db > 0:
                notes.append(f"track {m.name!r} needs {m.fader_db + m.trim_db:+.2f} dB: Ardour's fader stops at "
                             f"{m.fader_db:+.2f} dB, the trim knob has the other {m.trim_db:+.2f} dB")

        if mix is not None:
            mix_path = Path(mix).expanduser().absolute()
            source, info = _plan_source(mix_path, None, "the AI mix", rate, copy_dir, final_copy_dir, "AI_mix",
                                        notes)
            if len(source.channels) != 2:
                raise SessionWriteError(f"the AI mix {mix_path} has {info.channels} channel(s); give a stereo file")
            planned.append(_PlannedTrack(
                route=AI_MIX_TRACK, source=source, frame=0, superclock=0, fader=1.0,
                trim=1.0, azimuth=0.5, panner=BALANCE_PANNER_URI, mute=True, solo=False, comment=_AI_MIX_COMMENT,
            ))
            notes.append(f"the AI mix {mix_path} is on the muted track {AI_MIX_TRACK!r}: unmute it (and mute the "
                         "others) to compare")

        if ":" in str(out_dir):
            notes.append("the session folder's path holds ':', where Ardour splits its search paths: Ardour may "
                         "not find the session's own audio files once it saves the session; prefer a folder "
                         "without ':'")
        if resolved.master:
            chain = ", ".join(pl.label() for pl in resolved.master)
            notes.append(f"the master chain ({chain}) is not in the Ardour session; Ardour's master is at unity")
        if resolved.target_lufs is not None:
            notes.append(f"the plan's loudness target ({resolved.target_lufs:g} LUFS) is not applied in Ardour: "
                         "the session plays the tracks at their gains, master at unity")
        if not planned:
            notes.append("the plan has no tracks: the Ardour session is empty")

        xml = _session_xml(session_name, rate, planned)
        (tmp / f"{session_name}.ardour").write_bytes(xml)
    return ArdourWriteResult(
        path=out_dir / f"{session_name}.ardour", folder=out_dir, name=session_name, tracks=mapping, notes=notes,
        converted=[p.source.path for p in planned if p.source.converted],
    )


# --------------------------------------------------------------------------- safe XML


def _parse_xml(path: Path) -> ET.Element:
    """Parse ``path`` with expat, refusing entity declarations and external references."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArdourSessionError(f"{path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ArdourSessionError(f"{path} is a folder; give the .ardour file or its session folder") from None
    except OSError as exc:
        raise ArdourSessionError(f"cannot read {path}: {' '.join(str(exc).split())}") from None

    class _Refused(Exception):
        pass

    def entity(*_args: Any) -> None:
        raise _Refused("contains an XML entity declaration")

    def external(*_args: Any) -> None:
        raise _Refused("contains an XML external reference")

    def doctype(_name: str, system_id: str | None, public_id: str | None, _internal: bool) -> None:
        if system_id or public_id:
            raise _Refused("contains an XML external reference (a DOCTYPE with a system or public id)")

    builder = ET.TreeBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.ExternalEntityRefHandler = external
    parser.NotationDeclHandler = external
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise ArdourSessionError(f"{path} {exc}; refusing to read it") from None
    except expat.ExpatError as exc:
        raise ArdourSessionError(
            f"{path} is not valid XML (line {exc.lineno}, column {exc.offset + 1}: "
            f"{expat.ErrorString(exc.code)}); is it an Ardour session?"
        ) from None
    return builder.close()


# --------------------------------------------------------------------------- reader


class _Time:
    """A parsed Ardour time: ``frames``, or ``None`` with ``why`` it cannot be read."""

    def __init__(self, frames: int | None, why: str = "") -> None:
        self.frames, self.why = frames, why


def _parse_time(text: str | None, sample_rate: int) -> _Time:
    if text is None or text == "":
        return _Time(0)
    text = text.strip()
    if re.fullmatch(r"a-?\d+", text):
        return _Time(_superclock_to_frames(int(text[1:]), sample_rate))
    if re.fullmatch(r"-?\d+", text):
        return _Time(int(text))
    if text.startswith("b"):
        return _Time(None, why="musical time (bars and beats)")
    return _Time(None, why=f"an unknown time format {text!r}")


def _region_times(region: ET.Element, sample_rate: int) -> tuple[_Time, _Time, _Time]:
    """(position, length, start) of a region; Ardour 7 writes length as ``<length>@<position>``."""
    length_text = region.get("length", "")
    position_text = region.get("position")
    if "@" in length_text:
        length_text, at = length_text.split("@", 1)
        if position_text is None:
            position_text = at
    return (_parse_time(position_text, sample_rate), _parse_time(length_text, sample_rate),
            _parse_time(region.get("start"), sample_rate))


def _session_file(path: Path) -> Path:
    """The ``.ardour`` file of ``path``: the file itself, or the session a folder holds.

    In a folder with several snapshots, the one Ardour used last (``instant.xml``) is taken,
    else the one named like the folder.
    """
    if path.is_dir():
        candidates = sorted(p for p in path.iterdir()
                            if p.suffix == ".ardour" and p.is_file() and not p.name.startswith("."))
        if not candidates:
            raise ArdourSessionError(f"{path} holds no .ardour file; give an Ardour session folder or .ardour file")
        if len(candidates) == 1:
            return candidates[0]
        preferred = []
        instant = path / "instant.xml"
        if instant.is_file():
            with contextlib.suppress(ArdourSessionError):
                last = _parse_xml(instant).find("LastUsedSnapshot")
                if last is not None and last.get("name"):
                    preferred.append(path / f"{last.get('name')}.ardour")
        preferred.append(path / f"{path.name}.ardour")
        for p in preferred:
            if p in candidates:
                return p
        names = ", ".join(p.name for p in candidates)
        raise ArdourSessionError(f"{path} holds several snapshots ({names}); give the .ardour file to read")
    if not path.exists():
        raise ArdourSessionError(f"{path} does not exist; check the path")
    return path


def _controllable_value(node: ET.Element | None, name: str, default: float) -> float:
    if node is None:
        return default
    for c in node.findall("Controllable"):
        if c.get("name") == name:
            try:
                return float(c.get("value", default))
            except ValueError:
                return default
    return default


def _route_comment(route: ET.Element) -> str:
    node = route.find("Comment")
    return (node.text or "").strip() if node is not None else ""


def _resolve_source(name: str, folder: Path, session_name: str, search: list[Path]) -> Path:
    """The file of a Source: an absolute name, else the first match in Ardour's search folders.

    Ardour looks in ``interchange/<folder>/audiofiles`` and in the ``audio-search-path`` of the
    session's config (where it keeps the folders of files it plays in place, whose Sources it
    saves by bare name).
    """
    p = Path(name)
    if p.is_absolute():
        return p
    interchange = folder / "interchange"
    candidates = [interchange / sub / "audiofiles" / name for sub in (_legalize_for_path(folder.name), session_name)]
    if interchange.is_dir():
        candidates.extend(sorted(d / "audiofiles" / name for d in interchange.iterdir() if d.is_dir()))
    candidates.extend(d / name for d in search)
    candidates.append(folder / name)
    for c in candidates:
        if c.exists():
            return c.absolute()
    return candidates[0].absolute()


def _automated(route: ET.Element) -> list[str]:
    """Parameters of ``route`` with automation that plays (state not Off, with events)."""
    found = set()
    for alist in route.iter("AutomationList"):
        if alist.get("state", "Off") in ("Off", ""):
            continue
        events = alist.find("events")
        text = events.text if events is not None else alist.text
        if (text or "").strip():
            found.add(alist.get("automation-id", "?"))
    return sorted(found)


def read_ardour_session(
    path: str | os.PathLike[str],
    *,
    pan_law_db: float = CONSTANT_POWER_LAW_DB,
) -> Session:
    """Read an Ardour session (``.ardour`` file or its folder) as a :class:`Session`.

    Track gains and pans are the inverse of :func:`write_ardour_session`'s mapping under
    ``pan_law_db`` (the session's pan law; the default is the renderer's constant power), so
    writing a plan and reading it back gives its gains and pans. What the model cannot hold
    is listed in ``Session.notes``. Raises :class:`ArdourSessionError` (one line) for a
    missing file, unsafe XML (entity declarations, external references), a file that is not
    an Ardour session, or one whose structure is broken.
    """
    if not -6.0 <= pan_law_db < 0.0:
        raise ValueError(f"pan law must be in [-6, 0) dB, got {pan_law_db}")
    src = _session_file(Path(path).expanduser().absolute())
    root = _parse_xml(src)
    if root.tag != "Session" or root.get("version") is None or root.find("Routes") is None:
        raise ArdourSessionError(f"{src} is not an Ardour session (its root element is <{root.tag}>)")
    try:
        version = int(root.get("version", "0"))
        rate = int(root.get("sample-rate", "0"))
    except ValueError:
        raise ArdourSessionError(f"{src}: the session's version or sample-rate is not a number") from None
    if rate <= 0:
        raise ArdourSessionError(f"{src}: the session has no valid sample-rate")
    if version < 6000:
        raise ArdourSessionError(
            f"{src} is an Ardour {version // 1000 or 2} session (format {version}); this reader reads Ardour 6 and 7 "
            "sessions: open and save it in a newer Ardour first"
        )
    folder = src.parent
    session_name = root.get("name") or src.stem
    notes: list[str] = []

    search: list[Path] = []
    config = root.find("Config")
    if config is not None:
        for option in config.findall("Option"):
            if option.get("name") == "audio-search-path" and option.get("value"):
                for entry in option.get("value", "").split(os.pathsep):
                    if entry:
                        entry_path = Path(entry).expanduser()
                        search.append(entry_path if entry_path.is_absolute() else folder / entry_path)
    sources: dict[str, tuple[Path, int]] = {}
    sources_node = root.find("Sources")
    for s in (sources_node.findall("Source") if sources_node is not None else []):
        if s.get("type", "audio") != "audio" or s.get("id") is None:
            continue
        try:
            channel = int(s.get("channel", "0"))
        except ValueError:
            channel = 0
        sources[s.get("id", "")] = (_resolve_source(s.get("name", ""), folder, session_name, search), channel)

    playlists: dict[str, ET.Element] = {}
    for container in ("Playlists", "UnusedPlaylists"):
        node = root.find(container)
        if node is not None:
            for pl in node.findall("Playlist"):
                playlists.setdefault(pl.get("id", ""), pl)
                playlists.setdefault(pl.get("name", ""), pl)

    master = None
    tracks: list[Track] = []
    faded: list[str] = []
    channel_counts: dict[Path, int] = {}

    def channels_of(file: Path) -> int | None:
        if file not in channel_counts:
            try:
                channel_counts[file] = probe(file).channels
            except AudioError:
                return None
        return channel_counts[file]

    for route in root.find("Routes").findall("Route"):  # type: ignore[union-attr]
        info = route.find("PresentationInfo")
        flags = info.get("flags", "") if info is not None else ""
        rname = route.get("name", "?")
        if "MasterOut" in flags:
            master = route
            continue
        if "MonitorOut" in flags:
            continue
        if "AudioTrack" not in flags and route.get("audio-playlist") is None:
            if "MidiTrack" in flags:
                notes.append(f"MIDI track {rname!r} skipped (the model holds audio tracks)")
            elif "Bus" in flags:
                notes.append(f"bus {rname!r} skipped (the model has no busses): tracks fed through it are read "
                             "as if they went straight to the master")
            continue
        if _route_comment(route) == _AI_MIX_COMMENT:
            notes.append(f"track {rname!r} (the rendered AI mix for A/B) left out of the plan")
            continue
        label = f"track {rname!r}"
        comment = _route_comment(route)
        role = comment[len(_ROLE_PREFIX):].strip() or None if comment.startswith(_ROLE_PREFIX) else None

        fader, trim = 1.0, 1.0
        panner_uri, bypassed = "", False
        for proc in route.findall("Processor"):
            ptype = proc.get("type", "")
            if ptype == "amp":
                fader = _controllable_value(proc, "gaincontrol", 1.0)
            elif ptype == "trim":
                trim = _controllable_value(proc, "trimcontrol", 1.0)
            elif ptype == "main-outs":
                shell = proc.find("PannerShell")
                if shell is not None:
                    bypassed = shell.get("bypassed", "0") == "1"
                    panner_uri = shell.get("user-panner", "")
                    inner = shell.find("Panner")
                    if not panner_uri and inner is not None:
                        panner_uri = inner.get("type", "")
            elif ptype in _SEND_PROCESSORS:
                notes.append(f"{label} has a send or insert ({proc.get('name', ptype)}) that is not imported")
            elif ptype not in _BUILTIN_PROCESSORS:
                state = "" if proc.get("active", "1") == "1" else " (inactive)"
                notes.append(f"{label} has the plugin {proc.get('name', ptype)!r}{state}, which is not imported")
        azimuth = _controllable_value(route.find("Pannable"), "pan-azimuth", 0.5)
        width = _controllable_value(route.find("Pannable"), "pan-width", 1.0)
        mute = _controllable_value(route, "mute", 0.0) >= 0.5
        muted_node = route.find("MuteMaster")
        if muted_node is not None and muted_node.get("muted") in ("1", "yes"):
            mute = True
        solo = _controllable_value(route, "solo", 0.0) >= 0.5
        solo_node = next((c for c in route.findall("Controllable") if c.get("name") == "solo"), None)
        if solo_node is not None and solo_node.get("self-solo") in ("1", "yes"):
            solo = True
        if route.get("active", "1") in ("0", "no"):
            notes.append(f"{label} is inactive in Ardour (silent); read as muted")
            mute = True
        if any(c.get("name") == "phase" and set(c.get("phase-invert", "0")) - {"0"}
               for c in route.findall("Controllable")):
            notes.append(f"{label} has its polarity inverted, which the model cannot hold; not imported")
        outputs = [io for io in route.findall("IO") if io.get("direction") == "Output"]
        targets = {c.get("other", "") for io in outputs for c in io.iter("Connection")}
        if targets and not any(other.startswith("Master/") for other in targets):
            where = ", ".join(sorted({other.split("/")[0] for other in targets}))
            notes.append(f"{label} goes to {where}, not to the master; read as if it went to the master")
        automated = _automated(route)
        if automated:
            notes.append(f"{label} has automation ({', '.join(automated)}) that is not imported; "
                         "its static values are used")
        if bypassed:
            notes.append(f"{label}'s panner is bypassed; read as centre")

        playlist = playlists.get(route.get("audio-playlist", "")) if route.get("audio-playlist") else None
        if playlist is None:
            notes.append(f"{label} has no playlist; skipped")
            continue
        regions = playlist.findall("Region")
        if not regions:
            notes.append(f"{label} has no regions; skipped")
            continue
        if len(regions) > 1:
            notes.append(f"{label} has {len(regions)} regions: read as tracks "
                         + ", ".join(repr(f"{rname}.{i}") for i in range(1, len(regions) + 1)))
        total_gain = fader * trim
        inputs = [io for io in route.findall("IO") if io.get("direction") == "Input"]
        n_inputs = sum(1 for io in inputs for port in io.findall("Port") if port.get("type", "audio") == "audio")
        for index, region in enumerate(regions, start=1):
            base = rname if len(regions) == 1 else f"{rname}.{index}"
            rlabel = f"track {base!r}"
            position, length, start = _region_times(region, rate)
            if position.frames is None or length.frames is None or start.frames is None:
                why = position.why or length.why or start.why
                notes.append(f"{rlabel}: the region is placed in {why}, which this reader does not convert; skipped")
                continue
            try:
                n_channels = int(region.get("channels", "0"))
            except ValueError:
                n_channels = 0
            sids = []
            i = 0
            while region.get(f"source-{i}") is not None:
                sids.append(region.get(f"source-{i}", ""))
                i += 1
            if n_channels:
                sids = sids[:n_channels]
            missing = [sid for sid in sids if sid not in sources]
            if not sids or missing:
                notes.append(f"{rlabel}: the region's source is not in the session; skipped")
                continue
            region_gain = 1.0
            with contextlib.suppress(ValueError):
                region_gain = float(region.get("scale-amplitude", "1"))
            if region_gain != 1.0:
                notes.append(f"{rlabel}: the region gain ({_gain_db(region_gain):+.2f} dB) is folded into the track gain")
            if region.get("envelope-active", "0") == "1":
                notes.append(f"{rlabel}: the region's gain envelope is not imported")
            if region.get("fade-in-active", "0") == "1" or region.get("fade-out-active", "0") == "1":
                faded.append(base)
            region_mute = region.get("muted", "0") == "1"
            if region_mute:
                notes.append(f"{rlabel}: the region is muted; the track is read as muted")
            offset_frames = position.frames
            if start.frames:
                notes.append(f"{rlabel}: the region is trimmed ({start.frames} frames cut from the start); "
                             "the model plays whole files, placed so the audio keeps its time")
                offset_frames -= start.frames
            if offset_frames < 0:
                notes.append(f"{rlabel}: the file would start before the session's start; placed at 0")
                offset_frames = 0
            files = [sources[sid] for sid in sids]
            if n_inputs == 1 and len(files) > 1:
                notes.append(f"{rlabel}: a mono track plays only the first channel of its {len(files)}-channel region")
                files = files[:1]
            file_frames = None
            with contextlib.suppress(AudioError):
                file_frames = probe(files[0][0]).frames
            if file_frames is not None and length.frames + start.frames < file_frames - 1:
                notes.append(f"{rlabel}: the region ends before its file does; the model plays the whole file")
            offset_s = offset_frames / rate
            entries: list[tuple[str, Path, int | None, float, float]] = []  # name, file, channel, gain, pan
            if len(files) == 1:
                file, ch = files[0]
                count = channels_of(file)
                channel = ch if (count is None and ch) or (count is not None and count > 1) else None
                if n_inputs >= 2:  # Ardour plays a mono region on both inputs of a stereo track
                    factors = (1.0, 1.0)
                    if panner_uri == BALANCE_PANNER_URI and not bypassed:
                        b = _balance_pan(azimuth)
                        factors = (1.0 - b, 1.0) if b > 0 else (1.0, 1.0 + b)
                    elif not bypassed and not (azimuth == 0.5 and width == 1.0):
                        notes.append(f"{rlabel} uses Ardour's Equal Power Stereo panner (azimuth {azimuth:g}, "
                                     f"width {width:g}); read as centred, which sounds a little different")
                    pan, m = _pan_for_factors(*factors, pan_law_db)
                    k = 1.0 / m
                    notes.append(f"{rlabel}: a mono region on a stereo track (Ardour plays it on both channels); "
                                 "read as a mono track")
                elif bypassed:
                    pan, k = 0.0, 1.0
                else:
                    pan, k = ardour_to_mono_pan(azimuth, pan_law_db)
                entries.append((base, file, channel, total_gain * region_gain / k, pan))
            elif len(files) == 2 and files[0][0] == files[1][0] and (files[0][1], files[1][1]) == (0, 1) \
                    and channels_of(files[0][0]) == 2:
                if panner_uri == BALANCE_PANNER_URI:
                    pan = _balance_pan(azimuth)
                elif bypassed or (azimuth == 0.5 and width == 1.0):
                    pan = 0.0
                else:
                    pan = _balance_pan(azimuth)
                    notes.append(f"{rlabel} uses Ardour's Equal Power Stereo panner (azimuth {azimuth:g}, width "
                                 f"{width:g}); read as a balance of {pan:+.3f}, which sounds a little different")
                entries.append((base, files[0][0], None, total_gain * region_gain, pan))
            elif len(files) == 2:
                if panner_uri == BALANCE_PANNER_URI or bypassed or (azimuth == 0.5 and width == 1.0):
                    pan = 0.0 if bypassed else _balance_pan(azimuth)
                    left_gain = 1.0 - pan if pan > 0 else 1.0
                    right_gain = 1.0 + pan if pan < 0 else 1.0
                else:
                    left_gain = right_gain = 1.0
                    notes.append(f"{rlabel} uses Ardour's Equal Power Stereo panner (azimuth {azimuth:g}, width "
                                 f"{width:g}); its two files are read hard left and right, which sounds a little "
                                 "different")
                notes.append(f"{rlabel} plays two files as left and right: read as tracks '{base} L' and "
                             f"'{base} R', panned hard left and right")
                for suffix, (file, ch), side_gain, pan in ((" L", files[0], left_gain, -1.0),
                                                          (" R", files[1], right_gain, 1.0)):
                    count = channels_of(file)
                    channel = ch if count is not None and count > 1 else None
                    entries.append((base + suffix, file, channel, total_gain * region_gain * side_gain, pan))
            else:
                notes.append(f"{rlabel}: a region with {len(files)} channels is not supported; skipped")
                continue
            for entry_name, file, channel, gain, pan in entries:
                gain_db = _gain_db(gain)
                if gain_db < -120.0:
                    notes.append(f"track {entry_name!r}: gain below -120 dB read as -120 dB")
                    gain_db = -120.0
                if gain_db > 24.0:
                    notes.append(f"track {entry_name!r}: gain {gain_db:+.2f} dB read as +24 dB, the model's limit")
                    gain_db = 24.0
                if not file.exists():
                    notes.append(f"track {entry_name!r}: its file {file} is missing")
                tracks.append(Track(
                    name=entry_name, file=file, channel=channel, role=role, offset_s=offset_s, gain_db=gain_db,
                    pan=pan, mute=mute or region_mute, solo=solo,
                ))
    if faded:
        notes.append("regions with fades (ignored: the model has no fades): " + ", ".join(faded))
    if master is not None:
        mgain = 1.0
        for proc in master.findall("Processor"):
            if proc.get("type") == "amp":
                mgain *= _controllable_value(proc, "gaincontrol", 1.0)
            elif proc.get("type") == "trim":
                mgain *= _controllable_value(proc, "trimcontrol", 1.0)
            elif proc.get("type") not in _BUILTIN_PROCESSORS:
                notes.append(f"the master has the plugin {proc.get('name', '?')!r}, which is not imported")
        if abs(mgain - 1.0) > 1e-9:
            notes.append(f"the master is at {_gain_db(mgain):+.2f} dB in Ardour; the model's master is at unity")
    names = [t.name for t in tracks]
    if len(set(names)) != len(names):
        seen: dict[str, int] = {}
        for t in tracks:
            seen[t.name] = seen.get(t.name, 0) + 1
            if seen[t.name] > 1:
                t.name = f"{t.name} ({seen[t.name]})"
    try:
        return Session(name=session_name, sample_rate=rate, tracks=tracks, pan_law_db=pan_law_db, notes=notes)
    except ValidationError as exc:  # a broken session
        raise ArdourSessionError(f"{src}: cannot be read as a session ({' '.join(str(exc).split())[:300]})") from None
