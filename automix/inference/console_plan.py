"""A learned console mixer's settings for stem files, as a mix plan the renderer and the DAW writers take."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automix.inference.mix_settings import MixSettings, target_lufs
from automix.models.console_mixer import MIN_RATIO, track_levels
from daw_bridge.audio import read_audio
from daw_bridge.stems import check_perspective

#: Seconds of each stem the mixer listens to (its features are averages over them).
FEATURE_SECONDS = 120.0


def _mono_stems(session: Any) -> np.ndarray:
    """The first :data:`FEATURE_SECONDS` of each track as mono ``[N, T]`` at the session's rate."""
    rate, frames = session.sample_rate, int(FEATURE_SECONDS * session.sample_rate)
    rows = []
    for track in session.tracks:
        audio, _ = read_audio(track.file, sample_rate=rate, frames=frames)
        rows.append(audio[track.channel] if track.channel is not None else audio.mean(axis=0))
    length = max(r.shape[-1] for r in rows)
    return np.stack([np.pad(r, (0, length - r.shape[-1])) for r in rows]).astype(np.float32)


def predict_settings(model: Any, stems: np.ndarray, names: Sequence[str], sample_rate: int,
                     levels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The mixer's settings ``{parameter: [N]}`` (the master's ``[1]``) for mono stems ``[N, T]``
    named ``names`` (``levels``: their loudness, LUFS, where already measured)."""
    from automix.models.console_mixer import prior_pans, track_features

    features, live = track_features(stems, names, sample_rate, levels)
    with torch.no_grad():
        values = model.net(torch.as_tensor(features)[None], torch.as_tensor(live)[None],
                           torch.as_tensor(prior_pans(names))[None])
    return {k: v[0].double().numpy().reshape(-1) for k, v in values.items()}


def _compressor(threshold_db: np.ndarray, ratio: np.ndarray, config: Any) -> dict[str, list[float]]:
    """Console compressor values; ratios under :data:`MIN_RATIO` become "off" (ratio 1)."""
    on = ratio >= MIN_RATIO
    n = len(ratio)
    return {"comp_threshold_db": np.where(on, threshold_db, 0.0).tolist(),
            "comp_ratio": np.where(on, ratio, 1.0).tolist(), "comp_attack_ms": [config.comp_attack_ms] * n, "comp_release_ms": [config.comp_release_ms] * n,
            "comp_knee_db": [0.0] * n, "comp_makeup_db": [0.0] * n}


def _track_compressors(values: dict[str, np.ndarray], levels: np.ndarray, config: Any) -> dict[str, list[float]]:
    from automix.console.batched import absolute_threshold

    threshold = absolute_threshold(torch.as_tensor(levels), torch.as_tensor(values["comp_threshold_rel_db"])).numpy()
    return _compressor(threshold, values["comp_ratio"], config)


def _master_compressor(console: Any, plan: Any, values: dict[str, np.ndarray], config: Any) -> list[Any]:
    """The master compressor's chain: its threshold relative to the RMS level of the plan's sum
    (rendered once, no master, no normalisation), as in training."""
    from automix.console.batched import absolute_threshold, rms_db
    from automix.console.plans import console_to_plan
    from daw_bridge.render import render

    if values["master_comp_ratio"][0] < MIN_RATIO:
        return []
    audio = render(plan, None, normalize=False, progress=False).audio
    level = rms_db(torch.as_tensor(audio, dtype=torch.float64)[None])
    threshold = absolute_threshold(level, torch.as_tensor(values["master_comp_threshold_rel_db"])).numpy()
    master = _compressor(threshold, values["master_comp_ratio"], config)
    console.set_values({k: v[0] for k, v in master.items()}, "master")
    return console_to_plan(console, [t.file for t in plan.tracks], names=[t.name for t in plan.tracks]).master


def console_plan(model: Any, files: Sequence[Path], settings: MixSettings, *, name: str = "mix") -> Any:
    """Import ``files`` (roles from their names), predict the console settings and write them as a
    plan (gain, pan, EQ per track; with a mixer that predicts them, compressors per track and on
    the master) as the mixer was trained: the renderer's output stage brings it to the level asked
    (``auto``: the card's ``output_lufs``, the level of its training mixes) under the true-peak ceiling."""
    from automix.console.model import TRACK_PARAMETERS, Console
    from automix.console.plans import console_to_plan
    from automix.data.enst import MIX_LUFS
    from daw_bridge.importer import import_stems

    session = import_stems(list(files), name=name)
    names = [t.name for t in session.tracks]
    stems = _mono_stems(session)
    levels = track_levels(stems, session.sample_rate)
    values = predict_settings(model, stems, names, session.sample_rate, levels)
    if check_perspective(settings.perspective) == "audience":
        values["pan"] = -values["pan"]
    config = model.card.config
    dynamics = bool(getattr(config, "dynamics", False))
    console = Console(len(names), session.sample_rate, compressor=dynamics, master_eq=False,
                      master_compressor=dynamics, names=names)
    console.set_values({k: v.tolist() for k, v in values.items() if k in TRACK_PARAMETERS})
    if dynamics:
        console.set_values(_track_compressors(values, levels, config))
    plan = console_to_plan(console, [t.file for t in session.tracks], names=names, name=name)
    for planned, imported in zip(plan.tracks, session.tracks):
        planned.role, planned.channel = imported.role, imported.channel
    plan.master = _master_compressor(console, plan, values, config) if dynamics else []
    plan.true_peak_db = settings.true_peak_db
    plan.target_lufs = target_lufs(settings.loudness, model.card.output_lufs if model.card.output_lufs is not None else MIX_LUFS)
    plan.notes = [*plan.notes, f"console settings from the learned mixer {model.name}"]
    return plan


@contextlib.contextmanager
def with_stem_files(stems: Any, names: Sequence[str] | None, sample_rate: int) -> Iterator[list[Path]]:
    """Arrays ``[N, T]`` (with ``names``) or ``{name: array}`` as temporary stem files."""
    from automix.inference.stem_files import named_array
    from daw_bridge.importer import temporary_stems

    array, names = named_array(stems, names)
    with temporary_stems(array, names, sample_rate) as files:
        yield files
