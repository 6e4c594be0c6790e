"""Fader and pan settings of a session as a Standard MIDI File of controller messages.

Details: ``docs/midi-automation.md``.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import mido

from daw_bridge.outputs import atomic_output

from daw_bridge.session import Session
from daw_bridge.errors import SessionReadError, SessionWriteError

__all__ = [
    "MidiWriteResult",
    "TrackAutomation",
    "gain_db_to_volume",
    "pan_to_value",
    "read_midi_automation",
    "value_to_pan",
    "volume_to_gain_db",
    "write_midi_automation",
]

CC_VOLUME, CC_VOLUME_LSB, CC_PAN, CC_PAN_LSB = 7, 39, 10, 42
_MAX14 = 16383
_CENTRE = 8192
_MARKER = "automix mix settings"


# --------------------------------------------------------------------------- mappings


def gain_db_to_volume(gain_db: float) -> int:
    """14-bit volume value (0..16383) of a gain in dB, GM2 curve ``gain_dB = 40*log10(v)``.

    ``-inf`` gives 0; gains above 0 dB are clamped to 16383 (0 dB).
    """
    if gain_db == -math.inf:
        return 0
    v = 10.0 ** (min(gain_db, 0.0) / 40.0)
    return min(_MAX14, max(0, round(v * _MAX14)))


def volume_to_gain_db(value: int, scale: int = _MAX14) -> float:
    """Gain in dB of a volume value (``scale`` = the value meaning 0 dB: 16383 for 14-bit,
    127 for a 7-bit MSB alone); 0 gives ``-inf``."""
    if value <= 0:
        return -math.inf
    return 40.0 * math.log10(value / scale)


def pan_to_value(pan: float) -> int:
    """14-bit pan value: -1 -> 0, 0 -> 8192, +1 -> 16383, linear on each side of the centre."""
    if not -1.0 <= pan <= 1.0:
        raise ValueError(f"pan must be in [-1, 1], got {pan}")
    if pan <= 0:
        return round(_CENTRE * (1.0 + pan))
    return round(_CENTRE + (_MAX14 - _CENTRE) * pan)


def value_to_pan(value: int, centre: int = _CENTRE, top: int = _MAX14) -> float:
    """Pan (-1..+1) of a pan value (14-bit by default; ``centre=64, top=127`` for a 7-bit MSB)."""
    if value <= centre:
        return value / centre - 1.0
    return min(1.0, (value - centre) / (top - centre))


# --------------------------------------------------------------------------- writer


@dataclass(frozen=True)
class MidiWriteResult:
    """What :func:`write_midi_automation` wrote: the file, each track's MIDI channel (0-based,
    by track name) and one-line notes about what the file cannot hold."""

    path: Path
    channels: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        """Every file written (one)."""
        return [self.path]


def write_midi_automation(
    session: Session,
    path: str | os.PathLike[str],
    *,
    ppq: int = 960,
    bpm: float = 120.0,
    force: bool = False,
) -> MidiWriteResult:
    """Write the session's volumes, pans and start times as a type-1 MIDI file at ``path``.

    ``ppq`` is ticks per quarter note (1..32767), ``bpm`` the tempo (quarter notes per minute)
    used to turn ``offset_s`` into ticks; bad values raise :class:`SessionWriteError`. An existing ``path`` is refused (one-line
    :class:`~daw_bridge.errors.OutputError`) unless ``force``; the file is written to a temporary
    file beside it and renamed into place. See the module docstring for the layout and the
    value mappings.
    """
    if isinstance(ppq, bool) or not isinstance(ppq, int) or not 1 <= ppq <= 32767:
        raise SessionWriteError(f"ppq must be a whole number of ticks per beat in 1..32767, got {ppq!r}")
    if isinstance(bpm, bool) or not isinstance(bpm, (int, float)) or not (60e6 / 0xFFFFFF < bpm <= 60e6):
        raise SessionWriteError(f"bpm must be a tempo above 3.58 (MIDI's slowest), got {bpm!r}")
    tempo = round(60e6 / bpm)  # microseconds per quarter note

    notes: list[str] = []
    channels: dict[str, int] = {}
    midi = mido.MidiFile(type=1, ticks_per_beat=ppq, charset="utf-8")
    conductor = mido.MidiTrack()
    conductor.append(mido.MetaMessage("track_name", name=session.name, time=0))
    conductor.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    conductor.append(
        mido.MetaMessage("time_signature", numerator=4, denominator=4, clocks_per_click=24, notated_32nd_notes_per_beat=8)
    )
    conductor.append(mido.MetaMessage("marker", text=_MARKER, time=0))
    conductor.append(mido.MetaMessage("end_of_track", time=0))
    midi.tracks.append(conductor)

    clamped: list[str] = []
    for index, track in enumerate(session.tracks):
        channel = index % 16
        channels[track.name] = channel
        ticks = round(track.offset_s * bpm / 60.0 * ppq)
        if track.gain_db > 0 and not track.mute:
            clamped.append(f"{track.name!r} ({track.gain_db:+g} dB)")
        volume = 0 if track.mute else gain_db_to_volume(track.gain_db)
        pan = pan_to_value(track.pan)
        events = mido.MidiTrack()
        events.append(mido.MetaMessage("track_name", name=track.name, time=0))
        events.append(mido.Message("control_change", channel=channel, control=CC_VOLUME, value=volume >> 7, time=ticks))
        events.append(mido.Message("control_change", channel=channel, control=CC_VOLUME_LSB, value=volume & 127))
        events.append(mido.Message("control_change", channel=channel, control=CC_PAN, value=pan >> 7))
        events.append(mido.Message("control_change", channel=channel, control=CC_PAN_LSB, value=pan & 127))
        events.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(events)

    if len(session.tracks) > 16:
        shared = defaultdict(list)
        for name, channel in channels.items():
            shared[channel].append(name)
        groups = "; ".join(
            f"channel {ch + 1}: {', '.join(names)}" for ch, names in sorted(shared.items()) if len(names) > 1
        )
        notes.append(
            f"{len(session.tracks)} tracks but MIDI has 16 channels, so channels are reused ({groups}); "
            "map those tracks by MIDI track, not by channel alone"
        )
    if clamped:
        notes.append(
            f"gains above 0 dB cannot be represented on the GM volume curve and were written as 0 dB: {', '.join(clamped)}"
        )
    muted = [t.name for t in session.tracks if t.mute]
    if muted:
        notes.append(f"muted tracks are written as volume 0: {', '.join(map(repr, muted))}")
    soloed = [t.name for t in session.tracks if t.solo]
    if soloed:
        notes.append(f"solo has no MIDI controller and was not carried: {', '.join(map(repr, soloed))}")
    plugins = sum(len(t.plugins) for t in session.tracks) + len(session.master)
    if plugins:
        notes.append(f"{plugins} plugin(s) (track and master chains) are not carried by a MIDI file")
    if session.target_lufs is not None:
        notes.append("the loudness target is not carried by a MIDI file")
    if abs(60e6 / tempo - bpm) > 1e-9:
        notes.append(f"the tempo is stored in whole microseconds per beat: {60e6 / tempo:.6f} bpm")

    with atomic_output(path, overwrite=force) as tmp:
        midi.save(filename=str(tmp))
    return MidiWriteResult(path=Path(path).expanduser().absolute(), channels=channels, notes=notes)


# --------------------------------------------------------------------------- reader


@dataclass(frozen=True)
class TrackAutomation:
    """One track's settings read from a MIDI file.

    ``channel`` is 0-based; ``offset_s`` (s) is when its first volume/pan controller comes,
    through the file's tempo map; ``gain_db`` (dB) is ``-inf`` for volume 0, which is what
    ``muted`` reports; ``pan`` is -1..+1. ``volume``/``pan_value`` are the raw values (14-bit,
    or 7-bit when the file holds only MSB controllers: then ``bits`` is 7) and ``tick`` the
    time in ticks. ``None`` where the file has no such controller.
    """

    name: str
    channel: int
    offset_s: float
    tick: int
    gain_db: float | None
    pan: float | None
    volume: int | None = None
    pan_value: int | None = None
    volume_bits: int = 14
    pan_bits: int = 14

    @property
    def muted(self) -> bool:
        """True when the volume is 0 (how :func:`write_midi_automation` writes a muted track)."""
        return self.gain_db == -math.inf


class _Controller:
    """The first setting of an MSB/LSB controller pair on a track, as a receiver sees it:
    the MSB, then the LSB that follows it on the same channel (an MSB resets the LSB)."""

    def __init__(self) -> None:
        self.tick: int | None = None
        self.channel: int | None = None
        self.msb: int | None = None
        self.lsb: int | None = None
        self.done = False  # a second MSB came: later changes (automation) are not read

    def set_msb(self, tick: int, channel: int, value: int) -> None:
        if self.tick is None:
            self.tick, self.channel, self.msb = tick, channel, value
        else:
            self.done = True

    def set_lsb(self, channel: int, value: int) -> None:
        if self.tick is not None and not self.done and channel == self.channel:
            self.lsb = value

    def value(self) -> tuple[int, int] | None:
        """(value, bits): 14-bit when an LSB followed the MSB, else the 7-bit MSB."""
        if self.msb is None:
            return None
        if self.lsb is None:
            return self.msb, 7
        return (self.msb << 7) | self.lsb, 14


def _tick_to_seconds(tick: int, tempo_map: list[tuple[int, int]], ppq: int) -> float:
    seconds, last_tick, tempo = 0.0, 0, 500000  # 120 bpm until a set_tempo says otherwise
    for at, new_tempo in tempo_map:
        if at >= tick:
            break
        seconds += (at - last_tick) * tempo / 1e6 / ppq
        last_tick, tempo = at, new_tempo
    return seconds + (tick - last_tick) * tempo / 1e6 / ppq


def read_midi_automation(path: str | os.PathLike[str]) -> dict[str, TrackAutomation]:
    """Read each track's name, channel, start, volume and pan from a MIDI file.

    A track counts when it holds a volume (CC 7) or pan (CC 10) controller. Each is read at
    its first setting on the track: the MSB and the LSB (CC 39 / CC 42) that follows it on
    the same channel; later changes (automation) are not read. A setting without an LSB is
    read at 7 bits: volume ``40*log10(msb/127)``, pan 0 -> -1, 64 -> 0, 127 -> +1. The
    track's channel and ``offset_s`` are those of the earlier of the two. Names come from ``track_name``; unnamed tracks are ``track N`` and a
    repeated name gets `` (2)``. Times go through the file's tempo map. Raises
    :class:`SessionReadError` (one line) for a missing, non-MIDI or corrupt file.
    """
    path = Path(path).expanduser()
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise SessionReadError(f"MIDI file {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise SessionReadError(f"{path} is a folder; give the path of a .mid file") from None
    except OSError as exc:
        raise SessionReadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head != b"MThd":
        raise SessionReadError(f"{path} is not a MIDI file (no MThd header); give a Standard MIDI File (.mid)")
    try:
        try:
            midi = mido.MidiFile(str(path), charset="utf-8")
        except UnicodeDecodeError:  # names written in another 8-bit charset
            midi = mido.MidiFile(str(path), charset="latin1")
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SessionReadError(f"{path} is a corrupt MIDI file ({reason}); re-export it") from None
    if midi.type == 2:
        raise SessionReadError(f"{path} is a type-2 MIDI file (independent sequences); export it as type 0 or 1")
    ppq = midi.ticks_per_beat
    if not ppq or ppq <= 0:
        raise SessionReadError(f"{path} uses SMPTE time division, which is not supported; export it with ticks per beat")

    # tempo map: set_tempo events of all tracks (type 1 keeps them in track 0), by absolute tick
    tempo_map: list[tuple[int, int]] = []
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempo_map.append((tick, msg.tempo))
    tempo_map.sort(key=lambda pair: pair[0])

    result: dict[str, TrackAutomation] = {}
    for number, track in enumerate(midi.tracks):
        name: str | None = None
        tick = 0
        volume, pan = _Controller(), _Controller()
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and name is None:
                name = msg.name.strip()
            elif msg.type == "control_change":
                if msg.control == CC_VOLUME:
                    volume.set_msb(tick, msg.channel, msg.value)
                elif msg.control == CC_PAN:
                    pan.set_msb(tick, msg.channel, msg.value)
                elif msg.control == CC_VOLUME_LSB:
                    volume.set_lsb(msg.channel, msg.value)
                elif msg.control == CC_PAN_LSB:
                    pan.set_lsb(msg.channel, msg.value)
        firsts = sorted((c.tick, c.channel) for c in (volume, pan) if c.tick is not None and c.channel is not None)
        if not firsts:
            continue
        first_tick, channel = firsts[0]
        label = name or f"track {number}"
        key, n = label, 2
        while key in result:
            key = f"{label} ({n})"
            n += 1
        vol = volume.value()
        pan_read = pan.value()
        gain_db = pan_pos = None
        if vol is not None:
            gain_db = volume_to_gain_db(vol[0], _MAX14 if vol[1] == 14 else 127)
        if pan_read is not None:
            pan_pos = value_to_pan(pan_read[0]) if pan_read[1] == 14 else value_to_pan(pan_read[0], 64, 127)
        result[key] = TrackAutomation(
            name=key,
            channel=channel,
            offset_s=_tick_to_seconds(first_tick, tempo_map, ppq),
            tick=first_tick,
            gain_db=gain_db,
            pan=pan_pos,
            volume=vol[0] if vol else None,
            pan_value=pan_read[0] if pan_read else None,
            volume_bits=vol[1] if vol else 14,
            pan_bits=pan_read[1] if pan_read else 14,
        )
    return result
