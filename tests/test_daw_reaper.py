"""Tests for daw_bridge.formats.reaper (REAPER project writer/reader) and daw_bridge.outputs (output folders)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge.errors import AutomixError
from daw_bridge.files import sha256_file
from daw_bridge.formats.reaper import AI_MIX_TRACK, read_reaper_project, rpp_string, write_reaper_project
from daw_bridge.session import PluginSpec, Session, Track
from daw_bridge.errors import SessionReadError, SessionWriteError
from daw_bridge.outputs import new_output_folder, safe_file_name

ROOT = Path(__file__).resolve().parents[1]
RATE = 48000


def one_line(message: str) -> str:
    assert message and "\n" not in message and "\r" not in message
    return message


def tone(channels: int, frames: int = 4800, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, size=(frames, channels))).astype(np.float32)


@pytest.fixture()
def stems(tmp_path: Path) -> Path:
    folder = tmp_path / "my stems"
    folder.mkdir()
    sf.write(folder / "kick.wav", tone(1, seed=1), RATE, subtype="PCM_24")
    sf.write(folder / "overheads.flac", tone(2, seed=2), RATE, subtype="PCM_24")
    sf.write(folder / "room 4ch.wav", tone(4, frames=4410, seed=3), 44100, subtype="PCM_24")
    sf.write(folder / "mix.wav", tone(2, seed=4), RATE, subtype="PCM_16")
    return folder


def make_session() -> Session:
    return Session(
        name="song",
        sample_rate=RATE,
        tracks=[
            Track(
                name='Kick "in" it',
                file=Path("kick.wav"),
                role="kick",
                gain_db=-6.0,
                pan=-0.25,
                offset_s=0.25,
                plugins=[
                    PluginSpec(kind="builtin", name="HighpassFilter", params={"cutoff_frequency_hz": 30.0}),
                    PluginSpec(kind="builtin", name="Compressor", params={"threshold_db": -18, "ratio": 4.0}, bypass=True),
                ],
            ),
            Track(name="OH L", file=Path("overheads.flac"), channel=0, role="overhead_L", pan=-0.7, gain_db=-3.5),
            Track(name="OH R", file=Path("overheads.flac"), channel=1, role="overhead_R", pan=0.7, solo=True),
            Track(name="Room C", file=Path("room 4ch.wav"), channel=2, gain_db=2.25, mute=True, offset_s=1.5),
            Track(name="Overheads", file=Path("overheads.flac"), gain_db=-120.0, pan=0.5),
        ],
        master=[PluginSpec(kind="builtin", name="Limiter", params={"threshold_db": -1.0})],
        target_lufs=-14.0,
    )


def line_of(text: str, track_name: str, key: str) -> str:
    """The first ``key`` line inside the <TRACK whose NAME holds ``track_name``."""
    block = text.split("<TRACK ")[1:]
    for chunk in block:
        if track_name in chunk.splitlines()[1]:
            for line in chunk.splitlines():
                if line.strip().startswith(key + " "):
                    return line.strip()
    raise AssertionError(f"no {key} line for {track_name}")


# --------------------------------------------------------------------------- round trip


def test_write_read_round_trip(stems, tmp_path):
    session = make_session()
    result = write_reaper_project(session, tmp_path / "out", base_dir=stems)
    assert result.project == result.path == tmp_path / "out" / "song.rpp" and result.project.is_file()
    media = tmp_path / "out" / "media"
    assert result.paths == [result.project, media / "kick.wav", media / "overheads.flac", media / "Room C.ch3.wav"]
    back = read_reaper_project(result.project)
    assert back.name == "song" and back.sample_rate == RATE and back.pan_law_db == pytest.approx(-3.0, abs=1e-9)
    assert [t.name for t in back.tracks] == [t.name for t in session.tracks]
    for want, got in zip(session.resolve_paths(stems).tracks, back.tracks):
        assert got.gain_db == pytest.approx(want.gain_db, abs=1e-6), want.name
        assert got.pan == pytest.approx(want.pan, abs=1e-6)
        assert got.offset_s == pytest.approx(want.offset_s, abs=1e-6)
        if want.name == "Room C":  # an extracted channel reads back as the original file's channel
            assert got.file == want.file and got.channel == want.channel
        else:  # the project's own copy (or hard link): what REAPER plays
            assert got.file == media / want.file.name and sha256_file(got.file) == sha256_file(want.file)
            assert got.channel == want.channel
        assert (got.mute, got.solo, got.role) == (want.mute, want.solo, want.role)
        assert got.plugins == want.plugins
    assert back.master == [] and back.target_lufs is None  # not carried (they are in the notes)


def test_moved_reaper_project_still_reads_and_renders(stems, tmp_path):
    """Issue 19 (6): the project folder holds its audio under relative paths; moved and renamed,
    with the stems it was made from gone, it reads back and renders as before."""
    import shutil

    from daw_bridge.render import render

    session = make_session()
    session.tracks[2].solo = False  # every track heard
    result = write_reaper_project(session, tmp_path / "out", base_dir=stems, mix=stems / "mix.wav")
    before = render(read_reaper_project(result.project), normalize=False, tail_s=0).audio
    shutil.rmtree(stems)
    moved = tmp_path / "elsewhere" / "moved project"
    moved.parent.mkdir()
    result.out_dir.rename(moved)
    back = read_reaper_project(moved / "song.rpp")
    assert all(t.file.is_relative_to(moved) and t.file.is_file() for t in back.tracks)
    after = render(back, normalize=False, tail_s=0).audio
    assert np.abs(before).max() > 0.1
    np.testing.assert_allclose(after, before, atol=1e-6)


def test_media_is_hard_linked_or_copied_where_links_fail(stems, tmp_path, monkeypatch):
    import errno

    result = write_reaper_project(make_session(), tmp_path / "linked", base_dir=stems)
    assert (tmp_path / "linked" / "media" / "kick.wav").stat().st_ino == (stems / "kick.wav").stat().st_ino
    assert any("2 linked" in n for n in result.notes)

    def no_links(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr("os.link", no_links)
    result = write_reaper_project(make_session(), tmp_path / "copied", base_dir=stems)
    copy = tmp_path / "copied" / "media" / "kick.wav"
    assert copy.stat().st_ino != (stems / "kick.wav").stat().st_ino
    assert sha256_file(copy) == sha256_file(stems / "kick.wav") and any("2 copied" in n for n in result.notes)


def test_key_lines_are_exact(stems, tmp_path):
    session = make_session()
    session.tracks[0].offset_s = 1.23456789  # 59259.25872 frames -> 59259
    text = write_reaper_project(session, tmp_path / "out", base_dir=stems).project.read_text()
    assert text.startswith("<REAPER_PROJECT 0.1 ")
    assert "\n  PANLAW 0.7079457843841379\n" in text  # -3 dB as a gain
    assert "\n  PANMODE 3\n" in text and "\n  SAMPLERATE 48000 1 0\n" in text
    # -6 dB = 0.501187..., pan -0.25, mono source: the project's pan law (-1)
    assert line_of(text, "Kick", "VOLPAN") == "VOLPAN 0.5011872336272722 -0.25 -1 -1 1"
    assert line_of(text, "Kick", "NAME") == "NAME 'Kick \"in\" it'"  # holds " -> quoted with '
    assert line_of(text, "Kick", "POSITION") == f"POSITION {59259 / RATE!r}" == "POSITION 1.2345625"
    assert line_of(text, "Kick", "LENGTH") == "LENGTH 0.1"
    assert line_of(text, "Kick", "FILE") == 'FILE "media/kick.wav"'  # relative: the folder can move
    assert line_of(text, "OH R", "MUTESOLO") == "MUTESOLO 0 1 0"
    assert line_of(text, "Room C", "MUTESOLO") == "MUTESOLO 1 0 0"
    # a stereo file taken whole is balanced: per-track pan law 1 (0 dB)
    assert line_of(text, "Overheads", "VOLPAN").split()[3] == "1"
    assert "|1. HighpassFilter (pedalboard built-in): cutoff_frequency_hz=30" in text
    assert "|  Master 1. Limiter (pedalboard built-in): threshold_db=-1" in text
    assert "Render target: -14 LUFS" in text
    read = read_reaper_project(tmp_path / "out" / "song.rpp")
    assert read.tracks[0].offset_s == 59259 / RATE


def test_rpp_string_quoting():
    assert rpp_string("Kick") == '"Kick"'
    assert rpp_string("Kick in") == '"Kick in"'
    assert rpp_string('say "hi"') == "'say \"hi\"'"
    assert rpp_string("it's \"x\"") == "`it's \"x\"`"
    assert rpp_string("a\"b'c`d") == "`a\"b'c'd`"  # all three: backticks become '
    assert rpp_string("") == '""'
    assert rpp_string("two\nlines") == '"two lines"'


def test_flac_source_and_chanmode(stems, tmp_path):
    text = write_reaper_project(make_session(), tmp_path / "out", base_dir=stems).project.read_text()
    assert '<SOURCE FLAC\n        FILE "media/overheads.flac"' in text
    assert line_of(text, "OH L", "CHANMODE") == "CHANMODE 3"  # left channel of a stereo file
    assert line_of(text, "OH R", "CHANMODE") == "CHANMODE 4"  # right channel
    assert line_of(text, "Overheads", "CHANMODE") == "CHANMODE 0"
    assert line_of(text, "OH L", "VOLPAN").split()[3] == "-1"  # one channel: mono pan law
    assert "<SOURCE WAVE\n" in text


def test_four_channel_file_channel_is_extracted(stems, tmp_path):
    result = write_reaper_project(make_session(), tmp_path / "out", base_dir=stems)
    media = tmp_path / "out" / "media" / "Room C.ch3.wav"
    assert result.media[-1] == media
    info = sf.info(media)
    assert (info.channels, info.samplerate, info.subtype) == (1, 44100, "PCM_24")
    original, _ = sf.read(stems / "room 4ch.wav", dtype="float32")
    copied, _ = sf.read(media, dtype="float32")
    np.testing.assert_array_equal(copied, original[:, 2])  # PCM_24 -> PCM_24: exact
    text = result.project.read_text()
    assert line_of(text, "Room C", "FILE") == 'FILE "media/Room C.ch3.wav"'
    assert line_of(text, "Room C", "CHANMODE") == "CHANMODE 0"
    assert any("channel 2 of room 4ch.wav" in n and "media/Room C.ch3.wav" in n for n in result.notes)
    assert any("44100 Hz" in n and "resamples" in n for n in result.notes)
    assert any("plugin(s) were not carried" in n for n in result.notes)
    for note in result.notes:
        one_line(note)


def test_ai_mix_track_is_muted_and_left_out_on_read(stems, tmp_path):
    result = write_reaper_project(make_session(), tmp_path / "out", base_dir=stems, mix=stems / "mix.wav", name="my mix")
    assert result.project.name == "my mix.rpp"
    text = result.project.read_text()
    assert line_of(text, AI_MIX_TRACK, "MUTESOLO") == "MUTESOLO 1 0 0"
    assert line_of(text, AI_MIX_TRACK, "FILE") == 'FILE "media/mix.wav"'
    back = read_reaper_project(result.project)
    assert AI_MIX_TRACK not in [t.name for t in back.tracks] and len(back.tracks) == 5
    assert any("automix render" in n for n in back.notes)


def test_awkward_names_and_paths(stems, tmp_path):
    awkward = stems / "a\"b'c`d.wav"  # all three quote marks: a REAPER project cannot hold this path
    sf.write(awkward, tone(1), RATE, subtype="PCM_16")
    session = Session(name="x", tracks=[Track(name="Odd", file=awkward), Track(name="Plain", file=stems / "kick.wav")])
    result = write_reaper_project(session, tmp_path / "out", name="a/b: c")
    assert result.project.name == "a_b_ c.rpp"
    copied = tmp_path / "out" / "media" / "a_b'c`d.wav"
    assert result.media[0] == copied and sha256_file(copied) == sha256_file(awkward)
    assert line_of(result.project.read_text(), "Odd", "FILE") == "FILE \"media/a_b'c`d.wav\""
    assert read_reaper_project(result.project).tracks[0].file == copied  # what REAPER plays


def test_reaper_default_pan_law_is_read_as_minus_3_with_a_note(tmp_path):
    path = tmp_path / "p.rpp"
    path.write_text('<REAPER_PROJECT 0.1 "7.0"\n  PANLAW 1\n  SAMPLERATE 48000 0 0\n>\n')
    session = read_reaper_project(path)
    assert session.pan_law_db == -3.0 and session.tracks == []
    assert any("pan law (+0.0 dB)" in n for n in session.notes)


# --------------------------------------------------------------------------- refusals


def test_existing_out_dir_refused_unless_force(stems, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(SessionWriteError) as err:
        write_reaper_project(make_session(), out, base_dir=stems)
    assert one_line(str(err.value)) == f"{out} exists; pass --force to replace it (automix replaces only what it wrote there)"
    with pytest.raises(SessionWriteError, match="was not written by automix"):  # the user's folder, --force or not
        write_reaper_project(make_session(), out, base_dir=stems, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    ours = tmp_path / "ours"
    write_reaper_project(make_session(), ours, base_dir=stems)
    (ours / "keep.txt").write_text("mine")
    result = write_reaper_project(make_session(), ours, base_dir=stems, force=True)
    assert sorted(p.name for p in ours.iterdir() if not p.name.startswith(".")) == ["keep.txt", "media", "song.rpp"]
    assert result.project.is_file() and (ours / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my stems", "ours", "out"]  # no temporary folder left


def test_force_never_replaces_a_folder_holding_the_audio(stems, tmp_path):
    with pytest.raises(SessionWriteError, match="holds an input of this command"):
        write_reaper_project(make_session(), stems, base_dir=stems, force=True)
    assert (stems / "kick.wav").is_file()


def test_user_files_unchanged(stems, tmp_path):
    before = {p.name: sha256_file(p) for p in stems.iterdir()}
    write_reaper_project(make_session(), tmp_path / "out", base_dir=stems, mix=stems / "mix.wav")
    assert {p.name: sha256_file(p) for p in stems.iterdir()} == before


def test_missing_audio_listed_in_one_error_nothing_created(stems, tmp_path):
    session = make_session()
    session.tracks[0].file = Path("gone.wav")
    session.tracks[3].file = Path("also gone.wav")
    with pytest.raises(SessionWriteError) as err:
        write_reaper_project(session, tmp_path / "out", base_dir=stems, mix=stems / "no mix.wav")
    message = one_line(str(err.value))
    assert message.startswith("3 audio file(s) missing: ")
    for name in ("gone.wav", "also gone.wav", "no mix.wav"):
        assert str(stems / name) in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my stems"]


def test_bad_audio_and_bad_channel_in_one_error(stems, tmp_path):
    (stems / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    session = make_session()
    session.tracks[0].file = Path("broken.wav")
    session.tracks[1].channel = 5
    session.tracks[3].channel = None  # a 4-channel file taken whole: the renderer refuses it too
    with pytest.raises(SessionWriteError) as err:
        write_reaper_project(session, tmp_path / "out", base_dir=stems)
    message = one_line(str(err.value))
    assert "broken.wav" in message and "channel 5" in message and "'OH L'" in message
    assert "'Room C'" in message and "has 4 channels; pick one with channel" in message
    assert not (tmp_path / "out").exists()


def test_new_output_folder_cleans_up_on_error(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), new_output_folder(out) as tmp:
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with new_output_folder(out) as tmp:
        (tmp / "done.txt").write_text("x")
    assert (out / "done.txt").is_file()
    assert safe_file_name('a/b:c*?"<>|') == "a_b_c______" and safe_file_name(" .. ") == "session"


# --------------------------------------------------------------------------- reading REAPER's own files


HANDWRITTEN = """<REAPER_PROJECT 0.1 "7.22/linux-x86_64" 1712345678
  RIPPLE 0
  <NOTES 0 2
    |some notes
  >
  PANLAW 0.5
  PANMODE 3
  SAMPLERATE 44100 0 0
  <METRONOME 6 2
    VOL 0.25 0.125
  >
  <TRACK {11111111-2222-3333-4444-555555555555}
    NAME Bass
    VOLPAN 0.25 0.5 -1 -1 1
    MUTESOLO 0 2 0
    <FXCHAIN
      SHOW 0
      BYPASS 0 0 0
      <VST "VST: ReaEQ (Cockos)" reaeq.dll 0 "" 1919247729<56535472656571726561657100000000> ""
        cWVlcu5e7f4CAAAAAQAAAAAAAAACAAAAAAAAAAIAAAABAAAAAAAAAA==
      >
    >
    <ITEM
      POSITION 2.5
      LENGTH 4
      MUTE 0 0
      <NOTES
        |hello > there
      >
      NAME bass.wav
      VOLPAN 0.5 0 1 -1
      SOFFS 0
      CHANMODE 4
      <SOURCE WAVE
        FILE `audio/it's "bass".wav` 1
      >
    >
    <ITEM
      POSITION 10
      <SOURCE WAVE
        FILE "audio/bass2.wav"
      >
    >
  >
  <TRACK
    NAME "Bass"
    VOLPAN 1 0 -1 -1 1
    <ITEM
      POSITION 0
      <SOURCE SECTION
        LENGTH 1
        <SOURCE FLAC
          FILE "/abs/x.flac"
        >
      >
    >
  >
  <TRACK
    NAME "MIDI only"
    <ITEM
      <SOURCE MIDI
        HASDATA 1 960 QN
        E 0 90 3c 60 ; not a comment
      >
    >
  >
  <UNKNOWNBLOCK with "args"
    <NESTED
      KEY value
    >
  >
>
"""


def test_reads_reaper_saved_project_skips_unknown_and_notes(tmp_path):
    path = tmp_path / "live set.rpp"
    path.write_text(HANDWRITTEN, encoding="utf-8")
    session = read_reaper_project(path)
    assert session.name == "live set" and session.sample_rate == 44100
    assert session.pan_law_db == -6.0  # 0.5 = -6.02 dB, REAPER's -6 dB law
    bass, second = session.tracks
    assert bass.name == "Bass" and second.name == "Bass (2)"
    # track 0.25 (-12.04 dB) plus the item's 0.5 (-6.02 dB) folded in
    assert bass.gain_db == pytest.approx(20 * math.log10(0.125), abs=1e-6)
    assert bass.pan == 0.5 and bass.solo and not bass.mute
    assert bass.offset_s == 2.5 and bass.channel == 1
    assert bass.file == tmp_path / "audio" / "it's \"bass\".wav"
    assert second.file == Path("/abs/x.flac") and second.channel is None
    notes = " | ".join(session.notes)
    for expected in ("2 items", "REAPER FX", "item's volume", "section", "'MIDI only' has no item playing an audio file",
                     "two tracks are named 'Bass'"):
        assert expected in notes
    for note in session.notes:
        one_line(note)


@pytest.mark.parametrize(
    "content, expected",
    [
        (None, "does not exist"),
        ("just text\n", "not a REAPER project"),
        ("<TRACK\n>\n", "not a REAPER project"),
        ("<REAPER_PROJECT 0.1\n  <TRACK\n    NAME x\n", "cut short: the <TRACK block opened on line 2"),
        ("<REAPER_PROJECT 0.1\n>\n>\n", "closes a block that was never opened"),
        ("", "empty or not a REAPER project"),
    ],
)
def test_read_errors_are_one_line(tmp_path, content, expected):
    path = tmp_path / "p.rpp"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SessionReadError) as err:
        read_reaper_project(path)
    assert expected in one_line(str(err.value))
    assert isinstance(err.value, AutomixError)


def test_daw_bridge_writers_never_import_torch():
    code = (
        "import daw_bridge.formats.reaper, daw_bridge.formats.midi, daw_bridge.outputs, sys; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
