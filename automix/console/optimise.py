"""One refinement stage of a console fit: L-BFGS with keep-best, early stopping, a time budget and progress.

:func:`run_lbfgs_stage` moves the trainable parameters of a
:class:`~automix.console.model.Console` (unconstrained, each mapped onto its range) to lower a
smooth deterministic objective with L-BFGS (strong Wolfe line search), keeps the parameters of
the best value seen and restores them at the end. On the spectral objective it reaches in a few
hundred evaluations what Adam (today's fitter) does not in thousands: the fader and the four EQ
bands of a track form long, flat valleys.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from automix.console.model import Console

__all__ = ["ABSOLUTE_DELTA", "StageRecord", "StageSettings", "one_thread", "run_lbfgs_stage"]

#: An improvement must beat this (objective units: relative squared error) besides ``min_delta``.
ABSOLUTE_DELTA: float = 1e-12


@dataclass
class StageSettings:
    """``steps``: objective evaluations at most; stop after ``patience`` evaluations without a
    relative improvement of ``min_delta``; ``deadline``: a ``time.perf_counter()`` value to stop
    at (None: none); ``progress``: a progress bar."""

    steps: int = 500
    patience: int = 50
    min_delta: float = 1e-4
    deadline: float | None = None
    progress: bool = False


@dataclass
class StageRecord:
    """What a stage did: its objective at the start and after each round of L-BFGS (``values``),
    the index of the kept value (``best``), ``steps`` taken, why it stopped, ``seconds``."""

    name: str
    values: list[float] = field(default_factory=list)
    best: int = 0
    steps: int = 0
    stopped: str = "all steps"
    seconds: float = 0.0

    @property
    def improved(self) -> bool:
        return self.best > 0

    def line(self) -> str:
        first, kept = self.values[0], self.values[self.best]
        return (f"{self.name}: {self.steps} steps in {self.seconds:.1f} s ({self.stopped}), objective "
                f"{_db(first):.2f} -> {_db(kept):.2f} dB")  # fmt: skip


def _db(value: float) -> float:
    return 10.0 * math.log10(max(value, 1e-30))


class _Best:
    """The best objective value so far and the parameters that gave it."""

    def __init__(self, console: Console, settings: StageSettings) -> None:
        self.console, self.settings = console, settings
        self.value, self.index, self.since = math.inf, 0, 0
        self.state = self._snapshot()

    def _snapshot(self) -> dict[str, Tensor]:
        return {k: v.detach().clone() for k, v in self.console.state_dict().items()}

    def offer(self, value: float, index: int, state: dict[str, Tensor] | None = None) -> None:
        margin = max(self.settings.min_delta * abs(self.value), ABSOLUTE_DELTA) if math.isfinite(self.value) else 0.0
        if value < self.value - margin:
            self.value, self.index, self.since = value, index, 0
            self.state = state if state is not None else self._snapshot()
        else:
            self.since += 1

    def restore(self) -> None:
        self.console.load_state_dict(self.state)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread inside, restored after: a fit's tensors are small or split into blocks,
    and a second thread costs more than it brings (3-8x slower measured on 2 busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_lbfgs_stage(name: str, console: Console, objective: Callable[[], Tensor], settings: StageSettings,
                    inner: int = 10) -> StageRecord:  # fmt: skip
    """Minimise ``objective()`` with L-BFGS: ``settings.steps`` evaluations at most, judged after
    every ``inner`` iterations (a round); stops when no round improves by ``min_delta``
    (relative) for ``patience`` evaluations, at the deadline, or at a non-finite value."""
    started = time.perf_counter()
    record = StageRecord(name)
    params = [p for p in console.parameters() if p.requires_grad]
    if params:
        _lbfgs(console, objective, params, settings, inner, record)
    record.seconds = time.perf_counter() - started
    return record


def _lbfgs(console: Console, objective: Callable[[], Tensor], params: list[Tensor], settings: StageSettings,
           inner: int, record: StageRecord) -> None:  # fmt: skip
    from tqdm import tqdm

    best = _Best(console, settings)
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=inner, history_size=50, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-14)  # fmt: skip
    bad: list[float] = []

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        value = objective()
        record.steps += 1
        if not torch.isfinite(value):
            bad.append(float(value))
            return value.detach().new_tensor(math.inf)
        value.backward()
        return value

    with torch.no_grad():
        record.values.append(float(objective()))
    best.offer(record.values[-1], 0)
    rounds = max(1, -(-settings.patience // inner))
    bar = tqdm(total=settings.steps, desc=record.name, disable=not settings.progress, leave=False)
    try:
        while record.steps < settings.steps:
            if settings.deadline is not None and time.perf_counter() > settings.deadline:
                record.stopped = "time budget"
                break
            before = record.steps
            for group in opt.param_groups:  # never more evaluations than asked for
                group["max_eval"] = min(settings.steps - record.steps, inner * 5 // 4)
                group["max_iter"] = min(inner, group["max_eval"])
            opt.step(closure)
            with torch.no_grad():
                value = float(objective())
            if bad or not math.isfinite(value):
                record.stopped = f"objective became {bad[0] if bad else value}"
                break
            record.values.append(value)
            best.offer(value, len(record.values) - 1)
            bar.update(record.steps - before)
            bar.set_postfix(objective=f"{_db(record.values[best.index]):.2f} dB")
            if best.since >= rounds or record.steps == before:
                record.stopped = "converged"
                break
    finally:
        bar.close()
    best.restore()
    record.best = best.index
