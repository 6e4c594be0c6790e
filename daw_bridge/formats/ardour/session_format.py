"""What the Ardour writer and reader share: the format's version and time unit, markers, errors.

Times: frames at the session's rate, superclock ticks at :data:`SUPERCLOCK_RATE` per second.
Format notes: ``docs/formats.md`` (Ardour).
"""

from __future__ import annotations

import re

from daw_bridge.errors import SessionReadError

#: Ardour 7's time unit for audio time: superclock ticks per second.
SUPERCLOCK_RATE: int = 282_240_000
#: The session file format written (Ardour 7.x).
ARDOUR_SESSION_VERSION: int = 7002
#: Name of the extra, muted track holding the rendered AI mix.
AI_MIX_TRACK: str = "AI mix"
#: The route comment that marks the AI mix track (the reader leaves it out).
AI_MIX_COMMENT = "automix: the rendered AI mix, muted, for A/B; not part of the mix plan"
#: A route comment starting with this holds the track's role.
ROLE_PREFIX = "automix role: "


class ArdourSessionError(SessionReadError):
    """An Ardour session cannot be read: missing, unsafe XML, not an Ardour session, broken."""


def frames_to_superclock(frames: int, sample_rate: int) -> int:
    """Superclock of a frame: exact at the usual rates, else rounded up so Ardour's floor gives ``frames``."""
    return -((-frames * SUPERCLOCK_RATE) // sample_rate)


def superclock_to_frames(superclock: int, sample_rate: int) -> int:
    """Ardour 7.3's conversion: rounded down (measured: a region at 592.59 frames plays from 592)."""
    return (superclock * sample_rate) // SUPERCLOCK_RATE


def offset_frame(offset_s: float, sample_rate: int) -> int:
    """The frame a track starts at: ``round(offset_s * sample_rate)``, as the renderer places it."""
    return round(offset_s * sample_rate)


def legalize_for_path(name: str) -> str:
    """What Ardour uses for the folder under ``interchange`` (``legalize_for_path``)."""
    return re.sub(r"[/\\]", "_", name)
