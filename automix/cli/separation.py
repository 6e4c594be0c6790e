"""The separation commands of ``automix``: ``separate`` (stem extraction) and ``remix``.

Thin, like the rest of the CLI: each command is one call into :mod:`automix.inference.separation`.
Registered on the main parser by :func:`add_commands`; :func:`run` runs them.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from automix.cli.common import (
    SUBTYPES,
    add_compute_options,
    add_mix_options,
    add_verbosity,
    command,
    mix_options,
    session_line,
)

log = logging.getLogger("automix")

SEPARATE_EXAMPLES = """\
examples:
  automix separate drums.wav -o stems/                  # kick.wav, snare.wav, hi-hat.wav, toms.wav, overheads.wav
  automix separate song.flac -o stems/ --model runs/sep/model.safetensors --force
  automix separate long-take.wav -o stems/ --tile-seconds 5 --precision fp32 -v
  automix separate drums.wav -o stems/ --format flac --bit-depth 16
"""

REMIX_EXAMPLES = """\
examples:
  automix remix drums.wav -o remix.wav                  # separate, then mix with the default mixer (drums)
  automix remix drums.wav -o remix.wav --model rules    # ... or with the rule-based console
  automix remix drums.wav -o remix.wav --session my-song/        # + an Ardour session (stems kept in remix-stems/)
  automix remix drums.wav -o remix.wav --stems stems/ --separator runs/sep/model.safetensors --force
"""


def register(sub: Any) -> None:
    """Register ``separate`` and ``remix`` on the ``automix`` parser."""
    p = command(
        sub, "separate", _cmd_separate,
        help="extract stems from a mix with a separation Wave-U-Net",
        description="Separate a mono or stereo mix into one file per source (named by source) with a separation "
        "Wave-U-Net (Stoller et al. 2018, on the same core as the mixer). Any length: the model runs in tiles "
        "with no seam. The default model separates a drum bus into kick, snare, hi-hat, toms and overheads "
        "(see 'automix models show drums-separator'). Files are written atomically at the model's sample rate; "
        "existing files are replaced only with --force.",
        epilog=SEPARATE_EXAMPLES,
    )
    p.add_argument("mix", metavar="MIX", help="the mix to separate (.wav, .flac, ...; mono or stereo)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for the sources (created if missing)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                   help="separation model: installed name or .safetensors path (default: drums-separator)")
    p.add_argument("--format", default="wav", choices=["wav", "flac"], help="file format of the sources")
    add_compute_options(p)
    add_verbosity(p)

    p = command(
        sub, "remix", _cmd_remix,
        help="separate a mix, then mix the stems again (Mix-Wave-U-Net or the rule-based console)",
        description="Separate MIX into stems with a separation Wave-U-Net, then mix them with a Mix-Wave-U-Net "
        "(default: the drums mixer; separated toms feed tom_1 and the overheads both overhead slots) or the "
        "rule-based console (--model rules). Optionally writes a DAW session like 'automix mix --session'.",
        epilog=REMIX_EXAMPLES,
    )
    p.add_argument("mix", metavar="MIX", help="the mix to separate and remix")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="remix file to write (.wav or .flac)")
    p.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                   help="mixer: installed name, .safetensors path, or 'rules' (default: the default mixer)")
    p.add_argument("--separator", default=None, metavar="NAME_OR_PATH", help="separation model (default: drums-separator)")
    p.add_argument("--stems", default=None, metavar="DIR", help="keep the separated stems in DIR (default: not kept, "
                   "except with --session: OUT-stems/ beside OUT)")
    add_mix_options(p, what="the remix")
    add_verbosity(p)


def _cmd_separate(args: argparse.Namespace) -> int:
    from automix.inference.separation import separate
    from daw_bridge.errors import OutputError

    if args.format == "flac" and args.bit_depth == "32f":
        raise OutputError("FLAC holds 16- or 24-bit samples; use --format wav for --bit-depth 32f")
    result = separate(
        args.mix, args.output, args.model, force=args.force, device=args.device, precision=args.precision,
        tile_seconds=args.tile_seconds, subtype=SUBTYPES[args.bit_depth], ext="." + args.format,
        progress=False if args.quiet else None,
    )
    if not args.quiet:
        names = ", ".join(p.name for p in result.files.values())
        print(f"wrote {len(result.files)} sources to {result.out_dir}: {names} ({result.duration:.1f} s, "
              f"{result.sample_rate} Hz) with model {result.model} in {result.seconds:.1f} s "
              f"({result.realtime_factor:.3f} x real time)")
    return 0


def _cmd_remix(args: argparse.Namespace) -> int:
    from automix.inference.separation import remix

    result = remix(args.mix, args.output, separator=args.separator, mixer=args.model, stems_dir=args.stems,
                   **mix_options(args))
    for note in result.notes:
        log.info(note)
    if not args.quiet:
        kept = f"; stems in {result.stems_dir}" if result.stems_dir is not None else ""
        print(f"wrote {result.output}: separated with {result.separation.model}, mixed with {result.mixer} "
              f"in {result.seconds:.1f} s{kept}")
        if result.mix is not None and result.mix.session is not None:
            print(session_line(result.mix, args.session_format))
    return 0
