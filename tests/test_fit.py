"""Console fitting (automix.console.fit) on generated drum stems."""

import numpy as np
import pytest
import soundfile as sf
import torch

import daw_bridge
from automix.console.model import Console, ConsoleError
from automix.console.fit import FitResult, fit_console, snr_db
from daw_bridge.render import render

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
    result = fit_console(files, folder / "target.wav", groups=("gain", "pan"), steps=200, lr=0.05, progress=False)
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
    result = fit_console(stems, target, SR, groups=("gain",), loss="l1+mrstft", steps=5, progress=False)
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
    result = fit_console(stems, target, SR, groups=("gain", "pan"), loss="l1", steps=100, lr=0.01, patience=3,
                         check_render=False, progress=False)  # fmt: skip
    assert result.stopped_early and result.steps < 100 and result.best_step == 0
    assert result.report.daw_snr_db is None
    assert abs(result.tracks[0]["gain_db"]) < 1e-9
