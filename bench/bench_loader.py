"""Benchmark: ENST-drums loader training throughput, with and without the loudness cache.

Builds a synthetic ENST-drums tree (3 drummers, PCM_16 mono stems and stereo mixes at
44.1 kHz, like the real data) in a temporary folder and prints training segments per second
for the paper's segment sizes (121,843 input / 89,093 output samples), as ratios against a
baseline measured in the same run (machines here are noisy):

* baseline, no loudness cache: a loader that, for every segment, reads the take's files and
  measures their loudness (pyloudnorm) before cutting and normalising the segment;
* automix ``EnstDrums`` with its loudness index (measured once at construction), reading
  each segment's windows from disk (soundfile seek);
* the same with ``cache_audio=True`` (takes decoded once, kept in memory).

Also prints dataset construction time with a cold index (every file measured) and a warm
one (the index file reused).

Usage: ``python bench/bench_loader.py [--takes-per-drummer 4] [--seconds 30] [--segments 40]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daw_bridge.audio import read_audio  # noqa: E402
from daw_bridge.loudness import measure_loudness
from automix.data.enst import MIX_LUFS, SLOTS, STEM_LUFS, EnstDrums, scan_enst  # noqa: E402
from automix.data.segments import gain_db_for, segment_sizes, slice_padded  # noqa: E402
from automix.models.mixer import PAPER_CONFIG  # noqa: E402
from automix.models.unet import WaveUNet  # noqa: E402

SR = 44100


def build_tree(root: Path, takes_per_drummer: int, seconds: float, seed: int = 0) -> None:
    """Decaying tone + noise hits per stem; the mixes are panned sums."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    for drummer in (1, 2, 3):
        slots = [s for s in SLOTS if s != "tom_3" or drummer == 3]
        for k in range(takes_per_drummer):
            name = f"{10 + k:03d}_phrase_rock_simple_slow_sticks"
            mix = np.zeros((2, n), np.float32)
            for j, slot in enumerate(slots):
                sig = np.zeros(n, np.float32)
                period = rng.uniform(0.2, 1.0)
                for t0 in np.arange(rng.uniform(0, period), seconds, period):
                    i = int(t0 * SR)
                    m = min(n - i, int(0.3 * SR))
                    tt = np.arange(m) / SR
                    sig[i : i + m] += 0.2 * np.exp(-tt * 12) * (np.sin(2 * np.pi * (60 + 300 * j) * tt) + 0.3 * rng.standard_normal(m))
                pan = j / (len(slots) - 1)
                mix += np.stack([(1 - pan) * sig, pan * sig])
                folder = root / f"drummer_{drummer}" / "audio" / slot
                folder.mkdir(parents=True, exist_ok=True)
                sf.write(folder / f"{name}.wav", sig, SR, subtype="PCM_16")
            for folder_name, gain in (("dry_mix", 0.5), ("wet_mix", 0.4)):
                folder = root / f"drummer_{drummer}" / "audio" / folder_name
                folder.mkdir(parents=True, exist_ok=True)
                sf.write(folder / f"{name}.wav", (gain * mix).T, SR, subtype="PCM_16")


class NoCacheBaseline:
    """Training segments the plain way: every item reads and measures its take's files."""

    def __init__(self, root: Path, input_length: int, output_length: int, seed: int = 0):
        self.takes = scan_enst(root)
        self.input_length, self.output_length = input_length, output_length
        self.context = (input_length - output_length) // 2
        self.rng = np.random.default_rng(seed)

    def item(self) -> dict:
        take = self.takes[int(self.rng.integers(len(self.takes)))]
        mix, _ = read_audio(take.wet_mix)
        offset = int(self.rng.integers(max(mix.shape[1] - self.output_length, 0) + 1))
        mix_gain = 10 ** (gain_db_for(measure_loudness(mix, SR), MIX_LUFS, 30.0) / 20)
        stems = np.zeros((len(SLOTS), self.input_length), np.float32)
        for i, path in enumerate(take.stems):
            if path is not None:
                audio, _ = read_audio(path)
                gain = 10 ** (gain_db_for(measure_loudness(audio, SR), STEM_LUFS, 30.0) / 20)
                stems[i] = gain * slice_padded(audio, offset - self.context, self.input_length)[0]
        return {"stems": stems, "mix": mix_gain * slice_padded(mix, offset, self.output_length)}


def rate(fn, count: int) -> float:
    fn()  # warm-up (imports, page cache)
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--takes-per-drummer", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each take")
    parser.add_argument("--segments", type=int, default=40, help="segments timed per loader")
    args = parser.parse_args()

    sizes = segment_sizes(WaveUNet(PAPER_CONFIG), output_length=88200)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "enst"
        build_tree(root, args.takes_per_drummer, args.seconds)
        index = Path(tmp) / "loudness.json"
        common = dict(input_length=sizes.input_length, output_length=sizes.output_length, index_path=index)

        t0 = time.perf_counter()
        EnstDrums(root, **common)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        seek = EnstDrums(root, **common)
        warm = time.perf_counter() - t0
        cached = EnstDrums(root, **common, cache_audio=True)
        cached.preload()

        baseline = NoCacheBaseline(root, sizes.input_length, sizes.output_length)
        counter = iter(range(10**9))
        results = {
            "baseline (no loudness cache)": rate(baseline.item, args.segments),
            "EnstDrums, loudness index, seek reads": rate(lambda: seek[next(counter) % len(seek)], args.segments),
            "EnstDrums, loudness index, cache_audio": rate(lambda: cached[next(counter) % len(cached)], args.segments),
        }

    base = results["baseline (no loudness cache)"]
    print(f"takes: {3 * args.takes_per_drummer} x {args.seconds:g} s; segments: {sizes.input_length} in / "
          f"{sizes.output_length} out samples")
    for name, value in results.items():
        print(f"{name:42s} {value:8.1f} segments/s   x{value / base:6.1f}")
    print(f"construction: cold index {cold:.2f} s, warm index {warm:.3f} s (x{cold / max(warm, 1e-9):.0f})")
    print(json.dumps({"segments_per_s": results, "construction_s": {"cold": cold, "warm": warm}}))


if __name__ == "__main__":
    main()
