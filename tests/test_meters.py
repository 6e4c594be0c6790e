"""Streaming loudness and true-peak meters (daw_bridge.loudness) against pyloudnorm and known signals."""

import math

import numpy as np
import pyloudnorm
import pytest
from scipy.signal import firwin, lfilter, resample_poly

from daw_bridge.audio import PEAK_FLOOR_DB, SILENCE_LUFS, peak_db
from daw_bridge.loudness import measure_loudness
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter, k_weighting_sos, true_peak_oversampling


def music_like(rate: int, seconds: float, seed: int = 0, channels: int = 2) -> np.ndarray:
    """Deterministic stereo float32 ``[channels, n]``: a drum-like burst pattern, a bass line,
    a chord and hiss, with a quiet bridge (so the relative gate has work to do)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    beat = (t * 2.0) % 0.5
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-beat * 30)
    snare = rng.standard_normal(n) * np.exp(-(((t * 2.0) + 0.25) % 0.5) * 25) * 0.5
    hats = np.diff(rng.standard_normal(n + 1)) * np.exp(-((t * 8.0) % 0.125) * 60) * 0.2
    bass = 0.3 * np.sin(2 * np.pi * 82.4 * t + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    chord = sum(0.08 * np.sin(2 * np.pi * f * t + k) for k, f in enumerate((261.6, 329.6, 392.0, 523.3)))
    level = np.where((t > seconds * 0.6) & (t < seconds * 0.75), 0.05, 1.0)  # a quiet bridge
    out = []
    for c in range(channels):
        hiss = 0.01 * rng.standard_normal(n)
        pan = 0.8 + 0.2 * c
        out.append(level * (0.5 * kick + snare * pan + hats * (1.2 - pan) + bass + chord * pan + hiss))
    return (0.5 * np.array(out)).astype(np.float32)


def feed(meter, audio: np.ndarray, block: int):
    for start in range(0, audio.shape[-1], block):
        meter.add(audio[..., start : start + block])
    return meter


def standard_lufs(audio: np.ndarray, rate: int) -> float:
    """pyloudnorm with its "DeMan" filters: the BS.1770-4 K-weighting coefficients."""
    return float(pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(audio.T.astype(np.float64)))


# ------------------------------------------------------------------------------ loudness


def test_k_weighting_equals_the_bs1770_table_at_48k():
    sos = k_weighting_sos(48000)
    shelf = [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585]
    highpass = [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621]
    np.testing.assert_allclose(sos, [shelf, highpass], atol=1e-11)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_loudness_agrees_with_measure_loudness_and_the_standard(rate):
    audio = music_like(rate, 12.0, seed=rate)
    meter = feed(LoudnessMeter(rate, 2), audio, 65536)
    lufs = meter.integrated()
    assert abs(lufs - measure_loudness(audio, rate)) < 0.05  # pyloudnorm's filters read ~0.04 LU low
    assert abs(lufs - standard_lufs(audio, rate)) < 1e-3


@pytest.mark.parametrize("rate", [22050, 32000, 96000])
def test_loudness_at_other_rates_matches_the_standard_filters(rate):
    audio = music_like(rate, 5.0, seed=3)
    assert abs(feed(LoudnessMeter(rate, 2), audio, 8192).integrated() - standard_lufs(audio, rate)) < 1e-3


def test_loudness_does_not_depend_on_block_size():
    rate = 44100
    audio = music_like(rate, 4.3, seed=1)  # not a whole number of 100 ms sub-blocks
    results = {
        block: feed(LoudnessMeter(rate, 2), audio, block).integrated() for block in (65536, 4410, 4096, 1001, 97)
    }
    assert len(set(results.values())) == 1, results  # bit-identical
    tiny = feed(LoudnessMeter(rate, 2), audio[:, :rate], 13).integrated()
    assert tiny == feed(LoudnessMeter(rate, 2), audio[:, :rate], 65536).integrated()


def test_loudness_short_clip_and_silence_follow_measure_loudness():
    rate = 48000
    short = music_like(rate, 0.3, seed=2)  # under one 400 ms gating block: measured ungated
    assert abs(feed(LoudnessMeter(rate, 2), short, 1000).integrated() - measure_loudness(short, rate)) < 0.05
    for length in (0.41, 0.46, 0.55, 1.06):  # the block-count rounding, partial last blocks
        clip = music_like(rate, length, seed=5)
        got = feed(LoudnessMeter(rate, 2), clip, 777).integrated()
        assert abs(got - measure_loudness(clip, rate)) < 0.05
        assert abs(got - standard_lufs(clip, rate)) < 1e-3
    silence = np.zeros((2, rate * 2), dtype=np.float32)
    assert feed(LoudnessMeter(rate, 2), silence, 4096).integrated() == SILENCE_LUFS
    assert LoudnessMeter(rate, 2).integrated() == SILENCE_LUFS  # nothing added
    whisper = (music_like(rate, 2.0) * 1e-5).astype(np.float32)  # about -95 LUFS: under the absolute gate
    assert feed(LoudnessMeter(rate, 2), whisper, 4096).integrated() == SILENCE_LUFS


def test_loudness_relative_gate_ignores_a_quiet_passage():
    rate = 44100
    loud = music_like(rate, 4.0, seed=7)
    with_quiet = np.concatenate([loud, loud[:, : rate * 4] * 0.01], axis=1)  # 4 s at -40 dB: gated out
    a = feed(LoudnessMeter(rate, 2), loud, 8192).integrated()
    b = feed(LoudnessMeter(rate, 2), with_quiet, 8192).integrated()
    assert abs(a - b) < 0.3  # the quiet half barely counts (gated), instead of -3 dB
    assert abs(b - standard_lufs(with_quiet, rate)) < 1e-3


def test_loudness_mono_and_surround_weights():
    rate = 48000
    mono = music_like(rate, 3.0, channels=1)
    assert abs(feed(LoudnessMeter(rate, 1), mono[0], 5000).integrated() - measure_loudness(mono, rate)) < 0.05
    five = np.concatenate([music_like(rate, 3.0, seed=s, channels=1) for s in range(5)])
    assert abs(feed(LoudnessMeter(rate, 5), five, 5000).integrated() - standard_lufs(five, rate)) < 1e-3
    with pytest.raises(ValueError, match="at most 5"):
        LoudnessMeter(rate, 6)


def test_loudness_can_be_read_while_running():
    rate = 44100
    audio = music_like(rate, 3.0)
    meter = LoudnessMeter(rate, 2)
    meter.add(audio[:, :rate])
    first = meter.integrated()
    assert abs(first - standard_lufs(audio[:, :rate], rate)) < 1e-3
    meter.add(audio[:, rate:])
    assert meter.integrated() == feed(LoudnessMeter(rate, 2), audio, 65536).integrated()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_meters_refuse_nan_and_inf(bad):
    block = np.zeros((2, 100), dtype=np.float32)
    block[1, 50] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        LoudnessMeter(44100, 2).add(block)
    with pytest.raises(ValueError, match="NaN or infinite"):
        TruePeakMeter(44100, 2).add(block)


def test_meters_refuse_wrong_channel_counts():
    with pytest.raises(ValueError, match=r"\[2, n\]"):
        LoudnessMeter(44100, 2).add(np.zeros((1, 10)))
    with pytest.raises(ValueError, match=r"\[1, n\]"):
        TruePeakMeter(44100, 1).add(np.zeros((2, 10)))
    with pytest.raises(ValueError):
        LoudnessMeter(0, 2)
    with pytest.raises(ValueError):
        TruePeakMeter(44100, 0)


# ------------------------------------------------------------------------------ true peak


def faded_sine(rate: int, freq: float, phase: float, seconds: float = 1.0, amplitude: float = 1.0) -> np.ndarray:
    n = int(seconds * rate)
    t = np.arange(n)
    x = amplitude * np.sin(2 * np.pi * freq * t / rate + phase)
    ramp = int(0.05 * rate)  # smooth ends: no ringing from a switched-on sine
    env = np.ones(n)
    env[:ramp] = np.sin(np.linspace(0, np.pi / 2, ramp)) ** 2
    env[-ramp:] = env[:ramp][::-1]
    return (x * env).astype(np.float32)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_true_peak_of_a_quarter_rate_sine_at_45_degrees(rate):
    x = faded_sine(rate, rate / 4, math.pi / 4)
    stereo = np.stack([x, 0.5 * x])
    assert peak_db(stereo) == pytest.approx(-3.0103, abs=0.01)  # samples at +-0.7071
    meter = feed(TruePeakMeter(rate, 2), stereo, 4096)
    assert meter.true_peak_db() == pytest.approx(0.0, abs=0.01)  # the sine's crest between the samples
    assert 20 * math.log10(meter.sample_peak) == pytest.approx(-3.0103, abs=0.01)


def test_true_peak_at_192k_uses_2x():
    rate = 192000
    assert true_peak_oversampling(rate) == 2
    assert true_peak_oversampling(96000) == 4 and true_peak_oversampling(44100) == 4
    x = faded_sine(rate, rate / 4, math.pi / 4, seconds=0.5)
    assert feed(TruePeakMeter(rate, 1), x, 10000).true_peak_db() == pytest.approx(0.0, abs=0.01)


def test_true_peak_agrees_with_long_filter_oversampling():
    rate = 44100
    # music band-limited to 0.4 x rate, where scipy's polyphase resampler is flat too
    audio = lfilter(firwin(255, 0.8), 1.0, music_like(rate, 3.0, seed=11).astype(np.float64), axis=1)
    audio = (0.95 * audio / np.max(np.abs(audio))).astype(np.float32)
    got = feed(TruePeakMeter(rate, 2), audio, 4096).true_peak_db()
    four = resample_poly(audio.astype(np.float64), 4, 1, axis=1, window=("kaiser", 12.0))  # the same 4x points
    assert got == pytest.approx(20 * math.log10(np.max(np.abs(four))), abs=0.01)
    assert got >= peak_db(audio)


def test_true_peak_of_a_sharp_pair_matches_ideal_interpolation():
    rate = 44100
    x = np.zeros(2000, dtype=np.float32)
    x[1000], x[1001] = 0.9, -0.9  # broadband: its true peak lies between the samples
    got = feed(TruePeakMeter(rate, 1), x, 333).true_peak_db()
    n = np.arange(x.size)
    points = np.arange(900 * 4, 1100 * 4) / 4  # the 4x points around the pair
    ideal = np.max(np.abs(np.sinc(points[:, None] - n[None, :]) @ x.astype(np.float64)))
    assert got == pytest.approx(20 * math.log10(ideal), abs=0.05)
    assert got > 20 * math.log10(0.9) + 0.5  # well above the sample peak


def test_true_peak_does_not_depend_on_block_boundaries():
    rate = 48000
    audio = music_like(rate, 2.5, seed=4)
    results = {
        block: feed(TruePeakMeter(rate, 2), audio, block).true_peak_db() for block in (65536, 4033, 4096, 1001, 7)
    }
    assert len(set(results.values())) == 1, results
    # a peak right at the end: the ringing after the last sample counts
    end = audio.copy()
    end[:, -1] = [0.99, 0.99]
    end[:, -2] = [-0.99, -0.99]
    a = feed(TruePeakMeter(rate, 2), end, 4033).true_peak_db()
    assert a == feed(TruePeakMeter(rate, 2), end, 999).true_peak_db()
    assert a > 20 * math.log10(0.99)


def test_true_peak_silence_and_progress():
    meter = TruePeakMeter(44100, 2)
    assert meter.true_peak_db() == PEAK_FLOOR_DB
    meter.add(np.zeros((2, 50000), dtype=np.float32))
    assert meter.true_peak_db() == PEAK_FLOOR_DB
    meter.add(np.full((2, 10), 0.5, dtype=np.float32))
    first = meter.true_peak_db()
    assert first >= 20 * math.log10(0.5)
    meter.add(np.zeros((2, 5000), dtype=np.float32))  # reading did not disturb the meter
    assert meter.true_peak_db() == first


def test_ceiling_gain_reaches_the_target_or_stops_under_the_ceiling():
    from daw_bridge.loudness import ceiling_gain

    assert ceiling_gain(-20.0, -10.0, -14.0, -1.0) == (6.0, None)  # peak lands at -4 dBTP: target reached
    gain, missed = ceiling_gain(-20.0, -6.0, -14.0, -1.0)  # 6 dB would put the peak at 0 dBTP
    assert abs(gain - 4.999) < 1e-12 and abs(missed - 1.001) < 1e-12
    assert ceiling_gain(-80.0, -90.0, -14.0, -1.0) == (0.0, None)  # silence is left alone
