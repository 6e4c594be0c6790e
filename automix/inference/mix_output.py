"""A network's mix on its way out: back at the stems' rate, at the asked level, into the file.

The network runs at its own rate; its output goes to a hidden float file (RF64: any length)
when it must be read again: to be resampled to the stems' rate, or to be measured before its
level is set (:mod:`daw_bridge.level_stage`: one gain under the true-peak ceiling, and the
true-peak limiter when asked). In memory the same is done to the array.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daw_bridge.audio import AudioStream, AudioWriter, resample, resampled_length
from daw_bridge.level_stage import Level, leveled_blocks, measure, plan_level

__all__ = ["OutputLevel", "level_array", "write_from_temp"]

_BLOCK = 1 << 16


@dataclass(frozen=True)
class OutputLevel:
    """Where the mix goes: ``rate`` (Hz), ``target`` (LUFS or ``None``), ``ceiling`` (dBTP),
    ``limiter`` (whether the limiter may close a gap the ceiling leaves)."""

    rate: int
    target: float | None
    ceiling: float
    limiter: bool


def _blocks(temp: Path, rate: int, frames: int) -> Iterator[np.ndarray]:
    with AudioStream(temp, rate) as stream:
        for start in range(0, frames, _BLOCK):
            yield stream.read(min(_BLOCK, frames - start))


def write_from_temp(temp: Path, output: Path, model_rate: int, frames: int, measured: tuple[float, float] | None,
                    how: OutputLevel, *, subtype: str, force: bool) -> tuple[Level, float]:
    """Write the network's output (``frames`` at ``model_rate`` in ``temp``) to ``output``;
    ``measured``: its loudness and true peak as it ran (``None``: measured here).
    Returns the :class:`Level` delivered and the written sample peak (linear)."""
    frames_out = resampled_length(frames, model_rate, how.rate)

    def source() -> Iterator[np.ndarray]:
        return _blocks(temp, how.rate, frames_out)

    if measured is None or how.rate != model_rate:
        measured = measure(source, how.rate, 2)
    level = plan_level(source, how.rate, 2, lufs=measured[0], true_peak_db=measured[1], target=how.target,
                       ceiling=how.ceiling, limiter=how.limiter)
    peak = 0.0
    with AudioWriter(output, how.rate, 2, subtype=subtype, overwrite=force, frames=frames_out) as writer:
        for block in leveled_blocks(source(), how.rate, 2, level):
            peak = max(peak, float(np.abs(block).max()))
            writer.write(block)
    return level, peak


def level_array(audio: np.ndarray, model_rate: int, how: OutputLevel) -> tuple[np.ndarray, Level]:
    """The same for a mix in memory (``[2, T]`` at ``model_rate``)."""
    if how.rate != model_rate:
        audio = resample(audio, model_rate, how.rate)

    def source() -> Iterator[np.ndarray]:
        return iter([audio])

    lufs, peak = measure(source, how.rate, audio.shape[0])
    level = plan_level(source, how.rate, audio.shape[0], lufs=lufs, true_peak_db=peak, target=how.target,
                       ceiling=how.ceiling, limiter=how.limiter)
    parts = list(leveled_blocks(source(), how.rate, audio.shape[0], level))
    return (np.concatenate(parts, axis=1) if parts else audio[:, :0]), level
