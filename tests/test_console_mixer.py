"""The learned console mixer: order invariance, its plan renders as the console does, a session
holds its settings, and one trained in a CI budget beats the plain sum on held-out takes."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

import automix
from automix.console.model import Console
from automix.console.stft_mix import stft_mix
from automix.data.enst import make_enst_split
from automix.data.generate import generate_corpus
from automix.eval.heldout import evaluate_heldout
from automix.models.checkpoint import Model, ModelCard, save_model
from automix.models.console_mixer import PREDICTED, ConsoleMixerConfig, ConsoleMixerNet, prior_pans, track_features
from automix.train.console_trainer import ConsoleRecipe, train_console_mixer
from daw_bridge.stems import DRUM_SLOTS
from tests.support import SR, read_mix, stem_folder


def untrained(tmp_path, seed=0):
    tmp_path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    net = ConsoleMixerNet()
    torch.nn.init.normal_(net.head.weight, std=0.1)  # not at the prior: settings differ per track
    card = ModelCard(name="cm", task="mix", architecture="console-mixer", config=ConsoleMixerConfig(),
                     input_names=list(DRUM_SLOTS), output_names=list(PREDICTED), sample_rate=SR)
    return save_model(Model(net, card), tmp_path / "cm")


def test_settings_do_not_depend_on_the_order_of_the_tracks():
    rng = np.random.default_rng(0)
    stems = rng.standard_normal((8, SR)).astype(np.float32) * np.geomspace(0.01, 0.3, 8)[:, None].astype(np.float32)
    net = ConsoleMixerNet().eval()
    torch.nn.init.normal_(net.head.weight, std=0.1)
    order = [5, 2, 7, 0, 3, 1, 6, 4]
    outs = []
    for idx in (list(range(8)), order):
        names = [DRUM_SLOTS[i] for i in idx]
        features, live = track_features(stems[idx], names, SR)
        with torch.no_grad():
            v = net(torch.as_tensor(features)[None], torch.as_tensor(live)[None], torch.as_tensor(prior_pans(names))[None])
        outs.append({k: t[0].numpy() for k, t in v.items()})
    for key in PREDICTED:
        np.testing.assert_allclose(outs[1][key], outs[0][key][order], rtol=1e-5, atol=1e-5)


def test_an_untrained_mixer_starts_at_the_recorded_balance_panned_by_role():
    net = ConsoleMixerNet().eval()
    features = torch.randn(1, 8, ConsoleMixerConfig().features)
    pans = torch.as_tensor(prior_pans(DRUM_SLOTS))[None]
    with torch.no_grad():
        v = net(features, torch.ones(1, 8, dtype=torch.bool), pans)
    assert torch.all(v["gain_db"] == 0) and torch.allclose(v["pan"], pans, atol=0.05)
    assert all(torch.all(v[k] == 0) for k in PREDICTED if k.endswith("gain_db"))


def test_the_spectral_training_mix_matches_the_console_gain_pan_and_eq():
    rng = np.random.default_rng(1)
    stems = torch.as_tensor(rng.standard_normal((1, 3, 16384)))
    values = {"gain_db": torch.tensor([[-3.0, 2.0, 0.0]]), "pan": torch.tensor([[-0.5, 0.2, 0.9]]),
              "peak1_gain_db": torch.tensor([[6.0, -4.0, 0.0]]), "peak1_freq_hz": torch.tensor([[800.0, 2000.0, 500.0]]),
              "peak1_q": torch.tensor([[1.0, 2.0, 0.7]])}
    console = Console(3, SR, compressor=False, master_eq=False, master_compressor=False)
    console.set_values({k: v[0].tolist() for k, v in values.items()})
    with torch.no_grad():
        exact = console(stems.float()).double()[0]
    window = torch.hann_window(1024, dtype=torch.float64)
    spec = torch.stft(stems[0], 1024, 256, window=window, return_complex=True)[None]
    freqs = torch.fft.rfftfreq(1024, 1 / SR).double()
    fast = stft_mix(spec, values, freqs, SR)[0].abs()
    want = torch.stft(exact, 1024, 256, window=window, return_complex=True).abs()
    inner = (slice(None), slice(4, -4), slice(8, -8))  # away from the edges (filter start-up)
    rel = (fast[inner] - want[inner]).abs().sum() / want[inner].sum()
    assert rel < 0.03, float(rel)


def test_its_plan_renders_and_its_session_holds_the_settings(tmp_path):
    from daw_bridge.formats.ardour import read_ardour_session

    stems = stem_folder(tmp_path / "stems")
    result = automix.mix(stems, tmp_path / "mix.wav", model=untrained(tmp_path), session=tmp_path / "session")
    assert result.plan is not None and result.model == "cm" and "learned console mixer" in result.summary()
    assert any(p.name == "PeakFilter" for t in result.plan.tracks for p in t.plugins)
    # no master processing: the output stage brings the sum to the training mixes' level (-23 LUFS)
    assert result.plan.master == [] and result.plan.target_lufs == -23.0
    assert abs(result.loudness_lufs + 23.0) < 0.1 and read_mix(tmp_path / "mix.wav").shape[0] == 2
    read = read_ardour_session(tmp_path / "session")
    planned = {t.name: t for t in result.plan.tracks}
    for track in read.tracks:
        assert track.gain_db == pytest.approx(planned[track.name].gain_db, abs=0.05)
        assert track.pan == pytest.approx(planned[track.name].pan, abs=0.01)
    # the same stems in another order: the same plan
    again = automix.mix(sorted(stems.iterdir(), reverse=True), None, model=untrained(tmp_path / "b"))
    by_name = {t.name: (t.gain_db, t.pan) for t in again.plan.tracks}
    assert all(by_name[t.name] == pytest.approx((t.gain_db, t.pan), abs=1e-6) for t in result.plan.tracks)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("cm") / "corpus"
    old = os.environ.get("AUTOMIX_CACHE")
    os.environ["AUTOMIX_CACHE"] = str(root.parent / "cache")
    try:
        generate_corpus(root, 6, seed=11, seconds=6.0, progress=False)
    finally:
        if old is None:
            os.environ.pop("AUTOMIX_CACHE", None)
        else:
            os.environ["AUTOMIX_CACHE"] = old
    make_enst_split(root, fractions={"train": 0.5, "valid": 0.17, "test": 0.33}).save(root.parent / "split.json")
    return root


def test_a_small_one_trained_in_a_ci_budget_beats_the_plain_sum(corpus, tmp_path):
    split = corpus.parent / "split.json"
    recipe = ConsoleRecipe(name="cm-ci", split=str(split), steps=60, batch_size=4, segment_seconds=1.5, lr=3e-3,
                           validate_every=30, valid_segments=8, target="dry",
                           config=ConsoleMixerConfig(width=32, layers=1))
    path = train_console_mixer(recipe, tmp_path / "run", data=corpus, progress=False, workers=0)
    scores = evaluate_heldout({"cm": str(path)}, corpus, split=str(split), target="dry", rules=False)["overall"]
    assert scores["cm"]["mrstft"] < scores["sum of stems"]["mrstft"]
    assert scores["cm"]["si_sdr"] > scores["sum of stems"]["si_sdr"]


def test_cli_trains_a_console_mixer_recipe_and_keeps_a_finished_run(corpus, tmp_path, capsys):
    from tests.support import assert_one_error, cli

    args = ("train", "drums-console", "--data", corpus, "--out", tmp_path / "run", "--steps", "2", "--batch-size", "2",
            "--set", f'split="{corpus.parent / "split.json"}"', "--set", "segment_seconds=1.0",
            "--set", "validate_every=1", "--set", "valid_segments=2", "--set", 'target="dry"')
    code, out, _ = cli(capsys, *args)
    assert code == 0 and "trained drums-console" in out
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    assert card["architecture"] == "console-mixer" and card["training"]["steps"] == 2 and card["output_lufs"] == -23.0
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [h["step"] for h in history] == [0, 1, 2]
    before = (tmp_path / "run" / "model.safetensors").read_bytes()
    code, _, err = cli(capsys, *args)
    assert code == 1 and "already holds a trained console mixer" in assert_one_error(err, "choose another --out")
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == before


def test_the_generators_saved_settings_supervise_faders_and_pans(corpus, tmp_path):
    """With ``param_weight`` the loss also pulls the faders (about the take's mean) and the pans
    (from the drummer's seat: an audience take's saved pans are mirrored back) towards the
    settings the generator mixed the take with; a training run with it goes to its end."""
    from automix.train.console_trainer import saved_settings, settings_loss

    take = sorted(p for p in (corpus / "drummer_1" / "annotation").glob("*.json"))[0]
    mix = json.loads(take.read_text())["mix"]
    gains, pans = saved_settings(corpus, f"drummer_1/{take.stem}")
    side = -1.0 if mix["perspective"] == "audience" else 1.0
    assert gains[0] == mix["slots"]["kick"]["gain_db"] and pans[6] == side * mix["slots"]["overhead_L"]["pan"]
    assert np.isnan(saved_settings(corpus, "drummer_1/no-such-take")[0]).all()

    mask = torch.ones(1, 8, dtype=torch.bool)
    batch = {"mask": mask, "saved_gain": torch.as_tensor(gains)[None], "saved_pan": torch.as_tensor(pans)[None]}
    exact = {"gain_db": torch.as_tensor(gains + 5.0)[None], "pan": torch.as_tensor(pans)[None]}  # one common offset
    assert float(settings_loss(exact, batch)) == pytest.approx(0.0, abs=1e-9)
    off = {"gain_db": exact["gain_db"].clone(), "pan": exact["pan"].clone()}
    off["gain_db"][0, 0] += 6.0
    off["pan"][0, 1] += 0.5
    assert float(settings_loss(off, batch)) > 0.1
    missing = {**batch, "saved_gain": torch.full((1, 8), float("nan"))}
    assert float(settings_loss(off, missing)) == 0.0  # no saved mix: no supervision

    recipe = ConsoleRecipe(name="cm-params", split=str(corpus.parent / "split.json"), steps=4, batch_size=2,
                           segment_seconds=1.0, validate_every=2, valid_segments=2, target="dry", param_weight=0.5,
                           config=ConsoleMixerConfig(width=16, layers=1))
    path = train_console_mixer(recipe, tmp_path / "run", data=corpus, progress=False, workers=0)
    assert path.exists() and [h["step"] for h in json.loads((tmp_path / "run" / "metrics.json").read_text())] == [0, 2, 4]
