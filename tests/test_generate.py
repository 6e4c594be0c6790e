"""The drum corpus generator: grooves, the DrumGizmo kit and renderer, mixes, files (real DrumGizmo).

Needs ``apt-get install -y --no-install-recommends drumgizmo hydrogen-data`` (without
hydrogen-data the samples are fetched with ``apt-get download``). Without drumgizmo the
generator tests are skipped, except under CI (``CI`` set), where they fail.
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

from automix.data import drumkit, grooves
from automix.data.generate import (
    DEFAULT_RECIPE,
    DEFAULT_RECIPE_PATH,
    GeneratorRecipe,
    generate_corpus,
    load_recipe,
    mix_stems,
)
from daw_bridge.errors import AutomixError, OutputError
from daw_bridge.stems import DRUM_SLOTS

SR = 44100
SECONDS = 4.0
SEED = 11
TAKE_RE = re.compile(r"^(\d{3})_phrase_([a-z_]+)_(simple|complex)_(slow|medium|fast)_sticks$")
HAVE_DRUMGIZMO = shutil.which("drumgizmo") is not None
if not HAVE_DRUMGIZMO and os.environ.get("CI"):
    raise RuntimeError("CI needs DrumGizmo: apt-get install -y --no-install-recommends drumgizmo hydrogen-data")
needs_drumgizmo = pytest.mark.skipif(
    not HAVE_DRUMGIZMO, reason="DrumGizmo missing: apt-get install -y --no-install-recommends drumgizmo hydrogen-data")


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    """Samples and kit, built once per session (a private cache keeps the test hermetic)."""
    return tmp_path_factory.mktemp("automix-cache")


@pytest.fixture(scope="session")
def kit(cache):
    return drumkit.build_kit(cache)


@pytest.fixture(scope="session")
def corpus(cache, kit, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "drums"
    summary = generate_corpus(out, 3, seed=SEED, seconds=SECONDS, cache=cache, progress=False)
    return summary


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
    assert keys <= drumkit.Kit(Path("."), {}).notes  # every note has an instrument in the kit
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
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    bad["groove"]["swing"] = 0.5
    (tmp_path / "extra.json").write_text(json.dumps(bad))
    with pytest.raises(AutomixError, match="extra.json is invalid"):
        GeneratorRecipe.load(tmp_path / "extra.json")
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    bad["mix"]["slots"]["kick"]["gain_db"] = [4.0, 0.0]
    with pytest.raises(ValueError, match="reversed"):
        GeneratorRecipe.model_validate(bad)
    bad = json.loads(json.dumps(DEFAULT_RECIPE))
    del bad["mix"]["slots"]["tom_3"]
    with pytest.raises(ValueError, match="slots must be exactly"):
        GeneratorRecipe.model_validate(bad)


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


@needs_drumgizmo
def test_enst_layout_and_names(corpus):
    out = corpus.out
    assert len(corpus.takes) == 3 and corpus.seconds == pytest.approx(3 * SECONDS)
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


@needs_drumgizmo
def test_stems_mono_mixes_stereo_same_length(corpus):
    for path in corpus.out.glob("drummer_1/audio/*/*.wav"):
        info = sf.info(str(path))
        assert info.samplerate == SR and info.frames == round(SECONDS * SR)
        assert info.subtype in ("PCM_16", "PCM_24")
        assert info.channels == (2 if path.parent.name in ("dry_mix", "wet_mix") else 1)


@needs_drumgizmo
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
                after = x[f:f + 882].max()  # the kick peaks ~15 ms into its samples
                assert after > 3 * before and after > 0.05, f"no {slot} hit at {f / SR:.3f} s in {truth['take']}"
                checked[slot][0] += 1
                if gap < 0.4 * SR:  # a loud tail of the previous hit would hide the onset
                    continue
                # the hit starts on the note's frame: never before it (DrumGizmo alone puts notes up to
                # 23 ms early) and rising within 5 ms (the samples take 0.1-2.6 ms to reach 5 % of
                # their peak)
                lo = max(0, f - 441)
                onset = lo + int(np.argmax(x[lo:f + 882] > 0.05 * after + 1.5 * before))
                assert 0 <= onset - f <= 220, f"{slot} onset {onset} vs MIDI frame {f} (early or over 5 ms late)"
                checked[slot][1] += 1
        # the ENST onset list matches the MIDI notes
        lines = (d / truth["files"]["onsets"]).read_text().splitlines()
        assert [float(line.split()[0]) for line in lines] == pytest.approx([n["time_s"] for n in notes], abs=1e-6)
    assert all(n_energy >= 3 and n_onset >= 1 for n_energy, n_onset in checked.values()), checked


@needs_drumgizmo
def test_wet_and_dry_mixes_differ_by_reverb(corpus):
    d = corpus.out / "drummer_1"
    for truth in _truths(corpus.out):
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


@needs_drumgizmo
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
        # style and tempo from the recipe
        style = recipe.groove.styles[truth["style"]]
        assert style.tempo_bpm[0] <= truth["bpm"] <= style.tempo_bpm[1]
        assert all(n["time_s"] < SECONDS for n in truth["groove"]["notes"])
        # every mixing parameter within its range
        inside = lambda v, r, tol=0.0051: r[0] - tol <= v <= r[1] + tol
        sign = -1 if truth["mix"]["perspective"] == "audience" else 1
        for slot, strip in truth["mix"]["slots"].items():
            spec = recipe.mix.slots[slot]
            assert inside(strip["gain_db"], spec.gain_db) and inside(strip["reverb_send_db"], spec.reverb_send_db)
            assert inside(sign * strip["pan"], spec.pan, 0.0006)
            assert inside(truth["recording"][slot]["recording_trim_db"], spec.recording_trim_db)
            required = [b for b in spec.eq if b.probability == 1.0]
            assert len(required) <= len(strip["eq"]) <= len(spec.eq)
            for band in strip["eq"]:
                match = [b for b in spec.eq if b.type == band["type"] and inside(band["freq_hz"], b.freq_hz, 0.051)]
                assert match, f"{slot} band {band} not in the recipe"
                if "gain_db" in band:
                    assert any(inside(band["gain_db"], b.gain_db) and inside(band["q"], b.q, 0.0006) for b in match)
            for kind in ("compressor", "gate"):
                spec_dyn, got = getattr(spec, kind), strip[kind]
                assert (got is None) or spec_dyn is not None
                if got:
                    for key in ("threshold_db", "ratio", "attack_ms", "release_ms"):
                        assert inside(got[key], getattr(spec_dyn, key))
        assert truth["mix"]["slots"]["kick"]["compressor"] and truth["mix"]["slots"]["snare"]["compressor"]
        for key, value in truth["mix"]["reverb"].items():
            if key not in ("wet_level", "dry_level"):
                assert inside(value, getattr(recipe.mix.reverb, key), 0.051), key
        assert truth["mix"]["bus"]["target_lufs"] == recipe.mix.bus.target_lufs


@needs_drumgizmo
def test_same_seed_same_bytes_other_seed_other_bytes(corpus, cache, tmp_path):
    again = generate_corpus(tmp_path / "again", 3, seed=SEED, seconds=SECONDS, cache=cache, progress=False)
    files = sorted(p.relative_to(corpus.out) for p in corpus.out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again.out) for p in again.out.rglob("*") if p.is_file())
    for rel in files:
        assert (corpus.out / rel).read_bytes() == (again.out / rel).read_bytes(), rel
    other = generate_corpus(tmp_path / "other", 1, seed=SEED + 1, seconds=SECONDS, cache=cache, progress=False)
    first = sorted(corpus.out.glob("drummer_1/audio/*/001_*.wav"))
    theirs = sorted(other.out.glob("drummer_1/audio/*/001_*.wav"))
    assert len(theirs) == len(first) == 10
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(first, theirs))


@needs_drumgizmo
def test_refuses_non_empty_output_unless_overwrite(cache, tmp_path):
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError) as err:
        generate_corpus(out, 1, seconds=2.0, cache=cache, progress=False)
    assert "not empty" in str(err.value) and "\n" not in str(err.value)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        generate_corpus(tmp_path / "file", 1, seconds=2.0, cache=cache, progress=False)
    # overwrite: writes, replaces earlier generated takes, leaves other files alone
    generate_corpus(out, 2, seed=1, seconds=2.0, cache=cache, overwrite=True, progress=False)
    assert len(list(out.glob("drummer_1/audio/kick/*.wav"))) == 2
    generate_corpus(out, 1, seed=2, seconds=2.0, cache=cache, overwrite=True, progress=False)
    assert len(list(out.glob("drummer_1/audio/kick/*.wav"))) == 1
    assert len(list(out.glob("drummer_1/annotation/*"))) == 2 and len(list(out.glob("drummer_1/midi/*"))) == 1
    assert (out / "notes.txt").read_text() == "mine"


@needs_drumgizmo
def test_three_drummers_like_enst(cache, tmp_path):
    summary = generate_corpus(tmp_path / "c", 4, seconds=2.0, drummers=3, cache=cache, progress=False)
    assert [t.drummer for t in summary.takes] == [1, 2, 3, 1]
    assert [t.name.split("/")[1][:3] for t in summary.takes] == ["001", "001", "001", "002"]
    for drummer in (1, 2):
        audio = summary.out / f"drummer_{drummer}" / "audio"
        assert not (audio / "tom_3").exists() and (audio / "tom_2").is_dir()
        for truth in _truths(summary.out):
            if truth["drummer"] == drummer:
                assert truth["toms"] == 2 and "tom_3" not in truth["mix"]["slots"]
                assert all(n["key"] != grooves.TOM_FLOOR for n in truth["groove"]["notes"])
    assert (summary.out / "drummer_3" / "audio" / "tom_3").is_dir()
    try:
        from automix.data.enst import scan_enst
    except ImportError:  # the ENST loader is optional here (it needs torch)
        return
    takes = scan_enst(summary.out)
    assert sorted(t.id for t in takes) == sorted(t.name for t in summary.takes)
    assert all(t.dry_mix and t.wet_mix for t in takes)


def test_missing_drumgizmo_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AutomixError, match="apt-get install .*drumgizmo.*hydrogen-data"):
        generate_corpus(tmp_path / "out", 1, seconds=2.0, cache=tmp_path / "cache", progress=False)
    assert not (tmp_path / "out").exists()


def test_bad_arguments(tmp_path):
    for kwargs in ({"songs": 0}, {"songs": 1, "seconds": 1.0}, {"songs": 1, "drummers": 4}, {"songs": 1, "seed": -1}):
        with pytest.raises(AutomixError):
            generate_corpus(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_generator_modules_are_torch_free():
    import subprocess
    import sys

    code = ("import sys, automix.data.generate, automix.data.grooves, automix.data.drumkit; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
