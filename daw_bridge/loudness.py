"""Streaming loudness and true-peak meters (ITU-R BS.1770-4), fed block by block (torch-free).

Details: ``docs/loudness.md``.
"""

from __future__ import annotations

import math

import numpy as np

from daw_bridge.audio import PEAK_FLOOR_DB, SILENCE_LUFS

__all__ = [
    "LoudnessMeter",
    "TruePeakMeter",
    "ceiling_gain",
    "k_weighting_sos",
    "loudness_gain",
    "loudness_series",
    "measure_loudness",
    "normalize_loudness",
    "to_loudness",
    "interpolation_kernels",
    "true_peak_oversampling",
    "weighted_block_powers",
]

# BS.1770-4 constants
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_GATE_BLOCK_S = 0.4
_GATE_STEP = 0.25  # 75 % overlap
_SUBBLOCKS_PER_BLOCK = 4  # a 400 ms gating block is four 100 ms sub-blocks

# Analogue prototypes of the K-weighting stages (as derived by Brecht De Man and used by
# libebur128); at 48 kHz their bilinear transforms are the coefficients printed in BS.1770-4.
_SHELF_F0_HZ = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_VB_EXPONENT = 0.4996667741545416
_HIGHPASS_F0_HZ = 38.13547087602444
_HIGHPASS_Q = 0.5003270373238773

# True-peak interpolator: a Kaiser-windowed sinc reaching _TP_HALF_TAPS samples either side
# (64 taps per phase): amplitude error under 0.002 dB up to 0.45 x the sample rate.
_TP_HALF_TAPS = 32
_TP_KAISER_BETA = 8.0
_TP_FFT_SIZE = 4096  # the interpolator runs as an FFT convolution on frames of this size


def _check_channels(channels: int, limit: int | None = None) -> int:
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ValueError(f"channels must be a positive integer, got {channels!r}")
    if limit is not None and channels > limit:
        raise ValueError(f"loudness needs at most {limit} channels (L, R, C, Ls, Rs), got {channels}")
    return int(channels)


def _check_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer (Hz), got {sample_rate!r}")
    return int(sample_rate)


def _as_block(block: np.ndarray, channels: int, what: str, dtype: type = np.float64) -> np.ndarray:
    """``block`` as ``dtype`` ``[channels, n]``; ValueError for a wrong shape or NaN/Inf."""
    arr = np.asarray(block)
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[0] != channels:
        raise ValueError(f"{what} expects blocks shaped [{channels}, n], got shape {np.shape(block)}")
    arr = arr.astype(dtype, copy=False)
    if arr.size and not np.isfinite(arr).all():
        raise ValueError(f"{what}: the block holds NaN or infinite samples")
    return arr


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """The K-weighting filter at ``sample_rate`` Hz as second-order sections ``[2, 6]``.

    Row 0 is the pre-filter (a high shelf, +4 dB above about 1.7 kHz), row 1 the RLB high
    pass (about 38 Hz); each row is ``[b0, b1, b2, 1, a1, a2]`` for
    :func:`scipy.signal.sosfilt`. Both are bilinear transforms of fixed analogue prototypes
    (pre-warped at their corner frequencies), so they hold at any rate and equal the
    coefficients printed in BS.1770-4 at 48 kHz.
    """
    rate = _check_rate(sample_rate)
    if rate <= 2.0 * _SHELF_F0_HZ:
        raise ValueError(f"K-weighting needs a sample rate above {2 * _SHELF_F0_HZ:.0f} Hz, got {rate}")
    k = math.tan(math.pi * _SHELF_F0_HZ / rate)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXPONENT
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [
        (vh + vb * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / _SHELF_Q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / _SHELF_Q + k * k) / a0,
    ]
    k = math.tan(math.pi * _HIGHPASS_F0_HZ / rate)
    a0 = 1.0 + k / _HIGHPASS_Q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _HIGHPASS_Q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


class LoudnessMeter:
    """Integrated loudness (ITU-R BS.1770-4), fed block by block.

    ``LoudnessMeter(sample_rate, channels)`` (channels in the order L, R, C, Ls, Rs, at most
    5); :meth:`add` takes blocks ``[channels, n]`` of any size; :meth:`integrated` returns
    the integrated loudness of everything added so far in LUFS (it can be asked at any
    time and the meter keeps running).

    What it keeps: the K-weighting filter states and, per 100 ms sub-block, one number (the
    channel-weighted sum of the K-weighted squares), plus the samples of the current,
    unfinished sub-block. Sub-block ``k`` spans frames ``[k * rate // 10, (k + 1) * rate // 10)``
    and gating block ``j`` is sub-blocks ``j .. j + 3`` (400 ms, hop 100 ms).

    The result follows :func:`daw_bridge.loudness.measure_loudness`: ``n / rate - 0.4`` seconds
    rounded to whole 100 ms hops plus one gating blocks (a last block may reach past the end,
    counting as silence there), the absolute gate (blocks at or above -70 LUFS), the relative
    gate (blocks above the gated mean minus 10 LU); audio shorter than one 400 ms block is
    measured as one ungated block of its own length; no audio, silence and anything below
    -70 LUFS give :data:`~daw_bridge.audio.SILENCE_LUFS`.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        from scipy.signal import sosfilt  # scipy comes with pyloudnorm; imported when a meter is made

        self._sosfilt = sosfilt
        self.sample_rate = _check_rate(sample_rate)
        self.channels = _check_channels(channels, len(_CHANNEL_WEIGHTS))
        self._sos = k_weighting_sos(self.sample_rate)
        self._zi = np.zeros((self._sos.shape[0], self.channels, 2), dtype=np.float64)
        self._weights = np.array(_CHANNEL_WEIGHTS[: self.channels], dtype=np.float64)
        self.frames = 0  # frames added so far
        self._energies = np.zeros(1024, dtype=np.float64)  # weighted energy per finished sub-block
        self._count = 0  # finished sub-blocks
        self._pending: list[np.ndarray] = []  # K-weighted samples of the unfinished sub-block
        self._pending_frames = 0

    def _subblock_end(self, k: int) -> int:
        """Frame where sub-block ``k`` ends (exclusive): ``(k + 1) * rate // 10``."""
        return (k + 1) * self.sample_rate // 10

    def _weighted_energy(self, filtered: np.ndarray) -> float:
        """Sum over channels of weight x sum of squares, for ``filtered`` ``[channels, n]``."""
        per_channel = np.einsum("ij,ij->i", filtered, filtered)
        return float(np.dot(self._weights, per_channel))

    def add(self, block: np.ndarray) -> None:
        """Feed the next ``[channels, n]`` block (1-D for one channel); ValueError for NaN/Inf."""
        arr = _as_block(block, self.channels, "LoudnessMeter")
        n = arr.shape[1]
        if n == 0:
            return
        filtered, self._zi = self._sosfilt(self._sos, arr, axis=-1, zi=self._zi)
        start = self.frames  # stream frame of filtered[:, 0]
        self.frames += n
        pos = 0
        while True:
            end = self._subblock_end(self._count)  # stream frame where the current sub-block ends
            if end > self.frames:
                break
            take = end - start - pos  # frames of this block that finish the sub-block
            piece = filtered[:, pos : pos + take]
            if self._pending:
                piece = np.concatenate([*self._pending, piece], axis=1)
                self._pending, self._pending_frames = [], 0
            self._push(self._weighted_energy(np.ascontiguousarray(piece)))
            pos += take
        if pos < n:
            self._pending.append(filtered[:, pos:].copy())
            self._pending_frames += n - pos

    def _push(self, energy: float) -> None:
        if self._count == self._energies.shape[0]:
            self._energies = np.concatenate([self._energies, np.zeros_like(self._energies)])
        self._energies[self._count] = energy
        self._count += 1

    def _pending_energy(self) -> float:
        if not self._pending:
            return 0.0
        return self._weighted_energy(np.ascontiguousarray(np.concatenate(self._pending, axis=1)))

    def integrated(self) -> float:
        """Integrated loudness of everything added so far, in LUFS (see the class docstring)."""
        rate = self.sample_rate
        if self.frames == 0:
            return SILENCE_LUFS
        energies = self._energies[: self._count]
        partial = self._pending_energy()
        if self.frames < _GATE_BLOCK_S * rate:  # shorter than one gating block: ungated
            power = (float(np.sum(energies)) + partial) / self.frames
            return _lufs_or_silence(power)
        duration = self.frames / rate
        blocks = int(np.round((duration - _GATE_BLOCK_S) / (_GATE_BLOCK_S * _GATE_STEP))) + 1
        needed = blocks - 1 + _SUBBLOCKS_PER_BLOCK  # sub-blocks the last gating block reaches
        sub = np.zeros(max(needed, self._count + 1), dtype=np.float64)
        sub[: self._count] = energies
        sub[self._count] = partial  # the unfinished sub-block (zeros past the end)
        sub = sub[:needed]
        window = np.lib.stride_tricks.sliding_window_view(sub, _SUBBLOCKS_PER_BLOCK)
        block_power = window.sum(axis=1) / (_GATE_BLOCK_S * rate)  # [blocks]
        with np.errstate(divide="ignore"):
            block_lufs = -0.691 + 10.0 * np.log10(block_power)
        gated = block_power[block_lufs >= _ABSOLUTE_GATE_LUFS]
        if gated.size == 0:
            return SILENCE_LUFS
        relative = -0.691 + 10.0 * math.log10(float(np.mean(gated))) + _RELATIVE_GATE_LU
        keep = block_power[(block_lufs > relative) & (block_lufs > _ABSOLUTE_GATE_LUFS)]
        if keep.size == 0:
            return SILENCE_LUFS
        return _lufs_or_silence(float(np.mean(keep)))


def _lufs_or_silence(power: float) -> float:
    if not power > 0.0:
        return SILENCE_LUFS
    lufs = -0.691 + 10.0 * math.log10(power)
    return max(lufs, SILENCE_LUFS)


def true_peak_oversampling(sample_rate: int) -> int:
    """Oversampling factor :class:`TruePeakMeter` uses: 4 below 176.4 kHz, else 2."""
    return 4 if _check_rate(sample_rate) < 176_400 else 2


def interpolation_kernels(factor: int) -> np.ndarray:
    """``[factor - 1, 2M]`` kernels giving the samples at ``n + p / factor`` (p = 1 .. factor-1).

    Row ``p - 1`` applied to ``x[n - M + 1 .. n + M]`` (a correlation) gives the band-limited
    value between ``x[n]`` and ``x[n + 1]`` at fraction ``p / factor``: a Kaiser-windowed
    sinc, normalised to unity gain at DC.
    """
    half = _TP_HALF_TAPS
    m = np.arange(-half + 1, half + 1, dtype=np.float64)
    rows = []
    for p in range(1, factor):
        t = m - p / factor
        window = np.i0(_TP_KAISER_BETA * np.sqrt(np.clip(1.0 - (t / half) ** 2, 0.0, None))) / np.i0(_TP_KAISER_BETA)
        kernel = np.sinc(t) * window
        rows.append(kernel / kernel.sum())
    return np.array(rows, dtype=np.float64)


class TruePeakMeter:
    """True peak (ITU-R BS.1770-4 annex 2), fed block by block; :meth:`true_peak_db` in dBTP.

    The signal is oversampled 4x (2x at 176.4 kHz and above, where 2x already resolves the
    inter-sample peaks of audio band content) by band-limited interpolation: the original
    samples are kept exactly and the points between them come from a 64-tap Kaiser-windowed
    sinc per phase (error under 0.002 dB up to 0.45 x the sample rate). The stream is taken
    as silent before its first and after its last sample, so the ringing at both ends counts.
    The true peak is the largest magnitude of the oversampled signal over all channels.

    The interpolation runs as an FFT convolution on frames aligned to the start of the
    stream (at most one frame of audio is buffered), so the result depends only on the
    samples, never on the block sizes they arrived in.
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        import scipy.fft

        self._fft = scipy.fft
        self.sample_rate = _check_rate(sample_rate)
        self.channels = _check_channels(channels)
        self.oversampling = true_peak_oversampling(self.sample_rate)
        self.frames = 0
        self._history = 2 * _TP_HALF_TAPS - 1  # samples of context each frame carries over
        self._frame = _TP_FFT_SIZE - self._history  # new samples per frame
        kernels = interpolation_kernels(self.oversampling)
        # correlation with a kernel == convolution with the reversed kernel
        spectra = self._fft.rfft(kernels[:, ::-1], _TP_FFT_SIZE, axis=-1)  # [phases, bins]
        self._spectra = spectra.astype(np.complex64)  # float32 FFTs: errors ~1e-6 of full scale
        self._tail = np.zeros((self.channels, self._history), dtype=np.float32)
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0
        self._sample_peak = 0.0
        self._between_peak = 0.0  # largest interpolated (inter-sample) magnitude so far

    def add(self, block: np.ndarray) -> None:
        """Feed the next ``[channels, n]`` block (1-D for one channel); ValueError for NaN/Inf."""
        arr = _as_block(block, self.channels, "TruePeakMeter", np.float32)
        n = arr.shape[1]
        if n == 0:
            return
        self.frames += n
        self._sample_peak = max(self._sample_peak, float(np.max(np.abs(arr))))
        self._pending.append(arr)
        self._pending_frames += n
        if self._pending_frames < self._frame:
            return
        data = np.concatenate(self._pending, axis=1) if len(self._pending) > 1 else self._pending[0]
        pos = 0
        while data.shape[1] - pos >= self._frame:
            frame = data[:, pos : pos + self._frame]
            self._between_peak = max(self._between_peak, self._scan(self._tail, frame))
            self._tail = np.ascontiguousarray(frame[:, -self._history :])
            pos += self._frame
        rest = data[:, pos:]
        self._pending = [rest.copy()] if rest.shape[1] else []
        self._pending_frames = rest.shape[1]

    def _scan(self, tail: np.ndarray, frame: np.ndarray) -> float:
        """Largest interpolated magnitude over the windows ending in ``frame``.

        ``tail`` holds the ``2M - 1`` samples before ``frame`` (``frame`` has at most
        ``FFT size - (2M - 1)`` samples); one window (one set of in-between points) per
        sample of ``frame``.
        """
        n = frame.shape[1]
        if n == 0:
            return 0.0
        buf = np.concatenate([tail, frame], axis=1)
        spectrum = self._fft.rfft(buf, _TP_FFT_SIZE, axis=-1)  # [channels, bins]
        between = self._fft.irfft(spectrum[:, np.newaxis, :] * self._spectra, _TP_FFT_SIZE, axis=-1)
        valid = between[:, :, self._history : self._history + n]  # no circular wrap-around here
        return float(np.max(np.abs(valid)))

    def true_peak_db(self) -> float:
        """True peak of everything added so far, in dBTP (:data:`~daw_bridge.audio.PEAK_FLOOR_DB` for silence).

        The end of the stream is taken as silence (the ringing after the last sample
        counts); the meter keeps running and more blocks can be added afterwards.
        """
        peak = max(self._sample_peak, self._between_peak)
        if self.frames:
            rest = np.concatenate(self._pending, axis=1) if self._pending else np.zeros((self.channels, 0), np.float32)
            flush = np.concatenate([rest, np.zeros((self.channels, self._history), np.float32)], axis=1)
            tail = self._tail
            for start in range(0, flush.shape[1], self._frame):
                frame = flush[:, start : start + self._frame]
                peak = max(peak, self._scan(tail, frame))
                tail = np.concatenate([tail, frame], axis=1)[:, -self._history :]
        if peak <= 0.0:
            return PEAK_FLOOR_DB
        return max(20.0 * math.log10(peak), PEAK_FLOOR_DB)

    @property
    def sample_peak(self) -> float:
        """Largest sample magnitude so far (linear, not oversampled)."""
        return self._sample_peak


def ceiling_gain(lufs: float, true_peak_db: float, target_lufs: float, ceiling_db: float) -> tuple[float, float | None]:
    """One gain (dB) that brings a signal measured at ``lufs`` / ``true_peak_db`` to ``target_lufs``
    without its true peak crossing ``ceiling_db``: ``(gain_db, missed_lu)``, where ``missed_lu``
    is how far the ceiling kept it from the target (``None`` when the target is reached).

    When the ceiling limits it, the gain stops a hair (0.001 dB) under the ceiling, so that
    rounding in the written file cannot cross it. A silent signal (at or below
    :data:`~daw_bridge.audio.SILENCE_LUFS`) gets 0 dB.
    """
    if lufs <= SILENCE_LUFS:
        return 0.0, None
    gain = target_lufs - lufs
    if true_peak_db + gain > ceiling_db:
        allowed = ceiling_db - true_peak_db - 0.001
        return allowed, gain - allowed
    return gain, None


def loudness_gain(lufs: float, true_peak_db: float, target: float, ceiling: float) -> tuple[float, list[str]]:
    """:func:`ceiling_gain` with notes for people: when silence or the ceiling stops it."""
    if lufs <= SILENCE_LUFS:
        return 0.0, [f"the mix is silent (below {SILENCE_LUFS:g} LUFS); its level is left as is"]
    gain, missed = ceiling_gain(lufs, true_peak_db, target, ceiling)
    if missed is None:
        return gain, []
    return gain, [f"loudness target {target:g} LUFS missed by {missed:.2f} LU: the true-peak ceiling "
                  f"{ceiling:g} dBTP allows {lufs + gain:.2f} LUFS"]


def to_loudness(audio: np.ndarray, sample_rate: int, target: float, true_peak_db: float = -1.0) -> tuple[np.ndarray, float, list[str]]:
    """``audio`` ``[channels, T]`` scaled by one gain to ``target`` LUFS under ``true_peak_db``
    dBTP (:func:`loudness_gain`); returns ``(audio, gain_db, notes)``."""
    meter, peak = LoudnessMeter(sample_rate, audio.shape[0]), TruePeakMeter(sample_rate, audio.shape[0])
    meter.add(audio)
    peak.add(audio)
    gain_db, notes = loudness_gain(meter.integrated(), peak.true_peak_db(), target, true_peak_db)
    return (audio * np.float32(10 ** (gain_db / 20))).astype(np.float32), gain_db, notes


# --------------------------------------------------------------------------------------------
# One-shot measurements


def measure_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of ``audio`` (``[channels, frames]`` or 1-D) in LUFS, BS.1770-4.

    :class:`LoudnessMeter` fed once: always finite; clips shorter than one 0.4 s gating block
    are measured ungated; silence and anything quieter than -70 LUFS read
    :data:`~daw_bridge.audio.SILENCE_LUFS`. ``ValueError`` for more than 5 channels or NaN/Inf.
    """
    arr = np.asarray(audio)
    arr = arr[None] if arr.ndim == 1 else arr
    if arr.ndim != 2:
        raise ValueError(f"audio must be [channels, frames] or 1-D, got shape {arr.shape}")
    if arr.shape[0] > len(_CHANNEL_WEIGHTS):
        raise ValueError(f"loudness needs at most {len(_CHANNEL_WEIGHTS)} channels, got {arr.shape[0]}")
    if not np.isfinite(arr).all():
        raise ValueError("cannot measure loudness of audio with NaN or infinite samples")
    meter = LoudnessMeter(sample_rate, arr.shape[0])
    meter.add(arr)
    return meter.integrated()


def normalize_loudness(
    audio: np.ndarray, sample_rate: int, target_lufs: float, *, max_gain_db: float = 60.0
) -> tuple[np.ndarray, float]:
    """Scale ``audio`` so its :func:`measure_loudness` becomes ``target_lufs``.

    Returns ``(float32 audio of the same shape, gain dB)``; the gain is limited to
    ``+-max_gain_db``. Silent audio is returned unchanged (the same object) with gain 0.0.
    Peaks are not limited: the result may exceed full scale.
    """
    if not math.isfinite(target_lufs):
        raise ValueError(f"target_lufs must be finite, got {target_lufs}")
    if not max_gain_db >= 0:
        raise ValueError(f"max_gain_db must be >= 0, got {max_gain_db}")
    lufs = measure_loudness(audio, sample_rate)
    if lufs <= SILENCE_LUFS:
        return audio, 0.0
    gain_db = float(np.clip(target_lufs - lufs, -max_gain_db, max_gain_db))
    return np.asarray(audio, dtype=np.float32) * np.float32(10.0 ** (gain_db / 20.0)), gain_db


# --------------------------------------------------------------------------------------------
# Loudness over time

_MOMENTARY_S, _LOUDNESS_HOP_S = 0.4, 0.1
_CHUNK_SAMPLES = 1 << 20  # samples filtered per call


def weighted_block_powers(audio: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """``sum_c G_c z_c`` per consecutive block of ``hop`` samples: ``[samples // hop]`` float64.

    ``z_c`` is the mean square of the K-weighted channel over the block, ``G_c`` the BS.1770
    channel weights; a tail shorter than ``hop`` is left out.
    """
    from scipy.signal import sosfilt

    channels, samples = audio.shape
    if channels > len(_CHANNEL_WEIGHTS):
        raise ValueError(f"loudness needs at most {len(_CHANNEL_WEIGHTS)} channels, got {channels}")
    sos = k_weighting_sos(sample_rate)
    blocks = samples // hop
    out = np.zeros(blocks)
    step = max(hop, (_CHUNK_SAMPLES // hop) * hop)
    for c in range(channels):
        zi = np.zeros((sos.shape[0], 2))
        done = 0
        for start in range(0, blocks * hop, step):
            x = audio[c, start : min(start + step, blocks * hop)].astype(np.float64)
            y, zi = sosfilt(sos, x, zi=zi)
            k = y.shape[0] // hop
            out[done : done + k] += _CHANNEL_WEIGHTS[c] * np.mean(np.square(y[: k * hop]).reshape(k, hop), axis=1)
            done += k
    return out


def window_powers(block_powers: np.ndarray, per_window: int) -> np.ndarray:
    """Mean of ``per_window`` consecutive block powers, one value per block step (at least one)."""
    w = max(1, min(per_window, block_powers.shape[0]))
    csum = np.concatenate([[0.0], np.cumsum(block_powers)])
    return (csum[w:] - csum[:-w]) / w


def power_to_lufs(power: np.ndarray) -> np.ndarray:
    """``-0.691 + 10 log10(power)``, with -70 LUFS for anything at or below it."""
    with np.errstate(divide="ignore"):
        lufs = -0.691 + 10.0 * np.log10(np.maximum(power, 0.0))
    return np.where(np.isfinite(lufs) & (lufs > SILENCE_LUFS), lufs, SILENCE_LUFS)


def loudness_series(
    audio: np.ndarray, sample_rate: int, *, window_s: float = _MOMENTARY_S, hop_s: float = _LOUDNESS_HOP_S
) -> tuple[np.ndarray, np.ndarray]:
    """Loudness over time, BS.1770-4 K-weighting: ``(times in s, loudness in LUFS)``.

    ``window_s=0.4`` (default) is EBU momentary loudness, ``3.0`` short-term; ``hop_s`` the
    step (rounded to whole samples). Values below -70 LUFS read -70; times are window ends.
    A signal shorter than one window gives one value over what there is (at least one hop).
    """
    rate = _check_rate(sample_rate)
    arr = np.asarray(audio, dtype=np.float32)
    arr = arr[None] if arr.ndim == 1 else arr
    hop = max(1, int(round(hop_s * rate)))
    if arr.shape[1] < hop:
        arr = np.pad(arr, ((0, 0), (0, hop - arr.shape[1])))
    blocks = weighted_block_powers(arr, rate, hop)
    w = max(1, int(round(window_s / hop_s)))
    power = window_powers(blocks, w)
    times = (np.arange(power.shape[0]) + min(w, blocks.shape[0])) * hop / rate
    return times, power_to_lufs(power)
