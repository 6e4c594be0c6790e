"""REAPER projects: write a session as a ``.rpp`` project folder, read a ``.rpp`` back.

:func:`write_reaper_project` creates a new folder holding ``<name>.rpp`` (and, when needed,
``media/``); :func:`read_reaper_project` turns a ``.rpp`` file back into a
:class:`~daw_bridge.session.Session`. Torch-free; audio is only probed, except for channels
extracted into ``media/``. The file format, the pan law and what REAPER will and will not
load: ``docs/formats.md`` (REAPER).

Modules: :mod:`.write` and :mod:`.project_text` (writing), :mod:`.read` (reading),
:mod:`.rpp` (the chunk syntax both ways), :mod:`.ext_data` (automix's ``<EXT`` data).
"""

from __future__ import annotations

from daw_bridge.formats.reaper.project_text import describe_plugin  # noqa: F401  (importable from here, as before)
from daw_bridge.formats.reaper.read import read_reaper_project
from daw_bridge.formats.reaper.rpp import AI_MIX_TRACK, rpp_string
from daw_bridge.formats.reaper.write import ReaperWriteResult, write_reaper_project

__all__ = [
    "AI_MIX_TRACK",
    "ReaperWriteResult",
    "read_reaper_project",
    "rpp_string",
    "write_reaper_project",
]
