"""Benchmark: Wave-U-Net variants from the literature, trained and scored under one budget.

Every ``presets/train/variant-*.json`` recipe is the small Mix-Wave-U-Net (preset
``mix-wave-u-net-small``: 6 levels, 16 + 16 filters per level) with one architecture field
changed (``variant-paper`` changes none: it is the baseline), and all share the same budget and
data: the generated drum corpus (12 takes of 20 s, seed 0), dry mixes, L1, Adam 5e-4 with a
5 warm-up steps then a cosine schedule, 400 steps of 8 x 0.5 s output segments, bf16 autocast where the CPU has it
(``precision: auto``), seed 0. Each variant is trained with :func:`automix.train.trainer.train`, in this
process, one after the other, then:

* **weights** and **receptive field** (samples the output depends on, upper bound;
  :attr:`automix.models.unet.WaveUNet.receptive_field`), from the network;
* **real-time factor**: seconds of compute per second of audio for :func:`automix.inference.tiling.process`
  (default tile, default precision: bf16 where native) on 10 s of 8-stem input; each variant
  timed ``--repeats`` times, interleaved with the others, median; shown against the
  ``variant-paper`` row of the same run;
* **training throughput**: the median of the trainer's own windowed rate (``segments_per_s``
  in ``metrics.csv``, the first window, which holds the warm-up, left out), against
  ``variant-paper``;
* **held-out scores**: as :func:`automix.eval.evaluate.evaluate_split` scores (each take loaded by
  ``EnstDrums.load_take``, mixed whole by :func:`automix.inference.tiling.process` in fp32, compared
  by :func:`automix.eval.metrics.compare_systems`), on the takes of the default split (seed 0) that
  training never sees: its ``valid`` and ``test`` subsets (one take each; validation runs
  once, at the last step, so it selects nothing); the takes are loaded and the plain sum scored
  once for all variants. MR-STFT distance, SI-SDR, and the feature MAPEs of
  :func:`automix.eval.metrics.compare` in four
  groups (the mean of the group's MAPEs): loudness (loudness, RMS), dynamics (crest factor,
  dynamic spread), spectral (centroid, bandwidth, contrast, roll-off, flatness), panning
  (panning total, low, mid, high). The plain sum of the stems (both channels, no gain or pan)
  is scored on the same takes as the reference point.

Usage: ``python bench/bench_variants.py [--steps N] [--variants paper,dilated] [--repeats 3]
[--threads 2] [--json FILE]`` (``--steps`` overrides every recipe's steps alike; the default
is the recipes' budget).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from automix.models.checkpoint import load_model  # noqa: E402
from automix.data.enst import EnstDrums, make_enst_split, scan_enst  # noqa: E402
from automix.eval.evaluate import sum_of_stems  # noqa: E402
from automix.inference.tiling import cpu_has_fast_bf16, process  # noqa: E402
from automix.eval.metrics import compare_systems  # noqa: E402
from automix.train.recipe import list_recipes, load_recipe  # noqa: E402
from automix.train.builders import generated_root
from automix.train.trainer import train  # noqa: E402

BASELINE = "paper"
#: feature-error groups: group -> the metrics.compare keys averaged into it
GROUPS = {
    "loudness": ("mape_loudness", "mape_rms"),
    "dynamics": ("mape_crest_factor", "mape_dynamic_spread"),
    "spectral": ("mape_centroid", "mape_bandwidth", "mape_contrast", "mape_rolloff", "mape_flatness"),
    "panning": ("mape_panning_total", "mape_panning_low", "mape_panning_mid", "mape_panning_high"),
}
RTF_SECONDS = 10.0


def variant_names() -> list[str]:
    names = [n.removeprefix("variant-") for n in list_recipes() if n.startswith("variant-")]
    return sorted(names, key=lambda n: (n != BASELINE, n))


def train_rate(run_dir: Path) -> float:
    """Median windowed training rate (segments/s) from the run's metrics.csv, warm-up window left out."""
    with open(run_dir / "metrics.csv", newline="") as f:
        rates = [float(r["segments_per_s"]) for r in csv.DictReader(f) if r["phase"] == "train" and r["segments_per_s"]]
    rates = rates[1:] if len(rates) > 1 else rates
    return statistics.median(rates)


def held_out_takes(root: Path, net: torch.nn.Module) -> dict[str, dict]:
    """The valid and test takes of the default split (never trained on), loaded as
    :func:`automix.eval.evaluate.evaluate_split` loads them (``EnstDrums.load_take``, dry target,
    take-level loudness normalisation): ``{take: {"stems": [8, L], "mix": [2, L]}}``."""
    split = make_enst_split(scan_enst(root), seed=0)  # what training used (the recipes name no split)
    takes = {}
    for subset in ("valid", "test"):
        data = EnstDrums(root, split=split, subset=subset, target="dry", model=net, mode="fixed")
        for take in data.takes:
            item = data.load_take(take)
            takes[take] = {"stems": item["stems"], "mix": item["mix"]}
    assert takes and not set(takes) & set(split.items("train")), "held-out takes overlap the training takes"
    return takes


def score(systems_per_take: dict[str, dict[str, np.ndarray]], takes: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Mean :func:`automix.eval.metrics.compare` metrics per system over the takes, plus the groups."""
    per_item = {take: compare_systems(systems_per_take[take], takes[take]["mix"], 44100) for take in takes}
    means = {}
    for system in next(iter(per_item.values())):
        keys = next(iter(per_item.values()))[system].keys()
        means[system] = {k: float(np.mean([item[system][k] for item in per_item.values()])) for k in keys}
        for group, members in GROUPS.items():
            means[system][f"group_{group}"] = float(np.mean([means[system][k] for k in members if k in means[system]]))
    return means


def time_inference(nets: dict[str, torch.nn.Module], repeats: int) -> dict[str, float]:
    """Median real-time factor per variant, the variants interleaved in every repeat."""
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((8, int(RTF_SECONDS * 44100)))).astype(np.float32)
    times: dict[str, list[float]] = {name: [] for name in nets}
    for name, net in nets.items():  # warm-up: oneDNN kernel selection, allocator
        process(net, x[:, : 44100 * 2], precision="auto")
    for _ in range(repeats):
        for name, net in nets.items():
            t0 = time.perf_counter()
            process(net, x, precision="auto")
            times[name].append((time.perf_counter() - t0) / RTF_SECONDS)
    return {name: statistics.median(t) for name, t in times.items()}


def fmt_ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="override every recipe's steps (same for all)")
    ap.add_argument("--variants", default=None, help="comma-separated subset (default: every variant-* recipe)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved timing repeats of the real-time factor")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="keep the run folders here (default: a temporary folder)")
    ap.add_argument("--json", default=None, help="also write the results as JSON")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = variant_names()
    if args.variants:
        wanted = [v.strip() for v in args.variants.split(",")]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            sys.exit(f"error: no recipe variant-{unknown[0]} (variants: {', '.join(names)})")
        names = [n for n in names if n in wanted]
    if BASELINE not in names:
        names.insert(0, BASELINE)
    overrides = {"steps": args.steps, "validate_every": args.steps, "checkpoint_every": args.steps} if args.steps else {}
    recipes = {n: load_recipe(f"variant-{n}", overrides) for n in names}
    budgets = {(r.steps, r.batch_size, r.segment_seconds, r.data.model_dump_json(), r.loss if isinstance(r.loss, str) else str(r.loss),
                r.optimizer.model_dump_json(), r.schedule.model_dump_json(), r.precision, r.seed) for r in recipes.values()}
    if len(budgets) != 1:
        sys.exit("error: the variant recipes do not share one budget and data; fix presets/train/variant-*.json")
    base = recipes[BASELINE]
    bench_start = time.perf_counter()
    print(f"# automix Wave-U-Net variant benchmark  {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{args.threads} threads, native bf16: {cpu_has_fast_bf16()}")
    print(f"budget (every variant): {base.steps} steps x batch {base.batch_size} x {base.segment_seconds} s output segments "
          f"({base.steps * base.batch_size} segments, {base.steps * base.batch_size * base.segment_seconds:.0f} s of target audio), "
          f"{base.loss} loss, {base.optimizer.name} lr {base.optimizer.lr:g}, {base.schedule.name} schedule, precision {base.precision}, "
          f"seed {base.seed}; data: generated drums {base.data.generate.songs} x {base.data.generate.seconds:g} s "
          f"(seed {base.data.generate.seed}), {base.data.target} mixes")

    results: dict[str, dict] = {}
    plain_sum: dict[str, float] | None = None
    takes: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out_root = Path(args.out) if args.out else Path(tmp)
        nets = {}
        for name in names:
            t0 = time.perf_counter()
            run = train(recipes[name], out=out_root / name, progress=False)
            model = load_model(run.model_path)
            net = model.net
            if not takes:
                takes = held_out_takes(generated_root(recipes[name]), net)
                plain_sum = score({t: {"sum": sum_of_stems(d["stems"])} for t, d in takes.items()}, takes)["sum"]
            mixes = {t: {name: process(net, d["stems"], precision="fp32")} for t, d in takes.items()}
            scores = score(mixes, takes)
            nets[name] = net
            results[name] = {
                "config": recipes[name].model.config,
                "weights": net.num_parameters(),
                "receptive_field": net.receptive_field,
                "context": net.context,
                "train_segments_per_s": train_rate(run.run_dir),
                "train_duration_s": run.duration_s,
                "valid_l1": run.best_valid_loss,
                "scores": scores[name],
            }
            print(f"  {name}: trained in {run.duration_s:.0f} s, evaluated; {time.perf_counter() - t0:.0f} s "
                  f"(bench so far {time.perf_counter() - bench_start:.0f} s)", file=sys.stderr, flush=True)
        rtf = time_inference(nets, args.repeats)
        for name in names:
            results[name]["rtf"] = rtf[name]

    b = results[BASELINE]
    seconds = sum(d["mix"].shape[1] for d in takes.values()) / 44100
    print(f"\nheld-out takes (never trained on): {', '.join(takes)}; {seconds:.0f} s, each mixed whole (fp32)")
    print(f"real-time factor: automix.inference.tiling.process, default tile, precision auto "
          f"({'bf16' if cpu_has_fast_bf16() else 'fp32'} here), {RTF_SECONDS:.0f} s of 8 stems, median of {args.repeats} interleaved repeats\n")
    head = ("| variant (recipe) | weights | receptive field (samples / ms) | real-time factor | speed vs paper | "
            "train segments/s | vs paper | MR-STFT | SI-SDR (dB) | loudness MAPE % | dynamics MAPE % | spectral MAPE % | panning MAPE % |")
    print(head)
    print("|" + "|".join(["---"] + ["---:"] * (head.count("|") - 2)) + "|")
    for name in names:
        r = results[name]
        s = r["scores"]
        print(f"| {name} (`variant-{name}`) | {r['weights']:,} | {r['receptive_field']:,} / {1000 * r['receptive_field'] / 44100:.0f} | "
              f"{r['rtf']:.4f} | {fmt_ratio(b['rtf'], r['rtf'])} | {r['train_segments_per_s']:.1f} | "
              f"{fmt_ratio(r['train_segments_per_s'], b['train_segments_per_s'])} | {s['mrstft']:.3f} | {s['si_sdr']:.2f} | "
              f"{s['group_loudness']:.1f} | {s['group_dynamics']:.1f} | {s['group_spectral']:.1f} | {s['group_panning']:.1f} |")
    s = plain_sum or {}
    print(f"| plain sum of stems (no model) | - | - | - | - | - | - | {s['mrstft']:.3f} | {s['si_sdr']:.2f} | "
          f"{s['group_loudness']:.1f} | {s['group_dynamics']:.1f} | {s['group_spectral']:.1f} | {s['group_panning']:.1f} |")
    total = time.perf_counter() - bench_start
    print(f"\nbench wall time: {total:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"budget": base.model_dump(mode="json"), "takes": list(takes), "variants": results,
                                               "plain_sum": plain_sum, "wall_s": total}, indent=2) + "\n")


if __name__ == "__main__":
    main()
