"""VST3 parameters in physical units: ranges read from the plugin's text, values written exactly.

:class:`Vst3Param` maps a parameter's normalised value (0..1) to and from its physical value
(linear, non-linear through the plugin's own text, or stepped). How and how exactly:
``docs/plugins.md`` (VST3 parameters).
"""

from __future__ import annotations

import math
from typing import Any

from daw_bridge.errors import PluginError
from daw_bridge.plugin_info import ParameterInfo, fmt_number, pedalboard_module, plugin_title, range_text

_MAX_STEPS = 0x7FFFFFFF  # JUCE's "continuous" step count
_TRUE_WORDS = frozenset({"1", "true", "on", "yes"})
_FALSE_WORDS = frozenset({"0", "false", "off", "no"})


class Vst3Param:
    """What we know about one VST3 parameter (cached on the plugin instance)."""

    def __init__(self, key: str, wrapper: Any) -> None:
        self.key = key  # pedalboard's python name
        self.wrapper = wrapper  # pedalboard.AudioProcessorParameter
        self.label = str(wrapper.name)
        self.unit = str(wrapper.units or "")
        self.automatable = bool(getattr(wrapper, "is_automatable", True))
        num_steps = int(getattr(wrapper, "num_steps", _MAX_STEPS) or _MAX_STEPS)
        self.steps: int | None = num_steps if 2 <= num_steps < _MAX_STEPS else None
        self.choices: tuple[str, ...] = ()
        self.choice_ranges: list[tuple[float, float]] = []
        self.is_boolean = False
        self.linear = True
        if wrapper.type is str:
            items = sorted(wrapper.ranges.items(), key=lambda kv: kv[0][0])
            self.choices = tuple(str(v) for _, v in items)
            self.choice_ranges = [r for r, _ in items]
            self.minimum, self.maximum = 0.0, float(len(self.choices) - 1)
            if self.steps is None or self.steps != len(self.choices):
                self.steps = len(self.choices)
        elif wrapper.type is bool:
            self.is_boolean = True
            self.minimum, self.maximum, self.steps = 0.0, 1.0, 2
        else:
            self.minimum = float(wrapper.min_value)
            self.maximum = float(wrapper.max_value)
            values = {float(v) for v in wrapper.valid_values}
            if self.steps == 2 and values <= {0.0, 1.0} and (self.minimum, self.maximum) == (0.0, 1.0):
                self.is_boolean = True
            self.linear = looks_linear(wrapper.ranges, self.minimum, self.maximum)
        self.default = self.value_of_raw(float(wrapper.default_raw_value))

    # raw (normalised 0..1) <-> physical
    def value_of_raw(self, raw: float) -> float:
        if self.choices:
            for i, (lo, hi) in enumerate(self.choice_ranges):
                if raw < hi or i == len(self.choice_ranges) - 1:
                    return float(i)
        if self.is_boolean:
            return 1.0 if raw >= 0.5 else 0.0
        span = self.maximum - self.minimum
        if self.steps is not None and self.linear:
            k = round(raw * (self.steps - 1))
            return self.minimum + span * k / (self.steps - 1)
        if self.linear:
            return tidy(self.minimum + raw * span, span * _float32_spacing(raw))
        return _parse_float(self.wrapper.get_text_for_raw_value(raw))

    def raw_of_value(self, value: float) -> float:
        """Normalised value for ``value`` (physical, already snapped and checked)."""
        span = self.maximum - self.minimum
        if self.choices:
            i = int(value)
            if self.steps == len(self.choices):
                return i / (len(self.choices) - 1) if len(self.choices) > 1 else 0.0
            lo, hi = self.choice_ranges[i]
            return (lo + hi) / 2.0
        if self.is_boolean:
            return 1.0 if value >= 0.5 else 0.0
        if span == 0:
            return 0.0
        if self.linear:
            return min(1.0, max(0.0, (value - self.minimum) / span))
        return self._search_raw(value)

    def _search_raw(self, value: float) -> float:
        """The normalised value whose text is closest to ``value`` (non-linear parameters)."""
        wrapper = self.wrapper  # pedalboard forwards these two calls to the plugin

        def at(raw: float) -> float:
            return _parse_float(wrapper.get_text_for_raw_value(raw))

        try:
            guess = float(wrapper.get_raw_value_for_text(fmt_number(value)))
        except (RuntimeError, ValueError, TypeError):  # a plugin that cannot parse its own text
            guess = -1.0
        lo, hi = 0.0, 1.0
        rising = at(1.0) >= at(0.0)
        for _ in range(48):
            mid = (lo + hi) / 2.0
            if (at(mid) < value) == rising:
                lo = mid
            else:
                hi = mid
        best = lo if abs(at(lo) - value) <= abs(at(hi) - value) else hi
        if 0.0 <= guess <= 1.0 and abs(at(guess) - value) <= abs(at(best) - value):
            return guess
        return best

    def snap(self, value: float) -> float:
        if self.choices or self.is_boolean or (self.steps is not None and self.linear):
            n = self.steps if not self.is_boolean else 2
            span = self.maximum - self.minimum
            k = round((value - self.minimum) / span * (n - 1)) if span else 0
            return self.minimum + span * k / (n - 1)
        return value

    def info(self) -> ParameterInfo:
        return ParameterInfo(
            name=self.key,
            label=self.label,
            unit=self.unit,
            minimum=self.minimum,
            maximum=self.maximum,
            default=self.default,
            steps=self.steps,
            is_boolean=self.is_boolean,
            choices=self.choices,
            automatable=self.automatable,
        )


def _float32_spacing(raw: float) -> float:
    """Distance between neighbouring float32 values at ``raw`` (VST3 hosts store floats)."""
    _, exponent = math.frexp(max(abs(raw), 2.0**-126))
    return 2.0 ** (exponent - 24)


def tidy(value: float, tolerance: float) -> float:
    """The shortest decimal within ``tolerance`` of ``value`` (-6.0000007 -> -6.0)."""
    if tolerance <= 0 or not math.isfinite(value):
        return value
    for digits in range(12):
        rounded = round(value, digits)
        if abs(rounded - value) <= tolerance:
            return rounded + 0.0  # no -0.0
    return value


def _parse_float(text: object) -> float:
    pb = pedalboard_module()
    stripped = pb._pedalboard.strip_common_float_suffixes(str(text))
    try:
        return float(stripped)
    except (TypeError, ValueError):
        return math.nan


def looks_linear(ranges: dict, minimum: float, maximum: float) -> bool:
    """True when every text value pedalboard read lies on the line from min (raw 0) to max (raw 1).

    ``ranges`` maps normalised intervals ``(lo, hi)`` to the value the plugin displayed there;
    a linear parameter shows, on ``[lo, hi)``, values between ``min + lo * span`` and
    ``min + hi * span`` (within 1 % of the span for the display's rounding).
    """
    span = maximum - minimum
    if not math.isfinite(span) or span == 0 or len(ranges) < 3:
        return True
    tolerance = 0.01 * abs(span)
    for (lo, hi), value in ranges.items():
        if not isinstance(value, float):
            return True
        low, high = minimum + lo * span, minimum + hi * span
        if not min(low, high) - tolerance <= value <= max(low, high) + tolerance:
            return False
    return True


def vst3_params(plugin: Any) -> dict[str, Vst3Param]:
    cache = getattr(plugin, "__automix_parameters__", None)
    if cache is None:
        cache = {key: Vst3Param(key, wrapper) for key, wrapper in plugin.parameters.items()}
        plugin.__automix_parameters__ = cache  # "__" names bypass pedalboard's __setattr__
    return cache


def find_vst3_param(plugin: Any, name: str) -> Vst3Param:
    params = vst3_params(plugin)
    if name in params:
        return params[name]
    by_label = [p for p in params.values() if p.label == name]
    if not by_label:
        folded = name.strip().casefold()
        by_label = [p for p in params.values() if p.label.casefold() == folded or p.key == folded]
    if len(by_label) == 1:
        return by_label[0]
    known = ", ".join(f"{p.key} ({p.label})" if p.label != p.key else p.key for p in params.values())
    if by_label:
        raise PluginError(
            f"{plugin_title(plugin)}: several parameters are labelled {name!r}; use one of the names "
            f"{', '.join(p.key for p in by_label)}"
        )
    raise PluginError(f"{plugin_title(plugin)} has no parameter {name!r}; it has {known or 'none'}")


def coerce_vst3(param: Vst3Param, value: Any, title: str) -> float:
    """The physical value (choices: index) for ``value``, snapped, or PluginError."""
    where = f"{title}: {param.key}"
    if param.choices:
        if isinstance(value, str):
            if value in param.choices:
                return float(param.choices.index(value))
            folded = [c.casefold() for c in param.choices]
            if value.casefold() in folded:
                return float(folded.index(value.casefold()))
            raise PluginError(f"{where} must be one of {', '.join(map(repr, param.choices))}, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PluginError(f"{where} must be one of {', '.join(map(repr, param.choices))}, got {value!r}")
        if not 0 <= value <= len(param.choices) - 1:
            raise PluginError(
                f"{where} index {value!r} is out of range [0, {len(param.choices) - 1}] "
                f"({', '.join(map(repr, param.choices))})"
            )
        return float(round(value))
    if param.is_boolean:
        if isinstance(value, str):
            word = value.strip().casefold()
            if word in _TRUE_WORDS:
                return 1.0
            if word in _FALSE_WORDS:
                return 0.0
            raise PluginError(f"{where} is on/off; give true/false, 1/0 or 'on'/'off', got {value!r}")
        if isinstance(value, (bool, int, float)) and value in (0, 1):
            return float(value)
        raise PluginError(f"{where} is on/off; give true/false or 1/0, got {value!r}")
    if isinstance(value, str):
        number = _parse_float(value.strip().removesuffix(param.unit).strip() if param.unit else value)
        if math.isnan(number):
            raise PluginError(f"{where} must be a number in {range_text(param.minimum, param.maximum, param.unit)}, got {value!r}")
        value = number
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PluginError(f"{where} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise PluginError(f"{where} must be a finite number, got {value!r}")
    slack = 1e-9 * max(1.0, abs(param.maximum - param.minimum))
    if not param.minimum - slack <= value <= param.maximum + slack:
        raise PluginError(
            f"{where} = {fmt_number(value)} is out of range {range_text(param.minimum, param.maximum, param.unit)}"
        )
    value = min(param.maximum, max(param.minimum, value))
    return param.snap(value)
