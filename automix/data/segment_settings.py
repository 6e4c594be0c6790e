"""Options of the training-segment datasets, as typed settings (torch-free).

:class:`SegmentSettings` holds what every segment dataset takes (lengths in samples, seed,
silence threshold, sample rate); :class:`EnstSettings` (:class:`~automix.data.enst.EnstDrums`)
and :class:`CollectionSettings` (:class:`~automix.data.collection.MultitrackDataset`) add their
own. Each dataset takes ``settings=None, **options`` and calls ``Cls.of(settings, options)`` (checked).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from automix.data.keyword_settings import KeywordSettings
from automix.data.segments import STEM_GAIN_RULES
from daw_bridge.errors import AutomixError

if TYPE_CHECKING:
    from automix.data.segments import Split

__all__ = [
    "MAX_GAIN_DB",
    "MIX_LUFS",
    "SAMPLE_RATE",
    "SILENCE_DB",
    "STEM_LUFS",
    "Augmentation",
    "CollectionSettings",
    "EnstSettings",
    "SegmentSettings",
]

#: ENST-drums defaults: sample rate (Hz), loudness targets (LUFS) and gain limit (dB); why: ``docs/enst-drums.md``.
SAMPLE_RATE = 44100
STEM_LUFS = -30.0
MIX_LUFS = -23.0
MAX_GAIN_DB = 30.0
#: Training segments whose mix RMS (after the take's mix gain) is below this (dBFS) are redrawn.
SILENCE_DB = -50.0


@dataclass(frozen=True)
class SegmentSettings(KeywordSettings):
    """Options every segment dataset takes: ``input_length`` / ``output_length`` (samples; the
    output is the input's centre), ``seed`` of the random segments, ``silence_db`` (dBFS RMS
    below which a random segment is drawn again) and ``sample_rate`` (Hz)."""

    what = "segment"

    input_length: int | None = None
    output_length: int | None = None
    seed: int | None = 0
    silence_db: float = SILENCE_DB
    sample_rate: int | None = None


# --------------------------------------------------------------------------------------------
# ENST-drums


@dataclass(frozen=True)
class EnstSettings(SegmentSettings):
    """Options of :class:`~automix.data.enst.EnstDrums`; every field is also one of its keywords.

    * ``subset``, ``split``: which takes. ``split`` is a :class:`~automix.data.segments.Split`,
      a split file's path or the name of one under ``datasets/splits``; ``subset`` one of its
      subsets (None: all of them). Without ``split``, ``subset`` picks from
      :func:`~automix.data.enst.make_enst_split` of the root with its defaults; with neither,
      all takes not in ``exclude_categories``.
    * ``target``: ``"wet"`` or ``"dry"``.
    * ``model`` / ``input_length`` / ``output_length``: segment sizes
      (:func:`~automix.data.segments.segment_sizes`).
    * ``mode``: ``"random"`` (training) or ``"fixed"`` (validation); ``segments_per_epoch``
      (random) and ``hop`` (fixed, samples).
    * ``normalize``: ``"take"``, ``"segment"`` or None; ``stem_gain`` (``"each"``/``"kit"``),
      ``stem_lufs``, ``mix_lufs`` (LUFS), ``max_gain_db`` (dB).
    * ``silence_db`` (dBFS), ``max_tries``: the near-silence test of random segments.
    * ``seed``: random segments: item ``i`` of epoch ``e`` is drawn from ``(seed, e, i)`` alone
      (the same in every process and DataLoader worker).
    * ``cache_audio``: keep decoded takes in memory.
    * ``index_path``: loudness index file (None: automix's cache folder; False: in memory).
    * ``sample_rate``: the rate (Hz) items come at; files at another rate are resampled.
    """

    what = "EnstDrums"

    seed: int = 0
    sample_rate: int = SAMPLE_RATE
    subset: str | None = None
    split: Split | str | os.PathLike | None = None
    target: str = "wet"
    model: Any = field(default=None, repr=False)
    mode: Literal["random", "fixed"] = "random"
    segments_per_epoch: int | None = None
    hop: int | None = None
    normalize: Literal["take", "segment"] | None = "take"
    stem_gain: Literal["each", "kit"] = "each"
    stem_lufs: float = STEM_LUFS
    mix_lufs: float = MIX_LUFS
    max_gain_db: float = MAX_GAIN_DB
    max_tries: int = 10
    cache_audio: bool = False
    index_path: str | os.PathLike | None | Literal[False] = None
    exclude_categories: Sequence[str] = ("hits",)

    def check(self) -> EnstSettings:
        """Raise :class:`AutomixError` for a value out of range; return self."""
        if self.mode not in ("random", "fixed"):
            raise AutomixError(f"mode must be 'random' or 'fixed', got {self.mode!r}")
        if self.normalize not in ("take", "segment", None):
            raise AutomixError(f"normalize must be 'take', 'segment' or None, got {self.normalize!r}")
        for name in ("stem_lufs", "mix_lufs", "silence_db"):
            value = getattr(self, name)
            if not math.isfinite(float(value)):
                raise AutomixError(f"{name} must be finite, got {value}")
        if not float(self.max_gain_db) >= 0:
            raise AutomixError(f"max_gain_db must be >= 0, got {self.max_gain_db}")
        if self.stem_gain not in STEM_GAIN_RULES:
            raise AutomixError(f"stem_gain must be one of {', '.join(STEM_GAIN_RULES)}, got {self.stem_gain!r}")
        if self.segments_per_epoch is not None and int(self.segments_per_epoch) < 1:
            raise AutomixError(f"segments_per_epoch must be >= 1, got {self.segments_per_epoch}")
        return self


# --------------------------------------------------------------------------------------------
# Multitrack collections


@dataclass(frozen=True)
class Augmentation:
    """Random source gains (``gain_db``: uniform range in dB) and cross-song remixing
    (``remix``: chance per source of taking it from another song); see
    :class:`~automix.data.collection.MultitrackDataset`."""

    gain_db: tuple[float, float] = (-6.0, 6.0)
    remix: float = 0.5

    def __post_init__(self) -> None:
        lo, hi = (float(x) for x in self.gain_db)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"gain_db must be a finite range [low, high], got {self.gain_db!r}")
        if not 0.0 <= float(self.remix) <= 1.0:
            raise ValueError(f"remix must be a probability in [0, 1], got {self.remix!r}")
        object.__setattr__(self, "gain_db", (lo, hi))
        object.__setattr__(self, "remix", float(self.remix))

    @classmethod
    def of(cls, value: Any) -> Augmentation | None:
        if value is None or isinstance(value, Augmentation):
            return value
        if isinstance(value, dict):
            return cls(**value)
        return cls(gain_db=tuple(value.gain_db), remix=value.remix)


@dataclass(frozen=True)
class CollectionSettings(SegmentSettings):
    """Options of :class:`~automix.data.collection.MultitrackDataset` (see it for their meaning);
    every field is also one of its keywords. ``input_length`` and ``output_length`` (samples)
    are required; ``mode`` is ``"mix"`` or ``"separate"``, ``split`` a split name or several,
    ``segment`` ``"random"`` or ``"sequential"``, ``loudness_target`` LUFS or None,
    ``mix_channels`` 1 or 2, ``sample_rate`` (Hz; None: the manifest's or the files'),
    ``augment`` an :class:`Augmentation` (or anything with ``gain_db`` and ``remix``, or a dict)."""

    what = "MultitrackDataset"

    silence_db: float = -60.0
    mode: Literal["mix", "separate"] = "mix"
    split: str | Sequence[str] | None = None
    segment: Literal["random", "sequential"] = "random"
    samples_per_epoch: int | None = None
    loudness_target: float | None = None
    mix_channels: int = 2
    augment: Augmentation | Any | None = None

    def check(self) -> CollectionSettings:
        """Raise ``ValueError`` for a value out of range (``TypeError`` for missing lengths);
        return the settings with ``augment`` made an :class:`Augmentation` (or None)."""
        if self.input_length is None or self.output_length is None:
            raise TypeError("MultitrackDataset needs input_length and output_length (e.g. WaveUNet.input_length_for)")
        if self.mode not in ("mix", "separate"):
            raise ValueError(f"mode must be 'mix' or 'separate', got {self.mode!r}")
        if self.segment not in ("random", "sequential"):
            raise ValueError(f"segment must be 'random' or 'sequential', got {self.segment!r}")
        self._check_lengths()
        if self.mix_channels not in (1, 2):
            raise ValueError(f"mix_channels must be 1 or 2, got {self.mix_channels!r}")
        samples = self.samples_per_epoch
        if samples is not None:
            if self.segment != "random":
                raise ValueError("samples_per_epoch applies to random segments only")
            if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
                raise ValueError(f"samples_per_epoch must be a positive integer, got {samples!r}")
        if self.loudness_target is not None and not math.isfinite(self.loudness_target):
            raise ValueError(f"loudness_target must be a finite LUFS value, got {self.loudness_target!r}")
        rate = self.sample_rate
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
            raise ValueError(f"sample_rate must be a positive integer, got {rate!r}")
        augment = Augmentation.of(self.augment)
        if augment is not None and (self.mode != "separate" or self.segment != "random"):
            raise ValueError("augment applies to separation (mode='separate') with random segments only")
        return replace(self, augment=augment)

    def _check_lengths(self) -> None:
        input_length, output_length = self.input_length, self.output_length
        for name, value in (("input_length", input_length), ("output_length", output_length)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if input_length < output_length or (input_length - output_length) % 2:
            raise ValueError(
                f"input_length {input_length} and output_length {output_length} leave no symmetric context; "
                "take both from WaveUNet.input_length_for"
            )
