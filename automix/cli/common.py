"""What every ``automix`` command shares: the parser look, argument types, shared options, logging."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from typing import Any

log = logging.getLogger("automix")

#: ``--bit-depth`` values and the sample formats they write.
SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "32f": "FLOAT"}


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout; shows a default only where it says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, [], argparse.SUPPRESS) or action.option_strings == []:
            return text
        return f"{text} (default: {default})"


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line: ``error: ... (see 'automix mix --help')``, exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def command(sub: Any, name: str, func: Any, **kwargs: Any) -> argparse.ArgumentParser:
    """Add the command ``name`` running ``func(args) -> exit status``; ``kwargs`` as for add_parser."""
    p = sub.add_parser(name, formatter_class=Formatter, **kwargs)
    p.set_defaults(func=func)
    return p


# --------------------------------------------------------------------------- argument types


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def bounded(lo: float, hi: float, unit: str, example: str) -> Any:
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


true_peak = bounded(-30.0, 0.0, "dBTP", "-1")
lufs = bounded(-70.0, 0.0, "LUFS", "-14")


def loudness(text: str) -> float | str:
    """``auto``, ``off`` or a LUFS value."""
    if text.lower() in ("auto", "off"):
        return text.lower()
    try:
        return lufs(text)
    except argparse.ArgumentTypeError as exc:
        if "expected" in str(exc):
            raise argparse.ArgumentTypeError(f"expected LUFS (e.g. -14), 'auto' or 'off', got {text!r}") from None
        raise


# --------------------------------------------------------------------------- shared options


def add_verbosity(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only (no progress, no warnings)")
    g.add_argument("-v", "--verbose", action="store_true", help="print details (stem assignment, timings)")


def add_compute_options(p: argparse.ArgumentParser, *, output_help: str = "sample format of the files written") -> None:
    """--device, --precision, --bit-depth, --tile-seconds, --force (networks writing audio)."""
    p.add_argument("--force", action="store_true", help="replace outputs automix wrote before (never an input)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA when present)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"], help="compute precision (auto: bf16 where the hardware runs it natively)")
    p.add_argument("--bit-depth", default="24", choices=list(SUBTYPES), help=output_help)
    p.add_argument("--tile-seconds", type=positive_float, default=None, help="audio per tile; memory grows with it, the result does not change")


def add_mix_options(p: argparse.ArgumentParser, *, what: str = "the mix") -> None:
    """Everything the one mix flow takes (``automix mix`` and ``remix``), besides the stems."""
    add_compute_options(p, output_help=f"sample format of {what}")
    p.add_argument("--batch", type=positive_int, default=1, help="tiles per forward pass (GPU)")
    p.add_argument("--loudness", type=loudness, default="auto", metavar="LUFS|auto|off", help="integrated loudness of the mix: auto = the level the model's training mixes had (its card's output_lufs; -16 LUFS with --model rules), a LUFS value such as -14, or off for the network's own level")
    p.add_argument("--true-peak", type=true_peak, default=-1.0, metavar="DBTP", help="ceiling the loudness gain never pushes the true peak above")
    add_limiter_option(p, "a LUFS value is asked with --loudness")
    p.add_argument("--perspective", default="auto", choices=["auto", "drummer", "audience"], help="the side the kit is heard from: drummer (hi-hat left) or audience (mirrored); auto = as the model mixes (its card says; the default drums model and --model rules: drummer)")
    p.add_argument("--session", default=None, metavar="DIR", help="also write a DAW session: the stems on tracks, the mix on a muted A/B track")
    p.add_argument("--session-format", default="ardour", choices=["ardour", "reaper"], help="DAW of --session")


def add_limiter_option(p: argparse.ArgumentParser, when: str) -> None:
    p.add_argument("--limiter", action=argparse.BooleanOptionalAction, default=None,
                   help=f"a true-peak limiter closes the gap the ceiling leaves to the loudness target, taking at most "
                   f"12 dB off the peaks (default: on when {when}); --no-limiter: one gain only")


def mix_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~automix.inference.mix_settings.MixSettings` fields of :func:`add_mix_options`."""
    return {
        "force": args.force,
        "device": args.device,
        "precision": args.precision,
        "batch_size": args.batch,
        "subtype": SUBTYPES[args.bit_depth],
        "progress": False if args.quiet else None,
        "tile_seconds": args.tile_seconds,
        "loudness": args.loudness,
        "true_peak_db": args.true_peak,
        "limiter": args.limiter,
        "perspective": args.perspective,
        "session": args.session,
        "session_format": args.session_format,
    }


def session_line(result: Any, fmt: str) -> str:
    """What a command prints about the session it wrote with a mix."""
    if result.plan is not None:
        what = "the plan's gains and pans; the mix on the muted 'AI mix' track"
    else:
        fidelity = result.session_fidelity
        what = f"settings fitted to the mix: {fidelity.summary()}" + (f"; {fidelity.note}" if fidelity.note else "")
    return f"wrote {fmt} session {result.session.path} ({what})"


def reads_args(*names: str) -> Any:
    """Decorator for a command: the options ``names`` name its inputs (:func:`daw_bridge.outputs.reading`),
    which no output of the command may be or hold."""
    import functools

    def decorate(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(args: argparse.Namespace) -> int:
            from daw_bridge.outputs import reading

            values = [getattr(args, name, None) for name in names]
            with reading([p for v in values for p in (v if isinstance(v, list) else [v])]):
                return fn(args)

        return wrapper

    return decorate


# --------------------------------------------------------------------------- logging


class LevelFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            return f"error: {message}"
        if record.levelno >= logging.WARNING:
            return f"warning: {message}"
        return message


def setup_logging(args: argparse.Namespace) -> None:
    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LevelFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
