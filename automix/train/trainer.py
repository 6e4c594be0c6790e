"""Training: one command for a Mix-Wave-U-Net or a separation Wave-U-Net, on CPU, a GPU or many.

``automix train RECIPE [--data DIR] [--out RUN_DIR] [--resume]`` and :func:`train` run a
:class:`~automix.train.recipe.TrainRecipe`. What happens:

* **Hardware.** CUDA when present (``device`` overrides), else the CPU. ``precision="auto"``:
  bf16 autocast on GPUs that have it, else fp16 with a gradient scaler; on the CPU bf16 where
  it runs natively (AMX: 2.3-2.5x the fp32 throughput here, see BENCHMARKS.md), else fp32. Weights, optimiser
  state and losses stay fp32. Started by ``torchrun --nproc_per_node=K`` (or on several machines),
  each process trains a :class:`~torch.nn.parallel.DistributedDataParallel` replica on its
  share of the global batch (NCCL on GPUs, gloo on CPUs); only rank 0 writes files.
* **Data order.** Update ``s`` uses the random segments numbered ``s*B .. s*B+B-1`` (``B`` the
  global batch), segment ``n`` being drawn from ``(seed, n // epoch_length, n % epoch_length)``
  alone; process ``r`` of ``K`` takes the ``r``-th slice of ``B/K``. So the segments, and with
  them the result, do not depend on the number of processes, the DataLoader workers or
  interruptions.
* **Checkpoints.** Every ``checkpoint_every`` updates a folder ``checkpoints/step-NNNNNNNN``
  (model weights and card, optimiser, schedule, gradient-scaler and RNG states, step, best
  score) is written under a temporary name and renamed: a run killed at any moment leaves
  only whole checkpoints. ``--resume`` continues from the newest one exactly; it refuses a
  recipe that changed, except for :data:`~automix.train.recipe.RESUMABLE_CHANGES`.
  The best model by validation loss is ``model.safetensors`` + ``model.json`` (its card)
  in the run folder: ``automix mix stems/ --model RUN/model.safetensors`` uses it.
* **Safety.** A NaN or infinite loss (or gradient outside fp16's scaler) stops the run with a
  message naming the step; the checkpoints already written stay. Gradients are clipped to
  ``grad_clip``. The run folder is checked for write access and free space before training.
* **Logs.** A progress bar (loss, segments/s); ``metrics.csv`` and TensorBoard events
  (``tensorboard --logdir RUN``) with the training loss and its terms, learning rate, gradient
  norm, throughput, and the validation loss, L1 and SI-SDR next to the plain-sum baseline;
  ``train.log`` holds the text log.

Run folder::

    recipe.json        the resolved recipe (with overrides)
    model.safetensors  the best model so far, and model.json its card
    metrics.csv        one row per logged step or validation
    tensorboard/       event files
    train.log          the log
    checkpoints/       step-NNNNNNNN/{model.safetensors, model.json, state.safetensors, state.json}
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import gc
import json
import logging
import math
import os
import platform
import random
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

from automix.models.checkpoint import Model, ModelCard, TrainingInfo, load_model, save_model
from daw_bridge.errors import AutomixError
from daw_bridge.files import umask
from daw_bridge.outputs import atomic_output, check_not_input, reading, reads
from automix.losses import build_loss
from automix.models.architectures import load_model_preset
from automix.train.recipe import (
    RESUMABLE_CHANGES,
    TrainRecipe,
    canonical_json,
    load_recipe,
    recipe_differences,
    validate_recipe,
)
from daw_bridge.stems import DRUM_SLOTS
from automix.models.unet import WaveUNet, WaveUNetConfig

logger = logging.getLogger("automix.train.trainer")

STATE_FORMAT = "automix-train-state/1"
_CKPT_PREFIX = "step-"
_CSV_FIELDS = [
    "step", "phase", "epoch", "loss", "terms", "lr", "grad_norm", "segments_per_s", "elapsed_s",
    "valid_l1", "valid_si_sdr", "baseline_loss", "baseline_l1", "baseline_si_sdr", "best",
]


class TrainingError(AutomixError):
    """Training cannot start or had to stop (diverged, data, run folder)."""


class TrainingDiverged(TrainingError):
    """The loss (or the gradients) became NaN or infinite."""


# --------------------------------------------------------------------------------------------
# processes and devices


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def dist_info() -> DistInfo:
    """Rank, world size and local rank from the torchrun environment (1 process without)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise TrainingError(f"bad torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {exc}") from None
    return DistInfo(rank, world, local)


def _pick_device(device: str | torch.device | None, info: DistInfo) -> torch.device:
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda", info.local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError(f"device {device} asked for, but this torch build sees no CUDA GPU; use --device cpu")
        if dev.index is None:
            dev = torch.device("cuda", info.local_rank % torch.cuda.device_count())
    elif dev.type != "cpu":
        raise TrainingError(f"device {device} is not supported for training; use cpu or cuda[:N]")
    return dev


def _pick_precision(precision: str, device: torch.device) -> torch.dtype:
    if precision == "fp32":
        return torch.float32
    if precision == "auto":
        if device.type != "cuda":
            from automix.inference.tiling import cpu_has_fast_bf16

            # bf16 autocast trains 2.3-2.5x faster than fp32 on CPUs with AMX (weights stay fp32)
            return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp16" and device.type != "cuda":
        raise TrainingError("fp16 mixed precision needs a CUDA GPU; use precision bf16 or fp32 on the CPU")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def _hardware(device: torch.device, info: DistInfo) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return f"{info.world} x {name}" if info.world > 1 else name


# --------------------------------------------------------------------------------------------
# data


class NumberedSegments(Dataset):
    """Segment ``n`` of an endless stream: item ``n % len`` of epoch ``n // len`` of ``base``."""

    def __init__(self, base: Dataset):
        self.base = base
        self.length = len(base)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return 1 << 62

    def __getitem__(self, number: int) -> dict[str, Any]:
        epoch, index = divmod(int(number), self.length)
        set_epoch = getattr(self.base, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)
        return self.base[index]


class StepSampler(Sampler[int]):
    """Segment numbers for updates ``start_step, start_step + 1, ...`` on process ``rank``."""

    def __init__(self, start_step: int, global_batch: int, rank: int = 0, world: int = 1):
        if global_batch % world:
            raise TrainingError(f"batch_size {global_batch} does not split over {world} processes; use a multiple")
        self.start_step, self.global_batch, self.rank = int(start_step), int(global_batch), int(rank)
        self.per_rank = global_batch // world

    def __iter__(self) -> Iterator[int]:
        step = self.start_step
        while True:
            first = step * self.global_batch + self.rank * self.per_rank
            yield from range(first, first + self.per_rank)
            step += 1


@dataclass
class TrainData:
    train: Dataset
    valid: Dataset | None
    slots: tuple[str, ...]
    description: str
    notes: list[str] = field(default_factory=list)


def _generated_root(recipe: TrainRecipe) -> Path:
    from automix.data.segments import cache_dir

    g = recipe.data.generate
    return cache_dir() / "generated" / f"drums-{g.songs}x{g.seconds:g}s-{g.drummers}d-seed{g.seed}"


def ensure_generated(root: Path, recipe: TrainRecipe, *, progress: bool = False) -> Path:
    """Make the recipe's generated corpus in ``root`` unless one is there already."""
    if (root / "corpus.json").is_file():
        return root
    if root.exists() and any(root.iterdir()):
        return root  # an ENST-layout folder of the user's: read as is
    from automix.data.generate import generate_corpus

    g = recipe.data.generate
    logger.info("generating a drum corpus (%d takes of %g s, seed %d) in %s", g.songs, g.seconds, g.seed, root)
    generate_corpus(root, g.songs, seed=g.seed, seconds=g.seconds, drummers=g.drummers, progress=progress)
    return root


def _collection_manifest(root: Path) -> Path:
    if root.is_file():
        return root
    for name in ("manifest.json", "manifest.yaml", "manifest.yml"):
        if (root / name).is_file():
            return root / name
    if not root.exists():
        raise TrainingError(f"data folder {root} does not exist")
    raise TrainingError(
        f"{root} holds no manifest.json; write one with 'automix datasets manifest {root} -o {root}/manifest.json'"
    )


def _limit(ds: Dataset, count: int | None) -> Dataset:
    n = len(ds)  # type: ignore[arg-type]
    if count is None or n <= count:
        return ds
    return Subset(ds, [int(i) for i in np.linspace(0, n - 1, count).round()])


def _enst_manifest(root: Path, split, recipe: TrainRecipe):
    """A collection manifest over an ENST-layout folder (separation data from ENST takes)."""
    from automix.data.collection import Manifest, SongEntry, StemEntry
    from automix.data.enst import SLOTS, scan_enst

    train_items = set(split.items(recipe.data.train_subset))
    valid_items = set(split.items(recipe.data.valid_subset))
    songs = []
    for take in scan_enst(root):
        if take.id not in train_items and take.id not in valid_items:
            continue
        mix = take.mix(recipe.data.target)
        stems = [StemEntry(file=str(p.relative_to(root)), slot=s) for s, p in zip(SLOTS, take.stems) if p is not None]
        if mix is None or not stems:
            continue
        which = "train" if take.id in train_items else "valid"
        songs.append(SongEntry(name=take.id, folder=".", mix=str(mix.relative_to(root)), stems=stems, split=which))
    if not songs:
        raise TrainingError(f"no take of {root} has a {recipe.data.target} mix and stems in the split's subsets")
    return Manifest(sample_rate=None, root=str(root.absolute()), slots=list(SLOTS), songs=songs)


def separation_manifest(manifest, recipe: TrainRecipe):
    """``manifest`` as a separation recipe reads it: slots grouped into ``data.sources``
    (slots in no group are left out) and, with ``data.separation_mix: sum``, no mix files."""
    from automix.data.collection import Manifest

    d = recipe.data
    data = manifest.model_dump()
    if d.sources is not None:
        unknown = sorted({s for group in d.sources.values() for s in group} - set(manifest.slots))
        if unknown:
            raise TrainingError(
                f"data.sources names slot(s) {', '.join(unknown)} that the data lacks (its slots: {', '.join(manifest.slots)})"
            )
        owner = {slot: name for name, group in d.sources.items() for slot in group}
        data["slots"] = list(d.sources)
        for song in data["songs"]:
            song["stems"] = [{**st, "slot": owner[st["slot"]]} for st in song["stems"] if st["slot"] in owner]
    if d.separation_mix == "sum":
        for song in data["songs"]:
            song["mix"] = None
    return Manifest.model_validate(data)


def build_data(recipe: TrainRecipe, net: WaveUNet, sample_rate: int, root: Path) -> TrainData:
    """Training and validation datasets of ``recipe`` from ``root`` (see :class:`~automix.train.recipe.DataSpec`)."""
    d = recipe.data
    out_len = max(1, round(recipe.segment_seconds * sample_rate))
    from automix.data.segments import segment_sizes

    sizes = segment_sizes(net, output_length=out_len)
    if d.kind in ("enst", "generated"):
        from automix.data.enst import EnstDrums, make_enst_split, scan_enst
        from automix.data.segments import Split

        if not root.is_dir():
            raise TrainingError(f"data folder {root} does not exist")
        takes = scan_enst(root)  # raises on an empty folder or a wrong layout, saying what it found
        split = Split.load(d.split) if d.split else make_enst_split(takes, seed=0)
        if not split.items(d.train_subset):
            raise TrainingError(f"subset '{d.train_subset}' of the split is empty ({len(takes)} takes in {root})")
        has_valid = bool(split.items(d.valid_subset))
        what = f"{'ENST-drums' if d.kind == 'enst' else 'generated drums'} at {root}, {d.target} mixes"
        if recipe.task == "separate":
            from automix.data.collection import MultitrackDataset

            manifest = separation_manifest(_enst_manifest(root, split, recipe), recipe)
            common = dict(input_length=sizes.input_length, output_length=sizes.output_length, mode="separate",
                          loudness_target=d.loudness_target, sample_rate=sample_rate,
                          mix_channels=net.config.in_channels)
            same = d.train_subset == d.valid_subset
            train = MultitrackDataset(manifest, split="train", segment="random", samples_per_epoch=d.segments_per_epoch,
                                      seed=recipe.seed, augment=d.augment, **common)
            valid = None
            if has_valid:
                valid = MultitrackDataset(manifest, split="train" if same else "valid", segment="sequential", **common)
            slots = tuple(manifest.slots)
        else:
            common = dict(split=split, target=d.target, input_length=sizes.input_length,
                          output_length=sizes.output_length, normalize=d.normalize, cache_audio=d.cache_audio,
                          sample_rate=sample_rate)
            train = EnstDrums(root, subset=d.train_subset, mode="random", segments_per_epoch=d.segments_per_epoch,
                              seed=recipe.seed, **common)
            valid = EnstDrums(root, subset=d.valid_subset, mode="fixed", **common) if has_valid else None
            slots = tuple(DRUM_SLOTS)
        desc = f"{what}; split {d.split or 'default (seed 0, 80/10/10)'}: {d.train_subset} / {d.valid_subset}"
    else:
        from automix.data.collection import MultitrackDataset, load_manifest
        from automix.data.segments import make_split

        path = _collection_manifest(root)
        manifest = load_manifest(path)
        manifest = manifest.model_copy(update={"root": str((path.parent / manifest.root).absolute())})
        notes_split = ""
        if all(song.split is None for song in manifest.songs):
            # a fresh manifest ('automix datasets manifest') assigns no splits: a seeded 80/10/10 by song name
            split = make_split([song.name for song in manifest.songs], seed=0)
            manifest = manifest.model_copy(update={"songs": [
                song.model_copy(update={"split": split.subset_of(song.name)}) for song in manifest.songs]})
            notes_split = "the manifest assigns no splits: songs split 80/10/10 by a seeded hash of their names"
        common = dict(input_length=sizes.input_length, output_length=sizes.output_length, mode=recipe.task,
                      loudness_target=d.loudness_target, sample_rate=sample_rate)
        augment = None
        if recipe.task == "separate":
            manifest = separation_manifest(manifest, recipe)
            common["mix_channels"] = net.config.in_channels
            augment = d.augment
        train = MultitrackDataset(manifest, split=d.train_subset, segment="random",
                                  samples_per_epoch=d.segments_per_epoch, seed=recipe.seed, augment=augment, **common)
        valid = None
        if any(song.split == d.valid_subset for song in manifest.songs):
            valid = MultitrackDataset(manifest, split=d.valid_subset, segment="sequential", **common)
        slots = tuple(train.slots)
        desc = f"collection {path}: {d.train_subset} / {d.valid_subset}" + (f" ({notes_split})" if notes_split else "")
    notes = []
    if valid is None:
        notes.append(f"no '{d.valid_subset}' data: no validation, the last model is kept")
    else:
        valid = _limit(valid, d.valid_segments)
    return TrainData(train, valid, slots, desc, notes)


def _io(batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input [B, C_in, T_in], target [B, C_out, T_out], mask [B, slots])`` of a collated batch."""
    if "stems" in batch:
        return batch["stems"], batch["mix"], batch["mask"]
    return batch["input"], batch["target"], batch["mask"]


# --------------------------------------------------------------------------------------------
# model


def build_model(recipe: TrainRecipe, slots: tuple[str, ...]) -> Model:
    """A new network for ``recipe`` with ``slots`` (inputs of a mixer, outputs of a separator)."""
    preset, base = load_model_preset(recipe.model.preset)
    cfg = {**base.model_dump(), **recipe.model.config}
    if recipe.task == "mix":
        cfg.update(in_channels=len(slots), out_channels=2)
        inputs, outputs = list(slots), ["L", "R"]
    else:
        # a separator reads a stereo mix unless the recipe asks for mono (model.config.in_channels: 1)
        mix_channels = int(recipe.model.config.get("in_channels", 2))
        if mix_channels not in (1, 2):
            raise TrainingError(f"recipe model.config.in_channels: a separator reads a mono (1) or stereo (2) mix, got {mix_channels}")
        cfg.update(in_channels=mix_channels, out_channels=len(slots))
        inputs, outputs = (["L", "R"] if mix_channels == 2 else ["mix"]), list(slots)
    try:
        config = WaveUNetConfig.model_validate(cfg)
    except Exception as exc:  # pydantic ValidationError
        raise TrainingError(f"recipe model.config: {' '.join(str(exc).split())}") from None
    card = ModelCard(
        name=recipe.model.name or recipe.name,
        task=recipe.task,
        config=config,
        input_names=inputs,
        output_names=outputs,
        sample_rate=preset.sample_rate,
        description=recipe.description or preset.description,
        input_lufs=_input_lufs(recipe),
        output_lufs=_output_lufs(recipe),
    )
    torch.manual_seed(recipe.seed)
    net = WaveUNet(config)
    if recipe.task == "separate":
        from automix.inference.separation import init_as_mix_share

        init_as_mix_share(net)  # start at the equal-share-of-the-mix estimate (the validation baseline)
    return Model(net, card)


def _input_lufs(recipe: TrainRecipe) -> float | None:
    """The loudness the data loader brings each input stem to (what inference must repeat)."""
    from automix.data.enst import STEM_LUFS

    return _loader_lufs(recipe, STEM_LUFS)


def _output_lufs(recipe: TrainRecipe) -> float | None:
    """The loudness the data loader brings each target mix to (what the model learns to output)."""
    from automix.data.enst import MIX_LUFS

    return _loader_lufs(recipe, MIX_LUFS)


def _loader_lufs(recipe: TrainRecipe, enst_level: float) -> float | None:
    if recipe.task != "mix":
        return None
    d = recipe.data
    if d.kind in ("enst", "generated"):
        return enst_level if d.normalize is not None else None
    return d.loudness_target


# --------------------------------------------------------------------------------------------
# run folder and checkpoints


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.json"

    @property
    def model(self) -> Path:
        return self.root / "model.safetensors"

    @property
    def csv(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"{_CKPT_PREFIX}{step:08d}"


def list_checkpoints(run: str | os.PathLike) -> list[tuple[int, Path]]:
    """Whole checkpoints of a run folder, oldest first: ``[(step, folder)]``."""
    folder = RunPaths(Path(run)).checkpoints
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(_CKPT_PREFIX) and p.is_dir() and (p / "state.json").is_file():
                try:
                    found.append((int(p.name[len(_CKPT_PREFIX):]), p))
                except ValueError:
                    continue
    return sorted(found)


def _checkpoint_bytes(net: WaveUNet) -> int:
    return net.num_parameters() * 4 * 3 + (1 << 16)  # weights + two Adam moments + cards


def check_run_folder(root: Path, net: WaveUNet, keep: int) -> None:
    """Refuse, before any training, a run folder that cannot be written or has too little space."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainingError(f"cannot create the run folder {root}: {exc.strerror or exc}") from None
    if not root.is_dir():
        raise TrainingError(f"run folder {root} is not a folder")
    probe = None
    try:
        fd, probe = tempfile.mkstemp(prefix=".automix-probe-", dir=root)
        with os.fdopen(fd, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise TrainingError(f"cannot write in the run folder {root}: {exc.strerror or exc}") from None
    finally:
        if probe is not None:
            with contextlib.suppress(OSError):
                os.unlink(probe)
    need = _checkpoint_bytes(net) * (keep + 2) + (8 << 20)
    free = shutil.disk_usage(root).free
    if free < need:
        raise TrainingError(
            f"not enough free space for the run in {root}: {free / 2**20:.1f} MB free, about "
            f"{need / 2**20:.1f} MB needed ({keep} checkpoints + the best model + logs); free some space "
            f"or choose another --out"
        )


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for idx, entry in state["state"].items():
        rest = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{idx}/{key}"] = value.detach().cpu().contiguous()
            else:
                rest[key] = value
        plain["state"][str(idx)] = rest
    return tensors, plain


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in plain["state"].items()}
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, idx, key = name.split("/", 2)
            state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda{i}"] = s
    np_state = np.random.get_state()
    plain = {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    return tensors, plain


def _set_rng_state(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda")]
    if cuda and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError):
            torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    py = plain["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = plain["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))


# --------------------------------------------------------------------------------------------
# results


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    run_dir: Path
    model_path: Path
    steps: int
    best_step: int | None
    best_valid_loss: float | None
    baseline_valid_loss: float | None
    last_train_loss: float | None
    stopped_early: bool
    duration_s: float
    segments_per_s: float
    metrics: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"trained {self.steps} steps in {self.duration_s:.0f} s ({self.segments_per_s:.1f} segments/s)"]
        if self.best_valid_loss is not None:
            parts.append(f"best validation loss {self.best_valid_loss:.4g} at step {self.best_step}")
            if self.baseline_valid_loss is not None:
                parts.append(f"plain sum {self.baseline_valid_loss:.4g}")
        if self.stopped_early:
            parts.append("stopped early")
        return "; ".join(parts) + f"; model: {self.model_path}"


# --------------------------------------------------------------------------------------------
# the trainer


class Trainer:
    """Runs one recipe into one run folder (see the module docstring); :func:`train` wraps it."""

    def __init__(
        self,
        recipe: TrainRecipe,
        *,
        data: str | os.PathLike | None = None,
        out: str | os.PathLike | None = None,
        resume: bool = False,
        device: str | torch.device | None = None,
        progress: bool | None = None,
        init: str | os.PathLike | None = None,
    ):
        self.recipe = recipe
        self.info = dist_info()
        self.device = _pick_device(device, self.info)
        self.dtype = _pick_precision(recipe.precision, self.device)
        self.progress = progress
        self.paths = RunPaths(Path(out if out is not None else Path("runs") / recipe.name).expanduser())
        self.resume = resume
        self._pg_started = False
        self._log_handler: logging.Handler | None = None
        self._tb = None
        self.data_root = self._data_root(data)
        self._init = init

    # ------------------------------------------------------------------ setup
    def _data_root(self, data: str | os.PathLike | None) -> Path:
        d = self.recipe.data
        root = data if data is not None else d.root
        if root is None:
            if d.kind == "generated":
                return _generated_root(self.recipe)
            raise TrainingError(
                f"recipe '{self.recipe.name}' needs data ({d.kind}): pass --data DIR"
                + (" (the ENST-drums root folder)" if d.kind == "enst" else " (a manifest or its folder)")
            )
        return Path(root).expanduser()

    def _barrier(self) -> None:
        if self.info.world > 1 and dist.is_initialized():
            dist.barrier()

    def _start_processes(self) -> None:
        if self.info.world > 1 and not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group(backend=backend, timeout=_dt.timedelta(minutes=30))
            self._pg_started = True

    def _check_existing_run(self) -> int:
        """Step to start from; refuses a run folder in use or a changed recipe."""
        found = list_checkpoints(self.paths.root)
        has_run = self.paths.recipe.is_file()
        if not self.resume:
            if has_run or found:
                raise TrainingError(
                    f"{self.paths.root} already holds a run"
                    + (f" (checkpoint at step {found[-1][0]})" if found else "")
                    + "; add --resume to continue it, or choose another --out"
                )
            return 0
        if not has_run:
            raise TrainingError(f"nothing to resume in {self.paths.root} (no recipe.json); start it without --resume")
        try:
            old = validate_recipe(json.loads(self.paths.recipe.read_text()), str(self.paths.recipe))
        except (json.JSONDecodeError, OSError) as exc:
            raise TrainingError(f"cannot read {self.paths.recipe}: {exc}") from None
        diffs = [
            d for d in recipe_differences(old, self.recipe)
            if not any(d.startswith(k + ":") or d.startswith(k + ".") for k in RESUMABLE_CHANGES)
        ]
        if diffs:
            raise TrainingError(
                f"the recipe differs from the one {self.paths.root} was started with: {'; '.join(diffs)}; "
                "resume with the same recipe, or start a new run with another --out"
            )
        return found[-1][0] if found else 0

    def _setup_logging(self) -> None:
        if not self.info.main:
            return
        handler = logging.FileHandler(self.paths.log, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger("automix")
        self._saved_logging = (root.level, [(h, h.level) for h in root.handlers])
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            # the file gets INFO; the console keeps showing what it showed before
            shown = root.getEffectiveLevel()
            root.setLevel(logging.INFO)
            for h in root.handlers:
                if h is not handler and h.level < shown:
                    h.setLevel(shown)
        self._log_handler = handler

    def _teardown_logging(self) -> None:
        if self._log_handler is not None:
            root = logging.getLogger("automix")
            root.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
            level, handlers = self._saved_logging
            root.setLevel(level)
            for h, lvl in handlers:
                h.setLevel(lvl)

    # ------------------------------------------------------------------ state
    def _state(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        opt_t, opt_p = _flatten_optimizer(self.optimizer.state_dict())
        rng_t, rng_p = _rng_state()
        plain = {
            "format": STATE_FORMAT,
            "step": step,
            "recipe_sha256": self.recipe.digest(),
            "optimizer": opt_p,
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "rng": rng_p,
            "best_loss": self.best_loss,
            "best_step": self.best_step,
            "bad_validations": self.bad_validations,
            "baseline": self.baseline,
            "elapsed_s": self.elapsed_before + (time.perf_counter() - self.t_start),
            "segments": self.segments_done,
            "world": self.info.world,
        }
        return {**opt_t, **rng_t}, plain

    def _write_checkpoint(self, step: int) -> Path | None:
        if not self.info.main:
            return None
        from safetensors.torch import save_file

        final = self.paths.checkpoint(step)
        if final.exists():
            return final
        self.paths.checkpoints.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=self.paths.checkpoints))
        try:
            save_model(self._snapshot(step), tmp / "model.safetensors")
            tensors, plain = self._state(step)
            save_file(tensors, str(tmp / "state.safetensors"))
            (tmp / "state.json").write_text(json.dumps(plain) + "\n")
            for f in tmp.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o777 & ~umask())
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for _, old in list_checkpoints(self.paths.root)[: -self.recipe.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        logger.info("checkpoint at step %d: %s", step, final)
        return final

    def _load_checkpoint(self, folder: Path) -> int:
        from safetensors.torch import load_file

        try:
            plain = json.loads((folder / "state.json").read_text())
            tensors = load_file(str(folder / "state.safetensors"))
            model = load_model(folder / "model.safetensors")
        except (OSError, json.JSONDecodeError, AutomixError) as exc:
            raise TrainingError(f"checkpoint {folder} cannot be read ({exc}); remove it to resume from an older one")
        if plain.get("format") != STATE_FORMAT:
            raise TrainingError(f"checkpoint {folder} has an unknown format {plain.get('format')!r}")
        self.net.load_state_dict(model.net.state_dict())
        self.optimizer.load_state_dict(_unflatten_optimizer(tensors, plain["optimizer"]))
        self.scheduler.load_state_dict(plain["scheduler"])
        if plain.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(plain["scaler"])
        _set_rng_state(tensors, plain["rng"])
        self.best_loss = plain["best_loss"]
        self.best_step = plain["best_step"]
        self.bad_validations = plain["bad_validations"]
        self.baseline = plain.get("baseline")
        self.elapsed_before = float(plain.get("elapsed_s", 0.0))
        self.segments_done = int(plain.get("segments", 0))
        return int(plain["step"])

    def _snapshot(self, step: int, metrics: dict[str, float] | None = None) -> Model:
        card = self.model.card.model_copy(
            update={
                "training": self._training_info(step),
                "metrics": dict(metrics or {}),
                "weights_sha256": "",
                "created": "",
            }
        )
        net = WaveUNet(self.model.card.config)
        net.load_state_dict({k: v.detach().cpu() for k, v in self.net.state_dict().items()})
        return Model(net, card)

    def _training_info(self, step: int) -> TrainingInfo:
        return TrainingInfo(
            data=self.data.description,
            recipe=f"{self.recipe.name} (sha256 {self.recipe.digest()[:12]}): loss {self.loss_fn.describe()}, "
            f"{self.recipe.optimizer.name} lr {self.recipe.optimizer.lr:g}, batch {self.recipe.batch_size}, "
            f"segments {self.recipe.segment_seconds:g} s, precision {str(self.dtype).removeprefix('torch.')}",
            steps=step,
            hardware=_hardware(self.device, self.info),
            duration_s=round(self.elapsed_before + (time.perf_counter() - self.t_start), 1),
            notes="; ".join(self.data.notes),
            target=self._target_name(),
        )

    def _target_name(self) -> str:
        if self.recipe.task != "mix":
            return ""
        return "mix" if self.recipe.data.kind == "collection" else self.recipe.data.target

    # ------------------------------------------------------------------ logging
    def _csv_start(self, start_step: int) -> None:
        if not self.info.main:
            return
        rows: list[dict[str, str]] = []
        if self.paths.csv.is_file() and start_step > 0:
            with open(self.paths.csv, newline="") as f:
                rows = [r for r in csv.DictReader(f) if r.get("step", "").isdigit() and int(r["step"]) <= start_step]
        with atomic_output(self.paths.csv, overwrite=True) as tmp:
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=_CSV_FIELDS, extrasaction="ignore")
                w.writeheader()
                w.writerows(rows)
        from torch.utils.tensorboard import SummaryWriter

        self._tb = SummaryWriter(str(self.paths.tensorboard), purge_step=start_step if start_step else None)

    def _csv_row(self, row: dict[str, Any]) -> None:
        if not self.info.main:
            return
        with open(self.paths.csv, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=_CSV_FIELDS, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )

    def _tb_scalars(self, step: int, values: dict[str, float]) -> None:
        if self._tb is not None:
            for k, v in values.items():
                if v is not None and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)

    # ------------------------------------------------------------------ steps
    def _autocast(self):
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _to_device(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, mask = _io(batch)
        nb = self.device.type == "cuda"
        return (x.to(self.device, non_blocking=nb), y.to(self.device, non_blocking=nb),
                mask.to(self.device, non_blocking=nb))

    def _masked(self, signal: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.recipe.task == "separate":
            return signal * mask[:, :, None].to(signal.dtype)
        return signal

    def forward_loss(self, batch: dict[str, Any], net: torch.nn.Module | None = None):
        """``(loss, terms, estimate, target)`` of one batch (the loss in float32)."""
        x, y, mask = self._to_device(batch)
        with self._autocast():
            est = (net or self.ddp_net)(x)
        est = self._masked(est.float(), mask)
        y = self._masked(y, mask)
        total, terms = self.loss_fn(est, y)
        return total, terms, est, y

    def baseline_estimate(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """The plain-sum baseline for a batch: ``(estimate, target)``.

        Mixing: the sum of the stems on both channels. Separation: the mono mix shared
        equally among the slots the song has.
        """
        x, y, mask = self._to_device(batch)
        ctx = (x.shape[-1] - y.shape[-1]) // 2
        window = x[..., ctx : ctx + y.shape[-1]].float()
        if self.recipe.task == "mix":
            est = window.sum(dim=1, keepdim=True).expand(-1, y.shape[1], -1)
        else:
            share = window.mean(dim=1, keepdim=True) / mask.sum(dim=1).clamp(min=1)[:, None, None]
            est = self._masked(share.expand(-1, y.shape[1], -1), mask)
        return est.contiguous(), self._masked(y, mask)

    def _validate(self, with_baseline: bool) -> dict[str, float]:
        """Mean validation loss, L1 and SI-SDR (dB) over this process's share, reduced over processes."""
        from automix.losses import SISDRLoss

        assert self.data.valid is not None
        sisdr = SISDRLoss()
        n = len(self.data.valid)  # type: ignore[arg-type]
        mine = list(range(self.info.rank, n, self.info.world))
        loader = DataLoader(Subset(self.data.valid, mine), batch_size=max(1, self.recipe.batch_size // self.info.world),
                            num_workers=self.workers, shuffle=False)
        sums = torch.zeros(7, dtype=torch.float64)
        self.net.eval()
        with torch.no_grad():
            for batch in loader:
                total, _, est, y = self.forward_loss(batch, self.net)
                b = est.shape[0]
                sums[0] += float(total) * b
                sums[1] += float((est - y).abs().mean()) * b
                sums[2] += -float(sisdr(est, y)) * b
                sums[3] += b
                if with_baseline:
                    be, by = self.baseline_estimate(batch)
                    bt, _ = self.loss_fn(be, by)
                    sums[4] += float(bt) * b
                    sums[5] += float((be - by).abs().mean()) * b
                    sums[6] += -float(sisdr(be, by)) * b
        self.net.train()
        if self.info.world > 1:
            sums_dev = sums.to(self.device)
            dist.all_reduce(sums_dev)
            sums = sums_dev.cpu()
        count = max(1.0, float(sums[3]))
        out = {"loss": float(sums[0] / count), "l1": float(sums[1] / count), "si_sdr": float(sums[2] / count)}
        if with_baseline:
            out["baseline_loss"] = float(sums[4] / count)
            out["baseline_l1"] = float(sums[5] / count)
            out["baseline_si_sdr"] = float(sums[6] / count)
        return out

    def _all_finite(self, value: torch.Tensor) -> bool:
        bad = (~torch.isfinite(value.detach())).any().to(torch.float32).reshape(1)
        if self.info.world > 1:
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        return not bool(bad.item())

    def _global_loss(self, total: torch.Tensor) -> tuple[float, bool]:
        """``(mean loss over all processes, whether every process's loss is finite)``."""
        value = total.detach().float().reshape(1)
        packed = torch.cat([torch.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0),
                            (~torch.isfinite(value)).float()])
        if self.info.world > 1:
            dist.all_reduce(packed)
        return float(packed[0]) / self.info.world, not bool(packed[1] > 0)

    def _diverged(self, step: int, what: str) -> TrainingDiverged:
        found = list_checkpoints(self.paths.root)
        kept = f"the last good checkpoint is {found[-1][1]} (step {found[-1][0]})" if found else "no checkpoint was written yet"
        return TrainingDiverged(
            f"{what} at step {step + 1}; training stopped, {kept}. Lower optimizer.lr, set grad_clip, "
            "or use precision fp32 / bf16 instead of fp16"
        )

    # ------------------------------------------------------------------ run
    def run(self) -> TrainResult:
        try:
            self._start_processes()
            result = self._run()
            # every rank reaches this point before any leaves: a gloo peer that tears down its
            # connections while the other still talks aborts that process
            self._barrier()
            return result
        finally:
            if self._tb is not None:
                self._tb.close()
                self._tb = None
            self._teardown_logging()
            self.close_processes()

    def close_processes(self) -> None:
        """Leave the process group (no-op for one process); call once every rank is done.

        The DDP wrapper (its reducer holds the group and gloo work holding tensors) is freed
        first, while the interpreter is fully alive: left to interpreter shutdown, freeing it
        races gloo's threads and aborts the process now and then ("terminate called without
        an active exception").
        """
        if getattr(self, "ddp_net", None) is not None and self.ddp_net is not self.net:
            self.ddp_net = self.net
            gc.collect()
        if self._pg_started and dist.is_initialized():
            dist.destroy_process_group()
            self._pg_started = False

    def _build_model(self) -> None:
        """The network (its size decides the segment lengths and the space check)."""
        recipe = self.recipe
        torch.manual_seed(recipe.seed)
        if recipe.data.kind == "collection":
            from automix.data.collection import load_manifest

            slots: tuple[str, ...] = tuple(load_manifest(_collection_manifest(self.data_root)).slots)
        else:
            slots = tuple(DRUM_SLOTS)
        if recipe.task == "separate" and recipe.data.sources is not None:
            slots = tuple(recipe.data.sources)
        self.model = build_model(recipe, slots)
        if self._init is not None:
            init = load_model(self._init)
            if init.card.config != self.model.card.config:
                raise TrainingError(f"--init {self._init} has another architecture than the recipe's model")
            self.model.net.load_state_dict(init.net.state_dict())
        self.net = self.model.net.to(self.device)

    def _build_training(self) -> None:
        """Data, loss, optimiser, schedule, scaler and the (DDP) network; writes nothing."""
        recipe, info = self.recipe, self.info
        # data (rank 0 makes a generated corpus; the others wait)
        if recipe.data.kind == "generated" and info.main:
            ensure_generated(self.data_root, recipe, progress=bool(self.progress))
        self._barrier()
        self.data = build_data(recipe, self.net, self.model.sample_rate, self.data_root)
        self.loss_fn = build_loss(recipe.loss, self.model.sample_rate, swap_invariant=recipe.swap_invariant).to(self.device)
        params = [p for p in self.net.parameters() if p.requires_grad]
        opt_cls = torch.optim.AdamW if recipe.optimizer.name == "adamw" else torch.optim.Adam
        self.optimizer = opt_cls(params, lr=recipe.optimizer.lr, betas=tuple(recipe.optimizer.betas),
                                 eps=recipe.optimizer.eps, weight_decay=recipe.optimizer.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: recipe.schedule.factor(s, recipe.steps)
        )
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)
        self.best_loss: float | None = None
        self.best_step: int | None = None
        self.bad_validations = 0
        self.baseline: dict[str, float] | None = None
        self.elapsed_before = 0.0
        self.segments_done = 0
        self.t_start = time.perf_counter()
        self.workers = self._workers()

    def _wrap(self) -> None:
        if self.info.world > 1:
            self.ddp_net: torch.nn.Module = torch.nn.parallel.DistributedDataParallel(
                self.net, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        else:
            self.ddp_net = self.net

    def _loader(self, start: int) -> DataLoader:
        per_rank = self.recipe.batch_size // self.info.world
        sampler = StepSampler(start, self.recipe.batch_size, self.info.rank, self.info.world)
        return DataLoader(
            NumberedSegments(self.data.train), batch_size=per_rank, sampler=sampler, num_workers=self.workers,
            pin_memory=self.device.type == "cuda", prefetch_factor=4 if self.workers else None,
            persistent_workers=False,
        )

    def first_gradients(self) -> dict[str, torch.Tensor]:
        """Gradients of the first update's loss (averaged over processes under DDP); no files.

        What a test compares between one process and several: the same global batch must
        give the same gradients however it is split.
        """
        self._build_model()
        self._build_training()
        self._wrap()
        batch = next(iter(self._loader(0)))
        self.net.train()
        total, _, _, _ = self.forward_loss(batch)
        total.backward()
        return {name: p.grad.detach().cpu().clone() for name, p in self.net.named_parameters() if p.grad is not None}

    def _run(self) -> TrainResult:
        recipe, info = self.recipe, self.info
        self._build_model()

        if info.main:
            start = self._check_existing_run()
            created = not self.paths.root.exists()
            with reading([self.data_root]):
                check_not_input(self.paths.root.absolute(), folder=True, error=TrainingError)
            check_run_folder(self.paths.root, self.net, recipe.keep_checkpoints)
        self._barrier()
        if not info.main:
            start = self._check_existing_run() if self.resume else 0
        try:
            return self._setup_and_loop(start)
        except BaseException:
            if info.main and created and not self.paths.recipe.exists():
                with contextlib.suppress(OSError):
                    self.paths.root.rmdir()  # failed before anything was written: leave no empty folder
            raise

    def _setup_and_loop(self, start: int) -> TrainResult:
        recipe, info = self.recipe, self.info
        self._build_training()
        for note in self.data.notes:
            logger.warning("%s", note)
        if start > 0:
            start = self._load_checkpoint(self.paths.checkpoint(start))
        self._wrap()

        if info.main:
            if not self.resume or not self.paths.recipe.is_file():
                with atomic_output(self.paths.recipe, overwrite=True) as tmp:
                    tmp.write_text(json.dumps(json.loads(canonical_json(recipe)), indent=2) + "\n")
            elif self.paths.recipe.read_text() != json.dumps(json.loads(canonical_json(recipe)), indent=2) + "\n":
                with atomic_output(self.paths.recipe, overwrite=True) as tmp:  # allowed changes (steps, ...)
                    tmp.write_text(json.dumps(json.loads(canonical_json(recipe)), indent=2) + "\n")
        self._setup_logging()
        self._csv_start(start)
        logger.info(
            "%s %s: %s, %s weights, %s, %d process(es), precision %s, from step %d of %d",
            "resuming" if start else "training", recipe.name, self.model.card.task, f"{self.net.num_parameters():,}",
            self.device, info.world, str(self.dtype).removeprefix("torch."), start, recipe.steps,
        )
        logger.info("data: %s", self.data.description)
        return self._loop(start)

    def _workers(self) -> int:
        w = self.recipe.data.workers
        if w is not None:
            return w
        cpus = os.cpu_count() or 1
        if self.device.type == "cuda":
            return max(1, min(8, cpus // max(1, self.info.world) - 1))
        return 0 if cpus <= 2 else min(4, cpus // (2 * self.info.world))

    def _loop(self, start: int) -> TrainResult:
        recipe, info = self.recipe, self.info
        loader = self._loader(start)
        epoch_len = len(self.data.train)  # type: ignore[arg-type]
        if self.data.valid is not None and self.baseline is None:
            base = self._validate(with_baseline=True)
            self.baseline = {"loss": base["baseline_loss"], "l1": base["baseline_l1"],
                             "si_sdr": base["baseline_si_sdr"]}
            logger.info("validation before training: loss %.4g (plain sum %.4g)", base["loss"], base["baseline_loss"])

        bar = None
        if info.main and self.progress is not False:
            from tqdm.auto import tqdm

            bar = tqdm(total=recipe.steps, initial=start, unit="step", dynamic_ncols=True, desc=recipe.name,
                       disable=None if self.progress is None else not self.progress)
        self.net.train()
        it = iter(loader)
        window_loss, window_terms, window_n, window_t = 0.0, {}, 0, time.perf_counter()
        last_loss: float | None = None
        stopped_early = False
        step = start
        grad_clip = recipe.grad_clip if recipe.grad_clip is not None else math.inf
        try:
            while step < recipe.steps:
                batch = next(it)
                self.optimizer.zero_grad(set_to_none=True)
                total, terms, _, _ = self.forward_loss(batch)
                value, finite = self._global_loss(total)
                if not finite:
                    raise self._diverged(step, "the loss became NaN or infinite")
                self.scaler.scale(total).backward()
                self.scaler.unscale_(self.optimizer)
                norm = torch.nn.utils.clip_grad_norm_(self.net.parameters(), grad_clip)
                if not self.scaler.is_enabled() and not self._all_finite(norm):
                    raise self._diverged(step, "the gradients became NaN or infinite")
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.scheduler.step()
                step += 1
                self.segments_done += recipe.batch_size
                last_loss = value
                window_loss += value
                window_n += 1
                for k, v in terms.items():
                    window_terms[k] = window_terms.get(k, 0.0) + float(v)
                if bar is not None:
                    bar.update(1)
                if step % recipe.log_every == 0 or step == recipe.steps:
                    now = time.perf_counter()
                    rate = window_n * recipe.batch_size / max(1e-9, now - window_t)
                    mean = window_loss / window_n
                    term_means = {k: v / window_n for k, v in window_terms.items()}
                    lr = self.optimizer.param_groups[0]["lr"]
                    row = {"step": step, "phase": "train", "epoch": (step * recipe.batch_size) // epoch_len,
                           "loss": mean, "terms": json.dumps({k: round(v, 6) for k, v in term_means.items()}),
                           "lr": lr, "grad_norm": float(norm), "segments_per_s": rate,
                           "elapsed_s": self.elapsed_before + now - self.t_start}
                    self._csv_row(row)
                    self._tb_scalars(step, {"train/loss": mean, "train/lr": lr, "train/grad_norm": float(norm),
                                            "train/segments_per_s": rate,
                                            **{f"train/{k}": v for k, v in term_means.items()}})
                    if bar is not None:
                        shown = {"loss": f"{mean:.4g}", "seg/s": f"{rate:.1f}"}
                        if self.best_loss is not None:
                            shown["best valid"] = f"{self.best_loss:.4g}"
                        bar.set_postfix(shown, refresh=False)
                    window_loss, window_terms, window_n, window_t = 0.0, {}, 0, now
                if self.data.valid is not None and (step % recipe.validate_every == 0 or step == recipe.steps):
                    stopped_early = self._after_validation(step)
                if step % recipe.checkpoint_every == 0 or step == recipe.steps or stopped_early:
                    self._write_checkpoint(step)
                    self._barrier()
                if stopped_early:
                    break
        finally:
            if bar is not None:
                bar.close()
        return self._finish(step, last_loss, stopped_early)

    def _after_validation(self, step: int) -> bool:
        v = self._validate(with_baseline=False)
        improved = self.best_loss is None or v["loss"] < self.best_loss - (
            self.recipe.early_stopping.min_delta if self.recipe.early_stopping else 0.0
        )
        if improved:
            self.best_loss, self.best_step, self.bad_validations = v["loss"], step, 0
            if self.info.main:
                save_model(self._snapshot(step, self._card_metrics(v)), self.paths.model, overwrite=True)
        else:
            self.bad_validations += 1
        base = self.baseline or {}
        self._csv_row({"step": step, "phase": "valid", "loss": v["loss"], "valid_l1": v["l1"],
                       "valid_si_sdr": v["si_sdr"], "baseline_loss": base.get("loss"), "baseline_l1": base.get("l1"),
                       "baseline_si_sdr": base.get("si_sdr"), "best": self.best_loss,
                       "elapsed_s": self.elapsed_before + time.perf_counter() - self.t_start})
        self._tb_scalars(step, {"valid/loss": v["loss"], "valid/l1": v["l1"], "valid/si_sdr": v["si_sdr"],
                                "valid/baseline_loss": base.get("loss"), "valid/baseline_si_sdr": base.get("si_sdr")})
        logger.info("step %d: validation loss %.4g (L1 %.4g, SI-SDR %.2f dB; plain sum %.4g)%s", step, v["loss"],
                    v["l1"], v["si_sdr"], base.get("loss", float("nan")), " best" if improved else "")
        es = self.recipe.early_stopping
        if es is not None and self.bad_validations >= es.patience:
            logger.info("early stopping at step %d: no improvement in %d validations (best at step %s)",
                        step, es.patience, self.best_step)
            return True
        return False

    def _card_metrics(self, v: dict[str, float]) -> dict[str, float]:
        base = self.baseline or {}
        out = {"valid_loss": v["loss"], "valid_l1": v["l1"], "valid_si_sdr_db": v["si_sdr"]}
        out.update({f"baseline_sum_valid_{k}": x for k, x in base.items() if k != "si_sdr"})
        if "si_sdr" in base:
            out["baseline_sum_valid_si_sdr_db"] = base["si_sdr"]
        return {k: round(float(x), 6) for k, x in out.items() if x is not None and math.isfinite(x)}

    def _finish(self, step: int, last_loss: float | None, stopped_early: bool) -> TrainResult:
        elapsed = self.elapsed_before + time.perf_counter() - self.t_start
        metrics: dict[str, float] = {}
        if self.info.main:
            if self.best_step is None or not self.paths.model.is_file():
                # no validation data: the last model is the run's model
                save_model(self._snapshot(step, {"train_loss": round(last_loss, 6)} if last_loss is not None else {}),
                           self.paths.model, overwrite=True)
            else:
                best = load_model(self.paths.model)
                card = best.card.model_copy(update={
                    "training": best.card.training.model_copy(update={
                        "duration_s": round(elapsed, 1),
                        "notes": "; ".join(filter(None, [best.card.training.notes,
                                                         f"best of {step} steps (validation loss)"
                                                         + (", stopped early" if stopped_early else "")])),
                    }),
                    "weights_sha256": "",
                })
                save_model(Model(best.net, card), self.paths.model, overwrite=True)
            metrics = dict(load_model(self.paths.model).card.metrics)
            logger.info("done: %d steps in %.0f s; model %s", step, elapsed, self.paths.model)
        self._barrier()
        return TrainResult(
            run_dir=self.paths.root,
            model_path=self.paths.model,
            steps=step,
            best_step=self.best_step,
            best_valid_loss=self.best_loss,
            baseline_valid_loss=(self.baseline or {}).get("loss"),
            last_train_loss=last_loss,
            stopped_early=stopped_early,
            duration_s=elapsed,
            segments_per_s=self.segments_done / max(1e-9, elapsed),
            metrics=metrics,
        )


@reads("data", "init")
def train(
    recipe: str | os.PathLike | dict[str, Any] | TrainRecipe,
    *,
    data: str | os.PathLike | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overrides: list[str] | dict[str, Any] | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    init: str | os.PathLike | None = None,
) -> TrainResult:
    """Train ``recipe`` (a shipped name, a file, a dict or a :class:`TrainRecipe`) into ``out``.

    ``data``: the data folder (or manifest) instead of the recipe's; ``out``: the run folder
    (default ``runs/<recipe name>``); ``resume``: continue the run in ``out`` from its newest
    checkpoint; ``overrides``: ``["optimizer.lr=3e-4", ...]``; ``device``: ``cpu``, ``cuda``,
    ``cuda:1`` (default: CUDA when present); ``init``: start from a trained model of the same
    architecture (fine-tuning). Under ``torchrun`` every process calls this; see the module
    docstring. Raises :class:`TrainingError` (an :class:`AutomixError`) with one line to act on.
    """
    r = load_recipe(recipe, overrides)
    return Trainer(r, data=data, out=out, resume=resume, device=device, progress=progress, init=init).run()

