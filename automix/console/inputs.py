"""What a console fit reads: mono stems (files or ``[N, T]``) and a stereo target (a file or ``[2, T]``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from automix.console.model import ConsoleError

__all__ = ["FitInputs", "load_inputs"]


@dataclass
class FitInputs:
    """Stems ``[N, T]`` and target ``[2, T]`` (float32, cut to one length) at ``sample_rate``; the
    stem ``files`` (None for arrays), track ``names``, how to name the target in messages, notes."""

    stems: np.ndarray
    target: np.ndarray
    sample_rate: int
    files: list[Path] | None
    names: list[str]
    target_label: str
    notes: list[str] = field(default_factory=list)


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x, dtype=np.float32)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def _load_stems(stems: Any, sample_rate: int | None, names: Sequence[str] | None):
    from daw_bridge.audio import read_audio

    if isinstance(stems, (str, os.PathLike)):
        stems = [stems]
    if isinstance(stems, (list, tuple)) and stems and isinstance(stems[0], (str, os.PathLike)):
        files = [Path(s).expanduser().absolute() for s in stems]
        audio, rates = [], set()
        for f in files:
            x, rate = read_audio(f, sample_rate=sample_rate)
            if x.shape[0] != 1:
                raise ConsoleError(f"{f.name} has {x.shape[0]} channels; the console takes mono stems")
            audio.append(x[0])
            rates.add(rate)
        if len(rates) != 1:
            raise ConsoleError(f"the stems have different sample rates {sorted(rates)}; give sample_rate")
        n = min(len(a) for a in audio)
        names = list(names) if names is not None else _unique([f.stem for f in files])
        return np.stack([a[:n] for a in audio]).astype(np.float32), rates.pop(), files, names
    array = _array(stems)
    if array.ndim != 2:
        raise ConsoleError(f"stems must be [tracks, samples] (mono stems) or files, got shape {array.shape}")
    if sample_rate is None:
        raise ConsoleError("give sample_rate with stems as an array")
    names = list(names) if names is not None else [f"track{i + 1}" for i in range(array.shape[0])]
    if len(names) != array.shape[0]:
        raise ConsoleError(f"{len(names)} names for {array.shape[0]} stems")
    return array, int(sample_rate), None, names


def _load_target(target: Any, sample_rate: int) -> tuple[np.ndarray, str]:
    from daw_bridge.audio import read_audio

    if isinstance(target, (str, os.PathLike)):
        x, _ = read_audio(target, sample_rate=sample_rate)
        label = f"the target {Path(target).name}"
    else:
        x, label = _array(target), "the target mix"
    if x.ndim != 2 or x.shape[0] != 2:
        raise ConsoleError(f"the target must be stereo [2, samples], got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ConsoleError(f"{label} holds NaN or infinite samples")
    return x.astype(np.float32), label


def load_inputs(stems: Any, target: Any, sample_rate: int | None, names: Sequence[str] | None) -> FitInputs:
    """Read and check the stems and the target (see :func:`automix.console.fit.fit_console`)."""
    audio, rate, files, names = _load_stems(stems, sample_rate, names)
    if not np.isfinite(audio).all():
        raise ConsoleError("the stems hold NaN or infinite samples")
    tgt, label = _load_target(target, rate)
    notes = []
    n = min(audio.shape[1], tgt.shape[1])
    if audio.shape[1] != tgt.shape[1]:
        notes.append(f"stems ({audio.shape[1]} frames) and target ({tgt.shape[1]}) differ in length: fitted on {n}")
    if n == 0:
        raise ConsoleError("the stems or the target are empty")
    return FitInputs(audio[:, :n], tgt[:, :n], rate, files, names, label, notes)
