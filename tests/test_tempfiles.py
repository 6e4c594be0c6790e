"""Temporary files beside outputs (daw_bridge.tempfiles) and WAV files past 4 GiB (daw_bridge.audio).

Issue 19: a killed run's temporary files are removed by the next run writing the same output,
and nothing else is; a WAV output that would pass 4 GiB is written as RF64 (with its length
known) or refused, never a header that wraps round.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import daw_bridge.audio as audio_mod
from daw_bridge.audio import AudioWriter, probe, read_audio, write_audio
from daw_bridge.errors import OutputError
from daw_bridge.outputs import atomic_output, new_output_folder
from daw_bridge.tempfiles import is_temp_of, sweep_stale, temp_file, temp_folder, temp_name


def dead_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def stale_name(output: str, kind: str = "part", suffix: str = ".wav", host: str | None = None) -> str:
    """A temporary name of ``output`` as a run that ended (on ``host``, default this machine) made it."""
    from daw_bridge.tempfiles import _host

    return f".{output}.automix-{host or _host()}-{dead_pid()}-0123abcd.{kind}{suffix}"


def test_temp_names_carry_the_output_the_pid_and_the_kind():
    name = temp_name("mix.wav", "part", ".wav")
    assert name.startswith(".mix.wav.automix-") and f"-{os.getpid()}-" in name and name.endswith(".part.wav")
    assert is_temp_of(name, "mix.wav") == (True, False)  # ours, and this process runs
    assert is_temp_of(name, "other.wav") == (False, False)
    with pytest.raises(ValueError):
        temp_name("mix.wav", "Part!")


def test_sweep_removes_only_stale_temps_of_the_same_output(tmp_path):
    stale = tmp_path / stale_name("mix.wav")
    stale_dir = tmp_path / stale_name("session", suffix="")
    nested = tmp_path / stale_name(stale_name("mix.wav", "float"))  # the temporary of a temporary
    alive = tmp_path / temp_name("mix.wav", "part", ".wav")  # this process: running
    other_output = tmp_path / stale_name("other.wav")
    from daw_bridge.tempfiles import _host

    other_host = tmp_path / stale_name("mix.wav", host="ffffff" if _host() != "ffffff" else "eeeeee")
    lookalike = tmp_path / ".mix.wav.1234.part.wav"  # an older automix's name: no pid, not judged
    users = tmp_path / "mix.wav"
    for path in (stale, nested, alive, other_output, other_host, lookalike, users):
        path.write_bytes(b"x")
    stale_dir.mkdir()
    (stale_dir / "inside.txt").write_text("x")
    removed = sweep_stale(tmp_path, "mix.wav") + sweep_stale(tmp_path, "session")
    assert sorted(removed) == sorted([stale, nested, stale_dir])
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (alive, other_output, other_host, lookalike, users))


def test_a_new_temp_sweeps_first_and_is_private(tmp_path):
    stale = tmp_path / stale_name("mix.wav")
    stale.write_bytes(b"x")
    made = temp_file(tmp_path / "mix.wav")
    assert not stale.exists() and made.is_file() and (made.stat().st_mode & 0o777) == 0o600
    folder = temp_folder(tmp_path / "out")
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700


def test_atomic_output_and_new_folder_clean_up_after_a_killed_run(tmp_path):
    stale_file = tmp_path / stale_name("plan.json", suffix=".json")
    stale_folder = tmp_path / stale_name("session", suffix="")
    stale_file.write_text("half")
    stale_folder.mkdir()
    with atomic_output(tmp_path / "plan.json") as tmp:
        assert is_temp_of(tmp.name, "plan.json")[0]
        tmp.write_text("{}")
    with new_output_folder(tmp_path / "session") as tmp:
        (tmp / "a.txt").write_text("x")
    assert sorted(os.listdir(tmp_path)) == ["plan.json", "session"]


def test_an_interrupted_write_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "mix.wav") as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- 4 GiB


@pytest.fixture
def small_wav_limit(monkeypatch):
    """A WAV 'limit' of 6000 stereo 24-bit frames, so that tests pass it in a few kB."""
    monkeypatch.setattr(audio_mod, "WAV_MAX_DATA_BYTES", 6000 * 2 * 3)


def test_long_wav_with_its_length_known_is_written_as_rf64(tmp_path, small_wav_limit, caplog):
    x = (np.random.default_rng(0).standard_normal((2, 10000)) * 0.1).astype(np.float32)
    with caplog.at_level(logging.WARNING, logger="automix"):
        write_audio(tmp_path / "long.wav", x, 44100)
    info = probe(tmp_path / "long.wav")
    assert info.format == "RF64" and info.frames == 10000
    back, _ = read_audio(tmp_path / "long.wav")
    assert np.abs(back - x).max() < 2e-7  # every frame, none wrapped or lost
    assert any("written as RF64" in r.getMessage() for r in caplog.records)
    assert os.listdir(tmp_path) == ["long.wav"]


def test_long_wav_of_unknown_length_is_refused_not_truncated(tmp_path, small_wav_limit):
    writer = AudioWriter(tmp_path / "long.wav", 44100, 2)
    writer.write(np.zeros((2, 5000), np.float32))
    with pytest.raises(OutputError, match="passes the 4 GiB a WAV file holds"):
        writer.write(np.zeros((2, 5000), np.float32))
    assert writer.closed and os.listdir(tmp_path) == []


def test_long_float_temp_holds_any_length(tmp_path, small_wav_limit):
    """Issue 19 (3): the network's float temporary file is RF64 whatever its length."""
    with AudioWriter(tmp_path / "t.wav", 44100, 2, subtype="FLOAT", rf64=True) as writer:
        for _ in range(4):
            writer.write(np.full((2, 5000), 0.25, np.float32))
    assert sf.info(str(tmp_path / "t.wav")).format == "RF64" and probe(tmp_path / "t.wav").frames == 20000


def test_short_wav_stays_plain_wav(tmp_path):
    write_audio(tmp_path / "short.wav", np.zeros((2, 100), np.float32) + 0.1, 44100)
    assert probe(tmp_path / "short.wav").format == "WAV"


@pytest.mark.parametrize("maker", ["temp_folder", "temp_file"])
def test_a_signal_right_after_creation_leaves_nothing(tmp_path, monkeypatch, maker):
    """A signal handler raises on the line that made the file or folder: it is removed, not orphaned."""
    from pathlib import Path

    from daw_bridge import tempfiles

    real_mkdir, real_open = Path.mkdir, os.open

    def mkdir_then_interrupt(self, *a, **k):
        real_mkdir(self, *a, **k)
        raise KeyboardInterrupt

    def open_then_interrupt(path, *a, **k):
        os.close(real_open(path, *a, **k))
        raise KeyboardInterrupt

    if maker == "temp_folder":
        monkeypatch.setattr(Path, "mkdir", mkdir_then_interrupt)
    else:
        monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        getattr(tempfiles, maker)(tmp_path / "out.wav")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [] and not any(p.parent == tmp_path for p in tempfiles._LIVE)
