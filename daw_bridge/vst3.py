"""VST3 bundles: load one (with one-line reasons when it cannot be), save and restore its state.

Linux pedalboard loads ``.vst3`` bundles only. State is base64 text of pedalboard's
``raw_state``. Why a state save processes silence first: ``docs/plugins.md``.
"""

from __future__ import annotations

import base64
import binascii
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daw_bridge.errors import PluginError
from daw_bridge.plugin_info import is_vst3, one_line, pedalboard_module, plugin_title

if TYPE_CHECKING:  # pragma: no cover
    import pedalboard

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
_FLUSH_FRAMES = 64
_FLUSH_RATE = 44100.0


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
    pb = pedalboard_module()
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
    if not is_vst3(plugin):  # pragma: no cover - load_plugin returns VST3Plugin on Linux
        raise PluginError(f"{path} did not load as a VST3 plugin")
    return plugin


def _load_failure(path: Path, exc: BaseException) -> str:
    text = one_line(exc)
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


def flush(plugin: Any) -> None:
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
    if not is_vst3(plugin):
        raise PluginError(f"{plugin_title(plugin)} is a built-in effect; its state is its parameters (list_parameters)")
    flush(plugin)
    return base64.b64encode(bytes(plugin.raw_state)).decode("ascii")


def set_state(plugin: Any, b64: str) -> None:
    """Restore a state saved by :func:`get_state` (base64 of ``raw_state``).

    Refuses text that is not base64 and data that is not a VST3 state as pedalboard saves it
    (JUCE's binary XML holding ``<VST3PluginState>``), and reports a plugin raising while
    reading it. Neither JUCE nor pedalboard can tell whether a plugin accepted a well-formed
    state: one saved from another plugin is usually ignored silently.
    """
    if not is_vst3(plugin):
        raise PluginError(f"{plugin_title(plugin)} is a built-in effect and has no raw state; set its parameters")
    if not isinstance(b64, str):
        raise PluginError("a plugin state must be base64 text (from get_state)")
    try:
        data = base64.b64decode(b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PluginError(f"{plugin_title(plugin)}: the state is not valid base64; save one with get_state") from None
    if not data.startswith(b"VC2!") or b"<VST3PluginState" not in data[:256]:
        raise PluginError(
            f"{plugin_title(plugin)}: the state is not a VST3 plugin state saved by pedalboard (raw_state); "
            "save one with get_state"
        )
    try:
        plugin.raw_state = data
    except (RuntimeError, ValueError, TypeError) as exc:
        raise PluginError(f"{plugin_title(plugin)} refused the state: {one_line(exc)}") from None
    # parameter values changed behind our back: nothing cached depends on them
