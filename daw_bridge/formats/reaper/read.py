"""Read a REAPER project (``.rpp``) into a :class:`~daw_bridge.session.Session`.

One track per REAPER track playing an audio file (its first audio item); what the writer kept
in ``<EXT`` comes back; what a session cannot hold is listed in ``Session.notes``.
What is read: ``docs/formats.md`` (REAPER, Reading back).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from pydantic import ValidationError

from daw_bridge.errors import SessionReadError
from daw_bridge.formats.reaper.ext_data import ext_values, stored_plugins, stored_source
from daw_bridge.formats.reaper.rpp import RppChunk, parse_rpp, unique_names
from daw_bridge.outputs import safe_file_name
from daw_bridge.session import Session, Track, describe_validation_error

_PLUGIN_BLOCKS = frozenset({"VST", "JS", "AU", "CLAP", "DX", "LV2", "VIDEO_EFFECT", "CONTAINER"})


def _float(values: list[str] | None, index: int, default: float) -> float:
    try:
        value = float(values[index])  # type: ignore[index]
    except (TypeError, IndexError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _gain_to_db(gain: float) -> float:
    return -math.inf if gain <= 0 else 20.0 * math.log10(gain)


def _chanmode_channel(mode: int) -> tuple[int | None, bool]:
    """(0-based channel, understood) for a CHANMODE value."""
    if mode == 0:
        return None, True
    if mode in (3, 4):
        return mode - 3, True
    if 5 <= mode <= 66:  # mono channels 3..64
        return mode - 3, True
    if 131 <= mode <= 194:  # mono channels 65..128
        return mode - 131 + 64, True
    return None, False


def _item_source(item: RppChunk) -> tuple[str, str | None, bool] | None:
    """(source type, FILE or None, inside a SECTION) of an item's first take, or None."""
    source = item.first("SOURCE")
    if source is None:
        return None
    in_section = False
    while source.args and source.args[0].upper() == "SECTION":
        inner = source.first("SOURCE")
        if inner is None:
            return None
        source, in_section = inner, True
    kind = source.args[0].upper() if source.args else ""
    kind = kind.removeprefix("_OFFLINE_")
    if kind in ("MIDI", "EMPTY", "CLICK", "LTC", "VIDEO", "VIDEOEFFECT", "MIDIPOOL"):
        return kind, None, in_section
    values = source.get("FILE")
    file_text = values[0] if values else None
    return kind, (file_text or None), in_section


def _project_file_text(path: Path) -> str:
    """The project file's text (UTF-8, BOM dropped); one-line errors for a missing or binary file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SessionReadError(f"REAPER project {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise SessionReadError(f"{path} is a folder; give the path of a .rpp file") from None
    except OSError as exc:
        raise SessionReadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if b"\x00" in data[:4096]:
        raise SessionReadError(f"{path} is not a REAPER project (it is binary); give a .rpp file")
    return data.decode("utf-8", errors="replace").lstrip("\ufeff")


def _project_settings(root: RppChunk, notes: list[str]) -> tuple[int, float]:
    """``(sample rate in Hz, pan law in dB)``; notes for what the project sets that a session cannot."""
    rate_values = root.get("SAMPLERATE")
    sample_rate = int(_float(rate_values, 0, 0.0))
    if not 0 < sample_rate <= 768000:
        sample_rate = 44100
        notes.append("the project sets no sample rate; 44100 Hz assumed")
    law_gain = _float(root.get("PANLAW"), 0, 1.0)
    law_db = round(_gain_to_db(law_gain), 9) if law_gain > 0 else -math.inf
    if -6.05 <= law_db < -6.0:  # REAPER's "-6 dB" may be stored as 0.5 (-6.02 dB)
        law_db = -6.0
    if not -6.0 <= law_db < 0.0:
        notes.append(
            f"the project's pan law ({law_db:+.1f} dB{', gain compensated' if law_gain > 1 else ''}) is outside the "
            "-6..0 dB laws a session holds; the default -3 dB law is used"
        )
        law_db = -3.0
    pan_mode = int(_float(root.get("PANMODE"), 0, 3))
    if pan_mode != 3:
        notes.append(f"the project's pan mode {pan_mode} is read as stereo balance / mono pan (mode 3)")
    if abs(_float(root.get("MASTER_VOLUME"), 0, 1.0) - 1.0) > 1e-9 or abs(_float(root.get("MASTER_VOLUME"), 1, 0.0)) > 1e-9:
        notes.append("the master fader/pan is not at 0 dB/centre; it is not carried")
    master_fx = root.first("MASTERFXLIST")
    if master_fx is not None and any(c.name in _PLUGIN_BLOCKS for c in master_fx.children):
        notes.append("the master track's REAPER FX are not carried")
    return sample_rate, law_db


def _track_mixer(chunk: RppChunk, label: str, notes: list[str]) -> tuple[float, float, bool, bool]:
    """``(gain in dB, pan, mute, solo)`` of a ``<TRACK``; notes for sends, receives and FX."""
    volpan = chunk.get("VOLPAN")
    vol = _float(volpan, 0, 1.0)
    gain_db = _gain_to_db(abs(vol))
    pan = _float(volpan, 1, 0.0)
    mutesolo = chunk.get("MUTESOLO")
    mute = _float(mutesolo, 0, 0) != 0
    solo = _float(mutesolo, 1, 0) != 0
    if chunk.get("MAINSEND") is not None and _float(chunk.get("MAINSEND"), 0, 1) == 0:
        notes.append(f"track {label!r} does not send to the master; read as muted")
        mute = True
    if chunk.get("AUXRECV") is not None:
        notes.append(f"track {label!r}: its receives (sends from other tracks) are not carried")
    fxchain = chunk.first("FXCHAIN")
    if fxchain is not None:
        count = sum(1 for c in fxchain.children if c.name in _PLUGIN_BLOCKS)
        if count:
            notes.append(f"track {label!r}: its {count} REAPER FX are not carried")
    return gain_db, pan, mute, solo


def _read_item(
    item: RppChunk, label: str, source_type: str, in_section: bool, notes: list[str]
) -> tuple[float, float | None, bool, int | None]:
    """``(position in s, item gain in dB or None, item muted, channel)`` of an item and its first take."""
    position = _float(item.get("POSITION"), 0, 0.0)
    if position < 0:
        notes.append(f"track {label!r}: item starts before 0 s ({position:g} s); moved to 0")
        position = 0.0
    item_volpan = item.get("VOLPAN")
    item_gain = abs(_float(item_volpan, 0, 1.0)) * abs(_float(item_volpan, 2, 1.0))
    item_gain_db = None
    if abs(item_gain - 1.0) > 1e-9:
        item_gain_db = _gain_to_db(item_gain)
        notes.append(f"track {label!r}: the item's volume ({_gain_to_db(item_gain):+.2f} dB) was added to the fader")
    if abs(_float(item_volpan, 1, 0.0)) > 1e-9:
        notes.append(f"track {label!r}: the take's pan is not carried")
    muted = False
    if _float(item.get("MUTE"), 0, 0) != 0:
        notes.append(f"track {label!r}: its item is muted; read as a muted track")
        muted = True
    if abs(_float(item.get("SOFFS"), 0, 0.0)) > 1e-9:
        notes.append(f"track {label!r}: the item's start offset into the file is not carried (the file plays from its start)")
    if abs(_float(item.get("PLAYRATE"), 0, 1.0) - 1.0) > 1e-9:
        notes.append(f"track {label!r}: the item's play rate is not carried")
    if in_section:
        notes.append(f"track {label!r}: the item's section/reverse settings are not carried")
    if source_type not in ("WAVE", "FLAC", "VORBIS", "OPUS"):
        notes.append(f"track {label!r}: source type {source_type} read as a plain audio file")
    channel, understood = _chanmode_channel(int(_float(item.get("CHANMODE"), 0, 0)))
    if not understood:
        notes.append(f"track {label!r}: channel mode {item.get('CHANMODE')[0]} read as normal")  # type: ignore[index]
    return position, item_gain_db, muted, channel


def _track(
    chunk: RppChunk, label: str, ext: dict[str, str], folder: Path, used: set[str], notes: list[str]
) -> Track | None:
    """The session track of a ``<TRACK`` (its first audio item), or None (with a note) when it plays none."""
    items = chunk.all("ITEM")
    audio_items = [(it, src) for it in items if (src := _item_source(it)) is not None and src[1] is not None]
    if not audio_items:
        reason = "no audio item" if not items else "no item playing an audio file"
        notes.append(f"track {label!r} has {reason}; left out")
        return None
    if len(items) > 1:
        notes.append(f"track {label!r} has {len(items)} items; only the first audio item was read")
    item, (source_type, file_text, in_section) = audio_items[0]
    assert file_text is not None
    file = Path(file_text)
    if not file.is_absolute():
        file = (folder / file).absolute()
    gain_db, pan, mute, solo = _track_mixer(chunk, label, notes)
    position, item_gain_db, item_muted, channel = _read_item(item, label, source_type, in_section, notes)
    if item_gain_db is not None:
        gain_db += item_gain_db
    mute = mute or item_muted
    role = ext.get("automix_role") or None
    plugins = stored_plugins(ext, label, notes)
    file, channel = stored_source(ext, folder, file, channel, label, notes)
    if not -120.0 <= gain_db <= 24.0:
        clamped = min(max(gain_db, -120.0), 24.0)
        notes.append(f"track {label!r}: volume {gain_db:+.1f} dB is outside -120..+24 dB; read as {clamped:+g} dB")
        gain_db = clamped
    if not -1.0 <= pan <= 1.0:
        pan = min(max(pan, -1.0), 1.0)
    name = label
    if name.lower() in used:
        (name,) = unique_names([label], used)
        notes.append(f"two tracks are named {label!r}; the second is read as {name!r}")
    else:
        used.add(name.lower())
    return Track(
        name=name, file=file, channel=channel, role=role, offset_s=position,
        gain_db=round(gain_db, 9), pan=pan, mute=mute, solo=solo, plugins=plugins,
    )


def _tracks(root: RppChunk, folder: Path, notes: list[str]) -> tuple[list[Track], bool]:
    """The session's tracks, and whether the project has folder tracks."""
    tracks: list[Track] = []
    used: set[str] = set()
    folders = False
    for index, chunk in enumerate(root.all("TRACK"), start=1):
        label = ((chunk.get("NAME") or [""]) + [""])[0].strip() or f"Track {index}"
        ext = ext_values(chunk)
        if ext.get("automix_kind") == "ai_mix":
            notes.append(f"track {label!r} (the automix render) was left out")
            continue
        if _float(chunk.get("ISBUS"), 0, 0) == 1:
            folders = True
        track = _track(chunk, label, ext, folder, used, notes)
        if track is not None:
            tracks.append(track)
    return tracks, folders


def read_reaper_project(path: str | os.PathLike[str]) -> Session:
    """Read a REAPER project (``.rpp``) into a :class:`Session`.

    One track per REAPER track that plays an audio file: its name, fader (``gain_db``), pan,
    mute and solo, and the first item's position (``offset_s``), file (made absolute,
    relative paths taken from the project's folder) and channel (from ``CHANMODE``). The
    role, the plugin chain and the original file of an extracted channel come back from the
    ``<EXT`` data :func:`write_reaper_project` writes. The session's name is the file's name,
    its rate the project's ``SAMPLERATE``, its pan law ``20*log10(PANLAW)``. What cannot be
    carried is listed in ``notes``. Raises :class:`SessionReadError` (one line) for a
    missing, unreadable or broken file.
    """
    path = Path(path).expanduser().absolute()
    root = parse_rpp(_project_file_text(path), path)
    if root.name != "REAPER_PROJECT":
        raise SessionReadError(f"{path} is not a REAPER project (it starts with <{root.name}); give a .rpp file")
    notes: list[str] = []
    sample_rate, law_db = _project_settings(root, notes)
    tracks, folders = _tracks(root, path.parent, notes)
    if folders:
        notes.append("the project has folder tracks; their volume, pan and FX are not folded into the tracks inside")
    try:
        return Session(
            name=safe_file_name(path.stem), sample_rate=sample_rate, tracks=tracks, pan_law_db=law_db, notes=notes
        )
    except ValidationError as exc:
        raise SessionReadError(f"{path}: {describe_validation_error(exc)}") from None
