"""An editable session for a waveform mix: the faders and pans that come nearest the network's mix.

A Mix-Wave-U-Net returns audio, not settings. To hand the engineer a mix they can keep working
on, the console is fitted to the network's mix with what a DAW session carries (faders and pans:
:data:`automix.console.fit.SESSION_CARRIES`) by least squares over the whole mix
(:func:`automix.console.closed_form.fit_gain_pan`); the session holds those settings, the
network's mix stays on its muted track for A/B, and the fidelity of the session's own render to
the network's mix is measured and reported (SNR and MR-STFT).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from daw_bridge.audio import read_audio, resample


@dataclass
class SessionFidelity:
    """How near the session's render comes to the mix it stands for (``snr_db``, ``mrstft``)."""

    snr_db: float
    mrstft: float
    fitted: tuple[str, ...] = ("gain", "pan")

    def summary(self) -> str:
        return (f"the session's {'/'.join(self.fitted)} render is {self.snr_db:.1f} dB SNR, MR-STFT {self.mrstft:.3f} "
                "from the model's mix (which is on the muted 'AI mix' track)")


def _track_audio(session: Any) -> np.ndarray:
    """Every track as mono ``[N, T]`` at the session's rate (its channel, or the channels averaged)."""
    rows = []
    for track in session.tracks:
        audio, _ = read_audio(track.file, sample_rate=session.sample_rate)
        rows.append(audio[track.channel] if track.channel is not None else audio.mean(axis=0))
    length = max(r.shape[-1] for r in rows)
    return np.stack([np.pad(r, (0, length - r.shape[-1])) for r in rows]).astype(np.float32)


def _mix_audio(result: Any, rate: int) -> np.ndarray:
    audio = result.audio if result.audio is not None else read_audio(result.output)[0]
    return resample(audio, result.sample_rate, rate) if result.sample_rate != rate else audio


def fit_session(session: Any, result: Any) -> tuple[Any, SessionFidelity]:
    """``session`` (the stems on tracks) with the faders and pans that come nearest ``result``'s
    mix, and how near its render comes."""
    from automix.console.closed_form import fit_gain_pan
    from automix.eval.metrics import mrstft_distance

    stems = _track_audio(session)
    target = _mix_audio(result, session.sample_rate)
    n = min(stems.shape[1], target.shape[1])
    fit = fit_gain_pan(stems[:, :n], target[:, :n], names=[t.name for t in session.tracks], target_label="the model's mix")
    fitted = session.model_copy(deep=True)
    for track, gain, pan in zip(fitted.tracks, fit.gain_db, fit.pan):
        track.gain_db = float(np.clip(round(float(gain), 4), -120.0, 24.0)) if math.isfinite(gain) else -120.0
        track.pan = float(np.clip(round(float(pan), 5), -1.0, 1.0))
    fitted.notes = [*fitted.notes, *fit.notes]
    rendered = (fit.weights.T @ stems[:, :n].astype(np.float64)).astype(np.float32)
    fidelity = SessionFidelity(float(fit.snr_db), float(mrstft_distance(rendered, target[:, :n], session.sample_rate)))
    return fitted, fidelity
