"""Load, inspect and drive audio plugins: pedalboard's built-in effects and VST3 bundles.

The public API for one plugin or a chain: :func:`make_plugin`, :func:`list_parameters`,
:func:`set_parameter`, :func:`check_plugins`, :func:`describe_plugin`, ... Torch-free;
pedalboard is imported when first needed. Values are in physical units (dB, Hz, ms,
samples), never normalised. Parameters, latency and the built-in effects' measured
behaviour: ``docs/plugins.md``. Parts: :mod:`~daw_bridge.vst3` (loading, state),
:mod:`~daw_bridge.vst3_params`, :mod:`~daw_bridge.builtin_effects`, :mod:`~daw_bridge.plugin_info`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from daw_bridge.builtin_effects import (
    builtin_info,
    builtin_value,
    check_builtin,
    coerce_builtin,
    nyquist_problems,
    pybind_reason,
)
from daw_bridge.errors import PluginError
from daw_bridge.plugin_info import ParameterInfo, is_vst3, pedalboard_module, plugin_title
from daw_bridge.ranges import BUILTIN_RANGES
from daw_bridge.session import PluginSpec, Session, describe_validation_error
from daw_bridge.vst3 import flush, get_state, load_vst3, set_state
from daw_bridge.vst3_params import Vst3Param as _Vst3Param  # noqa: F401  (importable from here, as before)
from daw_bridge.vst3_params import coerce_vst3, find_vst3_param, vst3_params
from daw_bridge.vst3_params import looks_linear as _looks_linear  # noqa: F401  (as before)
from daw_bridge.vst3_params import tidy as _tidy  # noqa: F401  (as before)

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


def list_parameters(plugin: Any) -> list[ParameterInfo]:
    """Every parameter of ``plugin`` (VST3 or built-in effect), in the plugin's order.

    VST3: ranges, units, defaults and steps as the plugin reports them (ranges read from its
    displayed values, see ``docs/plugins.md``). Built-in effects: each constructor parameter;
    ``minimum``/``maximum`` from :data:`BUILTIN_RANGES` where known, else ``-inf``/``inf``;
    ``default`` is the class default; enum parameters (``LadderFilter.mode``) are list
    parameters with their member names as ``choices``; non-numeric ones are left out.
    """
    if is_vst3(plugin):
        return [p.info() for p in vst3_params(plugin).values()]
    check_builtin(plugin)
    return builtin_info(plugin)


def set_parameter(plugin: Any, name: str, value: bool | float | str) -> float:
    """Set parameter ``name`` (Python name or display label) of ``plugin`` to ``value``.

    ``value`` is in physical units (``-6.0`` for -6 dB). VST3: written exactly as described in
    ``docs/plugins.md`` (continuous: exact; stepped/boolean/list: snapped to the nearest
    allowed value; list parameters also take their labels). Built-in effects: checked
    against :data:`BUILTIN_RANGES` and type, then set. Returns the value now set (snapped;
    a list parameter's index). Raises :class:`PluginError` for an unknown name (listing the
    known ones), a value out of range (naming the range and unit) or of the wrong kind.
    """
    title = plugin_title(plugin)
    if is_vst3(plugin):
        param = find_vst3_param(plugin, name)
        physical = coerce_vst3(param, value, title)
        param.wrapper.raw_value = param.raw_of_value(physical)
        return physical
    check_builtin(plugin)
    coerced = coerce_builtin(type(plugin), name, value)
    try:
        setattr(plugin, name, coerced)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"{title}: {name} = {value!r} refused: {pybind_reason(exc)}") from None
    return get_parameter(plugin, name)


def get_parameter(plugin: Any, name: str) -> float:
    """The current value of parameter ``name`` in physical units.

    Booleans give 0.0/1.0 and list parameters their 0-based index (see
    :attr:`ParameterInfo.choices`). VST3 continuous values are known to the float32
    precision of the normalised value and are given as the shortest decimal within it
    (-6.0, not -6.0000007).
    """
    if is_vst3(plugin):
        param = find_vst3_param(plugin, name)
        return param.value_of_raw(float(param.wrapper.raw_value))
    check_builtin(plugin)
    return builtin_value(plugin, name)


def make_plugin(spec: PluginSpec, *, base_dir: str | os.PathLike[str] | None = None) -> pedalboard.Plugin:
    """A pedalboard plugin instance for ``spec`` (bypassed or not: bypass is the caller's).

    Built-in: ``getattr(pedalboard, spec.name)(**spec.params)``, each value checked first
    (:func:`set_parameter`'s rules). VST3: ``spec.path`` (relative to ``base_dir``, default
    the current folder) is loaded (:func:`load_vst3`), ``spec.state`` restored, then each of
    ``spec.params`` set with :func:`set_parameter`. Raises :class:`PluginError` naming the
    plugin and, for a bad value, the parameter.
    """
    pb = pedalboard_module()
    if spec.kind == "builtin":
        cls = getattr(pb, str(spec.name), None)
        if cls is None or not isinstance(cls, type) or not issubclass(cls, pb.Plugin):
            raise PluginError(f"{spec.name!r} is not a pedalboard effect")
        kwargs = {k: coerce_builtin(cls, k, v) for k, v in spec.params.items()}
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"{spec.name}: {pybind_reason(exc)} (parameters {spec.params})") from None
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
            problems.extend(f"{prefix}: {p}" for p in nyquist_problems(spec, session.sample_rate))

    for track in session.tracks:
        check(f"track {track.name!r}", track.plugins)
    check("master", session.master)
    return problems


# --------------------------------------------------------------------------- information


def reported_latency_samples(plugin: Any, *, refresh: bool = False) -> int:
    """The latency the plugin reports, in samples (0 for built-in effects and when unknown).

    For a ``pedalboard.Pedalboard``/``Chain`` the sum over its plugins, for a ``Mix`` the
    largest. ``refresh=True`` first processes 64 samples of silence (resetting the plugin),
    because a plugin may update the figure only when it next processes (see
    ``docs/plugins.md``). pedalboard's ``process()`` already compensates this latency.
    """
    pb = pedalboard_module()
    if isinstance(plugin, pb.ExternalPlugin):
        if refresh:
            flush(plugin)
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
    pb = pedalboard_module()
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
