"""Benchmark: Mix-Wave-U-Net (paper configuration) mixing speed and memory on this machine.

Prints ratios against a baseline measured in the same run (machines here are noisy):

* baseline: a straightforward float32 forward of the paper configuration (``conv1d``,
  decimation by slicing, ``F.interpolate``, ``torch.cat``) on the paper's 88,200-sample
  output segments, written here independently of automix's core;
* automix end to end: ``automix.mix()`` from 8 WAV stems on disk to a WAV mix (reading,
  resampling checks, tiling, writing), in the default precision (bf16 where the CPU runs it
  natively) and in float32;
* bf16 error against float32 on the same input;
* peak memory (max RSS of a child process) mixing a 10-minute, 8-stem session from files,
  against the size of the stems as float32.

Usage: ``python bench/bench_mix.py [--seconds 60] [--memory-minutes 10] [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from automix.inference.mixing import mix  # noqa: E402
from automix.inference.tiling import cpu_has_fast_bf16, process  # noqa: E402
from automix.models.mixer import PAPER_CONFIG, mix_wave_unet  # noqa: E402

NAMES = ["01 Kick", "02 Snare", "03 HH", "04 Tom 1", "05 Tom 2", "06 Floor Tom", "07 OH L", "08 OH R"]
SR = 44100


def naive_forward(net, x: torch.Tensor) -> torch.Tensor:
    """The straightforward float32 Wave-U-Net forward (the baseline), reading ``net``'s weights."""
    inp = x
    skips = []
    for block in net.down:
        conv = block[0]
        x = F.leaky_relu(F.conv1d(x, conv.weight, conv.bias), 0.2)
        skips.append(x)
        x = x[:, :, ::2]
    x = F.leaky_relu(F.conv1d(x, net.bottleneck[0].weight, net.bottleneck[0].bias), 0.2)
    for block in net.up:
        conv = block[0]
        x = F.interpolate(x, size=2 * x.shape[-1] - 1, mode="linear", align_corners=True)
        skip = skips.pop()
        c = (skip.shape[-1] - x.shape[-1]) // 2
        x = torch.cat([x, skip[:, :, c : c + x.shape[-1]]], dim=1)
        x = F.leaky_relu(F.conv1d(x, conv.weight, conv.bias), 0.2)
    c = (inp.shape[-1] - x.shape[-1]) // 2
    x = torch.cat([x, inp[:, :, c : c + x.shape[-1]]], dim=1)
    return F.conv1d(x, net.output.weight, net.output.bias)


def write_stems(folder: Path, seconds: float, seed: int = 0) -> None:
    """8 mono 24-bit WAV stems of decaying noise bursts, written block by block."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    block = SR * 10
    for i, name in enumerate(NAMES):
        with sf.SoundFile(folder / f"{name}.wav", "w", SR, 1, "PCM_24") as f:
            for start in range(0, n, block):
                m = min(block, n - start)
                t = np.arange(m) / SR
                env = np.exp(-((t * (2 + i)) % 0.5) * 12)
                f.write((0.2 * env * rng.standard_normal(m)).astype(np.float32))


def time_baseline(net, seconds: float) -> float:
    """Seconds of compute per second of audio for the naive fp32 forward on 88,200-sample segments."""
    info = net.input_length_for(88_200)
    n_seg = max(1, round(seconds * SR / info.output_length))
    x = torch.randn(1, 8, info.input_length) * 0.1
    with torch.inference_mode():
        naive_forward(net, x)  # warm-up
        t0 = time.perf_counter()
        for _ in range(n_seg):
            naive_forward(net, x)
        dt = time.perf_counter() - t0
    return dt / (n_seg * info.output_length / SR)


def time_mix(stems: Path, model_path: Path, precision: str, out: Path) -> float:
    result = mix(stems, out, model=model_path, precision=precision, force=True, progress=False)
    return result.seconds / result.duration


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (VmHWM).

    Not ``getrusage().ru_maxrss``: on Linux that survives fork+exec, so a child would report
    its parent's peak at fork time.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(stems: str, model: str, out: str) -> None:
    result = mix(stems, out, model=model, force=True, progress=False)
    peak_mb = peak_rss_mb()
    print(json.dumps({"peak_mb": peak_mb, "duration": result.duration, "rtf": result.realtime_factor}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the speed test session")
    ap.add_argument("--memory-minutes", type=float, default=10.0, help="length of the memory test session (0: skip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-child", nargs=3, metavar=("STEMS", "MODEL", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(*args.memory_child)
        return

    print(f"# automix mix benchmark  {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} threads, native bf16: {cpu_has_fast_bf16()}")
    torch.manual_seed(0)
    model = mix_wave_unet(name="paper-random-init")
    assert model.net.config == PAPER_CONFIG
    print(f"model: paper configuration, {model.net.num_parameters():,} parameters (random init; speed does not depend on weights)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = model.save(tmp / "paper")
        stems = tmp / "stems"
        stems.mkdir()
        write_stems(stems, args.seconds)

        base = time_baseline(model.net, args.seconds)
        ours_auto = time_mix(stems, ckpt, "auto", tmp / "mix_auto.wav")
        ours_fp32 = time_mix(stems, ckpt, "fp32", tmp / "mix_fp32.wav")
        print()
        print(f"| path ({args.seconds:.0f} s, 8 stems, 44.1 kHz) | real-time factor (s per s) | speed-up vs baseline |")
        print("|---|---|---|")
        print(f"| baseline: naive fp32 forward, 88,200-sample segments (compute only) | {base:.4f} | 1.00x |")
        print(f"| automix mix end to end, fp32 | {ours_fp32:.4f} | {base / ours_fp32:.2f}x |")
        print(f"| automix mix end to end, default precision ({'bf16' if cpu_has_fast_bf16() else 'fp32'}) | {ours_auto:.4f} | {base / ours_auto:.2f}x |")

        # tile size: compute-only real-time factor in memory, default precision
        x60 = np.stack([sf.read(stems / f"{n}.wav", frames=int(min(args.seconds, 30) * SR), dtype="float32")[0] for n in NAMES])
        print(f"\n| output samples per tile | input samples per tile | real-time factor (compute, {min(args.seconds, 30):.0f} s) | vs baseline |")
        print("|---|---|---|---|")
        for tile in (2**16, 2**17, 2**18, 2**19):
            t0 = time.perf_counter()
            process(model.net, x60, tile=tile, precision="auto")
            rtf = (time.perf_counter() - t0) / (x60.shape[1] / SR)
            print(f"| {tile:,} | {model.net.input_length_for(tile).input_length:,} | {rtf:.4f} | {base / rtf:.2f}x |")

        # precision error on 20 s of the stems
        x = np.stack([sf.read(stems / f"{n}.wav", frames=20 * SR, dtype="float32")[0] for n in NAMES])
        y32 = process(model.net, x, precision="fp32")
        y16 = process(model.net, x, precision="bf16")
        rel = np.sqrt(np.mean((y16 - y32) ** 2) / np.mean(y32**2))
        print(f"\nbf16 vs fp32 (random-init paper model, 20 s): relative RMS error {rel:.2e} ({20 * np.log10(rel):.1f} dB), "
              f"max abs error {np.abs(y16 - y32).max():.2e} at fp32 peak {np.abs(y32).max():.2e}")
        shipped = ROOT / "automix" / "pretrained" / "drums.safetensors"
        if shipped.is_file():
            from automix.models.checkpoint import load_model

            demo = load_model(shipped)
            if demo.net.config.in_channels == 8:
                y32 = process(demo.net, x, precision="fp32")
                y16 = process(demo.net, x, precision="bf16")
                rel = np.sqrt(np.mean((y16 - y32) ** 2) / np.mean(y32**2))
                print(f"bf16 vs fp32 (shipped 'drums' model, 20 s): relative RMS error {rel:.2e} ({20 * np.log10(rel):.1f} dB)")

        if args.memory_minutes > 0:
            del x, x60, y32, y16
            long_stems = tmp / "long"
            long_stems.mkdir()
            write_stems(long_stems, args.memory_minutes * 60)
            proc = subprocess.run(
                [sys.executable, __file__, "--threads", str(args.threads), "--memory-child", str(long_stems), str(ckpt), str(tmp / "long.wav")],
                capture_output=True, text=True, check=True,
            )
            child = json.loads(proc.stdout.strip().splitlines()[-1])
            stems_mb = 8 * args.memory_minutes * 60 * SR * 4 / 2**20
            print(f"\npeak memory mixing {args.memory_minutes:.0f} min x 8 stems from files: {child['peak_mb']:.0f} MB "
                  f"(stems as float32: {stems_mb:.0f} MB; ratio {child['peak_mb'] / stems_mb:.2f}); "
                  f"real-time factor of that run {child['rtf']:.4f}")


if __name__ == "__main__":
    main()
