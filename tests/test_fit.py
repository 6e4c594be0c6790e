"""Console fitting (automix.console.fit) on generated drum stems and synthetic takes."""

import time

import numpy as np
import pytest
import soundfile as sf
import torch

import daw_bridge
from automix.console.closed_form import FitError, fit_gain_pan, gain_pan_to_weights, weights_to_gain_pan
from automix.console.fit import FitResult, fit_console, snr_db
from automix.console.model import Console, ConsoleError
from daw_bridge.errors import AutomixError
from daw_bridge.render import render
from daw_bridge.panlaw import db_to_gain, pan_gains

SR = 22050
GAINS = [-3.0, 1.5, -8.0, -2.0, -6.0, 0.5]
PANS = [0.0, -0.3, 0.6, -0.7, 0.4, 0.2]
NAMES = ["kick", "snare", "hat", "tom", "ride", "clap"]


def drums(seconds=2.0, seed=0):
    """Six mono drum-like stems ``[6, samples]``: kick, snare, hat, tom, ride, clap patterns."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)

    def tt(m):
        return np.arange(m) / SR

    def hits(period, offset, sound):
        out = np.zeros(n)
        for start in np.arange(offset, seconds, period):
            i = int(start * SR)
            m = min(n - i, int(0.4 * SR))
            out[i : i + m] += sound(m) * (0.7 + 0.3 * rng.random())
        return out

    kick = hits(
        0.5, 0.0, lambda m: np.sin(2 * np.pi * (50 * tt(m) + 2 * (1 - np.exp(-tt(m) * 30)))) * np.exp(-tt(m) * 8)
    )
    snare = hits(
        0.5,
        0.25,
        lambda m: (0.6 * rng.standard_normal(m) + 0.5 * np.sin(2 * np.pi * 190 * tt(m))) * np.exp(-tt(m) * 18),
    )
    hat = hits(0.125, 0.0, lambda m: np.diff(rng.standard_normal(m + 1)) * np.exp(-tt(m) * 60) * 0.5)
    tom = hits(1.0, 0.625, lambda m: np.sin(2 * np.pi * 110 * tt(m)) * np.exp(-tt(m) * 6))
    ride = hits(0.25, 0.125, lambda m: (np.sin(2 * np.pi * 3100 * tt(m)) + np.sin(2 * np.pi * 4730 * tt(m))
                                        + 0.3 * rng.standard_normal(m)) * np.exp(-tt(m) * 5) * 0.2)  # fmt: skip
    clap = hits(
        1.0, 0.375, lambda m: np.convolve(rng.standard_normal(m), [1, -0.5], "same") * np.exp(-tt(m) * 25) * 0.4
    )
    return (np.stack([kick, snare, hat, tom, ride, clap]) * 0.3).astype(np.float32)


def reference_mix(stems):
    c = Console(len(stems), SR, eq=False, compressor=False, master_eq=False, master_compressor=False)
    c.set_values({"gain_db": GAINS, "pan": PANS})
    with torch.no_grad():
        return c(torch.from_numpy(stems)[None])[0].numpy()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    stems = drums()
    files = []
    for name, x in zip(NAMES, stems):
        sf.write(folder / f"{name}.wav", x, SR, subtype="FLOAT")
        files.append(folder / f"{name}.wav")
    sf.write(folder / "target.wav", reference_mix(stems).T, SR, subtype="FLOAT")
    result = fit_console(files, folder / "target.wav", groups=("gain", "pan"), steps=200, progress=False)
    return folder, stems, result


def test_fit_recovers_gains_and_pans(fitted):
    _, _, result = fitted
    assert isinstance(result, FitResult)
    assert [t.name for t in result.plan.tracks] == NAMES
    gains = np.array([t["gain_db"] for t in result.tracks])
    pans = np.array([t["pan"] for t in result.tracks])
    assert np.abs(gains - GAINS).max() < 0.5
    assert np.abs(pans - PANS).max() < 0.05
    # the plan carries the same values (to the 9 digits it is written with)
    np.testing.assert_allclose([t.gain_db for t in result.plan.tracks], gains, atol=1e-6)
    np.testing.assert_allclose([t.pan for t in result.plan.tracks], pans, atol=1e-6)
    assert result.history[result.best_step] == min(result.history)
    assert result.history[result.best_step] < 0.1 * result.history[0]


def test_fit_report_covers_both_renders(fitted):
    folder, _, result = fitted
    r = result.report
    assert r.snr_db > 30 and r.daw_snr_db > 30
    assert r.mrstft < 0.05 and r.daw_mrstft < 0.05
    assert r.console_vs_daw_snr_db > 100  # gain and pan only: the plan renders what the console did
    text = result.summary()
    assert "daw_bridge render" in text and "kick" in text
    # and rendering the plan ourselves gives the same
    daw = render(result.plan, None, normalize=False, tail_s=0, threads=1).audio
    target, _ = sf.read(folder / "target.wav", dtype="float32", always_2d=True)
    assert snr_db(daw, target.T) == pytest.approx(r.daw_snr_db, abs=1e-6)


def test_fitted_plan_round_trips_through_ardour(fitted, tmp_path):
    _, _, result = fitted
    written = daw_bridge.write_session(result.plan, tmp_path / "ardour", format="ardour")
    back = daw_bridge.open_session(written.path)
    by_name = {t.name: t for t in back.tracks}
    for track in result.plan.tracks:
        assert by_name[track.name].gain_db == pytest.approx(track.gain_db, abs=1e-3)
        assert by_name[track.name].pan == pytest.approx(track.pan, abs=1e-3)


def test_fit_from_arrays_and_errors():
    stems = drums(0.5, seed=1)[:3]
    c = Console(3, SR, eq=False, compressor=False, master_eq=False, master_compressor=False)
    c.set_values({"gain_db": [-2.0, 0.0, 3.0]})
    with torch.no_grad():
        target = c(torch.from_numpy(stems)[None])[0].numpy()
    result = fit_console(stems, target, SR, groups=("gain",), loss="spectral", steps=5, progress=False)
    assert result.steps == 5 and [str(t.file) for t in result.plan.tracks] == ["track1.wav", "track2.wav", "track3.wav"]
    assert result.report.daw_snr_db is not None  # rendered from temporary WAVs
    assert result.report.console_vs_daw_snr_db > 100
    with pytest.raises(ConsoleError, match="sample_rate"):
        fit_console(stems, target)
    with pytest.raises(ConsoleError, match="stereo"):
        fit_console(stems, target[0], SR)
    with pytest.raises(ConsoleError, match="groups"):
        fit_console(stems, target, SR, groups=("reverb",))


def test_early_stopping():
    stems = drums(0.3, seed=2)[:2]
    c = Console(2, SR, eq=False, compressor=False, master_eq=False, master_compressor=False)
    with torch.no_grad():
        target = c(torch.from_numpy(stems)[None])[0].numpy()  # the neutral console is already right
    result = fit_console(stems, target, SR, groups=("gain", "pan"), loss="spectral", steps=100, patience=3,
                         check_render=False, progress=False)  # fmt: skip
    assert result.stopped_early and result.steps < 100 and result.best_step == 0
    assert result.report.daw_snr_db is None
    assert abs(result.tracks[0]["gain_db"]) < 1e-9


# --------------------------------------------------------------------------- the closed form


def test_pan_law_is_inverted_exactly():
    rng = np.random.default_rng(3)
    gains, pans = rng.uniform(-40, 20, 50), rng.uniform(-1, 1, 50)
    pans[:2] = [-1.0, 1.0]
    w = gain_pan_to_weights(gains, pans)
    for (g, p), row in zip(zip(gains, pans), w):  # the renderer's law, to the last bits
        left, right = pan_gains(float(p))
        np.testing.assert_allclose(row, [db_to_gain(float(g)) * left, db_to_gain(float(g)) * right], rtol=1e-12, atol=1e-15)
    back_g, back_p = weights_to_gain_pan(w)
    np.testing.assert_allclose(back_g, gains, atol=1e-9)
    np.testing.assert_allclose(back_p, pans, atol=1e-12)
    assert back_p[0] == -1.0 and back_p[1] == 1.0


def test_closed_form_recovers_a_gain_pan_mix_exactly():
    stems = drums(1.5, seed=4)
    gains, pans = [-3.0, 1.5, -8.0, -2.0, -6.0, 0.5], [0.0, -1.0, 0.6, -0.7, 1.0, 0.2]
    c = Console(6, SR, eq=False, compressor=False, master_eq=False, master_compressor=False)
    c.set_values({"gain_db": gains, "pan": pans})
    with torch.no_grad():
        target = c(torch.from_numpy(stems)[None])[0].numpy()
    fit = fit_gain_pan(stems, target)
    assert np.abs(fit.gain_db - gains).max() < 0.05 and np.abs(fit.pan - pans).max() < 0.005
    assert fit.snr_db > 60 and snr_db(fit.mix, target) > 60
    # only the gain, at known pans: one non-negative scale per stem
    only_gain = fit_gain_pan(stems, target, pan=False, start=(np.zeros(6), np.array(pans)))
    assert np.abs(only_gain.gain_db - gains).max() < 0.05
    # a silent stem is left alone (a note says so); the others are still exact
    quiet = stems.copy()
    quiet[2] = 0.0
    fit = fit_gain_pan(quiet, target, names=NAMES)
    assert fit.silent == [2] and "'hat' is silent" in fit.notes[0] and fit.gain_db[2] == 0.0
    # a duplicated stem (collinear) splits its weight instead of blowing up
    twice = np.concatenate([stems, stems[:1]])
    fit = fit_gain_pan(twice, target)
    assert fit.snr_db > 60 and abs(fit.gain_db[0] - fit.gain_db[6]) < 1e-6


def test_silent_inputs_are_refused_with_one_line():
    stems = drums(0.5, seed=5)[:3]
    target = np.zeros((2, stems.shape[1]), dtype=np.float32)
    for bad_stems, bad_target, needle in [(stems, target, "silent"), (stems * 0, stems[:2], "all 3 stems are silent")]:
        with pytest.raises(FitError, match=needle) as info:
            fit_console(bad_stems, bad_target, SR, progress=False)
        assert issubclass(info.type, AutomixError) and "\n" not in str(info.value)
    with pytest.raises(FitError, match="nothing in common"):
        fit_gain_pan(stems, -np.stack([stems.sum(0)] * 2))  # polarity-inverted: no fader explains it


def test_cli_refuses_a_silent_target(tmp_path, capsys):
    from tests.support import assert_one_error, cli

    files = []
    for name, x in zip(NAMES[:2], drums(0.5, seed=6)[:2]):
        sf.write(tmp_path / f"{name}.wav", x, SR, subtype="FLOAT")
        files.append(tmp_path / f"{name}.wav")
    sf.write(tmp_path / "silent.wav", np.zeros((SR // 2, 2), dtype=np.float32), SR, subtype="FLOAT")
    rc, _, err = cli(capsys, "fit", *files, "--target", tmp_path / "silent.wav", "-o", tmp_path / "plan.json", "-q")
    assert rc == 1
    assert_one_error(err, "silent.wav is silent")
    assert not (tmp_path / "plan.json").exists()
    # a real target: the report names the closed form, and what a session leaves out of an EQ fit
    c = Console(2, SR, compressor=False, master_eq=False, master_compressor=False)
    c.set_values({"gain_db": [-3.0, 1.0], "pan": [0.4, -0.2], "peak1_gain_db": [4.0, 0.0]})
    with torch.no_grad():
        mix = c(torch.from_numpy(np.stack([sf.read(f, dtype="float32")[0] for f in files]))[None])[0].numpy()
    sf.write(tmp_path / "mix.wav", mix.T, SR, subtype="FLOAT")
    rc, out, err = cli(capsys, "fit", *files, "--target", tmp_path / "mix.wav", "-o", tmp_path / "plan.json",
                       "--fit", "gain,pan,eq", "--seconds", "20")  # fmt: skip
    assert rc == 0, err
    assert "closed-form gain/pan start" in out and "carry faders and pans only" in out
    assert daw_bridge.load_session(tmp_path / "plan.json").tracks[0].plugins  # the EQ is in the plan
    rc, out, err = cli(capsys, "fit", *files, "--target", tmp_path / "mix.wav", "-o", tmp_path / "ardour.json",
                       "--fit", "gain,pan,eq", "--seconds", "20", "--for-ardour")  # fmt: skip
    assert rc == 0, err
    shelves = [p.params["q"] for t in daw_bridge.load_session(tmp_path / "ardour.json").tracks for p in t.plugins
               if p.name.endswith("ShelfFilter")]
    assert shelves and shelves == pytest.approx([2**-0.5] * len(shelves), abs=1e-6)  # as ACE EQ holds them


# --------------------------------------------------------------------------- EQ and compressors


def noise_take(n_tracks=4, seconds=3.0, seed=0):
    """Broadband drum-like stems ``[n, samples]``: decaying noise bursts, a different rhythm each,
    so that every EQ band of every track is heard and the compressors have transients to act on."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = []
    for i in range(n_tracks):
        env = np.zeros(n)
        period = int(SR * (0.25 + 0.1 * i))
        for start in range(int(rng.integers(0, period)), n, period):
            m = min(n - start, int(0.3 * SR))
            env[start : start + m] += np.exp(-np.arange(m) / SR * (8 + 4 * i)) * (0.6 + 0.4 * rng.random())
        out.append(rng.standard_normal(n) * env * 0.2)
    return np.stack(out).astype(np.float32)


TAKE = {
    "gain_db": [-3.0, 1.5, -8.0, -2.0], "pan": [0.0, -0.3, 0.6, -0.7],
    "low_shelf_gain_db": [4.0, -3.0, 2.0, -5.0], "low_shelf_freq_hz": [150.0, 80.0, 120.0, 200.0],
    "peak1_gain_db": [-5.0, 3.0, -2.0, 4.0], "peak1_freq_hz": [700.0, 400.0, 900.0, 600.0], "peak1_q": [1.0, 0.8, 1.2, 0.7],
    "peak2_gain_db": [3.0, -4.0, 5.0, -2.0], "peak2_freq_hz": [2500.0, 4000.0, 3500.0, 2000.0], "peak2_q": [1.0, 0.8, 1.2, 0.9],
    "high_shelf_gain_db": [-4.0, 2.0, -3.0, 3.0], "high_shelf_freq_hz": [6000.0, 7000.0, 8000.0, 5000.0],
    "comp_threshold_db": [-20.0, 0.0, -25.0, 0.0], "comp_ratio": [4.0, 1.0, 3.0, 1.0],
    "comp_attack_ms": [5.0, 10.0, 2.0, 10.0], "comp_release_ms": [80.0, 100.0, 150.0, 100.0],
}  # fmt: skip
BANDS = ("low_shelf", "peak1", "peak2", "high_shelf")


@pytest.fixture(scope="module")
def eq_comp_fit():
    """A take mixed by the console with known gains, pans, EQ and two compressors, fitted from scratch."""
    stems = noise_take()
    c = Console(4, SR, master_eq=False, master_compressor=False)
    c.set_values(TAKE)
    with torch.no_grad():
        target = c(torch.from_numpy(stems)[None])[0].numpy()
    started = time.perf_counter()
    result = fit_console(stems, target, SR, groups=("gain", "pan", "eq", "comp"), progress=False)
    return stems, target, result, time.perf_counter() - started


def test_fit_recovers_eq_and_compressor_settings(eq_comp_fit):
    _, _, result, seconds = eq_comp_fit
    got = {k: np.array([t[k] for t in result.tracks]) for k in result.tracks[0]}
    level = got["gain_db"] + got["comp_makeup_db"]  # the fader and the makeup are one gain in series
    assert np.abs(level - TAKE["gain_db"]).max() < 0.5
    assert np.abs(got["pan"] - TAKE["pan"]).max() < 0.05
    for band in BANDS:
        assert np.abs(got[f"{band}_gain_db"] - TAKE[f"{band}_gain_db"]).max() < 1.5, band
    compressed = [0, 2]
    assert np.abs(got["comp_threshold_db"][compressed] - np.array(TAKE["comp_threshold_db"])[compressed]).max() < 3.0
    assert (got["comp_ratio"][compressed] > 2.0).all()
    assert [s.name for s in result.stages] == ["spectral fit", "compressor fit"]
    assert result.steps == sum(s.steps for s in result.stages) and seconds < 120


def test_fitted_plan_scores_at_least_as_well_as_the_least_squares_start(eq_comp_fit):
    stems, target, result, _ = eq_comp_fit
    r = result.report
    assert r.daw_snr_db >= r.start_snr_db and r.daw_mrstft <= r.start_mrstft
    assert r.daw_snr_db > 25 and r.start_snr_db < 15  # the EQ and compressors bought it
    assert r.console_vs_daw_snr_db > 60  # the plan renders what the console did
    # the start is the closed form over the whole take, and the report's own figures are reproducible
    assert result.start.snr_db == pytest.approx(fit_gain_pan(stems, target).snr_db, abs=1e-6)
    assert snr_db(result.start.mix, target) == pytest.approx(r.start_snr_db, abs=1e-6)
    text = result.summary()
    assert "closed-form gain/pan start" in text and "compressor started" in text
    assert "carry faders and pans only" in text  # what the session formats leave out


def test_gain_pan_fit_says_nothing_about_sessions_and_budget_is_kept():
    stems = noise_take(3, 2.0, seed=7)
    c = Console(3, SR, compressor=False, master_eq=False, master_compressor=False)
    c.set_values({"gain_db": [-2.0, 0.0, -5.0], "pan": [0.3, -0.2, 0.0], "high_shelf_gain_db": [6.0, 0.0, -6.0]})
    with torch.no_grad():
        target = c(torch.from_numpy(stems)[None])[0].numpy()
    plain = fit_console(stems, target, SR, names=["a", "b", "c"], groups=("gain", "pan"), check_render=False, progress=False)
    assert not plain.stages and "sessions" not in plain.summary() and plain.best_step == 1
    assert [t.name for t in plain.plan.tracks] == ["a", "b", "c"]
    started = time.perf_counter()
    hurried = fit_console(stems, target, SR, groups=("gain", "pan", "eq"), seconds=1e-3, check_render=False,
                          progress=False)  # fmt: skip
    assert hurried.stages[0].stopped == "time budget" and hurried.stages[0].steps == 0
    assert time.perf_counter() - started < 30
    with pytest.raises(ConsoleError, match="loss"):
        fit_console(stems, target, SR, loss="mrstft", progress=False)
    with pytest.raises(TypeError, match="lr"):
        fit_console(stems, target, SR, lr=0.1, progress=False)
