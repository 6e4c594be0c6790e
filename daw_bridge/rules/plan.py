"""The rule-based plan and its renders: stems (or a session) in, a mix plan (and a mix) out."""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from daw_bridge.audio import AUDIO_EXTENSIONS, SILENCE_LUFS, probe
from daw_bridge.rules.master import calibrate_master, render_alone
from daw_bridge.rules.panning import add_highpass, plan_pans
from daw_bridge.rules.recording import one_recording
from daw_bridge.rules.roles import budget_key, role_family, role_level_lu
from daw_bridge.rules.tables import (
    DEFAULT_TARGET_LUFS,
    REFERENCE_LUFS,
    ROLE_LOUDNESS_LU,
    UNKNOWN_HIGHPASS_HZ,
    UNKNOWN_ROLE_LU,
    RulesError,
    Source,
)
from daw_bridge.stems import check_perspective


def _files_of(items: Sequence[str | os.PathLike[str]], exclude: Path | None) -> list[Path]:
    files: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            files.extend(
                p
                for p in sorted(path.iterdir())
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in AUDIO_EXTENSIONS
            )
        else:
            files.append(path)
    if exclude is not None:
        files = [f for f in files if f.absolute() != exclude]
    return files


def _load_source(
    source: Source,
    *,
    mapping: Mapping[str, str | None] | str | os.PathLike[str] | None,
    name: str | None,
    sample_rate: int | None,
    exclude: Path | None = None,
) -> Any:
    from daw_bridge.importer import import_stems
    from daw_bridge.session import Session

    if isinstance(source, Session):
        if mapping is not None:
            raise RulesError("mapping is for stems; a session already names its tracks' roles")
        session = source.resolve_paths()
        if sample_rate is not None:
            session.sample_rate = sample_rate
        if name is not None:
            session.name = name
        return session
    if isinstance(source, (str, os.PathLike)):
        folder = Path(source).expanduser()
        if exclude is not None and folder.is_dir() and exclude.parent == folder.absolute() and exclude.exists():
            files = _files_of([folder], exclude)
            session = import_stems(files, mapping=mapping, sample_rate=sample_rate)
            session.name = name or folder.absolute().name or "session"
            return session
        return import_stems(source, mapping=mapping, sample_rate=sample_rate, name=name)
    files = _files_of(list(source), exclude)
    return import_stems(files, mapping=mapping, sample_rate=sample_rate, name=name)




def rule_based_plan(
    source: Source,
    *,
    target_lufs: float = DEFAULT_TARGET_LUFS,
    true_peak_db: float = -1.0,
    mapping: Mapping[str, str | None] | str | os.PathLike[str] | None = None,
    name: str | None = None,
    sample_rate: int | None = None,
    perspective: str = "drummer",
    balance: str = "auto",
    processing: bool = True,
) -> Any:
    """A mix plan (:class:`daw_bridge.session.Session`) from ``source`` by the rules of this module.

    ``source``: a stems folder, a list of stem files (folders in it are scanned), or a
    :class:`~daw_bridge.session.Session` (not changed; its relative paths are resolved
    against its folder and the plan holds absolute ones). ``mapping``
    (``{track or file name: role or None}`` or a JSON/YAML file of it) overrides the roles
    guessed from file names (stems only). ``name`` and ``sample_rate`` as for
    :func:`daw_bridge.importer.import_stems`. The plan's ``target_lufs`` and ``true_peak_db``
    are the arguments; its notes add one line per decision worth checking. ``perspective``:
    ``"drummer"`` (default, ``"auto"`` too) places the kit as heard from the drum stool,
    ``"audience"`` mirrors every pan.

    Renders each track alone once and the summed tracks once to measure them, so it takes
    about as long as two renders of the mix. ``balance`` (:data:`BALANCES`): ``auto`` keeps a
    drum recording's own balance and balances other stems by role; ``processing=False`` leaves
    out the high-passes and the master chain (gain and pan only).
    """
    if not (isinstance(target_lufs, (int, float)) and -70.0 <= target_lufs <= 0.0):
        raise RulesError(f"target_lufs must be between -70 and 0 LUFS, got {target_lufs!r}")
    if not (isinstance(true_peak_db, (int, float)) and -20.0 <= true_peak_db <= 0.0):
        raise RulesError(f"true_peak_db must be between -20 and 0 dBTP, got {true_peak_db!r}")
    if target_lufs > true_peak_db:
        raise RulesError(f"target_lufs {target_lufs} LUFS is above the ceiling {true_peak_db} dBTP")
    side = _perspective(perspective)
    return _plan(
        _load_source(source, mapping=mapping, name=name, sample_rate=sample_rate),
        float(target_lufs),
        float(true_peak_db),
        side,
        balance,
        processing,
    )


def _perspective(value: str | None) -> str:
    try:
        return check_perspective(value) or "drummer"
    except ValueError as exc:
        raise RulesError(str(exc)) from None


#: How the rule-based console sets the faders: each role at its table level (``roles``), the
#: recording's own balance kept (``recorded``), or ``recorded`` when the stems are one drum
#: recording (their close mics bleed into the overheads) and ``roles`` otherwise (``auto``).
BALANCES = ("auto", "roles", "recorded")


def _measure_heard(plan: Any, heard: list[Any], notes: list[str]) -> dict[str, float]:
    measured: dict[str, float] = {}
    for track in plan.tracks:
        if track not in heard:
            if not track.mute:
                notes.append(f"track {track.name!r} is not heard (another track is soloed): level left as is")
            continue
        measured[track.name] = render_alone(plan, track)
    return measured


def _keep_recorded_balance(plan: Any, heard: list[Any], notes: list[str]) -> list[Any]:
    """Every heard track at 0 dB: the recording's gain staging is the balance. Returns the live tracks."""
    measured = _measure_heard(plan, heard, notes)
    for track in heard:
        track.gain_db = 0.0
    notes.append("faders at 0 dB: the recorded balance is kept (the master brings the sum to level)")
    return [t for t in heard if measured[t.name] > SILENCE_LUFS]


def _balance_by_role(plan: Any, heard: list[Any], notes: list[str]) -> list[Any]:
    """Faders that put each track at its role's level (:data:`ROLE_LOUDNESS_LU`). Returns the live tracks."""
    measured = _measure_heard(plan, heard, notes)
    live = [t for t in heard if measured[t.name] > SILENCE_LUFS]
    budgets = Counter(budget_key(t.role) for t in live)
    for key, count in sorted(budgets.items()):
        if count > 1:
            notes.append(f"{count} tracks share the {key!r} level: {-10 * math.log10(count):+.1f} dB each")
    for track in heard:
        lufs = measured[track.name]
        if lufs <= SILENCE_LUFS:
            track.gain_db = 0.0
            notes.append(f"track {track.name!r} is silent (at or below {SILENCE_LUFS:.0f} LUFS): left at 0 dB")
            continue
        wanted = REFERENCE_LUFS + role_level_lu(track.role) - 10.0 * math.log10(budgets[budget_key(track.role)])
        gain = wanted - lufs
        if not -120.0 <= gain <= 24.0:
            clamped = min(24.0, max(-120.0, gain))
            notes.append(f"track {track.name!r} would need {gain:+.1f} dB; clamped to {clamped:+.1f} dB")
            gain = clamped
        track.gain_db = round(gain, 4)
    return live


def _plan(session: Any, target_lufs: float, true_peak_db: float, perspective: str = "drummer",
          balance: str = "auto", processing: bool = True) -> Any:
    if balance not in BALANCES:
        raise RulesError(f"balance must be one of {', '.join(BALANCES)}, got {balance!r}")
    plan = session.model_copy(deep=True)
    notes: list[str] = []
    if not plan.tracks:
        raise RulesError("the session has no tracks; nothing to mix")
    plan.target_lufs = target_lufs
    plan.true_peak_db = true_peak_db

    # roles and muting
    for track in plan.tracks:
        family = role_family(track.role)
        if family is None:
            notes.append(
                f"track {track.name!r} has no role: level {UNKNOWN_ROLE_LU:+.0f} LU, centre, "
                f"high-pass {UNKNOWN_HIGHPASS_HZ:.0f} Hz (give it one with a mapping)"
            )
        elif family not in ROLE_LOUDNESS_LU:
            notes.append(
                f"track {track.name!r}: role {track.role!r} is not in the table: level {UNKNOWN_ROLE_LU:+.0f} LU"
            )
        if family == "click" and not track.mute:
            track.mute = True
            notes.append(f"track {track.name!r} is a click track: muted")

    # high-pass, then pans (they change what is measured)
    for track in plan.tracks:
        if processing:
            add_highpass(track, notes)
    stereo: dict[str, bool] = {}
    for track in plan.tracks:
        channels = probe(track.file).channels if track.channel is None else 1
        stereo[track.name] = channels >= 2
    sign = -1.0 if perspective == "audience" else 1.0
    for track_name, pan in plan_pans(plan.tracks, stereo, notes).items():
        next(t for t in plan.tracks if t.name == track_name).pan = sign * pan + 0.0  # no -0.0
    if perspective == "audience":
        notes.append("audience's perspective: every pan mirrored (hi-hat right, floor tom left)")

    # loudness balance
    heard = [t for t in plan.tracks if not t.mute]
    if any(t.solo for t in plan.tracks):
        heard = [t for t in heard if t.solo]
    keep_recorded = balance == "recorded"
    if balance == "auto":
        keep_recorded, why = one_recording(heard)
        notes.append(why)
    live = (_keep_recorded_balance if keep_recorded else _balance_by_role)(plan, heard, notes)

    if not live:
        notes.append("every heard track is silent: nothing to balance")
        plan.master = []
    elif processing:
        plan.master = calibrate_master(plan, target_lufs, true_peak_db, notes)
    plan.notes = [*plan.notes, *notes]
    return plan


@dataclass(frozen=True)
class RulesSettings:
    """How :func:`mix_with_rules` plans and renders; every field is also a keyword of it.

    ``target_lufs`` (``None``: the plan's master is calibrated for :data:`DEFAULT_TARGET_LUFS`
    but the render keeps its level), ``true_peak_db``, ``perspective``, ``balance``,
    ``processing`` and ``mapping`` as for
    :func:`rule_based_plan`; ``name`` and ``sample_rate`` of the plan; ``overwrite``,
    ``subtype``, ``tail_s``, ``threads``, ``progress``, ``limiter`` as for :func:`daw_bridge.render.render`;
    ``plan_out``: also save the plan there (``.json``/``.yaml``).
    """

    target_lufs: float | None = DEFAULT_TARGET_LUFS
    true_peak_db: float = -1.0
    perspective: str = "drummer"
    balance: str = "auto"
    processing: bool = True
    mapping: Mapping[str, str | None] | str | os.PathLike[str] | None = None
    name: str | None = None
    sample_rate: int | None = None
    overwrite: bool = False
    subtype: str = "PCM_24"
    tail_s: float | Literal["auto"] = "auto"
    threads: int | None = None
    progress: bool | None = False
    plan_out: str | os.PathLike[str] | None = None
    limiter: bool = False

    def check(self) -> "RulesSettings":
        """Raise :class:`RulesError` for values out of range; return self."""
        target = DEFAULT_TARGET_LUFS if self.target_lufs is None else self.target_lufs
        if not (isinstance(target, (int, float)) and -70.0 <= target <= 0.0):
            raise RulesError(f"target_lufs must be between -70 and 0 LUFS, got {self.target_lufs!r}")
        if not (isinstance(self.true_peak_db, (int, float)) and -20.0 <= self.true_peak_db <= 0.0):
            raise RulesError(f"true_peak_db must be between -20 and 0 dBTP, got {self.true_peak_db!r}")
        return self


def mix_with_rules(
    stems: Source, output: str | os.PathLike[str] | None = None, *, settings: RulesSettings | None = None, **options: Any
) -> Any:
    """Plan with :func:`rule_based_plan` and render with :func:`daw_bridge.render.render`.

    ``stems``: a folder, a list of files (and folders), or a session; a mix written into the
    stems folder is not taken for a stem. ``output``: a ``.wav``/``.flac`` file, or ``None``
    for the audio in memory (``result.audio``, ``[2, frames]``). ``settings``/``options``: the
    fields of :class:`RulesSettings`. Returns the :class:`~daw_bridge.render.RenderResult`
    (its ``plan`` is the plan; its notes start with the plan's).
    """
    from daw_bridge.render import render

    s = replace(settings or RulesSettings(), **options).check()
    exclude = Path(output).expanduser().absolute() if output is not None else None
    session = _load_source(stems, mapping=s.mapping, name=s.name, sample_rate=s.sample_rate, exclude=exclude)
    target = DEFAULT_TARGET_LUFS if s.target_lufs is None else float(s.target_lufs)
    plan = _plan(session, target, float(s.true_peak_db), _perspective(s.perspective), s.balance, s.processing)
    if s.target_lufs is None:
        plan = plan.model_copy(update={"target_lufs": None})
    if s.plan_out is not None:
        plan.save(s.plan_out, overwrite=s.overwrite)
    result = render(plan, output, overwrite=s.overwrite, normalize=True, subtype=s.subtype, tail_s=s.tail_s,
                    threads=s.threads, progress=s.progress, limiter=s.limiter)
    result.notes = [*plan.notes, *result.notes]
    result.plan = plan
    return result


def mix_audio_with_rules(
    stems: np.ndarray,
    names: Sequence[str],
    sample_rate: int,
    *,
    target_lufs: float | None = DEFAULT_TARGET_LUFS,
    true_peak_db: float = -1.0,
    perspective: str = "drummer",
    balance: str = "auto",
    processing: bool = True,
) -> np.ndarray:
    """The rule-based mix of in-memory stems: ``[2, frames]`` float32, as long as the stems.

    ``stems`` is ``[N, frames]`` (mono stems) or ``[N, channels, frames]``; ``names`` gives
    each stem's name, from which its role is guessed as for files (``"kick"``,
    ``"overhead_l.wav"``, ``"OH L"``...). The stems are written to a private temporary folder
    (32-bit float WAV, nothing else touched), planned with the rules and rendered with
    loudness normalisation and no effect tail. What the evaluation reports use as the
    "rule-based console" baseline. ``perspective`` as for :func:`rule_based_plan`.
    """
    from daw_bridge.importer import import_stems, temporary_stems
    from daw_bridge.render import render

    side = _perspective(perspective)
    frames = np.asarray(stems).shape[-1]
    with temporary_stems(stems, names, sample_rate, error=RulesError) as files:
        session = import_stems(files, sample_rate=int(sample_rate), name="stems")
        level = DEFAULT_TARGET_LUFS if target_lufs is None else float(target_lufs)
        plan = _plan(session, level, float(true_peak_db), side, balance, processing)
        if target_lufs is None:  # calibrated for the default level, left at the plan's own
            plan = plan.model_copy(update={"target_lufs": None})
        result = render(plan, None, normalize=True, tail_s=0.0)
    out = np.zeros((2, frames), dtype=np.float32)
    k = min(frames, result.audio.shape[1])
    out[:, :k] = result.audio[:, :k]
    return out
