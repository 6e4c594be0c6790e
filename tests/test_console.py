"""The differentiable console (automix.console.model) against daw_bridge.render / pedalboard."""

import math

import numpy as np
import pedalboard
import pytest
import soundfile as sf
import torch

import automix.console.dsp as dsp_mod
import automix.console.model as console_mod
from automix.console.model import (
    KNEE_EPS_DB,
    MASTER_PARAMETERS,
    PARAMETER_RANGES,
    TRACK_PARAMETERS,
    Console,
    ConsoleError,
    biquad_coefficients,
    envelope,
)
from automix.console.plans import console_to_plan, plan_to_console
from daw_bridge.render import render
from daw_bridge.session import PluginSpec, Session, Track
from daw_bridge.panlaw import db_to_gain, pan_gains

SR = 44100


def stems(n_tracks=3, seconds=0.5, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    shape = np.concatenate([np.linspace(0.05, 1.0, n // 2), np.linspace(1.0, 0.02, n - n // 2)])
    return (rng.standard_normal((n_tracks, n)) * 0.25 * shape).astype(np.float32)


def write_stems(tmp_path, audio):
    files = []
    for i, x in enumerate(audio):
        path = tmp_path / f"s{i}.wav"
        sf.write(path, x, SR, subtype="FLOAT")
        files.append(path)
    return files


def snr_db(est, ref):
    return 10 * math.log10(np.sum(ref.astype(np.float64) ** 2) / np.sum((est.astype(np.float64) - ref) ** 2))


def render_plan(plan):
    return render(plan, None, normalize=False, tail_s=0, threads=1).audio


def console_mix(console, audio):
    with torch.no_grad():
        return console(torch.from_numpy(audio)[None])[0].numpy()


EQ_SETTINGS = {
    "low_shelf_gain_db": [6.0, -4.0, 0.0], "low_shelf_freq_hz": [100.0, 200.0, 80.0], "low_shelf_q": [0.7, 1.0, 2.0],
    "peak1_gain_db": [-6.0, 3.0, 9.0], "peak1_freq_hz": [400.0, 1000.0, 60.0], "peak1_q": [1.0, 4.0, 0.5],
    "peak2_gain_db": [4.0, -12.0, 2.0], "peak2_freq_hz": [3000.0, 6000.0, 12000.0], "peak2_q": [2.0, 0.7, 8.0],
    "high_shelf_gain_db": [-3.0, 6.0, -9.0], "high_shelf_freq_hz": [8000.0, 5000.0, 12000.0], "high_shelf_q": [0.7, 0.5, 1.5],
}  # fmt: skip
COMP_SETTINGS = {
    "comp_threshold_db": [-20.0, -30.0, -10.0], "comp_ratio": [4.0, 2.0, 10.0], "comp_attack_ms": [5.0, 1.0, 20.0],
    "comp_release_ms": [50.0, 200.0, 100.0], "comp_makeup_db": [3.0, 0.0, 6.0],
}  # fmt: skip


# --------------------------------------------------------------------------- ranges and mapping


def test_parameter_table_is_consistent():
    for name, r in PARAMETER_RANGES.items():
        assert r.minimum <= r.default <= r.maximum, name
        assert r.scale in ("lin", "log")
        if r.scale == "log":
            assert r.minimum > 0
    assert set(MASTER_PARAMETERS) < set(TRACK_PARAMETERS)
    assert {"gain_db", "pan"} <= set(TRACK_PARAMETERS) - set(MASTER_PARAMETERS)


def test_defaults_and_set_values_round_trip():
    c = Console(2, SR)
    for v in c.track_values():
        for k, x in v.items():
            assert x == pytest.approx(PARAMETER_RANGES[k].default, abs=1e-6)
    c.set_values({"gain_db": [-6.0, 3.5], "pan": [-0.3, 1.0], "comp_ratio": 4.0})
    v = c.track_values()
    assert v[0]["gain_db"] == pytest.approx(-6.0, abs=1e-9) and v[1]["gain_db"] == pytest.approx(3.5, abs=1e-9)
    assert v[0]["pan"] == pytest.approx(-0.3, abs=1e-9) and v[1]["pan"] == pytest.approx(1.0, abs=1e-6)
    assert v[1]["comp_ratio"] == pytest.approx(4.0, rel=1e-9)
    with pytest.raises(ConsoleError, match="outside"):
        c.set_values({"pan": 1.5})
    with pytest.raises(ConsoleError, match="no parameter"):
        c.set_values({"width": 1.0})


def test_shapes_and_errors():
    c = Console(3, SR)
    x = torch.from_numpy(stems(3, 0.1))
    assert c(x[None]).shape == (1, 2, x.shape[1])
    assert c(torch.stack([x, x, x, x])).shape == (4, 2, x.shape[1])
    with pytest.raises(ConsoleError, match="3 tracks"):
        c(x[None, :2])
    with pytest.raises(ConsoleError):
        Console(0, SR)


# --------------------------------------------------------------------------- gain and pan


def test_gain_and_pan_match_daw_bridge_exactly(tmp_path):
    audio = stems(3)
    c = Console(3, SR)
    c.set_values({"gain_db": [-6.0, 2.5, -12.0], "pan": [-1.0, 0.0, 0.6]})
    gains = c.pan_gains().detach().numpy()
    for i, (g, p) in enumerate([(-6.0, -1.0), (2.5, 0.0), (-12.0, 0.6)]):
        left, right = pan_gains(p)
        np.testing.assert_allclose(gains[i], [db_to_gain(g) * left, db_to_gain(g) * right], atol=1e-9)
    plan = console_to_plan(c, write_stems(tmp_path, audio))
    assert all(not t.plugins for t in plan.tracks) and not plan.master  # neutral stages are left out
    assert [t.gain_db for t in plan.tracks] == [-6.0, 2.5, -12.0]
    assert [t.pan for t in plan.tracks] == [-1.0, 0.0, 0.6]
    np.testing.assert_allclose(console_mix(c, audio), render_plan(plan), atol=1e-6, rtol=0)


def test_dasp_panner_is_a_different_law():
    """Why the console pans itself: dasp's stereo_panner is not daw_bridge's constant-power law."""
    from dasp_pytorch.functional import stereo_panner

    y = stereo_panner(torch.ones(1, 1, 4), SR, torch.tensor([[0.5]]))  # its centre
    assert abs(float(y[0, 0, 0, 0]) - pan_gains(0.0)[0]) > 0.05


# --------------------------------------------------------------------------- EQ


def pedalboard_eq(v):
    return pedalboard.Pedalboard(
        [
            pedalboard.LowShelfFilter(cutoff_frequency_hz=v["low_shelf_freq_hz"], gain_db=v["low_shelf_gain_db"], q=v["low_shelf_q"]),
            pedalboard.PeakFilter(cutoff_frequency_hz=v["peak1_freq_hz"], gain_db=v["peak1_gain_db"], q=v["peak1_q"]),
            pedalboard.PeakFilter(cutoff_frequency_hz=v["peak2_freq_hz"], gain_db=v["peak2_gain_db"], q=v["peak2_q"]),
            pedalboard.HighShelfFilter(cutoff_frequency_hz=v["high_shelf_freq_hz"], gain_db=v["high_shelf_gain_db"], q=v["high_shelf_q"]),
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    "kind, cls",
    [
        ("low_shelf", pedalboard.LowShelfFilter),
        ("peak", pedalboard.PeakFilter),
        ("high_shelf", pedalboard.HighShelfFilter),
    ],
)
@pytest.mark.parametrize("gain_db, freq, q", [(6.0, 100.0, 0.707), (-12.0, 1000.0, 4.0), (9.0, 8000.0, 0.5)])
def test_biquads_match_pedalboard_magnitude_response(kind, cls, gain_db, freq, q):
    """JUCE's coefficient formulas are RBJ's: responses agree within 0.02 dB.

    Measured: < 1e-5 dB above a few hundred Hz; up to 0.008 dB near DC for the 100 Hz filters
    (JUCE keeps the coefficients in float32, whose rounding shows where the poles near z = 1).
    """
    n = 1 << 15
    impulse = np.zeros((1, n), dtype=np.float32)
    impulse[0, 0] = 1.0
    h_pb = np.fft.rfft(cls(cutoff_frequency_hz=freq, gain_db=gain_db, q=q)(impulse, SR)[0].astype(np.float64))
    sos = biquad_coefficients(kind, torch.tensor(gain_db, dtype=torch.float64), torch.tensor(freq, dtype=torch.float64),
                              torch.tensor(q, dtype=torch.float64), SR).numpy()  # fmt: skip
    z = np.exp(-1j * np.pi * np.arange(n // 2 + 1) / (n // 2))
    h_ours = (sos[0] + sos[1] * z + sos[2] * z**2) / (1 + sos[4] * z + sos[5] * z**2)
    diff_db = np.abs(20 * np.log10(np.abs(h_ours)) - 20 * np.log10(np.abs(h_pb)))
    assert diff_db[1:].max() < 0.02


def test_eq_render_matches_daw_bridge(tmp_path):
    audio = stems(3)
    c = Console(3, SR, compressor=False, master_compressor=False)
    c.set_values(EQ_SETTINGS)
    c.set_values({"peak1_gain_db": 3.0, "peak1_freq_hz": 2000.0, "high_shelf_gain_db": -2.0}, "master")
    c.set_values({"gain_db": [-3.0, 0.0, 1.0], "pan": [-0.5, 0.2, 0.9]})
    plan = console_to_plan(c, write_stems(tmp_path, audio))
    assert [s.name for s in plan.tracks[0].plugins] == ["LowShelfFilter", "PeakFilter", "PeakFilter", "HighShelfFilter"]
    assert [s.name for s in plan.master] == ["PeakFilter", "HighShelfFilter"]
    ours, theirs = console_mix(c, audio), render_plan(plan)
    assert snr_db(ours, theirs) > 60  # measured ~74 dB: frequency sampling vs JUCE's float32 recursion


# --------------------------------------------------------------------------- compressor


def test_compressor_juce_mode_matches_pedalboard(tmp_path):
    """The JUCE ballistics in numpy match pedalboard's Compressor to float32 precision (measured > 100 dB)."""
    audio = stems(3) * 3
    c = Console(3, SR, eq=False, master_eq=False)
    c.set_values(COMP_SETTINGS)
    c.set_values(
        {"comp_threshold_db": -15.0, "comp_ratio": 3.0, "comp_attack_ms": 2.0, "comp_release_ms": 80.0}, "master"
    )
    plan = console_to_plan(c, write_stems(tmp_path, audio))
    assert [s.name for s in plan.tracks[0].plugins] == ["Compressor", "Gain"]
    assert [s.name for s in plan.tracks[1].plugins] == ["Compressor"]  # 0 dB makeup left out
    ours, theirs = console_mix(c, audio), render_plan(plan)
    assert snr_db(ours, theirs) > 80
    dry = Console(3, SR, compressor=False, master_compressor=False)
    assert snr_db(console_mix(dry, audio), theirs) < 20  # the compressors did act


def test_compressor_dasp_mode_gap_is_measured(tmp_path):
    """dasp-pytorch's compressor (release ignored, instantaneous level) is only roughly pedalboard's."""
    audio = stems(3) * 3
    c = Console(3, SR, eq=False, master_eq=False, master_compressor=False, compressor_mode="dasp")
    c.set_values(COMP_SETTINGS)
    plan = console_to_plan(c, write_stems(tmp_path, audio))
    s = snr_db(console_mix(c, audio), render_plan(plan))
    assert 3 < s < 80  # measured ~10-20 dB: the same ballpark, not a match


def test_envelope_gradients_match_finite_differences():
    torch.manual_seed(0)
    x = (torch.randn(2, 1, 120, dtype=torch.float64) * torch.linspace(0.1, 1, 120)).requires_grad_(True)
    att = torch.tensor([2.0, 0.5], dtype=torch.float64, requires_grad=True)
    rel = torch.tensor([20.0, 5.0], dtype=torch.float64, requires_grad=True)
    sr = 8000
    assert torch.autograd.gradcheck(lambda a, b, c: envelope(a, b, c, sr), (x, att, rel), eps=1e-6, atol=1e-5)


def test_knee_zero_gradients_are_finite_in_both_modes():
    x = torch.from_numpy(stems(2, 0.05))[None] * 4
    for mode in ("juce", "dasp"):
        c = Console(2, SR, eq=False, master_eq=False, master_compressor=False, compressor_mode=mode)
        c.set_values({"comp_threshold_db": -20.0, "comp_ratio": 4.0, "comp_knee_db": 0.0})
        c.set_trainable(["comp", "gain"])
        c(x).pow(2).mean().backward()
        for p in c.parameters():
            if p.grad is not None:
                assert torch.isfinite(p.grad).all(), mode
        assert c.track["comp_threshold_db"].grad.abs().sum() > 0


def test_dasp_knee_zero_gives_nan_gradients_unwrapped():
    """The gap the console wraps (clamping the knee to KNEE_EPS_DB): dasp's raw compressor at knee 0."""
    from dasp_pytorch.functional import compressor

    x = torch.from_numpy(stems(1, 0.05))[None] * 4
    thr = torch.tensor([-20.0], requires_grad=True)
    y = compressor(x, SR, thr, torch.tensor([4.0]), torch.tensor([5.0]), torch.tensor([50.0]),
                   torch.tensor([0.0]), torch.tensor([0.0]))  # fmt: skip
    y.pow(2).mean().backward()
    assert not torch.isfinite(thr.grad).all()
    assert KNEE_EPS_DB > 0


def test_dasp_compressor_ignores_release():
    from dasp_pytorch.functional import compressor

    x = torch.from_numpy(stems(1, 0.1))[None] * 4
    args = (torch.tensor([-20.0]), torch.tensor([4.0]), torch.tensor([5.0]))
    a = compressor(x, SR, *args, torch.tensor([10.0]), torch.tensor([1.0]), torch.tensor([0.0]))
    b = compressor(x, SR, *args, torch.tensor([1000.0]), torch.tensor([1.0]), torch.tensor([0.0]))
    assert torch.equal(a, b)


def test_knee_is_noted_in_the_plan(tmp_path):
    c = Console(1, SR)
    c.set_values({"comp_ratio": 4.0, "comp_knee_db": 6.0})
    plan = console_to_plan(c, write_stems(tmp_path, stems(1, 0.05)))
    assert any("knee" in n for n in plan.notes)


# --------------------------------------------------------------------------- batching, gradients


def test_batching_equals_one_by_one():
    c = Console(3, SR)
    c.set_values({**EQ_SETTINGS, **COMP_SETTINGS, "gain_db": [-3.0, 0.0, 2.0], "pan": [-0.4, 0.1, 0.8]})
    c.set_values({"comp_ratio": 2.0, "comp_threshold_db": -10.0, "peak1_gain_db": 2.0}, "master")
    a, b = torch.from_numpy(stems(3, 0.2, seed=1)) * 2, torch.from_numpy(stems(3, 0.2, seed=2))
    with torch.no_grad():
        both = c(torch.stack([a, b]))
        one, two = c(a[None]), c(b[None])
    torch.testing.assert_close(both[0], one[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(both[1], two[0], atol=1e-6, rtol=0)


def test_gradients_reach_every_trainable_group():
    c = Console(2, SR).set_trainable(["gain", "pan", "eq", "comp", "master_eq", "master_comp"])
    c.set_values({"comp_ratio": 2.0, "comp_threshold_db": -30.0, "low_shelf_gain_db": 1.0})
    c(torch.from_numpy(stems(2, 0.05))[None]).abs().mean().backward()
    for name, p in c.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert c.track["gain_db"].grad.abs().sum() > 0 and c.track["peak1_gain_db"].grad.abs().sum() > 0


# --------------------------------------------------------------------------- plans


def test_plan_round_trip(tmp_path):
    c = Console(3, SR, names=["kick", "snare", "hat"])
    c.set_values({**EQ_SETTINGS, **COMP_SETTINGS, "gain_db": [-3.0, 0.0, 2.0], "pan": [-0.4, 0.1, 0.8]})
    c.set_values({"comp_ratio": 2.0, "comp_threshold_db": -10.0, "comp_makeup_db": 1.0}, "master")
    plan = console_to_plan(c, write_stems(tmp_path, stems(3, 0.05)), name="fit", skip_neutral=False)
    assert [t.name for t in plan.tracks] == ["kick", "snare", "hat"]
    path = plan.save(tmp_path / "plan.json")
    back = plan_to_console(Session.load(path))
    for a, b in zip(c.track_values(), back.track_values()):
        for k in a:
            if k != "comp_knee_db":
                assert b[k] == pytest.approx(a[k], rel=1e-7, abs=1e-7), k
    assert back.master_values()["comp_ratio"] == pytest.approx(2.0)


def test_plan_to_console_refuses_other_plugins(tmp_path):
    files = write_stems(tmp_path, stems(1, 0.05))
    plan = Session(
        sample_rate=SR, tracks=[Track(name="a", file=files[0], plugins=[PluginSpec(kind="builtin", name="Reverb")])]
    )
    with pytest.raises(ConsoleError, match="not one of"):
        plan_to_console(plan)
    comp_first = [PluginSpec(kind="builtin", name="Compressor"), PluginSpec(kind="builtin", name="PeakFilter")]
    with pytest.raises(ConsoleError, match="order"):
        plan_to_console(Session(sample_rate=SR, tracks=[Track(name="a", file=files[0], plugins=comp_first)]))
    with pytest.raises(ConsoleError, match="offset"):
        plan_to_console(Session(sample_rate=SR, tracks=[Track(name="a", file=files[0], offset_s=1.0)]))


def test_ranges_are_declared_once_and_fit_inside_the_plan():
    """One table (daw_bridge.ranges) for the console and the plan; console values are valid plan values."""
    from daw_bridge import ranges
    from daw_bridge.plugins import check_plugins
    from daw_bridge.session import Session, Track

    assert console_mod.PARAMETER_RANGES is ranges.CONSOLE_RANGES
    assert set(ranges.PLAN_PLACES) == set(ranges.CONSOLE_RANGES)
    assert ranges.check_console_ranges(44100.0) == []
    assert ranges.check_console_ranges(22050.0) == ["peak1_freq_hz: [20.0, 20000.0] is not inside PeakFilter.cutoff_frequency_hz's [0.001, 11025.0]",
                                                  "peak2_freq_hz: [20.0, 20000.0] is not inside PeakFilter.cutoff_frequency_hz's [0.001, 11025.0]",
                                                  "high_shelf_freq_hz: [500.0, 20000.0] is not inside HighShelfFilter.cutoff_frequency_hz's [0.001, 11025.0]"]
    # the plan's track fields are bounded by the same table
    meta = {m.__class__.__name__: m for m in Track.model_fields["gain_db"].metadata}
    assert (meta["Ge"].ge, meta["Le"].le) == (ranges.FADER_DB.minimum, ranges.FADER_DB.maximum)
    meta = {m.__class__.__name__: m for m in Track.model_fields["pan"].metadata}
    assert (meta["Ge"].ge, meta["Le"].le) == (ranges.PAN.minimum, ranges.PAN.maximum)
    # every console parameter at both ends of its range becomes a valid plan that loads its plugins
    for end in ("minimum", "maximum"):
        c = Console(2, 44100)
        values = {k: [getattr(r, end)] * 2 for k, r in ranges.CONSOLE_RANGES.items()}
        c.set_values(values, "track")
        c.set_values({k: v[0] for k, v in values.items() if k in console_mod.MASTER_PARAMETERS}, "master")
        plan = console_to_plan(c, ["a.wav", "b.wav"], skip_neutral=False)
        Session.model_validate(plan.model_dump())
        assert check_plugins(plan) == []
        for track in plan.tracks:
            assert track.gain_db == pytest.approx(getattr(ranges.CONSOLE_RANGES["gain_db"], end), abs=1e-6)


# --------------------------------------------------------------------------- long renders


def test_chunked_ballistics_equal_the_sequential_loop():
    """Time chunks side by side, each warmed up from silence, give the one-loop envelope and its gradient."""
    rng = np.random.default_rng(7)
    n = 3 * SR
    x = np.abs(rng.standard_normal((4, n)) * np.repeat(rng.random((4, n // 2000 + 1)), 2000, axis=1)[:, :n])
    coeff = lambda ms: np.exp(-2 * math.pi * 1000 / (np.asarray(ms) * SR))
    ca, cr = coeff([0.5, 2.0, 10.0, 30.0]), coeff([20.0, 50.0, 80.0, 10.0])
    assert dsp_mod._warm_up(float(cr.max())) * 4 < n  # chunked indeed
    sequential = np.empty((n, 4))
    dsp_mod._ballistics_loop(np.ascontiguousarray(x.T), ca, cr, sequential)
    chunked = dsp_mod.peak_ballistics(x, ca, cr)
    assert np.abs(chunked - sequential.T).max() <= 1e-9 * x.max()
    g = rng.standard_normal((4, n))
    fast = dsp_mod.peak_ballistics_adjoint(x, chunked, g, ca, cr)
    lanes = dsp_mod._OVERHEAD_VALUES
    try:
        dsp_mod._OVERHEAD_VALUES = 0  # one chunk: the plain loop
        slow = dsp_mod.peak_ballistics_adjoint(x, chunked, g, ca, cr)
    finally:
        dsp_mod._OVERHEAD_VALUES = lanes
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9 * np.abs(b).max())


def test_eq_response_is_pedalboards_including_the_phase():
    v = {k: torch.tensor([vals[1]], dtype=torch.float64) for k, vals in EQ_SETTINGS.items()}
    n = 1 << 15
    freqs = torch.arange(n // 2 + 1, dtype=torch.float64) * SR / n
    ours = console_mod.eq_response(v, freqs, SR)[0].numpy()
    impulse = np.zeros((1, n), dtype=np.float32)
    impulse[0, 0] = 1.0
    theirs = np.fft.rfft(pedalboard_eq({k: float(t) for k, t in v.items()})(impulse, SR)[0].astype(np.float64))
    assert np.abs(ours[1:] - theirs[1:]).max() < 5e-3 * np.abs(theirs).max()


def test_long_renders_match_daw_bridge(tmp_path):
    """Past 65536 samples the EQ runs block by block (overlap-save) and the compressors' envelopes
    as time chunks; idle compressors are skipped: the render still is pedalboard's."""
    audio = stems(3, 2.0)
    assert audio.shape[1] > dsp_mod.OLS_FFT // 2
    c = Console(3, SR, master_eq=False)
    c.set_values(EQ_SETTINGS)
    c.set_values({"comp_threshold_db": [-20.0, 0.0, -10.0], "comp_ratio": [4.0, 1.0, 10.0], "comp_release_ms": [50.0, 100.0, 20.0]})
    c.set_values({"comp_threshold_db": -15.0, "comp_ratio": 3.0}, "master")
    plan = console_to_plan(c, write_stems(tmp_path, audio))
    ours, theirs = console_mix(c, audio), render_plan(plan)
    assert snr_db(ours, theirs) > 60
    c.set_trainable(["comp"])  # with gradients every compressor runs, idle or not: the same mix
    with_grad = c(torch.from_numpy(audio)[None])[0].detach().numpy()
    np.testing.assert_allclose(with_grad, ours, atol=1e-6)
