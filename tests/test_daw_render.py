"""daw_bridge.render: mix plans rendered with pedalboard (built-in effects and real VST3 plugins)."""

import os

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from daw_bridge.audio import read_audio
from daw_bridge.loudness import measure_loudness
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter
from daw_bridge.render import (
    AUTO_TAIL_MAX_S,
    AUTO_TAIL_THRESHOLD_DB,
    RenderError,
    balance_gains,
    render,
    track_start_frame,
)
from daw_bridge.session import PluginSpec, Session, Track
from daw_bridge.panlaw import db_to_gain, pan_gains

SR = 44100


# ------------------------------------------------------------------------------ helpers


def write(path, audio, rate=SR, subtype="FLOAT"):
    """Write float32 ``[channels, n]`` (or 1-D) to ``path``; returns the path."""
    audio = np.asarray(audio, dtype=np.float32)
    sf.write(str(path), audio.T if audio.ndim == 2 else audio, rate, subtype=subtype)
    return path


def noise(seconds, seed=0, level=0.1, rate=SR, channels=1):
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    env = np.exp(-((t * 2.0) % 0.5) * 10)  # drum-like bursts
    x = level * rng.standard_normal((channels, n)) * env
    return x[0].astype(np.float32) if channels == 1 else x.astype(np.float32)


def tone(seconds, freq=220.0, level=0.3, rate=SR):
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def builtin(name, **params):
    return PluginSpec(kind="builtin", name=name, params=params)


def mono_out(x, gain_db=0.0, pan=0.0):
    """What a mono source becomes: ``[l * g * x, r * g * x]`` in float32, as the renderer does it."""
    g = db_to_gain(gain_db)
    left, right = pan_gains(pan)
    coeffs = np.array([[g * left], [g * right]], dtype=np.float32)
    return np.asarray(x, dtype=np.float32)[np.newaxis, :] * coeffs


def meter_file(path):
    audio, rate = read_audio(path)
    lufs = LoudnessMeter(rate, audio.shape[0])
    peak = TruePeakMeter(rate, audio.shape[0])
    lufs.add(audio)
    peak.add(audio)
    return audio, lufs.integrated(), peak.true_peak_db()


@pytest.fixture
def stems(tmp_path):
    """Four mono stems and a stereo one (44.1 kHz float WAV) and a 48 kHz one."""
    folder = tmp_path / "stems"
    folder.mkdir()
    files = {
        "kick": write(folder / "kick.wav", noise(2.0, seed=1, level=0.3)),
        "snare": write(folder / "snare.wav", noise(1.7, seed=2, level=0.2)),
        "bass": write(folder / "bass.wav", tone(2.2, 55.0)),
        "keys": write(folder / "keys.wav", tone(1.5, 440.0, level=0.1)),
        "pad": write(folder / "pad.wav", noise(2.1, seed=3, level=0.05, channels=2)),
        "gtr48": write(folder / "gtr48.wav", tone(1.3, 330.0, level=0.2, rate=48000), rate=48000),
    }
    return files


def mixed_session(stems, **kwargs):
    """A session with every kind of track: offsets, a stereo file, a resampled file, effects."""
    hpf_comp = [
        builtin("HighpassFilter", cutoff_frequency_hz=40.0),
        builtin("Compressor", threshold_db=-20.0, ratio=4.0),
    ]
    peak = [builtin("PeakFilter", cutoff_frequency_hz=100.0, gain_db=3.0)]
    delay = [builtin("Delay", delay_seconds=0.1, mix=0.3)]
    tracks = [
        Track(name="kick", file=stems["kick"], gain_db=-2.0, plugins=hpf_comp),
        Track(name="snare", file=stems["snare"], offset_s=0.25, pan=-0.3, plugins=[builtin("Reverb", room_size=0.6)]),
        Track(name="bass", file=stems["bass"], gain_db=-6.0, plugins=peak),
        Track(name="keys", file=stems["keys"], offset_s=0.5123, pan=0.6),
        Track(name="pad", file=stems["pad"], pan=0.2, plugins=[builtin("Chorus")]),
        Track(name="gtr", file=stems["gtr48"], offset_s=0.1, pan=-0.8, plugins=delay),
    ]  # fmt: skip
    kwargs.setdefault("master", [builtin("Compressor", threshold_db=-12.0, ratio=2.0)])
    return Session(sample_rate=SR, tracks=tracks, **kwargs)


# ------------------------------------------------------------------------------ levels, pans, placement


def test_one_track_gain_and_pan(tmp_path):
    x = noise(1.0)
    session = Session(
        sample_rate=SR, tracks=[Track(name="a", file=write(tmp_path / "a.wav", x), gain_db=-6.0, pan=0.5)]
    )
    result = render(session, normalize=False, tail_s=0)
    assert result.audio.dtype == np.float32 and result.audio.shape == (2, x.size)
    left, right = pan_gains(0.5)
    g = 10 ** (-6 / 20)
    np.testing.assert_allclose(result.audio[0], g * left * x, atol=1e-6, rtol=0)
    np.testing.assert_allclose(result.audio[1], g * right * x, atol=1e-6, rtol=0)
    assert result.path is None and result.frames == x.size and result.tail_s == 0.0
    assert result.gain_db == 0.0 and result.warnings == []
    assert result.loudness_lufs == pytest.approx(measure_loudness(result.audio, SR), abs=0.05)


def test_offsets_place_audio_at_the_exact_frame(tmp_path):
    click = np.zeros(1000, dtype=np.float32)
    click[0] = 0.5
    path = write(tmp_path / "click.wav", click)
    offsets = [0.0, 0.25, 0.0123457, 1.00001]
    session = Session(
        sample_rate=SR,
        tracks=[Track(name=f"t{i}", file=path, offset_s=o, pan=-1.0 if i % 2 else 1.0) for i, o in enumerate(offsets)],
    )
    result = render(session, normalize=False, tail_s=0)
    starts = [track_start_frame(o, SR) for o in offsets]
    assert starts == [round(o * SR) for o in offsets]
    assert result.frames == max(starts) + click.size
    hits = sorted(np.flatnonzero(np.abs(result.audio).max(axis=0) > 0).tolist())
    assert hits == sorted(starts)
    for i, start in enumerate(starts):
        channel = 0 if i % 2 else 1  # odd tracks hard left
        assert result.audio[channel, start] == pytest.approx(0.5)
        assert result.audio[1 - channel, start] == 0.0


def test_mute_and_solo(tmp_path):
    paths = [write(tmp_path / f"{i}.wav", noise(0.5, seed=i)) for i in range(3)]

    def mix(**flags):
        tracks = [Track(name=f"t{i}", file=p, **flags.get(f"t{i}", {})) for i, p in enumerate(paths)]
        return render(Session(sample_rate=SR, tracks=tracks), normalize=False, tail_s=0)

    alone = [mix(**{f"t{j}": {"mute": True} for j in range(3) if j != i}).audio for i in range(3)]
    muted = mix(t1={"mute": True})
    np.testing.assert_array_equal(muted.audio, alone[0] + alone[2])
    assert any("t1" in note for note in muted.notes)
    soloed = mix(t2={"solo": True})
    np.testing.assert_array_equal(soloed.audio, alone[2])
    both = mix(t0={"solo": True}, t2={"solo": True, "mute": True})  # a muted solo stays silent
    np.testing.assert_array_equal(both.audio, alone[0])
    with pytest.raises(RenderError, match="no track is heard"):
        mix(t0={"mute": True}, t1={"mute": True}, t2={"mute": True})


def test_muted_tracks_are_not_checked(tmp_path):
    good = write(tmp_path / "good.wav", noise(0.3))
    session = Session(
        sample_rate=SR,
        tracks=[Track(name="good", file=good), Track(name="gone", file=tmp_path / "gone.wav", mute=True)],
    )
    assert render(session, normalize=False, tail_s=0).frames == int(0.3 * SR)


def test_resampled_file_is_noted_and_matches_read_audio(tmp_path):
    x = tone(0.8, 1000.0, rate=48000)
    path = write(tmp_path / "hi.wav", x, rate=48000)
    session = Session(sample_rate=SR, tracks=[Track(name="hi", file=path, pan=0.3)])
    result = render(session, normalize=False, tail_s=0, block_frames=5000)
    assert any("hi.wav" in n and "48000" in n and "resampled" in n for n in result.notes)
    expected, _ = read_audio(path, sample_rate=SR)
    assert result.frames == expected.shape[1]
    np.testing.assert_allclose(result.audio, mono_out(expected[0], pan=0.3), atol=1e-6, rtol=0)


def test_stereo_file_is_balanced_and_a_channel_is_panned(tmp_path):
    pair = noise(0.5, seed=4, channels=2)
    path = write(tmp_path / "pair.wav", pair)
    assert balance_gains(0.0) == (1.0, 1.0) and balance_gains(-1.0) == (1.0, 0.0) and balance_gains(1.0) == (0.0, 1.0)
    for pan, (gl, gr) in [(-0.5, (1.0, 0.5)), (0.25, (0.75, 1.0)), (0.0, (1.0, 1.0))]:
        session = Session(sample_rate=SR, tracks=[Track(name="pair", file=path, pan=pan, gain_db=-3.0)])
        out = render(session, normalize=False, tail_s=0).audio
        g = db_to_gain(-3.0)
        np.testing.assert_allclose(out[0], np.float32(g * gl) * pair[0], atol=1e-7, rtol=0)
        np.testing.assert_allclose(out[1], np.float32(g * gr) * pair[1], atol=1e-7, rtol=0)
    one = Session(sample_rate=SR, tracks=[Track(name="right", file=path, channel=1, pan=-0.4)])
    np.testing.assert_allclose(render(one, normalize=False, tail_s=0).audio, mono_out(pair[1], pan=-0.4), atol=1e-7)


# ------------------------------------------------------------------------------ chains, blocks, threads


def test_builtin_chain_equals_pedalboard_whole_buffer(tmp_path):
    x = noise(1.5, seed=5, level=0.3)
    path = write(tmp_path / "drum.wav", x)
    specs = [
        builtin("HighpassFilter", cutoff_frequency_hz=80.0),
        builtin("Compressor", threshold_db=-24.0, ratio=4.0, attack_ms=2.0, release_ms=80.0),
        builtin("PeakFilter", cutoff_frequency_hz=2000.0, gain_db=4.0, q=1.2),
        builtin("Reverb", room_size=0.5, wet_level=0.3),
    ]
    tail = 1.0
    session = Session(sample_rate=SR, tracks=[Track(name="drum", file=path, gain_db=-1.5, pan=0.1, plugins=specs)])
    board = pedalboard.Pedalboard([getattr(pedalboard, s.name)(**s.params) for s in specs])
    padded = np.concatenate([x, np.zeros(round(tail * SR), dtype=np.float32)])[np.newaxis, :]
    expected = mono_out(board.process(padded, SR)[0], gain_db=-1.5, pan=0.1)  # one call, reset=True
    for block in (8192, 65536):  # pedalboard's own processing blocks divide these: bit for bit
        result = render(session, normalize=False, tail_s=tail, block_frames=block)
        assert result.frames == padded.shape[1]
        np.testing.assert_array_equal(result.audio, expected)
    odd = render(session, normalize=False, tail_s=tail, block_frames=3000).audio  # see the block size test
    np.testing.assert_allclose(odd, expected, atol=1e-8, rtol=0)


def test_output_does_not_depend_on_block_size(stems):
    session = mixed_session(stems)
    reference = render(session, normalize=False, block_frames=65536).audio
    np.testing.assert_array_equal(render(session, normalize=False, block_frames=8192).audio, reference)
    for block in (4096, 1001, 777):
        # JUCE's IIR filters (HighpassFilter, PeakFilter) flush filter states under 1e-8 to zero at
        # the end of each block pedalboard processes, so near-silent tails may differ by ~1e-9
        np.testing.assert_allclose(
            render(session, normalize=False, block_frames=block).audio, reference, atol=1e-8, rtol=0
        )
    no_iir = mixed_session(stems)
    for track in no_iir.tracks:
        track.plugins = [p for p in track.plugins if p.name not in ("HighpassFilter", "PeakFilter")]
    reference = render(no_iir, normalize=False, block_frames=65536).audio
    for block in (4096, 1001, 777):
        np.testing.assert_array_equal(render(no_iir, normalize=False, block_frames=block).audio, reference)


def test_serial_and_threaded_renders_are_bit_identical(stems):
    session = mixed_session(stems, target_lufs=-18.0)
    serial = render(session, threads=1, block_frames=8192)
    assert serial.threads == 1
    for threads in (2, 3, 8):
        threaded = render(session, threads=threads, block_frames=8192)
        assert threaded.threads == min(threads, len(session.tracks))
        np.testing.assert_array_equal(threaded.audio, serial.audio)
        assert threaded.loudness_before_lufs == serial.loudness_before_lufs
        assert threaded.gain_db == serial.gain_db


def test_tails(tmp_path):
    x = noise(0.5, seed=6, level=0.3)
    path = write(tmp_path / "hit.wav", x)
    wet = Session(sample_rate=SR, tracks=[Track(name="hit", file=path, plugins=[builtin("Reverb", room_size=0.9)])])
    auto = render(wet, normalize=False)
    assert auto.frames > x.size and auto.tail_s == pytest.approx((auto.frames - x.size) / SR)
    assert auto.tail_s > 0.5
    threshold = 10 ** (AUTO_TAIL_THRESHOLD_DB / 20)
    assert np.abs(auto.audio[:, -1]).max() > threshold  # ends at its last sample above -90 dBFS
    longer = render(wet, normalize=False, tail_s=auto.tail_s + 2.0)
    assert np.abs(longer.audio[:, auto.frames :]).max() <= threshold  # what was cut stayed under it
    np.testing.assert_array_equal(longer.audio[:, : auto.frames], auto.audio)
    none = render(wet, normalize=False, tail_s=0)
    assert none.frames == x.size and none.tail_s == 0.0
    np.testing.assert_array_equal(none.audio, auto.audio[:, : x.size])
    fixed = render(wet, normalize=False, tail_s=1.25)
    assert fixed.frames == x.size + round(1.25 * SR)
    dry = Session(sample_rate=SR, tracks=[Track(name="hit", file=path)])
    assert render(dry, normalize=False).frames == x.size  # nothing rings: no tail


def test_endless_tail_is_cut_at_the_cap(tmp_path):
    x = noise(0.3, seed=1, level=0.3)
    echo = builtin("Delay", delay_seconds=0.25, feedback=1.0, mix=0.5)  # rings for ever
    session = Session(sample_rate=SR, tracks=[Track(name="echo", file=write(tmp_path / "e.wav", x), plugins=[echo])])
    result = render(session, normalize=False)
    assert result.frames == x.size + round(AUTO_TAIL_MAX_S * SR)
    assert result.warnings == [
        "the effect tail was still above -90 dBFS 30 s after the end of the tracks; cut there (give tail_s to choose)"
    ]
    summary = result.summary()
    assert summary.startswith("rendered to memory: 30.30 s at 44100 Hz (tail 30.00 s)") and "x real time" in summary


# ------------------------------------------------------------------------------ loudness


def test_loudness_normalisation_hits_the_target(stems, tmp_path):
    session = mixed_session(stems, target_lufs=-20.0, true_peak_db=-1.0)
    out = tmp_path / "mix.wav"
    result = render(session, out, block_frames=10000)
    assert result.path == out and result.audio is None and out.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav", "stems"]  # no temporary files left
    audio, lufs, peak = meter_file(out)
    assert sf.info(str(out)).subtype == "PCM_24" and audio.shape == (2, result.frames)
    assert lufs == pytest.approx(-20.0, abs=0.01)
    assert measure_loudness(audio, SR) == pytest.approx(-20.0, abs=0.1)
    assert result.loudness_lufs == pytest.approx(-20.0, abs=1e-9)
    assert result.gain_db == pytest.approx(-20.0 - result.loudness_before_lufs)
    assert peak == pytest.approx(result.true_peak_db, abs=0.01) and peak <= -1.0
    assert result.warnings == []
    assert result.summary().startswith(f"wrote {out}: ") and "-20.0 LUFS" in result.summary()
    in_memory = render(session, block_frames=10000)
    np.testing.assert_allclose(in_memory.audio, audio, atol=2**-22)  # the same mix, before 24-bit rounding


def test_true_peak_ceiling_wins_over_the_target(tmp_path):
    x = noise(2.0, seed=7, level=0.2)  # peaky: a crest factor far above 10 dB
    session = Session(sample_rate=SR, tracks=[Track(name="drums", file=write(tmp_path / "d.wav", x))],
                      target_lufs=-6.0, true_peak_db=-1.0)  # fmt: skip
    out = tmp_path / "loud.flac"
    result = render(session, out)
    _, lufs, peak = meter_file(out)
    assert peak <= -1.0 + 1e-4
    assert peak == pytest.approx(-1.0, abs=0.01)
    assert lufs < -7.0 and lufs == pytest.approx(result.loudness_lufs, abs=0.01)
    (warning,) = result.warnings
    missed = -6.0 - result.loudness_lufs
    assert "missed by" in warning and f"{missed:.2f} LU" in warning and "ceiling" in warning


def test_no_target_leaves_the_level_and_warns_above_the_ceiling(tmp_path):
    x = tone(1.0, 100.0, level=0.99)
    session = Session(sample_rate=SR, tracks=[Track(name="t", file=write(tmp_path / "t.wav", x), pan=-1.0)])
    result = render(session, tail_s=0)
    assert result.gain_db == 0.0 and result.loudness_lufs == result.loudness_before_lufs
    np.testing.assert_array_equal(result.audio[0], x)
    assert result.true_peak_db > -1.0 and any("above the ceiling" in w for w in result.warnings)
    session.target_lufs = -30.0
    assert render(session, tail_s=0, normalize=False).gain_db == 0.0  # normalize=False: left alone
    assert render(session, tail_s=0).loudness_lufs == pytest.approx(-30.0)


def test_silent_mix_is_not_normalised(tmp_path):
    path = write(tmp_path / "zero.wav", np.zeros(SR, dtype=np.float32))
    session = Session(sample_rate=SR, tracks=[Track(name="z", file=path)], target_lufs=-14.0)
    result = render(session, tmp_path / "z.wav")
    assert result.gain_db == 0.0 and result.loudness_lufs == -70.0
    assert any("silent" in w for w in result.warnings)


# ------------------------------------------------------------------------------ problems and output files


def test_all_problems_are_listed_together_and_nothing_is_written(tmp_path):
    good = write(tmp_path / "good.wav", noise(0.5))
    stereo = write(tmp_path / "stereo.wav", noise(0.5, channels=2))
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wave file")
    session = Session(
        sample_rate=SR,
        tracks=[
            Track(name="good", file=good),
            Track(name="lost", file=tmp_path / "lost.wav"),
            Track(name="broken", file=tmp_path / "broken.wav"),
            Track(name="third", file=stereo, channel=2),
            Track(name="fx", file=good, plugins=[PluginSpec(kind="vst3", path=tmp_path / "Nowhere.vst3")]),
        ],
        master=[builtin("LowpassFilter", cutoff_frequency_hz=30000.0)],  # above Nyquist at 44.1 kHz
    )
    out = tmp_path / "mix.wav"
    with pytest.raises(RenderError) as err:
        render(session, out)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("cannot render: 5 problems: ")
    for part in (
        "'lost'",
        "lost.wav",
        "'broken'",
        "broken.wav",
        "channel 2",
        "Nowhere.vst3",
        "master plugin 1",
        "Nyquist",
    ):
        assert part in message, part
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.wav", "good.wav", "stereo.wav"]


def test_existing_output_is_refused_unless_overwrite(tmp_path):
    path = write(tmp_path / "a.wav", noise(0.3))
    session = Session(sample_rate=SR, tracks=[Track(name="a", file=path)])
    out = tmp_path / "mix.wav"
    out.write_bytes(b"keep me")
    with pytest.raises(RenderError, match="exists"):
        render(session, out)
    assert out.read_bytes() == b"keep me"
    result = render(session, out, overwrite=True, normalize=False, tail_s=0)
    audio, _ = read_audio(out)
    assert audio.shape == (2, result.frames)


def test_unwritable_output_gives_one_line(tmp_path):
    path = write(tmp_path / "a.wav", noise(0.3))
    session = Session(sample_rate=SR, tracks=[Track(name="a", file=path)])
    for out, words in [
        (tmp_path / "no" / "such" / "mix.wav", "does not exist"),
        (path / "mix.wav", "is a file"),
        (tmp_path / "mix.mp3", "unsupported extension"),
    ]:
        with pytest.raises(RenderError) as err:
            render(session, out)
        assert words in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RenderError, match="FLAC cannot hold FLOAT"):
        render(session, tmp_path / "mix.flac", subtype="FLOAT")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(RenderError, match="not writable"):
            render(session, ro / "mix.wav")


def test_output_formats(tmp_path):
    x = noise(0.4)
    session = Session(sample_rate=SR, tracks=[Track(name="a", file=write(tmp_path / "a.wav", x))])
    for name, subtype in [("a16.wav", "PCM_16"), ("a.flac", "PCM_24"), ("f.wav", "FLOAT")]:
        render(session, tmp_path / name, subtype=subtype, normalize=False, tail_s=0)
        info = sf.info(str(tmp_path / name))
        assert (info.subtype, info.channels, info.samplerate, info.frames) == (subtype, 2, SR, x.size)
    audio, _ = read_audio(tmp_path / "f.wav")
    np.testing.assert_array_equal(audio, mono_out(x))


def test_progress_bar_and_arguments(tmp_path, capsys):
    session = Session(sample_rate=SR, tracks=[Track(name="a", file=write(tmp_path / "a.wav", noise(0.3)))])
    render(session, tmp_path / "p.wav", progress=True, tail_s=0)
    assert "rendering" in capsys.readouterr().err
    for bad in ({"block_frames": 0}, {"threads": 0}, {"tail_s": -1.0}, {"tail_s": "long"}):
        with pytest.raises(ValueError):
            render(session, **bad)


# ------------------------------------------------------------------------------ real VST3 plugins


def vst3(bundle, **params):
    return PluginSpec(kind="vst3", path=bundle, params=params)


def test_vst3_gain_in_a_chain(tmp_path, vst3_plugins):
    x = noise(1.0, seed=8)
    path = write(tmp_path / "v.wav", x)
    chain = [builtin("HighpassFilter", cutoff_frequency_hz=60.0), vst3(vst3_plugins["AutomixGain"], Gain=-6.0)]
    session = Session(sample_rate=SR, tracks=[Track(name="vox", file=path, pan=0.4, gain_db=-1.0, plugins=chain)])
    result = render(session, normalize=False, tail_s=0)
    assert any("takes stereo only" in n and "vox" in n for n in result.notes)
    filtered = pedalboard.HighpassFilter(cutoff_frequency_hz=60.0).process(x[np.newaxis, :], SR)[0]
    expected = mono_out(filtered, gain_db=-1.0, pan=0.4) * np.float32(db_to_gain(-6.0))
    np.testing.assert_allclose(result.audio, expected, atol=2e-6, rtol=0)
    # a stereo file through it: balanced after the plugin
    pair = noise(0.5, seed=12, channels=2)
    gain = vst3(vst3_plugins["AutomixGain"], Gain=-12.0)
    pair_track = Track(name="pair", file=write(tmp_path / "pair.wav", pair), pan=-0.5, plugins=[gain])
    wide = render(Session(sample_rate=SR, tracks=[pair_track]), normalize=False, tail_s=0).audio
    g = np.float32(db_to_gain(-12.0))
    np.testing.assert_allclose(wide, pair * g * np.array([[1.0], [0.5]], np.float32), atol=1e-6, rtol=0)
    # a neutral stereo-only plugin changes nothing on a mono track: the pan law stays the mono one
    neutral = session.model_copy(deep=True)
    neutral.tracks[0].plugins = [vst3(vst3_plugins["AutomixGain"], Gain=0.0)]
    np.testing.assert_allclose(render(neutral, normalize=False, tail_s=0).audio, mono_out(x, -1.0, 0.4), atol=1e-6)


@pytest.mark.parametrize("threads", [1, 2])
def test_vst3_latency_is_compensated(tmp_path, vst3_plugins, threads):
    click = np.zeros(SR // 2, dtype=np.float32)
    click[[1000, 5000, 20000]] = [0.5, -0.25, 0.125]
    path = write(tmp_path / "click.wav", click)
    delayed = [vst3(vst3_plugins["AutomixDelay"], Delay=300), vst3(vst3_plugins["AutomixDelay"], Delay=77)]
    session = Session(
        sample_rate=SR,
        tracks=[Track(name="dry", file=path, pan=-1.0), Track(name="late", file=path, pan=1.0, plugins=delayed)],
        master=[vst3(vst3_plugins["AutomixDelay"], Delay=64)],
    )
    result = render(session, normalize=False, tail_s=0, block_frames=4096, threads=threads)
    assert result.frames == click.size
    np.testing.assert_array_equal(result.audio[0], click)  # through the master's 64-sample delay, aligned
    np.testing.assert_array_equal(result.audio[1], click)  # 377 samples of latency, aligned
    assert sum("latency; compensated" in n for n in result.notes) == 3
    assert any("plugin 1 (AutomixDelay.vst3) reports 300 samples" in n for n in result.notes)


def faulty_session(tmp_path, vst3_plugins, **fault):
    kick = write(tmp_path / "kick.wav", noise(1.2, seed=9, level=0.3))
    snare = write(tmp_path / "snare.wav", noise(1.2, seed=10, level=0.2))
    faulty = vst3(vst3_plugins["AutomixFaulty"], Fault=True, **fault)
    return Session(
        sample_rate=SR,
        tracks=[
            Track(name="kick", file=kick, plugins=[builtin("Compressor", threshold_db=-20.0)]),
            Track(name="snare", file=snare, pan=0.3, plugins=[builtin("Reverb"), faulty]),
        ],
        target_lufs=-18.0,
    )  # fmt: skip


@pytest.mark.parametrize("threads", [1, 2])
def test_failing_plugin_is_named_and_bypassed(tmp_path, vst3_plugins, threads):
    session = faulty_session(tmp_path, vst3_plugins)
    out = tmp_path / "mix.wav"
    result = render(session, out, threads=threads)
    assert result.warnings == [
        "track 'snare' plugin 2 (AutomixFaulty.vst3) produced NaN at 0.50 s; rendered track 'snare' without it"
    ]
    without = session.model_copy(deep=True)
    without.tracks[1].plugins[1].bypass = True
    clean = render(without, tmp_path / "clean.wav", threads=threads)
    assert clean.warnings == []
    np.testing.assert_array_equal(read_audio(out)[0], read_audio(tmp_path / "clean.wav")[0])
    infinite = faulty_session(tmp_path, vst3_plugins, Kind="Infinity")
    assert "produced Inf at 0.50 s" in render(infinite, threads=threads).warnings[0]


def test_failing_plugin_with_strict_writes_nothing(tmp_path, vst3_plugins):
    session = faulty_session(tmp_path, vst3_plugins)
    out = tmp_path / "mix.wav"
    with pytest.raises(RenderError, match=r"track 'snare' plugin 2 \(AutomixFaulty.vst3\) produced NaN at 0.50 s"):
        render(session, out, strict=True)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failing_master_plugin_raises(tmp_path, vst3_plugins):
    session = faulty_session(tmp_path, vst3_plugins)
    session.tracks[1].plugins = session.tracks[1].plugins[:1]
    session.master = [builtin("Gain", gain_db=-1.0), vst3(vst3_plugins["AutomixFaulty"], Fault=True)]
    out = tmp_path / "mix.wav"
    with pytest.raises(RenderError, match=r"master plugin 2 \(AutomixFaulty.vst3\) produced NaN at 0.50 s"):
        render(session, out)
    assert not out.exists()
