"""A differentiable mixing console that renders like :func:`daw_bridge.render` does.

:class:`Console` is a torch module: ``console(stems)`` with mono stems ``[batch, tracks, samples]``
gives stereo mixes ``[batch, 2, samples]``: per track a four-band EQ, a compressor, fader and
constant-power pan (daw_bridge's law), then the same EQ and compressor on the master bus.
Parameters live in physical units and ranges (:mod:`daw_bridge.ranges`) behind a sigmoid;
the DSP is in :mod:`automix.console.dsp`; :func:`console_to_plan` / :func:`plan_to_console`
(:mod:`automix.console.plans`) turn settings into a mix plan and back. Specification, filters,
compressor and parity with pedalboard: ``docs/console.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from automix.console.dsp import (
    BANDS,
    KNEE_EPS_DB,
    biquad_coefficients,
    envelope,
    eq_response,
    fsm_filter,
    gain_computer_db,
    ols_signal,
    ols_spectra,
    peak_ballistics,
    peak_ballistics_adjoint,
)
from daw_bridge.errors import AutomixError
from daw_bridge.ranges import CONSOLE_RANGES, ParamRange

__all__ = [
    "COMPRESSOR_PARAMETERS",
    "EQ_PARAMETERS",
    "KNEE_EPS_DB",
    "MASTER_PARAMETERS",
    "PARAMETER_GROUPS",
    "PARAMETER_RANGES",
    "TRACK_PARAMETERS",
    "Console",
    "ConsoleError",
    "ParamRange",
    "biquad_coefficients",
    "envelope",
    "eq_response",
    "fsm_filter",
    "ols_signal",
    "ols_spectra",
    "peak_ballistics",
    "peak_ballistics_adjoint",
    "physical_value",
]

_GAIN_BLOCK = 1 << 15  # samples per block when a compressor's gain is computed without gradients
#: Filter frequencies are kept at or under this fraction of the sample rate.
MAX_FREQ_FRACTION: float = 0.45


class ConsoleError(AutomixError, ValueError):
    """A plan the console cannot represent, or parameters it cannot take."""


#: Every parameter, declared once in :mod:`daw_bridge.ranges` (shared with the mix plan):
#: name -> (minimum, maximum, default, unit, scale). Track parameters use every name; the
#: master bus every name but ``gain_db`` and ``pan``.
PARAMETER_RANGES: dict[str, ParamRange] = CONSOLE_RANGES
_EQ_RANGES = [k for k in CONSOLE_RANGES if k.split("_")[0] in ("low", "peak1", "peak2", "high")]
_COMP_RANGES = [k for k in CONSOLE_RANGES if k.startswith("comp_")]
EQ_PARAMETERS: tuple[str, ...] = tuple(_EQ_RANGES)
COMPRESSOR_PARAMETERS: tuple[str, ...] = tuple(_COMP_RANGES)
TRACK_PARAMETERS: tuple[str, ...] = tuple(PARAMETER_RANGES)
MASTER_PARAMETERS: tuple[str, ...] = EQ_PARAMETERS + COMPRESSOR_PARAMETERS
#: Groups for :meth:`Console.set_trainable`: name -> (track or master, parameter names).
PARAMETER_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "gain": ("track", ("gain_db",)),
    "pan": ("track", ("pan",)),
    "eq": ("track", EQ_PARAMETERS),
    "comp": ("track", COMPRESSOR_PARAMETERS),
    "master_eq": ("master", EQ_PARAMETERS),
    "master_comp": ("master", COMPRESSOR_PARAMETERS),
}
_EDGE = 1e-9  # values are kept this fraction inside the range (the sigmoid never reaches it)


# --------------------------------------------------------------------------- parameter mapping


def _to_unit(name: str, value: Tensor) -> Tensor:
    r = PARAMETER_RANGES[name]
    if r.scale == "log":
        u = (torch.log(value) - math.log(r.minimum)) / (math.log(r.maximum) - math.log(r.minimum))
    else:
        u = (value - r.minimum) / (r.maximum - r.minimum)
    return u.clamp(_EDGE, 1.0 - _EDGE)


def _from_unit(name: str, u: Tensor) -> Tensor:
    r = PARAMETER_RANGES[name]
    if r.scale == "log":
        lo, hi = math.log(r.minimum), math.log(r.maximum)
        return torch.exp(lo + (hi - lo) * u)
    return r.minimum + (r.maximum - r.minimum) * u


def physical_value(name: str, raw: Tensor, sample_rate: float) -> Tensor:
    """Parameter ``name``'s physical value from its unconstrained ``raw`` value (a sigmoid onto its
    range; filter frequencies at most :data:`MAX_FREQ_FRACTION` of the sample rate)."""
    v = _from_unit(name, torch.sigmoid(raw))
    if name.endswith("_freq_hz"):
        v = v.clamp_max(MAX_FREQ_FRACTION * sample_rate)
    return v


def check_value(name: str, value: float) -> None:
    r = PARAMETER_RANGES[name]
    if not (math.isfinite(value) and r.minimum <= value <= r.maximum):
        raise ConsoleError(f"{name} = {value} is outside [{r.minimum}, {r.maximum}] {r.unit}".rstrip())


# --------------------------------------------------------------------------- the console


class Console(nn.Module):
    """A differentiable console: ``forward(stems [batch, tracks, samples]) -> [batch, 2, samples]``.

    ``eq``, ``compressor``, ``master_eq``, ``master_compressor`` switch stages on (all on by
    default). A stage whose parameters are all neutral (EQ gains 0 dB; ratio 1 and makeup 0 dB)
    and not trainable is skipped, so a neutral console is exactly gain and pan.
    ``compressor_mode``: ``"juce"`` (pedalboard's Compressor, exact, slow) or ``"dasp"``
    (dasp-pytorch's compressor, fast, release ignored; see the module notes).
    """

    def __init__(
        self,
        n_tracks: int,
        sample_rate: int,
        *,
        eq: bool = True,
        compressor: bool = True,
        master_eq: bool = True,
        master_compressor: bool = True,
        compressor_mode: Literal["juce", "dasp"] = "juce",
        names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(n_tracks, bool) or not isinstance(n_tracks, int) or n_tracks < 1:
            raise ConsoleError(f"n_tracks must be a positive integer, got {n_tracks!r}")
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ConsoleError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        if compressor_mode not in ("juce", "dasp"):
            raise ConsoleError(f"compressor_mode must be 'juce' or 'dasp', got {compressor_mode!r}")
        if names is not None and len(names) != n_tracks:
            raise ConsoleError(f"{len(names)} names for {n_tracks} tracks")
        self.n_tracks = n_tracks
        self.sample_rate = sample_rate
        self.stages = {"eq": eq, "comp": compressor, "master_eq": master_eq, "master_comp": master_compressor}
        self.compressor_mode = compressor_mode
        self.names = list(names) if names is not None else [f"track{i + 1}" for i in range(n_tracks)]
        self.track = nn.ParameterDict(
            {
                k: nn.Parameter(
                    _logit(_to_unit(k, torch.full((n_tracks,), PARAMETER_RANGES[k].default, dtype=torch.float64)))
                )
                for k in TRACK_PARAMETERS
            }
        )
        self.master = nn.ParameterDict(
            {
                k: nn.Parameter(_logit(_to_unit(k, torch.full((1,), PARAMETER_RANGES[k].default, dtype=torch.float64))))
                for k in MASTER_PARAMETERS
            }
        )

    # ------------------------------------------------------------------ parameters

    def set_trainable(self, groups: Sequence[str]) -> Console:
        """Make only the parameters of ``groups`` (keys of :data:`PARAMETER_GROUPS`) trainable."""
        unknown = sorted(set(groups) - set(PARAMETER_GROUPS))
        if unknown:
            raise ConsoleError(f"unknown parameter group(s) {unknown}; use {sorted(PARAMETER_GROUPS)}")
        for p in self.parameters():
            p.requires_grad_(False)
        for g in groups:
            where, names = PARAMETER_GROUPS[g]
            for k in names:
                (self.track if where == "track" else self.master)[k].requires_grad_(True)
        return self

    def _physical(self, where: str, name: str) -> Tensor:
        return physical_value(name, (self.track if where == "track" else self.master)[name], self.sample_rate)

    def values(self, where: Literal["track", "master"] = "track", names: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Physical values (float64, with gradient): track parameters ``[tracks]``, master ``[1]``
        (``names``: only these)."""
        if names is None:
            names = TRACK_PARAMETERS if where == "track" else MASTER_PARAMETERS
        return {k: self._physical(where, k) for k in names}

    def track_values(self) -> list[dict[str, float]]:
        """The tracks' settings as plain floats, one dict per track."""
        with torch.no_grad():
            v = self.values("track")
        return [{k: float(t[i]) for k, t in v.items()} for i in range(self.n_tracks)]

    def master_values(self) -> dict[str, float]:
        with torch.no_grad():
            return {k: float(t[0]) for k, t in self.values("master").items()}

    @torch.no_grad()
    def set_values(self, values: Mapping[str, Any], where: Literal["track", "master"] = "track") -> Console:
        """Set physical values: ``{name: float or per-track sequence}`` (validated against the ranges)."""
        params = self.track if where == "track" else self.master
        for k, v in values.items():
            if k not in params:
                raise ConsoleError(f"{where} has no parameter {k!r}; it has {', '.join(params)}")
            t = torch.as_tensor(v, dtype=torch.float64).expand(params[k].shape).clone()
            for x in t.tolist():
                check_value(k, x)
            params[k].copy_(_logit(_to_unit(k, t)))
        return self

    def _stage_active(self, stage: str) -> bool:
        if not self.stages[stage]:
            return False
        where = "master" if stage.startswith("master") else "track"
        names = EQ_PARAMETERS if stage.endswith("eq") else COMPRESSOR_PARAMETERS
        params = self.track if where == "track" else self.master
        if any(params[k].requires_grad for k in names):
            return True
        with torch.no_grad():
            if stage.endswith("eq"):
                return any(bool((self._physical(where, f"{b}_gain_db").abs() > 1e-6).any()) for b, _ in BANDS)
            ratio = self._physical(where, "comp_ratio")
            makeup = self._physical(where, "comp_makeup_db")
            return bool(((ratio - 1).abs() > 1e-6).any() or (makeup.abs() > 1e-6).any())

    # ------------------------------------------------------------------ processing

    def _eq(self, x: Tensor, v: Mapping[str, Tensor]) -> Tensor:
        """``x`` ``[M, 1, N]``; ``v`` per-signal ``[M]`` values."""
        return fsm_filter(x, lambda freqs: eq_response(v, freqs, self.sample_rate), self.sample_rate)

    def _comp(self, x: Tensor, v: Mapping[str, Tensor]) -> Tensor:
        """``x`` ``[M, C, N]``; ``v`` per-signal ``[M]`` values."""
        if self.compressor_mode == "dasp":
            from dasp_pytorch.functional import compressor

            d = x.dtype
            return compressor(
                x, self.sample_rate, v["comp_threshold_db"].to(d), v["comp_ratio"].to(d),
                v["comp_attack_ms"].to(d), v["comp_release_ms"].to(d),
                v["comp_knee_db"].clamp_min(KNEE_EPS_DB).to(d), v["comp_makeup_db"].to(d),
            )  # fmt: skip
        env = envelope(x, v["comp_attack_ms"], v["comp_release_ms"], self.sample_rate)
        p = {k: v[k].view(-1, 1, 1).to(x.dtype) for k in ("comp_threshold_db", "comp_ratio", "comp_knee_db", "comp_makeup_db")}

        def apply(x: Tensor, env: Tensor) -> Tensor:
            level_db = 20.0 * torch.log10(env.clamp_min(1e-10))
            gain_db = gain_computer_db(level_db, p["comp_threshold_db"], p["comp_ratio"], p["comp_knee_db"])
            return x * torch.pow(10.0, (gain_db + p["comp_makeup_db"]) / 20.0)

        if torch.is_grad_enabled() and (x.requires_grad or any(t.requires_grad for t in p.values())):
            return apply(x, env)
        out = torch.empty_like(x)  # a render: block by block, so the temporaries stay in the cache
        for a in range(0, x.shape[-1], _GAIN_BLOCK):
            out[..., a : a + _GAIN_BLOCK] = apply(x[..., a : a + _GAIN_BLOCK], env[..., a : a + _GAIN_BLOCK])
        return out

    def _track_compressors(self, x: Tensor, per_signal: Mapping[str, Tensor]) -> Tensor:
        """``x`` ``[b, t, n]`` through the tracks' compressors; a render leaves out those that do
        nothing (ratio 1, makeup 0 dB), so a long render loops over fewer signals."""
        b, t, n = x.shape
        flat = x.reshape(b * t, 1, n)
        busy = ((per_signal["comp_ratio"] - 1.0).abs() > 1e-6) | (per_signal["comp_makeup_db"].abs() > 1e-6)
        grads = torch.is_grad_enabled() and (x.requires_grad or any(v.requires_grad for v in per_signal.values()))
        if grads or bool(busy.all()):
            return self._comp(flat, per_signal).reshape(b, t, n)
        out = flat.clone()
        idx = torch.nonzero(busy).flatten()
        if len(idx):
            out[idx] = self._comp(flat[idx], {k: v[idx] for k, v in per_signal.items()})
        return out.reshape(b, t, n)

    def pan_gains(self) -> Tensor:
        """``[tracks, 2]`` amplitude factors (gain x pan law), float64."""
        v = self.values("track", ("gain_db", "pan"))
        g = torch.pow(10.0, v["gain_db"] / 20.0)
        theta = (v["pan"] + 1.0) * (math.pi / 4.0)
        return torch.stack([g * torch.cos(theta), g * torch.sin(theta)], dim=-1)

    def forward(self, stems: Tensor) -> Tensor:
        if stems.ndim == 2:
            stems = stems.unsqueeze(0)
        if stems.ndim != 3 or stems.shape[1] != self.n_tracks:
            raise ConsoleError(
                f"stems must be [batch, {self.n_tracks} tracks, samples] (mono stems), got {tuple(stems.shape)}"
            )
        b, t, n = stems.shape
        x = stems
        tv = self.values("track")
        per_signal = {k: v.repeat(b) for k, v in tv.items()}  # [b * t], song-major like x.reshape
        if self._stage_active("eq"):
            x = self._eq(x.reshape(b * t, 1, n), per_signal).reshape(b, t, n)
        if self._stage_active("comp"):
            x = self._track_compressors(x, per_signal)
        coeffs = self.pan_gains().to(x.dtype)  # [t, 2]: rounded like daw_bridge's float32 coefficients
        mix = torch.einsum("btn,tc->bcn", x, coeffs)
        mv = self.values("master")
        if self._stage_active("master_eq"):
            per_channel = {k: v.expand(b * 2) for k, v in mv.items()}
            mix = self._eq(mix.reshape(b * 2, 1, n), per_channel).reshape(b, 2, n)
        if self._stage_active("master_comp"):
            mix = self._comp(mix, {k: v.expand(b) for k, v in mv.items()})
        return mix

    def extra_repr(self) -> str:
        on = ", ".join(k for k, v in self.stages.items() if v)
        return f"n_tracks={self.n_tracks}, sample_rate={self.sample_rate}, stages=[{on}], compressor={self.compressor_mode}"


def _logit(u: Tensor) -> Tensor:
    return torch.log(u) - torch.log1p(-u)
