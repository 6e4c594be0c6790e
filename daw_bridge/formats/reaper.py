"""Write a session as a REAPER project (``.rpp``) and read one back.

:func:`write_reaper_project` creates a new folder holding ``<name>.rpp`` (and, when needed,
``media/``); :func:`read_reaper_project` turns a ``.rpp`` file back into a
:class:`~daw_bridge.session.Session`. Torch-free; audio is only probed (headers), except for
the channel extraction described below.

The file format
---------------
An ``.rpp`` file is plain text (UTF-8) in REAPER's chunk syntax: one attribute per line
(``KEY value value ...``), nested blocks opened by ``<NAME args`` and closed by a lone ``>``.
A string holding whitespace is quoted with ``"``; one holding ``"`` is quoted with ``'``; one
holding both with a backtick; there are no escapes, and (as REAPER itself does) a string
holding all three quote marks has its backticks turned into ``'``. What is written, per
session track (facts from the ReaTeam "State Chunk Definitions" and the ReaScript API):

* ``<TRACK``: ``NAME``; ``VOLPAN vol pan law -1 1`` (``vol`` = linear gain, ``10**(gain_db/20)``;
  ``pan`` -1 left .. +1 right; ``law`` the track's pan law, see below); ``MUTESOLO mute solo 0``;
  ``NCHAN 2``; an ``<EXT`` block (REAPER's per-track extension data, kept by REAPER but not
  shown) holding what REAPER has no place for: the role, the plugin chain as base64 JSON
  and, for extracted media, the original file and channel, so that :func:`read_reaper_project`
  gives the session back;
* one ``<ITEM``: ``POSITION`` = ``round(offset_s * sample_rate) / sample_rate`` (s, the
  renderer's frame rounding, written exactly), ``LENGTH`` = the file's duration (s, probed),
  ``LOOP 0``, no fades, ``NAME`` (the file name), ``SOFFS 0``, ``CHANMODE`` and
  ``<SOURCE WAVE|FLAC|VORBIS`` with ``FILE "absolute path"``. ``CHANMODE`` is REAPER's
  ``I_CHANMODE``: 0 normal, 3 mono from the left channel, 4 mono from the right one. WAV files
  are ``WAVE`` sources, FLAC ``FLAC``, Ogg ``VORBIS`` (``OPUS`` for Ogg Opus); AIFF files are
  written as ``WAVE`` too (REAPER's PCM source; REAPER picks its reader from the file, but this
  was not checked against REAPER here).
* ``channel`` of a file with more than 2 channels: that channel is copied, unchanged, at the
  file's own rate, into ``media/<track>.ch<N>.wav`` inside the output folder (PCM_16/PCM_24
  kept, anything else as 32-bit float) and the item plays that file (``FILE`` relative to the
  project, as REAPER writes media in the project folder); a result note says so. Files at
  another sample rate than the session are *not* converted: REAPER resamples them on playback
  (with its own resampler, so a render may differ very slightly from automix's).
* project header: ``SAMPLERATE <rate> 1 0`` (the rate; the 1 ticks REAPER's "project sample
  rate" box, as REAPER-saved projects show it),
  ``PANLAW`` = ``10**(pan_law_db/20)`` (a gain: -3 dB -> 0.707946, -6 dB -> 0.501187),
  ``PANMODE 3`` ("stereo balance / mono pan", REAPER's default), a ``<NOTES`` block (File >
  Project notes) listing every plugin chain, the master chain and the loudness target.
* ``mix=``: the automix render as one more track, ``AI mix``, muted, at 0 dB, centre.

Pan law: how close REAPER comes
-------------------------------
What is documented (ReaScript ``D_PANLAW``, ``I_PANMODE``): a pan law is stored as a gain
(1 = 0 dB, 0.5 = -6 dB, a negative track value = the project's); mode 3 is "stereo balance /
mono pan". What follows is REAPER's described behaviour, not measured here (no REAPER in the
test environment). In that mode REAPER pans a track's two channels with the track's pan law:
at centre both sides sit at the law's gain, hard left/right the panned-to side is at 0 dB and
the other silent (laws above 1 are the "gain compensated" ones, boosting the sides instead).
A mono file plays into both channels of the track, so a mono track (a mono file, or
``CHANMODE`` 3/4) gets the session's law: for the default -3 dB the renderer's centre is
``cos(pi/4)`` = -3.0103 dB and REAPER's "-3.0 dB" (0.707946) is 0.0103 dB louder; hard
left/right agree exactly. Between centre and the ends REAPER uses its own taper, which is not
documented, so positions in between may differ from the renderer's ``cos``/``sin`` by a
fraction of a dB. A stereo source is *balanced* by the renderer, with no attenuation at
centre (``pan<0`` scales R by ``1+pan``, ``pan>0`` L by ``1-pan``). A law below 0 dB would
also attenuate a stereo track at centre in REAPER (whether it does depends on project options
REAPER stores as ``PANLAWFLAGS``, whose values are not documented), so a track playing a
stereo file gets its own law of 1.0 (0 dB, a plain balance): centre and ends then match the
renderer, and REAPER's balance taper in between may differ slightly from its linear one.
A file with more than 2 channels taken whole (no ``channel``) is refused, as the renderer
refuses it.

What REAPER will and will not load
----------------------------------
REAPER loads the tracks, names, volumes, pans, mute/solo, the items at their positions with
their lengths and channel modes, the sources, the sample rate, the pan law and mode and the
notes; it keeps the ``<EXT`` data. Volumes above +12 dB are beyond REAPER's default fader
range (noted). It does **not** get the plugin chains: pedalboard's built-in effects have no
REAPER equivalent, and a VST3 in an ``FXCHAIN`` needs REAPER's own binary state block (the
plugin's class id and a REAPER-specific wrapper around its state) that this writer does not
invent; so every chain is written as text only, in the item's notes (shown by REAPER on the
item and in Item notes) and in the project notes, and a result note says so. The loudness
target (``target_lufs``) and true-peak ceiling are render settings with no place in a
project; they are in the notes too.

Reading back
------------
:func:`read_reaper_project` reads what the writer writes and what REAPER saves: tracks
(``NAME``, ``VOLPAN``, ``MUTESOLO``), the first item of each track (position, source file,
``CHANMODE``), the project ``SAMPLERATE`` and ``PANLAW``, and the ``<EXT`` data above. Unknown
attributes and blocks are skipped; what a session cannot hold (several items on a track,
item volume/pan, play rate, slip offset, REAPER's own FX, sends, folders, the master fader)
is listed in ``Session.notes``, one line each.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from daw_bridge.audio import AudioInfo, AudioStream, AudioWriter, probe
from daw_bridge.errors import AutomixError

from daw_bridge.session import PluginSpec, Session, Track, describe_validation_error
from daw_bridge.panlaw import db_to_gain
from daw_bridge.errors import SessionReadError, SessionWriteError
from daw_bridge.outputs import check_output_folder, new_output_folder, reading, safe_file_name

__all__ = [
    "AI_MIX_TRACK",
    "ReaperWriteResult",
    "read_reaper_project",
    "rpp_string",
    "write_reaper_project",
]

#: Name of the extra (muted) track holding the automix render, when ``mix=`` is given.
AI_MIX_TRACK = "AI mix"

#: REAPER's default fader range tops out at +12 dB.
_REAPER_FADER_MAX_DB = 12.0
_EXT_CHUNK = 900  # characters of base64 per EXT value (REAPER reads lines in bounded buffers)
_QUOTES = ('"', "'", "`")
# CHANMODE: 0 normal, 3 mono (left), 4 mono (right); 5..66 mono channels 3..64, 131..194 65..128
_CHANMODE_MONO = {0: 3, 1: 4}
_PLUGIN_BLOCKS = frozenset({"VST", "JS", "AU", "CLAP", "DX", "LV2", "VIDEO_EFFECT", "CONTAINER"})


@dataclass(frozen=True)
class ReaperWriteResult:
    """What :func:`write_reaper_project` wrote.

    ``project`` is the ``.rpp`` file, ``out_dir`` the folder, ``media`` the audio files
    written into ``out_dir/media`` (extracted channels), ``notes`` one-line remarks about what
    REAPER cannot hold or will do differently. All paths are absolute, at their final place.
    """

    project: Path
    out_dir: Path
    media: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        """The project file (``out_dir/<name>.rpp``)."""
        return self.project

    @property
    def paths(self) -> list[Path]:
        """Every file written: the project, then the media files."""
        return [self.project, *self.media]


# --------------------------------------------------------------------------- text helpers


def rpp_string(text: str) -> str:
    """``text`` as one token of REAPER's chunk syntax, always quoted.

    Newlines become spaces (a line is one attribute). The quote character is the first of
    ``"``, ``'``, `````` that ``text`` does not contain; if it contains all three it is wrapped in
    backticks and its own backticks become ``'`` (REAPER's rule: the format has no escapes).
    """
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    for quote in _QUOTES:
        if quote not in text:
            return f"{quote}{text}{quote}"
    return "`" + text.replace("`", "'") + "`"


def _num(value: float) -> str:
    """A float written so that it reads back exactly, without an exponent (REAPER reads both,
    but plain decimals are what REAPER itself writes)."""
    value = float(value)
    if value == 0:
        return "0"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.20f}".rstrip("0").rstrip(".")
    return text


def _guid(*parts: str) -> str:
    """A stable GUID in REAPER's form ``{XXXXXXXX-XXXX-...}`` (same session, same ids)."""
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, "automix-reaper:" + "\x1f".join(parts))).upper() + "}"


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_plugin(plugin: PluginSpec) -> str:
    """One line naming a plugin and its parameters, for notes (``Compressor (ratio=4, ...)``)."""
    if plugin.kind == "builtin":
        head = f"{plugin.name} (pedalboard built-in)"
    else:
        head = f"VST3 {plugin.path}" + (f" [{plugin.name}]" if plugin.name else "")
    params = ", ".join(f"{k}={_param_text(v)}" for k, v in plugin.params.items())
    text = head + (f": {params}" if params else "")
    if plugin.state is not None:
        text += f"; saved state {len(base64.b64decode(plugin.state))} bytes (not carried)"
    if plugin.bypass:
        text += "; bypassed"
    return text


def _b64_json(data: Any) -> str:
    return base64.b64encode(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()).decode("ascii")


def _from_b64_json(text: str) -> Any:
    return json.loads(base64.b64decode(text, validate=True).decode("utf-8"))


class _Out:
    """Lines of an ``.rpp`` file with REAPER's two-space indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def line(self, *tokens: str) -> None:
        self.lines.append("  " * self.depth + " ".join(tokens))

    def open(self, *tokens: str) -> None:
        self.lines.append("  " * self.depth + "<" + " ".join(tokens))
        self.depth += 1

    def close(self) -> None:
        self.depth -= 1
        self.lines.append("  " * self.depth + ">")

    def text_block(self, name: str, args: str, text_lines: Iterable[str]) -> None:
        self.open(name, *([args] if args else []))
        for text in text_lines:
            self.line("|" + text.replace("\r", " ").replace("\n", " "))
        self.close()

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# --------------------------------------------------------------------------- writer


@dataclass
class _Placed:
    """One track as it goes into the project."""

    name: str
    track: Track | None  # None for the AI mix track
    file: Path  # absolute path of the audio the user gave
    info: AudioInfo
    source_text: str = ""  # what goes after FILE
    chanmode: int = 0
    stereo: bool = False  # the item plays a 2+ channel signal (balance, not mono pan)
    extract_channel: int | None = None  # copy this channel into media/
    copy_whole: bool = False  # copy the file into media/ (its path cannot be written)
    media_name: str | None = None


def _source_type(info: AudioInfo) -> str:
    suffix = info.path.suffix.lower()
    if suffix == ".flac":
        return "FLAC"
    if suffix == ".ogg":
        return "OPUS" if info.subtype.upper() == "OPUS" else "VORBIS"
    return "WAVE"  # .wav/.wave, and .aif/.aiff (REAPER's PCM source; see the module docstring)


def _extract_subtype(info: AudioInfo) -> str:
    if info.subtype in ("PCM_16", "PCM_S8", "PCM_U8"):
        return "PCM_16"
    if info.subtype == "PCM_24":
        return "PCM_24"
    return "FLOAT"


def _unique_names(wanted: Iterable[str], taken: set[str]) -> Iterator[str]:
    for name in wanted:
        candidate, n = name, 2
        while candidate.lower() in taken:
            candidate = f"{name} ({n})"
            n += 1
        taken.add(candidate.lower())
        yield candidate


def write_reaper_project(
    session: Session,
    out_dir: str | os.PathLike[str],
    *,
    mix: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> ReaperWriteResult:
    """Write ``session`` as a new REAPER project folder ``out_dir`` holding ``<name>.rpp``.

    ``name`` defaults to the session's name (made safe as a file name). ``mix`` is an audio
    file (the automix render; a relative path is taken from the current folder, like any file
    argument) added as a muted track ``AI mix``. The session's relative track paths are taken
    from ``base_dir``, by default the session file's folder (:meth:`Session.resolve_paths`).
    ``force`` updates an existing ``out_dir`` automix wrote (only its own files; the new
    folder is written completely first; a folder holding an input is refused).

    Every audio file is probed before anything is created: all missing files are listed in
    one :class:`SessionWriteError`, as are unreadable files, channels a file does not have
    and files of more than 2 channels with no channel chosen (the renderer refuses those).
    The folder is built beside ``out_dir`` and renamed into place; an error leaves nothing
    behind. The user's files are only read. See the module docstring for what REAPER will
    and will not load; the result's ``notes`` say it for this session.
    """
    resolved = session.resolve_paths(base_dir)
    base = Path(base_dir).expanduser().absolute() if base_dir is not None else session.base_dir
    project_name = safe_file_name(name if name is not None else session.name)
    mix_path = Path(mix).expanduser().absolute() if mix is not None else None
    inputs = [t.file for t in resolved.tracks] + ([mix_path] if mix_path is not None else [])
    with reading([*session.inputs(base_dir), mix_path]):
        return _write_reaper(session, resolved, out_dir, project_name, mix_path, inputs, force, base)


def _write_reaper(session: Session, resolved: Session, out_dir: str | os.PathLike[str], project_name: str,
                  mix_path: Path | None, inputs: list[Path], force: bool, base: Path) -> ReaperWriteResult:
    final = check_output_folder(out_dir, force=force)

    # ---- every problem with the inputs, at once, before anything is created
    unique_inputs = list(dict.fromkeys(inputs))
    missing = [p for p in unique_inputs if not p.exists()]
    if missing:
        raise SessionWriteError(
            f"{len(missing)} audio file(s) missing: {', '.join(map(str, missing))}; "
            f"check the paths (the session's relative ones are taken from {base})"
        )
    infos: dict[Path, AudioInfo] = {}
    problems: list[str] = []
    for path in unique_inputs:
        try:
            infos[path] = probe(path)
        except AutomixError as exc:
            problems.append(str(exc))
    for track in resolved.tracks:
        info = infos.get(track.file)
        if info is not None and track.channel is not None and track.channel >= info.channels:
            problems.append(
                f"track {track.name!r}: channel {track.channel} (0-based) but {track.file} has "
                f"{info.channels} channel(s); pick a channel below {info.channels}"
            )
        elif info is not None and track.channel is None and info.channels > 2:
            # the renderer refuses it too: a 2-channel track cannot play it as the session means
            problems.append(
                f"track {track.name!r}: {track.file} has {info.channels} channels; pick one with channel (0-based)"
            )
    if problems:
        raise SessionWriteError("; ".join(problems))

    notes: list[str] = []
    placed: list[_Placed] = []
    for track in resolved.tracks:
        info = infos[track.file]
        item = _Placed(name=track.name, track=track, file=track.file, info=info)
        if track.channel is None:
            item.stereo = info.channels == 2
        elif info.channels == 1:
            pass  # channel 0 of a mono file: the file as it is
        elif info.channels == 2:
            item.chanmode = _CHANMODE_MONO[track.channel]
        else:
            item.extract_channel = track.channel
        if item.extract_channel is None and all(q in str(track.file) for q in _QUOTES):
            item.copy_whole = True
        if info.sample_rate != resolved.sample_rate:
            notes.append(
                f"track {track.name!r}: {track.file.name} is at {info.sample_rate} Hz, the project at "
                f"{resolved.sample_rate} Hz; REAPER resamples it on playback"
            )
        if track.gain_db > _REAPER_FADER_MAX_DB:
            notes.append(
                f"track {track.name!r}: {track.gain_db:+g} dB is above the +12 dB top of REAPER's default fader "
                "range; REAPER keeps the value, but touching the fader may limit it"
            )
        placed.append(item)
    if mix_path is not None:
        info = infos[mix_path]
        (mix_name,) = _unique_names([AI_MIX_TRACK], {t.name.lower() for t in resolved.tracks})
        item = _Placed(name=mix_name, track=None, file=mix_path, info=info, stereo=info.channels >= 2)
        item.copy_whole = all(q in str(mix_path) for q in _QUOTES)
        placed.append(item)
        notes.append(f"the automix render {mix_path.name} is on track {mix_name!r}, muted; unmute it to compare")

    # names of files copied into media/
    taken: set[str] = set()
    for item in placed:
        if item.extract_channel is not None:
            stem = f"{safe_file_name(item.name, 'track')}.ch{item.extract_channel + 1}"
            (stem,) = _unique_names([stem], taken)
            item.media_name = f"{stem}.wav"
            notes.append(
                f"track {item.name!r}: channel {item.extract_channel} of {item.file.name} ({item.info.channels} "
                f"channels) was copied to media/{item.media_name}"
            )
        elif item.copy_whole:
            (stem,) = _unique_names([safe_file_name(item.file.stem, "audio")], taken)
            item.media_name = stem + item.file.suffix.lower()
            notes.append(
                f"track {item.name!r}: the path of {item.file.name} holds all three quote marks, which a REAPER "
                f"project cannot hold; the file was copied to media/{item.media_name}"
            )
        if item.media_name is not None:
            item.source_text = rpp_string(f"media/{item.media_name}")
        else:
            item.source_text = rpp_string(str(item.file))

    chains = [t for t in resolved.tracks if t.plugins]
    if chains or resolved.master:
        count = sum(len(t.plugins) for t in chains) + len(resolved.master)
        notes.append(
            f"{count} plugin(s) were not carried: REAPER has no equivalent of pedalboard's built-in effects and "
            "this writer does not invent REAPER's binary VST3 state; each chain is listed in the item notes and "
            "the project notes (File > Project notes) to set up by hand"
        )
    if resolved.target_lufs is not None:
        notes.append(
            f"the loudness target ({resolved.target_lufs:g} LUFS, ceiling {resolved.true_peak_db:g} dBTP) is a "
            "render setting; it is in the project notes"
        )
    if any(all(q in t.name for q in _QUOTES) for t in resolved.tracks):
        notes.append("a track name holds all three quote marks; REAPER's format turned its backticks into '")

    media: list[Path] = []
    with new_output_folder(final, force=force) as tmp:
        for item in placed:
            if item.media_name is None:
                continue
            (tmp / "media").mkdir(exist_ok=True)
            target = tmp / "media" / item.media_name
            if item.extract_channel is not None:
                _extract_channel(item.info, item.extract_channel, target)
            else:
                shutil.copy2(item.file, target)
            media.append(final / "media" / item.media_name)
        text = _project_text(resolved, placed)
        (tmp / f"{project_name}.rpp").write_text(text, encoding="utf-8", newline="\n")
    return ReaperWriteResult(project=final / f"{project_name}.rpp", out_dir=final, media=media, notes=notes)


def _extract_channel(info: AudioInfo, channel: int, target: Path) -> None:
    """Copy one channel of a file, at its own rate, into a mono WAV, block by block."""
    block = 1 << 16
    with AudioStream(info.path) as stream, AudioWriter(
        target, info.sample_rate, 1, subtype=_extract_subtype(info)
    ) as writer:
        done = 0
        while done < stream.frames:
            n = min(block, stream.frames - done)
            writer.write(stream.read(n)[channel])
            done += n


def _project_text(session: Session, placed: list[_Placed]) -> str:
    out = _Out()
    out.open("REAPER_PROJECT", "0.1", rpp_string("6.0/automix"), "0")
    out.text_block("NOTES", "0 2", _project_notes(session, placed))
    out.line("PANLAW", _num(db_to_gain(session.pan_law_db)))
    out.line("PANMODE", "3")
    out.line("SAMPLERATE", str(session.sample_rate), "1", "0")
    out.line("TEMPO", "120", "4", "4")
    out.line("MASTER_NCH", "2", "2")
    out.line("MASTER_VOLUME", "1", "0", "-1", "-1", "1")
    out.line("MASTER_PANMODE", "3")
    out.line("MASTERMUTESOLO", "0")
    for index, item in enumerate(placed, start=1):
        _track_text(out, session, item, index)
    out.close()
    return out.text()


def _project_notes(session: Session, placed: list[_Placed]) -> list[str]:
    law = f"{session.pan_law_db:g} dB"
    lines = [f"automix session {session.name!r}: {session.sample_rate} Hz, pan law {law} (mono pan, stereo balance)"]
    if session.target_lufs is not None:
        lines.append(f"Render target: {session.target_lufs:g} LUFS integrated, true peak below {session.true_peak_db:g} dBTP")
    chained = [item for item in placed if item.track is not None and item.track.plugins]
    if chained or session.master:
        lines.append("Plugin chains (REAPER loaded none of these; set them up by hand):")
        for item in chained:
            assert item.track is not None
            for n, plugin in enumerate(item.track.plugins, start=1):
                lines.append(f"  {item.name} {n}. {describe_plugin(plugin)}")
        for n, plugin in enumerate(session.master, start=1):
            lines.append(f"  Master {n}. {describe_plugin(plugin)}")
    if any(item.track is None for item in placed):
        lines.append(f"Track {AI_MIX_TRACK!r} (muted) holds the automix render of this session.")
    lines.extend(f"Note: {note}" for note in session.notes)
    return lines


def _track_text(out: _Out, session: Session, item: _Placed, index: int) -> None:
    track = item.track
    gain_db = track.gain_db if track is not None else 0.0
    pan = track.pan if track is not None else 0.0
    mute = track.mute if track is not None else True
    solo = track.solo if track is not None else False
    track_id = _guid(session.name, item.name, "track")
    out.open("TRACK", track_id)
    out.line("NAME", rpp_string(item.name))
    out.line("PEAKCOL", "16576")
    out.line("BEAT", "-1")
    out.line("AUTOMODE", "0")
    # pan law: -1 = the project's (mono sources); 1 = 0 dB, plain balance (stereo sources)
    out.line("VOLPAN", _num(db_to_gain(gain_db)), _num(pan), "1" if item.stereo else "-1", "-1", "1")
    out.line("MUTESOLO", "1" if mute else "0", "1" if solo else "0", "0")
    out.line("IPHASE", "0")
    out.line("ISBUS", "0", "0")
    out.line("SHOWINMIX", "1", "0.6667", "0.5", "1", "0.5", "0", "0", "0")
    out.line("NCHAN", "2")
    out.line("FX", "1")
    out.line("TRACKID", track_id)
    ext: list[tuple[str, str]] = []
    if track is None:
        ext.append(("automix_kind", "ai_mix"))
    else:
        if track.role:
            ext.append(("automix_role", rpp_string(track.role)))
        if track.plugins:
            data = _b64_json([p.model_dump(mode="json") for p in track.plugins])
            for n in range(0, len(data), _EXT_CHUNK):
                ext.append((f"automix_plugins_{n // _EXT_CHUNK}", data[n : n + _EXT_CHUNK]))
    if item.media_name is not None:
        original = {"file": str(item.file), "channel": item.extract_channel, "media": f"media/{item.media_name}"}
        ext.append(("automix_source", _b64_json(original)))
    if ext:
        out.open("EXT")
        for key, value in ext:
            out.line(key, value)
        out.close()
    out.line("MAINSEND", "1", "0")

    info = item.info
    frames = round((track.offset_s if track is not None else 0.0) * session.sample_rate)
    out.open("ITEM")
    out.line("POSITION", _num(frames / session.sample_rate))
    out.line("SNAPOFFS", "0")
    out.line("LENGTH", _num(info.frames / info.sample_rate))
    out.line("LOOP", "0")
    out.line("ALLTAKES", "0")
    out.line("FADEIN", "1", "0", "0")
    out.line("FADEOUT", "1", "0", "0")
    out.line("MUTE", "0", "0")
    out.line("SEL", "0")
    out.line("IGUID", _guid(session.name, item.name, "item"))
    out.line("IID", str(index))
    if track is not None and track.plugins:
        out.text_block(
            "NOTES",
            "",
            ["automix plugin chain (not loaded by REAPER; set it up by hand):"]
            + [f"{n}. {describe_plugin(p)}" for n, p in enumerate(track.plugins, start=1)],
        )
    out.line("NAME", rpp_string(item.file.name))
    out.line("VOLPAN", "1", "0", "1", "-1")
    out.line("SOFFS", "0")
    out.line("PLAYRATE", "1", "1", "0", "-1")
    out.line("CHANMODE", str(item.chanmode))
    out.line("GUID", _guid(session.name, item.name, "take"))
    out.open("SOURCE", _source_type(info))
    out.line("FILE", item.source_text)
    out.close()
    out.close()
    out.close()


# --------------------------------------------------------------------------- chunk parser


def _tokens(line: str) -> list[str]:
    """Split one line the way REAPER does: whitespace-separated tokens; a token starting with
    ``"``, ``'`` or a backtick runs to the next same quote; an unquoted token starting with
    ``#`` or ``;`` begins a comment that runs to the end of the line."""
    tokens: list[str] = []
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            break
        c = line[i]
        if c in _QUOTES:
            end = line.find(c, i + 1)
            if end < 0:
                end = n
            tokens.append(line[i + 1 : end])
            i = end + 1
        elif c in "#;":
            break
        else:
            j = i
            while j < n and line[j] not in " \t":
                j += 1
            tokens.append(line[i:j])
            i = j
    return tokens


@dataclass
class _Chunk:
    """One ``<NAME args ... >`` block: its attribute lines (tokens), raw lines and sub-blocks."""

    name: str
    args: list[str]
    line_no: int
    lines: list[list[str]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    children: list[_Chunk] = field(default_factory=list)

    def get(self, key: str) -> list[str] | None:
        """The values of the first attribute line ``key`` (without the key), or None."""
        for tokens in self.lines:
            if tokens[0] == key:
                return tokens[1:]
        return None

    def all(self, name: str) -> list[_Chunk]:
        return [c for c in self.children if c.name == name]

    def first(self, name: str) -> _Chunk | None:
        for child in self.children:
            if child.name == name:
                return child
        return None


def _parse(text: str, where: Path) -> _Chunk:
    """Parse a whole ``.rpp`` text into its root block; one-line errors for broken structure."""
    stack: list[_Chunk] = []
    root: _Chunk | None = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        if not s:
            continue
        if s.startswith("<"):
            tokens = _tokens(s[1:])
            if not tokens:
                raise SessionReadError(f"{where}: line {line_no} opens a block with no name; re-save it from REAPER")
            chunk = _Chunk(tokens[0], tokens[1:], line_no)
            if stack:
                stack[-1].children.append(chunk)
            elif root is None:
                root = chunk
            else:
                raise SessionReadError(f"{where}: more than one top-level block (line {line_no}); re-save it from REAPER")
            stack.append(chunk)
        elif s == ">":
            if not stack:
                raise SessionReadError(f"{where}: line {line_no} closes a block that was never opened; re-save it from REAPER")
            stack.pop()
        else:
            if not stack:
                if root is None:
                    raise SessionReadError(
                        f"{where} is not a REAPER project (it does not start with <REAPER_PROJECT); give a .rpp file"
                    )
                continue  # text after the project: ignore
            stack[-1].raw.append(s)
            tokens = _tokens(s)
            if tokens:
                stack[-1].lines.append(tokens)
    if root is None:
        raise SessionReadError(f"{where} is empty or not a REAPER project; give a .rpp file saved by REAPER")
    if stack:
        raise SessionReadError(
            f"{where} is cut short: the <{stack[-1].name} block opened on line {stack[-1].line_no} is never closed; "
            "re-save it from REAPER"
        )
    return root


# --------------------------------------------------------------------------- reader


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


def _ext_values(track: _Chunk) -> dict[str, str]:
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
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    root = _parse(text, path)
    if root.name != "REAPER_PROJECT":
        raise SessionReadError(f"{path} is not a REAPER project (it starts with <{root.name}); give a .rpp file")
    folder = path.parent
    notes: list[str] = []

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

    tracks: list[Track] = []
    used: set[str] = set()
    folders = False
    for index, chunk in enumerate(root.all("TRACK"), start=1):
        label = ((chunk.get("NAME") or [""]) + [""])[0].strip() or f"Track {index}"
        ext = _ext_values(chunk)
        if ext.get("automix_kind") == "ai_mix":
            notes.append(f"track {label!r} (the automix render) was left out")
            continue
        if _float(chunk.get("ISBUS"), 0, 0) == 1:
            folders = True
        items = chunk.all("ITEM")
        audio_items = [(it, src) for it in items if (src := _item_source(it)) is not None and src[1] is not None]
        if not audio_items:
            reason = "no audio item" if not items else "no item playing an audio file"
            notes.append(f"track {label!r} has {reason}; left out")
            continue
        if len(items) > 1:
            notes.append(f"track {label!r} has {len(items)} items; only the first audio item was read")
        item, (source_type, file_text, in_section) = audio_items[0]
        assert file_text is not None
        file = Path(file_text)
        if not file.is_absolute():
            file = (folder / file).absolute()
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

        # the item and its first take
        position = _float(item.get("POSITION"), 0, 0.0)
        if position < 0:
            notes.append(f"track {label!r}: item starts before 0 s ({position:g} s); moved to 0")
            position = 0.0
        item_volpan = item.get("VOLPAN")
        item_gain = abs(_float(item_volpan, 0, 1.0)) * abs(_float(item_volpan, 2, 1.0))
        if abs(item_gain - 1.0) > 1e-9:
            gain_db += _gain_to_db(item_gain)
            notes.append(f"track {label!r}: the item's volume ({_gain_to_db(item_gain):+.2f} dB) was added to the fader")
        if abs(_float(item_volpan, 1, 0.0)) > 1e-9:
            notes.append(f"track {label!r}: the take's pan is not carried")
        if _float(item.get("MUTE"), 0, 0) != 0:
            notes.append(f"track {label!r}: its item is muted; read as a muted track")
            mute = True
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

        # what the writer kept in <EXT
        role = ext.get("automix_role") or None
        plugins: list[PluginSpec] = []
        stored = _ext_plugins(ext)
        if stored:
            try:
                plugins = [PluginSpec.model_validate(p) for p in _from_b64_json(stored)]
            except (binascii.Error, ValueError, TypeError, ValidationError):
                notes.append(f"track {label!r}: its stored automix plugin chain is damaged; left out")
        if "automix_source" in ext:
            try:
                original = _from_b64_json(ext["automix_source"])
                media = (folder / original["media"]).absolute()
                if media == file:
                    file = Path(original["file"])
                    channel = original["channel"]
            except (binascii.Error, ValueError, TypeError, KeyError):
                notes.append(f"track {label!r}: its stored original file is damaged; the project's file is used")

        # values a session cannot hold
        if not -120.0 <= gain_db <= 24.0:
            clamped = min(max(gain_db, -120.0), 24.0)
            notes.append(f"track {label!r}: volume {gain_db:+.1f} dB is outside -120..+24 dB; read as {clamped:+g} dB")
            gain_db = clamped
        if not -1.0 <= pan <= 1.0:
            pan = min(max(pan, -1.0), 1.0)
        name = label
        if name.lower() in used:
            (name,) = _unique_names([label], used)
            notes.append(f"two tracks are named {label!r}; the second is read as {name!r}")
        else:
            used.add(name.lower())
        tracks.append(
            Track(
                name=name, file=file, channel=channel, role=role, offset_s=position,
                gain_db=round(gain_db, 9), pan=pan, mute=mute, solo=solo, plugins=plugins,
            )
        )
    if folders:
        notes.append("the project has folder tracks; their volume, pan and FX are not folded into the tracks inside")
    try:
        return Session(
            name=safe_file_name(path.stem), sample_rate=sample_rate, tracks=tracks, pan_law_db=law_db, notes=notes
        )
    except ValidationError as exc:
        raise SessionReadError(f"{path}: {describe_validation_error(exc)}") from None


def _item_source(item: _Chunk) -> tuple[str, str | None, bool] | None:
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
