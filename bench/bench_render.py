"""Benchmark: rendering a mix plan with pedalboard (daw_bridge.render), serial and threaded.

Builds a session of ``--tracks`` stems (default 16, 3 minutes, 44.1 kHz, 24-bit WAV; mostly
mono, every fourth one stereo; decaying noise bursts shaped like drums and tones with
vibrato shaped like instruments), each with three built-in effects (HighpassFilter,
Compressor, PeakFilter), a master chain (Compressor, Limiter) and a loudness target
(-14 LUFS, -1 dBTP), so the render takes both passes. Prints ratios against a baseline
measured in the same run (machines here are noisy):

* baseline: the same DSP done the plain way, compute only: every track's chain run by
  pedalboard on the whole track in memory (the files read beforehand, not timed), gain and
  pan, the sum, the master chain; no metering, no files written;
* ``render(..., threads=1)``: end to end from the WAV stems to the normalised 24-bit WAV mix
  (reading, resampling checks, chains, sum, master, loudness and true-peak metering, the
  temporary float pass and the final write), in the calling thread;
* ``render(..., threads=N)``: the same with N worker threads (default 2).

Each timing is the median of ``--repeats`` runs; x real time = audio seconds / wall seconds.

Usage: ``python bench/bench_render.py [--seconds 180] [--tracks 16] [--repeats 3] [--threads 2]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pedalboard  # noqa: E402

from daw_bridge.render import balance_gains, render  # noqa: E402
from daw_bridge.session import PluginSpec, Session, Track  # noqa: E402
from daw_bridge.panlaw import db_to_gain, pan_gains

SR = 44100


def write_stem(path: Path, seconds: float, index: int, channels: int) -> None:
    """A 24-bit WAV stem written block by block: drum-like bursts (even index) or a tone (odd)."""
    rng = np.random.default_rng(index)
    n = int(seconds * SR)
    block = SR * 10
    period = 0.25 + 0.125 * (index % 4)
    freq = 55.0 * 2 ** ((index * 5 % 24) / 12)
    with sf.SoundFile(str(path), "w", SR, channels, "PCM_24") as f:
        for start in range(0, n, block):
            m = min(block, n - start)
            t = (start + np.arange(m)) / SR
            if index % 2 == 0:
                env = np.exp(-(t % period) * (8 + index))
                sig = 0.3 * env * rng.standard_normal((channels, m))
            else:
                vibrato = 0.003 * np.sin(2 * np.pi * 5.0 * t)
                sig = 0.2 * np.sin(2 * np.pi * freq * t * (1 + vibrato))[np.newaxis, :].repeat(channels, 0)
                sig = sig + 0.01 * rng.standard_normal((channels, m))
            f.write(sig.T.astype(np.float32))


def track_chain(index: int) -> list[PluginSpec]:
    compressor = {"threshold_db": -18.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 100.0}
    peak = {"cutoff_frequency_hz": 200.0 * (1 + index % 8), "gain_db": 2.0, "q": 1.0}
    return [
        PluginSpec(kind="builtin", name="HighpassFilter", params={"cutoff_frequency_hz": 30.0 + 10 * index}),
        PluginSpec(kind="builtin", name="Compressor", params=compressor),
        PluginSpec(kind="builtin", name="PeakFilter", params=peak),
    ]


MASTER = [
    PluginSpec(kind="builtin", name="Compressor", params={"threshold_db": -10.0, "ratio": 2.0}),
    PluginSpec(kind="builtin", name="Limiter", params={"threshold_db": -2.0}),
]


def build_session(folder: Path, seconds: float, tracks: int) -> Session:
    out = []
    for i in range(tracks):
        channels = 2 if i % 4 == 3 else 1
        path = folder / f"{i + 1:02d}.wav"
        write_stem(path, seconds, i, channels)
        pan = ((i * 7) % 11 - 5) / 6.0
        out.append(Track(name=f"track{i + 1:02d}", file=path, gain_db=-3.0 - (i % 5), pan=pan, plugins=track_chain(i)))
    return Session(name="bench", sample_rate=SR, tracks=out, master=MASTER, target_lufs=-14.0, true_peak_db=-1.0)


def baseline(session: Session) -> float:
    """Seconds for the plain in-memory version of the same DSP (files read before timing)."""
    stems = [sf.read(str(t.file), dtype="float32", always_2d=True)[0].T.copy() for t in session.tracks]
    t0 = time.perf_counter()
    mix = None
    for track, audio in zip(session.tracks, stems):
        board = pedalboard.Pedalboard([getattr(pedalboard, p.name)(**p.params) for p in track.plugins])
        y = board.process(audio, SR)
        left, right = balance_gains(track.pan) if audio.shape[0] == 2 else pan_gains(track.pan)
        g = db_to_gain(track.gain_db)
        out = y * np.array([[g * left], [g * right]], dtype=np.float32)
        mix = out if mix is None else mix + out
    master = pedalboard.Pedalboard([getattr(pedalboard, p.name)(**p.params) for p in session.master])
    master.process(mix, SR)
    return time.perf_counter() - t0


def time_render(session: Session, out: Path, threads: int, block_frames: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    result = render(session, out, overwrite=True, threads=threads, block_frames=block_frames, tail_s="auto")
    return time.perf_counter() - t0, result.duration_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=180.0, help="length of the session (s)")
    ap.add_argument("--tracks", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3, help="runs per timing; the median is printed")
    ap.add_argument("--threads", type=int, default=2, help="worker threads for the threaded render")
    ap.add_argument("--block-frames", type=int, default=65536)
    args = ap.parse_args()

    print(f"# automix render benchmark  {time.strftime('%Y-%m-%d %H:%M')}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"pedalboard {pedalboard.__version__}, python {platform.python_version()}"
    )
    print(
        f"session: {args.tracks} tracks x {args.seconds:.0f} s at {SR} Hz (24-bit WAV), 3 built-in effects per track "
        f"(HighpassFilter, Compressor, PeakFilter), master Compressor + Limiter, -14 LUFS / -1 dBTP; "
        f"block {args.block_frames} frames; median of {args.repeats}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        session = build_session(tmp, args.seconds, args.tracks)
        render(session, tmp / "warmup.wav", threads=1)  # imports, first plugin instances
        base = statistics.median(baseline(session) for _ in range(args.repeats))
        serial = [time_render(session, tmp / "serial.wav", 1, args.block_frames) for _ in range(args.repeats)]
        threaded = [
            time_render(session, tmp / "threaded.wav", args.threads, args.block_frames) for _ in range(args.repeats)
        ]
        duration = serial[0][1]
        t1 = statistics.median(s for s, _ in serial)
        tn = statistics.median(s for s, _ in threaded)
        same = np.array_equal(sf.read(str(tmp / "serial.wav"))[0], sf.read(str(tmp / "threaded.wav"))[0])
    print()
    print(f"| path ({args.tracks} tracks, {duration:.1f} s of output) | seconds | x real time | vs baseline |")
    print("|---|---|---|---|")
    rows = [
        ("baseline: pedalboard on whole tracks in memory, serial (compute only)", base, args.seconds / base, 1.0),
        ("render, threads=1, end to end (files in, normalised WAV out)", t1, duration / t1, base / t1),
    ]
    for name, seconds, realtime, ratio in rows:
        print(f"| {name} | {seconds:.3f} | {realtime:.0f}x | {ratio:.2f}x |")
    print(f"| render, threads={args.threads}, end to end | {tn:.3f} | {duration / tn:.0f}x | {base / tn:.2f}x |")
    print(f"\nthreaded/serial speed-up: {t1 / tn:.2f}x; serial and threaded files identical: {same}")


if __name__ == "__main__":
    main()
