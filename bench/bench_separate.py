"""Benchmark: separation Wave-U-Net speed on the CPU against the same-size mixer.

Both models are built on automix's one Wave-U-Net core with the same size (levels, filters,
kernels); they differ only in their input and output channels (separator: a mono or stereo
mix in, K sources out; mixer: 8 stems in, stereo out). Measured in the same run, one after
the other, so the ratios hold on a noisy machine:

* ``automix.inference.separation.separate()`` end to end, from a WAV mix on disk to K WAV files (reading, loudness,
  tiling, writing), against ``automix.mix()`` from 8 WAV stems to a stereo WAV, same size,
  same length, same precision;
* the bare forward passes (``automix.inference.tiling.process`` on arrays), to separate I/O from compute.

Weights are random (speed does not depend on them). Usage:
``python bench/bench_separate.py [--size small] [--seconds 30] [--threads 2] [--precision auto]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from automix.inference.mixing import mix  # noqa: E402
from automix.inference.tiling import cpu_has_fast_bf16, process  # noqa: E402
from automix.models.mixer import mix_wave_unet  # noqa: E402
from automix.inference.separation import separate  # noqa: E402
from automix.models.separator import SEPARATOR_SIZES, separation_wave_unet  # noqa: E402

SR = 44100
NAMES = ["01 Kick", "02 Snare", "03 HH", "04 Tom 1", "05 Tom 2", "06 Floor Tom", "07 OH L", "08 OH R"]


def noise_bursts(channels: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = np.exp(-((t * 3) % 0.5) * 12)
    return (0.2 * env * rng.standard_normal((channels, n))).astype(np.float32)


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="small", choices=list(SEPARATOR_SIZES))
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--mix-channels", type=int, default=1, choices=[1, 2], help="separator input channels")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs per path")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    print(f"# automix separate benchmark  {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} threads, native bf16: {cpu_has_fast_bf16()}, precision {args.precision}")
    torch.manual_seed(0)
    size = SEPARATOR_SIZES[args.size]
    sep = separation_wave_unet(size=args.size, mix_channels=args.mix_channels, name="sep-random")
    mixer = mix_wave_unet(name="mix-random", **size)
    assert {k: getattr(sep.net.config, k) for k in size} == {k: getattr(mixer.net.config, k) for k in size}
    print(f"size '{args.size}' {size}: separator {sep.net.config.in_channels} -> {sep.net.config.out_channels} channels, "
          f"{sep.net.num_parameters():,} weights; mixer 8 -> 2 channels, {mixer.net.num_parameters():,} weights")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sep_ckpt, mix_ckpt = sep.save(tmp / "sep"), mixer.save(tmp / "mix")
        mix_file = tmp / "drums.wav"
        sf.write(mix_file, noise_bursts(args.mix_channels, args.seconds, 1).T, SR, subtype="PCM_24")
        stems = tmp / "stems"
        stems.mkdir()
        stem_audio = noise_bursts(8, args.seconds, 2)
        for name, audio in zip(NAMES, stem_audio):
            sf.write(stems / f"{name}.wav", audio, SR, subtype="PCM_24")

        def run_sep():
            separate(mix_file, tmp / "out", sep_ckpt, force=True, precision=args.precision, progress=False)

        def run_mix():
            mix(stems, tmp / "mix.wav", model=mix_ckpt, force=True, precision=args.precision, progress=False)

        run_sep(), run_mix()  # warm-up (imports, oneDNN kernels)
        sep_e2e = best_of(args.repeats, run_sep) / args.seconds
        mix_e2e = best_of(args.repeats, run_mix) / args.seconds
        sep_in = noise_bursts(args.mix_channels, args.seconds, 1)
        sep_fwd = best_of(args.repeats, lambda: process(sep.net, sep_in, precision=args.precision)) / args.seconds
        mix_fwd = best_of(args.repeats, lambda: process(mixer.net, stem_audio, precision=args.precision)) / args.seconds

    print()
    print(f"| path ({args.seconds:.0f} s at 44.1 kHz, size {args.size}) | separator RTF (s per s) | mixer RTF (s per s) | separator / mixer |")
    print("|---|---:|---:|---:|")
    print(f"| end to end (files in, files out) | {sep_e2e:.4f} | {mix_e2e:.4f} | {sep_e2e / mix_e2e:.2f} |")
    print(f"| forward passes only (arrays) | {sep_fwd:.4f} | {mix_fwd:.4f} | {sep_fwd / mix_fwd:.2f} |")
    print()
    print(f"separator: {1 / sep_e2e:.1f}x faster than real time end to end; mixer: {1 / mix_e2e:.1f}x")


if __name__ == "__main__":
    main()
