"""Mixers against the baselines on held-out takes of a corpus, per kit: what model cards report.

Every mixer gets each take's stems **as recorded** (no loudness normalisation: the card's own
input rule applies, as ``automix mix`` does) through the one mix flow (:func:`automix.mix_audio`);
the baselines (:mod:`automix.eval.baselines`) see the same stems. Every system is scored at the
reference's loudness and, with ``side="nearer"``, from the side its mix is nearer to (mirrored
when that is nearer): the stems do not say from which side an engineer mixed, so a real
session's check does the same. Rows: the mixers, then the baselines; summaries: means over all
takes and per kit (the annotation's ``kit``), with the four feature groups.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from automix.eval.baselines import baseline_mixes
from automix.eval.metrics import compare_systems
from daw_bridge.stems import DRUM_SLOTS

#: The four feature groups: means of the MAPEs of these features (%).
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "loudness": ("loudness", "rms"),
    "dynamics": ("crest_factor", "dynamic_spread"),
    "spectral": ("centroid", "bandwidth", "contrast", "rolloff", "flatness"),
    "panning": ("panning_total", "panning_low", "panning_mid", "panning_high"),
}
#: Columns of the summary tables: metric, header, digits.
COLUMNS = (("mrstft", "MR-STFT", 3), ("si_sdr", "SI-SDR dB", 2), *((f"group_{g}", f"{g} %", 1) for g in FEATURE_GROUPS))


def nearer_side(estimate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, bool]:
    """``estimate`` ``[2, T]`` as it is or mirrored, whichever is nearer ``reference`` (L1 at the
    best common gain); and whether it was mirrored."""
    def distance(x: np.ndarray) -> float:
        gain = float(np.dot(x.ravel(), reference.ravel()) / (np.dot(x.ravel(), x.ravel()) + 1e-20))
        return float(np.abs(gain * x - reference).mean())

    mirrored = estimate[::-1]
    return (np.ascontiguousarray(mirrored), True) if distance(mirrored) < distance(estimate) else (estimate, False)


def with_groups(metrics: Mapping[str, float]) -> dict[str, float]:
    """``metrics`` plus ``group_<name>``: the mean MAPE (%) of each of :data:`FEATURE_GROUPS`."""
    out = dict(metrics)
    for group, features in FEATURE_GROUPS.items():
        values = [metrics[f"mape_{f}"] for f in features if f"mape_{f}" in metrics]
        out[f"group_{group}"] = float(np.mean(values)) if values else math.nan
    return out


def take_kit(root: Path, take: str) -> str:
    """The kit (catalogue name) a take of corpus ``root`` was recorded with, from its annotation."""
    from automix.data.enst import take_annotation

    kit = take_annotation(root, take).get("kit") or "unknown"
    return str(kit.get("name", "unknown") if isinstance(kit, dict) else kit)


def score_take(mixers: Mapping[str, Any], stems: np.ndarray, reference: np.ndarray, rate: int, *,
               side: str = "nearer", rules: bool = True, baselines: bool = True) -> dict[str, dict[str, float]]:
    """``{system: metrics}`` of the mixers and (``baselines``) the baselines on one take (stems
    ``[8, T]`` as recorded); ``rules=False`` leaves out the two slowest baselines."""
    from automix.inference.mixing import mix_audio

    systems = {name: mix_audio(stems, rate, model=model, names=list(DRUM_SLOTS), precision="fp32")[:, : stems.shape[1]]
               for name, model in mixers.items()}
    if baselines:
        systems.update(baseline_mixes(stems, DRUM_SLOTS, rate, reference, rules=rules))
    if side == "nearer":
        systems = {name: nearer_side(audio, reference)[0] for name, audio in systems.items()}
    return {name: with_groups(m) for name, m in compare_systems(systems, reference, rate).items()}


def evaluate_heldout(mixers: Mapping[str, Any], root: str | Path, *, split: Any = None, subset: str = "test",
                     target: str = "wet", limit: int | None = None, side: str = "nearer", rules: bool = True,
                     baselines: bool = True, progress: Any = None) -> dict[str, Any]:
    """Score ``mixers`` ({name: model or path or "rules"}) on the ``subset`` takes of the corpus
    ``root``. Returns ``{"takes": {take: {"kit", "scores"}}, "overall": table, "per_kit": {kit: table}}``
    where a table is ``{system: mean metrics}``."""
    from automix.data.enst import EnstDrums

    root = Path(root)
    data = EnstDrums(root, split=split, subset=subset, target=target, mode="fixed", normalize=None,
                     input_length=44100, output_length=44100)  # whole takes are read; segments unused
    takes = data.takes[:limit] if limit is not None else data.takes
    per_take: dict[str, dict[str, Any]] = {}
    for take in takes:
        item = data.load_take(take, normalized=False)
        per_take[take] = {"kit": take_kit(root, take),
                          "scores": score_take(mixers, item["stems"], item["mix"], data.sample_rate, side=side, rules=rules,
                                              baselines=baselines)}
        if progress is not None:
            progress(take)
    kits = sorted({v["kit"] for v in per_take.values()})
    return {"takes": per_take, "overall": _mean([v["scores"] for v in per_take.values()]),
            "per_kit": {k: _mean([v["scores"] for v in per_take.values() if v["kit"] == k]) for k in kits},
            "counts": {k: sum(v["kit"] == k for v in per_take.values()) for k in kits}}


def _mean(items: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    if not items:
        return {}
    return {system: {m: float(np.mean([i[system][m] for i in items])) for m in items[0][system]} for system in items[0]}


def markdown_table(table: Mapping[str, Mapping[str, float]]) -> str:
    """A Markdown table of :data:`COLUMNS` for ``{system: metrics}``; the best value per column in bold."""
    lines = ["| system | " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    best = {}
    for key, _, _ in COLUMNS:
        values = [m[key] for m in table.values() if math.isfinite(m.get(key, math.nan))]
        best[key] = (max(values) if key == "si_sdr" else min(values)) if values else None
    for system, m in table.items():
        cells = []
        for key, _, digits in COLUMNS:
            text = f"{m.get(key, math.nan):.{digits}f}"
            cells.append(f"**{text}**" if best[key] is not None and math.isclose(m.get(key, math.nan), best[key]) else text)
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
