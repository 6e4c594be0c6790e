"""How :func:`daw_bridge.render.render` renders: block size, threads, tail, loudness, format, strictness."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

#: Frames rendered per block (per track and for the master).
DEFAULT_BLOCK_FRAMES: int = 65536


@dataclass(frozen=True)
class RenderSettings:
    """Render options; each field is also a keyword of :func:`~daw_bridge.render.render`.

    ``block_frames``: frames per processing block (the output does not depend on it).
    ``threads``: worker threads for the tracks (None: one per core, at most one per track; 1
    renders in the calling thread; the output does not depend on it). ``tail_s``: ``"auto"``
    or seconds rendered after the content. ``normalize``: apply ``session.target_lufs`` under
    ``session.true_peak_db``. ``subtype``: ``"PCM_16"``, ``"PCM_24"`` or ``"FLOAT"`` (stored
    upper-case). ``progress``: a progress bar on stderr. ``strict``: raise on a plugin that
    fails while processing instead of rendering without it. ``limiter``: when the ceiling stops
    the normalisation short of the target, a true-peak limiter closes the gap
    (:mod:`daw_bridge.level_stage`). Bad values raise ValueError.
    """

    block_frames: int = DEFAULT_BLOCK_FRAMES
    threads: int | None = None
    tail_s: float | Literal["auto"] = "auto"
    normalize: bool = True
    subtype: str = "PCM_24"
    progress: bool | None = False
    strict: bool = False
    limiter: bool = False

    def __post_init__(self) -> None:
        block_frames, threads, tail_s = self.block_frames, self.threads, self.tail_s
        if isinstance(block_frames, bool) or not isinstance(block_frames, (int, np.integer)) or block_frames < 1:
            raise ValueError(f"block_frames must be a positive integer, got {block_frames!r}")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1
        ):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        if tail_s != "auto" and (
            isinstance(tail_s, bool) or not isinstance(tail_s, (int, float)) or not math.isfinite(tail_s) or tail_s < 0
        ):
            raise ValueError(f"tail_s must be 'auto' or a number of seconds >= 0, got {tail_s!r}")
        object.__setattr__(self, "subtype", str(self.subtype).upper())

    def with_options(self, options: dict[str, Any]) -> RenderSettings:
        """These settings with ``options`` (field names) replaced; TypeError for an unknown name."""
        names = {f.name for f in dataclasses.fields(self)}
        for key in options:
            if key not in names:
                raise TypeError(f"got an unexpected keyword argument {key!r}")  # as inspect's binding says it
        return dataclasses.replace(self, **options) if options else self
