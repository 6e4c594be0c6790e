"""Separation Wave-U-Net: model sizes, tiling, augmentation, files, CLI, and a trained separator
that beats the "mix as every source" baseline on held-out generated takes (real DrumGizmo)."""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pytest
import soundfile as sf
import torch

import automix.cli as cli
from automix.data.collection import Augmentation, MultitrackDataset, write_manifest
from daw_bridge.errors import AutomixError
from automix.inference.tiling import process, process_whole
from automix.train.recipe import load_recipe
from automix.eval.separation import evaluate_separation, separation_scores
from automix.inference.separation import mixer_mapping, remix, separate, separate_audio
from automix.models.separator import DRUM_SOURCES, SEPARATOR_SIZES, separation_wave_unet

SR = 44100
HAVE_DRUMGIZMO = shutil.which("drumgizmo") is not None


def _tiny(mix_channels=1, seed=0):
    torch.manual_seed(seed)
    model = separation_wave_unet(size="tiny", mix_channels=mix_channels, name="tiny-sep")
    model.net.output.reset_parameters()  # random outputs (a new separator starts at the mix share)
    return model


def _drum_like(seconds=1.0, seed=0):
    """A mono 'drum bus' of decaying noise bursts and tones, [1, T]."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    x = 0.05 * rng.standard_normal(n) * np.exp(-((t * 8) % 1.0) * 6)
    x += 0.2 * np.sin(2 * np.pi * 60 * t) * np.exp(-((t * 4) % 1.0) * 10)
    return x[None].astype(np.float32)


# --------------------------------------------------------------------------------------------
# the model on the shared core


def test_configurations_from_tiny_to_the_paper():
    paper = separation_wave_unet(size="paper", mix_channels=2)
    cfg = paper.net.config
    assert (cfg.levels, cfg.base_filters, cfg.growth, cfg.kernel_down, cfg.kernel_up) == (12, 24, 24, 15, 5)
    assert cfg.context and cfg.downsampling == "decimate" and cfg.upsampling == "linear"
    assert (cfg.in_channels, cfg.out_channels) == (2, 5)
    assert paper.task == "separate" and paper.card.output_names == list(DRUM_SOURCES)
    assert paper.net.num_parameters() == 10_263_471  # Stoller et al. 2018 report ~10.2 M for M4
    # the paper's 16,384 output samples need 147,443 input samples (valid convolutions)
    assert paper.net.input_length_for(16384).input_length == 147443
    learned = separation_wave_unet(size="small", upsampling="learned", mix_channels=1, sources=["a", "b"])
    assert learned.net.config.upsampling == "learned" and learned.net.config.in_channels == 1
    x = torch.zeros(1, 1, learned.net.input_length_for(1000).input_length)
    assert learned.net(x).shape[:2] == (1, 2)
    assert set(SEPARATOR_SIZES) == {"tiny", "small", "paper"}
    with pytest.raises(ValueError):
        separation_wave_unet(size="huge")


def test_tiled_output_equals_whole_input_output():
    model = _tiny()
    audio = _drum_like(1.3)
    whole = process_whole(model.net, audio)
    for tile in (1000, 4096, 50000):
        tiled = process(model.net, audio, tile=tile, precision="fp32")
        assert tiled.shape == (5, audio.shape[1])
        assert np.abs(tiled - whole).max() < 1e-5 * max(1.0, np.abs(whole).max())
    assert np.abs(whole).max() > 1e-3  # not a trivially silent comparison


def test_separate_audio_shapes_rates_channels_and_levels():
    model = _tiny(mix_channels=1)
    mono = _drum_like(0.5)
    out = separate_audio(mono, SR, model, tile=2048)
    assert list(out) == list(DRUM_SOURCES) and all(v.shape == (mono.shape[1],) for v in out.values())
    # a stereo mix for a mono model is downmixed: identical channels give the mono result
    stereo = separate_audio(np.repeat(mono, 2, axis=0), SR, model, tile=2048)
    assert all(np.allclose(stereo[k], out[k], atol=1e-6) for k in out)
    # scale-equivariant: the mix is brought to the same loudness first
    louder = separate_audio(mono * 4.0, SR, model, tile=2048)
    assert all(np.allclose(louder[k], 4.0 * out[k], atol=1e-5) for k in out)
    # another rate comes back at that rate and length
    low = separate_audio(mono[:, ::2], 22050, model)
    assert all(v.shape == (mono[:, ::2].shape[1],) for v in low.values())
    with pytest.raises(AutomixError, match="silent"):
        separate_audio(np.zeros((1, 1000), np.float32), SR, model)
    with pytest.raises(AutomixError, match="NaN"):
        separate_audio(np.full((1, 1000), np.nan, np.float32), SR, model)
    with pytest.raises(AutomixError, match="3 channels"):
        separate_audio(np.ones((3, 1000), np.float32) * 0.1, SR, model)
    with pytest.raises(AutomixError, match="separation model"):
        separate_audio(mono, SR, "drums")  # a mixer


def test_separate_writes_one_file_per_source_atomically(tmp_path):
    model = _tiny()
    path = tmp_path / "mix.wav"
    audio = _drum_like(0.8)
    sf.write(path, audio[0], SR, subtype="FLOAT")
    result = separate(path, tmp_path / "stems", model, tile=3000, precision="fp32", subtype="FLOAT", progress=False)
    assert sorted(p.name for p in (tmp_path / "stems").iterdir()) == sorted(f"{n}.wav" for n in DRUM_SOURCES)
    expected = separate_audio(audio, SR, model, precision="fp32")
    for name, file in result.files.items():
        data, rate = sf.read(file, dtype="float32")
        assert rate == SR and data.shape == (audio.shape[1],)
        np.testing.assert_allclose(data, expected[name], atol=1e-5)
    assert result.frames == audio.shape[1] and result.realtime_factor > 0
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "stems").iterdir()}
    with pytest.raises(AutomixError, match="exists"):
        separate(path, tmp_path / "stems", model, progress=False)
    assert before == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "stems").iterdir()}
    separate(path, tmp_path / "stems", model, force=True, progress=False, ext=".flac")
    assert len(list((tmp_path / "stems").glob("*.flac"))) == 5


@pytest.mark.parametrize("kind,message", [
    ("missing", "does not exist"), ("corrupt", "mix.wav"), ("silent", "silent"), ("nan", "NaN"),
    ("channels", "3 channels"),
])
def test_bad_inputs_are_one_line_and_leave_nothing(tmp_path, kind, message):
    path = tmp_path / "mix.wav"
    if kind == "corrupt":
        path.write_bytes(b"RIFF not really a wave file" * 4)
    elif kind == "silent":
        sf.write(path, np.zeros(4000, np.float32), SR)
    elif kind == "nan":
        sf.write(path, np.full(4000, np.nan, np.float32), SR, subtype="FLOAT")
    elif kind == "channels":
        sf.write(path, np.full((4000, 3), 0.1, np.float32), SR)
    with pytest.raises(AutomixError, match=message) as info:
        separate(path, tmp_path / "out", _tiny(), progress=False)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_scores_and_mixer_mapping(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((3, 20000))
    perfect = separation_scores(ref, ref, ["a", "b", "c"])
    assert perfect["si_sdr_mean"] > 100 and perfect["sdr_mean"] > 60
    noisy = separation_scores(ref + 0.1 * rng.standard_normal(ref.shape), ref, ["a", "b", "c"])
    assert 15 < noisy["si_sdr_a"] < 25 and 15 < noisy["sdr_a"] < 25
    ref[2] = 0.0  # an absent source is not scored
    assert "sdr_c" not in separation_scores(ref, ref, ["a", "b", "c"])
    files = {n: tmp_path / f"{n}.wav" for n in DRUM_SOURCES}
    mapping = mixer_mapping(files, ("kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "overhead_L", "overhead_R"))
    assert mapping["kick"] == [str(files["kick"])] and mapping["tom_1"] == [str(files["toms"])]
    assert mapping["tom_2"] == [] and mapping["overhead_L"] == mapping["overhead_R"] == [str(files["overheads"])]


# --------------------------------------------------------------------------------------------
# augmentation (the collection loader's separation view)


def _sum_collection(tmp_path):
    from tests.test_collection import SLOTS, build_collection
    from automix.data.collection import scan_collection

    root = build_collection(tmp_path / "coll")
    manifest = scan_collection(root, SLOTS)
    songs = [s.model_copy(update={"mix": None, "split": "test" if s.name == "Song D" else "train"})
             for s in manifest.songs]
    return write_manifest(manifest.model_copy(update={"songs": songs}), root / "manifest.json")


def test_augmentation_is_seeded_consistent_and_off_for_validation(tmp_path):
    path = _sum_collection(tmp_path)
    n_in, n_out = 4000, 2000
    ctx = (n_in - n_out) // 2
    common = dict(input_length=n_in, output_length=n_out, mode="separate", split="train", seed=3)
    plain = MultitrackDataset(path, **common)
    aug = MultitrackDataset(path, augment=Augmentation(gain_db=(-6.0, 6.0), remix=0.5), **common)
    again = MultitrackDataset(path, augment={"gain_db": (-6.0, 6.0), "remix": 0.5}, **common)
    changed = 0
    for i in range(12):
        a, b = aug[i], again[i]
        assert torch.equal(a["input"], b["input"]) and torch.equal(a["target"], b["target"])  # per (seed, epoch, index)
        assert a["input"].shape == (2, n_in) and a["target"].shape == (4, n_out)
        # the input is the sum of the augmented sources (mono sources centred)
        np.testing.assert_allclose(a["input"].mean(0)[ctx : ctx + n_out], a["target"].sum(0), atol=1e-5)
        changed += not torch.allclose(a["target"], plain[i]["target"])
    assert changed >= 10
    aug.set_epoch(1)
    assert not torch.equal(aug[0]["input"], again[0]["input"])
    # a fixed gain and no remixing scale the plain segment exactly
    fixed = MultitrackDataset(path, augment=Augmentation(gain_db=(6.0, 6.0), remix=0.0), **common)
    for i in range(4):
        np.testing.assert_allclose(fixed[i]["target"], plain[i]["target"] * 10 ** (6 / 20), rtol=1e-5, atol=1e-6)
    # remixing takes sources from other songs: masks gain slots the drawn song lacks
    always = MultitrackDataset(path, augment=Augmentation(gain_db=(0.0, 0.0), remix=1.0), **common)
    assert any(always[i]["mask"].sum() > plain[i]["mask"].sum() for i in range(12))
    with pytest.raises(ValueError, match="random segments"):
        MultitrackDataset(path, augment=Augmentation(), segment="sequential", **{**common, "seed": 0})
    with pytest.raises(ValueError, match="remix"):
        Augmentation(remix=1.5)


def test_recipe_augmentation_fields_are_validated():
    base = {"name": "t", "task": "separate", "data": {"separation_mix": "sum", "augment": {"gain_db": [-3, 3]}}}
    r = load_recipe(base)
    assert r.data.augment.gain_db == (-3.0, 3.0) and r.data.augment.remix == 0.5
    with pytest.raises(AutomixError, match="separation_mix"):
        load_recipe({**base, "data": {"augment": {}}})
    with pytest.raises(AutomixError, match="gain_db"):
        load_recipe(base, ["data.augment.gain_db=[6, -6]"])
    with pytest.raises(AutomixError, match="remix"):
        load_recipe(base, ["data.augment.remix=2"])
    with pytest.raises(AutomixError, match="separation"):
        load_recipe({**base, "task": "mix"})
    with pytest.raises(AutomixError, match="slot 'kick'"):
        load_recipe(base, ['data.sources={"a": ["kick"], "b": ["kick"]}'])
    shipped = load_recipe("separate-drums-cpu")
    assert list(shipped.data.sources) == list(DRUM_SOURCES) and shipped.data.augment is not None


# --------------------------------------------------------------------------------------------
# a separator trained in a CI-sized budget beats the baseline on held-out generated takes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    if not HAVE_DRUMGIZMO and not os.environ.get("CI"):
        pytest.skip("drumgizmo not installed (CI installs it)")
    from automix.data.generate import generate_corpus
    from automix.data.segments import Split
    from automix.train.trainer import train

    base = tmp_path_factory.mktemp("sep")
    corpus = base / "corpus"
    # one kit and a spaced pair recorded under the close mics: the default corpus varies kits and
    # records the pair hot (on its loudest piece), which a 150-step separator cannot learn from 4 takes
    from automix.data.generate import DEFAULT_RECIPE

    pair = {"placements": {"overhead": 1.0}, "techniques": {"overhead": {"spaced": 1.0}},
            "spaced_patterns": {"cardioid": 1.0}, "target_peak_dbfs": [-20.0, -16.0], "linked_probability": 1.0,
            "mismatch_db": [0.0, 0.0]}
    recipe = {**DEFAULT_RECIPE, "recording": {**DEFAULT_RECIPE["recording"], "kits": ["GMRockKit"], "pair": pair}}
    generate_corpus(corpus, 6, seed=11, seconds=5.0, progress=False, recipe=recipe)
    takes = sorted(f"drummer_1/{p.stem}" for p in (corpus / "drummer_1" / "audio" / "kick").glob("*.wav"))
    split = Split(subsets={"train": takes[:4], "valid": takes[4:5], "test": takes[5:]})
    split.save(base / "split.json")
    recipe = {
        "name": "sep-ci", "task": "separate",
        "model": {"preset": "mix-wave-u-net-small",
                  "config": {"in_channels": 1, "levels": 5, "base_filters": 12, "growth": 8}},
        "data": {"kind": "generated", "split": str(base / "split.json"), "separation_mix": "sum",
                 "sources": {k: list(v) for k, v in DRUM_SOURCES.items()},
                 "augment": {"gain_db": [-4, 4], "remix": 0.3}, "valid_segments": 8},
        "loss": "l1", "optimizer": {"lr": 2e-3}, "schedule": {"name": "cosine", "warmup_steps": 10},
        "steps": 150, "batch_size": 8, "segment_seconds": 0.15, "precision": "fp32",
        "validate_every": 75, "checkpoint_every": 150, "seed": 0,
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: fast on a shared machine (no OpenMP spinning)
    started = time.process_time()
    try:
        result = train(recipe, data=corpus, out=base / "run", progress=False)
    finally:
        torch.set_num_threads(threads)
    cpu = time.process_time() - started
    return result, corpus, split, cpu


def test_trained_separator_beats_mix_as_every_source(trained, tmp_path):
    result, corpus, split, cpu = trained
    assert result.steps == 150 and result.model_path.is_file()
    assert cpu < 120, f"training took {cpu:.0f} s of CPU"  # typically 20-40 s on one core
    report = evaluate_separation(result.model_path, corpus, split=split, subset="test", out=tmp_path / "report")
    model_scores, baseline = report.systems["sep-ci"], report.systems["mix as every source"]
    assert len(report.per_item) == 1
    assert model_scores["si_sdr_mean"] > baseline["si_sdr_mean"] + 1.0
    assert model_scores["si_sdr_kick"] > baseline["si_sdr_kick"]
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert set(saved["systems"]) == {"sep-ci", "mix as every source"}
    table = (tmp_path / "report" / "report.md").read_text()
    assert "| mix as every source |" in table and "kick SI-SDR (dB)" in table
    card = json.loads(result.model_path.with_suffix(".json").read_text())
    assert card["task"] == "separate" and card["output_names"] == list(DRUM_SOURCES)
    assert card["input_names"] == ["mix"]


# --------------------------------------------------------------------------------------------
# the CLI (automix separate / automix remix)


@pytest.fixture()
def main():
    """``automix.cli.main``, which registers the separation commands."""
    return cli.main


@pytest.fixture()
def tiny_checkpoint(tmp_path):
    model = _tiny()
    model.save(tmp_path / "tiny-sep")
    return tmp_path / "tiny-sep.safetensors"


def test_cli_separate(main, tiny_checkpoint, tmp_path, capsys):
    mix = tmp_path / "drums.wav"
    sf.write(mix, np.repeat(_drum_like(0.6), 2, axis=0).T, SR)
    assert main(["separate", str(mix), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--precision", "fp32"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{n}.wav" for n in DRUM_SOURCES)
    assert "wrote 5 sources" in capsys.readouterr().out
    assert main(["separate", str(mix), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "--force" in err[0]
    assert main(["separate", str(mix), "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--force", "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["separate", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "x"), "--model", str(tiny_checkpoint)]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["separate", str(mix), "-o", str(tmp_path / "y"), "--model", "drums"]) == 1
    assert "separation model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["separate", "--help"])
    assert exit_.value.code == 0 and "examples:" in capsys.readouterr().out


def test_cli_remix_with_rules_and_the_mixer(main, tiny_checkpoint, tmp_path, capsys):
    mix = tmp_path / "drums.wav"
    sf.write(mix, _drum_like(1.0)[0], SR)
    out = tmp_path / "remix.wav"
    code = main(["remix", str(mix), "-o", str(out), "--separator", str(tiny_checkpoint), "--model", "rules", "-q"])
    assert code == 0 and out.is_file()
    data, rate = sf.read(out)
    assert rate == SR and data.ndim == 2 and data.shape[1] == 2 and data.shape[0] >= 44100
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".automix")] == []  # temporary stems removed
    out2 = tmp_path / "remix-net.wav"
    code = main(["remix", str(mix), "-o", str(out2), "--separator", str(tiny_checkpoint),
                 "--session", str(tmp_path / "session"), "--precision", "fp32"])
    assert code == 0, capsys.readouterr().err
    data, rate = sf.read(out2)
    assert data.shape == (44100, 2) and np.isfinite(data).all()
    assert sorted(p.name for p in (tmp_path / "remix-net-stems").iterdir()) == sorted(f"{n}.wav" for n in DRUM_SOURCES)
    assert any((tmp_path / "session").glob("*.ardour"))
    import daw_bridge  # the session holds faders and pans fitted to the remix, as 'mix --session' does

    fitted = [t for t in daw_bridge.open_session(tmp_path / "session").tracks if not t.mute]
    assert len(fitted) >= 5 and any(abs(t.gain_db) > 0.01 for t in fitted) and len({round(t.pan, 3) for t in fitted}) > 1
    assert main(["remix", str(mix), "-o", str(out2), "--separator", str(tiny_checkpoint)]) == 1
    assert "exists" in capsys.readouterr().err


def test_remix_api_keeps_stems_when_asked(tiny_checkpoint, tmp_path):
    mix = tmp_path / "drums.wav"
    sf.write(mix, _drum_like(0.5)[0], SR)
    result = remix(mix, tmp_path / "r.wav", separator=tiny_checkpoint, stems_dir=tmp_path / "stems",
                   precision="fp32", progress=False)
    assert result.output.is_file() and result.stems_dir == tmp_path / "stems"
    assert len(list((tmp_path / "stems").glob("*.wav"))) == 5 and result.mixer == "drums"
