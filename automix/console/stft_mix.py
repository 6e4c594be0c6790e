"""The console's gain, pan and EQ applied to stems' short-time spectra: fast enough to train through.

The console (:mod:`automix.console.model`) filters in time; here each track's spectrum is
multiplied by its EQ's magnitude response (the same RBJ biquads, evaluated at the bin
frequencies; phase is left out, which the magnitude losses used here do not see), its fader
gain and its constant-power pan, and the tracks are summed: ``[batch, tracks, F, T]`` complex
in, ``[batch, 2, F, T]`` out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor

from automix.console.model import biquad_coefficients

#: The EQ bands: (parameter prefix, biquad kind); a band whose gain is not given is flat.
EQ_BANDS = (("low_shelf", "low_shelf"), ("peak1", "peak"), ("peak2", "peak"), ("high_shelf", "high_shelf"))
_DEFAULT_Q = 1.0 / math.sqrt(2.0)


def eq_magnitude(values: Mapping[str, Tensor], freqs_hz: Tensor, sample_rate: int) -> Tensor:
    """``|H(f)|`` ``[B, N, F]`` of each track's EQ (``values[...]`` are ``[B, N]``) at ``freqs_hz``."""
    z = torch.exp(-1j * 2.0 * math.pi * freqs_hz.to(torch.float64) / sample_rate)  # [F]
    shape = next(iter(values.values())).shape
    magnitude = torch.ones((*shape, z.shape[0]), dtype=torch.float64, device=freqs_hz.device)
    for band, kind in EQ_BANDS:
        if f"{band}_gain_db" not in values:
            continue
        q = values.get(f"{band}_q", torch.full(shape, _DEFAULT_Q, dtype=torch.float64))
        c = biquad_coefficients(kind, values[f"{band}_gain_db"].double(), values[f"{band}_freq_hz"].double(),
                                q.double(), float(sample_rate))  # [B, N, 6]
        num = c[..., 0:1] + c[..., 1:2] * z + c[..., 2:3] * z * z
        den = c[..., 3:4] + c[..., 4:5] * z + c[..., 5:6] * z * z
        magnitude = magnitude * (num / den).abs()
    return magnitude


def channel_gains(values: Mapping[str, Tensor]) -> Tensor:
    """``[B, N, 2]``: fader gain times the constant-power pan law (:mod:`daw_bridge.panlaw`)."""
    g = torch.pow(10.0, values["gain_db"].double() / 20.0)
    theta = (values["pan"].double() + 1.0) * (math.pi / 4.0)
    return torch.stack([g * torch.cos(theta), g * torch.sin(theta)], dim=-1)


def stft_mix(spectra: Tensor, values: Mapping[str, Tensor], freqs_hz: Tensor, sample_rate: int,
             mask: Tensor | None = None) -> Tensor:
    """Mix track spectra ``[B, N, F, T]`` with console ``values`` into ``[B, 2, F, T]``;
    ``mask`` ``[B, N]`` leaves tracks out."""
    weights = eq_magnitude(values, freqs_hz, sample_rate)  # [B, N, F]
    gains = channel_gains(values)  # [B, N, 2]
    if mask is not None:
        gains = gains * mask.to(gains.dtype)[..., None]
    w = weights[:, :, None, :] * gains[..., None]  # [B, N, 2, F]
    return torch.einsum("bncf,bnft->bcft", w.to(spectra.real.dtype).to(spectra.dtype), spectra)
