"""Reading a track's role: its family, its loudness budget, its side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from daw_bridge.rules.tables import ROLE_LOUDNESS_LU, UNKNOWN_ROLE_LU
from daw_bridge.stems import guess_role


def role_family(role: str | None) -> str | None:
    """The family a role's rules are looked up by (``"overhead_L"`` -> ``"overheads"``), or ``None``."""
    if role is None or not role.strip():
        return None
    from daw_bridge.chains import role_key

    return role_key(role)


def role_level_lu(role: str | None) -> float:
    """Loudness (LU re :data:`REFERENCE_LUFS`) of one budget of ``role`` (:data:`ROLE_LOUDNESS_LU`)."""
    family = role_family(role)
    return ROLE_LOUDNESS_LU.get(family, UNKNOWN_ROLE_LU) if family is not None else UNKNOWN_ROLE_LU


def tom_number(role: str | None) -> int | None:
    if role is None:
        return None
    guessed, _ = guess_role(role)
    for candidate in (role.strip().lower(), guessed or ""):
        if candidate.startswith("tom_") and candidate[4:].isdigit():
            return int(candidate[4:])
    return None


def budget_key(role: str | None) -> str:
    """Tracks with the same key share one loudness budget: the family, a numbered tom its own."""
    family = role_family(role)
    if family is None:
        return "(no role)"
    if family == "tom":
        number = tom_number(role)
        if number is not None:
            return f"tom_{number}"
    return family


def track_side(track: Any) -> str | None:
    """L/R from the role (``overhead_L``), else from the track or file name."""
    for text in (track.role or "", track.name, Path(track.file).name):
        if not text:
            continue
        _role, side = guess_role(text)
        if side is not None:
            return side
        lowered = text.strip()
        if lowered.endswith(("_L", "_l")):
            return "L"
        if lowered.endswith(("_R", "_r")):
            return "R"
    return None
