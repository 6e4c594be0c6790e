"""Find models by name or path.

Shipped checkpoints live in ``automix/pretrained/NAME.safetensors`` + ``NAME.json`` and are
installed with the package. Anything that looks like a path (has a separator or a suffix, or
exists) is loaded as a checkpoint path instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from automix.models.checkpoint import Model, ModelCard, load_model, read_card
from daw_bridge.errors import CheckpointError

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
#: The model used when none is named (the first of these that is installed).
DEFAULT_MODELS = ("drums",)
#: The same per task: the mixer for ``"mix"``, the separator for ``"separate"``.
DEFAULT_BY_TASK: dict[str, tuple[str, ...]] = {"mix": DEFAULT_MODELS, "separate": ("drums-separator",)}


def list_models() -> dict[str, ModelCard]:
    """Cards of the installed (shipped) models, by name."""
    cards = {}
    for card_path in sorted(PRETRAINED_DIR.glob("*.json")):
        if card_path.with_suffix(".safetensors").is_file():
            cards[card_path.stem] = read_card(card_path)
    return cards


def default_model_name(task: str = "mix") -> str:
    """The default model of ``task`` (``"mix"`` or ``"separate"``) that is installed."""
    for name in DEFAULT_BY_TASK.get(task, DEFAULT_MODELS):
        if (PRETRAINED_DIR / f"{name}.safetensors").is_file():
            return name
    raise CheckpointError(
        "no model was named and no default model is installed; pass --model PATH/TO/NAME.safetensors "
        "(see 'automix models list')"
    )


def resolve(name_or_path: str | os.PathLike | None, task: str = "mix") -> Path:
    """Path of the weights for a model name (installed) or a checkpoint path (``None``: ``task``'s default)."""
    if name_or_path is None or str(name_or_path) in ("", "default"):
        name_or_path = default_model_name(task)
    text = str(name_or_path)
    looks_like_path = os.sep in text or "/" in text or Path(text).suffix in (".safetensors", ".json") or Path(text).exists()
    if looks_like_path:
        return Path(text).expanduser()
    candidate = PRETRAINED_DIR / f"{text}.safetensors"
    if candidate.is_file():
        return candidate
    names = ", ".join(list_models()) or "none installed"
    raise CheckpointError(f"unknown model '{text}' (installed: {names}); or pass a path to a .safetensors checkpoint")


def load(name_or_path: str | os.PathLike | Model | None = None, task: str = "mix") -> Model:
    """Load a model by installed name, by checkpoint path, or pass a :class:`Model` through.

    ``None`` loads the default model of ``task`` (:data:`DEFAULT_BY_TASK`).
    """
    if isinstance(name_or_path, Model):
        return name_or_path
    return load_model(resolve(name_or_path, task))
