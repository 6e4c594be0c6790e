"""The ``automix`` command. Thin: every command is one call into :mod:`automix.inference.mixing`.

Exit status: 0 success, 1 a problem with the input (one ``error:`` line on stderr),
2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Any, Sequence

from automix import __version__
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
  automix mix band-stems/ -o mix.wav --model rules            # rule-based console: any stems, no weights
"""

DATASETS_EXAMPLES = """\
examples:
  automix datasets drums --out corpus/ --songs 100 --seed 0
  automix datasets drums --out corpus/ --songs 30 --seconds 30 --drummers 3 --force
  automix datasets manifest my_songs/ -o my_songs/manifest.json
  automix datasets manifest my_songs/ -o manifest.json --slots bass,drums,vocals,other
  automix datasets split /data/ENST-drums -o enst-split.json --seed 0
  automix datasets split /data/ENST-drums -o enst-by-drummer.json --test-drummer 3
"""

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

EVALUATE_EXAMPLES = """\
examples:
  automix evaluate --estimate my_mix.wav --reference reference.wav
  automix evaluate --estimate mix.wav --reference reference.wav --stems stems/ --out eval/
  automix evaluate --model drums --data corpus/ --split generated-drums-100-seed0 --out eval-drums/
  automix evaluate --model runs/paper/model.safetensors --data /data/ENST-drums --split enst-split.json --target dry
  automix evaluate --model drums --data corpus/ --subset all --limit 5 --no-plots -q --out eval/ --force
"""

FIT_EXAMPLES = """\
examples:
  automix fit stems/ --target engineer-mix.wav -o plan.json
  automix fit stems/ --target reference.wav -o plan.json --fit gain,pan   # what an Ardour/REAPER session can carry
  automix fit stems/ --target mix.wav -o plan.json --fit gain,pan,eq,comp --seconds 30
  automix mix stems/ -o net.wav && automix fit stems/ --target net.wav -o plan.json   # settings for the network's mix
  automix fit stems/ --target mix.wav -o plan.yaml --fit gain,pan,eq,comp --render fitted.wav --force
  automix session write plan.json --format ardour -o my-song/
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


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout; shows a default only where it says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, [], argparse.SUPPRESS) or action.option_strings == []:
            return text
        return f"{text} (default: {default})"


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line: ``error: ... (see 'automix mix --help')``, exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _bounded(lo: float, hi: float, unit: str, example: str) -> Any:
    """An argparse type: a number in [lo, hi] (``unit``), with one-line errors."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {unit} (e.g. {example}), got {text!r}") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"must be between {lo:g} and {hi:g} {unit}, got {text}")
        return value

    return parse


_true_peak = _bounded(-30.0, 0.0, "dBTP", "-1")
_lufs = _bounded(-70.0, 0.0, "LUFS", "-14")


def _loudness(text: str) -> float | str:
    if text.lower() in ("auto", "off"):
        return text.lower()
    try:
        return _lufs(text)
    except argparse.ArgumentTypeError as exc:
        if "expected" in str(exc):
            raise argparse.ArgumentTypeError(f"expected LUFS (e.g. -14), 'auto' or 'off', got {text!r}") from None
        raise


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only (no progress, no warnings)")
    g.add_argument("-v", "--verbose", action="store_true", help="print details (stem assignment, timings)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="automix",
        description="Automatic mixing with Wave-U-Nets: DAW stems in, a stereo mix (and sessions) out.",
        formatter_class=_Formatter,
        epilog="run 'automix COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action="version", version=f"automix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "mix",
        help="mix a folder of stems into a stereo file",
        description="Mix stems exported from a DAW with a Mix-Wave-U-Net. Files are matched to the "
        "model's slots by name (\"01 Kick In.wav\", \"OH L\", \"Tom 1\", \"HH\" ...); --map overrides.",
        epilog=MIX_EXAMPLES,
        formatter_class=_Formatter,
    )
    p.add_argument("stems", nargs="+", metavar="STEMS_DIR_OR_FILES", help="a folder of stems, or stem files")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="mix file to write (.wav or .flac)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="installed model name, checkpoint path, or 'rules' for the rule-based console (no weights; any stems) (default: the default model, see 'automix models list')")
    p.add_argument("--map", action="append", default=[], metavar="SLOT=FILE[:CH][+FILE]", help="assign a file (channel) to a slot; repeatable")
    p.add_argument("--map-file", default=None, metavar="MAP.json", help="JSON file {slot: file or [files]}")
    p.add_argument("--ignore-unmatched", action="store_true", help="skip files that match no slot instead of refusing")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"], help="compute precision (auto: bf16 where the hardware runs it natively)")
    p.add_argument("--bit-depth", default="24", choices=["16", "24", "32f"], help="sample format of OUT")
    p.add_argument("--loudness", type=_loudness, default="auto", metavar="LUFS|auto|off", help="integrated loudness of the mix: auto = the level the model's training mixes had (its card's output_lufs; -16 LUFS with --model rules), a LUFS value such as -14, or off for the network's own level")
    p.add_argument("--true-peak", type=_true_peak, default=-1.0, metavar="DBTP", help="ceiling the loudness gain never pushes the true peak above")
    p.add_argument("--perspective", default="auto", choices=["auto", "drummer", "audience"], help="the side the kit is heard from: drummer (hi-hat left) or audience (mirrored); auto = as the model mixes (its card says; the default drums model and --model rules: drummer)")
    p.add_argument("--tile-seconds", type=_positive_float, default=None, help="audio per tile; memory grows with it, the result does not change")
    p.add_argument("--batch", type=_positive_int, default=1, help="tiles per forward pass (GPU)")
    p.add_argument("--session", default=None, metavar="DIR", help="also write a DAW session: the stems on tracks, the mix on a muted A/B track")
    p.add_argument("--session-format", default="ardour", choices=["ardour", "reaper"], help="DAW of --session")
    _add_common(p)

    p = sub.add_parser(
        "datasets",
        help="prepare training data (drum corpus generator, collection manifests, ENST-drums splits)",
        description="Prepare training data. 'drums' renders a realistic drum multitrack corpus in the ENST-drums "
        "layout (DrumGizmo + Hydrogen's GMRockKit; dry and wet target mixes with their settings saved); "
        "'manifest' scans a folder of songs (one sub-folder of stems per song) and writes a starter manifest to "
        "edit; 'split' writes a reproducible ENST-drums split file.",
        epilog=DATASETS_EXAMPLES,
        formatter_class=_Formatter,
    )
    dsub = p.add_subparsers(dest="datasets_command", metavar="ACTION", parser_class=_Parser, required=True)
    drums = dsub.add_parser(
        "drums",
        help="generate a drum multitrack corpus in the ENST-drums layout",
        description="Render drum takes from generated MIDI grooves with DrumGizmo and a multi-mic kit built from "
        "Hydrogen's GMRockKit (needs: apt-get install drumgizmo hydrogen-data), one mono stem per mic slot, plus "
        "dry and wet mixes from a randomised mixing chain whose settings are saved per take. Deterministic for a seed.",
        formatter_class=_Formatter,
    )
    drums.add_argument("--out", required=True, metavar="DIR", help="corpus folder (created; must be empty unless --force)")
    drums.add_argument("--songs", type=_positive_int, required=True, help="number of takes")
    drums.add_argument("--seed", type=int, default=0, help="random seed")
    drums.add_argument("--seconds", type=_positive_float, default=20.0, help="length of every take in seconds")
    drums.add_argument("--drummers", type=int, default=1, choices=(1, 2, 3), help="spread takes over drummer_1..N; only drummer 3 has tom_3 when N > 1")
    drums.add_argument("--recipe", default=None, metavar="RECIPE.json", help="generator recipe (default: datasets/recipes/drums-default.json)")
    drums.add_argument("--cache", default=None, metavar="DIR", help="folder for the samples and the DrumGizmo kit (default: ~/.cache/automix)")
    drums.add_argument("--force", action="store_true", help="write into a non-empty folder, replacing generated files")
    _add_common(drums)
    man = dsub.add_parser("manifest", help="write a starter manifest for a multitrack collection", formatter_class=_Formatter)
    man.add_argument("root", metavar="ROOT", help="folder with one sub-folder per song")
    man.add_argument("-o", "--output", required=True, metavar="MANIFEST.json", help="manifest to write (.json, or .yaml with PyYAML)")
    man.add_argument("--slots", default=None, help="comma-separated slot names (default: one slot per role found)")
    man.add_argument("--force", action="store_true", help="overwrite the manifest if it exists")
    _add_common(man)
    spl = dsub.add_parser("split", help="write a seeded train/valid/test split of ENST-drums takes", formatter_class=_Formatter)
    spl.add_argument("root", metavar="ENST_ROOT", help="ENST-drums root (drummer_1, drummer_2, drummer_3)")
    spl.add_argument("-o", "--output", required=True, metavar="SPLIT.json", help="split file to write")
    spl.add_argument("--seed", type=int, default=0, help="seed of the split")
    spl.add_argument("--valid", type=_positive_float, default=0.1, help="fraction of takes for validation")
    spl.add_argument("--test", type=_positive_float, default=0.1, help="fraction of takes for testing")
    spl.add_argument("--include-hits", action="store_true", help="keep the isolated-hits takes (left out by default)")
    spl.add_argument("--test-drummer", type=int, choices=[1, 2, 3], default=None, help="put all takes of this drummer in the test set")
    spl.add_argument("--force", action="store_true", help="overwrite the split file if it exists")
    _add_common(spl)

    p = sub.add_parser(
        "train",
        help="train a Mix-Wave-U-Net or a separation Wave-U-Net from a recipe",
        description="Train from a recipe (a shipped name, see --list, or a JSON/YAML file): model, data, loss, "
        "optimiser, schedule, steps, batch, segment length. Uses CUDA when present (mixed precision), several GPUs "
        "under torchrun, else the CPU. Writes a run folder: recipe.json, model.safetensors + model.json (the best "
        "model and its card), metrics.csv, tensorboard/, train.log, checkpoints/.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=_Formatter,
    )
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="shipped recipe name or recipe file")
    p.add_argument("--list", action="store_true", help="list the shipped recipes and exit")
    p.add_argument("--data", default=None, metavar="DIR", help="data folder (ENST layout) or collection manifest; overrides the recipe's")
    p.add_argument("--out", default=None, metavar="RUN_DIR", help="run folder (default: runs/RECIPE_NAME)")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its newest checkpoint")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides", help="override a recipe key, e.g. optimizer.lr=3e-4 (repeatable)")
    p.add_argument("--steps", type=_positive_int, default=None, help="shortcut for --set steps=N")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="shortcut for --set batch_size=N (global batch)")
    p.add_argument("--lr", type=_positive_float, default=None, help="shortcut for --set optimizer.lr=X")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"], help="shortcut for --set precision=P")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--init", default=None, metavar="MODEL", help="start from this trained model (same architecture)")
    _add_common(p)

    p = sub.add_parser(
        "evaluate",
        help="score mixes against reference mixes (SI-SDR, MR-STFT, mix features)",
        description="Score a mix against a reference mix (--estimate/--reference; with --stems also three "
        "baselines), or a model over the takes of an ENST-layout dataset (--model/--data; the model's mix of each "
        "whole take beside the same baselines). The baselines: the plain sum of the stems, a loudness-equalised "
        "sum, and the rule-based console ('automix mix --model rules') at the reference's loudness. Metrics: "
        "SI-SDR, multi-resolution STFT distance, integrated loudness difference, and the mean absolute percentage "
        "error of loudness, spectral, dynamics and panning features. Prints a Markdown table; --out also writes "
        "metrics.json, report.md and plots.",
        epilog=EVALUATE_EXAMPLES,
        formatter_class=_Formatter,
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
    data.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="score the first N takes only")
    data.add_argument("--plot-take", default=None, metavar="TAKE", help="take to plot, e.g. drummer_1/001_phrase_rock (default: the first)")
    data.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    data.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16", "fp16"], help="compute precision of the model (default: fp32)")
    data.add_argument("--loudness", type=_loudness, default=None, metavar="LUFS|auto|off", help="bring the model's mix to this loudness first, as 'automix mix' does (default: auto, the level of its training mixes)")
    data.add_argument("--perspective", default=None, choices=["auto", "drummer", "audience"], help="hear the model's mix from this side, as 'automix mix --perspective' does (default: auto, as the model mixes)")
    p.add_argument("--out", default=None, metavar="DIR", help="write metrics.json, report.md and plots here (created; must be empty unless --force)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots into --out")
    p.add_argument("--no-rules", action="store_true", help="leave the rule-based console baseline out (it renders every stem: the slowest)")
    p.add_argument("--force", action="store_true", help="write into a non-empty --out folder, replacing the report files")
    p.set_defaults(evaluate_parser=p)
    _add_common(p)

    p = sub.add_parser(
        "fit",
        help="fit console settings (gain, pan, EQ, compressor) so the stems' mix approaches a target mix",
        description="Find mixing-console settings whose render approaches a target mix (a human mix, a reference, "
        "or a Mix-Wave-U-Net output): least-squares faders and pans first, then the EQ on the song's cross-spectra "
        "and the compressors on excerpts, and write them as a mix plan that 'automix render' renders with "
        "pedalboard and 'automix session write' turns into a DAW session (Ardour and REAPER sessions carry the "
        "faders and pans only). Reports SNR and MR-STFT distance to the target of the closed-form start, the "
        "console's render and pedalboard's.",
        epilog=FIT_EXAMPLES,
        formatter_class=_Formatter,
    )
    p.add_argument("stems", nargs="+", metavar="STEMS_DIR_OR_FILES", help="mono stems: a folder or files")
    p.add_argument("--target", required=True, metavar="MIX", help="the stereo mix to approach")
    p.add_argument("-o", "--output", required=True, metavar="PLAN.json", help="mix plan to write (.json or .yaml)")
    p.add_argument("--fit", default="gain,pan,eq", metavar="GROUPS", help="what to fit, comma-separated: gain, pan, eq, comp, master_eq, master_comp")
    p.add_argument("--loss", default="mse", choices=["mse", "spectral"], help="mse: the waveform's squared error (SNR); spectral: quiet bands count more")
    p.add_argument("--steps", type=_positive_int, default=200, help="most objective evaluations of the EQ stage (compressors: 30 a round)")
    p.add_argument("--patience", type=_positive_int, default=50, help="stop a stage after this many evaluations without improvement")
    p.add_argument("--seconds", type=_positive_float, default=None, help="time budget for the refinement (the closed form and the final renders are not cut)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--render", default=None, metavar="MIX.wav", help="also render the fitted plan with pedalboard to this file")
    p.add_argument("--force", action="store_true", help="overwrite PLAN (and --render's file) if they exist")
    _add_common(p)

    p = sub.add_parser(
        "demo",
        help="mix the shipped example stems with the default model: mix, Ardour session, report",
        description="Mix the example drum stems shipped with automix (one generated take, 8 s, eight mono stems) "
        "with the default model (or --model), and write into one new folder: mix.wav, stems/, session/ (an "
        "Ardour session with the stems on tracks and the mix on a muted 'AI mix' track) and report/ (the "
        "evaluation against the take's reference mix beside the sum-of-stems, loudness-equalised-sum and "
        "rule-based-console baselines, with plots). Prints where each is.",
        epilog=DEMO_EXAMPLES,
        formatter_class=_Formatter,
    )
    p.add_argument("-o", "--out", default="automix-demo", metavar="DIR", help="folder to create (default: automix-demo)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="mixing model (default: the default model)")
    p.add_argument("--no-plots", action="store_true", help="do not draw the report's PNG plots")
    p.add_argument("--force", action="store_true", help="replace an existing DIR (only once everything is written)")
    _add_common(p)

    p = sub.add_parser("models", help="list installed models or show a model card", epilog=MODELS_EXAMPLES, formatter_class=_Formatter)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_Parser)
    msub.add_parser("list", help="installed models")
    show = msub.add_parser("show", help="print a model card (JSON)")
    show.add_argument("model", metavar="NAME_OR_PATH")
    _add_common(p)

    from automix.cli import daw as cli_daw  # render, session, presets, plugins (the DAW side; no torch)

    cli_daw.add_commands(sub, formatter=_Formatter, parser_class=_Parser, add_common=_add_common, positive_int=_positive_int)
    from automix.cli import separate as cli_sep  # separate, remix

    cli_sep.add_commands(
        sub, formatter=_Formatter, parser_class=_Parser, add_common=_add_common, positive_int=_positive_int,
        positive_float=_positive_float,
    )
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.ERROR if getattr(args, "quiet", False) else logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LevelFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


class _LevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            return f"error: {message}"
        if record.levelno >= logging.WARNING:
            return f"warning: {message}"
        return message


def _cmd_mix(args: argparse.Namespace) -> int:
    from automix.inference.mixing import mix

    mapping = None
    if args.map_file and args.map:
        raise AutomixError("use either --map or --map-file, not both")
    if args.map_file:
        mapping = args.map_file
    elif args.map:
        mapping = args.map
    subtype = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}[args.bit_depth]
    if args.session is not None:
        from daw_bridge.outputs import check_output_folder

        check_output_folder(args.session, force=args.force)  # fail before mixing
    if args.model == "rules":
        return _mix_with_rules(args, mapping, subtype)
    result = mix(
        args.stems,
        args.output,
        model=args.model,
        mapping=mapping,
        ignore_unmatched=args.ignore_unmatched,
        force=args.force,
        device=args.device,
        precision=args.precision,
        batch_size=args.batch,
        subtype=subtype,
        progress=False if args.quiet else None,
        tile_seconds=args.tile_seconds,
        loudness=args.loudness,
        true_peak_db=args.true_peak,
        perspective=args.perspective,
    )
    if not args.quiet:
        level = "" if result.loudness_lufs is None else f"{result.loudness_lufs:.1f} LUFS, "
        print(
            f"wrote {result.output} ({result.duration:.1f} s, {result.sample_rate} Hz, {level}peak {result.peak_db:.1f} dBFS) "
            f"with model {result.model} in {result.seconds:.1f} s ({result.realtime_factor:.3f} x real time)"
        )
    if args.session is not None:
        from pathlib import Path

        from daw_bridge import session_from_assignment, write_session

        session = session_from_assignment(result.assignment, sample_rate=result.sample_rate, name=Path(args.output).stem)
        written = write_session(session, args.session, format=args.session_format, mix=result.output, force=args.force)
        for note in written.notes:
            log.info(note)
        if not args.quiet:
            print(f"wrote {args.session_format} session {written.path} (the mix is on the muted 'AI mix' track)")
    return 0


def _mix_with_rules(args: argparse.Namespace, mapping, subtype: str) -> int:
    """``automix mix --model rules``: the rule-based console (no weights), rendered with pedalboard."""
    from pathlib import Path

    from daw_bridge.render import render

    from daw_bridge.files import check_output_path
    from daw_bridge.rules import rule_based_plan

    if mapping is not None:
        raise AutomixError("--map/--map-file assign model slots; with --model rules roles come from file names")
    check_output_path(args.output, overwrite=args.force)
    stems = args.stems[0] if len(args.stems) == 1 else args.stems
    level = {} if args.loudness == "auto" else {"target_lufs": args.loudness} if args.loudness != "off" else {}
    side = "drummer" if args.perspective == "auto" else args.perspective
    plan = rule_based_plan(stems, name=Path(args.output).stem, true_peak_db=args.true_peak, perspective=side, **level)
    if args.loudness == "off":
        plan = plan.model_copy(update={"target_lufs": None})
    for note in plan.notes:
        log.info(note)
    result = render(plan, args.output, overwrite=args.force, subtype=subtype, progress=not args.quiet)
    for warning in result.warnings:
        log.warning(warning)
    if not args.quiet:
        print(result.summary() + " (rule-based console)")
    if args.session is not None:
        from daw_bridge import write_session

        written = write_session(plan, args.session, format=args.session_format, mix=result.path, force=args.force)
        for note in written.notes:
            log.info(note)
        if not args.quiet:
            print(f"wrote {args.session_format} session {written.path} (the plan's gains and pans; the mix on the muted 'AI mix' track)")
    return 1 if result.failed_plugins else 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from pathlib import Path

    from daw_bridge.files import check_output_path

    if args.datasets_command == "drums":
        from automix.data.generate import generate_corpus

        summary = generate_corpus(
            Path(args.out),
            args.songs,
            seed=args.seed,
            seconds=args.seconds,
            drummers=args.drummers,
            overwrite=args.force,
            progress=False if args.quiet else None,
            cache=Path(args.cache) if args.cache else None,
            recipe=args.recipe,
        )
        if not args.quiet:
            print(f"wrote {len(summary.takes)} takes ({summary.seconds:g} s of audio, {len(summary.paths)} files) to {summary.out}")
        return 0
    check_output_path(args.output, overwrite=args.force)  # fail before scanning anything
    if args.datasets_command == "manifest":
        from automix.data.collection import scan_collection, write_manifest

        manifest = scan_collection(args.root, slots=args.slots)
        path = write_manifest(manifest, args.output, overwrite=args.force)
        unassigned = sum(len(song.unassigned) for song in manifest.songs)
        if not args.quiet:
            print(
                f"wrote {path}: {len(manifest.songs)} songs, slots {', '.join(manifest.slots)}"
                + (f"; {unassigned} file(s) left unassigned: edit the manifest" if unassigned else "")
            )
        return 0
    from automix.data.enst import make_enst_split

    if args.valid + args.test >= 1:
        raise AutomixError("--valid and --test together must leave takes for training (sum below 1)")
    fractions = {"train": 1 - args.valid - args.test, "valid": args.valid, "test": args.test}
    by_drummer = None
    if args.test_drummer is not None:
        fractions = {"train": 1 - args.valid, "valid": args.valid}
        by_drummer = {"test": [args.test_drummer]}
    split = make_enst_split(
        args.root,
        seed=args.seed,
        fractions=fractions,
        exclude_categories=() if args.include_hits else ("hits",),
        by_drummer=by_drummer,
    )
    path = split.save(args.output, overwrite=args.force)
    if not args.quiet:
        sizes = ", ".join(f"{name} {len(split.items(name))}" for name in split.subsets)
        print(f"wrote {path}: {sizes} takes (seed {args.seed})")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from automix.train.recipe import list_recipes, load_recipe, recipes_dir

    if args.list:
        for name in list_recipes():
            r = load_recipe(name)
            print(f"{name:28s} {r.task:8s} {r.data.kind:10s} {r.steps:>8d} steps  batch {r.batch_size:<3d} {r.description.split('. ')[0].split(' (')[0]}")
        print(f"(files in {recipes_dir()})")
        return 0
    if args.recipe is None:
        raise AutomixError("give a RECIPE (see 'automix train --list')")
    from automix.train.trainer import train

    overrides = list(args.overrides)
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


def _cmd_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from automix.inference.mixing import collect_stem_files
    from daw_bridge.files import check_output_path

    check_output_path(args.output, overwrite=args.force)  # fail before fitting
    if args.render is not None:
        check_output_path(args.render, overwrite=args.force)
    files, notes = collect_stem_files(args.stems)
    for note in notes:
        log.info(note)
    groups = tuple(g.strip() for g in args.fit.split(",") if g.strip())
    from automix.console.fit import fit_console

    result = fit_console(
        [str(f) for f in files],
        args.target,
        groups=groups,
        loss=args.loss,
        steps=args.steps,
        patience=args.patience,
        seconds=args.seconds,
        seed=args.seed,
        progress=not args.quiet,
        name=Path(args.output).stem,
    )
    path = result.plan.save(args.output, overwrite=args.force)
    if not args.quiet:
        print(result.summary())
        print(f"wrote {path}")
    if args.render is not None:
        from daw_bridge.render import render

        rendered = render(result.plan, args.render, overwrite=args.force, normalize=False, progress=not args.quiet)
        for warning in rendered.warnings:
            log.warning(warning)
        if not args.quiet:
            print(rendered.summary())
    return 0


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


def _cmd_models(args: argparse.Namespace) -> int:
    from automix.models import pretrained
    from automix.models.checkpoint import checkpoint_paths, read_card

    if args.models_command in (None, "list"):
        cards = pretrained.list_models()
        if not cards:
            print("no models installed; pass --model PATH to use a checkpoint")
        for name, card in cards.items():
            print(f"{name:16s} {card.task:8s} {len(card.input_names)} in -> {len(card.output_names)} out  {card.sample_rate} Hz  {card.description}")
        return 0
    path = pretrained.resolve(args.model)
    card = read_card(checkpoint_paths(path)[1])
    print(card.model_dump_json(indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    saved = (list(log.handlers), log.level, log.propagate)
    _setup_logging(args)
    try:
        if args.command == "mix":
            return _cmd_mix(args)
        if args.command == "models":
            return _cmd_models(args)
        if args.command == "demo":
            return _cmd_demo(args)
        if args.command == "datasets":
            return _cmd_datasets(args)
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "evaluate":
            return _run_evaluate(args)
        if args.command == "fit":
            return _cmd_fit(args)
        from automix.cli import separate as cli_sep

        status = cli_sep.run(args)
        if status is not None:
            return status
        from automix.cli import daw as cli_daw

        status = cli_daw.run(args)
        if status is not None:
            return status
    except AutomixError as exc:
        log.error(" ".join(str(exc).split()))
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except BrokenPipeError:
        return 1
    finally:  # leave the logger as we found it (main() may be called from Python)
        log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
