"""The ``automix`` command: one module per command group, each command one call into the API.

Exit status: 0 success, 1 a problem with the input (one ``error:`` line on stderr),
2 a usage error, 130 interrupted (SIGINT), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Sequence

from automix import __version__
from automix.cli import console, data, daw, evaluation, mixing, separation, training
from automix.cli.common import Parser, setup_logging
from daw_bridge.errors import AutomixError

log = logging.getLogger("automix")

#: Command groups, in the order ``automix --help`` lists them.
GROUPS = (mixing, separation, data, training, evaluation, console, daw)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="automix",
        description="Automatic mixing with Wave-U-Nets: DAW stems in, a stereo mix (and sessions) out.",
        epilog="run 'automix COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action="version", version=f"automix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` blocks remove temporary files."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    saved = (list(log.handlers), log.level, log.propagate)
    setup_logging(args)
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    try:
        return args.func(args)
    except AutomixError as exc:
        log.error(" ".join(str(exc).split()))
        return 1
    except KeyboardInterrupt:
        log.error("interrupted; nothing half-written was left behind")
        return 130
    except _Terminated:
        log.error("terminated; nothing half-written was left behind")
        return 143
    except BrokenPipeError:
        return 1
    finally:  # leave the logger and the signal handler as we found them (main() may be called from Python)
        log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
