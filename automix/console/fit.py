"""Fit the console (:mod:`automix.console.model`) to a target mix, fast: a closed form, then refinement.

``fit_console(stems, target, groups=..., seconds=...)`` returns a :class:`FitResult` whose
:attr:`~FitResult.plan` is a :class:`daw_bridge.Session` (builtin pedalboard plugins) that renders
the fitted mix. The stems are mono files or an array ``[N, T]`` (with ``sample_rate`` and
``names``); the target a stereo file or ``[2, T]`` (a network's mix in memory works as well as a
reference on disk). The fit, in order:

1. **Closed form** (:mod:`automix.console.closed_form`): least-squares faders and pans in the
   renderer's pan law, from the stems' Gram matrix (one pass over the audio; alone it explains a
   dry drum mix). Kept when it beats the neutral console.
2. **Compressors start** (:mod:`automix.console.dynamics`; when a compressor is fitted): on a
   pool of short excerpts where the tracks play, exact envelopes for a 3 x 3 grid of attack and
   release times, and each compressor set from a grid of thresholds and ratios (or left out).
3. **Spectral stage** (:mod:`automix.console.spectral`; when the EQ or the master EQ is fitted, or
   with ``loss="spectral"``): faders, pans, track and master EQ by L-BFGS on a quadratic
   objective built from the cross-spectra of (at most a minute of) the song, each step
   independent of its length; with compressors, of the compressed stems and the de-compressed
   target, so that the EQ is not bent to imitate compression.
4. **Compressor rounds** (with compressors): the grid again on the pool through the new EQ, then
   thresholds, ratios and makeups by L-BFGS against the exact console on the pool given the
   envelopes; the makeups then go into the faders.

Each stage keeps its best parameters, stops early, shows progress and respects the time budget
``seconds``. The fitted plan is then rendered with the exact console and with pedalboard and
scored (SNR, MR-STFT) against the target, as is the closed-form start (:class:`FitReport`); a
refinement that scores worse than the closed form it started from is dropped (a note says so).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from automix.console.closed_form import FitError, GainPanFit, fit_gain_pan_from_gram, gain_pan_to_weights, gram
from automix.console.inputs import FitInputs, load_inputs
from automix.console.model import EQ_PARAMETERS, PARAMETER_GROUPS, Console, ConsoleError
from automix.console.plans import console_to_plan
from automix.console.optimise import ABSOLUTE_DELTA, StageRecord, StageSettings, one_thread, run_lbfgs_stage
from automix.console.report import FitReport, score_fit, snr_db
from automix.console.spectral import LOSSES

__all__ = [
    "ARDOUR_HOLD",
    "DEFAULT_GROUPS",
    "SESSION_CARRIES",
    "FitError",
    "FitOptions",
    "FitReport",
    "FitResult",
    "carry_notes",
    "fit_console",
    "snr_db",
]

#: EQ parameters Ardour's ACE EQ holds fixed (its shelves have one Q, 0.707): ``FitOptions(hold=ARDOUR_HOLD)``.
ARDOUR_HOLD: tuple[str, ...] = ("low_shelf_q", "high_shelf_q")
#: Parameter groups fitted unless told otherwise (see :data:`automix.console.model.PARAMETER_GROUPS`).
DEFAULT_GROUPS: tuple[str, ...] = ("gain", "pan", "eq")
#: What of a fitted console the session formats daw_bridge writes carry as it sounds
#: (daw_bridge.formats): Ardour faders, pans and EQs (ACE EQ: exact for shelves of Q 0.707);
#: REAPER faders and pans, the plugin chains only as notes; MIDI automation faders (up to 0 dB)
#: and pans. Ardour's compressors are ACE Compressors, near pedalboard's but not the same.
SESSION_CARRIES: dict[str, tuple[str, ...]] = {"ardour": ("gain", "pan", "eq", "master_eq"),
                                               "reaper": ("gain", "pan"), "midi": ("gain", "pan")}  # fmt: skip


@dataclass
class FitOptions:
    """How :func:`fit_console` refines (each a keyword of it too).

    ``loss``: ``"mse"`` (squared error of the waveform: what SNR measures) or ``"spectral"``
    (each STFT bin's error over the target's smoothed amplitude there: quiet bands count more); ``steps``: most
    objective evaluations of the spectral stage, ``comp_steps`` of each compressor round;
    ``patience``: evaluations without a relative improvement of ``min_delta`` before a stage
    stops; ``spectral_s``: seconds of the song the spectral stage reads (pieces of 10 s spread
    over it; all of it when shorter); ``excerpts`` of ``excerpt_s`` seconds (after a 0.25 s warm-up) in the compressor
    stage's pool; ``ridge``: the closed form's (relative); ``seed`` places the excerpts;
    ``check_render``: render the plan with pedalboard for the report; ``hold``: EQ parameters
    kept at their neutral value (:data:`ARDOUR_HOLD`: the shelf Qs Ardour's ACE EQ cannot change).
    """

    loss: str = "mse"
    steps: int = 200
    comp_steps: int = 30
    patience: int = 50
    min_delta: float = 1e-4
    spectral_s: float = 60.0
    excerpts: int = 12
    excerpt_s: float = 0.75
    ridge: float = 1e-6
    seed: int = 0
    check_render: bool = True
    hold: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise :class:`ConsoleError` (one line) for a value the fit cannot use."""
        if self.loss not in LOSSES:
            raise ConsoleError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        unknown = sorted(set(self.hold) - set(EQ_PARAMETERS))
        if unknown:
            raise ConsoleError(f"hold takes EQ parameters ({', '.join(EQ_PARAMETERS)}), not {', '.join(unknown)}")
        for k in ("steps", "comp_steps", "patience", "excerpts"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConsoleError(f"{k} must be a positive integer, got {v!r}")
        for k, least in (("excerpt_s", 1e-3), ("spectral_s", 1e-3), ("ridge", 0.0), ("min_delta", 0.0)):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < least:
                raise ConsoleError(f"{k} must be a number of at least {least:g}, got {v!r}")


@dataclass
class FitResult:
    """A fitted console: the plan (a :class:`daw_bridge.Session`), the settings and the report.

    ``tracks``: per track ``{parameter: value}`` (physical units); ``master`` likewise;
    ``start``: the closed-form gain/pan fit (None when neither was fitted); ``stages``: what
    each refinement stage did; ``history``: the objective of the neutral console, of the closed
    form (both exact, from the Gram matrix), then each stage's values (at its start and after each
    L-BFGS iteration; each stage its own objective), all relative to the target's energy;
    ``best_step``: the index in ``history`` of the kept parameters; ``steps``: objective
    evaluations of all stages; ``stopped_early``: a stage converged before its step limit;
    ``seconds``: time to the plan, ``report.seconds`` rendering and scoring time.
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
    start: GainPanFit | None = None
    stages: list[StageRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Lines for a terminal: the fit, each stage, the report, each track's settings, notes."""
        lines = [(f"fitted {', '.join(self.groups)} of {len(self.tracks)} tracks ({self.loss}): {self.steps} steps "
                 f"in {self.seconds:.1f} s, then {self.report.seconds:.1f} s rendering and scoring")]  # fmt: skip
        if self.start is not None:
            lines.append(f"  closed form: objective {_db(self.history[0]):.2f} -> {_db(self.start.residual):.2f} dB")
        lines += ["  " + s.line() for s in self.stages if s.values]
        lines += self.report.lines()
        for t, v in zip(self.plan.tracks, self.tracks):
            lines.append(f"  {t.name}: {_track_line(v, self.groups)}")
        lines += self.notes
        lines += carry_notes(self.groups)
        return "\n".join(lines)


def _db(value: float) -> float:
    return 10.0 * math.log10(max(value, 1e-30))


def _track_line(v: dict[str, float], groups: Sequence[str]) -> str:
    text = f"{v['gain_db']:+.2f} dB, pan {v['pan']:+.3f}"
    if "eq" in groups:
        text += ", EQ " + " ".join(f"{v[f'{b}_gain_db']:+.1f}@{v[f'{b}_freq_hz']:.0f}" for b in ("low_shelf", "peak1", "peak2", "high_shelf"))
    if "comp" in groups and v["comp_ratio"] > 1.0 + 1e-6:
        text += f", comp {v['comp_threshold_db']:.1f} dB {v['comp_ratio']:.1f}:1 {v['comp_attack_ms']:.1f}/{v['comp_release_ms']:.0f} ms"
    return text


def carry_notes(groups: Sequence[str]) -> list[str]:
    """Lines naming what the session formats leave out of a fit of ``groups`` (empty: nothing)."""
    notes = []
    beyond_faders = [g for g in groups if g not in SESSION_CARRIES["reaper"]]
    if beyond_faders:
        notes.append(f"sessions: REAPER and MIDI files written from this plan carry faders and pans only (REAPER gets "
                     f"the chains as notes); the fitted {', '.join(beyond_faders)} are in the plan, its render and an "
                     "Ardour session: fit with --fit gain,pan when a REAPER session must sound like the plan")
    compressors = [g for g in groups if g not in SESSION_CARRIES["ardour"] and g in ("comp", "master_comp")]
    if compressors:
        notes.append("sessions: an Ardour session holds the compressors as ACE Compressors, whose detector is not "
                     "pedalboard's: near the plan's render, not identical (about 20 dB SNR on a compressed track)")
    return notes


# --------------------------------------------------------------------------- stages


def _closed_form(console: Console, inputs: FitInputs, groups: Sequence[str], opts: FitOptions):
    """The neutral console and the closed form: (history, kept index, GainPanFit or None)."""
    stats = gram(inputs.stems, inputs.target)
    n = len(inputs.names)
    gain, pan = "gain" in groups, "pan" in groups
    fit = fit_gain_pan_from_gram(stats, inputs.stems if (gain or pan) else None, gain=gain, pan=pan, start=None,
                                 names=inputs.names, target_label=inputs.target_label, ridge=opts.ridge)  # fmt: skip
    history = [stats.residual(gain_pan_to_weights(np.zeros(n), np.zeros(n)))]
    if not (gain or pan):
        return history, 0, None
    history.append(fit.residual)
    if fit.residual < history[0] - max(opts.min_delta * history[0], ABSOLUTE_DELTA):
        console.set_values({"gain_db": fit.gain_db.tolist(), "pan": fit.pan.tolist()})
        return history, 1, fit
    return history, 0, fit


def _spectral_stage(console: Console, stems: np.ndarray, target: np.ndarray, spans: list[tuple[int, int]],
                    groups: Sequence[str], settings: StageSettings, opts: FitOptions) -> StageRecord:  # fmt: skip
    from automix.console.spectral import cross_spectra, spectral_objective

    console.set_trainable([g for g in groups if g in ("gain", "pan", "eq", "master_eq")])
    for k in opts.hold:
        console.track[k].requires_grad_(False)
        console.master[k].requires_grad_(False)
    spectra = cross_spectra(stems, target, console.sample_rate, opts.loss, spans)
    return run_lbfgs_stage("spectral fit", console, lambda: spectral_objective(console, spectra), settings)


def _compressor_rounds(console: Console, pool: Any, groups: Sequence[str], settings: StageSettings) -> list[StageRecord]:
    """Thresholds, ratios and makeups refined on the pool (faders, pans and EQ stay as the spectral
    stage left them: a few seconds of excerpts would overfit them); a second round after the
    master compressor's envelope follows the mix. Makeups then go into the faders."""
    from automix.console.dynamics import pool_objective, set_envelopes

    console.set_trainable([g for g in groups if g in ("comp", "master_comp")])
    for where in ("track", "master"):
        for k in ("comp_knee_db", "comp_attack_ms", "comp_release_ms"):  # hard knee; times from the grid
            getattr(console, where)[k].requires_grad_(False)
    master = "master_comp" in groups
    records = []
    for round_ in range(2 if master else 1):
        label = "compressor fit" + (f" {round_ + 1}" if master else "")
        records.append(run_lbfgs_stage(label, console, lambda: pool_objective(console, pool), settings))
        set_envelopes(console, pool)
    if "gain" in groups:
        _makeup_to_fader(console)
    return records


def _makeup_to_fader(console: Console) -> None:
    """Move each track's makeup gain into its fader (both are gains after the compressor)."""
    from automix.console.model import PARAMETER_RANGES

    lo, hi = PARAMETER_RANGES["gain_db"].minimum, PARAMETER_RANGES["gain_db"].maximum
    tv = console.track_values()
    console.set_values({"gain_db": [min(max(t["gain_db"] + t["comp_makeup_db"], lo), hi) for t in tv],
                        "comp_makeup_db": [0.0] * len(tv)})  # fmt: skip


def _refine(console: Console, inputs: FitInputs, groups: Sequence[str], opts: FitOptions, deadline: float | None,
            progress: bool) -> tuple[list[StageRecord], list[str]]:  # fmt: skip
    """The refinement stages (see the module notes): their records and notes."""
    from automix.console.dynamics import init_compressors, make_pool, song_gains
    from automix.console.spectral import material_spans

    wanted = set(groups)
    spectral = bool({"eq", "master_eq"} & wanted) or (opts.loss == "spectral" and bool({"gain", "pan"} & wanted))
    compressors = bool({"comp", "master_comp"} & wanted)
    base = StageSettings(steps=opts.steps, patience=opts.patience, min_delta=opts.min_delta, deadline=deadline,
                         progress=progress)  # fmt: skip
    pool_args = {"count": opts.excerpts, "seconds": opts.excerpt_s, "seed": opts.seed}
    spans = material_spans(inputs.stems.shape[1], inputs.sample_rate, opts.spectral_s)
    records, notes = [], []

    def share(fraction: float) -> StageSettings:
        now = time.perf_counter()
        return replace(base, deadline=None if deadline is None else now + fraction * (deadline - now))

    if not compressors:
        if spectral:
            records.append(_spectral_stage(console, inputs.stems, inputs.target, spans, groups, share(1.0), opts))
        return records, notes
    pool = make_pool(console, inputs.stems, inputs.target, opts.loss, **pool_args)
    notes = init_compressors(console, pool, "comp" in wanted, "master_comp" in wanted, spectral and "gain" in wanted)
    if spectral:  # the EQ on compressed stems and a de-compressed target
        tracks, master = song_gains(console, inputs.stems, spans, "master_comp" in wanted)
        stems = np.concatenate([inputs.stems[:, a:b] for a, b in spans], axis=1) * tracks
        target = np.concatenate([inputs.target[:, a:b] for a, b in spans], axis=1)
        target = target if master is None else target / master
        edges = np.cumsum([0] + [b - a for a, b in spans]).tolist()
        records.append(_spectral_stage(console, stems, target, list(itertools.pairwise(edges)), groups, share(0.4), opts))
        pool = make_pool(console, inputs.stems, inputs.target, opts.loss, **pool_args, starts=pool.starts)  # new EQ
        notes += init_compressors(console, pool, "comp" in wanted, "master_comp" in wanted, level_to_fader=False)
    records += _compressor_rounds(console, pool, groups, replace(base, steps=opts.comp_steps))
    return records, notes


def _history(start: list[float], kept: int, records: list[StageRecord]) -> tuple[list[float], int]:
    history, best = list(start), kept
    for r in records:
        if r.values and r.improved:
            best = len(history) + r.best
        history += r.values
    return history, best


# --------------------------------------------------------------------------- the API


def _options(options: FitOptions | None, overrides: dict[str, Any]) -> FitOptions:
    known = {f.name for f in fields(FitOptions)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"fit_console() got unknown option(s) {unknown}; options are {sorted(known)}")
    opts = replace(options or FitOptions(), **overrides)
    opts.check()
    return opts


def _new_console(inputs: FitInputs, groups: Sequence[str]) -> Console:
    return Console(len(inputs.names), inputs.sample_rate, names=inputs.names, eq="eq" in groups,
                   compressor="comp" in groups, master_eq="master_eq" in groups,
                   master_compressor="master_comp" in groups)  # fmt: skip


def _worse(report: FitReport, loss: str) -> bool:
    """Whether the refined plan scores worse than the closed form (SNR for mse, MR-STFT for spectral)."""
    if report.start_snr_db is None:
        return False
    snr = report.daw_snr_db if report.daw_snr_db is not None else report.snr_db
    dist = report.daw_mrstft if report.daw_mrstft is not None else report.mrstft
    return snr < report.start_snr_db - 0.05 if loss == "mse" else dist > report.start_mrstft * 1.001


def fit_console(
    stems: Any,
    target: Any,
    sample_rate: int | None = None,
    *,
    names: Sequence[str] | None = None,
    groups: Sequence[str] = DEFAULT_GROUPS,
    seconds: float | None = None,
    options: FitOptions | None = None,
    progress: bool = True,
    name: str = "fit",
    **overrides: Any,
) -> FitResult:
    """Fit a console so that its mix of ``stems`` approaches ``target``; see the module notes.

    ``stems``: mono stem files or an array ``[N, T]`` (then ``sample_rate`` is needed, ``names``
    name the tracks and the plan names files ``<name>.wav``, relative: write the stems there).
    ``target``: a stereo file or ``[2, T]``. ``groups``: what to fit (``gain``, ``pan``, ``eq``,
    ``comp``, ``master_eq``, ``master_comp``); stages not fitted stay neutral and out of the
    plan. ``seconds``: a wall-clock budget for the refinement (loading, the closed form and the
    final renders are not cut). ``options`` (:class:`FitOptions`) or its fields as keywords
    (``steps=``, ``loss=``, ...). Raises :class:`FitError` for a silent target or silent stems.
    torch runs on one thread inside (restored after): the fit's tensors are small or split into
    blocks, and a second thread made it several times slower on two busy cores.
    """
    with one_thread():
        return _fit(stems, target, sample_rate, names, groups, seconds, _options(options, overrides), progress, name)


def _fit(stems: Any, target: Any, sample_rate: int | None, names: Sequence[str] | None, groups: Sequence[str],
         seconds: float | None, opts: FitOptions, progress: bool, name: str) -> FitResult:  # fmt: skip
    started = time.perf_counter()
    groups = tuple(dict.fromkeys(groups))
    unknown = sorted(set(groups) - set(PARAMETER_GROUPS))
    if unknown or not groups:
        raise ConsoleError(f"unknown or no parameter groups {unknown}; use some of {sorted(PARAMETER_GROUPS)}")
    if seconds is not None and not seconds > 0:
        raise ConsoleError(f"seconds must be a positive time budget, got {seconds!r}")
    inputs = load_inputs(stems, target, sample_rate, names)
    console = _new_console(inputs, groups)
    start_history, kept, start = _closed_form(console, inputs, groups, opts)
    deadline = None if seconds is None else started + seconds
    records, notes = _refine(console, inputs, groups, opts, deadline, progress)
    history, best = _history(start_history, kept, records)
    fit_seconds = time.perf_counter() - started
    plan_files = inputs.files if inputs.files is not None else [Path(f"{nm}.wav") for nm in inputs.names]
    plan = console_to_plan(console, plan_files, names=inputs.names, name=name)
    plain = start is not None and best == 1 and not any(console.stages.values())  # the closed form as it was
    report = score_fit(console, plan, inputs, start.mix if start is not None else None, opts.check_render, plain)
    if records and _worse(report, opts.loss):
        notes.append("the refinement scored worse than the closed form against the target: kept the closed form")
        console = _new_console(inputs, groups)
        console.set_values({"gain_db": start.gain_db.tolist(), "pan": start.pan.tolist()})
        plan = console_to_plan(console, plan_files, names=inputs.names, name=name)
        report = score_fit(console, plan, inputs, start.mix, opts.check_render, not any(console.stages.values()))
        best = 1
    plan.notes.extend(inputs.notes)
    if start is not None:
        notes = start.notes + notes
    return FitResult(
        plan=plan, console=console, tracks=console.track_values(), master=console.master_values(), history=history,
        best_step=best, steps=sum(r.steps for r in records), stopped_early=any(r.stopped == "converged" for r in records),
        seconds=fit_seconds, loss=opts.loss, groups=groups, report=report, start=start, stages=records,
        notes=inputs.notes + notes,
    )  # fmt: skip
