"""Saving and restoring a training run: checkpoints, model snapshots and the checks to resume.

:class:`RunCheckpoints` is mixed into :class:`automix.train.trainer.Trainer`. It writes a
checkpoint folder (model, optimiser, schedule, scaler, RNG and progress) atomically, loads one
back, refuses a run folder in use or a changed recipe, and makes the run's model file at a step.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from automix.models.checkpoint import Model, TrainingInfo, load_model, save_model
from automix.models.unet import WaveUNet
from automix.train.distributed import hardware_name
from automix.train.errors import TrainingError
from automix.train.recipe import RESUMABLE_CHANGES, recipe_differences, validate_recipe
from automix.train.state import (
    STATE_FORMAT,
    flatten_optimizer,
    list_checkpoints,
    rng_state,
    set_rng_state,
    unflatten_optimizer,
)
from daw_bridge.errors import AutomixError
from daw_bridge.files import umask
from daw_bridge.tempfiles import temp_folder

__all__ = ["RunCheckpoints"]

logger = logging.getLogger("automix.train.trainer")  # the trainer's logger: its records keep their name


class RunCheckpoints:
    """The checkpoint half of :class:`~automix.train.trainer.Trainer` (a mixin, not used alone).

    Uses the trainer's ``recipe``, ``paths``, ``resume``, ``info``, ``model``, ``net``, ``data``,
    ``loss_fn``, ``optimizer``, ``scheduler``, ``scaler``, ``dtype``, ``device`` and its progress
    (``best_loss``, ``best_step``, ``bad_validations``, ``baseline``, ``elapsed_before``,
    ``segments_done``, ``t_start``).
    """

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

    def _state(self, step: int) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        opt_t, opt_p = flatten_optimizer(self.optimizer.state_dict())
        rng_t, rng_p = rng_state()
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
        tmp = temp_folder(final)  # a killed run's is swept by the next checkpoint of that step
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
        self.optimizer.load_state_dict(unflatten_optimizer(tensors, plain["optimizer"]))
        self.scheduler.load_state_dict(plain["scheduler"])
        if plain.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(plain["scaler"])
        set_rng_state(tensors, plain["rng"])
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
            hardware=hardware_name(self.device, self.info),
            duration_s=round(self.elapsed_before + (time.perf_counter() - self.t_start), 1),
            notes="; ".join(self.data.notes),
            target=self._target_name(),
        )

    def _target_name(self) -> str:
        if self.recipe.task != "mix":
            return ""
        return "mix" if self.recipe.data.kind == "collection" else self.recipe.data.target
