"""Fit the differentiable console (:mod:`automix.console.model`) to a target mix.

``fit_console(stems, target)`` starts from a neutral console (0 dB, centre, flat EQ, no
compression), optimises the chosen parameter groups with Adam on a loss from
:func:`automix.losses.build_loss` (``"mrstft"`` by default; any spec it takes, e.g.
``"stereo_perceptual"`` or ``"l1+0.1*mrstft"``), and returns a :class:`FitResult` whose
:attr:`~FitResult.plan` is a :class:`daw_bridge.Session` (builtin pedalboard plugins) that renders
the fitted mix. The fit report compares the target with both the console's own render and
``daw_bridge.render`` of the plan (SNR and :func:`automix.eval.metrics.mrstft_distance`).

Stems are mono (``[tracks, samples]`` or one mono file per track); the target is stereo
``[2, samples]`` (or a file). Lengths are cut to the shortest.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from automix.console.model import PARAMETER_GROUPS, Console, ConsoleError, console_to_plan

__all__ = ["DEFAULT_GROUPS", "FitReport", "FitResult", "fit_console", "snr_db"]

#: Parameter groups fitted unless told otherwise (see :data:`automix.console.model.PARAMETER_GROUPS`).
DEFAULT_GROUPS: tuple[str, ...] = ("gain", "pan", "eq")

PathLike = str | os.PathLike[str]


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


@dataclass
class FitReport:
    """How close the fitted mix is to the target: the console's render and the plan's daw_bridge render."""

    snr_db: float
    mrstft: float
    daw_snr_db: float | None = None
    daw_mrstft: float | None = None
    console_vs_daw_snr_db: float | None = None  # how well the plan reproduces the console's render

    def lines(self) -> list[str]:
        out = [f"console render: SNR {self.snr_db:.2f} dB, MR-STFT {self.mrstft:.4f}"]
        if self.daw_snr_db is not None:
            out.append(f"daw_bridge render of the plan: SNR {self.daw_snr_db:.2f} dB, MR-STFT {self.daw_mrstft:.4f}")
            out.append(f"console vs daw_bridge render: SNR {self.console_vs_daw_snr_db:.2f} dB")
        return out


@dataclass
class FitResult:
    """A fitted console: the plan (a :class:`daw_bridge.Session`), the settings and the report.

    ``tracks``: per track ``{parameter: value}`` (physical units); ``master`` likewise;
    ``history``: the loss per step; ``best_step``: the step whose parameters were kept.
    """

    plan: Any
    console: Console
    tracks: list[dict[str, float]]
    master: dict[str, float]
    history: list[float]
    best_step: int
    steps: int
    stopped_early: bool
    seconds: float
    loss: str
    groups: tuple[str, ...]
    report: FitReport
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for a terminal: the fit, the report, each track's gain and pan."""
        how = "stopped early" if self.stopped_early else "all steps"
        lines = [
            (
                f"fitted {', '.join(self.groups)} of {len(self.tracks)} tracks with {self.loss}: "
                f"{self.steps} steps ({how}; best at {self.best_step}, loss {self.history[self.best_step]:.5f}) "
                f"in {self.seconds:.1f} s"
            ),
            *self.report.lines(),
        ]
        for t, v in zip(self.plan.tracks, self.tracks):
            lines.append(f"  {t.name}: {v['gain_db']:+.2f} dB, pan {v['pan']:+.3f}")
        lines.extend(self.notes)
        return "\n".join(lines)


def _load_stems(
    stems: Any, sample_rate: int | None, names: Sequence[str] | None
) -> tuple[np.ndarray, int, list[Path] | None, list[str]]:
    from daw_bridge.audio import read_audio

    if isinstance(stems, (str, os.PathLike)):
        stems = [stems]
    if isinstance(stems, (list, tuple)) and stems and isinstance(stems[0], (str, os.PathLike)):
        files = [Path(s).expanduser().absolute() for s in stems]
        audio, rates = [], set()
        for f in files:
            x, rate = read_audio(f, sample_rate=sample_rate)
            if x.shape[0] != 1:
                raise ConsoleError(f"{f.name} has {x.shape[0]} channels; the console takes mono stems")
            audio.append(x[0])
            rates.add(rate)
        if len(rates) != 1:
            raise ConsoleError(f"the stems have different sample rates {sorted(rates)}; give sample_rate")
        n = min(len(a) for a in audio)
        names = list(names) if names is not None else _unique([f.stem for f in files])
        return np.stack([a[:n] for a in audio]).astype(np.float32), rates.pop(), files, names
    array = np.asarray(stems.detach().cpu().numpy() if isinstance(stems, torch.Tensor) else stems, dtype=np.float32)
    if array.ndim != 2:
        raise ConsoleError(f"stems must be [tracks, samples] (mono stems) or files, got shape {array.shape}")
    if sample_rate is None:
        raise ConsoleError("give sample_rate with stems as an array")
    names = list(names) if names is not None else [f"track{i + 1}" for i in range(array.shape[0])]
    return array, int(sample_rate), None, names


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def _load_target(target: Any, sample_rate: int) -> np.ndarray:
    from daw_bridge.audio import read_audio

    if isinstance(target, (str, os.PathLike)):
        x, _ = read_audio(target, sample_rate=sample_rate)
    else:
        x = np.asarray(target.detach().cpu().numpy() if isinstance(target, torch.Tensor) else target, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != 2:
        raise ConsoleError(f"the target must be stereo [2, samples], got shape {x.shape}")
    return x.astype(np.float32)


def fit_console(
    stems: Any,
    target: Any,
    sample_rate: int | None = None,
    *,
    names: Sequence[str] | None = None,
    groups: Sequence[str] = DEFAULT_GROUPS,
    loss: Any = "mrstft",
    steps: int = 500,
    lr: float = 0.05,
    patience: int = 50,
    min_delta: float = 1e-5,
    compressor_mode: Literal["juce", "dasp"] = "juce",
    check_render: bool = True,
    progress: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
    name: str = "fit",
) -> FitResult:
    """Fit a console so that its mix of ``stems`` sounds like ``target``; see the module notes.

    ``stems``: mono stem files (a list of paths) or an array ``[tracks, samples]`` (then
    ``sample_rate`` is needed and the plan names files ``<name>.wav``, relative: write the stems
    there). ``target``: a stereo file or ``[2, samples]``. ``groups``: which parameters move
    (:data:`automix.console.model.PARAMETER_GROUPS`: ``gain``, ``pan``, ``eq``, ``comp``, ``master_eq``,
    ``master_comp``); stages not fitted stay neutral and out of the plan. ``loss``: a spec for
    :func:`automix.losses.build_loss`. Adam with ``lr`` on the unconstrained parameters, a cosine
    decay to ``lr / 100`` over ``steps``, stopping when the loss has not improved by ``min_delta``
    (relative) for ``patience`` steps; the best step's parameters are kept. ``check_render``:
    render the plan with daw_bridge for the report (stems as arrays go through temporary WAVs).
    """
    from automix.losses import build_loss
    from automix.eval.metrics import mrstft_distance

    started = time.perf_counter()
    groups = tuple(groups)
    unknown = sorted(set(groups) - set(PARAMETER_GROUPS))
    if unknown or not groups:
        raise ConsoleError(f"unknown or no parameter groups {unknown}; use some of {sorted(PARAMETER_GROUPS)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    audio, rate, files, names = _load_stems(stems, sample_rate, names)
    tgt = _load_target(target, rate)
    notes: list[str] = []
    n = min(audio.shape[1], tgt.shape[1])
    if audio.shape[1] != tgt.shape[1]:
        notes.append(f"stems ({audio.shape[1]} frames) and target ({tgt.shape[1]}) differ in length: fitted on {n}")
    audio, tgt = audio[:, :n], tgt[:, :n]

    torch.manual_seed(seed)
    console = Console(
        audio.shape[0], rate, names=names, eq="eq" in groups, compressor="comp" in groups,
        master_eq="master_eq" in groups, master_compressor="master_comp" in groups, compressor_mode=compressor_mode,
    ).to(device)  # fmt: skip
    console.set_trainable(groups)
    x = torch.from_numpy(audio).to(device)[None]
    y = torch.from_numpy(tgt).to(device)[None]
    criterion = build_loss(loss, rate).to(device)
    params = [p for p in console.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 100)

    history: list[float] = []
    best = math.inf
    best_step = 0
    best_state = {k: v.detach().clone() for k, v in console.state_dict().items()}
    since = 0
    stopped_early = False
    from tqdm import tqdm

    bar = tqdm(total=steps, desc="fitting", disable=not progress, leave=False)
    try:
        for step in range(steps):
            opt.zero_grad(set_to_none=True)
            value, _ = criterion(console(x), y)
            if not torch.isfinite(value):
                notes.append(f"the loss became {float(value)} at step {step}; kept step {best_step}")
                stopped_early = True
                break
            v = float(value.detach())
            history.append(v)
            if not math.isfinite(best) or v < best - min_delta * abs(best):
                best, best_step, since = v, step, 0
                # the loss was measured with the parameters before this step's update: keep those
                best_state = {k: t.detach().clone() for k, t in console.state_dict().items()}
            else:
                since += 1
            value.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{v:.4f}")
            if since >= patience:
                stopped_early = True
                break
    finally:
        bar.close()
    console.load_state_dict(best_state)

    with torch.no_grad():
        mix = console(x)[0].cpu().numpy()
    report = FitReport(snr_db=snr_db(mix, tgt), mrstft=float(mrstft_distance(mix, tgt, rate)))

    plan_files: list[Path] = files if files is not None else [Path(f"{nm}.wav") for nm in names]
    plan = console_to_plan(console, plan_files, names=names, name=name)
    plan.notes.extend(notes)
    if check_render:
        report = _check_render(plan, audio, files, names, rate, mix, tgt, report)
    return FitResult(
        plan=plan, console=console, tracks=console.track_values(), master=console.master_values(),
        history=history, best_step=best_step, steps=len(history), stopped_early=stopped_early,
        seconds=time.perf_counter() - started, loss=criterion.describe(), groups=groups, report=report, notes=notes,
    )  # fmt: skip


def _check_render(plan: Any, audio: np.ndarray, files: list[Path] | None, names: list[str], rate: int,
                  mix: np.ndarray, tgt: np.ndarray, report: FitReport) -> FitReport:  # fmt: skip
    from daw_bridge.render import render

    from automix.eval.metrics import mrstft_distance

    def run(session: Any, base: Path | None) -> np.ndarray:
        out = render(session, None, normalize=False, tail_s=0, threads=1, base_dir=base).audio
        return out[:, : tgt.shape[1]]

    if files is not None:
        daw = run(plan, None)
    else:
        import soundfile as sf

        with tempfile.TemporaryDirectory(prefix="automix-fit.") as tmp:
            for nm, x in zip(names, audio):
                sf.write(Path(tmp) / f"{nm}.wav", x, rate, subtype="FLOAT")
            daw = run(plan, Path(tmp))
    if daw.shape[1] < tgt.shape[1]:
        daw = np.pad(daw, ((0, 0), (0, tgt.shape[1] - daw.shape[1])))
    report.daw_snr_db = snr_db(daw, tgt)
    report.daw_mrstft = float(mrstft_distance(daw, tgt, rate))
    report.console_vs_daw_snr_db = snr_db(daw, mix)
    return report
