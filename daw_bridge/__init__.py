"""daw_bridge: the DAW side of automix (stems and sessions in, renders and sessions out).

It never imports torch: a DAW user can import stems, render a mix plan and write a session
without the learning stack. Shared torch-free code (audio files, loudness) comes from
:mod:`daw_bridge.audio`.

=====================  ==============================================================
module                 job
=====================  ==============================================================
``session``            the DAW-neutral session model / mix plan (pydantic, JSON/YAML)
``ranges``             parameter ranges shared by the plan and automix's console
``importer``           stems folder -> session (roles from names, rates and lengths)
``formats``            open any source (plan, Ardour, REAPER, stems); write any format
``render``             render a plan with pedalboard (blocks, threads, tails, loudness)
``plugins``            built-in effects and VST3 plugins: load, parameters, state
``presets``            chain presets per role and for the master
``ardour``             Ardour 7 session writer and reader (safe XML)
``reaper``             REAPER project writer and reader
``midi``               MIDI automation (CC7/CC10, 14-bit) writer and reader
``writing``            the new-output-folder rule every writer follows
=====================  ==============================================================

The heavier modules (pedalboard, the writers) load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from daw_bridge.formats import SESSION_FORMATS, WrittenSession, open_session, write_session
from daw_bridge.importer import DEFAULT_PANS, StemImportError, import_session_file, import_stems, session_from_assignment
from daw_bridge.session import (
    MixPlan,
    PluginSpec,
    Session,
    SessionError,
    Track,
    db_to_gain,
    load_session,
    pan_gains,
)

# name -> module (the attribute of the same name), or (module, attribute). The render function
# is exported as render_session: the name "render" is the submodule's once it is imported.
_LAZY: dict[str, str | tuple[str, str]] = {
    "render_session": ("render", "render"),
    "RenderError": "render",
    "RenderResult": "render",
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
