"""The training loop: one recipe into one run folder, on the CPU, a GPU or many (torchrun).

Checkpoints and resuming: :mod:`automix.train.run_checkpoints` (a mixin of :class:`Trainer`).
Hardware, data order, checkpoints, safety and logs: see ``docs/training.md``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gc
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Subset

from automix.losses import build_loss
from automix.models.checkpoint import Model, load_model, save_model
from automix.train.builders import (
    NumberedSegments,
    StepSampler,
    batch_io,
    build_data,
    build_model,
    collection_manifest,
    ensure_generated,
    generated_root,
)
from automix.train.distributed import dist_info, run_device, run_precision
from automix.train.errors import TrainingDiverged, TrainingError
from automix.train.logs import RunLog
from automix.train.recipe import TrainRecipe, canonical_json, load_recipe
from automix.train.run_checkpoints import RunCheckpoints
from automix.train.state import RunPaths, check_run_folder, list_checkpoints
from daw_bridge.outputs import atomic_output, check_not_input, reading, reads
from daw_bridge.stems import DRUM_SLOTS

logger = logging.getLogger("automix.train.trainer")


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


class Trainer(RunCheckpoints):
    """Runs one recipe into one run folder (see the module docstring); :func:`train` wraps it.

    Checkpoints, model snapshots and the resume checks come from :class:`RunCheckpoints`.
    """

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
        self.device = run_device(device, self.info)
        self.dtype = run_precision(recipe.precision, self.device)
        self.progress = progress
        self.paths = RunPaths(Path(out if out is not None else Path("runs") / recipe.name).expanduser())
        self.resume = resume
        self._pg_started = False
        self.log = RunLog(self.paths, self.info.main)
        self.data_root = self._data_root(data)
        self._init = init

    # ------------------------------------------------------------------ setup
    def _data_root(self, data: str | os.PathLike | None) -> Path:
        d = self.recipe.data
        root = data if data is not None else d.root
        if root is None:
            if d.kind == "generated":
                return generated_root(self.recipe)
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

    # ------------------------------------------------------------------ steps
    def _autocast(self):
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def _to_device(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, mask = batch_io(batch)
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
            self.log.close()
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

            slots: tuple[str, ...] = tuple(load_manifest(collection_manifest(self.data_root)).slots)
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
        self.log.open(start)
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
            from daw_bridge.progress import progress_bar

            bar = progress_bar(recipe.steps, recipe.name, "step", self.progress, initial=start)
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
                    self.log.row(row)
                    self.log.scalars(step, {"train/loss": mean, "train/lr": lr, "train/grad_norm": float(norm),
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
        self.log.row({"step": step, "phase": "valid", "loss": v["loss"], "valid_l1": v["l1"],
                       "valid_si_sdr": v["si_sdr"], "baseline_loss": base.get("loss"), "baseline_l1": base.get("l1"),
                       "baseline_si_sdr": base.get("si_sdr"), "best": self.best_loss,
                       "elapsed_s": self.elapsed_before + time.perf_counter() - self.t_start})
        self.log.scalars(step, {"valid/loss": v["loss"], "valid/l1": v["l1"], "valid/si_sdr": v["si_sdr"],
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
