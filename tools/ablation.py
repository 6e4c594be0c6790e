#!/usr/bin/env python3
"""Why do automix's mixers lose to the plain sum on real recordings? An ablation on held-out kits.

Each arm trains the small Mix-Wave-U-Net (the ``drums-default`` recipe at a short budget) or the
learned console mixer, with one choice changed, for every seed; then every trained mixer is
scored on the held-out takes of a leave-kit-out split (kits, a room and a mic technique it
never heard) through the one mix flow, stems as recorded, against the baselines
(:mod:`automix.eval.heldout`). Prints (and writes ``OUT/ablation.md``, ``OUT/ablation.json``)
the mean per arm with the spread over seeds; differences under the spread are noise.

    python tools/ablation.py --corpus corpus/ --split generated-drums-200-seed0-leave-kit-out \\
        --out runs/ablation --steps 400 --seeds 0 1 --every 3

The table in ``automix/pretrained/drums.md`` and BENCHMARKS.md was made arm by arm with the same
settings (``automix train`` with these overrides, then ``tools/heldout_eval.py``), seed 1 for one arm.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout_eval import stratified  # noqa: E402

from automix.data.segments import Split, resolve_split_path  # noqa: E402
from automix.eval.heldout import COLUMNS, evaluate_heldout, markdown_table  # noqa: E402

#: Arms: name -> (kind, recipe overrides of ``drums-default``, which is the shipped recipe: kit gain, console start).
ARMS: dict[str, tuple[str, dict]] = {
    "Wave-U-Net, each stem to -30 LUFS (the previous recipe)": ("wave-u-net", {"data.stem_gain": "each", "start": "random"}),
    "Wave-U-Net, one gain for the kit": ("wave-u-net", {"data.stem_gain": "kit", "start": "random"}),
    "Wave-U-Net, each stem, starts as a console": ("wave-u-net", {"data.stem_gain": "each", "start": "console"}),
    "Wave-U-Net, kit gain, starts as a console (shipped)": ("wave-u-net", {}),
    "learned console mixer": ("console-mixer", {}),
}


def _train_wave_u_net(args: argparse.Namespace, overrides: dict, seed: int, out: Path) -> Path:
    from automix.train.trainer import train

    sets = [f"steps={args.steps}", f"seed={seed}", 'model.config={"levels": 5, "base_filters": 12, "growth": 12}',
             f"validate_every={max(50, args.steps // 4)}",
            f"checkpoint_every={max(50, args.steps // 4)}", f"data.split={json.dumps(str(args.split))}",
            f"data.target={args.target}", *(f"{k}={json.dumps(v)}" for k, v in overrides.items())]
    result = train("drums-default", data=args.corpus, out=out, overrides=sets, progress=False)
    return result.model_path


def _train_console(args: argparse.Namespace, seed: int, out: Path) -> Path:
    from automix.train.console_trainer import console_recipe, train_console_mixer

    recipe = console_recipe("drums-console", [f"split={json.dumps(str(args.split))}", f'target="{args.target}"',
                                              f"steps={args.steps}", f"seed={seed}"])
    return train_console_mixer(recipe, out, data=args.corpus, progress=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True)
    p.add_argument("--split", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--every", type=int, default=3, help="score every N-th held-out take of each kit")
    p.add_argument("--target", default="wet", choices=["wet", "dry"])
    p.add_argument("--arms", nargs="*", default=None, help="arm names (default: all)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    split = stratified(Split.load(resolve_split_path(args.split)), Path(args.corpus), "test", args.every)
    results: dict[str, list[dict]] = {}
    arms = {k: v for k, v in ARMS.items() if args.arms is None or k in args.arms}
    for arm, (kind, overrides) in arms.items():
        for seed in args.seeds:
            run = out / f"{len(results)}-{seed}"
            started = time.perf_counter()
            model = _train_console(args, seed, run) if kind == "console-mixer" else _train_wave_u_net(args, overrides, seed, run)
            trained = time.perf_counter() - started
            scores = evaluate_heldout({arm: str(model)}, args.corpus, split=split, target=args.target, baselines=False)
            results.setdefault(arm, []).append({"seed": seed, "train_s": trained, **scores["overall"][arm]})
            print(f"{arm} seed {seed}: trained in {trained:.0f} s; " +
                  ", ".join(f"{h} {scores['overall'][arm][k]:.{d}f}" for k, h, d in COLUMNS), flush=True)
    base = evaluate_heldout({}, args.corpus, split=split, target=args.target)
    table = {arm: {k: float(np.mean([r[k] for r in runs])) for k, _, _ in COLUMNS} for arm, runs in results.items()}
    spread = {arm: {k: float(np.ptp([r[k] for r in runs])) for k, _, _ in COLUMNS} for arm, runs in results.items()}
    table.update(base["overall"])
    text = (f"Held-out takes: {len(base['takes'])} ({', '.join(f'{k} {n}' for k, n in base['counts'].items())}); "
            f"{args.steps} steps, seeds {args.seeds}; mean over seeds, spread (max - min) below.\n\n"
            + markdown_table(table) + "\nSpread over seeds:\n\n" + markdown_table(spread))
    (out / "ablation.md").write_text(text)
    (out / "ablation.json").write_text(json.dumps({"runs": results, "baselines": base["overall"], "per_kit": base["per_kit"],
                                                   "counts": base["counts"]}, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
