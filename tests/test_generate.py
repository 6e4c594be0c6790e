"""The drum corpus generator: grooves, kits, recording, mixing styles, files (real kits, real rooms).

The generator needs the Debian kit packages and FluidSynth (``.ci/apt-packages.txt``); without
them these tests fail with the apt-get command to run (no skips). The DrumGizmo renderer
(``automix.data.drumkit``, no longer used by the generator) keeps its own tests, skipped without
drumgizmo except under CI.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from automix.data import drumkit, grooves, kits, recording, rooms
from automix.data.generate import (
    DEFAULT_RECIPE,
    DEFAULT_RECIPE_PATH,
    GeneratorRecipe,
    generate_corpus,
    kit_for_take,
    load_recipe,
    mix_stems,
    plan_corpus,
    rerecord_take,
    take_events,
)
from daw_bridge.errors import AutomixError, OutputError
from daw_bridge.stems import DRUM_SLOTS

SR = 44100
SECONDS = 4.0
SEED = 11
TAKES = 12
TAKE_RE = re.compile(r"^(\d{3})_phrase_([a-z_]+)_(simple|complex)_(slow|medium|fast)_sticks$")
HAVE_DRUMGIZMO = shutil.which("drumgizmo") is not None
if not HAVE_DRUMGIZMO and os.environ.get("CI"):
    raise RuntimeError("CI needs DrumGizmo: apt-get install -y --no-install-recommends drumgizmo hydrogen-data")
needs_drumgizmo = pytest.mark.skipif(
    not HAVE_DRUMGIZMO, reason="DrumGizmo missing: apt-get install -y --no-install-recommends drumgizmo hydrogen-data")


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """A private cache for the DrumGizmo kit (the generator's kits use automix's cache folder)."""
    return tmp_path_factory.mktemp("automix-cache")


@pytest.fixture(scope="session")
def kit(cache):
    return drumkit.build_kit(cache)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """Twelve short takes with a fixed seed (the kits' one-shots come from automix's cache folder)."""
    out = tmp_path_factory.mktemp("corpus") / "drums"
    return generate_corpus(out, TAKES, seed=SEED, seconds=SECONDS, progress=False)


def _truths(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("drummer_*/annotation/*.json"))]


def _read(path: Path) -> np.ndarray:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    assert sr == SR
    return data.T


# ---------------------------------------------------------------------------------------------
# grooves (no DrumGizmo needed)


@pytest.mark.parametrize("style", grooves.STYLES)
@pytest.mark.parametrize("complexity", grooves.COMPLEXITIES)
def test_styles_play_their_general_midi_notes(style, complexity):
    g = grooves.make_groove(3, style=style, bpm=110, bars=8, complexity=complexity)
    keys = g.keys()
    assert keys <= grooves.STYLE_KEYS[style]
    assert keys <= set(kits.GROOVE_KEYS)  # every note has a one-shot in every catalogue kit
    assert keys <= drumkit.Kit(Path("."), {}).notes  # and an instrument in the DrumGizmo kit
    assert grooves.KICK in keys
    assert keys & {grooves.SNARE, grooves.RIMSHOT, grooves.SIDE_STICK}
    assert keys & grooves.TIMEKEEPERS
    assert grooves.CRASH in keys  # ending hit (and phrase starts)
    beat = g.beat_s
    groove_notes = [n for n in g.notes if not n.fill and n.beat < g.bars * 4]
    kicks = {round(n.beat % 4, 3) for n in groove_notes if n.key == grooves.KICK}
    backbeat = {round(n.beat % 4, 3) for n in groove_notes if n.key in (grooves.SNARE, grooves.RIMSHOT, grooves.SIDE_STICK)
                and n.nominal_velocity >= 90}
    if style == "disco":
        assert {0.0, 1.0, 2.0, 3.0} <= kicks  # four on the floor
    if style == "halftime":
        assert backbeat == {2.0}
    elif style == "reggae":
        assert backbeat == {2.0} and 2.0 in kicks  # one drop
    else:
        assert backbeat == {1.0, 3.0}
    if style == "metal" and complexity == "complex":
        assert {0.25, 0.5, 0.75} <= kicks  # sixteenth double bass
    # tempo: note times follow the grid within the timing jitter
    for n in g.notes:
        assert abs(n.time - n.beat * beat) <= 0.008 + 1e-3


def test_velocity_humanisation_stays_within_bounds():
    human = grooves.Humanisation(velocity_sd=6.0, velocity_max=10.0, timing_sd_ms=3.0, timing_max_ms=5.0,
                                 intensity=(0.9, 1.0))
    g = grooves.make_groove(5, style="funk", bpm=100, bars=8, complexity="complex", humanise=human)
    plain = grooves.make_groove(5, style="funk", bpm=100, bars=8, complexity="complex",
                                humanise=grooves.Humanisation.none())
    by_grid = lambda notes: sorted(notes, key=lambda n: (n.beat, n.key))
    assert [(n.beat, n.key) for n in by_grid(g.notes)] == [(n.beat, n.key) for n in by_grid(plain.notes)]
    assert 0.9 <= g.intensity <= 1.0 and plain.intensity == 1.0
    deviations = []
    for n, p in zip(by_grid(g.notes), by_grid(plain.notes)):
        assert 1 <= n.velocity <= 127
        expected = n.nominal_velocity * g.intensity
        if 1 < n.velocity < 127:
            assert abs(n.velocity - expected) <= human.velocity_max + 0.5
        deviations.append(n.velocity - round(expected))
        assert p.velocity == int(np.clip(round(p.nominal_velocity), 1, 127))
        assert abs(n.time - p.time) <= human.timing_max_ms / 1000 + 1e-3  # tick quantisation
    deviations = np.array(deviations)
    assert len(set(deviations.tolist())) > 5 and 2.0 < deviations.std() < 10.0
    ghosts = [n.velocity for n in g.notes if n.key == grooves.SNARE and n.nominal_velocity < 50]
    accents = [n.velocity for n in g.notes if n.key == grooves.SNARE and n.nominal_velocity > 100]
    assert ghosts and accents and max(ghosts) < min(accents)  # dynamics survive the noise


def test_fills_when_asked():
    always = grooves.make_groove(1, style="rock", bpm=120, bars=8, fill_probability=1.0, phrase_bars=4)
    never = grooves.make_groove(1, style="rock", bpm=120, bars=8, fill_probability=0.0, phrase_bars=4)
    assert len(always.fills) == 2 and not never.fills
    assert not any(n.fill for n in never.notes)
    toms = {grooves.TOM_HIGH, grooves.TOM_MID, grooves.TOM_FLOOR}
    for start, end in always.fills:
        assert end % 16 == 0  # the last bar of each 4-bar phrase
        hits = [n for n in always.notes if n.fill and start <= n.beat < end]
        assert len(hits) >= 3 and {n.key for n in hits} & toms
    assert not ({n.key for n in never.notes} & toms)
    two = grooves.make_groove(2, style="halftime", bpm=130, bars=8, complexity="complex", fill_probability=1.0, toms=2)
    assert grooves.TOM_FLOOR not in two.keys()


def test_groove_midi_round_trip(tmp_path):
    g = grooves.make_groove(9, style="shuffle", bpm=97, bars=2, lead_in=0.3)
    path = grooves.write_midi(g, tmp_path / "g.mid", length_s=6.0)
    mid = mido.MidiFile(path)
    assert mid.type == 0 and mid.ticks_per_beat == g.ticks_per_beat
    assert mid.length == pytest.approx(6.0, abs=1e-3)
    now, ons = 0.0, []
    for msg in mid:
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            assert msg.channel == 9
            ons.append((now, msg.note, msg.velocity))
    want = sorted((n.time, n.key, n.velocity) for n in g.notes)
    assert [o[1:] for o in sorted(ons)] == [w[1:] for w in want]
    assert [o[0] for o in sorted(ons)] == pytest.approx([w[0] for w in want], abs=1e-6)
    with pytest.raises(OutputError):
        grooves.write_midi(g, path)


# ---------------------------------------------------------------------------------------------
# recipe


def test_recipe_file_is_the_default_and_strict(tmp_path):
    assert GeneratorRecipe.load(DEFAULT_RECIPE_PATH) == load_recipe(None)
    recipe = load_recipe(None)
    assert set(recipe.mix_styles) == {"balance", "light", "produced"}
    weights = {k: s.weight for k, s in recipe.mix_styles.items()}
    assert weights["balance"] + weights["light"] >= 0.75 * sum(weights.values())  # mostly balance/light
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    bad["groove"]["swing"] = 0.5
    (tmp_path / "extra.json").write_text(json.dumps(bad))
    with pytest.raises(AutomixError, match="extra.json is invalid"):
        GeneratorRecipe.load(tmp_path / "extra.json")
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    bad["mix_styles"]["light"]["slots"]["kick"]["gain_db"] = [4.0, 0.0]
    with pytest.raises(ValueError, match="reversed"):
        GeneratorRecipe.model_validate(bad)
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    del bad["mix_styles"]["balance"]["slots"]["tom_3"]
    with pytest.raises(ValueError, match="slots must be exactly"):
        GeneratorRecipe.model_validate(bad)
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    bad["recording"]["kits"] = ["GMRockKit", "TR808EmulationKit"]
    with pytest.raises(ValueError, match="unknown kits"):
        GeneratorRecipe.model_validate(bad)
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    bad["recording"]["pair"]["techniques"]["overhead"] = {"blumlein": 1.0}
    with pytest.raises(ValueError, match="unknown"):
        GeneratorRecipe.model_validate(bad)
    old = {k: v for k, v in DEFAULT_RECIPE.items() if k not in ("recording", "mix_styles")}
    with pytest.raises(ValueError, match="first generator"):
        GeneratorRecipe.model_validate({**old, "recording_gain_db": -6.0, "mix": {}})


# ---------------------------------------------------------------------------------------------
# kit and renderer


@needs_drumgizmo
def test_kit_is_valid_drumgizmo_2_kit(kit):
    root = ET.parse(kit.drumkit).getroot()
    assert root.tag == "drumkit" and root.get("version") == "2.0"
    assert [c.get("name") for c in root.iter("channel")] == list(drumkit.CHANNELS) == list(DRUM_SLOTS)
    outs = {i.get("name"): {c.get("out") for c in i.iter("channelmap")} for i in root.iter("instrument")}
    assert all({"overhead_L", "overhead_R"} <= o for o in outs.values())  # every instrument in the overheads
    assert "kick" in outs["Kick"] and "tom_3" in outs["TomFloor"] and "hi-hat" in outs["HatOpen"]
    mapped = {int(m.get("note")) for m in ET.parse(kit.midimap).getroot().iter("map")}
    chokes = {drumkit.CHOKE_KEY_BASE + i for i in range(len(drumkit.HAT_CHOKES_MS))}
    assert mapped == kit.notes | chokes and not kit.notes & chokes
    if shutil.which("dgvalidator"):
        assert kit.info["dgvalidator"] is True


@needs_drumgizmo
def test_render_places_notes_on_the_exact_frame(kit):
    """DrumGizmo 0.9.20 puts MIDI-file notes up to a block off; render() must undo it exactly."""
    cal = drumkit.calibrate()
    frames = [0, 1, 700, 1023, 1024, 1025, 1500, 2047, 2048, 2049, 3072, 30000, 31057, 2 * SR + 5]
    events = [(f, 36, 127) for f in frames]  # every residue class of DrumGizmo's 2048-frame pattern
    length = max(f for f, _, _ in events) + 30000
    stems = drumkit.render(kit, events, length)
    inst = ET.parse(kit.path / "Kick" / "Kick.xml").getroot()
    top = max(inst.iter("sample"), key=lambda s: float(s.get("power")))
    close = next(a.get("file") for a in top.iter("audiofile") if a.get("channel") == "close")
    sample, _ = sf.read(str(kit.path / "Kick" / close), dtype="float64")
    ideal = np.zeros(length + len(sample))
    for f, _, v in events:
        ideal[f:f + len(sample)] += sample * ((v - 0.5) / 127)
    assert np.abs(stems["kick"] - ideal[:length]).max() < 1e-5
    assert cal.latency >= 0 and set(stems) == set(drumkit.CHANNELS)
    with pytest.raises(ValueError, match="plays no MIDI keys"):
        drumkit.render(kit, [(0, 99, 100)], 1000)


@needs_drumgizmo
def test_closed_hi_hat_chokes_an_open_one(kit):
    ms = lambda t: round(t * SR / 1000)
    events = [(ms(100), 46, 110), (ms(300), 42, 40)]
    assert drumkit.choke_open_hats(events)[0][1] == drumkit.CHOKE_KEY_BASE + drumkit.HAT_CHOKES_MS.index(180)
    assert drumkit.choke_open_hats([(0, 46, 100), (ms(900), 44, 100)])[0][1] == 46  # rings out first
    assert drumkit.choke_open_hats([(0, 46, 100), (ms(10), 42, 100)])[0][1] == drumkit.CHOKE_KEY_BASE
    choked = drumkit.render(kit, events, SR)
    ringing = drumkit.render(kit, events, SR, choke_hats=False)
    late = slice(ms(340), ms(700))
    for slot in ("hi-hat", "overhead_L"):
        assert np.abs(choked[slot][: ms(280)] - ringing[slot][: ms(280)]).max() < 1e-6  # same until the pedal
        energy = lambda x: float((x[late] ** 2).sum())
        assert energy(choked[slot]) < 0.05 * energy(ringing[slot])


# ---------------------------------------------------------------------------------------------
# the corpus



def test_enst_layout_and_names(corpus):
    out = corpus.out
    assert len(corpus.takes) == TAKES and corpus.seconds == pytest.approx(TAKES * SECONDS)
    assert sorted(p.name for p in out.iterdir()) == ["corpus.json", "drummer_1"]
    folders = sorted(p.name for p in (out / "drummer_1" / "audio").iterdir())
    assert folders == sorted([*DRUM_SLOTS, "dry_mix", "wet_mix"])
    names = [t.name.split("/", 1)[1] for t in corpus.takes]
    for number, (take, name) in enumerate(zip(corpus.takes, names), start=1):
        m = TAKE_RE.match(name)
        assert m and int(m.group(1)) == number
        assert (m.group(2), m.group(3), m.group(4)) == (take.style, take.complexity, take.tempo)
        assert take.name == f"drummer_1/{name}" and take.drummer == 1
    for folder in folders:
        assert sorted(p.stem for p in (out / "drummer_1" / "audio" / folder).iterdir()) == sorted(names)
    for sub, suffixes in (("annotation", {".json", ".txt"}), ("midi", {".mid"})):
        files = list((out / "drummer_1" / sub).iterdir())
        assert {p.stem for p in files} == set(names) and {p.suffix for p in files} == suffixes
    assert set(corpus.paths) == {p for p in out.rglob("*") if p.is_file()}
    manifest = json.loads((out / "corpus.json").read_text())
    assert manifest["seed"] == SEED and [t["name"] for t in manifest["takes"]] == [t.name for t in corpus.takes]
    assert set(manifest["kits"]) == {t.kit for t in corpus.takes}
    assert all(k["licence"] for k in manifest["kits"].values())
    # what plan_corpus promises is what was made
    plan = plan_corpus(TAKES, seed=SEED, seconds=SECONDS)
    assert [(r["id"], r["kit"], r["mix_style"]) for r in plan] == [(t.name, t.kit, t.mix_style) for t in corpus.takes]


def test_twelve_takes_hold_many_kits_rooms_mics_and_styles(corpus):
    truths = _truths(corpus.out)
    kit_names = [t["kit"]["name"] for t in truths]
    assert len(set(kit_names)) >= 6, kit_names
    assert all(t["kit"]["name"] in kits.CATALOGUE and t["kit"]["licence"] for t in truths)
    assert [t["kit"]["name"] for t in truths] == [kit_for_take(SEED, i, list(kits.CATALOGUE)) for i in range(TAKES)]
    assert len({t["kit"]["family"] for t in truths}) >= 6
    assert len({t["room"]["type"] for t in truths}) >= 2
    assert len({t["mics"]["pair"]["technique"] for t in truths}) >= 2
    assert {t["mix_style"] for t in truths} <= {"balance", "light", "produced"} and len({t["mix_style"] for t in truths}) >= 2
    for t in truths:
        assert t["mix_style"] == t["mix"]["style"]
        w, l, h = t["room"]["dimensions_m"]
        assert 3 <= w <= 9 and 3.5 <= l <= 12 and 2.4 <= h <= 5 and 0.1 < t["room"]["rt60_s"] < 1.3
        # Eyring: the wall absorption gives the room's RT60
        volume, surface = w * l * h, 2 * (w * l + w * h + l * h)
        rt60 = 0.161 * volume / (-surface * math.log(1 - t["room"]["absorption"]))
        assert rt60 == pytest.approx(t["room"]["rt60_s"], rel=0.01)
        slots = t["mics"]["slots"]
        assert set(slots) == set(DRUM_SLOTS)
        for slot, mic in slots.items():
            assert mic["pattern"] in rooms.PATTERNS and abs(np.linalg.norm(mic["aim"]) - 1) < 1e-3
            assert all(0 < c < d for c, d in zip(mic["position_m"], (w, l, h)))
            if mic["role"] == "close":
                assert mic["target"] == recording.SLOT_PIECE[slot]
                assert 0.02 <= mic["height_cm"] / 100 <= 0.15 and mic["distance_to_target_m"] < 0.45
            assert slot in t["recording"]["levels"]
        pair = t["mics"]["pair"]
        assert pair["placement"] in recording.PAIR_PLACEMENTS and pair["technique"] in recording.PAIR_TECHNIQUES
        spacing = np.linalg.norm(np.subtract(slots["overhead_L"]["position_m"], slots["overhead_R"]["position_m"]))
        assert spacing == pytest.approx(pair["spacing_m"], abs=0.005)
        assert slots["overhead_L"]["position_m"][0] < slots["overhead_R"]["position_m"][0] + 1e-9  # L: drummer's left


def test_stems_mono_mixes_stereo_same_length(corpus):
    for path in corpus.out.glob("drummer_1/audio/*/*.wav"):
        info = sf.info(str(path))
        assert info.samplerate == SR and info.frames == round(SECONDS * SR)
        assert info.subtype == "PCM_24"
        assert info.channels == (2 if path.parent.name in ("dry_mix", "wet_mix") else 1)


def test_stems_sound_where_the_midi_plays(corpus):
    d = corpus.out / "drummer_1"
    checked = {"kick": [0, 0], "snare": [0, 0]}  # notes with energy, notes with a measured onset
    for truth in _truths(corpus.out):
        notes = truth["groove"]["notes"]
        for slot in DRUM_SLOTS:
            x = _read(d / truth["files"][slot])[0]
            assert np.abs(x).max() > 10 ** (-60 / 20), f"{slot} is silent"  # bleed at least
            assert np.abs(x).max() < 1.0
        for slot, keys in (("kick", {36}), ("snare", {38, 40, 37})):
            x = np.abs(_read(d / truth["files"][slot])[0])
            hits = [(round(n["time_s"] * SR), n["velocity"]) for n in notes if n["key"] in keys]
            for f, velocity in hits:
                gap = min((f - g for g, _ in hits if g < f), default=SR)  # since the previous hit
                if velocity < 70 or gap < 0.2 * SR:
                    continue
                before = x[max(0, f - 441):max(1, f - 44)].max(initial=0.0)
                after = x[f:f + 882].max()
                assert after > 3 * before and after > 0.01, f"no {slot} hit at {f / SR:.3f} s in {truth['take']}"
                checked[slot][0] += 1
                if gap < 0.4 * SR:  # a loud tail of the previous hit would hide the onset
                    continue
                # the hit starts after the note's frame by the sound's travel time (the mic is 10-45 cm
                # from the drum's centre: 13-60 samples) plus the sample's own rise to 5 % of its peak
                # (snares under 3 ms; some kicks' beater clicks stay under 5 % for 6 ms)
                lo = max(0, f - 441)
                onset = lo + int(np.argmax(x[lo:f + 882] > 0.05 * after + 1.5 * before))
                assert 5 <= onset - f <= (400 if slot == "kick" else 200), f"{slot} onset {onset} vs MIDI frame {f}"
                checked[slot][1] += 1
        lines = (d / truth["files"]["onsets"]).read_text().splitlines()
        assert [float(line.split()[0]) for line in lines] == pytest.approx([n["time_s"] for n in notes], abs=1e-6)
    assert all(n_energy >= 5 and n_onset >= 2 for n_energy, n_onset in checked.values()), checked


def test_stems_are_recorded_levels_remade_from_the_annotation(corpus):
    """The stems are the mics at their soundcheck gains: the annotation remakes them exactly, and
    the pieces' contributions plus the noise floor add up to them."""
    d = corpus.out / "drummer_1"
    for truth in _truths(corpus.out)[:3]:
        again = rerecord_take(truth)
        parts = [rerecord_take(truth, pieces=[p], noise=False) for p in truth["recording"]["pieces"]]
        quiet = rerecord_take(truth, pieces=[], noise=True)  # the noise floor alone
        for slot in truth["mics"]["slots"]:
            stem = _read(d / truth["files"][slot])[0]
            assert np.abs(again[slot] - stem).max() < 2e-7  # the 24-bit rounding of the file
            total = sum(p[slot].astype(np.float64) for p in parts) + quiet[slot]
            assert np.abs(total - again[slot]).max() < 1e-5
            level = truth["recording"]["levels"][slot]
            assert level["gain_db"] == pytest.approx(level["preamp_gain_db"] + level["peak_lowered_db"], abs=0.011)
            assert level["peak_lowered_db"] <= 0 and np.abs(stem).max() <= 10 ** (truth["recording"]["peak_limit_dbfs"] / 20)
            noise_db = 10 * math.log10(float(np.mean(quiet[slot].astype(np.float64) ** 2)))
            assert noise_db == pytest.approx(level["noise_floor_dbfs"] + level["peak_lowered_db"], abs=0.1)


def _contributions(truth):
    return {p: rerecord_take(truth, pieces=[p], noise=False) for p in truth["recording"]["pieces"]}


def _peak_db(x):
    peak = float(np.max(np.abs(x)))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def _setup(truth):
    return recording.setup_from_dict({"room": truth["room"], "pieces": truth["recording"]["pieces"],
                                      "piece_trim_db": truth["recording"]["piece_trim_db"], "mics": truth["mics"]})


def test_close_mics_hear_their_own_drum_loudest(corpus):
    """A close mic's own piece is louder in it than any other piece: hit for hit at the soundcheck
    (velocity 100, the take's kit and room) by at least 5 dB for the drums and 1 dB for the hi-hat
    (its closed hits are ~10 dB quieter than the snare beside it; over 60 drawn set-ups the margins
    were at least 5.5 and 1.2 dB, medians 15-23 and 7.7 dB); and in the take as played, the drums' mics (kick, snare, played toms) peak at least
    10 dB above every other piece's contribution (a hi-hat mic hears backbeats about as loud as
    the hats: not asserted)."""
    margins = {}
    for truth in _truths(corpus.out)[:6]:
        setup = _setup(truth)
        kit = kits.load_kit(truth["kit"]["name"])
        response = rooms.room_responses(setup.room, setup.sources(), setup.mics, sample_rate=SR,
                                        rng=np.random.default_rng(0),
                                        axes={p: i["axis"] for p, i in setup.pieces.items() if "axis" in i},
                                        direct_gains={**recording.shadowing(setup), **recording.near_field(setup)})
        reference = recording.reference_peaks(kit, setup, response)
        played = {kits.PIECE_OF_KEY[n["key"]] for n in truth["groove"]["notes"]}
        parts = _contributions(truth)
        for slot, mic in truth["mics"]["slots"].items():
            own = mic["target"]
            if mic["role"] != "close":
                continue
            ref = reference[slot]
            need = 1.0 if slot == "hi-hat" else 5.0  # closed hats are ~10 dB quieter than the snare nearby
            assert ref[own] - max(v for p, v in ref.items() if p != own) >= need, (truth["take"], slot, ref)
            if slot == "hi-hat" or own not in played:
                continue
            peaks = {p: _peak_db(parts[p][slot]) for p in parts}
            margin = peaks[own] - max(v for p, v in peaks.items() if p != own)
            margins.setdefault(slot, []).append(round(margin, 1))
            assert margin >= 10.0, (truth["take"], slot, peaks)
    assert {"kick", "snare"} <= set(margins) and any(s.startswith("tom") for s in margins), margins


def _gcc_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """Lag (samples) of ``b`` behind ``a`` by the phase transform (GCC-PHAT)."""
    n = 1 << int(math.ceil(math.log2(len(a) + len(b))))
    cross = np.conj(np.fft.rfft(a, n)) * np.fft.rfft(b, n)
    r = np.fft.irfft(cross / (np.abs(cross) + 1e-12), n)
    r = np.concatenate([r[-max_lag:], r[:max_lag + 1]])
    return int(np.argmax(r)) - max_lag


def test_bleed_arrives_later_by_the_path_difference(corpus):
    """A piece's sound reaches a farther mic later than its own close mic by the extra path / c,
    to within 2 samples (GCC-PHAT of the two contributions): the snare in the hi-hat mic and the
    overheads, the hi-hat and the played toms in the overheads (direct paths not shadowed by a drum
    and not in the far mic's rear null)."""
    checked = 0
    for truth in _truths(corpus.out)[:4]:
        setup = _setup(truth)
        shadowed = recording.shadowing(setup)
        played = {kits.PIECE_OF_KEY[n["key"]] for n in truth["groove"]["notes"]}
        parts = _contributions(truth)
        slots = truth["mics"]["slots"]
        pairs = [("snare", "snare", "hi-hat"), ("snare", "snare", "overhead_L"), ("snare", "snare", "overhead_R"),
                 ("hihat", "hi-hat", "overhead_L"), ("hihat", "hi-hat", "overhead_R")]
        pairs += [(recording.SLOT_PIECE[t], t, oh) for t in ("tom_1", "tom_2", "tom_3") if t in slots
                  for oh in ("overhead_L", "overhead_R")]
        for piece, own, other in pairs:
            if piece not in played or (piece, other) in shadowed or (piece, own) in shadowed:
                continue
            src = np.asarray(setup.pieces[piece]["position"])
            vec = np.subtract(slots[other]["position_m"], src)
            if rooms.pattern_gain(slots[other]["pattern"], float(np.dot(slots[other]["aim"], -vec / np.linalg.norm(vec)))) < 0.4:
                continue
            dist = lambda m: float(np.linalg.norm(np.subtract(slots[m]["position_m"], src)))  # noqa: E731
            expected = (dist(other) - dist(own)) / rooms.SOUND_SPEED * SR
            lag = _gcc_lag(parts[piece][own].astype(np.float64), parts[piece][other].astype(np.float64), 400)
            assert expected > 0 and abs(lag - expected) <= 2.0, (truth["take"], piece, other, lag, expected)
            checked += 1
    assert checked >= 12


def test_overhead_level_difference_follows_the_geometry(corpus):
    """Each piece's level difference between overhead_L and overhead_R is what the distances, the
    mics' patterns and aims, the drum heads' directivity, the drum shells in the way and the two
    preamp gains predict for the direct sound, within 1.5 dB, measured on the direct sound: the
    energy of the piece's contribution in the 2.5 ms after each of its hits arrives (the first
    reflection comes later; not so for the kick, on the floor, left out). Over the corpus the
    pair's differences span more than 6 dB."""
    predicted, measured = [], []
    window = round(0.0025 * SR)
    for truth in _truths(corpus.out):
        if truth["mics"]["pair"]["placement"] != "overhead":
            continue
        setup = _setup(truth)
        shadowed = recording.shadowing(setup)
        frames: dict[str, list[int]] = {}
        for frame, key, _ in take_events(truth["groove"]):
            frames.setdefault(kits.PIECE_OF_KEY[key], []).append(frame)
        parts = {p: rerecord_take(truth, pieces=[p], noise=False) for p in frames}
        levels = truth["recording"]["levels"]
        for piece, hits in frames.items():
            if piece == "kick":  # it stands on the floor: its floor reflection arrives within 2 ms
                continue
            info = setup.pieces[piece]
            gain, energy = {}, {}
            for slot in ("overhead_L", "overhead_R"):
                mic = truth["mics"]["slots"][slot]
                v = np.subtract(mic["position_m"], info["position"])
                d = float(np.linalg.norm(v))
                u = v / d
                g = rooms.pattern_gain(mic["pattern"], float(np.dot(mic["aim"], -u))) / d
                if "axis" in info:
                    g *= float(rooms.head_directivity(info["axis"], u))
                gain[slot] = g * shadowed.get((piece, slot), 1.0) * 10 ** (levels[slot]["gain_db"] / 20)
                delay = round(d / rooms.SOUND_SPEED * SR)
                x = parts[piece][slot].astype(np.float64)
                energy[slot] = sum(float(np.sum(x[f + delay - 2: f + delay + window] ** 2)) for f in hits
                                   if f + delay + window < len(x))
            if min(energy.values()) <= 0:
                continue
            pred = 20 * math.log10(gain["overhead_L"] / gain["overhead_R"])
            meas = 10 * math.log10(energy["overhead_L"] / energy["overhead_R"])
            predicted.append(pred)
            measured.append(meas)
            assert abs(meas - pred) <= 1.5, (truth["take"], piece, pred, meas)
    assert len(predicted) >= 30
    assert np.corrcoef(predicted, measured)[0, 1] > 0.95
    assert max(predicted) - min(predicted) > 6.0  # the pair really differs across the kit


def test_wet_and_dry_mixes_differ_by_reverb(corpus):
    d = corpus.out / "drummer_1"
    for truth in _truths(corpus.out)[:6]:
        dry = _read(d / truth["files"]["dry_mix"])
        wet = _read(d / truth["files"]["wet_mix"])
        assert 10 * math.log10(((wet - dry) ** 2).sum() / (dry ** 2).sum()) > -35.0
        for mix, result in ((dry, truth["mix"]["result"]["dry"]), (wet, truth["mix"]["result"]["wet"])):
            assert np.abs(mix).max() <= 10 ** (truth["mix"]["bus"]["peak_ceiling_db"] / 20) + 1e-4
            target = truth["mix"]["bus"]["target_lufs"]
            if result["peak_limited"]:  # turned down to the peak ceiling
                assert result["integrated_lufs"] < target
            else:
                assert result["integrated_lufs"] == pytest.approx(target, abs=0.05)
        # stop the stems dead: the dry mix dies with them, the wet one keeps a reverb tail
        stems = {s: _read(d / truth["files"][s])[0] for s in truth["mix"]["slots"]}
        cut = round(2.0 * SR)
        stems = {s: np.concatenate([x[:cut], np.zeros(len(x) - cut, np.float32)]) for s, x in stems.items()}
        dry_cut, wet_cut, _ = mix_stems(stems, truth["mix"])
        window = slice(cut + round(0.05 * SR), cut + round(0.4 * SR))
        tails = [float((m[:, window] ** 2).sum() / (m[:, :cut] ** 2).sum()) for m in (dry_cut, wet_cut)]
        assert tails[1] > 30 * tails[0]


def test_annotation_round_trips_and_parameters_are_in_range(corpus):
    recipe = load_recipe(None)
    d = corpus.out / "drummer_1"
    for truth in _truths(corpus.out):
        # JSON holds everything needed to remake the mixes from the stem files
        stems = {s: _read(d / truth["files"][s])[0] for s in truth["mix"]["slots"]}
        dry, wet, result = mix_stems(stems, truth["mix"])
        assert np.abs(dry - _read(d / truth["files"]["dry_mix"])).max() < 1e-3
        assert np.abs(wet - _read(d / truth["files"]["wet_mix"])).max() < 1e-3
        assert result["dry"]["peak_limited"] == truth["mix"]["result"]["dry"]["peak_limited"]
        assert truth["seed"] == SEED and truth["take_entropy"][0] == SEED
        assert truth["frames"] == round(SECONDS * SR) and truth["sample_rate"] == SR
        assert truth["perspective"] == truth["mix"]["perspective"]
        # the MIDI file is the groove
        mid = mido.MidiFile(d / truth["files"]["midi"])
        tempos = [m.tempo for m in mid if m.type == "set_tempo"]
        assert tempos == [mido.bpm2tempo(truth["bpm"])]
        now, ons = 0.0, []
        for msg in mid:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                ons.append((now, msg.note, msg.velocity))
        want = sorted((n["time_s"], n["key"], n["velocity"]) for n in truth["groove"]["notes"])
        assert [o[1:] for o in sorted(ons)] == [w[1:] for w in want]
        assert [o[0] for o in sorted(ons)] == pytest.approx([w[0] for w in want], abs=1e-6)
        style = recipe.groove.styles[truth["style"]]
        assert style.tempo_bpm[0] <= truth["bpm"] <= style.tempo_bpm[1]
        assert all(n["time_s"] < SECONDS for n in truth["groove"]["notes"])
        # every mixing parameter within its style's range
        spec = recipe.mix_styles[truth["mix_style"]]
        inside = lambda v, r, tol=0.0051: r[0] - tol <= v <= r[1] + tol  # noqa: E731
        sign = -1 if truth["mix"]["perspective"] == "audience" else 1
        for slot, strip in truth["mix"]["slots"].items():
            s = spec.slots[slot]
            assert set(strip) == {"gain_db", "pan", "eq", "gate", "compressor", "reverb_send_db"}
            assert inside(strip["gain_db"], s.gain_db) and inside(strip["reverb_send_db"], s.reverb_send_db)
            assert inside(sign * strip["pan"], s.pan, 0.0006)
            required = [b for b in s.eq if b.probability == 1.0]
            assert len(required) <= len(strip["eq"]) <= len(s.eq)
            for band in strip["eq"]:
                match = [b for b in s.eq if b.type == band["type"] and inside(band["freq_hz"], b.freq_hz, 0.051)]
                assert match, f"{slot} band {band} not in the recipe"
                if "gain_db" in band:
                    assert any(inside(band["gain_db"], b.gain_db) and inside(band["q"], b.q, 0.0006) for b in match)
            for kind in ("compressor", "gate"):
                spec_dyn, got = getattr(s, kind), strip[kind]
                assert (got is None) or spec_dyn is not None
                if got:
                    for key in ("threshold_db", "ratio", "attack_ms", "release_ms"):
                        assert inside(got[key], getattr(spec_dyn, key))
        if truth["mix_style"] == "balance":  # faders, pans and high-passes only
            assert all(not st["compressor"] and not st["gate"] and all(b["type"] == "highpass" for b in st["eq"])
                       for st in truth["mix"]["slots"].values())
            assert truth["mix"]["bus"]["compressor"] is None and truth["mix"]["bus"]["limiter"] is None
        if truth["mix_style"] == "produced":
            assert truth["mix"]["slots"]["kick"]["compressor"] and truth["mix"]["slots"]["snare"]["compressor"]
        for key, value in truth["mix"]["reverb"].items():
            if key not in ("wet_level", "dry_level"):
                assert inside(value, getattr(spec.reverb, key), 0.051), key
        assert truth["mix"]["bus"]["target_lufs"] == spec.bus.target_lufs


def test_same_seed_same_bytes_other_seed_other_bytes(corpus, tmp_path):
    again = generate_corpus(tmp_path / "again", TAKES, seed=SEED, seconds=SECONDS, progress=False)
    files = sorted(p.relative_to(corpus.out) for p in corpus.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again.out) for p in again.out.rglob("*") if p.is_file())
    for rel in files:
        assert (corpus.out / rel).read_bytes() == (again.out / rel).read_bytes(), rel
    other = generate_corpus(tmp_path / "other", 1, seed=SEED + 1, seconds=SECONDS, progress=False)
    first = sorted(corpus.out.glob("drummer_1/audio/*/001_*.wav"))
    theirs = sorted(other.out.glob("drummer_1/audio/*/001_*.wav"))
    assert len(theirs) == len(first) == 10
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(first, theirs))


def test_refuses_non_empty_output_unless_overwrite(tmp_path):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as err:
        generate_corpus(out, 1, seconds=2.0, progress=False)
    assert "not empty" in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        generate_corpus(tmp_path / "file", 1, seconds=2.0, progress=False)
    # overwrite: writes, replaces earlier generated takes, leaves other files alone
    generate_corpus(out, 2, seed=1, seconds=2.0, overwrite=True, progress=False)
    assert len(list(out.glob("drummer_1/audio/kick/*.wav"))) == 2
    generate_corpus(out, 1, seed=2, seconds=2.0, overwrite=True, progress=False)
    assert len(list(out.glob("drummer_1/audio/kick/*.wav"))) == 1
    assert len(list(out.glob("drummer_1/annotation/*"))) == 2 and len(list(out.glob("drummer_1/midi/*"))) == 1
    assert (out / "notes.txt").read_text() == "mine"


def test_three_drummers_like_enst(tmp_path):
    summary = generate_corpus(tmp_path / "c", 4, seconds=2.0, drummers=3, progress=False)
    assert [t.drummer for t in summary.takes] == [1, 2, 3, 1]
    assert [t.name.split("/")[1][:3] for t in summary.takes] == ["001", "001", "001", "002"]
    for drummer in (1, 2):
        audio = summary.out / f"drummer_{drummer}" / "audio"
        assert not (audio / "tom_3").exists() and (audio / "tom_2").is_dir()
        for truth in _truths(summary.out):
            if truth["drummer"] == drummer:
                assert truth["toms"] == 2 and "tom_3" not in truth["mix"]["slots"]
                assert "tom_3" not in truth["mics"]["slots"] and "tom_floor" not in truth["recording"]["pieces"]
                assert all(n["key"] != grooves.TOM_FLOOR for n in truth["groove"]["notes"])
    assert (summary.out / "drummer_3" / "audio" / "tom_3").is_dir()
    from automix.data.enst import scan_enst

    takes = scan_enst(summary.out)
    assert sorted(t.id for t in takes) == sorted(t.name for t in summary.takes)
    assert all(t.dry_mix and t.wet_mix for t in takes)


def test_missing_packages_say_what_to_install(monkeypatch, tmp_path):
    import dataclasses

    first = kit_for_take(0, 0, list(kits.CATALOGUE))
    gone = dataclasses.replace(kits.CATALOGUE[first], path=str(tmp_path / "no-such-kit"))
    monkeypatch.setitem(kits.CATALOGUE, first, gone)
    with pytest.raises(AutomixError, match=f"apt-get install .*{re.escape(gone.package)}"):
        generate_corpus(tmp_path / "out", 1, seconds=2.0, progress=False)
    assert not (tmp_path / "out").exists()
    monkeypatch.undo()
    monkeypatch.setenv("PATH", str(tmp_path))  # no fluidsynth for the SoundFont kits
    with pytest.raises(AutomixError, match="apt-get install .*fluidsynth"):
        kits.check_kits(["FluidR3 Standard"])


def test_bad_arguments(tmp_path):
    for kwargs in ({"songs": 0}, {"songs": 1, "seconds": 1.0}, {"songs": 1, "drummers": 4}, {"songs": 1, "seed": -1}):
        with pytest.raises(AutomixError):
            generate_corpus(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_generator_modules_are_torch_free():
    import subprocess
    import sys

    code = ("import sys, automix.data.generate, automix.data.grooves, automix.data.drumkit, automix.data.kits, "
            "automix.data.rooms, automix.data.recording, automix.data.mixstyles, automix.data.kitsplit; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_generate_module_does_not_import_the_cli():
    import subprocess
    import sys

    code = "import sys, automix.data.generate; sys.exit(1 if 'automix.cli' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
    assert not hasattr(__import__("automix.data.generate", fromlist=["x"]), "main")
