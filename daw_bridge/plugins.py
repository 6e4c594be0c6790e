"""Load, inspect and drive audio plugins: pedalboard's built-in effects and VST3 bundles.

Everything here is torch-free; pedalboard is imported when first needed. Parameter values are
always in the plugin's physical units (dB, Hz, ms, samples), never normalised.

VST3 parameters
---------------
pedalboard exposes a VST3 parameter under a Python name made of its display name and unit
(``Gain`` in ``dB`` -> ``gain_db``); :func:`set_parameter` and :func:`get_parameter` accept
that name or the display name (``"Gain"``). pedalboard guesses each parameter's range by
reading the plugin's text for 1001 evenly spaced normalised values, and its own attribute
assignment (``plugin.gain_db = -6``) snaps to that 1000-step grid (-6 dB became -5.988 dB).
:func:`set_parameter` instead writes the normalised value itself:

* continuous parameters whose text follows the normalised value linearly (checked over the
  whole range once per parameter) get ``raw = (v - min) / (max - min)``, exact up to the
  float32 precision of a VST3 normalised value (about ``(max - min) * 6e-8``);
* non-linear continuous ones (a logarithmic frequency, say) ask the plugin to convert the
  text of the value, then refine by bisection on the plugin's own text: accurate to the
  precision the plugin displays;
* stepped ones (a VST3 ``step_count``: integers, booleans, lists) snap to the nearest
  allowed value; a list parameter (:attr:`ParameterInfo.choices`) takes its label as a
  string (or its 0-based index), a boolean ``True``/``False``, ``0``/``1`` or
  ``"on"``/``"off"``.

Parameter changes reach a VST3 plugin's audio processor only when it processes audio
(JUCE queues them for the next block). Audio processed after :func:`set_parameter` uses the
new value; :func:`get_state` processes a few samples of silence first so that the state it
saves holds them.

Latency (pedalboard 0.9.26, measured with the test plugin ``AutomixDelay``)
--------------------------------------------------------------------------
* ``plugin.reported_latency_samples`` is the latency the VST3 plugin reports to its host
  (:func:`reported_latency_samples`). pedalboard's built-in effects do not expose one (0).
* A plugin may update that figure only when it is activated or processes audio: after a
  parameter change it can be stale until the next ``process()`` (``reset()`` alone does not
  refresh it). ``reported_latency_samples(plugin, refresh=True)`` processes a little silence
  first.
* ``process(audio, sr)`` (``reset=True``, the default) **compensates** the reported latency:
  it feeds the plugin ``latency`` extra samples of silence, drops the first ``latency``
  output samples, and returns exactly as many samples as it was given, aligned with the
  input (an impulse at sample 100 comes out at sample 100). The same holds for a
  ``pedalboard.Pedalboard`` chain: the latencies of its plugins add up and are all removed.
  Like every pedalboard call, the output is never longer than the input: pad the input with
  silence to keep a tail.
* Chunked processing (``process(chunk, sr, reset=False)``) compensates too, by withholding,
  **but only when the stream starts right after an explicit** ``plugin.reset()`` (or
  ``board.reset()``): pedalboard counts the samples given since the last ``reset()`` and
  drops the first ``latency`` output samples of that count. So the first call(s) return
  fewer samples than given (1000 in -> 936 out with 64 samples of latency; nothing at all
  while fewer than ``latency`` samples have gone in) and later calls as many as given. The
  concatenated chunks are aligned with the input but ``latency`` samples short: feed
  ``latency`` more samples of silence (``reset=False``) at the end to get the rest; then
  chunked output equals one-shot output sample for sample. Without that ``reset()`` (a
  freshly loaded plugin, or one last used by a one-shot ``process()``, by :func:`get_state`
  or by ``reported_latency_samples(refresh=True)``) nothing is withheld and the output is
  **late by the latency**.
* A plugin that reports less latency than it has (or none) is not compensated: its output
  is late by the difference. pedalboard cannot know.

Built-in effects (pedalboard 0.9.26, measured)
---------------------------------------------
* pedalboard checks only some values (Reverb levels in [0, 1], Compressor ratio >= 1, ...);
  :data:`BUILTIN_RANGES` adds the rest that matter. Filters tuned at or above the Nyquist
  frequency put out inf: :func:`check_plugins` checks cutoffs against the session's rate.
* ``Reverb``: ``dry_level=0.5`` is unity gain for the dry signal (the default 0.4 is
  -1.9 dB); ``wet_level=0.1`` (``room_size=0.3``) gives a tail whose energy is about 12 dB
  below the direct sound's.
* ``Limiter`` keeps sample peaks at or under 0 dBFS whatever ``threshold_db`` is, and lifts
  quiet material by about ``3.75 - threshold_db`` dB (JUCE's limiter, measured at -40 dBFS): follow it with
  ``Gain(gain_db=-1)`` for a -1 dBFS sample-peak ceiling.
* Setting an unknown attribute raises AttributeError on a built-in effect but is silently
  stored on a VST3 plugin: :func:`set_parameter` refuses unknown names for both.

Channels: a VST3 effect processes the channel count its main bus accepts; the test plugins
(2 in / 2 out) refuse mono input with ``ValueError`` ("does not support 1-channel output"),
so give them stereo (duplicate a mono track) and read stereo back.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from daw_bridge.errors import AutomixError

from daw_bridge.ranges import BUILTIN_RANGES
from daw_bridge.session import PluginSpec, Session, builtin_parameters, describe_validation_error

if TYPE_CHECKING:  # pragma: no cover
    import pedalboard

__all__ = [
    "BUILTIN_RANGES",
    "ParameterInfo",
    "PluginError",
    "check_plugins",
    "describe_plugin",
    "get_parameter",
    "get_state",
    "list_parameters",
    "load_vst3",
    "make_chain",
    "make_plugin",
    "reported_latency_samples",
    "set_parameter",
    "set_state",
]


class PluginError(AutomixError):
    """A plugin cannot be loaded, or a parameter or state cannot be set; the message says why."""


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of a plugin, in physical units.

    ``name`` is pedalboard's Python name (``gain_db``), ``label`` the plugin's own display
    name (``Gain``) and ``unit`` its unit (``dB``; ``""`` when none). ``minimum``,
    ``maximum`` and ``default`` are in that unit; booleans use 0 and 1 and list parameters
    their 0-based index. For built-in effects ``minimum``/``maximum`` are the limits in
    :data:`BUILTIN_RANGES` (pedalboard's own checks and what is physically meaningful), else
    ``-inf``/``inf``. ``steps`` is the number of allowed values of a stepped parameter
    (``None`` when continuous); ``choices`` the labels of a list parameter, in index order.
    ``automatable`` is False where the plugin says the parameter is not automatable (DPF's
    read-only ``Latency`` report, for one): setting it may do nothing.
    """

    name: str
    label: str
    unit: str
    minimum: float
    maximum: float
    default: float
    steps: int | None = None
    is_boolean: bool = False
    choices: tuple[str, ...] = ()
    automatable: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (infinite limits become ``None``, ``choices`` a list)."""
        data = asdict(self)
        for key in ("minimum", "maximum", "default"):
            if not math.isfinite(data[key]):
                data[key] = None
        data["choices"] = list(self.choices)
        return data


#: Built-in parameters that are frequencies a filter is tuned to (checked against Nyquist).
_FREQUENCY_PARAMETERS = ("cutoff_frequency_hz", "cutoff_hz", "centre_frequency_hz")

_MAX_STEPS = 0x7FFFFFFF  # JUCE's "continuous" step count
_NOT_VST3_SUFFIXES = {
    ".so": "a shared library",
    ".dll": "a Windows DLL",
    ".lv2": "an LV2 bundle",
    ".component": "an Audio Unit",
    ".vst": "a VST2 plugin",
    ".dylib": "a macOS library",
    ".clap": "a CLAP plugin",
    ".ladspa": "a LADSPA plugin",
}
_TRUE_WORDS = frozenset({"1", "true", "on", "yes"})
_FALSE_WORDS = frozenset({"0", "false", "off", "no"})
_FLUSH_FRAMES = 64
_FLUSH_RATE = 44100.0


def _pedalboard() -> Any:
    import pedalboard  # torch-free; imported late so that importing daw_bridge stays cheap

    return pedalboard


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _is_vst3(plugin: Any) -> bool:
    return isinstance(plugin, _pedalboard().ExternalPlugin)


def _plugin_title(plugin: Any) -> str:
    if _is_vst3(plugin):
        return str(getattr(plugin, "name", "") or "VST3 plugin")
    return type(plugin).__name__


def _fmt(value: float) -> str:
    """A number for messages: ``-6``, ``0.5``, ``-inf``."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


# --------------------------------------------------------------------------- loading


def _arch_folder() -> str:
    machine = platform.machine().lower()
    return f"{ {'amd64': 'x86_64', 'arm64': 'aarch64'}.get(machine, machine)}-linux"


def _check_vst3_path(path: Path) -> None:
    if not path.exists():
        raise PluginError(f"VST3 plugin {path} does not exist; check the path")
    suffix = path.suffix.lower()
    if suffix != ".vst3":
        bundle = next((p for p in path.parents if p.suffix.lower() == ".vst3"), None)
        if bundle is not None:
            raise PluginError(f"{path} is a file inside the VST3 bundle {bundle}; give the bundle itself")
        what = _NOT_VST3_SUFFIXES.get(suffix, "not a .vst3 bundle")
        raise PluginError(
            f"{path} is not a VST3 plugin ({what}): pedalboard on Linux loads only .vst3 bundles"
        )


def load_vst3(path: str | os.PathLike[str], *, name: str | None = None) -> pedalboard.ExternalPlugin:
    """Load the VST3 plugin at ``path`` (a ``.vst3`` bundle folder, or a single-file ``.vst3``).

    ``name`` picks one plugin of a bundle that holds several (pedalboard's ``plugin_name``);
    it is checked against the bundle's plugin names. Raises :class:`PluginError` (one line)
    for a missing path, a file of another plugin format (``.so``, ``.dll``, ``.lv2``,
    ``.component``, ``.vst``...), a bundle pedalboard cannot load, or an unknown ``name``.
    """
    pb = _pedalboard()
    path = Path(path).expanduser().absolute()
    _check_vst3_path(path)
    try:
        names = list(pb.VST3Plugin.get_plugin_names_for_file(str(path)))
    except (ImportError, RuntimeError, ValueError, OSError) as exc:  # several lines from pedalboard
        raise PluginError(_load_failure(path, exc)) from None
    if name is not None and name not in names:
        raise PluginError(f"{path} holds no plugin named {name!r}; it holds {', '.join(map(repr, names))}")
    if name is None and len(names) > 1:
        raise PluginError(
            f"{path} holds several plugins ({', '.join(map(repr, names))}); pick one with name="
        )
    try:
        plugin = pb.load_plugin(str(path), plugin_name=name)
    except (ImportError, RuntimeError, ValueError, OSError) as exc:
        raise PluginError(_load_failure(path, exc)) from None
    if not _is_vst3(plugin):  # pragma: no cover - load_plugin returns VST3Plugin on Linux
        raise PluginError(f"{path} did not load as a VST3 plugin")
    return plugin


def _load_failure(path: Path, exc: BaseException) -> str:
    text = _one_line(exc)
    # pedalboard: "Failed to load plugin as VST3Plugin. Errors were: VST3Plugin: Unable to scan
    # plugin /x.vst3: unsupported plugin format or scan failure."
    detail = text.rsplit(f"{path}:", 1)[-1].strip() if f"{path}:" in text else text
    detail = detail.removeprefix("Failed to load plugin as VST3Plugin. Errors were:").strip()
    hint = ""
    if path.is_dir():
        binaries = list((path / "Contents" / _arch_folder()).glob("*.so"))
        if not binaries:
            hint = f"; the bundle has no Contents/{_arch_folder()}/*.so (built for another system?)"
        else:
            hint = "; is it a VST3 plugin built for this system?"
    else:
        hint = "; a .vst3 on Linux is normally a bundle folder"
    return f"cannot load VST3 plugin {path}: {detail.rstrip('.')}{hint}"


# --------------------------------------------------------------------------- parameters


class _Vst3Param:
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
            self.linear = _looks_linear(wrapper.ranges, self.minimum, self.maximum)
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
            return _tidy(self.minimum + raw * span, span * _float32_spacing(raw))
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
            guess = float(wrapper.get_raw_value_for_text(_fmt(value)))
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


def _tidy(value: float, tolerance: float) -> float:
    """The shortest decimal within ``tolerance`` of ``value`` (-6.0000007 -> -6.0)."""
    if tolerance <= 0 or not math.isfinite(value):
        return value
    for digits in range(12):
        rounded = round(value, digits)
        if abs(rounded - value) <= tolerance:
            return rounded + 0.0  # no -0.0
    return value


def _parse_float(text: object) -> float:
    pb = _pedalboard()
    stripped = pb._pedalboard.strip_common_float_suffixes(str(text))
    try:
        return float(stripped)
    except (TypeError, ValueError):
        return math.nan


def _looks_linear(ranges: dict, minimum: float, maximum: float) -> bool:
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


def _vst3_params(plugin: Any) -> dict[str, _Vst3Param]:
    cache = getattr(plugin, "__automix_parameters__", None)
    if cache is None:
        cache = {key: _Vst3Param(key, wrapper) for key, wrapper in plugin.parameters.items()}
        plugin.__automix_parameters__ = cache  # "__" names bypass pedalboard's __setattr__
    return cache


def _builtin_defaults(cls: type) -> dict[str, Any]:
    try:
        instance = cls()
    except (TypeError, ValueError, RuntimeError):  # needs arguments (Convolution)
        return {}
    return {n: getattr(instance, n) for n in builtin_parameters(cls.__name__)}


def _builtin_info(plugin: Any) -> list[ParameterInfo]:
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


def list_parameters(plugin: Any) -> list[ParameterInfo]:
    """Every parameter of ``plugin`` (VST3 or built-in effect), in the plugin's order.

    VST3: ranges, units, defaults and steps as the plugin reports them (ranges read from its
    displayed values, see the module notes). Built-in effects: each constructor parameter;
    ``minimum``/``maximum`` from :data:`BUILTIN_RANGES` where known, else ``-inf``/``inf``;
    ``default`` is the class default; enum parameters (``LadderFilter.mode``) are list
    parameters with their member names as ``choices``; non-numeric ones are left out.
    """
    if _is_vst3(plugin):
        return [p.info() for p in _vst3_params(plugin).values()]
    _check_builtin(plugin)
    return _builtin_info(plugin)


def _check_builtin(plugin: Any) -> None:
    pb = _pedalboard()
    if not isinstance(plugin, pb.Plugin):
        raise PluginError(f"{plugin!r} is not a pedalboard plugin")


def _find_vst3_param(plugin: Any, name: str) -> _Vst3Param:
    params = _vst3_params(plugin)
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
            f"{_plugin_title(plugin)}: several parameters are labelled {name!r}; use one of the names "
            f"{', '.join(p.key for p in by_label)}"
        )
    raise PluginError(f"{_plugin_title(plugin)} has no parameter {name!r}; it has {known or 'none'}")


def _range_text(minimum: float, maximum: float, unit: str) -> str:
    unit = f" {unit}" if unit else ""
    return f"[{_fmt(minimum)}, {_fmt(maximum)}]{unit}"


def _coerce_vst3(param: _Vst3Param, value: Any, title: str) -> float:
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
            raise PluginError(f"{where} must be a number in {_range_text(param.minimum, param.maximum, param.unit)}, got {value!r}")
        value = number
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PluginError(f"{where} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise PluginError(f"{where} must be a finite number, got {value!r}")
    slack = 1e-9 * max(1.0, abs(param.maximum - param.minimum))
    if not param.minimum - slack <= value <= param.maximum + slack:
        raise PluginError(
            f"{where} = {_fmt(value)} is out of range {_range_text(param.minimum, param.maximum, param.unit)}"
        )
    value = min(param.maximum, max(param.minimum, value))
    return param.snap(value)


def set_parameter(plugin: Any, name: str, value: bool | float | str) -> float:
    """Set parameter ``name`` (Python name or display label) of ``plugin`` to ``value``.

    ``value`` is in physical units (``-6.0`` for -6 dB). VST3: written exactly as described in
    the module notes (continuous: exact; stepped/boolean/list: snapped to the nearest
    allowed value; list parameters also take their labels). Built-in effects: checked
    against :data:`BUILTIN_RANGES` and type, then set. Returns the value now set (snapped;
    a list parameter's index). Raises :class:`PluginError` for an unknown name (listing the
    known ones), a value out of range (naming the range and unit) or of the wrong kind.
    """
    title = _plugin_title(plugin)
    if _is_vst3(plugin):
        param = _find_vst3_param(plugin, name)
        physical = _coerce_vst3(param, value, title)
        param.wrapper.raw_value = param.raw_of_value(physical)
        return physical
    _check_builtin(plugin)
    coerced = _coerce_builtin(type(plugin), name, value)
    try:
        setattr(plugin, name, coerced)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"{title}: {name} = {value!r} refused: {_pybind_reason(exc)}") from None
    return get_parameter(plugin, name)


def _coerce_builtin(cls: type, name: str, value: Any) -> Any:
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
        raise PluginError(f"{title}: {name} = {_fmt(value)} is out of range {_range_text(low, high, _unit_of(name))}")
    return float(value)


def _pybind_reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "incompatible" in first:
        return "wrong type of value"
    return _one_line(first).rstrip(".")


def get_parameter(plugin: Any, name: str) -> float:
    """The current value of parameter ``name`` in physical units.

    Booleans give 0.0/1.0 and list parameters their 0-based index (see
    :attr:`ParameterInfo.choices`). VST3 continuous values are known to the float32
    precision of the normalised value and are given as the shortest decimal within it
    (-6.0, not -6.0000007).
    """
    if _is_vst3(plugin):
        param = _find_vst3_param(plugin, name)
        return param.value_of_raw(float(param.wrapper.raw_value))
    _check_builtin(plugin)
    title = type(plugin).__name__
    known = builtin_parameters(title)
    if name not in known:
        raise PluginError(f"{title} has no parameter {name!r}; it has {', '.join(known) or 'none'}")
    value = getattr(plugin, name)
    if _is_enum(value):
        return float(_enum_members(value).index(_enum_name(value)))
    return float(value)


# --------------------------------------------------------------------------- state


def _flush(plugin: Any) -> None:
    """Process a little silence so queued parameter changes reach the audio processor."""
    import numpy as np

    for channels in (2, 1):
        try:
            plugin.process(np.zeros((channels, _FLUSH_FRAMES), dtype=np.float32), _FLUSH_RATE)
            return
        except ValueError:
            continue


def get_state(plugin: Any) -> str:
    """The VST3 plugin's whole state (``raw_state``) as base64 text, for :attr:`PluginSpec.state`.

    First processes 64 samples of silence (resetting the plugin) so that parameters set since
    the last ``process()`` are in the state: a VST3 host hands parameter changes to the
    plugin's audio processor with the next block, and the state is the processor's.
    """
    if not _is_vst3(plugin):
        raise PluginError(f"{_plugin_title(plugin)} is a built-in effect; its state is its parameters (list_parameters)")
    _flush(plugin)
    return base64.b64encode(bytes(plugin.raw_state)).decode("ascii")


def set_state(plugin: Any, b64: str) -> None:
    """Restore a state saved by :func:`get_state` (base64 of ``raw_state``).

    Refuses text that is not base64 and data that is not a VST3 state as pedalboard saves it
    (JUCE's binary XML holding ``<VST3PluginState>``), and reports a plugin raising while
    reading it. Neither JUCE nor pedalboard can tell whether a plugin accepted a well-formed
    state: one saved from another plugin is usually ignored silently.
    """
    if not _is_vst3(plugin):
        raise PluginError(f"{_plugin_title(plugin)} is a built-in effect and has no raw state; set its parameters")
    if not isinstance(b64, str):
        raise PluginError("a plugin state must be base64 text (from get_state)")
    try:
        data = base64.b64decode(b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PluginError(f"{_plugin_title(plugin)}: the state is not valid base64; save one with get_state") from None
    if not data.startswith(b"VC2!") or b"<VST3PluginState" not in data[:256]:
        raise PluginError(
            f"{_plugin_title(plugin)}: the state is not a VST3 plugin state saved by pedalboard (raw_state); "
            "save one with get_state"
        )
    try:
        plugin.raw_state = data
    except (RuntimeError, ValueError, TypeError) as exc:
        raise PluginError(f"{_plugin_title(plugin)} refused the state: {_one_line(exc)}") from None
    # parameter values changed behind our back: nothing cached depends on them


# --------------------------------------------------------------------------- chains


def make_plugin(spec: PluginSpec, *, base_dir: str | os.PathLike[str] | None = None) -> pedalboard.Plugin:
    """A pedalboard plugin instance for ``spec`` (bypassed or not: bypass is the caller's).

    Built-in: ``getattr(pedalboard, spec.name)(**spec.params)``, each value checked first
    (:func:`set_parameter`'s rules). VST3: ``spec.path`` (relative to ``base_dir``, default
    the current folder) is loaded (:func:`load_vst3`), ``spec.state`` restored, then each of
    ``spec.params`` set with :func:`set_parameter`. Raises :class:`PluginError` naming the
    plugin and, for a bad value, the parameter.
    """
    pb = _pedalboard()
    if spec.kind == "builtin":
        cls = getattr(pb, str(spec.name), None)
        if cls is None or not isinstance(cls, type) or not issubclass(cls, pb.Plugin):
            raise PluginError(f"{spec.name!r} is not a pedalboard effect")
        kwargs = {k: _coerce_builtin(cls, k, v) for k, v in spec.params.items()}
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"{spec.name}: {_pybind_reason(exc)} (parameters {spec.params})") from None
    path = Path(spec.path).expanduser()  # type: ignore[arg-type]
    if not path.is_absolute():
        path = Path(base_dir if base_dir is not None else Path.cwd()).expanduser().absolute() / path
    plugin = load_vst3(path, name=spec.name)
    if spec.state is not None:
        set_state(plugin, spec.state)
    for key, value in spec.params.items():
        set_parameter(plugin, key, value)
    return plugin


def make_chain(specs: Iterable[PluginSpec], *, base_dir: str | os.PathLike[str] | None = None) -> list[pedalboard.Plugin]:
    """:func:`make_plugin` for each spec, in order (bypassed ones included)."""
    return [make_plugin(spec, base_dir=base_dir) for spec in specs]


def _nyquist_problems(spec: PluginSpec, sample_rate: int) -> list[str]:
    problems = []
    if spec.kind == "builtin":
        nyquist = sample_rate / 2.0
        for key in _FREQUENCY_PARAMETERS:
            value = spec.params.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= nyquist:
                problems.append(
                    f"{key} = {_fmt(value)} Hz is not below the Nyquist frequency "
                    f"({_fmt(nyquist)} Hz at {sample_rate} Hz); lower it"
                )
    return problems


def check_plugins(session: Session, base_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Every problem with the plugins of ``session``, one line each; ``[]`` when all load.

    Each plugin of each track, then of the master chain, is instantiated (:func:`make_plugin`,
    bypassed ones too) and built-in filters' frequencies are checked against the Nyquist
    frequency of ``session.sample_rate``. Lines read ``track 'snare' plugin 2 (Foo.vst3): ...``
    and ``master plugin 1 (Compressor): ...`` (plugins counted from 1). ``base_dir`` (default
    ``session.base_dir``) is where relative VST3 paths are resolved.
    """
    base = Path(base_dir).expanduser().absolute() if base_dir is not None else session.base_dir
    problems: list[str] = []

    def check(where: str, specs: Sequence[PluginSpec]) -> None:
        for i, spec in enumerate(specs, start=1):
            prefix = f"{where} plugin {i} ({spec.label()})"
            try:
                plugin = make_plugin(spec, base_dir=base)
            except PluginError as exc:
                problems.append(f"{prefix}: {exc}")
                continue
            del plugin
            problems.extend(f"{prefix}: {p}" for p in _nyquist_problems(spec, session.sample_rate))

    for track in session.tracks:
        check(f"track {track.name!r}", track.plugins)
    check("master", session.master)
    return problems


# --------------------------------------------------------------------------- information


def reported_latency_samples(plugin: Any, *, refresh: bool = False) -> int:
    """The latency the plugin reports, in samples (0 for built-in effects and when unknown).

    For a ``pedalboard.Pedalboard``/``Chain`` the sum over its plugins, for a ``Mix`` the
    largest. ``refresh=True`` first processes 64 samples of silence (resetting the plugin),
    because a plugin may update the figure only when it next processes (see the module
    notes). pedalboard's ``process()`` already compensates this latency.
    """
    pb = _pedalboard()
    if isinstance(plugin, pb.ExternalPlugin):
        if refresh:
            _flush(plugin)
        try:
            return max(0, int(plugin.reported_latency_samples))
        except (AttributeError, TypeError, ValueError):
            return 0
    if isinstance(plugin, pb.Mix):
        return max((reported_latency_samples(p, refresh=refresh) for p in plugin), default=0)
    if isinstance(plugin, (pb.Chain, pb.Pedalboard)):
        return sum(reported_latency_samples(p, refresh=refresh) for p in plugin)
    return 0


def describe_plugin(path_or_name: str | os.PathLike[str], *, name: str | None = None) -> dict[str, Any]:
    """A JSON-ready description of a VST3 bundle (a path) or a built-in effect (a class name).

    Keys: ``name``, ``kind`` (``"vst3"``/``"builtin"``), ``path`` (absolute, or ``None``),
    ``is_instrument``, ``manufacturer``, ``version``, ``category``, ``identifier``,
    ``plugins_in_file`` (VST3: the names in the bundle), ``latency_samples``
    (:func:`reported_latency_samples`, refreshed) and ``parameters`` (each
    :meth:`ParameterInfo.to_dict`).
    """
    pb = _pedalboard()
    text = os.fspath(path_or_name)
    looks_like_path = isinstance(path_or_name, os.PathLike) or os.sep in text or "." in Path(text).name
    if looks_like_path or Path(text).expanduser().exists():
        path = Path(text).expanduser().absolute()
        plugin = load_vst3(path, name=name)
        return {
            "name": str(plugin.name),
            "kind": "vst3",
            "path": str(path),
            "is_instrument": bool(plugin.is_instrument),
            "manufacturer": str(getattr(plugin, "manufacturer_name", "") or ""),
            "version": str(getattr(plugin, "version", "") or ""),
            "category": str(getattr(plugin, "category", "") or ""),
            "identifier": str(getattr(plugin, "identifier", "") or ""),
            "plugins_in_file": [str(n) for n in pb.VST3Plugin.get_plugin_names_for_file(str(path))],
            "latency_samples": reported_latency_samples(plugin, refresh=True),
            "parameters": [p.to_dict() for p in list_parameters(plugin)],
        }
    try:
        spec = PluginSpec(kind="builtin", name=text)
    except ValidationError as exc:
        raise PluginError(f"{text!r} is neither a .vst3 path nor a built-in effect: {describe_validation_error(exc)}") from None
    plugin = make_plugin(spec)
    return {
        "name": text,
        "kind": "builtin",
        "path": None,
        "is_instrument": False,
        "manufacturer": "pedalboard",
        "version": str(getattr(pb, "__version__", "")),
        "category": "",
        "identifier": f"pedalboard.{text}",
        "plugins_in_file": [],
        "latency_samples": 0,
        "parameters": [p.to_dict() for p in list_parameters(plugin)],
    }
