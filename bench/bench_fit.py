"""Benchmark: console fitting (automix.console.fit) against the fitter it replaced, on the same work.

The work: the shipped example take (eight mono drum stems of 8 s at 44.1 kHz, with bleed)
repeated to each ``--lengths`` value, and a target mixed from it with known settings (faders,
pans, a four-band EQ on every track, compressors on two) rendered by pedalboard; the fit of
``--groups`` (gain, pan, EQ and compression by default) from scratch. For each length it prints
the time to the plan, the time of the report's renders and scores, their sum and its ratio to
the length, the report's SNR / MR-STFT (closed-form start, exact console, pedalboard) and how
far the fitted settings are from the ones the target was made with.

The baseline is the fitter of commit c66a058 (``fit_console`` by Adam over the whole take per
step, MR-STFT loss, JUCE compressor; its ``automix/console/{model,fit}.py`` read from git, so
that nothing of the new code speeds it up): one step timed on ``--legacy-seconds`` excerpts of
the same take (two lengths; a step costs a fixed part plus a part linear in the length, and the
line through the two is extended to the longest length), times its default 500 steps. ``--legacy-fit`` also runs it to the end on a short
excerpt (``--legacy-fit-seconds``, gain, pan and EQ, ``--legacy-fit-steps``) beside the new
fitter on the same excerpt, for fidelity.

Usage: ``PYTHONPATH=. python bench/bench_fit.py [--lengths 15,60,180] [--legacy-fit]``.
Timings are wall-clock and process CPU seconds (this machine's two cores are shared: compare
within one run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from automix.console.fit import fit_console  # noqa: E402
from automix.console.model import Console  # noqa: E402
from automix.console.plans import console_to_plan
from daw_bridge.render import render

LEGACY_COMMIT = "c66a058"
EXAMPLE = ROOT / "automix" / "examples" / "drums"
TRUTH = {
    "gain_db": [-4.0, 1.0, -7.0, -6.5, -2.0, -5.0, -3.0, -8.0],
    "pan": [-0.3, 0.0, -0.6, 0.6, 0.1, -0.4, 0.2, 0.5],
    "low_shelf_gain_db": [-3.0, 4.0, -2.0, -2.0, 2.0, 3.0, 3.0, 4.0],
    "peak1_gain_db": [2.0, -4.0, 1.0, 1.0, -3.0, -2.0, -2.0, -3.0],
    "peak2_gain_db": [-2.0, 3.0, 2.0, 2.0, 4.0, 2.0, 2.0, 1.0],
    "high_shelf_gain_db": [3.0, -2.0, 1.0, 1.0, 2.0, -1.0, -1.0, -2.0],
    "comp_threshold_db": [0.0, -20.0, 0.0, 0.0, -22.0, 0.0, 0.0, 0.0],
    "comp_ratio": [1.0, 4.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0],
    "comp_attack_ms": [10.0, 5.0, 10.0, 10.0, 5.0, 10.0, 10.0, 10.0],
    "comp_release_ms": [100.0, 150.0, 100.0, 100.0, 50.0, 100.0, 100.0, 100.0],
}  # per stem, in file-name order: hi-hat, kick, overhead_L, overhead_R, snare, tom_1, tom_2, tom_3


def take(seconds: float) -> tuple[np.ndarray, list[str], int]:
    """The example take's stems ``[8, T]`` repeated to ``seconds``, their names and rate."""
    files = sorted(EXAMPLE.glob("*.flac"))
    audio = np.stack([sf.read(f, dtype="float32")[0] for f in files])
    rate = sf.info(files[0]).samplerate
    frames = round(seconds * rate)
    return np.tile(audio, (1, -(-frames // audio.shape[1])))[:, :frames], [f.stem for f in files], rate


def target_of(stems: np.ndarray, names: list[str], rate: int, groups: tuple[str, ...]) -> np.ndarray:
    """The stems mixed with :data:`TRUTH` (the groups fitted), rendered by pedalboard ``[2, T]``."""
    console = Console(len(names), rate, names=names, eq="eq" in groups, compressor="comp" in groups,
                      master_eq=False, master_compressor=False)  # fmt: skip
    console.set_values({k: v for k, v in TRUTH.items() if k in ("gain_db", "pan") or
                        (k.startswith("comp_") and "comp" in groups) or ("_gain_db" in k and "eq" in groups)})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for name, x in zip(names, stems):
            sf.write(Path(tmp) / f"{name}.wav", x, rate, subtype="FLOAT")
            files.append(Path(tmp) / f"{name}.wav")
        out = render(console_to_plan(console, files), None, normalize=False, tail_s=0, threads=1).audio
    return out[:, : stems.shape[1]]


def errors(result, groups: tuple[str, ...]) -> str:
    """The worst differences between fitted and true settings."""
    got = {k: np.array([t[k] for t in result.tracks]) for k in result.tracks[0]}
    level = got["gain_db"] + got["comp_makeup_db"]
    parts = [f"gain {np.abs(level - TRUTH['gain_db']).max():.2f} dB", f"pan {np.abs(got['pan'] - TRUTH['pan']).max():.3f}"]
    if "eq" in groups:
        worst = max(np.abs(got[k] - TRUTH[k]).max() for k in TRUTH if k.endswith("_gain_db") and k != "gain_db")
        parts.append(f"EQ band gain {worst:.2f} dB")
    if "comp" in groups:
        squeezed = np.array(TRUTH["comp_ratio"]) > 1
        diff = got["comp_threshold_db"][squeezed] - np.array(TRUTH["comp_threshold_db"])[squeezed]
        parts.append(f"threshold {np.abs(diff).max():.1f} dB")
    return "worst errors: " + ", ".join(parts)


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - wall, time.process_time() - cpu


# --------------------------------------------------------------------------- the fitter of c66a058


def legacy_modules() -> tuple[types.ModuleType, types.ModuleType]:
    """``model`` and ``fit`` of commit c66a058 (its fit on its own console), read from git."""
    def source(path: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), "show", f"{LEGACY_COMMIT}:{path}"], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip

    model = sys.modules["legacy_console_model"] = types.ModuleType("legacy_console_model")
    exec(compile(source("automix/console/model.py"), "legacy/model.py", "exec"), model.__dict__)  # noqa: S102 (our own old code)
    fit = sys.modules["legacy_console_fit"] = types.ModuleType("legacy_console_fit")
    code = source("automix/console/fit.py").replace("from automix.console.model import", "from legacy_console_model import")
    exec(compile(code, "legacy/fit.py", "exec"), fit.__dict__)  # noqa: S102
    return model, fit


def legacy_step_seconds(model, stems: np.ndarray, target: np.ndarray, rate: int, groups: tuple[str, ...], steps: int) -> float:
    """Seconds per step of the old fitter: its loop body (the console over the whole excerpt, the
    MR-STFT loss, backward, Adam), after one untimed step."""
    from automix.losses import build_loss

    console = model.Console(stems.shape[0], rate, eq="eq" in groups, compressor="comp" in groups,
                            master_eq="master_eq" in groups, master_compressor="master_comp" in groups)  # fmt: skip
    console.set_trainable(groups)
    x, y = torch.from_numpy(stems)[None], torch.from_numpy(target)[None]
    criterion = build_loss("mrstft", rate)
    opt = torch.optim.Adam([p for p in console.parameters() if p.requires_grad], lr=0.05)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        criterion(console(x), y)[0].backward()
        opt.step()

    step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", default="15,60,180", help="song lengths (s), comma-separated")
    ap.add_argument("--groups", default="gain,pan,eq,comp")
    ap.add_argument("--legacy-seconds", default="2.5,5", help="excerpt lengths (s) a step of the old fitter is timed on")
    ap.add_argument("--legacy-steps", type=int, default=2, help="steps timed per excerpt")
    ap.add_argument("--legacy-fit", action="store_true", help="also run the old fitter to the end on a short excerpt")
    ap.add_argument("--legacy-fit-seconds", type=float, default=4.0)
    ap.add_argument("--legacy-fit-steps", type=int, default=300)
    ap.add_argument("--no-legacy", action="store_true", help="skip the old fitter")
    args = ap.parse_args()
    groups = tuple(args.groups.split(","))
    lengths = [float(x) for x in args.lengths.split(",")]
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; groups {groups}")
    totals = {}
    for seconds in lengths:
        stems, names, rate = take(seconds)
        target = target_of(stems, names, rate, groups)
        result, wall, cpu = timed(fit_console, stems, target, rate, names=names, groups=groups, progress=False)
        fit_s, report_s = result.seconds, result.report.seconds
        totals[seconds] = wall
        print(f"\n{len(names)} stems x {seconds:.0f} s: {wall:.1f} s wall ({cpu:.1f} s CPU) = {fit_s:.1f} s to the plan "
              f"+ {report_s:.1f} s renders and scores; {wall / seconds:.3f} s per second of audio")  # fmt: skip
        for line in [*(s.line() for s in result.stages), *result.report.lines(), errors(result, groups)]:
            print("  " + line)
    if len(lengths) > 1:
        a, b = min(lengths), max(lengths)
        print(f"\ngrowth {a:.0f} s -> {b:.0f} s: time x{totals[b] / totals[a]:.2f} for length x{b / a:.0f}")
    if args.no_legacy:
        return
    legacy_model, legacy_fit = legacy_modules()
    excerpts, steps = [], []
    for seconds in (float(x) for x in args.legacy_seconds.split(",")):
        stems, names, rate = take(seconds)
        target = target_of(stems, names, rate, groups)
        excerpts.append(seconds)
        steps.append(legacy_step_seconds(legacy_model, stems, target, rate, groups, args.legacy_steps))
        print(f"\nold fitter (c66a058), {len(names)} stems x {seconds:.1f} s: {steps[-1]:.2f} s per step")
    longest = max(lengths)
    if len(excerpts) > 1:  # a step costs a + b * length: the line through the excerpts' steps
        b, a = np.polyfit(excerpts, steps, 1)
        per_step, how = a + b * longest, f"the line through the excerpts' steps ({a:.2f} s + {b:.3f} s per second of audio)"
    else:
        per_step, how = steps[0] * longest / excerpts[0], "proportionally to the length"
    estimate = per_step * 500
    print(f"old fitter on {longest:.0f} s, a step scaled by {how}: {per_step:.0f} s, x 500 steps (its default): "
          f"{estimate:.0f} s = {estimate / 3600:.1f} h; new: {totals[longest]:.1f} s -> {estimate / totals[longest]:.0f}x faster")
    if args.legacy_fit:
        fidelity(legacy_fit, args)


def fidelity(legacy, args) -> None:
    """Old and new fitter to the end on one short excerpt (gain, pan, EQ): time and scores."""
    groups = ("gain", "pan", "eq")
    stems, names, rate = take(args.legacy_fit_seconds)
    target = target_of(stems, names, rate, groups)
    new, wall_new, _ = timed(fit_console, stems, target, rate, names=names, groups=groups, progress=False)
    old, wall_old, _ = timed(legacy.fit_console, stems, target, rate, names=names, groups=groups,
                             steps=args.legacy_fit_steps, progress=False)  # fmt: skip
    print(f"\nfidelity on {len(names)} stems x {args.legacy_fit_seconds:.0f} s, {', '.join(groups)}:")
    print(f"  new: {wall_new:.1f} s; " + "; ".join(new.report.lines()))
    print(f"  old: {wall_old:.1f} s, {old.steps} steps; " + "; ".join(old.report.lines()))


if __name__ == "__main__":
    main()
