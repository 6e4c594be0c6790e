"""The drum kit catalogue: every recorded acoustic kit reachable from Debian packages, as one-shots.

Torch-free. The generator (:mod:`automix.data.generate`) plays grooves on these kits: each
General MIDI key a groove uses (:data:`GROOVE_KEYS`) sounds a *one-shot* sample chosen by velocity
layer, placed sample-accurately at the note's frame, and summed per physical *piece* of the kit
(:data:`PIECES`: kick, snare, hi-hat, three toms, crash, ride, splash, cowbell). Those per-piece
"dry source" signals then go through the room and the microphones (:mod:`automix.data.rooms`).

**Catalogue** (:data:`CATALOGUE`, :class:`KitSpec`; kept in :mod:`automix.data.kit_catalogue`
and re-exported here): name, *family* (kits that share recordings: a leave-kit-out split holds out
whole families), source (a Hydrogen ``drumkit.xml`` folder or a SoundFont preset), Debian package,
licence and where it is stated, author, articulation (sticks or brushes), and which instrument (or
SoundFont key) plays each General MIDI key. Kits that are electronic, hand percussion or duplicates
are listed in :data:`LEFT_OUT` with the reason.

**One-shots.** :func:`load_kit` turns a kit into velocity layers per key, once, and caches them
under ``<cache>/kits/<name>-v<KITS_VERSION>-<hash>/`` (24-bit FLAC plus ``kit.json``):

* Hydrogen kits: every layer of the mapped instrument (its ``min``/``max`` velocity range), scaled
  by the layer gain and the instrument volume as Hydrogen plays them; old-format kits (one file per
  instrument) have one layer. Played at velocity ``v`` a layer is scaled by ``v / 127`` (Hydrogen's
  velocity gain).
* SoundFont kits: FluidSynth renders each key at :data:`SF2_VELOCITIES` (reverb and chorus off,
  44.1 kHz, float) in one run per kit; a layer rendered at velocity ``r`` is scaled by ``v / r``.
  AVL kits play on a melodic channel (bank 0), the GM kits on channel 10 (bank 128, program).
* Stereo samples become mono by their louder channel, scaled by ``sqrt((E_L + E_R) / E_loud)`` so a
  panned mono sample keeps its level wherever it was panned; other rates are resampled (soxr);
  leading silence is cut (1 ms kept before the onset, so a note sounds on its frame) and tails are
  cut where they fall below -80 dB of the peak, with a 20 ms fade.
* *Derived* keys (a two-tom kit asked for a third tom) are another key's layers resampled a few
  semitones lower (a bigger drum); *aliases* (a kit with no side stick, no cowbell) play another
  instrument; both are stated in the catalogue and in each take's annotation (``kit.key_map``).
* **Calibration to physical levels.** Kit authors normalise their samples differently, and bleed
  between microphones depends on how loud each piece really is. Each piece is therefore scaled so
  that its reference hit (:data:`REFERENCE_KEY`, velocity 100) has the level in
  :data:`PIECE_LEVEL_DB` (peak of the 10 ms RMS envelope, dB relative to a snare hit, as heard
  at 1 m); the keys of one piece keep their relations (open vs closed hi-hat, rimshot vs snare).

Needs the Debian packages in :data:`APT_PACKAGES` (:func:`check_kits` says which are missing).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from automix.data.kit_catalogue import (  # the public names are re-exported
    APT_PACKAGES,
    CATALOGUE,
    GROOVE_KEYS,
    LEFT_OUT,
    KeySource,
    KitSpec,
    _spec,
    check_kits,
    families,
    install_hint,
    kit_names,
)
from automix.data.segments import cache_dir
from daw_bridge.audio import resample
from daw_bridge.errors import AutomixError

__all__ = [
    "APT_PACKAGES",
    "CATALOGUE",
    "GROOVE_KEYS",
    "KITS_VERSION",
    "LEFT_OUT",
    "PIECES",
    "PIECE_LEVEL_DB",
    "PIECE_OF_KEY",
    "REFERENCE_KEY",
    "SAMPLE_RATE",
    "SF2_VELOCITIES",
    "KeySource",
    "KitSpec",
    "Layer",
    "LoadedKit",
    "check_kits",
    "families",
    "kit_names",
    "load_kit",
]

SAMPLE_RATE = 44100
#: Bump when the one-shot preparation changes: cached kits are rebuilt under a new name.
KITS_VERSION = 1
#: Velocities at which SoundFont kits are rendered (their velocity layers).
SF2_VELOCITIES: tuple[int, ...] = (24, 48, 72, 96, 112, 127)

#: The physical pieces of a kit, in the order sources are kept.
PIECES: tuple[str, ...] = ("kick", "snare", "hihat", "tom_high", "tom_mid", "tom_floor", "crash", "ride", "splash",
                           "cowbell")
#: General MIDI key -> the piece that sounds it (the grooves of :mod:`automix.data.grooves` use
#: :data:`GROOVE_KEYS`; the other GM drum keys are accepted and play the nearest piece).
PIECE_OF_KEY: dict[int, str] = {
    35: "kick", 36: "kick", 37: "snare", 38: "snare", 40: "snare", 41: "tom_floor", 43: "tom_floor",
    42: "hihat", 44: "hihat", 46: "hihat", 45: "tom_mid", 47: "tom_mid", 48: "tom_high", 50: "tom_high",
    49: "crash", 57: "crash", 51: "ride", 59: "ride", 53: "ride", 55: "splash", 56: "cowbell",
}
_KEY_ALIASES = {35: 36, 43: 41, 47: 45, 50: 48, 57: 49, 59: 51}  # other GM keys -> a groove key
#: The key whose velocity-100 hit sets a piece's level (calibration, soundcheck).
REFERENCE_KEY: dict[str, int] = {"kick": 36, "snare": 38, "hihat": 42, "tom_high": 48, "tom_mid": 45,
                                 "tom_floor": 41, "crash": 49, "ride": 51, "splash": 55, "cowbell": 56}
#: Level of each piece's reference hit, dB relative to the snare's, as heard at 1 m (peak of the
#: 10 ms RMS envelope): a kick a little under the snare, closed hi-hats about 10 dB under, toms
#: near the snare, the crash a little under, the ride and small percussion well under.
PIECE_LEVEL_DB: dict[str, float] = {"kick": -2.0, "snare": 0.0, "hihat": -10.0, "tom_high": -3.0, "tom_mid": -3.0,
                                    "tom_floor": -3.0, "crash": -3.0, "ride": -9.0, "splash": -7.0, "cowbell": -9.0}
_REFERENCE_DBFS = -20.0  # the snare's reference level in the cached one-shots (dBFS at 1 m)
_REFERENCE_VELOCITY = 100
_MAX_SECONDS = {"kick": 2.5, "snare": 2.5, "hihat": 3.0, "tom_high": 3.0, "tom_mid": 3.0, "tom_floor": 3.5,
                "crash": 5.0, "ride": 5.0, "splash": 3.5, "cowbell": 1.5}
_TAIL_DB = -80.0
_ONSET_DB = -50.0
_FADE_S = 0.02
_HAT_CHOKE_FADE_S = 0.04
_OPEN_HAT, _CLOSING_HATS = 46, (42, 44)


# --------------------------------------------------------------------------------------------
# Loaded kits


@dataclasses.dataclass(frozen=True)
class Layer:
    """One velocity layer of one key: velocities ``lo..hi`` (1-127) play ``audio`` (float32 mono,
    44.1 kHz, calibrated) scaled by ``velocity / ref_velocity``."""

    lo: int
    hi: int
    ref_velocity: float
    audio: np.ndarray


@dataclasses.dataclass
class LoadedKit:
    """A kit's one-shots: ``layers[key]`` sorted by velocity; ``info`` is the cache's ``kit.json``."""

    spec: KitSpec
    layers: dict[int, list[Layer]]
    info: dict

    @property
    def name(self) -> str:
        return self.spec.name

    def layer_for(self, key: int, velocity: int) -> Layer:
        """The layer a hit of ``key`` at ``velocity`` plays (the one whose range holds it, else the nearest)."""
        key = _KEY_ALIASES.get(int(key), int(key))
        if key not in self.layers:
            raise ValueError(f"kit '{self.name}' plays no MIDI key {key}")
        layers = self.layers[key]
        for layer in layers:
            if layer.lo <= velocity <= layer.hi:
                return layer
        return min(layers, key=lambda lay: min(abs(velocity - lay.lo), abs(velocity - lay.hi)))

    def hit(self, key: int, velocity: int) -> np.ndarray:
        """One hit as float64 audio: the layer's one-shot scaled by ``velocity / ref_velocity``."""
        layer = self.layer_for(key, velocity)
        return layer.audio.astype(np.float64) * (float(velocity) / layer.ref_velocity)

    def reference_hit(self, piece: str, velocity: int = _REFERENCE_VELOCITY) -> np.ndarray:
        """The hit that sets a piece's level (:data:`REFERENCE_KEY` at ``velocity``)."""
        return self.hit(REFERENCE_KEY[piece], velocity)

    def play(self, events: Sequence[tuple[int, int, int]], length: int, *,
             pieces: Iterable[str] | None = None, choke_hats: bool = True) -> dict[str, np.ndarray]:
        """The dry source of every piece: ``{piece: float64 [length]}`` (pieces with no hit are absent).

        ``events`` are ``(frame, General MIDI key, velocity 1..127)``; each hit's one-shot starts on
        its frame. With ``choke_hats`` an open hi-hat stops (a 40 ms fade) at the next closed or
        pedal hi-hat. ``pieces`` limits which pieces are rendered.
        """
        wanted = set(PIECES if pieces is None else pieces)
        closing = sorted(int(f) for f, k, _ in events if k in _CLOSING_HATS)
        fade_n = int(round(_HAT_CHOKE_FADE_S * SAMPLE_RATE))
        out: dict[str, np.ndarray] = {}
        for frame, key, velocity in sorted((int(f), int(k), int(v)) for f, k, v in events):
            piece = PIECE_OF_KEY.get(key)
            if piece is None:
                raise ValueError(f"no kit piece plays MIDI key {key}")
            if piece not in wanted or frame >= length:
                continue
            if frame < 0 or not 1 <= velocity <= 127:
                raise ValueError(f"bad event {(frame, key, velocity)}: frames must be >= 0, velocities 1..127")
            x = self.hit(key, velocity)
            if choke_hats and key == _OPEN_HAT:
                stop = next((f for f in closing if f > frame), None)
                if stop is not None and stop - frame < len(x):
                    n = stop - frame
                    end = min(len(x), n + fade_n)
                    x = x[:end].copy()
                    x[n:end] *= np.linspace(1.0, 0.0, end - n, endpoint=False)
            n = min(len(x), length - frame)
            buf = out.get(piece)
            if buf is None:
                buf = out[piece] = np.zeros(length, dtype=np.float64)
            buf[frame:frame + n] += x[:n]
        return out


_LOADED: dict[tuple[str, str], LoadedKit] = {}


def load_kit(kit: str | KitSpec, cache: Path | None = None) -> LoadedKit:
    """The one-shots of a catalogue kit, prepared once into ``cache`` (default: automix's cache
    folder) and kept in memory for the process. Raises :class:`AutomixError` (with the apt-get
    command) when the kit's package is missing."""
    spec = _spec(kit)
    root = Path(cache or cache_dir()).expanduser()
    folder = root / "kits" / f"{_slug(spec.name)}-v{KITS_VERSION}-{_kit_key(spec)}"
    memo = (str(folder), spec.name)
    if memo in _LOADED:
        return _LOADED[memo]
    if not (folder / "kit.json").is_file():
        check_kits([spec.name])
        _build(spec, folder)
    info = json.loads((folder / "kit.json").read_text())
    layers: dict[int, list[Layer]] = {}
    for key, entries in info["layers"].items():
        items = []
        for e in entries:
            audio, sr = sf.read(str(folder / e["file"]), dtype="float32")
            items.append(Layer(int(e["lo"]), int(e["hi"]), float(e["ref_velocity"]),
                               audio * np.float32(info["storage_scale"])))
        layers[int(key)] = items
    loaded = LoadedKit(spec, layers, info)
    _LOADED[memo] = loaded
    return loaded


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _kit_key(spec: KitSpec) -> str:
    """Hash of the kit's spec, its source files' size and date, and the preparation constants."""
    path = Path(spec.path)
    stamp = ""
    with contextlib.suppress(OSError):
        probe = path / "drumkit.xml" if spec.source == "hydrogen" else path
        st = probe.stat()
        stamp = f"{st.st_size}:{int(st.st_mtime)}"
    blob = json.dumps({"spec": dataclasses.asdict(spec), "stamp": stamp, "levels": PIECE_LEVEL_DB,
                       "velocities": SF2_VELOCITIES, "max": _MAX_SECONDS, "ref": REFERENCE_KEY},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Preparing one-shots


def _to_mono(x: np.ndarray) -> np.ndarray:
    """``[frames, channels]`` -> mono float64: the louder channel, scaled so a panned mono sample
    keeps its level (see the module docstring)."""
    if x.ndim == 1 or x.shape[1] == 1:
        return np.asarray(x, dtype=np.float64).reshape(-1)
    energy = np.sum(np.square(x[:, :2], dtype=np.float64), axis=0)
    loud = int(np.argmax(energy))
    total = float(energy.sum())
    scale = math.sqrt(total / float(energy[loud])) if energy[loud] > 0 else 1.0
    return x[:, loud].astype(np.float64) * scale


def _trim(x: np.ndarray, max_seconds: float) -> np.ndarray:
    """Cut leading silence (keep 1 ms before the onset) and the tail below -80 dB of the peak,
    at most ``max_seconds`` long, with a 20 ms fade at the end."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0:
        return np.zeros(1, dtype=np.float64)
    loud = np.nonzero(np.abs(x) >= peak * 10 ** (_ONSET_DB / 20))[0]
    start = max(0, int(loud[0]) - int(0.001 * SAMPLE_RATE))
    above = np.nonzero(np.abs(x) >= peak * 10 ** (_TAIL_DB / 20))[0]
    end = min(int(above[-1]) + 1, start + int(max_seconds * SAMPLE_RATE))
    y = x[start:end].copy()
    fade = min(len(y), int(_FADE_S * SAMPLE_RATE))
    if fade > 1:
        y[-fade:] *= np.linspace(1.0, 0.0, fade)
    return y


def _transpose(x: np.ndarray, semitones: float) -> np.ndarray:
    """Resample ``x`` so it plays ``semitones`` higher (negative: lower and longer)."""
    if not semitones:
        return x
    rate = int(round(SAMPLE_RATE * 2 ** (-semitones / 12)))
    return resample(x.astype(np.float32), SAMPLE_RATE, rate).astype(np.float64)


def _read_sample(path: Path) -> np.ndarray:
    try:
        x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as exc:
        raise AutomixError(f"cannot read drum sample {path} ({exc}); reinstall its package") from None
    mono = _to_mono(x)
    if sr != SAMPLE_RATE:
        mono = resample(mono.astype(np.float32), sr, SAMPLE_RATE).astype(np.float64)
    return mono


def _hydrogen_instruments(folder: Path) -> dict[str, list[tuple[str, float, float, float]]]:
    """``{instrument name: [(file, min, max, gain x volume)]}`` from a Hydrogen ``drumkit.xml``
    (the layered format and the old one-file-per-instrument format)."""
    root = ET.parse(folder / "drumkit.xml").getroot()
    m = re.match(r"\{.*\}", root.tag)
    ns = m.group(0) if m else ""
    out: dict[str, list[tuple[str, float, float, float]]] = {}
    for inst in root.iter(f"{ns}instrument"):
        name = (inst.findtext(f"{ns}name") or "").strip()
        volume = float(inst.findtext(f"{ns}volume") or 1.0)
        layers = []
        for layer in inst.iter(f"{ns}layer"):
            fname = layer.findtext(f"{ns}filename")
            if fname:
                layers.append((fname, float(layer.findtext(f"{ns}min") or 0.0),
                               float(layer.findtext(f"{ns}max") or 1.0),
                               float(layer.findtext(f"{ns}gain") or 1.0) * volume))
        if not layers and inst.findtext(f"{ns}filename"):
            layers.append((inst.findtext(f"{ns}filename"), 0.0, 1.0, volume))
        if name and layers:
            out[name] = sorted(layers, key=lambda item: (item[1], item[2]))
    return out


def _velocity_bounds(lo: float, hi: float) -> tuple[int, int]:
    return max(1, int(math.ceil(lo * 127 - 1e-9))), max(1, min(127, int(math.floor(hi * 127 + 1e-9))))


def _hydrogen_layers(spec: KitSpec) -> dict[int, list[tuple[int, int, float, np.ndarray]]]:
    folder = Path(spec.path)
    instruments = _hydrogen_instruments(folder)
    out: dict[int, list[tuple[int, int, float, np.ndarray]]] = {}
    cache: dict[str, np.ndarray] = {}
    for key, src in spec.keys.items():
        if src.ref not in instruments:
            raise AutomixError(f"{folder / 'drumkit.xml'} has no instrument '{src.ref}' for kit '{spec.name}'; "
                               f"reinstall {spec.package}")
        layers = []
        for fname, lo, hi, gain in instruments[str(src.ref)]:
            if fname not in cache:
                cache[fname] = _read_sample(folder / fname)
            x = _transpose(cache[fname], src.transpose) * gain * 10 ** (src.gain_db / 20)
            vlo, vhi = _velocity_bounds(lo, hi)
            layers.append((vlo, vhi, 127.0, _trim(x, _MAX_SECONDS[PIECE_OF_KEY[key]])))
        out[key] = layers
    return out


def _soundfont_layers(spec: KitSpec, work: Path) -> dict[int, list[tuple[int, int, float, np.ndarray]]]:
    """Render every (source key, velocity) of a SoundFont kit in one FluidSynth run."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise AutomixError(f"SoundFont kits need FluidSynth; run: {install_hint(['fluidsynth'])}")
    notes = sorted({int(src.ref) for src in spec.keys.values()})
    slot_s = {k: max(_MAX_SECONDS[PIECE_OF_KEY[g]] for g, s in spec.keys.items() if s.ref == k) + 0.5 for k in notes}
    tpb, tempo = 480, 500000  # 960 ticks per second
    mid = mido.MidiFile(type=0, ticks_per_beat=tpb)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    bank, program = spec.preset
    ch = spec.channel
    track.append(mido.Message("control_change", channel=ch, control=0, value=min(bank, 127) if ch != 9 else 0, time=0))
    track.append(mido.Message("program_change", channel=ch, program=program, time=0))
    starts: list[tuple[int, int, float, float]] = []  # (key, velocity, start s, length s)
    now_s, now_tick = 0.5, 0
    for key in notes:
        for vel in SF2_VELOCITIES:
            starts.append((key, vel, now_s, slot_s[key]))
            on = int(round(now_s * 960))
            off = int(round((now_s + slot_s[key] - 0.3) * 960))
            track.append(mido.Message("note_on", channel=ch, note=key, velocity=vel, time=on - now_tick))
            track.append(mido.Message("note_off", channel=ch, note=key, velocity=0, time=off - on))
            now_tick = off
            now_s += slot_s[key]
    track.append(mido.MetaMessage("end_of_track", time=960))
    mid.save(work / "render.mid")
    wav = work / "render.wav"
    cmd = [exe, "-ni", "-q", "-R", "0", "-C", "0", "-r", str(SAMPLE_RATE), "-O", "float", "-T", "wav", "-g", "1.0",
           "-F", str(wav), spec.path, str(work / "render.mid")]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0 or not wav.is_file():
        msg = " ".join((res.stderr or res.stdout).split())[-300:]
        raise AutomixError(f"fluidsynth could not render kit '{spec.name}' (exit {res.returncode}): {msg}")
    audio, sr = sf.read(str(wav), dtype="float64", always_2d=True)
    if sr != SAMPLE_RATE:
        raise AutomixError(f"fluidsynth wrote {sr} Hz, expected {SAMPLE_RATE}")
    rendered: dict[tuple[int, int], np.ndarray] = {}
    for key, vel, start_s, length_s in starts:
        a = int(round(start_s * SAMPLE_RATE))
        seg = audio[a:a + int(round(length_s * SAMPLE_RATE))]
        rendered[(key, vel)] = _to_mono(seg)
    out: dict[int, list[tuple[int, int, float, np.ndarray]]] = {}
    bounds = [0] + [(a + b) // 2 for a, b in zip(SF2_VELOCITIES, SF2_VELOCITIES[1:])] + [127]
    for key, src in spec.keys.items():
        layers = []
        for i, vel in enumerate(SF2_VELOCITIES):
            x = _transpose(rendered[(int(src.ref), vel)], src.transpose) * 10 ** (src.gain_db / 20)
            if float(np.max(np.abs(x))) <= 1e-6:
                raise AutomixError(f"kit '{spec.name}': key {src.ref} is silent at velocity {vel} in {spec.path}")
            layers.append((bounds[i] + 1, bounds[i + 1], float(vel), _trim(x, _MAX_SECONDS[PIECE_OF_KEY[key]])))
        out[key] = layers
    return out


def _level_db(x: np.ndarray) -> float:
    """Peak of the 10 ms RMS envelope of the first 0.3 s (dB)."""
    seg = np.square(x[: int(0.3 * SAMPLE_RATE)], dtype=np.float64)
    n = int(0.01 * SAMPLE_RATE)
    if len(seg) < n:
        seg = np.pad(seg, (0, n - len(seg)))
    env = np.convolve(seg, np.ones(n) / n, mode="valid")
    return 10 * math.log10(max(float(env.max()), 1e-30))


def _calibration(layers: Mapping[int, list[tuple[int, int, float, np.ndarray]]]) -> dict[str, float]:
    """Gain (dB) per piece that brings its reference hit to :data:`PIECE_LEVEL_DB`."""
    gains = {}
    for piece, key in REFERENCE_KEY.items():
        ref = next((lay for lay in layers[key] if lay[0] <= _REFERENCE_VELOCITY <= lay[1]),
                   min(layers[key], key=lambda lay: abs(_REFERENCE_VELOCITY - lay[1])))
        level = _level_db(ref[3] * (_REFERENCE_VELOCITY / ref[2]))
        gains[piece] = round(_REFERENCE_DBFS + PIECE_LEVEL_DB[piece] - level, 3)
    return gains


def _build(spec: KitSpec, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        raw = _hydrogen_layers(spec) if spec.source == "hydrogen" else _soundfont_layers(spec, tmp)
        missing = sorted(set(GROOVE_KEYS) - set(raw))
        if missing:
            raise AutomixError(f"kit '{spec.name}' maps no sample to MIDI keys {missing}")
        gains = _calibration(raw)
        peak = max(float(np.max(np.abs(lay[3]))) * 10 ** (gains[PIECE_OF_KEY[k]] / 20)
                   for k, lays in raw.items() for lay in lays)
        storage = peak / 0.99
        entries: dict[str, list[dict]] = {}
        for key in sorted(raw):
            g = 10 ** (gains[PIECE_OF_KEY[key]] / 20) / storage
            entries[str(key)] = []
            for i, (lo, hi, ref, x) in enumerate(raw[key]):
                fname = f"k{key}_l{i}.flac"
                sf.write(str(tmp / fname), (x * g).astype(np.float32), SAMPLE_RATE, subtype="PCM_24", format="FLAC")
                entries[str(key)].append({"file": fname, "lo": lo, "hi": hi, "ref_velocity": ref,
                                          "seconds": round(len(x) / SAMPLE_RATE, 3)})
        for extra in ("render.mid", "render.wav"):
            with contextlib.suppress(OSError):
                (tmp / extra).unlink()
        info = {
            "kits_version": KITS_VERSION,
            "kit": spec.to_dict(),
            "key_map": spec.key_map(),
            "calibration_db": gains,
            "piece_level_db": PIECE_LEVEL_DB,
            "storage_scale": storage,
            "layers": entries,
        }
        (tmp / "kit.json").write_text(json.dumps(info, indent=1) + "\n")
        try:
            tmp.rename(folder)
        except OSError:  # built concurrently by another process: keep theirs
            if not (folder / "kit.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
