"""Source separation with a Wave-U-Net on the shared core: stem extraction, demix and remix.

The separation Wave-U-Net (Stoller, Ewert, Dixon, *Wave-U-Net: a multi-scale neural network
for end-to-end audio source separation*, ISMIR 2018) is :class:`automix.models.unet.WaveUNet` with
the mix (mono or stereo) as input channels and one output channel per source: valid
convolutions with context, decimation, linear or learned upsampling. :func:`separation_wave_unet`
builds one at any size from :data:`SEPARATOR_SIZES` (``"tiny"`` for tests, ``"small"`` for
CPUs, ``"paper"``: 12 levels, 24 filters + 24 per level, kernels 15/5, as in the paper).
It runs through :mod:`automix.inference.tiling` like the mixer, so any length is separated in tiles
with no seam.

* :func:`separate_audio`: ``[channels, T]`` array -> ``{source: [T] array}``;
* :func:`separate`: a mix file -> one file per source in a folder (``automix separate``);
* :func:`remix`: separate, then mix the stems with a Mix-Wave-U-Net or the rule-based console,
  optionally writing a DAW session (``automix remix``);
* :func:`evaluate_separation`: SDR (BSS-eval, via ``fast_bss_eval``) and SI-SDR per source on a
  test split, next to the "mix as every source" baseline, as an
  :class:`~automix.eval.evaluate.EvaluationReport`.

Levels: the mix is scaled to :data:`SEPARATION_LUFS` (the training recipes' loudness) before
the network and the sources scaled back by the same gain, so the result does not depend on
the input level.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from pathlib import Path

import numpy as np

from automix.inference.mix_settings import MixResult, MixSettings, TimedResult
from daw_bridge.audio import AudioWriter, probe, read_audio, resample
from daw_bridge.loudness import measure_loudness
from automix.models.checkpoint import Model, ModelCard
from daw_bridge.errors import AudioError, AutomixError, OutputError, StemMatchError
from automix.models.pretrained import DEFAULT_BY_TASK
from daw_bridge.outputs import check_not_input, check_output_folder, check_output_path, reading, reads
from automix.inference.tiling import DEFAULT_TILE, Precision, pick_device, process, run_tiled
from automix.models.unet import WaveUNet, WaveUNetConfig

log = logging.getLogger("automix")

#: The shipped default separator (``automix/pretrained/drums-separator.*``).
DEFAULT_SEPARATOR = DEFAULT_BY_TASK["separate"][0]
#: Loudness (LUFS) the mix is brought to before the network (the recipes' ``loudness_target``).
SEPARATION_LUFS = -23.0
#: Peak below which a mix counts as silent (dBFS).
SILENCE_DB = -90.0
_MAX_GAIN_DB = 60.0

#: Drum sources of the default separator, as groups of the drum mixer's slots.
DRUM_SOURCES: dict[str, tuple[str, ...]] = {
    "kick": ("kick",),
    "snare": ("snare",),
    "hi-hat": ("hi-hat",),
    "toms": ("tom_1", "tom_2", "tom_3"),
    "overheads": ("overhead_L", "overhead_R"),
}

#: Sizes of the separation Wave-U-Net (all: valid convolutions, decimation, LeakyReLU 0.2).
SEPARATOR_SIZES: dict[str, dict] = {
    "tiny": dict(levels=4, base_filters=8, growth=8, kernel_down=15, kernel_up=5),
    "small": dict(levels=7, base_filters=12, growth=12, kernel_down=15, kernel_up=5),
    "paper": dict(levels=12, base_filters=24, growth=24, kernel_down=15, kernel_up=5),
}


def init_as_mix_share(net: WaveUNet) -> WaveUNet:
    """Start a separator at the "equal share of the mix" estimate: the output layer reads only the
    concatenated input (each source = the mix's mean over channels / K); the feature weights start
    at zero and are learned from there. Needs ``concat_input`` (else the network is left alone)."""
    import torch

    cfg = net.config
    if not cfg.concat_input:
        return net
    with torch.no_grad():
        w = net.output.weight  # [K, features + in_channels, kernel]
        w.zero_()
        w[:, -cfg.in_channels :, cfg.kernel_output // 2] = 1.0 / (cfg.out_channels * cfg.in_channels)
        net.output.bias.zero_()
    return net


def separation_wave_unet(
    sources: Sequence[str] = tuple(DRUM_SOURCES),
    *,
    size: str = "small",
    mix_channels: int = 2,
    upsampling: str = "linear",
    sample_rate: int = 44100,
    name: str = "separation-wave-u-net",
    description: str = "",
    **config,
) -> Model:
    """A new (untrained) separation Wave-U-Net: ``mix_channels`` in, one channel per source out.

    ``size``: ``tiny``, ``small`` or ``paper`` (:data:`SEPARATOR_SIZES`); ``upsampling``:
    ``linear`` (the paper's M4) or ``learned`` (transposed convolutions); ``config`` overrides
    any :class:`~automix.models.unet.WaveUNetConfig` field.
    """
    if size not in SEPARATOR_SIZES:
        raise ValueError(f"size must be one of {', '.join(SEPARATOR_SIZES)}, got {size!r}")
    if mix_channels not in (1, 2):
        raise ValueError(f"mix_channels must be 1 (mono) or 2 (stereo), got {mix_channels!r}")
    sources = list(sources)
    cfg = WaveUNetConfig.model_validate({
        **SEPARATOR_SIZES[size], "activation": "leaky_relu", "leaky_slope": 0.2, "downsampling": "decimate",
        "upsampling": upsampling, "context": True, "concat_input": True,
        **config, "in_channels": mix_channels, "out_channels": len(sources),
    })
    card = ModelCard(
        name=name, task="separate", config=cfg,
        input_names=["L", "R"] if mix_channels == 2 else ["mix"], output_names=sources,
        sample_rate=sample_rate,
        description=description or f"separation Wave-U-Net (Stoller et al. 2018), size {size}",
    )
    return Model(init_as_mix_share(WaveUNet(cfg)), card)


def load_separator(model: str | os.PathLike | Model | None = None) -> Model:
    """A separation model by installed name, path or :class:`Model`; ``None``: :data:`DEFAULT_SEPARATOR`."""
    from automix.models import pretrained

    loaded = pretrained.load(model, task="separate")
    if loaded.task != "separate":
        raise StemMatchError(f"model '{loaded.name}' is a {loaded.task} model; choose a separation model "
                             f"(e.g. {DEFAULT_SEPARATOR})")
    return loaded


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


@reads("mix_path")
def separate(
    mix_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    model: str | os.PathLike | Model | None = None,
    *,
    force: bool = False,
    device: str | None = None,
    precision: Precision = "auto",
    tile: int = DEFAULT_TILE,
    tile_seconds: float | None = None,
    subtype: str = "PCM_24",
    ext: str = ".wav",
    loudness_lufs: float | None = SEPARATION_LUFS,
    progress: bool | None = None,
) -> SeparationResult:
    """Separate the mix file ``mix_path`` into ``out_dir/<source>.wav``, one mono file per source.

    The folder is created if needed; a source file that exists is refused unless ``force``.
    Files are written at the model's sample rate (the mix is resampled to it, with a note),
    atomically: after an error none of them is left behind. Any length: the model runs in
    tiles of ``tile`` output samples (or ``tile_seconds``), with the same result as one pass.
    ``model``: installed name, checkpoint path or :class:`Model` (default :data:`DEFAULT_SEPARATOR`).
    """
    started = time.perf_counter()
    if ext not in (".wav", ".flac"):
        raise OutputError(f"write the sources as .wav or .flac, not {ext}")
    if ext == ".flac" and subtype == "FLOAT":
        raise OutputError("FLAC holds 16- or 24-bit samples; use .wav for float output")
    if tile_seconds is not None and not (math.isfinite(tile_seconds) and tile_seconds > 0):
        raise ValueError("tile_seconds must be a positive number")
    mix_path = Path(mix_path).expanduser()
    if not mix_path.exists():
        raise AudioError(f"{mix_path} does not exist")
    if mix_path.is_dir():
        raise AudioError(f"{mix_path} is a folder; give the mix file to separate")
    info = probe(mix_path)  # raises one line for a corrupt or unsupported file
    if info.channels > 2:
        raise AudioError(f"{mix_path.name} has {info.channels} channels; give a mono or stereo mix")
    loaded = load_separator(model)
    folder = Path(out_dir).expanduser().absolute()
    check_not_input(folder, folder=True)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; give a folder for the separated sources")
    targets = {name: folder / _source_file_name(name, ext) for name in loaded.card.output_names}
    if folder.is_dir():
        for path in targets.values():
            check_output_path(path, overwrite=force)
    dev = pick_device(device)
    sr = loaded.sample_rate
    if tile_seconds is not None:
        tile = max(1, round(tile_seconds * sr))
    notes: list[str] = []
    audio, file_rate = read_audio(mix_path)
    _check_mix(audio, mix_path.name)
    audio = _fit_channels(audio, loaded.net.config.in_channels, mix_path.name, notes)
    if file_rate != sr:
        notes.append(f"{mix_path.name} is {file_rate} Hz, the model runs at {sr} Hz; resampled")
        audio = resample(audio, file_rate, sr)
    for note in notes:
        log.warning(note)
    gain = np.float32(_level_gain(audio, sr, loudness_lufs))
    audio = np.ascontiguousarray(audio * gain)
    total = audio.shape[1]
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
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

    from daw_bridge.progress import seconds_bar

    bar = None
    try:
        for name, path in targets.items():
            writers.append(AudioWriter(path, sr, 1, subtype=subtype, overwrite=force))
        bar = seconds_bar(total / sr, f"separating {len(targets)} sources", progress)
        run_tiled(loaded.net, read, total, write, tile=tile, device=dev, precision=precision,
                  progress=(lambda k: bar.update(k / sr)) if bar is not None else None)
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # leave no empty folder behind
        raise
    finally:
        if bar is not None:
            bar.close()
    return SeparationResult(out_dir=folder, files=targets, sample_rate=sr, frames=total, model=loaded.name,
                            notes=notes, seconds=time.perf_counter() - started)


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
    return mapping


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
        temp = Path(tempfile.mkdtemp(prefix=".automix-remix-", dir=output.parent)) if stems_dir is None else None
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


# --------------------------------------------------------------------------------------------
# evaluation


def _register_metrics(sources: Sequence[str]) -> None:
    """Columns of the separation report in :data:`automix.eval.metrics.METRICS` (the report's registry)."""
    from automix.eval.metrics import METRICS, MetricInfo

    METRICS.setdefault("sdr_mean", MetricInfo("mean SDR", "dB", "higher"))
    METRICS.setdefault("si_sdr_mean", MetricInfo("mean SI-SDR", "dB", "higher"))
    for name in sources:
        METRICS.setdefault(f"sdr_{name}", MetricInfo(f"{name} SDR", "dB", "higher"))
        METRICS.setdefault(f"si_sdr_{name}", MetricInfo(f"{name} SI-SDR", "dB", "higher"))


def separation_scores(estimates: np.ndarray, references: np.ndarray, names: Sequence[str],
                      *, silence_db: float = -60.0) -> dict[str, float]:
    """SDR (BSS-eval ``bss_eval_sources``, 512-tap distortion filter, ``fast_bss_eval``) and
    SI-SDR per source, and their means, for ``[K, T]`` estimates and references.

    Sources whose reference is below ``silence_db`` dBFS RMS (absent in the take) are left out:
    neither metric is defined for them.
    """
    import fast_bss_eval

    from automix.eval.metrics import si_sdr

    ref = np.asarray(references, dtype=np.float64)
    est = np.asarray(estimates, dtype=np.float64)
    rms = 10 * np.log10(np.maximum((ref**2).mean(axis=1), 1e-20))
    keep = [i for i in range(len(names)) if rms[i] > silence_db]
    out: dict[str, float] = {}
    if not keep:
        return out
    import torch

    # the torch backend: fast_bss_eval 0.1.4's numpy backend trips over numpy 2's linalg.solve.
    # One intra-op thread: the 512x512 solves are small, and in a long-lived process (the test
    # suite) torch.linalg.solve was seen spinning forever in its thread pool with two threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sdr, _, _ = fast_bss_eval.bss_eval_sources(torch.from_numpy(ref[keep]), torch.from_numpy(est[keep]),
                                                   compute_permutation=False)
    finally:
        torch.set_num_threads(threads)
    sdr = sdr.numpy()
    for j, i in enumerate(keep):
        out[f"sdr_{names[i]}"] = float(sdr[j])
        out[f"si_sdr_{names[i]}"] = float(si_sdr(est[i][None], ref[i][None]))
    out["sdr_mean"] = float(np.mean([out[f"sdr_{names[i]}"] for i in keep]))
    out["si_sdr_mean"] = float(np.mean([out[f"si_sdr_{names[i]}"] for i in keep]))
    return out


def _takes(data: str | os.PathLike, split, subset: str, sources: Mapping[str, Sequence[str]]):
    """``(take id, {source: mono [T]}, rate)`` of the subset of an ENST-layout folder (sum of stems)."""
    from automix.data.enst import SLOTS, scan_enst
    from automix.data.segments import Split

    root = Path(data).expanduser()
    if not root.is_dir():
        raise AutomixError(f"data folder {root} does not exist; give an ENST-layout folder (e.g. a generated corpus)")
    takes = scan_enst(root)
    if split is None:
        from automix.data.enst import make_enst_split

        split = make_enst_split(takes, seed=0)
    elif not hasattr(split, "items"):
        split = Split.load(split)
    wanted = set(split.items(subset))
    chosen = [t for t in takes if t.id in wanted]
    if not chosen:
        raise AutomixError(f"subset '{subset}' of the split holds no take of {root}")
    for take in chosen:
        signals: dict[str, np.ndarray] = {}
        rate = None
        for slot, path in zip(SLOTS, take.stems):
            if path is None:
                continue
            audio, rate = read_audio(path)
            owner = next((name for name, group in sources.items() if slot in group), None)
            if owner is None:
                continue
            mono = audio.mean(axis=0)
            signals[owner] = signals[owner] + mono if owner in signals else mono
        if rate is None:
            continue
        length = max(len(s) for s in signals.values())
        yield take.id, {name: np.pad(signals.get(name, np.zeros(0, np.float32)),
                                     (0, length - len(signals.get(name, ())))) for name in sources}, rate


def evaluate_separation(
    model: str | os.PathLike | Model | None = None,
    data: str | os.PathLike | None = None,
    *,
    split=None,
    subset: str = "test",
    sources: Mapping[str, Sequence[str]] | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    device: str | None = None,
    precision: Precision = "fp32",
):
    """Score a separator on the takes of ``subset`` of an ENST-layout folder (e.g. a generated corpus).

    Each take's mix is the sum of its stems (the separator recipes' ``separation_mix: sum``);
    the references are the model's sources, grouped from the take's slots by ``sources``
    (default: :data:`DRUM_SOURCES` for the names it has, else one slot per source name).
    Systems: the model, and the baseline **mix as every source** (the mix itself as the
    estimate of each source). Returns an :class:`~automix.eval.evaluate.EvaluationReport`
    (mean over takes, and per take); ``out`` also writes ``metrics.json`` and ``report.md``.
    """
    from automix.eval.evaluate import EvaluationReport

    loaded = load_separator(model)
    names = list(loaded.card.output_names)
    if sources is None:
        sources = {n: DRUM_SOURCES.get(n, (n,)) for n in names}
    missing = [n for n in names if n not in sources]
    if missing:
        raise AutomixError(f"sources gives no slots for the model's source(s) {', '.join(missing)}")
    if data is None:
        raise AutomixError("give the data folder to evaluate on (an ENST-layout folder, e.g. a generated corpus)")
    _register_metrics(names)
    baseline = "mix as every source"
    per_item: dict[str, dict[str, dict[str, float]]] = {}
    seconds = 0.0
    notes: list[str] = []
    for take_id, refs, rate in _takes(data, split, subset, {n: sources[n] for n in names}):
        ref = np.stack([refs[n] for n in names]).astype(np.float32)
        mix = ref.sum(axis=0)
        if float(np.abs(mix).max()) < 10 ** (SILENCE_DB / 20):
            notes.append(f"{take_id}: silent mix; skipped")
            continue
        est = separate_audio(mix, rate, loaded, device=device, precision=precision)
        est = np.stack([est[n] for n in names])
        absent = [n for n, r in zip(names, ref) if 10 * np.log10(max(float((r.astype(np.float64) ** 2).mean()), 1e-20)) <= -60]
        if absent:
            notes.append(f"{take_id}: no {', '.join(absent)} in this take; not scored")
        per_item[take_id] = {
            loaded.name: separation_scores(est, ref, names),
            baseline: separation_scores(np.repeat(mix[None], len(names), axis=0), ref, names),
        }
        seconds += ref.shape[1] / rate
    if not per_item:
        raise AutomixError(f"no take of subset '{subset}' could be scored")
    systems: dict[str, dict[str, float]] = {}
    for system in (loaded.name, baseline):
        keys = sorted({k for item in per_item.values() for k in item[system]})
        systems[system] = {k: float(np.mean([item[system][k] for item in per_item.values() if k in item[system]]))
                           for k in keys}
    report = EvaluationReport(
        systems=systems, per_item=per_item, notes=notes,
        info={"kind": "separation", "model": loaded.name, "data": str(data), "subset": subset,
              "sources": {n: list(sources[n]) for n in names}, "takes": len(per_item), "seconds": seconds,
              "sdr": "BSS-eval v4 bss_eval_sources SDR (fast_bss_eval, 512-tap filter), whole take",
              "baseline": "the mix as the estimate of every source"},
    )
    if out is not None:
        report.save(out, overwrite=overwrite, plots=False)
    return report
