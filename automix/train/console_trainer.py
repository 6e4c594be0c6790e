"""Training the learned console mixer (:mod:`automix.models.console_mixer`) through the console.

Segments of a corpus (stems at their recorded balance: the loader's ``stem_gain="kit"``, and
the engineer's mix) go through the mixer; its settings mix the stems' spectra
(:func:`automix.console.stft_mix.stft_mix`); the loss compares the result with the mix over
several STFT resolutions (linear and log magnitudes), at the best common level (the plan is
loudness-normalised when rendered) and from the nearer side (a mix heard from the audience
is the drummer's mirrored; the stems cannot say which).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from automix.console.stft_mix import stft_mix
from automix.data.enst import MIX_LUFS
from automix.models.checkpoint import Model, ModelCard, TrainingInfo, save_model
from automix.models.console_mixer import (
    PREDICTED,
    ConsoleMixerConfig,
    ConsoleMixerNet,
    prior_pans,
    track_features,
    track_levels,
)
from automix.train.errors import TrainingError
from daw_bridge.progress import progress_bar
from daw_bridge.stems import DRUM_SLOTS

log = logging.getLogger("automix.train")


class ConsoleRecipe(BaseModel):
    """A recipe for the learned console mixer (``"kind": "console-mixer"`` in a recipe file)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["console-mixer"] = "console-mixer"
    name: str = "console-mixer"
    description: str = ""
    root: str | None = Field(None, description="ENST-layout corpus (--data overrides)")
    split: str | None = Field(None, description="split file or name under datasets/splits")
    train_subset: str = "train"
    valid_subset: str = "valid"
    target: Literal["wet", "dry"] = "dry"
    steps: int = Field(2000, ge=1)
    batch_size: int = Field(8, ge=1)
    segment_seconds: float = Field(3.0, gt=0.2, le=30.0)
    lr: float = Field(1e-3, gt=0.0)
    seed: int = 0
    validate_every: int = Field(250, ge=1)
    valid_segments: int = Field(48, ge=1)
    fft_sizes: tuple[int, ...] = (512, 2048)
    param_weight: float = Field(0.0, ge=0.0, description="weight of the generator's saved faders and pans as extra "
                                "supervision (0: the audio loss alone)")
    init: str | None = Field(None, description="start from this trained console mixer (a model name or path; "
                             "same width and layers)")
    freeze_base: bool = Field(False, description="keep the gain, pan and EQ of `init` and train only the compressors")
    config: ConsoleMixerConfig = Field(default_factory=ConsoleMixerConfig)


def console_recipe(spec: str | Path, overrides: list[str] | None = None) -> ConsoleRecipe | None:
    """The console-mixer recipe ``spec`` names (a shipped name or a file; ``"kind": "console-mixer"``)
    with ``overrides`` (``["steps=200"]``), or ``None`` when it is a Wave-U-Net recipe."""
    from pydantic import ValidationError

    from automix.train.recipe import apply_overrides, read_recipe_data, resolve_recipe_path
    from daw_bridge.errors import AutomixError, error_key

    path = resolve_recipe_path(spec)
    data = read_recipe_data(path)
    if not isinstance(data, dict) or data.get("kind") != "console-mixer":
        return None
    data.setdefault("name", path.stem)
    try:
        return ConsoleRecipe.model_validate(apply_overrides(data, overrides))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise AutomixError(f"recipe {path}: {error_key(first['loc']) or 'recipe'}: {first['msg']}") from None


# --------------------------------------------------------------------------- data


def saved_settings(root: Path, take_id: str, slots: tuple[str, ...] = DRUM_SLOTS) -> tuple[np.ndarray, np.ndarray]:
    """The faders (dB) and pans (from the drummer's seat) the corpus generator mixed the take
    ``take_id`` with, per slot ``[N]`` each; NaN where the take has no saved mix (no annotation)."""
    from automix.data.enst import take_annotation

    gains, pans = np.full(len(slots), np.nan), np.full(len(slots), np.nan)
    mix = take_annotation(root, take_id).get("mix") or {}
    side = -1.0 if mix.get("perspective") == "audience" else 1.0  # saved pans are as heard: mirror them back
    for i, slot in enumerate(slots):
        strip = (mix.get("slots") or {}).get(slot)
        if isinstance(strip, dict) and "gain_db" in strip and "pan" in strip:
            gains[i], pans[i] = float(strip["gain_db"]), side * float(strip["pan"])
    return gains, pans


class ConsoleSegments(torch.utils.data.Dataset):
    """The corpus loader's segments with each one's track features, mask and prior pans (and,
    with ``saved``, the generator's saved faders and pans: ``saved_gain``, ``saved_pan``)."""

    def __init__(self, base: Any, sample_rate: int, saved: bool = False) -> None:
        self.base, self.sample_rate, self.saved = base, sample_rate, saved
        self.pans = prior_pans(DRUM_SLOTS)
        self._settings: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.base[index]
        stems = item["stems"].numpy() if torch.is_tensor(item["stems"]) else item["stems"]
        levels = track_levels(stems, self.sample_rate)
        features, live = track_features(stems, DRUM_SLOTS, self.sample_rate, levels)
        mask = np.asarray(item["mask"], dtype=bool) & live
        out = {"stems": torch.as_tensor(stems), "mix": torch.as_tensor(np.asarray(item["mix"])),
               "features": torch.as_tensor(features), "mask": torch.as_tensor(mask), "pans": torch.as_tensor(self.pans),
               "levels": torch.as_tensor(levels)}
        if self.saved:
            take = str(item["take"])
            if take not in self._settings:
                self._settings[take] = saved_settings(Path(self.base.root), take)
            out["saved_gain"], out["saved_pan"] = (torch.as_tensor(a) for a in self._settings[take])
        return out


def _datasets(recipe: ConsoleRecipe, root: Path, sample_rate: int) -> tuple[ConsoleSegments, ConsoleSegments]:
    from automix.data.enst import EnstDrums

    n = int(round(recipe.segment_seconds * sample_rate))
    common = dict(split=recipe.split, target=recipe.target, input_length=n, output_length=n, stem_gain="kit",
                  sample_rate=sample_rate)
    train = EnstDrums(root, subset=recipe.train_subset, mode="random", segments_per_epoch=recipe.steps * recipe.batch_size,
                      seed=recipe.seed, **common)
    valid = EnstDrums(root, subset=recipe.valid_subset, mode="fixed", **common)
    saved = recipe.param_weight > 0
    return ConsoleSegments(train, sample_rate, saved), ConsoleSegments(valid, sample_rate)


# --------------------------------------------------------------------------- loss


def spectral_loss(mixed: torch.Tensor, target: torch.Tensor, invariant: bool = False) -> torch.Tensor:
    """Per-example distance of magnitude spectrograms ``[B, 2, F, T]`` at the best common gain:
    relative L1 of linear magnitudes plus the mean L1 of log magnitudes. ``[B]``.

    ``invariant``: the gradient goes through the common gain too, so it has no part that only
    moves the mix's level (which the common gain undoes); without, the shipped mixers' recipe."""
    est, ref = mixed.abs(), target.abs()
    scale = (est * ref).sum(dim=(1, 2, 3)) / (est.square().sum(dim=(1, 2, 3)) + 1e-12)
    est = est * (scale if invariant else scale.detach())[:, None, None, None]
    linear = (est - ref).abs().sum(dim=(1, 2, 3)) / (ref.sum(dim=(1, 2, 3)) + 1e-12)
    logs = (torch.log(est + 1e-5) - torch.log(ref + 1e-5)).abs().mean(dim=(1, 2, 3))
    return linear + logs


def console_loss(values: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], sample_rate: int,
                 fft_sizes: tuple[int, ...], config: ConsoleMixerConfig | None = None) -> torch.Tensor:
    """The mean over resolutions and examples, each example from the nearer side (L/R swapped or not).

    Gain, pan and EQ alone mix the stems' spectra (:func:`stft_mix`); with compressors
    (``config.dynamics``) the console runs in time (:func:`automix.console.batched.batch_console`)."""
    stems, mix, mask = batch["stems"].float(), batch["mix"].float(), batch["mask"]
    b, n, t = stems.shape
    mixed_audio = None
    if config is not None and config.dynamics:
        from automix.console.batched import batch_console

        mixed_audio = batch_console(stems, values, batch["levels"], sample_rate, attack_ms=config.comp_attack_ms,
                                    release_ms=config.comp_release_ms, mask=mask)
    straight = torch.zeros(b)
    swapped = torch.zeros(b)
    for size in fft_sizes:
        window = torch.hann_window(size)
        spec = lambda x: torch.stft(x.reshape(-1, x.shape[-1]), size, size // 4, window=window, return_complex=True)  # noqa: E731
        target = spec(mix).reshape(b, 2, size // 2 + 1, -1)
        if mixed_audio is not None:
            mixed = spec(mixed_audio).reshape(b, 2, size // 2 + 1, -1)
        else:
            tracks = spec(stems).reshape(b, n, size // 2 + 1, -1)
            freqs = torch.fft.rfftfreq(size, 1.0 / sample_rate).double()
            mixed = stft_mix(tracks, values, freqs, sample_rate, mask)
        invariant = mixed_audio is not None  # compressors could otherwise learn to fix the level
        straight = straight + spectral_loss(mixed, target, invariant)
        swapped = swapped + spectral_loss(mixed, target.flip(1), invariant)
    return torch.minimum(straight, swapped).mean() / len(fft_sizes)


def settings_loss(values: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Distance of the predicted faders and pans ``[B, N]`` to the generator's saved ones: mean
    absolute error of the faders about each take's mean (dB / 6: the recorded level and the
    loudness normalisation leave only the balance defined) plus that of the pans, over the
    tracks that play and have saved settings."""
    gain, pan = values["gain_db"].double(), values["pan"].double()
    saved_gain, saved_pan = batch["saved_gain"].double(), batch["saved_pan"].double()
    use = batch["mask"] & torch.isfinite(saved_gain) & torch.isfinite(saved_pan)
    if not bool(use.any()):
        return torch.zeros((), dtype=torch.float32)
    count = use.sum(dim=1).clamp(min=1)

    def centred(x: torch.Tensor) -> torch.Tensor:
        x = torch.where(use, x, torch.zeros_like(x))
        return x - (x.sum(dim=1) / count)[:, None]

    gains = (centred(gain) - centred(saved_gain)).abs() / 6.0
    pans = (pan - torch.where(use, saved_pan, torch.zeros_like(saved_pan))).abs()
    return ((gains + pans) * use).sum().float() / use.sum()


# --------------------------------------------------------------------------- the run


def _batches(dataset: ConsoleSegments, batch_size: int, seed: int, workers: int) -> torch.utils.data.DataLoader:
    gen = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                                       generator=gen, drop_last=True, persistent_workers=workers > 0)


def _validate(net: ConsoleMixerNet, loader: torch.utils.data.DataLoader, recipe: ConsoleRecipe, rate: int) -> float:
    net.eval()
    losses = []
    with torch.no_grad():
        for batch in loader:
            values = net(batch["features"], batch["mask"], batch["pans"])
            losses.append(float(console_loss(values, batch, rate, recipe.fft_sizes, recipe.config)))
    net.train()
    return float(np.mean(losses)) if losses else math.inf


def _card(recipe: ConsoleRecipe, steps: int, seconds: float, metrics: dict[str, float], data: str, rate: int) -> ModelCard:
    return ModelCard(
        name=recipe.name, task="mix", architecture="console-mixer", config=recipe.config,
        input_names=list(DRUM_SLOTS), output_names=list(PREDICTED), sample_rate=rate,
        description=recipe.description or "learned console mixer: per-track gain, pan and EQ from the stems",
        training=TrainingInfo(data=data, recipe=recipe.name, steps=steps, duration_s=round(seconds, 1),
                              hardware="cpu", target=recipe.target, perspective="drummer"),
        metrics=metrics, output_lufs=MIX_LUFS,
    )


def _network(recipe: ConsoleRecipe) -> ConsoleMixerNet:
    """The network to train: new, or ``recipe.init``'s weights (its compressors' heads new when it
    had none), with gain, pan and EQ frozen under ``freeze_base``."""
    net = ConsoleMixerNet(recipe.config)
    if recipe.init is None:
        if recipe.freeze_base:
            raise TrainingError("freeze_base keeps a trained mixer's gain, pan and EQ: set init to that mixer")
        return net
    from automix.models.pretrained import load

    start = load(recipe.init)
    if start.card.architecture != "console-mixer":
        raise TrainingError(f"init {recipe.init} is a {start.card.architecture} model, not a console mixer")
    mine, theirs = recipe.config.model_dump(), start.card.config.model_dump()
    differ = [k for k in ("features", "width", "layers", "heads", "predicted") if mine[k] != theirs[k]]
    if differ:
        raise TrainingError(f"init {recipe.init} differs from the recipe's mixer in {', '.join(differ)}")
    missing, unexpected = net.load_state_dict(start.net.state_dict(), strict=False)
    if unexpected or any(not k.startswith(("dynamics.", "master.")) for k in missing):
        raise TrainingError(f"init {recipe.init}: weights do not fit ({', '.join([*missing, *unexpected][:4])})")
    if recipe.freeze_base:
        for p in net.base_parameters():
            p.requires_grad_(False)
    return net


def train_console_mixer(recipe: ConsoleRecipe, out: str | Path, *, data: str | Path | None = None,
                        progress: bool | None = None, workers: int = 1, sample_rate: int = 44100) -> Path:
    """Train ``recipe`` into ``out`` (a folder: ``model.safetensors`` + card, ``metrics.json``); returns the model path."""
    root = Path(data or recipe.root or "")
    if not root.is_dir():
        raise TrainingError(f"console mixer data {root} is not a folder; pass --data CORPUS (an ENST-layout corpus)")
    out = Path(out)
    if (out / "model.safetensors").exists() or (out / "metrics.json").exists():
        raise TrainingError(f"{out} already holds a trained console mixer; choose another --out (nothing was replaced)")
    torch.manual_seed(recipe.seed)
    train, valid = _datasets(recipe, root, sample_rate)
    net = _network(recipe)  # a bad init is refused before anything is written
    out.mkdir(parents=True, exist_ok=True)
    trained = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=recipe.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, total_steps=recipe.steps, pct_start=0.1)
    valid_loader = _batches(torch.utils.data.Subset(valid, range(min(len(valid), recipe.valid_segments))),
                            recipe.batch_size, recipe.seed, 0)
    best, history, started = _validate(net, valid_loader, recipe, sample_rate), [], time.perf_counter()
    history.append({"step": 0, "valid_loss": best})
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    bar = progress_bar(recipe.steps, recipe.name, "step", progress)
    for step, batch in enumerate(_batches(train, recipe.batch_size, recipe.seed, workers), start=1):
        values = net(batch["features"], batch["mask"], batch["pans"])
        loss = console_loss(values, batch, sample_rate, recipe.fft_sizes, recipe.config)
        if recipe.param_weight > 0:
            loss = loss + recipe.param_weight * settings_loss(values, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        opt.step()
        sched.step()
        bar.update(1)
        if step % recipe.validate_every == 0 or step == recipe.steps:
            v = _validate(net, valid_loader, recipe, sample_rate)
            history.append({"step": step, "train_loss": float(loss.detach()), "valid_loss": v})
            log.info("console mixer step %d: train %.4f, valid %.4f%s", step, float(loss.detach()), v, " best" if v < best else "")
            if v < best:
                best, best_state = v, {k: t.clone() for k, t in net.state_dict().items()}
        if step >= recipe.steps:
            break
    bar.close()
    net.load_state_dict(best_state)
    seconds = time.perf_counter() - started
    card = _card(recipe, recipe.steps, seconds, {"valid_loss": best, "start_valid_loss": history[0]["valid_loss"]},
                 f"{root.name} ({recipe.split or 'default split'}; {recipe.train_subset}/{recipe.valid_subset})", sample_rate)
    path = save_model(Model(net.eval(), card), out / "model", overwrite=True)
    (out / "metrics.json").write_text(json.dumps(history, indent=1) + "\n")
    return path
