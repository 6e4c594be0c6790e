"""automix: automatic mixing with Wave-U-Nets, from DAW stems to a stereo mix and back.

Importing :mod:`automix` is cheap: torch and the models load on first use of the functions
below, so the torch-free parts (:mod:`automix.audio`, :mod:`automix.stems`) and
:mod:`daw_bridge` stay fast to import.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "mix": ("automix.api", "mix"),
    "mix_audio": ("automix.api", "mix_audio"),
    "MixResult": ("automix.api", "MixResult"),
    "load_model": ("automix.pretrained", "load"),
    "list_models": ("automix.pretrained", "list_models"),
    "Model": ("automix.checkpoint", "Model"),
    "ModelCard": ("automix.checkpoint", "ModelCard"),
    "save_model": ("automix.checkpoint", "save_model"),
    "WaveUNet": ("automix.unet", "WaveUNet"),
    "WaveUNetConfig": ("automix.unet", "WaveUNetConfig"),
    "mix_wave_unet": ("automix.mixer", "mix_wave_unet"),
    "PAPER_CONFIG": ("automix.mixer", "PAPER_CONFIG"),
    "AutomixError": ("automix.errors", "AutomixError"),
    "train": ("automix.train", "train"),
    "TrainResult": ("automix.train", "TrainResult"),
    "load_recipe": ("automix.recipes", "load_recipe"),
    "evaluate_pair": ("automix.evaluate", "evaluate_pair"),
    "fit_console": ("automix.fit", "fit_console"),
    "rule_based_plan": ("automix.rules", "rule_based_plan"),
    "mix_with_rules": ("automix.rules", "mix_with_rules"),
    "evaluate_split": ("automix.evaluate", "evaluate_split"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'automix' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
