"""Build the XML of a new Ardour 7 session (format 7002) from planned tracks.

Input: :class:`PlannedTrack` (route, source, position in frames and superclock, fader and trim
as linear gains, azimuth 0..1, panner URI, mute, solo). Output: the ``.ardour`` file's bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daw_bridge.formats.ardour.ace import AcePlugin
from daw_bridge.formats.ardour.panning import BALANCE_PANNER_URI
from daw_bridge.formats.ardour.session_format import (
    ARDOUR_SESSION_VERSION,
    SUPERCLOCK_RATE,
    frames_to_superclock,
)


@dataclass
class PlannedSource:
    """The audio one route plays."""

    path: Path  # what Ardour plays (absolute; for a copy, its path in the final folder)
    xml_name: str  # the Source's name in the XML: absolute path, or a bare name in audiofiles
    channels: list[int]  # source channels the track plays
    frames: int
    converted: bool


@dataclass
class PlannedTrack:
    """One route as it goes into the session (gains linear, azimuth 0..1)."""

    route: str
    source: PlannedSource
    frame: int
    superclock: int
    fader: float
    trim: float
    azimuth: float
    panner: str
    mute: bool
    solo: bool
    comment: str
    plugins: list[AcePlugin] = field(default_factory=list)  # ACE plugins between the trim and the fader

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


def _channel_maps(node: ET.Element, channels: int) -> None:
    """Ardour's I/O description of a mono plugin replicated over ``channels`` channels."""
    for tag in ("ConfiguredInput", "CustomSinks", "ConfiguredOutput"):
        _sub(_sub(node, tag), "Channels", type="audio", count=channels)
    _sub(node, "PresetOutput")
    for i in range(channels):
        _sub(_sub(node, f"InputMap-{i}"), "Channelmap", type="audio", **{"from": 0, "to": i})
        _sub(_sub(node, f"OutputMap-{i}"), "Channelmap", type="audio", **{"from": 0, "to": i})
    _sub(node, "ThruMap")


def _plugin_processor(route: ET.Element, ids: _Ids, plugin: AcePlugin, channels: int) -> None:
    """An LV2 processor running ``plugin`` (one instance per channel), as Ardour 7 saves one."""
    node = _sub(route, "Processor", id=ids(), name=plugin.name, active=1, user_latency=0, use_user_latency=0,
                type="lv2", unique_id=plugin.uri, count=channels, custom=0)
    ports = plugin.port_list()
    _automation(node, ids, [(f"parameter-{i}", "Linear", "AudioTime") for i, *_ in ports])
    _channel_maps(node, channels)
    state = _sub(node, "lv2", last_preset_uri="", last_preset_label="", parameter_changed_since_last_preset=1)
    for _, symbol, _, value in ports:
        _sub(state, "Port", symbol=symbol, value=_num(value))
    for index, symbol, name, value in ports:
        _controllable(node, ids, name, "", _num(value), parameter=index, symbol=symbol)


def _gain_processors(route: ET.Element, ids: _Ids, fader: float, trim: float,
                     plugins: list[AcePlugin] | None = None, channels: int = 1) -> None:
    _sub(route, "Processor", id=ids(), name="Polarity", active=1, user_latency=0, use_user_latency=0,
         type="polarity")
    trim_node = _sub(route, "Processor", id=ids(), name="Amp", active=1, user_latency=0, use_user_latency=0,
                     type="trim")
    _automation(trim_node, ids, [("trim", "Logarithmic", "AudioTime")])
    _controllable(trim_node, ids, "trimcontrol", "GainLike", _num(trim))
    for plugin in plugins or []:
        _plugin_processor(route, ids, plugin, channels)
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


def _master_route(ids: _Ids, inputs: list[str], plugins: list[AcePlugin], fader: float) -> ET.Element:
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
    _gain_processors(route, ids, fader, 1.0, plugins, 2)
    main = _sub(route, "Processor", id=ids(), name="Master", active=1, user_latency=0, use_user_latency=0,
                own_input=1, own_output=0, output="Master", type="main-outs", role="Main")
    _sub(main, "PannerShell", bypassed=0, user_panner="", linked_to_route=1)
    _sub(route, "Processor", id=ids(), name="meter-Master", active=1, user_latency=0, use_user_latency=0,
         type="meter")
    _sub(route, "Slavable")
    return route


def _track_route(ids: _Ids, planned: PlannedTrack, order: int, playlist_id: str) -> ET.Element:
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
    _gain_processors(route, ids, planned.fader, planned.trim, planned.plugins, n_in)
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
        "length": f"a{frames_to_superclock(frames, sample_rate)}@a{superclock}",
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




def _header(root: ET.Element) -> None:
    _sub(root, "ProgramVersion", created_with="automix (daw_bridge.formats.ardour)", modified_with="automix (daw_bridge.formats.ardour)")
    config = _sub(root, "Config")
    for key, value in (("native-file-data-format", "FormatFloat"), ("native-file-header-format", "WAVE"),
                       ("use-region-fades", "1"), ("auto-play", "0"), ("auto-return", "0")):
        _sub(config, "Option", name=key, value=value)
    _sub(root, "Metadata")


def _sources(root: ET.Element, ids: _Ids, planned: list[PlannedTrack]) -> dict[tuple[str, int], str]:
    """One Source per (file, channel) played; returns their ids."""
    sources = _sub(root, "Sources")
    source_ids: dict[tuple[str, int], str] = {}
    for p in planned:
        for ch in p.source.channels:
            key = (p.source.xml_name, ch)
            if key not in source_ids:
                source_ids[key] = ids()
                _sub(sources, "Source", name=p.source.xml_name, type="audio", flags="", id=source_ids[key],
                     captured_for="", take_id="", channel=ch, origin="", gain=1)
    return source_ids


def _routes_and_playlists(root: ET.Element, ids: _Ids, planned: list[PlannedTrack],
                          source_ids: dict[tuple[str, int], str], sample_rate: int,
                          master: tuple[list[AcePlugin], float]) -> None:
    routes = _sub(root, "Routes")
    routes.append(_master_route(ids, [p.route for p in planned], *master))
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


def _tempo_map(root: ET.Element) -> None:
    tempo_map = _sub(root, "TempoMap", superclocks_per_second=SUPERCLOCK_RATE)
    tempos = _sub(tempo_map, "Tempos")
    _sub(tempos, "Tempo", npm=120, enpm=120, note_type=4, type="Tempo::Constant", active=1, locked_to_meter=0,
         continuing=0, sclock=0, quarters="0:0", bbt="1|1|0", omega=0)
    meters = _sub(tempo_map, "Meters")
    _sub(meters, "Meter", note_value=4, divisions_per_bar=4, sclock=0, quarters="0:0", bbt="1|1|0")
    _sub(tempo_map, "MusicTimes")


def _click(root: ET.Element, ids: _Ids) -> None:
    click = _sub(root, "Click")
    _io(click, ids, "Click", "Output", [(f"Click/audio_out {i}", [f"system:playback_{i}"]) for i in (1, 2)])
    click_amp = _sub(click, "Processor", id=ids(), name="Amp", active=1, user_latency=0, use_user_latency=0,
                     type="amp")
    _automation(click_amp, ids, [("gain", "Exponential", "AudioTime")])
    _controllable(click_amp, ids, "gaincontrol", "GainLike", 1)


def session_xml(name: str, sample_rate: int, planned: list[PlannedTrack], master: list[AcePlugin] | None = None,
                master_fader: float = 1.0) -> bytes:
    """The ``.ardour`` file (UTF-8 XML bytes) of a session playing ``planned`` at ``sample_rate`` Hz;
    ``master``: ACE plugins on the master bus, before its fader (``master_fader``, linear)."""
    ids = _Ids()
    root = ET.Element("Session", {
        "version": str(ARDOUR_SESSION_VERSION), "name": name, "sample-rate": str(sample_rate),
        "end-is-free": "0", "session-range-is-free": "0",
    })
    _header(root)
    source_ids = _sources(root, ids, planned)
    regions = _sub(root, "Regions")
    for p in planned:
        sids = [source_ids[(p.source.xml_name, ch)] for ch in p.source.channels]
        _region(regions, ids(), p.route, sids, p.source.frames, 0, sample_rate, whole_file=True)
    end = frames_to_superclock(max((p.frame + p.source.frames for p in planned), default=0), sample_rate)
    locations = _sub(root, "Locations")
    _sub(locations, "Location", id=ids(), name="session", start="a0", end=f"a{end}", flags="IsSessionRange",
         locked=0, timestamp=0, cue=0)
    _sub(root, "Bundles")
    _sub(root, "VCAManager")
    _routes_and_playlists(root, ids, planned, source_ids, sample_rate, (master or [], master_fader))
    _sub(root, "UnusedPlaylists")
    _sub(root, "RouteGroups")
    _tempo_map(root)
    _click(root, ids)
    root.set("id-counter", str(ids.next + 1))
    root.set("name-counter", "1")
    root.set("event-counter", "0")
    root.set("vca-counter", "1")
    ET.indent(root, space="  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
