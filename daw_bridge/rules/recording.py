"""Are these stems one recording? Bleed between the close mics and the overheads says so.

A multi-mic drum recording carries every drum in every mic: each close mic's signal turns up
in the overheads a few milliseconds later. Stems from separate sources (a band's bounced
tracks, samples) do not correlate. The rule-based console keeps a recording's own balance
(its gain staging carries much of the engineer's intent) and re-balances by role otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from daw_bridge.audio import probe
from daw_bridge.errors import AutomixError
from daw_bridge.rules.roles import role_family
from daw_bridge.rules.tables import OVERHEAD_LAG_MS, OVERHEAD_MIN_CORRELATION, OVERHEAD_SECONDS

#: Drum close mics that bleed into the overheads in any kit recording.
CLOSE_MIC_FAMILIES = ("kick", "snare", "hi-hat", "tom", "ride", "crash")
#: Share of the close mics that must correlate with an overhead for the stems to be one recording.
ONE_RECORDING_SHARE = 0.5


def mono_head(track: Any, frames: int) -> tuple[np.ndarray, int] | None:
    """The first ``frames`` frames of a track's file (its channel, or the channels averaged)."""
    from daw_bridge.audio import read_audio

    try:
        audio, rate = read_audio(track.file, frames=frames)
    except (AutomixError, OSError):  # unreadable here: the renderer reports it
        return None
    signal = audio[track.channel] if track.channel is not None and track.channel < audio.shape[0] else audio.mean(axis=0)
    return signal.astype(np.float64), rate


class Spectrum:
    """A signal's zero-padded spectrum and energy, for cross-correlations at small lags."""

    def __init__(self, signal: np.ndarray, size: int) -> None:
        self.fft = np.fft.rfft(signal, size)
        self.energy = float(np.dot(signal, signal))


def bleed(close: Spectrum, overhead: Spectrum, size: int, max_lag: int) -> tuple[float, float]:
    """``(gain, correlation)`` of ``close`` in ``overhead`` at the best lag within ``max_lag`` samples."""
    if close.energy <= 0 or overhead.energy <= 0:
        return 0.0, 0.0
    xcorr = np.fft.irfft(overhead.fft * np.conj(close.fft), size)
    lags = np.concatenate([xcorr[: max_lag + 1], xcorr[-max_lag:]]) if max_lag > 0 else xcorr[:1]
    peak = float(np.max(np.abs(lags)))
    return peak / close.energy, peak / math.sqrt(close.energy * overhead.energy)


def bleed_correlations(tracks: list[Any]) -> dict[str, float] | None:
    """Each drum close mic's best correlation with the overheads (lags within
    :data:`OVERHEAD_LAG_MS`, first :data:`OVERHEAD_SECONDS`); ``None`` when there are no
    overheads (or rooms) and close mics to compare, or the files differ in rate."""
    far = [t for t in tracks if role_family(t.role) in ("overheads", "room")]
    close = [t for t in tracks if role_family(t.role) in CLOSE_MIC_FAMILIES]
    if not far or not close:
        return None
    rate = probe(far[0].file).sample_rate
    heard = {t.name: mono_head(t, int(OVERHEAD_SECONDS * rate)) for t in (*far, *close)}
    if any(v is None or v[1] != rate for v in heard.values()):
        return None
    n = min(v[0].size for v in heard.values())  # type: ignore[union-attr]
    size = 1 << int(np.ceil(np.log2(2 * max(n, 1))))
    spectra = {name: Spectrum(v[0][:n], size) for name, v in heard.items()}  # type: ignore[index]
    max_lag = int(round(OVERHEAD_LAG_MS * rate / 1000))
    return {t.name: max(bleed(spectra[t.name], spectra[o.name], size, max_lag)[1] for o in far) for t in close}


def one_recording(tracks: list[Any]) -> tuple[bool, str]:
    """Whether ``tracks`` are the mics of one drum recording, and a note saying why."""
    found = bleed_correlations(tracks)
    if found is None:
        return False, "no close mics and overheads to compare: balanced by role"
    shown = ", ".join(f"{name!r} {c:.2f}" for name, c in found.items())
    bleeding = sum(c >= OVERHEAD_MIN_CORRELATION for c in found.values())
    if bleeding >= max(1, math.ceil(ONE_RECORDING_SHARE * len(found))):
        return True, (f"one recording: the close mics bleed into the overheads (correlation {shown}); "
                      "its own balance is kept")
    return False, f"the close mics do not bleed into the overheads (correlation {shown}): balanced by role"
