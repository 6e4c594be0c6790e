"""Write a mix plan as a new Ardour 7 session folder that sounds like the plan's render.

One track per plan track (its file at its offset, its gain, pan, mute and solo). Every source
lies in the session's ``interchange/<name>/audiofiles`` and is named there by its bare name,
so the session folder can move: hard-linked (same file system) or copied, or converted where
Ardour cannot play the file as it is. What is (not) carried and the gain/pan mapping:
``docs/formats.md`` (Ardour).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from daw_bridge.audio import AudioInfo, probe, read_audio, write_audio
from daw_bridge.errors import SessionWriteError
from daw_bridge.files import link_or_copy
from daw_bridge.formats.ardour.ace import AceChain, AcePlugin, ace_chain
from daw_bridge.formats.ardour.panning import (
    BALANCE_PANNER_URI,
    MONO_PANNER_URI,
    balance_azimuth,
    gain_to_db,
    mono_pan_to_ardour,
    split_gain,
)
from daw_bridge.formats.ardour.session_format import (
    AI_MIX_COMMENT,
    AI_MIX_TRACK,
    ROLE_PREFIX,
    frames_to_superclock,
    legalize_for_path,
    offset_frame,
)
from daw_bridge.formats.ardour.xml_writer import PlannedSource, PlannedTrack, session_xml
from daw_bridge.outputs import check_output_folder, new_output_folder, reading
from daw_bridge.panlaw import db_to_gain
from daw_bridge.session import PluginSpec, Session, Track

_IN_PLACE_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64", "FLAC", "AIFF"})
_RESERVED_ROUTE_NAMES = frozenset({"master", "monitor", "click", "ltc", "auditioner", "control", "surround"})
_SESSION_SUBFOLDERS = ("interchange", "interchange/{}/audiofiles", "interchange/{}/midifiles", "peaks", "dead",
                       "externals", "export", "analysis", "plugins")


@dataclass(frozen=True)
class ArdourTrack:
    """How one plan track was written: Ardour's fader (dB), trim (dB), panner and azimuth.

    ``fader_db + trim_db`` is the plan's ``gain_db`` plus the pan-law difference folded into
    it (mono tracks; see ``docs/formats.md``). ``source`` is the file Ardour plays.
    """

    name: str
    route: str
    gain_db: float
    pan: float
    fader_db: float
    trim_db: float
    azimuth: float
    panner: str
    channels: int
    source: Path
    converted: bool
    plugins: tuple[str, ...] = ()  #: the ACE plugins on the route, in order ("ACE EQ", "ACE Compressor")
    chain_db: float = 0.0  #: gain moved from the fader into the plugins (+) or from ``Gain`` plugins to it (-)


@dataclass
class ArdourWriteResult:
    """What :func:`write_ardour_session` wrote."""

    path: Path  #: the ``.ardour`` file
    folder: Path  #: the session folder
    name: str  #: the session name (``path`` is ``folder / f"{name}.ardour"``)
    tracks: list[ArdourTrack] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    converted: list[Path] = field(default_factory=list)  #: copies written into the session


@dataclass
class _Copies:
    """Where the sources go: ``folder`` while building, ``final`` once renamed into place;
    ``placed``: the name each input file already has there."""

    folder: Path
    final: Path
    placed: dict[Path, str] = field(default_factory=dict)
    how: dict[str, int] = field(default_factory=dict)  # "linked"/"copied": how many

    def free_name(self, stem: str, suffix: str) -> str:
        name, n = f"{stem}{suffix}", 1
        while (self.folder / name).exists():
            n += 1
            name = f"{stem}-{n}{suffix}"
        return name

    def xml_name(self, name: str) -> str:
        """By bare name (found in the session's audiofiles folder, so the session can move), unless
        the folder's path holds ':', which splits Ardour's search paths: then by absolute path."""
        return str(self.final / name) if ":" in str(self.final) else name


# --------------------------------------------------------------------------- names


def _sanitize_session_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9 _.+-]", "_", name).strip(" .")
    return cleaned or "session"



def _file_stem_for(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.+-]", "_", name).strip("._")
    return cleaned or "track"


def _route_names(names: Iterable[str], reserved: Iterable[str]) -> list[tuple[str, str]]:
    """Ardour-safe, unique route names, each with why it changed ('' when it did not).

    ':' separates a port's client and name in Ardour, so it becomes '-'; Ardour's own routes
    and ports (Master, Monitor, Click, ...) and ``reserved`` names get a suffix.
    """
    used: set[str] = {"Master", *reserved}
    out: list[tuple[str, str]] = []
    for name in names:
        base = " ".join(name.replace(":", "-").split()) or "Track"
        why = "':' separates Ardour's port names" if ":" in name else ""
        if base != name and not why:
            why = "white space is tidied"
        if base.casefold() in _RESERVED_ROUTE_NAMES:
            base, why = f"{base} track", f"Ardour reserves the name {base!r}"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base} {n}"
        if candidate != base:
            why = f"{base!r} is taken"
        used.add(candidate)
        out.append((candidate, why))
    return out



# --------------------------------------------------------------------------- sources


def _copy_reasons(file: Path, info: AudioInfo, sample_rate: int) -> list[str]:
    """Why Ardour cannot play ``file`` as it is ([] when it can)."""
    reasons = []
    if info.sample_rate != sample_rate:
        reasons.append(f"is {info.sample_rate} Hz, the session {sample_rate} Hz: resampled")
    if info.format not in _IN_PLACE_FORMATS:
        reasons.append(f"is {info.format}, which Ardour may not play as it is: converted")
    return reasons


def _plan_source(
    file: Path, channel: int | None, label: str, sample_rate: int, copies: _Copies, copy_stem: str, notes: list[str]
) -> tuple[PlannedSource, AudioInfo]:
    """Decide how Ardour plays ``file`` (``channel``): the file itself, or a copy, written now."""
    info = probe(file)
    if channel is not None and channel >= info.channels:
        raise SessionWriteError(
            f"{label}: channel {channel} does not exist in {file} ({info.channels} channel(s)); channels count from 0"
        )
    if channel is None and info.channels > 2:
        raise SessionWriteError(
            f"{label}: {file} has {info.channels} channels; pick one with the track's channel (0-based)"
        )
    reasons = _copy_reasons(file, info, sample_rate)
    if not reasons:
        name = _place(file, copies)
        channels = [channel] if channel is not None else list(range(info.channels))
        return PlannedSource(path=copies.final / name, xml_name=copies.xml_name(name), channels=channels,
                             frames=info.frames, converted=False), info
    audio, _ = read_audio(file, sample_rate=sample_rate)
    if channel is not None:
        audio = audio[channel : channel + 1]
    name = copies.free_name(copy_stem, ".wav")
    write_audio(copies.folder / name, audio, sample_rate, subtype="FLOAT")
    what = f"{file}" + (f" (channel {channel})" if channel is not None else "")
    notes.append(f"{label}: {what} {'; '.join(reasons)} into {copies.final / name}")
    source = PlannedSource(path=copies.final / name, xml_name=copies.xml_name(name),
                           channels=list(range(audio.shape[0])), frames=int(audio.shape[1]), converted=True)
    return source, info


def _place(file: Path, copies: _Copies) -> str:
    """``file`` in the session's audiofiles folder (hard-linked or copied, once per file); its name there."""
    if file not in copies.placed:
        name = copies.free_name(_file_stem_for(file.stem), file.suffix.lower())
        try:
            how = link_or_copy(file, copies.folder / name)
        except OSError as exc:
            raise SessionWriteError(f"cannot copy {file} into the session: {exc.strerror or exc}") from None
        copies.placed[file] = name
        copies.how[how] = copies.how.get(how, 0) + 1
    return copies.placed[file]


# --------------------------------------------------------------------------- tracks


def _plan_track(
    track: Track, route: str, session: Session, copies: _Copies, notes: list[str]
) -> tuple[PlannedTrack, ArdourTrack]:
    """One plan track (paths resolved) as Ardour plays it, and how it was written."""
    rate = session.sample_rate
    label = f"track {track.name!r}"
    source, _ = _plan_source(track.file, track.channel, label, rate, copies, _file_stem_for(route), notes)
    gain = db_to_gain(track.gain_db)
    if len(source.channels) == 1:
        azimuth, k = mono_pan_to_ardour(track.pan, session.pan_law_db)
        gain *= k
        panner = MONO_PANNER_URI
    else:
        azimuth, panner = balance_azimuth(track.pan), BALANCE_PANNER_URI
    ace = _track_chain(track, rate, label, notes)
    gain *= db_to_gain(ace.post_gain_db)
    chain_db = -ace.post_gain_db
    fader, trim = split_gain(gain, track.name)
    if ace.nonlinear and trim != 1.0:  # the trim would drive the compressor: the rest goes after it
        chain_db += gain_to_db(trim)
        notes.append(f"{label}: {gain_to_db(trim):+.2f} dB beyond Ardour's fader is the gain of an ACE EQ after "
                     "its compressor (the trim would drive the compressor)")
        ace.gain_after(gain_to_db(trim))
        trim = 1.0
    frame = offset_frame(track.offset_s, rate)
    planned = PlannedTrack(
        route=route, source=source, frame=frame,
        superclock=frames_to_superclock(frame, rate), fader=fader, trim=trim, azimuth=azimuth,
        panner=panner, mute=track.mute, solo=track.solo,
        comment=f"{ROLE_PREFIX}{track.role}" if track.role else "", plugins=ace.plugins,
    )
    written = ArdourTrack(
        name=track.name, route=route, gain_db=track.gain_db, pan=track.pan, fader_db=gain_to_db(fader),
        trim_db=gain_to_db(trim), azimuth=azimuth, panner=panner, channels=len(source.channels),
        source=source.path, converted=source.converted, plugins=tuple(p.name for p in ace.plugins), chain_db=chain_db,
    )
    return planned, written


def _carried(chain: list[PluginSpec], rate: int, label: str, notes: list[str],
             advice: str = "add equivalent plugins in Ardour, or use the rendered mix") -> AceChain | None:
    """``chain`` as ACE plugins, its notes added (None, with a note, when a plugin has no ACE counterpart)."""
    ace = ace_chain(chain, rate, label)
    if ace is None:
        names = ", ".join(pl.label() for pl in chain)
        notes.append(f"{label} has a plugin chain ({names}) that is not in the Ardour session (only EQ, Compressor "
                     f"and Gain have ACE counterparts); {advice}")
        return None
    notes.extend(ace.notes)
    return ace


def _track_chain(track: Track, rate: int, label: str, notes: list[str]) -> AceChain:
    """``track``'s plugin chain as ACE plugins (empty when it has none or one has no ACE counterpart)."""
    ace = _carried(track.plugins, rate, label, notes) if track.plugins else None
    if ace is not None and ace.post_gain_db:
        notes.append(f"{label}: its Gain plugins after the last compressor ({ace.post_gain_db:+.2f} dB) are on "
                     "Ardour's fader")
    return ace or AceChain()


def _plan_tracks(
    resolved: Session, routes: list[tuple[str, str]], copies: _Copies, notes: list[str]
) -> tuple[list[PlannedTrack], list[ArdourTrack]]:
    planned: list[PlannedTrack] = []
    mapping: list[ArdourTrack] = []
    for track, (route, why) in zip(resolved.tracks, routes):
        label = f"track {track.name!r}"
        if route != track.name:
            notes.append(f"{label} is named {route!r} in Ardour ({why})")
        p, m = _plan_track(track, route, resolved, copies, notes)
        planned.append(p)
        mapping.append(m)
    return planned, mapping


def _gain_notes(mapping: list[ArdourTrack], notes: list[str]) -> None:
    """Where Ardour's fader shows another gain than the plan's, and why."""
    moved = [m for m in mapping if abs(m.fader_db + m.trim_db + m.chain_db - m.gain_db) >= 0.005]
    if moved:
        shown = ", ".join(f"{m.name!r} {m.fader_db + m.trim_db + m.chain_db:+.2f} dB for {m.gain_db:+.2f}"
                          for m in moved[:4])
        more = f" and {len(moved) - 4} more" if len(moved) > 4 else ""
        notes.append(f"Ardour's mono panner has its own law: the gains of mono tracks carry the difference, so "
                     f"they read slightly off the plan ({shown}{more}); the sound is the plan's")
    for m in mapping:
        if m.trim_db > 0:
            notes.append(f"track {m.name!r} needs {m.fader_db + m.trim_db:+.2f} dB: Ardour's fader stops at "
                         f"{m.fader_db:+.2f} dB, the trim knob has the other {m.trim_db:+.2f} dB")


def _plan_mix(mix: str | os.PathLike[str], rate: int, copies: _Copies, notes: list[str]) -> PlannedTrack:
    """The muted "AI mix" track playing the rendered stereo mix."""
    mix_path = Path(mix).expanduser().absolute()
    source, info = _plan_source(mix_path, None, "the AI mix", rate, copies, "AI_mix", notes)
    if len(source.channels) != 2:
        raise SessionWriteError(f"the AI mix {mix_path} has {info.channels} channel(s); give a stereo file")
    notes.append(f"the AI mix {mix_path} is on the muted track {AI_MIX_TRACK!r}: unmute it (and mute the "
                 "others) to compare")
    return PlannedTrack(
        route=AI_MIX_TRACK, source=source, frame=0, superclock=0, fader=1.0,
        trim=1.0, azimuth=0.5, panner=BALANCE_PANNER_URI, mute=True, solo=False, comment=AI_MIX_COMMENT,
    )


def _master_chain(resolved: Session, notes: list[str]) -> tuple[list[AcePlugin], float]:
    """The master chain as ACE plugins and the master fader's linear gain."""
    ace = _carried(resolved.master, resolved.sample_rate, "the master", notes,
                   "Ardour's master is at unity") if resolved.master else None
    if ace is None:
        return [], 1.0
    fader, trim = split_gain(db_to_gain(ace.post_gain_db), "Master")
    if trim != 1.0:
        ace.gain_after(gain_to_db(trim))
    return ace.plugins, fader


def _session_notes(out_dir: Path, resolved: Session, planned: list[PlannedTrack], notes: list[str]) -> None:
    """What the session as a whole does not carry."""
    if ":" in str(out_dir):
        notes.append("the session folder's path holds ':', where Ardour splits its search paths: Ardour may "
                     "not find the session's own audio files once it saves the session; prefer a folder "
                     "without ':'")
    if resolved.target_lufs is not None:
        notes.append(f"the plan's loudness target ({resolved.target_lufs:g} LUFS) is not applied in Ardour: "
                     "the session plays the tracks at their gains, master at unity")
    if not planned:
        notes.append("the plan has no tracks: the Ardour session is empty")


# --------------------------------------------------------------------------- the session folder


def write_ardour_session(
    session: Session,
    out_dir: str | os.PathLike[str],
    *,
    mix: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> ArdourWriteResult:
    """Write ``session`` (a mix plan) as a new Ardour 7 session folder ``out_dir``.

    ``name`` is the session name (default ``session.name``; characters outside letters,
    digits, space and ``_.+-`` become ``_``); the folder gets ``<name>.ardour`` and Ardour's
    subfolders. ``mix`` is a rendered stereo mix placed on a muted "AI mix" track for A/B.
    Relative track paths are resolved against ``base_dir`` (default :attr:`Session.base_dir`).
    See ``docs/formats.md`` for the gain/pan mapping and what is (not) carried over.

    Raises :class:`~daw_bridge.errors.SessionWriteError` if ``out_dir`` exists (unless
    ``force``; even then only what automix wrote there is replaced, see :mod:`daw_bridge.outputs`), for
    what Ardour cannot hold (a missing channel, a multichannel file without ``channel``, a
    non-stereo mix, more gain than fader and trim allow), and
    :class:`~daw_bridge.errors.AudioError` for a missing or unreadable audio file; in every error
    case nothing is left behind and ``out_dir`` is as it was.
    """
    if not isinstance(session, Session):
        raise TypeError(f"session must be a daw_bridge Session, got {type(session).__name__}")
    with reading([*session.inputs(base_dir), mix]):
        return _write_ardour(session, Path(out_dir), mix=mix, name=name, force=force, base_dir=base_dir)


def _write_ardour(session: Session, out_dir: Path, *, mix: str | os.PathLike[str] | None, name: str | None,
                  force: bool, base_dir: str | os.PathLike[str] | None) -> ArdourWriteResult:
    out_dir = check_output_folder(out_dir, force=force)
    wanted = name if name is not None else session.name
    session_name = _sanitize_session_name(wanted)
    resolved = session.resolve_paths(base_dir)
    interchange = legalize_for_path(out_dir.name)
    notes: list[str] = []
    if session_name != wanted:
        notes.append(f"session name {wanted!r} written as {session_name!r}")

    with new_output_folder(out_dir, force=force) as tmp:
        for sub in _SESSION_SUBFOLDERS:
            (tmp / sub.format(interchange)).mkdir(parents=True, exist_ok=True)
        audiofiles = Path("interchange") / interchange / "audiofiles"
        copies = _Copies(folder=tmp / audiofiles, final=out_dir / audiofiles)
        routes = _route_names((t.name for t in resolved.tracks), [AI_MIX_TRACK] if mix is not None else [])
        planned, mapping = _plan_tracks(resolved, routes, copies, notes)
        _gain_notes(mapping, notes)
        if mix is not None:
            planned.append(_plan_mix(mix, resolved.sample_rate, copies, notes))
        _session_notes(out_dir, resolved, planned, notes)
        if copies.how:
            done = " and ".join(f"{n} {how}" for how, n in sorted(copies.how.items()))
            notes.append(f"the audio files are in the session folder ({audiofiles}: {done}), so it can move")
        master, master_fader = _master_chain(resolved, notes)
        xml = session_xml(session_name, resolved.sample_rate, planned, master, master_fader)
        (tmp / f"{session_name}.ardour").write_bytes(xml)
    return ArdourWriteResult(
        path=out_dir / f"{session_name}.ardour", folder=out_dir, name=session_name, tracks=mapping, notes=notes,
        converted=[p.source.path for p in planned if p.source.converted],
    )
