"""The learned console mixer: stems in, per-track console settings out (a mix plan, not a waveform).

Any number of tracks: each track's features (its level against the whole recording, spectral
shape, crest, activity, bleed with the others, role read off its name) go through a shared
per-track encoder and a context across tracks (self-attention without positions, so the
result does not depend on the track order); a head gives each track's fader gain, pan and a
four-band EQ in the console's units and ranges (:mod:`daw_bridge.ranges`); with ``dynamics``
also each track's compressor and a master compressor (thresholds relative to the level of
what they compress, times fixed by the config). It starts at the recorded balance panned by
role (gain 0 dB, the rule-based console's pans, EQ flat, compressors all but off) and learns
corrections. :func:`track_features` is what it sees; training: :mod:`automix.train.console_trainer`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from daw_bridge.loudness import measure_loudness
from daw_bridge.rules.panning import role_pans
from daw_bridge.rules.roles import role_family

#: Role families a track can be (the rule-based console's), and one for "no role".
ROLE_FAMILIES: tuple[str, ...] = (
    "kick", "snare", "hi-hat", "tom", "overheads", "room", "ride", "crash", "percussion", "bass", "vocal",
    "guitar", "keys", "strings", "brass", "fx", "drums", "mix", "click",
)  # fmt: skip
#: Log-spaced band edges (Hz) of the spectral-shape features.
BAND_EDGES_HZ: np.ndarray = np.geomspace(40.0, 16000.0, 25)
N_FEATURES = 1 + (len(BAND_EDGES_HZ) - 1) + 3 + (len(ROLE_FAMILIES) + 1) + 3
#: What the mixer predicts per track (console parameter names, :data:`daw_bridge.ranges.CONSOLE_RANGES`).
PREDICTED: tuple[str, ...] = (
    "gain_db", "pan",
    "low_shelf_gain_db", "low_shelf_freq_hz",
    "peak1_gain_db", "peak1_freq_hz", "peak1_q",
    "peak2_gain_db", "peak2_freq_hz", "peak2_q",
    "high_shelf_gain_db", "high_shelf_freq_hz",
)  # fmt: skip
#: What a mixer with ``dynamics`` predicts besides: per track (``[B, N]``) and for the master bus (``[B]``).
#: Thresholds are dB relative to a level: a track's to its stem's loudness (LUFS), the master's to
#: the RMS level (dBFS) of the sum it compresses (:mod:`automix.console.batched`).
DYNAMICS: tuple[str, ...] = ("comp_threshold_rel_db", "comp_ratio")
MASTER_DYNAMICS: tuple[str, ...] = ("master_comp_threshold_rel_db", "master_comp_ratio")
#: Ratios under this are left out of a plan (the compressor starts all but off, at ratio ~1.06).
MIN_RATIO = 1.1
#: Where each predicted value may go: ``(low, high, centre)``; frequencies and Q on a log axis.
_SPANS: dict[str, tuple[float, float, float]] = {
    "gain_db": (-24.0, 24.0, 0.0),
    "low_shelf_gain_db": (-12.0, 12.0, 0.0), "low_shelf_freq_hz": (40.0, 400.0, 120.0),
    "peak1_gain_db": (-12.0, 12.0, 0.0), "peak1_freq_hz": (100.0, 2000.0, 450.0), "peak1_q": (0.3, 4.0, 1.0),
    "peak2_gain_db": (-12.0, 12.0, 0.0), "peak2_freq_hz": (1000.0, 10000.0, 3000.0), "peak2_q": (0.3, 4.0, 1.0),
    "high_shelf_gain_db": (-12.0, 12.0, 0.0), "high_shelf_freq_hz": (3000.0, 16000.0, 8000.0),
    "comp_threshold_rel_db": (-10.0, 30.0, 10.0), "master_comp_threshold_rel_db": (-5.0, 25.0, 10.0),
}  # fmt: skip
_FRAME = 2048
_SILENT_REL_DB = -60.0


class ConsoleMixerConfig(BaseModel):
    """Size of the learned console mixer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field("console-mixer", pattern="^console-mixer$")
    features: int = Field(N_FEATURES, ge=1)
    width: int = Field(64, ge=8, le=1024, description="per-track embedding size")
    layers: int = Field(2, ge=0, le=12, description="self-attention layers across tracks")
    heads: int = Field(4, ge=1, le=16)
    predicted: tuple[str, ...] = PREDICTED
    dynamics: bool = Field(False, description="also predict track and master compressors")
    comp_attack_ms: float = Field(5.0, gt=0.0, le=500.0, description="every compressor's attack time")
    comp_release_ms: float = Field(120.0, gt=0.0, le=5000.0, description="every compressor's release time")


# --------------------------------------------------------------------------- features


def _role_of(name: str, names: Sequence[str]) -> tuple[str | None, str | None]:
    from daw_bridge.importer import slot_role
    from daw_bridge.rules.roles import track_side
    from types import SimpleNamespace

    role = slot_role(name, names)
    return role_family(role), track_side(SimpleNamespace(role=role, name=name, file=name))


def _band_shape(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Band power (dB) relative to the track's total, over :data:`BAND_EDGES_HZ`: ``[bands]``."""
    n = x.shape[-1] // _FRAME * _FRAME
    frames = x[:n].reshape(-1, _FRAME) if n else np.zeros((1, _FRAME), np.float32)
    power = (np.abs(np.fft.rfft(frames * np.hanning(_FRAME), axis=-1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(_FRAME, 1.0 / sample_rate)
    bands = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:])])
    total = power.sum() + 1e-20
    return np.clip(10.0 * np.log10(bands / total + 1e-12) / 20.0, -4.0, 1.0)


def _dynamics(x: np.ndarray) -> tuple[float, float]:
    """(crest in dB / 20, share of frames within 30 dB of the loudest one)."""
    n = max(1, x.shape[-1] // _FRAME) * _FRAME
    frames = np.pad(x, (0, max(0, n - x.shape[-1])))[:n].reshape(-1, _FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-20)
    crest = 20.0 * math.log10((np.abs(x).max() + 1e-10) / (np.sqrt(np.mean(x**2)) + 1e-10))
    return crest / 20.0, float(np.mean(rms >= rms.max() * 10 ** (-30 / 20)))


def track_levels(stems: np.ndarray, sample_rate: int) -> np.ndarray:
    """Integrated loudness (LUFS; -70 and below: silent) of each mono stem ``[N, T]``: ``[N]``."""
    return np.array([measure_loudness(s, sample_rate) for s in np.asarray(stems, dtype=np.float32)])


def track_features(stems: np.ndarray, names: Sequence[str], sample_rate: int,
                   levels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, N_FEATURES]`` float32 of mono stems ``[N, T]`` at their recorded levels,
    and the mask ``[N]`` of tracks that sound (silent ones are left out of the mix);
    ``levels``: their :func:`track_levels` where already measured."""
    stems = np.asarray(stems, dtype=np.float32)
    levels = track_levels(stems, sample_rate) if levels is None else np.asarray(levels)
    live = levels > -70.0
    kit = 10.0 * math.log10(sum(10 ** (v / 10) for v in levels[live])) if live.any() else -70.0
    total = stems.sum(axis=0, dtype=np.float64)
    out = np.zeros((len(stems), N_FEATURES), np.float32)
    for i, (x, name) in enumerate(zip(stems, names)):
        if not live[i]:
            continue
        family, side = _role_of(name, names)
        rest = total - x
        corr = float(np.dot(x, rest) / (np.linalg.norm(x) * np.linalg.norm(rest) + 1e-12))
        crest, activity = _dynamics(x)
        role = np.zeros(len(ROLE_FAMILIES) + 1, np.float32)
        role[ROLE_FAMILIES.index(family) if family in ROLE_FAMILIES else -1] = 1.0
        sides = np.array([side == "L", side == "R", side is None], np.float32)
        out[i] = np.concatenate([[max(levels[i] - kit, _SILENT_REL_DB) / 20.0], _band_shape(x, sample_rate),
                                 [crest, activity, corr], role, sides])
    return out, live


def prior_pans(names: Sequence[str]) -> np.ndarray:
    """The rule-based console's pans by role for ``names``: where the mixer starts."""
    return np.asarray(role_pans(list(names)), dtype=np.float32)


# --------------------------------------------------------------------------- the network


class ConsoleMixerNet(nn.Module):
    """``forward(features [B, N, F], mask [B, N], pans [B, N])`` -> ``{parameter: [B, N]}`` in
    physical units; ``pans`` are the prior (role) pans it starts from."""

    def __init__(self, config: ConsoleMixerConfig | None = None) -> None:
        super().__init__()
        self.config = config or ConsoleMixerConfig()
        c = self.config
        self.encode = nn.Sequential(nn.Linear(c.features, c.width), nn.GELU(), nn.Linear(c.width, c.width))
        layer = nn.TransformerEncoderLayer(c.width, c.heads, 2 * c.width, dropout=0.0, batch_first=True, norm_first=True)
        self.context = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False) if c.layers else None
        self.head = _zero_linear(c.width, len(c.predicted))  # start at the prior: recorded balance, role pans, EQ flat
        if c.dynamics:
            self.dynamics = _zero_linear(c.width, len(DYNAMICS))
            self.master = _zero_linear(c.width, len(MASTER_DYNAMICS))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, features: torch.Tensor, mask: torch.Tensor, pans: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.encode(features)
        if self.context is not None:
            h = self.context(h, src_key_padding_mask=~mask.bool())
        raw = self.head(h)
        out = {name: _physical(name, raw[..., k], pans) for k, name in enumerate(self.config.predicted)}
        if self.config.dynamics:
            raw = self.dynamics(h)
            out.update({name: _physical(name, raw[..., k], pans) for k, name in enumerate(DYNAMICS)})
            live = mask.to(h.dtype)[..., None]
            pooled = (h * live).sum(dim=1) / live.sum(dim=1).clamp_min(1.0)  # [B, width]: the same for any order
            raw = self.master(pooled)
            out.update({name: _physical(name, raw[..., k], pans) for k, name in enumerate(MASTER_DYNAMICS)})
        return out

    def base_parameters(self) -> list[nn.Parameter]:
        """The parameters of gain, pan and EQ (all but the dynamics heads)."""
        heads = [getattr(self, name, None) for name in ("dynamics", "master")]
        skip = {id(p) for m in heads if m is not None for p in m.parameters()}
        return [p for p in self.parameters() if id(p) not in skip]


def _zero_linear(width: int, outputs: int) -> nn.Linear:
    layer = nn.Linear(width, outputs)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _physical(name: str, raw: torch.Tensor, pans: torch.Tensor) -> torch.Tensor:
    if name == "pan":
        prior = torch.atanh(0.95 * pans.to(raw.dtype))
        return torch.tanh(prior + raw)
    if name.endswith("comp_ratio"):  # 1 .. 10, ~1.06 at the start
        return 1.0 + 9.0 * torch.sigmoid(raw - 5.0)
    lo, hi, centre = _SPANS[name]
    if name.endswith("_db"):
        return centre + (hi - lo) / 2 * torch.tanh(raw)
    span = math.log(hi / lo) / 2
    mid = math.log(centre)
    return torch.exp(torch.clamp(mid + span * torch.tanh(raw), math.log(lo), math.log(hi)))
