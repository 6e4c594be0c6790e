"""automix: automatic mixing with Wave-U-Nets, from DAW stems to a stereo mix and back.

The Python face: every name below mirrors a CLI command. Importing :mod:`automix` is cheap:
torch and the models load on first use. The torch-free base is :mod:`daw_bridge`.
"""

from __future__ import annotations

from daw_bridge._version import __version__

_LAZY = {
    "mix": ("automix.inference.mixing", "mix"),
    "mix_audio": ("automix.inference.mixing", "mix_audio"),
    "MixResult": ("automix.inference.mix_settings", "MixResult"),
    "MixSettings": ("automix.inference.mix_settings", "MixSettings"),
    "separate": ("automix.inference.separation", "separate"),
    "separate_audio": ("automix.inference.separation", "separate_audio"),
    "remix": ("automix.inference.separation", "remix"),
    "evaluate_separation": ("automix.eval.separation", "evaluate_separation"),
    "separation_wave_unet": ("automix.models.separator", "separation_wave_unet"),
    "run_demo": ("automix.demo", "run_demo"),
    "load_model": ("automix.models.pretrained", "load"),
    "list_models": ("automix.models.pretrained", "list_models"),
    "Model": ("automix.models.checkpoint", "Model"),
    "ModelCard": ("automix.models.checkpoint", "ModelCard"),
    "save_model": ("automix.models.checkpoint", "save_model"),
    "WaveUNet": ("automix.models.unet", "WaveUNet"),
    "WaveUNetConfig": ("automix.models.unet", "WaveUNetConfig"),
    "mix_wave_unet": ("automix.models.mixer", "mix_wave_unet"),
    "PAPER_CONFIG": ("automix.models.mixer", "PAPER_CONFIG"),
    "AutomixError": ("daw_bridge.errors", "AutomixError"),
    "train": ("automix.train.trainer", "train"),
    "TrainResult": ("automix.train.trainer", "TrainResult"),
    "load_recipe": ("automix.train.recipe", "load_recipe"),
    "evaluate_pair": ("automix.eval.evaluate", "evaluate_pair"),
    "fit_console": ("automix.console.fit", "fit_console"),
    "rule_based_plan": ("daw_bridge.rules", "rule_based_plan"),
    "mix_with_rules": ("daw_bridge.rules", "mix_with_rules"),
    "evaluate_split": ("automix.eval.evaluate", "evaluate_split"),
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
