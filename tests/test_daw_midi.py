"""Tests for daw_bridge.formats.midi (volume/pan settings as a MIDI file of controllers)."""

from __future__ import annotations

import math
from pathlib import Path

import mido
import numpy as np
import pytest

from daw_bridge.errors import AutomixError, OutputError
from daw_bridge.formats.midi import (
    gain_db_to_volume,
    pan_to_value,
    read_midi_automation,
    value_to_pan,
    volume_to_gain_db,
    write_midi_automation,
)
from daw_bridge.session import Session, Track
from daw_bridge.errors import SessionReadError, SessionWriteError


def one_line(message: str) -> str:
    assert message and "\n" not in message and "\r" not in message
    return message


def session_of(*tracks: Track, **kwargs) -> Session:
    return Session(name="song", tracks=list(tracks), **kwargs)


def track(name: str, **kwargs) -> Track:
    return Track(name=name, file=Path(f"{name}.wav"), **kwargs)


def controllers(midi_track: mido.MidiTrack) -> list[tuple[int, int, int]]:
    return [(m.channel, m.control, m.value) for m in midi_track if m.type == "control_change"]


def test_round_trip_within_14_bit_quantisation(tmp_path):
    gains = np.linspace(-40.0, 0.0, 81)
    pans = np.linspace(-1.0, 1.0, 81)
    session = session_of(*(track(f"t{i}", gain_db=float(g), pan=float(p)) for i, (g, p) in enumerate(zip(gains, pans))))
    path = tmp_path / "mix.mid"
    write_midi_automation(session, path)
    back = read_midi_automation(path)
    assert list(back) == [t.name for t in session.tracks]
    worst_gain = max(abs(back[t.name].gain_db - t.gain_db) for t in session.tracks)
    worst_pan = max(abs(back[t.name].pan - t.pan) for t in session.tracks)
    assert worst_gain < 0.01  # dB, over -40..0 dB
    assert worst_pan <= 1 / 8192
    assert back["t0"].pan == -1.0 and back["t80"].pan == 1.0 and back["t40"].pan == 0.0
    assert back["t80"].gain_db == 0.0 and back["t0"].volume == round(0.1 * 16383)


def test_mappings():
    assert gain_db_to_volume(0.0) == 16383 and gain_db_to_volume(-math.inf) == 0
    assert gain_db_to_volume(-12.0) == round(10 ** (-12 / 40) * 16383)  # GM2: 40*log10(v)
    assert gain_db_to_volume(6.0) == 16383
    assert volume_to_gain_db(0) == -math.inf and volume_to_gain_db(127, 127) == 0.0
    assert (pan_to_value(-1.0), pan_to_value(0.0), pan_to_value(1.0)) == (0, 8192, 16383)
    assert (value_to_pan(0), value_to_pan(8192), value_to_pan(16383)) == (-1.0, 0.0, 1.0)
    assert (value_to_pan(0, 64, 127), value_to_pan(64, 64, 127), value_to_pan(127, 64, 127)) == (-1.0, 0.0, 1.0)


def test_timing_layout_and_cc_order(tmp_path):
    session = session_of(track("Kick", offset_s=1.5, gain_db=-6.0, pan=-0.5), track("Snare", gain_db=-3.0, pan=0.25))
    path = tmp_path / "mix.mid"
    result = write_midi_automation(session, path, ppq=960, bpm=120.0)
    assert result.path == path and result.paths == [path] and result.channels == {"Kick": 0, "Snare": 1}
    midi = mido.MidiFile(path)
    assert midi.type == 1 and midi.ticks_per_beat == 960 and len(midi.tracks) == 3
    conductor = {m.type: m for m in midi.tracks[0]}
    assert conductor["set_tempo"].tempo == 500000 and conductor["track_name"].name == "song"
    assert (conductor["time_signature"].numerator, conductor["time_signature"].denominator) == (4, 4)
    assert "marker" in conductor
    kick = midi.tracks[1]
    assert kick[0].type == "track_name" and kick[0].name == "Kick"
    ccs = [m for m in kick if m.type == "control_change"]
    assert [m.control for m in ccs] == [7, 39, 10, 42]  # MSB then LSB, volume then pan
    assert [m.time for m in ccs] == [2880, 0, 0, 0]  # 1.5 s at 120 bpm, 960 ppq
    volume = gain_db_to_volume(-6.0)
    assert [m.value for m in ccs] == [volume >> 7, volume & 127, pan_to_value(-0.5) >> 7, pan_to_value(-0.5) & 127]
    back = read_midi_automation(path)
    assert back["Kick"].tick == 2880 and back["Kick"].offset_s == 1.5 and back["Kick"].channel == 0
    assert back["Snare"].offset_s == 0.0 and back["Snare"].channel == 1


def test_other_tempo_goes_through_the_tempo_map(tmp_path):
    path = tmp_path / "mix.mid"
    result = write_midi_automation(session_of(track("A", offset_s=2.0)), path, ppq=480, bpm=90.0)
    back = read_midi_automation(path)
    assert back["A"].tick == round(2.0 * 90 / 60 * 480) == 1440
    # 60e6 / 90 = 666666.67 us per beat is stored as 666667: 1 us per beat late
    assert back["A"].offset_s == pytest.approx(2.0 * 666667 / (60e6 / 90), abs=1e-12)
    assert any("89.999955 bpm" in n for n in result.notes)


def test_more_than_16_tracks_reuse_channels_with_a_note(tmp_path):
    session = session_of(*(track(f"t{i}") for i in range(18)))
    result = write_midi_automation(session, tmp_path / "mix.mid")
    assert [result.channels[f"t{i}"] for i in range(18)] == list(range(16)) + [0, 1]
    note = next(n for n in result.notes if "16 channels" in n)
    assert "channel 1: t0, t16" in one_line(note) and "channel 2: t1, t17" in note
    back = read_midi_automation(tmp_path / "mix.mid")
    assert back["t16"].channel == 0 and back["t17"].channel == 1 and len(back) == 18


def test_gain_above_0_db_is_clamped_and_noted(tmp_path):
    result = write_midi_automation(session_of(track("Loud", gain_db=6.0)), tmp_path / "mix.mid")
    assert any("'Loud' (+6 dB)" in n and "0 dB" in n for n in result.notes)
    assert read_midi_automation(tmp_path / "mix.mid")["Loud"].gain_db == 0.0


def test_mute_is_volume_zero_and_reads_as_muted(tmp_path):
    result = write_midi_automation(
        session_of(track("Off", mute=True, gain_db=-3.0), track("On", solo=True)), tmp_path / "mix.mid"
    )
    midi = mido.MidiFile(tmp_path / "mix.mid")
    assert controllers(midi.tracks[1])[:2] == [(0, 7, 0), (0, 39, 0)]
    back = read_midi_automation(tmp_path / "mix.mid")
    assert back["Off"].gain_db == -math.inf and back["Off"].muted and not back["On"].muted
    assert any("volume 0" in n for n in result.notes) and any("solo" in n for n in result.notes)


def test_msb_only_file_is_read_at_7_bits(tmp_path):
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=1_000_000)]))  # 60 bpm
    midi.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("track_name", name="Old"),
                mido.Message("control_change", channel=3, control=7, value=127, time=480),
                mido.Message("control_change", channel=3, control=10, value=32),
                mido.Message("control_change", channel=3, control=7, value=10, time=480),  # later: not read
            ]
        )
    )
    midi.tracks.append(mido.MidiTrack([mido.Message("control_change", channel=4, control=10, value=64)]))  # no name
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("track_name", name="Notes only"), mido.Message("note_on")]))
    midi.save(tmp_path / "old.mid")
    back = read_midi_automation(tmp_path / "old.mid")
    assert list(back) == ["Old", "track 2"]
    old = back["Old"]
    assert (old.channel, old.tick, old.offset_s) == (3, 480, 1.0)
    assert old.gain_db == 0.0 and old.volume_bits == 7 and old.pan == pytest.approx(32 / 64 - 1)
    assert back["track 2"].pan == 0.0 and back["track 2"].gain_db is None


def test_existing_file_refused_unless_force(tmp_path):
    path = tmp_path / "mix.mid"
    path.write_bytes(b"mine")
    with pytest.raises(OutputError) as err:
        write_midi_automation(session_of(track("A")), path)
    assert "exists" in one_line(str(err.value)) and path.read_bytes() == b"mine"
    write_midi_automation(session_of(track("A")), path, force=True)
    assert list(read_midi_automation(path)) == ["A"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.mid"]  # no temporary file left


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "does not exist"),
        (b"not midi at all", "not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x00\x10\x00\xb0", "corrupt MIDI file"),
        (b"MThd\x00\x00", "corrupt MIDI file"),
    ],
)
def test_bad_files_refused_with_one_line(tmp_path, content, expected):
    path = tmp_path / "bad.mid"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SessionReadError) as err:
        read_midi_automation(path)
    assert expected in one_line(str(err.value)) and isinstance(err.value, AutomixError)


@pytest.mark.parametrize("kwargs", [{"ppq": 0}, {"ppq": 40000}, {"bpm": 0.0}, {"bpm": math.nan}, {"bpm": 2.0}])
def test_bad_ppq_or_bpm(tmp_path, kwargs):
    with pytest.raises(SessionWriteError):
        write_midi_automation(session_of(track("A")), tmp_path / "mix.mid", **kwargs)
    assert not list(tmp_path.iterdir())
