"""Plugin chain presets: starting chains for a track by its role, and for the master bus.

A chain preset is a file ``presets/chains/NAME.json`` (installed with the package as
``automix/_presets/chains``) holding a :class:`ChainPreset`: the roles it suits, a
description and a list of pedalboard built-in effects with their settings (physical units:
``cutoff_frequency_hz`` in Hz, ``threshold_db`` and ``gain_db`` in dB, ``attack_ms`` and
``release_ms`` in ms, ``q`` and Reverb levels unitless). Track presets cover the roles of
:mod:`daw_bridge.stems` (``kick``, ``snare``, ``hi-hat``, ``tom``/``tom_1``..., ``overheads``/
``overhead_L``/``overhead_R``, ``room``, ``bass``, ``vocal``, ``guitar``, ``keys``); master
presets (``master-clean``, ``master-loud``) end in a limiter.

:func:`apply_chain_presets` fills a session's empty chains from them. Torch-free.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from daw_bridge.errors import AutomixError
from daw_bridge.files import read_settings_file, shipped_folder
from daw_bridge.stems import guess_role, normalise_name

from daw_bridge.session import PluginSpec, Session, describe_validation_error

__all__ = [
    "ChainPreset",
    "PresetError",
    "apply_chain_presets",
    "chain_presets_dir",
    "list_chain_presets",
    "load_chain_preset",
    "preset_for_role",
    "role_key",
]

_SUFFIXES = (".json", ".yaml", ".yml")


class PresetError(AutomixError):
    """A chain preset is unknown, unreadable or invalid, or does not fit where it is used."""


class ChainPreset(BaseModel):
    """One chain preset (``presets/chains/NAME.json``); unknown keys are refused.

    * ``name``: the preset's name, the file name without its suffix.
    * ``kind``: ``"track"`` (a track's insert chain) or ``"master"`` (the stereo sum's).
    * ``roles``: the track roles it suits (track presets; at least one), matched as
      :func:`role_key` does (``overhead_L`` finds a preset listing ``overheads``).
    * ``description``: one or two sentences on what it does.
    * ``plugins``: pedalboard built-in effects in order (``kind: builtin`` only).
    * ``gain_db`` (dB, [-24, 24]) and ``pan`` (-1 left .. +1 right, track presets only):
      suggested fader and pan for such a track, or absent; :func:`apply_chain_presets`
      does not apply them.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1)
    kind: Literal["track", "master"]
    roles: list[str] = Field(default_factory=list)
    description: str = ""
    plugins: list[PluginSpec] = Field(min_length=1)
    gain_db: float | None = Field(default=None, ge=-24.0, le=24.0, description="suggested fader, dB")
    pan: float | None = Field(default=None, ge=-1.0, le=1.0, description="suggested pan, -1 left .. +1 right")

    @model_validator(mode="after")
    def _check(self) -> ChainPreset:
        for i, plugin in enumerate(self.plugins):
            if plugin.kind != "builtin":
                raise ValueError(f"plugins.{i}: a chain preset holds pedalboard built-in effects only, not {plugin.kind}")
        if self.kind == "track":
            if not self.roles:
                raise ValueError("a track preset needs roles (e.g. [\"snare\"])")
        else:
            if self.roles:
                raise ValueError("a master preset has no roles; remove them or make it kind: track")
            if self.pan is not None:
                raise ValueError("a master preset has no pan")
        return self


def chain_presets_dir() -> Path:
    """The folder of the shipped chain presets (installed copy first, then the checkout's)."""
    return shipped_folder("presets") / "chains"


def _shipped_files() -> dict[str, Path]:
    folder = chain_presets_dir()
    files: dict[str, Path] = {}
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.suffix.lower() in _SUFFIXES and path.is_file():
            files.setdefault(path.stem, path)
    return files


def _read(path: Path) -> ChainPreset:
    data = read_settings_file(
        path, "chain preset", error=PresetError, shape="a mapping with name, kind, roles, description and plugins"
    )
    try:
        preset = ChainPreset.model_validate(data)
    except ValidationError as exc:
        raise PresetError(f"chain preset {path}: {describe_validation_error(exc)}") from None
    if preset.name != path.stem:
        raise PresetError(
            f"chain preset {path} is named {preset.name!r}; a preset's name must be its file name ({path.stem!r})"
        )
    return preset


def list_chain_presets() -> list[ChainPreset]:
    """Every shipped chain preset, by name."""
    return [_read(path) for path in _shipped_files().values()]


def load_chain_preset(name_or_path: str | os.PathLike[str]) -> ChainPreset:
    """A shipped preset by name (``"snare"``, ``"master-clean"``), or a ``.json``/``.yaml`` file.

    Raises :class:`PresetError` (one line) for an unknown name (listing the shipped ones), a
    file that is missing or unreadable, or one that does not hold a valid preset (naming the
    bad key; unknown keys are refused).
    """
    text = os.fspath(name_or_path)
    is_path = (
        isinstance(name_or_path, os.PathLike)
        or Path(text).suffix.lower() in _SUFFIXES
        or os.sep in text
        or (os.altsep is not None and os.altsep in text)
    )
    if is_path:
        path = Path(text).expanduser()
        if path.suffix.lower() not in _SUFFIXES:
            raise PresetError(f"chain preset {path} must be a .json, .yaml or .yml file")
        return _read(path)
    files = _shipped_files()
    if text not in files:
        raise PresetError(f"unknown chain preset {text!r}; the presets are {', '.join(files) or 'none'}")
    return _read(files[text])


def role_key(role: str) -> str:
    """The role family used to match presets: ``"overhead_L"`` -> ``"overheads"``,
    ``"tom_2"``/``"Floor Tom"`` -> ``"tom"``, ``"hihat"`` -> ``"hi-hat"``, ``"guitar_2"`` -> ``"guitar"``.

    The role is read as :func:`daw_bridge.stems.guess_role` reads a track name (so aliases such
    as ``"vox"`` or ``"OH L"`` work); a trailing ``_<number>`` is dropped; a role nothing
    matches is kept as its normalised words joined by ``_``.
    """
    guessed, _side = guess_role(role)
    key = guessed if guessed is not None else "_".join(normalise_name(role))
    return re.sub(r"_\d+$", "", key)


def preset_for_role(role: str | None) -> ChainPreset | None:
    """The shipped track preset for ``role`` (see :func:`role_key`), or ``None``."""
    if not role or not role.strip():
        return None
    key = role_key(role)
    for preset in list_chain_presets():
        if preset.kind == "track" and any(role_key(r) == key for r in preset.roles):
            return preset
    return None


def apply_chain_presets(
    session: Session, *, master: str | None = "master-clean", replace: bool = False, tracks: bool = True
) -> Session:
    """A new session whose plugin chains come from the chain presets.

    Each track whose chain is empty (every track with ``replace=True``) and whose role has a
    preset (:func:`preset_for_role`) gets that preset's plugins; nothing else about the track
    changes (the presets' gain and pan suggestions are not applied); ``tracks=False`` leaves
    every track alone (only the master is set). The master chain gets
    the preset ``master`` (a name or file of a ``kind: master`` preset) under the same rule:
    when it is empty, or always with ``replace=True``; ``master=None`` leaves it alone. A
    note records each chain applied and each role without a preset. ``session`` itself is
    not changed. Raises :class:`PresetError` for an unknown or non-master ``master`` preset.
    """
    master_preset = None
    if master is not None:
        master_preset = load_chain_preset(master)
        if master_preset.kind != "master":
            raise PresetError(f"chain preset {master_preset.name!r} is a track preset; the master needs a kind: master preset")
    result = session.model_copy(deep=True)
    notes: list[str] = []
    for track in result.tracks if tracks else []:
        if track.plugins and not replace:
            continue
        preset = preset_for_role(track.role)
        if preset is None:
            if track.role:
                notes.append(f"no chain preset for track {track.name!r} (role {track.role!r})")
            continue
        track.plugins = [p.model_copy(deep=True) for p in preset.plugins]
        notes.append(f"chain preset {preset.name!r} applied to track {track.name!r} (role {track.role!r})")
    if master_preset is not None and (replace or not result.master):
        result.master = [p.model_copy(deep=True) for p in master_preset.plugins]
        notes.append(f"chain preset {master_preset.name!r} applied to the master")
    result.notes = [*result.notes, *notes]
    return result
