"""Why training cannot start or had to stop."""

from __future__ import annotations

from daw_bridge.errors import AutomixError


class TrainingError(AutomixError):
    """Training cannot start or had to stop (diverged, data, run folder)."""


class TrainingDiverged(TrainingError):
    """The loss (or the gradients) became NaN or infinite."""
