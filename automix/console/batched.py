"""The console on a batch of examples, each with its own settings: the learned console mixer's
training path when it predicts compressors (:mod:`automix.models.console_mixer`, ``dynamics``).

Per track: its four-band EQ (frequency sampling, :func:`automix.console.dsp.fsm_filter`), its
hard-knee compressor, fader and constant-power pan; then a compressor on the stereo sum (each
channel its own envelope, as pedalboard's). The envelopes are JUCE's peak ballistics of what
each compressor hears, computed exactly but without gradient (the gain computer's threshold and
ratio are learned; the envelope is data). Thresholds come relative to a level: each track's to
its stem's loudness (``levels``, LUFS, before the EQ), the master's to the sum's RMS level (dBFS). Mono stems
``[B, N, T]`` in, stereo ``[B, 2, T]`` out.
"""

from __future__ import annotations

from collections.abc import Mapping

import math
import torch
from torch import Tensor

from automix.console.dsp import eq_response, fsm_filter, gain_computer_db
from automix.console.dynamics import envelope_levels
from automix.console.stft_mix import EQ_BANDS, channel_gains
from daw_bridge.ranges import CONSOLE_RANGES

_THRESHOLD = CONSOLE_RANGES["comp_threshold_db"]
_HARD_KNEE = torch.zeros(())
_Q = 1.0 / math.sqrt(2.0)
_BLOCK = 1 << 14  # overlap-save FFT size of the EQ (impulse responses cut at 186 ms at 44.1 kHz)


def absolute_threshold(level_db: Tensor, relative_db: Tensor) -> Tensor:
    """A compressor's threshold (dBFS, within the console's range) from the level it is relative to
    (a stem's loudness, LUFS, or a sum's RMS, dBFS) and the predicted offset, clamped to the range."""
    return (level_db + relative_db).clamp(_THRESHOLD.minimum, _THRESHOLD.maximum)


def _eq(stems: Tensor, values: Mapping[str, Tensor], sample_rate: int) -> Tensor:
    """Each track through its EQ: ``[B, N, T]`` (bands without a Q use the console's 0.707)."""
    b, n, t = stems.shape
    flat: dict[str, Tensor] = {}
    for band, _ in EQ_BANDS:
        flat_band = {"gain_db": torch.zeros(b, n), "freq_hz": torch.full((b, n), CONSOLE_RANGES[f"{band}_freq_hz"].default),
                     "q": torch.full((b, n), _Q)}  # a band not given is flat
        if f"{band}_gain_db" in values:
            flat_band.update({k: values[f"{band}_{k}"] for k in ("gain_db", "freq_hz", "q") if f"{band}_{k}" in values})
        flat.update({f"{band}_{k}": v.reshape(-1).double() for k, v in flat_band.items()})
    out = fsm_filter(stems.reshape(b * n, 1, t), lambda f: eq_response(flat, f, sample_rate), sample_rate, _BLOCK)
    return out.reshape(b, n, t).to(stems.dtype)


def compress(x: Tensor, threshold_db: Tensor, ratio: Tensor, attack_ms: float, release_ms: float,
             sample_rate: int) -> Tensor:
    """``x`` ``[B, C, T]`` through hard-knee compressors with thresholds and ratios ``[B, C]``."""
    levels = envelope_levels(x.detach().float().cpu(), [(attack_ms, release_ms)], sample_rate)[0].to(x.device)
    gain_db = gain_computer_db(levels, threshold_db[..., None].to(levels.dtype), ratio[..., None].to(levels.dtype),
                               _HARD_KNEE)
    return x * torch.pow(10.0, gain_db / 20.0).to(x.dtype)


def rms_db(mix: Tensor) -> Tensor:
    """RMS level (dBFS, over channels and time) of each mix ``[B, C, T]``: ``[B]`` (no gradient)."""
    return 10.0 * torch.log10(mix.detach().double().square().mean(dim=(1, 2)).clamp_min(1e-12))


def batch_console(stems: Tensor, values: Mapping[str, Tensor], levels: Tensor, sample_rate: int, *,
                  attack_ms: float, release_ms: float, mask: Tensor | None = None) -> Tensor:
    """Mix stems ``[B, N, T]`` with per-example settings (``values[...]`` ``[B, N]``, the master's
    ``[B]``; compressor thresholds relative, see :func:`absolute_threshold`) into ``[B, 2, T]``.
    ``levels`` ``[B, N]``: the stems' loudness (LUFS); ``mask`` ``[B, N]`` leaves tracks out."""
    x = _eq(stems, values, sample_rate)
    if "comp_ratio" in values:
        threshold = absolute_threshold(levels.double(), values["comp_threshold_rel_db"].double())
        x = compress(x, threshold, values["comp_ratio"], attack_ms, release_ms, sample_rate)
    gains = channel_gains(values)  # [B, N, 2]
    if mask is not None:
        gains = gains * mask.to(gains.dtype)[..., None]
    mix = torch.einsum("bnt,bnc->bct", x, gains.to(x.dtype))
    if "master_comp_ratio" in values:
        threshold = absolute_threshold(rms_db(mix), values["master_comp_threshold_rel_db"].double())
        mix = compress(mix, threshold[:, None].expand(-1, 2), values["master_comp_ratio"][:, None].expand(-1, 2),
                       attack_ms, release_ms, sample_rate)
    return mix
