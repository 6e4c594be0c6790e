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
from daw_bridge.tempfiles import remove_live

log = logging.getLogger("automix")

MAIN_EXAMPLES = """\
examples:
  automix demo                                    # the shipped example: mix, session, report
  automix mix stems/ -o mix.wav                   # a folder of stems exported from a DAW
  automix mix stems/ -o mix.wav --loudness -14 --session my-song/
  automix render plan.json -o mix.wav --target-lufs -14
  automix session write plan.json --format reaper -o my-song-reaper/

run 'automix COMMAND --help' for a command's options and examples
"""

#: Command groups, in the order ``automix --help`` lists them.
GROUPS = (mixing, separation, data, training, evaluation, console, daw)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="automix",
        description="Automatic mixing with Wave-U-Nets: DAW stems in, a stereo mix (and sessions) out.",
        epilog=MAIN_EXAMPLES,
    )
    parser.add_argument("--version", action="version", version=f"automix {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in GROUPS:
        group.register(sub)
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that ``finally`` blocks remove temporary files."""


class _Interruptions:
    """SIGINT and SIGTERM raise in the main thread (KeyboardInterrupt, :class:`_Terminated`), so that
    ``finally`` blocks remove what was half-written; a second signal within :attr:`GRACE_S` of
    the first is ignored, so that an impatient second Ctrl-C does not cut that clean-up short."""

    GRACE_S = 3.0

    def __init__(self) -> None:
        self.first: float | None = None

    def __call__(self, signum: int, frame: object) -> None:
        import time

        now = time.monotonic()
        if self.first is not None and now - self.first < self.GRACE_S:
            return
        self.first = now
        raise KeyboardInterrupt() if signum == signal.SIGINT else _Terminated()

    def install(self) -> list[tuple[int, object]]:
        if not _main_thread():
            return []
        saved = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.getsignal(signum)
            if signum == signal.SIGINT and previous is not signal.default_int_handler:
                continue  # someone chose otherwise (SIG_IGN under nohup, a caller's own handler): leave it
            saved.append((signum, signal.signal(signum, self)))
        return saved


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    saved = (list(log.handlers), log.level, log.propagate)
    setup_logging(args)
    previous = _Interruptions().install()
    try:
        return args.func(args)
    except AutomixError as exc:
        log.error(" ".join(str(exc).split()))
        return 1
    except KeyboardInterrupt:
        remove_live()  # what a clean-up cut short by the signal did not reach
        log.error("interrupted; nothing half-written was left behind")
        return 130
    except _Terminated:
        remove_live()
        log.error("terminated; nothing half-written was left behind")
        return 143
    except BrokenPipeError:
        return 1
    finally:  # leave the logger and the signal handler as we found them (main() may be called from Python)
        log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]
        for signum, handler in previous:
            signal.signal(signum, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
