"""A multi-mic DrumGizmo kit built from Hydrogen's GMRockKit, and an exact renderer for it.

Finding ``drumgizmo`` and the samples is :mod:`automix.data.drumkit_packages` (re-exported here).
Details: ``docs/drumkit.md``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import mido
import numpy as np
import soundfile as sf

from automix.data.drumkit_packages import (  # the public names are re-exported
    APT_PACKAGES,
    _hydrogen_layers,
    _install_hint,
    _source_package,
    _tool_version,
    default_cache_dir,
    find_drumgizmo,
    find_gmrockkit,
)
from daw_bridge.errors import AutomixError

__all__ = [
    "APT_PACKAGES",
    "BLOCK",
    "CHANNELS",
    "CHOKE_KEY_BASE",
    "HAT_CHOKES_MS",
    "HAT_CHOKE_FADE_MS",
    "INSTRUMENTS",
    "KIT_VERSION",
    "SAMPLE_RATE",
    "Calibration",
    "InstrumentSpec",
    "Kit",
    "build_kit",
    "calibrate",
    "choke_open_hats",
    "default_cache_dir",
    "find_drumgizmo",
    "find_gmrockkit",
    "render",
]

#: Kit sample rate (GMRockKit's) and the rate everything is rendered at (Hz).
SAMPLE_RATE = 44100
#: Bump when the kit recipe below changes: the cached kit is rebuilt under a new name.
KIT_VERSION = 3
#: DrumGizmo's block size in the command-line renderer (frames; AudioOutputEngine default).
BLOCK = 1024

#: Kit output channels, in order: the ENST mic slots (same names as daw_bridge.stems.DRUM_SLOTS).
CHANNELS: tuple[str, ...] = (
    "kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "overhead_L", "overhead_R",
)

_SAMPLE_SELECTION = "close=1.0,diverse=0.0,random=0.0"  # deterministic: nearest power wins


@dataclasses.dataclass(frozen=True)
class InstrumentSpec:
    """One kit instrument: where its sound goes.

    ``pan`` is the instrument's place across the kit seen from the drummer's seat (-1 left,
    +1 right); ``oh_gain_db`` its level in the overheads relative to the recorded sample;
    ``bleed`` maps other close mics to their level (dB) for this instrument.
    """

    name: str  # DrumGizmo instrument name
    hydrogen: str  # instrument name in Hydrogen's drumkit.xml
    notes: tuple[int, ...]  # General MIDI keys that play it
    close: str | None  # close-mic channel, None for cymbals
    pan: float
    oh_gain_db: float
    bleed: tuple[tuple[str, float], ...] = ()
    cymbal: bool = False


#: The instruments (GMRockKit's, without its hand clap and second ride), their GM keys and mics.
INSTRUMENTS: tuple[InstrumentSpec, ...] = (
    InstrumentSpec("Kick", "Kick", (35, 36), "kick", 0.0, -15.0,
                   (("snare", -28.0), ("tom_3", -30.0), ("tom_2", -32.0), ("tom_1", -34.0))),
    InstrumentSpec("SideStick", "Stick", (37,), "snare", -0.2, -12.0, (("hi-hat", -20.0),)),
    InstrumentSpec("Snare", "Snare", (38,), "snare", -0.2, -10.0,
                   (("hi-hat", -16.0), ("tom_1", -22.0), ("tom_2", -26.0), ("tom_3", -28.0), ("kick", -30.0))),
    InstrumentSpec("Rimshot", "Snare Rimshot", (40,), "snare", -0.2, -10.0,
                   (("hi-hat", -16.0), ("tom_1", -22.0), ("tom_2", -26.0), ("tom_3", -28.0))),
    InstrumentSpec("TomFloor", "Floor Tom", (41, 43), "tom_3", 0.55, -11.0,
                   (("snare", -24.0), ("tom_2", -24.0))),
    InstrumentSpec("HatClosed", "Hat Closed", (42,), "hi-hat", -0.55, -9.0, (("snare", -18.0),)),
    InstrumentSpec("HatPedal", "Hat Pedal", (44,), "hi-hat", -0.55, -10.0, (("snare", -20.0),)),
    InstrumentSpec("HatOpen", "Hat Open", (46,), "hi-hat", -0.55, -8.0,
                   (("snare", -18.0), ("tom_1", -26.0))),
    InstrumentSpec("Tom2", "Tom 2", (45, 47), "tom_2", 0.15, -11.0,
                   (("snare", -24.0), ("tom_1", -22.0), ("tom_3", -24.0))),
    InstrumentSpec("Tom1", "Tom 1", (48, 50), "tom_1", -0.15, -11.0,
                   (("snare", -22.0), ("tom_2", -22.0), ("hi-hat", -26.0))),
    InstrumentSpec("Crash", "Crash", (49, 57), None, -0.5, -4.0,
                   (("hi-hat", -18.0), ("tom_1", -20.0), ("snare", -26.0)), cymbal=True),
    InstrumentSpec("Ride", "Ride", (51, 59), None, 0.65, -5.0,
                   (("tom_3", -16.0), ("tom_2", -22.0), ("snare", -28.0)), cymbal=True),
    InstrumentSpec("RideBell", "Bell", (53,), None, 0.65, -5.0,
                   (("tom_3", -16.0), ("tom_2", -22.0)), cymbal=True),
    InstrumentSpec("Splash", "Splash", (55,), None, -0.1, -5.0,
                   (("tom_1", -20.0), ("hi-hat", -22.0)), cymbal=True),
    InstrumentSpec("Cowbell", "Cowbell", (56,), None, 0.3, -8.0, (("tom_2", -22.0),), cymbal=True),
)

#: Choked open hi-hats: the pedal closes this many ms after the hit (fade of HAT_CHOKE_FADE_MS).
HAT_CHOKES_MS: tuple[int, ...] = (40, 55, 75, 100, 135, 180, 240, 320, 430, 580)
HAT_CHOKE_FADE_MS = 40.0
#: Render-only MIDI keys of the choked open hi-hats (CHOKE_KEY_BASE + index in HAT_CHOKES_MS).
CHOKE_KEY_BASE = 100
_OPEN_HAT, _CLOSING_HATS = 46, (42, 44)

# Overhead pair and room (constants of the kit recipe; changing them needs a KIT_VERSION bump)
_OH_DELAY_MS = {"drum": 3.0, "cymbal": 0.8}  # distance to the pair
_OH_SPREAD_MS = 0.45  # extra delay on the far overhead for an instrument at |pan| = 1
_OH_DRUM_HIGHPASS_HZ = 70.0
_ROOM_REFLECTIONS = {  # (delay ms, level dB) per overhead side
    "L": ((4.7, -11.0), (9.3, -13.0), (13.8, -15.0), (19.6, -17.0), (27.1, -19.0), (35.9, -22.0)),
    "R": ((5.3, -11.0), (8.6, -13.0), (14.9, -15.0), (21.2, -17.0), (25.8, -19.0), (38.4, -22.0)),
}
_ROOM_TAIL = (0.35, -27.0, 6000.0)  # RT60 s, level dB (of the first tail sample), low-pass Hz
_ROOM_SEED = 20240611
_BLEED_DELAY_MS = 1.2
_BLEED_BAND_HZ = {"default": (90.0, 7000.0), "Kick": (30.0, 2500.0)}


# --------------------------------------------------------------------------------------------
# Signal processing for the derived (overhead, bleed) samples


def _one_pole(x: np.ndarray, cutoff_hz: float, kind: str) -> np.ndarray:
    """First-order low- or high-pass (bilinear transform), float64, zero initial state."""
    k = math.tan(math.pi * cutoff_hz / SAMPLE_RATE)
    if kind == "low":
        b0 = b1 = k / (1 + k)
    else:
        b0, b1 = 1 / (1 + k), -1 / (1 + k)
    a1 = (k - 1) / (k + 1)
    y = np.empty_like(x)
    prev_x = prev_y = 0.0
    for i, xi in enumerate(x):  # only ever run on short impulses (see _fir_of)
        yi = b0 * xi + b1 * prev_x - a1 * prev_y
        y[i] = yi
        prev_x, prev_y = xi, yi
    return y


def _fir_of(kind: str, cutoff_hz: float, length: int = 4096) -> np.ndarray:
    """Impulse response (truncated) of :func:`_one_pole`, for fast FFT filtering."""
    impulse = np.zeros(length)
    impulse[0] = 1.0
    return _one_pole(impulse, cutoff_hz, kind)


def _convolve(x: np.ndarray, h: np.ndarray, length: int) -> np.ndarray:
    """``(x * h)[:length]`` by FFT, float64."""
    n = 1 << int(math.ceil(math.log2(len(x) + len(h))))
    y = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(h, n), n)
    out = np.zeros(length)
    m = min(length, n)
    out[:m] = y[:m]
    return out


@dataclasses.dataclass(frozen=True)
class _Responses:
    """Impulse responses shared by every derived sample (built once per kit build)."""

    room: dict[str, np.ndarray]  # side -> reflections + tail (no direct sound)
    drum_highpass: np.ndarray
    bleed: dict[str, np.ndarray]  # band key -> band-pass response


def _responses() -> _Responses:
    rng = np.random.default_rng(_ROOM_SEED)
    rt60, tail_db, tail_lp = _ROOM_TAIL
    tail_len = int(rt60 * SAMPLE_RATE)
    t = np.arange(tail_len) / SAMPLE_RATE
    lowpass = _fir_of("low", tail_lp, 2048)
    room = {}
    for side, taps in _ROOM_REFLECTIONS.items():
        h = np.zeros(int(0.045 * SAMPLE_RATE) + tail_len)
        for delay_ms, level_db in taps:
            h[int(round(delay_ms * SAMPLE_RATE / 1000))] += 10 ** (level_db / 20)
        start = int(0.012 * SAMPLE_RATE)  # diffuse tail builds up after the first reflections
        env = 10 ** (tail_db / 20) * np.exp(-6.91 * t / rt60) * np.minimum(1.0, t / 0.01)
        h[start:start + tail_len] += env * rng.standard_normal(tail_len)
        room[side] = _convolve(h, lowpass, len(h))
    bleed = {}
    for key, (hp, lp) in _BLEED_BAND_HZ.items():
        bleed[key] = _convolve(_fir_of("high", hp), _fir_of("low", lp), 4096)
    return _Responses(room=room, drum_highpass=_fir_of("high", _OH_DRUM_HIGHPASS_HZ), bleed=bleed)


def _pan_gains(pan: float) -> tuple[float, float]:
    theta = (pan + 1.0) * math.pi / 4.0
    return math.cos(theta), math.sin(theta)


def _derived(spec: InstrumentSpec, x: np.ndarray, resp: _Responses) -> dict[str, np.ndarray]:
    """Instrument channel name -> signal for one recorded sample ``x`` (float64 mono)."""
    out: dict[str, np.ndarray] = {}
    # overheads: (filtered) source, delayed and panned, plus the room
    src = x if spec.cymbal else _convolve(x, resp.drum_highpass, len(x))
    gain = 10 ** (spec.oh_gain_db / 20)
    base_ms = _OH_DELAY_MS["cymbal" if spec.cymbal else "drum"]
    room_len = len(resp.room["L"])
    length = len(x) + int(0.05 * SAMPLE_RATE) + room_len
    gl, gr = _pan_gains(spec.pan)
    for side, g in (("L", gl), ("R", gr)):
        far = (spec.pan > 0 and side == "L") or (spec.pan < 0 and side == "R")
        delay = int(round((base_ms + (abs(spec.pan) * _OH_SPREAD_MS if far else 0.0)) * SAMPLE_RATE / 1000))
        direct = np.zeros(length)
        direct[delay:delay + len(src)] = g * src
        room = _convolve(src, resp.room[side], length)
        room = np.concatenate([np.zeros(delay), room[: length - delay]])
        sig = gain * (direct + room)
        out[f"oh_{side.lower()}"] = _trim_tail(sig)
    # bleed into other close mics
    band = resp.bleed["Kick" if spec.name == "Kick" else "default"]
    delay = int(round(_BLEED_DELAY_MS * SAMPLE_RATE / 1000))
    for slot, level_db in spec.bleed:
        sig = np.zeros(len(x) + delay)
        sig[delay:] = 10 ** (level_db / 20) * _convolve(x, band, len(x))
        out[f"bleed_{slot}"] = _trim_tail(sig)
    return out


def _trim_tail(x: np.ndarray, floor_db: float = -100.0) -> np.ndarray:
    """Drop the end of ``x`` once it stays below ``floor_db`` dBFS."""
    above = np.nonzero(np.abs(x) > 10 ** (floor_db / 20))[0]
    return x[: above[-1] + 1] if above.size else x[:1]


# --------------------------------------------------------------------------------------------
# Kit files


@dataclasses.dataclass(frozen=True)
class Kit:
    """A built DrumGizmo kit: ``drumkit.xml`` and ``midimap.xml`` in ``path``."""

    path: Path
    info: dict

    @property
    def drumkit(self) -> Path:
        return self.path / "drumkit.xml"

    @property
    def midimap(self) -> Path:
        return self.path / "midimap.xml"

    @property
    def notes(self) -> frozenset[int]:
        """The General MIDI keys the kit plays."""
        return frozenset(n for spec in INSTRUMENTS for n in spec.notes)


def _kit_key(source: Path) -> str:
    digest = hashlib.sha256((source / "drumkit.xml").read_bytes())
    digest.update(repr((KIT_VERSION, INSTRUMENTS, _OH_DELAY_MS, _OH_SPREAD_MS, _OH_DRUM_HIGHPASS_HZ,
                        _ROOM_REFLECTIONS, _ROOM_TAIL, _ROOM_SEED, _BLEED_DELAY_MS, _BLEED_BAND_HZ,
                        HAT_CHOKES_MS, HAT_CHOKE_FADE_MS, CHOKE_KEY_BASE)).encode())
    return digest.hexdigest()[:12]


def _xml(elem: ET.Element, path: Path) -> None:
    ET.indent(elem)
    path.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(elem, encoding="utf-8") + b"\n")


def _choke(x: np.ndarray, ms: float) -> np.ndarray:
    """``x`` faded out linearly over HAT_CHOKE_FADE_MS from ``ms`` on (a hi-hat pedal closing)."""
    start = int(round(ms * SAMPLE_RATE / 1000))
    fade = int(round(HAT_CHOKE_FADE_MS * SAMPLE_RATE / 1000))
    y = x[: start + fade].copy()
    if len(y) > start:
        y[start:] *= np.linspace(1.0, 0.0, fade, endpoint=False)[: len(y) - start]
    return y


def _write_instrument(dest: Path, instruments: ET.Element, midimap: ET.Element, name: str, notes: Sequence[int],
                      spec: InstrumentSpec, recorded: list[tuple[float, dict[str, np.ndarray]]]) -> int:
    """Write one instrument (its XML and samples), reference it in the kit and the midimap;
    returns the frames written."""
    folder = dest / name
    (folder / "samples").mkdir(parents=True)
    inst_channels: list[tuple[str, str, bool]] = []  # (instrument channel, kit channel, main)
    if spec.close:
        inst_channels.append(("close", spec.close, True))
    inst_channels += [("oh_l", "overhead_L", spec.cymbal), ("oh_r", "overhead_R", spec.cymbal)]
    inst_channels += [(f"bleed_{slot}", slot, False) for slot, _ in spec.bleed]
    inst = ET.Element("instrument", {"version": "2.0", "name": name})
    ch_el = ET.SubElement(inst, "channels")
    for ch, _, main in inst_channels:
        ET.SubElement(ch_el, "channel", {"name": ch, "main": "true" if main else "false"})
    samples_el = ET.SubElement(inst, "samples")
    frames = 0
    for index, (power, signals) in enumerate(recorded, start=1):
        sample_el = ET.SubElement(samples_el, "sample", {
            "name": f"{name}-{index}", "power": f"{power:.6f}", "normalized": "true"})
        for ch, _, _ in inst_channels:
            rel = f"samples/{index}-{ch}.wav"
            sig = signals[ch].astype(np.float32)
            sf.write(str(folder / rel), sig, SAMPLE_RATE, subtype="FLOAT")
            frames += len(sig)
            ET.SubElement(sample_el, "audiofile", {"channel": ch, "file": rel, "filechannel": "1"})
    _xml(inst, folder / f"{name}.xml")
    ref = ET.SubElement(instruments, "instrument", {"name": name, "file": f"{name}/{name}.xml"})
    for ch, out, main in inst_channels:
        ET.SubElement(ref, "channelmap", {"in": ch, "out": out, "main": "true" if main else "false"})
    for note in notes:
        ET.SubElement(midimap, "map", {"note": str(note), "instr": name})
    return frames


def _write_kit(source: Path, dest: Path) -> dict:
    layers = _hydrogen_layers(source)
    resp = _responses()
    kit = ET.Element("drumkit", {"version": "2.0", "samplerate": str(SAMPLE_RATE)})
    meta = ET.SubElement(kit, "metadata")
    for tag, text in (
        ("version", f"automix-{KIT_VERSION}"),
        ("title", "GMRockKit multi-mic (automix)"),
        ("description", ("Hydrogen's GMRockKit (a sampled 5-piece Pearl DX kit) as a DrumGizmo kit with close "
                         "mics, bleed and a spaced overhead pair with room, built by automix.data.drumkit")),
        ("license", "GPL-2+ (samples: Hydrogen's GMRockKit, Debian package hydrogen-data)"),
        ("notes", "Overhead and bleed signals are derived from the close samples; see automix/data/drumkit.py"),
        ("author", "Glen MacArthur and Sebastian Moors (samples); automix developers (kit)"),
        ("email", "none"),
        ("website", "https://github.com/hydrogen-music/hydrogen"),
    ):
        ET.SubElement(meta, tag).text = text
    channels = ET.SubElement(kit, "channels")
    for name in CHANNELS:
        ET.SubElement(channels, "channel", {"name": name})
    instruments = ET.SubElement(kit, "instruments")
    midimap = ET.Element("midimap")
    total_frames = 0
    for spec in INSTRUMENTS:
        if spec.hydrogen not in layers:
            raise AutomixError(f"{source / 'drumkit.xml'} has no instrument '{spec.hydrogen}'; "
                               f"reinstall hydrogen-data ({_install_hint()})")
        recorded = []  # (power, {instrument channel: signal}) per velocity layer
        for filename, lo, hi in layers[spec.hydrogen]:
            x, sr = sf.read(str(source / filename), dtype="float64", always_2d=True)
            if sr != SAMPLE_RATE:
                raise AutomixError(f"{source / filename} is {sr} Hz, expected {SAMPLE_RATE}")
            x = x.mean(axis=1)
            signals = {"close": x} if spec.close else {}
            signals.update(_derived(spec, x, resp))
            recorded.append(((lo + hi) / 2, signals))
        total_frames += _write_instrument(dest, instruments, midimap, spec.name, spec.notes, spec, recorded)
        if spec.notes == (_OPEN_HAT,):
            for i, ms in enumerate(HAT_CHOKES_MS):
                choked = [(power, {ch: _choke(sig, ms) for ch, sig in sigs.items()}) for power, sigs in recorded]
                total_frames += _write_instrument(dest, instruments, midimap, f"{spec.name}Choke{ms}",
                                                  (CHOKE_KEY_BASE + i,), spec, choked)
    _xml(kit, dest / "drumkit.xml")
    _xml(midimap, dest / "midimap.xml")
    return {"frames": total_frames}


def build_kit(cache: Path | None = None, *, validate: bool = True) -> Kit:
    """Build (once; cached) the DrumGizmo kit over GMRockKit and return it.

    The kit lives in ``cache/drumgizmo-gmrockkit-v<KIT_VERSION>-<hash>`` (the hash covers
    Hydrogen's ``drumkit.xml`` and this module's kit recipe). It is written into a temporary
    folder and renamed, so concurrent builds are safe. With ``validate`` the new kit is checked
    with ``dgvalidator`` when that tool is installed.
    """
    cache = cache or default_cache_dir()
    source = find_gmrockkit(cache)
    path = cache / f"drumgizmo-gmrockkit-v{KIT_VERSION}-{_kit_key(source)}"
    info_file = path / "kit.json"
    if info_file.is_file():
        return Kit(path, json.loads(info_file.read_text()))
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=cache))
    try:
        stats = _write_kit(source, tmp)
        validator = shutil.which("dgvalidator")
        validated = False
        if validate and validator:
            res = subprocess.run([validator, "-p", str(tmp / "drumkit.xml")], capture_output=True, text=True, check=False)
            if res.returncode != 0:
                msg = " ".join((res.stdout + res.stderr).split())[-400:]
                raise AutomixError(f"dgvalidator rejected the generated kit: {msg}")
            validated = True
        info = {
            "kit_version": KIT_VERSION,
            "key": path.name.rsplit("-", 1)[-1],
            "source": str(source),
            "source_package": _source_package(source),
            "source_drumkit_sha256": hashlib.sha256((source / "drumkit.xml").read_bytes()).hexdigest(),
            "instruments": [spec.name for spec in INSTRUMENTS],
            "open_hat_chokes_ms": list(HAT_CHOKES_MS),
            "channels": list(CHANNELS),
            "audio_seconds": round(stats["frames"] / SAMPLE_RATE, 1),
            "dgvalidator": validated,
        }
        (tmp / "kit.json").write_text(json.dumps(info, indent=2) + "\n")
        try:
            tmp.rename(path)
        except OSError:  # built concurrently by another process: keep theirs
            if not info_file.is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return Kit(path, json.loads(info_file.read_text()))


# --------------------------------------------------------------------------------------------
# Rendering


@dataclasses.dataclass(frozen=True)
class Calibration:
    """How this ``drumgizmo`` places MIDI-file notes (see the module docstring).

    ``latency``: frames the wavfile output drops at the start. ``block_bug``: whether a note
    read in the block starting at ``pos`` sounds at ``pos + E`` (True, DrumGizmo 0.9.20) or at
    ``E`` (False).
    """

    drumgizmo: str
    version: str
    latency: int
    block_bug: bool


_CALIBRATIONS: dict[str, Calibration] = {}

# The render MIDI: one tick = half a frame, so a note can sit mid-frame (E = Eint + 0.5) and
# never on a rounding edge of DrumGizmo's "time < block end" test.
_TICKS_PER_BEAT = 441
_TEMPO_US = 5000  # 441 ticks per 5 ms -> 88200 ticks per second at SAMPLE_RATE 44100


def _write_render_midi(path: Path, events: Sequence[tuple[int, int, int]]) -> None:
    """A MIDI file DrumGizmo reads as note-ons at frame positions ``E + 0.5`` (events: (E, key, velocity))."""
    mid = mido.MidiFile(type=0, ticks_per_beat=_TICKS_PER_BEAT)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=_TEMPO_US, time=0))
    now = 0
    for frame, key, velocity in sorted(events):
        tick = 2 * frame + 1
        track.append(mido.Message("note_on", channel=9, note=key, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=1))
    mid.save(path)


def _midi_frame(target: int, cal: Calibration, shift: int) -> int | None:
    """The MIDI frame E that makes a note sound at output frame ``target`` in a run whose output
    is read from frame ``shift`` on; None if that run cannot place it."""
    q = target + cal.latency + shift
    if not cal.block_bug:
        return q
    if q <= 0:
        return 0 if q == 0 else None
    k = (q - 1) // (2 * BLOCK)  # reachable: q in [2kB + 1, 2kB + B], from E = q - kB
    return q - k * BLOCK if q - 2 * k * BLOCK <= BLOCK else None


def _run_drumgizmo(exe: str, kit_xml: Path, midimap: Path, midi: Path, prefix: Path) -> None:
    cmd = [exe, "-i", "midifile", "-I", f"file={midi},midimap={midimap},speed=1.0",
           "-o", "wavfile", "-O", f"file={prefix},srate={SAMPLE_RATE}", "-p", _SAMPLE_SELECTION, str(kit_xml)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        msg = " ".join((res.stderr or res.stdout).split())[-400:]
        raise AutomixError(f"drumgizmo failed (exit {res.returncode}): {msg}")


def _read_outputs(prefix: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    out = {}
    for i, name in enumerate(names):
        path = Path(f"{prefix}{name}-{i}.wav")
        if not path.is_file():
            raise AutomixError(f"drumgizmo wrote no {path.name}; check the kit in {prefix.parent}")
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        if sr != SAMPLE_RATE:
            raise AutomixError(f"drumgizmo wrote {sr} Hz, expected {SAMPLE_RATE}")
        out[name] = data[:, 0]
    return out


def calibrate(drumgizmo: str | None = None) -> Calibration:
    """Measure how ``drumgizmo`` places notes (once per process and executable).

    Renders clicks with a one-instrument kit whose sample is a unit impulse, finds the frames
    they land on, and checks both placement models. Raises :class:`AutomixError` if neither
    explains the result.
    """
    exe = drumgizmo or find_drumgizmo()
    if exe in _CALIBRATIONS:
        return _CALIBRATIONS[exe]
    with tempfile.TemporaryDirectory(prefix="automix-dgcal-") as tmp:
        work = Path(tmp)
        (work / "click" / "samples").mkdir(parents=True)
        click = np.zeros(64, dtype=np.float32)
        click[0] = 1.0
        sf.write(str(work / "click" / "samples" / "click.wav"), click, SAMPLE_RATE, subtype="FLOAT")
        inst = ET.Element("instrument", {"version": "2.0", "name": "Click"})
        ET.SubElement(ET.SubElement(inst, "channels"), "channel", {"name": "c", "main": "true"})
        smp = ET.SubElement(ET.SubElement(inst, "samples"), "sample", {"name": "click", "power": "1"})
        ET.SubElement(smp, "audiofile", {"channel": "c", "file": "samples/click.wav", "filechannel": "1"})
        _xml(inst, work / "click" / "Click.xml")
        kit = ET.Element("drumkit", {"version": "2.0", "samplerate": str(SAMPLE_RATE)})
        ET.SubElement(ET.SubElement(kit, "channels"), "channel", {"name": "click"})
        ref = ET.SubElement(ET.SubElement(kit, "instruments"), "instrument", {"name": "Click", "file": "click/Click.xml"})
        ET.SubElement(ref, "channelmap", {"in": "c", "out": "click", "main": "true"})
        _xml(kit, work / "drumkit.xml")
        mm = ET.Element("midimap")
        ET.SubElement(mm, "map", {"note": "36", "instr": "Click"})
        _xml(mm, work / "midimap.xml")
        frames = (5000, 5000 + 3 * BLOCK + 17)
        _write_render_midi(work / "cal.mid", [(f, 36, 127) for f in frames])
        _run_drumgizmo(exe, work / "drumkit.xml", work / "midimap.xml", work / "cal.mid", work / "out_")
        got = np.nonzero(_read_outputs(work / "out_", ["click"])["click"] > 0.5)[0]
    if len(got) != len(frames):
        raise AutomixError(f"drumgizmo calibration failed: {len(got)} of {len(frames)} clicks rendered")

    def block_start(e: int) -> int:  # E + 0.5 is read in the block at pos with pos + 1 <= E + 0.5 < pos + 1 + B
        return BLOCK * ((e - 1) // BLOCK) if e >= 1 else 0

    version = _tool_version(exe)
    for bug in (True, False):
        placed = [f + (block_start(f) if bug else 0) for f in frames]
        latency = placed[0] - int(got[0])
        if all(p - latency == g for p, g in zip(placed, got)) and 0 <= latency < 8 * BLOCK:
            cal = Calibration(exe, version, latency, bug)
            _CALIBRATIONS[exe] = cal
            return cal
    raise AutomixError(f"{version} places MIDI notes in a way automix does not understand "
                       f"(clicks for frames {list(frames)} landed at {got.tolist()}); use DrumGizmo 0.9.20")


def choke_open_hats(events: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Events with every open hi-hat (key 46) that a closed or pedal hi-hat (42, 44) follows
    replaced by the choked variant closing closest before that hit (render-only keys from
    :data:`CHOKE_KEY_BASE`; the shortest one if the next hit comes sooner). Open hi-hats with
    no closing hit within the longest choke stay as they are."""
    closing = sorted(f for f, key, _ in events if key in _CLOSING_HATS)
    out = []
    for frame, key, velocity in events:
        if key == _OPEN_HAT:
            nxt = next((f for f in closing if f > frame), None)
            gap_ms = math.inf if nxt is None else (nxt - frame) * 1000 / SAMPLE_RATE
            if gap_ms <= HAT_CHOKES_MS[-1] + HAT_CHOKE_FADE_MS:
                fits = [i for i, ms in enumerate(HAT_CHOKES_MS) if ms <= gap_ms]
                key = CHOKE_KEY_BASE + (fits[-1] if fits else 0)
        out.append((frame, key, velocity))
    return out


def render(kit: Kit, events: Sequence[tuple[int, int, int]], length: int, *,
           drumgizmo: str | None = None, workdir: Path | None = None,
           choke_hats: bool = True) -> dict[str, np.ndarray]:
    """Render note events with DrumGizmo: channel name -> float32 mono stem of ``length`` frames.

    ``events`` are ``(frame, General MIDI key, velocity 1..127)``; each sounds exactly at its
    frame (see the module docstring for how DrumGizmo's placement errors are undone). Keys the
    kit does not play raise ``ValueError``. Output is cut or zero-padded to ``length``. With
    ``choke_hats``, closed and pedal hi-hats cut open ones (:func:`choke_open_hats`).
    """
    exe = drumgizmo or find_drumgizmo()
    cal = calibrate(exe)
    unknown = sorted({key for _, key, _ in events} - kit.notes)
    if unknown:
        raise ValueError(f"the kit plays no MIDI keys {unknown}")
    if choke_hats:
        events = choke_open_hats(events)
    shifts = (0, BLOCK) if cal.block_bug else (0,)
    passes: list[list[tuple[int, int, int]]] = [[] for _ in shifts]
    for frame, key, velocity in events:
        if frame < 0 or not 1 <= velocity <= 127:
            raise ValueError(f"bad event {(frame, key, velocity)}: frames must be >= 0, velocities 1..127")
        for i, shift in enumerate(shifts):
            e = _midi_frame(int(frame), cal, shift)
            if e is not None:
                passes[i].append((e, int(key), int(velocity)))
                break
        else:  # cannot happen: the two runs cover every frame
            raise AssertionError(f"frame {frame} unreachable")
    stems = {name: np.zeros(length, dtype=np.float64) for name in CHANNELS}
    with tempfile.TemporaryDirectory(prefix="automix-dg-", dir=workdir) as tmp:
        work = Path(tmp)
        procs = []
        for i, notes in enumerate(passes):
            if not notes:
                continue
            midi = work / f"pass{i}.mid"
            _write_render_midi(midi, notes)
            cmd = [exe, "-i", "midifile", "-I", f"file={midi},midimap={kit.midimap},speed=1.0",
                   "-o", "wavfile", "-O", f"file={work / f'p{i}_'},srate={SAMPLE_RATE}",
                   "-p", _SAMPLE_SELECTION, str(kit.drumkit)]
            procs.append((i, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
        for i, proc in procs:  # the runs are independent processes: run them side by side
            out, err = proc.communicate()
            if proc.returncode != 0:
                msg = " ".join((err or out).split())[-400:]
                raise AutomixError(f"drumgizmo failed (exit {proc.returncode}): {msg}")
        for i, _ in procs:
            shift = shifts[i]
            for name, x in _read_outputs(work / f"p{i}_", CHANNELS).items():
                x = x[shift: shift + length]
                stems[name][: len(x)] += x
    return {name: x.astype(np.float32) for name, x in stems.items()}
