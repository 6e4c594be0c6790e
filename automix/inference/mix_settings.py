"""What a mix is asked to be (:class:`MixSettings`) and what it became (:class:`MixResult`)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from automix.data.keyword_settings import KeywordSettings
from automix.inference.stem_files import MappingInput
from automix.inference.tiling import DEFAULT_TILE, Precision
from daw_bridge.stems import StemAssignment

if TYPE_CHECKING:
    from daw_bridge.formats import WrittenSession
    from daw_bridge.render import RenderResult
    from daw_bridge.session import Session

Loudness = float | str | None
#: Default true-peak ceiling (dBTP) of a loudness-normalised mix.
TRUE_PEAK_DB = -1.0
#: Sample formats of the written mix.
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
SESSION_FORMATS = ("ardour", "reaper")


@dataclass(frozen=True)
class MixSettings(KeywordSettings):
    """How a mix is made and written. Every field is also a keyword of :func:`mix`.

    Matching: ``mapping`` (slot assignments overriding name matching: ``{"kick": "Kick In.wav"}``,
    CLI-style ``["kick=Kick In.wav", "overhead_L=OH.wav:0"]`` or a JSON file), ``ignore_unmatched``.
    Output: ``force`` (replace what automix wrote; never an input), ``subtype`` (``PCM_16``,
    ``PCM_24``, ``FLOAT``), ``loudness`` (LUFS, ``"auto"``: the level the mixer was trained to
    or its plan's, ``None``/``"off"``: the mixer's own level), ``true_peak_db`` (ceiling of the
    loudness gain, dBTP), ``limiter`` (a true-peak limiter closes what the ceiling leaves to the
    target; ``None``: on when ``loudness`` is a LUFS value, off for ``"auto"``), ``perspective`` (``"drummer"``/``"audience"``; ``None``/``"auto"``: as
    the mixer mixes). Compute (networks): ``device``, ``precision``, ``tile`` (output samples per
    tile) or ``tile_seconds``, ``batch_size``, ``progress`` (``None``: on a terminal). Session:
    ``session`` (a folder to write a DAW session into), ``session_format`` (``ardour``, ``reaper``), ``session_name`` (default: the output's name).
    """

    what = "mix"

    mapping: MappingInput = None
    ignore_unmatched: bool = False
    force: bool = False
    subtype: str = "PCM_24"
    loudness: Loudness = "auto"
    true_peak_db: float = TRUE_PEAK_DB
    limiter: bool | None = None
    perspective: str | None = None
    device: str | None = None
    precision: Precision = "auto"
    tile: int = DEFAULT_TILE
    tile_seconds: float | None = None
    batch_size: int = 1
    progress: bool | None = None
    session: str | os.PathLike | None = None
    session_format: str = "ardour"
    session_name: str | None = None

    def check(self) -> "MixSettings":
        """Raise ``ValueError`` for a value out of range; return self."""
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if self.tile_seconds is not None and not (math.isfinite(self.tile_seconds) and self.tile_seconds > 0):
            raise ValueError("tile_seconds must be a positive number")
        if not (math.isfinite(self.true_peak_db) and -30.0 <= self.true_peak_db <= 0.0):
            raise ValueError(f"true_peak_db must be between -30 and 0 dBTP, got {self.true_peak_db!r}")
        if self.subtype not in SUBTYPES:
            raise ValueError(f"subtype must be one of {', '.join(SUBTYPES)}, got {self.subtype!r}")
        if self.session_format not in SESSION_FORMATS:
            raise ValueError(f"session_format must be one of {', '.join(SESSION_FORMATS)}, got {self.session_format!r}")
        target_lufs(self.loudness, None)  # validates the value
        return self

    def limiter_on(self, target: float | None) -> bool:
        """Whether the true-peak limiter may close the gap to ``target``: as asked, else when the
        user asked for a level (``loudness`` a LUFS value), not for ``"auto"``."""
        if target is None:
            return False
        if self.limiter is not None:
            return bool(self.limiter)
        return not isinstance(self.loudness, str)



class TimedResult:
    """``duration`` and ``realtime_factor`` of a result with ``frames``, ``sample_rate`` and ``seconds``."""

    frames: int
    sample_rate: int
    seconds: float

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return self.frames / self.sample_rate

    @property
    def realtime_factor(self) -> float:
        """Seconds of wall time per second of audio."""
        return self.seconds / self.duration if self.frames else 0.0


@dataclass
class MixResult(TimedResult):
    """What :func:`mix` did. ``audio`` (``[2, T]`` float32) is set only when no file was asked for.

    ``assignment``: which file fed which slot (Wave-U-Net mixers); ``plan``: the console
    settings (rule-based console), ready to render or write as a session; ``render``: the
    renderer's report when a plan was rendered; ``session``: the DAW session written.
    """

    output: Path | None
    sample_rate: int
    frames: int
    model: str
    assignment: StemAssignment | None = None
    notes: list[str] = field(default_factory=list)
    peak_db: float = -200.0
    seconds: float = 0.0
    audio: np.ndarray | None = None
    loudness_lufs: float | None = None
    gain_db: float = 0.0
    true_peak_db: float | None = None
    limiter_db: float = 0.0
    plan: "Session | None" = None
    render: "RenderResult | None" = None
    session: "WrittenSession | None" = None
    session_fidelity: Any = None  # a waveform mix's session: how near its faders and pans come to the mix
    choice: str | None = None  # why this mixer, when none was named (automix.inference.mixers.choose_mixer)

    @property
    def failed_plugins(self) -> list[str]:
        """Plugins that failed while rendering and were left out (console mixers)."""
        return list(self.render.failed_plugins) if self.render is not None else []

    def summary(self) -> str:
        """One line for people: where, how long, how loud, with what, how fast (and why that mixer)."""
        why = f"; picked for {self.choice}" if self.choice else ""
        if self.render is not None:
            kind = "rule-based console" if self.model == "rules" else f"learned console mixer {self.model}"
            return f"{self.render.summary()} ({kind}{why})"
        level = "" if self.loudness_lufs is None else f"{self.loudness_lufs:.1f} LUFS, "
        if self.true_peak_db is not None:
            level += f"true peak {self.true_peak_db:.1f} dBTP, "
        if self.limiter_db > 0:
            level += f"limiter up to -{self.limiter_db:.1f} dB, "
        return (
            f"wrote {self.output} ({self.duration:.1f} s, {self.sample_rate} Hz, {level}peak {self.peak_db:.1f} dBFS) "
            f"with model {self.model} in {self.seconds:.1f} s ({self.realtime_factor:.3f} x real time){why}"
        )


def target_lufs(loudness: Loudness, trained_lufs: float | None) -> float | None:
    """The target LUFS for ``loudness``: a number, ``"auto"`` (``trained_lufs``: the level the
    mixer learned or plans; ``None`` if unknown) or ``None``/``"off"`` (the mixer's own level)."""
    if loudness is None or (isinstance(loudness, str) and loudness.lower() in ("off", "none")):
        return None
    if isinstance(loudness, str) and loudness.lower() == "auto":
        return trained_lufs
    try:
        value = float(loudness)
    except (TypeError, ValueError):
        raise ValueError(f"loudness must be a LUFS value, 'auto' or 'off', got {loudness!r}") from None
    if not (math.isfinite(value) and -70.0 <= value <= 0.0):
        raise ValueError(f"loudness must be between -70 and 0 LUFS, got {loudness!r}")
    return value
