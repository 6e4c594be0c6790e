"""The options of :func:`automix.eval.evaluate.evaluate_pair` (:class:`PairSettings`) and
:func:`automix.eval.evaluate.evaluate_split` (:class:`EvalSettings`); every field is also a
keyword of its function (torch-free)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from automix.data.keyword_settings import KeywordSettings

__all__ = ["MAX_LENGTH_DIFFERENCE_S", "EvalSettings", "PairSettings"]

#: Mixes whose lengths differ by more than this (seconds) are refused by :func:`evaluate_pair`.
MAX_LENGTH_DIFFERENCE_S = 1.0


@dataclass(frozen=True)
class ReportSettings(KeywordSettings):
    """What both evaluations share: ``out`` (a folder to save the report in; checked before any
    work), ``overwrite`` (update a report folder automix wrote), ``plots`` (PNG plots in ``out``),
    ``rules`` (add the rule-based console baseline, the slowest one)."""

    what: ClassVar[str] = "evaluation"

    out: str | os.PathLike | None = None
    overwrite: bool = False
    plots: bool = True
    rules: bool = True


@dataclass(frozen=True)
class PairSettings(ReportSettings):
    """Options of :func:`~automix.eval.evaluate.evaluate_pair`, besides :class:`ReportSettings`:
    ``name`` (the estimate's row in the report), ``max_length_difference`` (seconds the mixes may
    differ in length)."""

    name: str = "estimate"
    max_length_difference: float = MAX_LENGTH_DIFFERENCE_S


@dataclass(frozen=True)
class EvalSettings(ReportSettings):
    """Options of :func:`~automix.eval.evaluate.evaluate_split`, besides :class:`ReportSettings`.

    Takes: ``split`` (a split file, a shipped split's name or a
    :class:`~automix.data.segments.Split`), ``subset`` (``None``: every take), ``target``
    (``"wet"``/``"dry"``), ``limit`` (the first N takes), ``plot_take`` (the take plotted).
    Run: ``progress`` (``None``: a bar on a terminal; a callable is given each take id),
    ``device``, ``precision``. The model's mix: ``loudness`` (LUFS, ``"auto"``, ``None``),
    ``perspective`` (``"drummer"``/``"audience"``; ``None``/``"auto"``: as the model mixes).
    """

    split: Any = None
    subset: str | None = "test"
    target: str = "wet"
    limit: int | None = None
    progress: bool | None | Callable[[str], None] = None
    plot_take: str | None = None
    device: str | None = None
    precision: str = "fp32"
    loudness: float | str | None = "auto"
    perspective: str | None = None
