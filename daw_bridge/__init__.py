"""daw_bridge: the DAW side of automix (stems and sessions in, renders and sessions out).

It never imports torch: a DAW user can import stems, render a mix plan and write a session
without the learning stack. Shared torch-free code (audio files, loudness) comes from
:mod:`automix.audio`.
"""

from .importer import DEFAULT_PANS, StemImportError, import_session_file, import_stems
from .session import (
    MixPlan,
    PluginSpec,
    Session,
    SessionError,
    Track,
    db_to_gain,
    load_session,
    pan_gains,
)

__all__ = [
    "DEFAULT_PANS",
    "MixPlan",
    "PluginSpec",
    "Session",
    "SessionError",
    "StemImportError",
    "Track",
    "db_to_gain",
    "import_session_file",
    "import_stems",
    "load_session",
    "pan_gains",
]
