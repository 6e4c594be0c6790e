"""Where the rule-based console pans each track: pairs, toms, guitars, and overheads turned to match the close mics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from daw_bridge.audio import probe
from daw_bridge.rules.recording import Spectrum, bleed, mono_head
from daw_bridge.rules.roles import role_family, tom_number, track_side
from daw_bridge.rules.tables import (
    GUITAR_WIDTH,
    HIGHPASS_HZ,
    LONE_TOM_PANS,
    OVERHEAD_LAG_MS,
    OVERHEAD_MIN_CORRELATION,
    OVERHEAD_SECONDS,
    OVERHEAD_TURN_DB,
    OVERHEAD_WIDTH,
    ROLE_PANS,
    ROOM_WIDTH,
    TOM_SPREAD,
    UNKNOWN_HIGHPASS_HZ,
)


def add_highpass(track: Any, notes: list[str]) -> None:
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
        side = track_side(track)
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
    numbered = sorted({n for t in tracks if (n := tom_number(t.role)) is not None})
    unnumbered = [t for t in tracks if tom_number(t.role) is None]
    positions: list[tuple[str, Any]] = [("n", n) for n in numbered] + [("u", t.name) for t in unnumbered]
    if len(positions) == 1:
        kind, key = positions[0]
        pan = LONE_TOM_PANS.get(key, 0.0) if kind == "n" else 0.0
        return {t.name: pan for t in tracks}
    spots = np.linspace(-TOM_SPREAD, TOM_SPREAD, len(positions))
    where = {pos: float(round(spot, 6)) for pos, spot in zip(positions, spots)}
    pans = {}
    for track in tracks:
        number = tom_number(track.role)
        pans[track.name] = where[("n", number)] if number is not None else where[("u", track.name)]
    return pans


def _guitar_pans(tracks: list[Any]) -> dict[str, float]:
    if len(tracks) < 2:
        return {t.name: 0.0 for t in tracks}
    pans: dict[str, float] = {}
    k = 0
    for track in tracks:
        side = track_side(track)
        if side is not None:
            pans[track.name] = -GUITAR_WIDTH if side == "L" else GUITAR_WIDTH
        else:
            pans[track.name] = -GUITAR_WIDTH if k % 2 == 0 else GUITAR_WIDTH
            k += 1
    return pans


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
    heard = {t.name: mono_head(t, frames) for t in (left, right, *close)}
    if any(v is None or v[1] != probe_rate for v in heard.values()):
        return  # unreadable or mixed rates: keep the names
    max_lag = int(round(OVERHEAD_LAG_MS * probe_rate / 1000))
    n = min(v[0].size for v in heard.values())  # type: ignore[union-attr]
    size = 1 << int(np.ceil(np.log2(2 * max(n, 1))))
    spectra = {name: Spectrum(v[0][:n], size) for name, v in heard.items()}  # type: ignore[index]
    votes, weights, evidence = 0.0, 0.0, []
    for track in close:
        (g_left, c_left), (g_right, c_right) = (bleed(spectra[track.name], spectra[o.name], size, max_lag) for o in (left, right))
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


def plan_pans(tracks: list[Any], stereo: dict[str, bool], notes: list[str], *, listen: bool = True) -> dict[str, float]:
    """Pan per track name (drummer's perspective) by role; ``listen`` turns the overhead pair
    round when the close mics in the files say the names have it the other way."""
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
    if listen:
        _turn_overheads([t for t in tracks if not stereo[t.name]], pans, notes)
    return pans


def role_pans(names: list[str]) -> list[float]:
    """The rule-based console's pans (drummer's perspective) for mono tracks named ``names``,
    from the names alone (the overhead pair as named): e.g. a model's slots."""
    from types import SimpleNamespace

    from daw_bridge.importer import slot_role

    tracks = [SimpleNamespace(name=name, role=slot_role(name, names), file=name) for name in names]
    pans = plan_pans(tracks, dict.fromkeys(names, False), [], listen=False)
    return [pans[name] for name in names]
