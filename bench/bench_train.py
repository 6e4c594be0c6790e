"""Benchmark: training throughput (segments and seconds of audio per second) on CPU or a GPU.

Times full training steps through automix's own training code: a
:class:`automix.train.trainer.Trainer` builds the model, the data (generated drum takes in the ENST
layout), the loss, Adam, the schedule and the gradient scaler, and its ``DataLoader``
(``StepSampler`` over ``NumberedSegments``) feeds the steps. Each timed step is what
``Trainer._loop`` does: next batch, ``zero_grad``, ``forward_loss`` (autocast), the finite-loss
check, backward (through the gradient scaler), gradient clipping, the Adam step and the
schedule step. Warm-up steps (allocator, oneDNN/cuDNN kernel selection) are not timed; the
rate is the batch over the median step time (robust to bursts of load from other processes).

Prints ratios against a baseline measured in the same run (machines here are noisy): each
model's fp32 row is the baseline of that model's other precisions; the loss rows (small
model, bf16) are against the same model with the L1 loss. Configurations:

* small: recipe ``mix-small-cpu`` (preset ``mix-wave-u-net-small``, batch 8, 0.5 s segments);
* paper: recipe ``mix-wave-u-net-paper`` (the paper's model, 6.2 M weights, 2 s segments) with
  the batch cut to ``--paper-batch`` (default 4 on the CPU, the paper's 16 on a GPU);
* precisions fp32 (baseline) and bf16 autocast on the CPU; fp32, bf16 and fp16 (with the
  gradient scaler) on CUDA;
* losses l1, stereo_perceptual and mrstft on the small model in bf16.

Every configuration runs in a fresh child process so its peak resident memory (VmHWM) is its
own; on CUDA the peak allocated GPU memory is printed too. ``--repeats N`` runs the whole list
N times, interleaved, and keeps the median rate per configuration.

Data: 4 takes of 10 s generated with DrumGizmo into a temporary folder (``--data DIR`` to
reuse a corpus); ``AUTOMIX_CACHE`` points to a temporary folder unless it is set.

Usage: ``python bench/bench_train.py [--steps 12] [--warmup 3] [--device cpu|cuda] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: model -> training recipe (presets/train); the recipe names the model preset
RECIPES = {"small": "mix-small-cpu", "paper": "mix-wave-u-net-paper"}


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss as a fallback)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------------
# one configuration (child process)


def run_config(cfg: dict) -> dict:
    """Time ``cfg['warmup'] + cfg['steps']`` training steps of one configuration."""
    import math

    import torch

    from automix.train.recipe import load_recipe
    from automix.train.trainer import Trainer

    if cfg.get("threads"):
        torch.set_num_threads(cfg["threads"])
    overrides = {"precision": cfg["precision"], "loss": cfg["loss"], "steps": 100_000}
    overrides.update(cfg.get("overrides", {}))
    recipe = load_recipe(cfg["recipe"], overrides)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(recipe, data=cfg["data"], out=Path(tmp) / "run", device=cfg["device"], progress=False)
        t0 = time.perf_counter()
        trainer._build_model()
        trainer._build_training()
        trainer._wrap()
        setup_s = time.perf_counter() - t0
        device = trainer.device
        cuda = device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        it = iter(trainer._loader(0))
        trainer.net.train()
        grad_clip = recipe.grad_clip if recipe.grad_clip is not None else math.inf
        times: list[float] = []
        losses: list[float] = []
        out_len = in_len = 0
        for i in range(cfg["warmup"] + cfg["steps"]):
            if cuda:
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            # the body of Trainer._loop, without logging, validation and checkpoints
            batch = next(it)
            trainer.optimizer.zero_grad(set_to_none=True)
            total, _, est, _ = trainer.forward_loss(batch)
            value, finite = trainer._global_loss(total)
            if not finite:
                raise RuntimeError(f"{cfg['name']}: the loss became NaN or infinite at step {i + 1}")
            trainer.scaler.scale(total).backward()
            trainer.scaler.unscale_(trainer.optimizer)
            norm = torch.nn.utils.clip_grad_norm_(trainer.net.parameters(), grad_clip)
            if not trainer.scaler.is_enabled() and not trainer._all_finite(norm):
                raise RuntimeError(f"{cfg['name']}: the gradients became NaN or infinite at step {i + 1}")
            trainer.scaler.step(trainer.optimizer)
            trainer.scaler.update()
            trainer.scheduler.step()
            if cuda:
                torch.cuda.synchronize(device)
            if i >= cfg["warmup"]:
                times.append(time.perf_counter() - start)
            losses.append(value)
            out_len, in_len = est.shape[-1], batch["stems"].shape[-1]
        result = {
            "name": cfg["name"],
            "dtype": str(trainer.dtype).removeprefix("torch."),
            "batch": recipe.batch_size,
            "input_samples": int(in_len),
            "output_samples": int(out_len),
            "sample_rate": trainer.model.sample_rate,
            "weights": trainer.net.num_parameters(),
            "loss": trainer.loss_fn.describe(),
            "workers": trainer.workers,
            "setup_s": setup_s,
            "step_s": times,
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "peak_rss_mb": peak_rss_mb(),
            "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None,
            "threads": torch.get_num_threads(),
        }
    return result


def child_main(spec: str) -> None:
    print(json.dumps(run_config(json.loads(spec))))


def run_child(cfg: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"configuration {cfg['name']} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# the run


def configurations(args, data: Path) -> list[dict]:
    cuda = args.device.startswith("cuda")
    precisions = ["fp32", "bf16", "fp16"] if cuda else ["fp32", "bf16"]
    paper_batch = args.paper_batch or (16 if cuda else 4)
    common = {"data": str(data), "device": args.device, "warmup": args.warmup, "steps": args.steps,
              "threads": args.threads}
    model_over = {
        "small": {},
        "paper": {"batch_size": paper_batch, "segment_seconds": args.paper_seconds},
    }
    cfgs = []
    for model in ("small", "paper"):
        if model == "paper" and args.skip_paper:
            continue
        for p in precisions:
            cfgs.append({**common, "name": f"{model}/{p}/l1", "model": model, "recipe": RECIPES[model],
                         "precision": p, "loss": "l1", "overrides": model_over[model]})
    if not args.skip_losses:
        for loss in ("stereo_perceptual", "mrstft"):
            cfgs.append({**common, "name": f"small/bf16/{loss}", "model": "small", "recipe": RECIPES["small"],
                         "precision": "bf16", "loss": loss, "overrides": {}})
    return cfgs


def machine_line(args) -> str:
    import torch

    from automix.inference.tiling import cpu_has_fast_bf16
    from automix.train.distributed import dist_info, run_device, run_precision

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dev = run_device(args.device, dist_info())
    auto = str(run_precision("auto", dev)).removeprefix("torch.")
    line = (f"machine: {cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
            f"{args.threads or torch.get_num_threads()} threads, native CPU bf16: {cpu_has_fast_bf16()}")
    if dev.type == "cuda":
        line += f"; GPU: {torch.cuda.get_device_name(dev)}"
    return line + f"; device {dev}, precision 'auto' = {auto}"


def summarise(runs: list[dict]) -> dict:
    """One row from the repeats of a configuration: the median rate over repeats."""
    first = runs[0]
    rates = [first["batch"] / statistics.median(r["step_s"]) for r in runs]
    means = [first["batch"] * len(r["step_s"]) / sum(r["step_s"]) for r in runs]
    seg_s = first["output_samples"] / first["sample_rate"]
    return {
        **{k: first[k] for k in ("name", "dtype", "batch", "input_samples", "output_samples", "sample_rate",
                                 "weights", "loss", "workers", "threads")},
        "segments_per_s": statistics.median(rates),
        "segments_per_s_mean": statistics.median(means),
        "audio_s_per_s": statistics.median(rates) * seg_s,
        "segment_s": seg_s,
        "step_s_min_median_max": [min(min(r["step_s"]) for r in runs),
                                  statistics.median([statistics.median(r["step_s"]) for r in runs]),
                                  max(max(r["step_s"]) for r in runs)],
        "rates_per_repeat": rates,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "peak_gpu_mb": first["peak_gpu_mb"],
        "loss_first_last": [first["first_loss"], first["last_loss"]],
    }


def print_tables(rows: dict[str, dict], cuda: bool) -> None:
    def mem(r: dict) -> str:
        s = f"{r['peak_rss_mb']:,.0f}"
        return s + (f" / {r['peak_gpu_mb']:,.0f}" if r["peak_gpu_mb"] is not None else "")

    mem_head = "peak RSS / GPU MB" if cuda else "peak RSS MB"
    print(f"\n| model | precision | batch x output segment | segments/s | audio s/s | vs fp32 (same model) | {mem_head} |")
    print("|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        model, prec, loss = name.split("/")
        if loss != "l1":
            continue
        base = rows.get(f"{model}/fp32/l1")
        ratio = f"{r['segments_per_s'] / base['segments_per_s']:.2f}x" if base else "-"
        label = f"{model} ({r['weights']:,} weights)"
        print(f"| {label} | {prec} ({r['dtype']}) | {r['batch']} x {r['segment_s']:.2f} s | {r['segments_per_s']:.2f} | "
              f"{r['audio_s_per_s']:.2f} | {ratio} | {mem(r)} |")
    losses = [(n, r) for n, r in rows.items() if n.startswith("small/bf16/")]
    if len(losses) > 1:
        base = rows["small/bf16/l1"]
        print("\n| loss (small model, bf16) | segments/s | audio s/s | vs l1 | peak RSS MB |")
        print("|---|---|---|---|---|")
        for _, r in losses:
            print(f"| {r['loss']} | {r['segments_per_s']:.2f} | {r['audio_s_per_s']:.2f} | "
                  f"{r['segments_per_s'] / base['segments_per_s']:.2f}x | {r['peak_rss_mb']:,.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="timed steps per configuration (default 12; --quick 4)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 3; --quick 1)")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: fewer steps, paper model at batch 2 x 1 s (unless set)")
    ap.add_argument("--paper-batch", type=int, default=None, help="paper model batch (default 4 on CPU, 16 on CUDA)")
    ap.add_argument("--paper-seconds", type=float, default=None, help="paper model output segment (default 2 s, as the paper)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="run every configuration N times, interleaved, and keep the median (default 2; --quick 1)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    ap.add_argument("--data", type=Path, help="an ENST-layout corpus to reuse (default: generate 4 x 10 s takes)")
    ap.add_argument("--skip-paper", action="store_true", help="only the small model")
    ap.add_argument("--skip-losses", action="store_true", help="skip the loss comparison")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args.child)
        return
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            ap.error(f"--device {args.device}: this torch build ({torch.__version__}) sees no CUDA GPU")
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 2)
    args.steps = args.steps if args.steps is not None else (4 if args.quick else 12)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    if args.quick:
        args.paper_batch = args.paper_batch or (2 if not args.device.startswith("cuda") else None)
        args.paper_seconds = args.paper_seconds or 1.0
    args.paper_seconds = args.paper_seconds or 2.0
    if args.steps < 1 or args.warmup < 0 or args.repeats < 1:
        ap.error("--steps and --repeats must be at least 1, --warmup at least 0")

    with tempfile.TemporaryDirectory(prefix="automix-bench-train-") as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("AUTOMIX_CACHE", str(tmp / "cache"))
        print(f"# automix training benchmark  {time.strftime('%Y-%m-%d %H:%M')}")
        print(machine_line(args))
        data = args.data
        if data is None:
            from automix.data.generate import generate_corpus

            data = tmp / "data"
            t0 = time.perf_counter()
            generate_corpus(data, 4, seed=0, seconds=10)
            print(f"data: 4 generated takes of 10 s (DrumGizmo) in {time.perf_counter() - t0:.1f} s")
        else:
            print(f"data: {data}")
        cfgs = configurations(args, data)
        print(f"{len(cfgs)} configurations x {args.repeats} repeat(s), {args.warmup} warm-up + {args.steps} timed steps each")
        results: dict[str, list[dict]] = {c["name"]: [] for c in cfgs}
        t_all = time.perf_counter()
        for rep in range(args.repeats):
            for cfg in cfgs:
                r = run_child(cfg)
                results[cfg["name"]].append(r)
                med = statistics.median(r["step_s"])
                print(f"  [{rep + 1}/{args.repeats}] {cfg['name']:26s} batch {r['batch']:2d} x {r['output_samples']:,} samples "
                      f"(in {r['input_samples']:,}): step {med:.3f} s median ({min(r['step_s']):.3f}-{max(r['step_s']):.3f}), "
                      f"{r['batch'] / med:.2f} segments/s, setup {r['setup_s']:.1f} s, loss {r['first_loss']:.4f} -> "
                      f"{r['last_loss']:.4f}", flush=True)
        rows = {name: summarise(runs) for name, runs in results.items()}
        print(f"\nall configurations: {time.perf_counter() - t_all:.0f} s; rate = batch / median step time "
              f"(step: data, forward, loss, backward, clip, Adam)")
        print_tables(rows, args.device.startswith("cuda"))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1) + "\n")
        print(json.dumps({n: {"segments_per_s": round(r["segments_per_s"], 3), "audio_s_per_s": round(r["audio_s_per_s"], 3),
                              "peak_rss_mb": round(r["peak_rss_mb"])} for n, r in rows.items()}))


if __name__ == "__main__":
    main()
