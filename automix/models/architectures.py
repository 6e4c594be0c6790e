"""Find and validate the data files under ``presets/`` (installed as ``automix/_presets``).

In a source checkout they are read from the top-level ``presets/`` folder; in an installed
package from the ``automix/_presets`` folder that ``pip install .`` creates from it.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daw_bridge.errors import AutomixError
from daw_bridge.files import shipped_folder
from automix.models.unet import WaveUNetConfig


def presets_dir() -> Path:
    """The presets folder (installed copy first, then the source checkout's)."""
    return shipped_folder("presets")


class ModelPreset(BaseModel):
    """A model architecture preset (``presets/models/NAME.json``)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    sample_rate: int = Field(44100, ge=8000, le=384000)
    slots: list[str] = Field(..., min_length=1)
    config: dict


def list_presets(kind: str = "models") -> list[str]:
    """Names of the presets of one kind (the file names without ``.json``)."""
    return sorted(p.stem for p in (presets_dir() / kind).glob("*.json"))


def load_model_preset(name: str) -> tuple[ModelPreset, WaveUNetConfig]:
    """The preset and its validated architecture; :class:`AutomixError` naming the bad key."""
    path = presets_dir() / "models" / f"{name}.json"
    if not path.is_file():
        raise AutomixError(f"unknown model preset '{name}' (available: {', '.join(list_presets('models'))})")
    try:
        preset = ModelPreset.model_validate(json.loads(path.read_text()))
        config = WaveUNetConfig.model_validate(
            {**preset.config, "in_channels": len(preset.slots), "out_channels": preset.config.get("out_channels", 2)}
        )
    except (json.JSONDecodeError, ValidationError) as exc:
        raise AutomixError(f"preset {path}: {' '.join(str(exc).split())}") from None
    return preset, config
