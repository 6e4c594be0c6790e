"""``automix evaluate``: score mixes against references, or a model over a dataset."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from automix.cli.common import add_verbosity, command, loudness, positive_int

log = logging.getLogger("automix")

EVALUATE_EXAMPLES = """\
examples:
  automix evaluate --estimate my_mix.wav --reference reference.wav
  automix evaluate --estimate mix.wav --reference reference.wav --stems stems/ --out eval/
  automix evaluate --model drums --data corpus/ --split generated-drums-100-seed0 --out eval-drums/
  automix evaluate --model runs/paper/model.safetensors --data /data/ENST-drums --split enst-split.json --target dry
  automix evaluate --model drums --data corpus/ --subset all --limit 5 --no-plots -q --out eval/ --force
"""


def register(sub: Any) -> None:
    p = command(
        sub,
        "evaluate",
        _run_evaluate,
        help="score mixes against reference mixes (SI-SDR, MR-STFT, mix features)",
        description="Score a mix against a reference mix (--estimate/--reference; with --stems also three "
        "baselines), or a model over the takes of an ENST-layout dataset (--model/--data; the model's mix of each "
        "whole take beside the same baselines). The baselines: the plain sum of the stems, a loudness-equalised "
        "sum, and the rule-based console ('automix mix --model rules') at the reference's loudness. Metrics: "
        "SI-SDR, multi-resolution STFT distance, integrated loudness difference, and the mean absolute percentage "
        "error of loudness, spectral, dynamics and panning features. Prints a Markdown table; --out also writes "
        "metrics.json, report.md, plots and index.html (a page to listen to the systems A/B, loudness-matched).",
        epilog=EVALUATE_EXAMPLES,
    )
    pair = p.add_argument_group("a mix against its reference")
    pair.add_argument("--estimate", default=None, metavar="MIX", help="the mix to score (audio file)")
    pair.add_argument("--reference", default=None, metavar="MIX", help="the reference mix (audio file)")
    pair.add_argument("--stems", nargs="+", default=None, metavar="DIR_OR_FILES", help="the stems of the song: adds the baselines (roles read off the file names)")
    data = p.add_argument_group("a model over an ENST-layout dataset")
    data.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="installed model name or checkpoint path (default: the default model)")
    data.add_argument("--data", default=None, metavar="DIR", help="ENST-drums root or a corpus from 'automix datasets drums'")
    data.add_argument("--split", default=None, metavar="FILE_OR_NAME", help="split file, or the name of a shipped split (default: a seeded split of DIR)")
    data.add_argument("--subset", default=None, metavar="NAME", help="subset of the split to score, or 'all' (default: test)")
    data.add_argument("--target", default=None, choices=["wet", "dry"], help="reference mix of each take (default: wet)")
    data.add_argument("--limit", type=positive_int, default=None, metavar="N", help="score the first N takes only")
    data.add_argument("--plot-take", default=None, metavar="TAKE", help="take to plot, e.g. drummer_1/001_phrase_rock (default: the first)")
    data.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    data.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"], help="compute precision of the model (default: fp32)")
    data.add_argument("--loudness", type=loudness, default=None, metavar="LUFS|auto|off", help="bring the model's mix to this loudness first, as 'automix mix' does (default: auto, the level of its training mixes)")
    data.add_argument("--perspective", default=None, choices=["auto", "drummer", "audience"], help="hear the model's mix from this side, as 'automix mix --perspective' does (default: auto, as the model mixes)")
    p.add_argument("--out", default=None, metavar="DIR", help="write metrics.json, report.md, plots and the listening page index.html here (created; must be empty unless --force)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots into --out")
    p.add_argument("--no-rules", action="store_true", help="leave the rule-based console baseline out (it renders every stem: the slowest)")
    p.add_argument("--force", action="store_true", help="write into a non-empty --out folder, replacing the report files")
    p.set_defaults(evaluate_parser=p)
    add_verbosity(p)


def _run_evaluate(args: argparse.Namespace) -> int:
    usage = args.evaluate_parser.error  # prints one 'error:' line and exits 2
    pair_mode = args.estimate is not None or args.reference is not None
    split_options = ("split", "subset", "target", "limit", "plot_take", "device", "precision", "loudness", "perspective")
    split_mode = args.data is not None or args.model is not None
    if pair_mode and split_mode:
        usage("give either --estimate/--reference or --model/--data, not both")
    if not pair_mode and not split_mode:
        usage("give --estimate MIX --reference MIX, or --model NAME_OR_PATH --data DIR")
    if pair_mode:
        if args.estimate is None or args.reference is None:
            usage("--estimate and --reference go together")
        given = [f"--{name.replace('_', '-')}" for name in split_options if getattr(args, name) is not None]
        if given:
            usage(f"{', '.join(given)} only apply with --model/--data")
    else:
        if args.data is None:
            usage("--model needs --data DIR (an ENST-layout dataset)")
        if args.stems is not None:
            usage("--stems only applies with --estimate/--reference (a dataset's takes bring their stems)")
    out = args.out
    if args.no_plots and out is None:
        log.warning("--no-plots has no effect without --out")
    from automix.eval.evaluate import evaluate_pair, evaluate_split

    if pair_mode:
        report = evaluate_pair(
            args.estimate,
            args.reference,
            stems=args.stems,
            out=out,
            overwrite=args.force,
            plots=not args.no_plots,
            rules=not args.no_rules,
        )
    else:
        subset = "test" if args.subset is None else args.subset
        report = evaluate_split(
            args.model,
            args.data,
            split=args.split,
            subset=None if subset == "all" else subset,
            target=args.target or "wet",
            out=out,
            overwrite=args.force,
            plots=not args.no_plots,
            limit=args.limit,
            progress=False if args.quiet else None,
            plot_take=args.plot_take,
            device=args.device,
            precision=args.precision or "fp32",
            rules=not args.no_rules,
            loudness="auto" if args.loudness is None else None if args.loudness == "off" else args.loudness,
            perspective=args.perspective,
        )
    if not args.quiet:
        sys.stdout.write(report.to_markdown())
        if out is not None:
            print(f"wrote the report to {out}", file=sys.stderr)
    return 0