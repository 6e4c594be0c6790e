"""A rule-based console: a mix plan from stems by fixed rules read off each track's role (torch-free).

:func:`rule_based_plan` plans (gains, pans, high-passes, a calibrated master);
:func:`mix_with_rules` plans and renders (``automix mix --model rules``);
:func:`mix_audio_with_rules` does it for arrays in memory. The rules: ``docs/rules.md``.
"""

from daw_bridge.rules.plan import BALANCES, RulesSettings, mix_audio_with_rules, mix_with_rules, rule_based_plan
from daw_bridge.rules.roles import budget_key, role_family, role_level_lu
from daw_bridge.rules.tables import (
    BUS_COMP_ABOVE_LU,
    DEFAULT_TARGET_LUFS,
    HIGHPASS_HZ,
    LIMITER_THRESHOLD_DB,
    LONE_TOM_PANS,
    MAX_LIMITER_DRIVE_DB,
    OUTPUT_MARGIN_DB,
    OVERHEAD_TURN_DB,
    REFERENCE_LUFS,
    ROLE_LOUDNESS_LU,
    ROLE_PANS,
    TOM_SPREAD,
    UNKNOWN_HIGHPASS_HZ,
    UNKNOWN_ROLE_LU,
    RulesError,
)

__all__ = [
    "BALANCES",
    "BUS_COMP_ABOVE_LU",
    "DEFAULT_TARGET_LUFS",
    "HIGHPASS_HZ",
    "LIMITER_THRESHOLD_DB",
    "LONE_TOM_PANS",
    "MAX_LIMITER_DRIVE_DB",
    "OUTPUT_MARGIN_DB",
    "OVERHEAD_TURN_DB",
    "REFERENCE_LUFS",
    "ROLE_LOUDNESS_LU",
    "ROLE_PANS",
    "TOM_SPREAD",
    "UNKNOWN_HIGHPASS_HZ",
    "UNKNOWN_ROLE_LU",
    "RulesError",
    "RulesSettings",
    "budget_key",
    "mix_audio_with_rules",
    "mix_with_rules",
    "role_family",
    "role_level_lu",
    "rule_based_plan",
]
