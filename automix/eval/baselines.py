"""The baselines every evaluation table holds beside a mixer: what a mix must beat, and its ceiling.

All take mono stems ``[N, T]`` (at their recorded levels) and return ``[2, T]`` float32 at the
reference's integrated loudness, so that the rows differ in balance, pan and processing, not
in level:

* :data:`SUM_OF_STEMS`: the plain sum on both channels;
* :data:`LOUDNESS_EQUALISED_SUM`: every stem at the same loudness, summed;
* :data:`RULE_BASED_CONSOLE`: ``automix mix --model rules`` (keeps a recording's balance);
* :data:`RECORDED_BALANCE`: every stem at its recorded level, panned by role (constant power);
* :data:`ORACLE_GAIN_PAN`: the best static gain and pan per stem for this reference (non-negative
  least squares per channel): the ceiling of a gain/pan console, which knows the answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from daw_bridge.audio import SILENCE_LUFS
from daw_bridge.loudness import measure_loudness

#: System names of the baselines in reports, in table order.
SUM_OF_STEMS = "sum of stems"
LOUDNESS_EQUALISED_SUM = "loudness-equalised sum"
RULE_BASED_CONSOLE = "rule-based console"
RECORDED_BALANCE = "recorded balance panned by role"
ORACLE_GAIN_PAN = "oracle gain/pan fit"
BASELINES = (SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN)
#: Loudness every stem is brought to before the loudness-equalised sum (the sum is rescaled).
_EQUAL_STEM_LUFS = -30.0


def stems_2d(stems: np.ndarray) -> np.ndarray:
    """``stems`` as float32 ``[N, T]`` (mono stems); ValueError for other shapes."""
    arr = np.asarray(stems, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2:
        raise ValueError(f"stems must be [stems, samples] (mono stems), got shape {arr.shape}")
    return arr


def at_loudness(mix: np.ndarray, sample_rate: int, lufs: float) -> np.ndarray:
    """``mix`` scaled by one gain to ``lufs`` (silence is returned as it is)."""
    if not math.isfinite(lufs):
        raise ValueError(f"target loudness must be finite, got {lufs}")
    level = measure_loudness(mix, sample_rate)
    if level <= SILENCE_LUFS:
        return mix.astype(np.float32)
    return (mix * np.float32(10.0 ** ((lufs - level) / 20.0))).astype(np.float32)


def sum_of_stems(stems: np.ndarray) -> np.ndarray:
    """The plain sum of mono stems on both channels (no gain, no pan): ``[2, T]``."""
    mono = stems_2d(stems).sum(axis=0, dtype=np.float64).astype(np.float32)
    return np.stack([mono, mono])


def loudness_equalised_sum(stems: np.ndarray, sample_rate: int, reference_lufs: float) -> np.ndarray:
    """Every non-silent stem at the same loudness (BS.1770-4), summed on both channels, at
    ``reference_lufs``; silent stems are left out. Peaks are not limited."""
    arr = stems_2d(stems)
    if not math.isfinite(reference_lufs):
        raise ValueError(f"reference_lufs must be finite, got {reference_lufs}")
    total = np.zeros(arr.shape[1], dtype=np.float64)
    for stem in arr:
        lufs = measure_loudness(stem, sample_rate)
        if lufs > SILENCE_LUFS:
            total += stem.astype(np.float64) * 10.0 ** ((_EQUAL_STEM_LUFS - lufs) / 20.0)
    return at_loudness(np.stack([total, total]).astype(np.float32), sample_rate, reference_lufs)


def _rules(stems: np.ndarray, names: Sequence[str], sample_rate: int, reference_lufs: float, **mixer: object) -> np.ndarray:
    from automix.inference.mixers import RulesMixer
    from automix.inference.mixing import mix_audio

    target = float(np.clip(reference_lufs, -60.0, -2.0))
    return mix_audio(stems_2d(stems), sample_rate, model=RulesMixer(**mixer), names=list(names), loudness=target,
                     true_peak_db=-1.0)


def rule_based_mix(stems: np.ndarray, names: Sequence[str], sample_rate: int, reference_lufs: float) -> np.ndarray:
    """``automix mix --model rules`` of the stems (roles from ``names``) at the reference's loudness."""
    return _rules(stems, names, sample_rate, reference_lufs)


def recorded_balance_mix(stems: np.ndarray, names: Sequence[str], sample_rate: int, reference_lufs: float) -> np.ndarray:
    """Every stem at its recorded level, panned by role (the rule-based console's pans, no
    processing), at the reference's loudness."""
    return _rules(stems, names, sample_rate, reference_lufs, balance="recorded", processing=False)


def oracle_gains(stems: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The best static channel gains ``[N, 2]`` of mono stems ``[N, T]`` for the reference
    ``[2, T]``: the least-squares fader and pan fit (:func:`automix.console.closed_form.fit_gain_pan`),
    the best a gain/pan console can do."""
    from automix.console.closed_form import fit_gain_pan

    return np.asarray(fit_gain_pan(stems_2d(stems), np.asarray(reference, dtype=np.float32), mix=False).weights)


def oracle_gain_pan_mix(stems: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The stems mixed with :func:`oracle_gains`: ``[2, T]`` float32."""
    gains = oracle_gains(stems, reference)
    return (gains.T @ stems_2d(stems).astype(np.float64)).astype(np.float32)


def baseline_mixes(stems: np.ndarray, names: Sequence[str], sample_rate: int, reference: np.ndarray, *,
                   rules: bool = True) -> dict[str, np.ndarray]:
    """Every baseline of ``stems`` against ``reference`` ``[2, T]``, by system name, in table order
    (``rules=False`` leaves out the two that render with the console: the slowest)."""
    ref_lufs = measure_loudness(reference, sample_rate)
    out = {
        SUM_OF_STEMS: sum_of_stems(stems),
        LOUDNESS_EQUALISED_SUM: loudness_equalised_sum(stems, sample_rate, ref_lufs),
    }
    if rules:
        out[RULE_BASED_CONSOLE] = rule_based_mix(stems, names, sample_rate, ref_lufs)
        out[RECORDED_BALANCE] = recorded_balance_mix(stems, names, sample_rate, ref_lufs)
    from automix.console.closed_form import FitError

    try:
        out[ORACLE_GAIN_PAN] = oracle_gain_pan_mix(stems, reference[:, : stems_2d(stems).shape[1]])
    except FitError:  # the stems do not explain the reference at all: no ceiling to show
        pass
    return out
