"""Check a mix plan before rendering and resolve each heard track: file, start, gain and pan.

Everything wrong is collected into one :class:`~daw_bridge.errors.RenderError`. Frames are at
the session's rate; the rules (start frame, mute/solo, pan by source): ``docs/rendering.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from daw_bridge.audio import AudioInfo, check_output_format, probe, resampled_length
from daw_bridge.errors import AudioError, OutputError, RenderError
from daw_bridge.outputs import check_output_path
from daw_bridge.panlaw import db_to_gain, pan_gains
from daw_bridge.plugins import check_plugins
from daw_bridge.session import Session, Track


def balance_gains(pan: float) -> tuple[float, float]:
    """Left and right factors of a *stereo* source at ``pan`` (-1 .. +1): a linear balance.

    ``pan < 0`` scales the right channel by ``1 + pan``, ``pan > 0`` the left channel by
    ``1 - pan``; the centre is ``(1, 1)``, hard left ``(1, 0)``, hard right ``(0, 1)``.
    """
    if not -1.0 <= pan <= 1.0 or math.isnan(pan):
        raise ValueError(f"pan must be in [-1, 1], got {pan}")
    if pan < 0:
        return 1.0, 1.0 + pan
    return 1.0 - pan, 1.0


def track_start_frame(offset_s: float, sample_rate: int) -> int:
    """The frame a track starts at: ``int(round(offset_s * sample_rate))`` (halves to even)."""
    return int(round(offset_s * sample_rate))


def plural(n: int, word: str) -> str:
    """``"1 sample"``, ``"2 samples"``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def problems_error(problems: Sequence[str]) -> RenderError:
    """One error listing every problem."""
    return RenderError(f"cannot render: {plural(len(problems), 'problem')}: " + "; ".join(problems))


def _audible(session: Session) -> list[bool]:
    any_solo = any(t.solo for t in session.tracks)
    return [not t.mute and (t.solo or not any_solo) for t in session.tracks]


@dataclass
class TrackPlan:
    """One heard track, resolved: where its audio comes from and how it is mixed."""

    index: int  # position in session.tracks
    track: Track
    info: AudioInfo
    start: int  # first frame on the session timeline
    frames: int  # length at the session rate
    stereo_source: bool
    coeffs: np.ndarray  # float32 [2, 1]: gain x pan (or balance) factors

    @property
    def owner(self) -> str:
        return f"track {self.track.name!r}"

    @property
    def end(self) -> int:
        return self.start + self.frames


def _check_format(out: Path, subtype: str) -> list[str]:
    try:
        check_output_format(out, subtype)
    except OutputError as exc:
        return [str(exc)]
    return []


def _frames_at_rate(info: AudioInfo, rate: int) -> int:
    if info.sample_rate == rate:
        return info.frames
    return resampled_length(info.frames, info.sample_rate, rate)


def _output_problems(out: Path | None, *, overwrite: bool, subtype: str) -> list[str]:
    problems: list[str] = []
    if out is not None:
        try:
            check_output_path(out, overwrite=overwrite)
        except OutputError as exc:
            problems.append(str(exc))
        problems.extend(_check_format(out, subtype))
    return problems


def _plan_track(
    index: int, track: Track, session: Session, missing: set[Path], problems: list[str]
) -> TrackPlan | None:
    """The plan of one heard track, or None with its problem added to ``problems``."""
    rate = session.sample_rate
    owner = f"track {track.name!r}"
    path = Path(track.file)
    if path in missing:
        problems.append(f"{owner}: audio file {path} does not exist")
        return None
    try:
        info = probe(path)
    except AudioError as exc:
        problems.append(f"{owner}: {exc}")
        return None
    if track.channel is not None and track.channel >= info.channels:
        problems.append(
            f"{owner}: channel {track.channel} is beyond {path} ({plural(info.channels, 'channel')}, "
            f"counted from 0)"
        )
        return None
    if track.channel is None and info.channels > 2:
        problems.append(f"{owner}: {path} has {info.channels} channels; pick one with channel (0-based)")
        return None
    stereo = track.channel is None and info.channels == 2
    gain = db_to_gain(track.gain_db)
    left, right = balance_gains(track.pan) if stereo else pan_gains(track.pan, session.pan_law_db)
    coeffs = np.array([[gain * left], [gain * right]], dtype=np.float32)
    return TrackPlan(
        index=index,
        track=track,
        info=info,
        start=track_start_frame(track.offset_s, rate),
        frames=_frames_at_rate(info, rate),
        stereo_source=stereo,
        coeffs=coeffs,
    )


def preflight(
    session: Session, out: Path | None, *, overwrite: bool, subtype: str, base: Path
) -> tuple[list[TrackPlan], list[str]]:
    """Check everything before any processing; return the heard tracks and notes.

    Raises one :class:`RenderError` listing every problem found.
    """
    problems = _output_problems(out, overwrite=overwrite, subtype=subtype)
    notes: list[str] = []
    rate = session.sample_rate
    heard = _audible(session)
    if not session.tracks:
        problems.append("the session has no tracks")
    elif not any(heard):
        problems.append("no track is heard (every track is muted, or the soloed ones are); nothing to render")
    silent_names = [t.name for t, h in zip(session.tracks, heard) if not h]
    if silent_names and any(heard):
        notes.append(f"not heard (muted or not soloed), not rendered: {', '.join(map(repr, silent_names))}")
    heard_session = session.model_copy(update={"tracks": [t for t, h in zip(session.tracks, heard) if h]})
    missing = set(heard_session.missing_files())
    plans: list[TrackPlan] = []
    for index, (track, is_heard) in enumerate(zip(session.tracks, heard)):
        plan = _plan_track(index, track, session, missing, problems) if is_heard else None
        if plan is not None:
            plans.append(plan)
    resampled = [f"{Path(p.track.file).name} ({p.info.sample_rate} Hz)" for p in plans if p.info.sample_rate != rate]
    if resampled:
        notes.append(f"resampled to {rate} Hz on the fly: {', '.join(resampled)}")
    problems.extend(check_plugins(heard_session, base))
    if problems:
        raise problems_error(problems)
    return plans, notes
