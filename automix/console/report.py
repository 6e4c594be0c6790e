"""How close a fitted console comes to its target: renders scored with SNR and MR-STFT distance.

Three mixes of the whole song are scored against the target: the closed-form gain/pan start
(:mod:`automix.console.closed_form`), the exact console's render of the fitted settings
(:class:`~automix.console.model.Console`, JUCE compressor), and daw_bridge's pedalboard render of
the plan (what a user gets from ``automix render``); and the console against pedalboard (how
faithfully the plan carries the console).
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automix.console.model import Console

__all__ = ["FitReport", "render_console", "render_plan", "score", "snr_db"]


def snr_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    """``10 log10(sum(ref^2) / sum((est - ref)^2))`` in dB over all channels (float64; capped at 200)."""
    ref = np.asarray(reference, dtype=np.float64)
    err = np.asarray(estimate, dtype=np.float64) - ref
    num, den = float(np.sum(ref**2)), float(np.sum(err**2))
    if den == 0.0:
        return 200.0
    if num == 0.0:
        return -200.0
    return float(min(200.0, 10.0 * math.log10(num / den)))


def score(mix: np.ndarray, target: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(SNR dB, MR-STFT distance) of ``mix`` against ``target``, both ``[2, T]``."""
    from automix.eval.metrics import mrstft_distance

    return snr_db(mix, target), float(mrstft_distance(mix, target, sample_rate))


@dataclass
class FitReport:
    """SNR (dB) and MR-STFT distance to the target of: the console's render (``snr_db``, ``mrstft``),
    pedalboard's render of the plan (``daw_*``; None when not rendered), the closed-form gain/pan
    start (``start_*``; None when gain and pan were not fitted); ``console_vs_daw_snr_db``: the
    console's render against pedalboard's; ``seconds``: rendering and scoring time."""

    snr_db: float
    mrstft: float
    daw_snr_db: float | None = None
    daw_mrstft: float | None = None
    console_vs_daw_snr_db: float | None = None  # how well the plan reproduces the console's render
    start_snr_db: float | None = None
    start_mrstft: float | None = None
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = []
        if self.start_snr_db is not None:
            out.append(f"closed-form gain/pan start: SNR {self.start_snr_db:.2f} dB, MR-STFT {self.start_mrstft:.4f}")
        out.append(f"console render: SNR {self.snr_db:.2f} dB, MR-STFT {self.mrstft:.4f}")
        if self.daw_snr_db is not None:
            out.append(f"daw_bridge render (pedalboard) of the plan: SNR {self.daw_snr_db:.2f} dB, MR-STFT {self.daw_mrstft:.4f}")
            out.append(f"console vs daw_bridge render: SNR {self.console_vs_daw_snr_db:.2f} dB")
        return out


@torch.no_grad()
def render_console(console: Console, stems: np.ndarray) -> np.ndarray:
    """The exact console's mix ``[2, T]`` float32 of ``stems`` ``[N, T]``."""
    return console(torch.from_numpy(np.ascontiguousarray(stems))[None])[0].numpy()


def render_plan(plan: Any, stems: np.ndarray, files: list[Path] | None, names: list[str], rate: int) -> np.ndarray:
    """daw_bridge's render ``[2, T]`` of ``plan`` (stems as arrays go through temporary WAVs), cut or padded to T."""
    from daw_bridge.render import render

    def run(base: Path | None) -> np.ndarray:
        return render(plan, None, normalize=False, tail_s=0, base_dir=base).audio  # a thread per core

    if files is not None:
        out = run(None)
    else:
        import soundfile as sf

        with tempfile.TemporaryDirectory(prefix="automix-fit.") as tmp:
            for nm, x in zip(names, stems):
                sf.write(Path(tmp) / f"{nm}.wav", x, rate, subtype="FLOAT")
            out = run(Path(tmp))
    frames = stems.shape[1]
    out = out[:, :frames]
    return np.pad(out, ((0, 0), (0, frames - out.shape[1]))) if out.shape[1] < frames else out


def score_fit(console: Console, plan: Any, inputs: Any, start_mix: np.ndarray | None, check_render: bool,
              console_is_start: bool = False) -> FitReport:  # fmt: skip
    """Render and score (see the module notes); ``inputs`` a :class:`~automix.console.inputs.FitInputs`.

    pedalboard renders the plan in a second thread while the console renders (pedalboard's
    processing lets go of Python's lock), so the two renders overlap on two cores.
    ``console_is_start``: the console holds the closed form's faders and pans and nothing else,
    so its render is ``start_mix`` (the same float32 products) and is scored once.
    """
    from concurrent.futures import ThreadPoolExecutor

    import soundfile  # noqa: F401  (imported here, not first in the worker: concurrent first imports can fail)

    import automix.eval.metrics  # noqa: F401
    import daw_bridge.render  # noqa: F401

    started = time.perf_counter()
    target, rate = inputs.target, inputs.sample_rate
    with ThreadPoolExecutor(max_workers=1) as pool:
        daw_job = pool.submit(render_plan, plan, inputs.stems, inputs.files, inputs.names, rate) if check_render else None
        mix = start_mix if console_is_start and start_mix is not None else render_console(console, inputs.stems)
        report = FitReport(*score(mix, target, rate))
        if start_mix is not None:
            same = mix is start_mix
            report.start_snr_db, report.start_mrstft = (report.snr_db, report.mrstft) if same else score(start_mix, target, rate)
        daw = daw_job.result() if daw_job is not None else None
    if daw is not None:
        report.daw_snr_db, report.daw_mrstft = score(daw, target, rate)
        report.console_vs_daw_snr_db = snr_db(daw, mix)
    report.seconds = time.perf_counter() - started
    return report
