"""Checkpoints: weights in safetensors plus a JSON model card. Loading never unpickles.

A checkpoint is two files side by side::

    drums.safetensors   the weights (tensors only; safe to load from anywhere)
    drums.json          the card: architecture, slot names in order, sample rate, what trained
                        it, what it scored, and the SHA-256 of the weights file

:func:`load_model` accepts either path (or the shared stem). It refuses, with one line saying
what to do: pickled checkpoints (``torch.save`` files, ``.pt/.pth/.ckpt``), a card whose
architecture does not build the stored tensors, and a card written for another weights file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from daw_bridge.errors import CheckpointError, error_key
from daw_bridge.files import sha256_file
from daw_bridge.outputs import atomic_output, check_output_path
from automix.models.console_mixer import ConsoleMixerConfig, ConsoleMixerNet
from automix.models.unet import WaveUNet, WaveUNetConfig

CARD_FORMAT = 1
#: Magic bytes of a pickle (protocol 2-5) and of a zip (``torch.save``'s default container).
_PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_SUFFIXES = {".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".tar"}


class TrainingInfo(BaseModel):
    """What trained a model. Free text where a field does not apply; nothing is invented."""

    model_config = ConfigDict(extra="allow")

    data: str = Field("", description="dataset(s) and split used")
    recipe: str = Field("", description="training recipe (file name or inline summary)")
    steps: int = Field(0, ge=0)
    hardware: str = ""
    duration_s: float = Field(0.0, ge=0.0)
    notes: str = ""
    target: str = Field(
        "",
        description="mixers: the mixes it learned to make ('wet' or 'dry' for ENST-layout data, 'mix' for a "
        "collection's mix files); empty where not recorded",
    )
    perspective: Literal["", "drummer", "audience"] = Field(
        "",
        description="mixers: the side its stereo mixes are heard from, 'drummer' or 'audience' (measured on "
        "held-out takes whose side is known); empty where not recorded",
    )


class ModelCard(BaseModel):
    """The JSON card stored beside a model's weights."""

    model_config = ConfigDict(extra="forbid")

    format: Literal[1] = CARD_FORMAT
    name: str = Field(..., min_length=1)
    task: Literal["mix", "separate"]
    architecture: Literal["wave-u-net", "console-mixer"] = "wave-u-net"
    config: WaveUNetConfig | ConsoleMixerConfig
    input_names: list[str] = Field(..., description="input channel names in order (stem slots for a mixer)")
    output_names: list[str] = Field(..., description="output channel names in order (L, R for a mixer)")
    sample_rate: int = Field(44100, ge=8000, le=384000)
    description: str = ""
    training: TrainingInfo = Field(default_factory=TrainingInfo)
    metrics: dict[str, float] = Field(default_factory=dict)
    input_lufs: float | None = Field(
        None,
        ge=-70.0,
        le=0.0,
        description="mixers: each input slot is brought to this integrated loudness (BS.1770, one gain per "
        "file) before the network, as the training data was; None: stems go in at their own level",
    )
    input_rule: Literal["each", "kit"] = Field(
        "each",
        description="mixers: how input_lufs is applied: every slot to it (each), or one gain for all slots that "
        "brings their power-summed loudness there, keeping the recording's balance (kit)",
    )
    output_lufs: float | None = Field(
        None,
        ge=-70.0,
        le=0.0,
        description="mixers: the integrated loudness its training mixes were brought to (what its output aims "
        "at); None: the targets kept their own level",
    )
    parameters: int = Field(0, ge=0, description="number of weights (checked on load)")
    weights_sha256: str = Field("", description="SHA-256 of the .safetensors file (checked on load)")
    created: str = ""
    automix_version: str = ""

    @model_validator(mode="before")
    @classmethod
    def _config_by_architecture(cls, data: object) -> object:
        """Read ``config`` as the architecture's own settings (a console mixer's are not a Wave-U-Net's)."""
        if isinstance(data, dict) and data.get("architecture") == "console-mixer" and isinstance(data.get("config"), dict):
            return {**data, "config": ConsoleMixerConfig.model_validate(data["config"])}
        return data

    @model_validator(mode="after")
    def _names_match_config(self) -> "ModelCard":
        if self.architecture == "console-mixer":
            if not isinstance(self.config, ConsoleMixerConfig) or self.output_names != list(self.config.predicted):
                raise ValueError("a console mixer's output_names are the console parameters it predicts")
            return self
        if not isinstance(self.config, WaveUNetConfig):
            raise ValueError("a wave-u-net card needs a Wave-U-Net config")
        if len(self.input_names) != self.config.in_channels:
            raise ValueError(
                f"input_names has {len(self.input_names)} names but config.in_channels is {self.config.in_channels}"
            )
        if len(self.output_names) != self.config.out_channels:
            raise ValueError(
                f"output_names has {len(self.output_names)} names but config.out_channels is {self.config.out_channels}"
            )
        if len(set(self.input_names)) != len(self.input_names):
            raise ValueError("input_names must be unique")
        return self


class Model:
    """A network with its card: what :func:`load_model` returns and what the API runs.

    ``model.net`` is the :class:`~automix.models.unet.WaveUNet`; ``model.card`` the
    :class:`ModelCard`. Shortcuts: ``slots`` (input names), ``sample_rate``, ``task``.
    """

    def __init__(self, net: WaveUNet, card: ModelCard):
        if net.config != card.config:
            raise CheckpointError(f"model card '{card.name}' describes another architecture than the network")
        self.net = net
        self.card = card

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(self.card.input_names)

    @property
    def sample_rate(self) -> int:
        return self.card.sample_rate

    @property
    def task(self) -> str:
        return self.card.task

    @property
    def name(self) -> str:
        return self.card.name

    def __repr__(self) -> str:
        return (
            f"Model(name={self.name!r}, task={self.task!r}, slots={list(self.slots)}, "
            f"sample_rate={self.sample_rate}, parameters={self.net.num_parameters():,})"
        )

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write ``PATH.safetensors`` and ``PATH.json`` atomically; return the weights path."""
        return save_model(self, path, overwrite=overwrite)


def _version() -> str:
    from automix import __version__

    return __version__


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(weights, card) paths for ``path`` given as the weights, the card, or their common stem."""
    path = Path(path).expanduser()
    if path.suffix in (".safetensors", ".json"):
        stem = path.with_suffix("")
    else:
        stem = path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def save_model(model: Model, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Save ``model`` as ``<stem>.safetensors`` + ``<stem>.json`` (both atomic)."""
    from safetensors.torch import save_file

    weights_path, card_path = checkpoint_paths(path)
    check_output_path(weights_path, overwrite=overwrite)
    check_output_path(card_path, overwrite=overwrite)
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.net.state_dict().items()}
    card = model.card.model_copy(
        update={
            "parameters": model.net.num_parameters(),
            "created": model.card.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "automix_version": model.card.automix_version or _version(),
        }
    )
    with atomic_output(weights_path, overwrite=overwrite) as tmp:
        # one metadata key: safetensors does not keep key order, and the file hash must be stable
        save_file(state, str(tmp), metadata={"automix": card.name})
        card = card.model_copy(update={"weights_sha256": sha256_file(tmp)})
        with atomic_output(card_path, overwrite=overwrite) as tmp_card:
            tmp_card.write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")
    model.card = card
    return weights_path


def build_network(card: ModelCard) -> torch.nn.Module:
    """A new (untrained) network of the card's architecture."""
    if card.architecture == "console-mixer":
        return ConsoleMixerNet(card.config)
    return WaveUNet(card.config)


def _refuse_pickle(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(8)
    if head[:2] in _PICKLE_MAGIC or head[:4] == _ZIP_MAGIC or path.suffix.lower() in _PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path} is a pickled (torch.save) checkpoint; automix loads only .safetensors weights with a "
            f".json card, because unpickling can run arbitrary code (convert it in a trusted session: "
            f"safetensors.torch.save_file(state_dict, 'model.safetensors'))"
        )


def read_card(path: str | os.PathLike) -> ModelCard:
    """Read and validate a model card (JSON); :class:`CheckpointError` naming the bad key otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model card {path} does not exist (a checkpoint is NAME.safetensors + NAME.json)")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"model card {path} is not valid JSON: {exc}") from None
    try:
        return ModelCard.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = error_key(first["loc"]) or "card"
        raise CheckpointError(f"model card {path}: {where}: {first['msg']}") from None


def load_model(path: str | os.PathLike, *, verify_hash: bool = True) -> Model:
    """Load a checkpoint from its weights, card, or stem path. Never unpickles.

    Raises :class:`CheckpointError` for a missing file, a pickle, an invalid card, or a card that
    does not match the weights (architecture, tensor shapes, parameter count or file hash).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    given = Path(path).expanduser()
    if given.is_file() and given.suffix not in (".safetensors", ".json"):
        _refuse_pickle(given)
        raise CheckpointError(f"{given} is not a checkpoint (expected NAME.safetensors with NAME.json beside it)")
    weights_path, card_path = checkpoint_paths(given)
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint weights {weights_path} do not exist")
    _refuse_pickle(weights_path)
    card = read_card(card_path)
    if verify_hash and card.weights_sha256 and card.weights_sha256 != sha256_file(weights_path):
        raise CheckpointError(
            f"card {card_path.name} was written for other weights than {weights_path.name} (SHA-256 differs); "
            f"keep each .json beside the .safetensors it was saved with"
        )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{weights_path} is not a readable safetensors file: {exc}") from None
    net = build_network(card)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"card {card_path.name} does not match weights {weights_path.name}: "
            f"{len(missing)} tensors missing (e.g. {missing[:2]}), {len(unexpected)} unexpected (e.g. {unexpected[:2]})"
        )
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"card {card_path.name} does not match weights {weights_path.name}: {key} is "
                f"{list(state[key].shape)} in the weights but {list(tensor.shape)} by the card's architecture"
            )
    if card.parameters and card.parameters != net.num_parameters():
        raise CheckpointError(
            f"card {card_path.name} says {card.parameters} parameters, the weights hold {net.num_parameters()}"
        )
    net.load_state_dict(state)
    net.eval()
    return Model(net, card)
