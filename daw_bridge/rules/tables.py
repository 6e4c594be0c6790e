"""The rule-based console's tables: level, pan and high-pass by role family, master constants."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from daw_bridge.errors import AutomixError

#: role's budget sits at, before the master. Kick, snare, bass and vocal are the loudest;
#: toms a bit below the snare; overheads in between; hi-hat, room and cymbals lower.
ROLE_LOUDNESS_LU: dict[str, float] = {
    "kick": 0.0,
    "snare": 0.0,
    "bass": 0.0,
    "vocal": 0.0,
    "drums": 0.0,  # a whole drum bus stem
    "mix": 0.0,  # a whole mix stem
    "tom": -3.0,  # each numbered tom has its own budget
    "guitar": -4.0,
    "keys": -5.0,
    "brass": -5.0,
    "overheads": -6.0,
    "strings": -6.0,
    "percussion": -8.0,
    "hi-hat": -10.0,
    "room": -10.0,
    "ride": -10.0,
    "crash": -10.0,
    "fx": -10.0,
    "click": -20.0,  # muted anyway
}
#: Level (LU re :data:`REFERENCE_LUFS`) of a role not in :data:`ROLE_LOUDNESS_LU` or no role.
UNKNOWN_ROLE_LU: float = -5.0
#: Where a role at 0 LU sits before the master (LUFS). Only the differences matter: the
#: master's first gain moves the whole mix to its working level.
REFERENCE_LUFS: float = -20.0
#: Loudness of a rule-based mix unless asked otherwise (LUFS).
DEFAULT_TARGET_LUFS: float = -16.0

#: Pan (-1 left .. +1 right, drummer's perspective) of roles whose pan does not depend on the
#: other tracks. Overheads, rooms, toms and guitars are placed by the pair/spread rules.
ROLE_PANS: dict[str, float] = {
    "hi-hat": -0.3,
    "crash": -0.3,
    "ride": 0.4,
    "percussion": 0.2,
    "keys": -0.25,
    "strings": 0.25,
    "brass": -0.25,
}
OVERHEAD_WIDTH: float = 0.7
ROOM_WIDTH: float = 1.0
GUITAR_WIDTH: float = 0.5
#: Toms, two or more: from ``-TOM_SPREAD`` (``tom_1``) to ``+TOM_SPREAD`` (the floor tom).
TOM_SPREAD: float = 0.6
#: A lone tom, by its number (1 high/rack, 2 mid, 3 floor); an unnumbered lone tom: centre.
LONE_TOM_PANS: dict[int, float] = {1: -0.3, 2: -0.1, 3: 0.3}
#: The overhead pair is turned round when the panned close mics (hi-hat, toms, cymbals), each
#: weighted by its pan, are louder by more than this (dB, on average) in the overhead that
#: the names put on their far side. Each close mic is compared at its best lag within
#: :data:`OVERHEAD_LAG_MS`, over the first :data:`OVERHEAD_SECONDS` of the files, and counts
#: only if it correlates with an overhead by at least :data:`OVERHEAD_MIN_CORRELATION`.
OVERHEAD_TURN_DB: float = 1.0
OVERHEAD_LAG_MS: float = 10.0
OVERHEAD_SECONDS: float = 30.0
OVERHEAD_MIN_CORRELATION: float = 0.05

#: High-pass cutoff (Hz) by role family; bass gets none.
HIGHPASS_HZ: dict[str, float | None] = {
    "bass": None,
    "kick": 30.0,
    "drums": 25.0,
    "mix": 25.0,
    "tom": 60.0,
    "room": 60.0,
    "keys": 50.0,
    "strings": 60.0,
    "snare": 80.0,
    "guitar": 80.0,
    "brass": 80.0,
    "fx": 80.0,
    "vocal": 90.0,
    "overheads": 120.0,
    "percussion": 120.0,
    "hi-hat": 200.0,
    "ride": 200.0,
    "crash": 200.0,
    "click": 40.0,
}
#: High-pass cutoff (Hz) of a role not in :data:`HIGHPASS_HZ`, or of a track without a role.
UNKNOWN_HIGHPASS_HZ: float = 40.0

#: Master compressor threshold above the mix's loudness at its input (dB above the LUFS level).
BUS_COMP_ABOVE_LU: float = 6.0
BUS_COMP = {"ratio": 2.0, "attack_ms": 20.0, "release_ms": 150.0}
#: pedalboard's Limiter threshold (it holds peaks at 0 dBFS and lifts what lies below its
#: threshold by about ``3.75 - threshold_db`` dB).
LIMITER_THRESHOLD_DB: float = -1.0
LIMITER_RELEASE_MS: float = 100.0
#: The final master gain puts the limiter's 0 dBFS this far under ``true_peak_db`` (dB).
OUTPUT_MARGIN_DB: float = 0.3
#: The calibration drives the limiter at most this much harder than its starting point (dB).
MAX_LIMITER_DRIVE_DB: float = 18.0

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any  # Any: a Session


class RulesError(AutomixError):
    """The rule-based console cannot plan these stems (bad arguments, nothing to mix)."""
