#!/usr/bin/env python3
"""Drum stems from a kit the default model never heard: FluidSynth and the FluidR3_GM SoundFont.

The generator (:mod:`automix.data.generate`) records every take with DrumGizmo and one kit
(Hydrogen's GMRockKit). To see how a model trained on that corpus does on other drums, this
script plays the generator's own grooves (:func:`automix.data.grooves.make_groove`, style and
tempo drawn from the generator recipe's weights and ranges) through a sampled General MIDI kit:

* one FluidSynth render per source (kick, snare, hi-hat, three toms, crash, ride), reverb and
  chorus off, 44.1 kHz float, summed to mono; the close mics are those renders;
* the overhead pair hears the whole kit: cymbals at full level plus quieter, high-passed (90 Hz),
  2.5 ms later copies of the drums, each source panned across the kit with constant power and
  up to 0.4 ms more delay on the far side (drummer's view);
* 8 mono stems in :data:`daw_bridge.stems.DRUM_SLOTS` order.

Used by ``tools/evaluate_drums_model.py`` (the "other kit" table of the default model's card)
and to make ``examples/stems/`` (``--examples``). Needs
``apt-get install -y --no-install-recommends fluidsynth fluid-soundfont-gm``.

    python tools/fluid_kit.py --examples examples/stems --seed 7 --seconds 6 --overwrite
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pedalboard
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daw_bridge.audio import write_audio  # noqa: E402
from automix.data import grooves  # noqa: E402
from automix.data.generate import load_recipe  # noqa: E402
from daw_bridge.stems import DRUM_SLOTS  # noqa: E402

SR = 44100
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
#: FluidSynth renders quietly (synth gain 0.2); every render is multiplied by this ...
RENDER_GAIN = 4.0
#: ... and these sources by this much more (dB): FluidR3's hi-hats are ~15 dB below its drums.
RENDER_TRIM_DB = {"hi-hat": 10.0}

#: One FluidSynth render per source: the General MIDI keys it plays.
SOURCES: dict[str, frozenset[int]] = {
    "kick": frozenset({grooves.KICK}),
    "snare": frozenset({grooves.SNARE, grooves.RIMSHOT, grooves.SIDE_STICK}),
    "hi-hat": frozenset({grooves.HH_CLOSED, grooves.HH_PEDAL, grooves.HH_OPEN}),
    "tom_1": frozenset({grooves.TOM_HIGH}),
    "tom_2": frozenset({grooves.TOM_MID}),
    "tom_3": frozenset({grooves.TOM_FLOOR}),
    "crash": frozenset({grooves.CRASH, grooves.SPLASH}),
    "ride": frozenset({grooves.RIDE, grooves.RIDE_BELL, grooves.COWBELL}),
}
#: Overhead pair: source -> (pan -1 left .. +1 right, drummer's view; linear gain).
OVERHEAD_SOURCES: dict[str, tuple[float, float]] = {
    "crash": (-0.55, 1.0), "ride": (0.7, 0.9), "hi-hat": (-0.65, 0.6), "snare": (-0.25, 0.35),
    "kick": (0.0, 0.2), "tom_1": (-0.15, 0.3), "tom_2": (0.2, 0.3), "tom_3": (0.6, 0.3),
}
OH_CYMBALS = ("crash", "ride", "hi-hat")
OH_DRUM_DELAY_S = 0.0025
OH_MAX_INTERCHANNEL_DELAY_S = 0.0004
OH_DRUM_HIGHPASS_HZ = 90.0
#: Example file names, the way a DAW exports tracks.
EXAMPLE_FILES = ("01 Kick.flac", "02 Snare.flac", "03 Hi-Hat.flac", "04 Tom 1.flac", "05 Tom 2.flac",
                 "06 Floor Tom.flac", "07 OH L.flac", "08 OH R.flac")


def tools() -> tuple[str, str]:
    """The FluidSynth executable and the SoundFont, or exit with what to install."""
    exe = shutil.which("fluidsynth")
    if exe is None or not Path(SOUNDFONT).is_file():
        sys.exit("needs FluidSynth and FluidR3_GM: apt-get install -y --no-install-recommends "
                 "fluidsynth fluid-soundfont-gm")
    return exe, SOUNDFONT


def song_groove(seed: int, index: int, seconds: float) -> grooves.Groove:
    """Song ``index`` of ``seed``: a style and tempo drawn like the generator draws them."""
    rng = np.random.default_rng([seed, index])
    spec = load_recipe().groove
    styles = spec.styles
    names = sorted(styles)
    weights = np.array([styles[n].weight for n in names], dtype=np.float64)
    style = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    lo, hi = styles[style].tempo_bpm
    bpm = int(rng.integers(lo, hi + 1))
    bars = max(1, math.floor((seconds - 1.0) / (4 * 60.0 / bpm)))
    return grooves.make_groove([seed, index, 1], style=style, bpm=bpm, bars=bars,
                               complexity="complex" if rng.random() < spec.complex_probability else "simple",
                               lead_in=0.05, max_time=seconds - 0.5)


def _render(exe: str, soundfont: str, groove: grooves.Groove, keys: frozenset[int], work: Path,
            length: int, gain: float) -> np.ndarray:
    """The notes of ``keys`` rendered by FluidSynth: mono float32 of exactly ``length`` frames."""
    out = np.zeros(length, dtype=np.float32)
    part = dataclasses.replace(groove, notes=[n for n in groove.notes if n.key in keys])
    if not part.notes:
        return out
    midi, wav = work / "part.mid", work / "part.wav"
    grooves.write_midi(part, midi, length_s=length / SR, overwrite=True)
    cmd = [exe, "-ni", "-q", "-R", "0", "-C", "0", "-r", str(SR), "-O", "float", "-T", "wav",
           "-F", str(wav), soundfont, str(midi)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    if rate != SR:
        raise RuntimeError(f"FluidSynth wrote {rate} Hz, expected {SR}")
    mono = audio.mean(axis=1) * (RENDER_GAIN * gain)
    n = min(length, mono.shape[0])
    out[:n] = mono[:n]
    return out


def _delay(x: np.ndarray, samples: int) -> np.ndarray:
    if samples <= 0:
        return x
    return np.concatenate([np.zeros(samples, dtype=x.dtype), x[:-samples]])


def overheads(sources: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The overhead pair: the whole kit, panned across L/R with small delays."""
    length = next(iter(sources.values())).shape[0]
    left = np.zeros(length, dtype=np.float32)
    right = np.zeros(length, dtype=np.float32)
    highpass = pedalboard.Pedalboard([pedalboard.HighpassFilter(OH_DRUM_HIGHPASS_HZ)])
    for name, (pan, gain) in OVERHEAD_SOURCES.items():
        x = sources[name]
        if name not in OH_CYMBALS:
            x = _delay(highpass(x[None, :], SR)[0], round(OH_DRUM_DELAY_S * SR))
        theta = (pan + 1.0) * math.pi / 4.0
        far = round(abs(pan) * OH_MAX_INTERCHANNEL_DELAY_S * SR)
        left += gain * math.cos(theta) * _delay(x, far if pan > 0 else 0)
        right += gain * math.sin(theta) * _delay(x, far if pan < 0 else 0)
    return left, right


def render_stems(groove: grooves.Groove, seconds: float) -> np.ndarray:
    """The 8 mono stems of ``groove`` as ``[8, round(seconds * 44100)]`` float32, DRUM_SLOTS order."""
    exe, soundfont = tools()
    length = round(seconds * SR)
    with tempfile.TemporaryDirectory(prefix="automix-fluid-") as tmp:
        sources = {name: _render(exe, soundfont, groove, keys, Path(tmp), length,
                                 10 ** (RENDER_TRIM_DB.get(name, 0.0) / 20))
                   for name, keys in SOURCES.items()}
    oh_l, oh_r = overheads(sources)
    stems = [sources[s] for s in DRUM_SLOTS[:6]] + [oh_l, oh_r]
    return np.stack(stems).astype(np.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", required=True, metavar="DIR", help="folder for the 8 stems (16-bit FLAC)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--song", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    groove = song_groove(args.seed, args.song, args.seconds)
    stems = render_stems(groove, args.seconds)
    out = Path(args.examples)
    out.mkdir(parents=True, exist_ok=True)
    for name, stem in zip(EXAMPLE_FILES, stems):
        write_audio(out / name, stem[None, :], SR, subtype="PCM_16", overwrite=args.overwrite)
    print(f"{groove.style} {groove.complexity} {groove.bpm} bpm, {args.seconds:g} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
