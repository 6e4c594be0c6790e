"""Benchmark: how fast each mixer mixes on this machine (x real time), end to end through ``automix.mix``.

Stems: the shipped example take (``automix/examples/drums``, 8 mono drum mics) looped to
``--seconds`` and written as 24-bit WAVs. Each mixer mixes them from the files into a 24-bit
WAV at -23 LUFS through the one mix flow (:func:`automix.mix`): reading, matching, the mixer,
loudness and true peak, the write. Baseline measured in the same run (machines here are noisy):
the plain sum of the same files, read, summed to both channels and written with soundfile.
Each timing is the median of ``--repeats`` runs; x real time = audio seconds / wall seconds;
"vs sum" = the mixer's time over the baseline's.

Usage: ``python bench/bench_mixers.py [--seconds 60] [--repeats 3] [--mixer drums --mixer rules ...]``
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

import automix  # noqa: E402
from automix.models import pretrained  # noqa: E402

EXAMPLE = ROOT / "automix" / "examples" / "drums"


def write_stems(folder: Path, seconds: float) -> int:
    """The example's stems looped to ``seconds``, as 24-bit WAVs in ``folder``; returns the frames."""
    frames = 0
    for path in sorted(EXAMPLE.glob("*.flac")):
        audio, rate = sf.read(str(path), dtype="float32")
        n = int(seconds * rate)
        looped = np.resize(audio, n)
        sf.write(str(folder / f"{path.stem}.wav"), looped, rate, subtype="PCM_24")
        frames = n
    return frames


def plain_sum(folder: Path, out: Path) -> None:
    """Read every stem, sum to both channels, write: the baseline."""
    total = None
    for path in sorted(folder.glob("*.wav")):
        audio, rate = sf.read(str(path), dtype="float32")
        total = audio if total is None else total + audio
    sf.write(str(out), np.stack([total, total], axis=1), rate, subtype="PCM_24")


def cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mixer", action="append", default=None, help="model name, path or 'rules' (default: every installed mixer and rules)")
    args = ap.parse_args()
    mixers = args.mixer or [n for n, c in pretrained.list_models().items() if c.task == "mix"] + ["rules"]
    print(f"{cpu_name()}, {os.cpu_count()} cores; {args.seconds:.0f} s of 8 drum stems; "
          f"median of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "stems").mkdir()
        frames = write_stems(tmp / "stems", args.seconds)
        audio_s = frames / 44100
        base = median_seconds(lambda: plain_sum(tmp / "stems", tmp / "sum.wav"), args.repeats)
        print(f"{'plain sum (baseline)':34s} {audio_s / base:9.1f} x real time")
        for name in mixers:
            run = lambda: automix.mix(tmp / "stems", tmp / "mix.wav", model=name, loudness=-23.0, force=True, progress=False)  # noqa: E731
            run()  # load once (weights, plugins) before timing
            sec = median_seconds(run, args.repeats)
            print(f"{name:34s} {audio_s / sec:9.1f} x real time   {sec / base:7.1f} x the sum's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
