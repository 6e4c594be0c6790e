"""Errors a user can act on: one tree for automix and daw_bridge.

Every problem caused by the user's input (files, options, checkpoints) raises a subclass of
:class:`AutomixError`. The CLI prints its message as one line (``error: ...``) and exits with
status 1; the Python API lets it propagate. Anything else is a bug and keeps its traceback.
"""


class AutomixError(Exception):
    """A problem with the user's input; the message says what is wrong and what to do."""


class AudioError(AutomixError):
    """An audio file is missing, unreadable, corrupt, or holds unusable samples (NaN/Inf)."""


class StemMatchError(AutomixError):
    """Stem files could not be matched to a model's slots."""


class CheckpointError(AutomixError):
    """A checkpoint is missing, unsafe (a pickle), or disagrees with its card."""


class OutputError(AutomixError):
    """An output exists (and replacing it was not asked for), is an input, or cannot be written."""


class SessionError(AutomixError):
    """A session file is missing, unreadable, or does not describe a valid session."""


class SessionWriteError(OutputError):
    """A session could not be written (output exists, missing or unreadable audio, ...)."""


class SessionReadError(SessionError):
    """A DAW session file (REAPER project, MIDI automation file) is missing, unreadable or corrupt."""


class RenderError(AutomixError):
    """A mix plan cannot be rendered (missing or unreadable files, bad plugins, a failing plugin)."""


class PluginError(AutomixError):
    """A plugin cannot be loaded, or a parameter or state cannot be set; the message says why."""


def error_key(loc: tuple) -> str:
    """A pydantic error's location as a dotted key, without the validators' own entries
    (``function-after[...]``), e.g. ``config.levels``; ``""`` at the top level."""
    return ".".join(str(p) for p in loc if not str(p).startswith(("function-after[", "function-before[", "function-wrap[")))
