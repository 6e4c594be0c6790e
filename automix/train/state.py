"""A run folder: its paths, whole checkpoints, and the optimiser and random states they hold."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automix.models.unet import WaveUNet
from automix.train.errors import TrainingError

STATE_FORMAT = "automix-train-state/1"
CHECKPOINT_PREFIX = "step-"


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
        return self.checkpoints / f"{CHECKPOINT_PREFIX}{step:08d}"


def list_checkpoints(run: str | os.PathLike) -> list[tuple[int, Path]]:
    """Whole checkpoints of a run folder, oldest first: ``[(step, folder)]``."""
    folder = RunPaths(Path(run)).checkpoints
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.name.startswith(CHECKPOINT_PREFIX) and p.is_dir() and (p / "state.json").is_file():
                try:
                    found.append((int(p.name[len(CHECKPOINT_PREFIX):]), p))
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


def flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
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


def unflatten_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(k): dict(v) for k, v in plain["state"].items()}
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, idx, key = name.split("/", 2)
            state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
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


def set_rng_state(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng/cuda")]
    if cuda and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError):
            torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    py = plain["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = plain["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
