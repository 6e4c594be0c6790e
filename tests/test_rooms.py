"""Rooms and microphones: image-source responses, their physics, and the FFT convolution (pyroomacoustics).

No drum samples needed: the responses are checked against geometry (delays, 1/r levels, polar
patterns, Sabine's RT60) and the convolution against numpy's direct convolution.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal as ssig

from automix.data import recording, rooms
from daw_bridge.errors import AutomixError

SR = 44100
C = rooms.SOUND_SPEED


def _room(rt60=0.4, dims=(5.0, 6.0, 3.0), order=8):
    return rooms.Room(dims, rt60, rooms.absorption_for(rt60, dims), order)


def test_polar_patterns_and_diffuse_efficiency():
    assert rooms.pattern_gain("cardioid", 1.0) == 1.0 and rooms.pattern_gain("cardioid", -1.0) == 0.0
    assert rooms.pattern_gain("cardioid", 0.0) == 0.5 and rooms.pattern_gain("omni", -1.0) == 1.0
    assert rooms.pattern_gain("hypercardioid", -1.0) == pytest.approx(-0.5)  # its rear lobe, inverted
    assert rooms.diffuse_efficiency("omni") == 1.0
    assert rooms.diffuse_efficiency("cardioid") == pytest.approx(1 / 3)
    assert rooms.diffuse_efficiency("hypercardioid") == pytest.approx(0.25)
    # a drum head radiates along its axis; normalised to an omni's power
    axis = (0.0, 0.0, 1.0)
    up, side = rooms.head_directivity(axis, np.array([0.0, 0.0, 1.0])), rooms.head_directivity(axis, np.array([1.0, 0, 0]))
    assert 20 * math.log10(up / side) == pytest.approx(6.02, abs=0.01)
    rng = np.random.default_rng(0)
    dirs = rng.standard_normal((3, 200000))
    dirs /= np.linalg.norm(dirs, axis=0)
    assert float(np.mean(rooms.head_directivity(axis, dirs) ** 2)) == pytest.approx(1.0, abs=0.01)


def test_eyring_absorption():
    dims = (5.0, 6.0, 3.0)
    a = rooms.absorption_for(0.5, dims)
    volume, surface = 90.0, 2 * (30 + 15 + 18)
    assert 0.161 * volume / (-surface * math.log(1 - a)) == pytest.approx(0.5, rel=1e-3)
    with pytest.raises(AutomixError, match="cannot have an RT60"):
        rooms.absorption_for(0.02, dims)


def test_direct_sound_delay_level_and_pattern():
    """The direct sound arrives at distance / c with level 1 / distance (1 at 1 m) times the
    mic's pattern gain; a cardioid facing away hears it 20+ dB down."""
    room = _room()
    src = (2.0, 2.0, 1.0)
    mics = [rooms.Mic("near", (2.0, 2.5, 1.0), (0.0, -1.0, 0.0), "omni"),
            rooms.Mic("far", (2.0, 4.0, 1.0), (0.0, -1.0, 0.0), "cardioid"),
            rooms.Mic("away", (2.0, 4.0, 1.2), (0.0, 1.0, 0.0), "cardioid")]
    resp = rooms.room_responses(room, {"p": src}, mics, sample_rate=SR, rng=np.random.default_rng(1))
    for j, (dist, gain) in enumerate(((0.5, 1.0), (2.0, 1.0))):
        h = resp.early[0, j]
        delay = dist / C * SR
        peak = int(np.argmax(np.abs(h)))
        assert abs(peak - delay) <= 1.0
        assert resp.direct_delay[0, j] == pytest.approx(delay)
        near = h[int(delay) - 16: int(delay) + 17]  # the fractional-delay sinc of the direct sound
        assert math.sqrt(float(np.sum(near ** 2))) == pytest.approx(gain / dist, rel=0.03)
    # the direct sound of a source behind a cardioid: its pattern gain there is ~0
    d_away = math.dist(src, mics[2].position)
    cos_away = float(np.dot(mics[2].aim, np.subtract(src, mics[2].position)) / d_away)
    assert resp.direct_gain[0, 2] == pytest.approx(rooms.pattern_gain("cardioid", cos_away) / d_away)
    assert 20 * math.log10(resp.direct_gain[0, 1] / resp.direct_gain[0, 2]) > 20.0
    # later arrivals at a farther mic: the path difference, to the sample
    lag = resp.direct_delay[0, 1] - resp.direct_delay[0, 0]
    assert lag == pytest.approx((2.0 - 0.5) / C * SR)


def test_direct_gains_and_head_axes_scale_only_the_direct_sound():
    room = _room()
    src = {"drum": (2.0, 2.0, 1.0)}
    mic = [rooms.Mic("m", (2.0, 3.0, 1.0), (0.0, -1.0, 0.0), "omni")]
    plain = rooms.room_responses(room, src, mic, sample_rate=SR, rng=np.random.default_rng(1))
    shaded = rooms.room_responses(room, src, mic, sample_rate=SR, rng=np.random.default_rng(1),
                                  direct_gains={("drum", "m"): 0.25})
    d = int(round(1.0 / C * SR))
    win = slice(d - 20, d + 20)
    assert float(np.abs(shaded.early[0, 0, win]).max()) == pytest.approx(0.25 * float(np.abs(plain.early[0, 0, win]).max()), rel=0.05)
    late = slice(d + 200, None)  # reflections untouched
    assert np.allclose(shaded.early[0, 0, late], plain.early[0, 0, late])
    assert np.array_equal(shaded.tails, plain.tails)


def test_reverberation_time_matches_the_room():
    """Schroeder's backward integral of early part + diffuse tail, in the 250-2000 Hz band where an
    RT60 is quoted, decays at the room's RT60 (the T20 slope, -5 to -25 dB, within 20 %), for a
    dead and a live room."""
    for rt60, dims in ((0.3, (4.0, 5.0, 2.8)), (0.9, (8.0, 10.0, 4.0))):
        room = _room(rt60, dims)
        mic = [rooms.Mic("m", (dims[0] / 2 + 0.7, dims[1] / 2 + 1.1, 1.5), (0.0, -1.0, 0.0), "omni")]
        resp = rooms.room_responses(room, {"p": (dims[0] / 2, dims[1] / 2 - 1.0, 1.0)}, mic, sample_rate=SR,
                                    rng=np.random.default_rng(3))
        h = np.zeros(resp.crossover + resp.tails.shape[-1] + 100)
        h[: resp.early.shape[-1]] += resp.early[0, 0]
        h[resp.crossover: resp.crossover + resp.tails.shape[-1]] += resp.tails[0]
        h = ssig.sosfilt(ssig.butter(4, (250, 2000), btype="bandpass", fs=SR, output="sos"), h)  # mid band
        edc = np.cumsum((h ** 2)[::-1])[::-1]
        edc_db = 10 * np.log10(np.maximum(edc / edc[0], 1e-30))
        i5, i25 = int(np.argmax(edc_db <= -5)), int(np.argmax(edc_db <= -25))
        t20 = 3 * (i25 - i5) / SR
        assert t20 == pytest.approx(rt60, rel=0.2), (rt60, t20)
        # the early part covers the crossover time and the tail starts where the images stop
        assert resp.crossover / SR > 0.02 and resp.early.shape[-1] == resp.crossover + 32


def test_fft_convolution_equals_direct_convolution():
    room = _room(0.5)
    sources = {"a": (1.5, 2.0, 1.0), "b": (3.0, 2.5, 0.6)}
    mics = [rooms.Mic("x", (2.0, 3.5, 1.6), (0.0, 0.0, -1.0), "cardioid"),
            rooms.Mic("y", (2.6, 3.5, 1.6), (0.0, 0.0, -1.0), "omni")]
    resp = rooms.room_responses(room, sources, mics, sample_rate=SR, rng=np.random.default_rng(2))
    rng = np.random.default_rng(5)
    length = SR
    sig = {"a": rng.standard_normal(length) * (rng.random(length) < 0.01),
           "b": np.concatenate([np.zeros(length // 2), rng.standard_normal(length // 2)])}
    got = rooms.record(resp, sig, length, chunk_blocks=3)
    for j, m in enumerate(resp.mics):
        want = np.zeros(length)
        for i, p in enumerate(resp.pieces):
            want += np.convolve(sig[p], resp.early[i, j])[:length]
        total = sig["a"] + sig["b"]
        want[resp.crossover:] += np.convolve(total, resp.tails[j])[: length - resp.crossover]
        assert np.abs(got[m] - want).max() < 1e-5 * np.abs(want).max()
    # contributions add up: record(a) + record(b) == record(a, b)
    a, b = rooms.record(resp, {"a": sig["a"]}, length), rooms.record(resp, {"b": sig["b"]}, length)
    for m in resp.mics:
        assert np.abs(a[m] + b[m] - got[m]).max() < 1e-6 * np.abs(got[m]).max()
    with pytest.raises(ValueError, match="no room response"):
        rooms.record(resp, {"c": sig["a"]}, length)
    with pytest.raises(AutomixError, match="outside"):
        rooms.room_responses(room, {"a": (9.0, 1.0, 1.0)}, mics, sample_rate=SR, rng=rng)


def test_drawn_setups_are_plausible_and_deterministic():
    from automix.data.generate import load_recipe
    from daw_bridge.stems import DRUM_SLOTS

    spec = load_recipe().recording
    pieces = list(recording.kit_layout(np.random.default_rng(0), ["kick"]))
    assert pieces == ["kick"]
    seen = {"placement": set(), "technique": set(), "room": set(), "inside": set()}
    for seed in range(40):
        a = recording.draw_setup(np.random.default_rng(seed), spec, list(recording.SLOT_PIECE.values())
                                 + ["crash", "ride", "splash", "cowbell"], DRUM_SLOTS)
        b = recording.draw_setup(np.random.default_rng(seed), spec, list(recording.SLOT_PIECE.values())
                                 + ["crash", "ride", "splash", "cowbell"], DRUM_SLOTS)
        assert a.to_dict() == b.to_dict()
        assert recording.setup_from_dict(a.to_dict()).to_dict() == a.to_dict()
        seen["placement"].add(a.pair["placement"])
        seen["technique"].add(a.pair["technique"])
        seen["room"].add(a.room_type)
        seen["inside"].add(a.mic_info["kick"]["placement"])
        pos = {m.name: np.array(m.position) for m in a.mics}
        piece = {p: np.array(i["position"]) for p, i in a.pieces.items()}
        # the kit stands as a kit does (drummer's view: hi-hat left of the snare, floor tom right)
        assert piece["hihat"][0] < piece["snare"][0] < piece["kick"][0] < piece["tom_floor"][0]
        assert piece["crash"][2] > piece["hihat"][2] and piece["tom_high"][2] > piece["kick"][2]
        # close mics a few cm from their drum's head, aimed into it
        for slot, target in recording.SLOT_PIECE.items():
            m = next(x for x in a.mics if x.name == slot)
            to_src = piece[target] - pos[slot]
            d = float(np.linalg.norm(to_src))
            assert 0.03 < d < 0.45, (slot, d)
            if slot == "hi-hat":  # above the hats, pointed down (and outwards, away from the snare)
                assert m.aim[2] < -0.5 and pos[slot][2] > piece["hihat"][2]
            else:
                assert float(np.dot(m.aim, to_src / d)) > 0.3  # roughly towards the source
        # the pair: L on the drummer's left, above the kit or in front of it
        assert pos["overhead_L"][0] < pos["overhead_R"][0]
        if a.pair["placement"] == "overhead":
            assert pos["overhead_L"][2] > 1.4
        else:
            assert pos["overhead_L"][1] > piece["kick"][1] + 1.0
        if a.pair["technique"] == "ortf":
            assert np.linalg.norm(pos["overhead_L"] - pos["overhead_R"]) == pytest.approx(0.17, abs=0.002)
            assert a.pair["angle_deg"] == 110.0
        if a.pair["linked_gains"]:
            assert a.target_peak_dbfs["overhead_L"] == a.target_peak_dbfs["overhead_R"]
    assert seen["placement"] == {"overhead", "room"} and seen["technique"] == {"spaced", "xy", "ortf"}
    assert seen["room"] == {"booth", "studio", "live"} and seen["inside"] == {"inside", "outside"}
