"""The separation Wave-U-Net (Stoller et al. 2018) on the shared core: sizes, sources, loading."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from automix.models.checkpoint import Model, ModelCard
from automix.models.pretrained import DEFAULT_BY_TASK
from automix.models.unet import WaveUNet, WaveUNetConfig
from daw_bridge.errors import StemMatchError

log = logging.getLogger("automix")

#: The shipped default separator (``automix/pretrained/drums-separator.*``).
DEFAULT_SEPARATOR = DEFAULT_BY_TASK["separate"][0]

#: Drum sources of the default separator, as groups of the drum mixer's slots.
DRUM_SOURCES: dict[str, tuple[str, ...]] = {
    "kick": ("kick",),
    "snare": ("snare",),
    "hi-hat": ("hi-hat",),
    "toms": ("tom_1", "tom_2", "tom_3"),
    "overheads": ("overhead_L", "overhead_R"),
}

#: Sizes of the separation Wave-U-Net (all: valid convolutions, decimation, LeakyReLU 0.2).
SEPARATOR_SIZES: dict[str, dict] = {
    "tiny": dict(levels=4, base_filters=8, growth=8, kernel_down=15, kernel_up=5),
    "small": dict(levels=7, base_filters=12, growth=12, kernel_down=15, kernel_up=5),
    "paper": dict(levels=12, base_filters=24, growth=24, kernel_down=15, kernel_up=5),
}


def init_as_mix_share(net: WaveUNet) -> WaveUNet:
    """Start a separator at the "equal share of the mix" estimate: the output layer reads only the
    concatenated input (each source = the mix's mean over channels / K); the feature weights start
    at zero and are learned from there. Needs ``concat_input`` (else the network is left alone)."""
    import torch

    cfg = net.config
    if not cfg.concat_input:
        return net
    with torch.no_grad():
        w = net.output.weight  # [K, features + in_channels, kernel]
        w.zero_()
        w[:, -cfg.in_channels :, cfg.kernel_output // 2] = 1.0 / (cfg.out_channels * cfg.in_channels)
        net.output.bias.zero_()
    return net


def separation_wave_unet(
    sources: Sequence[str] = tuple(DRUM_SOURCES),
    *,
    size: str = "small",
    mix_channels: int = 2,
    upsampling: str = "linear",
    sample_rate: int = 44100,
    name: str = "separation-wave-u-net",
    description: str = "",
    **config,
) -> Model:
    """A new (untrained) separation Wave-U-Net: ``mix_channels`` in, one channel per source out.

    ``size``: ``tiny``, ``small`` or ``paper`` (:data:`SEPARATOR_SIZES`); ``upsampling``:
    ``linear`` (the paper's M4) or ``learned`` (transposed convolutions); ``config`` overrides
    any :class:`~automix.models.unet.WaveUNetConfig` field.
    """
    if size not in SEPARATOR_SIZES:
        raise ValueError(f"size must be one of {', '.join(SEPARATOR_SIZES)}, got {size!r}")
    if mix_channels not in (1, 2):
        raise ValueError(f"mix_channels must be 1 (mono) or 2 (stereo), got {mix_channels!r}")
    sources = list(sources)
    cfg = WaveUNetConfig.model_validate({
        **SEPARATOR_SIZES[size], "activation": "leaky_relu", "leaky_slope": 0.2, "downsampling": "decimate",
        "upsampling": upsampling, "context": True, "concat_input": True,
        **config, "in_channels": mix_channels, "out_channels": len(sources),
    })
    card = ModelCard(
        name=name, task="separate", config=cfg,
        input_names=["L", "R"] if mix_channels == 2 else ["mix"], output_names=sources,
        sample_rate=sample_rate,
        description=description or f"separation Wave-U-Net (Stoller et al. 2018), size {size}",
    )
    return Model(init_as_mix_share(WaveUNet(cfg)), card)


def load_separator(model: str | os.PathLike | Model | None = None) -> Model:
    """A separation model by installed name, path or :class:`Model`; ``None``: :data:`DEFAULT_SEPARATOR`."""
    from automix.models import pretrained

    loaded = pretrained.load(model, task="separate")
    if loaded.task != "separate":
        raise StemMatchError(f"model '{loaded.name}' is a {loaded.task} model; choose a separation model "
                             f"(e.g. {DEFAULT_SEPARATOR})")
    return loaded
