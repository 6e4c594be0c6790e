"""The Python face of automix; the CLI (:mod:`automix.cli`) calls exactly these functions.

>>> import automix
>>> result = automix.mix("stems/", "mix.wav", model="path/to/model.safetensors")  # doctest: +SKIP
>>> result.output, result.duration, result.notes                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from daw_bridge.audio import AUDIO_EXTENSIONS, AudioInfo, AudioStream, AudioWriter, probe, resample
from automix.models.checkpoint import Model
from daw_bridge.errors import AudioError, CheckpointError, OutputError, StemMatchError
from daw_bridge.files import check_output_path
from automix.inference.tiling import DEFAULT_TILE, Precision, pick_device, process, run_tiled
from daw_bridge.stems import StemAssignment, check_perspective, load_mapping_file, match_stems, parse_mapping

log = logging.getLogger("automix")

StemsInput = str | os.PathLike | Sequence[str | os.PathLike]
MappingInput = Mapping[str, str | Sequence[str]] | Sequence[str] | str | os.PathLike | None
#: Peak below which a stem counts as silent (dBFS).
SILENCE_DB = -90.0
_SILENCE_AMPLITUDE = 10 ** (SILENCE_DB / 20)
#: A stem with at least this many samples at full scale (|x| >= 0.999) is reported as clipped.
CLIPPED_SAMPLES = 8


class TimedResult:
    """``duration`` and ``realtime_factor`` of a result with ``frames``, ``sample_rate`` and ``seconds``."""

    frames: int
    sample_rate: int
    seconds: float

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate

    @property
    def realtime_factor(self) -> float:
        """Seconds of wall time per second of audio."""
        return self.seconds / self.duration if self.frames else 0.0


@dataclass
class MixResult(TimedResult):
    """What :func:`mix` did. ``audio`` is set only when no output file was asked for."""

    output: Path | None
    sample_rate: int
    frames: int
    model: str
    assignment: StemAssignment
    notes: list[str] = field(default_factory=list)
    peak_db: float = -200.0
    seconds: float = 0.0
    audio: np.ndarray | None = None
    loudness_lufs: float | None = None
    gain_db: float = 0.0



def collect_stem_files(stems: StemsInput, *, exclude: Path | None = None) -> tuple[list[Path], list[str]]:
    """Audio files from folders and/or files, and notes about what was skipped.

    Folders are scanned (not recursively) for audio files; hidden files and non-audio files in
    a folder are skipped with a note, and so is ``exclude`` (the output being written, so that
    a mix written into the stems folder is not taken for a stem on the next run).
    A file named explicitly must be audio.
    """
    items = [stems] if isinstance(stems, (str, os.PathLike)) else list(stems)
    if not items:
        raise StemMatchError("no stems given; pass a folder of stems or the stem files")
    files: list[Path] = []
    notes: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found, skipped = [], []
            for child in sorted(path.iterdir()):
                if child.name.startswith(".") or not child.is_file():
                    continue
                if exclude is not None and child.resolve() == exclude.resolve():
                    notes.append(f"skipped {child.name} in {path}: it is the output of this run")
                    continue
                (found if child.suffix.lower() in AUDIO_EXTENSIONS else skipped).append(child)
            if skipped:
                notes.append(f"skipped {len(skipped)} non-audio file(s) in {path}: " + ", ".join(p.name for p in skipped))
            if not found:
                exts = ", ".join(sorted(AUDIO_EXTENSIONS))
                raise StemMatchError(f"folder {path} holds no audio files ({exts}); export the stems there first")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise AudioError(f"{path} does not exist")
    seen: set[Path] = set()
    unique = [f for f in files if not (f.resolve() in seen or seen.add(f.resolve()))]
    return unique, notes


def _mapping(value: MappingInput) -> Mapping[str, str | Sequence[str]] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value
    if isinstance(value, (str, os.PathLike)):
        return load_mapping_file(value)
    return parse_mapping(list(value))


class _StemReader:
    """Reads the assigned files in lock-step and composes the model's slot channels."""

    def __init__(
        self,
        assignment: StemAssignment,
        infos: Mapping[Path, AudioInfo],
        sample_rate: int,
        gains: np.ndarray | None = None,
    ):
        self.slots = assignment.slots
        self.gains = None if gains is None else np.asarray(gains, dtype=np.float32)[:, None]
        used = sorted({src.path for sources in assignment.sources.values() for src in sources}, key=str)
        self.streams = {}
        try:
            for path in used:
                self.streams[path] = AudioStream(path, sample_rate)
        except BaseException:
            self.close()
            raise
        self.recipe = [[(src.path, src.channel) for src in assignment.sources.get(slot, [])] for slot in self.slots]
        self.frames = max(s.frames for s in self.streams.values())
        self.peaks = np.zeros(len(self.slots), dtype=np.float32)
        self.full_scale = dict.fromkeys(self.streams, 0)  # samples at |x| >= 0.999 per file

    def read(self, n: int) -> np.ndarray:
        blocks = {path: stream.read(n) for path, stream in self.streams.items()}
        for path, block in blocks.items():
            self.full_scale[path] += int(np.count_nonzero(np.abs(block) >= 0.999))
        out = np.zeros((len(self.slots), n), dtype=np.float32)
        for i, sources in enumerate(self.recipe):
            for path, channel in sources:
                block = blocks[path]
                out[i] += block[channel] if channel is not None else block.mean(axis=0)
        if n:
            np.maximum(self.peaks, np.abs(out).max(axis=1), out=self.peaks)
        if self.gains is not None:
            out *= self.gains
        return out

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()


def input_gains(loudness: Sequence[float], target_lufs: float, names: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Linear gains bringing slots of integrated ``loudness`` (LUFS) to ``target_lufs``, as training did.

    The data loaders' rule (:mod:`automix.data.enst`): one gain per slot, limited to
    +-:data:`~automix.data.enst.MAX_GAIN_DB` dB; a silent slot (at or below -70 LUFS) keeps
    0 dB. Returns the gains and one note listing them.
    """
    from automix.data.enst import MAX_GAIN_DB

    gains_db = []
    for lufs in loudness:
        gains_db.append(0.0 if not math.isfinite(lufs) or lufs <= -70.0 else
                        float(np.clip(target_lufs - lufs, -MAX_GAIN_DB, MAX_GAIN_DB)))
    shown = ", ".join(f"{name} {g:+.1f} dB" for name, g in zip(names, gains_db))
    note = f"each stem brought to {target_lufs:g} LUFS, as the model was trained ({shown})"
    return 10.0 ** (np.asarray(gains_db, dtype=np.float64) / 20.0), [note]


def _input_gains_from_files(
    assignment: StemAssignment, infos: Mapping[Path, AudioInfo], sample_rate: int, target_lufs: float
) -> np.ndarray:
    """One pass over the stems measuring each slot's loudness (BS.1770), then :func:`input_gains`."""
    from daw_bridge.loudness import LoudnessMeter

    reader = _StemReader(assignment, infos, sample_rate)
    meters = [LoudnessMeter(sample_rate, 1) for _ in assignment.slots]
    try:
        left = reader.frames
        while left > 0:
            block = reader.read(min(left, 1 << 17))
            for meter, row in zip(meters, block):
                meter.add(row)
            left -= block.shape[1]
    finally:
        reader.close()
    loudness = [m.integrated() for m in meters]
    gains, notes = input_gains(loudness, target_lufs, assignment.slots)
    log.info(notes[0])
    return gains


def _rate_and_length_notes(infos: Mapping[Path, AudioInfo], used: Sequence[Path], sample_rate: int) -> list[str]:
    notes = []
    for path in used:
        info = infos[path]
        if info.sample_rate != sample_rate:
            notes.append(f"{path.name} is {info.sample_rate} Hz, the model runs at {sample_rate} Hz; resampled")
    if used:
        longest = max(infos[p].duration for p in used)
        for path in used:
            short = longest - infos[path].duration
            if short > 1e-3:
                notes.append(f"{path.name} is {short:.3f} s shorter than the longest stem; padded with silence")
    return notes


Loudness = float | str | None
#: Default true-peak ceiling (dBTP) of a loudness-normalised mix.
TRUE_PEAK_DB = -1.0


def output_loudness(loudness: Loudness, model: Model) -> float | None:
    """The target LUFS for ``loudness``: a number, ``"auto"`` (the card's ``output_lufs``: the level
    of the mixes the model was trained on; ``None`` if the card has none) or ``None``/``"off"``
    (the network's own level)."""
    if loudness is None or (isinstance(loudness, str) and loudness.lower() in ("off", "none")):
        return None
    if isinstance(loudness, str):
        if loudness.lower() != "auto":
            try:
                loudness = float(loudness)
            except ValueError:
                raise ValueError(f"loudness must be a LUFS value, 'auto' or 'off', got {loudness!r}") from None
        else:
            return model.card.output_lufs
    value = float(loudness)
    if not (math.isfinite(value) and -70.0 <= value <= 0.0):
        raise ValueError(f"loudness must be between -70 and 0 LUFS, got {loudness!r}")
    return value


def loudness_gain(lufs: float, true_peak_db: float, target: float, ceiling: float) -> tuple[float, list[str]]:
    """Gain (dB) that brings a mix at ``lufs`` to ``target`` without its true peak crossing
    ``ceiling``; notes when the ceiling or silence stops it."""
    from daw_bridge.audio import SILENCE_LUFS
    from daw_bridge.loudness import ceiling_gain

    if lufs <= SILENCE_LUFS:
        return 0.0, [f"the mix is silent (below {SILENCE_LUFS:g} LUFS); its level is left as is"]
    gain, missed = ceiling_gain(lufs, true_peak_db, target, ceiling)
    if missed is None:
        return gain, []
    return gain, [f"loudness target {target:g} LUFS missed by {missed:.2f} LU: the true-peak ceiling "
                  f"{ceiling:g} dBTP allows {lufs + gain:.2f} LUFS"]


def to_loudness(audio: np.ndarray, sample_rate: int, target: float, true_peak_db: float = TRUE_PEAK_DB) -> tuple[np.ndarray, float, list[str]]:
    """``audio`` ``[channels, T]`` scaled by one gain to ``target`` LUFS under ``true_peak_db`` dBTP
    (:func:`loudness_gain`); returns ``(audio, gain_db, notes)``."""
    from daw_bridge.loudness import LoudnessMeter, TruePeakMeter

    meter, peak = LoudnessMeter(sample_rate, audio.shape[0]), TruePeakMeter(sample_rate, audio.shape[0])
    meter.add(audio)
    peak.add(audio)
    gain_db, notes = loudness_gain(meter.integrated(), peak.true_peak_db(), target, true_peak_db)
    return (audio * np.float32(10 ** (gain_db / 20))).astype(np.float32), gain_db, notes


def mirrors(perspective: str | None, model: Model) -> bool:
    """Whether ``model``'s mixes must be mirrored (left and right swapped) to be heard from
    ``perspective`` (``"drummer"``, ``"audience"``; ``None``/``"auto"``: as the model mixes).

    Raises :class:`~daw_bridge.errors.CheckpointError` when a side is asked of a model whose card
    does not record its own (``training.perspective``).
    """
    wanted = check_perspective(perspective)
    if wanted is None:
        return False
    own = model.card.training.perspective
    if not own:
        raise CheckpointError(
            f"model '{model.name}' does not record which side it mixes from (its card has no training.perspective); "
            "leave the perspective at auto"
        )
    return wanted != own


def mix(
    stems: StemsInput,
    output: str | os.PathLike | None = None,
    *,
    model: str | os.PathLike | Model | None = None,
    mapping: MappingInput = None,
    ignore_unmatched: bool = False,
    force: bool = False,
    device: str | None = None,
    precision: Precision = "auto",
    tile: int = DEFAULT_TILE,
    tile_seconds: float | None = None,
    batch_size: int = 1,
    subtype: str = "PCM_24",
    progress: bool | None = None,
    loudness: Loudness = "auto",
    true_peak_db: float = TRUE_PEAK_DB,
    perspective: str | None = None,
) -> MixResult:
    """Mix a folder (or list) of stem files with a Mix-Wave-U-Net.

    Args:
        stems: a folder of stems exported from a DAW, or a list of files and folders.
        output: WAV or FLAC file to write (atomically; refused if it exists unless ``force``).
            ``None`` keeps the mix in memory as ``result.audio`` (``[2, T]`` float32).
        model: an installed model name, a checkpoint path, or a loaded :class:`Model`;
            ``None`` uses the default model.
        mapping: explicit slot assignments overriding name matching: ``{"kick": "Kick In.wav"}``,
            CLI-style ``["kick=Kick In.wav", "overhead_L=OH.wav:0"]``, or a JSON file path.
        ignore_unmatched: skip files that match no slot instead of refusing them.
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA when present).
        precision: ``auto`` (bf16 where the hardware runs it natively), ``fp32``, ``bf16``, ``fp16``.
        tile: output samples per tile (memory grows with it; the result does not change).
        tile_seconds: the same in seconds at the model's rate (overrides ``tile``).
        subtype: ``PCM_16``, ``PCM_24`` or ``FLOAT`` for the written file.
        progress: show a progress bar (``None``: when stderr is a terminal).
        loudness: integrated loudness of the mix (LUFS, BS.1770): ``"auto"`` (default) the level
            of the mixes the model was trained on (its card's ``output_lufs``; the network's own
            level for a card without one), a number, or ``None``/``"off"`` for the network's own
            level. One gain for the whole mix, measured after mixing (a second pass over a
            temporary file), never above ``true_peak_db`` dBTP (a note says when that stops it).
        perspective: ``"drummer"`` or ``"audience"``: the side the mix is heard from (the
            model's mix is mirrored when it mixes from the other; :func:`mirrors`); ``None``
            or ``"auto"`` (default): as the model mixes (its card's ``training.perspective``).

    Returns a :class:`MixResult`; notes about what was fixed (resampled, padded, downmixed,
    silent slots) are in ``result.notes`` and logged as warnings on the ``automix`` logger.
    Raises :class:`~daw_bridge.errors.AutomixError` subclasses for input that cannot be used; no
    output file is left behind then.
    """
    from automix.models import pretrained

    started = time.perf_counter()
    if output is not None:
        output = check_output_path(output, overwrite=force)
        if output.suffix.lower() not in (".wav", ".wave", ".flac"):
            raise OutputError(f"{output.name}: write the mix as .wav or .flac")
        if output.suffix.lower() == ".flac" and subtype == "FLOAT":
            raise OutputError(f"{output.name}: FLAC holds 16- or 24-bit samples; use .wav for float output")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    if tile_seconds is not None and not (math.isfinite(tile_seconds) and tile_seconds > 0):
        raise ValueError("tile_seconds must be a positive number")
    if not (math.isfinite(true_peak_db) and -30.0 <= true_peak_db <= 0.0):
        raise ValueError(f"true_peak_db must be between -30 and 0 dBTP, got {true_peak_db!r}")
    files, notes = collect_stem_files(stems, exclude=output)
    infos = {path: probe(path) for path in files}
    loaded = pretrained.load(model)
    target = output_loudness(loudness, loaded)
    mirror = mirrors(perspective, loaded)
    device = pick_device(device)
    if tile_seconds is not None:
        tile = max(1, round(tile_seconds * loaded.sample_rate))
    if loaded.task != "mix":
        raise StemMatchError(f"model '{loaded.name}' is a {loaded.task} model; choose a mixing model")
    assignment = match_stems(
        files,
        loaded.slots,
        channels={path: info.channels for path, info in infos.items()},
        mapping=_mapping(mapping),
        ignore_unmatched=ignore_unmatched,
    )
    used = sorted({src.path for srcs in assignment.sources.values() for src in srcs}, key=str)
    notes += assignment.notes + _rate_and_length_notes(infos, used, loaded.sample_rate)
    for note in notes:
        log.warning(note)
    log.info("model %s; stems:\n%s", loaded.name, assignment.describe())

    gains = None
    if loaded.card.input_lufs is not None:
        gains = _input_gains_from_files(assignment, infos, loaded.sample_rate, loaded.card.input_lufs)
    reader = _StemReader(assignment, infos, loaded.sample_rate, gains=gains)
    total = reader.frames
    sr = loaded.sample_rate
    out_peak = np.zeros(1, dtype=np.float32)
    parts: list[np.ndarray] = []
    writer: AudioWriter | None = None
    temp: AudioWriter | None = None
    temp_file: Path | None = None
    meters = None
    bar = None
    gain_db, lufs = 0.0, None
    try:
        if output is not None and target is not None:  # the network's output first, then one gain
            temp_file = _temp_path(output)
            temp = AudioWriter(temp_file, sr, 2, subtype="FLOAT", overwrite=True)
        elif output is not None:
            writer = AudioWriter(output, sr, 2, subtype=subtype, overwrite=force)
        store = temp.write if temp is not None else writer.write if writer is not None else parts.append
        if target is not None:
            from daw_bridge.loudness import LoudnessMeter, TruePeakMeter

            meters = (LoudnessMeter(sr, 2), TruePeakMeter(sr, 2))

        def sink(block: np.ndarray) -> None:
            if mirror:
                block = block[::-1]
            np.maximum(out_peak, np.abs(block).max(), out=out_peak)
            if meters is not None:
                meters[0].add(block)
                meters[1].add(block)
            store(block)

        bar = _progress_bar(total / sr, progress, desc=f"mixing {len(used)} stems")
        run_tiled(
            loaded.net,
            reader.read,
            total,
            sink,
            tile=tile,
            device=device,
            precision=precision,
            batch_size=batch_size,
            progress=(lambda k: bar.update(k / sr)) if bar is not None else None,
        )
        _check_not_all_silent(reader, assignment)
        if meters is not None:
            lufs = meters[0].integrated()
            gain_db, level_notes = loudness_gain(lufs, meters[1].true_peak_db(), target, true_peak_db)
            notes += level_notes
            for note in level_notes:
                log.warning(note)
            scale = np.float32(10 ** (gain_db / 20))
            out_peak *= scale
            if temp is not None:
                temp.close()
                writer = AudioWriter(output, sr, 2, subtype=subtype, overwrite=force)
                with AudioStream(temp.path) as stream:
                    for start in range(0, total, 1 << 16):
                        writer.write(stream.read(min(1 << 16, total - start)) * scale)
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
        reader.close()
        if bar is not None:
            bar.close()
    for i, slot in enumerate(assignment.slots):
        if assignment.sources.get(slot) and reader.peaks[i] < _SILENCE_AMPLITUDE:
            note = f"{slot} ({', '.join(s.label() for s in assignment.sources[slot])}) is silent"
            notes.append(note)
            log.warning(note)
    for path, count in reader.full_scale.items():
        if count >= CLIPPED_SAMPLES:
            note = f"{path.name} looks clipped ({count} samples at full scale); the mix carries that distortion"
            notes.append(note)
            log.warning(note)
    peak = float(20 * np.log10(max(float(out_peak[0]), 1e-10)))
    result = MixResult(
        output=output,
        sample_rate=sr,
        frames=total,
        model=loaded.name,
        assignment=assignment,
        notes=notes,
        peak_db=peak,
        seconds=time.perf_counter() - started,
        audio=np.concatenate(parts, axis=1) if output is None else None,
        loudness_lufs=None if lufs is None else lufs + gain_db,
        gain_db=gain_db,
    )
    return result


def _temp_path(output: Path) -> Path:
    """A new hidden file beside ``output`` for the network's output before the loudness gain."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".float.wav", dir=output.parent)
    except OSError as exc:
        raise OutputError(f"cannot write beside {output}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(name)


def _check_not_all_silent(reader: _StemReader, assignment: StemAssignment) -> None:
    if float(reader.peaks.max(initial=0.0)) < _SILENCE_AMPLITUDE:
        names = ", ".join(sorted({s.path.name for srcs in assignment.sources.values() for s in srcs}))
        raise AudioError(f"all stems are silent (peak below {SILENCE_DB:.0f} dBFS): {names}; nothing to mix")


def mix_audio(
    stems: np.ndarray | Mapping[str, np.ndarray],
    sample_rate: int,
    *,
    model: str | os.PathLike | Model | None = None,
    device: str | None = None,
    precision: Precision = "auto",
    tile: int = DEFAULT_TILE,
    loudness: Loudness = "auto",
    true_peak_db: float = TRUE_PEAK_DB,
    perspective: str | None = None,
) -> np.ndarray:
    """Mix in-memory stems; returns ``[2, T]`` float32 at the model's sample rate.

    ``stems`` is ``[n_slots, T]`` in the model's slot order, or ``{slot: [T] or [1, T]}``
    (missing slots are silence). Audio at another ``sample_rate`` is resampled. ``loudness``,
    ``true_peak_db`` and ``perspective`` as for :func:`mix` (default: the level the model was
    trained on, heard from the side it mixes from).
    """
    from automix.models import pretrained

    loaded = pretrained.load(model)
    target = output_loudness(loudness, loaded)
    mirror = mirrors(perspective, loaded)
    if not (math.isfinite(true_peak_db) and -30.0 <= true_peak_db <= 0.0):
        raise ValueError(f"true_peak_db must be between -30 and 0 dBTP, got {true_peak_db!r}")
    if isinstance(stems, Mapping):
        unknown = sorted(set(stems) - set(loaded.slots))
        if unknown:
            raise StemMatchError(f"unknown slot(s) {unknown}; the model's slots are {list(loaded.slots)}")
        arrays = {k: np.atleast_2d(np.asarray(v, dtype=np.float32)).mean(axis=0) for k, v in stems.items()}
        length = max(a.shape[-1] for a in arrays.values())
        data = np.zeros((len(loaded.slots), length), dtype=np.float32)
        for i, slot in enumerate(loaded.slots):
            if slot in arrays:
                data[i, : arrays[slot].shape[-1]] = arrays[slot]
    else:
        data = np.asarray(stems, dtype=np.float32)
        if data.ndim != 2 or data.shape[0] != len(loaded.slots):
            raise StemMatchError(f"stems must be [{len(loaded.slots)}, samples] in slot order {list(loaded.slots)}")
    if not np.isfinite(data).all():
        raise AudioError("stems hold NaN or infinite samples")
    if sample_rate != loaded.sample_rate:
        data = resample(data, sample_rate, loaded.sample_rate)
    if loaded.card.input_lufs is not None:
        from daw_bridge.loudness import LoudnessMeter

        levels = []
        for row in data:
            meter = LoudnessMeter(loaded.sample_rate, 1)
            meter.add(row)
            levels.append(meter.integrated())
        gains, _ = input_gains(levels, loaded.card.input_lufs, loaded.slots)
        data = (data * gains[:, None]).astype(np.float32)
    out = process(loaded.net, data, tile=tile, device=device, precision=precision)
    if mirror:
        out = np.ascontiguousarray(out[::-1])
    if target is None:
        return out
    out, _, notes = to_loudness(out, loaded.sample_rate, target, true_peak_db)
    for note in notes:
        log.warning(note)
    return out


def _progress_bar(total_seconds: float, enabled: bool | None, desc: str):
    if enabled is False:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=round(total_seconds, 2),
        unit="s",
        unit_scale=False,
        desc=desc,
        disable=None if enabled is None else False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}, {rate_fmt}]",
    )
