#!/usr/bin/env python3
"""Score drum mixers on held-out takes of a leave-kit-out split, per kit, beside the baselines.

Takes a stratified share of the split's test takes (``--every 3``: every third take of each kit,
in the split's order) so a CPU run stays short, scores every mixer through the one mix flow
(:func:`automix.eval.heldout.evaluate_heldout`: stems as recorded, every system at the
reference's loudness, from the nearer side) against the plain sum, the loudness-equalised sum,
the rule-based console, the recorded balance panned by role and the oracle gain/pan fit, and
writes ``OUT.json`` and ``OUT.md`` (overall and per-kit tables) for model cards.

    python tools/heldout_eval.py --corpus corpus/ --split generated-drums-200-seed0-leave-kit-out \\
        --mixer drums=drums --mixer console=runs/drums-console/model.safetensors --out eval/heldout
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from automix.data.segments import Split, resolve_split_path  # noqa: E402
from automix.eval.heldout import take_kit, evaluate_heldout, markdown_table  # noqa: E402


def stratified(split: Split, root: Path, subset: str, every: int) -> Split:
    """Every ``every``-th take of each kit of ``subset`` (the first of each kit included)."""
    by_kit: dict[str, list[str]] = defaultdict(list)
    for take in split.items(subset):
        by_kit[take_kit(root, take)].append(take)
    chosen = [t for kit in sorted(by_kit) for t in by_kit[kit][::every]]
    return Split(dataset=split.dataset, seed=split.seed, options={"stratified_every": every}, subsets={subset: chosen})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--split", required=True, help="split file or name under datasets/splits")
    ap.add_argument("--subset", default="test")
    ap.add_argument("--every", type=int, default=3, help="every N-th take of each kit (default 3)")
    ap.add_argument("--target", default="wet", choices=("wet", "dry"))
    ap.add_argument("--mixer", action="append", default=[], metavar="NAME=MODEL", help="a mixer: a model name, path or 'rules'")
    ap.add_argument("--no-baselines", action="store_true", help="score the mixers only (e.g. to add one to an earlier run)")
    ap.add_argument("--out", required=True, type=Path, help="OUT.json and OUT.md are written")
    args = ap.parse_args()
    mixers = dict(m.split("=", 1) for m in args.mixer)
    split = stratified(Split.load(resolve_split_path(args.split)), args.corpus, args.subset, args.every)
    started = time.perf_counter()
    result = evaluate_heldout(mixers, args.corpus, split=split, subset=args.subset, target=args.target, baselines=not args.no_baselines,
                              progress=lambda take: print(f"  scored {take} ({time.perf_counter() - started:.0f} s)", flush=True))
    result["takes_scored"] = len(result["takes"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# Held-out takes: {len(result['takes'])} of the {args.subset} subset of {args.split} "
             f"(every {args.every}th per kit), {args.target} mixes\n", "## All held-out takes\n", markdown_table(result["overall"])]
    for kit, table in result["per_kit"].items():
        lines += [f"\n## {kit} ({result['counts'][kit]} takes)\n", markdown_table(table)]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
