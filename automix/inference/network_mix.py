"""A Mix-Wave-U-Net over stem files or arrays: slots in, tiles through, one level gain out.

Files stream: the stems are read in lock-step as the model's slots (:class:`StemReader`),
brought to the loudness the model was trained on (its card's ``input_lufs``), run through the
network in tiles, and written; when a target loudness is asked, the network's output goes to a
hidden float file first and one gain (under the true-peak ceiling) is applied on the way out.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from automix.inference.mix_settings import MixResult, MixSettings
from automix.inference.stem_files import StemReader, input_gains, rate_and_length_notes, slot_loudness
from automix.inference.tiling import pick_device, process, run_tiled
from daw_bridge.audio import AudioStream, AudioWriter, probe, resample
from daw_bridge.errors import OutputError
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter, loudness_gain, to_loudness
from daw_bridge.progress import seconds_bar
from daw_bridge.stems import StemAssignment, match_stems

log = logging.getLogger("automix")

_COPY_BLOCK = 1 << 16


def _assign(model: Any, files: list[Path], settings: MixSettings, notes: list[str]) -> StemAssignment:
    from automix.inference.stem_files import mapping_of

    infos = {path: probe(path) for path in files}
    assignment = match_stems(
        files, model.slots, channels={path: info.channels for path, info in infos.items()},
        mapping=mapping_of(settings.mapping), ignore_unmatched=settings.ignore_unmatched,
    )  # fmt: skip
    used = sorted({src.path for srcs in assignment.sources.values() for src in srcs}, key=str)
    notes += assignment.notes + rate_and_length_notes(infos, used, model.sample_rate)
    for note in notes:
        log.warning(note)
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
    """Where the network's blocks go: mirrored if asked, metered, stored."""

    store: Any
    mirror: bool
    meters: tuple[LoudnessMeter, TruePeakMeter] | None
    peak: float = 0.0

    def __call__(self, block: np.ndarray) -> None:
        if self.mirror:
            block = block[::-1]
        if block.size:
            self.peak = max(self.peak, float(np.abs(block).max()))
        if self.meters is not None:
            self.meters[0].add(block)
            self.meters[1].add(block)
        self.store(block)


def temp_path(output: Path) -> Path:
    """A new hidden file beside ``output`` for the network's output before the loudness gain."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".float.wav", dir=output.parent)
    except OSError as exc:
        raise OutputError(f"cannot write beside {output}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(name)


def _copy_scaled(source: Path, writer: AudioWriter, total: int, scale: np.float32) -> None:
    with AudioStream(source) as stream:
        for start in range(0, total, _COPY_BLOCK):
            writer.write(stream.read(min(_COPY_BLOCK, total - start)) * scale)


def mix_files_with_network(
    model: Any, files: list[Path], output: Path | None, settings: MixSettings, notes: list[str], *,
    target: float | None, mirror: bool,
) -> MixResult:
    """Mix ``files`` with the Mix-Wave-U-Net ``model`` (see the module doc); ``target`` LUFS or
    ``None`` (the network's level), ``mirror`` swaps left and right."""
    assignment = _assign(model, files, settings, notes)
    gains = _input_gain_vector(model, slot_loudness(assignment, model.sample_rate)) if model.card.input_lufs is not None else None
    reader = StemReader(assignment, model.sample_rate, gains=gains)
    try:
        audio, peak, lufs, gain_db = _run(model, reader, assignment, output, settings, notes, target=target,
                                          mirror=mirror)
    finally:
        reader.close()
    level_notes = reader.level_notes(assignment)
    for note in level_notes:
        log.warning(note)
    return MixResult(
        output=output, sample_rate=model.sample_rate, frames=reader.frames, model=model.name, assignment=assignment,
        notes=notes + level_notes, peak_db=float(20 * np.log10(max(peak, 1e-10))), audio=audio,
        loudness_lufs=None if lufs is None else lufs + gain_db, gain_db=gain_db,
    )


def _run(model: Any, reader: StemReader, assignment: StemAssignment, output: Path | None, settings: MixSettings,
         notes: list[str], *, target: float | None, mirror: bool) -> tuple[np.ndarray | None, float, float | None, float]:
    """Stream the network; returns ``(audio or None, peak, measured LUFS or None, gain dB)``."""
    sr, total = model.sample_rate, reader.frames
    tile = max(1, round(settings.tile_seconds * sr)) if settings.tile_seconds is not None else settings.tile
    parts: list[np.ndarray] = []
    writer = temp = None
    temp_file = temp_path(output) if output is not None and target is not None else None
    bar = None
    try:
        if temp_file is not None:
            temp = AudioWriter(temp_file, sr, 2, subtype="FLOAT", overwrite=True)
        elif output is not None:
            writer = AudioWriter(output, sr, 2, subtype=settings.subtype, overwrite=settings.force)
        store = temp.write if temp is not None else writer.write if writer is not None else parts.append
        meters = (LoudnessMeter(sr, 2), TruePeakMeter(sr, 2)) if target is not None else None
        sink = _Sink(store, mirror, meters)
        bar = seconds_bar(total / sr, f"mixing {len(reader.streams)} stems", settings.progress)
        run_tiled(model.net, reader.read, total, sink, tile=tile, device=pick_device(settings.device),
                  precision=settings.precision, batch_size=settings.batch_size, progress=lambda k: bar.update(k / sr))
        reader.check_not_all_silent(assignment)
        gain_db, lufs = 0.0, None
        if meters is not None:
            lufs = meters[0].integrated()
            gain_db, level_notes = loudness_gain(lufs, meters[1].true_peak_db(), target, settings.true_peak_db)
            notes += level_notes
            for note in level_notes:
                log.warning(note)
            scale = np.float32(10 ** (gain_db / 20))
            sink.peak *= float(scale)
            if temp is not None:
                temp.close()
                writer = AudioWriter(output, sr, 2, subtype=settings.subtype, overwrite=settings.force)
                _copy_scaled(temp.path, writer, total, scale)
            else:
                parts = [part * scale for part in parts]
        if writer is not None:
            writer.close()
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
    return (np.concatenate(parts, axis=1) if output is None else None), sink.peak, lufs, gain_db


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
    if mirror:
        out = np.ascontiguousarray(out[::-1])
    if target is None:
        return out
    out, _, notes = to_loudness(out, model.sample_rate, target, settings.true_peak_db)
    for note in notes:
        log.warning(note)
    return out
