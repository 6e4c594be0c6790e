"""Generate a realistic drum multitrack corpus in the ENST-drums layout (torch-free).

Every *take* is made in five steps, all deterministic for a seed:

1. **Groove** (:mod:`automix.data.grooves`): a style drawn by weight from the recipe, a tempo in
   the style's range, simple or complex, verse/chorus phrases, fills, velocity and timing
   humanisation; saved as a MIDI file and in the take's annotations.
2. **Kit** (:mod:`automix.data.kits`): one kit of the catalogue (recorded acoustic kits from
   Debian's Hydrogen kits and SoundFonts), taken in a family-balanced cycle (:func:`kit_for_take`):
   every kit family comes round equally often, whatever its number of kits. The groove's notes
   play the kit's one-shots per piece.
3. **Recording** (:mod:`automix.data.recording`, :mod:`automix.data.rooms`): a room, the kit
   placed in it, close mics and a stereo pair drawn for the take; every mic signal is the sum of
   the pieces' sources convolved with the room's responses from each piece to that mic (image
   sources + a diffuse tail), recorded at the gain a soundcheck gives it, with a noise floor. One
   mono stem per ENST mic slot, at its recorded level (not normalised).
4. **Dry mix** in a *mixing style* (:mod:`automix.data.mixstyles`) drawn by weight: ``balance``
   (faders, pans, corrective high-pass), ``light`` (+ gentle EQ and compression) or ``produced``
   (the heavy chain); pans from the drummer's perspective, mirrored for an audience perspective.
5. **Wet mix**: the same plus post-fader reverb sends into one stereo reverb.

Every drawn parameter is rounded before use, so the values saved in the take's JSON are exactly
the ones that made the take: ``mix_stems(stems, truth["mix"])`` remakes both mixes from the stem
files (to the 24-bit rounding of the stems), and :func:`rerecord_take` the stems from the
annotation. Layout written under ``out``::

    corpus.json                                   what, how, recipe, kits, takes
    drummer_1/audio/<slot>/<take>.wav             mono stems (24-bit), slots of daw_bridge.stems.DRUM_SLOTS
    drummer_1/audio/dry_mix/<take>.wav            stereo mixes (24-bit)
    drummer_1/audio/wet_mix/<take>.wav
    drummer_1/annotation/<take>.txt               ENST-style onsets: "<time s> <label>" per hit
    drummer_1/annotation/<take>.json              ground truth: groove, kit, room, mics, levels, mix
    drummer_1/midi/<take>.mid                     the groove (General MIDI drums, channel 10)

Take names follow ENST: ``001_phrase_rock_complex_fast_sticks`` (the name depends only on the
seed and the take number: the groove's draws come first). With ``drummers`` 2 or 3 the takes go
round-robin to ``drummer_1..N``; as in ENST, only drummer 3 then plays three toms (the others
have no ``tom_3`` folder). With one drummer, drummer 1 plays three toms.

The recipe (:class:`GeneratorRecipe`) holds the groove ranges, the recording ranges (kits,
rooms, mics, levels) and the mixing styles; the default is
``datasets/recipes/drums-default.json`` (:data:`DEFAULT_RECIPE`). ``automix datasets drums`` is
the command line.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import mido
import numpy as np
from pydantic import Field, field_validator, model_validator

from automix.data import grooves, kits, mixstyles, recording
from automix.data._strict import Range, Strict, check_weights
from automix.data.mixstyles import MixStyleSpec, mix_stems
from automix.data.recording import RecordingSpec
from automix.data.segments import datasets_dir
from daw_bridge.audio import write_audio
from daw_bridge.errors import AutomixError, OutputError
from daw_bridge.outputs import atomic_output
from daw_bridge.stems import DRUM_SLOTS

__all__ = [
    "DEFAULT_RECIPE",
    "DEFAULT_RECIPE_PATH",
    "MIX_FOLDERS",
    "CorpusSummary",
    "GeneratorRecipe",
    "TakeInfo",
    "generate_corpus",
    "kit_for_take",
    "load_recipe",
    "mix_stems",
    "plan_corpus",
    "rerecord_take",
    "sample_mix_params",
    "take_events",
    "take_name",
]

SR = kits.SAMPLE_RATE
MIX_FOLDERS = ("dry_mix", "wet_mix")
FORMAT = "automix-generated-drums/2"
#: The default generator recipe (``datasets/recipes``; installed with the package).
DEFAULT_RECIPE_PATH = datasets_dir() / "recipes" / "drums-default.json"
_TAKE_RE = re.compile(r"^\d{3}_phrase_[a-z_-]+_(simple|complex)_(slow|medium|fast)_sticks$")

# --------------------------------------------------------------------------------------------
# Recipe


class StyleSpec(Strict):
    """How often a groove style is drawn (relative weight) and its tempo range (bpm, inclusive)."""

    weight: float = Field(gt=0)
    tempo_bpm: tuple[int, int]


class HumaniseSpec(Strict):
    """See :class:`automix.data.grooves.Humanisation`."""

    velocity_sd: float = Field(ge=0)
    velocity_max: float = Field(ge=0)
    timing_sd_ms: float = Field(ge=0)
    timing_max_ms: float = Field(ge=0)
    intensity: Range


class GrooveSpec(Strict):
    styles: dict[str, StyleSpec]
    complex_probability: float = Field(ge=0, le=1)
    fill_probability: float = Field(ge=0, le=1)
    phrase_bars: int = Field(ge=1)
    lead_in_s: Range
    ring_out_s: Range
    humanise: HumaniseSpec

    @field_validator("styles")
    @classmethod
    def _known_styles(cls, styles: dict[str, StyleSpec]) -> dict[str, StyleSpec]:
        unknown = sorted(set(styles) - set(grooves.STYLES))
        if unknown or not styles:
            raise ValueError(f"unknown styles {unknown}; known: {', '.join(grooves.STYLES)}")
        return styles


class GeneratorRecipe(Strict):
    """Everything :func:`generate_corpus` draws from (see ``datasets/generated-drums.md``)."""

    name: str
    description: str = ""
    stem_subtype: Literal["PCM_16", "PCM_24"] = "PCM_24"
    mix_subtype: Literal["PCM_16", "PCM_24"] = "PCM_24"
    groove: GrooveSpec
    recording: RecordingSpec
    mix_styles: dict[str, MixStyleSpec]

    @model_validator(mode="before")
    @classmethod
    def _old_format(cls, data):
        if isinstance(data, dict) and ("mix" in data or "recording_gain_db" in data):
            raise ValueError("this is a recipe of the first generator (one kit, 'mix' and 'recording_gain_db'); "
                             "recipes now have 'recording' and 'mix_styles' (see datasets/recipes/drums-default.json)")
        return data

    @field_validator("mix_styles")
    @classmethod
    def _styles(cls, v):
        check_weights({k: s.weight for k, s in v.items()}, "mix_styles")
        return v

    @classmethod
    def load(cls, path: str | Path) -> GeneratorRecipe:
        """Read a recipe JSON file; :class:`AutomixError` (one line) if it is missing or invalid."""
        p = Path(path)
        try:
            return cls.model_validate_json(p.read_text())
        except OSError as exc:
            raise AutomixError(f"cannot read recipe {p}: {exc.strerror or exc}") from exc
        except ValueError as exc:
            first = str(exc).splitlines()
            detail = " ".join(first[1:3]) if len(first) > 2 else str(exc)
            raise AutomixError(f"recipe {p} is invalid: {' '.join(detail.split())}") from exc


#: The default recipe, read from the committed JSON file (installed as automix/_datasets).
DEFAULT_RECIPE: dict = json.loads(DEFAULT_RECIPE_PATH.read_text())


def load_recipe(recipe: GeneratorRecipe | str | Path | dict | None = None) -> GeneratorRecipe:
    """A recipe from an object, a JSON file or a dict; ``None`` gives :data:`DEFAULT_RECIPE`."""
    if recipe is None:
        return GeneratorRecipe.model_validate(DEFAULT_RECIPE)
    if isinstance(recipe, GeneratorRecipe):
        return recipe
    if isinstance(recipe, dict):
        return GeneratorRecipe.model_validate(recipe)
    return GeneratorRecipe.load(recipe)


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    w = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def sample_mix_params(rng: np.random.Generator, recipe: GeneratorRecipe, slots: Sequence[str],
                      style: str | None = None) -> dict:
    """One take's mix parameters (:func:`automix.data.mixstyles.sample_mix_params`) in ``style``,
    or in a style drawn by the recipe's weights (``mix["style"]`` says which)."""
    if style is None:
        style = _pick(rng, {k: s.weight for k, s in recipe.mix_styles.items()})
    if style not in recipe.mix_styles:
        raise AutomixError(f"the recipe has no mixing style '{style}' (it has: {', '.join(recipe.mix_styles)})")
    return mixstyles.sample_mix_params(rng, recipe.mix_styles[style], slots, style=style)


# --------------------------------------------------------------------------------------------
# Takes


@dataclasses.dataclass(frozen=True)
class TakeInfo:
    """One generated take: its name, drummer, groove summary, length, kit and mixing style."""

    name: str
    drummer: int
    style: str
    complexity: str
    bpm: int
    tempo: str
    seconds: float
    kit: str = ""
    mix_style: str = ""


@dataclasses.dataclass
class CorpusSummary:
    """What :func:`generate_corpus` wrote: the takes, their total length (s) and every file."""

    out: Path
    takes: list[TakeInfo]
    seconds: float
    paths: list[Path]


def take_name(number: int, style: str, complexity: str, tempo: str) -> str:
    """ENST-style take name, e.g. ``001_phrase_rock_simple_medium_sticks``."""
    return f"{number:03d}_phrase_{style}_{complexity}_{tempo}_sticks"


def _tempo_word(bpm: int, bounds: Sequence[int]) -> str:
    lo, hi = bounds
    if hi <= lo:
        return "medium"
    third = (hi - lo) / 3
    return "slow" if bpm < lo + third else ("fast" if bpm > hi - third else "medium")


def _slots_for(drummer: int, drummers: int) -> tuple[str, ...]:
    toms3 = drummers == 1 or drummer == 3
    return tuple(s for s in DRUM_SLOTS if toms3 or s != "tom_3")


def _take_order(songs: int, drummers: int) -> Iterator[tuple[int, int, int, tuple[str, ...], int]]:
    """``(index, drummer, number, slots, toms)`` of every take in corpus order: takes dealt over
    the drummers in turn, each drummer's numbered from 1."""
    counters = {d: 0 for d in range(1, drummers + 1)}
    for index in range(songs):
        drummer = index % drummers + 1
        counters[drummer] += 1
        slots = _slots_for(drummer, drummers)
        yield index, drummer, counters[drummer], slots, 3 if "tom_3" in slots else 2


def _take_seeds(entropy: Sequence[int]) -> dict[str, np.random.SeedSequence]:
    """The take's independent streams: plan (name), groove, mix, set-up, and the recording's
    tails and noise (children of one SeedSequence of ``[seed, drummer, number]``)."""
    plan, groove, mix, setup, noise = np.random.SeedSequence(list(entropy)).spawn(5)
    tails, hiss = noise.spawn(2)
    return {"plan": plan, "groove": groove, "mix": mix, "setup": setup, "tails": tails, "hiss": hiss}


def _plan(recipe: GeneratorRecipe, seeds: dict, seconds: float, toms: int):
    rng = np.random.default_rng(seeds["plan"])
    g = recipe.groove
    names = list(g.styles)
    weights = np.array([g.styles[n].weight for n in names], dtype=np.float64)
    style = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    lo, hi = g.styles[style].tempo_bpm
    bpm = int(rng.integers(lo, hi + 1))
    complexity = "complex" if rng.random() < g.complex_probability else "simple"
    lead_in = mixstyles.draw(rng, g.lead_in_s, 3)
    ring = mixstyles.draw(rng, g.ring_out_s, 3)
    ring = min(max(ring, 0.5), 0.3 * seconds)
    lead_in = min(lead_in, 0.1 * seconds)
    bar_s = 4 * _beat_seconds(bpm)
    bars = math.floor((seconds - ring - lead_in) / bar_s + 1e-9)
    ending = bars >= 1
    h = g.humanise
    groove = grooves.make_groove(
        seeds["groove"], style=style, bpm=bpm, bars=max(bars, 1), complexity=complexity,
        fill_probability=g.fill_probability, phrase_bars=g.phrase_bars, toms=toms, lead_in=lead_in,
        ending=ending, max_time=seconds - ring if not ending else seconds - 0.25,
        humanise=grooves.Humanisation(h.velocity_sd, h.velocity_max, h.timing_sd_ms, h.timing_max_ms,
                                      tuple(h.intensity)),
    )
    return groove, _tempo_word(bpm, (lo, hi)), {"ring_out_s": ring}


def _beat_seconds(bpm: int) -> float:
    """Seconds per beat for an integer bpm as a MIDI file stores it (whole microseconds)."""
    return mido.bpm2tempo(bpm) / 1e6


def kit_for_take(seed: int, index: int, kit_list: Sequence[str]) -> str:
    """The kit of the ``index``-th take (0-based, over all drummers) of a corpus.

    Family-balanced cycle: in every block of as many takes as there are kit families, each family
    plays once (in a seeded order per block); a family's kits take turns (in a seeded order). So
    the kits are spread evenly, a 12-take corpus holds 12 different kits when there are enough, and
    take ``k`` does not depend on how many takes follow it.
    """
    fams = kits.families(kit_list)
    names = sorted(fams)
    block, pos = divmod(int(index), len(names))
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6B6974, block])).permutation(len(names))
    family = names[int(order[pos])]
    members = fams[family]
    turn = np.random.default_rng(np.random.SeedSequence([int(seed), 0x66616D, names.index(family)])).permutation(
        len(members))
    return members[int(turn[block % len(members)])]


def take_events(groove_dict: dict) -> list[tuple[int, int, int]]:
    """``(frame, key, velocity)`` of every note of a groove (its ``to_dict()``, as in a take's
    annotation): frames are ``round(time * 44100)`` of the note's exact MIDI time."""
    tempo = groove_dict["tempo_us_per_quarter"]
    tpb = groove_dict["ticks_per_beat"]
    return [(int(round(n["tick"] * tempo / 1e6 / tpb * SR)), int(n["key"]), int(n["velocity"]))
            for n in groove_dict["notes"]]


def _pieces_for(toms: int) -> list[str]:
    return [p for p in kits.PIECES if toms == 3 or p != "tom_floor"]


def _setup_dict(truth: dict) -> dict:
    rec = truth["recording"]
    return {"room": truth["room"], "pieces": rec["pieces"], "piece_trim_db": rec["piece_trim_db"],
            "mics": truth["mics"]}


def rerecord_take(truth: dict, *, cache: Path | None = None, pieces: Sequence[str] | None = None,
                  noise: bool = True) -> dict[str, np.ndarray]:
    """A take's stems (float32, before the 24-bit rounding of the files) remade from its annotation.

    ``pieces`` keeps only those pieces' sound and ``noise=False`` leaves out the noise floor: the
    stems are the sum of the pieces' contributions plus the noise.
    """
    kit = kits.load_kit(truth["kit"]["name"], cache)
    setup = recording.setup_from_dict(_setup_dict(truth))
    seeds = _take_seeds(truth["take_entropy"])
    stems, _ = recording.record_take(
        kit, setup, take_events(truth["groove"]), int(truth["frames"]),
        tail_rng=np.random.default_rng(seeds["tails"]), noise_rng=np.random.default_rng(seeds["hiss"]),
        recorded=truth["recording"]["levels"], pieces=pieces, noise=noise)
    return stems


def plan_corpus(songs: int, *, seed: int = 0, seconds: float = 20.0, drummers: int = 1,
                recipe: GeneratorRecipe | str | Path | dict | None = None) -> list[dict]:
    """What :func:`generate_corpus` with these arguments will make, without rendering any audio:
    per take its id, kit, kit family, pair placement and technique, room type and mixing style
    (the rows :func:`automix.data.kitsplit.make_kit_split` splits), in take order."""
    rec = load_recipe(recipe)
    kit_list = rec.recording.kit_list()
    rows = []
    for index, drummer, number, slots, toms in _take_order(songs, drummers):
        plan = _plan_take(rec, [seed, drummer, number], float(seconds), slots, toms)
        kit = kit_for_take(seed, index, kit_list)
        rows.append({"id": f"drummer_{drummer}/{plan.name}", "kit": kit, "family": kits.CATALOGUE[kit].family,
                     "placement": plan.setup.pair["placement"], "technique": plan.setup.pair["technique"],
                     "room": plan.setup.room_type, "mix_style": plan.params["style"]})
    return rows


@dataclasses.dataclass
class _TakePlan:
    """What a take's seeds decide before any audio: groove, tempo, name, set-up and mix parameters."""

    seeds: dict
    groove: grooves.Groove
    tempo: str
    extra: dict
    name: str
    setup: recording.Setup
    params: dict


def _plan_take(rec: GeneratorRecipe, entropy: list[int], seconds: float, slots: tuple[str, ...],
               toms: int) -> _TakePlan:
    """The plan of take ``entropy`` = ``[seed, drummer, number]``; each draw has its own seed, so
    :func:`plan_corpus` and the renderer agree without rendering."""
    seeds = _take_seeds(entropy)
    groove, tempo, extra = _plan(rec, seeds, seconds, toms)
    setup = recording.draw_setup(np.random.default_rng(seeds["setup"]), rec.recording, _pieces_for(toms), slots)
    params = sample_mix_params(np.random.default_rng(seeds["mix"]), rec, slots)
    return _TakePlan(seeds, groove, tempo, extra, take_name(entropy[2], groove.style, groove.complexity, tempo),
                     setup, params)


def _enst_annotation(groove: grooves.Groove) -> str:
    return "".join(f"{n.time:.6f} {grooves.ENST_LABELS.get(n.key, str(n.key))}\n" for n in groove.notes)


def _write_json(path: Path, data: dict, overwrite: bool) -> Path:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    return path


def _write_text(path: Path, text: str, overwrite: bool) -> Path:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text)
    return path


def _check_out(out: Path, overwrite: bool) -> Path:
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file; give a folder for the corpus")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(f"{out} is not empty; pass --force (overwrite=True) to write the corpus into it")
    return out


def _versions() -> dict[str, str]:
    import pedalboard
    import pyroomacoustics
    import scipy

    return {"numpy": np.__version__, "scipy": scipy.__version__, "pyroomacoustics": pyroomacoustics.__version__,
            "pedalboard": pedalboard.__version__}


@dataclasses.dataclass(frozen=True)
class _CorpusJob:
    """The checked arguments of one :func:`generate_corpus` call and its kit per take
    (``schedule``, by take index); ``seconds`` per take."""

    out: Path
    songs: int
    seed: int
    seconds: float
    drummers: int
    overwrite: bool
    cache: Path | None
    rec: GeneratorRecipe
    schedule: list[str]

    @property
    def length(self) -> int:
        """Frames per take at :data:`SR`."""
        return int(round(self.seconds * SR))


@dataclasses.dataclass
class _Take:
    """One take made in memory: its plan, kit, set-up, stems (mono float32 ``[T]`` per slot),
    recorded levels and mixes (stereo ``[2, T]``), before anything is written."""

    name: str
    drummer: int
    number: int
    entropy: list[int]
    slots: tuple[str, ...]
    toms: int
    groove: grooves.Groove
    tempo: str
    ring_out_s: float
    kit: kits.LoadedKit
    setup: recording.Setup
    stems: dict[str, np.ndarray]
    levels: dict[str, dict]
    params: dict
    dry: np.ndarray
    wet: np.ndarray
    outcome: dict


def _check_arguments(songs: int, seconds: float, drummers: int, seed: int) -> None:
    """Raise :class:`AutomixError` for a count, length, drummer number or seed out of range."""
    if isinstance(songs, bool) or not isinstance(songs, int) or songs < 1:
        raise AutomixError(f"songs must be a positive integer, got {songs!r}")
    if not 2.0 <= float(seconds) <= 600.0:
        raise AutomixError(f"seconds must be between 2 and 600, got {seconds}")
    if drummers not in (1, 2, 3):
        raise AutomixError(f"drummers must be 1, 2 or 3, got {drummers}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise AutomixError(f"seed must be a non-negative integer, got {seed!r}")


def _start_job(out: Path, songs: int, seed: int, seconds: float, drummers: int, overwrite: bool,
               cache: Path | None, recipe: GeneratorRecipe | str | Path | dict | None) -> _CorpusJob:
    """Check the arguments, the output folder and the kits (before writing anything), then create ``out``."""
    _check_arguments(songs, seconds, drummers, seed)
    out = _check_out(out, overwrite)
    rec = load_recipe(recipe)
    kit_list = rec.recording.kit_list()
    schedule = [kit_for_take(seed, i, kit_list) for i in range(songs)]
    kits.check_kits(sorted(set(schedule)))  # before writing anything
    out.mkdir(parents=True, exist_ok=True)
    return _CorpusJob(out, songs, seed, float(seconds), drummers, overwrite, cache, rec, schedule)


def _render_take(job: _CorpusJob, index: int, drummer: int, number: int, slots: tuple[str, ...],
                 toms: int) -> _Take:
    """Take ``index`` (``number`` of ``drummer``): groove, kit, set-up, recording and both mixes."""
    entropy = [job.seed, drummer, number]
    plan = _plan_take(job.rec, entropy, job.seconds, slots, toms)
    kit = kits.load_kit(job.schedule[index], job.cache)
    stems, levels = recording.record_take(
        kit, plan.setup, take_events(plan.groove.to_dict()), job.length,
        tail_rng=np.random.default_rng(plan.seeds["tails"]), noise_rng=np.random.default_rng(plan.seeds["hiss"]),
        peak_limit_dbfs=job.rec.recording.peak_limit_dbfs)
    dry, wet, outcome = mix_stems(stems, plan.params)
    return _Take(plan.name, drummer, number, entropy, slots, toms, plan.groove, plan.tempo, plan.extra["ring_out_s"],
                 kit, plan.setup, stems, levels, plan.params, dry, wet, outcome)


def _write_take(job: _CorpusJob, take: _Take) -> list[Path]:
    """Write a take's stems, mixes, MIDI file, onsets and ground truth; the paths, in that order."""
    name, rec, overwrite = take.name, job.rec, job.overwrite
    base = job.out / f"drummer_{take.drummer}"
    for sub in [*(f"audio/{s}" for s in take.slots), *(f"audio/{m}" for m in MIX_FOLDERS), "annotation", "midi"]:
        (base / sub).mkdir(parents=True, exist_ok=True)
    written = [write_audio(base / "audio" / slot / f"{name}.wav", take.stems[slot], SR,
                           subtype=rec.stem_subtype, overwrite=overwrite) for slot in take.slots]
    written.append(write_audio(base / "audio" / "dry_mix" / f"{name}.wav", take.dry, SR,
                               subtype=rec.mix_subtype, overwrite=overwrite))
    written.append(write_audio(base / "audio" / "wet_mix" / f"{name}.wav", take.wet, SR,
                               subtype=rec.mix_subtype, overwrite=overwrite))
    written.append(grooves.write_midi(take.groove, base / "midi" / f"{name}.mid", length_s=job.seconds,
                                      overwrite=overwrite))
    written.append(_write_text(base / "annotation" / f"{name}.txt", _enst_annotation(take.groove), overwrite))
    written.append(_write_json(base / "annotation" / f"{name}.json", _take_truth(job, take), overwrite))
    return written


def _take_truth(job: _CorpusJob, take: _Take) -> dict:
    """A take's ground-truth annotation (``annotation/<take>.json``)."""
    name, groove, slots, kit, params = take.name, take.groove, take.slots, take.kit, take.params
    described = take.setup.to_dict()
    return {
        "format": FORMAT,
        "take": name,
        "drummer": take.drummer,
        "number": take.number,
        "seed": job.seed,
        "take_entropy": take.entropy,
        "sample_rate": SR,
        "frames": job.length,
        "seconds": job.seconds,
        "style": groove.style,
        "complexity": groove.complexity,
        "tempo": take.tempo,
        "bpm": groove.bpm,
        "toms": take.toms,
        "ring_out_s": take.ring_out_s,
        "kit": {**kit.spec.to_dict(), "key_map": kit.spec.key_map(),
                "calibration_db": kit.info["calibration_db"]},
        "mix_style": params["style"],
        "perspective": params["perspective"],
        "room": described["room"],
        "mics": described["mics"],
        "files": {
            **{slot: f"audio/{slot}/{name}.wav" for slot in slots},
            **{m: f"audio/{m}/{name}.wav" for m in MIX_FOLDERS},
            "midi": f"midi/{name}.mid",
            "onsets": f"annotation/{name}.txt",
        },
        "recording": {
            "levels": take.levels,
            "peak_limit_dbfs": job.rec.recording.peak_limit_dbfs,
            "pieces": described["pieces"],
            "piece_trim_db": described["piece_trim_db"],
        },
        "mix": {**params, "result": take.outcome},
        "renderer": {
            "program": "automix.data (kits one-shots, pyroomacoustics image sources, pedalboard mixes)",
            "kit_cache": f"kits v{kits.KITS_VERSION}",
            "versions": _versions(),
        },
        "groove": groove.to_dict(),
    }


def _manifest(job: _CorpusJob, takes: list[TakeInfo]) -> dict:
    """The corpus description (``corpus.json``): what, how, recipe, kits used, takes."""
    used = sorted(set(job.schedule), key=list(kits.CATALOGUE).index)
    return {
        "format": FORMAT,
        "generator": "automix.data.generate",
        "seed": job.seed,
        "songs": job.songs,
        "seconds_per_take": job.seconds,
        "drummers": job.drummers,
        "sample_rate": SR,
        "slots": list(DRUM_SLOTS),
        "mixes": list(MIX_FOLDERS),
        "kits": {name: kits.CATALOGUE[name].to_dict() for name in used},
        "recipe": job.rec.model_dump(mode="json"),
        "takes": [dataclasses.asdict(t) for t in takes],
    }


def generate_corpus(
    out: Path,
    songs: int,
    *,
    seed: int = 0,
    seconds: float = 20.0,
    drummers: int = 1,
    overwrite: bool = False,
    progress: bool | None = None,
    cache: Path | None = None,
    recipe: GeneratorRecipe | str | Path | dict | None = None,
) -> CorpusSummary:
    """Write ``songs`` takes of ``seconds`` seconds each into ``out`` in the ENST layout.

    ``drummers`` (1-3) spreads the takes round-robin over ``drummer_1..N``. ``cache`` holds the
    kits' prepared one-shots (default: automix's cache folder, :func:`automix.data.segments.cache_dir`).
    ``recipe`` defaults to :data:`DEFAULT_RECIPE`. The same arguments give byte-identical files.
    Refuses a non-empty ``out`` unless ``overwrite`` (then files are replaced and earlier generated
    takes that are not part of this corpus are removed). Raises :class:`OutputError` for output
    problems and :class:`AutomixError` when a kit's Debian package or FluidSynth is missing (with
    the apt-get command to run).
    """
    job = _start_job(out, songs, seed, seconds, drummers, overwrite, cache, recipe)
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm.auto import tqdm  # a dependency of automix; imported late to keep the import light

    written: list[Path] = []
    takes: list[TakeInfo] = []
    bar = tqdm(total=songs, desc="drum takes", unit="take", disable=not progress)
    try:
        for index, drummer, number, slots, toms in _take_order(songs, drummers):
            take = _render_take(job, index, drummer, number, slots, toms)
            written += _write_take(job, take)
            groove = take.groove
            takes.append(TakeInfo(f"drummer_{drummer}/{take.name}", drummer, groove.style, groove.complexity,
                                  groove.bpm, take.tempo, job.seconds, take.kit.name, take.params["style"]))
            bar.update(1)
    finally:
        bar.close()
    written.append(_write_json(job.out / "corpus.json", _manifest(job, takes), True))
    if overwrite:
        _remove_stale(job.out, set(written))
    return CorpusSummary(out=job.out, takes=takes, seconds=round(songs * job.seconds, 3), paths=written)


def _remove_stale(out: Path, keep: set[Path]) -> None:
    """Delete generated take files under ``out`` that this run did not write (overwrite mode)."""
    for drummer_dir in sorted(out.glob("drummer_[0-9]")):
        for sub, suffixes in (("audio", (".wav",)), ("annotation", (".txt", ".json")), ("midi", (".mid",))):
            for path in sorted((drummer_dir / sub).rglob("*")):
                if path.is_file() and path.suffix in suffixes and _TAKE_RE.match(path.stem) and path not in keep:
                    path.unlink()
