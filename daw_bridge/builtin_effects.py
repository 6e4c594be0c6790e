"""pedalboard's built-in effects: their parameters (ranges, units, enums) and checked values.

Ranges come from :data:`daw_bridge.ranges.BUILTIN_RANGES`; filters tuned at or above Nyquist
are refused. Measured behaviour of the effects: ``docs/plugins.md`` (Built-in effects).
"""

from __future__ import annotations

import enum
import math
from typing import Any

from daw_bridge.errors import PluginError
from daw_bridge.plugin_info import ParameterInfo, fmt_number, one_line, pedalboard_module, range_text
from daw_bridge.ranges import BUILTIN_RANGES
from daw_bridge.session import PluginSpec, builtin_parameters

#: Built-in parameters that are frequencies a filter is tuned to (checked against Nyquist).
_FREQUENCY_PARAMETERS = ("cutoff_frequency_hz", "cutoff_hz", "centre_frequency_hz")


def _builtin_defaults(cls: type) -> dict[str, Any]:
    """The parameters of a new ``cls()`` by name (empty when it needs arguments)."""
    try:
        instance = cls()
    except (TypeError, ValueError, RuntimeError):  # needs arguments (Convolution)
        return {}
    return {n: getattr(instance, n) for n in builtin_parameters(cls.__name__)}


def builtin_defaults(name: str) -> dict[str, Any]:
    """pedalboard's defaults of the built-in effect class ``name`` (e.g. ``Gain``: ``gain_db`` 1.0)."""
    return _builtin_defaults(getattr(pedalboard_module(), name))


def builtin_info(plugin: Any) -> list[ParameterInfo]:
    cls = type(plugin)
    defaults = _builtin_defaults(cls)
    ranges = BUILTIN_RANGES.get(cls.__name__, {})
    infos = []
    for name in builtin_parameters(cls.__name__):
        current = getattr(plugin, name)
        default = defaults.get(name, current)
        minimum, maximum = ranges.get(name, (-math.inf, math.inf))
        choices: tuple[str, ...] = ()
        steps = None
        is_boolean = False
        if isinstance(current, bool):
            is_boolean, steps, minimum, maximum = True, 2, 0.0, 1.0
        elif _is_enum(current):
            members = _enum_members(current)
            choices = tuple(members)
            steps = len(choices)
            minimum, maximum = 0.0, float(len(choices) - 1)
            default = choices.index(_enum_name(default)) if _enum_name(default) in choices else 0
        elif not isinstance(current, (int, float)):
            continue  # not a number (a file name, say): not a parameter to drive
        infos.append(
            ParameterInfo(
                name=name,
                label=name,
                unit=_unit_of(name),
                minimum=float(minimum),
                maximum=float(maximum),
                default=float(default),
                steps=steps,
                is_boolean=is_boolean,
                choices=choices,
            )
        )
    return infos


def _unit_of(name: str) -> str:
    for suffix, unit in (("_db", "dB"), ("_hz", "Hz"), ("_ms", "ms"), ("_seconds", "s")):
        if name.endswith(suffix):
            return unit
    return "semitones" if name == "semitones" else ""


def _is_enum(value: Any) -> bool:
    return isinstance(value, enum.Enum) or hasattr(type(value), "__members__")


def _enum_members(value: Any) -> list[str]:
    return list(type(value).__members__)


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value))


def check_builtin(plugin: Any) -> None:
    pb = pedalboard_module()
    if not isinstance(plugin, pb.Plugin):
        raise PluginError(f"{plugin!r} is not a pedalboard plugin")


def coerce_builtin(cls: type, name: str, value: Any) -> Any:
    title = cls.__name__
    known = builtin_parameters(title)
    if name not in known:
        raise PluginError(f"{title} has no parameter {name!r}; it has {', '.join(known) or 'none'}")
    sample = _builtin_defaults(cls).get(name)
    if sample is not None and _is_enum(sample):
        members = type(sample).__members__
        if isinstance(value, str):
            match = next((m for m in members if m.casefold() == value.casefold()), None)
            if match is None:
                raise PluginError(f"{title}: {name} must be one of {', '.join(members)}, got {value!r}")
            return members[match]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(members):
            return list(members.values())[value]
        raise PluginError(f"{title}: {name} must be one of {', '.join(members)}, got {value!r}")
    if isinstance(sample, bool):
        if isinstance(value, bool):
            return value
        raise PluginError(f"{title}: {name} must be true or false, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PluginError(f"{title}: {name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise PluginError(f"{title}: {name} must be a finite number, got {value!r}")
    low, high = BUILTIN_RANGES.get(title, {}).get(name, (-math.inf, math.inf))
    if not low <= value <= high:
        raise PluginError(f"{title}: {name} = {fmt_number(value)} is out of range {range_text(low, high, _unit_of(name))}")
    return float(value)


def pybind_reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "incompatible" in first:
        return "wrong type of value"
    return one_line(first).rstrip(".")


def nyquist_problems(spec: PluginSpec, sample_rate: int) -> list[str]:
    problems = []
    if spec.kind == "builtin":
        nyquist = sample_rate / 2.0
        for key in _FREQUENCY_PARAMETERS:
            value = spec.params.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= nyquist:
                problems.append(
                    f"{key} = {fmt_number(value)} Hz is not below the Nyquist frequency "
                    f"({fmt_number(nyquist)} Hz at {sample_rate} Hz); lower it"
                )
    return problems

def builtin_value(plugin: Any, name: str) -> float:
    """The current value of a built-in effect's parameter (enums: their 0-based index)."""
    title = type(plugin).__name__
    known = builtin_parameters(title)
    if name not in known:
        raise PluginError(f"{title} has no parameter {name!r}; it has {', '.join(known) or 'none'}")
    value = getattr(plugin, name)
    if _is_enum(value):
        return float(_enum_members(value).index(_enum_name(value)))
    return float(value)
