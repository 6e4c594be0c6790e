"""What every plugin module shares: :class:`ParameterInfo`, pedalboard on first use, message text.

Parameter values are in the plugin's physical units (dB, Hz, ms, samples), never normalised.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


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


def pedalboard_module() -> Any:
    """The ``pedalboard`` module, imported on first use."""
    import pedalboard  # torch-free; imported late so that importing daw_bridge stays cheap

    return pedalboard


def one_line(text: object) -> str:
    """``text`` with all white space folded to single spaces."""
    return " ".join(str(text).split())


def is_vst3(plugin: Any) -> bool:
    """Whether ``plugin`` is a loaded VST3 plugin (not a built-in effect)."""
    return isinstance(plugin, pedalboard_module().ExternalPlugin)


def plugin_title(plugin: Any) -> str:
    """The plugin's name for messages: the VST3 plugin's own, or the effect's class name."""
    if is_vst3(plugin):
        return str(getattr(plugin, "name", "") or "VST3 plugin")
    return type(plugin).__name__


def fmt_number(value: float) -> str:
    """A number for messages: ``-6``, ``0.5``, ``-inf``."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def range_text(minimum: float, maximum: float, unit: str) -> str:
    """``[min, max] unit`` for messages."""
    unit = f" {unit}" if unit else ""
    return f"[{fmt_number(minimum)}, {fmt_number(maximum)}]{unit}"
