"""The rule-based console (daw_bridge.rules): levels, pans, high-passes, master, notes."""

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from daw_bridge import rules
from daw_bridge.loudness import LoudnessMeter
from daw_bridge import import_stems
from daw_bridge.render import render

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 44100
SECONDS = 2.0


def _hits(t, period, decay, signal):
    return np.exp(-(t % period) / decay) * signal


def _write(folder, stems):
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in stems.items():
        sf.write(folder / name, np.asarray(audio, dtype=np.float32).T, SR)
    return folder


def drum_stems(folder, *, silent=None):
    """Eight drum stems named like DAW exports, at very different raw levels."""
    n = int(SR * SECONDS)
    t = np.arange(n) / SR
    rng = np.random.default_rng(1)
    stems = {
        "01 Kick.wav": 0.9 * _hits(t, 0.5, 0.08, np.sin(2 * np.pi * 60 * t)),
        "02 Snare.wav": 0.03 * _hits(t + 0.25, 0.5, 0.06, rng.standard_normal(n)),
        "HH.wav": 0.6 * _hits(t, 0.25, 0.02, rng.standard_normal(n)),
        "Tom 1.wav": 0.2 * _hits(t, 0.6, 0.15, np.sin(2 * np.pi * 180 * t)),
        "Tom 2.wav": 0.05 * _hits(t, 0.7, 0.15, np.sin(2 * np.pi * 140 * t)),
        "Floor Tom.wav": 0.7 * _hits(t, 0.9, 0.2, np.sin(2 * np.pi * 90 * t)),
        "OH L.wav": 0.01 * rng.standard_normal(n),
        "OH R.wav": 0.3 * rng.standard_normal(n),
    }
    if silent:
        stems[silent] = np.zeros(n)
    return _write(folder, stems)


def band_stems(folder):
    """A second set: kick, bass DI, vocal, two guitars, stereo keys and a file with no role."""
    n = int(SR * SECONDS)
    t = np.arange(n) / SR
    rng = np.random.default_rng(2)
    vibrato = np.sin(2 * np.pi * 220 * t + 3 * np.sin(2 * np.pi * 5 * t))
    stems = {
        "Kick.wav": 0.5 * _hits(t, 0.5, 0.08, np.sin(2 * np.pi * 55 * t)),
        "Bass DI.wav": 0.04 * np.sin(2 * np.pi * 41 * t),
        "Vox.wav": 0.8 * vibrato * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t)),
        "Gtr 1.wav": 0.1 * np.sign(np.sin(2 * np.pi * 196 * t)),
        "Gtr 2.wav": 0.02 * np.sign(np.sin(2 * np.pi * 247 * t)),
        "Keys.wav": np.stack([0.05 * np.sin(2 * np.pi * 330 * t), 0.07 * np.sin(2 * np.pi * 262 * t)]),
        "Thing.wav": 0.2 * rng.standard_normal(n),
    }
    return _write(folder, stems)


def _solo_loudness(plan, track):
    """Loudness of one planned track as it will sound (its chain, gain and pan), LUFS."""
    alone = plan.model_copy(update={"tracks": [track], "master": [], "target_lufs": None})
    return render(alone, None, normalize=False, tail_s=0.0, threads=1).loudness_before_lufs


def _tracks(plan):
    return {t.name: t for t in plan.tracks}


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    folder = drum_stems(tmp_path_factory.mktemp("drums") / "stems", silent="Perc.wav")
    return folder, rules.rule_based_plan(folder)


@pytest.fixture(scope="module")
def band(tmp_path_factory):
    folder = band_stems(tmp_path_factory.mktemp("band") / "stems")
    return folder, rules.rule_based_plan(folder)


def test_drum_levels_follow_the_role_table(drums):
    _folder, plan = drums
    tracks = _tracks(plan)
    # LU re the reference, per track: overheads share one budget (2 tracks), each tom has its own
    expected = {
        "01 Kick": 0.0,
        "02 Snare": 0.0,
        "HH": -10.0,
        "Tom 1": -3.0,
        "Tom 2": -3.0,
        "Floor Tom": -3.0,
        "OH L": -6.0 - 10 * math.log10(2),
        "OH R": -6.0 - 10 * math.log10(2),
    }
    raw = {name: _solo_loudness(plan, tracks[name].model_copy(update={"gain_db": 0.0})) for name in expected}
    assert max(raw.values()) - min(raw.values()) > 20  # the stems really start far apart
    for name, lu in expected.items():
        measured = _solo_loudness(plan, tracks[name])
        assert measured == pytest.approx(rules.REFERENCE_LUFS + lu, abs=0.5), name
        assert -120 <= tracks[name].gain_db <= 24


def test_drum_pans(drums):
    _folder, plan = drums
    pans = {name: t.pan for name, t in _tracks(plan).items()}
    assert pans["01 Kick"] == 0.0 and pans["02 Snare"] == 0.0
    assert pans["OH L"] == -0.7 and pans["OH R"] == 0.7  # independent noise: the names decide
    # the drummer's perspective: tom 1 and the hi-hat on the left, the floor tom on the right
    assert pans["Tom 1"] < pans["Tom 2"] < pans["Floor Tom"]
    assert pans["Tom 1"] < 0 < pans["Floor Tom"]
    assert pans["Tom 1"] == pytest.approx(-pans["Floor Tom"])
    assert -0.5 <= pans["HH"] < 0
    assert not any("turned" in note for note in plan.notes)


def _kit_with_bleed(folder, *, hh_in, floor_in):
    """Close mics and an overhead pair that hears them: ``hh_in``/``floor_in`` name the overhead
    file ("OH L.wav" or "OH R.wav") that hears the hi-hat / the floor tom louder (by 12 dB)."""
    n = int(SR * SECONDS)
    t = np.arange(n) / SR
    rng = np.random.default_rng(5)
    close = {
        "Kick.wav": 0.8 * _hits(t, 0.5, 0.08, np.sin(2 * np.pi * 60 * t)),
        "HH.wav": 0.3 * _hits(t, 0.25, 0.03, rng.standard_normal(n)),
        "Tom 1.wav": 0.4 * _hits(t + 0.1, 0.6, 0.15, np.sin(2 * np.pi * 180 * t)),
        "Floor Tom.wav": 0.5 * _hits(t + 0.2, 0.9, 0.2, np.sin(2 * np.pi * 90 * t)),
    }
    delay = int(0.003 * SR)
    overheads = {name: 0.01 * rng.standard_normal(n) + 0.3 * close["Kick.wav"] for name in ("OH L.wav", "OH R.wav")}
    for source, near in (("HH.wav", hh_in), ("Tom 1.wav", hh_in), ("Floor Tom.wav", floor_in)):
        far = "OH R.wav" if near == "OH L.wav" else "OH L.wav"
        overheads[near][delay:] += 0.8 * close[source][:-delay]
        overheads[far][delay + 20 :] += 0.2 * close[source][: -delay - 20]
    return _write(folder, {**close, **overheads})


def test_overheads_are_turned_to_match_the_close_mics(tmp_path):
    # named the right way for the drummer's seat: the hi-hat side is OH L, nothing to turn
    plan = rules.rule_based_plan(_kit_with_bleed(tmp_path / "right", hh_in="OH L.wav", floor_in="OH R.wav"))
    pans = {name: t.pan for name, t in _tracks(plan).items()}
    assert (pans["OH L"], pans["OH R"], pans["HH"]) == (-0.7, 0.7, -0.3)
    assert not any("turned" in note for note in plan.notes)
    # named from the audience's side (OH L above the floor tom): the pair is turned round
    folder = _kit_with_bleed(tmp_path / "mirrored", hh_in="OH R.wav", floor_in="OH L.wav")
    plan = rules.rule_based_plan(folder)
    pans = {name: t.pan for name, t in _tracks(plan).items()}
    assert (pans["OH L"], pans["OH R"], pans["HH"], pans["Floor Tom"]) == (0.7, -0.7, -0.3, 0.6)
    note = next(note for note in plan.notes if "overheads turned round" in note)
    found = {m[0]: float(m[1]) for m in re.findall(r"'([^']+)' \(panned \w+\) ([+-][0-9.]+) dB", note)}
    assert set(found) == {"HH", "Tom 1", "Floor Tom"}  # the kick is centred: no vote
    assert found["HH"] == pytest.approx(12.0, abs=0.5) and found["Tom 1"] == pytest.approx(12.0, abs=0.5)
    assert found["Floor Tom"] == pytest.approx(-12.0, abs=0.5)
    # heard from the audience: every pan mirrored, the turned pair included
    front = {name: t.pan for name, t in _tracks(rules.rule_based_plan(folder, perspective="audience")).items()}
    assert front == {name: -pan + 0.0 for name, pan in pans.items()}


def test_highpass_on_every_track_but_bass(drums, band):
    for _folder, plan in (drums, band):
        for track in plan.tracks:
            hpfs = [p for p in track.plugins if p.name == "HighpassFilter"]
            if track.role == "bass":
                assert hpfs == []
            else:
                assert track.plugins[0].name == "HighpassFilter", track.name
                assert track.plugins[0].params["cutoff_frequency_hz"] > 0
    cutoffs = {t.role: t.plugins[0].params["cutoff_frequency_hz"] for t in drums[1].tracks if t.plugins}
    assert cutoffs["kick"] < cutoffs["tom_1"] < cutoffs["snare"] < cutoffs["overhead_L"] < cutoffs["hi-hat"]


def test_master_chain_and_loudness(drums):
    _folder, plan = drums
    assert plan.target_lufs == -16.0 and plan.true_peak_db == -1.0
    names = [p.name for p in plan.master]
    assert names == ["Gain", "Compressor", "Limiter", "Gain"]
    comp = plan.master[1].params
    assert comp["ratio"] == 2.0 and 10 <= comp["attack_ms"] <= 30 and comp["release_ms"] == 150
    result = render(plan, None)
    assert result.loudness_lufs == pytest.approx(-16.0, abs=0.2)
    assert result.true_peak_db <= -1.0
    assert not result.warnings
    audio = result.audio
    meter = LoudnessMeter(SR, 2)
    meter.add(audio)
    assert meter.integrated() == pytest.approx(-16.0, abs=0.2)


@pytest.mark.parametrize("target, ceiling", [(-10.0, -1.0), (-23.0, -2.0)])
def test_other_targets_are_hit_under_the_ceiling(tmp_path, target, ceiling):
    folder = drum_stems(tmp_path / "stems")
    plan = rules.rule_based_plan(folder, target_lufs=target, true_peak_db=ceiling)
    result = render(plan, None)
    assert result.loudness_lufs == pytest.approx(target, abs=0.2)
    assert result.true_peak_db <= ceiling


def test_silent_stem_noted_and_left_at_0_db(drums):
    _folder, plan = drums
    perc = _tracks(plan)["Perc"]
    assert perc.gain_db == 0.0
    assert any("'Perc'" in note and "silent" in note for note in plan.notes)
    assert any("share the 'overheads' level" in note for note in plan.notes)


def test_band_set(band):
    _folder, plan = band
    tracks = _tracks(plan)
    assert tracks["Bass DI"].role == "bass" and tracks["Vox"].role == "vocal"
    assert tracks["Bass DI"].pan == 0.0 and tracks["Vox"].pan == 0.0 and tracks["Kick"].pan == 0.0
    assert {tracks["Gtr 1"].pan, tracks["Gtr 2"].pan} == {-0.5, 0.5}
    assert tracks["Keys"].pan == 0.0  # a stereo file is balanced, not panned
    assert tracks["Thing"].role is None
    assert any("'Thing' has no role" in note for note in plan.notes)
    expected = {
        "Kick": 0.0,
        "Bass DI": 0.0,
        "Vox": 0.0,
        "Gtr 1": -4.0 - 10 * math.log10(2),
        "Gtr 2": -4.0 - 10 * math.log10(2),
        "Keys": -5.0,
        "Thing": rules.UNKNOWN_ROLE_LU,
    }
    for name, lu in expected.items():
        assert _solo_loudness(plan, tracks[name]) == pytest.approx(rules.REFERENCE_LUFS + lu, abs=0.5), name
    result = render(plan, None)
    assert result.loudness_lufs == pytest.approx(-16.0, abs=0.2)
    assert result.true_peak_db <= -1.0


def test_plan_is_deterministic(drums):
    folder, plan = drums
    again = rules.rule_based_plan(folder)
    assert again == plan
    assert again.model_dump() == plan.model_dump()


def test_session_source_is_not_changed_and_keeps_its_chain(tmp_path):
    from daw_bridge.session import PluginSpec

    folder = drum_stems(tmp_path / "stems")
    session = import_stems(folder)
    session.tracks[1].plugins = [PluginSpec(kind="builtin", name="Compressor", params={"ratio": 3.0})]
    before = session.model_dump()
    plan = rules.rule_based_plan(session, name="from session")
    assert session.model_dump() == before
    snare = _tracks(plan)["02 Snare"]
    assert [p.name for p in snare.plugins] == ["HighpassFilter", "Compressor"]
    assert plan.name == "from session"
    with pytest.raises(rules.RulesError):
        rules.rule_based_plan(session, mapping={"HH.wav": "snare"})


def test_mapping_pairing_by_name_and_click(tmp_path):
    n = int(SR * 1.0)
    rng = np.random.default_rng(3)
    folder = _write(
        tmp_path / "stems",
        {
            "Amb Left.wav": 0.1 * rng.standard_normal(n),
            "Amb Right.wav": 0.1 * rng.standard_normal(n),
            "Overhead.wav": 0.1 * rng.standard_normal(n),
            "Click.wav": 0.5 * rng.standard_normal(n),
            "Mystery.wav": 0.1 * rng.standard_normal(n),
        },
    )
    plan = rules.rule_based_plan(folder, mapping={"Mystery": "snare"}, target_lufs=-20.0)
    tracks = _tracks(plan)
    assert tracks["Amb Left"].pan == -1.0 and tracks["Amb Right"].pan == 1.0
    assert tracks["Overhead"].pan == 0.0  # a lone overhead sits in the centre
    assert tracks["Click"].mute
    assert tracks["Mystery"].role == "snare" and tracks["Mystery"].plugins[0].params["cutoff_frequency_hz"] == 80.0
    assert any("click" in note for note in plan.notes)


def test_bad_arguments(tmp_path):
    folder = drum_stems(tmp_path / "stems")
    with pytest.raises(rules.RulesError):
        rules.rule_based_plan(folder, target_lufs=3.0)
    with pytest.raises(rules.RulesError):
        rules.rule_based_plan(folder, true_peak_db=-30.0)
    with pytest.raises(rules.RulesError):
        rules.rule_based_plan(folder, target_lufs=-0.5, true_peak_db=-1.0)


def test_mix_with_rules_folder_and_files(tmp_path):
    folder = band_stems(tmp_path / "stems")
    out = folder / "mix.wav"
    result = rules.mix_with_rules(folder, out, plan_out=tmp_path / "plan.json")
    assert result.path == out and out.exists()
    assert result.loudness_lufs == pytest.approx(-16.0, abs=0.2)
    assert result.true_peak_db <= -1.0
    assert any("has no role" in note for note in result.notes)
    assert (tmp_path / "plan.json").exists()
    # again into the same folder: the earlier mix is not taken for a stem
    again = rules.mix_with_rules(folder, out, overwrite=True, plan_out=tmp_path / "plan.json")
    assert again.loudness_lufs == pytest.approx(-16.0, abs=0.2)
    from daw_bridge.session import load_session

    assert "mix" not in {t.name for t in load_session(tmp_path / "plan.json").tracks}
    files = sorted(p for p in folder.iterdir() if p.name != "mix.wav")
    in_memory = rules.mix_with_rules(files, target_lufs=-18.0)
    assert in_memory.audio.shape[0] == 2
    assert in_memory.loudness_lufs == pytest.approx(-18.0, abs=0.2)


def test_rules_never_imports_torch():
    code = "import daw_bridge.rules, sys; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_shared_budget_clamp_and_solo(tmp_path):
    n = int(SR * 1.0)
    t = np.arange(n) / SR
    rng = np.random.default_rng(4)
    folder = _write(
        tmp_path / "stems",
        {
            "Snare Top.wav": 0.3 * _hits(t, 0.5, 0.05, rng.standard_normal(n)),
            "Snare Bottom.wav": 0.05 * _hits(t, 0.5, 0.05, rng.standard_normal(n)),
            "Kick.wav": 2e-3 * np.sin(2 * np.pi * 60 * t),  # would need far more than +24 dB
        },
    )
    plan = rules.rule_based_plan(folder)
    tracks = _tracks(plan)
    assert tracks["Kick"].gain_db == 24.0
    assert any("'Kick' would need" in note and "clamped" in note for note in plan.notes)
    for name in ("Snare Top", "Snare Bottom"):  # two mics share the snare's level
        expected = rules.REFERENCE_LUFS - 10 * math.log10(2)
        assert _solo_loudness(plan, tracks[name]) == pytest.approx(expected, abs=0.5)
    # a soloed session: tracks not heard keep their level
    session = import_stems(folder)
    session.tracks[0].solo = True
    session.tracks[0].gain_db = -7.0
    soloed = _tracks(rules.rule_based_plan(session))
    heard = session.tracks[0].name
    others = [t for name, t in soloed.items() if name != heard]
    assert all(t.gain_db == 0.0 for t in others)
    assert soloed[heard].gain_db != -7.0


def test_impulses_cannot_reach_the_target_and_say_so(tmp_path):
    x = np.zeros(int(SR * 2.0))
    x[:: SR // 2] = 1.0  # clicks: a crest no limiter drive makes fit
    folder = _write(tmp_path / "stems", {"Snare.wav": x})
    plan = rules.rule_based_plan(folder)
    assert plan.master[0].params["gain_db"] < 60
    assert any("will miss" in note for note in plan.notes)
    result = render(plan, None)
    assert result.true_peak_db <= -1.0


def test_mix_audio_with_rules_equals_the_file_render(tmp_path):
    folder = drum_stems(tmp_path / "stems")
    files = sorted(folder.iterdir())
    arrays = [sf.read(f, dtype="float32")[0] for f in files]
    n = arrays[0].shape[0]
    stems = np.stack(arrays)
    mixed = rules.mix_audio_with_rules(stems, [f.name for f in files], SR, target_lufs=-20.0)
    assert mixed.shape == (2, n) and mixed.dtype == np.float32
    by_files = rules.mix_with_rules(files, target_lufs=-20.0, tail_s=0.0)
    assert np.abs(mixed - by_files.audio[:, :n]).max() < 1e-6
    meter = LoudnessMeter(SR, 2)
    meter.add(mixed)
    assert meter.integrated() == pytest.approx(-20.0, abs=0.2)
    # roles come from the names: the overhead pair is spread, the kick is centred
    left, right = np.abs(mixed[0]).sum(), np.abs(mixed[1]).sum()
    assert 0.5 < left / right < 2.0
    # names with the same stem name do not overwrite each other; [N, channels, frames] works
    twice = rules.mix_audio_with_rules(np.stack([stems[:2], stems[:2]], axis=1), ["Kick", "Kick"], SR)
    assert twice.shape == (2, n)


def test_audience_perspective_mirrors_every_pan_and_the_mix(tmp_path):
    folder = drum_stems(tmp_path / "stems")
    drummer = rules.rule_based_plan(folder)
    audience = rules.rule_based_plan(folder, perspective="audience")
    a, d = _tracks(audience), _tracks(drummer)
    assert {name: t.pan for name, t in a.items()} == {name: -t.pan + 0.0 for name, t in d.items()}
    assert a["HH"].pan > 0 > a["Floor Tom"].pan and a["OH L"].pan == 0.7
    assert {name: t.gain_db for name, t in d.items()} == pytest.approx({name: t.gain_db for name, t in a.items()}, abs=1e-3)
    assert any("audience's perspective" in note for note in audience.notes)
    assert not any("perspective" in note for note in drummer.notes)
    assert rules.rule_based_plan(folder, perspective="auto").tracks == drummer.tracks
    # the constant-power pan law is symmetric: the audience's mix is the drummer's, mirrored
    files = sorted(folder.iterdir())
    stems = np.stack([sf.read(f, dtype="float32")[0] for f in files])
    names = [f.name for f in files]
    seen_seated = rules.mix_audio_with_rules(stems, names, SR)
    seen_front = rules.mix_audio_with_rules(stems, names, SR, perspective="audience")
    assert np.abs(seen_front - seen_seated).max() > 0.01
    assert np.abs(seen_front[::-1] - seen_seated).max() < 1e-4
    with pytest.raises(rules.RulesError, match="perspective must be"):
        rules.rule_based_plan(folder, perspective="stage")


def test_mix_audio_with_rules_bad_input():
    stems = np.zeros((2, 1000), np.float32)
    with pytest.raises(rules.RulesError, match="2 stems"):
        rules.mix_audio_with_rules(stems, ["kick"], SR)
    with pytest.raises(rules.RulesError, match="shape"):
        rules.mix_audio_with_rules(np.zeros((3,), np.float32), ["a"], SR)
    stems[0, 10] = np.nan
    with pytest.raises(rules.RulesError, match="NaN"):
        rules.mix_audio_with_rules(stems, ["kick", "snare"], SR)


# --------------------------------------------------------------------------- one recording: its balance kept


def recorded_kit(folder, bleed=True):
    """Close mics and an overhead pair that hears every drum a few ms later (a real kit's bleed)."""
    n = int(SR * SECONDS)
    t = np.arange(n) / SR
    rng = np.random.default_rng(5)
    drums = {
        "Kick.wav": 0.5 * _hits(t, 0.5, 0.08, np.sin(2 * np.pi * 60 * t)),
        "Snare.wav": 0.2 * _hits(t + 0.25, 0.5, 0.06, rng.standard_normal(n)),
        "HH.wav": 0.05 * _hits(t, 0.125, 0.02, rng.standard_normal(n)),
        "Tom 1.wav": 0.01 * rng.standard_normal(n),  # not played: a quiet mic
    }
    stems = dict(drums)
    for side, delays in (("L", (120, 100, 60, 90)), ("R", (110, 140, 170, 130))):
        sources = drums.values() if bleed else [rng.standard_normal(n) * 0.05]
        over = sum(0.3 * np.roll(x, d) for x, d in zip(sources, delays))
        stems[f"OH {side}.wav"] = over
    return _write(folder, stems)


def test_one_recording_keeps_its_balance_and_says_why(tmp_path):
    plan = rules.rule_based_plan(recorded_kit(tmp_path / "kit"))
    assert all(t.gain_db == 0.0 for t in plan.tracks)
    assert any(n.startswith("one recording: the close mics bleed into the overheads") for n in plan.notes)
    assert {t.name: t.pan for t in plan.tracks}["OH L"] < 0 < {t.name: t.pan for t in plan.tracks}["OH R"]
    assert plan.master  # the bus is still calibrated to the target
    roles = rules.rule_based_plan(recorded_kit(tmp_path / "kit2"), balance="roles")
    assert len({round(t.gain_db, 1) for t in roles.tracks}) > 2  # re-balanced by role
    other = rules.rule_based_plan(recorded_kit(tmp_path / "apart", bleed=False))
    assert any("do not bleed into the overheads" in n for n in other.notes)
    assert len({round(t.gain_db, 1) for t in other.tracks}) > 2
    with pytest.raises(rules.RulesError, match="balance must be one of"):
        rules.rule_based_plan(recorded_kit(tmp_path / "kit3"), balance="loudest")


def test_recorded_balance_without_processing_is_gain_and_pan_only(tmp_path):
    plan = rules.rule_based_plan(recorded_kit(tmp_path / "kit"), balance="recorded", processing=False)
    assert all(t.gain_db == 0.0 and not t.plugins for t in plan.tracks) and plan.master == []
