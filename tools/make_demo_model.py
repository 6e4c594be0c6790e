#!/usr/bin/env python3
"""Build automix's small DEFAULT drum-mixing model (a demo) and the example stems, from scratch.

This script is the whole recipe; running it again with the same arguments gives the same data
and (up to floating-point thread scheduling) the same model. Steps:

1. **Grooves.** Random MIDI drum grooves are written with ``mido`` on channel 10 (General MIDI
   drums): five styles (rock, funk with 16th hats and ghost notes, half-time, shuffle,
   four-on-the-floor), 80-160 bpm, 16 bars in 4-bar phrases (verse on hats, chorus on ride or
   open hats), tom fills at phrase ends, crashes on phrase starts, velocity humanisation
   (+-7, Gaussian) and timing jitter (3 ms, Gaussian, clipped at 8 ms).
2. **Stems.** Every song is rendered with FluidSynth and the FluidR3_GM SoundFont (sampled
   acoustic drums), one MIDI file per source (kick, snare, hi-hat, three toms, crash, ride),
   reverb and chorus off, 44.1 kHz float, summed to mono and padded to one length. The close
   mics (kick, snare, hi-hat, tom_1..3) are those renders. The overhead pair hears the whole
   kit: cymbals at full level plus quieter, high-passed (90 Hz), 2.5 ms later copies of the
   drums, each source panned across the kit with constant power and up to 0.4 ms of extra
   delay on the far side (hats/snare/crash left, floor tom/ride right; drummer's view).
   All 8 stems are mono, in the order of :data:`automix.stems.DRUM_SLOTS`.
3. **Reference mixes** (the style the model learns) with ``pedalboard``: per stem EQ,
   compression on kick and snare, a fixed gain and a constant-power pan (see
   :data:`REFERENCE_CHAIN`), summed to stereo, loudness-normalised to -18 LUFS (BS.1770,
   :func:`automix.audio.normalize_loudness`), a bus limiter (``pedalboard.Limiter``, -1 dB,
   60 ms release), normalised to -18 LUFS again (peaks then land near -4 dBFS) and, as a
   safety net, scaled down to -1 dBFS sample peak if still louder.
4. **Training** a small Mix-Wave-U-Net (:func:`automix.mixer.mix_wave_unet`) on CPU with a
   plain loop: L1 loss between the network's output for a random stem segment and the
   aligned part of the reference mix (random song weighted by length and random offset; no
   gain augmentation, since the target depends on the stem levels), Adam, cosine learning
   rate decay. The last ``--heldout`` songs are never trained on; the final weights are used
   (no checkpoint selection on the held-out songs).
5. **Evaluation** on the held-out songs, whole songs through
   :func:`automix.inference.process` (fp32): L1, SI-SDR (dB, per channel) and a multi-
   resolution STFT distance (:func:`mrstft`) of the model's mix against the reference, next
   to two baselines: the plain sum of the stems on both channels, and the loudness-equalised
   sum (every non-silent stem to -30 LUFS, summed, to -18 LUFS, on both channels).
6. **Saving** ``drums.safetensors`` + ``drums.json`` (card with data, recipe, metrics) and a
   human-readable ``drums.md`` in ``--out-dir``, and 6 s of a held-out song as 16-bit FLAC
   stems named like a DAW export, with a README, in ``--examples-dir``.

Requirements: the automix package (with ``pedalboard`` and ``mido``) and, from Debian/Ubuntu,
``apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm``
(``/usr/share/sounds/sf2/FluidR3_GM.sf2``, MIT licence).

Usage::

    python tools/make_demo_model.py --overwrite               # the shipped model (defaults)
    python tools/make_demo_model.py --steps 50 --songs 6 --out-dir /tmp/demo --examples-dir /tmp/ex
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido
import numpy as np
import pedalboard
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a fresh clone without installing
    sys.path.insert(0, str(REPO))

from automix.audio import measure_loudness, normalize_loudness, write_audio  # noqa: E402
from automix.checkpoint import TrainingInfo  # noqa: E402
from automix.files import sha256_file  # noqa: E402
from automix.inference import process  # noqa: E402
from automix.mixer import mix_wave_unet  # noqa: E402
from automix.stems import DRUM_SLOTS  # noqa: E402

SR = 44100
DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
#: FluidSynth renders quietly (synth gain 0.2); every render is multiplied by this ...
RENDER_GAIN = 4.0
#: ... and these sources by this much more (dB): FluidR3's hi-hats are ~15 dB below its drums,
#: far quieter than a close-miked hi-hat track usually is.
RENDER_TRIM_DB = {"hi-hat": 10.0}
BUS_LIMITER = (-1.0, 60.0)  # pedalboard.Limiter threshold dB, release ms
TARGET_LUFS = -18.0
PEAK_CEILING_DB = -1.0
TAIL_S = 2.5  # silence (decay) rendered after the last bar

# General MIDI percussion keys (channel 10)
KICK, SNARE, SNARE2, HH_CLOSED, HH_PEDAL, HH_OPEN = 36, 38, 40, 42, 44, 46
TOM_HIGH, TOM_MID, TOM_FLOOR, CRASH, RIDE = 48, 45, 41, 49, 51

#: One MIDI file (one FluidSynth render) per source.
SOURCES: dict[str, tuple[int, ...]] = {
    "kick": (KICK,),
    "snare": (SNARE, SNARE2),
    "hi-hat": (HH_CLOSED, HH_PEDAL, HH_OPEN),
    "tom_1": (TOM_HIGH,),
    "tom_2": (TOM_MID,),
    "tom_3": (TOM_FLOOR,),
    "crash": (CRASH,),
    "ride": (RIDE,),
}

#: Overhead pair: source -> (pan -1 left .. +1 right, drummer's view; linear gain). Drums are
#: high-passed and arrive later than at their close mic; cymbals are only heard here.
OVERHEAD_SOURCES: dict[str, tuple[float, float]] = {
    "crash": (-0.55, 1.0),
    "ride": (0.7, 0.9),
    "hi-hat": (-0.65, 0.6),
    "snare": (-0.25, 0.35),
    "kick": (0.0, 0.2),
    "tom_1": (-0.15, 0.3),
    "tom_2": (0.2, 0.3),
    "tom_3": (0.6, 0.3),
}
OH_DRUM_DELAY_S = 0.0025
OH_MAX_INTERCHANNEL_DELAY_S = 0.0004
OH_DRUM_HIGHPASS_HZ = 90.0
OH_CYMBALS = ("crash", "ride", "hi-hat")

#: The reference "engineer": per slot, in order: gain (dB), EQ, compressor, constant-power pan.
#: EQ entries: (type, frequency Hz, gain dB, Q); compressor: (threshold dB, ratio, attack ms,
#: release ms). Pan -1 = hard left, +1 = hard right.
REFERENCE_CHAIN: dict[str, dict] = {
    "kick": {
        "gain_db": 2.0,
        "eq": [("highpass", 30.0, 0.0, 0.707), ("lowshelf", 70.0, 5.0, 0.707),
               ("peak", 350.0, -5.0, 1.2), ("peak", 3500.0, 4.0, 1.0)],
        "compressor": (-20.0, 4.0, 8.0, 90.0),
        "pan": 0.0,
    },
    "snare": {
        "gain_db": 0.0,
        "eq": [("highpass", 90.0, 0.0, 0.707), ("peak", 220.0, 2.0, 1.0), ("peak", 5000.0, 4.0, 0.8)],
        "compressor": (-22.0, 3.0, 4.0, 120.0),
        "pan": 0.0,
    },
    "hi-hat": {
        "gain_db": -9.0,
        "eq": [("highpass", 350.0, 0.0, 0.707), ("highshelf", 8000.0, 2.0, 0.707)],
        "compressor": None,
        "pan": -0.45,
    },
    "tom_1": {
        "gain_db": -3.0,
        "eq": [("highpass", 70.0, 0.0, 0.707), ("peak", 5000.0, 3.0, 1.0)],
        "compressor": None,
        "pan": -0.35,
    },
    "tom_2": {
        "gain_db": -3.0,
        "eq": [("highpass", 60.0, 0.0, 0.707), ("peak", 5000.0, 3.0, 1.0)],
        "compressor": None,
        "pan": 0.15,
    },
    "tom_3": {
        "gain_db": -4.0,
        "eq": [("highpass", 50.0, 0.0, 0.707), ("lowshelf", 100.0, 2.0, 0.707), ("peak", 4000.0, 2.0, 1.0)],
        "compressor": None,
        "pan": 0.55,
    },
    "overhead_L": {
        "gain_db": -3.0,
        "eq": [("highpass", 200.0, 0.0, 0.707), ("highshelf", 9000.0, 3.0, 0.707)],
        "compressor": None,
        "pan": -1.0,
    },
    "overhead_R": {
        "gain_db": -3.0,
        "eq": [("highpass", 200.0, 0.0, 0.707), ("highshelf", 9000.0, 3.0, 0.707)],
        "compressor": None,
        "pan": 1.0,
    },
}

STYLES = ("rock", "funk", "halftime", "shuffle", "four_on_floor")
TEMPO_RANGES = {
    "rock": (100, 150),
    "funk": (85, 115),
    "halftime": (120, 160),
    "shuffle": (80, 125),
    "four_on_floor": (110, 130),
}
EXAMPLE_FILES = {
    "kick": "01 Kick.flac",
    "snare": "02 Snare.flac",
    "hi-hat": "03 Hi-Hat.flac",
    "tom_1": "04 Tom 1.flac",
    "tom_2": "05 Tom 2.flac",
    "tom_3": "06 Floor Tom.flac",
    "overhead_L": "07 OH L.flac",
    "overhead_R": "08 OH R.flac",
}


def log(msg: str) -> None:
    print(msg, flush=True)


# =============================================================================================
# 1. Grooves


@dataclasses.dataclass
class Song:
    index: int
    style: str
    bpm: float
    bars: int
    events: list[tuple[float, int, int]]  # (time s, GM key, velocity), sorted
    bar_times: list[float]  # start of every bar (s), plus the end of the last bar

    @property
    def length_s(self) -> float:
        return self.bar_times[-1] + TAIL_S


def _fill(rng: np.random.Generator, start: float, beats: int, triplet: bool) -> list[tuple[float, int, float]]:
    """A fill of ``beats`` beats from beat ``start``: snare and toms, high to low, crescendo."""
    step = 1 / 3 if triplet else 0.25
    n = round(beats / step)
    voices = [SNARE, TOM_HIGH, TOM_MID, TOM_FLOOR]
    # choose how the fill moves around the kit: contiguous runs, mostly descending
    order = sorted(rng.choice(len(voices), size=rng.integers(2, 5), replace=False))
    if rng.random() < 0.2:
        order = order[::-1]
    hits = []
    for i in range(n):
        if rng.random() < 0.12 and i not in (0, n - 1):
            continue  # a rest makes it less mechanical
        voice = voices[order[min(len(order) - 1, i * len(order) // n)]]
        vel = 78 + 35 * i / max(1, n - 1)
        hits.append((start + i * step, voice, vel))
        if i % (3 if triplet else 4) == 0 and rng.random() < 0.5:
            hits.append((start + i * step, KICK, 90))
    return hits


def _bar(rng, style: str, chorus: bool, feel: dict, bar_in_phrase: int) -> list[tuple[float, int, float]]:
    """Hits of one groove bar as (beat, key, velocity)."""
    hits: list[tuple[float, int, float]] = []
    ride = chorus and feel["chorus_ride"]
    cym = RIDE if ride else (HH_OPEN if chorus and feel["chorus_open"] else HH_CLOSED)
    if style == "shuffle":
        for beat in range(4):
            hits.append((beat, cym if cym != HH_OPEN else HH_CLOSED, 92 if beat % 2 == 0 else 82))
            hits.append((beat + 2 / 3, HH_CLOSED if cym == HH_OPEN else cym, 62))
            if rng.random() < 0.35:
                hits.append((beat + 2 / 3, SNARE, rng.uniform(28, 42)))  # ghost
        hits += [(1, SNARE, 104), (3, SNARE, 106), (0, KICK, 100), (2, KICK, 95)]
        if rng.random() < 0.5:
            hits.append((2 + 2 / 3, KICK, 80))
        if ride:
            hits += [(1, HH_PEDAL, 70), (3, HH_PEDAL, 70)]
        return hits
    if style == "four_on_floor":
        for beat in range(4):
            hits.append((beat, KICK, 104))
            if ride:
                hits += [(beat, RIDE, 88), (beat + 0.5, RIDE, 70)]
            else:
                hits.append((beat, HH_PEDAL if chorus else HH_CLOSED, 70))
                hits.append((beat + 0.5, HH_OPEN, 84))
                for off in (0.25, 0.75):
                    if feel["sixteenths"]:
                        hits.append((beat + off, HH_CLOSED, 50))
        hits += [(1, SNARE, 105), (3, SNARE, 105)]
        return hits
    # straight styles: rock, funk, halftime
    sixteenths = style == "funk" or feel["sixteenths"]
    tom_groove = style == "halftime" and not chorus and feel["tom_groove"]
    grid = [i * (0.25 if sixteenths else 0.5) for i in range(16 if sixteenths else 8)]
    for pos in grid:
        on_beat = abs(pos - round(pos)) < 1e-9
        on_eighth = abs(pos * 2 - round(pos * 2)) < 1e-9
        vel = 92 if on_beat else (76 if on_eighth else 52)
        key = TOM_FLOOR if tom_groove else cym
        if key == HH_OPEN and not (on_eighth and not on_beat):
            key = HH_CLOSED  # open hats on the off-beats only
        if not tom_groove and style == "funk" and on_eighth and not on_beat and rng.random() < 0.12:
            key = HH_OPEN
        hits.append((pos, key, vel * (0.9 if tom_groove else 1.0)))
    if tom_groove or ride:
        hits += [(0, HH_PEDAL, 72), (2, HH_PEDAL, 72)] if not tom_groove else [(1, HH_PEDAL, 66), (3, HH_PEDAL, 66)]
    if style == "halftime":
        hits.append((2, SNARE, 110))
    else:
        hits += [(1, SNARE, 104), (3, SNARE, 106)]
    if style == "funk":
        for pos in grid:
            if pos not in (1, 3) and abs(pos - round(pos)) > 1e-9 and rng.random() < 0.22:
                hits.append((pos, SNARE, rng.uniform(26, 44)))  # ghost notes
    for pos in feel["kicks"]:
        hits.append((pos, KICK, 100 if pos == 0 else 88))
    if bar_in_phrase % 2 == 1 and rng.random() < 0.5:
        hits.append((rng.choice([2.5, 3.5, 3.75]), KICK, 84))  # variation
    return hits


KICK_PATTERNS = {
    "rock": [(0, 2), (0, 2, 2.5), (0, 1.5, 2), (0, 0.5, 2, 2.5)],
    "funk": [(0, 0.75, 2.5), (0, 1.75, 2.25), (0, 0.5, 1.75, 3.25), (0, 2.75, 3.25)],
    "halftime": [(0, 0.75, 3.5), (0, 1.5), (0, 0.75, 1.5, 3.25)],
}


def make_song(rng: np.random.Generator, index: int) -> Song:
    """A random 16-bar groove (style chosen cyclically so every split has every style)."""
    style = STYLES[index % len(STYLES)]
    lo, hi = TEMPO_RANGES[style]
    bpm = float(rng.integers(lo, hi + 1))
    intensity = rng.uniform(0.85, 1.05)
    feel = {
        "sixteenths": bool(rng.random() < 0.4),
        "chorus_ride": bool(rng.random() < 0.5),
        "chorus_open": bool(rng.random() < 0.5),
        "tom_groove": bool(rng.random() < 0.6),
        "kicks": KICK_PATTERNS.get(style, [(0, 2)])[rng.integers(len(KICK_PATTERNS.get(style, [(0, 2)])))],
    }
    triplet = style == "shuffle"
    phrases = 4
    beat_s = 60.0 / bpm
    hits: list[tuple[float, int, float]] = []  # (beat, key, velocity)
    for phrase in range(phrases):
        chorus = phrase % 2 == 1
        for b in range(4):
            bar = phrase * 4 + b
            start = bar * 4.0
            bar_hits = _bar(rng, style, chorus, feel, b)
            if b == 0:
                bar_hits = [h for h in bar_hits if not (h[0] == 0 and h[1] in (HH_CLOSED, HH_OPEN, RIDE))]
                bar_hits += [(0, CRASH, 112), (0, KICK, 105)]
            if b == 3 and (rng.random() < 0.85 or phrase == phrases - 1):
                beats = int(rng.choice([1, 2, 2, 4]))
                fill_start = 4 - beats
                bar_hits = [h for h in bar_hits if h[0] < fill_start - 1e-9]
                bar_hits += _fill(rng, fill_start, beats, triplet)
            hits += [(start + pos, key, vel) for pos, key, vel in bar_hits]
    end_beat = phrases * 16.0
    hits += [(end_beat, CRASH, 115), (end_beat, KICK, 105)]  # final hit, rings into the tail
    events = []
    for beat, key, vel in hits:
        jitter = float(np.clip(rng.normal(0.0, 0.003), -0.008, 0.008))
        t = max(0.0, beat * beat_s + jitter)
        v = int(np.clip(round(vel * intensity + rng.normal(0.0, 7.0)), 1, 127))
        events.append((t, key, v))
    events.sort()
    bar_times = [i * 4 * beat_s for i in range(phrases * 4 + 1)]
    return Song(index, style, bpm, phrases * 4, events, bar_times)


def write_midi(song: Song, keys: tuple[int, ...], path: Path) -> None:
    """One MIDI file with the song's notes of ``keys`` on channel 10, ending after the tail."""
    tpb = 960
    ticks_per_s = tpb * song.bpm / 60.0
    notes = [(t, k, v) for t, k, v in song.events if k in keys]
    msgs = []  # (tick, order, message)
    for i, (t, k, v) in enumerate(notes):
        nxt = next((t2 for t2, k2, _ in notes[i + 1 :] if k2 == k), None)
        dur = 0.4 if nxt is None else min(0.4, max(0.002, nxt - t - 0.002))
        on, off = round(t * ticks_per_s), round((t + dur) * ticks_per_s)
        if nxt is not None:
            off = min(off, round(nxt * ticks_per_s) - 1)
        off = max(off, on + 1)
        msgs.append((on, 1, mido.Message("note_on", channel=9, note=k, velocity=v)))
        msgs.append((off, 0, mido.Message("note_off", channel=9, note=k, velocity=0)))
    msgs.sort(key=lambda m: (m[0], m[1]))
    mid = mido.MidiFile(ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(song.bpm), time=0))
    now = 0
    for tick, _, msg in msgs:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=max(0, round(song.length_s * ticks_per_s) - now)))
    mid.save(path)


# =============================================================================================
# 2. Stems


def render(fluidsynth: str, soundfont: str, midi: Path, wav: Path, length: int, gain: float = 1.0) -> np.ndarray:
    """Render ``midi`` with FluidSynth (no reverb/chorus); mono float32 of exactly ``length``."""
    cmd = [fluidsynth, "-ni", "-q", "-R", "0", "-C", "0", "-r", str(SR), "-O", "float", "-T", "wav",
           "-F", str(wav), soundfont, str(midi)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    if sr != SR:
        raise RuntimeError(f"FluidSynth wrote {sr} Hz, expected {SR}")
    mono = audio.mean(axis=1) * (RENDER_GAIN * gain)
    out = np.zeros(length, dtype=np.float32)
    n = min(length, mono.shape[0])
    out[:n] = mono[:n]
    return out


def _delay(x: np.ndarray, samples: int) -> np.ndarray:
    if samples <= 0:
        return x
    return np.concatenate([np.zeros(samples, dtype=x.dtype), x[:-samples]])


def _pan_gains(pan: float) -> tuple[float, float]:
    theta = (pan + 1.0) * math.pi / 4.0
    return math.cos(theta), math.sin(theta)


def make_overheads(sources: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The overhead pair: the whole kit, panned across L/R with a small inter-channel delay."""
    length = next(iter(sources.values())).shape[0]
    left = np.zeros(length, dtype=np.float32)
    right = np.zeros(length, dtype=np.float32)
    highpass = pedalboard.Pedalboard([pedalboard.HighpassFilter(OH_DRUM_HIGHPASS_HZ)])
    for name, (pan, gain) in OVERHEAD_SOURCES.items():
        x = sources[name]
        if name not in OH_CYMBALS:
            x = highpass(x[None, :], SR)[0]
            x = _delay(x, round(OH_DRUM_DELAY_S * SR))
        gl, gr = _pan_gains(pan)
        far = round(abs(pan) * OH_MAX_INTERCHANNEL_DELAY_S * SR)
        left += gain * gl * _delay(x, far if pan > 0 else 0)
        right += gain * gr * _delay(x, far if pan < 0 else 0)
    return left, right


def render_song(song: Song, work: Path, fluidsynth: str, soundfont: str) -> np.ndarray:
    """The 8 mono stems of ``song`` as ``[8, T]`` float32 in :data:`DRUM_SLOTS` order."""
    length = round(song.length_s * SR)
    sources = {}
    for name, keys in SOURCES.items():
        stem = f"song{song.index:03d}_{name}"
        midi, wav = work / f"{stem}.mid", work / f"{stem}.wav"
        write_midi(song, keys, midi)
        trim = 10 ** (RENDER_TRIM_DB.get(name, 0.0) / 20)
        sources[name] = render(fluidsynth, soundfont, midi, wav, length, trim)
        wav.unlink()
    oh_l, oh_r = make_overheads(sources)
    stems = [sources[s] for s in ("kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3")] + [oh_l, oh_r]
    assert len(stems) == len(DRUM_SLOTS)
    return np.stack(stems).astype(np.float32)


# =============================================================================================
# 3. Reference mixes


def _eq_plugin(kind: str, freq: float, gain_db: float, q: float):
    if kind == "highpass":
        return pedalboard.HighpassFilter(cutoff_frequency_hz=freq)
    if kind == "lowshelf":
        return pedalboard.LowShelfFilter(cutoff_frequency_hz=freq, gain_db=gain_db, q=q)
    if kind == "highshelf":
        return pedalboard.HighShelfFilter(cutoff_frequency_hz=freq, gain_db=gain_db, q=q)
    if kind == "peak":
        return pedalboard.PeakFilter(cutoff_frequency_hz=freq, gain_db=gain_db, q=q)
    raise ValueError(kind)


def _slot_board(slot: str) -> pedalboard.Pedalboard:
    spec = REFERENCE_CHAIN[slot]
    plugins = [_eq_plugin(*eq) for eq in spec["eq"]]
    if spec["compressor"] is not None:
        thr, ratio, attack, release = spec["compressor"]
        plugins.append(pedalboard.Compressor(threshold_db=thr, ratio=ratio, attack_ms=attack, release_ms=release))
    plugins.append(pedalboard.Gain(gain_db=spec["gain_db"]))
    return pedalboard.Pedalboard(plugins)


def reference_mix(stems: np.ndarray) -> tuple[np.ndarray, dict]:
    """The target: the fixed engineer chain applied to ``stems`` ``[8, T]``; returns ``[2, T]``."""
    out = np.zeros((2, stems.shape[1]), dtype=np.float64)
    for slot, x in zip(DRUM_SLOTS, stems):
        y = _slot_board(slot)(x[None, :].astype(np.float32), SR)[0].astype(np.float64)
        gl, gr = _pan_gains(REFERENCE_CHAIN[slot]["pan"])
        out[0] += gl * y
        out[1] += gr * y
    mix, gain_db = normalize_loudness(out.astype(np.float32), SR, TARGET_LUFS)
    thr, release = BUS_LIMITER
    mix = pedalboard.Limiter(threshold_db=thr, release_ms=release)(mix, SR)
    mix, gain2_db = normalize_loudness(mix, SR, TARGET_LUFS)
    gain_db += gain2_db
    peak = float(np.max(np.abs(mix)))
    ceiling = 10 ** (PEAK_CEILING_DB / 20)
    limited = peak > ceiling
    if limited:
        mix = mix * np.float32(ceiling / peak)
    return mix.astype(np.float32), {"norm_gain_db": gain_db, "peak_limited": limited}


def chain_description() -> str:
    """The reference chain in words (for the model card)."""
    parts = []
    for slot in DRUM_SLOTS:
        spec = REFERENCE_CHAIN[slot]
        eqs = []
        for kind, f, g, q in spec["eq"]:
            eqs.append(f"HPF {f:g} Hz" if kind == "highpass" else f"{kind} {f:g} Hz {g:+g} dB Q {q:g}")
        comp = ""
        if spec["compressor"]:
            t, r, a, rel = spec["compressor"]
            comp = f", compressor {t:g} dB {r:g}:1 attack {a:g} ms release {rel:g} ms"
        parts.append(f"{slot}: {', '.join(eqs)}{comp}, gain {spec['gain_db']:+g} dB, pan {spec['pan']:+g}")
    return (
        "Reference mix (pedalboard " + pedalboard.__version__ + "), per slot in order EQ -> compressor -> gain -> "
        "constant-power pan (L=cos, R=sin of (pan+1)*pi/4): " + "; ".join(parts) + f". Stereo sum loudness-normalised "
        f"to {TARGET_LUFS:g} LUFS (BS.1770, automix.audio.normalize_loudness), then a bus limiter "
        f"(pedalboard.Limiter threshold {BUS_LIMITER[0]:g} dB, release {BUS_LIMITER[1]:g} ms: JUCE's two-stage limiter "
        f"with its fixed -10 dB 4:1 first stage, make-up gain and a clipper at 0 dBFS), loudness-normalised to "
        f"{TARGET_LUFS:g} LUFS again, and scaled down to {PEAK_CEILING_DB:g} dBFS sample peak if still louder."
    )


# =============================================================================================
# 4./5. Metrics and baselines


def si_sdr(est: np.ndarray, ref: np.ndarray) -> float:
    """Scale-invariant SDR (dB) averaged over channels (``[C, T]`` arrays)."""
    vals = []
    for e, r in zip(est.astype(np.float64), ref.astype(np.float64)):
        alpha = np.dot(e, r) / max(np.dot(r, r), 1e-12)
        target = alpha * r
        noise = e - target
        vals.append(10 * math.log10(max(np.dot(target, target), 1e-12) / max(np.dot(noise, noise), 1e-12)))
    return float(np.mean(vals))


def mrstft(est: np.ndarray, ref: np.ndarray, ffts=(512, 1024, 2048), floor: float = 1e-5) -> float:
    """Multi-resolution STFT distance: mean |ln|X_est| - ln|X_ref||, averaged over FFT sizes.

    Hann window, hop n/4, magnitudes divided by the window sum (a full-scale sine peaks near
    0.5) and floored at ``floor`` (-100 dB) so silence does not dominate; averaged over bins,
    frames and channels, then over the FFT sizes 512, 1024 and 2048.
    """
    e = torch.as_tensor(est, dtype=torch.float32)
    r = torch.as_tensor(ref, dtype=torch.float32)
    dists = []
    for n in ffts:
        win = torch.hann_window(n)
        spec = [torch.stft(x, n, n // 4, window=win, return_complex=True).abs() / win.sum() for x in (e, r)]
        dists.append(float((torch.log(spec[0].clamp_min(floor)) - torch.log(spec[1].clamp_min(floor))).abs().mean()))
    return float(np.mean(dists))


def baseline_sum(stems: np.ndarray) -> np.ndarray:
    s = stems.sum(axis=0)
    return np.stack([s, s]).astype(np.float32)


def baseline_loudness_sum(stems: np.ndarray) -> np.ndarray:
    parts = [normalize_loudness(x, SR, -30.0)[0] for x in stems]
    s = np.sum(parts, axis=0)
    return normalize_loudness(np.stack([s, s]).astype(np.float32), SR, TARGET_LUFS)[0]


def scores(est: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    return {
        "l1": float(np.mean(np.abs(est - ref))),
        "si_sdr_db": si_sdr(est, ref),
        "mrstft": mrstft(est, ref),
        "lufs_error_db": abs(measure_loudness(est, SR) - measure_loudness(ref, SR)),
    }


# =============================================================================================
# 4. Training


def segment(arr: np.ndarray, start: int, length: int) -> np.ndarray:
    """``arr[:, start:start+length]`` with zeros outside the array."""
    out = np.zeros((arr.shape[0], length), dtype=np.float32)
    a, b = max(start, 0), min(start + length, arr.shape[1])
    if b > a:
        out[:, a - start : b - start] = arr[:, a:b]
    return out


def train(net, stems: list[np.ndarray], refs: list[np.ndarray], val: list[tuple[np.ndarray, np.ndarray]], args):
    info = net.input_length_for(args.segment)
    ctx, n_in, n_out = info.context, info.input_length, info.output_length
    rng = np.random.default_rng(args.seed + 1)
    weights = np.array([s.shape[1] for s in stems], dtype=np.float64)
    weights /= weights.sum()
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    warmup = min(50, args.steps // 10)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        p = (step - warmup) / max(1, args.steps - warmup)
        return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * p))

    # fixed held-out segments, only to log progress (the final weights are kept regardless)
    vrng = np.random.default_rng(args.seed + 2)
    vx, vy = [], []
    for _ in range(16):
        s, r = val[vrng.integers(len(val))]
        o = int(vrng.integers(0, s.shape[1] - n_out))
        vx.append(segment(s, o - ctx, n_in))
        vy.append(segment(r, o, n_out))
    vx, vy = torch.from_numpy(np.stack(vx)), torch.from_numpy(np.stack(vy))

    history = []
    started = time.perf_counter()
    running = None
    for step in range(args.steps):
        xs, ys = [], []
        for _ in range(args.batch):
            i = int(rng.choice(len(stems), p=weights))
            o = int(rng.integers(0, stems[i].shape[1] - n_out))
            xs.append(segment(stems[i], o - ctx, n_in))  # input [o - ctx, o - ctx + n_in)
            ys.append(segment(refs[i], o, n_out))  # its output lines up with [o, o + n_out)
        x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        net.train()
        loss = (net(x) - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lv = float(loss.detach())
        running = lv if running is None else 0.95 * running + 0.05 * lv
        if (step + 1) % args.log_every == 0 or step + 1 == args.steps:
            net.eval()
            with torch.inference_mode():
                vloss = float((net(vx) - vy).abs().mean())
            elapsed = time.perf_counter() - started
            history.append({"step": step + 1, "train_l1": running, "heldout_segment_l1": vloss, "elapsed_s": elapsed})
            log(f"  step {step + 1:5d}/{args.steps}  lr {lr_at(step):.2e}  train L1 {running:.5f}  "
                f"held-out L1 {vloss:.5f}  {elapsed:6.0f} s")
    net.eval()
    return time.perf_counter() - started, history


# =============================================================================================
# 6. Outputs


def example_window(song: Song, seconds: float) -> tuple[int, int]:
    """A ``seconds`` window that holds the end of the first phrase (its fill) and the crash after it."""
    end = min(song.bar_times[4] + 1.5, song.length_s)
    start = max(0.0, end - seconds)
    return round(start * SR), round(start * SR) + round(seconds * SR)


def write_examples(stems: np.ndarray, song: Song, args, soundfont: str) -> list[Path]:
    out_dir = Path(args.examples_dir) / "stems"
    out_dir.mkdir(parents=True, exist_ok=True)
    a, b = example_window(song, args.example_seconds)
    clip = stems[:, a:b]
    peak = float(np.max(np.abs(clip)))
    if peak >= 1.0:
        raise RuntimeError(f"example stems would clip (peak {peak:.3f})")
    paths = []
    for slot, x in zip(DRUM_SLOTS, clip):
        paths.append(write_audio(out_dir / EXAMPLE_FILES[slot], x, SR, subtype="PCM_16", overwrite=args.overwrite))
        paths[-1].chmod(0o644)  # atomic writes create 0600 files; these are shipped
    readme = Path(args.examples_dir) / "README.md"
    if readme.exists() and not args.overwrite:
        raise FileExistsError(f"{readme} exists (use --overwrite)")
    files = "\n".join(f"| `{EXAMPLE_FILES[s]}` | `{s}` |" for s in DRUM_SLOTS)
    readme.write_text(f"""# Example drum stems

`stems/` holds {args.example_seconds:g} seconds of eight mono drum stems (44.1 kHz, 16-bit FLAC),
named the way a DAW exports tracks. Try them with the default model:

```sh
automix mix examples/stems -o mix.wav
```

| file | model slot |
|---|---|
{files}

## How they were made

They are synthetic. `tools/make_demo_model.py` (seed {args.seed}) generated a {song.style.replace('_', '-')}
groove at {song.bpm:g} bpm as MIDI (General MIDI drums, velocity and timing humanised) and
rendered every instrument separately with FluidSynth and the FluidR3_GM SoundFont
(`{soundfont}`, Debian package `fluid-soundfont-gm`), reverb and chorus off. The overhead pair is
the cymbals plus quieter, delayed copies of the drums, panned across the kit. This clip is
{a / SR:.2f}-{b / SR:.2f} s of held-out song {song.index} (the demo model never trained on it): the end of a
phrase with a tom fill and the crash after it.

Regenerate (this also retrains the demo model):

```sh
apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm
python tools/make_demo_model.py --seed {args.seed} --overwrite
```

## Licence

The samples come from FluidR3_GM.sf2, Copyright (c) 2000-2002, 2008 Frank Wen (with
contributors), released under the MIT licence (Debian: `/usr/share/doc/fluid-soundfont-gm/copyright`).
These stems are renders of those samples; keep this notice with them. automix is MIT-licensed too.
""")
    return paths + [readme]


def write_model_card_md(path: Path, model, metrics: dict, meta: dict) -> None:
    def row(label: str, key: str) -> str:
        return (f"| {label} | {metrics[key + 'l1']:.5f} | {metrics[key + 'si_sdr_db']:.2f} | "
                f"{metrics[key + 'mrstft']:.3f} | {metrics[key + 'lufs_error_db']:.2f} |")

    cfg = model.card.config
    text = f"""# `drums`: demo drum-mixing model

A **small demo** Mix-Wave-U-Net (Martinez-Ramirez, Stoller, Moffat, JAES 2021) that mixes eight
mono drum stems ({', '.join(DRUM_SLOTS)}) into a stereo mix at 44.1 kHz. It is the default model of
`automix mix` so that the tool works out of the box. It is **not** the paper-size model and not a
substitute for a model trained on real multitrack drum recordings.

## What it is

| | |
|---|---|
| architecture | Wave-U-Net, context mode: levels {cfg.levels}, base filters {cfg.base_filters}, growth {cfg.growth}, kernels {cfg.kernel_down}/{cfg.kernel_up}, decimation, linear upsampling |
| weights | {model.net.num_parameters():,} ({meta['file_mb']:.2f} MB safetensors, fp32) |
| context | {model.net.context} samples each side ({1000 * model.net.context / SR:.1f} ms) |
| inputs | {', '.join(DRUM_SLOTS)} (mono each) |
| output | stereo L/R, about {TARGET_LUFS:g} LUFS |

## Data

{meta['data']}

Overheads: {meta['overheads']}

## Target: one fixed mixing style

{chain_description()}

The model learns exactly this chain (and nothing else about taste): balance, EQ, kick/snare
compression, panning and the loudness target.

## Recipe

`{meta['recipe']}`

Plain training loop in the script: L1 loss on random segments ({meta['segment']} output samples,
batch {meta['batch']}), Adam, learning rate {meta['lr']:g} with a short warm-up and cosine decay to
{meta['lr_min']:g}, {meta['steps']} steps, no augmentation, the last weights kept (no selection on the
held-out songs).

Hardware: {meta['hardware']}. Training time: {meta['train_s'] / 60:.1f} min (whole script
{meta['total_s'] / 60:.1f} min, including rendering and evaluation).

## Held-out scores

Two songs never seen in training ({meta['heldout_desc']}), whole songs through
`automix.inference.process` in fp32, against the reference mix. L1 (lower is better), SI-SDR in dB
(per channel, higher is better), MR-STFT = mean absolute difference of log magnitudes over FFT sizes
512/1024/2048 (lower is better), loudness error in LU.

| mix | L1 | SI-SDR (dB) | MR-STFT | loudness error (LU) |
|---|---|---|---|---|
{row('**this model**', 'heldout_')}
{row('sum of stems (mono)', 'baseline_sum_')}
{row('loudness-equalised sum (mono)', 'baseline_loudness_sum_')}

## Limits

* Trained on one synthesised kit (FluidR3_GM's standard GM kit), rendered without room sound,
  and on generated grooves: real recordings (bleed, rooms, other drums, other levels) are out of
  distribution. The input levels matter: stems much louder or quieter than the renders here
  give a different balance.
* It learns one fixed mixing style (above), not "a good mix" in general.
* Small ({model.net.num_parameters():,} weights, {meta['steps']} CPU steps): expect audible
  differences from the reference chain, especially in compression.
* A larger model trained on a proper generated corpus will replace it.

Regenerate: `{meta['recipe']}` (needs `fluidsynth` and `fluid-soundfont-gm`).
"""
    path.write_text(text)


# =============================================================================================
# main


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=str(REPO / "automix" / "pretrained"),
                   help="where drums.safetensors, drums.json and drums.md are written (default: automix/pretrained)")
    p.add_argument("--examples-dir", default=str(REPO / "examples"),
                   help="where stems/*.flac and README.md are written (default: examples)")
    p.add_argument("--work-dir", default=None, help="keep MIDI files here (default: a temporary folder)")
    p.add_argument("--name", default="drums", help="model name / file stem (default: drums)")
    p.add_argument("--seed", type=int, default=0, help="seed for grooves, initialisation and sampling (default: 0)")
    p.add_argument("--songs", type=int, default=26, help="songs to generate, held-out ones included (default: 26)")
    p.add_argument("--heldout", type=int, default=2, help="last songs kept out of training (default: 2)")
    p.add_argument("--steps", type=int, default=2000, help="training steps (default: 2000)")
    p.add_argument("--batch", type=int, default=16, help="segments per step (default: 16)")
    p.add_argument("--segment", type=int, default=8192, help="wanted output samples per segment (default: 8192)")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    p.add_argument("--lr-min", type=float, default=1e-5, help="final learning rate (default: 1e-5)")
    p.add_argument("--levels", type=int, default=6)
    p.add_argument("--growth", type=int, default=16)
    p.add_argument("--base-filters", type=int, default=16)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default: 2)")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--example-seconds", type=float, default=6.0)
    p.add_argument("--soundfont", default=DEFAULT_SOUNDFONT)
    p.add_argument("--fluidsynth", default="fluidsynth", help="FluidSynth executable")
    p.add_argument("--overwrite", action="store_true", help="replace existing model and example files")
    p.add_argument("--no-examples", action="store_true", help="do not write the example stems")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    fluidsynth = shutil.which(args.fluidsynth)
    if fluidsynth is None:
        sys.exit(f"FluidSynth not found ('{args.fluidsynth}'); apt-get install -y fluidsynth fluid-soundfont-gm")
    if not Path(args.soundfont).is_file():
        sys.exit(f"SoundFont {args.soundfont} not found; apt-get install -y fluid-soundfont-gm")
    if args.heldout < 1 or args.songs - args.heldout < 1:
        sys.exit("need at least one training and one held-out song")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json", ".md"):
        if (out_dir / f"{args.name}{suffix}").exists() and not args.overwrite:
            sys.exit(f"{out_dir / (args.name + suffix)} exists; pass --overwrite to replace it")
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # decaying drum tails would otherwise hit slow denormal floats
    torch.manual_seed(args.seed)
    fs_version = subprocess.run([fluidsynth, "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()
    sf_sha = sha256_file(args.soundfont)

    # 1-3: grooves, stems, reference mixes
    rng = np.random.default_rng(args.seed)
    songs = [make_song(rng, i) for i in range(args.songs)]
    stems, refs, ref_info = [], [], []
    with tempfile.TemporaryDirectory(prefix="automix-demo-") as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for song in songs:
            s = render_song(song, work, fluidsynth, args.soundfont)
            r, info = reference_mix(s)
            stems.append(s)
            refs.append(r)
            ref_info.append(info)
            peaks = " ".join(f"{20 * math.log10(max(float(np.max(np.abs(x))), 1e-9)):5.1f}" for x in s)
            log(f"song {song.index:2d} {song.style:13s} {song.bpm:5.0f} bpm {song.length_s:5.1f} s  "
                f"stem peaks dBFS [{peaks}]  ref gain {info['norm_gain_db']:+5.1f} dB"
                f"{'  peak-limited' if info['peak_limited'] else ''}")
    render_s = time.perf_counter() - t0
    n_train = args.songs - args.heldout
    train_idx, held_idx = list(range(n_train)), list(range(n_train, args.songs))
    train_s_audio = sum(stems[i].shape[1] for i in train_idx) / SR
    held_s_audio = sum(stems[i].shape[1] for i in held_idx) / SR
    log(f"rendered {args.songs} songs in {render_s:.0f} s: train {len(train_idx)} songs {train_s_audio / 60:.1f} min, "
        f"held-out {len(held_idx)} songs {held_s_audio / 60:.1f} min; "
        f"{sum(i['peak_limited'] for i in ref_info)} reference mixes peak-limited")

    # 4: train
    description = (
        f"Small demo Mix-Wave-U-Net (levels {args.levels}, growth {args.growth}, base filters {args.base_filters}) "
        f"trained on CPU on FluidSynth-rendered General MIDI drum stems (FluidR3_GM SoundFont, generated grooves). "
        f"It learns one fixed reference mixing style (see training.notes); not the full paper-size model."
    )
    model = mix_wave_unet(DRUM_SLOTS, levels=args.levels, growth=args.growth, base_filters=args.base_filters,
                          name=args.name, description=description)
    net = model.net
    info = net.input_length_for(args.segment)
    log(f"model: {net.num_parameters():,} weights, context {net.context}, segment in {info.input_length} -> "
        f"out {info.output_length}, batch {args.batch}, {args.steps} steps")
    train_s, history = train(
        net, [stems[i] for i in train_idx], [refs[i] for i in train_idx],
        [(stems[i], refs[i]) for i in held_idx], args,
    )
    log(f"trained in {train_s:.0f} s")

    # 5: evaluate on whole held-out songs
    per = {"heldout_": [], "baseline_sum_": [], "baseline_loudness_sum_": []}
    for i in held_idx:
        est = process(net, stems[i], precision="fp32")
        assert est.shape == refs[i].shape
        per["heldout_"].append(scores(est, refs[i]))
        per["baseline_sum_"].append(scores(baseline_sum(stems[i]), refs[i]))
        per["baseline_loudness_sum_"].append(scores(baseline_loudness_sum(stems[i]), refs[i]))
    metrics: dict[str, float] = {}
    for prefix, rows in per.items():
        for key in rows[0]:
            metrics[prefix + key] = round(float(np.mean([r[key] for r in rows])), 6)
    metrics["train_final_l1"] = round(history[-1]["train_l1"], 6)
    log("held-out scores (mean of %d songs):" % len(held_idx))
    for prefix in per:
        log(f"  {prefix:24s} L1 {metrics[prefix + 'l1']:.5f}  SI-SDR {metrics[prefix + 'si_sdr_db']:6.2f} dB  "
            f"MR-STFT {metrics[prefix + 'mrstft']:.4f}  loudness error {metrics[prefix + 'lufs_error_db']:.2f} LU")
    beats = all(
        metrics["heldout_" + k] < metrics[b + k] for b in ("baseline_sum_", "baseline_loudness_sum_") for k in ("l1", "mrstft")
    ) and all(metrics["heldout_si_sdr_db"] > metrics[b + "si_sdr_db"] for b in ("baseline_sum_", "baseline_loudness_sum_"))
    log("the model beats both baselines on L1, SI-SDR and MR-STFT" if beats else
        "WARNING: the model does NOT beat both baselines on every score; train longer")

    # 6: save
    recipe_args = [a for a in (argv if argv is not None else sys.argv[1:])]
    recipe = "python tools/make_demo_model.py " + " ".join(shlex.quote(a) for a in recipe_args)
    defaults = vars(parse_args([]))
    effective = {k: v for k, v in vars(args).items() if k not in ("out_dir", "examples_dir", "work_dir", "overwrite")}
    style_counts = ", ".join(f"{s} {sum(1 for i in train_idx if songs[i].style == s)}" for s in STYLES)
    heldout_desc = ", ".join(f"song {songs[i].index}: {songs[i].style} {songs[i].bpm:g} bpm {songs[i].length_s:.1f} s"
                             for i in held_idx)
    data = (
        f"{args.songs} generated 16-bar MIDI grooves (seed {args.seed}; styles {', '.join(STYLES)}; 80-160 bpm; tom fills, "
        f"crashes, velocity +-7 and 3 ms timing humanisation) rendered per instrument with {fs_version} and "
        f"FluidR3_GM.sf2 (sha256 {sf_sha[:16]}..., MIT licence), reverb/chorus off, mono 44.1 kHz, x{RENDER_GAIN:g} after "
        f"rendering. Train: {len(train_idx)} songs, {train_s_audio:.0f} s ({style_counts}); held out: "
        f"{len(held_idx)} songs, {held_s_audio:.0f} s ({heldout_desc})."
    )
    overheads = (
        f"cymbals (crash, ride, hi-hat) plus drums high-passed at {OH_DRUM_HIGHPASS_HZ:g} Hz and delayed "
        f"{OH_DRUM_DELAY_S * 1000:g} ms, per source (pan, gain) {json.dumps({k: list(v) for k, v in OVERHEAD_SOURCES.items()})}, "
        f"constant-power panning and up to {OH_MAX_INTERCHANNEL_DELAY_S * 1000:g} ms extra delay on the far channel."
    )
    model.card = model.card.model_copy(update={
        "training": TrainingInfo(
            data=data,
            recipe=f"{recipe} (effective arguments: {json.dumps(effective)}; defaults: {json.dumps({k: defaults[k] for k in effective})})",
            steps=args.steps,
            hardware=f"CPU, {args.threads} cores ({platform.processor() or platform.machine()}), torch {torch.__version__}",
            duration_s=round(train_s, 1),
            notes=(chain_description() + " Overhead stems: " + overheads + " Loss: L1 on random segments of "
                   f"{info.output_length} output samples (input {info.input_length}), batch {args.batch}, Adam "
                   f"lr {args.lr:g} -> {args.lr_min:g} cosine, final weights kept. Metrics: mean over the held-out songs, "
                   "whole songs through automix.inference.process (fp32); SI-SDR per channel; MR-STFT = mean |ln|X|-ln|Y|| "
                   "(Hann, hop n/4, magnitudes / window sum floored at 1e-5) over FFT 512/1024/2048; baseline_sum = "
                   "stem sum on both channels; baseline_loudness_sum = each stem to -30 LUFS, summed, to -18 LUFS."),
            history=history,
        ),
        "metrics": metrics,
    })
    weights = model.save(out_dir / args.name, overwrite=args.overwrite)
    for path in (weights, weights.with_suffix(".json")):
        path.chmod(0o644)  # atomic writes create 0600 files; these are shipped
    file_mb = weights.stat().st_size / 1e6
    total_s = time.perf_counter() - t0
    write_model_card_md(out_dir / f"{args.name}.md", model, metrics, {
        "file_mb": file_mb, "data": data, "overheads": overheads, "recipe": recipe, "segment": info.output_length,
        "batch": args.batch, "lr": args.lr, "lr_min": args.lr_min, "steps": args.steps,
        "hardware": model.card.training.hardware, "train_s": train_s, "total_s": total_s, "heldout_desc": heldout_desc,
    })
    log(f"saved {weights} ({file_mb:.2f} MB), {weights.with_suffix('.json')}, {out_dir / (args.name + '.md')}")
    if not args.no_examples:
        for p in write_examples(stems[held_idx[0]], songs[held_idx[0]], args, args.soundfont):
            log(f"wrote {p} ({p.stat().st_size / 1e3:.0f} kB)")
    log(f"done in {total_s / 60:.1f} min")
    return 0 if beats else 1


if __name__ == "__main__":
    sys.exit(main())
