"""Scoring separators: BSS-eval SDR and SI-SDR per source against a dataset's stems."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from automix.inference.separation import SILENCE_DB, separate_audio
from automix.inference.tiling import Precision
from automix.models.checkpoint import Model
from automix.models.separator import DRUM_SOURCES, load_separator
from daw_bridge.audio import read_audio
from daw_bridge.errors import AutomixError

log = logging.getLogger("automix")




def _register_metrics(sources: Sequence[str]) -> None:
    """Columns of the separation report in :data:`automix.eval.metrics.METRICS` (the report's registry)."""
    from automix.eval.metrics import METRICS, MetricInfo

    METRICS.setdefault("sdr_mean", MetricInfo("mean SDR", "dB", "higher"))
    METRICS.setdefault("si_sdr_mean", MetricInfo("mean SI-SDR", "dB", "higher"))
    for name in sources:
        METRICS.setdefault(f"sdr_{name}", MetricInfo(f"{name} SDR", "dB", "higher"))
        METRICS.setdefault(f"si_sdr_{name}", MetricInfo(f"{name} SI-SDR", "dB", "higher"))


def separation_scores(estimates: np.ndarray, references: np.ndarray, names: Sequence[str],
                      *, silence_db: float = -60.0) -> dict[str, float]:
    """SDR (BSS-eval ``bss_eval_sources``, 512-tap distortion filter, ``fast_bss_eval``) and
    SI-SDR per source, and their means, for ``[K, T]`` estimates and references.

    Sources whose reference is below ``silence_db`` dBFS RMS (absent in the take) are left out:
    neither metric is defined for them.
    """
    import fast_bss_eval

    from automix.eval.metrics import si_sdr

    ref = np.asarray(references, dtype=np.float64)
    est = np.asarray(estimates, dtype=np.float64)
    rms = 10 * np.log10(np.maximum((ref**2).mean(axis=1), 1e-20))
    keep = [i for i in range(len(names)) if rms[i] > silence_db]
    out: dict[str, float] = {}
    if not keep:
        return out
    import torch

    # the torch backend: fast_bss_eval 0.1.4's numpy backend trips over numpy 2's linalg.solve.
    # One intra-op thread: the 512x512 solves are small, and in a long-lived process (the test
    # suite) torch.linalg.solve was seen spinning forever in its thread pool with two threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sdr, _, _ = fast_bss_eval.bss_eval_sources(torch.from_numpy(ref[keep]), torch.from_numpy(est[keep]),
                                                   compute_permutation=False)
    finally:
        torch.set_num_threads(threads)
    sdr = sdr.numpy()
    for j, i in enumerate(keep):
        out[f"sdr_{names[i]}"] = float(sdr[j])
        out[f"si_sdr_{names[i]}"] = float(si_sdr(est[i][None], ref[i][None]))
    out["sdr_mean"] = float(np.mean([out[f"sdr_{names[i]}"] for i in keep]))
    out["si_sdr_mean"] = float(np.mean([out[f"si_sdr_{names[i]}"] for i in keep]))
    return out


def _takes(data: str | os.PathLike, split, subset: str, sources: Mapping[str, Sequence[str]]):
    """``(take id, {source: mono [T]}, rate)`` of the subset of an ENST-layout folder (sum of stems)."""
    from automix.data.enst import SLOTS, scan_enst
    from automix.data.segments import Split

    root = Path(data).expanduser()
    if not root.is_dir():
        raise AutomixError(f"data folder {root} does not exist; give an ENST-layout folder (e.g. a generated corpus)")
    takes = scan_enst(root)
    if split is None:
        from automix.data.enst import make_enst_split

        split = make_enst_split(takes, seed=0)
    elif not hasattr(split, "items"):
        split = Split.load(split)
    wanted = set(split.items(subset))
    chosen = [t for t in takes if t.id in wanted]
    if not chosen:
        raise AutomixError(f"subset '{subset}' of the split holds no take of {root}")
    for take in chosen:
        signals: dict[str, np.ndarray] = {}
        rate = None
        for slot, path in zip(SLOTS, take.stems):
            if path is None:
                continue
            audio, rate = read_audio(path)
            owner = next((name for name, group in sources.items() if slot in group), None)
            if owner is None:
                continue
            mono = audio.mean(axis=0)
            signals[owner] = signals[owner] + mono if owner in signals else mono
        if rate is None:
            continue
        length = max(len(s) for s in signals.values())
        yield take.id, {name: np.pad(signals.get(name, np.zeros(0, np.float32)),
                                     (0, length - len(signals.get(name, ())))) for name in sources}, rate


def evaluate_separation(
    model: str | os.PathLike | Model | None = None,
    data: str | os.PathLike | None = None,
    *,
    split=None,
    subset: str = "test",
    sources: Mapping[str, Sequence[str]] | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    device: str | None = None,
    precision: Precision = "fp32",
):
    """Score a separator on the takes of ``subset`` of an ENST-layout folder (e.g. a generated corpus).

    Each take's mix is the sum of its stems (the separator recipes' ``separation_mix: sum``);
    the references are the model's sources, grouped from the take's slots by ``sources``
    (default: :data:`DRUM_SOURCES` for the names it has, else one slot per source name).
    Systems: the model, and the baseline **mix as every source** (the mix itself as the
    estimate of each source). Returns an :class:`~automix.eval.evaluate.EvaluationReport`
    (mean over takes, and per take); ``out`` also writes ``metrics.json`` and ``report.md``.
    """
    from automix.eval.evaluate import EvaluationReport

    loaded = load_separator(model)
    names = list(loaded.card.output_names)
    if sources is None:
        sources = {n: DRUM_SOURCES.get(n, (n,)) for n in names}
    missing = [n for n in names if n not in sources]
    if missing:
        raise AutomixError(f"sources gives no slots for the model's source(s) {', '.join(missing)}")
    if data is None:
        raise AutomixError("give the data folder to evaluate on (an ENST-layout folder, e.g. a generated corpus)")
    _register_metrics(names)
    baseline = "mix as every source"
    per_item: dict[str, dict[str, dict[str, float]]] = {}
    seconds = 0.0
    notes: list[str] = []
    for take_id, refs, rate in _takes(data, split, subset, {n: sources[n] for n in names}):
        ref = np.stack([refs[n] for n in names]).astype(np.float32)
        mix = ref.sum(axis=0)
        if float(np.abs(mix).max()) < 10 ** (SILENCE_DB / 20):
            notes.append(f"{take_id}: silent mix; skipped")
            continue
        est = separate_audio(mix, rate, loaded, device=device, precision=precision)
        est = np.stack([est[n] for n in names])
        absent = [n for n, r in zip(names, ref) if 10 * np.log10(max(float((r.astype(np.float64) ** 2).mean()), 1e-20)) <= -60]
        if absent:
            notes.append(f"{take_id}: no {', '.join(absent)} in this take; not scored")
        per_item[take_id] = {
            loaded.name: separation_scores(est, ref, names),
            baseline: separation_scores(np.repeat(mix[None], len(names), axis=0), ref, names),
        }
        seconds += ref.shape[1] / rate
    if not per_item:
        raise AutomixError(f"no take of subset '{subset}' could be scored")
    systems: dict[str, dict[str, float]] = {}
    for system in (loaded.name, baseline):
        keys = sorted({k for item in per_item.values() for k in item[system]})
        systems[system] = {k: float(np.mean([item[system][k] for item in per_item.values() if k in item[system]]))
                           for k in keys}
    report = EvaluationReport(
        systems=systems, per_item=per_item, notes=notes,
        info={"kind": "separation", "model": loaded.name, "data": str(data), "subset": subset,
              "sources": {n: list(sources[n]) for n in names}, "takes": len(per_item), "seconds": seconds,
              "sdr": "BSS-eval v4 bss_eval_sources SDR (fast_bss_eval, 512-tap filter), whole take",
              "baseline": "the mix as the estimate of every source"},
    )
    if out is not None:
        report.save(out, overwrite=overwrite, plots=False)
    return report
