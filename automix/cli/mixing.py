"""``automix mix``, ``demo`` and ``models``: mixing stems, the shipped example, the installed models."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from automix.cli.common import Parser, add_mix_options, add_verbosity, command, mix_options, session_line
from daw_bridge.errors import AutomixError

log = logging.getLogger("automix")

MIX_EXAMPLES = """\
examples:
  automix mix stems/ -o mix.wav
  automix mix stems/ -o mix.flac --model path/to/drums.safetensors --force
  automix mix "01 Kick In.wav" "02 Snare.wav" OH.wav -o mix.wav
  automix mix stems/ -o mix.wav --map kick="Kick In.wav" --map overhead_L=OH.wav:0 --map overhead_R=OH.wav:1
  automix mix stems/ -o mix.wav --ignore-unmatched --precision fp32 -v
  automix mix stems/ -o mix.wav --session mix-session/       # + an Ardour session to keep editing
  automix mix stems/ -o mix.wav --loudness -14               # streaming level (true peak under -1 dBTP)
  automix mix stems/ -o mix.wav --perspective audience       # the kit as seen from the front (mirrored)
  automix mix band-stems/ -o mix.wav                          # band stems: the rule-based console is picked
  automix mix drum-stems/ -o mix.wav --model rules            # rule-based console: any stems, no weights
"""
DEMO_EXAMPLES = """\
examples:
  automix demo                                 # writes automix-demo/
  automix demo -o my-demo --force
  automix demo --model runs/small/model.safetensors -o demo-small
"""
MODELS_EXAMPLES = """\
examples:
  automix models list
  automix models show drums
  automix models show path/to/model.safetensors
"""


def register(sub: Any) -> None:
    p = command(
        sub, "mix", _cmd_mix,
        help="mix a folder of stems into a stereo file",
        description="Mix stems exported from a DAW with a Mix-Wave-U-Net. Files are matched to the "
        "model's slots by name (\"01 Kick In.wav\", \"OH L\", \"Tom 1\", \"HH\" ...); --map overrides.",
        epilog=MIX_EXAMPLES,
    )
    p.add_argument("stems", nargs="+", metavar="STEMS_DIR_OR_FILES", help="a folder of stems, or stem files")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="mix file to write (.wav or .flac)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="installed model name, checkpoint path, or 'rules' for the rule-based console (no weights; any stems) (default: picked by the stems: drum mic stems get the default drum mixer, other stems the rule-based console; the summary says which)")
    p.add_argument("--map", action="append", default=[], metavar="SLOT=FILE[:CH][+FILE]", help="assign a file (channel) to a slot; repeatable")
    p.add_argument("--map-file", default=None, metavar="MAP.json", help="JSON file {slot: file or [files]}")
    p.add_argument("--ignore-unmatched", action="store_true", help="skip files that match no slot instead of refusing")
    add_mix_options(p)
    add_verbosity(p)

    p = command(
        sub, "demo", _cmd_demo,
        help="mix the shipped example stems with the default model: mix, Ardour session, report",
        description="Mix the example drum stems shipped with automix (one generated take, 8 s, eight mono stems) "
        "with the default model (or --model), and write into one new folder: mix.wav, stems/, session/ (an "
        "Ardour session with the stems on tracks and the mix on a muted 'AI mix' track) and report/ (the "
        "evaluation against the take's reference mix beside the sum-of-stems, loudness-equalised-sum and "
        "rule-based-console baselines, with plots and index.html, a page to listen to them A/B). Prints where each is.",
        epilog=DEMO_EXAMPLES,
    )
    p.add_argument("-o", "--out", default="automix-demo", metavar="DIR", help="folder to create (default: automix-demo)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="mixing model (default: the default model)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the report's PNG plots")
    p.add_argument("--force", action="store_true", help="replace an existing DIR (only once everything is written)")
    add_verbosity(p)

    p = command(sub, "models", _cmd_models, help="list installed models or show a model card", epilog=MODELS_EXAMPLES)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=Parser)
    msub.add_parser("list", help="installed models", epilog=MODELS_EXAMPLES)
    show = msub.add_parser("show", help="print a model card (JSON), once its weights are checked against it",
                           epilog=MODELS_EXAMPLES)
    show.add_argument("model", metavar="NAME_OR_PATH")
    add_verbosity(p)


def _cmd_mix(args: argparse.Namespace) -> int:
    from automix.inference.mixing import mix

    if args.map_file and args.map:
        raise AutomixError("use either --map or --map-file, not both")
    mapping = args.map_file or args.map or None
    result = mix(args.stems, args.output, model=args.model, mapping=mapping, ignore_unmatched=args.ignore_unmatched,
                 **mix_options(args))
    if not args.quiet:
        print(result.summary())
        if result.session is not None:
            print(session_line(result, args.session_format))
    return 1 if result.failed_plugins else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from automix.demo import run_demo

    result = run_demo(args.out, model=args.model, force=args.force, progress=False if args.quiet else None,
                      plots=not args.no_plots)
    for note in result.notes:
        log.info(note)
    if not args.quiet:
        print(result.summary())
        print(f"done in {result.seconds:.1f} s")
    return 0


def _use_for(name: str, card: Any) -> str:
    """What a model is for, in a few words (the default of its task marked)."""
    from automix.models import pretrained

    default = name in pretrained.DEFAULT_BY_TASK.get(card.task, ())[:1]
    if card.task == "separate":
        what = "drum bus -> stems (separate, remix)"
    elif card.architecture == "console-mixer":
        what = "stems -> console settings (gain, pan, EQ), rendered and editable in a DAW"
    else:
        what = "drum mic stems -> stereo mix (waveform; the session gets fitted faders and pans)"
    return f"{'[default] ' if default else ''}{what}"


def _cmd_models(args: argparse.Namespace) -> int:
    from automix.models import pretrained

    if args.models_command in (None, "list"):
        cards = pretrained.list_models()
        if not cards:
            print("no models installed; pass --model PATH to use a checkpoint")
        for name, card in cards.items():
            print(f"{name:16s} {card.task:8s} {len(card.input_names)} in -> {len(card.output_names)} out  {card.sample_rate} Hz  "
                  f"{_use_for(name, card)}. {card.description}")
        if cards:
            print(f"{'rules':16s} {'mix':8s} any stems, no weights  the rule-based console: role balance (or the recorded "
                  "balance where the stems are one recording), pans, high-passes; writes an editable session")
            print("'automix mix' without --model: drum mic stems -> the default drum mixer; other stems -> the rule-based "
                  "console (or a learned console mixer trained on their roles)")
        return 0
    card = pretrained.load(args.model).card  # the weights checked against the card: no card of a pickle
    print(card.model_dump_json(indent=2))
    return 0