"""One refinement stage of a console fit: L-BFGS with keep-best, early stopping, a time budget and progress.

:func:`run_lbfgs_stage` moves the trainable parameters of a
:class:`~automix.console.model.Console` (unconstrained, each mapped onto its range by a sigmoid)
to lower a smooth deterministic objective with scipy's L-BFGS-B (torch gives the value and the
gradient), keeps the parameters of the best value seen and restores them at the end. On the
spectral objective it reaches in a few hundred evaluations what Adam (the earlier fitter) did
not in thousands: the fader and the four EQ bands of a track form long, flat valleys. scipy
rather than ``torch.optim.LBFGS``: the same algorithm, and creating a torch optimiser imports
torch's compiler (2-3 s of a short fit).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
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
    """What a stage did: its objective at the start and after each L-BFGS iteration (``values``),
    the index of the kept value (``best``), ``steps`` (objective evaluations), why it stopped,
    ``seconds``."""

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


class _Stop(Exception):
    """Raised inside the objective to end a stage: the reason is the message."""


class _Problem:
    """The objective as scipy sees it: a flat float64 vector of the trainable parameters in, the
    value and gradient out; it counts evaluations, keeps the best point and raises :class:`_Stop`
    at the step limit, the deadline, a non-finite value or when patience runs out."""

    def __init__(self, params: list[Tensor], objective: Callable[[], Tensor], settings: StageSettings, bar) -> None:
        self.params, self.objective, self.settings, self.bar = params, objective, settings, bar
        self.sizes = [p.numel() for p in params]
        self.best_value, self.best_x, self.since, self.evaluations = math.inf, self.vector(), 0, 0

    def vector(self) -> np.ndarray:
        return torch.cat([p.detach().reshape(-1) for p in self.params]).double().numpy().copy()

    def load(self, x: np.ndarray) -> None:
        with torch.no_grad():
            for p, chunk in zip(self.params, np.split(x, np.cumsum(self.sizes)[:-1])):
                p.copy_(torch.from_numpy(chunk).reshape(p.shape).to(p.dtype))

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        s = self.settings
        if self.evaluations >= s.steps:
            raise _Stop("all steps")
        if s.deadline is not None and time.perf_counter() > s.deadline:
            raise _Stop("time budget")
        self.load(x)
        for p in self.params:
            p.grad = None
        value = self.objective()
        self.evaluations += 1
        self.bar.update(1)
        if not torch.isfinite(value):
            raise _Stop(f"objective became {float(value)}")
        value.backward()
        v = float(value.detach())
        if v < self.best_value - max(s.min_delta * abs(self.best_value), ABSOLUTE_DELTA) or not math.isfinite(self.best_value):
            self.best_value, self.best_x, self.since = v, x.copy(), 0
            self.bar.set_postfix(objective=f"{_db(v):.2f} dB")
        else:
            self.since += 1
            if self.since > s.patience:
                raise _Stop("converged")
        grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self.params])
        return v, grad.double().numpy()


def run_lbfgs_stage(name: str, console: Console, objective: Callable[[], Tensor], settings: StageSettings) -> StageRecord:
    """Minimise ``objective()`` over the console's trainable parameters (see the module notes)."""
    from scipy.optimize import minimize

    from daw_bridge.progress import progress_bar

    started = time.perf_counter()
    record = StageRecord(name)
    params = [p for p in console.parameters() if p.requires_grad]
    if not params:
        return record
    with torch.no_grad():
        start = float(objective())
    record.values.append(start)
    bar = progress_bar(settings.steps, name, "step", settings.progress, leave=False)
    problem = _Problem(params, objective, settings, bar)
    problem.best_value = start

    def after_iteration(x: np.ndarray) -> None:
        record.values.append(problem.best_value)

    try:
        result = minimize(problem, problem.best_x, jac=True, method="L-BFGS-B", callback=after_iteration,
                          options={"maxfun": 10**9, "maxiter": 10**9, "ftol": 1e-13, "gtol": 1e-12, "maxcor": 30})  # fmt: skip
        record.stopped = "converged" if result.success else str(result.message)
    except _Stop as stop:
        record.stopped = str(stop)
    finally:
        bar.close()
    problem.load(problem.best_x)
    record.steps = problem.evaluations
    if problem.best_value < start:
        record.values.append(problem.best_value)
        record.best = len(record.values) - 1
    record.seconds = time.perf_counter() - started
    return record
