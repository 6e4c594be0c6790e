"""Render a mix plan (:class:`~daw_bridge.session.Session`) to a stereo mix with pedalboard.

``render(session, "mix.wav")`` reads every heard track block by block, runs its plugin chain,
applies gain and pan, sums the tracks, runs the master chain, normalises the loudness under a
true-peak ceiling and writes a WAV or FLAC file atomically; memory stays flat. Torch-free.
Every rule (order of operations, blocks and latency, tails, threads, plugin failures):
``docs/rendering.md``. Parts: :mod:`~daw_bridge.render_plan` (checks), :mod:`~daw_bridge.render_chain`
(plugins), :mod:`~daw_bridge.render_tracks` (tracks, threads), :mod:`~daw_bridge.render_pass` (one
pass), :mod:`~daw_bridge.render_output` (tail, sinks), :mod:`~daw_bridge.render_settings` (options).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from daw_bridge.audio import PEAK_FLOOR_DB, SILENCE_LUFS, AudioWriter, amplitude_db
from daw_bridge.errors import RenderError
from daw_bridge.level_stage import Level, leveled_blocks, plan_level
from daw_bridge.outputs import reads
from daw_bridge.panlaw import db_to_gain
from daw_bridge.render_chain import PluginFault
from daw_bridge.render_output import (
    AUTO_TAIL_MAX_S,
    AUTO_TAIL_QUIET_S,
    AUTO_TAIL_THRESHOLD_DB,
    FileSink,
    MemorySink,
    TempSink,
)
from daw_bridge.render_pass import PassStats, progress_bar, render_pass
from daw_bridge.render_plan import TrackPlan, balance_gains, preflight, track_start_frame
from daw_bridge.render_settings import DEFAULT_BLOCK_FRAMES, RenderSettings
from daw_bridge.session import Session

__all__ = [
    "AUTO_TAIL_MAX_S",
    "AUTO_TAIL_QUIET_S",
    "AUTO_TAIL_THRESHOLD_DB",
    "DEFAULT_BLOCK_FRAMES",
    "RenderError",
    "RenderResult",
    "RenderSettings",
    "balance_gains",
    "render",
    "track_start_frame",
]

_INTEGER_SUBTYPES = frozenset({"PCM_16", "PCM_24"})


@dataclass
class RenderResult:
    """What :func:`render` did.

    ``path`` is the written file (``None`` when rendering to memory) and ``audio`` the mix as
    float32 ``[2, frames]`` when rendering to memory (``None`` when written to a file).
    ``frames``/``duration_s`` are the output's length at ``sample_rate`` Hz, ``content_s`` the
    part up to the end of the last heard track and ``tail_s`` what was rendered after it.
    Loudness in LUFS, peaks in dBTP, gain in dB: ``loudness_before_lufs`` and
    ``true_peak_before_db`` are the master output's as rendered, ``gain_db`` the normalisation
    gain applied, ``loudness_lufs`` and ``true_peak_db`` the output's (the measured values
    moved by ``gain_db``). ``warnings`` are problems worked around (a plugin rendered without,
    a missed target), ``notes`` what was done on the way (resampled files, latency
    compensated). ``seconds`` is the wall-clock time of the whole render, ``threads`` the
    number of worker threads used (1: serial). ``failed_plugins`` names each plugin that failed
    while processing and was left out (its message is in ``warnings`` too).
    """

    path: Path | None
    audio: np.ndarray | None
    sample_rate: int
    frames: int
    content_s: float
    tail_s: float
    loudness_before_lufs: float
    loudness_lufs: float
    gain_db: float
    true_peak_before_db: float
    true_peak_db: float
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    threads: int = 1
    failed_plugins: list[str] = field(default_factory=list)
    plan: Session | None = None  # the plan that was rendered, when the caller made it (rules)
    limiter_db: float = 0.0  # most the true-peak limiter took off the peaks (0: not used)

    @property
    def duration_s(self) -> float:
        """Length of the output in seconds."""
        return self.frames / self.sample_rate

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio rendered per second of wall-clock time (x real time)."""
        return self.duration_s / self.seconds if self.seconds > 0 else math.inf

    def summary(self) -> str:
        """One line for people: where, how long, how loud, how fast."""
        where = f"wrote {self.path}" if self.path is not None else "rendered to memory"
        gain = f", gain {self.gain_db:+.2f} dB" if self.gain_db else ""
        if self.limiter_db > 0:
            gain += f", limiter up to -{self.limiter_db:.1f} dB"
        return (
            f"{where}: {self.duration_s:.2f} s at {self.sample_rate} Hz (tail {self.tail_s:.2f} s), "
            f"{self.loudness_lufs:.1f} LUFS, true peak {self.true_peak_db:.1f} dBTP{gain}; "
            f"{self.seconds:.1f} s, {self.realtime_factor:.0f}x real time"
        )




@dataclass
class _Job:
    """One render's fixed inputs: the resolved session, its heard tracks, the output and options."""

    session: Session
    plans: list[TrackPlan]
    out: Path | None
    base: Path
    settings: RenderSettings
    workers: int
    overwrite: bool

    @property
    def target(self) -> float | None:
        """The loudness target (LUFS) to normalise to, or None."""
        return self.session.target_lufs if self.settings.normalize else None

    @property
    def two_passes(self) -> bool:
        """Render into a temporary file first, then write it with the normalisation gain."""
        return self.out is not None and self.target is not None

    def new_sink(self) -> Any:
        if self.out is None:
            return MemorySink()
        if self.two_passes:
            return TempSink(self.out.parent)
        return FileSink(self.out, self.session.sample_rate, self.settings.subtype, self.overwrite, self.most_frames)

    @property
    def most_frames(self) -> int:
        """The longest the output can be: the content and the longest tail."""
        tail = self.settings.tail_s
        tail_s = AUTO_TAIL_MAX_S if tail == "auto" else float(tail)
        return max(p.end for p in self.plans) + round(tail_s * self.session.sample_rate)


def _render_without_failures(job: _Job, warnings: list[str], failed: list[str]) -> tuple[PassStats, Any]:
    """Render passes until one succeeds, leaving out each plugin that fails (unless strict)."""
    disabled: set[tuple[int, int]] = set()
    while True:
        sink = job.new_sink()
        try:
            stats = render_pass(
                job.session, job.plans, base=job.base, disabled=disabled, settings=job.settings,
                threads=job.workers, sink=sink,
            )  # fmt: skip
        except PluginFault as fault:
            sink.discard()
            if job.settings.strict:
                raise RenderError(f"{fault.message}; nothing was written (strict)") from None
            disabled.add((fault.slot.track_index, fault.slot.position))  # type: ignore[arg-type]
            warnings.append(f"{fault.message}; rendered {fault.slot.owner} without it")
            failed.append(fault.message)
            continue
        except BaseException:
            sink.discard()
            raise
        return stats, sink


def _has_limiter(session: Session) -> bool:
    return any(p.name.lower() == "limiter" and not p.bypass for p in session.master)


def _level(job: _Job, stats: PassStats, sink: Any, warnings: list[str]) -> Level:
    """The gain (and limiter) that meets the loudness target under the true-peak ceiling
    (:mod:`daw_bridge.level_stage`); no change without a target."""
    lufs, peak = stats.loudness_lufs, stats.true_peak_db
    ceiling = job.session.true_peak_db
    target = job.target
    if target is None:
        if peak > ceiling:
            why = "normalize=False" if not job.settings.normalize else "the session has no target_lufs"
            warnings.append(f"true peak {peak:+.2f} dBTP is above the ceiling {ceiling:.1f} dBTP (level left as is: {why})")
        return Level(loudness_lufs=lufs, true_peak_db=peak)
    if lufs <= SILENCE_LUFS:
        warnings.append("the mix is silent (at or below -70 LUFS); it was not normalised")
        return Level(loudness_lufs=lufs, true_peak_db=peak)
    if job.out is None:
        audio = sink.audio()
        source: Any = lambda: iter([audio])  # noqa: E731
    else:
        source = lambda: sink.blocks(int(job.settings.block_frames))  # noqa: E731
    advice = "turn the limiter on (--limiter) to get there"
    if not _has_limiter(job.session):
        advice += ", or put a Limiter in the master chain"
    level = plan_level(source, job.session.sample_rate, 2, lufs=lufs, true_peak_db=peak, target=target,
                       ceiling=ceiling, limiter=job.settings.limiter, advice=advice)
    warnings.extend(level.notes)
    return level


def _finish(job: _Job, stats: PassStats, sink: Any, level: Level) -> np.ndarray | None:
    """Apply the level and close the output: the audio when rendering to memory, else None."""
    rate = job.session.sample_rate
    if job.out is None:
        audio = sink.audio()
        if level.gain_db or level.limiter_ceiling_db is not None:
            parts = list(leveled_blocks([audio], rate, 2, level))
            audio = np.concatenate(parts, axis=1) if parts else audio
        return audio
    if job.two_passes:
        bar = progress_bar(job.settings.progress, stats.frames / rate, "writing")
        try:
            with AudioWriter(job.out, rate, 2, subtype=job.settings.subtype, overwrite=job.overwrite,
                             frames=stats.frames) as writer:
                for block in leveled_blocks(sink.blocks(int(job.settings.block_frames)), rate, 2, level):
                    writer.write(block)
                    bar.update(round(block.shape[1] / rate, 6))
        finally:
            bar.close()
            sink.discard()
    else:
        sink.writer.close()
    return None


@reads("session")
def render(
    session: Session,
    out: str | os.PathLike[str] | None = None,
    *,
    settings: RenderSettings | None = None,
    overwrite: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> RenderResult:
    """Render ``session`` (a mix plan) to a stereo mix; see ``docs/rendering.md`` for every rule.

    ``out``: a ``.wav`` or ``.flac`` file (written atomically; an existing one is refused
    unless ``overwrite``), or ``None`` to get the audio back in :attr:`RenderResult.audio`.
    ``settings``: a :class:`RenderSettings`; ``options`` are its fields as keywords
    (``block_frames``, ``threads``, ``tail_s``, ``normalize``, ``subtype``, ``progress``,
    ``strict``), which replace those of ``settings``. ``base_dir``: where relative paths in the
    session are resolved (default the session file's folder).

    Raises :class:`RenderError` listing every problem found before processing (missing or
    unreadable audio, a channel beyond a file's channels, plugins that cannot be loaded or
    set, the output path) and for a master plugin (or, with ``strict``, any plugin) that
    fails while processing; nothing is written then. ValueError for a bad setting.
    """
    started = time.perf_counter()
    settings = (settings if settings is not None else RenderSettings()).with_options(options)
    base = Path(base_dir).expanduser().absolute() if base_dir is not None else session.base_dir
    resolved = session.resolve_paths(base)
    out_path = Path(out).expanduser().absolute() if out is not None else None
    plans, notes = preflight(resolved, out_path, overwrite=overwrite, subtype=settings.subtype, base=base)
    rate = resolved.sample_rate
    content = max(p.end for p in plans)
    threads = settings.threads
    workers = min(threads if threads is not None else (os.cpu_count() or 1), len(plans))
    job = _Job(resolved, plans, out_path, base, settings, workers, overwrite)
    warnings: list[str] = []
    failed: list[str] = []
    stats, sink = _render_without_failures(job, warnings, failed)
    notes.extend(stats.notes)
    if stats.capped:
        warnings.append(
            f"the effect tail was still above {AUTO_TAIL_THRESHOLD_DB:.0f} dBFS {AUTO_TAIL_MAX_S:.0f} s after the "
            f"end of the tracks; cut there (give tail_s to choose)"
        )
    lufs, peak = stats.loudness_lufs, stats.true_peak_db
    level = _level(job, stats, sink, warnings)
    scale = float(np.float32(db_to_gain(level.gain_db)))
    if (out_path is not None and settings.subtype in _INTEGER_SUBTYPES and level.limiter_ceiling_db is None
            and stats.sample_peak * scale > 1.0):
        warnings.append(
            f"the mix peaks at {amplitude_db(stats.sample_peak * scale):+.2f} dBFS: samples beyond full scale were "
            f"clipped in the {settings.subtype} file; lower the gains, set target_lufs, or add a Limiter"
        )
    audio = _finish(job, stats, sink, level)
    return RenderResult(
        path=out_path,
        audio=audio,
        sample_rate=rate,
        frames=stats.frames,
        content_s=content / rate,
        tail_s=(stats.frames - content) / rate,
        loudness_before_lufs=lufs,
        loudness_lufs=level.loudness_lufs if lufs > SILENCE_LUFS else SILENCE_LUFS,
        gain_db=level.gain_db,
        true_peak_before_db=peak,
        true_peak_db=level.true_peak_db if peak > PEAK_FLOOR_DB else PEAK_FLOOR_DB,
        limiter_db=level.limiting_db,
        warnings=warnings,
        notes=notes,
        seconds=time.perf_counter() - started,
        threads=workers,
        failed_plugins=failed,
    )
