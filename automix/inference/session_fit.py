"""An editable session for a waveform mix: the console settings that come nearest the network's mix.

A Mix-Wave-U-Net returns audio, not settings. To hand the engineer a mix they can keep working
on, the console is fitted to the network's mix with what the session format carries: faders and
pans by least squares over the whole mix (:func:`automix.console.closed_form.fit_gain_pan`) for
every format, and for Ardour also a four-band EQ per track (:func:`automix.console.fit.fit_console`,
written as ACE EQ: :mod:`daw_bridge.formats.ardour.ace`), kept when it comes nearer. The session
holds those settings, the network's mix stays on its muted track for A/B, and the fidelity of the
session's own render (as Ardour plays it) to the network's mix is measured and reported.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from daw_bridge.audio import read_audio, resample

log = logging.getLogger(__name__)

#: Wall-clock budget (s) of the EQ refinement for an Ardour session.
EQ_FIT_SECONDS = 20.0


@dataclass
class SessionFidelity:
    """How near the session's render comes to the mix it stands for (``snr_db``, ``mrstft``)."""

    snr_db: float
    mrstft: float
    fitted: tuple[str, ...] = ("gain", "pan")
    note: str = ""  #: what the session format leaves out of the fit

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


def _gain_pan(session: Any, stems: np.ndarray, target: np.ndarray) -> tuple[Any, SessionFidelity]:
    """The faders and pans of the least-squares fit, and how near their mix comes."""
    from automix.console.closed_form import fit_gain_pan
    from automix.eval.metrics import mrstft_distance

    fit = fit_gain_pan(stems, target, names=[t.name for t in session.tracks], target_label="the model's mix")
    fitted = session.model_copy(deep=True)
    for track, gain, pan in zip(fitted.tracks, fit.gain_db, fit.pan):
        track.gain_db = float(np.clip(round(float(gain), 4), -120.0, 24.0)) if math.isfinite(gain) else -120.0
        track.pan = float(np.clip(round(float(pan), 5), -1.0, 1.0))
    fitted.notes = [*fitted.notes, *fit.notes]
    rendered = (fit.weights.T @ stems.astype(np.float64)).astype(np.float32)
    return fitted, SessionFidelity(float(fit.snr_db), float(mrstft_distance(rendered, target, session.sample_rate)))


def _with_eq(session: Any, stems: np.ndarray, target: np.ndarray, seconds: float) -> tuple[Any, SessionFidelity]:
    """Faders, pans and a four-band EQ per track fitted to the mix, each chain as Ardour's ACE EQ
    plays it, and how near the session's render comes."""
    from automix.console.fit import ARDOUR_HOLD, fit_console, snr_db
    from automix.eval.metrics import mrstft_distance
    from daw_bridge.formats.ardour.ace import as_ardour_plays
    from daw_bridge.render import render

    rate = session.sample_rate
    fit = fit_console(stems, target, rate, names=[t.name for t in session.tracks], groups=("gain", "pan", "eq"),
                      seconds=seconds, progress=False, hold=ARDOUR_HOLD,  # shelves as ACE EQ has them
                      check_render=False)  # the session's own render below is the one that counts
    fitted = session.model_copy(deep=True)
    for track, planned in zip(fitted.tracks, fit.plan.tracks):
        track.gain_db, track.pan = planned.gain_db, planned.pan
        track.plugins = as_ardour_plays(planned.plugins, rate) or []
    audio = render(fitted, normalize=False, tail_s=0.0).audio
    n = min(audio.shape[1], target.shape[1])
    rendered = np.zeros_like(target)
    rendered[:, :n] = audio[:, :n]
    fidelity = SessionFidelity(snr_db(rendered, target), float(mrstft_distance(rendered, target, rate)),
                               ("gain", "pan", "eq"))
    return fitted, fidelity


def fit_session(session: Any, result: Any, session_format: str = "ardour") -> tuple[Any, SessionFidelity]:
    """``session`` (the stems on tracks) with the settings its format carries that come nearest
    ``result``'s mix, and how near its render comes: faders and pans; for Ardour also an EQ per
    track, kept when it comes nearer on SNR."""
    stems = _track_audio(session)
    target = _mix_audio(result, session.sample_rate)
    n = min(stems.shape[1], target.shape[1])
    stems, target = stems[:, :n], target[:, :n]
    best = _gain_pan(session, stems, target)
    if session_format != "ardour":
        best[1].note = (f"a {session_format} session carries faders and pans only, so only they are fitted "
                        "(an Ardour session also gets an EQ per track: --session-format ardour)")
        return best
    with_eq = _with_eq(session, stems, target, EQ_FIT_SECONDS)
    log.debug("gain/pan fit %.2f dB SNR; with EQ %.2f dB", best[1].snr_db, with_eq[1].snr_db)
    if with_eq[1].snr_db > best[1].snr_db:
        best = with_eq
    best[1].note = ("compressors are not fitted: Ardour's ACE Compressor would not play pedalboard's exactly, "
                    "so the session would not sound as reported")
    return best
