"""A Mix-Wave-U-Net over stem files or arrays: slots in, tiles through, one level gain out.

Files stream: the stems are read in lock-step as the model's slots (:class:`StemReader`),
brought to the loudness the model was trained on (its card's ``input_lufs``), run through the
network in tiles (less its response to silence, the constant its biases make, so silence stays
silence), and written at the stems' rate; when a target loudness is asked or the rate differs,
the network's output goes to a hidden float file first (:mod:`automix.inference.mix_output`:
resampled, one gain under the true-peak ceiling, the true-peak limiter when asked).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automix.inference.mix_output import OutputLevel, level_array, write_from_temp
from automix.inference.mix_settings import MixResult, MixSettings
from automix.inference.stem_files import (StemReader, input_gains, rate_and_length_notes, slot_loudness,
                                          stems_rate)
from automix.inference.tiling import pick_device, process, run_tiled
from daw_bridge.audio import AudioWriter, probe, resample, resampled_length
from daw_bridge.errors import OutputError
from daw_bridge.level_stage import Level
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter
from daw_bridge.progress import seconds_bar
from daw_bridge.stems import AS_ASKED, StemAssignment, match_stems
from daw_bridge.tempfiles import temp_file

log = logging.getLogger("automix")


def _assign(model: Any, files: list[Path], settings: MixSettings, notes: list[str]) -> StemAssignment:
    from automix.inference.stem_files import mapping_of

    infos = {path: probe(path) for path in files}
    assignment = match_stems(
        files, model.slots, channels={path: info.channels for path, info in infos.items()},
        mapping=mapping_of(settings.mapping), ignore_unmatched=settings.ignore_unmatched,
    )  # fmt: skip
    used = sorted({src.path for srcs in assignment.sources.values() for src in srcs}, key=str)
    notes += assignment.notes + rate_and_length_notes(infos, used, model.sample_rate, stems_rate(infos, used))
    for note in notes:
        (log.info if AS_ASKED in note else log.warning)(note)  # what a mapping asked for is no warning
    log.info("model %s; stems:\n%s", model.name, assignment.describe())
    return assignment


def _input_gain_vector(model: Any, loudness: list[float]) -> np.ndarray | None:
    if model.card.input_lufs is None:
        return None
    gains, level_notes = input_gains(loudness, model.card.input_lufs, model.slots, model.card.input_rule)
    log.info(level_notes[0])
    return gains


@dataclass
class _Sink:
    """Where the network's blocks go: less its response to silence, mirrored if asked, metered, stored."""

    store: Any
    mirror: bool
    meters: tuple[LoudnessMeter, TruePeakMeter] | None
    silence: np.ndarray
    peak: float = 0.0

    def __call__(self, block: np.ndarray) -> None:
        block = block - self.silence
        if self.mirror:
            block = block[::-1]
        if block.size:
            self.peak = max(self.peak, float(np.abs(block).max()))
        if self.meters is not None:
            self.meters[0].add(block)
            self.meters[1].add(block)
        self.store(block)


def silence_response(model: Any, settings: MixSettings) -> np.ndarray:
    """``[2, 1]``: what the network puts out for silent stems (a constant its biases make, a DC
    offset), taken off its output so that silence stays silence."""
    zeros = np.zeros((len(model.slots), 4096), dtype=np.float32)
    out = process(model.net, zeros, device=settings.device, precision=settings.precision)
    return np.median(out, axis=1, keepdims=True).astype(np.float32)


def temp_path(output: Path) -> Path:
    """A new hidden file beside ``output`` for the network's output before its level is set."""
    try:
        return temp_file(output, "float", ".wav")
    except OSError as exc:
        raise OutputError(f"cannot write beside {output}: {exc.strerror or exc}") from None


def mix_files_with_network(
    model: Any, files: list[Path], output: Path | None, settings: MixSettings, notes: list[str], *,
    target: float | None, mirror: bool,
) -> MixResult:
    """Mix ``files`` with the Mix-Wave-U-Net ``model`` (see the module doc); ``target`` LUFS or
    ``None`` (the network's level), ``mirror`` swaps left and right."""
    assignment = _assign(model, files, settings, notes)
    gains = _input_gain_vector(model, slot_loudness(assignment, model.sample_rate)) if model.card.input_lufs is not None else None
    used = sorted({src.path for srcs in assignment.sources.values() for src in srcs}, key=str)
    how = OutputLevel(stems_rate({p: probe(p) for p in used}, used) or model.sample_rate, target,
                      settings.true_peak_db, settings.limiter_on(target))
    reader = StemReader(assignment, model.sample_rate, gains=gains)
    try:
        audio, peak, level = _run(model, reader, assignment, output, settings, how=how, mirror=mirror)
    finally:
        reader.close()
    level_notes = reader.level_notes(assignment) + level.notes
    for note in level_notes:
        log.warning(note)
    frames = resampled_length(reader.frames, model.sample_rate, how.rate)
    return MixResult(
        output=output, sample_rate=how.rate, frames=frames, model=model.name, assignment=assignment,
        notes=notes + level_notes, peak_db=float(20 * np.log10(max(peak, 1e-10))), audio=audio,
        loudness_lufs=None if target is None else level.loudness_lufs, gain_db=level.gain_db,
        true_peak_db=None if target is None else level.true_peak_db, limiter_db=level.limiting_db,
    )


def _run(model: Any, reader: StemReader, assignment: StemAssignment, output: Path | None, settings: MixSettings, *,
         how: OutputLevel, mirror: bool) -> tuple[np.ndarray | None, float, Level]:
    """Stream the network; returns ``(audio or None, sample peak, the level delivered)``."""
    sr, total = model.sample_rate, reader.frames
    tile = max(1, round(settings.tile_seconds * sr)) if settings.tile_seconds is not None else settings.tile
    parts: list[np.ndarray] = []
    writer = temp = None
    direct = how.target is None and how.rate == sr
    temp_file = temp_path(output) if output is not None and not direct else None
    bar = None
    try:
        if temp_file is not None:
            temp = AudioWriter(temp_file, sr, 2, subtype="FLOAT", overwrite=True, rf64=True)
        elif output is not None:
            writer = AudioWriter(output, sr, 2, subtype=settings.subtype, overwrite=settings.force, frames=total)
        store = temp.write if temp is not None else writer.write if writer is not None else parts.append
        meters = (LoudnessMeter(sr, 2), TruePeakMeter(sr, 2)) if how.target is not None and how.rate == sr else None
        sink = _Sink(store, mirror, meters, silence_response(model, settings))
        bar = seconds_bar(total / sr, f"mixing {len(reader.streams)} stems", settings.progress)
        run_tiled(model.net, reader.read, total, sink, tile=tile, device=pick_device(settings.device),
                  precision=settings.precision, batch_size=settings.batch_size, progress=lambda k: bar.update(k / sr))
        reader.check_not_all_silent(assignment)
        bar.close()
        level, audio = Level(), None
        if temp is not None:
            temp.close()
            measured = None if meters is None else (meters[0].integrated(), meters[1].true_peak_db())
            level, sink.peak = write_from_temp(temp.path, output, sr, total, measured, how, subtype=settings.subtype,
                                               force=settings.force)
        elif writer is not None:
            writer.close()
        else:
            audio, level = level_array(np.concatenate(parts, axis=1), sr, how)
            sink.peak = float(np.abs(audio).max(initial=0.0))
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        if temp is not None:
            temp.abort()
        if temp_file is not None:
            temp_file.unlink(missing_ok=True)
        if bar is not None:
            bar.close()
    return audio, sink.peak, level


def mix_array_with_network(model: Any, data: np.ndarray, sample_rate: int, settings: MixSettings, *,
                           target: float | None, mirror: bool) -> np.ndarray:
    """Mix ``data`` ``[slots, T]`` (at ``sample_rate``) with ``model``; ``[2, T]`` at the model's rate."""
    if sample_rate != model.sample_rate:
        data = resample(data, sample_rate, model.sample_rate)
    if model.card.input_lufs is not None:
        levels = []
        for row in data:
            meter = LoudnessMeter(model.sample_rate, 1)
            meter.add(row)
            levels.append(meter.integrated())
        gains, _ = input_gains(levels, model.card.input_lufs, model.slots, model.card.input_rule)
        data = (data * gains[:, None]).astype(np.float32)
    out = process(model.net, data, tile=settings.tile, device=settings.device, precision=settings.precision)
    out = out - silence_response(model, settings)
    if mirror:
        out = np.ascontiguousarray(out[::-1])
    if target is None:
        return out
    out, level = level_array(out, model.sample_rate, OutputLevel(model.sample_rate, target, settings.true_peak_db,
                                                                 settings.limiter_on(target)))
    for note in level.notes:
        log.warning(note)
    return out
