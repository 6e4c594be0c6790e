"""The kit catalogue: every kit loads from its Debian package and plays every groove key (real samples).

Needs the packages of ``automix.data.kits.APT_PACKAGES`` (``.ci/apt-packages.txt``); a missing
package fails with the apt-get command to run. Kits are prepared once into automix's cache
folder (about a minute for all of them the first time, then a second).
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from automix.data import grooves, kits
from daw_bridge.errors import AutomixError

SR = kits.SAMPLE_RATE


def _level_db(x: np.ndarray) -> float:
    """Peak of the 10 ms RMS envelope of the first 0.3 s, as the calibration measures it."""
    seg = np.square(x[: int(0.3 * SR)], dtype=np.float64)
    n = int(0.01 * SR)
    seg = np.pad(seg, (0, max(0, n - len(seg))))
    return 10 * math.log10(float(np.convolve(seg, np.ones(n) / n, mode="valid").max()))


def test_catalogue_is_documented_and_acoustic():
    names = kits.kit_names()
    assert len(names) >= 20 and len(set(names)) == len(names)
    hydrogen = [n for n in names if kits.CATALOGUE[n].source == "hydrogen"]
    soundfont = [n for n in names if kits.CATALOGUE[n].source == "soundfont"]
    assert {"GMRockKit", "BJA_Pacific", "ColomboAcousticDrumkit", "ForzeeStereo", "Millo-Drums_v.1",
            "Millo_MultiLayered2", "Millo_MultiLayered3", "rumpf_kit_z01"} <= set(hydrogen)
    assert {"AVL Black Pearl", "AVL Red Zeppelin"} <= set(soundfont)
    for vendor in ("FluidR3", "MuseScore"):
        assert {f"{vendor} {k}" for k in ("Standard", "Room", "Power", "Jazz", "Brush")} <= set(soundfont)
    for name, spec in kits.CATALOGUE.items():
        assert spec.licence and spec.licence_source and spec.author and spec.family and spec.package
        assert spec.package in kits.APT_PACKAGES
        assert Path(spec.licence_source.split(" ")[0]).is_file(), spec.licence_source  # the copyright file is there
        assert set(spec.keys) == set(kits.GROOVE_KEYS), name
        assert spec.articulation in ("sticks", "brushes")
        d = spec.to_dict()
        assert d["name"] == name and d["licence"] == spec.licence
        assert set(spec.key_map()) == {str(k) for k in kits.GROOVE_KEYS}
    assert kits.CATALOGUE["FluidR3 Brush"].articulation == "brushes"
    # electronic, percussion and duplicate kits are left out, each with its reason
    left = " ".join(kits.LEFT_OUT)
    for name in ("TR808", "ElectricEmpireKit", "HardElectro1", "VariBreaks", "Audiophob", "The Black Pearl 1.0",
                 "circAfrique", "Gimme A Hand", "FluidR3_GS"):
        assert name in left
    assert not any(re.search(r"808|electro|electronic", n, re.I) for n in names)
    fams = kits.families()
    assert len(fams) >= 8 and fams["avl"] == ["AVL Black Pearl", "AVL Red Zeppelin"]
    assert len(fams["fluidr3"]) == 10  # MuseScore's kits are Fluid R3's samples: one family


@pytest.mark.parametrize("name", kits.kit_names())
def test_every_kit_loads_and_plays_every_key(name):
    kit = kits.load_kit(name)
    assert kit.name == name and kit.info["kit"]["name"] == name
    for key in kits.GROOVE_KEYS:
        layers = kit.layers[key]
        covered = set()
        for layer in layers:
            assert 1 <= layer.lo <= layer.hi <= 127 and layer.ref_velocity > 0
            covered |= set(range(layer.lo, layer.hi + 1))
            x = layer.audio
            assert x.dtype == np.float32 and x.ndim == 1 and np.isfinite(x).all()
            assert 0.01 * SR < len(x) <= 5.0 * SR
            peak = float(np.abs(x).max())
            assert peak > 1e-4
            # the sound starts at once (leading silence cut: within 2 ms of the start) and fades out
            onset = int(np.argmax(np.abs(x) >= peak * 10 ** (-50 / 20)))
            assert onset <= 0.002 * SR and abs(float(x[-1])) < 0.01 * peak
        # the layers cover every velocity (Hydrogen kits' ranges leave gaps of a velocity or two:
        # those play the nearest layer)
        gaps = [v for v in range(1, 128) if v not in covered]
        assert all(min(min(abs(v - lay.lo), abs(v - lay.hi)) for lay in layers) <= 2 for v in gaps), (name, key, gaps)
        for velocity in (1, 30, 64, 100, 127):
            hit = kit.hit(key, velocity)
            assert np.isfinite(hit).all() and np.abs(hit).max() > 0
        assert np.abs(kit.hit(key, 127)).max() > np.abs(kit.hit(key, 20)).max()  # louder when harder
    # calibration: each piece's reference hit sits at its physical level (re. the snare's), at 1 m
    ref = {piece: _level_db(kit.reference_hit(piece)) for piece in kits.PIECES}
    for piece, want in kits.PIECE_LEVEL_DB.items():
        assert ref[piece] - ref["snare"] == pytest.approx(want, abs=0.05), (name, piece)
    # a note renders on its frame, as its piece's source
    events = [(1000, grooves.SNARE, 100), (5000, grooves.KICK, 90), (5000, grooves.HH_CLOSED, 70)]
    sources = kit.play(events, 3 * SR)
    assert set(sources) == {"snare", "kick", "hihat"}
    snare = sources["snare"]
    assert np.abs(snare[:1000]).max() == 0 and np.abs(snare[1000:1100]).max() > 0
    first = kit.hit(grooves.SNARE, 100)
    assert np.allclose(snare[1000:1000 + len(first)], first[: 3 * SR - 1000])


def test_velocity_layers_are_different_recordings():
    """A soft hit of a multi-layer kit plays another recording, not the loud one turned down."""
    for name in ("GMRockKit", "BJA_Pacific", "AVL Black Pearl"):
        kit = kits.load_kit(name)
        soft, loud = kit.layer_for(grooves.SNARE, 20), kit.layer_for(grooves.SNARE, 127)
        assert soft is not loud
        n = min(len(soft.audio), len(loud.audio), SR // 4)
        a, b = soft.audio[:n].astype(np.float64), loud.audio[:n].astype(np.float64)
        assert abs(np.dot(a, b)) / math.sqrt(np.dot(a, a) * np.dot(b, b)) < 0.99


def test_derived_and_aliased_keys():
    """A two-tom kit's third tom is its rack tom resampled lower (longer, lower pitched); an
    alias plays the named instrument."""
    bja = kits.load_kit("BJA_Pacific")
    high, mid = bja.layer_for(grooves.TOM_HIGH, 110).audio, bja.layer_for(grooves.TOM_MID, 110).audio
    assert kits.CATALOGUE["BJA_Pacific"].keys[grooves.TOM_MID].transpose == -3.0
    assert len(mid) > len(high) * 1.1  # 3 semitones lower: 2**(3/12) = 1.19 times longer

    def centroid(x):
        spec = np.abs(np.fft.rfft(x[: SR // 4], SR // 2))
        return float((spec * np.arange(len(spec))).sum() / spec.sum())

    assert centroid(mid) < centroid(high)
    assert "ride bell" in kits.CATALOGUE["BJA_Pacific"].key_map()["56"].lower()


def test_open_hi_hat_is_choked_by_the_pedal():
    kit = kits.load_kit("GMRockKit")
    ms = lambda t: round(t * SR / 1000)  # noqa: E731
    events = [(ms(100), grooves.HH_OPEN, 110), (ms(300), grooves.HH_PEDAL, 60)]
    choked = kit.play(events, SR)["hihat"]
    ringing = kit.play(events, SR, choke_hats=False)["hihat"]
    assert np.array_equal(choked[: ms(300)], ringing[: ms(300)])
    late = slice(ms(360), ms(700))
    assert float((choked[late] ** 2).sum()) < 0.05 * float((ringing[late] ** 2).sum())


def test_missing_package_names_the_command(monkeypatch, tmp_path):
    gone = dataclasses.replace(kits.CATALOGUE["ForzeeStereo"], path=str(tmp_path / "nothing"))
    monkeypatch.setitem(kits.CATALOGUE, "ForzeeStereo", gone)
    with pytest.raises(AutomixError, match="apt-get install -y --no-install-recommends hydrogen-drumkits"):
        kits.check_kits(["ForzeeStereo"])
    with pytest.raises(AutomixError, match="hydrogen-drumkits"):
        kits.load_kit("ForzeeStereo", cache=tmp_path / "cache")
    with pytest.raises(AutomixError, match="unknown kit"):
        kits.load_kit("TR808EmulationKit")
