"""A plan's EQ and compressor chains written as Ardour's own ACE EQ and ACE Compressor.

The mapping (ranges, bandwidth, shelf corners, ACE EQ's settling, where gains go) is checked
alone; then the real Ardour 7 renders a session with them (ardour7-export) and its render is
compared with daw_bridge's render of the plan, and the session reads back as the plan."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge.formats.ardour import read_ardour_session, write_ardour_session
from daw_bridge.formats.ardour.ace import (
    COMP_URI,
    EQ_URI,
    ace_chain,
    as_ardour_plays,
    octaves_to_q,
    q_to_octaves,
    settled_value,
    settling_target,
    shelf_corner,
)
from daw_bridge.render import render
from daw_bridge.session import PluginSpec, Session, Track
from tests.test_daw_ardour import ardour_export

SR = 48000
SHELF_Q = 1 / math.sqrt(2)


def plug(name: str, **params: float) -> PluginSpec:
    return PluginSpec(kind="builtin", name=name, params=params)


def eq_chain() -> list[PluginSpec]:
    return [plug("LowShelfFilter", gain_db=4.0, cutoff_frequency_hz=150.0, q=SHELF_Q),
            plug("PeakFilter", gain_db=-6.0, cutoff_frequency_hz=800.0, q=2.0),
            plug("PeakFilter", gain_db=3.0, cutoff_frequency_hz=3000.0, q=0.5),
            plug("HighShelfFilter", gain_db=-5.0, cutoff_frequency_hz=8000.0, q=SHELF_Q)]  # fmt: skip


def snr_db(audio: np.ndarray, reference: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((audio - reference) ** 2)))


# --------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize("q", [0.27, 0.5, SHELF_Q, 2.0, 14.0])
def test_bandwidth_in_octaves_is_rbj_q(q):
    assert octaves_to_q(q_to_octaves(q)) == pytest.approx(q, rel=1e-12)
    assert q_to_octaves(SHELF_Q) == pytest.approx(1.9, abs=0.01)  # Q 0.707: about 1.9 octaves


@pytest.mark.parametrize(("freq", "gain", "low"), [(100.0, 6.0, True), (1000.0, -12.0, True), (8000.0, 9.0, False),
                                                   (500.0, -20.0, False)])
def test_shelf_corners_map_back(freq, gain, low):
    ace = shelf_corner(freq, gain, SR, low=low, to_ace=True)
    assert shelf_corner(ace, gain, SR, low=low, to_ace=False) == pytest.approx(freq, rel=1e-9)
    # a boosted low shelf's ACE corner lies below pedalboard's (its zeros sit sqrt(A) above its poles)
    assert (ace < freq) == (low == (gain > 0))


@pytest.mark.parametrize(("value", "threshold"), [(4.0, 0.05), (-6.0, 0.05), (19.9, 0.05), (-0.06, 0.05),
                                                  (0.3, 0.05), (120.0, 0.1), (8000.0, 0.1), (1.2, 0.001)])
def test_settling_lands_on_the_setting(value, threshold):
    """ACE EQ glides each setting from 0, 1 - r of the way per 64 frames, and stops within the
    threshold of what is written: what is written lands exactly on the plan's value."""
    written = settling_target(value, threshold, SR)
    r = math.exp(-2 * math.pi * 64 * 25 / SR)
    v = 0.0
    while abs(v - written) >= threshold:
        v += (1 - r) * (written - v)
    assert v == pytest.approx(value, abs=1e-9)
    assert settled_value(written, threshold, SR) == pytest.approx(value, abs=1e-9)


def test_chain_rules_where_each_plugin_goes():
    ace = ace_chain([*eq_chain(), plug("Gain", gain_db=2.0), plug("Gain", gain_db=1.0)], SR, "t")
    assert [p.uri for p in ace.plugins] == [EQ_URI] and ace.post_gain_db == 3.0 and not ace.nonlinear
    ports = {symbol: value for _, symbol, _, value in ace.plugins[0].port_list()}
    assert ports["filtogl"] == ports["filtog2"] == 1 and ports["filtog3"] == 0  # two bells of four used

    comp = plug("Compressor", threshold_db=-20.0, ratio=4.0, attack_ms=5.0, release_ms=100.0)
    ace = ace_chain([plug("Gain", gain_db=-3.0), *eq_chain()[:2], comp, plug("Gain", gain_db=4.0)], SR, "t")
    assert [p.uri for p in ace.plugins] == [EQ_URI, COMP_URI] and ace.post_gain_db == 4.0 and ace.nonlinear
    assert ace.plugins[0].ports["master"] == -3.0  # gain before the compressor drives it: stays before it
    ports = ace.plugins[1].ports
    assert (ports["thr"], ports["rat"]) == (-20.0, 4.0)
    assert ports["att"] == pytest.approx(5.0 / (2 * math.pi)) and ports["rel"] == pytest.approx(100.0 / (2 * math.pi))
    assert any("ACE Compressor" in n for n in ace.notes)

    bells = [plug("PeakFilter", gain_db=1.0 + i, cutoff_frequency_hz=200.0 * (i + 1), q=1.0) for i in range(5)]
    assert [p.uri for p in ace_chain(bells, SR, "t").plugins] == [EQ_URI, EQ_URI]  # four bells an EQ

    assert ace_chain([plug("Reverb"), *eq_chain()], SR, "t") is None  # no ACE counterpart: not written
    assert ace_chain([PluginSpec(kind="vst3", path=Path("x.vst3"))], SR, "t") is None


def test_what_ace_cannot_hold_is_written_near_with_a_note():
    ace = ace_chain([plug("PeakFilter", gain_db=23.0, cutoff_frequency_hz=1000.0, q=0.1),
                     plug("LowShelfFilter", gain_db=3.0, cutoff_frequency_hz=200.0, q=2.0)], SR, "track 'x'")
    text = " ".join(ace.notes)
    assert "+23.0 dB written as +20.0 dB" in text and "Q 0.1 written at Q 0.267" in text
    assert "shelf of Q 2 written at ACE EQ's only shelf Q, 0.707" in text
    back = as_ardour_plays([plug("PeakFilter", gain_db=23.0, cutoff_frequency_hz=1000.0, q=0.1)], SR)
    assert back[0].params["gain_db"] == pytest.approx(20.0) and back[0].params["q"] == pytest.approx(0.2667, abs=1e-3)
    same = as_ardour_plays(eq_chain(), SR)  # in range: the chain as it is
    for a, b in zip(same, eq_chain()):
        assert a.name == b.name and all(a.params[k] == pytest.approx(v, rel=1e-9) for k, v in b.params.items())


# --------------------------------------------------------------------------- the real Ardour


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ace")
    t = np.arange(SR * 2) / SR
    rng = np.random.default_rng(0)
    hits = np.exp(-(t % 0.25) * 20)
    files = {"hat": d / "hat.wav", "snare": d / "snare.wav", "oh": d / "oh.wav"}
    sf.write(files["hat"], (0.1 * rng.standard_normal(t.size) * hits).astype(np.float32), SR, subtype="FLOAT")
    sf.write(files["snare"], (0.3 * np.sin(2 * np.pi * 220 * t) * hits + 0.05 * rng.standard_normal(t.size)
                              * hits).astype(np.float32), SR, subtype="FLOAT")
    oh = 0.05 * rng.standard_normal((t.size, 2)) * hits[:, None]
    sf.write(files["oh"], oh.astype(np.float32), SR, subtype="FLOAT")
    return files


def _render_both(plan: Session, tmp_path: Path) -> tuple[np.ndarray, np.ndarray, Session]:
    result = write_ardour_session(plan, tmp_path / "s")
    ours = render(plan, normalize=False, tail_s=0.0).audio.astype(np.float64)
    ardour = ardour_export(result.folder, result.name, tmp_path / "ardour.wav", ours.shape[1])
    return ardour, ours, read_ardour_session(result.folder)


def test_ardour_plays_the_plans_eq(audio_files, tmp_path):
    """EQ on a mono, a panned mono and a stereo track and on the master: Ardour's render is
    daw_bridge's to within pedalboard's own float32 filter precision, and reads back as the plan."""
    plan = Session(name="eq", sample_rate=SR, master=[*eq_chain()[1:3], plug("Gain", gain_db=-2.0)], tracks=[
        Track(name="hat", file=audio_files["hat"], gain_db=2.0, pan=0.4, plugins=eq_chain()),
        Track(name="snare", file=audio_files["snare"], gain_db=-3.0, plugins=eq_chain()[::-1]),
        Track(name="oh", file=audio_files["oh"], gain_db=-1.0, plugins=eq_chain()),
    ])
    ardour, ours, back = _render_both(plan, tmp_path)
    flat = render(plan.model_copy(update={"master": []}).model_copy(
        update={"tracks": [t.model_copy(update={"plugins": []}) for t in plan.tracks]}), normalize=False, tail_s=0.0)
    assert snr_db(flat.audio.astype(np.float64), ours) < 10  # the EQ changes the mix a lot ...
    assert snr_db(ardour, ours) > 55  # ... and Ardour plays it as daw_bridge does
    for track, read in zip(plan.tracks, back.tracks):
        kept = [(p.name, p.params) for p in read.plugins]
        assert sorted(n for n, _ in kept) == sorted(p.name for p in track.plugins)
        for name, params in kept:
            match = [p for p in track.plugins if p.name == name and
                     p.params["cutoff_frequency_hz"] == pytest.approx(params["cutoff_frequency_hz"], rel=1e-5)]
            assert match and all(match[0].params[k] == pytest.approx(v, rel=1e-5, abs=1e-6) for k, v in params.items())
    assert [p.name for p in back.master] == ["PeakFilter", "PeakFilter", "Gain"]
    assert back.master[-1].params["gain_db"] == pytest.approx(-2.0, abs=1e-6)


def test_ardour_compresses_near_the_plan(audio_files, tmp_path):
    """ACE Compressor is not pedalboard's Compressor: the compressed track comes near (measured
    21-23 dB SNR here), much nearer than the same track uncompressed at its best static gain."""
    comp = plug("Compressor", threshold_db=-30.0, ratio=4.0, attack_ms=5.0, release_ms=100.0)
    plan = Session(name="comp", sample_rate=SR, tracks=[
        Track(name="hat", file=audio_files["hat"], gain_db=8.0, plugins=[comp, plug("Gain", gain_db=3.0)])])
    ardour, ours, back = _render_both(plan, tmp_path)
    raw = render(plan.model_copy(update={"tracks": [plan.tracks[0].model_copy(update={"plugins": []})]}),
                 normalize=False, tail_s=0.0).audio.astype(np.float64)
    static = raw * float(np.sum(raw * ours) / np.sum(raw**2))
    assert snr_db(ardour, ours) > 18 and snr_db(ardour, ours) > snr_db(static, ours) + 5
    read = back.tracks[0]
    assert [p.name for p in read.plugins] == ["Compressor", "Gain"]  # +11 dB: +6 dB on the fader, the rest after it
    assert read.plugins[0].params == pytest.approx(comp.params, rel=1e-5)
    assert read.gain_db + read.plugins[1].params["gain_db"] == pytest.approx(11.0, abs=0.02)
