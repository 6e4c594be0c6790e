"""Mix-Wave-U-Net: N stems in, a stereo mix out, on the shared Wave-U-Net core.

Martinez-Ramirez, Stoller, Moffat, "A deep learning approach to intelligent drum mixing with
the Wave-U-Net", JAES 2021: 10 levels, 24 more filters per level, kernels 15 down / 5 up,
LeakyReLU 0.2, decimation, linear interpolation, valid convolutions with context, 8 mono drum
stems in, stereo out at 44.1 kHz. With context, 88,200 wanted output samples need 121,843
input samples and give 89,093; about 6.18 M weights.
"""

from __future__ import annotations

from typing import Sequence

from automix.models.checkpoint import Model, ModelCard
from daw_bridge.stems import DRUM_SLOTS
from automix.models.unet import WaveUNet, WaveUNetConfig

#: The paper's architecture (the :class:`WaveUNetConfig` defaults are the paper's values).
PAPER_CONFIG = WaveUNetConfig(
    in_channels=8,
    out_channels=2,
    levels=10,
    base_filters=24,
    growth=24,
    kernel_down=15,
    kernel_up=5,
    activation="leaky_relu",
    leaky_slope=0.2,
    downsampling="decimate",
    upsampling="linear",
    context=True,
)
PAPER_SAMPLE_RATE = 44100
STEREO = ("L", "R")


def mix_wave_unet(
    slots: Sequence[str] | None = None,
    *,
    preset: str | None = None,
    sample_rate: int | None = None,
    name: str = "mix-wave-u-net",
    description: str = "",
    **config,
) -> Model:
    """A new (untrained) Mix-Wave-U-Net with one input per slot and a stereo output.

    Starts from :data:`PAPER_CONFIG` (or the named preset under ``presets/models``, e.g.
    ``"mix-wave-u-net-small"``); ``config`` overrides fields, e.g. ``levels=6, growth=12``;
    ``in_channels`` follows ``slots`` (default: the drum slots).
    """
    base = PAPER_CONFIG.model_dump()
    if preset is not None:
        from automix.models.architectures import load_model_preset

        spec, preset_config = load_model_preset(preset)
        base = preset_config.model_dump()
        slots = spec.slots if slots is None else slots
        sample_rate = spec.sample_rate if sample_rate is None else sample_rate
        description = description or spec.description
    slots = tuple(DRUM_SLOTS if slots is None else slots)
    sample_rate = PAPER_SAMPLE_RATE if sample_rate is None else sample_rate
    cfg = WaveUNetConfig.model_validate({**base, **config, "in_channels": len(slots), "out_channels": 2})
    card = ModelCard(
        name=name,
        task="mix",
        config=cfg,
        input_names=list(slots),
        output_names=list(STEREO),
        sample_rate=sample_rate,
        description=description or "Mix-Wave-U-Net (Martinez-Ramirez, Stoller, Moffat, JAES 2021)",
    )
    return Model(WaveUNet(cfg), card)


def init_as_console(net: WaveUNet, pans: Sequence[float], gain_db: float = 0.0) -> WaveUNet:
    """Start a mixer at a gain/pan console: ``gain x pan law x input`` through the output layer's
    input connection (``concat_input``), every learned feature's weight at zero; training then
    learns corrections around that mix. ``pans`` per input (-1..1), e.g.
    :func:`daw_bridge.rules.panning.role_pans` of the slots: the recorded balance panned by role."""
    import torch

    from daw_bridge.panlaw import pan_gains_array

    cfg = net.config
    if not cfg.concat_input or cfg.out_channels != 2 or len(pans) != cfg.in_channels:
        raise ValueError("init_as_console needs a stereo mixer with concat_input and one pan per input")
    gains = torch.as_tensor(pan_gains_array(list(pans)) * 10.0 ** (gain_db / 20.0))  # [in, 2]
    with torch.no_grad():
        w = net.output.weight  # [2, features + in_channels, kernel]
        w.zero_()
        w[:, -cfg.in_channels :, cfg.kernel_output // 2] = gains.T.to(w.dtype)
        net.output.bias.zero_()
    return net
