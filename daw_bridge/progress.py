"""Progress bars for long work: one look everywhere, shown on a terminal only (torch-free).

``enabled=None`` (what the CLI passes) shows the bar only when stderr is a terminal, so
redirected output and logs get no carriage returns; ``False`` never shows it; ``True`` always
does (a Python caller asked for it). A bar never warns when the work ends past its total, and
it clears its line when it closes, so what follows (the result, or an ``error:`` line) starts
on a clean line.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar", "seconds_bar"]


def _shown(enabled: bool | None) -> bool:
    if enabled is not None:
        return enabled
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def progress_bar(total: float, desc: str, unit: str, enabled: bool | None = None, **options: Any) -> Any:
    """A tqdm bar on stderr over ``total`` ``unit``\\ s, drawn only on a terminal (see module doc)."""
    from tqdm.auto import tqdm

    options.setdefault("leave", False)
    bar = tqdm(total=total, desc=desc, unit=unit, disable=not _shown(enabled), file=sys.stderr,
               dynamic_ncols=True, **options)
    return _Quiet(bar)


def seconds_bar(total_seconds: float, desc: str, enabled: bool | None = None) -> Any:
    """A bar over seconds of audio (``bar.update(seconds)``)."""
    return progress_bar(
        round(total_seconds, 2), desc, "s", enabled,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}]",
    )  # fmt: skip


class _Quiet:
    """A tqdm bar whose updates never run past its total (tqdm warns then)."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: float = 1) -> None:
        total = self._bar.total
        if total is not None:
            n = max(0.0, min(n, total - self._bar.n))
        self._bar.update(n)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bar, name)

    def __enter__(self) -> "_Quiet":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.close()
