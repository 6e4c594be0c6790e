"""daw_bridge: the torch-free base of automix and its DAW side.

Stems and sessions in, renders and sessions out, with no learning stack: a DAW user can
import stems, plan a mix (the rule-based console included), render it and write a session.
It never imports :mod:`automix` or torch. See ``docs/ARCHITECTURE.md`` for every module's job.
The heavier modules (pedalboard, the writers) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from daw_bridge._version import __version__
from daw_bridge.errors import AutomixError, SessionError
from daw_bridge.formats import SESSION_FORMATS, WrittenSession, open_session, write_session
from daw_bridge.importer import DEFAULT_PANS, StemImportError, import_session_file, import_stems, session_from_assignment
from daw_bridge.panlaw import db_to_gain, pan_gains
from daw_bridge.session import MixPlan, PluginSpec, Session, Track, load_session

# name -> module (the attribute of the same name), or (module, attribute). The render function
# is exported as render_session: the name "render" is the submodule's once it is imported.
_LAZY: dict[str, str | tuple[str, str]] = {
    "render_session": ("render", "render"),
    "RenderError": "render",
    "RenderResult": "render",
    "rule_based_plan": "rules",
    "mix_with_rules": "rules",
    "LoudnessMeter": "loudness",
    "TruePeakMeter": "loudness",
    "measure_loudness": "loudness",
    "reading": "outputs",
    "PluginError": "plugins",
    "load_vst3": "plugins",
    "make_plugin": "plugins",
    "list_parameters": "plugins",
    "set_parameter": "plugins",
    "describe_plugin": "plugins",
    "apply_chain_presets": "chains",
    "list_chain_presets": "chains",
    "load_chain_preset": "chains",
    "write_ardour_session": "formats.ardour",
    "read_ardour_session": "formats.ardour",
    "write_reaper_project": "formats.reaper",
    "read_reaper_project": "formats.reaper",
    "write_midi_automation": "formats.midi",
    "read_midi_automation": "formats.midi",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'daw_bridge' has no attribute {name!r}")
    module, attribute = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(f".{module}", __name__), attribute)
    globals()[name] = value
    return value


__all__ = [
    "AutomixError",
    "__version__",
    "DEFAULT_PANS",
    "MixPlan",
    "PluginSpec",
    "SESSION_FORMATS",
    "Session",
    "SessionError",
    "StemImportError",
    "Track",
    "WrittenSession",
    "db_to_gain",
    "import_session_file",
    "import_stems",
    "load_session",
    "open_session",
    "pan_gains",
    "session_from_assignment",
    "write_session",
    *_LAZY,
]
