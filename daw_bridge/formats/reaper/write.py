"""Write a session as a new REAPER project folder: ``<name>.rpp`` and ``media/``.

Every input is probed before anything is created. Every audio file lies in ``media/`` and the
project names it by a relative path, so the folder can move: hard-linked (same file system)
or copied, or, for a channel REAPER cannot pick, extracted. What REAPER will and will not
load: ``docs/formats.md`` (REAPER).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from daw_bridge.audio import AudioInfo, AudioStream, AudioWriter, probe
from daw_bridge.errors import AutomixError, SessionWriteError
from daw_bridge.files import link_or_copy
from daw_bridge.formats.reaper.project_text import PlacedTrack, project_text
from daw_bridge.formats.reaper.rpp import AI_MIX_TRACK, QUOTES, rpp_string, unique_names
from daw_bridge.outputs import check_output_folder, new_output_folder, reading, safe_file_name
from daw_bridge.session import Session

#: REAPER's default fader range tops out at +12 dB.
_REAPER_FADER_MAX_DB = 12.0
# CHANMODE: 0 normal, 3 mono (left), 4 mono (right); 5..66 mono channels 3..64, 131..194 65..128
_CHANMODE_MONO = {0: 3, 1: 4}


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
    behind. The user's files are only read. See ``docs/formats.md`` for what REAPER will
    and will not load; the result's ``notes`` say it for this session.
    """
    resolved = session.resolve_paths(base_dir)
    base = Path(base_dir).expanduser().absolute() if base_dir is not None else session.base_dir
    project_name = safe_file_name(name if name is not None else session.name)
    mix_path = Path(mix).expanduser().absolute() if mix is not None else None
    with reading([*session.inputs(base_dir), mix_path]):
        return _write_reaper(resolved, out_dir, project_name, mix_path, force, base)


def _write_reaper(resolved: Session, out_dir: str | os.PathLike[str], project_name: str,
                  mix_path: Path | None, force: bool, base: Path) -> ReaperWriteResult:
    final = check_output_folder(out_dir, force=force)
    inputs = [t.file for t in resolved.tracks] + ([mix_path] if mix_path is not None else [])
    infos = _probe_inputs(resolved, inputs, base)
    notes: list[str] = []
    placed = _place_tracks(resolved, infos, notes)
    if mix_path is not None:
        placed.append(_place_mix(resolved, mix_path, infos[mix_path], notes))
    _name_media(placed, notes)
    _carry_notes(resolved, notes)
    media: list[Path] = []
    how: dict[str, int] = {}
    with new_output_folder(final, force=force) as tmp:
        (tmp / "media").mkdir()
        for item in placed:
            target = tmp / "media" / str(item.media_name)
            if target.exists():
                continue  # one file played by several tracks
            if item.extract_channel is not None:
                _extract_channel(item.info, item.extract_channel, target)
                done = "extracted"
            else:
                done = _link_or_copy(item.file, target)
            how[done] = how.get(done, 0) + 1
            media.append(final / "media" / str(item.media_name))
        if how:
            counts = " and ".join(f"{n} {what}" for what, n in sorted(how.items()))
            notes.append(f"the audio files are in the project folder (media/: {counts}), so it can move")
        text = project_text(resolved, placed)
        (tmp / f"{project_name}.rpp").write_text(text, encoding="utf-8", newline="\n")
    return ReaperWriteResult(project=final / f"{project_name}.rpp", out_dir=final, media=media, notes=notes)


def _probe_inputs(resolved: Session, inputs: list[Path], base: Path) -> dict[Path, AudioInfo]:
    """Every input file's header; every problem with the inputs at once, before anything is created."""
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
    return infos


def _place_tracks(resolved: Session, infos: dict[Path, AudioInfo], notes: list[str]) -> list[PlacedTrack]:
    """How each track's item plays its file: channel mode, extraction, a copy; notes on the way."""
    placed: list[PlacedTrack] = []
    for track in resolved.tracks:
        info = infos[track.file]
        item = PlacedTrack(name=track.name, track=track, file=track.file, info=info)
        if track.channel is None:
            item.stereo = info.channels == 2
        elif info.channels == 1:
            pass  # channel 0 of a mono file: the file as it is
        elif info.channels == 2:
            item.chanmode = _CHANMODE_MONO[track.channel]
        else:
            item.extract_channel = track.channel
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
    return placed


def _place_mix(resolved: Session, mix_path: Path, info: AudioInfo, notes: list[str]) -> PlacedTrack:
    """The muted track playing the automix render."""
    (mix_name,) = unique_names([AI_MIX_TRACK], {t.name.lower() for t in resolved.tracks})
    item = PlacedTrack(name=mix_name, track=None, file=mix_path, info=info, stereo=info.channels >= 2)
    notes.append(f"the automix render {mix_path.name} is on track {mix_name!r}, muted; unmute it to compare")
    return item


def _name_media(placed: list[PlacedTrack], notes: list[str]) -> None:
    """Name every item's file in ``media/`` (one per input file, or per extracted channel) and set
    what its ``FILE`` line holds: that relative path."""
    taken: set[str] = set()
    whole: dict[Path, str] = {}
    for item in placed:
        if item.extract_channel is not None:
            stem = f"{safe_file_name(item.name, 'track')}.ch{item.extract_channel + 1}"
            (stem,) = unique_names([stem], taken)
            item.media_name = f"{stem}.wav"
            notes.append(
                f"track {item.name!r}: channel {item.extract_channel} of {item.file.name} ({item.info.channels} "
                f"channels) was copied to media/{item.media_name}"
            )
        else:
            if item.file not in whole:
                (stem,) = unique_names([safe_file_name(item.file.stem, "audio")], taken)
                whole[item.file] = stem + item.file.suffix.lower()
            item.media_name = whole[item.file]
        item.source_text = rpp_string(f"media/{item.media_name}")


def _link_or_copy(source: Path, target: Path) -> str:
    try:
        return link_or_copy(source, target)
    except OSError as exc:
        raise SessionWriteError(f"cannot copy {source} into the project: {exc.strerror or exc}") from None


def _carry_notes(resolved: Session, notes: list[str]) -> None:
    """What the project does not carry: plugin chains, the loudness target, backticks in names."""
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
    if any(all(q in t.name for q in QUOTES) for t in resolved.tracks):
        notes.append("a track name holds all three quote marks; REAPER's format turned its backticks into '")


def _extract_subtype(info: AudioInfo) -> str:
    if info.subtype in ("PCM_16", "PCM_S8", "PCM_U8"):
        return "PCM_16"
    if info.subtype == "PCM_24":
        return "PCM_24"
    return "FLOAT"


def _extract_channel(info: AudioInfo, channel: int, target: Path) -> None:
    """Copy one channel of a file, at its own rate, into a mono WAV, block by block."""
    block = 1 << 16
    with AudioStream(info.path) as stream, AudioWriter(
        target, info.sample_rate, 1, subtype=_extract_subtype(info), frames=info.frames
    ) as writer:
        done = 0
        while done < stream.frames:
            n = min(block, stream.frames - done)
            writer.write(stream.read(n)[channel])
            done += n
