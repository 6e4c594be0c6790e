"""One pass of a render: the tracks' blocks summed in track order, mastered, metered, kept.

Input: the heard tracks' plans; output: the master output in a sink (float32 ``[2, n]``
blocks) and its loudness (LUFS), true peak (dBTP) and sample peak. How: ``docs/rendering.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from daw_bridge.errors import AudioError, RenderError
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter
from daw_bridge.render_chain import STALL_S, Chain, PluginFault, build_chain
from daw_bridge.render_output import Output
from daw_bridge.render_plan import TrackPlan, problems_error
from daw_bridge.render_settings import RenderSettings
from daw_bridge.render_tracks import SerialPool, ThreadPool, TrackRunner
from daw_bridge.session import Session


@dataclass
class PassStats:
    """What one pass put out: its length (frames), loudness (LUFS), peaks, whether the tail was cut."""

    frames: int
    loudness_lufs: float
    true_peak_db: float
    sample_peak: float
    capped: bool
    notes: list[str]


def progress_bar(progress: bool | None, total_s: float, desc: str) -> Any:
    """A bar counting seconds of audio (:func:`daw_bridge.progress.seconds_bar`: on a terminal only)."""
    from daw_bridge.progress import seconds_bar

    return seconds_bar(total_s, desc, progress)


def _build(
    session: Session, plans: list[TrackPlan], base: Path, disabled: set[tuple[int, int]], block_frames: int,
    runners: list[TrackRunner],
) -> tuple[Chain, list[str]]:
    """Fill ``runners`` (one per plan) and make the master chain; ``(master, notes)``.

    Raises one :class:`RenderError` for every plugin or file that cannot be prepared.
    """
    rate = session.sample_rate
    problems: list[str] = []
    notes: list[str] = []
    for plan in plans:
        channels = 1 if plan.track.channel is not None else plan.info.channels
        slots, found, said = build_chain(
            plan.track.plugins, owner=plan.owner, track_index=plan.index, channels=channels,
            sample_rate=rate, start=plan.start, base=base, disabled=disabled,
        )  # fmt: skip
        problems.extend(found)
        notes.extend(said)
        try:
            runners.append(TrackRunner(plan, slots, rate, block_frames))
        except AudioError as exc:
            problems.append(f"{plan.owner}: {exc}")
    master_slots, found, said = build_chain(
        session.master, owner="master", track_index=None, channels=2, sample_rate=rate, start=0,
        base=base, disabled=disabled,
    )  # fmt: skip
    problems.extend(found)
    notes.extend(said)
    if problems:
        raise problems_error(problems)
    return Chain(master_slots, block_frames), notes


def _mix_blocks(pool: SerialPool | ThreadPool, master: Chain, output: Output, block_frames: int, rate: int) -> None:
    """Sum, master and push blocks until the output is done; the workers run one block ahead."""
    give_up = output.limit + master.latency + (len(master.slots) + 1) * block_frames + int(STALL_S * rate)
    k = 0
    pool.submit(0, 0, block_frames)
    while True:
        blocks = pool.collect(k)
        pos = k * block_frames
        pool.submit(k + 1, pos + block_frames, block_frames)  # the workers go on while we master
        mix: np.ndarray | None = None
        for block in blocks:  # track order, whatever the threads: bit-identical sums
            if block is None:
                continue
            if mix is None:
                mix = block
            else:
                mix += block
        if mix is None:
            mix = np.zeros((2, block_frames), dtype=np.float32)
        try:
            mastered = master.feed(mix)
        except PluginFault as fault:
            raise RenderError(f"{fault.message}; nothing was written") from None
        for y in mastered:
            output.push(y)
        if output.done:
            break
        k += 1
        if pos > give_up:
            raise RenderError(f"the master chain stopped returning audio after {output.received / rate:.2f} s")


def render_pass(
    session: Session,
    plans: list[TrackPlan],
    *,
    base: Path,
    disabled: set[tuple[int, int]],
    settings: RenderSettings,
    threads: int,
    sink: Any,
) -> PassStats:
    """Render the master output once into ``sink``, metering it. Plugins raise PluginFault."""
    rate = session.sample_rate
    block_frames = int(settings.block_frames)
    content = max(p.end for p in plans)
    runners: list[TrackRunner] = []
    pool: SerialPool | ThreadPool | None = None
    bar = None
    try:
        master, notes = _build(session, plans, base, disabled, block_frames, runners)
        loudness = LoudnessMeter(rate, 2)
        true_peak = TruePeakMeter(rate, 2)
        bar = progress_bar(settings.progress, content / rate, "rendering")

        def emit(chunk: np.ndarray) -> None:
            loudness.add(chunk)
            true_peak.add(chunk)
            sink.write(chunk)
            bar.update(round(chunk.shape[1] / rate, 6))

        output = Output(rate=rate, content=content, tail_s=settings.tail_s, emit=emit)
        workers = min(threads, len(runners))
        pool = ThreadPool(runners, workers) if workers > 1 else SerialPool(runners)
        _mix_blocks(pool, master, output, block_frames, rate)
        return PassStats(
            frames=output.emitted,
            loudness_lufs=loudness.integrated(),
            true_peak_db=true_peak.true_peak_db(),
            sample_peak=true_peak.sample_peak,
            capped=output.capped,
            notes=notes,
        )
    finally:
        if pool is not None:
            pool.close()
        for runner in runners:
            runner.close()
        if bar is not None:
            bar.close()
