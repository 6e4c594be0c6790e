"""Errors a user can act on.

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
    """An output path exists (and overwriting was not asked for) or cannot be written."""
