"""Ardour 7 sessions: write a mix plan as an Ardour session, read an Ardour session as a plan.

:func:`write_ardour_session` writes a new Ardour 7 session folder (XML version 7002, written
here; Ardour is not needed) that sounds like the plan's render; :func:`read_ardour_session`
reads an Ardour 6 or 7 session back into a :class:`~daw_bridge.session.Session`, noting what
the model cannot hold. Torch-free. The gain/pan mapping, what is (not) carried and how files
are found: ``docs/formats.md`` (Ardour).

Modules: :mod:`.write` and :mod:`.xml_writer` (writing), :mod:`.read` and :mod:`.read_route`
(reading), :mod:`.panning` (pan and gain mapping), :mod:`.session_format` (version, time,
markers, errors), :mod:`.safe_xml` (refusing entities and external references).
"""

from __future__ import annotations

from daw_bridge.formats.ardour.panning import (
    ARDOUR_PAN_SCALE,
    BALANCE_PANNER_URI,  # noqa: F401  (importable from here, as before)
    MONO_PANNER_URI,  # noqa: F401
    STEREO_PANNER_URI,  # noqa: F401
    ardour_mono_pan_gains,
    ardour_to_mono_pan,
    mono_pan_to_ardour,
)
from daw_bridge.formats.ardour.read import read_ardour_session
from daw_bridge.formats.ardour.session_format import (
    AI_MIX_TRACK,
    ARDOUR_SESSION_VERSION,  # noqa: F401
    SUPERCLOCK_RATE,
    ArdourSessionError,
)
from daw_bridge.formats.ardour.write import ArdourTrack, ArdourWriteResult, write_ardour_session

__all__ = [
    "AI_MIX_TRACK",
    "ARDOUR_PAN_SCALE",
    "SUPERCLOCK_RATE",
    "ArdourSessionError",
    "ArdourTrack",
    "ArdourWriteResult",
    "ardour_mono_pan_gains",
    "ardour_to_mono_pan",
    "mono_pan_to_ardour",
    "read_ardour_session",
    "write_ardour_session",
]
