"""A learned console mixer's settings for stem files, as a mix plan the renderer and the DAW writers take."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automix.inference.mix_settings import MixSettings, target_lufs
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


def predict_settings(model: Any, stems: np.ndarray, names: Sequence[str], sample_rate: int) -> dict[str, np.ndarray]:
    """The mixer's per-track settings ``{parameter: [N]}`` for mono stems ``[N, T]`` named ``names``."""
    from automix.models.console_mixer import prior_pans, track_features

    features, live = track_features(stems, names, sample_rate)
    with torch.no_grad():
        values = model.net(torch.as_tensor(features)[None], torch.as_tensor(live)[None],
                           torch.as_tensor(prior_pans(names))[None])
    return {k: v[0].double().numpy() for k, v in values.items()}


def console_plan(model: Any, files: Sequence[Path], settings: MixSettings, *, name: str = "mix") -> Any:
    """Import ``files`` (roles from their names), predict the console settings and write them as a
    plan (gain, pan, EQ per track) with no master processing, as the mixer was trained: the
    renderer's output stage brings it to the level asked (``auto``: the card's ``output_lufs``,
    the level of its training mixes) under the true-peak ceiling."""
    from automix.console.model import Console
    from automix.console.plans import console_to_plan
    from automix.data.enst import MIX_LUFS
    from daw_bridge.importer import import_stems

    session = import_stems(list(files), name=name)
    names = [t.name for t in session.tracks]
    values = predict_settings(model, _mono_stems(session), names, session.sample_rate)
    if check_perspective(settings.perspective) == "audience":
        values["pan"] = -values["pan"]
    console = Console(len(names), session.sample_rate, compressor=False, master_eq=False, master_compressor=False,
                      names=names)
    console.set_values({k: v.tolist() for k, v in values.items()})
    plan = console_to_plan(console, [t.file for t in session.tracks], names=names, name=name)
    for planned, imported in zip(plan.tracks, session.tracks):
        planned.role, planned.channel = imported.role, imported.channel
    plan.master = []
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
