"""Read an Ardour 6 or 7 session (``.ardour`` file or its folder) as a :class:`Session`.

Audio tracks become tracks (:mod:`~daw_bridge.formats.ardour.read_route`); whatever the model
cannot hold is listed in ``Session.notes``. How files are found and what is read how:
``docs/formats.md`` (Ardour, Reading).
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from pydantic import ValidationError

from daw_bridge.formats.ardour.panning import gain_to_db
from daw_bridge.formats.ardour.read_route import (
    ReadState,
    controllable_value,
    plugin_chain,
    route_comment,
    route_tracks,
)
from daw_bridge.formats.ardour.safe_xml import parse_xml
from daw_bridge.formats.ardour.session_format import AI_MIX_COMMENT, ArdourSessionError, legalize_for_path
from daw_bridge.panlaw import CONSTANT_POWER_LAW_DB
from daw_bridge.session import PluginSpec, Session, Track


def _session_file(path: Path) -> Path:
    """The ``.ardour`` file of ``path``: the file itself, or the session a folder holds.

    In a folder with several snapshots, the one Ardour used last (``instant.xml``) is taken,
    else the one named like the folder.
    """
    if path.is_dir():
        candidates = sorted(p for p in path.iterdir()
                            if p.suffix == ".ardour" and p.is_file() and not p.name.startswith("."))
        if not candidates:
            raise ArdourSessionError(f"{path} holds no .ardour file; give an Ardour session folder or .ardour file")
        if len(candidates) == 1:
            return candidates[0]
        preferred = []
        instant = path / "instant.xml"
        if instant.is_file():
            with contextlib.suppress(ArdourSessionError):
                last = parse_xml(instant).find("LastUsedSnapshot")
                if last is not None and last.get("name"):
                    preferred.append(path / f"{last.get('name')}.ardour")
        preferred.append(path / f"{path.name}.ardour")
        for p in preferred:
            if p in candidates:
                return p
        names = ", ".join(p.name for p in candidates)
        raise ArdourSessionError(f"{path} holds several snapshots ({names}); give the .ardour file to read")
    if not path.exists():
        raise ArdourSessionError(f"{path} does not exist; check the path")
    return path


def _session_rate(root: ET.Element, src: Path) -> int:
    """The session's sample rate (Hz), once its root is checked to be an Ardour 6/7 session."""
    if root.tag != "Session" or root.get("version") is None or root.find("Routes") is None:
        raise ArdourSessionError(f"{src} is not an Ardour session (its root element is <{root.tag}>)")
    try:
        version = int(root.get("version", "0"))
        rate = int(root.get("sample-rate", "0"))
    except ValueError:
        raise ArdourSessionError(f"{src}: the session's version or sample-rate is not a number") from None
    if rate <= 0:
        raise ArdourSessionError(f"{src}: the session has no valid sample-rate")
    if version < 6000:
        raise ArdourSessionError(
            f"{src} is an Ardour {version // 1000 or 2} session (format {version}); this reader reads Ardour 6 and 7 "
            "sessions: open and save it in a newer Ardour first"
        )
    return rate


def _search_path(root: ET.Element, folder: Path) -> list[Path]:
    """The folders of the session's ``audio-search-path`` (relative ones from ``folder``)."""
    search: list[Path] = []
    config = root.find("Config")
    if config is None:
        return search
    for option in config.findall("Option"):
        if option.get("name") == "audio-search-path" and option.get("value"):
            for entry in option.get("value", "").split(os.pathsep):
                if entry:
                    entry_path = Path(entry).expanduser()
                    search.append(entry_path if entry_path.is_absolute() else folder / entry_path)
    return search


def _resolve_source(name: str, folder: Path, session_name: str, search: list[Path]) -> Path:
    """The file of a Source: an absolute name, else the first match in Ardour's search folders.

    Ardour looks in ``interchange/<folder>/audiofiles`` and in the ``audio-search-path`` of the
    session's config (where it keeps the folders of files it plays in place, whose Sources it
    saves by bare name).
    """
    p = Path(name)
    if p.is_absolute():
        return p
    interchange = folder / "interchange"
    candidates = [interchange / sub / "audiofiles" / name for sub in (legalize_for_path(folder.name), session_name)]
    if interchange.is_dir():
        candidates.extend(sorted(d / "audiofiles" / name for d in interchange.iterdir() if d.is_dir()))
    candidates.extend(d / name for d in search)
    candidates.append(folder / name)
    for c in candidates:
        if c.exists():
            return c.absolute()
    return candidates[0].absolute()


def _sources(root: ET.Element, folder: Path, session_name: str) -> dict[str, tuple[Path, int]]:
    """Audio Source id -> (file, channel)."""
    search = _search_path(root, folder)
    sources: dict[str, tuple[Path, int]] = {}
    sources_node = root.find("Sources")
    for s in (sources_node.findall("Source") if sources_node is not None else []):
        if s.get("type", "audio") != "audio" or s.get("id") is None:
            continue
        try:
            channel = int(s.get("channel", "0"))
        except ValueError:
            channel = 0
        sources[s.get("id", "")] = (_resolve_source(s.get("name", ""), folder, session_name, search), channel)
    return sources


def _playlists(root: ET.Element) -> dict[str, ET.Element]:
    """Playlists by id and by name (used and unused ones; the first of a name wins)."""
    playlists: dict[str, ET.Element] = {}
    for container in ("Playlists", "UnusedPlaylists"):
        node = root.find(container)
        if node is not None:
            for pl in node.findall("Playlist"):
                playlists.setdefault(pl.get("id", ""), pl)
                playlists.setdefault(pl.get("name", ""), pl)
    return playlists


def _route_kind(route: ET.Element, notes: list[str]) -> str | None:
    """``"master"``, ``"track"`` (an audio track to read), or None for a route left out (with a note)."""
    info = route.find("PresentationInfo")
    flags = info.get("flags", "") if info is not None else ""
    rname = route.get("name", "?")
    if "MasterOut" in flags:
        return "master"
    if "MonitorOut" in flags:
        return None
    if "AudioTrack" not in flags and route.get("audio-playlist") is None:
        if "MidiTrack" in flags:
            notes.append(f"MIDI track {rname!r} skipped (the model holds audio tracks)")
        elif "Bus" in flags:
            notes.append(f"bus {rname!r} skipped (the model has no busses): tracks fed through it are read "
                         "as if they went straight to the master")
        return None
    if route_comment(route) == AI_MIX_COMMENT:
        notes.append(f"track {rname!r} (the rendered AI mix for A/B) left out of the plan")
        return None
    return "track"


def _master_chain(master: ET.Element, rate: int, notes: list[str]) -> list[PluginSpec]:
    """The master's ACE plugins as the plan's master chain, its gain a ``Gain`` after them when
    it has plugins (else a note: the model's master is at unity); a note for other plugins."""
    mgain = 1.0
    for proc in master.findall("Processor"):
        if proc.get("type") == "amp":
            mgain *= controllable_value(proc, "gaincontrol", 1.0)
        elif proc.get("type") == "trim":
            mgain *= controllable_value(proc, "trimcontrol", 1.0)
    chain = plugin_chain(master, "the master", rate, notes)
    if abs(mgain - 1.0) > 1e-9:
        if chain:
            chain.append(PluginSpec(kind="builtin", name="Gain", params={"gain_db": gain_to_db(mgain)}))
        else:
            notes.append(f"the master is at {gain_to_db(mgain):+.2f} dB in Ardour; the model's master is at unity")
    return chain


def _unique_names(tracks: list[Track]) -> None:
    """Rename repeated track names in place: the second ``x`` becomes ``x (2)``."""
    names = [t.name for t in tracks]
    if len(set(names)) != len(names):
        seen: dict[str, int] = {}
        for t in tracks:
            seen[t.name] = seen.get(t.name, 0) + 1
            if seen[t.name] > 1:
                t.name = f"{t.name} ({seen[t.name]})"


def read_ardour_session(
    path: str | os.PathLike[str],
    *,
    pan_law_db: float = CONSTANT_POWER_LAW_DB,
) -> Session:
    """Read an Ardour session (``.ardour`` file or its folder) as a :class:`Session`.

    Track gains and pans are the inverse of :func:`write_ardour_session`'s mapping under
    ``pan_law_db`` (the session's pan law; the default is the renderer's constant power), so
    writing a plan and reading it back gives its gains and pans. What the model cannot hold
    is listed in ``Session.notes``. Raises :class:`ArdourSessionError` (one line) for a
    missing file, unsafe XML (entity declarations, external references), a file that is not
    an Ardour session, or one whose structure is broken.
    """
    if not -6.0 <= pan_law_db < 0.0:
        raise ValueError(f"pan law must be in [-6, 0) dB, got {pan_law_db}")
    src = _session_file(Path(path).expanduser().absolute())
    root = parse_xml(src)
    rate = _session_rate(root, src)
    session_name = root.get("name") or src.stem
    ctx = ReadState(rate=rate, pan_law_db=pan_law_db, sources=_sources(root, src.parent, session_name),
                         playlists=_playlists(root))
    master = None
    tracks: list[Track] = []
    for route in root.find("Routes").findall("Route"):  # type: ignore[union-attr]
        kind = _route_kind(route, ctx.notes)
        if kind == "master":
            master = route
        elif kind == "track":
            tracks.extend(route_tracks(route, ctx))
    if ctx.faded:
        ctx.notes.append("regions with fades (ignored: the model has no fades): " + ", ".join(ctx.faded))
    chain = _master_chain(master, rate, ctx.notes) if master is not None else []
    _unique_names(tracks)
    try:
        return Session(name=session_name, sample_rate=rate, tracks=tracks, master=chain, pan_law_db=pan_law_db,
                       notes=ctx.notes)
    except ValidationError as exc:  # a broken session
        raise ArdourSessionError(f"{src}: cannot be read as a session ({' '.join(str(exc).split())[:300]})") from None
