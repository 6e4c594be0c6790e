"""The true-peak limiter (daw_bridge.limiter) and the output level stage (daw_bridge.level_stage).

Issue 19 (4): ``automix mix --loudness -14`` delivered -18.5 LUFS and ``automix render
--target-lufs -14`` -19.0 LUFS on the example stems, the true-peak ceiling stopping the gain;
a limiter stage, on when a level is asked, now reaches the target under the ceiling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from automix.cli import main
from daw_bridge.level_stage import MAX_LIMITING_DB, TOLERANCE_LU, leveled_blocks, plan_level
from daw_bridge.limiter import TruePeakLimiter, limit
from daw_bridge.loudness import TruePeakMeter, measure_loudness

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "stems"
SR = 44100


def true_peak(audio: np.ndarray, rate: int = SR) -> float:
    meter = TruePeakMeter(rate, audio.shape[0])
    meter.add(audio)
    return meter.true_peak_db()


def drums(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Stereo hits: decaying noise bursts and a low sine, peaky like a drum bus."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = np.exp(-30.0 * (t % 0.25))
    body = np.sin(2 * np.pi * 55.0 * t) * np.exp(-8.0 * (t % 0.5))
    left = 0.6 * env * rng.standard_normal(n) + 0.5 * body
    right = 0.6 * env * rng.standard_normal(n) + 0.4 * body
    return np.stack([left, right]).astype(np.float32)


def peaky(seconds: float = 3.0) -> np.ndarray:
    """A quiet tone with short loud clicks: the clicks hold the peak, the tone the loudness."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    tone = 0.05 * np.sin(2 * np.pi * 220.0 * t)
    clicks = 0.6 * np.exp(-2000.0 * (t % 0.2)) * np.sin(2 * np.pi * 3000.0 * t)
    return np.stack([tone + clicks, 0.9 * tone + clicks]).astype(np.float32)


def read(path: Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


# --------------------------------------------------------------------------- the limiter


def test_limiter_holds_the_true_peak_under_its_ceiling():
    x = drums() * np.float32(4.0)  # about +10 dBTP
    assert true_peak(x) > 6.0
    y, reduction = limit(x, SR, -1.0)
    assert y.shape == x.shape and np.isfinite(y).all()
    assert true_peak(y) <= -1.0 + 0.05 and np.abs(y).max() <= 10 ** (-1.0 / 20) * (1 + 1e-6)
    assert reduction > 6.0


def test_limiter_leaves_audio_under_its_ceiling_untouched():
    x = drums() * np.float32(0.2)
    assert true_peak(x) < -3.0
    y, reduction = limit(x, SR, -1.0)
    np.testing.assert_array_equal(y, x)
    assert reduction == 0.0


def test_limiter_output_does_not_depend_on_block_sizes():
    x = drums(seed=1) * np.float32(3.0)
    whole, _ = limit(x, SR, -1.0)
    limiter = TruePeakLimiter(SR, 2, -1.0)
    parts = [limiter.process(x[:, i : i + 777]) for i in range(0, x.shape[1], 777)] + [limiter.flush()]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-6)


def test_limiter_catches_a_peak_on_the_first_frame():
    x = np.zeros((2, 4000), np.float32)
    x[:, 0] = 3.0
    x[:, 2000] = 3.0
    y, _ = limit(x, SR, -1.0)
    assert np.abs(y).max() <= 10 ** (-1.0 / 20) + 1e-6


# --------------------------------------------------------------------------- the level stage


def _plan(x: np.ndarray, target: float, limiter: bool):
    def source():
        return (x[:, i : i + 32768] for i in range(0, x.shape[1], 32768))

    level = plan_level(source, SR, 2, lufs=measure_loudness(x, SR), true_peak_db=true_peak(x), target=target,
                       ceiling=-1.0, limiter=limiter)
    out = np.concatenate(list(leveled_blocks(source(), SR, 2, level)), axis=1)
    return level, out


def test_level_stage_reaches_the_target_under_the_ceiling():
    x = peaky()
    level, out = _plan(x, -16.0, limiter=True)
    assert out.shape == x.shape
    assert abs(measure_loudness(out, SR) - (-16.0)) <= TOLERANCE_LU
    assert true_peak(out) <= -1.0
    assert level.limiting_db > 0 and level.notes == []
    assert level.loudness_lufs == pytest.approx(measure_loudness(out, SR), abs=1e-6)  # what it says is delivered


def test_level_stage_without_the_limiter_stops_at_the_ceiling_and_says_so():
    x = peaky()
    level, out = _plan(x, -16.0, limiter=False)
    assert true_peak(out) <= -1.0 and measure_loudness(out, SR) < -20.0
    (note,) = level.notes
    assert "missed by" in note and "--limiter" in note and "\n" not in note


def test_level_stage_takes_at_most_its_limit_off_the_peaks():
    x = peaky()
    level, out = _plan(x, -2.0, limiter=True)  # would need far more than MAX_LIMITING_DB
    assert true_peak(out) <= -1.0 and level.limiting_db <= MAX_LIMITING_DB + 0.5
    assert any("missed by" in n and f"at most {MAX_LIMITING_DB:g} dB" in n for n in level.notes)


def test_level_stage_plain_gain_when_the_target_fits():
    x = drums(seed=4) * np.float32(0.05)
    level, out = _plan(x, -30.0, limiter=True)
    assert level.limiter_ceiling_db is None and level.limiting_db == 0.0
    np.testing.assert_allclose(out, x * np.float32(10 ** (level.gain_db / 20)), atol=1e-7)


# --------------------------------------------------------------------------- the two cases of issue 19


def test_mix_loudness_minus_14_reaches_minus_14_under_the_ceiling(tmp_path, capsys):
    """Issue 19 (4): ``automix mix examples/stems --loudness -14`` gave -18.5 LUFS."""
    out = tmp_path / "mix.wav"
    assert main(["mix", str(EXAMPLE), "-o", str(out), "--loudness", "-14", "--precision", "fp32"]) == 0
    printed = capsys.readouterr()
    audio = read(out)
    lufs, peak = measure_loudness(audio, SR), true_peak(audio)
    print(f"\nmix --loudness -14: {lufs:.2f} LUFS, true peak {peak:.2f} dBTP; {printed.out.strip()}")
    assert abs(lufs - (-14.0)) <= 0.1 and peak <= -1.0 + 0.01
    assert "-14.0 LUFS" in printed.out and "limiter up to" in printed.out and "missed" not in printed.err
    # the default level (auto) is not pushed into the limiter
    assert main(["mix", str(EXAMPLE), "-o", str(tmp_path / "auto.wav"), "--precision", "fp32", "-q"]) == 0
    assert measure_loudness(read(tmp_path / "auto.wav"), SR) == pytest.approx(-23.0, abs=0.05)
    # --no-limiter: one gain, stopped by the ceiling, with a warning
    assert main(["mix", str(EXAMPLE), "-o", str(tmp_path / "one.wav"), "--loudness", "-14", "--no-limiter",
                 "--precision", "fp32"]) == 0
    err = capsys.readouterr().err
    assert "missed by" in err and measure_loudness(read(tmp_path / "one.wav"), SR) < -17.0


def test_render_target_lufs_minus_14_reaches_minus_14_under_the_ceiling(tmp_path, capsys):
    """Issue 19 (4): ``automix render examples/stems --presets --target-lufs -14`` gave -19.0 LUFS."""
    out = tmp_path / "mix.wav"
    assert main(["render", str(EXAMPLE), "-o", str(out), "--presets", "--target-lufs", "-14"]) == 0
    printed = capsys.readouterr()
    audio = read(out)
    lufs, peak = measure_loudness(audio, SR), true_peak(audio)
    print(f"\nrender --target-lufs -14: {lufs:.2f} LUFS, true peak {peak:.2f} dBTP; {printed.out.strip()}")
    assert abs(lufs - (-14.0)) <= 0.1 and peak <= -1.0 + 0.01
    assert "limiter up to" in printed.out and printed.err == ""


def test_render_advice_names_no_limiter_the_chain_already_has(tmp_path, capsys):
    """Issue 19 (4): "put a Limiter in the master chain" appeared although the preset chain has one."""
    assert main(["render", str(EXAMPLE), "-o", str(tmp_path / "a.wav"), "--presets", "--target-lufs", "-14",
                 "--no-limiter"]) == 0
    err = capsys.readouterr().err
    assert "missed by" in err and "--limiter" in err and "put a Limiter" not in err  # master-clean has a Limiter
    assert main(["render", str(EXAMPLE), "-o", str(tmp_path / "b.wav"), "--target-lufs", "-14", "--no-limiter"]) == 0
    err = capsys.readouterr().err
    assert "missed by" in err and "put a Limiter in the master chain" in err  # no master chain: the advice holds
