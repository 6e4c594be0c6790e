"""Benchmark: the differentiable console (automix.console.model) and console fitting (automix.console.fit).

Generates ``--tracks`` mono drum-like stems (the generator of tests/test_fit.py, repeated) of
``--seconds`` at ``--rate``, and times

* one forward + backward pass of the console per stage set: gain/pan only; + EQ; + the JUCE
  compressor (numpy ballistics, exact); + dasp-pytorch's compressor (FFT, approximate);
* ``fit_console`` of gain and pan (and, with ``--eq``, the EQ) to a mix made with known
  settings, reporting steps, seconds, the worst gain (dB) and pan errors and the report SNRs.

Usage: ``python bench/bench_fit.py [--seconds 5] [--tracks 6] [--rate 44100] [--steps 200] [--eq]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import test_fit

from automix.console.model import Console
from automix.console.fit import fit_console


def stems(tracks: int, seconds: float, rate: int) -> np.ndarray:
    test_fit.SR = rate
    out = []
    seed = 0
    while len(out) < tracks:
        out.extend(test_fit.drums(seconds, seed=seed))
        seed += 1
    return np.stack(out[:tracks])


def time_pass(console: Console, x: torch.Tensor) -> float:
    started = time.perf_counter()
    console(x).pow(2).mean().backward()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--rate", type=int, default=44100)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--eq", action="store_true", help="fit the EQ too")
    args = ap.parse_args()
    audio = stems(args.tracks, args.seconds, args.rate)
    x = torch.from_numpy(audio)[None]
    print(f"{args.tracks} tracks x {args.seconds:.1f} s at {args.rate} Hz, torch threads {torch.get_num_threads()}")
    configs = {
        "gain+pan": {"groups": ["gain", "pan"]},
        "+eq": {"groups": ["gain", "pan", "eq"]},
        "+comp (juce)": {"groups": ["gain", "pan", "eq", "comp"]},
        "+comp (dasp)": {"groups": ["gain", "pan", "eq", "comp"], "compressor_mode": "dasp"},
    }
    for label, cfg in configs.items():
        c = Console(args.tracks, args.rate, master_eq=False, master_compressor=False,
                    compressor_mode=cfg.get("compressor_mode", "juce"))  # fmt: skip
        c.set_trainable(cfg["groups"])
        print(f"  forward+backward {label:14s} {time_pass(c, x):7.3f} s")

    gains = np.linspace(-8, 2, args.tracks)
    pans = np.linspace(-0.7, 0.7, args.tracks)
    ref = Console(args.tracks, args.rate, compressor=False, master_eq=False, master_compressor=False)
    ref.set_values({"gain_db": gains, "pan": pans})
    with torch.no_grad():
        target = ref(x)[0].numpy()
    groups = ("gain", "pan", "eq") if args.eq else ("gain", "pan")
    result = fit_console(audio, target, args.rate, groups=groups, steps=args.steps, progress=False)
    g = np.array([t["gain_db"] for t in result.tracks])
    p = np.array([t["pan"] for t in result.tracks])
    print(result.summary().splitlines()[0])
    print(f"  worst gain error {np.abs(g - gains).max():.3f} dB, worst pan error {np.abs(p - pans).max():.4f}")
    for line in result.report.lines():
        print("  " + line)


if __name__ == "__main__":
    main()
