"""Read one Ardour audio track (a ``<Route>`` and its playlist's regions) as plan tracks.

Gains are fader x trim (x region gain), pans the inverse of the writer's mapping; a route with
several regions, or a region playing two mono files, becomes several tracks. Rules and the
notes each case gets: ``docs/formats.md`` (Ardour, Reading).
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from daw_bridge.audio import probe
from daw_bridge.errors import AudioError
from daw_bridge.formats.ardour.ace import plugin_specs
from daw_bridge.formats.ardour.panning import (
    BALANCE_PANNER_URI,
    ardour_to_mono_pan,
    balance_pan,
    gain_to_db,
    pan_for_factors,
)
from daw_bridge.formats.ardour.session_format import ROLE_PREFIX, superclock_to_frames
from daw_bridge.session import PluginSpec, Track

# processors every Ardour route has; anything else is a plugin, a send or an insert
BUILTIN_PROCESSORS = frozenset(
    {"diskreader", "diskwriter", "triggerbox", "polarity", "trim", "amp", "meter", "main-outs", "intreturn",
     "capture", "delay", "monitor", "unknown-processor-placeholder"}
)
_SEND_PROCESSORS = frozenset({"intsend", "send", "port", "insert", "foldbacksend"})

#: (track name, file, channel or None, linear gain, pan) of a track read from a region
_Entry = tuple[str, Path, int | None, float, float]


@dataclass
class ReadState:
    """What every route of a session reads from: its rate, pan law, sources and playlists.

    ``notes`` and ``faded`` (names of tracks whose regions have fades) collect as routes are read.
    """

    rate: int
    pan_law_db: float
    sources: dict[str, tuple[Path, int]]  # Source id -> (file, channel)
    playlists: dict[str, ET.Element]  # by id and by name
    notes: list[str] = field(default_factory=list)
    faded: list[str] = field(default_factory=list)
    _channel_counts: dict[Path, int] = field(default_factory=dict, init=False, repr=False)

    def channels_of(self, file: Path) -> int | None:
        """The channel count of ``file`` (probed once), or None when it cannot be read."""
        if file not in self._channel_counts:
            try:
                self._channel_counts[file] = probe(file).channels
            except AudioError:
                return None
        return self._channel_counts[file]


@dataclass
class _Mixer:
    """A route's mixer strip: linear gain (fader x trim), panner, azimuth 0..1, width, switches."""

    gain: float
    panner_uri: str
    bypassed: bool
    azimuth: float
    width: float
    mute: bool
    solo: bool
    role: str | None
    n_inputs: int
    plugins: list[PluginSpec] = field(default_factory=list)

    @property
    def centred_stereo(self) -> bool:
        """Equal Power Stereo at its default (centre, full width): exact."""
        return self.azimuth == 0.5 and self.width == 1.0


class _Time:
    """A parsed Ardour time: ``frames``, or ``None`` with ``why`` it cannot be read."""

    def __init__(self, frames: int | None, why: str = "") -> None:
        self.frames, self.why = frames, why


def _parse_time(text: str | None, sample_rate: int) -> _Time:
    if text is None or text == "":
        return _Time(0)
    text = text.strip()
    if re.fullmatch(r"a-?\d+", text):
        return _Time(superclock_to_frames(int(text[1:]), sample_rate))
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


def controllable_value(node: ET.Element | None, name: str, default: float) -> float:
    """The ``value`` of the ``<Controllable name=...>`` under ``node``, else ``default``."""
    if node is None:
        return default
    for c in node.findall("Controllable"):
        if c.get("name") == name:
            try:
                return float(c.get("value", default))
            except ValueError:
                return default
    return default


def route_comment(route: ET.Element) -> str:
    """The route's comment, stripped ('' when none)."""
    node = route.find("Comment")
    return (node.text or "").strip() if node is not None else ""


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


# --------------------------------------------------------------------------- the mixer strip


def ace_specs(proc: ET.Element, rate: int) -> list[PluginSpec] | None:
    """The pedalboard chain an ACE EQ or ACE Compressor processor plays (None: another plugin)."""
    state = proc.find("lv2")
    if proc.get("type") != "lv2" or state is None:
        return None
    try:
        ports = {p.get("symbol", ""): float(p.get("value", "")) for p in state.findall("Port")}
    except ValueError:
        return None
    return plugin_specs(proc.get("unique-id", ""), ports, rate)


def plugin_chain(route: ET.Element, label: str, rate: int, notes: list[str]) -> list[PluginSpec]:
    """The route's active ACE plugins as a pedalboard chain; a note for each other plugin."""
    chain: list[PluginSpec] = []
    for proc in route.findall("Processor"):
        ptype = proc.get("type", "")
        if ptype in BUILTIN_PROCESSORS or ptype in _SEND_PROCESSORS:
            continue
        specs = ace_specs(proc, rate)
        active = proc.get("active", "1") == "1"
        if specs is not None and active:
            chain.extend(specs)
        else:
            state = "" if active else " (inactive)"
            notes.append(f"{label} has the plugin {proc.get('name', ptype)!r}{state}, which is not imported")
    return chain


def _processors(route: ET.Element, label: str, notes: list[str]) -> tuple[float, float, str, bool]:
    """``(fader, trim, panner URI, panner bypassed)``; a note for each send or insert."""
    fader, trim = 1.0, 1.0
    panner_uri, bypassed = "", False
    for proc in route.findall("Processor"):
        ptype = proc.get("type", "")
        if ptype == "amp":
            fader = controllable_value(proc, "gaincontrol", 1.0)
        elif ptype == "trim":
            trim = controllable_value(proc, "trimcontrol", 1.0)
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
    return fader, trim, panner_uri, bypassed


def _switches(route: ET.Element, label: str, notes: list[str]) -> tuple[bool, bool]:
    """``(mute, solo)``; an inactive route is read as muted."""
    mute = controllable_value(route, "mute", 0.0) >= 0.5
    muted_node = route.find("MuteMaster")
    if muted_node is not None and muted_node.get("muted") in ("1", "yes"):
        mute = True
    solo = controllable_value(route, "solo", 0.0) >= 0.5
    solo_node = next((c for c in route.findall("Controllable") if c.get("name") == "solo"), None)
    if solo_node is not None and solo_node.get("self-solo") in ("1", "yes"):
        solo = True
    if route.get("active", "1") in ("0", "no"):
        notes.append(f"{label} is inactive in Ardour (silent); read as muted")
        mute = True
    return mute, solo


def _route_notes(route: ET.Element, label: str, bypassed: bool, notes: list[str]) -> None:
    """Notes for what the route does that the model cannot hold."""
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


def _mixer(route: ET.Element, label: str, rate: int, notes: list[str]) -> _Mixer:
    comment = route_comment(route)
    role = comment[len(ROLE_PREFIX):].strip() or None if comment.startswith(ROLE_PREFIX) else None
    fader, trim, panner_uri, bypassed = _processors(route, label, notes)
    plugins = plugin_chain(route, label, rate, notes)
    if trim != 1.0 and any(p.name == "Compressor" for p in plugins):  # the trim drives the compressor
        plugins.insert(0, PluginSpec(kind="builtin", name="Gain", params={"gain_db": gain_to_db(trim)}))
        trim = 1.0
    azimuth = controllable_value(route.find("Pannable"), "pan-azimuth", 0.5)
    width = controllable_value(route.find("Pannable"), "pan-width", 1.0)
    mute, solo = _switches(route, label, notes)
    _route_notes(route, label, bypassed, notes)
    inputs = [io for io in route.findall("IO") if io.get("direction") == "Input"]
    n_inputs = sum(1 for io in inputs for port in io.findall("Port") if port.get("type", "audio") == "audio")
    return _Mixer(gain=fader * trim, panner_uri=panner_uri, bypassed=bypassed, azimuth=azimuth, width=width,
                  mute=mute, solo=solo, role=role, n_inputs=n_inputs, plugins=plugins)


# --------------------------------------------------------------------------- regions


def _region_sources(region: ET.Element, rlabel: str, ctx: ReadState) -> list[tuple[Path, int]] | None:
    """The (file, channel) of each channel the region plays; None (with a note) when missing."""
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
    missing = [sid for sid in sids if sid not in ctx.sources]
    if not sids or missing:
        ctx.notes.append(f"{rlabel}: the region's source is not in the session; skipped")
        return None
    return [ctx.sources[sid] for sid in sids]


def _region_state(region: ET.Element, base: str, ctx: ReadState) -> tuple[float, bool]:
    """``(region gain, region muted)``; notes for what the model drops, fades collected."""
    rlabel = f"track {base!r}"
    region_gain = 1.0
    with contextlib.suppress(ValueError):
        region_gain = float(region.get("scale-amplitude", "1"))
    if region_gain != 1.0:
        ctx.notes.append(f"{rlabel}: the region gain ({gain_to_db(region_gain):+.2f} dB) is folded into the track gain")
    if region.get("envelope-active", "0") == "1":
        ctx.notes.append(f"{rlabel}: the region's gain envelope is not imported")
    if region.get("fade-in-active", "0") == "1" or region.get("fade-out-active", "0") == "1":
        ctx.faded.append(base)
    region_mute = region.get("muted", "0") == "1"
    if region_mute:
        ctx.notes.append(f"{rlabel}: the region is muted; the track is read as muted")
    return region_gain, region_mute


def _offset_frames(position: int, start: int, rlabel: str, notes: list[str]) -> int:
    """Where the whole file starts: a trimmed region keeps its audio's time, never before 0."""
    offset_frames = position
    if start:
        notes.append(f"{rlabel}: the region is trimmed ({start} frames cut from the start); "
                     "the model plays whole files, placed so the audio keeps its time")
        offset_frames -= start
    if offset_frames < 0:
        notes.append(f"{rlabel}: the file would start before the session's start; placed at 0")
        offset_frames = 0
    return offset_frames


def _equal_power_note(rlabel: str, mixer: _Mixer, how: str) -> str:
    return (f"{rlabel} uses Ardour's Equal Power Stereo panner (azimuth {mixer.azimuth:g}, width "
            f"{mixer.width:g}); {how}")


def _mono_region(base: str, file: Path, ch: int, gain: float, mixer: _Mixer, ctx: ReadState) -> _Entry:
    """A region playing one file channel (on a mono track, or on both inputs of a stereo one)."""
    rlabel = f"track {base!r}"
    count = ctx.channels_of(file)
    channel = ch if (count is None and ch) or (count is not None and count > 1) else None
    if mixer.n_inputs >= 2:  # Ardour plays a mono region on both inputs of a stereo track
        factors = (1.0, 1.0)
        if mixer.panner_uri == BALANCE_PANNER_URI and not mixer.bypassed:
            b = balance_pan(mixer.azimuth)
            factors = (1.0 - b, 1.0) if b > 0 else (1.0, 1.0 + b)
        elif not mixer.bypassed and not mixer.centred_stereo:
            ctx.notes.append(_equal_power_note(rlabel, mixer, "read as centred, which sounds a little different"))
        pan, m = pan_for_factors(*factors, ctx.pan_law_db)
        k = 1.0 / m
        ctx.notes.append(f"{rlabel}: a mono region on a stereo track (Ardour plays it on both channels); "
                         "read as a mono track")
    elif mixer.bypassed:
        pan, k = 0.0, 1.0
    else:
        pan, k = ardour_to_mono_pan(mixer.azimuth, ctx.pan_law_db)
    return base, file, channel, gain / k, pan


def _stereo_region(base: str, file: Path, gain: float, mixer: _Mixer, notes: list[str]) -> _Entry:
    """A region playing both channels of one stereo file: a balanced stereo track."""
    if mixer.panner_uri == BALANCE_PANNER_URI:
        pan = balance_pan(mixer.azimuth)
    elif mixer.bypassed or mixer.centred_stereo:
        pan = 0.0
    else:
        pan = balance_pan(mixer.azimuth)
        notes.append(_equal_power_note(f"track {base!r}", mixer,
                                       f"read as a balance of {pan:+.3f}, which sounds a little different"))
    return base, file, None, gain, pan


def _dual_mono_region(
    base: str, files: list[tuple[Path, int]], gain: float, mixer: _Mixer, ctx: ReadState
) -> list[_Entry]:
    """A region playing two mono files as left and right: two tracks panned hard left and right."""
    rlabel = f"track {base!r}"
    if mixer.panner_uri == BALANCE_PANNER_URI or mixer.bypassed or mixer.centred_stereo:
        pan = 0.0 if mixer.bypassed else balance_pan(mixer.azimuth)
        left_gain = 1.0 - pan if pan > 0 else 1.0
        right_gain = 1.0 + pan if pan < 0 else 1.0
    else:
        left_gain = right_gain = 1.0
        ctx.notes.append(_equal_power_note(rlabel, mixer, "its two files are read hard left and right, which "
                                                          "sounds a little different"))
    ctx.notes.append(f"{rlabel} plays two files as left and right: read as tracks '{base} L' and "
                     f"'{base} R', panned hard left and right")
    entries: list[_Entry] = []
    for suffix, (file, ch), side_gain, pan in ((" L", files[0], left_gain, -1.0), (" R", files[1], right_gain, 1.0)):
        count = ctx.channels_of(file)
        channel = ch if count is not None and count > 1 else None
        entries.append((base + suffix, file, channel, gain * side_gain, pan))
    return entries


def _region_entries(
    base: str, files: list[tuple[Path, int]], gain: float, mixer: _Mixer, ctx: ReadState
) -> list[_Entry]:
    """The tracks a region at linear ``gain`` becomes; [] (with a note) when it is not supported."""
    if len(files) == 1:
        return [_mono_region(base, *files[0], gain, mixer, ctx)]
    if len(files) == 2 and files[0][0] == files[1][0] and (files[0][1], files[1][1]) == (0, 1) \
            and ctx.channels_of(files[0][0]) == 2:
        return [_stereo_region(base, files[0][0], gain, mixer, ctx.notes)]
    if len(files) == 2:
        return _dual_mono_region(base, files, gain, mixer, ctx)
    ctx.notes.append(f"track {base!r}: a region with {len(files)} channels is not supported; skipped")
    return []


def _entry_track(entry: _Entry, offset_s: float, mixer: _Mixer, mute: bool, notes: list[str]) -> Track:
    """The plan track of one entry, its gain within the model's -120..+24 dB."""
    entry_name, file, channel, gain, pan = entry
    gain_db = gain_to_db(gain)
    if gain_db < -120.0:
        notes.append(f"track {entry_name!r}: gain below -120 dB read as -120 dB")
        gain_db = -120.0
    if gain_db > 24.0:
        notes.append(f"track {entry_name!r}: gain {gain_db:+.2f} dB read as +24 dB, the model's limit")
        gain_db = 24.0
    if not file.exists():
        notes.append(f"track {entry_name!r}: its file {file} is missing")
    return Track(
        name=entry_name, file=file, channel=channel, role=mixer.role, offset_s=offset_s, gain_db=gain_db,
        pan=pan, mute=mute, solo=mixer.solo, plugins=[p.model_copy() for p in mixer.plugins],
    )


def _region_tracks(region: ET.Element, base: str, mixer: _Mixer, ctx: ReadState) -> list[Track]:
    """The plan tracks one region becomes (named ``base``, or ``base L``/``base R``)."""
    rlabel = f"track {base!r}"
    position, length, start = _region_times(region, ctx.rate)
    if position.frames is None or length.frames is None or start.frames is None:
        why = position.why or length.why or start.why
        ctx.notes.append(f"{rlabel}: the region is placed in {why}, which this reader does not convert; skipped")
        return []
    files = _region_sources(region, rlabel, ctx)
    if files is None:
        return []
    region_gain, region_mute = _region_state(region, base, ctx)
    offset_frames = _offset_frames(position.frames, start.frames, rlabel, ctx.notes)
    if mixer.n_inputs == 1 and len(files) > 1:
        ctx.notes.append(f"{rlabel}: a mono track plays only the first channel of its {len(files)}-channel region")
        files = files[:1]
    file_frames = None
    with contextlib.suppress(AudioError):
        file_frames = probe(files[0][0]).frames
    if file_frames is not None and length.frames + start.frames < file_frames - 1:
        ctx.notes.append(f"{rlabel}: the region ends before its file does; the model plays the whole file")
    offset_s = offset_frames / ctx.rate
    entries = _region_entries(base, files, mixer.gain * region_gain, mixer, ctx)
    return [_entry_track(e, offset_s, mixer, mixer.mute or region_mute, ctx.notes) for e in entries]


def route_tracks(route: ET.Element, ctx: ReadState) -> list[Track]:
    """The plan tracks of an audio track's route: one per region (``<name>.1``, ... when several)."""
    rname = route.get("name", "?")
    label = f"track {rname!r}"
    mixer = _mixer(route, label, ctx.rate, ctx.notes)
    playlist = ctx.playlists.get(route.get("audio-playlist", "")) if route.get("audio-playlist") else None
    if playlist is None:
        ctx.notes.append(f"{label} has no playlist; skipped")
        return []
    regions = playlist.findall("Region")
    if not regions:
        ctx.notes.append(f"{label} has no regions; skipped")
        return []
    if len(regions) > 1:
        ctx.notes.append(f"{label} has {len(regions)} regions: read as tracks "
                         + ", ".join(repr(f"{rname}.{i}") for i in range(1, len(regions) + 1)))
    tracks: list[Track] = []
    for index, region in enumerate(regions, start=1):
        base = rname if len(regions) == 1 else f"{rname}.{index}"
        tracks.extend(_region_tracks(region, base, mixer, ctx))
    return tracks
