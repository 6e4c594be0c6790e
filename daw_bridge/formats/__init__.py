"""One door in and one door out: open any session source, write any session format.

Details: ``docs/session-formats.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from daw_bridge.audio import AUDIO_EXTENSIONS

from daw_bridge.session import Session, load_session
from daw_bridge.errors import SessionError

__all__ = ["SESSION_FORMATS", "WrittenSession", "open_session", "write_session"]

#: What :func:`write_session` writes.
SESSION_FORMATS = ("ardour", "reaper", "midi")

_PLAN_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass
class WrittenSession:
    """What :func:`write_session` wrote: ``format``, the output ``folder``, the main file
    (``path``: the ``.ardour``, ``.rpp`` or ``.mid``) and one-line ``notes`` about what the
    format cannot hold."""

    format: str
    folder: Path
    path: Path
    notes: list[str] = field(default_factory=list)


def open_session(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    mapping: str | os.PathLike[str] | dict | None = None,
    name: str | None = None,
    sample_rate: int | None = None,
) -> Session:
    """A session from a plan file, an Ardour session, a REAPER project or stems (table above).

    ``mapping`` (roles by track or file name), ``name`` and ``sample_rate`` apply to stems;
    ``name`` also renames a session read from a file. Raises
    :class:`~daw_bridge.session.SessionError` (one line) for a missing source, or options that
    do not apply to it; the readers raise their own one-line errors for bad files.
    """
    if not isinstance(source, (str, os.PathLike)):
        items = [Path(s) for s in source]
        if len(items) != 1:
            from daw_bridge.importer import import_stems

            return import_stems(items, mapping=mapping, name=name, sample_rate=sample_rate)
        source = items[0]
    path = Path(source).expanduser()
    if not path.exists():
        raise SessionError(f"{path} does not exist (give a plan file, an Ardour session, a .rpp project or a stems folder)")
    kind = "stems"
    if path.is_dir():
        if any(p.is_file() for p in path.glob("*.ardour")):
            kind = "ardour"  # the reader picks the snapshot Ardour last used
    else:
        suffix = path.suffix.lower()
        if suffix in _PLAN_SUFFIXES:
            kind = "plan"
        elif suffix == ".ardour":
            kind = "ardour"
        elif suffix == ".rpp":
            kind = "reaper"
        elif suffix not in AUDIO_EXTENSIONS:
            raise SessionError(
                f"{path} is neither a plan (.json/.yaml), an Ardour session (.ardour), a REAPER project (.rpp) "
                "nor an audio file"
            )
    if kind == "stems":
        from daw_bridge.importer import import_stems

        return import_stems(path if path.is_dir() else [path], mapping=mapping, name=name, sample_rate=sample_rate)
    if mapping is not None or sample_rate is not None:
        raise SessionError("a role mapping and a sample rate apply to stems only, not to a saved session")
    if kind == "plan":
        session = load_session(path)
    elif kind == "ardour":
        from daw_bridge.formats.ardour import read_ardour_session

        session = read_ardour_session(path)
    else:
        from daw_bridge.formats.reaper import read_reaper_project

        session = read_reaper_project(path)
    if name is not None:
        renamed = session.model_copy(update={"name": name})
        renamed._source = session._source
        session = renamed
    return session


def write_session(
    session: Session,
    out_dir: str | os.PathLike[str],
    *,
    format: Literal["ardour", "reaper", "midi"],
    mix: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> WrittenSession:
    """Write ``session`` as a new ``format`` session in the folder ``out_dir``.

    * ``"ardour"``: an Ardour 7 session (:func:`daw_bridge.formats.ardour.write_ardour_session`);
    * ``"reaper"``: a REAPER project (:func:`daw_bridge.formats.reaper.write_reaper_project`);
    * ``"midi"``: ``out_dir/<name>.mid``, volume (CC7/CC39) and pan (CC10/CC42) per track
      (:func:`daw_bridge.formats.midi.write_midi_automation`).

    ``mix`` (a rendered mix) goes on a muted "AI mix" track for A/B (Ardour and REAPER; a MIDI
    file has no audio, so it is refused there). ``name`` names the session inside the folder
    (default: the session's). Relative audio paths resolve against ``base_dir`` (default: the
    plan file's folder). Raises :class:`~daw_bridge.errors.AutomixError` subclasses (one line).
    """
    if format not in SESSION_FORMATS:
        raise SessionError(f"unknown session format {format!r}; use one of {', '.join(SESSION_FORMATS)}")
    if format == "ardour":
        from daw_bridge.formats.ardour import write_ardour_session

        result = write_ardour_session(session, out_dir, mix=mix, name=name, force=force, base_dir=base_dir)
        return WrittenSession("ardour", Path(result.folder), Path(result.path), list(result.notes))
    if format == "reaper":
        from daw_bridge.formats.reaper import write_reaper_project

        result = write_reaper_project(session, out_dir, mix=mix, name=name, force=force, base_dir=base_dir)
        return WrittenSession("reaper", Path(result.out_dir), Path(result.project), list(result.notes))
    if mix is not None:
        raise SessionError("a MIDI automation file holds no audio: --mix applies to ardour and reaper")
    from daw_bridge.formats.midi import write_midi_automation
    from daw_bridge.outputs import new_output_folder, reading, safe_file_name

    file_name = safe_file_name(name or session.name) + ".mid"
    with reading(session.inputs(base_dir)), new_output_folder(out_dir, force=force) as tmp:
        result = write_midi_automation(session, tmp / file_name)
    final = Path(out_dir).expanduser().absolute()
    return WrittenSession("midi", final, final / file_name, list(result.notes))
