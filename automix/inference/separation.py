"""Source separation with a Wave-U-Net on the shared core: stem extraction, demix and remix.

Details: ``docs/separation.md``.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from automix.inference.mix_settings import MixResult, MixSettings, TimedResult
from automix.inference.tiling import DEFAULT_TILE, Precision, pick_device, process, run_tiled
from automix.models.checkpoint import Model
from automix.models.separator import DRUM_SOURCES, load_separator
from daw_bridge.audio import AudioWriter, probe, read_audio, resample
from daw_bridge.errors import AudioError, OutputError, StemMatchError
from daw_bridge.loudness import measure_loudness
from daw_bridge.outputs import check_not_input, check_output_folder, check_output_path, reading, reads
from daw_bridge.progress import seconds_bar
from daw_bridge.tempfiles import temp_folder

log = logging.getLogger("automix")

#: Loudness (LUFS) the mix is brought to before the network (the recipes' ``loudness_target``).
SEPARATION_LUFS = -23.0
#: Peak below which a mix counts as silent (dBFS).
SILENCE_DB = -90.0
_MAX_GAIN_DB = 60.0

# --------------------------------------------------------------------------------------------
# in memory


def _fit_channels(audio: np.ndarray, channels: int, what: str, notes: list[str]) -> np.ndarray:
    if audio.shape[0] == channels:
        return audio
    if audio.shape[0] > 2:
        raise AudioError(f"{what} has {audio.shape[0]} channels; give a mono or stereo mix")
    if channels == 1:
        notes.append(f"{what} is stereo, the separator reads mono; downmixed")
        return audio.mean(axis=0, keepdims=True)
    notes.append(f"{what} is mono, the separator reads stereo; copied to both channels")
    return np.repeat(audio, 2, axis=0)


def _check_mix(audio: np.ndarray, what: str) -> None:
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise AudioError(f"{what} holds no audio")
    if audio.shape[0] > 2:
        raise AudioError(f"{what} has {audio.shape[0]} channels; give a mono or stereo mix")
    if not np.isfinite(audio).all():
        raise AudioError(f"{what} holds NaN or infinite samples; re-export it")
    peak = float(np.abs(audio).max())
    if peak < 10 ** (SILENCE_DB / 20):
        raise AudioError(f"{what} is silent (peak below {SILENCE_DB:.0f} dBFS); nothing to separate")


def _level_gain(audio: np.ndarray, sample_rate: int, lufs: float | None) -> float:
    if lufs is None:
        return 1.0
    measured = measure_loudness(audio, sample_rate)
    if not math.isfinite(measured):
        return 1.0
    return float(10 ** (float(np.clip(lufs - measured, -_MAX_GAIN_DB, _MAX_GAIN_DB)) / 20))


def separate_audio(
    audio: np.ndarray,
    sample_rate: int,
    model: str | os.PathLike | Model | None = None,
    *,
    device: str | None = None,
    precision: Precision = "fp32",
    tile: int = DEFAULT_TILE,
    loudness_lufs: float | None = SEPARATION_LUFS,
) -> dict[str, np.ndarray]:
    """Separate an in-memory mix: ``[channels, T]`` (or ``[T]``) float -> ``{source: [T] float32}``.

    The sources come back at ``sample_rate`` (the mix is resampled to the model's rate and the
    sources back), each as long as the mix. A stereo mix for a mono model is downmixed, a mono
    one for a stereo model copied to both channels. Raises :class:`AudioError` for an empty,
    silent, non-finite or more-than-stereo mix.
    """
    loaded = load_separator(model)
    arr = np.asarray(audio, dtype=np.float32)
    arr = arr[None] if arr.ndim == 1 else arr
    _check_mix(arr, "the mix")
    notes: list[str] = []
    arr = _fit_channels(arr, loaded.net.config.in_channels, "the mix", notes)
    frames = arr.shape[1]
    if sample_rate != loaded.sample_rate:
        arr = resample(arr, sample_rate, loaded.sample_rate)
    gain = _level_gain(arr, loaded.sample_rate, loudness_lufs)
    out = process(loaded.net, arr * np.float32(gain), tile=tile, device=device, precision=precision)
    out /= np.float32(gain)
    if sample_rate != loaded.sample_rate:
        out = resample(out, loaded.sample_rate, sample_rate)
        out = out[:, :frames] if out.shape[1] >= frames else np.pad(out, ((0, 0), (0, frames - out.shape[1])))
    return {name: np.ascontiguousarray(out[i]) for i, name in enumerate(loaded.card.output_names)}


# --------------------------------------------------------------------------------------------
# files


@dataclass
class SeparationResult(TimedResult):
    """What :func:`separate` did: ``files`` maps each source to the file written."""

    out_dir: Path
    files: dict[str, Path]
    sample_rate: int
    frames: int
    model: str
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _source_file_name(name: str, ext: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".") or "source"
    return safe + ext


@dataclass(frozen=True)
class SeparateSettings:
    """How :func:`separate` runs and writes; every field is also a keyword of it.

    ``force`` (replace source files automix wrote), ``device``, ``precision``, ``tile`` (output
    samples per tile) or ``tile_seconds``, ``subtype`` (``PCM_16``/``PCM_24``/``FLOAT``), ``ext``
    (``.wav``/``.flac``), ``loudness_lufs`` (level of the mix before the network; ``None``: as
    it is), ``progress`` (``None``: on a terminal).
    """

    force: bool = False
    device: str | None = None
    precision: Precision = "auto"
    tile: int = DEFAULT_TILE
    tile_seconds: float | None = None
    subtype: str = "PCM_24"
    ext: str = ".wav"
    loudness_lufs: float | None = SEPARATION_LUFS
    progress: bool | None = None

    def check(self) -> "SeparateSettings":
        if self.ext not in (".wav", ".flac"):
            raise OutputError(f"write the sources as .wav or .flac, not {self.ext}")
        if self.ext == ".flac" and self.subtype == "FLOAT":
            raise OutputError("FLAC holds 16- or 24-bit samples; use .wav for float output")
        if self.tile_seconds is not None and not (math.isfinite(self.tile_seconds) and self.tile_seconds > 0):
            raise ValueError("tile_seconds must be a positive number")
        return self


def _mix_file(mix_path: str | os.PathLike) -> Path:
    path = Path(mix_path).expanduser()
    if not path.exists():
        raise AudioError(f"{path} does not exist")
    if path.is_dir():
        raise AudioError(f"{path} is a folder; give the mix file to separate")
    info = probe(path)  # raises one line for a corrupt or unsupported file
    if info.channels > 2:
        raise AudioError(f"{path.name} has {info.channels} channels; give a mono or stereo mix")
    return path


def _targets(out_dir: str | os.PathLike, names: Sequence[str], s: SeparateSettings) -> tuple[Path, dict[str, Path]]:
    folder = Path(out_dir).expanduser().absolute()
    check_not_input(folder, folder=True)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; give a folder for the separated sources")
    targets = {name: folder / _source_file_name(name, s.ext) for name in names}
    if folder.is_dir():
        for path in targets.values():
            check_output_path(path, overwrite=s.force)
    return folder, targets


def _network_input(mix_path: Path, loaded: Model, s: SeparateSettings, notes: list[str]) -> tuple[np.ndarray, np.float32]:
    """The mix at the model's rate and channels, brought to ``loudness_lufs``; and that gain."""
    sr = loaded.sample_rate
    audio, file_rate = read_audio(mix_path)
    _check_mix(audio, mix_path.name)
    audio = _fit_channels(audio, loaded.net.config.in_channels, mix_path.name, notes)
    if file_rate != sr:
        notes.append(f"{mix_path.name} is {file_rate} Hz, the model runs at {sr} Hz; resampled")
        audio = resample(audio, file_rate, sr)
    for note in notes:
        log.warning(note)
    gain = np.float32(_level_gain(audio, sr, s.loudness_lufs))
    return np.ascontiguousarray(audio * gain), gain


def _stream_sources(loaded: Model, audio: np.ndarray, gain: np.float32, targets: Mapping[str, Path],
                    s: SeparateSettings) -> None:
    """Run the separator over ``audio`` in tiles, writing one file per source (all or none)."""
    sr, total = loaded.sample_rate, audio.shape[1]
    tile = max(1, round(s.tile_seconds * sr)) if s.tile_seconds is not None else s.tile
    writers: list[AudioWriter] = []
    pos = 0

    def read(n: int) -> np.ndarray:
        nonlocal pos
        block = audio[:, pos : pos + n]
        pos += n
        return np.pad(block, ((0, 0), (0, n - block.shape[1]))) if block.shape[1] < n else block

    def write(block: np.ndarray) -> None:
        block = block / gain
        for i, writer in enumerate(writers):
            writer.write(block[i])

    bar = seconds_bar(total / sr, f"separating {len(targets)} sources", s.progress)
    try:
        for path in targets.values():
            writers.append(AudioWriter(path, sr, 1, subtype=s.subtype, overwrite=s.force, frames=total))
        run_tiled(loaded.net, read, total, write, tile=tile, device=pick_device(s.device), precision=s.precision,
                  progress=lambda k: bar.update(k / sr))
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    finally:
        bar.close()


@reads("mix_path")
def separate(
    mix_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str | os.PathLike | Model | None = None,
    *,
    settings: SeparateSettings | None = None,
    **options: Any,
) -> SeparationResult:
    """Separate the mix file ``mix_path`` into ``out_dir/<source>.wav``, one mono file per source.

    The folder is created if needed; a source file that exists is refused unless ``force``.
    Files are written at the model's sample rate (the mix is resampled to it, with a note),
    atomically: after an error none of them is left behind. Any length: the model runs in
    tiles with the same result as one pass. ``model``: installed name, checkpoint path or
    :class:`Model` (default: the shipped separator). ``settings``/``options``: the fields of
    :class:`SeparateSettings`.
    """
    started = time.perf_counter()
    s = replace(settings or SeparateSettings(), **options).check()
    path = _mix_file(mix_path)
    loaded = load_separator(model)
    folder, targets = _targets(out_dir, loaded.card.output_names, s)
    notes: list[str] = []
    audio, gain = _network_input(path, loaded, s, notes)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _stream_sources(loaded, audio, gain, targets, s)
    except BaseException:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # leave no empty folder behind
        raise
    return SeparationResult(out_dir=folder, files=targets, sample_rate=loaded.sample_rate, frames=audio.shape[1],
                            model=loaded.name, notes=notes, seconds=time.perf_counter() - started)


# --------------------------------------------------------------------------------------------
# remix


@dataclass
class RemixResult:
    """What :func:`remix` did: the separation, the mix file, and the session if one was written."""

    output: Path
    separation: SeparationResult
    mixer: str
    stems_dir: Path | None
    session: Path | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    mix: MixResult | None = None


def mixer_mapping(sources: Mapping[str, Path], slots: Sequence[str]) -> dict[str, list[str]]:
    """Which separated file feeds which mixer slot: the slot of the same name, else the source
    whose :data:`DRUM_SOURCES` group holds the slot (``toms`` -> ``tom_1``, ``overheads`` ->
    ``overhead_L`` and ``overhead_R``); slots fed by nothing are silent."""
    mapping: dict[str, list[str]] = {}
    used_groups: set[str] = set()
    for slot in slots:
        if slot in sources:
            mapping[slot] = [str(sources[slot])]
            continue
        for name, group in DRUM_SOURCES.items():
            if name in sources and slot in group and (name == "overheads" or name not in used_groups):
                mapping[slot] = [str(sources[name])]
                used_groups.add(name)
                break
    fed = {Path(files[0]) for files in mapping.values()}
    missing = sorted(name for name, path in sources.items() if Path(path) not in fed)
    if not mapping:
        raise StemMatchError(f"no separated source ({', '.join(sources)}) fits a slot of the mixer ({', '.join(slots)})")
    if missing:
        log.warning("source(s) %s fit no slot of the mixer; left out of the remix", ", ".join(missing))
    silent = [slot for slot in slots if slot not in mapping]
    if silent:
        log.info("no separated source feeds %s: silent in the remix", ", ".join(silent))
    return {**mapping, **{slot: [] for slot in silent}}  # silent as remix decides: no advice to map them


def remix(
    mix_path: str | os.PathLike,
    output: str | os.PathLike,
    *,
    separator: str | os.PathLike | Model | None = None,
    mixer: Any = None,
    stems_dir: str | os.PathLike | None = None,
    settings: MixSettings | None = None,
    **options: Any,
) -> RemixResult:
    """Separate ``mix_path``, then mix the sources into ``output`` (``automix remix``).

    ``mixer``: anything :func:`automix.mix` takes as ``model`` (a Mix-Wave-U-Net is fed by
    :func:`mixer_mapping`; ``"rules"`` reads roles from the source names). ``stems_dir``: keep
    the separated sources there (default: a temporary folder, removed afterwards; with a
    session they are kept in ``<output stem>-stems/`` beside the output, since the session
    refers to them). ``settings``/``options``: the fields of
    :class:`~automix.inference.mix_settings.MixSettings`, as for :func:`automix.mix`.
    """
    from automix.inference.mixers import WaveUNetMixer, load_mixer
    from automix.inference.mixing import mix

    started = time.perf_counter()
    s = MixSettings.of(settings, options)
    with reading([mix_path]):
        output = check_output_path(output, overwrite=s.force)
        if output.suffix.lower() not in (".wav", ".wave", ".flac"):
            raise OutputError(f"{output.name}: write the remix as .wav or .flac")
        if s.session is not None:
            check_output_folder(s.session, force=s.force)
            if stems_dir is None:
                stems_dir = output.with_name(output.stem + "-stems")
        temp = temp_folder(output, "stems") if stems_dir is None else None
        folder = temp if temp is not None else Path(stems_dir).expanduser()
        try:
            sep = separate(mix_path, folder, separator, force=s.force, device=s.device, precision=s.precision,
                           progress=s.progress, subtype="FLOAT")
            chosen = load_mixer(mixer)
            mapping = mixer_mapping(sep.files, chosen.model.slots) if isinstance(chosen, WaveUNetMixer) else None
            result = mix(list(sep.files.values()), output, model=chosen,
                         settings=replace(s, mapping=mapping, ignore_unmatched=mapping is not None))
        finally:
            if temp is not None:
                shutil.rmtree(temp, ignore_errors=True)
    notes = list(sep.notes) + [n for n in result.notes if "is silent" not in n]
    return RemixResult(output=output, separation=sep, mixer=result.model, stems_dir=None if temp else folder,
                       session=result.session.path if result.session is not None else None, notes=notes,
                       seconds=time.perf_counter() - started, mix=result)
