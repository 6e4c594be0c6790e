"""A rule-based console: a mix plan from stems without any trained weights (torch-free).

:func:`rule_based_plan` turns a stems folder, a list of stem files or an existing
:class:`~daw_bridge.session.Session` into a mix plan (a session with gains, pans, a high-pass
per track and a master chain) by fixed rules read off each track's *role* (guessed from its
name by :func:`daw_bridge.importer.import_stems`, or given with ``mapping``).
:func:`mix_with_rules` plans and renders in one go (``automix mix --model rules``).

The rules
---------
Roles are read by family (:func:`daw_bridge.chains.role_key`: ``"overhead_L"`` ->
``"overheads"``, ``"tom_2"`` -> ``"tom"``).

**Loudness balance.** Each heard track is rendered alone (its plugin chain, including the
high-pass below, at 0 dB, with its pan) and its integrated loudness measured (BS.1770-4,
gated, :class:`daw_bridge.loudness.LoudnessMeter`). Its fader is then set so that it sits at
``REFERENCE_LUFS + ROLE_LOUDNESS_LU[family] - 10*log10(n)`` LUFS, where ``n`` is the number
of heard, non-silent tracks sharing the role's *budget*: tracks of the same family share
one (two overheads, three guitars, top and bottom snare mics), except numbered toms, where
each tom (``tom_1``, ``tom_2``, ``tom_3``) has a budget of its own (different drums, played
at different times). Roles not in the table, and tracks without a role, sit at
``UNKNOWN_ROLE_LU``. Faders are clamped to the track's range [-120, 24] dB (a note says
so). A silent track (at or below -70 LUFS) keeps 0 dB, and a muted one is left as it is;
both get a note. A click track is muted.

**Panning** (the drummer's perspective by default, as the kit is heard from the drum stool:
a right-handed drummer's hi-hat on the left and the floor tom on the right;
``perspective="audience"`` mirrors every pan), see :data:`ROLE_PANS`:
kick, snare, bass, vocal in the centre; an overhead pair at -0.7/+0.7 (L/R from the role
``overhead_L``/``overhead_R`` or from the file name's side; two overheads with no side:
the first left; a lone overhead in the centre), **turned round** when the close mics say the
names have it the other way (:data:`OVERHEAD_TURN_DB`: the hi-hat and toms are each louder in
the overhead on their own side, else the image smears); a room pair at -1/+1 the same way as
the names; toms spread in order from ``-TOM_SPREAD`` (``tom_1``, the high tom) to
``+TOM_SPREAD`` (the floor tom), the tracks of one tom (top and bottom mics) sharing its
position (a lone tom: see :data:`LONE_TOM_PANS`); guitars alternate -0.5/+0.5 in file order
when there are several (sides in the names win); the roles in :data:`ROLE_PANS` (hi-hat -0.3,
ride +0.4, ...); everything else in the centre. A stereo file (no ``channel`` chosen) is
balanced at 0.

**High-pass.** Every track except bass gets a pedalboard ``HighpassFilter`` at the front of
its chain, at :data:`HIGHPASS_HZ` of its family (``UNKNOWN_HIGHPASS_HZ`` otherwise); a chain
that already starts with one keeps it. A source session's other plugins are kept after it.

**Master.** ``Gain`` (brings the sum to the limiter), ``Compressor`` (ratio 2, attack 20 ms,
release 150 ms, threshold ``BUS_COMP_ABOVE_LU`` above the mix's loudness at that point:
it only catches the loudest hits), ``Limiter`` (``LIMITER_THRESHOLD_DB``) and a final
``Gain`` that puts the limiter's 0 dBFS ceiling ``OUTPUT_MARGIN_DB`` under ``true_peak_db``.
The first gain is calibrated on the summed tracks so that the mix's crest (true peak minus
integrated loudness) after the chain leaves room for the target: the renderer's loudness
normalisation (``session.target_lufs``) then reaches ``target_lufs`` without crossing
``true_peak_db``. The more the stems' peaks stick out, the harder the limiter works (a note
says by how much the calibration had to push; it pushes at most ``MAX_LIMITER_DRIVE_DB``, and
for stems whose peaks stick out further a note says the render will miss the target).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from daw_bridge.audio import AUDIO_EXTENSIONS, SILENCE_LUFS, probe
from daw_bridge.errors import AutomixError
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter
from daw_bridge.stems import check_perspective, guess_role

__all__ = [
    "BUS_COMP_ABOVE_LU",
    "HIGHPASS_HZ",
    "LIMITER_THRESHOLD_DB",
    "LONE_TOM_PANS",
    "OVERHEAD_TURN_DB",
    "MAX_LIMITER_DRIVE_DB",
    "OUTPUT_MARGIN_DB",
    "REFERENCE_LUFS",
    "ROLE_LOUDNESS_LU",
    "ROLE_PANS",
    "TOM_SPREAD",
    "UNKNOWN_HIGHPASS_HZ",
    "UNKNOWN_ROLE_LU",
    "RulesError",
    "budget_key",
    "mix_audio_with_rules",
    "mix_with_rules",
    "role_family",
    "role_level_lu",
    "rule_based_plan",
]

#: Loudness of each role family (LU) relative to :data:`REFERENCE_LUFS`: the level one
#: role's budget sits at, before the master. Kick, snare, bass and vocal are the loudest;
#: toms a bit below the snare; overheads in between; hi-hat, room and cymbals lower.
ROLE_LOUDNESS_LU: dict[str, float] = {
    "kick": 0.0,
    "snare": 0.0,
    "bass": 0.0,
    "vocal": 0.0,
    "drums": 0.0,  # a whole drum bus stem
    "mix": 0.0,  # a whole mix stem
    "tom": -3.0,  # each numbered tom has its own budget
    "guitar": -4.0,
    "keys": -5.0,
    "brass": -5.0,
    "overheads": -6.0,
    "strings": -6.0,
    "percussion": -8.0,
    "hi-hat": -10.0,
    "room": -10.0,
    "ride": -10.0,
    "crash": -10.0,
    "fx": -10.0,
    "click": -20.0,  # muted anyway
}
#: Level (LU re :data:`REFERENCE_LUFS`) of a role not in :data:`ROLE_LOUDNESS_LU` or no role.
UNKNOWN_ROLE_LU: float = -5.0
#: Where a role at 0 LU sits before the master (LUFS). Only the differences matter: the
#: master's first gain moves the whole mix to its working level.
REFERENCE_LUFS: float = -20.0
#: Loudness of a rule-based mix unless asked otherwise (LUFS).
DEFAULT_TARGET_LUFS: float = -16.0

#: Pan (-1 left .. +1 right, drummer's perspective) of roles whose pan does not depend on the
#: other tracks. Overheads, rooms, toms and guitars are placed by the pair/spread rules.
ROLE_PANS: dict[str, float] = {
    "hi-hat": -0.3,
    "crash": -0.3,
    "ride": 0.4,
    "percussion": 0.2,
    "keys": -0.25,
    "strings": 0.25,
    "brass": -0.25,
}
OVERHEAD_WIDTH: float = 0.7
ROOM_WIDTH: float = 1.0
GUITAR_WIDTH: float = 0.5
#: Toms, two or more: from ``-TOM_SPREAD`` (``tom_1``) to ``+TOM_SPREAD`` (the floor tom).
TOM_SPREAD: float = 0.6
#: A lone tom, by its number (1 high/rack, 2 mid, 3 floor); an unnumbered lone tom: centre.
LONE_TOM_PANS: dict[int, float] = {1: -0.3, 2: -0.1, 3: 0.3}
#: The overhead pair is turned round when the panned close mics (hi-hat, toms, cymbals), each
#: weighted by its pan, are louder by more than this (dB, on average) in the overhead that
#: the names put on their far side. Each close mic is compared at its best lag within
#: :data:`OVERHEAD_LAG_MS`, over the first :data:`OVERHEAD_SECONDS` of the files, and counts
#: only if it correlates with an overhead by at least :data:`OVERHEAD_MIN_CORRELATION`.
OVERHEAD_TURN_DB: float = 1.0
OVERHEAD_LAG_MS: float = 10.0
OVERHEAD_SECONDS: float = 30.0
OVERHEAD_MIN_CORRELATION: float = 0.05

#: High-pass cutoff (Hz) by role family; bass gets none.
HIGHPASS_HZ: dict[str, float | None] = {
    "bass": None,
    "kick": 30.0,
    "drums": 25.0,
    "mix": 25.0,
    "tom": 60.0,
    "room": 60.0,
    "keys": 50.0,
    "strings": 60.0,
    "snare": 80.0,
    "guitar": 80.0,
    "brass": 80.0,
    "fx": 80.0,
    "vocal": 90.0,
    "overheads": 120.0,
    "percussion": 120.0,
    "hi-hat": 200.0,
    "ride": 200.0,
    "crash": 200.0,
    "click": 40.0,
}
#: High-pass cutoff (Hz) of a role not in :data:`HIGHPASS_HZ`, or of a track without a role.
UNKNOWN_HIGHPASS_HZ: float = 40.0

#: Master compressor threshold above the mix's loudness at its input (dB above the LUFS level).
BUS_COMP_ABOVE_LU: float = 6.0
BUS_COMP = {"ratio": 2.0, "attack_ms": 20.0, "release_ms": 150.0}
#: pedalboard's Limiter threshold (it holds peaks at 0 dBFS and lifts what lies below its
#: threshold by about ``3.75 - threshold_db`` dB).
LIMITER_THRESHOLD_DB: float = -1.0
LIMITER_RELEASE_MS: float = 100.0
#: The final master gain puts the limiter's 0 dBFS this far under ``true_peak_db`` (dB).
OUTPUT_MARGIN_DB: float = 0.3
#: Crest headroom kept for the renderer's normalisation (dB).
_CREST_MARGIN_DB: float = 0.1
_MAX_CALIBRATION_STEPS: int = 24
#: The calibration drives the limiter at most this much harder than its starting point (dB).
MAX_LIMITER_DRIVE_DB: float = 18.0

Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Any  # Any: a Session


class RulesError(AutomixError):
    """The rule-based console cannot plan these stems (bad arguments, nothing to mix)."""


# --------------------------------------------------------------------------- role helpers


def role_family(role: str | None) -> str | None:
    """The family a role's rules are looked up by (``"overhead_L"`` -> ``"overheads"``), or ``None``."""
    if role is None or not role.strip():
        return None
    from daw_bridge.chains import role_key

    return role_key(role)


def role_level_lu(role: str | None) -> float:
    """Loudness (LU re :data:`REFERENCE_LUFS`) of one budget of ``role`` (:data:`ROLE_LOUDNESS_LU`)."""
    family = role_family(role)
    return ROLE_LOUDNESS_LU.get(family, UNKNOWN_ROLE_LU) if family is not None else UNKNOWN_ROLE_LU


def _tom_number(role: str | None) -> int | None:
    if role is None:
        return None
    guessed, _ = guess_role(role)
    for candidate in (role.strip().lower(), guessed or ""):
        if candidate.startswith("tom_") and candidate[4:].isdigit():
            return int(candidate[4:])
    return None


def budget_key(role: str | None) -> str:
    """Tracks with the same key share one loudness budget: the family, a numbered tom its own."""
    family = role_family(role)
    if family is None:
        return "(no role)"
    if family == "tom":
        number = _tom_number(role)
        if number is not None:
            return f"tom_{number}"
    return family


def _side(track: Any) -> str | None:
    """L/R from the role (``overhead_L``), else from the track or file name."""
    for text in (track.role or "", track.name, Path(track.file).name):
        if not text:
            continue
        _role, side = guess_role(text)
        if side is not None:
            return side
        lowered = text.strip()
        if lowered.endswith(("_L", "_l")):
            return "L"
        if lowered.endswith(("_R", "_r")):
            return "R"
    return None


# --------------------------------------------------------------------------- inputs


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


# --------------------------------------------------------------------------- decisions


def _highpass(track: Any, notes: list[str]) -> None:
    from daw_bridge.session import PluginSpec

    family = role_family(track.role)
    cutoff = HIGHPASS_HZ.get(family, UNKNOWN_HIGHPASS_HZ) if family is not None else UNKNOWN_HIGHPASS_HZ
    if cutoff is None:
        return
    if track.plugins and track.plugins[0].kind == "builtin" and track.plugins[0].name == "HighpassFilter":
        notes.append(f"track {track.name!r} already starts with a HighpassFilter; kept it")
        return
    hpf = PluginSpec(kind="builtin", name="HighpassFilter", params={"cutoff_frequency_hz": float(cutoff)})
    track.plugins = [hpf, *track.plugins]


def _pair_pans(tracks: list[Any], width: float, what: str, notes: list[str]) -> dict[str, float]:
    """Pans of a paired role (overheads, rooms): sides from roles/names, else first two L/R."""
    pans: dict[str, float] = {}
    unsided: list[Any] = []
    for track in tracks:
        side = _side(track)
        if side == "L":
            pans[track.name] = -width
        elif side == "R":
            pans[track.name] = width
        else:
            unsided.append(track)
    if len(unsided) == 1 and not pans:
        pans[unsided[0].name] = 0.0
        if len(tracks) == 1:
            notes.append(f"lone {what} {unsided[0].name!r}: centre")
    elif len(unsided) == 2 and not pans:
        pans[unsided[0].name], pans[unsided[1].name] = -width, width
        notes.append(
            f"{what} {unsided[0].name!r} and {unsided[1].name!r} name no side: panned left and right in file order"
        )
    else:
        for track in unsided:
            pans[track.name] = 0.0
            notes.append(f"{what} {track.name!r} names no side: centre")
    return pans


def _tom_pans(tracks: list[Any]) -> dict[str, float]:
    # positions: each numbered tom (all its mics together), then each unnumbered tom track
    numbered = sorted({n for t in tracks if (n := _tom_number(t.role)) is not None})
    unnumbered = [t for t in tracks if _tom_number(t.role) is None]
    positions: list[tuple[str, Any]] = [("n", n) for n in numbered] + [("u", t.name) for t in unnumbered]
    if len(positions) == 1:
        kind, key = positions[0]
        pan = LONE_TOM_PANS.get(key, 0.0) if kind == "n" else 0.0
        return {t.name: pan for t in tracks}
    spots = np.linspace(-TOM_SPREAD, TOM_SPREAD, len(positions))
    where = {pos: float(round(spot, 6)) for pos, spot in zip(positions, spots)}
    pans = {}
    for track in tracks:
        number = _tom_number(track.role)
        pans[track.name] = where[("n", number)] if number is not None else where[("u", track.name)]
    return pans


def _guitar_pans(tracks: list[Any]) -> dict[str, float]:
    if len(tracks) < 2:
        return {t.name: 0.0 for t in tracks}
    pans: dict[str, float] = {}
    k = 0
    for track in tracks:
        side = _side(track)
        if side is not None:
            pans[track.name] = -GUITAR_WIDTH if side == "L" else GUITAR_WIDTH
        else:
            pans[track.name] = -GUITAR_WIDTH if k % 2 == 0 else GUITAR_WIDTH
            k += 1
    return pans


def _mono(track: Any, frames: int) -> tuple[np.ndarray, int] | None:
    """The first ``frames`` frames of a track's file (its channel, or the channels averaged)."""
    from daw_bridge.audio import read_audio

    try:
        audio, rate = read_audio(track.file, frames=frames)
    except (AutomixError, OSError):  # unreadable here: the renderer reports it
        return None
    signal = audio[track.channel] if track.channel is not None and track.channel < audio.shape[0] else audio.mean(axis=0)
    return signal.astype(np.float64), rate


class _Spectrum:
    """A signal's zero-padded spectrum and energy, for cross-correlations at small lags."""

    def __init__(self, signal: np.ndarray, size: int) -> None:
        self.fft = np.fft.rfft(signal, size)
        self.energy = float(np.dot(signal, signal))


def _bleed(close: _Spectrum, overhead: _Spectrum, size: int, max_lag: int) -> tuple[float, float]:
    """``(gain, correlation)`` of ``close`` in ``overhead`` at the best lag within ``max_lag`` samples."""
    if close.energy <= 0 or overhead.energy <= 0:
        return 0.0, 0.0
    xcorr = np.fft.irfft(overhead.fft * np.conj(close.fft), size)
    lags = np.concatenate([xcorr[: max_lag + 1], xcorr[-max_lag:]]) if max_lag > 0 else xcorr[:1]
    peak = float(np.max(np.abs(lags)))
    return peak / close.energy, peak / math.sqrt(close.energy * overhead.energy)


def _turn_overheads(tracks: list[Any], pans: dict[str, float], notes: list[str]) -> None:
    """Turn a left/right overhead pair round when the panned close mics say it is the wrong way."""
    pair = [t for t in tracks if role_family(t.role) == "overheads" and pans.get(t.name, 0.0) != 0.0]
    if len(pair) != 2 or pans[pair[0].name] != -pans[pair[1].name]:
        return
    left, right = sorted(pair, key=lambda t: pans[t.name])
    close = [t for t in tracks if role_family(t.role) in ("hi-hat", "tom", "crash", "ride") and abs(pans.get(t.name, 0.0)) >= 0.1]
    if not close:
        return
    probe_rate = probe(left.file).sample_rate
    frames = int(OVERHEAD_SECONDS * probe_rate)
    heard = {t.name: _mono(t, frames) for t in (left, right, *close)}
    if any(v is None or v[1] != probe_rate for v in heard.values()):
        return  # unreadable or mixed rates: keep the names
    max_lag = int(round(OVERHEAD_LAG_MS * probe_rate / 1000))
    n = min(v[0].size for v in heard.values())  # type: ignore[union-attr]
    size = 1 << int(np.ceil(np.log2(2 * max(n, 1))))
    spectra = {name: _Spectrum(v[0][:n], size) for name, v in heard.items()}  # type: ignore[index]
    votes, weights, evidence = 0.0, 0.0, []
    for track in close:
        (g_left, c_left), (g_right, c_right) = (_bleed(spectra[track.name], spectra[o.name], size, max_lag) for o in (left, right))
        if max(c_left, c_right) < OVERHEAD_MIN_CORRELATION or min(g_left, g_right) <= 0:
            continue
        towards_right_db = 20 * math.log10(g_right / g_left)  # > 0: louder in the overhead panned right
        side = math.copysign(1.0, pans[track.name])
        votes += abs(pans[track.name]) * side * towards_right_db
        weights += abs(pans[track.name])
        evidence.append(f"{track.name!r} (panned {'right' if side > 0 else 'left'}) {towards_right_db:+.1f} dB")
    if weights == 0 or votes / weights >= -OVERHEAD_TURN_DB:
        return
    pans[left.name], pans[right.name] = pans[right.name], pans[left.name]
    notes.append(
        f"overheads turned round: the close mics sit on the other side of the pair than its names say "
        f"(level in the right-hand overhead against the left: {', '.join(evidence)}); "
        f"{left.name!r} now {pans[left.name]:+.2f}, {right.name!r} {pans[right.name]:+.2f}"
    )


def _plan_pans(tracks: list[Any], stereo: dict[str, bool], notes: list[str]) -> dict[str, float]:
    by_family: dict[str | None, list[Any]] = {}
    for track in tracks:
        if not stereo[track.name]:
            by_family.setdefault(role_family(track.role), []).append(track)
    pans = {t.name: 0.0 for t in tracks}
    for family, group in by_family.items():
        if family == "overheads":
            pans.update(_pair_pans(group, OVERHEAD_WIDTH, "overhead", notes))
        elif family == "room":
            pans.update(_pair_pans(group, ROOM_WIDTH, "room mic", notes))
        elif family == "tom":
            pans.update(_tom_pans(group))
        elif family == "guitar":
            pans.update(_guitar_pans(group))
        else:
            for track in group:
                pans[track.name] = ROLE_PANS.get(family, 0.0) if family is not None else 0.0
    _turn_overheads([t for t in tracks if not stereo[t.name]], pans, notes)
    return pans


# --------------------------------------------------------------------------- measuring


def _render_alone(session: Any, track: Any) -> float:
    """Integrated loudness (LUFS) of ``track`` rendered alone: its chain and pan, at 0 dB."""
    from daw_bridge.render import render

    solo = track.model_copy(update={"gain_db": 0.0, "mute": False, "solo": False})
    alone = session.model_copy(update={"tracks": [solo], "master": [], "target_lufs": None})
    result = render(alone, None, normalize=False, tail_s=0.0, threads=1)
    return float(result.loudness_before_lufs)


def _measure(audio: np.ndarray, rate: int) -> tuple[float, float]:
    loud = LoudnessMeter(rate, audio.shape[0])
    peak = TruePeakMeter(rate, audio.shape[0])
    loud.add(audio)
    peak.add(audio)
    return float(loud.integrated()), float(peak.true_peak_db())


def _master_chain(pre_gain: float, comp_threshold: float, ceiling: float) -> list[Any]:
    from daw_bridge.session import PluginSpec

    return [
        PluginSpec(kind="builtin", name="Gain", params={"gain_db": round(pre_gain, 4)}),
        PluginSpec(kind="builtin", name="Compressor", params={"threshold_db": round(comp_threshold, 4), **BUS_COMP}),
        PluginSpec(
            kind="builtin",
            name="Limiter",
            params={"threshold_db": LIMITER_THRESHOLD_DB, "release_ms": LIMITER_RELEASE_MS},
        ),
        PluginSpec(kind="builtin", name="Gain", params={"gain_db": round(ceiling - OUTPUT_MARGIN_DB, 4)}),
    ]


def _run_chain(specs: list[Any], audio: np.ndarray, rate: int) -> np.ndarray:
    import pedalboard

    from daw_bridge.plugins import make_plugin

    board = pedalboard.Pedalboard([make_plugin(s) for s in specs])
    return board(audio, rate)


def _calibrate_master(session: Any, target: float, ceiling: float, notes: list[str]) -> list[Any]:
    """The master chain whose output the renderer can bring to ``target`` under ``ceiling``."""
    from daw_bridge.render import render

    bus = session.model_copy(update={"master": [], "target_lufs": None})
    summed = render(bus, None, normalize=False, threads=1).audio
    rate = session.sample_rate
    lufs, _peak = _measure(summed, rate)
    if lufs <= SILENCE_LUFS:
        notes.append("the summed tracks are silent: no master chain")
        return []
    # the limiter lifts what lies below its threshold by about 3.75 - threshold dB
    lift = 3.75 - LIMITER_THRESHOLD_DB
    start = target - lufs - lift - (ceiling - OUTPUT_MARGIN_DB)
    allowed = ceiling - target - _CREST_MARGIN_DB
    pre_gain = start
    chain: list[Any] = []
    crest = math.inf
    for _ in range(_MAX_CALIBRATION_STEPS):
        chain = _master_chain(pre_gain, lufs + pre_gain + BUS_COMP_ABOVE_LU, ceiling)
        out_lufs, out_peak = _measure(_run_chain(chain, summed, rate), rate)
        crest = out_peak - out_lufs
        if crest <= allowed:
            break
        if pre_gain >= start + MAX_LIMITER_DRIVE_DB:
            notes.append(
                f"master: the mix's crest stays at {crest:.1f} dB with the limiter driven "
                f"{MAX_LIMITER_DRIVE_DB:.0f} dB harder; the render will miss {target:.1f} LUFS "
                f"to keep the ceiling {ceiling:.1f} dBTP"
            )
            break
        pre_gain = min(start + MAX_LIMITER_DRIVE_DB, pre_gain + max(0.25, 1.5 * (crest - allowed)))
    else:
        notes.append(
            f"master: the mix's crest stays at {crest:.1f} dB after the limiter; the target "
            f"{target:.1f} LUFS will be missed to keep the ceiling {ceiling:.1f} dBTP"
        )
    notes.append(
        f"master: summed tracks at {lufs:.1f} LUFS; input gain {pre_gain:+.1f} dB "
        f"({pre_gain - start:+.1f} dB of it to make the crest fit {target:.1f} LUFS under {ceiling:.1f} dBTP)"
    )
    return chain


# --------------------------------------------------------------------------- the plan


def rule_based_plan(
    source: Source,
    *,
    target_lufs: float = DEFAULT_TARGET_LUFS,
    true_peak_db: float = -1.0,
    mapping: Mapping[str, str | None] | str | os.PathLike[str] | None = None,
    name: str | None = None,
    sample_rate: int | None = None,
    perspective: str = "drummer",
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
    about as long as two renders of the mix.
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
    )


def _perspective(value: str | None) -> str:
    try:
        return check_perspective(value) or "drummer"
    except ValueError as exc:
        raise RulesError(str(exc)) from None


def _plan(session: Any, target_lufs: float, true_peak_db: float, perspective: str = "drummer") -> Any:
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
        _highpass(track, notes)
    stereo: dict[str, bool] = {}
    for track in plan.tracks:
        channels = probe(track.file).channels if track.channel is None else 1
        stereo[track.name] = channels >= 2
    sign = -1.0 if perspective == "audience" else 1.0
    for track_name, pan in _plan_pans(plan.tracks, stereo, notes).items():
        next(t for t in plan.tracks if t.name == track_name).pan = sign * pan + 0.0  # no -0.0
    if perspective == "audience":
        notes.append("audience's perspective: every pan mirrored (hi-hat right, floor tom left)")

    # loudness balance
    heard = [t for t in plan.tracks if not t.mute]
    if any(t.solo for t in plan.tracks):
        heard = [t for t in heard if t.solo]
    measured: dict[str, float] = {}
    for track in plan.tracks:
        if track not in heard:
            if not track.mute:
                notes.append(f"track {track.name!r} is not heard (another track is soloed): level left as is")
            continue
        measured[track.name] = _render_alone(plan, track)
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

    if not live:
        notes.append("every heard track is silent: nothing to balance")
        plan.master = []
    else:
        plan.master = _calibrate_master(plan, target_lufs, true_peak_db, notes)
    plan.notes = [*plan.notes, *notes]
    return plan


def mix_with_rules(
    stems: Source,
    output: str | os.PathLike[str] | None = None,
    *,
    target_lufs: float = DEFAULT_TARGET_LUFS,
    true_peak_db: float = -1.0,
    mapping: Mapping[str, str | None] | str | os.PathLike[str] | None = None,
    name: str | None = None,
    sample_rate: int | None = None,
    overwrite: bool = False,
    subtype: str = "PCM_24",
    tail_s: float | Literal["auto"] = "auto",
    threads: int | None = None,
    progress: bool = False,
    plan_out: str | os.PathLike[str] | None = None,
    perspective: str = "drummer",
) -> Any:
    """Plan with :func:`rule_based_plan` and render with :func:`daw_bridge.render.render` (normalised).

    ``stems``: a folder, a list of files (and folders), or a session, as
    :func:`automix.inference.mixing.mix` takes them; a mix written into the stems folder is not taken for a
    stem. ``output``: a ``.wav``/``.flac`` file, or ``None`` for the audio in memory
    (``result.audio``, ``[2, frames]``). ``plan_out``: also save the plan there (``.json``/
    ``.yaml``). ``perspective`` as for :func:`rule_based_plan`. Returns the
    :class:`~daw_bridge.render.RenderResult`; its notes start with the plan's.
    """
    from daw_bridge.render import render

    exclude = Path(output).expanduser().absolute() if output is not None else None
    if not (isinstance(target_lufs, (int, float)) and -70.0 <= target_lufs <= 0.0):
        raise RulesError(f"target_lufs must be between -70 and 0 LUFS, got {target_lufs!r}")
    if not (isinstance(true_peak_db, (int, float)) and -20.0 <= true_peak_db <= 0.0):
        raise RulesError(f"true_peak_db must be between -20 and 0 dBTP, got {true_peak_db!r}")
    side = _perspective(perspective)
    session = _load_source(stems, mapping=mapping, name=name, sample_rate=sample_rate, exclude=exclude)
    plan = _plan(session, float(target_lufs), float(true_peak_db), side)
    if plan_out is not None:
        plan.save(plan_out, overwrite=overwrite)
    result = render(
        plan, output, overwrite=overwrite, normalize=True, subtype=subtype, tail_s=tail_s,
        threads=threads, progress=progress,
    )  # fmt: skip
    result.notes = [*plan.notes, *result.notes]
    return result


def mix_audio_with_rules(
    stems: np.ndarray,
    names: Sequence[str],
    sample_rate: int,
    *,
    target_lufs: float = DEFAULT_TARGET_LUFS,
    true_peak_db: float = -1.0,
    perspective: str = "drummer",
) -> np.ndarray:
    """The rule-based mix of in-memory stems: ``[2, frames]`` float32, as long as the stems.

    ``stems`` is ``[N, frames]`` (mono stems) or ``[N, channels, frames]``; ``names`` gives
    each stem's name, from which its role is guessed as for files (``"kick"``,
    ``"overhead_l.wav"``, ``"OH L"``...). The stems are written to a private temporary folder
    (32-bit float WAV, nothing else touched), planned with the rules and rendered with
    loudness normalisation and no effect tail. What the evaluation reports use as the
    "rule-based console" baseline. ``perspective`` as for :func:`rule_based_plan`.
    """
    import tempfile

    import soundfile as sf

    from daw_bridge.importer import import_stems
    from daw_bridge.render import render
    from daw_bridge.outputs import safe_file_name

    arr = np.asarray(stems, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    if arr.ndim != 3 or arr.shape[0] == 0 or arr.shape[2] == 0:
        raise RulesError(f"stems must be [N, frames] or [N, channels, frames] with N >= 1, got shape {arr.shape}")
    if len(names) != arr.shape[0]:
        raise RulesError(f"{len(names)} names for {arr.shape[0]} stems")
    if not np.isfinite(arr).all():
        raise RulesError("the stems have NaN or infinite samples")
    side = _perspective(perspective)
    frames = arr.shape[2]
    with tempfile.TemporaryDirectory(prefix="automix-rules-") as tmp:
        files: list[Path] = []
        used: Counter[str] = Counter()
        for name, audio in zip(names, arr):
            stem = safe_file_name(Path(str(name)).stem or "stem", default="stem")
            used[stem] += 1
            if used[stem] > 1:
                stem = f"{stem} {used[stem]}"
            path = Path(tmp) / f"{stem}.wav"
            sf.write(str(path), audio.T, int(sample_rate), subtype="FLOAT")
            files.append(path)
        session = import_stems(files, sample_rate=int(sample_rate), name="stems")
        plan = _plan(session, float(target_lufs), float(true_peak_db), side)
        result = render(plan, None, normalize=True, tail_s=0.0)
    out = np.zeros((2, frames), dtype=np.float32)
    k = min(frames, result.audio.shape[1])
    out[:, :k] = result.audio[:, :k]
    return out
