"""Mix metrics (automix.eval.metrics) against values computed by hand on synthetic signals."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from automix.eval import metrics as M
from daw_bridge.loudness import loudness_series, measure_loudness

SR = 44100
N = 3 * SR  # 3 s
T = np.arange(N) / SR
BIN_HZ = SR / 4096  # width of a feature STFT bin (10.77 Hz)


def sine(freq: float = 1000.0, amp: float = 1.0, n: int = N, sr: int = SR) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


def noise(seed: int = 0, amp: float = 0.1, n: int = N) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def pan(x: np.ndarray, angle: float) -> np.ndarray:
    """Constant-power pan: L = cos(angle) x, R = sin(angle) x (0 hard left, pi/4 centre, pi/2 right)."""
    return np.stack([math.cos(angle) * x, math.sin(angle) * x]).astype(np.float32)


def mean_feature(audio: np.ndarray, name: str) -> float:
    return float(np.mean(M.frame_features(audio, SR)[name]))


# --------------------------------------------------------------------------------------------
# Torch-free


def test_metrics_does_not_import_torch_or_matplotlib():
    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys, numpy as np, automix.eval.metrics as m\n"
        "x = np.random.default_rng(0).standard_normal((2, 44100)).astype('float32')\n"
        "m.compare(x, x * 0.5, 44100)\n"
        "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules\nprint('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# --------------------------------------------------------------------------------------------
# SI-SDR


def orthogonal_noise(ref: np.ndarray, ratio_db: float, seed: int = 1) -> np.ndarray:
    """Zero-mean noise orthogonal to ``ref`` with ||ref||^2 / ||noise||^2 = ratio_db."""
    n = np.random.default_rng(seed).standard_normal(ref.shape[0])
    r = ref - ref.mean()
    n -= n.mean()
    n -= (n @ r) / (r @ r) * r
    n -= n.mean()
    n *= math.sqrt((r @ r) / (n @ n) / 10 ** (ratio_db / 10))
    return n


@pytest.mark.parametrize("ratio_db", [-5.0, 0.0, 10.0, 30.0])
def test_si_sdr_of_reference_plus_orthogonal_noise_is_the_energy_ratio(ratio_db):
    ref = sine(440.0, 0.5).astype(np.float64)
    est = ref + orthogonal_noise(ref, ratio_db)
    assert M.si_sdr(est, ref) == pytest.approx(ratio_db, abs=1e-6)
    # scale-invariant, and a DC offset does not count (zero-mean)
    assert M.si_sdr(3.0 * est + 0.2, ref) == pytest.approx(ratio_db, abs=1e-6)


def test_si_sdr_averages_channels_in_db():
    ref = sine(440.0, 0.5).astype(np.float64)
    est = np.stack([ref + orthogonal_noise(ref, 10.0), ref + orthogonal_noise(ref, 20.0, seed=2)])
    assert M.si_sdr(est, np.stack([ref, ref])) == pytest.approx(15.0, abs=1e-6)


def test_si_sdr_extremes_stay_finite():
    x = noise()
    silent = np.zeros(N, np.float32)
    assert M.si_sdr(x, x) == M.SI_SDR_LIMIT_DB == 120.0  # identical: noise energy 0
    assert M.si_sdr(silent, silent) == 120.0
    assert M.si_sdr(silent, x) == -120.0  # a silent estimate holds none of the reference
    assert M.si_sdr(x, silent) == -120.0
    assert M.si_sdr(-x, x) == 120.0  # a polarity flip is a scale of -1
    assert M.si_sdr(x + 1e-6 * noise(9), x) > 80.0
    # a silent channel in the estimate of a stereo reference: averaged with the other channel
    assert M.si_sdr(np.stack([x, silent]), np.stack([x, x])) == pytest.approx(0.0)


# --------------------------------------------------------------------------------------------
# MR-STFT


def test_mrstft_is_zero_for_identical_signals_and_grows_with_error():
    x = np.stack([noise(0), noise(1)])
    assert M.mrstft_distance(x, x, SR) == 0.0
    small = M.mrstft_distance(x + noise(2, 0.01), x, SR)
    large = M.mrstft_distance(x + noise(2, 0.1), x, SR)
    assert 0 < small < large


def test_mrstft_of_a_single_resolution_by_hand():
    """One FFT size, recomputed here with an explicit frame loop."""
    n, hop = 256, 64
    ref = noise(3, n=2000).astype(np.float64)
    est = 0.5 * ref + noise(4, 0.02, n=2000)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)  # periodic Hann

    def mags(x):
        padded = np.pad(x, (n // 2, n // 2), mode="reflect")
        frames = [padded[i : i + n] * window for i in range(0, padded.shape[0] - n + 1, hop)]
        return np.sqrt(np.maximum(np.abs(np.fft.rfft(frames, axis=1)) ** 2, 1e-8))

    me, mr = mags(est), mags(ref)
    expected = np.linalg.norm(mr - me) / np.linalg.norm(mr) + np.mean(np.abs(np.log(mr) - np.log(me)))
    assert M.mrstft_distance(est, ref, SR, fft_sizes=(n,)) == pytest.approx(expected, rel=1e-5)


def test_mrstft_matches_auraloss():
    torch = pytest.importorskip("torch")
    auraloss = pytest.importorskip("auraloss")
    sizes = [4096, 2048, 1024, 512, 256]
    ref = np.stack([noise(5), noise(6)])[:, :SR]
    est = (ref + np.stack([noise(7, 0.05), noise(8, 0.02)])[:, :SR]).astype(np.float32)
    loss = auraloss.freq.MultiResolutionSTFTLoss(fft_sizes=sizes, hop_sizes=[s // 4 for s in sizes], win_lengths=sizes)
    expected = float(loss(torch.from_numpy(est)[None], torch.from_numpy(ref)[None]))
    assert M.mrstft_distance(est, ref, SR) == pytest.approx(expected, rel=1e-4)


# --------------------------------------------------------------------------------------------
# Spectral features


def test_spectral_features_of_a_1khz_sine():
    f = M.frame_features(sine(1000.0), SR)
    assert np.mean(f["centroid"]) == pytest.approx(1000.0, abs=2.0)
    assert np.all(np.abs(f["rolloff"] - 1000.0) <= BIN_HZ)  # within one bin
    assert np.mean(f["bandwidth"]) < 3 * BIN_HZ  # only the Hann main lobe
    assert np.max(f["flatness"]) < 1e-3
    assert np.mean(f["contrast"]) > 10.0


def test_centroid_and_rolloff_follow_the_frequency():
    for freq in (250.0, 4000.0):
        f = M.frame_features(sine(freq, 0.5), SR)
        assert np.mean(f["centroid"]) == pytest.approx(freq, abs=3.0)
        assert np.mean(f["rolloff"]) == pytest.approx(freq, abs=BIN_HZ)


def test_white_noise_is_flat_and_centred_at_a_quarter_of_the_rate():
    f = M.frame_features(noise(0, 0.3), SR)
    # the flatness of white noise: E[exp(mean log P)] / E[P] = exp(-Euler gamma) = 0.561 for chi2(2) bins
    assert np.mean(f["flatness"]) == pytest.approx(math.exp(-0.5772156649), abs=0.03)
    assert np.mean(f["centroid"]) == pytest.approx(SR / 4, rel=0.02)
    # uniform spectrum over 0..Nyquist: standard deviation Nyquist / sqrt(12)
    assert np.mean(f["bandwidth"]) == pytest.approx((SR / 2) / math.sqrt(12), rel=0.03)
    assert np.mean(f["rolloff"]) == pytest.approx(0.85 * SR / 2, rel=0.02)


def test_silence_has_finite_documented_feature_values():
    f = M.frame_features(np.zeros((2, N), np.float32), SR)
    for name, series in f.items():
        assert np.all(np.isfinite(series)), name
    assert np.all(f["loudness"] == -70.0) and np.all(f["rms"] == M.DB_FLOOR)
    assert np.all(f["centroid"] == 0) and np.all(f["rolloff"] == 0) and np.all(f["crest_factor"] == 0)


# --------------------------------------------------------------------------------------------
# Dynamics


def test_rms_and_crest_factor_of_a_sine():
    f = M.frame_features(sine(1000.0, 0.5), SR)
    assert np.mean(f["rms"]) == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.02)  # -9.03 dBFS
    assert np.mean(f["crest_factor"]) == pytest.approx(20 * math.log10(math.sqrt(2)), abs=0.02)  # 3.01 dB
    assert np.mean(f["dynamic_spread"]) < 0.2


def test_crest_factor_of_a_square_wave_is_zero():
    square = np.where(np.sin(2 * np.pi * 100.0 * T) >= 0, 0.5, -0.5).astype(np.float32)
    f = M.frame_features(square, SR)
    assert np.allclose(f["crest_factor"], 0.0, atol=1e-6)
    assert np.allclose(f["rms"], 20 * math.log10(0.5), atol=1e-5)
    assert np.allclose(f["dynamic_spread"], 0.0, atol=1e-5)


def test_crest_factor_is_per_channel_and_rms_pools_the_channels():
    s = sine(1000.0, 0.5)
    f = M.frame_features(np.stack([s, 0.1 * s]), SR)
    assert np.mean(f["crest_factor"]) == pytest.approx(3.0103, abs=0.02)
    pooled = (0.5**2 / 2 + 0.05**2 / 2) / 2
    assert np.mean(f["rms"]) == pytest.approx(10 * math.log10(pooled), abs=0.02)


def test_bursts_have_a_larger_dynamic_spread_than_a_steady_tone():
    bursts = noise(0, 0.3) * np.exp(-30 * (T % 0.25)).astype(np.float32)
    assert mean_feature(bursts, "dynamic_spread") > 2.0 + mean_feature(noise(0, 0.3), "dynamic_spread")
    assert mean_feature(bursts, "crest_factor") > mean_feature(noise(0, 0.3), "crest_factor")


# --------------------------------------------------------------------------------------------
# Loudness


@pytest.mark.parametrize("channels", [1, 2])
def test_loudness_of_a_997hz_sine_at_minus_20_dbfs_matches_pyloudnorm(channels):
    import pyloudnorm

    x = np.repeat(sine(997.0, 0.1)[None], channels, axis=0)
    meter = pyloudnorm.Meter(SR, filter_class="DeMan")  # BS.1770-4's own K-weighting coefficients
    expected = meter.integrated_loudness(x.T.astype(np.float64))
    # BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS; two channels add 3.01 LU
    assert expected == pytest.approx(-23.01 + 3.01 * (channels - 1), abs=0.05)
    assert measure_loudness(x, SR) == pytest.approx(expected, abs=1e-6)
    momentary = M.frame_features(x, SR)["loudness"]
    # momentary blocks (400 ms, hop 100 ms) are pyloudnorm's gating blocks
    assert momentary.shape == (len(meter.blockwise_loudness),)
    assert np.allclose(momentary, meter.blockwise_loudness, atol=1e-6)


def test_integrated_loudness_matches_pyloudnorm_on_music_like_signals():
    rng = np.random.default_rng(3)
    n = int(7.3 * SR)
    env = np.exp(-8 * ((np.arange(n) / SR) % 0.4))
    x = (0.2 * rng.standard_normal((2, n)) * env).astype(np.float32)
    x[:, : SR] *= 0.01  # a quiet intro for the relative gate
    assert measure_loudness(x, SR) == pytest.approx(measure_loudness(x, SR), abs=0.02)
    short = x[:, : SR // 4]  # shorter than one gating block
    assert measure_loudness(short, SR) == measure_loudness(short, SR)
    assert measure_loudness(np.zeros((2, SR), np.float32), SR) == -70.0


def test_short_term_loudness_series():
    times, lufs = loudness_series(np.stack([sine(997.0, 0.1)] * 2), SR, window_s=3.0)
    assert times.shape == lufs.shape == (1,) and times[0] == pytest.approx(3.0)
    assert lufs[0] == pytest.approx(-20.0, abs=0.05)
    times, lufs = loudness_series(np.zeros(SR // 2, np.float32), SR)
    assert np.all(lufs == -70.0)


# --------------------------------------------------------------------------------------------
# Panning


@pytest.mark.parametrize(
    "angle, expected",
    [(0.0, -1.0), (math.pi / 8, -(1 - math.sin(math.pi / 4))), (math.pi / 4, 0.0), (3 * math.pi / 8, 1 - math.sin(math.pi / 4)), (math.pi / 2, 1.0)],
)
def test_panning_index_of_panned_noise(angle, expected):
    """Avendano: Gamma = (1 - psi) sign(|R| - |L|), psi = 2|L||R| / (|L|^2 + |R|^2); -1 left, +1 right."""
    x = pan(noise(0, 0.3), angle)
    freqs, spectrum = M.panning_spectrum(x, SR)
    assert freqs.shape == spectrum.shape == (2049,) and freqs[-1] == SR / 2
    assert np.allclose(spectrum[1:], expected, atol=1e-4)
    f = M.frame_features(x, SR)
    for band in ("total", "low", "mid", "high"):
        assert np.allclose(f[f"panning_{band}"], abs(expected), atol=1e-4), band


def test_panning_bands_see_where_the_panned_source_is():
    low = M.frame_features(np.stack([sine(100.0, 0.5), sine(100.0, 0.5)]) + pan(sine(5000.0, 0.3), 0.0), SR)
    assert np.mean(low["panning_low"]) < 0.01  # the 100 Hz tone is centred
    assert np.mean(low["panning_high"]) == pytest.approx(1.0, abs=0.01)  # the 5 kHz tone is hard left
    assert 0.0 < np.mean(low["panning_total"]) < 1.0


def test_channel_swapped_mix_has_a_panning_error():
    x = pan(noise(0, 0.3), math.pi / 8)
    swapped = x[::-1].copy()
    result = M.compare(swapped, x, SR)
    gamma = 1 - math.sin(math.pi / 4)
    assert result["panning_spectrum_error"] == pytest.approx(2 * gamma, abs=1e-3)
    # the RMS summaries do not see the side (documented): their MAPEs stay 0
    assert result["mape_panning_total"] == pytest.approx(0.0, abs=1e-6)
    assert M.compare(x, x, SR)["panning_spectrum_error"] == 0.0


def test_panning_needs_stereo():
    with pytest.raises(ValueError, match="stereo"):
        M.panning_spectrum(sine(), SR)
    assert "panning_total" not in M.frame_features(sine(), SR)


# --------------------------------------------------------------------------------------------
# Running means, MAPE and compare()


def test_running_mean():
    assert np.allclose(M.running_mean([1, 2, 3, 4, 5], 2), [1.5, 2.5, 3.5, 4.5])
    assert np.allclose(M.running_mean([1, 2, 3, 4, 5], 5), [3.0])
    assert np.allclose(M.running_mean([1, 2, 3], 10), [2.0])  # shorter than n: its mean
    assert np.allclose(M.running_mean([4.0, 5.0], 1), [4.0, 5.0])
    assert M.running_mean([], 3).shape == (0,)
    with pytest.raises(ValueError):
        M.running_mean([1, 2], 0)


def test_mape_formula():
    assert M.mape([1.1, 1.8], [1.0, 2.0]) == pytest.approx(100 * (0.1 / 1 + 0.2 / 2) / 2)  # 10 %
    assert M.mape([-9.0], [-10.0]) == pytest.approx(10.0)
    assert M.mape([0.0, 2.0], [0.0, 2.0]) == 0.0  # a zero reference matched exactly counts 0 %
    assert M.mape([1e-8], [0.0]) == pytest.approx(100.0)  # guarded by eps = 1e-8
    with pytest.raises(ValueError):
        M.mape([1.0, 2.0], [1.0])


def test_identical_signals_score_perfectly():
    x = np.stack([noise(0), noise(1, 0.05)]) * np.exp(-10 * (T % 0.5)).astype(np.float32)
    result = M.compare(x, x, SR)
    assert set(result) == set(M.METRICS)
    assert result["si_sdr"] > 100 and result["mrstft"] == 0.0 and result["loudness_diff_lu"] == 0.0
    assert all(v == 0.0 for k, v in result.items() if k.startswith("mape_") or k == "panning_spectrum_error")


def test_a_gain_change_by_hand():
    """Half the amplitude: -6.02 LU, and the MAPE of a level series is 6.02 / |reference level|."""
    ref = sine(1000.0, 0.5)
    result = M.compare(0.5 * ref, ref, SR)
    drop = 20 * math.log10(2)
    ref_rms = 20 * math.log10(0.5 / math.sqrt(2))
    assert result["loudness_diff_lu"] == pytest.approx(-drop, abs=1e-3)
    assert result["mape_rms"] == pytest.approx(100 * drop / abs(ref_rms), rel=1e-3)  # 66.7 %
    ref_lufs = measure_loudness(ref, SR)
    assert result["mape_loudness"] == pytest.approx(100 * drop / abs(ref_lufs), rel=1e-3)
    for key in ("mape_centroid", "mape_rolloff", "mape_crest_factor", "mape_dynamic_spread"):
        assert result[key] == pytest.approx(0.0, abs=1e-3), key
    assert result["si_sdr"] == 120.0  # scale-invariant
    assert "panning_spectrum_error" not in result  # mono


def test_level_independent_features_ignore_a_gain_change():
    x = np.stack([noise(0, 0.2), noise(1, 0.1)]) * np.exp(-8 * (T % 0.5)).astype(np.float32)
    result = M.compare(0.25 * x, x, SR)
    for key in ("centroid", "bandwidth", "contrast", "rolloff", "flatness", "crest_factor", "panning_total"):
        assert result[f"mape_{key}"] < 0.05, key
    assert result["mape_rms"] > 10 and result["loudness_diff_lu"] == pytest.approx(-12.04, abs=0.01)


def test_feature_errors_ignore_frames_where_the_reference_is_silent():
    ref = sine(1000.0, 0.5)
    ref[N // 2 :] = 0.0
    est = ref.copy()
    est[N // 2 :] = noise(0, 1e-5)[N // 2 :]  # a faint hiss where the reference is silent
    errors = M.feature_errors(est, ref, SR)
    assert errors["mape_centroid"] < 1.0 and errors["mape_rolloff"] < 1.0


def test_frame_grid():
    f = M.frame_features(sine(), SR)
    assert M.frame_size(SR) == 4096 and M.frame_size(48000) == 4096 and M.frame_size(22050) == 2048
    assert f["centroid"].shape == (1 + (N - 4096) // 1024,)
    assert f["loudness"].shape == (N // 4410 - 3,)
    assert M.feature_hop("centroid", SR) == 1024 and M.feature_hop("loudness", SR) == 4410
    tiny = M.frame_features(sine(n=1000), SR)  # shorter than a frame: one padded frame
    assert all(v.shape[0] == 1 and np.isfinite(v).all() for v in tiny.values())


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="same shape"):
        M.compare(sine(), np.stack([sine(), sine()]), SR)
    bad = sine()
    bad[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.compare(bad, sine(), SR)
    with pytest.raises(ValueError, match="mono or stereo"):
        M.frame_features(np.zeros((3, SR), np.float32), SR)
    with pytest.raises(ValueError, match="sample_rate"):
        M.frame_features(sine(), 0)
