"""Random drum grooves as General MIDI notes (torch-free), and MIDI files written with ``mido``.

A :class:`Groove` is a few bars of one style in 4/4: a pattern built bar by bar (verse and chorus
phrases, crashes on phrase starts, fills at phrase ends, an optional final hit), then
humanised (one intensity per groove, velocity noise, timing jitter). Note times are quantised
to the MIDI file's ticks, so the MIDI file, the annotations and the rendered audio agree to the
sample.

Styles (:data:`STYLES`), each with a *simple* and a *complex* variant:

* ``rock``: hi-hat eighths (complex: sixteenths, kick variations, ghost notes), snare on 2 and 4;
* ``funk``: sixteenth hats with accents and open-hat barks, syncopated kicks, ghost notes;
* ``disco``: four-on-the-floor kick, open hats on the off-beats, snare on 2 and 4;
* ``halftime``: snare on 3 (complex: floor-tom groove in verses, more kicks);
* ``shuffle``: triplet feel on hats or ride, snare on 2 and 4, ghost notes;
* ``reggae``: one drop, kick and rimshot/side-stick on 3, swung hats;
* ``metal``: driving eighth (complex: sixteenth double-bass) kicks, crash or ride on quarters in choruses.

Keys (channel 10): :data:`KICK` 36, :data:`SIDE_STICK` 37, :data:`SNARE` 38, :data:`RIMSHOT`
40, :data:`TOM_FLOOR` 41, :data:`HH_CLOSED` 42, :data:`HH_PEDAL` 44, :data:`TOM_MID` 45,
:data:`HH_OPEN` 46, :data:`TOM_HIGH` 48, :data:`CRASH` 49, :data:`RIDE` 51, :data:`RIDE_BELL` 53,
:data:`SPLASH` 55, :data:`COWBELL` 56. The high, mid and floor toms are the ENST slots tom_1, tom_2
and tom_3; a two-tom kit (``toms=2``) plays only the first two.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import mido
import numpy as np

from automix.data.keyword_settings import KeywordSettings
from daw_bridge.outputs import atomic_output

__all__ = [
    "COMPLEXITIES",
    "ENST_LABELS",
    "GM_NAMES",
    "STYLES",
    "STYLE_KEYS",
    "TIMEKEEPERS",
    "Groove",
    "GrooveSettings",
    "Humanisation",
    "Note",
    "make_groove",
    "write_midi",
]

# General MIDI percussion keys (channel 10)
KICK, SIDE_STICK, SNARE, RIMSHOT = 36, 37, 38, 40
TOM_FLOOR, HH_CLOSED, HH_PEDAL, TOM_MID, HH_OPEN, TOM_HIGH = 41, 42, 44, 45, 46, 48
CRASH, RIDE, RIDE_BELL, SPLASH, COWBELL = 49, 51, 53, 55, 56

GM_NAMES: dict[int, str] = {
    KICK: "kick", SIDE_STICK: "side stick", SNARE: "snare", RIMSHOT: "rimshot", TOM_FLOOR: "floor tom",
    HH_CLOSED: "closed hi-hat", HH_PEDAL: "pedal hi-hat", TOM_MID: "mid tom", HH_OPEN: "open hi-hat",
    TOM_HIGH: "high tom", CRASH: "crash", RIDE: "ride", RIDE_BELL: "ride bell", SPLASH: "splash",
    COWBELL: "cowbell",
}
#: ENST-drums annotation labels (the closest ones) for the keys used here.
ENST_LABELS: dict[int, str] = {
    KICK: "bd", SIDE_STICK: "cs", SNARE: "sd", RIMSHOT: "rs", TOM_FLOOR: "lft", HH_CLOSED: "chh",
    HH_PEDAL: "chh", TOM_MID: "lmt", HH_OPEN: "ohh", TOM_HIGH: "mt", CRASH: "c1", RIDE: "rc",
    RIDE_BELL: "rc", SPLASH: "spl", COWBELL: "cb",
}

STYLES: tuple[str, ...] = ("rock", "funk", "disco", "halftime", "shuffle", "reggae", "metal")
COMPLEXITIES: tuple[str, ...] = ("simple", "complex")
#: Keys that keep time (hats, ride, cymbals on quarters).
TIMEKEEPERS = frozenset({HH_CLOSED, HH_PEDAL, HH_OPEN, RIDE, RIDE_BELL, CRASH})
_FILL_KEYS = frozenset({SNARE, TOM_HIGH, TOM_MID, TOM_FLOOR, KICK})
_COMMON = frozenset({KICK, CRASH, SPLASH}) | _FILL_KEYS
#: Every key a style may play (grooves, fills, crashes, the final hit).
STYLE_KEYS: dict[str, frozenset[int]] = {
    "rock": _COMMON | {SNARE, HH_CLOSED, HH_OPEN, HH_PEDAL, RIDE},
    "funk": _COMMON | {SNARE, HH_CLOSED, HH_OPEN, HH_PEDAL, RIDE, COWBELL},
    "disco": _COMMON | {SNARE, HH_CLOSED, HH_OPEN, HH_PEDAL, RIDE},
    "halftime": _COMMON | {SNARE, HH_CLOSED, HH_OPEN, HH_PEDAL, RIDE, TOM_FLOOR},
    "shuffle": _COMMON | {SNARE, HH_CLOSED, HH_PEDAL, RIDE, RIDE_BELL},
    "reggae": _COMMON | {RIMSHOT, SIDE_STICK, HH_CLOSED, HH_OPEN, HH_PEDAL, RIDE},
    "metal": _COMMON | {SNARE, HH_CLOSED, RIDE, RIDE_BELL},
}

_KICKS = {
    ("rock", "simple"): [(0, 2), (0, 2, 2.5), (0, 1.5, 2)],
    ("rock", "complex"): [(0, 0.5, 2, 2.5), (0, 1.75, 2.5), (0, 0.75, 2, 3.5), (0, 2, 2.75, 3.25)],
    ("funk", "simple"): [(0, 0.75, 2.5), (0, 2, 2.75)],
    ("funk", "complex"): [(0, 0.75, 2.5), (0, 1.75, 2.25), (0, 0.5, 1.75, 3.25), (0, 2.75, 3.25)],
    ("halftime", "simple"): [(0, 1.5), (0, 0.75, 3.5)],
    ("halftime", "complex"): [(0, 0.75, 1.5, 3.25), (0, 0.75, 3.5), (0, 1.25, 1.5, 3.75)],
}


@dataclasses.dataclass(frozen=True)
class Humanisation:
    """How a groove departs from the grid.

    ``intensity`` is a range: one factor per groove scales every velocity (a drummer playing
    softer or harder). Each velocity then gets Gaussian noise (``velocity_sd``, clipped at
    ``+-velocity_max``) and each time Gaussian jitter (``timing_sd_ms``, clipped at
    ``+-timing_max_ms``).
    """

    velocity_sd: float = 6.0
    velocity_max: float = 14.0
    timing_sd_ms: float = 3.0
    timing_max_ms: float = 8.0
    intensity: tuple[float, float] = (0.85, 1.05)

    @classmethod
    def none(cls) -> Humanisation:
        """No humanisation: grid times and the pattern's own velocities."""
        return cls(0.0, 0.0, 0.0, 0.0, (1.0, 1.0))


@dataclasses.dataclass(frozen=True)
class Note:
    """One hit. ``time`` (s from the start) is exact for the MIDI file's ``tick``; ``beat`` is the
    grid position it was played for; ``nominal_velocity`` the pattern's velocity before
    humanisation (before the groove's intensity too)."""

    time: float
    tick: int
    key: int
    velocity: int
    beat: float
    nominal_velocity: float
    fill: bool = False


@dataclasses.dataclass
class Groove:
    """A humanised drum part. ``notes`` are sorted by time; ``fills`` lists ``(start, end)`` beats."""

    style: str
    complexity: str
    bpm: int
    bars: int
    lead_in: float  # s before beat 0
    intensity: float
    notes: list[Note]
    fills: list[tuple[float, float]]
    feel: dict
    ticks_per_beat: int = 960

    @property
    def tempo_us(self) -> int:
        """MIDI tempo (microseconds per quarter note)."""
        return mido.bpm2tempo(self.bpm)

    @property
    def beat_s(self) -> float:
        """Seconds per beat, as the MIDI file's integer tempo gives it."""
        return self.tempo_us / 1e6

    @property
    def end_time(self) -> float:
        """Time of the last note (s), 0 without notes."""
        return self.notes[-1].time if self.notes else 0.0

    def keys(self) -> set[int]:
        return {n.key for n in self.notes}

    def to_midi(self, *, length_s: float | None = None) -> mido.MidiFile:
        """A type-0 MIDI file: tempo, then note on/off pairs on channel 10 (short notes, never
        overlapping the next hit of the same key); it ends at ``length_s`` if given."""
        tpb = self.ticks_per_beat
        msgs: list[tuple[int, int, mido.Message]] = []
        last_tick = 0
        by_key: dict[int, list[Note]] = {}
        for n in self.notes:
            by_key.setdefault(n.key, []).append(n)
        for notes in by_key.values():
            for i, n in enumerate(notes):
                off = n.tick + tpb // 8
                if i + 1 < len(notes):
                    off = min(off, notes[i + 1].tick - 1)
                off = max(off, n.tick + 1)
                msgs.append((n.tick, 1, mido.Message("note_on", channel=9, note=n.key, velocity=n.velocity)))
                msgs.append((off, 0, mido.Message("note_off", channel=9, note=n.key, velocity=0)))
                last_tick = max(last_tick, off)
        msgs.sort(key=lambda m: (m[0], m[1], m[2].note))
        mid = mido.MidiFile(type=0, ticks_per_beat=tpb)
        track = mido.MidiTrack()
        mid.tracks.append(track)
        track.append(mido.MetaMessage("track_name", name=f"{self.style} {self.complexity} {self.bpm} bpm", time=0))
        track.append(mido.MetaMessage("set_tempo", tempo=self.tempo_us, time=0))
        track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
        now = 0
        for tick, _, msg in msgs:
            track.append(msg.copy(time=tick - now))
            now = tick
        end = now
        if length_s is not None:
            end = max(now, round(length_s * 1e6 / self.tempo_us * tpb))
        track.append(mido.MetaMessage("end_of_track", time=end - now))
        return mid

    def to_dict(self) -> dict:
        """JSON-ready description (notes as ``[time s, key, velocity]`` plus the grid data)."""
        return {
            "style": self.style,
            "complexity": self.complexity,
            "bpm": self.bpm,
            "tempo_us_per_quarter": self.tempo_us,
            "time_signature": "4/4",
            "bars": self.bars,
            "lead_in_s": round(self.lead_in, 6),
            "ticks_per_beat": self.ticks_per_beat,
            "intensity": round(self.intensity, 6),
            "feel": self.feel,
            "fills_beats": [list(f) for f in self.fills],
            "notes": [
                {"time_s": round(n.time, 9), "tick": n.tick, "key": n.key, "name": GM_NAMES.get(n.key, str(n.key)),
                 "velocity": n.velocity, "beat": round(n.beat, 6), "nominal_velocity": round(n.nominal_velocity, 3),
                 "fill": n.fill}
                for n in self.notes
            ],
        }


def write_midi(groove: Groove, path: str | Path, *, length_s: float | None = None, overwrite: bool = False) -> Path:
    """Write :meth:`Groove.to_midi` to ``path`` atomically; returns the path."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        groove.to_midi(length_s=length_s).save(tmp)
    return Path(path).expanduser().absolute()


# --------------------------------------------------------------------------------------------
# Patterns: (beat within the bar, key, velocity)

_Hit = tuple[float, int, float]


def _is(pos: float, grid: float) -> bool:
    return abs(pos / grid - round(pos / grid)) < 1e-9


def _straight(rng, style: str, complex_: bool, chorus: bool, feel: dict, bar_in_phrase: int) -> list[_Hit]:
    """rock, funk, halftime."""
    hits: list[_Hit] = []
    ride = chorus and feel["chorus_ride"]
    cym = RIDE if ride else (HH_OPEN if chorus and feel["chorus_open"] else HH_CLOSED)
    sixteenths = style == "funk" or (complex_ and feel["sixteenths"])
    tom_groove = style == "halftime" and complex_ and not chorus and feel["tom_groove"]
    step = 0.25 if sixteenths else 0.5
    for i in range(round(4 / step)):
        pos = i * step
        vel = 92 if _is(pos, 1) else (76 if _is(pos, 0.5) else 54)
        key = feel["groove_tom"] if tom_groove else cym
        if key == HH_OPEN and not (_is(pos, 0.5) and not _is(pos, 1)):
            key = HH_CLOSED  # open hats on the off-beats only
        if not tom_groove and style == "funk" and _is(pos, 0.5) and not _is(pos, 1) and rng.random() < 0.12:
            key = HH_OPEN  # bark
        hits.append((pos, key, vel * (0.9 if tom_groove else 1.0)))
    if ride or tom_groove:
        hits += [(1, HH_PEDAL, 66), (3, HH_PEDAL, 66)] if tom_groove else [(0, HH_PEDAL, 70), (2, HH_PEDAL, 70)]
    if style == "halftime":
        hits.append((2, SNARE, 110))
    else:
        hits += [(1, SNARE, 104), (3, SNARE, 106)]
    if style == "funk" or complex_:
        chance = 0.22 if style == "funk" else 0.1
        for i in range(16):
            pos = i * 0.25
            if not _is(pos, 1) and rng.random() < chance:
                hits.append((pos, SNARE, rng.uniform(26, 44)))  # ghost notes
    if style == "funk" and complex_ and chorus and rng.random() < 0.5:
        hits += [(b, COWBELL, 70) for b in (0, 1, 2, 3)]
    for pos in feel["kicks"]:
        hits.append((pos, KICK, 100 if pos == 0 else 88))
    if complex_ and bar_in_phrase % 2 == 1 and rng.random() < 0.5:
        hits.append((float(rng.choice([2.5, 3.5, 3.75])), KICK, 84))  # variation
    return hits


def _disco(rng, complex_: bool, chorus: bool, feel: dict) -> list[_Hit]:
    hits: list[_Hit] = []
    ride = chorus and feel["chorus_ride"]
    for beat in range(4):
        hits.append((beat, KICK, 104))
        if ride:
            hits += [(beat, RIDE, 88), (beat + 0.5, RIDE, 70)]
        else:
            hits.append((beat, HH_PEDAL if chorus else HH_CLOSED, 70))
            hits.append((beat + 0.5, HH_OPEN, 84))
            if complex_:
                hits += [(beat + 0.25, HH_CLOSED, 50), (beat + 0.75, HH_CLOSED, 50)]
    hits += [(1, SNARE, 105), (3, SNARE, 105)]
    if complex_ and rng.random() < 0.4:
        hits.append((3.75, SNARE, 40))
    return hits


def _shuffle(rng, complex_: bool, chorus: bool, feel: dict) -> list[_Hit]:
    hits: list[_Hit] = []
    ride = chorus and feel["chorus_ride"]
    cym = RIDE if ride else HH_CLOSED
    for beat in range(4):
        hits.append((beat, cym, 92 if beat % 2 == 0 else 82))
        hits.append((beat + 2 / 3, cym, 62))
        if complex_ and rng.random() < 0.35:
            hits.append((beat + 2 / 3, SNARE, rng.uniform(28, 42)))  # ghost
    if ride and complex_ and feel["bell"]:
        hits.append((0, RIDE_BELL, 96))
    hits += [(1, SNARE, 104), (3, SNARE, 106), (0, KICK, 100), (2, KICK, 95)]
    if complex_ and rng.random() < 0.5:
        hits.append((2 + 2 / 3, KICK, 80))
    if ride:
        hits += [(1, HH_PEDAL, 70), (3, HH_PEDAL, 70)]
    return hits


def _reggae(rng, complex_: bool, chorus: bool, feel: dict) -> list[_Hit]:
    hits: list[_Hit] = []
    ride = chorus and feel["chorus_ride"]
    swing = 2 / 3 if feel["swing"] else 0.5
    for beat in range(4):
        hits.append((beat, RIDE if ride else HH_CLOSED, 80))
        hits.append((beat + swing, RIDE if ride else HH_CLOSED, 62))
    if not ride and complex_ and rng.random() < 0.5:
        hits.append((3 + swing, HH_OPEN, 74))
    rim = RIMSHOT if feel["rimshot"] else SIDE_STICK
    hits += [(2, KICK, 100), (2, rim, 100)]  # the one drop
    if complex_:
        hits.append((1 + swing, rim, 55))
    if ride:
        hits += [(1, HH_PEDAL, 64), (3, HH_PEDAL, 64)]
    return hits


def _metal(rng, complex_: bool, chorus: bool, feel: dict) -> list[_Hit]:
    hits: list[_Hit] = []
    step = 0.25 if complex_ else 0.5
    for i in range(round(4 / step)):
        hits.append((i * step, KICK, 96 if _is(i * step, 1) else 86))
    if chorus:
        cym = CRASH if feel["chorus_crash"] else RIDE_BELL
        hits += [(b, cym, 100) for b in range(4)]
    else:
        hits += [(i * 0.5, HH_CLOSED if feel["verse_hats"] else RIDE, 90 if i % 2 == 0 else 74) for i in range(8)]
    hits += [(1, SNARE, 112), (3, SNARE, 112)]
    return hits


def _fill(rng, start: float, beats: int, triplet: bool, toms: int) -> list[_Hit]:
    """A fill of ``beats`` beats from beat ``start``: snare and toms, mostly high to low, crescendo."""
    step = 1 / 3 if triplet else 0.25
    n = round(beats / step)
    voices = [SNARE, TOM_HIGH, TOM_MID, TOM_FLOOR][: 1 + toms]
    order = sorted(rng.choice(len(voices), size=int(rng.integers(2, len(voices) + 1)), replace=False))
    if rng.random() < 0.2:
        order = order[::-1]
    hits: list[_Hit] = []
    for i in range(n):
        if rng.random() < 0.12 and i not in (0, n - 1):
            continue  # a rest makes it less mechanical
        voice = voices[order[min(len(order) - 1, i * len(order) // n)]]
        hits.append((start + i * step, voice, 78 + 35 * i / max(1, n - 1)))
        if i % (3 if triplet else 4) == 0 and rng.random() < 0.5:
            hits.append((start + i * step, KICK, 90))
    return hits


def _feel(rng, style: str, complexity: str) -> dict:
    kicks = _KICKS.get((style, complexity), [(0, 2)])
    return {
        "sixteenths": bool(rng.random() < 0.5),
        "chorus_ride": bool(rng.random() < 0.5),
        "chorus_open": bool(rng.random() < 0.5),
        "chorus_crash": bool(rng.random() < 0.5),
        "verse_hats": bool(rng.random() < 0.7),
        "tom_groove": bool(rng.random() < 0.6),
        "bell": bool(rng.random() < 0.5),
        "swing": bool(rng.random() < 0.5),
        "rimshot": bool(rng.random() < 0.5),
        "kicks": [float(k) for k in kicks[int(rng.integers(len(kicks)))]],
    }


def _bar(rng, style: str, complex_: bool, chorus: bool, feel: dict, bar_in_phrase: int) -> list[_Hit]:
    if style == "disco":
        return _disco(rng, complex_, chorus, feel)
    if style == "shuffle":
        return _shuffle(rng, complex_, chorus, feel)
    if style == "reggae":
        return _reggae(rng, complex_, chorus, feel)
    if style == "metal":
        return _metal(rng, complex_, chorus, feel)
    return _straight(rng, style, complex_, chorus, feel, bar_in_phrase)


def _rngs(seed) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the pattern and the humanisation (so switching humanisation
    off keeps the same pattern)."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    a, b = seq.spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


@dataclasses.dataclass(frozen=True)
class GrooveSettings(KeywordSettings):
    """How :func:`make_groove` builds a groove; every field is also a keyword of it.

    ``complexity`` (``simple``/``complex``), ``fill_probability`` (0-1, per phrase end),
    ``phrase_bars`` (bars per verse/chorus phrase), ``humanise`` (``None``: :class:`Humanisation`
    ``()``), ``toms`` (2 or 3), ``lead_in`` (seconds before the first note), ``ending`` (a final
    crash and kick), ``max_time`` (seconds; later notes are dropped), ``ticks_per_beat`` (MIDI).
    """

    what: ClassVar[str] = "groove"

    complexity: str = "simple"
    fill_probability: float = 0.75
    phrase_bars: int = 4
    humanise: Humanisation | None = None
    toms: int = 3
    lead_in: float = 0.0
    ending: bool = True
    max_time: float | None = None
    ticks_per_beat: int = 960


_Beat = tuple[float, int, float, bool]  # (beat, key, velocity, in a fill)


def make_groove(
    seed: int | Sequence[int] | np.random.SeedSequence,
    *,
    style: str,
    bpm: int,
    bars: int,
    settings: GrooveSettings | None = None,
    **options,
) -> Groove:
    """A random groove of ``bars`` bars of 4/4 at ``bpm`` (an integer tempo).

    Options (``settings`` and/or the keywords of :class:`GrooveSettings`): phrases of
    ``phrase_bars`` bars alternate verse and chorus; each phrase starts with a crash (from the
    second on) and ends, with probability ``fill_probability``, with a fill of 1, 2 or 4 beats.
    ``ending`` adds a crash and kick on the downbeat after the last bar. ``toms`` (2 or 3)
    limits the toms fills and grooves use. Notes start ``lead_in`` seconds in; notes later than
    ``max_time`` seconds are dropped. ``humanise`` defaults to :class:`Humanisation` ``()``.
    Deterministic for a seed.
    """
    s = GrooveSettings.of(settings, options)
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose from {', '.join(STYLES)}")
    if s.complexity not in COMPLEXITIES:
        raise ValueError(f"unknown complexity {s.complexity!r}; choose from {', '.join(COMPLEXITIES)}")
    if bars < 1 or s.phrase_bars < 1 or not 20 <= bpm <= 300 or s.toms not in (2, 3):
        raise ValueError("need bars >= 1, phrase_bars >= 1, 20 <= bpm <= 300 and toms 2 or 3")
    if not 0.0 <= s.fill_probability <= 1.0:
        raise ValueError(f"fill_probability must be in [0, 1], got {s.fill_probability}")
    human = Humanisation() if s.humanise is None else s.humanise
    pattern_rng, human_rng = _rngs(seed)
    feel = _feel(pattern_rng, style, s.complexity)
    feel["groove_tom"] = TOM_FLOOR if s.toms == 3 else TOM_MID  # halftime verses on the lowest tom
    hits, fills = _pattern(pattern_rng, style, bars, feel, s)
    lo, hi = human.intensity
    intensity = float(human_rng.uniform(lo, hi)) if hi > lo else float(lo)
    tempo = mido.bpm2tempo(bpm)
    notes = _humanised_notes(hits, human_rng, human, intensity, tempo, s)
    kept_fills = [f for f in fills if s.max_time is None or s.lead_in + f[0] * tempo / 1e6 <= s.max_time]
    return Groove(style, s.complexity, int(bpm), bars, float(s.lead_in), intensity, notes, kept_fills, feel,
                  s.ticks_per_beat)


def _pattern(
    rng: np.random.Generator, style: str, bars: int, feel: dict, s: GrooveSettings
) -> tuple[list[_Beat], list[tuple[float, float]]]:
    """The grid hits of ``bars`` bars (one per key and grid position, the loudest) and the fills'
    ``(start, end)`` beats."""
    complex_ = s.complexity == "complex"
    triplet = style in ("shuffle", "reggae") and (style == "shuffle" or feel["swing"])
    hits: list[_Beat] = []
    fills: list[tuple[float, float]] = []
    for bar in range(bars):
        phrase, b = divmod(bar, s.phrase_bars)
        chorus = phrase % 2 == 1
        start = bar * 4.0
        bar_hits = _bar(rng, style, complex_, chorus, feel, b)
        if b == 0 and phrase > 0:
            bar_hits = [h for h in bar_hits if not (h[0] == 0 and h[1] in TIMEKEEPERS)]
            bar_hits += [(0, CRASH if rng.random() < 0.85 else SPLASH, 112), (0, KICK, 105)]
        last_of_phrase = b == s.phrase_bars - 1 or bar == bars - 1
        fill_hits: list[_Hit] = []
        if last_of_phrase and rng.random() < s.fill_probability:
            beats = int(rng.choice([1, 2, 2, 4] if complex_ else [1, 2, 2]))
            if bar == 0:
                beats = 1  # a take's first bar keeps three beats of groove (and its backbeat)
            fill_start = 4 - beats
            bar_hits = [h for h in bar_hits if h[0] < fill_start - 1e-9]
            fill_hits = _fill(rng, fill_start, beats, triplet, s.toms)
            fills.append((start + fill_start, start + 4.0))
        hits += [(start + pos, key, vel, False) for pos, key, vel in bar_hits]
        hits += [(start + pos, key, vel, True) for pos, key, vel in fill_hits]
    if s.ending:
        hits += [(bars * 4.0, CRASH, 115, False), (bars * 4.0, KICK, 105, False)]
    # one hit per key and grid position (the loudest)
    unique: dict[tuple[int, int], _Beat] = {}
    for hit in hits:
        slot = (round(hit[0] * 48), hit[1])
        if slot not in unique or hit[2] > unique[slot][2]:
            unique[slot] = hit
    return list(unique.values()), fills


def _humanised_notes(
    hits: list[_Beat], rng: np.random.Generator, human: Humanisation, intensity: float, tempo: int,
    s: GrooveSettings,
) -> list[Note]:
    """``hits`` as notes in time order: jittered, quantised to MIDI ticks (``tempo`` in
    microseconds per beat), velocities scaled by ``intensity`` plus noise; past ``max_time`` dropped."""
    ticks_per_s = s.ticks_per_beat * 1e6 / tempo
    notes = []
    for beat, key, vel, fill in sorted(hits, key=lambda h: (h[0], h[1])):
        jitter = 0.0
        if human.timing_sd_ms > 0:
            jitter = float(np.clip(rng.normal(0.0, human.timing_sd_ms), -human.timing_max_ms, human.timing_max_ms)) / 1000
        noise = 0.0
        if human.velocity_sd > 0:
            noise = float(np.clip(rng.normal(0.0, human.velocity_sd), -human.velocity_max, human.velocity_max))
        t = max(0.0, s.lead_in + beat * tempo / 1e6 + jitter)
        tick = round(t * ticks_per_s)
        time = tick * tempo / 1e6 / s.ticks_per_beat
        if s.max_time is not None and time > s.max_time:
            continue
        velocity = int(np.clip(round(vel * intensity + noise), 1, 127))
        notes.append(Note(time, tick, key, velocity, beat, float(vel), fill))
    notes.sort(key=lambda n: (n.tick, n.key))
    return notes


def bars_for(seconds: float, bpm: int) -> int:
    """How many whole 4/4 bars fit in ``seconds`` at ``bpm`` (at least 1)."""
    return max(1, math.floor(seconds / (4 * 60.0 / bpm) + 1e-9))
