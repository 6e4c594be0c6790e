"""``automix train``: train a model from a recipe."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from automix.cli.common import add_verbosity, command, positive_float, positive_int
from daw_bridge.errors import AutomixError

log = logging.getLogger("automix")

TRAIN_EXAMPLES = """\
examples:
  automix train --list
  automix train mix-small-cpu --out runs/small           # generates its drum corpus on first use
  automix train mix-wave-u-net-paper --data /data/ENST-drums --out runs/paper
  automix train mix-wave-u-net-paper --data /data/ENST-drums --out runs/paper --resume
  automix train my-recipe.json --data my_songs/manifest.json --set optimizer.lr=3e-4 --set steps=20000
  torchrun --nproc_per_node=4 -m automix train mix-wave-u-net-paper --data /data/ENST-drums --out runs/ddp
  tensorboard --logdir runs/
"""


def register(sub: Any) -> None:
    p = command(
        sub, "train", _cmd_train,
        help="train a Mix-Wave-U-Net or a separation Wave-U-Net from a recipe",
        description="Train from a recipe (a shipped name, see --list, or a JSON/YAML file): model, data, loss, "
        "optimiser, schedule, steps, batch, segment length. Uses CUDA when present (mixed precision), several GPUs "
        "under torchrun, else the CPU. Writes a run folder: recipe.json, model.safetensors + model.json (the best "
        "model and its card), metrics.csv, tensorboard/, train.log, checkpoints/.",
        epilog=TRAIN_EXAMPLES,
    )
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="shipped recipe name or recipe file")
    p.add_argument("--list", action="store_true", help="list the shipped recipes and exit")
    p.add_argument("--data", default=None, metavar="DIR", help="data folder (ENST layout) or collection manifest; overrides the recipe's")
    p.add_argument("--out", default=None, metavar="RUN_DIR", help="run folder (default: runs/RECIPE_NAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its newest checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides", help="override a recipe key, e.g. optimizer.lr=3e-4 (repeatable)")
    p.add_argument("--steps", type=positive_int, default=None, help="shortcut for --set steps=N")
    p.add_argument("--batch-size", type=positive_int, default=None, help="shortcut for --set batch_size=N (global batch)")
    p.add_argument("--lr", type=positive_float, default=None, help="shortcut for --set optimizer.lr=X")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"], help="shortcut for --set precision=P")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--init", default=None, metavar="MODEL", help="start from this trained model (same architecture)")
    add_verbosity(p)


def _collection_override(args: argparse.Namespace) -> list[str]:
    """``data.kind=collection`` when --data is a collection manifest (a .json/.yaml file, or a folder
    holding manifest.json) and the recipe trains on another kind: what the help's own pattern means."""
    from pathlib import Path

    if args.data is None:
        return []
    data = Path(args.data).expanduser()
    manifest_name = data.suffix.lower() in (".json", ".yaml", ".yml")
    if manifest_name and not data.exists():
        raise AutomixError(f"--data {data} does not exist; give a data folder or a collection manifest")
    if data.is_file() and not manifest_name:
        raise AutomixError(f"--data {data} is a file, not a data folder or a collection manifest (.json/.yaml)")
    if any(o.replace(" ", "").startswith("data.kind=") for o in args.overrides):
        return []
    manifest = data.is_file()
    if data.is_dir():
        manifest = any((data / f"manifest{ext}").is_file() for ext in (".json", ".yaml", ".yml"))
    if not manifest:
        return []
    from automix.train.recipe import load_recipe

    if load_recipe(args.recipe).data.kind == "collection":
        return []
    log.info("--data %s is a collection manifest: training on that collection (data.kind=collection)", args.data)
    return ["data.kind=collection"]


def _console_overrides(args: argparse.Namespace) -> list[str]:
    """``--set`` and the shortcut options in a console-mixer recipe's keys."""
    pairs = (("steps", args.steps), ("batch_size", args.batch_size), ("lr", args.lr))
    return list(args.overrides) + [f"{key}={value}" for key, value in pairs if value is not None]


def _train_console(recipe: Any, args: argparse.Namespace) -> int:
    """Train a learned console mixer (``"kind": "console-mixer"`` recipes) into ``--out``."""
    from pathlib import Path

    from automix.train.console_trainer import train_console_mixer

    if args.resume or args.device not in (None, "cpu", "auto"):
        raise AutomixError("a console-mixer recipe trains on the CPU from its start: drop --resume and --device")
    if args.init:
        recipe = recipe.model_copy(update={"init": args.init})
    out = Path(args.out or f"runs/{recipe.name}")
    path = train_console_mixer(recipe, out, data=args.data, progress=False if args.quiet else None)
    if not args.quiet:
        print(f"trained {recipe.name}: {path} (card {path.with_suffix('.json')}; history {out / 'metrics.json'})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from automix.train.recipe import list_recipes, load_recipe, recipes_dir

    from automix.train.console_trainer import console_recipe

    if args.list:
        for name in list_recipes():
            c = console_recipe(name)
            if c is not None:
                print(f"{name:28s} {'mix':8s} {'console':10s} {c.steps:>8d} steps  batch {c.batch_size:<3d} {c.description.split('. ')[0].split(' (')[0]}")
                continue
            r = load_recipe(name)
            print(f"{name:28s} {r.task:8s} {r.data.kind:10s} {r.steps:>8d} steps  batch {r.batch_size:<3d} {r.description.split('. ')[0].split(' (')[0]}")
        print(f"(files in {recipes_dir()})")
        return 0
    if args.recipe is None:
        raise AutomixError("give a RECIPE (see 'automix train --list')")
    if (console := console_recipe(args.recipe, _console_overrides(args))) is not None:
        return _train_console(console, args)
    from automix.train.trainer import train

    overrides = list(args.overrides) + _collection_override(args)
    for key, value in (("steps", args.steps), ("batch_size", args.batch_size), ("optimizer.lr", args.lr), ("precision", args.precision)):
        if value is not None:
            overrides.append(f"{key}={value}")
    result = train(
        args.recipe,
        data=args.data,
        out=args.out,
        resume=args.resume,
        overrides=overrides,
        device=args.device,
        progress=False if args.quiet else None,
        init=args.init,
    )
    if not args.quiet:
        print(result.summary())
    return 0