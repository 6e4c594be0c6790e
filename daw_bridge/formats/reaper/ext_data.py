"""What automix keeps in a REAPER track's ``<EXT`` block, written and read back.

Keys: ``automix_kind`` (``ai_mix``), ``automix_role``, ``automix_plugins_<n>`` (the plugin
chain as base64 JSON, in chunks of :data:`EXT_CHUNK` characters) and ``automix_source`` (the
original file and channel of extracted media, base64 JSON). See ``docs/formats.md`` (REAPER).
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from daw_bridge.formats.reaper.rpp import RppChunk, rpp_string
from daw_bridge.session import PluginSpec, Track

EXT_CHUNK = 900  # characters of base64 per EXT value (REAPER reads lines in bounded buffers)


def _b64_json(data: Any) -> str:
    return base64.b64encode(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()).decode("ascii")


def _from_b64_json(text: str) -> Any:
    return json.loads(base64.b64decode(text, validate=True).decode("utf-8"))


def ext_entries(track: Track | None, file: Path, media_name: str | None, channel: int | None) -> list[tuple[str, str]]:
    """``(key, value)`` lines of a track's ``<EXT`` block (``track`` None: the AI mix track).

    ``media_name`` is the file in ``media/`` the item plays instead of ``file`` (its
    ``channel`` extracted, or None for a whole copy).
    """
    ext: list[tuple[str, str]] = []
    if track is None:
        ext.append(("automix_kind", "ai_mix"))
    else:
        if track.role:
            ext.append(("automix_role", rpp_string(track.role)))
        if track.plugins:
            data = _b64_json([p.model_dump(mode="json") for p in track.plugins])
            for n in range(0, len(data), EXT_CHUNK):
                ext.append((f"automix_plugins_{n // EXT_CHUNK}", data[n : n + EXT_CHUNK]))
    if media_name is not None and channel is not None:
        original = {"file": str(file), "channel": channel, "media": f"media/{media_name}"}
        ext.append(("automix_source", _b64_json(original)))
    return ext


def ext_values(track: RppChunk) -> dict[str, str]:
    """Every ``<EXT`` key of a ``<TRACK`` block and its first value ('' when none)."""
    values: dict[str, str] = {}
    for ext in track.all("EXT"):
        for tokens in ext.lines:
            if len(tokens) >= 2:
                values[tokens[0]] = tokens[1]
            elif tokens:
                values[tokens[0]] = ""
    return values


def _ext_plugins(ext: dict[str, str]) -> str | None:
    parts, n = [], 0
    while f"automix_plugins_{n}" in ext:
        parts.append(ext[f"automix_plugins_{n}"])
        n += 1
    return "".join(parts) if parts else None


def stored_plugins(ext: dict[str, str], label: str, notes: list[str]) -> list[PluginSpec]:
    """The plugin chain kept in ``ext`` ([] when none; a note when it is damaged)."""
    stored = _ext_plugins(ext)
    if not stored:
        return []
    try:
        return [PluginSpec.model_validate(p) for p in _from_b64_json(stored)]
    except (binascii.Error, ValueError, TypeError, ValidationError):
        notes.append(f"track {label!r}: its stored automix plugin chain is damaged; left out")
        return []


def stored_source(
    ext: dict[str, str], folder: Path, file: Path, channel: int | None, label: str, notes: list[str]
) -> tuple[Path, int | None]:
    """The original ``(file, channel)`` of a channel the writer extracted, while that file exists
    (a project moved to another machine plays, and reads as, its own media); else the ones given."""
    if "automix_source" not in ext:
        return file, channel
    try:
        original = _from_b64_json(ext["automix_source"])
        media = (folder / original["media"]).absolute()
        if media == file and Path(original["file"]).is_file():
            file = Path(original["file"])
            channel = original["channel"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        notes.append(f"track {label!r}: its stored original file is damaged; the project's file is used")
    return file, channel
