"""Console settings as a mix plan and back: :func:`console_to_plan` writes a
:class:`~automix.console.model.Console`'s settings as a :class:`daw_bridge.Session` of pedalboard
built-ins; :func:`plan_to_console` reads such a plan into a console.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from automix.console.dsp import BANDS
from automix.console.model import (
    MASTER_PARAMETERS,
    PARAMETER_RANGES,
    TRACK_PARAMETERS,
    Console,
    ConsoleError,
    check_value,
)

# --------------------------------------------------------------------------- plans

_EQ_PLUGINS = {
    "low_shelf": "LowShelfFilter",
    "peak1": "PeakFilter",
    "peak2": "PeakFilter",
    "high_shelf": "HighShelfFilter",
}


def _chain_specs(
    v: Mapping[str, float], stages: Mapping[str, bool], prefix: str, skip_neutral: bool
) -> tuple[list, list[str]]:
    from daw_bridge.session import PluginSpec

    specs: list[PluginSpec] = []
    notes: list[str] = []
    if stages[f"{prefix}eq"]:
        for band, _ in BANDS:
            if skip_neutral and v[f"{band}_gain_db"] == 0.0:
                continue
            specs.append(
                PluginSpec(
                    kind="builtin",
                    name=_EQ_PLUGINS[band],
                    params={
                        "gain_db": v[f"{band}_gain_db"],
                        "cutoff_frequency_hz": v[f"{band}_freq_hz"],
                        "q": v[f"{band}_q"],
                    },
                )
            )
    if stages[f"{prefix}comp"]:
        if not (skip_neutral and v["comp_ratio"] == 1.0):
            specs.append(
                PluginSpec(
                    kind="builtin",
                    name="Compressor",
                    params={
                        "threshold_db": v["comp_threshold_db"],
                        "ratio": v["comp_ratio"],
                        "attack_ms": v["comp_attack_ms"],
                        "release_ms": v["comp_release_ms"],
                    },
                )
            )
            if v["comp_knee_db"] > 0.01:
                notes.append(
                    f"{v['comp_knee_db']:.2f} dB compressor knee written as a hard knee (pedalboard's Compressor has none)"
                )
        if not (skip_neutral and v["comp_makeup_db"] == 0.0):
            specs.append(PluginSpec(kind="builtin", name="Gain", params={"gain_db": v["comp_makeup_db"]}))
    return specs, notes


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    # defaults and range ends snap exactly (the sigmoid mapping leaves ~1e-9 residues at an end); others keep 9 digits
    out = {}
    for k, x in values.items():
        r = PARAMETER_RANGES[k]
        out[k] = float(f"{x:.9g}")
        for snap in (r.default, r.minimum, r.maximum):
            if abs(x - snap) < 1e-6 * max(1.0, abs(snap)):
                out[k] = snap
                break
    return out


def console_to_plan(
    console: Console,
    files: Sequence[str | os.PathLike[str]],
    *,
    names: Sequence[str] | None = None,
    name: str = "session",
    skip_neutral: bool = True,
) -> Any:
    """The console's settings as a :class:`daw_bridge.Session` (a mix plan) over the stem ``files``.

    Each track: its EQ bands as ``LowShelfFilter`` / ``PeakFilter`` / ``HighShelfFilter``, the
    compressor as ``Compressor`` then ``Gain`` (makeup), its gain and pan on the Track; the master
    bus likewise. ``skip_neutral`` leaves out EQ bands at 0 dB, a compressor at ratio 1 and a 0 dB
    makeup (they change nothing). Values are written to 9 significant digits.
    """
    from daw_bridge.session import Session, Track

    if len(files) != console.n_tracks:
        raise ConsoleError(f"{len(files)} files for a console of {console.n_tracks} tracks")
    names = list(names) if names is not None else list(console.names)
    if len(names) != console.n_tracks:
        raise ConsoleError(f"{len(names)} names for a console of {console.n_tracks} tracks")
    stages_t = {"eq": console.stages["eq"], "comp": console.stages["comp"]}
    stages_m = {"master_eq": console.stages["master_eq"], "master_comp": console.stages["master_comp"]}
    tracks = []
    notes: list[str] = []
    for track_name, file, v in zip(names, files, console.track_values()):
        v = _rounded(v)
        specs, said = _chain_specs(v, stages_t, "", skip_neutral)
        notes.extend(f"track {track_name!r}: {s}" for s in said)
        tracks.append(Track(name=track_name, file=Path(file), gain_db=v["gain_db"], pan=v["pan"], plugins=specs))
    master, said = _chain_specs(_rounded(console.master_values()), stages_m, "master_", skip_neutral)
    notes.extend(f"master: {s}" for s in said)
    return Session(name=name, sample_rate=console.sample_rate, tracks=tracks, master=master, notes=notes)


def _read_chain(specs: Sequence[Any], owner: str) -> dict[str, float]:
    """Console values from a chain of console plugins (in console order); raises ConsoleError."""
    v: dict[str, float] = {}
    order = ["LowShelfFilter", "PeakFilter", "HighShelfFilter", "Compressor", "Gain"]
    last = -1
    peaks = 0
    seen: set[str] = set()
    for pos, spec in enumerate(specs, start=1):
        if spec.bypass:
            continue
        label = spec.label()
        if spec.kind != "builtin" or spec.name not in order:
            raise ConsoleError(f"{owner} plugin {pos} ({label}) is not one of the console's ({', '.join(order)})")
        rank = order.index(spec.name)
        if rank < last or (spec.name != "PeakFilter" and spec.name in seen):
            raise ConsoleError(
                f"{owner} plugin {pos} ({label}): the console's chain is LowShelfFilter, PeakFilter x2, "
                f"HighShelfFilter, Compressor, Gain, each at most once and in that order"
            )
        last = rank
        seen.add(spec.name)
        p = spec.params
        if spec.name in ("LowShelfFilter", "PeakFilter", "HighShelfFilter"):
            if spec.name == "PeakFilter":
                peaks += 1
                if peaks > 2:
                    raise ConsoleError(f"{owner} plugin {pos}: the console has two peak filters")
                band = f"peak{peaks}"
            else:
                band = "low_shelf" if spec.name == "LowShelfFilter" else "high_shelf"
            v[f"{band}_gain_db"] = float(p.get("gain_db", 0.0))
            v[f"{band}_freq_hz"] = float(
                p.get(
                    "cutoff_frequency_hz",
                    440.0 if band.startswith("peak") else PARAMETER_RANGES[f"{band}_freq_hz"].default,
                )
            )
            v[f"{band}_q"] = float(p.get("q", 1 / math.sqrt(2)))
        elif spec.name == "Compressor":
            v["comp_threshold_db"] = float(p.get("threshold_db", 0.0))
            v["comp_ratio"] = float(p.get("ratio", 1.0))
            v["comp_attack_ms"] = float(p.get("attack_ms", 1.0))
            v["comp_release_ms"] = float(p.get("release_ms", 100.0))
            v["comp_knee_db"] = 0.0
        else:
            v["comp_makeup_db"] = float(p.get("gain_db", 1.0))
    for k, x in v.items():
        try:
            check_value(k, x)
        except ConsoleError as exc:
            raise ConsoleError(f"{owner}: {exc}") from None
    return v


def plan_to_console(session: Any, **kwargs: Any) -> Console:
    """A :class:`Console` set as ``session`` says (a plan whose plugins are the console's kinds).

    Refuses (:class:`ConsoleError`) tracks with an offset, a channel, mute or solo, a pan law other
    than -3 dB, other plugins, or values outside :data:`PARAMETER_RANGES`. ``kwargs`` go to
    :class:`Console` (e.g. ``compressor_mode``).
    """
    if not session.tracks:
        raise ConsoleError("the session has no tracks")
    if abs(session.pan_law_db - (-3.0)) > 1e-12:
        raise ConsoleError(f"the console pans with the -3 dB law; the session uses {session.pan_law_db} dB")
    console = Console(len(session.tracks), session.sample_rate, names=[t.name for t in session.tracks], **kwargs)
    per_track: dict[str, list[float]] = {k: [] for k in TRACK_PARAMETERS}
    for track in session.tracks:
        owner = f"track {track.name!r}"
        if track.offset_s or track.channel is not None or track.mute or track.solo:
            raise ConsoleError(f"{owner}: the console takes tracks without offset, channel, mute or solo")
        v = _read_chain(track.plugins, owner)
        v["gain_db"] = track.gain_db
        v["pan"] = track.pan
        check_value("gain_db", track.gain_db)
        for k in TRACK_PARAMETERS:
            per_track[k].append(v.get(k, PARAMETER_RANGES[k].default))
    console.set_values(per_track, "track")
    mv = _read_chain(session.master, "master")
    console.set_values({k: mv.get(k, PARAMETER_RANGES[k].default) for k in MASTER_PARAMETERS}, "master")
    return console
