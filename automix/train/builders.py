"""What a recipe builds: the data (segments in a fixed order for any number of processes) and the model."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, Subset

from automix.models.architectures import load_model_preset
from automix.models.checkpoint import Model, ModelCard
from automix.models.unet import WaveUNet, WaveUNetConfig
from automix.train.errors import TrainingError
from automix.train.recipe import (
    TrainRecipe,
)
from daw_bridge.stems import DRUM_SLOTS

logger = logging.getLogger("automix.train")


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


def generated_root(recipe: TrainRecipe) -> Path:
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


def collection_manifest(root: Path) -> Path:
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
                          sample_rate=sample_rate, stem_gain=d.stem_gain)
            train = EnstDrums(root, subset=d.train_subset, mode="random", segments_per_epoch=d.segments_per_epoch,
                              seed=recipe.seed, **common)
            valid = EnstDrums(root, subset=d.valid_subset, mode="fixed", **common) if has_valid else None
            slots = tuple(DRUM_SLOTS)
        desc = f"{what}; split {d.split or 'default (seed 0, 80/10/10)'}: {d.train_subset} / {d.valid_subset}"
    else:
        from automix.data.collection import MultitrackDataset, load_manifest
        from automix.data.segments import make_split

        path = collection_manifest(root)
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


def batch_io(batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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
        input_rule=recipe.data.stem_gain if recipe.data.kind in ("enst", "generated") else "each",
        output_lufs=_output_lufs(recipe),
    )
    torch.manual_seed(recipe.seed)
    net = WaveUNet(config)
    if recipe.task == "separate":
        from automix.models.separator import init_as_mix_share

        init_as_mix_share(net)  # start at the equal-share-of-the-mix estimate (the validation baseline)
    elif recipe.start == "console":
        from automix.models.mixer import init_as_console
        from daw_bridge.rules.panning import role_pans

        init_as_console(net, role_pans(list(slots)), _console_gain_db(recipe, len(slots)))
    return Model(net, card)


def _console_gain_db(recipe: TrainRecipe, n_inputs: int) -> float:
    """Gain from the loader's input level to its mix level: inputs at ``input_lufs`` each (``each``)
    or together (``kit``, power-summed), targets at ``output_lufs``."""
    import math

    inputs, outputs = _input_lufs(recipe), _output_lufs(recipe)
    if inputs is None or outputs is None:
        return 0.0
    together = inputs if recipe.data.stem_gain == "kit" else inputs + 10.0 * math.log10(n_inputs)
    return outputs - together


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
