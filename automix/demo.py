"""``automix demo``: the shipped example stems mixed with the default model, end to end.

Details: ``docs/demo.md``.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from daw_bridge.errors import AutomixError

__all__ = ["DemoResult", "example_stems", "run_demo"]

#: The example :func:`run_demo` mixes (a folder under ``automix/examples``).
EXAMPLE_NAME = "drums"


@dataclass
class DemoResult:
    """Where :func:`run_demo` put everything, and what it measured."""

    folder: Path
    mix: Path
    session: Path
    report: Path
    model: str
    reference: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"mix:     {self.mix}",
            f"session: {self.session}  (open it in Ardour; the mix is on the muted 'AI mix' track)",
            f"report:  {self.report / 'report.md'}  (plots beside it)",
            f"listen:  {self.report / 'index.html'}  (open it in a browser: the mix, the reference and the baselines A/B)",
        ]
        if self.scores:
            model = self.scores.get(self.model, {})
            lines.append(
                f"model {self.model} against the {self.reference} reference: MR-STFT {model.get('mrstft', float('nan')):.3f}, "
                f"SI-SDR {model.get('si_sdr', float('nan')):.2f} dB (the report has the baselines)"
            )
        return "\n".join(lines)


def example_stems(name: str = EXAMPLE_NAME) -> Path:
    """The folder of a shipped example (its stems, ``reference/`` and ``take.json``)."""
    folder = Path(str(resources.files("automix") / "examples" / name))
    if not folder.is_dir():
        raise AutomixError(f"the example '{name}' is not installed ({folder}); reinstall automix")
    return folder


def _stem_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".flac")
    if not files:
        raise AutomixError(f"the example folder {folder} holds no stems; reinstall automix")
    return files


def _reference_name(loaded: Any) -> str:
    """``wet`` or ``dry``: the reference the model was trained towards."""
    name = loaded.card.training.target
    if name in ("wet", "dry"):
        return name
    recipe = loaded.card.training.recipe or ""  # older cards: what the name, recipe or description says
    return "dry" if "dry" in f"{loaded.card.name} {recipe} {loaded.card.description}".lower() else "wet"


def run_demo(
    out: str | os.PathLike[str] = "automix-demo",
    *,
    model: Any = None,
    force: bool = False,
    progress: bool | None = None,
    plots: bool = True,
) -> DemoResult:
    """Mix the example stems with ``model`` (default: the default model) into ``out``; see the module doc.

    Raises :class:`~daw_bridge.errors.AutomixError` subclasses (one line) for an existing ``out``
    without ``force``, an unwritable place, or a model that does not mix the drum slots.
    """
    from automix.eval.evaluate import evaluate_pair
    from automix.inference.mixing import mix
    from automix.models.pretrained import load
    from daw_bridge.audio import probe
    from daw_bridge.stems import match_stems
    from daw_bridge.outputs import new_output_folder

    started = time.perf_counter()
    loaded = load(model)
    if loaded.task != "mix":
        raise AutomixError(f"model '{loaded.card.name}' is a {loaded.task} model; the demo needs a mixing model")
    folder = example_stems()
    reference_name = _reference_name(loaded)
    reference = folder / "reference" / f"{reference_name}.flac"
    final = Path(out).expanduser().absolute()
    example = _stem_files(folder)
    match_stems(example, loaded.slots, channels={f: probe(f).channels for f in example})  # before writing anything
    with new_output_folder(final, force=force) as tmp:  # the stems, renamed into place once copied
        (tmp / "stems").mkdir()
        for stem in example:
            shutil.copyfile(stem, tmp / "stems" / stem.name)
    stems = sorted((final / "stems").iterdir())
    result = mix(stems, final / "mix.wav", model=loaded, progress=progress, force=force,
                 session=final / "session", session_name="automix-demo")
    # scored against the shipped reference as it is, at its loudness (every system brought there
    # by one gain), exactly as 'automix evaluate --estimate mix.wav --reference ... --stems stems/'
    report = evaluate_pair(final / "mix.wav", reference, stems=stems, name=loaded.card.name, plots=plots)
    report.save(final / "report", plots=plots, overwrite=force)
    written = result.session
    session_file = Path(written.path)
    return DemoResult(
        folder=final,
        mix=final / "mix.wav",
        session=session_file,
        report=final / "report",
        model=loaded.card.name,
        reference=reference_name,
        scores=report.systems,
        seconds=time.perf_counter() - started,
        notes=[*result.notes, *written.notes, *report.notes],
    )
