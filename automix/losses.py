"""Training losses: sample-domain, SI-SDR, multi-resolution STFT and a perceptual stereo loss.

Details: ``docs/losses.md``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal, Sequence

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from torch import Tensor

__all__ = [
    "LOSS_NAMES",
    "DEFAULT_FFT_SIZES",
    "LossTerm",
    "LossSpec",
    "parse_loss",
    "build_loss",
    "CombinedLoss",
    "swap_to_nearest",
    "L1Loss",
    "MSELoss",
    "SISDRLoss",
    "MultiResolutionSTFTLoss",
    "StereoPerceptualLoss",
    "a_weighting_db",
    "k_weighting_db",
    "frequency_weights",
    "spectral_convergence_log_mag",
]

LOSS_NAMES = ("l1", "mse", "si_sdr", "mrstft", "stereo_perceptual")

#: FFT sizes of the STFT losses when a term does not set ``fft_sizes`` (hop = size // 4, window = size)
DEFAULT_FFT_SIZES = (2048, 1024, 512)

#: options of :class:`LossTerm` -> the term names that use them
_OPTION_USERS: dict[str, tuple[str, ...]] = {
    "fft_sizes": ("mrstft", "stereo_perceptual"),
    "weighting": ("mrstft", "stereo_perceptual"),
    "balance_weight": ("stereo_perceptual",),
}

#: defaults of the options, per term name
_OPTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "mrstft": {"fft_sizes": list(DEFAULT_FFT_SIZES), "weighting": "none"},
    "stereo_perceptual": {"fft_sizes": list(DEFAULT_FFT_SIZES), "weighting": "k", "balance_weight": 1.0},
}

_MIN_FFT_SIZE = 16
_MAX_FFT_SIZE = 65536

# floor of |STFT|^2 before the square root (as auraloss): magnitudes are >= 1e-4, logs >= -9.2
_MAG_EPS = 1e-8


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


class LossTerm(BaseModel):
    """One weighted term of a training loss.

    ``name`` picks the loss (see the module docstring); ``weight`` (> 0, finite) multiplies it in
    the total. The options apply only to some names and are refused elsewhere; ``None`` means the
    term's default (see :meth:`resolved`):

    * ``fft_sizes`` (``mrstft``, ``stereo_perceptual``): STFT sizes in samples, default
      ``[2048, 1024, 512]``; hop ``size // 4``, Hann window of ``size`` samples;
    * ``weighting`` (``mrstft``: default ``"none"``; ``stereo_perceptual``: default ``"k"``):
      ``"a"`` IEC 61672 A-weighting, ``"k"`` ITU-R BS.1770 K-weighting, ``"none"`` flat;
    * ``balance_weight`` (``stereo_perceptual``, default 1.0, >= 0): weight of the left/right
      balance term inside the stereo loss.
    """

    model_config = ConfigDict(extra="forbid")

    name: Literal["l1", "mse", "si_sdr", "mrstft", "stereo_perceptual"]
    weight: float = Field(1.0, gt=0, allow_inf_nan=False, description="multiplier of the term in the total")
    fft_sizes: list[int] | None = Field(
        None, description="STFT sizes in samples (mrstft, stereo_perceptual); hop = size // 4"
    )
    weighting: Literal["a", "k", "none"] | None = Field(
        None, description="perceptual frequency weighting (mrstft: default none; stereo_perceptual: default k)"
    )
    balance_weight: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="weight of the left/right balance term (stereo_perceptual)"
    )

    @field_validator("fft_sizes")
    @classmethod
    def _check_fft_sizes(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("fft_sizes must list at least one FFT size")
        for n in v:
            if not _MIN_FFT_SIZE <= n <= _MAX_FFT_SIZE:
                raise ValueError(f"fft_sizes: {n} is out of range ({_MIN_FFT_SIZE} to {_MAX_FFT_SIZE} samples)")
        if len(set(v)) != len(v):
            raise ValueError(f"fft_sizes lists a size twice: {v}")
        return v

    @model_validator(mode="after")
    def _check_options(self) -> LossTerm:
        for option, users in _OPTION_USERS.items():
            if getattr(self, option) is not None and self.name not in users:
                raise ValueError(f"{option} is not an option of {self.name} (only of {', '.join(users)})")
        return self

    def resolved(self) -> LossTerm:
        """A copy with the defaults of this term's options filled in (the others stay ``None``)."""
        defaults = _OPTION_DEFAULTS.get(self.name, {})
        filled = {k: list(v) if isinstance(v, list) else v for k, v in defaults.items() if getattr(self, k) is None}
        return self.model_copy(update=filled, deep=True)

    def describe(self) -> str:
        """E.g. ``0.1*mrstft(2048,1024,512)`` or ``stereo_perceptual(2048,1024,512; weighting=k; balance=1.0)``."""
        r = self.resolved()
        text = f"{float(self.weight)!r}*{self.name}"
        if r.fft_sizes is None:
            return text
        parts = [",".join(str(n) for n in r.fft_sizes)]
        if r.weighting is not None and (r.weighting != "none" or self.name == "stereo_perceptual"):
            parts.append(f"weighting={r.weighting}")
        if r.balance_weight is not None:
            parts.append(f"balance={float(r.balance_weight)!r}")
        return f"{text}({'; '.join(parts)})"


LossSpec = str | LossTerm | list[LossTerm]

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TERM_RE = re.compile(rf"\s*(?:(?P<weight>{_NUMBER})\s*\*\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*")


def _parse_string(text: str) -> list[LossTerm]:
    """``"l1"``, ``"l1+0.1*mrstft"``, ``"0.5*l1 + 2e-1*stereo_perceptual"`` -> terms."""
    terms: list[LossTerm] = []
    pos = 0
    while True:
        m = _TERM_RE.match(text, pos)
        if m is None:
            raise ValueError(
                f"loss {text!r}: cannot read a term at {text[pos:]!r}; write terms like 'l1+0.1*mrstft'"
            )
        name = m.group("name")
        if name not in LOSS_NAMES:
            raise ValueError(f"loss {text!r}: unknown loss name {name!r}; choose from {', '.join(LOSS_NAMES)}")
        weight = m.group("weight")
        terms.append(LossTerm(name=name) if weight is None else LossTerm(name=name, weight=float(weight)))
        pos = m.end()
        if pos == len(text):
            return terms
        if text[pos] != "+":
            raise ValueError(
                f"loss {text!r}: expected '+' between terms at {text[pos:]!r}; write terms like 'l1+0.1*mrstft'"
            )
        pos += 1


def parse_loss(spec: Any) -> list[LossTerm]:
    """Read a loss specification into its terms.

    Accepts a name (``"l1"``), the string form ``"l1+0.1*mrstft"`` (terms separated by ``+``, each
    with an optional ``<weight>*`` prefix), a :class:`LossTerm`, a dict of its fields, or a list of
    any of these. Raises ``pydantic.ValidationError`` (a ``ValueError``) for an unknown key, a weight
    <= 0 or an option on a term that does not use it, ``ValueError`` for an unreadable string or an
    empty list, ``TypeError`` for anything else. The message names the offending key or term.
    """
    if isinstance(spec, LossTerm):
        return [spec]
    if isinstance(spec, str):
        if not spec.strip():
            raise ValueError("loss: empty specification; e.g. 'l1' or 'l1+0.1*mrstft'")
        return _parse_string(spec)
    if isinstance(spec, dict):
        return [LossTerm.model_validate(spec)]
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError("loss: empty list of terms")
        terms: list[LossTerm] = []
        for item in spec:
            if isinstance(item, (list, tuple)):
                raise TypeError(f"loss: a list of terms cannot hold a list ({item!r})")
            terms.extend(parse_loss(item))
        return terms
    raise TypeError(f"loss: expected a name, a term (dict) or a list of terms, got {type(spec).__name__}")


# --------------------------------------------------------------------------------------------
# frequency weightings
# --------------------------------------------------------------------------------------------

# IEC 61672-1 A-weighting pole frequencies (Hz)
_A_F1, _A_F2, _A_F3, _A_F4 = 20.598997, 107.65265, 737.86223, 12194.217

def a_weighting_db(freqs_hz: np.ndarray) -> np.ndarray:
    """IEC 61672-1 A-weighting in dB at ``freqs_hz`` (analog formula), normalised to exactly 0 dB at 1 kHz.

    ``R_A(f) = f4^2 f^4 / ((f^2 + f1^2) sqrt((f^2 + f2^2)(f^2 + f3^2)) (f^2 + f4^2))`` with
    f1..f4 = 20.6, 107.7, 737.9, 12194 Hz; ``A(f) = 20 log10(R_A(f) / R_A(1000))``. Returns -inf at 0 Hz.
    Same shape as the input, float64.
    """
    f = np.abs(np.asarray(freqs_hz, dtype=np.float64))

    def gain(f2: np.ndarray | float) -> np.ndarray | float:
        return (_A_F4**2 * f2**2) / (
            (f2 + _A_F1**2) * np.sqrt((f2 + _A_F2**2) * (f2 + _A_F3**2)) * (f2 + _A_F4**2)
        )

    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(gain(f * f)) - 20.0 * math.log10(gain(1000.0**2))


def k_weighting_db(freqs_hz: np.ndarray, sample_rate: int) -> np.ndarray:
    """Magnitude response in dB of the BS.1770 K-weighting filters at ``sample_rate`` (Hz).

    Evaluates the two digital biquads of :func:`daw_bridge.loudness.k_weighting_sos` at ``freqs_hz`` (the digital
    response, so it differs from the analog one near Nyquist; frequencies above Nyquist alias).
    About +4 dB above 2 kHz, 0 dB near 500 Hz, -inf at 0 Hz. Same shape as the input, float64.
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    z = np.exp(-2j * np.pi * f / float(sample_rate))  # z^-1 on the unit circle
    response = np.ones_like(z)
    from daw_bridge.loudness import k_weighting_sos

    for b0, b1, b2, a0, a1, a2 in k_weighting_sos(sample_rate):
        response = response * (b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.abs(response))


def frequency_weights(n_fft: int, sample_rate: int | None, weighting: str) -> np.ndarray:
    """Linear gains ``10 ** (dB / 20)`` of a weighting at the ``n_fft // 2 + 1`` STFT bin centres.

    ``weighting`` is ``"a"``, ``"k"`` or ``"none"`` (all ones; ``sample_rate`` may then be ``None``).
    Bin ``k`` is at ``k * sample_rate / n_fft`` Hz. Returns float64 ``[n_fft // 2 + 1]``; 0 at DC
    for ``"a"`` and ``"k"``.
    """
    n_bins = n_fft // 2 + 1
    if weighting == "none":
        return np.ones(n_bins)
    if weighting not in ("a", "k"):
        raise ValueError(f"unknown frequency weighting {weighting!r}; choose a, k or none")
    if sample_rate is None or sample_rate <= 0:
        raise ValueError(f"{weighting}-weighting needs a positive sample rate, got {sample_rate}")
    freqs = np.arange(n_bins) * (float(sample_rate) / n_fft)
    db = a_weighting_db(freqs) if weighting == "a" else k_weighting_db(freqs, sample_rate)
    return 10.0 ** (db / 20.0)


# --------------------------------------------------------------------------------------------
# loss modules
# --------------------------------------------------------------------------------------------


def _check_pair(estimate: Tensor, reference: Tensor) -> None:
    if not isinstance(estimate, Tensor) or not isinstance(reference, Tensor):
        raise TypeError("a loss takes two tensors (estimate, reference)")
    if estimate.dim() != 3 or estimate.shape != reference.shape:
        raise ValueError(
            "a loss takes estimate and reference of the same shape [batch, channels, samples], got "
            f"{tuple(estimate.shape)} and {tuple(reference.shape)}"
        )


class _AudioLoss(torch.nn.Module):
    """Base: checks shapes, casts to float32 and disables autocast around :meth:`_loss`."""

    def forward(self, estimate: Tensor, reference: Tensor) -> Tensor:
        """``estimate``, ``reference``: ``[batch, channels, samples]`` -> float32 scalar."""
        _check_pair(estimate, reference)
        with torch.autocast(device_type=estimate.device.type, enabled=False):
            return self._loss(estimate.float(), reference.float())

    def _loss(self, estimate: Tensor, reference: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class L1Loss(_AudioLoss):
    """Mean absolute sample error ``mean |estimate - reference|`` over batch, channels and samples."""

    def _loss(self, estimate: Tensor, reference: Tensor) -> Tensor:
        return (estimate - reference).abs().mean()


class MSELoss(_AudioLoss):
    """Mean squared sample error ``mean (estimate - reference)^2`` over batch, channels and samples."""

    def _loss(self, estimate: Tensor, reference: Tensor) -> Tensor:
        return (estimate - reference).square().mean()


class SISDRLoss(_AudioLoss):
    """Negative scale-invariant SDR in dB (Le Roux et al., 2019), per channel, averaged over batch and channels.

    With zero-mean signals ``s`` (reference) and ``e`` (estimate) of one channel,
    ``alpha = <e, s> / (|s|^2 + eps)`` and
    ``SI-SDR = 10 log10(|alpha s|^2 / (|alpha s - e|^2 + eps) + eps)``; the loss is ``-SI-SDR``.
    Computed by ``auraloss.time.SISDRLoss`` (eps = 1e-8): finite on silence (an all-zero estimate
    or reference scores +80 dB, with zero gradient), about -100 dB for an exact estimate of a
    full-scale-ish signal. Scale-invariant: ``0.5 * reference`` scores like ``reference``.
    """

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        import auraloss.time

        self.eps = eps
        self.impl = auraloss.time.SISDRLoss(zero_mean=True, eps=eps, reduction="mean")

    def _loss(self, estimate: Tensor, reference: Tensor) -> Tensor:
        return self.impl(estimate, reference)


def spectral_convergence_log_mag(est_mag: Tensor, ref_mag: Tensor, log_weights: Tensor | None = None) -> Tensor:
    """Spectral convergence plus log-magnitude L1 of two magnitude tensors ``[..., bins, frames]``.

    ``|| ref - est ||_F / || ref ||_F + mean(v(f) |log est - log ref|)``, the Frobenius norms taken over
    the whole tensor (the batch included), as ``auraloss.freq.STFTLoss``. ``log_weights`` (``v``,
    ``[bins, 1]``, default all ones) weights the log differences per bin: a gain applied to both
    magnitudes cancels in a log difference, so a frequency weighting must enter the log term this
    way. Magnitudes must be > 0 (floor them, e.g. at 1e-4).
    """
    sc = torch.linalg.vector_norm(ref_mag - est_mag) / torch.linalg.vector_norm(ref_mag)
    log_diff = (torch.log(est_mag) - torch.log(ref_mag)).abs()
    if log_weights is not None:
        log_diff = log_diff * log_weights
    return sc + log_diff.mean()


def _check_length(n_samples: int, fft_sizes: Sequence[int], what: str) -> None:
    need = max(fft_sizes) // 2 + 1
    if n_samples < need:
        raise ValueError(
            f"{what}: {n_samples} samples are too short for an FFT size of {max(fft_sizes)} "
            f"(needs at least {need}); use longer segments or smaller fft_sizes"
        )


class _STFTBank(torch.nn.Module):
    """Per FFT size (as buffers): the Hann window, the squared weights ``W(f)^2`` and the log-term
    weights ``W(f) / mean W`` (both ``[bins, 1]``, all ones for ``"none"``)."""

    def __init__(self, fft_sizes: Sequence[int], sample_rate: int | None, weighting: str) -> None:
        super().__init__()
        self.fft_sizes = [int(n) for n in fft_sizes]
        for i, n in enumerate(self.fft_sizes):
            self.register_buffer(f"window_{i}", torch.hann_window(n), persistent=False)
            w = frequency_weights(n, sample_rate, weighting)
            self.register_buffer(f"weight2_{i}", torch.from_numpy(w * w).float().unsqueeze(-1), persistent=False)
            self.register_buffer(f"logw_{i}", torch.from_numpy(w / w.mean()).float().unsqueeze(-1), persistent=False)

    def resolutions(self, like: Tensor) -> list[tuple[int, Tensor, Tensor, Tensor]]:
        """``[(n_fft, window, weight2, log_weights)]`` on the device and in the dtype of ``like``."""
        return [
            (n, *(getattr(self, f"{k}_{i}").to(like) for k in ("window", "weight2", "logw")))
            for i, n in enumerate(self.fft_sizes)
        ]

    @staticmethod
    def stft(x: Tensor, n_fft: int, window: Tensor) -> Tensor:
        """``x``: ``[..., samples]`` -> complex ``[..., n_fft // 2 + 1, frames]`` (hop ``n_fft // 4``)."""
        flat = x.reshape(-1, x.shape[-1])
        spec = torch.stft(
            flat, n_fft, hop_length=n_fft // 4, win_length=n_fft, window=window,
            center=True, pad_mode="reflect", return_complex=True,
        )
        return spec.reshape(*x.shape[:-1], *spec.shape[-2:])


def _power(spec: Tensor) -> Tensor:
    return spec.real.square() + spec.imag.square()


def _weighted_mag(power: Tensor, weight2: Tensor) -> Tensor:
    """``sqrt(max(W^2 |X|^2, 1e-8))``: weighted magnitude floored at 1e-4 (finite log and gradient)."""
    return torch.sqrt(torch.clamp(power * weight2, min=_MAG_EPS))


class MultiResolutionSTFTLoss(_AudioLoss):
    """Multi-resolution STFT loss: mean over FFT sizes of spectral convergence + log-magnitude L1.

    Per FFT size ``n`` (hop ``n // 4``, Hann window ``n``), on the magnitudes of every channel of
    every item: ``|| |Y| - |X| ||_F / || |Y| ||_F + mean |log |X| - log |Y||`` (X estimate, Y reference,
    magnitudes floored at 1e-4), the norms over the whole batch. With ``weighting="none"`` this is
    ``auraloss.freq.MultiResolutionSTFTLoss``; with ``"a"`` or ``"k"`` (``sample_rate`` needed) the
    magnitudes are first multiplied by the weighting's gain ``W(f)`` at each bin and each bin's log
    difference by ``W(f) / mean_f W`` (see :func:`spectral_convergence_log_mag`). Works on any
    channel count; finite on silence (an all-zero estimate gets zero gradient).
    """

    def __init__(
        self,
        fft_sizes: Sequence[int] = DEFAULT_FFT_SIZES,
        sample_rate: int | None = None,
        weighting: Literal["a", "k", "none"] = "none",
    ) -> None:
        super().__init__()
        self.fft_sizes = [int(n) for n in fft_sizes]
        self.weighting = weighting
        self.sample_rate = sample_rate
        self.aura: torch.nn.Module | None = None
        self.bank: _STFTBank | None = None
        if weighting == "none":
            import auraloss.freq

            self.aura = auraloss.freq.MultiResolutionSTFTLoss(
                fft_sizes=list(self.fft_sizes),
                hop_sizes=[n // 4 for n in self.fft_sizes],
                win_lengths=list(self.fft_sizes),
            )
        else:
            self.bank = _STFTBank(self.fft_sizes, sample_rate, weighting)

    def _loss(self, estimate: Tensor, reference: Tensor) -> Tensor:
        _check_length(estimate.shape[-1], self.fft_sizes, "mrstft")
        if self.aura is not None:
            return self.aura(estimate.contiguous(), reference.contiguous())
        assert self.bank is not None
        total = estimate.new_zeros(())
        for n, window, weight2, log_w in self.bank.resolutions(estimate):
            est = _weighted_mag(_power(self.bank.stft(estimate, n, window)), weight2)
            ref = _weighted_mag(_power(self.bank.stft(reference, n, window)), weight2)
            total = total + spectral_convergence_log_mag(est, ref, log_w)
        return total / len(self.fft_sizes)


class StereoPerceptualLoss(_AudioLoss):
    """Perceptually weighted mid/side STFT loss plus a left/right balance term (stereo only).

    A plain sum/difference STFT loss (``auraloss.freq.SumAndDifferenceSTFTLoss``) cannot tell left
    from right: ``|STFT(L - R)| = |STFT(R - L)|``, so a channel-swapped mix scores as perfect. This
    loss adds a sign-sensitive balance term. For each FFT size ``n`` (hop ``n // 4``, Hann window)
    with ``L``, ``R`` the complex STFTs of the channels and ``W(f)`` the weighting's linear gain at
    each bin (A, K or 1, at ``sample_rate``)::

        M = L + R,  S = L - R                                  (mid/side spectra, = STFT(L +- R))
        |.|_W = sqrt(max(W^2 |.|^2, 1e-8))                     (weighted, floored magnitude)
        v = W / mean_f W                                       (per-bin weight of the log term)
        D(X, Y) = ||Y|_W - |X|_W||_F / ||Y|_W||_F + mean(v |log|X|_W - log|Y|_W|)   (SC + log-mag L1)
        ms = (D(M_est, M_ref) + D(S_est, S_ref)) / 2
        b = (|L|^2 - |R|^2) / (|L|^2 + |R|^2 + e)              (balance per bin, in [-1, 1])
        w = W^2 (|L_ref|^2 + |R_ref|^2) / sum_bins,frames W^2 (|L_ref|^2 + |R_ref|^2)   (per item)
        bal = mean_batch sum_bins,frames w |b_est - b_ref|     (in [0, 2])
        loss_n = ms + balance_weight * bal

    and the loss is the mean of ``loss_n`` over the FFT sizes (norms and means over the whole batch,
    as ``auraloss``). ``v`` is needed because a per-bin gain cancels in a log difference. ``e`` (the
    same for estimate and reference) is 1e-4 times the item's mean reference bin energy plus 1e-12:
    the balance of a bin 40 dB below that average tends to 0 (centre) instead of being noise, which
    also bounds the gradient where the estimate is near-silent. ``w`` is the bin's share of the
    perceptually weighted reference energy, so near-silent bins do not dominate; ``bal`` is 0 for a
    silent reference. A channel-swapped estimate has ``ms = 0`` and ``bal = 2 sum w |b_ref|``.
    ``bal`` barely depends on the estimate's overall gain (only through ``e``); the mid/side terms do.
    Raises ``ValueError`` if the signals do not have exactly 2 channels.
    """

    def __init__(
        self,
        sample_rate: int | None,
        fft_sizes: Sequence[int] = DEFAULT_FFT_SIZES,
        weighting: Literal["a", "k", "none"] = "k",
        balance_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if not (balance_weight >= 0 and math.isfinite(balance_weight)):
            raise ValueError(f"balance_weight must be finite and >= 0, got {balance_weight}")
        self.fft_sizes = [int(n) for n in fft_sizes]
        self.sample_rate = sample_rate
        self.weighting = weighting
        self.balance_weight = float(balance_weight)
        self.bank = _STFTBank(self.fft_sizes, sample_rate, weighting)
        self.balance_floor = 1e-4  # e = balance_floor * mean reference bin energy + 1e-12

    def components(self, estimate: Tensor, reference: Tensor) -> dict[str, Tensor]:
        """The parts, each averaged over the FFT sizes: ``{"mid", "side", "balance", "total"}`` (float32 scalars).

        ``total = (mid + side) / 2 + balance_weight * balance`` (what :meth:`forward` returns).
        """
        _check_pair(estimate, reference)
        if estimate.shape[1] != 2:
            raise ValueError(
                f"stereo_perceptual needs stereo signals (2 channels), got {estimate.shape[1]} channels"
            )
        _check_length(estimate.shape[-1], self.fft_sizes, "stereo_perceptual")
        with torch.autocast(device_type=estimate.device.type, enabled=False):
            est, ref = estimate.float(), reference.float()
            mid = side = balance = est.new_zeros(())
            for n, window, weight2, log_w in self.bank.resolutions(est):
                e_spec = self.bank.stft(est, n, window)  # [B, 2, F, N]
                r_spec = self.bank.stft(ref, n, window)
                e_l, e_r, r_l, r_r = e_spec[:, 0], e_spec[:, 1], r_spec[:, 0], r_spec[:, 1]
                mid = mid + spectral_convergence_log_mag(
                    _weighted_mag(_power(e_l + e_r), weight2), _weighted_mag(_power(r_l + r_r), weight2), log_w
                )
                side = side + spectral_convergence_log_mag(
                    _weighted_mag(_power(e_l - e_r), weight2), _weighted_mag(_power(r_l - r_r), weight2), log_w
                )
                balance = balance + self._balance(_power(e_l), _power(e_r), _power(r_l), _power(r_r), weight2)
            k = len(self.fft_sizes)
            mid, side, balance = mid / k, side / k, balance / k
            total = 0.5 * (mid + side) + self.balance_weight * balance
        return {"mid": mid, "side": side, "balance": balance, "total": total}

    def _balance(self, e_l: Tensor, e_r: Tensor, r_l: Tensor, r_r: Tensor, weight2: Tensor) -> Tensor:
        """Energy-share-weighted L1 distance of the per-bin balances; inputs ``[B, F, N]`` powers."""
        r_sum = r_l + r_r
        floor = self.balance_floor * r_sum.mean(dim=(-2, -1), keepdim=True) + 1e-12
        b_est = (e_l - e_r) / (e_l + e_r + floor)
        b_ref = (r_l - r_r) / (r_sum + floor)
        share = weight2 * r_sum
        share = share / (share.sum(dim=(-2, -1), keepdim=True) + 1e-12)
        return (share * (b_est - b_ref).abs()).sum(dim=(-2, -1)).mean()

    def forward(self, estimate: Tensor, reference: Tensor) -> Tensor:
        """``estimate``, ``reference``: ``[batch, 2, samples]`` -> float32 scalar (see the class docstring)."""
        return self.components(estimate, reference)["total"]


# --------------------------------------------------------------------------------------------
# combination
# --------------------------------------------------------------------------------------------


def _build_term(term: LossTerm, sample_rate: int) -> torch.nn.Module:
    r = term.resolved()
    if r.name == "l1":
        return L1Loss()
    if r.name == "mse":
        return MSELoss()
    if r.name == "si_sdr":
        return SISDRLoss()
    if r.name == "mrstft":
        assert r.fft_sizes is not None and r.weighting is not None
        return MultiResolutionSTFTLoss(r.fft_sizes, sample_rate, r.weighting)
    if r.name == "stereo_perceptual":
        assert r.fft_sizes is not None and r.weighting is not None and r.balance_weight is not None
        return StereoPerceptualLoss(sample_rate, r.fft_sizes, r.weighting, r.balance_weight)
    raise ValueError(f"unknown loss {r.name!r}")  # pragma: no cover - LossTerm refuses it


class CombinedLoss(torch.nn.Module):
    """Weighted sum of loss terms: ``total = sum(weight * term(estimate, reference))``.

    ``terms`` are the parsed :class:`LossTerm` (in order); ``names`` the keys of the per-term dict
    (the term's name, with ``_2``, ``_3``... appended when a name repeats).
    """

    def __init__(self, terms: Sequence[LossTerm], sample_rate: int, *, swap_invariant: bool = False) -> None:
        super().__init__()
        if not terms:
            raise ValueError("a loss needs at least one term")
        if not (isinstance(sample_rate, int) and sample_rate > 0):
            raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
        self.terms: list[LossTerm] = list(terms)
        self.sample_rate = sample_rate
        self.losses = torch.nn.ModuleList(_build_term(t, sample_rate) for t in self.terms)
        self.swap_invariant = bool(swap_invariant)
        self.names: list[str] = []
        seen: dict[str, int] = {}
        for t in self.terms:
            seen[t.name] = seen.get(t.name, 0) + 1
            self.names.append(t.name if seen[t.name] == 1 else f"{t.name}_{seen[t.name]}")

    def forward(self, estimate: Tensor, reference: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """``estimate``, ``reference``: ``[batch, channels, samples]``.

        Returns ``(total, parts)``: ``total`` the float32 scalar ``sum(weight * term)`` (with
        gradient), ``parts`` ``{name: detached float32 scalar}`` of each unweighted term. Computed in
        float32 with autocast disabled, whatever the input dtype.

        With ``swap_invariant`` (stereo only) each example's reference is first matched to the
        estimate as it is or with its two channels swapped, whichever is nearer in mean absolute
        error (:func:`swap_to_nearest`); ``parts["swapped"]`` is the fraction of examples swapped.
        """
        _check_pair(estimate, reference)
        parts: dict[str, Tensor] = {}
        with torch.autocast(device_type=estimate.device.type, enabled=False):
            est, ref = estimate.float(), reference.float()
            if self.swap_invariant and ref.shape[1] == 2:
                ref, swapped = swap_to_nearest(est, ref)
                parts["swapped"] = swapped.float().mean()
            total = est.new_zeros(())
            for name, term, loss in zip(self.names, self.terms, self.losses):
                value = loss(est, ref)
                total = total + float(term.weight) * value
                parts[name] = value.detach()
        return total, parts

    def describe(self) -> str:
        """E.g. ``1.0*l1 + 0.1*mrstft(2048,1024,512)`` (for logs and model cards), with
        ``, channel-swap invariant`` appended when ``swap_invariant`` is set."""
        text = " + ".join(t.describe() for t in self.terms)
        return text + (", channel-swap invariant" if self.swap_invariant else "")

    def extra_repr(self) -> str:
        return f"{self.describe()}, sample_rate={self.sample_rate}"


def swap_to_nearest(estimate: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
    """Each example's stereo reference as it is or with left and right swapped, whichever is nearer.

    ``estimate``, ``reference``: ``[batch, 2, samples]``. Nearer means a smaller mean absolute
    sample error against ``estimate`` (ties keep the reference as it is); the choice carries no
    gradient. Returns ``(matched reference, swapped)`` with ``swapped`` a bool ``[batch]``.

    This is permutation-invariant training over the two channel orders: for corpora in which some
    references are mixed from the drummer's and some from the audience's side, which the mono
    stems cannot tell apart, a plain loss pulls every source towards the centre (the average of the
    two pans); matched this way the model keeps the full width of one perspective.
    """
    if estimate.shape != reference.shape or reference.dim() != 3 or reference.shape[1] != 2:
        raise ValueError(f"swap_to_nearest needs equal [batch, 2, samples] shapes, got {tuple(estimate.shape)} "
                         f"and {tuple(reference.shape)}")
    with torch.no_grad():
        flipped = reference.flip(1)
        as_is = (estimate - reference).abs().mean(dim=(1, 2))
        swapped = (estimate - flipped).abs().mean(dim=(1, 2)) < as_is
    return torch.where(swapped[:, None, None], reference.flip(1), reference), swapped


def build_loss(spec: Any, sample_rate: int, *, swap_invariant: bool = False) -> CombinedLoss:
    """:func:`parse_loss` then :class:`CombinedLoss` at ``sample_rate`` (Hz, for the frequency weightings)."""
    return CombinedLoss(parse_loss(spec), sample_rate, swap_invariant=swap_invariant)
