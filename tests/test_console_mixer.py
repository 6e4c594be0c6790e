"""The learned console mixer: order invariance, its plan renders as the console does, a session
holds its settings, and one trained in a CI budget beats the plain sum on held-out takes."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

import automix
from automix.console.batched import batch_console, rms_db
from automix.console.model import Console
from automix.console.stft_mix import stft_mix
from automix.data.enst import make_enst_split
from automix.data.generate import generate_corpus
from automix.eval.heldout import evaluate_heldout
from automix.models.checkpoint import Model, ModelCard, save_model
from automix.models.console_mixer import (
    DYNAMICS,
    MASTER_DYNAMICS,
    MIN_RATIO,
    PREDICTED,
    ConsoleMixerConfig,
    ConsoleMixerNet,
    prior_pans,
    track_features,
    track_levels,
)
from automix.train.console_trainer import ConsoleRecipe, train_console_mixer
from automix.train.errors import TrainingError
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


def settings_in_two_orders(net, order, seed=0):
    """The settings ``net`` gives eight stems in slot order and in ``order``."""
    rng = np.random.default_rng(seed)
    stems = rng.standard_normal((8, SR)).astype(np.float32) * np.geomspace(0.01, 0.3, 8)[:, None].astype(np.float32)
    outs = []
    for idx in (list(range(8)), order):
        names = [DRUM_SLOTS[i] for i in idx]
        features, live = track_features(stems[idx], names, SR)
        with torch.no_grad():
            v = net(torch.as_tensor(features)[None], torch.as_tensor(live)[None], torch.as_tensor(prior_pans(names))[None])
        outs.append({k: t[0].numpy() for k, t in v.items()})
    return outs


def test_settings_do_not_depend_on_the_order_of_the_tracks():
    net = ConsoleMixerNet().eval()
    torch.nn.init.normal_(net.head.weight, std=0.1)
    order = [5, 2, 7, 0, 3, 1, 6, 4]
    outs = settings_in_two_orders(net, order)
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


# --------------------------------------------------------------------------- compressors (config.dynamics)

DYNAMIC = ConsoleMixerConfig(dynamics=True)


def dynamic_net(seed=0, ratio=4.0, relative_db=6.0):
    """A mixer with compressors that act: every ratio near ``ratio``, thresholds near ``relative_db``
    against the level of what they hear; gain, pan and EQ off the prior."""
    torch.manual_seed(seed)
    net = ConsoleMixerNet(DYNAMIC).eval()
    torch.nn.init.normal_(net.head.weight, std=0.1)
    ratio_raw = 5.0 + math.log((ratio - 1.0) / (10.0 - ratio))
    for head in (net.dynamics, net.master):
        torch.nn.init.normal_(head.weight, std=0.02)
        with torch.no_grad():
            head.bias.copy_(torch.tensor([math.atanh((relative_db - 10.0) / 20.0), ratio_raw]))
    return net


def save_dynamic(tmp_path, net):
    card = ModelCard(name="cm-dyn", task="mix", architecture="console-mixer", config=DYNAMIC,
                     input_names=list(DRUM_SLOTS), output_names=list(PREDICTED), sample_rate=SR)
    return save_model(Model(net, card), tmp_path / "cm-dyn")


def as_batch(values):
    """``predict_settings``' arrays as a batch of one: tracks ``[1, N]``, the master ``[1]``."""
    return {k: torch.as_tensor(v) if k.startswith("master_") else torch.as_tensor(v)[None] for k, v in values.items()}


def test_compressor_settings_do_not_depend_on_the_order_of_the_tracks():
    order = [3, 0, 6, 1, 7, 2, 5, 4]
    outs = settings_in_two_orders(dynamic_net(), order, seed=2)
    for key in DYNAMICS:
        np.testing.assert_allclose(outs[1][key], outs[0][key][order], rtol=1e-5, atol=1e-5)
    for key in MASTER_DYNAMICS:  # one master: the same whatever the order
        np.testing.assert_allclose(outs[1][key], outs[0][key], rtol=1e-5, atol=1e-5)


def test_new_compressors_start_all_but_off_and_leave_the_plan():
    net = ConsoleMixerNet(DYNAMIC).eval()
    with torch.no_grad():
        v = net(torch.randn(2, 8, DYNAMIC.features), torch.ones(2, 8, dtype=torch.bool),
                torch.as_tensor(prior_pans(DRUM_SLOTS))[None].expand(2, -1))
    assert v["comp_ratio"].shape == (2, 8) and v["master_comp_ratio"].shape == (2,)
    assert torch.all(v["comp_ratio"] < MIN_RATIO) and torch.all(v["comp_ratio"] >= 1.0)
    assert torch.all(v["master_comp_ratio"] < MIN_RATIO)


def test_the_training_console_is_the_console_with_compressors():
    """batch_console (the training path) against the time-domain Console on the same settings."""
    rng = np.random.default_rng(3)
    bursts = (rng.random((3, 2 * SR)) < 0.0005).astype(np.float32)
    stems = torch.as_tensor(np.stack([np.convolve(b, np.exp(-np.arange(4000) / 600.0), "same") for b in bursts])
                            * rng.standard_normal((3, 2 * SR)).astype(np.float32) * 0.3)
    levels = torch.as_tensor(track_levels(stems.numpy(), SR))
    values = {"gain_db": torch.tensor([[-3.0, 2.0, 0.0]]), "pan": torch.tensor([[-0.5, 0.2, 0.9]]),
              "peak1_gain_db": torch.tensor([[6.0, -4.0, 0.0]]), "peak1_freq_hz": torch.tensor([[800.0, 2000.0, 500.0]]),
              "peak1_q": torch.tensor([[1.0, 2.0, 0.7]]),
              "comp_threshold_rel_db": torch.tensor([[5.0, 0.0, 10.0]]), "comp_ratio": torch.tensor([[4.0, 2.0, 6.0]]),
              "master_comp_threshold_rel_db": torch.tensor([3.0]), "master_comp_ratio": torch.tensor([3.0])}
    ours = batch_console(stems[None], values, levels[None], SR, attack_ms=5.0, release_ms=120.0)[0]
    console = Console(3, SR, master_eq=False)
    console.set_values({k: v[0].tolist() for k, v in values.items() if k in ("gain_db", "pan") or k.startswith("peak1")})
    console.set_values({"comp_threshold_db": (levels + values["comp_threshold_rel_db"][0]).tolist(),
                        "comp_ratio": values["comp_ratio"][0].tolist(), "comp_attack_ms": 5.0, "comp_release_ms": 120.0})
    with torch.no_grad():
        bus = Console(3, SR, master_eq=False, master_compressor=False)  # what the master compressor hears
        bus.load_state_dict(console.state_dict())
        level = float(rms_db(bus(stems[None])))
    console.set_values({"comp_threshold_db": level + 3.0, "comp_ratio": 3.0, "comp_attack_ms": 5.0,
                        "comp_release_ms": 120.0}, "master")
    with torch.no_grad():
        exact = console(stems[None])[0]
        plain = Console(3, SR, compressor=False, master_eq=False, master_compressor=False)
        plain.load_state_dict(console.state_dict())
        linear = plain(stems[None])[0]
    snr = lambda a, b: float(10 * torch.log10(b.square().sum() / (a - b).square().sum()))  # noqa: E731
    assert snr(ours, exact) > 40  # the EQ's impulse responses are cut at 186 ms
    assert snr(linear, exact) < 15  # the compressors did act


def test_a_plan_with_compressors_renders_as_the_training_console(tmp_path):
    """The mixer's plan through daw_bridge (pedalboard) against batch_console on its settings; its
    Ardour session holds the faders and pans and an ACE compressor per compressed track."""
    from automix.inference.console_plan import predict_settings
    from automix.models.pretrained import load
    from daw_bridge.audio import read_audio
    from daw_bridge.formats.ardour import read_ardour_session
    from daw_bridge.render import render

    stems = stem_folder(tmp_path / "stems")
    path = save_dynamic(tmp_path, dynamic_net())
    result = automix.mix(stems, None, model=path, session=tmp_path / "session")
    plan = result.plan
    squeezed = [t.name for t in plan.tracks if any(p.name == "Compressor" for p in t.plugins)]
    assert len(squeezed) >= 6 and [p.name for p in plan.master] == ["Compressor"]
    audio = np.stack([read_audio(t.file, sample_rate=SR)[0].mean(axis=0) for t in plan.tracks]).astype(np.float32)
    levels = track_levels(audio, SR)
    values = predict_settings(load(path), audio, [t.name for t in plan.tracks], SR, levels)
    ours = batch_console(torch.as_tensor(audio)[None], as_batch(values), torch.as_tensor(levels)[None], SR,
                         attack_ms=DYNAMIC.comp_attack_ms, release_ms=DYNAMIC.comp_release_ms)[0].numpy()
    plan.target_lufs = None
    theirs = render(plan, None, normalize=False, tail_s=0, threads=1).audio[:, : ours.shape[-1]]
    snr = 10 * np.log10(np.sum(theirs.astype(np.float64) ** 2) / np.sum((ours - theirs) ** 2))
    assert snr > 30, snr
    read = read_ardour_session(tmp_path / "session")
    planned = {t.name: t for t in plan.tracks}
    for track in read.tracks:  # a fader past +6 dB after a compressor is partly an ACE gain there
        after = sum(p.params["gain_db"] for p in track.plugins if p.name == "Gain")
        assert track.gain_db + after == pytest.approx(planned[track.name].gain_db, abs=0.05)
        assert (track.name in squeezed) == any(p.name == "Compressor" for p in track.plugins)


def test_compressors_train_on_a_frozen_mixer(corpus, tmp_path):
    """``init`` + ``freeze_base``: the trained mixer's gain, pan and EQ weights are kept, only the
    compressors' heads learn, and the run keeps its best validation loss."""
    base = ConsoleRecipe(name="cm-base", split=str(corpus.parent / "split.json"), steps=2, batch_size=2,
                         segment_seconds=1.0, validate_every=1, valid_segments=2, target="dry",
                         config=ConsoleMixerConfig(width=16, layers=1))
    start = train_console_mixer(base, tmp_path / "base", data=corpus, progress=False, workers=0)
    recipe = base.model_copy(update={"name": "cm-dyn", "init": str(start), "freeze_base": True, "steps": 3, "lr": 0.05,
                                     "config": base.config.model_copy(update={"dynamics": True})})
    path = train_console_mixer(recipe, tmp_path / "dyn", data=corpus, progress=False, workers=0)
    from automix.models.pretrained import load

    before, after = load(start).net.state_dict(), load(path).net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert any(after[k].abs().sum() > 0 for k in after if k.startswith(("dynamics.", "master.")))
    history = json.loads((tmp_path / "dyn" / "metrics.json").read_text())
    assert min(h["valid_loss"] for h in history) <= history[0]["valid_loss"]
    with pytest.raises(TrainingError, match="set init"):
        train_console_mixer(recipe.model_copy(update={"init": None}), tmp_path / "x", data=corpus, progress=False)
    wide = recipe.model_copy(update={"config": recipe.config.model_copy(update={"width": 24})})
    with pytest.raises(TrainingError, match="differs .* width"):
        train_console_mixer(wide, tmp_path / "y", data=corpus, progress=False)


def test_compressor_heads_learn_compression_the_target_has():
    """Through console_loss (time-domain console, level-invariant loss) the heads of a mixer that
    starts with its compressors off learn the compression a teacher mixed the target with."""
    from automix.train.console_trainer import console_loss

    rng = np.random.default_rng(4)
    hits = (rng.random((2, 4, SR)) < 0.0008).astype(np.float32)
    decay = np.exp(-np.arange(3000) / 500.0).astype(np.float32)
    stems = torch.as_tensor(np.apply_along_axis(lambda h: np.convolve(h, decay, "same"), -1, hits)
                            * rng.standard_normal((2, 4, SR)).astype(np.float32) * 0.02)  # thresholds inside the range
    names = list(DRUM_SLOTS[:4])
    feats = [track_features(s.numpy(), names, SR) for s in stems]
    batch = {"stems": stems, "features": torch.as_tensor(np.stack([f for f, _ in feats])),
             "mask": torch.as_tensor(np.stack([m for _, m in feats])),
             "pans": torch.as_tensor(prior_pans(names))[None].expand(2, -1),
             "levels": torch.as_tensor(np.stack([track_levels(s.numpy(), SR) for s in stems]))}
    teacher = dynamic_net(ratio=5.0, relative_db=4.0)
    with torch.no_grad():
        values = teacher(batch["features"], batch["mask"], batch["pans"])
        batch["mix"] = batch_console(stems, values, batch["levels"], SR, attack_ms=5.0, release_ms=120.0)
    student = ConsoleMixerNet(DYNAMIC)
    student.load_state_dict({k: v for k, v in teacher.state_dict().items() if not k.startswith(("dynamics.", "master."))},
                            strict=False)
    for p in student.base_parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=0.1)
    losses = []
    for _ in range(40):
        v = student(batch["features"], batch["mask"], batch["pans"])
        loss = console_loss(v, batch, SR, (512, 2048), DYNAMIC)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0], losses
    ratio, threshold = v["comp_ratio"].detach(), v["comp_threshold_rel_db"].detach()
    assert bool(torch.all(ratio > MIN_RATIO)) and float(threshold.mean()) < 10.0, (ratio, threshold)


def test_cli_trains_compressors_on_the_shipped_mixer_and_refuses_a_waveform_init(corpus, tmp_path, capsys):
    """``automix train drums-console-dynamics`` starts from the shipped ``drums-console``; ``--init``
    with a Wave-U-Net is one error line, exit 1, and no run folder."""
    from automix.models.pretrained import load
    from tests.support import assert_one_error, cli

    common = ("--data", corpus, "--steps", "2", "--batch-size", "2", "--set", f'split="{corpus.parent / "split.json"}"',
              "--set", "segment_seconds=1.0", "--set", "validate_every=1", "--set", "valid_segments=2",
              "--set", 'target="dry"')
    code, out, _ = cli(capsys, "train", "drums-console-dynamics", "--out", tmp_path / "run", *common)
    assert code == 0 and "trained drums-console-dynamics" in out
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    assert card["config"]["dynamics"] is True and card["training"]["steps"] == 2
    shipped, trained = load("drums-console").net.state_dict(), load(tmp_path / "run" / "model.safetensors").net.state_dict()
    assert all(torch.equal(shipped[k], trained[k]) for k in shipped)  # gain, pan and EQ kept
    code, _, err = cli(capsys, "train", "drums-console-dynamics", "--out", tmp_path / "bad", "--init", "drums", *common)
    assert code == 1 and assert_one_error(err, "init drums", "not a console mixer")
    assert not (tmp_path / "bad").exists()
