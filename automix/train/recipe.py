"""Training recipes: what ``automix train`` trains, on what, and how (pydantic, strict).

A recipe is a JSON (or YAML) file; the shipped ones live in ``presets/train/``
(``automix train --list``). Every key is checked: an unknown key or an out-of-range value is
refused with the key's dotted path, e.g.
``recipe mix-small-cpu: optimizer.lr: Input should be greater than 0 (got -1)``.
Any key can be overridden from the command line with ``--set optimizer.lr=3e-4``
(values are read as JSON where they parse, else as text).

Lengths are in seconds at the model's sample rate; steps count optimiser updates; the batch
size is the global batch (split over the processes of a ``torchrun`` run).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from automix.losses import LossTerm, parse_loss
from automix.models.architectures import presets_dir
from daw_bridge.errors import AutomixError, error_key
from daw_bridge.files import read_settings_file

RECIPE_FORMAT = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelSpec(_Strict):
    """The network: a model preset (``presets/models``) with optional architecture overrides."""

    preset: str = Field("mix-wave-u-net-small", min_length=1, description="name under presets/models")
    config: dict[str, Any] = Field(default_factory=dict, description="WaveUNetConfig fields to override")
    name: str | None = Field(None, description="name written on the model card (default: the recipe's)")

    @field_validator("config")
    @classmethod
    def _known_fields(cls, v: dict[str, Any]) -> dict[str, Any]:
        from automix.models.unet import WaveUNetConfig

        unknown = sorted(set(v) - set(WaveUNetConfig.model_fields))
        if unknown:
            raise ValueError(
                f"unknown architecture field(s) {', '.join(unknown)}; WaveUNetConfig has "
                f"{', '.join(WaveUNetConfig.model_fields)}"
            )
        return v


class GenerateSpec(_Strict):
    """A generated drum corpus (``automix datasets drums``) made before training if absent."""

    songs: int = Field(20, ge=1, le=100_000)
    seconds: float = Field(20.0, gt=1.0, le=600.0)
    seed: int = Field(0, ge=0)
    drummers: int = Field(1, ge=1, le=3)


class AugmentSpec(_Strict):
    """Separation training augmentation (training segments only; validation is never augmented).

    Each training segment's sources are drawn and scaled from ``(seed, epoch, index)`` alone,
    so a resumed run sees the same segments. The input mix is the sum of the augmented
    sources (the manifest's mix files are not used for augmented segments).
    """

    gain_db: tuple[float, float] = Field((-6.0, 6.0), description="random gain per source, uniform in dB")
    remix: float = Field(0.5, ge=0.0, le=1.0, description="chance that a source comes from another random song/position")

    @field_validator("gain_db")
    @classmethod
    def _gain_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        lo, hi = v
        if not (-40.0 <= lo <= hi <= 20.0):
            raise ValueError(f"gain_db must be [low, high] with -40 <= low <= high <= 20, got {list(v)}")
        return v


class DataSpec(_Strict):
    """Where the training data is and how segments are drawn."""

    kind: Literal["enst", "generated", "collection"] = "generated"
    root: str | None = Field(
        None,
        description="ENST-layout folder (enst, generated) or manifest file/folder (collection); "
        "--data overrides; generated: default a folder in automix's cache",
    )
    generate: GenerateSpec = Field(default_factory=GenerateSpec, description="kind generated: what to make if absent")
    split: str | None = Field(None, description="split file or name under datasets/splits (enst, generated)")
    train_subset: str = "train"
    valid_subset: str = "valid"
    target: Literal["wet", "dry"] = "wet"
    normalize: Literal["take", "segment"] | None = "take"
    stem_gain: Literal["each", "kit"] = Field(
        "each", description="enst/generated mixers: every stem to -30 LUFS (each), or one gain for the whole kit "
        "that keeps the recording's balance (kit)")
    loudness_target: float | None = Field(-23.0, ge=-70.0, le=0.0, description="collection: LUFS per signal")
    segments_per_epoch: int | None = Field(None, ge=1, description="random segments per epoch (default: one pass)")
    valid_segments: int | None = Field(64, ge=1, description="at most this many validation segments (None: all)")
    workers: int | None = Field(None, ge=0, le=64, description="DataLoader workers per process (None: auto)")
    cache_audio: bool = Field(False, description="keep decoded takes in memory")
    sources: dict[str, list[str]] | None = Field(
        None,
        description="separate: output sources as groups of the data's slots, e.g. "
        '{"toms": ["tom_1", "tom_2", "tom_3"]} (None: one source per slot)',
    )
    separation_mix: Literal["file", "sum"] = Field(
        "file", description="separate: the input mix is the data's mix file, or the sum of the stems"
    )
    augment: AugmentSpec | None = Field(None, description="separate: training augmentation (None: off)")

    @field_validator("sources")
    @classmethod
    def _sources(cls, v: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("sources must name at least one source")
        seen: dict[str, str] = {}
        for name, slots in v.items():
            if not name.strip() or not slots:
                raise ValueError(f"source {name!r} needs a name and at least one slot")
            for slot in slots:
                if slot in seen:
                    raise ValueError(f"slot {slot!r} is in sources {seen[slot]!r} and {name!r}; give each slot once")
                seen[slot] = name
        return v


class OptimizerSpec(_Strict):
    name: Literal["adam", "adamw"] = "adam"
    lr: float = Field(1e-4, gt=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0.0, le=1.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not all(0.0 <= b < 1.0 for b in v):
            raise ValueError(f"betas must be in [0, 1), got {list(v)}")
        return v


class ScheduleSpec(_Strict):
    """Learning rate over steps: a linear warm-up, then constant, cosine or step decay."""

    name: Literal["constant", "cosine", "step"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0.0, le=1.0, description="cosine: final lr / lr")
    step_size: int = Field(10_000, ge=1, description="step: decay every this many steps")
    gamma: float = Field(0.5, gt=0.0, le=1.0, description="step: factor per decay")

    def factor(self, step: int, total_steps: int) -> float:
        """Multiplier of the base learning rate for update ``step`` (0-based)."""
        if self.warmup_steps and step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.name == "constant":
            return 1.0
        if self.name == "step":
            return self.gamma ** ((step - self.warmup_steps) // self.step_size)
        span = max(1, total_steps - self.warmup_steps)
        t = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


class EarlyStoppingSpec(_Strict):
    patience: int = Field(10, ge=1, description="validations without improvement before stopping")
    min_delta: float = Field(0.0, ge=0.0, description="an improvement must beat the best by this much")


class TrainRecipe(_Strict):
    """A training recipe (see the module docstring)."""

    format: Literal[1] = RECIPE_FORMAT
    name: str = Field(..., min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    task: Literal["mix", "separate"] = "mix"
    model: ModelSpec = Field(default_factory=ModelSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    loss: str | LossTerm | list[LossTerm] = "l1"
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    steps: int = Field(1000, ge=1, le=100_000_000, description="optimiser updates in all")
    batch_size: int = Field(16, ge=1, le=4096, description="global batch (all processes together)")
    segment_seconds: float = Field(2.0, gt=0.0, le=60.0, description="target (output) length of a segment")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 (or fp16 with a grad scaler) on CUDA; on the CPU bf16 where native (AMX), else fp32"
    )
    grad_clip: float | None = Field(1.0, gt=0.0, description="max global gradient norm (None: off)")
    validate_every: int = Field(500, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(2, ge=1, le=1000, description="step checkpoints kept (the best model always)")
    log_every: int = Field(10, ge=1)
    early_stopping: EarlyStoppingSpec | None = None
    seed: int = Field(0, ge=0)
    start: Literal["random", "console"] = Field(
        "random",
        description="mixers: start from random weights, or at the recorded balance panned by role (the output "
        "layer's input path at the console's gains and pans, features at zero): training learns corrections",
    )
    swap_invariant: bool = Field(
        False,
        description="mix: match each stereo target as it is or with its channels swapped, whichever the "
        "estimate is nearer (for corpora mixed from both the drummer's and the audience's side)",
    )

    @field_validator("loss")
    @classmethod
    def _loss(cls, v: Any) -> Any:
        parse_loss(v)  # raises with the term's problem
        return v

    @model_validator(mode="after")
    def _task_fits(self) -> "TrainRecipe":
        if self.task == "separate" and any(t.name == "stereo_perceptual" for t in self.loss_terms()):
            raise ValueError("loss: stereo_perceptual needs stereo targets; separation targets are mono stems")
        if self.task == "mix" and (self.data.augment is not None or self.data.sources is not None):
            raise ValueError("data.augment and data.sources apply to separation (task separate) only")
        if self.task == "separate" and self.start == "console":
            raise ValueError("start: console starts a mixer at a gain/pan console; a separator starts at the mix share")
        if self.task == "separate" and self.swap_invariant:
            raise ValueError("swap_invariant needs stereo mix targets (task mix); separation targets are mono stems")
        if self.data.augment is not None and self.data.separation_mix != "sum":
            raise ValueError(
                "data.augment builds the mix from the augmented stems; set data.separation_mix to 'sum' "
                "so that validation mixes are made the same way"
            )
        return self

    def loss_terms(self) -> list[LossTerm]:
        return parse_loss(self.loss)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON (what ``--resume`` compares)."""
        return hashlib.sha256(canonical_json(self).encode()).hexdigest()


#: keys a resumed run may change (they do not alter what is computed up to the old end)
RESUMABLE_CHANGES = ("steps", "log_every", "data.workers", "description", "keep_checkpoints")


def canonical_json(recipe: TrainRecipe) -> str:
    data = recipe.model_dump(mode="json")
    if not data["swap_invariant"]:  # added later: recipes without it keep their digests
        del data["swap_invariant"]
    if data["start"] == "random":
        del data["start"]
    if data["data"]["stem_gain"] == "each":
        del data["data"]["stem_gain"]
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def recipes_dir() -> Path:
    return presets_dir() / "train"


def list_recipes() -> list[str]:
    """Names of the shipped recipes (``presets/train/*.json``)."""
    return sorted(p.stem for p in recipes_dir().glob("*.json"))


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(data: dict[str, Any], overrides: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    """``data`` with ``key.path=value`` overrides applied (a new dict; values parsed as JSON)."""
    out = copy.deepcopy(data)
    if not overrides:
        return out
    items = overrides.items() if isinstance(overrides, dict) else [_split_override(o) for o in overrides]
    for key, value in items:
        value = _parse_value(value) if isinstance(value, str) and not isinstance(overrides, dict) else value
        parts = key.split(".")
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise AutomixError(f"--set {key}: '{'.'.join(parts[: i + 1])}' is not a section of the recipe")
            node = child
        node[parts[-1]] = value
    return out


def _split_override(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not p for p in key.split(".")):
        raise AutomixError(f"--set expects KEY=VALUE (e.g. optimizer.lr=3e-4), got {text!r}")
    return key, value


def _format_error(exc: ValidationError, source: str) -> str:
    parts = []
    for err in exc.errors():
        loc = error_key(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if isinstance(got, (dict, list)) or got is None or err["type"] == "missing" else f" (got {got!r})"
        parts.append(f"{loc}: {msg}{shown}" if loc else f"{msg}{shown}")
    return f"recipe {source}: " + "; ".join(parts)


def validate_recipe(data: dict[str, Any], source: str = "recipe") -> TrainRecipe:
    """A :class:`TrainRecipe` from plain data; one-line :class:`AutomixError` naming bad keys."""
    try:
        return TrainRecipe.model_validate(data)
    except ValidationError as exc:
        raise AutomixError(_format_error(exc, source)) from None


def resolve_recipe_path(spec: str | os.PathLike) -> Path:
    """A recipe file from a path or a shipped recipe's name."""
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    named = recipes_dir() / f"{spec}.json"
    if named.is_file() and os.sep not in str(spec):
        return named
    if path.exists():
        raise AutomixError(f"recipe {spec} is not a file")
    raise AutomixError(f"no recipe file or shipped recipe named '{spec}' (shipped: {', '.join(list_recipes())})")


def read_recipe_data(path: Path) -> dict[str, Any]:
    return read_settings_file(path, "recipe")


def load_recipe(
    spec: str | os.PathLike | dict[str, Any] | TrainRecipe,
    overrides: list[str] | dict[str, Any] | None = None,
) -> TrainRecipe:
    """A validated recipe from a shipped name, a file, plain data or a recipe, with overrides.

    ``overrides``: ``["optimizer.lr=3e-4", "steps=200"]`` (values read as JSON) or a dict
    ``{"optimizer.lr": 3e-4}``.
    """
    if isinstance(spec, TrainRecipe):
        data, source = spec.model_dump(mode="json"), spec.name
    elif isinstance(spec, dict):
        data, source = spec, str(spec.get("name", "recipe"))
    else:
        path = resolve_recipe_path(spec)
        data = read_recipe_data(path)
        source = path.stem if path.parent == recipes_dir() else str(path)
        data.setdefault("name", path.stem)
    return validate_recipe(apply_overrides(data, overrides), source)


def recipe_differences(old: TrainRecipe, new: TrainRecipe) -> list[str]:
    """``key: old -> new`` for every setting that differs (dotted keys)."""

    def flat(d: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(d, dict):
            out: dict[str, Any] = {}
            for k, v in d.items():
                out.update(flat(v, f"{prefix}{k}."))
            return out
        return {prefix[:-1]: d}

    a, b = flat(old.model_dump(mode="json")), flat(new.model_dump(mode="json"))
    return [f"{k}: {json.dumps(a.get(k))} -> {json.dumps(b.get(k))}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
