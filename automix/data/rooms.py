"""Rooms and microphones: shoebox room impulse responses and FFT convolution (torch-free).

Every microphone signal of a generated take is ``sum over pieces of (dry piece source * room
impulse response from the piece to the microphone)``, so bleed, level and time differences follow
from where the pieces and the microphones are (:mod:`automix.data.recording` draws those).

**Image sources (pyroomacoustics).** :func:`room_responses` builds a
:class:`pyroomacoustics.ShoeBox` of the room's size whose walls absorb ``absorption`` of the
energy (from the wanted RT60 by Eyring's formula, :func:`absorption_for`) and takes the image
sources of every piece up to ``max_order`` reflections (``image_source_model``). automix then
assembles the responses itself, because it needs what the library's own ``compute_rir`` does not
give together: each image contributes ``damping / distance`` (distances in metres: a source 1 m
away arrives at gain 1) times the microphone's first-order polar pattern
``a + (1 - a) cos(theta)`` for the image's direction (:data:`PATTERNS`), at its exact
fractional delay (a 32-tap Hann-windowed sinc). Two things change only the direct sound of a
pair: a drum head radiates more along its axis than sideways (``axes``, :func:`head_directivity`),
and ``direct_gains`` scale it (a drum's shell in the way, or a close mic's near field: see
:mod:`automix.data.recording`). The source point of a drum is the middle of its head.

**Late reverberation.** Images are kept up to the *crossover* time, before which the image list
is complete (the first arrival of an image of order ``max_order``). After it, each microphone
gets a diffuse tail: Gaussian noise whose energy per second follows the image-source density of a
room of volume ``V``, ``4 pi c / V * exp(-13.8 t / RT60)`` (the same units as the early part),
times the pattern's diffuse-field efficiency ``a^2 + (1 - a)^2 / 3``; below 2 kHz it decays with
the RT60 (quoted, as usual, for the middle frequencies), above with 0.7 times it (walls and air
absorb the highs: rooms are darker late). A diffuse field does not depend on where the source is,
so one tail per microphone serves every piece: it is convolved once with the sum of the sources.
The decay of early part and tail together is checked against the RT60 in ``tests/test_rooms.py``.

**Convolution.** :func:`record` applies the responses by FFT: the early parts by overlap-save
over blocks, summed over pieces in the frequency domain; the tails with one FFT convolution per
microphone (``scipy.fft``, single precision: errors near -130 dB of the signal; the sum is kept
in float64). Deterministic: the same inputs give the same bits.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.fft as sfft
import scipy.signal as ssig

from daw_bridge.errors import AutomixError

__all__ = [
    "PATTERNS",
    "SOUND_SPEED",
    "Mic",
    "Room",
    "RoomResponse",
    "absorption_for",
    "diffuse_efficiency",
    "head_directivity",
    "pattern_gain",
    "record",
    "room_responses",
]

#: Speed of sound (m/s, about 20 degrees C).
SOUND_SPEED = 343.0
#: First-order polar patterns: the omni share ``a`` of ``a + (1 - a) cos(theta)``.
PATTERNS: dict[str, float] = {"omni": 1.0, "subcardioid": 0.7, "cardioid": 0.5, "supercardioid": 0.37,
                              "hypercardioid": 0.25, "figure8": 0.0}
_TAPS = 32  # fractional-delay filter length
#: Omni share of a drum head's radiation pattern (see :func:`head_directivity`).
HEAD_OMNI = 0.5
_TAIL_SPLIT_HZ = 2000.0
_TAIL_RT_FACTORS = (1.0, 0.7)  # below and above _TAIL_SPLIT_HZ
_TAIL_FADE_S = 0.002


def pattern_gain(pattern: str | float, cos_theta: np.ndarray | float) -> np.ndarray | float:
    """Sensitivity of a first-order pattern at ``cos(theta)`` off its axis (1 on axis)."""
    a = PATTERNS[pattern] if isinstance(pattern, str) else float(pattern)
    return a + (1.0 - a) * cos_theta


def diffuse_efficiency(pattern: str | float) -> float:
    """Energy a pattern picks up from a diffuse field relative to an omni (cardioid 1/3)."""
    a = PATTERNS[pattern] if isinstance(pattern, str) else float(pattern)
    return a * a + (1.0 - a) ** 2 / 3.0


def absorption_for(rt60: float, dims: Sequence[float]) -> float:
    """Energy absorption of every wall that gives ``rt60`` seconds by Eyring's formula
    (``RT60 = 0.161 V / (-S ln(1 - a))``: the decay of the image sources, whose strength falls by
    ``1 - a`` in energy at each reflection); :class:`AutomixError` if the room cannot be that dead."""
    w, l, h = (float(d) for d in dims)
    volume, surface = w * l * h, 2 * (w * l + w * h + l * h)
    a = 1.0 - math.exp(-24 * math.log(10) * volume / (SOUND_SPEED * surface * float(rt60)))
    if not 0 < a < 0.95:
        raise AutomixError(f"a {w:g} x {l:g} x {h:g} m room cannot have an RT60 of {rt60:g} s (absorption {a:.2f})")
    return a


@dataclasses.dataclass(frozen=True)
class Room:
    """A shoebox: ``dims`` (x width, y length, z height; m), ``rt60`` (s), wall ``absorption``
    (energy, all walls) and the image-source order."""

    dims: tuple[float, float, float]
    rt60: float
    absorption: float
    max_order: int = 8

    @property
    def volume(self) -> float:
        return float(np.prod(self.dims))


@dataclasses.dataclass(frozen=True)
class Mic:
    """A microphone: ``position`` (m, room coordinates), ``aim`` (unit vector), ``pattern``."""

    name: str
    position: tuple[float, float, float]
    aim: tuple[float, float, float]
    pattern: str


@dataclasses.dataclass
class RoomResponse:
    """Responses from every piece to every microphone.

    ``early``: ``[pieces, mics, frames]`` (direct sound and reflections up to ``crossover``);
    ``tails``: ``[mics, frames]`` diffuse tails starting at frame ``crossover``; ``direct_delay``
    (frames, fractional) and ``direct_gain`` (pattern x 1/r) of the direct sound per pair.
    """

    pieces: list[str]
    mics: list[str]
    sample_rate: int
    early: np.ndarray
    crossover: int
    tails: np.ndarray
    direct_delay: np.ndarray
    direct_gain: np.ndarray
    images: int

    def describe(self) -> dict:
        """What a take's annotation records about the responses."""
        return {"crossover_ms": round(1000 * self.crossover / self.sample_rate, 3),
                "early_frames": int(self.early.shape[-1]), "tail_frames": int(self.tails.shape[-1]),
                "images_per_source": self.images}


def _fractional_taps(delay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices and weights ``[n, _TAPS]`` of a Hann-windowed sinc delaying by ``delay`` frames."""
    base = np.floor(delay).astype(np.int64)
    frac = delay - base
    t = np.arange(-_TAPS // 2 + 1, _TAPS // 2 + 1)
    x = t[None, :] - frac[:, None]
    window = 0.5 * (1 + np.cos(np.pi * x / (_TAPS / 2)))
    return base[:, None] + t[None, :], np.sinc(x) * window


def head_directivity(axis: Sequence[float], direction: np.ndarray, omni: float = HEAD_OMNI) -> np.ndarray:
    """Gain of a drum head's radiation towards unit ``direction`` vectors (``[3, n]`` or ``[3]``):
    ``omni + (1 - omni) |cos(angle to the head's axis)|``, divided by its RMS over the sphere so
    the power radiated stays that of an omni source (on the axis +2.3 dB, sideways -3.7 dB for
    the default ``omni`` of 0.5)."""
    ax = np.asarray(axis, dtype=np.float64)
    ax = ax / np.linalg.norm(ax)
    cos = np.abs(np.tensordot(ax, direction, axes=(0, 0)))
    rms = math.sqrt(omni * omni + omni * (1 - omni) + (1 - omni) ** 2 / 3)
    return (omni + (1 - omni) * cos) / rms


def room_responses(room: Room, sources: Mapping[str, Sequence[float]], mics: Sequence[Mic], *,
                   sample_rate: int, rng: np.random.Generator,
                   axes: Mapping[str, Sequence[float]] | None = None,
                   direct_gains: Mapping[tuple[str, str], float] | None = None) -> RoomResponse:
    """Impulse responses from each source point to each microphone (see the module docstring).

    ``sources`` maps piece names to positions (m). ``rng`` draws the diffuse tails. ``axes``:
    pieces that radiate like a drum head, with the head's axis (:func:`head_directivity`, applied
    to the direct sound; reflections get the power average, 1). ``direct_gains``: an extra gain on
    the direct sound of a (piece, mic) pair (a drum in the way).
    """
    import pyroomacoustics as pra  # imported late: it takes a while to import

    pieces = list(sources)
    dims = np.asarray(room.dims, dtype=np.float64)
    pos = {p: np.asarray(sources[p], dtype=np.float64) for p in pieces}
    mic_pos = np.array([m.position for m in mics], dtype=np.float64)
    for name, where in [*pos.items(), *((m.name, m.position) for m in mics)]:
        if not (np.all(np.asarray(where) > 0) and np.all(np.asarray(where) < dims)):
            raise AutomixError(f"{name} at {np.round(where, 3).tolist()} is outside the {dims.tolist()} m room")
    shoebox = pra.ShoeBox(dims.tolist(), fs=sample_rate, materials=pra.Material(float(room.absorption)),
                          max_order=int(room.max_order), air_absorption=False)
    for p in pieces:
        shoebox.add_source(pos[p].tolist())
    shoebox.add_microphone_array(mic_pos.T.copy())
    shoebox.image_source_model()
    # crossover: the first arrival of a highest-order image, over every pair
    first_last_order = math.inf
    for src in shoebox.sources:
        top = src.images[:, src.orders == room.max_order]
        d = np.linalg.norm(top[:, :, None] - mic_pos.T[:, None, :], axis=0)
        first_last_order = min(first_last_order, float(d.min()))
    crossover = int(math.floor(first_last_order / SOUND_SPEED * sample_rate))
    length = crossover + _TAPS
    early = np.zeros((len(pieces), len(mics), length), dtype=np.float64)
    direct_delay = np.zeros((len(pieces), len(mics)))
    direct_gain = np.zeros((len(pieces), len(mics)))
    images = 0
    for i, (p, src) in enumerate(zip(pieces, shoebox.sources)):
        img = np.asarray(src.images, dtype=np.float64)  # [3, K]
        damping = np.asarray(src.damping, dtype=np.float64)[0]
        images = max(images, img.shape[1])
        for j, mic in enumerate(mics):
            vec = img - mic_pos[j][:, None]
            dist = np.linalg.norm(vec, axis=0)
            delay = dist / SOUND_SPEED * sample_rate
            keep = delay < crossover
            aim = np.asarray(mic.aim, dtype=np.float64)
            cos = (aim @ vec[:, keep]) / dist[keep]
            amp = damping[keep] / dist[keep] * pattern_gain(mic.pattern, cos)
            d0 = float(np.linalg.norm(pos[p] - mic_pos[j]))
            extra = 1.0
            if axes and p in axes:
                extra *= float(head_directivity(axes[p], (mic_pos[j] - pos[p]) / d0))
            if direct_gains:
                extra *= float(direct_gains.get((p, mic.name), 1.0))
            if extra != 1.0:
                amp[src.orders[keep] == 0] *= extra
            idx, w = _fractional_taps(delay[keep])
            ok = (idx >= 0) & (idx < length)
            early[i, j] = np.bincount(idx[ok], weights=(w * amp[:, None])[ok], minlength=length)
            c0 = float(aim @ (pos[p] - mic_pos[j]) / d0)
            direct_delay[i, j] = d0 / SOUND_SPEED * sample_rate
            direct_gain[i, j] = float(pattern_gain(mic.pattern, c0)) / d0 * extra
    tails = _tails(room, mics, crossover, sample_rate, rng)
    return RoomResponse(pieces, [m.name for m in mics], sample_rate, early, crossover, tails, direct_delay,
                        direct_gain, images)


def _tails(room: Room, mics: Sequence[Mic], crossover: int, sample_rate: int,
           rng: np.random.Generator) -> np.ndarray:
    slow = max(_TAIL_RT_FACTORS) * room.rt60
    n = int(math.ceil(0.9 * slow * sample_rate))  # about -54 dB below the tail's start
    t = np.arange(n) / sample_rate
    tc = crossover / sample_rate
    start = math.exp(-6.91 * tc / room.rt60)
    envs = [start * np.exp(-6.91 * t / (f * room.rt60)) for f in _TAIL_RT_FACTORS]
    fade = np.minimum(1.0, t / _TAIL_FADE_S)
    sos = ssig.butter(2, _TAIL_SPLIT_HZ, btype="low", fs=sample_rate, output="sos")
    out = np.zeros((len(mics), n))
    for j, mic in enumerate(mics):
        sigma = math.sqrt(4 * math.pi * SOUND_SPEED / (room.volume * sample_rate) * diffuse_efficiency(mic.pattern))
        noise = rng.standard_normal(n)
        low = ssig.sosfilt(sos, noise)
        out[j] = sigma * fade * (low * envs[0] + (noise - low) * envs[1])
    return out


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


def record(response: RoomResponse, sources: Mapping[str, np.ndarray], length: int,
           *, chunk_blocks: int = 16) -> dict[str, np.ndarray]:
    """Microphone signals ``{mic: float64 [length]}``: every source convolved with its responses
    and summed. ``sources`` (piece -> mono float array, at least ``length`` long or zero-padded)
    may hold any subset of the response's pieces: the result is then their contribution only."""
    present = [p for p in response.pieces if p in sources]
    unknown = sorted(set(sources) - set(response.pieces))
    if unknown:
        raise ValueError(f"no room response for {unknown}")
    n_mics = len(response.mics)
    out = np.zeros((n_mics, length), dtype=np.float64)
    if not present:
        return {m: out[j] for j, m in enumerate(response.mics)}
    x = np.zeros((len(present), length), dtype=np.float64)
    for i, p in enumerate(present):
        s = np.asarray(sources[p], dtype=np.float64)[:length]
        x[i, : len(s)] = s
    h = response.early[[response.pieces.index(p) for p in present]].astype(np.float32)  # [P, M, L]
    taps = h.shape[-1]
    fft_n = max(4096, _next_pow2(4 * taps))
    hop = fft_n - taps + 1
    spectra = sfft.rfft(h, n=fft_n, axis=-1)  # [P, M, K] complex64
    blocks = -(-length // hop)
    padded = np.zeros((len(present), taps - 1 + blocks * hop + fft_n), dtype=np.float32)
    padded[:, taps - 1: taps - 1 + length] = x
    for b0 in range(0, blocks, chunk_blocks):
        b1 = min(blocks, b0 + chunk_blocks)
        idx = (np.arange(b0, b1) * hop)[:, None] + np.arange(fft_n)[None, :]
        acc = None
        for i in range(len(present)):
            seg = padded[i][idx]  # [nb, F]
            if not seg.any():
                continue
            spec = sfft.rfft(seg, axis=-1)  # [nb, K]
            term = spec[:, None, :] * spectra[i][None, :, :]  # [nb, M, K]
            acc = term if acc is None else acc + term
        if acc is None:
            continue
        y = sfft.irfft(acc, n=fft_n, axis=-1)[:, :, taps - 1:]  # [nb, M, hop]
        seg_out = np.transpose(y, (1, 0, 2)).reshape(n_mics, -1)
        a, b = b0 * hop, min(length, b1 * hop)
        out[:, a:b] = seg_out[:, : b - a]
    # diffuse tails: one convolution per microphone with the sum of the sources
    c = response.crossover
    if c < length and response.tails.shape[-1]:
        total = x.sum(axis=0)[: length - c].astype(np.float32)
        n = _next_pow2(len(total) + response.tails.shape[-1] - 1)
        spec = sfft.rfft(total, n=n)
        tails = sfft.rfft(response.tails.astype(np.float32), n=n, axis=-1)
        y = sfft.irfft(tails * spec[None, :], n=n, axis=-1)[:, : length - c]
        out[:, c:] += y
    return {m: out[j] for j, m in enumerate(response.mics)}
