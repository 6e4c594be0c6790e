"""``automix fit``: console settings that approach a target mix."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from automix.cli.common import add_verbosity, command, positive_float, positive_int, reads_args

log = logging.getLogger("automix")

FIT_EXAMPLES = """\
examples:
  automix fit stems/ --target engineer-mix.wav -o plan.json
  automix fit stems/ --target reference.wav -o plan.json --fit gain,pan   # what a REAPER session can carry
  automix fit stems/ --target mix.wav -o plan.json --fit gain,pan,eq,comp --seconds 30
  automix fit stems/ --target mix.wav -o plan.json --for-ardour && automix session write plan.json --format ardour -o song/
  automix mix stems/ -o net.wav && automix fit stems/ --target net.wav -o plan.json   # settings for the network's mix
  automix fit stems/ --target mix.wav -o plan.yaml --fit gain,pan,eq,comp --render fitted.wav --force
  automix session write plan.json --format ardour -o my-song/
"""


def register(sub: Any) -> None:
    p = command(
        sub, "fit", _cmd_fit,
        help="fit console settings (gain, pan, EQ, compressor) so the stems' mix approaches a target mix",
        description="Find mixing-console settings whose render approaches a target mix (a human mix, a reference, "
        "or a Mix-Wave-U-Net output): least-squares faders and pans first, then the EQ on the song's cross-spectra "
        "and the compressors on excerpts, and write them as a mix plan that 'automix render' renders with "
        "pedalboard and 'automix session write' turns into a DAW session (Ardour holds EQ and compressors as its own ACE "
        "plugins, REAPER the faders and pans only). Reports SNR and MR-STFT distance to the target of the closed-form start, the "
        "console's render and pedalboard's.",
        epilog=FIT_EXAMPLES,
    )
    p.add_argument("stems", nargs="+", metavar="STEMS_DIR_OR_FILES", help="mono stems: a folder or files")
    p.add_argument("--target", required=True, metavar="MIX", help="the stereo mix to approach")
    p.add_argument("-o", "--output", required=True, metavar="PLAN.json", help="mix plan to write (.json or .yaml)")
    p.add_argument("--fit", default="gain,pan,eq", metavar="GROUPS", help="what to fit, comma-separated: gain, pan, eq, comp, master_eq, master_comp")
    p.add_argument("--loss", default="mse", choices=["mse", "spectral"], help="mse: the waveform's squared error (SNR); spectral: quiet bands count more")
    p.add_argument("--steps", type=positive_int, default=200, help="most objective evaluations of the EQ stage (compressors: 30 a round)")
    p.add_argument("--patience", type=positive_int, default=50, help="stop a stage after this many evaluations without improvement")
    p.add_argument("--seconds", type=positive_float, default=None, help="time budget for the refinement (the closed form and the final renders are not cut)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--for-ardour", action="store_true",
                   help="hold the EQ shelves at the one Q Ardour's ACE EQ has, so an Ardour session plays the plan's EQ exactly")
    p.add_argument("--render", default=None, metavar="MIX.wav", help="also render the fitted plan with pedalboard to this file")
    p.add_argument("--force", action="store_true", help="overwrite PLAN (and --render's file) if they exist")
    add_verbosity(p)


@reads_args("stems", "target")
def _cmd_fit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from automix.inference.stem_files import collect_stem_files
    from daw_bridge.outputs import check_output_path

    check_output_path(args.output, overwrite=args.force)  # fail before fitting
    if args.render is not None:
        check_output_path(args.render, overwrite=args.force)
    files, notes = collect_stem_files(args.stems)
    for note in notes:
        log.info(note)
    groups = tuple(g.strip() for g in args.fit.split(",") if g.strip())
    from automix.console.fit import ARDOUR_HOLD, fit_console

    result = fit_console(
        [str(f) for f in files],
        args.target,
        groups=groups,
        loss=args.loss,
        steps=args.steps,
        seconds=args.seconds,
        patience=args.patience,
        seed=args.seed,
        hold=ARDOUR_HOLD if args.for_ardour else (),
        progress=False if args.quiet else None,
        name=Path(args.output).stem,
    )
    path = result.plan.save(args.output, overwrite=args.force)
    if not args.quiet:
        print(result.summary())
        print(f"wrote {path}")
    if args.render is not None:
        from daw_bridge.render import render

        rendered = render(result.plan, args.render, overwrite=args.force, normalize=False, progress=False if args.quiet else None)
        for warning in rendered.warnings:
            log.warning(warning)
        if not args.quiet:
            print(rendered.summary())
    return 0