"""Issue 19 ("Why"): one test per case, named after it.

Elsewhere: (3) long files, ``tests/test_tempfiles.py``; (4) loudness targets and the render's
advice, ``tests/test_limiter.py``; (6) portable sessions, ``test_moved_*`` in
``tests/test_daw_ardour.py`` and ``tests/test_daw_reaper.py``; (7) the demo and ``evaluate
--estimate``, ``tests/test_demo.py``; (2) real signals on every long verb, ``tests/test_bad_input.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import automix
from automix.cli import build_parser
from daw_bridge.audio import probe
from tests.support import (
    DRUM_FILES,
    SR,
    assert_one_error,
    automix_temps,
    cli,
    make_stems,
    process_env,
    read_mix,
    write_wav,
)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    from automix.models.mixer import mix_wave_unet

    return mix_wave_unet(levels=3, growth=4, base_filters=4, name="tiny").save(tmp_path_factory.mktemp("m") / "tiny")


@pytest.fixture(scope="module")
def stems(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("s") / "stems"
    make_stems(folder)
    return folder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------- (2) signals and temporary files


def test_sigterm_mid_mix_exits_143_with_one_line_and_leaves_no_temp_files(ckpt, stems, tmp_path, capsys, monkeypatch):
    """SIGTERM had no handler (exit -15, no message) and left ``.float.wav`` files behind."""
    import automix.inference.network_mix as network_mix

    real = network_mix.run_tiled

    def terminated_midway(net, read, total, sink, **kw):
        def sink_then_signal(block):
            sink(block)
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises in this thread, mid-write

        return real(net, read, total, sink_then_signal, **kw)

    monkeypatch.setattr(network_mix, "run_tiled", terminated_midway)
    out = tmp_path / "out"
    out.mkdir()
    rc, printed, err = cli(capsys, "mix", stems, "-o", out / "mix.wav", "--model", ckpt, "--tile-seconds", "0.2")
    assert rc == 143 and printed == ""
    assert_one_error(err, "terminated; nothing half-written was left behind")
    assert os.listdir(out) == [] and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_sigkill_leftovers_are_removed_by_the_next_run_of_that_output(ckpt, stems, tmp_path, capsys):
    """A killed run's hidden files (96 MB from one killed 10-minute mix) were never removed."""
    out = tmp_path / "out"
    out.mkdir()
    from daw_bridge.tempfiles import _host

    dead = _dead_pid()
    stale = [out / f".mix.wav.automix-{_host()}-{dead}-0123abcd.float.wav",
             out / f"..mix.wav.automix-{_host()}-{dead}-0123abcd.float.wav.automix-{_host()}-{dead}-4567abcd.part.wav"]
    others = [out / f".other.wav.automix-{_host()}-{dead}-0123abcd.part.wav",  # another output's: not ours to judge
              out / f".mix.wav.automix-{_host()}-{os.getpid()}-0123abcd.part.wav"]  # a running process's
    for path in stale + others:
        path.write_bytes(b"half a mix")
    rc, _, err = cli(capsys, "mix", stems, "-o", out / "mix.wav", "--model", ckpt, "-q")
    assert rc == 0, err
    assert sorted(os.listdir(out)) == sorted(["mix.wav"] + [p.name for p in others])


# --------------------------------------------------------------------------- (3) long mixes


def test_long_mix_is_not_truncated(ckpt, stems, tmp_path, monkeypatch):
    """A 3.5 h float temporary file read back as 3.38 h (the WAV header wrapped past 4 GiB). Here the
    4 GiB are shrunk to 100 kB: the network's temporary file and the mix are RF64 and whole."""
    import daw_bridge.audio as audio

    monkeypatch.setattr(audio, "WAV_MAX_DATA_BYTES", 100_000)
    seen = []
    real = audio.AudioWriter.close

    def spy(self):
        seen.append((self.path.name, self.format))
        return real(self)

    monkeypatch.setattr(audio.AudioWriter, "close", spy)
    result = automix.mix(stems, tmp_path / "mix.wav", model=str(ckpt), loudness=-20.0, progress=False)
    info = probe(tmp_path / "mix.wav")
    assert info.format == "RF64" and info.frames == result.frames == int(1.5 * SR)
    assert any(name.endswith(".float.wav") and fmt == "RF64" for name, fmt in seen)
    assert os.listdir(tmp_path) == ["mix.wav"]


# --------------------------------------------------------------------------- (5) the smaller ones


def test_train_with_the_helps_manifest_pattern_trains_on_that_collection(tmp_path, capsys):
    """``automix train mix-small-cpu --data songs/manifest.json`` (the help's own pattern) gave a traceback."""
    from automix.data.collection import scan_collection, write_manifest

    songs = tmp_path / "songs"
    for song in ("A", "B"):
        make_stems(songs / song)
    write_manifest(scan_collection(songs), songs / "manifest.json")
    rc, printed, err = cli(capsys, "train", "mix-small-cpu", "--data", songs / "manifest.json", "--out", tmp_path / "run",
                           "--steps", "1", "--batch-size", "2", "--set", "segment_seconds=0.5",
                           "--set", "data.valid_segments=1", "-q")
    assert rc == 0, err
    assert (tmp_path / "run" / "model.safetensors").is_file()
    for data, needle in ((tmp_path / "nope.json", "does not exist"), (songs / "A" / DRUM_FILES[0], "is a file")):
        rc, _, err = cli(capsys, "train", "mix-small-cpu", "--data", data, "--out", tmp_path / "r2")
        assert rc == 1 and "Traceback" not in err
        assert_one_error(err, needle)


def test_models_show_refuses_a_pickle_and_mismatched_weights(ckpt, tmp_path, capsys):
    """``automix models show`` printed the card of a pickle or of mismatched weights and exited 0."""
    import shutil

    import torch

    torch.save({"w": torch.zeros(2)}, tmp_path / "p.safetensors")
    shutil.copyfile(ckpt.with_suffix(".json"), tmp_path / "p.json")
    from automix.models.mixer import mix_wave_unet

    other = mix_wave_unet(levels=3, growth=6, base_filters=4).save(tmp_path / "other")
    shutil.copyfile(ckpt.with_suffix(".json"), other.with_suffix(".json"))
    for path, needle in ((tmp_path / "p.safetensors", "pickle"), (other, "SHA-256")):
        rc, printed, err = cli(capsys, "models", "show", path)
        assert rc == 1 and printed == ""
        assert_one_error(err, needle)
    rc, printed, _ = cli(capsys, "models", "show", ckpt)
    assert rc == 0 and '"name": "tiny"' in printed


def test_mix_session_into_the_stems_folder_is_refused_before_the_mix_is_written(ckpt, stems, tmp_path, capsys):
    """``mix --session <the stems folder> --force`` wrote the mix before refusing the session."""
    before = sorted(os.listdir(stems))
    rc, _, err = cli(capsys, "mix", stems, "-o", tmp_path / "mix.wav", "--model", ckpt, "--session", stems, "--force")
    assert rc == 1
    assert_one_error(err, "input of this command")
    assert not (tmp_path / "mix.wav").exists() and sorted(os.listdir(stems)) == before
    assert automix_temps(tmp_path, stems) == []


def test_render_nan_error_starts_on_its_own_line(stems, tmp_path, capsys, monkeypatch):
    """``render``'s NaN error came after progress-bar text: a bar now clears its line when it closes."""
    import daw_bridge.progress as progress

    folder = tmp_path / "stems"
    make_stems(folder)
    x = np.zeros(int(3 * SR), np.float32) + 0.1
    x[-100] = np.nan  # late in the file: found while rendering, with the bar on screen
    write_wav(folder / DRUM_FILES[0], x, subtype="FLOAT")
    monkeypatch.setattr(progress, "_shown", lambda enabled: True)  # as on a terminal
    rc, _, err = cli(capsys, "render", folder, "-o", tmp_path / "mix.wav", "--threads", "1")
    assert rc == 1
    last = err.rstrip("\n").split("\n")[-1].split("\r")[-1]  # what the terminal shows on the last line
    assert last.startswith("error: ") and "NaN" in last
    assert err.count("error: ") == 1


def test_progress_bars_stay_off_redirected_stderr_and_never_warn(ckpt, stems, tmp_path):
    """Bars wrote carriage returns into redirected stderr, and a 10-minute mix ended with a TqdmWarning."""
    env = {**process_env(), "PYTHONWARNINGS": "default"}
    for argv in (["mix", stems, "-o", tmp_path / "a.wav", "--model", ckpt],
                 ["render", stems, "-o", tmp_path / "b.wav", "--presets"]):
        done = subprocess.run([sys.executable, "-m", "automix", *map(str, argv)], capture_output=True, text=True,
                              env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "\r" not in done.stderr and "TqdmWarning" not in done.stderr, done.stderr
        assert all(line.startswith("warning: ") for line in done.stderr.splitlines()), done.stderr


def test_verbose_map_advice_works_with_two_kick_mics(ckpt, tmp_path, capsys):
    """``-v`` advised ``--map kick=FILE``, which then failed with "no slot for" (also the README's
    ``--map kick="Kick Out.wav"`` in a folder with two kick mics)."""
    folder = tmp_path / "stems"
    make_stems(folder, names=("Kick In.wav", "Kick Out.wav", *DRUM_FILES[1:]))
    rc, _, err = cli(capsys, "mix", folder, "-o", tmp_path / "a.wav", "--model", ckpt, "-v")
    assert rc == 0 and "use --map kick=FILE to use only one" in err
    rc, _, err = cli(capsys, "mix", folder, "-o", tmp_path / "b.wav", "--model", ckpt, "--map", "kick=Kick Out.wav")
    assert rc == 0, err
    assert "warning" not in err  # what the mapping asked is no warning
    rc, _, err = cli(capsys, "mix", folder, "-o", tmp_path / "c.wav", "--model", ckpt, "--map", "kick=Kick Out.wav", "-v")
    assert "Kick In.wav left out, as the mapping asks (kick: Kick Out.wav)" in err


def test_remix_suggests_no_map_option(tmp_path, capsys):
    """``remix`` suggested ``--map``, which it lacks."""
    from automix.models.separator import separation_wave_unet

    sep = separation_wave_unet(size="tiny", mix_channels=1, name="sep").save(tmp_path / "sep")
    from automix.models.mixer import mix_wave_unet

    mixer = mix_wave_unet(levels=3, growth=4, base_filters=4).save(tmp_path / "mixer")
    x = np.sin(2 * np.pi * 80 * np.arange(SR) / SR).astype(np.float32) * 0.3
    write_wav(tmp_path / "drums.wav", x)
    rc, _, err = cli(capsys, "remix", tmp_path / "drums.wav", "-o", tmp_path / "r.wav", "--separator", sep,
                     "--model", mixer, "-v")
    assert rc == 0, err
    assert "--map" not in err and "silent in the remix" in err
    assert "--map" not in build_parser()._subparsers._group_actions[0].choices["remix"].format_help()


def test_model_mix_of_silent_stems_has_no_dc_offset(tmp_path):
    """The default model's mix of silent stems held a -64 dBFS DC offset on the left channel (a band under
    30 Hz in the demo's spectrogram): the network's response to silence is taken off its output."""
    silent = automix.mix_audio(np.zeros((8, SR), np.float32), SR, loudness=None, precision="fp32")
    assert np.abs(silent).max() < 1e-6
    folder = tmp_path / "stems"
    arrays = make_stems(folder)
    for name in arrays:  # the first half silent in every stem
        audio = arrays[name].copy()
        audio[: len(audio) // 2] = 0
        write_wav(folder / name, audio)
    result = automix.mix(folder, tmp_path / "mix.wav", loudness=None, precision="fp32", progress=False)
    mix = read_mix(result.output)
    quiet = mix[:, : mix.shape[1] // 4]
    assert 20 * np.log10(np.abs(quiet.mean(axis=1)).max() + 1e-12) < -110  # was about -70 dBFS before the gain


def test_float_stem_above_full_scale_is_not_called_clipped(ckpt, tmp_path, capsys):
    """A float stem above 0 dBFS was called "clipped"; a clipped integer stem still is."""
    folder = tmp_path / "stems"
    arrays = make_stems(folder)
    kick = DRUM_FILES[0]
    write_wav(folder / kick, arrays[kick] * 4.0, subtype="FLOAT")  # +6 dBFS peaks, nothing lost
    rc, _, err = cli(capsys, "mix", folder, "-o", tmp_path / "a.wav", "--model", ckpt)
    assert rc == 0 and "clipped" not in err, err
    write_wav(folder / kick, np.clip(arrays[kick] * 4.0, -1, 1), subtype="PCM_24")
    rc, _, err = cli(capsys, "mix", folder, "-o", tmp_path / "b.wav", "--model", ckpt)
    assert rc == 0 and "looks clipped" in err


def test_48_khz_stems_give_a_48_khz_mix_from_the_model_and_the_rules(ckpt, tmp_path):
    """48 kHz stems gave a 44.1 kHz model mix while the rule-based console kept 48 kHz: the model's mix is
    now resampled back to the stems' rate (a note says so)."""
    folder = tmp_path / "stems"
    make_stems(folder, sr=48000, n=int(1.5 * 48000))
    model = automix.mix(folder, tmp_path / "model.wav", model=str(ckpt), progress=False)
    rules = automix.mix(folder, tmp_path / "rules.wav", model="rules", progress=False)
    assert sf.info(str(tmp_path / "model.wav")).samplerate == model.sample_rate == 48000
    assert sf.info(str(tmp_path / "rules.wav")).samplerate == rules.sample_rate == 48000
    assert abs(sf.info(str(tmp_path / "model.wav")).frames - int(1.5 * 48000)) <= 1
    assert any("the mix back to 48000 Hz" in n for n in model.notes)
    in_memory = automix.mix(folder, None, model=str(ckpt), progress=False)
    assert in_memory.sample_rate == 48000 and in_memory.audio.shape[1] == model.frames


def _every_parser(parser, prefix=()):
    import argparse

    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _every_parser(sub, prefix + (name,))


def test_every_help_page_has_examples():
    """Several ``--help`` pages had no examples."""
    missing = [" ".join(name) or "automix" for name, parser in _every_parser(build_parser())
               if "examples:" not in parser.format_help()]
    assert missing == []
