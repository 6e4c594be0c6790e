"""End-to-end tests of ``automix mix`` / ``automix models`` and of :func:`automix.mix`.

Everything runs on a tiny untrained Mix-Wave-U-Net (levels=3) saved once per module, over
~1.5 s of synthetic drum stems, so the whole file stays fast on a small CPU. The CLI is driven
through ``automix.cli.main(argv)`` (stdout/stderr read with ``capsys``) and, for a few cases,
through a real ``python -m automix`` process.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import automix
from automix.cli import main
from daw_bridge.errors import AudioError, AutomixError, StemMatchError
from daw_bridge.stems import DRUM_SLOTS
from tests.support import (
    SR,
    SECONDS,
    N,
    DRUM_FILES,
    SLOT_OF,
    drum_signal,
    write_wav,
    make_stems,
    read_mix,
    slot_array,
    cli,
    run_process,
    listing,
    assert_one_error,
)

def warnings_of(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning: ")]


# --------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> str:
    """Path of a tiny Mix-Wave-U-Net checkpoint (weights; the card lies beside it)."""
    from automix.models.mixer import mix_wave_unet

    folder = tmp_path_factory.mktemp("ckpt")
    return str(mix_wave_unet(levels=3, growth=4, base_filters=4, name="tiny-mixer").save(folder / "tiny"))


@pytest.fixture(scope="module")
def ref(tmp_path_factory, ckpt):
    """The standard 8-stem folder, its arrays in slot order, and mix_audio's fp32 mix of them."""
    folder = tmp_path_factory.mktemp("ref") / "stems"
    arrays = make_stems(folder)
    data = slot_array(arrays)
    expected = automix.mix_audio(data, SR, model=ckpt, precision="fp32")
    return folder, arrays, data, expected


@pytest.fixture
def out_dir(tmp_path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# --------------------------------------------------------------------------------------------
# success


@pytest.mark.parametrize(
    "bit_depth, subtype",
    [(None, "PCM_24"), ("24", "PCM_24"), ("16", "PCM_16"), ("32f", "FLOAT")],
)
def test_mix_writes_stereo_wav(capsys, ckpt, ref, out_dir, bit_depth, subtype):
    stems, _, _, expected = ref
    out = out_dir / "mix.wav"
    extra = ["--bit-depth", bit_depth] if bit_depth else []
    rc, stdout, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", *extra)
    assert rc == 0, stderr
    assert listing(out_dir) == ["mix.wav"]  # no temporary file left beside it
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.channels, info.samplerate, info.frames) == ("WAV", subtype, 2, SR, N)
    mix = read_mix(out)
    assert np.isfinite(mix).all()
    assert np.abs(mix).max() > 1e-3  # not silent
    quantum = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23, "FLOAT": 1e-6}[subtype]
    assert np.abs(mix - np.clip(expected, -1, 1)).max() <= quantum + 1e-5
    # one success line naming the output and the facts
    lines = stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wrote ") and str(out) in lines[0]
    assert "1.5 s" in lines[0] and "44100 Hz" in lines[0] and "tiny-mixer" in lines[0]
    assert warnings_of(stderr) == []  # every slot has its file: nothing to warn about


def test_mix_writes_flac(capsys, ckpt, ref, out_dir):
    stems, _, _, expected = ref
    out = out_dir / "mix.flac"
    rc, stdout, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "-q")
    assert rc == 0, stderr
    assert (stdout, stderr) == ("", "")
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.channels, info.samplerate, info.frames) == ("FLAC", "PCM_24", 2, SR, N)
    assert np.abs(read_mix(out) - np.clip(expected, -1, 1)).max() < 1e-5
    assert listing(out_dir) == ["mix.flac"]


def test_cli_mix_equals_mix_audio(capsys, ckpt, ref, out_dir):
    """The streamed, file-based mix equals mix_audio on the same arrays in slot order."""
    stems, _, data, _ = ref
    out = out_dir / "mix.wav"
    rc, _, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f")
    assert rc == 0, stderr
    expected = automix.mix_audio(data, SR, model=ckpt, precision="fp32")
    assert expected.shape == (2, N) and expected.dtype == np.float32
    assert np.abs(read_mix(out) - expected).max() < 1e-3
    # and mix_audio given {slot: audio} agrees with the [8, T] form
    by_slot = automix.mix_audio(dict(zip(DRUM_SLOTS, data)), SR, model=ckpt, precision="fp32")
    np.testing.assert_array_equal(by_slot, expected)


def test_perspective_mirrors_a_model_that_records_its_side(capsys, ckpt, ref, tmp_path):
    stems, _, data, expected = ref
    sided = automix.load_model(ckpt)
    sided.card.training.perspective = "drummer"
    path = sided.save(tmp_path / "sided")
    for side, want in (("auto", expected), ("drummer", expected), ("audience", expected[::-1])):
        got = automix.mix_audio(data, SR, model=path, precision="fp32", perspective=side)
        np.testing.assert_array_equal(got, want)
    out = tmp_path / "mirrored.wav"
    rc, _, stderr = cli(capsys, "mix", stems, "-o", out, "--model", path, "--precision", "fp32", "--bit-depth", "32f",
                        "--perspective", "audience", "-q")
    assert rc == 0, stderr
    assert np.abs(read_mix(out) - expected[::-1]).max() < 1e-5
    in_memory = automix.mix(stems, None, model=path, precision="fp32", progress=False, perspective="audience")
    assert np.abs(in_memory.audio - expected[::-1]).max() < 1e-5
    # a card that does not say which side its model mixes from: asking for one is refused
    with pytest.raises(AutomixError, match="does not record which side"):
        automix.mix_audio(data, SR, model=ckpt, perspective="audience")
    with pytest.raises(ValueError, match="perspective must be"):
        automix.mix_audio(data, SR, model=path, perspective="stage")
    np.testing.assert_array_equal(automix.mix_audio(data, SR, model=ckpt, precision="fp32", perspective="auto"), expected)


def test_perspective_refused_for_a_model_without_one(capsys, ckpt, ref, out_dir):
    err = _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", ckpt, "--perspective", "drummer"],
                   "does not record which side", "tiny-mixer")
    assert "leave the perspective at auto" in err


def test_small_tiles_give_same_mix(capsys, ckpt, ref, tmp_path):
    stems = ref[0]
    a, b = tmp_path / "default.wav", tmp_path / "small.wav"
    common = ["--model", ckpt, "--precision", "fp32", "--bit-depth", "32f", "-q"]
    assert cli(capsys, "mix", stems, "-o", a, *common)[0] == 0
    assert cli(capsys, "mix", stems, "-o", b, "--tile-seconds", "0.05", *common)[0] == 0
    ma, mb = read_mix(a), read_mix(b)
    assert ma.shape == mb.shape == (2, N)
    assert np.abs(ma - mb).max() < 1e-4
    assert np.abs(ma).max() > 1e-3


def test_api_mix_in_memory(ckpt, ref):
    stems, _, data, expected = ref
    result = automix.mix(stems, None, model=ckpt, precision="fp32", progress=False)
    assert result.output is None
    assert isinstance(result.audio, np.ndarray)
    assert result.audio.shape == (2, N) and result.audio.dtype == np.float32
    assert (result.frames, result.sample_rate, result.model) == (N, SR, "tiny-mixer")
    assert result.duration == pytest.approx(SECONDS)
    assert np.abs(result.audio - expected).max() < 1e-5
    assert result.peak_db == pytest.approx(20 * np.log10(np.abs(result.audio).max()), abs=1e-3)
    assert result.assignment.missing == [] and result.assignment.unmatched == []
    assert {slot: [s.path.name for s in srcs] for slot, srcs in result.assignment.sources.items()} == {
        slot: [name] for name, slot in SLOT_OF.items()
    }


def test_api_mix_writes_file_and_accepts_loaded_model(ckpt, ref, out_dir):
    stems, _, _, expected = ref
    model = automix.load_model(ckpt)
    result = automix.mix(stems, out_dir / "mix.wav", model=model, precision="fp32", subtype="FLOAT", progress=False)
    assert result.output == (out_dir / "mix.wav").absolute()
    assert result.audio is None
    assert np.abs(read_mix(result.output) - expected).max() < 1e-5


def test_api_errors_are_automix_errors(ckpt, tmp_path):
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[:2] + ("Vocals.wav",))
    with pytest.raises(StemMatchError, match="Vocals.wav"):
        automix.mix(stems, tmp_path / "mix.wav", model=ckpt)
    assert not (tmp_path / "mix.wav").exists()
    with pytest.raises(AutomixError):
        automix.mix_audio(np.zeros((3, 100), np.float32), SR, model=ckpt)  # wrong slot count
    bad = np.zeros((8, 1000), np.float32)
    bad[2, 10] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        automix.mix_audio(bad, SR, model=ckpt)


# --------------------------------------------------------------------------------------------
# name matching through the CLI


def test_files_given_individually(capsys, ckpt, ref, out_dir):
    stems, _, _, expected = ref
    out = out_dir / "mix.wav"
    files = [stems / name for name in reversed(DRUM_FILES)]  # order of the arguments does not matter
    rc, _, stderr = cli(capsys, "mix", *files, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f")
    assert rc == 0, stderr
    assert np.abs(read_mix(out) - expected).max() < 1e-5


def test_stereo_overhead_file_is_split(capsys, ckpt, ref, tmp_path):
    _, arrays, _, expected = ref
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[:6])
    write_wav(stems / "OH.wav", np.stack([arrays["OH L.wav"], arrays["OH R.wav"]]))
    out = tmp_path / "mix.wav"
    rc, _, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f")
    assert rc == 0, stderr
    assert any("OH.wav" in w and "left/right" in w for w in warnings_of(stderr)), stderr
    # identical to the mix of two mono files holding its channels
    np.testing.assert_allclose(read_mix(out), expected, atol=1e-6)


def test_map_overrides_names(capsys, ckpt, ref, tmp_path):
    """A file no rule recognises is refused, then placed with --map; OH channels swapped by --map."""
    _, arrays, _, expected = ref
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[1:6])
    write_wav(stems / "Beater.wav", arrays["01 Kick In.wav"])
    write_wav(stems / "OH.wav", np.stack([arrays["OH R.wav"], arrays["OH L.wav"]]))  # channels swapped
    out = tmp_path / "mix.wav"
    base = ["mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f"]

    rc, _, stderr = cli(capsys, *base)
    assert rc == 1
    assert_one_error(stderr, "Beater.wav")
    assert not out.exists()

    rc, _, stderr = cli(
        capsys, *base, "--map", "kick=Beater.wav", "--map", "overhead_L=OH.wav:1", "--map", "overhead_R=OH.wav:0"
    )
    assert rc == 0, stderr
    np.testing.assert_allclose(read_mix(out), expected, atol=1e-6)


def test_map_file_json(capsys, ckpt, ref, tmp_path):
    _, arrays, _, expected = ref
    stems = tmp_path / "stems"
    make_stems(stems, [n for n in DRUM_FILES if n != "01 Kick In.wav"])
    write_wav(stems / "Beater.wav", arrays["01 Kick In.wav"])
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"kick": "Beater.wav"}))
    out = tmp_path / "mix.wav"
    rc, _, stderr = cli(
        capsys, "mix", stems, "-o", out, "--model", ckpt, "--map-file", mapping, "--precision", "fp32", "--bit-depth", "32f"
    )
    assert rc == 0, stderr
    np.testing.assert_allclose(read_mix(out), expected, atol=1e-6)
    # --map and --map-file together are refused
    rc, _, stderr = cli(capsys, "mix", stems, "-o", tmp_path / "b.wav", "--model", ckpt, "--map-file", mapping, "--map", "kick=Beater.wav")
    assert rc == 1
    assert_one_error(stderr, "--map-file")
    assert not (tmp_path / "b.wav").exists()


def test_unmatched_file_refused_then_ignored(capsys, ckpt, ref, tmp_path):
    stems_ref, arrays, _, expected = ref
    stems = tmp_path / "stems"
    make_stems(stems)
    write_wav(stems / "Vocals.wav", drum_signal(11))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "mix.wav"
    base = ["mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f"]

    rc, stdout, stderr = cli(capsys, *base)
    assert rc == 1 and stdout == ""
    assert_one_error(stderr, "Vocals.wav", "--ignore-unmatched")
    assert listing(out_dir) == []

    rc, stdout, stderr = cli(capsys, *base, "--ignore-unmatched")
    assert rc == 0, stderr
    assert any("Vocals.wav" in w and "ignored" in w for w in warnings_of(stderr)), stderr
    np.testing.assert_allclose(read_mix(out), expected, atol=1e-6)  # the vocal is not in the mix


def test_missing_slots_warn_but_mix(capsys, ckpt, ref, tmp_path):
    _, arrays, _, _ = ref
    present = ("01 Kick In.wav", "02 Snare.wav", "HH.wav", "OH L.wav", "OH R.wav")
    stems = tmp_path / "stems"
    make_stems(stems, present)
    out = tmp_path / "mix.wav"
    rc, stdout, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f")
    assert rc == 0, stderr
    assert str(out) in stdout
    warned = warnings_of(stderr)
    assert len(warned) == len(stderr.strip().splitlines())  # every stderr line is a warning line
    for slot in ("tom_1", "tom_2", "tom_3"):
        assert sum(w.startswith(f"warning: {slot} has no file") for w in warned) == 1, stderr
    expected = automix.mix_audio({SLOT_OF[n]: arrays[n] for n in present}, SR, model=ckpt, precision="fp32")
    assert np.abs(read_mix(out) - expected).max() < 1e-5


def test_quiet_prints_nothing(capsys, ckpt, tmp_path):
    stems = tmp_path / "stems"
    make_stems(stems, ("01 Kick In.wav", "02 Snare.wav"))  # six slots missing: warnings normally
    out = tmp_path / "mix.wav"
    rc, stdout, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "-q")
    assert (rc, stdout, stderr) == (0, "", "")
    assert sf.info(str(out)).frames == N
    # the same without -q does warn
    rc, stdout, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--force")
    assert rc == 0 and len(warnings_of(stderr)) == 6 and stdout.startswith("wrote ")


def test_verbose_prints_assignment(capsys, ckpt, tmp_path):
    stems = tmp_path / "stems"
    make_stems(stems, [n for n in DRUM_FILES if n != "Tom 2.wav"])
    rc, _, stderr = cli(capsys, "mix", stems, "-o", tmp_path / "mix.wav", "--model", ckpt, "-v")
    assert rc == 0, stderr
    lines = stderr.splitlines()
    for name, slot in SLOT_OF.items():
        source = "(silence)" if name == "Tom 2.wav" else name
        assert any(re.fullmatch(rf"{re.escape(slot)}\s+{re.escape(source)}", line) for line in lines), (slot, stderr)


# --------------------------------------------------------------------------------------------
# bad input: exit 1, one 'error:' line, nothing left in the output folder


def _refused(capsys, out_dir: Path, argv, *needles: str) -> str:
    before = listing(out_dir)
    rc, stdout, stderr = cli(capsys, *argv)
    assert rc == 1, stderr
    assert stdout == ""
    line = assert_one_error(stderr, *needles)
    assert listing(out_dir) == before, "output or temporary file left behind"
    return line


def test_empty_folder(capsys, ckpt, tmp_path, out_dir):
    (tmp_path / "empty").mkdir()
    _refused(capsys, out_dir, ["mix", tmp_path / "empty", "-o", out_dir / "mix.wav", "--model", ckpt], "no audio files")


def test_folder_with_only_text(capsys, ckpt, tmp_path, out_dir):
    folder = tmp_path / "stems"
    folder.mkdir()
    (folder / "notes.txt").write_text("kick is too loud\n")
    _refused(capsys, out_dir, ["mix", folder, "-o", out_dir / "mix.wav", "--model", ckpt], str(folder))


def test_text_file_given_explicitly(capsys, ckpt, ref, tmp_path, out_dir):
    notes = tmp_path / "notes.txt"
    notes.write_text("kick is too loud\n")
    files = [ref[0] / n for n in DRUM_FILES]
    _refused(capsys, out_dir, ["mix", *files, notes, "-o", out_dir / "mix.wav", "--model", ckpt], "notes.txt", "not an audio file")


def test_missing_stem_file(capsys, ckpt, ref, tmp_path, out_dir):
    _refused(
        capsys, out_dir, ["mix", ref[0] / DRUM_FILES[0], tmp_path / "Snare.wav", "-o", out_dir / "mix.wav", "--model", ckpt],
        "Snare.wav", "does not exist",
    )


def test_garbage_wav(capsys, ckpt, tmp_path, out_dir):
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[1:])
    (stems / "01 Kick In.wav").write_bytes(os.urandom(5000))
    _refused(capsys, out_dir, ["mix", stems, "-o", out_dir / "mix.wav", "--model", ckpt], "01 Kick In.wav")


def test_truncated_wav(capsys, ckpt, tmp_path, out_dir):
    stems = tmp_path / "stems"
    make_stems(stems)
    snare = stems / "02 Snare.wav"
    snare.write_bytes(snare.read_bytes()[:-1000])
    _refused(capsys, out_dir, ["mix", stems, "-o", out_dir / "mix.wav", "--model", ckpt], "02 Snare.wav", "truncated")


def test_nan_stem(capsys, ckpt, tmp_path, out_dir):
    stems = tmp_path / "stems"
    make_stems(stems, [n for n in DRUM_FILES if n != "HH.wav"])
    hh = drum_signal(2)
    hh[441] = np.nan
    write_wav(stems / "HH.wav", hh, subtype="FLOAT")
    _refused(capsys, out_dir, ["mix", stems, "-o", out_dir / "mix.wav", "--model", ckpt], "HH.wav", "NaN", "0.010 s")


def test_nan_late_in_stream(capsys, ckpt, tmp_path, out_dir, monkeypatch):
    """A NaN met after several tiles were written: the partial file is removed."""
    from daw_bridge.audio import AudioWriter

    n = 3 * SR
    stems = tmp_path / "stems"
    make_stems(stems, [x for x in DRUM_FILES if x != "OH R.wav"], n=n)
    oh = drum_signal(7, n)
    oh[int(2.5 * SR)] = np.nan
    write_wav(stems / "OH R.wav", oh, subtype="FLOAT")
    written = []
    original_write = AudioWriter.write

    def spy(self, block):
        original_write(self, block)
        written.append(np.asarray(block).shape[-1])

    monkeypatch.setattr(AudioWriter, "write", spy)
    _refused(
        capsys, out_dir, ["mix", stems, "-o", out_dir / "mix.wav", "--model", ckpt, "--tile-seconds", "0.1"],
        "OH R.wav", "NaN", "2.500 s",
    )
    # the error came mid-stream: several tiles had gone into the (now removed) temporary file
    assert len(written) >= 5 and sum(written) >= SR


def test_infinite_sample(capsys, ckpt, tmp_path, out_dir):
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[1:])
    kick = drum_signal(0)
    kick[1000] = -np.inf
    write_wav(stems / "01 Kick In.wav", kick, subtype="FLOAT")
    _refused(capsys, out_dir, ["mix", stems, "-o", out_dir / "mix.wav", "--model", ckpt], "01 Kick In.wav", "infinite")


def test_all_stems_silent(capsys, ckpt, tmp_path, out_dir):
    stems = tmp_path / "stems"
    stems.mkdir()
    for name in DRUM_FILES:
        write_wav(stems / name, np.zeros(N, np.float32))
    _refused(capsys, out_dir, ["mix", stems, "-o", out_dir / "mix.wav", "--model", ckpt], "silent")


def test_existing_output_needs_force(capsys, ckpt, ref, out_dir):
    stems, _, _, expected = ref
    out = out_dir / "mix.wav"
    old = b"an older mix that must survive"
    out.write_bytes(old)
    _refused(capsys, out_dir, ["mix", stems, "-o", out, "--model", ckpt], str(out), "--force")
    assert out.read_bytes() == old
    rc, _, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--force", "--precision", "fp32", "--bit-depth", "32f")
    assert rc == 0, stderr
    assert listing(out_dir) == ["mix.wav"]
    assert np.abs(read_mix(out) - expected).max() < 1e-5


def test_output_folder_missing(capsys, ckpt, ref, out_dir):
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "nope" / "mix.wav", "--model", ckpt], "does not exist")


def test_output_folder_not_writable(capsys, ckpt, ref, out_dir):
    locked = out_dir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):
            _refused(capsys, locked, ["mix", ref[0], "-o", locked / "mix.wav", "--model", ckpt], "not writable")
        else:  # root writes anywhere: use a regular file as the "folder" instead
            afile = out_dir / "somefile.txt"
            afile.write_text("x")
            _refused(capsys, out_dir, ["mix", ref[0], "-o", afile / "mix.wav", "--model", ckpt], "somefile.txt")
            assert afile.read_text() == "x"
    finally:
        locked.chmod(0o700)


def test_output_is_a_folder(capsys, ckpt, ref, out_dir):
    (out_dir / "mix.wav").mkdir()
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", ckpt, "--force"], "folder")


@pytest.mark.parametrize(
    "name, extra, needle",
    [("mix.mp3", [], ".wav or .flac"), ("mix.flac", ["--bit-depth", "32f"], "FLAC")],
    ids=["mp3", "float-flac"],
)
def test_unsupported_output_format(capsys, ckpt, ref, out_dir, name, extra, needle):
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / name, "--model", ckpt, *extra], needle)


@pytest.mark.parametrize("keep_hash", [True, False], ids=["hash-differs", "shapes-differ"])
def test_card_and_weights_disagree(capsys, ref, tmp_path, out_dir, keep_hash):
    from automix.models.mixer import mix_wave_unet

    a = mix_wave_unet(levels=3, growth=4, base_filters=4).save(tmp_path / "a")
    b = mix_wave_unet(levels=3, growth=6, base_filters=4).save(tmp_path / "b")
    card_a, card_b = a.with_suffix(".json"), b.with_suffix(".json")
    text_a, text_b = card_a.read_text(), card_b.read_text()
    card_a.write_text(text_b)
    card_b.write_text(text_a)
    if not keep_hash:  # no hash to compare: the architecture check must catch it
        card = json.loads(text_b)
        card["weights_sha256"] = ""
        card_a.write_text(json.dumps(card))
    needle = "SHA-256" if keep_hash else "does not match"
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", a], "a.safetensors", needle)


def test_pickled_checkpoint(capsys, ref, tmp_path, out_dir, monkeypatch):
    import torch

    from automix.models.mixer import mix_wave_unet

    torch.save(mix_wave_unet(levels=3, growth=4, base_filters=4).net.state_dict(), tmp_path / "m.pt")
    monkeypatch.chdir(tmp_path)
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", "m.pt"], "m.pt", "pickle")
    # the same bytes named like weights are refused too (the card beside them is valid)
    mix_wave_unet(levels=3, growth=4, base_filters=4).save(tmp_path / "p")
    (tmp_path / "p.safetensors").write_bytes((tmp_path / "m.pt").read_bytes())
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", "p.safetensors"], "pickle")


def test_unknown_model_name(capsys, ref, out_dir):
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", "no-such-model"], "unknown model 'no-such-model'")


def _usage_refused(capsys, out_dir: Path, argv, *needles: str) -> str:
    """A bad option value: argparse-style exit 2 with one 'error:' line, nothing written."""
    before = listing(out_dir)
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = assert_one_error(captured.err, *needles)
    assert listing(out_dir) == before
    return line


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x"])
def test_bad_tile_seconds(capsys, ckpt, ref, out_dir, value):
    _usage_refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", ckpt, "--tile-seconds", value], "--tile-seconds")


@pytest.mark.parametrize("value", ["0", "-2", "1.5"])
def test_bad_batch(capsys, ckpt, ref, out_dir, value):
    _usage_refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", ckpt, "--batch", value], "--batch")


def test_bad_device(capsys, ckpt, ref, out_dir):
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", ckpt, "--device", "foo"], "foo")


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(_cuda_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda(capsys, ckpt, ref, out_dir):
    _refused(capsys, out_dir, ["mix", ref[0], "-o", out_dir / "mix.wav", "--model", ckpt, "--device", "cuda"], "cuda")


def test_rerun_with_output_inside_stems_folder(capsys, ckpt, tmp_path):
    stems = tmp_path / "stems"
    make_stems(stems)
    out = stems / "mix.wav"
    argv = ["mix", stems, "-o", out, "--model", ckpt, "-q"]
    assert cli(capsys, *argv)[0] == 0
    first = out.read_bytes()
    rc, _, stderr = cli(capsys, *argv, "--force")
    assert rc == 0, stderr
    assert out.read_bytes() == first


# --------------------------------------------------------------------------------------------
# noted but successful


def test_other_sample_rate_is_resampled(capsys, ckpt, ref, tmp_path):
    _, arrays, _, _ = ref
    from daw_bridge.audio import resample, resampled_length

    stems = tmp_path / "stems"
    make_stems(stems, [n for n in DRUM_FILES if n != "HH.wav"])
    hh48 = drum_signal(2, n=int(1.7 * 48000), sr=48000)  # the longest stem, at 48 kHz
    write_wav(stems / "HH.wav", hh48, sr=48000, subtype="FLOAT")
    out = tmp_path / "mix.wav"
    rc, _, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f")
    assert rc == 0, stderr
    warned = warnings_of(stderr)
    assert any("HH.wav" in w and "48000 Hz" in w and "resampled" in w for w in warned), stderr
    assert sum("padded" in w for w in warned) == 7  # the seven 1.5 s stems are shorter
    length = resampled_length(hh48.size, 48000, SR)
    assert length == 74970
    info = sf.info(str(out))
    assert (info.frames, info.samplerate, info.channels) == (length, SR, 2)
    stems_44 = {n: a for n, a in arrays.items() if n != "HH.wav"} | {"HH.wav": resample(hh48, 48000, SR)}
    expected = automix.mix_audio(slot_array(stems_44, length), SR, model=ckpt, precision="fp32")
    assert np.abs(read_mix(out) - expected).max() < 1e-3


def test_shorter_stem_is_padded(capsys, ckpt, ref, tmp_path):
    _, arrays, _, _ = ref
    stems = tmp_path / "stems"
    make_stems(stems, [n for n in DRUM_FILES if n != "Tom 2.wav"])
    write_wav(stems / "Tom 2.wav", arrays["Tom 2.wav"][:SR])  # 1.0 s of a 1.5 s session
    out = tmp_path / "mix.wav"
    rc, stdout, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt, "--precision", "fp32", "--bit-depth", "32f")
    assert rc == 0, stderr
    warned = warnings_of(stderr)
    assert len(warned) == 1 and "Tom 2.wav" in warned[0] and "0.500 s shorter" in warned[0] and "padded" in warned[0]
    assert sf.info(str(out)).frames == N
    short = dict(arrays, **{"Tom 2.wav": arrays["Tom 2.wav"][:SR]})
    expected = automix.mix_audio(slot_array(short, N), SR, model=ckpt, precision="fp32")
    assert np.abs(read_mix(out) - expected).max() < 1e-5


def test_clipped_stem_is_noted(capsys, ckpt, ref, tmp_path):
    _, arrays, _, _ = ref
    stems = tmp_path / "stems"
    make_stems(stems, [n for n in DRUM_FILES if n != "02 Snare.wav"])
    hot = np.clip(arrays["02 Snare.wav"] * 50, -1.0, 1.0)  # driven into the rails
    write_wav(stems / "02 Snare.wav", hot)
    out = tmp_path / "mix.wav"
    rc, _, stderr = cli(capsys, "mix", stems, "-o", out, "--model", ckpt)
    assert rc == 0, stderr
    warned = warnings_of(stderr)
    clipped = [w for w in warned if "clipped" in w]
    assert len(clipped) == 1 and "02 Snare.wav" in clipped[0]
    count = int(clipped[0].split("(")[1].split()[0])
    assert count == int(np.count_nonzero(np.abs(read_wav_back(stems / "02 Snare.wav")) >= 0.999))
    assert sf.info(str(out)).frames == N


def read_wav_back(path):
    return sf.read(str(path), dtype="float32")[0]


# --------------------------------------------------------------------------------------------
# help and models


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "mix" in out and "models" in out and out.startswith("usage: automix")


def test_mix_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["mix", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "automix mix stems/ -o mix.wav" in out and "--ignore-unmatched" in out


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"automix {automix.__version__}"


def test_no_command_is_usage_error(capsys):
    assert main([]) == 2
    assert "usage: automix" in capsys.readouterr().err


def test_mix_without_output_is_usage_error(capsys, ref):
    with pytest.raises(SystemExit) as exc:
        main(["mix", str(ref[0])])
    assert exc.value.code == 2
    assert "-o/--output" in capsys.readouterr().err


def test_models_list(capsys):
    from automix.models.pretrained import list_models

    rc, out, err = cli(capsys, "models", "list")
    assert rc == 0 and err == ""
    installed = list_models()
    if installed:
        assert all(any(line.startswith(name) for line in out.splitlines()) for name in installed)
    else:
        assert out.strip() == "no models installed; pass --model PATH to use a checkpoint"


def test_models_show_path(capsys, ckpt):
    rc, out, err = cli(capsys, "models", "show", ckpt)
    assert rc == 0 and err == ""
    card = json.loads(out)
    assert card["task"] == "mix"
    assert card["name"] == "tiny-mixer"
    assert card["input_names"] == list(DRUM_SLOTS)
    assert card["output_names"] == ["L", "R"]
    assert card["sample_rate"] == SR
    assert card["config"]["levels"] == 3
    # the card path and the stem work too
    assert json.loads(cli(capsys, "models", "show", ckpt.replace(".safetensors", ".json"))[1]) == card


def test_models_show_unknown(capsys):
    rc, out, err = cli(capsys, "models", "show", "no-such-model")
    assert rc == 1 and out == ""
    assert_one_error(err, "no-such-model")


# --------------------------------------------------------------------------------------------
# real processes


def test_process_success(ckpt, ref, tmp_path):
    out = tmp_path / "mix.wav"
    proc = run_process("mix", ref[0], "-o", out, "--model", ckpt, "--precision", "fp32", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("wrote ") and str(out) in proc.stdout and len(proc.stdout.splitlines()) == 1
    assert np.abs(read_mix(out) - np.clip(ref[3], -1, 1)).max() < 2.0**-23 + 1e-5
    assert listing(tmp_path) == ["mix.wav"]


def _process_vocals(tmp_path, ckpt):
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[:3] + ("Vocals.wav",))
    return [stems], ["Vocals.wav", "--ignore-unmatched"]


def _process_nan_late(tmp_path, ckpt):
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[:7], n=3 * SR)
    oh = drum_signal(7, 3 * SR)
    oh[int(2.5 * SR)] = np.nan
    write_wav(stems / "OH R.wav", oh, subtype="FLOAT")
    return [stems, "--tile-seconds", "0.1"], ["OH R.wav", "NaN", "2.500 s"]


def _process_pickle(tmp_path, ckpt):
    (tmp_path / "m.pt").write_bytes(b"\x80\x04" + b"\x00" * 64)
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[:2])
    return [stems, "--model", tmp_path / "m.pt"], ["pickle"]


def _process_garbage(tmp_path, ckpt):
    stems = tmp_path / "stems"
    make_stems(stems, DRUM_FILES[1:])
    (stems / "01 Kick In.wav").write_bytes(b"RIFF....WAVEjunk" * 100)
    return [stems], ["01 Kick In.wav"]


@pytest.mark.parametrize("case", [_process_vocals, _process_nan_late, _process_pickle, _process_garbage], ids=lambda f: f.__name__[9:])
def test_process_error_is_one_line(ckpt, tmp_path, case):
    argv, needles = case(tmp_path, ckpt)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    if "--model" not in argv:
        argv += ["--model", ckpt]
    proc = run_process("mix", *argv, "-o", out_dir / "mix.wav", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert_one_error(proc.stderr, *needles)
    assert listing(out_dir) == []


def test_process_no_command(tmp_path):
    proc = run_process(cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage: automix" in proc.stdout + proc.stderr


def test_input_loudness_of_the_card_is_applied(tmp_path, ref):
    """A model trained on loudness-normalised stems (card.input_lufs) gets its stems the same way."""
    from automix.models.checkpoint import load_model
    from automix.data.enst import MAX_GAIN_DB
    from daw_bridge.loudness import LoudnessMeter
    from automix.models.mixer import mix_wave_unet

    model = mix_wave_unet(levels=3, growth=4, base_filters=4, name="normalised")
    model.card.input_lufs = -30.0
    path = model.save(tmp_path / "normalised")
    assert load_model(path).card.input_lufs == -30.0
    stems, arrays, data, _ = ref
    # what the network must see: every slot at -30 LUFS (one gain per stem)
    expected_in = np.empty_like(data)
    for i, row in enumerate(data):
        meter = LoudnessMeter(SR, 1)
        meter.add(row)
        gain_db = np.clip(-30.0 - meter.integrated(), -MAX_GAIN_DB, MAX_GAIN_DB)
        expected_in[i] = row * 10 ** (gain_db / 20)
    plain = automix.mix_audio(expected_in, SR, model=ckpt_without_lufs(model, tmp_path), precision="fp32")
    in_memory = automix.mix_audio(data, SR, model=path, precision="fp32")
    assert np.abs(in_memory - plain).max() < 1e-5
    from_files = automix.mix(stems, None, model=path, precision="fp32", progress=False)
    assert np.abs(from_files.audio - plain).max() < 1e-5
    # so the level the stems were exported at no longer matters (up to the gain limit)
    louder = automix.mix_audio(data * 4.0, SR, model=path, precision="fp32")
    assert np.abs(louder - in_memory).max() < 1e-4 * max(1.0, np.abs(in_memory).max())
    # a silent slot keeps 0 dB (no division by silence)
    silent = data.copy()
    silent[3] = 0.0
    assert np.isfinite(automix.mix_audio(silent, SR, model=path, precision="fp32")).all()


def ckpt_without_lufs(model, tmp_path):
    model.card.input_lufs = None
    return model.save(tmp_path / "plain")


def test_output_loudness_auto_off_value_and_ceiling(tmp_path, ref):
    """The mix comes out at the card's output_lufs (auto), a given LUFS, or the network's own level (off);
    the gain never pushes the true peak above the ceiling, and no temporary file is left behind."""
    from daw_bridge.loudness import LoudnessMeter, TruePeakMeter
    from automix.models.mixer import mix_wave_unet

    def level(path):
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        meter, peak = LoudnessMeter(rate, 2), TruePeakMeter(rate, 2)
        meter.add(audio.T)
        peak.add(audio.T)
        return meter.integrated(), peak.true_peak_db(), audio.T

    model = mix_wave_unet(levels=3, growth=4, base_filters=4, name="levelled")
    model.card.output_lufs = -26.0
    path = model.save(tmp_path / "levelled")
    stems, _, data, _ = ref
    out = tmp_path / "out"
    out.mkdir()
    auto = automix.mix(stems, out / "auto.wav", model=path, precision="fp32", progress=False)
    lufs, tp, auto_audio = level(out / "auto.wav")
    assert abs(lufs - (-26.0)) < 0.02 and abs(auto.loudness_lufs - (-26.0)) < 1e-6 and tp <= -1.0
    raw = automix.mix_audio(data, SR, model=path, precision="fp32", loudness=None)
    assert main(["mix", str(stems), "-o", str(out / "off.wav"), "--model", str(path), "--loudness", "off",
                 "--precision", "fp32", "--bit-depth", "32f", "-q"]) == 0
    off = sf.read(str(out / "off.wav"), dtype="float32", always_2d=True)[0].T
    assert np.abs(off - raw).max() < 1e-6  # the network's own level, untouched
    gain = 10 ** (auto.gain_db / 20)
    assert np.abs(auto_audio - raw * gain).max() < 2e-5 * max(1.0, gain)  # one gain (24-bit rounding)
    in_memory = automix.mix_audio(data, SR, model=path, precision="fp32")  # auto
    assert np.abs(in_memory - raw * gain).max() < 1e-5 * max(1.0, gain)
    # a target the ceiling does not allow: the true peak stays under it, and a note says so
    loud = automix.mix(stems, out / "loud.wav", model=path, precision="fp32", progress=False, loudness=-3.0,
                       true_peak_db=-2.0)
    lufs, tp, _ = level(out / "loud.wav")
    assert tp <= -2.0 + 1e-3 and lufs < -3.0 and any("loudness target -3 LUFS missed" in n for n in loud.notes)
    assert sorted(p.name for p in out.iterdir()) == ["auto.wav", "loud.wav", "off.wav"]  # no temporary files
    # a card without output_lufs: auto keeps the network's own level
    model.card.output_lufs = None
    plain = model.save(tmp_path / "plain-level")
    same = automix.mix_audio(data, SR, model=plain, precision="fp32")
    assert np.array_equal(same, raw) and automix.mix(stems, None, model=plain, progress=False).loudness_lufs is None


def test_loudness_option_errors(tmp_path, ref, capsys):
    stems = ref[0]
    for bad, message in (("loud", "expected LUFS (e.g. -14), 'auto' or 'off'"), ("5", "between -70 and 0 LUFS")):
        with pytest.raises(SystemExit) as exit_:
            main(["mix", str(stems), "-o", str(tmp_path / "m.wav"), "--loudness", bad])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(ValueError, match="loudness must be between -70 and 0 LUFS"):
        automix.mix_audio(ref[2], SR, loudness=3.0)
    assert not (tmp_path / "m.wav").exists()


def test_rules_mix_takes_the_loudness_option(tmp_path, ref):
    from daw_bridge.loudness import LoudnessMeter

    def lufs(path):
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        meter = LoudnessMeter(rate, audio.shape[1])
        meter.add(audio.T)
        return meter.integrated()

    stems = ref[0]
    for option, expected in (("-20", -20.0), ("auto", -16.0)):
        out = tmp_path / f"rules{option}.wav"
        assert main(["mix", str(stems), "-o", str(out), "--model", "rules", "--loudness", option, "-q"]) == 0
        assert abs(lufs(out) - expected) < 0.05, option
    assert main(["mix", str(stems), "-o", str(tmp_path / "off.wav"), "--model", "rules", "--loudness", "off", "-q"]) == 0
    assert -30.0 < lufs(tmp_path / "off.wav") < -10.0  # the plan's own gain staging, no normalisation pass
