"""Generate a realistic drum multitrack corpus in the ENST-drums layout (torch-free).

Every *take* is made in four steps, all deterministic for a seed:

1. **Groove** (:mod:`automix.data.grooves`): a style drawn by weight from the recipe, a tempo in
   the style's range, simple or complex, verse/chorus phrases, fills, velocity and timing
   humanisation; saved as a MIDI file and in the take's annotations.
2. **Stems** (:mod:`automix.data.drumkit`): DrumGizmo plays the groove on a multi-mic kit built
   from Hydrogen's recorded GMRockKit: close mics with bleed, and a spaced overhead pair with
   room. One mono stem per ENST mic slot, each with its own recording level (``recording_gain_db``
   plus a random per-slot trim, lowered if the stem would peak above -0.5 dBFS).
3. **Dry mix**, a randomised but plausible engineer's chain in ``pedalboard``: per slot an
   optional gate (toms), EQ bands, a compressor (kick, snare), a fader and a constant-power pan
   (L = cos, R = sin of (pan + 1) pi / 4), summed to a stereo bus; an optional bus compressor;
   loudness-normalised (BS.1770, :func:`daw_bridge.audio.normalize_loudness`), a limiter,
   normalised again and, as a safety net, scaled to the peak ceiling if still louder.
   Pans are drawn from the drummer's perspective and mirrored for an audience perspective.
4. **Wet mix**: the same chain plus post-fader, post-pan reverb sends into one stereo reverb
   (pre-delay, ``pedalboard.Reverb`` fully wet, return high- and low-pass, return level) added to
   the bus before the bus chain.

Every drawn parameter is rounded before use, so the values saved in the take's JSON are
exactly the ones that made the mixes: ``mix_stems(stems, truth["mix"])`` remakes both mixes from
the stem files (to the 24-bit rounding of the stems). Layout written under ``out``::

    corpus.json                                   what, how, recipe, takes
    drummer_1/audio/<slot>/<take>.wav             mono stems (24-bit), slots of daw_bridge.stems.DRUM_SLOTS
    drummer_1/audio/dry_mix/<take>.wav            stereo mixes (24-bit)
    drummer_1/audio/wet_mix/<take>.wav
    drummer_1/annotation/<take>.txt               ENST-style onsets: "<time s> <label>" per hit
    drummer_1/annotation/<take>.json              ground truth: groove, MIDI notes, seeds, every parameter
    drummer_1/midi/<take>.mid                     the groove (General MIDI drums, channel 10)

Take names follow ENST: ``001_phrase_rock_complex_fast_sticks``. With ``drummers`` 2 or 3 the
takes go round-robin to ``drummer_1..N``; as in ENST, only drummer 3 then plays three toms
(the others have no ``tom_3`` folder). With one drummer, drummer 1 plays three toms.

The recipe (:class:`GeneratorRecipe`) holds the style weights and tempo ranges, fill and
complexity probabilities, humanisation and every parameter range of the chains; the default
is ``datasets/recipes/drums-default.json`` (:data:`DEFAULT_RECIPE`).

Requirements: ``apt-get install -y --no-install-recommends drumgizmo hydrogen-data`` (without
``hydrogen-data`` the samples are fetched with ``apt-get download`` into the cache).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import mido
import numpy as np
import pedalboard
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daw_bridge.audio import SILENCE_LUFS, write_audio
from daw_bridge.loudness import measure_loudness, normalize_loudness
from daw_bridge.errors import AutomixError, OutputError
from daw_bridge.outputs import atomic_output
from daw_bridge.stems import DRUM_SLOTS
from automix.data import drumkit, grooves
from automix.data.segments import datasets_dir

__all__ = [
    "DEFAULT_RECIPE",
    "DEFAULT_RECIPE_PATH",
    "MIX_FOLDERS",
    "CorpusSummary",
    "GeneratorRecipe",
    "TakeInfo",
    "generate_corpus",
    "load_recipe",
    "mix_stems",
    "sample_mix_params",
    "take_name",
]

SR = drumkit.SAMPLE_RATE
MIX_FOLDERS = ("dry_mix", "wet_mix")
FORMAT = "automix-generated-drums/1"
#: The default generator recipe (``datasets/recipes``; installed with the package).
DEFAULT_RECIPE_PATH = datasets_dir() / "recipes" / "drums-default.json"
_TAKE_RE = re.compile(r"^\d{3}_phrase_[a-z_-]+_(simple|complex)_(slow|medium|fast)_sticks$")
_STEM_PEAK_DBFS = -0.5  # stems are turned down to stay below this

# --------------------------------------------------------------------------------------------
# Recipe

Range = tuple[float, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _ranges_ordered(self):
        for name, value in self:
            pair = isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
            if pair and value[0] > value[1]:
                raise ValueError(f"{name}: range [{value[0]}, {value[1]}] is reversed")
        return self


class StyleSpec(_Strict):
    """How often a style is drawn (relative weight) and its tempo range (bpm, inclusive)."""

    weight: float = Field(gt=0)
    tempo_bpm: tuple[int, int]


class HumaniseSpec(_Strict):
    """See :class:`automix.data.grooves.Humanisation`."""

    velocity_sd: float = Field(ge=0)
    velocity_max: float = Field(ge=0)
    timing_sd_ms: float = Field(ge=0)
    timing_max_ms: float = Field(ge=0)
    intensity: Range


class GrooveSpec(_Strict):
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


class EqBandSpec(_Strict):
    """One EQ band: a pedalboard filter (``highpass``/``lowpass`` are first order, 6 dB/octave)."""

    type: Literal["highpass", "lowpass", "lowshelf", "highshelf", "peak"]
    freq_hz: Range
    gain_db: Range = (0.0, 0.0)
    q: Range = (0.7071, 0.7071)
    probability: float = Field(default=1.0, ge=0, le=1)


class DynamicsSpec(_Strict):
    """A compressor or gate (``pedalboard.Compressor`` / ``pedalboard.NoiseGate``)."""

    threshold_db: Range
    ratio: Range
    attack_ms: Range
    release_ms: Range
    probability: float = Field(default=1.0, ge=0, le=1)


class SlotSpec(_Strict):
    """One mic slot: its recording trim and its channel strip."""

    recording_trim_db: Range
    gain_db: Range
    pan: Range  # drummer's perspective, -1 left .. +1 right
    eq: list[EqBandSpec] = []
    compressor: DynamicsSpec | None = None
    gate: DynamicsSpec | None = None
    reverb_send_db: Range


class LimiterSpec(_Strict):
    threshold_db: Range
    release_ms: Range


class BusSpec(_Strict):
    compressor: DynamicsSpec | None = None
    limiter: LimiterSpec
    target_lufs: float = Field(le=0)
    peak_ceiling_db: float = Field(le=0)


class ReverbSpec(_Strict):
    room_size: Range
    damping: Range
    width: Range
    pre_delay_ms: Range
    return_highpass_hz: Range
    return_lowpass_hz: Range
    return_gain_db: Range


class MixSpec(_Strict):
    slots: dict[str, SlotSpec]
    link_overheads: bool = True  # overhead_R mirrors overhead_L's pan and copies its strip
    perspective_flip_probability: float = Field(ge=0, le=1)
    bus: BusSpec
    reverb: ReverbSpec

    @field_validator("slots")
    @classmethod
    def _all_slots(cls, slots: dict[str, SlotSpec]) -> dict[str, SlotSpec]:
        if set(slots) != set(DRUM_SLOTS):
            raise ValueError(f"slots must be exactly {', '.join(DRUM_SLOTS)}; got {', '.join(slots)}")
        return slots


class GeneratorRecipe(_Strict):
    """Everything :func:`generate_corpus` draws from (see ``datasets/generated-drums.md``)."""

    name: str
    description: str = ""
    stem_subtype: Literal["PCM_16", "PCM_24"] = "PCM_24"
    mix_subtype: Literal["PCM_16", "PCM_24"] = "PCM_24"
    recording_gain_db: float = Field(le=0)
    groove: GrooveSpec
    mix: MixSpec

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


# --------------------------------------------------------------------------------------------
# Mixing


def _draw(rng: np.random.Generator, bounds: Sequence[float], digits: int = 2) -> float:
    lo, hi = float(bounds[0]), float(bounds[1])
    return round(lo if hi <= lo else float(rng.uniform(lo, hi)), digits)


def _draw_dynamics(rng, spec: DynamicsSpec | None) -> dict | None:
    if spec is None:
        return None
    use = rng.random() < spec.probability  # drawn even when certain: keeps the stream aligned
    values = {"threshold_db": _draw(rng, spec.threshold_db), "ratio": _draw(rng, spec.ratio),
              "attack_ms": _draw(rng, spec.attack_ms), "release_ms": _draw(rng, spec.release_ms)}
    return values if use else None


def sample_mix_params(rng: np.random.Generator, recipe: GeneratorRecipe, slots: Sequence[str]) -> dict:
    """Draw one take's dry and wet chain parameters (rounded, JSON-ready) for ``slots``."""
    spec = recipe.mix
    flip = bool(rng.random() < spec.perspective_flip_probability)
    strips: dict[str, dict] = {}
    for slot in DRUM_SLOTS:  # always draw every slot: the same seed gives the same strips
        s = spec.slots[slot]
        eq = []
        for band in s.eq:
            use = rng.random() < band.probability
            values = {"type": band.type, "freq_hz": _draw(rng, band.freq_hz, 1), "gain_db": _draw(rng, band.gain_db),
                      "q": _draw(rng, band.q, 3)}
            if band.type in ("highpass", "lowpass"):
                del values["gain_db"], values["q"]
            if use:
                eq.append(values)
        pan = _draw(rng, s.pan, 3)
        strips[slot] = {
            "gain_db": _draw(rng, s.gain_db),
            "pan": -pan if flip else pan,
            "eq": eq,
            "gate": _draw_dynamics(rng, s.gate),
            "compressor": _draw_dynamics(rng, s.compressor),
            "reverb_send_db": _draw(rng, s.reverb_send_db),
        }
    if spec.link_overheads:
        left = strips["overhead_L"]
        strips["overhead_R"] = {**json.loads(json.dumps(left)), "pan": -left["pan"]}
    rv = spec.reverb
    bus = spec.bus
    params = {
        "perspective": "audience" if flip else "drummer",
        "pan_law": "constant power: L = cos((pan + 1) pi / 4), R = sin((pan + 1) pi / 4)",
        "slots": {slot: strips[slot] for slot in slots},
        "bus": {
            "compressor": _draw_dynamics(rng, bus.compressor),
            "limiter": {"threshold_db": _draw(rng, bus.limiter.threshold_db),
                        "release_ms": _draw(rng, bus.limiter.release_ms)},
            "target_lufs": bus.target_lufs,
            "peak_ceiling_db": bus.peak_ceiling_db,
        },
        "reverb": {
            "room_size": _draw(rng, rv.room_size, 3), "damping": _draw(rng, rv.damping, 3),
            "width": _draw(rng, rv.width, 3), "pre_delay_ms": _draw(rng, rv.pre_delay_ms, 1),
            "return_highpass_hz": _draw(rng, rv.return_highpass_hz, 1),
            "return_lowpass_hz": _draw(rng, rv.return_lowpass_hz, 1),
            "return_gain_db": _draw(rng, rv.return_gain_db),
            "wet_level": 1.0, "dry_level": 0.0,
        },
    }
    return params


def _eq_plugin(band: dict):
    kind, freq = band["type"], band["freq_hz"]
    if kind == "highpass":
        return pedalboard.HighpassFilter(cutoff_frequency_hz=freq)
    if kind == "lowpass":
        return pedalboard.LowpassFilter(cutoff_frequency_hz=freq)
    cls = {"lowshelf": pedalboard.LowShelfFilter, "highshelf": pedalboard.HighShelfFilter,
           "peak": pedalboard.PeakFilter}[kind]
    return cls(cutoff_frequency_hz=freq, gain_db=band["gain_db"], q=band["q"])


def _strip_board(strip: dict) -> pedalboard.Pedalboard:
    plugins = []
    if strip.get("gate"):
        plugins.append(pedalboard.NoiseGate(**strip["gate"]))
    plugins += [_eq_plugin(band) for band in strip["eq"]]
    if strip.get("compressor"):
        plugins.append(pedalboard.Compressor(**strip["compressor"]))
    plugins.append(pedalboard.Gain(gain_db=strip["gain_db"]))
    return pedalboard.Pedalboard(plugins)


def _pan_gains(pan: float) -> tuple[float, float]:
    theta = (pan + 1.0) * math.pi / 4.0
    return math.cos(theta), math.sin(theta)


def _master(bus: np.ndarray, params: dict) -> tuple[np.ndarray, dict]:
    """Bus chain: optional compressor, loudness, limiter, loudness, peak ceiling. ``bus`` is [2, T]."""
    spec = params["bus"]
    x = bus.astype(np.float32)
    if spec["compressor"]:
        x = pedalboard.Compressor(**spec["compressor"])(x, SR)
    x, gain_db = normalize_loudness(x, SR, spec["target_lufs"])
    x = pedalboard.Limiter(**spec["limiter"])(x, SR)
    gain2_db = 0.0
    for _ in range(4):  # BS.1770's absolute gate (-70 LUFS) makes loudness not quite scale-invariant
        x, step_db = normalize_loudness(x, SR, spec["target_lufs"])
        gain2_db += step_db
        if abs(step_db) < 0.005:
            break
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    ceiling = 10 ** (spec["peak_ceiling_db"] / 20)
    limited = peak > ceiling
    if limited:
        x = x * np.float32(ceiling / peak)
    lufs = measure_loudness(x, SR)
    return x.astype(np.float32), {
        "loudness_gain_db": round(gain_db + gain2_db, 4),
        "peak_limited": bool(limited),
        "peak_dbfs": round(20 * math.log10(max(float(np.max(np.abs(x))), 1e-12)), 3),
        "integrated_lufs": round(lufs, 3) if lufs > SILENCE_LUFS else None,
    }


def mix_stems(stems: dict[str, np.ndarray], params: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Dry and wet stereo mixes ``[2, T]`` float32 of mono ``stems`` with ``params``
    (:func:`sample_mix_params`), and what the bus chains did (gains, peaks, loudness)."""
    length = next(iter(stems.values())).shape[-1]
    dry = np.zeros((2, length), dtype=np.float64)
    send = np.zeros((2, length), dtype=np.float64)
    for slot, strip in params["slots"].items():
        y = _strip_board(strip)(np.asarray(stems[slot], dtype=np.float32)[None, :], SR)[0].astype(np.float64)
        gl, gr = _pan_gains(strip["pan"])
        dry[0] += gl * y
        dry[1] += gr * y
        g = 10 ** (strip["reverb_send_db"] / 20)
        send[0] += g * gl * y
        send[1] += g * gr * y
    rv = params["reverb"]
    plugins = []
    if rv["pre_delay_ms"] > 0:
        plugins.append(pedalboard.Delay(delay_seconds=rv["pre_delay_ms"] / 1000, feedback=0.0, mix=1.0))
    plugins += [
        pedalboard.Reverb(room_size=rv["room_size"], damping=rv["damping"], wet_level=rv["wet_level"],
                          dry_level=rv["dry_level"], width=rv["width"]),
        pedalboard.HighpassFilter(cutoff_frequency_hz=rv["return_highpass_hz"]),
        pedalboard.LowpassFilter(cutoff_frequency_hz=rv["return_lowpass_hz"]),
        pedalboard.Gain(gain_db=rv["return_gain_db"]),
    ]
    reverb = pedalboard.Pedalboard(plugins)(send.astype(np.float32), SR).astype(np.float64)
    dry_mix, dry_info = _master(dry, params)
    wet_mix, wet_info = _master(dry + reverb, params)
    return dry_mix, wet_mix, {"dry": dry_info, "wet": wet_info}


# --------------------------------------------------------------------------------------------
# Takes


@dataclasses.dataclass(frozen=True)
class TakeInfo:
    """One generated take: its name, drummer, groove summary and length."""

    name: str
    drummer: int
    style: str
    complexity: str
    bpm: int
    tempo: str
    seconds: float


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


def _plan(recipe: GeneratorRecipe, seq: np.random.SeedSequence, seconds: float, toms: int):
    plan_seq, groove_seq, mix_seq = seq.spawn(3)
    rng = np.random.default_rng(plan_seq)
    g = recipe.groove
    names = list(g.styles)
    weights = np.array([g.styles[n].weight for n in names], dtype=np.float64)
    style = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    lo, hi = g.styles[style].tempo_bpm
    bpm = int(rng.integers(lo, hi + 1))
    complexity = "complex" if rng.random() < g.complex_probability else "simple"
    lead_in = _draw(rng, g.lead_in_s, 3)
    ring = _draw(rng, g.ring_out_s, 3)
    ring = min(max(ring, 0.5), 0.3 * seconds)
    lead_in = min(lead_in, 0.1 * seconds)
    bar_s = 4 * _beat_seconds(bpm)
    bars = math.floor((seconds - ring - lead_in) / bar_s + 1e-9)
    ending = bars >= 1
    h = g.humanise
    groove = grooves.make_groove(
        groove_seq, style=style, bpm=bpm, bars=max(bars, 1), complexity=complexity,
        fill_probability=g.fill_probability, phrase_bars=g.phrase_bars, toms=toms, lead_in=lead_in,
        ending=ending, max_time=seconds - ring if not ending else seconds - 0.25,
        humanise=grooves.Humanisation(h.velocity_sd, h.velocity_max, h.timing_sd_ms, h.timing_max_ms,
                                      tuple(h.intensity)),
    )
    tempo = _tempo_word(bpm, (lo, hi))
    return groove, tempo, np.random.default_rng(mix_seq), {"ring_out_s": ring}


def _beat_seconds(bpm: int) -> float:
    """Seconds per beat for an integer bpm as a MIDI file stores it (whole microseconds)."""
    return mido.bpm2tempo(bpm) / 1e6


def _record(raw: dict[str, np.ndarray], slots: Sequence[str], recipe: GeneratorRecipe,
            rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict]:
    """Stems at their recording levels: base gain + random trim, lowered below the peak limit."""
    stems, info = {}, {}
    limit = 10 ** (_STEM_PEAK_DBFS / 20)
    for slot in DRUM_SLOTS:
        trim = _draw(rng, recipe.mix.slots[slot].recording_trim_db)  # drawn for every slot
        if slot not in slots:
            continue
        gain_db = recipe.recording_gain_db + trim
        x = raw[slot].astype(np.float64) * 10 ** (gain_db / 20)
        peak = float(np.max(np.abs(x)))
        lowered = 0.0
        if peak > limit:
            lowered = round(20 * math.log10(limit / peak) - 0.005, 2)
            gain_db += lowered
            x = raw[slot].astype(np.float64) * 10 ** (gain_db / 20)
            peak = float(np.max(np.abs(x)))
        stems[slot] = x.astype(np.float32)
        info[slot] = {"recording_trim_db": trim, "peak_lowered_db": lowered, "gain_db": round(gain_db, 4),
                      "peak_dbfs": round(20 * math.log10(peak), 3) if peak > 0 else None}
    return stems, info


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
    Hydrogen samples and the DrumGizmo kit (default :func:`automix.data.drumkit.default_cache_dir`).
    ``recipe`` defaults to :data:`DEFAULT_RECIPE`. The same arguments give byte-identical
    files. Refuses a non-empty ``out`` unless ``overwrite`` (then files are replaced and
    earlier generated takes that are not part of this corpus are removed). Raises
    :class:`OutputError` for output problems and :class:`AutomixError` when DrumGizmo or the
    samples are missing (with the apt-get command to run).
    """
    if isinstance(songs, bool) or not isinstance(songs, int) or songs < 1:
        raise AutomixError(f"songs must be a positive integer, got {songs!r}")
    if not 2.0 <= float(seconds) <= 600.0:
        raise AutomixError(f"seconds must be between 2 and 600, got {seconds}")
    if drummers not in (1, 2, 3):
        raise AutomixError(f"drummers must be 1, 2 or 3, got {drummers}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise AutomixError(f"seed must be a non-negative integer, got {seed!r}")
    out = _check_out(out, overwrite)
    rec = load_recipe(recipe)
    exe = drumkit.find_drumgizmo()
    kit = drumkit.build_kit(cache)
    cal = drumkit.calibrate(exe)
    out.mkdir(parents=True, exist_ok=True)
    length = int(round(float(seconds) * SR))
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm.auto import tqdm  # a dependency of automix; imported late to keep the import light

    written: list[Path] = []
    takes: list[TakeInfo] = []
    counters = {d: 0 for d in range(1, drummers + 1)}
    bar = tqdm(total=songs, desc="drum takes", unit="take", disable=not progress)
    try:
        for index in range(songs):
            drummer = index % drummers + 1
            counters[drummer] += 1
            number = counters[drummer]
            slots = _slots_for(drummer, drummers)
            toms = 3 if "tom_3" in slots else 2
            seq = np.random.SeedSequence([seed, drummer, number])
            groove, tempo, rng, extra = _plan(rec, seq, float(seconds), toms)
            name = take_name(number, groove.style, groove.complexity, tempo)
            events = [(int(round(n.time * SR)), n.key, n.velocity) for n in groove.notes]
            raw = drumkit.render(kit, events, length, drumgizmo=exe)
            stems, recording = _record(raw, slots, rec, rng)
            params = sample_mix_params(rng, rec, slots)
            dry, wet, outcome = mix_stems(stems, params)
            base = out / f"drummer_{drummer}"
            for sub in [*(f"audio/{s}" for s in slots), *(f"audio/{m}" for m in MIX_FOLDERS), "annotation", "midi"]:
                (base / sub).mkdir(parents=True, exist_ok=True)
            for slot in slots:
                written.append(write_audio(base / "audio" / slot / f"{name}.wav", stems[slot], SR,
                                           subtype=rec.stem_subtype, overwrite=overwrite))
            written.append(write_audio(base / "audio" / "dry_mix" / f"{name}.wav", dry, SR,
                                       subtype=rec.mix_subtype, overwrite=overwrite))
            written.append(write_audio(base / "audio" / "wet_mix" / f"{name}.wav", wet, SR,
                                       subtype=rec.mix_subtype, overwrite=overwrite))
            written.append(grooves.write_midi(groove, base / "midi" / f"{name}.mid", length_s=float(seconds),
                                              overwrite=overwrite))
            written.append(_write_text(base / "annotation" / f"{name}.txt", _enst_annotation(groove), overwrite))
            truth = {
                "format": FORMAT,
                "take": name,
                "drummer": drummer,
                "number": number,
                "seed": seed,
                "take_entropy": [seed, drummer, number],
                "sample_rate": SR,
                "frames": length,
                "seconds": float(seconds),
                "style": groove.style,
                "complexity": groove.complexity,
                "tempo": tempo,
                "bpm": groove.bpm,
                "toms": toms,
                "ring_out_s": extra["ring_out_s"],
                "files": {
                    **{slot: f"audio/{slot}/{name}.wav" for slot in slots},
                    **{m: f"audio/{m}/{name}.wav" for m in MIX_FOLDERS},
                    "midi": f"midi/{name}.mid",
                    "onsets": f"annotation/{name}.txt",
                },
                "recording": recording,
                "mix": {**params, "result": outcome},
                "renderer": {
                    "program": cal.version,
                    "sample_selection": "close=1.0,diverse=0.0,random=0.0",
                    "timing": (f"two runs per take undo DrumGizmo's block-offset bug; {cal.latency}-frame output "
                               "latency compensated") if cal.block_bug else f"{cal.latency}-frame latency compensated",
                    "kit": kit.path.name,
                    "kit_samples": kit.info.get("source_package"),
                },
                "groove": groove.to_dict(),
            }
            written.append(_write_json(base / "annotation" / f"{name}.json", truth, overwrite))
            takes.append(TakeInfo(f"drummer_{drummer}/{name}", drummer, groove.style, groove.complexity,
                                  groove.bpm, tempo, float(seconds)))
            bar.update(1)
    finally:
        bar.close()
    manifest = {
        "format": FORMAT,
        "generator": "automix.data.generate",
        "seed": seed,
        "songs": songs,
        "seconds_per_take": float(seconds),
        "drummers": drummers,
        "sample_rate": SR,
        "slots": list(DRUM_SLOTS),
        "mixes": list(MIX_FOLDERS),
        "renderer": {"program": cal.version, "kit": kit.path.name, "kit_info": {k: v for k, v in kit.info.items() if k != "source"}},
        "recipe": rec.model_dump(mode="json"),
        "takes": [dataclasses.asdict(t) for t in takes],
    }
    written.append(_write_json(out / "corpus.json", manifest, True))
    if overwrite:
        _remove_stale(out, set(written))
    return CorpusSummary(out=out, takes=takes, seconds=round(songs * float(seconds), 3), paths=written)


def _remove_stale(out: Path, keep: set[Path]) -> None:
    """Delete generated take files under ``out`` that this run did not write (overwrite mode)."""
    for drummer_dir in sorted(out.glob("drummer_[0-9]")):
        for sub, suffixes in (("audio", (".wav",)), ("annotation", (".txt", ".json")), ("midi", (".mid",))):
            for path in sorted((drummer_dir / sub).rglob("*")):
                if path.is_file() and path.suffix in suffixes and _TAKE_RE.match(path.stem) and path not in keep:
                    path.unlink()


# --------------------------------------------------------------------------------------------
# Command line (``python -m automix.data.generate``; the ``automix datasets drums`` command calls
# generate_corpus the same way)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m automix.data.generate ...`` is ``automix datasets drums ...``."""
    from automix.cli import main as cli_main

    return cli_main(["datasets", "drums", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
