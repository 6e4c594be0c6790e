"""Evaluate mixes against references: the Python API behind ``automix evaluate``.

Details: ``docs/evaluation.md``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from daw_bridge.audio import AUDIO_EXTENSIONS, SILENCE_LUFS, read_audio, resample
from daw_bridge.errors import AudioError, AutomixError, OutputError
from daw_bridge.outputs import check_output_folder, reads
from automix.eval.baselines import (
    BASELINES,
    LOUDNESS_EQUALISED_SUM,
    ORACLE_GAIN_PAN,
    RECORDED_BALANCE,
    RULE_BASED_CONSOLE,
    SUM_OF_STEMS,
    baseline_mixes,
    stems_2d,
    loudness_equalised_sum,
    rule_based_mix,
    sum_of_stems,
)
from automix.eval.evaluate_settings import MAX_LENGTH_DIFFERENCE_S, EvalSettings, PairSettings
from automix.eval.metrics import METRICS, compare_systems
from daw_bridge.loudness import measure_loudness

__all__ = [
    "BASELINES",
    "LOUDNESS_EQUALISED_SUM",
    "ORACLE_GAIN_PAN",
    "RECORDED_BALANCE",
    "MAX_LENGTH_DIFFERENCE_S",
    "RULE_BASED_CONSOLE",
    "SUM_OF_STEMS",
    "EvalSettings",
    "EvaluationReport",
    "PairSettings",
    "evaluate_pair",
    "evaluate_split",
    "loudness_equalised_sum",
    "rule_based_mix",
    "sum_of_stems",
]

log = logging.getLogger("automix")

_REPORT_FORMAT = "automix-evaluation/1"
PLOT_FILES = ("spectrograms.png", "loudness.png", "panning.png")

AudioInput = str | os.PathLike | np.ndarray


# --------------------------------------------------------------------------------------------
# The report


def _fmt(value: float | None, digits: int) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


def _best(values: list[float | None], better: str) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    if better == "higher":
        return max(finite)
    if better == "zero":
        return min(finite, key=abs)
    return min(finite)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return _json_safe(value.item())
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class EvaluationReport:
    """What an evaluation found.

    * ``systems``: ``{system: {metric: value}}``; for a split, the mean over the takes;
    * ``per_item``: ``{take: {system: {metric: value}}}`` (empty for a single pair);
    * ``notes``: what was fixed or skipped (resampled, trimmed, downmixed, ...);
    * ``info``: what was compared (files, model, data, sample rate, seconds, ...).

    ``signals`` (reference and systems' audio, for the plots) and ``sample_rate`` are kept
    in memory only. :meth:`to_json`, :meth:`to_markdown` and :meth:`save` present it.
    """

    systems: dict[str, dict[str, float]]
    per_item: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    sample_rate: int | None = None
    signals: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def metric_keys(self) -> list[str]:
        """Metrics present for at least one system, in :data:`automix.eval.metrics.METRICS` order."""
        present = {k for metrics in self.systems.values() for k in metrics}
        return [k for k in METRICS if k in present]

    def to_dict(self) -> dict[str, Any]:
        """Everything but the audio, as plain JSON-ready data (non-finite numbers as None)."""
        return _json_safe(
            {
                "format": _REPORT_FORMAT,
                "info": self.info,
                "metrics": {
                    k: {"label": METRICS[k].label, "unit": METRICS[k].unit, "better": METRICS[k].better}
                    for k in self.metric_keys
                },
                "systems": self.systems,
                "per_item": self.per_item,
                "notes": self.notes,
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def table(
        self, systems: dict[str, dict[str, float]] | None = None
    ) -> tuple[list[str], list[tuple[str, list[tuple[str, bool]]]]]:
        """The metric table of ``systems`` (default: :attr:`systems`): the column headers (units in
        them), and per system its name and, per metric, the text and whether it is the column's best."""
        systems = self.systems if systems is None else systems
        keys = self.metric_keys
        headers = ["system"] + [
            f"{METRICS[k].label} ({METRICS[k].unit})" if METRICS[k].unit else METRICS[k].label for k in keys
        ]
        rows: list[tuple[str, list[tuple[str, bool]]]] = [(name, []) for name in systems]
        for k in keys:
            info = METRICS[k]
            values = [systems[name].get(k) for name in systems]
            best = _best(values, info.better)
            best_text = _fmt(best, info.digits) if best is not None else None
            for (_, cells), value in zip(rows, values):
                text = _fmt(value, info.digits)
                cells.append((text, len(systems) > 1 and best_text is not None and text == best_text))
        return headers, rows

    def _table(self, systems: dict[str, dict[str, float]]) -> list[str]:
        headers, rows = self.table(systems)
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
        for name, cells in rows:
            lines.append("| " + " | ".join([name] + [f"**{text}**" if best else text for text, best in cells]) + " |")
        return lines

    def legend(self) -> str:
        """Which way each column is better, in one paragraph."""
        keys = self.metric_keys
        higher = [METRICS[k].label for k in keys if METRICS[k].better == "higher"]
        zero = [METRICS[k].label for k in keys if METRICS[k].better == "zero"]
        parts = []
        if higher:
            parts.append(f"higher is better for {', '.join(higher)}")
        if zero:
            parts.append(f"closest to 0 is best for {', '.join(zero)} (estimate minus reference)")
        parts.append("lower is better for the other columns")
        text = "Best per column in bold; " + "; ".join(parts) + "." + self._level_sentence()
        if any("mape" in k for k in keys):
            text += (
                " MAPE: mean absolute percentage error between ~1 s running means of framewise features of the "
                "system and of the reference; panning spectrum err.: mean |difference| of the panning spectra "
                "(index -1 left .. +1 right). See automix.eval.metrics."
            )
        return text

    def _level_sentence(self) -> str:
        """Which level the systems are scored at (metrics such as MR-STFT depend on it)."""
        if self.info.get("kind") == "pair" and self.info.get("reference_lufs") is not None:
            where = f"the reference's integrated loudness ({self.info['reference_lufs']:.1f} LUFS)"
        elif self.info.get("kind") == "split":
            where = "the integrated loudness of each take's reference"
        else:
            return ""
        return (f" Every system is scored at {where}, brought there by one gain; loudness diff. is its level as it "
                "came.")

    def summary(self) -> str:
        """One sentence on what was compared (empty when :attr:`info` does not say)."""
        info = self.info
        if info.get("kind") == "split":
            n = len(self.per_item)
            subset = info.get("subset") or "all takes"
            return (
                f"Model {info.get('model')} on {info.get('data')} ({subset}, target {info.get('target')}): "
                f"mean over {n} take{'s' if n != 1 else ''} ({info.get('seconds', 0):.1f} s of audio)."
            )
        if info.get("kind") == "separation":
            n = len(self.per_item)
            return (
                f"Separator {info.get('model')} on {info.get('data')} ({info.get('subset') or 'all takes'}): "
                f"mean over {n} take{'s' if n != 1 else ''} ({info.get('seconds', 0):.1f} s of audio); "
                f"baseline: {info.get('baseline', 'the mix as every source')}."
            )
        if info.get("kind") == "pair":
            return (
                f"{info.get('estimate')} against {info.get('reference')} "
                f"({info.get('seconds', 0):.1f} s at {info.get('sample_rate')} Hz)."
            )
        return ""

    def to_markdown(self, *, per_item: bool = False, notes: bool = False) -> str:
        """A Markdown table: one row per system, one column per metric (units in the headers).

        The best value of each column is bold; a legend says which way is better. With
        ``per_item``, a table per take follows; with ``notes``, the notes.
        """
        lines = []
        summary = self.summary()
        if summary:
            lines += [summary, ""]
        lines += self._table(self.systems)
        lines += ["", self.legend()]
        if per_item and self.per_item:
            for item, systems in self.per_item.items():
                lines += ["", f"### {item}", ""] + self._table(systems)
        if notes and self.notes:
            lines += ["", "Notes:", ""] + [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def save(self, out_dir: str | os.PathLike, *, overwrite: bool = False, plots: bool = True) -> list[Path]:
        """Write ``metrics.json``, ``report.md``, (with ``plots`` and audio) the PNG plots and (with
        audio) the listening page ``index.html`` with its ``audio/`` files (:mod:`automix.eval.listening`).

        ``out_dir`` is created (an empty one is used); an existing report folder is updated only
        with ``overwrite`` and only if automix wrote it (:mod:`daw_bridge.outputs`), its other
        files left alone. The folder appears complete or not at all. Returns the paths written.
        """
        from daw_bridge.outputs import new_output_folder

        final = Path(out_dir).expanduser().absolute()
        written = []
        with new_output_folder(final, force=overwrite, error=OutputError) as folder:
            for name, text in (
                ("metrics.json", self.to_json() + "\n"),
                ("report.md", "# Evaluation\n\n" + self.to_markdown(per_item=True, notes=True)),
            ):
                (folder / name).write_text(text, encoding="utf-8")
                written.append(final / name)
            drawn = []
            if plots and self.signals and self.sample_rate:
                from automix.eval.plots import plot_loudness, plot_panning, plot_spectrograms

                for name, plot in zip(PLOT_FILES, (plot_spectrograms, plot_loudness, plot_panning)):
                    plot(self.signals, self.sample_rate, folder / name)
                    drawn.append(name)
            written += [final / name for name in drawn]
            if self.signals and self.sample_rate:
                from automix.eval.listening import write_page

                written += [final / name for name in write_page(self, folder, drawn)]
        return written


# --------------------------------------------------------------------------------------------
# Loading


def _load_mix(value: AudioInput, what: str, sample_rate: int | None) -> tuple[np.ndarray, int, str]:
    """A mix as float32 ``[channels, T]``, its rate and a label for messages."""
    if isinstance(value, (str, os.PathLike)):
        audio, rate = read_audio(value)  # AudioError for missing/corrupt files and NaN
        label = str(value)
    else:
        if sample_rate is None:
            raise AutomixError(f"the {what} is an array: give sample_rate too")
        audio = np.asarray(value, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[np.newaxis, :]
        if audio.ndim != 2:
            raise AutomixError(f"the {what} must be [channels, samples], got shape {audio.shape}")
        if audio.shape[1] == 0:
            raise AudioError(f"the {what} holds no samples")
        if not np.isfinite(audio).all():
            raise AudioError(f"the {what} has NaN or infinite samples")
        rate, label = int(sample_rate), f"the {what}"
    if audio.shape[0] > 2:
        raise AudioError(
            f"{label} has {audio.shape[0]} channels; evaluation compares mono or stereo mixes "
            "(arrays are [channels, samples])"
        )
    return audio, rate, label


def _stem_sources(stems: Any) -> list[Path]:
    items = [stems] if isinstance(stems, (str, os.PathLike)) else list(stems)
    if not items:
        raise AutomixError("no stems given; pass a folder of stems or the stem files")
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in AUDIO_EXTENSIONS
            )
            if not found:
                raise AudioError(f"folder {path} holds no audio files ({', '.join(sorted(AUDIO_EXTENSIONS))})")
            files.extend(found)
        else:
            files.append(path)  # read_audio says if it is missing or not audio
    return files


def _load_stems(
    stems: Any, rate: int, length: int, sample_rate: int | None, notes: list[str]
) -> tuple[np.ndarray, list[str]]:
    """Mono stems ``[N, length]`` at ``rate`` from a folder, files or an array."""
    if isinstance(stems, np.ndarray):
        if sample_rate is None:
            raise AutomixError("the stems are an array: give sample_rate too")
        arr = stems_2d(stems)
        if not np.isfinite(arr).all():
            raise AudioError("the stems have NaN or infinite samples")
        if int(sample_rate) != rate:
            arr = resample(arr, int(sample_rate), rate)
        names = [f"stem {i + 1}" for i in range(arr.shape[0])]
        columns = list(arr)
    else:
        columns, names = [], []
        for path in _stem_sources(stems):
            audio, file_rate = read_audio(path)
            if audio.shape[0] > 1:
                notes.append(f"stem {path.name} has {audio.shape[0]} channels; downmixed to mono")
                audio = audio.mean(axis=0, keepdims=True)
            if file_rate != rate:
                notes.append(f"stem {path.name} is {file_rate} Hz; resampled to {rate} Hz")
                audio = resample(audio, file_rate, rate)
            columns.append(audio[0])
            names.append(path.name)
    out = np.zeros((len(columns), length), dtype=np.float32)
    off = [name for name, c in zip(names, columns) if c.shape[0] != length]
    for i, c in enumerate(columns):
        k = min(length, c.shape[0])
        out[i, :k] = c[:k]
    if off:
        shown = ", ".join(off[:4]) + (f" (+{len(off) - 4} more)" if len(off) > 4 else "")
        notes.append(f"{len(off)} stem(s) cut or zero-padded to the compared length ({length} samples): {shown}")
    return out, names


# --------------------------------------------------------------------------------------------
# Evaluating one pair


def _load_pair(
    reference: AudioInput, estimate: AudioInput, sample_rate: int | None, max_length_difference: float,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray, int, str, str]:
    """The reference and the estimate as stereo float32 ``[2, T]`` at the reference's rate, cut to
    their common length, the rate and their labels; what was changed is added to ``notes``.
    AutomixError when the lengths differ by more than ``max_length_difference`` seconds."""
    ref, rate, ref_label = _load_mix(reference, "reference", sample_rate)
    est, est_rate, est_label = _load_mix(estimate, "estimate", sample_rate)
    if est_rate != rate:
        notes.append(f"{est_label} is {est_rate} Hz; resampled to the reference's {rate} Hz")
        est = resample(est, est_rate, rate)
    for label, audio in ((ref_label, ref), (est_label, est)):
        if audio.shape[0] == 1:
            notes.append(f"{label} is mono; used on both channels")
    ref = np.repeat(ref, 2, axis=0) if ref.shape[0] == 1 else ref
    est = np.repeat(est, 2, axis=0) if est.shape[0] == 1 else est
    diff = abs(est.shape[1] - ref.shape[1]) / rate
    if diff > max_length_difference:
        raise AutomixError(
            f"{est_label} ({est.shape[1] / rate:.2f} s) and {ref_label} ({ref.shape[1] / rate:.2f} s) differ in "
            f"length by {diff:.2f} s, more than {max_length_difference:g} s; are they the same song? trim them"
        )
    length = min(est.shape[1], ref.shape[1])
    if est.shape[1] != ref.shape[1]:
        notes.append(
            f"lengths differ by {diff:.3f} s; compared over the common {length / rate:.3f} s "
            f"({est_label}: {est.shape[1]} samples, {ref_label}: {ref.shape[1]})"
        )
        est, ref = est[:, :length], ref[:, :length]
    return ref, est, rate, ref_label, est_label


@reads("estimate", "reference", "stems")
def evaluate_pair(
    estimate: AudioInput,
    reference: AudioInput,
    *,
    stems: Any = None,
    sample_rate: int | None = None,
    stem_names: Sequence[str] | None = None,
    settings: PairSettings | None = None,
    **options: Any,
) -> EvaluationReport:
    """Score a mix (``estimate``) against a ``reference`` mix; see the module docstring.

    ``estimate``/``reference`` are audio file paths, or arrays ``[channels, samples]`` at
    ``sample_rate`` (Hz). ``stems`` (a folder, a list of files, or an array ``[N, samples]`` at
    ``sample_rate``) adds the :func:`sum_of_stems` and :func:`loudness_equalised_sum`
    baselines as systems, and with ``rules`` the :func:`rule_based_mix` one (roles are read
    off the stem file names, or off ``stem_names`` for an array). Options (``settings`` and/or
    the keywords of :class:`PairSettings`): ``name`` is the estimate's row in the report; with
    ``out`` the report is saved there (:meth:`EvaluationReport.save`; the folder is checked before
    any work); ``max_length_difference`` (s). Raises :class:`~daw_bridge.errors.AutomixError`
    subclasses with one-line messages.
    """
    s = PairSettings.of(settings, options)
    if s.out is not None:
        check_output_folder(s.out, force=s.overwrite, error=OutputError)
    notes: list[str] = []
    ref, est, rate, ref_label, est_label = _load_pair(reference, estimate, sample_rate, s.max_length_difference,
                                                      notes)
    length = ref.shape[1]
    ref_lufs = measure_loudness(ref, rate)
    if ref_lufs <= SILENCE_LUFS:
        raise AudioError(f"{ref_label} is silent (below {SILENCE_LUFS:g} LUFS); there is nothing to compare with")
    if measure_loudness(est, rate) <= SILENCE_LUFS:
        notes.append(f"{est_label} is silent (below {SILENCE_LUFS:g} LUFS)")
    systems = {s.name: est}
    if stems is not None:
        stem_audio, loaded_names = _load_stems(stems, rate, length, sample_rate, notes)
        if stem_names is not None:
            if len(stem_names) != stem_audio.shape[0]:
                raise AutomixError(f"{len(stem_names)} stem names for {stem_audio.shape[0]} stems")
            loaded_names = [str(n) for n in stem_names]
        stem_names = loaded_names
        systems.update(baseline_mixes(stem_audio, stem_names, rate, ref, rules=s.rules))
    else:
        stem_names = []
    for note in notes:
        log.warning(note)
    try:
        results = compare_systems(systems, ref, rate)
    except ValueError as exc:  # shapes are aligned above; this would be a bug, but say it in one line
        raise AutomixError(f"cannot compare: {exc}") from exc
    report = EvaluationReport(
        systems=results,
        notes=notes,
        info={
            "kind": "pair",
            "estimate": est_label if isinstance(estimate, (str, os.PathLike)) else s.name,
            "reference": ref_label,
            "stems": stem_names,
            "sample_rate": rate,
            "seconds": length / rate,
            "reference_lufs": ref_lufs,
        },
        sample_rate=rate,
        signals={"reference": ref, **systems},
    )
    if s.out is not None:
        report.save(s.out, overwrite=s.overwrite, plots=s.plots)
    return report


# --------------------------------------------------------------------------------------------
# Evaluating a model over a dataset split


def _progress(total: int, enabled: bool | None):
    from daw_bridge.progress import progress_bar

    return progress_bar(total, "evaluating", "take", enabled)


def evaluate_split(
    model: Any,
    data_root: str | os.PathLike,
    *,
    settings: EvalSettings | None = None,
    **options: Any,
) -> EvaluationReport:
    """Score a model over the takes of an ENST-layout dataset; see the module docstring.

    ``model`` is a :class:`~automix.models.checkpoint.Model`, an installed name or a checkpoint path
    (:func:`automix.models.pretrained.load`); it must mix the ENST drum slots. Options: ``settings``
    and/or the keywords of :class:`~automix.eval.evaluate_settings.EvalSettings` (which takes, the
    target, device and precision, the model's loudness and side, the report folder). Takes with a
    silent reference are skipped with a note. ``report.systems`` holds the means over the takes,
    ``report.per_item`` each take.
    """

    s = EvalSettings.of(settings, options)
    return _evaluate_split(model, data_root, s.split, s)


@reads("data_root", "split")  # split is passed apart so that @reads sees the files it names
def _evaluate_split(model: Any, data_root: str | os.PathLike, split: Any, s: EvalSettings) -> EvaluationReport:
    """:func:`evaluate_split` with its options settled."""
    if s.out is not None:
        check_output_folder(s.out, force=s.overwrite, error=OutputError)
    if s.limit is not None and int(s.limit) < 1:
        raise AutomixError(f"limit must be 1 or more, got {s.limit}")
    loaded, level, mirror = _mixing_model(model, s)
    rate = int(loaded.sample_rate)
    dataset, takes = _split_takes(loaded, data_root, s)
    notes = list(dataset.notes) + [f"skipped {take}: {reason}" for take, reason in dataset.skipped]
    per_item, signals, samples = _score_takes(loaded, dataset, takes, level, mirror, s, notes)
    if not per_item:
        raise AutomixError(f"no take of {data_root} could be evaluated ({len(notes)} notes; first: {notes[0] if notes else '-'})")
    report = EvaluationReport(
        systems=_means(per_item),
        per_item=per_item,
        notes=notes,
        info={
            "kind": "split",
            "model": loaded.card.name,
            "data": str(data_root),
            "split": _split_name(split),
            "subset": s.subset,
            "target": dataset.target,
            "takes": list(per_item),
            "sample_rate": rate,
            "seconds": samples / rate,
            "precision": s.precision,
            "model_loudness_lufs": level,
            "model_perspective": (loaded.card.training.perspective if s.perspective in (None, "auto")
                                  else s.perspective),
            "plotted_take": s.plot_take or next(iter(per_item)),
        },
        sample_rate=rate,
        signals=signals,
    )
    if s.out is not None:
        report.save(s.out, overwrite=s.overwrite, plots=s.plots)
    return report


def _mixing_model(model: Any, s: EvalSettings) -> tuple[Any, float | None, bool]:
    """``model`` loaded (:func:`automix.models.pretrained.load`), the LUFS its mixes are brought
    to (``None``: as they come) and whether they are mirrored; AutomixError unless it mixes the
    ENST slots."""
    from automix.data.enst import SLOTS
    from automix.inference.mix_settings import target_lufs
    from automix.inference.mixers import mirrors
    from automix.models.pretrained import load

    loaded = load(model)
    level = target_lufs(s.loudness, loaded.card.output_lufs)
    mirror = mirrors(s.perspective, loaded)
    if loaded.task != "mix":
        raise AutomixError(f"model '{loaded.card.name}' is a {loaded.task} model; evaluation needs a mixing model")
    if tuple(loaded.slots) != tuple(SLOTS):
        raise AutomixError(
            f"model '{loaded.card.name}' mixes {', '.join(loaded.slots)}; ENST-layout data provides "
            f"{', '.join(SLOTS)}"
        )
    return loaded, level, mirror


def _split_takes(loaded: Any, data_root: str | os.PathLike, s: EvalSettings) -> tuple[Any, list[str]]:
    """The :class:`~automix.data.enst.EnstDrums` dataset the model is scored on (stems brought
    where it was trained, at its sample rate) and the take ids evaluated."""
    from automix.data.enst import EnstDrums

    rule = {"stem_gain": loaded.card.input_rule or "each"}  # the stems brought where the model was trained
    if loaded.card.input_lufs is not None:
        rule["stem_lufs"] = loaded.card.input_lufs
    dataset = EnstDrums(data_root, split=s.split, subset=s.subset, target=s.target, model=loaded, mode="fixed",
                        sample_rate=int(loaded.sample_rate), **rule)
    takes = dataset.takes[: int(s.limit)] if s.limit is not None else dataset.takes
    if s.plot_take is not None and s.plot_take not in takes:
        raise AutomixError(f"--plot-take {s.plot_take} is not among the evaluated takes (e.g. {takes[0]})")
    return dataset, takes


def _score_takes(
    loaded: Any, dataset: Any, takes: list[str], level: float | None, mirror: bool, s: EvalSettings,
    notes: list[str],
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, np.ndarray], int]:
    """Per take ``{system: {metric: value}}``, the plotted take's signals (``[2, T]`` each) and the
    samples scored; silent references are skipped with a note added to ``notes``."""
    from automix.data.enst import SLOTS
    from automix.inference.tiling import process
    from daw_bridge.loudness import to_loudness

    rate = int(loaded.sample_rate)
    per_item: dict[str, dict[str, dict[str, float]]] = {}
    signals: dict[str, np.ndarray] = {}
    samples = 0
    progress = s.progress
    bar = None if callable(progress) else _progress(len(takes), progress)
    try:
        for take in takes:
            if callable(progress):
                progress(take)
            item = dataset.load_take(take)
            stems, reference = item["stems"], item["mix"]
            ref_lufs = measure_loudness(reference, rate)
            if ref_lufs <= SILENCE_LUFS:
                note = f"skipped {take}: its {dataset.target} mix is silent"
                notes.append(note)
                log.warning(note)
            else:
                mixed = process(loaded.net, stems, device=s.device, precision=s.precision)
                if mirror:
                    mixed = np.ascontiguousarray(mixed[::-1])
                if level is not None:
                    mixed = to_loudness(mixed, rate, level)[0]
                systems = {
                    loaded.card.name: mixed,
                    **baseline_mixes(stems, SLOTS, rate, reference, rules=s.rules),
                }
                per_item[take] = compare_systems(systems, reference, rate)
                samples += reference.shape[1]
                if take == s.plot_take or (s.plot_take is None and not signals):
                    signals = {"reference": reference, **systems}
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return per_item, signals, samples


def _means(per_item: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """``{system: {metric: mean over the takes that have it}}``, systems in the first take's order."""
    names = list(next(iter(per_item.values())))
    return {
        system: {
            key: float(np.mean([item[system][key] for item in per_item.values() if key in item[system]]))
            for key in METRICS
            if any(key in item[system] for item in per_item.values())
        }
        for system in names
    }


def _split_name(split: Any) -> str | None:
    """How the report names ``split``: its path or name, or its type and seed."""
    if split is None or isinstance(split, (str, os.PathLike)):
        return None if split is None else str(split)
    return f"{type(split).__name__} (seed {getattr(split, 'seed', '?')})"
