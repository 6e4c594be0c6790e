"""The text of a REAPER project (``.rpp``) for a session's placed tracks.

Per track a ``<TRACK`` (name, volume/pan, mute/solo, ``<EXT`` data) with one ``<ITEM``
(position in s, length in s, channel mode, source file); project notes list what REAPER does
not load. Every line written: ``docs/formats.md`` (REAPER).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daw_bridge.audio import AudioInfo
from daw_bridge.formats.reaper.ext_data import ext_entries
from daw_bridge.formats.reaper.rpp import AI_MIX_TRACK, RppWriter, rpp_number, rpp_string
from daw_bridge.panlaw import db_to_gain
from daw_bridge.session import PluginSpec, Session, Track


@dataclass
class PlacedTrack:
    """One track as it goes into the project."""

    name: str
    track: Track | None  # None for the AI mix track
    file: Path  # absolute path of the audio the user gave
    info: AudioInfo
    source_text: str = ""  # what goes after FILE
    chanmode: int = 0
    stereo: bool = False  # the item plays a 2+ channel signal (balance, not mono pan)
    extract_channel: int | None = None  # copy this channel into media/
    media_name: str | None = None  # its file in media/


def _source_type(info: AudioInfo) -> str:
    suffix = info.path.suffix.lower()
    if suffix == ".flac":
        return "FLAC"
    if suffix == ".ogg":
        return "OPUS" if info.subtype.upper() == "OPUS" else "VORBIS"
    return "WAVE"  # .wav/.wave, and .aif/.aiff (REAPER's PCM source; see docs/formats.md)


def _guid(*parts: str) -> str:
    """A stable GUID in REAPER's form ``{XXXXXXXX-XXXX-...}`` (same session, same ids)."""
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "automix-reaper:" + "\x1f".join(parts))).upper() + "}"


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_plugin(plugin: PluginSpec) -> str:
    """One line naming a plugin and its parameters, for notes (``Compressor (ratio=4, ...)``)."""
    if plugin.kind == "builtin":
        head = f"{plugin.name} (pedalboard built-in)"
    else:
        head = f"VST3 {plugin.path}" + (f" [{plugin.name}]" if plugin.name else "")
    params = ", ".join(f"{k}={_param_text(v)}" for k, v in plugin.params.items())
    text = head + (f": {params}" if params else "")
    if plugin.state is not None:
        text += f"; saved state {len(base64.b64decode(plugin.state))} bytes (not carried)"
    if plugin.bypass:
        text += "; bypassed"
    return text


def project_text(session: Session, placed: list[PlacedTrack]) -> str:
    """The whole ``.rpp`` text: header, project notes, then one track per placed track."""
    out = RppWriter()
    out.open("REAPER_PROJECT", "0.1", rpp_string("6.0/automix"), "0")
    out.text_block("NOTES", "0 2", _project_notes(session, placed))
    out.line("PANLAW", rpp_number(db_to_gain(session.pan_law_db)))
    out.line("PANMODE", "3")
    out.line("SAMPLERATE", str(session.sample_rate), "1", "0")
    out.line("TEMPO", "120", "4", "4")
    out.line("MASTER_NCH", "2", "2")
    out.line("MASTER_VOLUME", "1", "0", "-1", "-1", "1")
    out.line("MASTER_PANMODE", "3")
    out.line("MASTERMUTESOLO", "0")
    for index, item in enumerate(placed, start=1):
        _track_text(out, session, item, index)
    out.close()
    return out.text()


def _project_notes(session: Session, placed: list[PlacedTrack]) -> list[str]:
    """Lines of File > Project notes: rate, pan law, render target, every plugin chain, notes."""
    law = f"{session.pan_law_db:g} dB"
    lines = [f"automix session {session.name!r}: {session.sample_rate} Hz, pan law {law} (mono pan, stereo balance)"]
    if session.target_lufs is not None:
        lines.append(f"Render target: {session.target_lufs:g} LUFS integrated, true peak below {session.true_peak_db:g} dBTP")
    chained = [item for item in placed if item.track is not None and item.track.plugins]
    if chained or session.master:
        lines.append("Plugin chains (REAPER loaded none of these; set them up by hand):")
        for item in chained:
            assert item.track is not None
            for n, plugin in enumerate(item.track.plugins, start=1):
                lines.append(f"  {item.name} {n}. {describe_plugin(plugin)}")
        for n, plugin in enumerate(session.master, start=1):
            lines.append(f"  Master {n}. {describe_plugin(plugin)}")
    if any(item.track is None for item in placed):
        lines.append(f"Track {AI_MIX_TRACK!r} (muted) holds the automix render of this session.")
    lines.extend(f"Note: {note}" for note in session.notes)
    return lines


def _track_lines(out: RppWriter, session: Session, item: PlacedTrack) -> None:
    """The ``<TRACK`` attributes before its item: name, volume/pan/law, mute/solo, ``<EXT``."""
    track = item.track
    gain_db = track.gain_db if track is not None else 0.0
    pan = track.pan if track is not None else 0.0
    mute = track.mute if track is not None else True
    solo = track.solo if track is not None else False
    track_id = _guid(session.name, item.name, "track")
    out.open("TRACK", track_id)
    out.line("NAME", rpp_string(item.name))
    out.line("PEAKCOL", "16576")
    out.line("BEAT", "-1")
    out.line("AUTOMODE", "0")
    # pan law: -1 = the project's (mono sources); 1 = 0 dB, plain balance (stereo sources)
    out.line("VOLPAN", rpp_number(db_to_gain(gain_db)), rpp_number(pan), "1" if item.stereo else "-1", "-1", "1")
    out.line("MUTESOLO", "1" if mute else "0", "1" if solo else "0", "0")
    out.line("IPHASE", "0")
    out.line("ISBUS", "0", "0")
    out.line("SHOWINMIX", "1", "0.6667", "0.5", "1", "0.5", "0", "0", "0")
    out.line("NCHAN", "2")
    out.line("FX", "1")
    out.line("TRACKID", track_id)
    ext = ext_entries(track, item.file, item.media_name, item.extract_channel)
    if ext:
        out.open("EXT")
        for key, value in ext:
            out.line(key, value)
        out.close()
    out.line("MAINSEND", "1", "0")


def _item_lines(out: RppWriter, session: Session, item: PlacedTrack, index: int) -> None:
    """The track's one ``<ITEM``: position and length (s), notes, channel mode, ``<SOURCE``."""
    track = item.track
    info = item.info
    frames = round((track.offset_s if track is not None else 0.0) * session.sample_rate)
    out.open("ITEM")
    out.line("POSITION", rpp_number(frames / session.sample_rate))
    out.line("SNAPOFFS", "0")
    out.line("LENGTH", rpp_number(info.frames / info.sample_rate))
    out.line("LOOP", "0")
    out.line("ALLTAKES", "0")
    out.line("FADEIN", "1", "0", "0")
    out.line("FADEOUT", "1", "0", "0")
    out.line("MUTE", "0", "0")
    out.line("SEL", "0")
    out.line("IGUID", _guid(session.name, item.name, "item"))
    out.line("IID", str(index))
    if track is not None and track.plugins:
        out.text_block(
            "NOTES",
            "",
            ["automix plugin chain (not loaded by REAPER; set it up by hand):"]
            + [f"{n}. {describe_plugin(p)}" for n, p in enumerate(track.plugins, start=1)],
        )
    out.line("NAME", rpp_string(item.file.name))
    out.line("VOLPAN", "1", "0", "1", "-1")
    out.line("SOFFS", "0")
    out.line("PLAYRATE", "1", "1", "0", "-1")
    out.line("CHANMODE", str(item.chanmode))
    out.line("GUID", _guid(session.name, item.name, "take"))
    out.open("SOURCE", _source_type(info))
    out.line("FILE", item.source_text)
    out.close()
    out.close()


def _track_text(out: RppWriter, session: Session, item: PlacedTrack, index: int) -> None:
    _track_lines(out, session, item)
    _item_lines(out, session, item, index)
    out.close()
