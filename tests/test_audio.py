"""Tests for daw_bridge.audio: file I/O, resampling, streaming and loudness (all audio generated here)."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from daw_bridge import audio as au
from daw_bridge import loudness as L
from daw_bridge.errors import AudioError, OutputError

SR = 48000


def sine(freq: float, seconds: float, rate: int = SR, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    """Float32 sine [channels, frames]."""
    t = np.arange(int(round(seconds * rate))) / rate
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[np.newaxis, :], channels, axis=0)


def noise(seconds: float, rate: int = SR, channels: int = 2, amp: float = 0.1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amp * rng.standard_normal((channels, int(seconds * rate)))).astype(np.float32)


def pink_noise(seconds: float, rate: int = SR, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Noise with a 1/f power spectrum, scaled to a 0.25 peak."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spectrum = rng.standard_normal((channels, n // 2 + 1)) + 1j * rng.standard_normal((channels, n // 2 + 1))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    x = np.fft.irfft(spectrum, n=n, axis=1)
    return (0.25 * x / np.max(np.abs(x))).astype(np.float32)


def write_sf(path: Path, audio: np.ndarray, rate: int = SR, **kwargs) -> Path:
    sf.write(str(path), audio.T, rate, **kwargs)
    return path


def assert_one_line_naming(exc: BaseException, name: str) -> None:
    message = str(exc)
    assert name in message
    assert "\n" not in message


# ---------------------------------------------------------------------------------- module


def test_module_does_not_import_torch():
    source = Path(au.__file__).read_text()
    assert "import torch" not in source and "from torch" not in source


def test_audio_extensions():
    assert au.AUDIO_EXTENSIONS == frozenset({".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg"})


# ---------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [
        ("a.wav", "PCM_16", 1.0 / 2**15),
        ("a.wav", "PCM_24", 1.0 / 2**23),
        ("a.wav", "FLOAT", 0.0),
        ("a.wave", "PCM_24", 1.0 / 2**23),
        ("a.flac", "PCM_16", 1.0 / 2**15),
        ("a.flac", "PCM_24", 1.0 / 2**23),
    ],
)
def test_round_trip(tmp_path, name, subtype, tolerance):
    x = noise(0.5, channels=2, amp=0.2)
    out = au.write_audio(tmp_path / name, x, SR, subtype=subtype)
    assert out == (tmp_path / name).absolute()
    info = au.probe(out)
    assert (info.sample_rate, info.channels, info.frames, info.subtype) == (SR, 2, x.shape[1], subtype)
    assert info.format == ("FLAC" if name.endswith(".flac") else "WAV")
    assert info.duration == pytest.approx(0.5)
    y, rate = au.read_audio(out)
    assert rate == SR
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tolerance
    assert os.listdir(tmp_path) == [name]  # no temporary file left behind


def test_mono_1d_input_is_written_as_one_channel(tmp_path):
    x = sine(440, 0.25)[0]
    out = au.write_audio(tmp_path / "m.wav", x, SR, subtype="FLOAT")
    y, _ = au.read_audio(out)
    assert y.shape == (1, x.size)
    np.testing.assert_array_equal(y[0], x)


def test_read_aiff_and_ogg_written_by_soundfile(tmp_path):
    x = sine(1000, 1.0, channels=2, amp=0.5)
    for name in ("a.aiff", "a.aif"):
        path = write_sf(tmp_path / name, x, format="AIFF", subtype="PCM_24")
        y, rate = au.read_audio(path)
        assert rate == SR and y.shape == x.shape
        assert np.max(np.abs(y - x)) <= 1.0 / 2**23
    path = write_sf(tmp_path / "a.ogg", x, format="OGG", subtype="VORBIS")
    y, rate = au.read_audio(path)
    assert rate == SR and y.shape == x.shape
    rms_in = np.sqrt(np.mean(x**2))
    rms_out = np.sqrt(np.mean(y**2))
    assert 20 * np.log10(rms_out / rms_in) == pytest.approx(0.0, abs=0.5)


def test_read_partial_and_resampled(tmp_path):
    x = noise(1.0, channels=2)
    path = au.write_audio(tmp_path / "a.wav", x, SR, subtype="FLOAT")
    y, _ = au.read_audio(path, start=1000, frames=500)
    np.testing.assert_array_equal(y, x[:, 1000:1500])
    y, rate = au.read_audio(path, sample_rate=44100)
    assert rate == 44100 and y.shape == (2, 44100)
    y, rate = au.read_audio(path, sample_rate=SR)
    assert rate == SR
    np.testing.assert_array_equal(y, x)


# ---------------------------------------------------------------------------------- resampling


def test_resample_keeps_frequency_level_and_length():
    x = sine(1000, 1.0, rate=44100, amp=0.5)
    y = au.resample(x, 44100, 48000)
    assert y.dtype == np.float32
    assert y.shape == (1, 48000)
    spectrum = np.abs(np.fft.rfft(y[0] * np.hanning(y.shape[1])))
    peak_hz = np.argmax(spectrum) * 48000 / y.shape[1]
    assert peak_hz == pytest.approx(1000.0, abs=1.0)
    middle = slice(4800, 43200)  # away from edge effects
    rms_in = np.sqrt(np.mean(x[0, 4410:39690] ** 2))
    rms_out = np.sqrt(np.mean(y[0, middle] ** 2))
    assert 20 * np.log10(rms_out / rms_in) == pytest.approx(0.0, abs=0.1)


def test_resample_identity_and_lengths():
    x = noise(0.1, channels=2)
    assert au.resample(x, SR, SR) is x
    cases = [(1, 48000, 16000), (3, 48000, 24000), (5, 48000, 24000), (4097, 44100, 48000), (12345, 48000, 44100)]
    for frames, src, dst in cases:  # halves round up: 3 -> 2, 5 -> 3 at 2:1
        y = au.resample(np.zeros((2, frames), np.float32), src, dst)
        assert y.shape == (2, au.resampled_length(frames, src, dst))
        assert y.shape[1] == math.floor(frames * dst / src + 0.5)
    assert au.resample(np.zeros(100, np.float32), 44100, 48000).shape == (109,)


# ---------------------------------------------------------------------------------- helpers


def test_to_mono_pad_align():
    x = np.stack([np.ones(4, np.float32), np.zeros(4, np.float32)])
    mono = au.to_mono(x)
    assert mono.shape == (1, 4) and mono.dtype == np.float32
    np.testing.assert_array_equal(mono, 0.5)
    padded = au.pad_to_length(x, 6)
    assert padded.shape == (2, 6)
    np.testing.assert_array_equal(padded[:, 4:], 0.0)
    np.testing.assert_array_equal(padded[:, :4], x)
    assert au.pad_to_length(x, 4) is x
    with pytest.raises(ValueError):
        au.pad_to_length(x, 3)
    a, b, c = au.align_lengths([x, np.ones((1, 7), np.float32), np.ones((2, 2), np.float32)])
    assert a.shape == (2, 7) and b.shape == (1, 7) and c.shape == (2, 7)
    assert au.align_lengths([]) == []


def test_peak_and_silence():
    assert au.peak_db(np.zeros((2, 10), np.float32)) == -200.0
    assert au.peak_db(np.full((1, 3), 0.5, np.float32)) == pytest.approx(-6.0206, abs=1e-3)
    assert au.is_silent(np.zeros((2, 10), np.float32))
    assert au.is_silent(np.full((1, 10), 1e-5, np.float32))  # -100 dBFS
    assert not au.is_silent(np.full((1, 10), 1e-4, np.float32))  # -80 dBFS
    assert au.is_silent(np.full((1, 10), 1e-4, np.float32), threshold_db=-60.0)


# ---------------------------------------------------------------------------------- probe errors


def test_probe_missing_file(tmp_path):
    with pytest.raises(AudioError) as err:
        au.probe(tmp_path / "missing.wav")
    assert_one_line_naming(err.value, "missing.wav")


def test_probe_folder(tmp_path):
    folder = tmp_path / "stems.wav"
    folder.mkdir()
    with pytest.raises(AudioError) as err:
        au.probe(folder)
    assert_one_line_naming(err.value, "stems.wav")


def test_probe_wrong_extension(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(AudioError) as err:
        au.probe(path)
    assert_one_line_naming(err.value, "notes.txt")
    assert "is not an audio file (expected" in str(err.value)
    assert ".wav" in str(err.value) and ".flac" in str(err.value)


def test_probe_garbage_with_wav_extension(tmp_path):
    path = tmp_path / "garbage.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(AudioError) as err:
        au.probe(path)
    assert_one_line_naming(err.value, "garbage.wav")


def test_probe_zero_frames(tmp_path):
    path = write_sf(tmp_path / "empty.wav", np.zeros((2, 0), np.float32))
    with pytest.raises(AudioError) as err:
        au.probe(path)
    assert_one_line_naming(err.value, "empty.wav")
    assert "holds no audio" in str(err.value)
    zero_bytes = tmp_path / "zero.flac"
    zero_bytes.write_bytes(b"")
    with pytest.raises(AudioError) as err:
        au.probe(zero_bytes)
    assert_one_line_naming(err.value, "zero.flac")


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_probe_truncated_wav(tmp_path, subtype):
    x = noise(1.0, channels=2)
    good = write_sf(tmp_path / "good.wav", x, subtype=subtype)
    assert au.probe(good).frames == SR
    data = good.read_bytes()
    block_align = 2 * {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}[subtype]
    cut = 1000 * block_align
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(data[:-cut])
    assert sf.info(str(truncated)).frames == SR - 1000  # libsndfile does not notice
    with pytest.raises(AudioError) as err:
        au.probe(truncated)
    assert_one_line_naming(err.value, "cut.wav")
    expected = f"cut.wav is truncated: header declares {SR} frames, file holds {SR - 1000}; re-export it"
    assert expected in str(err.value)
    with pytest.raises(AudioError):
        au.read_audio(truncated)
    with pytest.raises(AudioError):
        au.AudioStream(truncated)


def test_probe_accepts_wav_with_trailing_chunk_and_rf64(tmp_path):
    x = noise(0.2, channels=1)
    good = write_sf(tmp_path / "good.wav", x, subtype="PCM_16")
    data = bytearray(good.read_bytes())
    data += b"LIST" + (4).to_bytes(4, "little") + b"INFO"
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    extra = tmp_path / "extra.wav"
    extra.write_bytes(bytes(data))
    assert au.probe(extra).frames == x.shape[1]
    rf64 = write_sf(tmp_path / "big.wav", x, format="RF64", subtype="PCM_24")
    assert rf64.read_bytes()[:4] == b"RF64"
    assert au.probe(rf64).frames == x.shape[1]
    cut = tmp_path / "bigcut.wav"
    cut.write_bytes(rf64.read_bytes()[:-300])
    with pytest.raises(AudioError, match="bigcut.wav is truncated"):
        au.probe(cut)


def test_nan_file_rejected(tmp_path):
    x = sine(440, 1.0, channels=2)
    x[1, 24000] = np.nan
    path = write_sf(tmp_path / "nan.wav", x, subtype="FLOAT")
    with pytest.raises(AudioError) as err:
        au.read_audio(path)
    assert_one_line_naming(err.value, "nan.wav")
    assert "NaN or infinite samples (first at 0.500 s)" in str(err.value)
    with au.AudioStream(path) as stream, pytest.raises(AudioError) as err:
        for _ in range(100):
            stream.read(4097)
    assert "first at 0.500 s" in str(err.value)


# ---------------------------------------------------------------------------------- writing


def test_write_refuses_existing_file(tmp_path):
    path = tmp_path / "mix.wav"
    path.write_bytes(b"original bytes")
    with pytest.raises(OutputError) as err:
        au.write_audio(path, noise(0.1), SR)
    assert_one_line_naming(err.value, "mix.wav")
    assert path.read_bytes() == b"original bytes"
    assert sorted(os.listdir(tmp_path)) == ["mix.wav"]
    au.write_audio(path, noise(0.1), SR, overwrite=True)
    assert au.probe(path).frames == int(0.1 * SR)


def test_write_to_missing_folder(tmp_path):
    with pytest.raises(OutputError) as err:
        au.write_audio(tmp_path / "nope" / "mix.wav", noise(0.1), SR)
    assert_one_line_naming(err.value, "mix.wav")
    with pytest.raises(OutputError):
        au.AudioWriter(tmp_path / "nope" / "mix.wav", SR, 2)
    assert os.listdir(tmp_path) == []


def test_write_rejects_bad_extension_and_subtype(tmp_path):
    with pytest.raises(OutputError, match=r"\.wav, \.wave, \.flac"):
        au.write_audio(tmp_path / "mix.mp3", noise(0.1), SR)
    with pytest.raises(OutputError, match="FLAC"):
        au.write_audio(tmp_path / "mix.flac", noise(0.1), SR, subtype="FLOAT")
    with pytest.raises(OutputError):
        au.write_audio(tmp_path / "mix.wav", noise(0.1), SR, subtype="PCM_8")
    with pytest.raises(ValueError):
        au.write_audio(tmp_path / "mix.wav", np.full((1, 10), np.nan, np.float32), SR)
    with pytest.raises(ValueError):
        au.write_audio(tmp_path / "mix.flac", np.zeros((2, 0), np.float32), SR)
    assert os.listdir(tmp_path) == []


def test_clipping_warning(tmp_path, caplog):
    x = np.zeros((2, 100), np.float32)
    x[0, :3] = 2.0  # +6.02 dBFS
    x[1, 50] = -1.5
    with caplog.at_level(logging.WARNING, logger="automix"):
        au.write_audio(tmp_path / "loud.wav", x, SR, subtype="PCM_16")
    records = [r for r in caplog.records if r.name == "automix"]
    assert len(records) == 1
    message = records[0].getMessage()
    assert "loud.wav" in message and "4 samples" in message and "+6.02 dBFS" in message
    y, _ = au.read_audio(tmp_path / "loud.wav")
    assert np.max(np.abs(y)) <= 1.0
    assert y[0, 0] == pytest.approx(1.0, abs=1e-4)

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="automix"):
        au.write_audio(tmp_path / "loud_float.wav", x, SR, subtype="FLOAT")
    assert not [r for r in caplog.records if r.name == "automix"]
    y, _ = au.read_audio(tmp_path / "loud_float.wav")
    assert y[0, 0] == 2.0


def test_audio_writer_streams_and_renames(tmp_path, caplog):
    x = noise(1.0, channels=2, amp=0.2)
    x[0, 10] = 1.5
    x[1, 30000] = -3.0
    path = tmp_path / "render.flac"
    with caplog.at_level(logging.WARNING, logger="automix"):
        with au.AudioWriter(path, SR, 2, subtype="PCM_24") as writer:
            assert not path.exists()
            assert len(os.listdir(tmp_path)) == 1  # the temporary file
            for i in range(0, x.shape[1], 4097):
                writer.write(x[:, i : i + 4097])
    assert os.listdir(tmp_path) == ["render.flac"]
    assert writer.frames_written == x.shape[1]
    records = [r for r in caplog.records if r.name == "automix"]
    assert len(records) == 1 and "2 samples" in records[0].getMessage()
    y, _ = au.read_audio(path)
    np.testing.assert_allclose(y, np.clip(x, -1, 1), atol=1.0 / 2**23)


def test_audio_writer_removes_temp_file_on_exception(tmp_path):
    existing = tmp_path / "render.wav"
    existing.write_bytes(b"keep me")
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(RuntimeError, match="boom"):
        with au.AudioWriter(existing, SR, 2, overwrite=True) as writer:
            writer.write(noise(0.5))
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == before
    assert existing.read_bytes() == b"keep me"

    fresh = tmp_path / "fresh.wav"
    with pytest.raises(RuntimeError):
        with au.AudioWriter(fresh, SR, 1) as writer:
            writer.write(sine(100, 0.1))
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == before


def test_audio_writer_checks_path_before_creating(tmp_path):
    path = tmp_path / "render.wav"
    path.write_bytes(b"x")
    with pytest.raises(OutputError):
        au.AudioWriter(path, SR, 2)
    assert os.listdir(tmp_path) == ["render.wav"]
    with pytest.raises(ValueError):
        with au.AudioWriter(tmp_path / "other.wav", SR, 2) as writer:
            writer.write(np.zeros((1, 10), np.float32))  # wrong channel count
    assert os.listdir(tmp_path) == ["render.wav"]


# ---------------------------------------------------------------------------------- streaming


def test_stream_bit_exact_without_resampling(tmp_path):
    x = noise(1.3, rate=44100, channels=2)
    path = au.write_audio(tmp_path / "a.flac", x, 44100, subtype="PCM_24")
    expected, _ = au.read_audio(path)
    with au.AudioStream(path, block_frames=10000) as stream:
        assert stream.frames == expected.shape[1] and stream.sample_rate == 44100
        blocks = [stream.read(4097) for _ in range(-(-stream.frames // 4097) + 2)]
    got = np.concatenate(blocks, axis=1)
    np.testing.assert_array_equal(got[:, : expected.shape[1]], expected)
    np.testing.assert_array_equal(got[:, expected.shape[1] :], 0.0)
    assert all(b.shape == (2, 4097) and b.dtype == np.float32 for b in blocks)


@pytest.mark.parametrize(("file_rate", "target_rate"), [(44100, 48000), (48000, 44100)])
@pytest.mark.parametrize("block", [4097, 1000])
def test_stream_matches_read_audio_with_resampling(tmp_path, file_rate, target_rate, block):
    x = (sine(997, 2.1, rate=file_rate, channels=2) + noise(2.1, rate=file_rate, channels=2, amp=0.05))
    path = au.write_audio(tmp_path / "a.wav", x, file_rate, subtype="FLOAT")
    expected, rate = au.read_audio(path, sample_rate=target_rate)
    assert rate == target_rate
    with au.AudioStream(path, target_rate, block_frames=12345) as stream:
        assert stream.info.sample_rate == file_rate
        assert stream.frames == expected.shape[1]
        n_blocks = -(-stream.frames // block) + 1
        got = np.concatenate([stream.read(block) for _ in range(n_blocks)], axis=1)
    assert np.max(np.abs(got[:, : expected.shape[1]] - expected)) <= 1e-4
    np.testing.assert_array_equal(got[:, expected.shape[1] :], 0.0)


def test_stream_reads_zeros_past_end_and_closes(tmp_path):
    path = au.write_audio(tmp_path / "short.wav", sine(440, 0.01), SR)
    stream = au.AudioStream(path, 44100)
    first = stream.read(1000)
    assert first.shape == (1, 1000)
    assert np.any(first[:, : stream.frames] != 0)
    np.testing.assert_array_equal(first[:, stream.frames :], 0.0)
    np.testing.assert_array_equal(stream.read(5000), np.zeros((1, 5000), np.float32))
    assert stream.read(0).shape == (1, 0)
    stream.close()
    with pytest.raises(ValueError):
        stream.read(10)


# ---------------------------------------------------------------------------------- loudness


def test_measure_loudness_matches_pyloudnorm():
    x = pink_noise(5.0, channels=2)
    reference = pyloudnorm.Meter(SR, filter_class="DeMan").integrated_loudness(x.T.astype(np.float64))
    assert L.measure_loudness(x, SR) == pytest.approx(reference, abs=0.01)
    mono = x[:1]
    reference = pyloudnorm.Meter(SR, filter_class="DeMan").integrated_loudness(mono[0].astype(np.float64))
    assert L.measure_loudness(mono[0], SR) == pytest.approx(reference, abs=0.01)


def test_measure_loudness_silence_and_short_clips():
    assert L.measure_loudness(np.zeros((2, 5 * SR), np.float32), SR) == au.SILENCE_LUFS == -70.0
    assert L.measure_loudness(np.zeros((2, 100), np.float32), SR) == -70.0
    assert L.measure_loudness(np.zeros((2, 0), np.float32), SR) == -70.0
    assert L.measure_loudness(np.full((1, 5 * SR), 1e-6, np.float32), SR) == -70.0  # fully gated
    short = L.measure_loudness(sine(1000, 0.2), SR)
    long = L.measure_loudness(sine(1000, 5.0), SR)
    assert math.isfinite(short)
    assert short == pytest.approx(long, abs=0.5)
    assert L.measure_loudness(sine(1000, 0.2, amp=1e-6), SR) == -70.0
    with pytest.raises(ValueError):
        L.measure_loudness(np.zeros((6, SR), np.float32), SR)


def test_normalize_loudness():
    x = pink_noise(5.0, channels=2)
    y, gain = L.normalize_loudness(x, SR, -23.0)
    assert y.shape == x.shape and y.dtype == np.float32
    assert L.measure_loudness(y, SR) == pytest.approx(-23.0, abs=0.1)
    assert gain == pytest.approx(-23.0 - L.measure_loudness(x, SR), abs=1e-9)

    silence = np.zeros((2, SR), np.float32)
    y, gain = L.normalize_loudness(silence, SR, -23.0)
    assert gain == 0.0
    np.testing.assert_array_equal(y, silence)

    quiet = x * np.float32(1e-2)  # 40 dB below x, about -63 LUFS
    y, gain = L.normalize_loudness(quiet, SR, 0.0, max_gain_db=20.0)
    assert gain == 20.0
    np.testing.assert_allclose(y, quiet * np.float32(10.0), rtol=1e-6)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"), ("FLAC", "PCM_16"),
                                         ("FLAC", "PCM_24"), ("WAV", "FLOAT")])
def test_integer_files_read_as_integers_give_libsndfile_floats_exactly(tmp_path, fmt, subtype):
    rng = np.random.default_rng(3)
    x = np.clip(rng.standard_normal((5000, 2)) * 0.4, -1.0, 1.0).astype(np.float32)
    x[:3] = [[1.0, -1.0]] * 3  # full scale both ways
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(str(path), x, 44100, subtype=subtype, format=fmt)
    expected = sf.read(str(path), dtype="float32", always_2d=True)[0]
    with sf.SoundFile(str(path)) as f:
        got, finite = au.read_float32(f, 4000)
        rest, _ = au.read_float32(f, 4000)
    assert finite == (subtype != "FLOAT") and got.dtype == np.float32 and got.shape == (4000, 2)
    np.testing.assert_array_equal(np.concatenate([got, rest]), expected)  # bit for bit
    audio, _ = au.read_audio(path)
    np.testing.assert_array_equal(audio, expected.T)
    with au.AudioStream(path, block_frames=777) as stream:
        np.testing.assert_array_equal(np.concatenate([stream.read(1234), stream.read(5000 - 1234)], axis=1), expected.T)
