"""Audio files (torch-free): probing, reading (whole or streamed) and writing WAV/FLAC.

Array helpers, resampling and sample levels live in :mod:`daw_bridge.audio_arrays` and are
re-exported here. Details: ``docs/audio-files.md``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile as sf
import soxr

from daw_bridge.audio_arrays import (  # the public names are re-exported
    _RESAMPLE_QUALITY,
    PEAK_FLOOR_DB,
    _as_2d,
    _check_rate,
    align_lengths,
    amplitude_db,
    is_silent,
    pad_to_length,
    peak_db,
    resample,
    resampled_length,
    to_mono,
)
from daw_bridge.errors import AudioError, OutputError
from daw_bridge.outputs import SOFTWARE_TAG, atomic_output, check_output_path

__all__ = [
    "AUDIO_EXTENSIONS",
    "amplitude_db",
    "check_output_format",
    "SILENCE_LUFS",
    "PEAK_FLOOR_DB",
    "WRITE_SUBTYPES",
    "AudioInfo",
    "AudioStream",
    "AudioWriter",
    "align_lengths",
    "is_silent",
    "pad_to_length",
    "peak_db",
    "probe",
    "read_audio",
    "read_float32",
    "resample",
    "resampled_length",
    "to_mono",
    "write_audio",
]

logger = logging.getLogger("automix")


#: File extensions accepted as audio input (lower case, with the dot).
_EXTENSION_ORDER = (".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg")  # for messages
AUDIO_EXTENSIONS: frozenset[str] = frozenset(_EXTENSION_ORDER)

#: Loudness reported for silence or fully gated audio: the BS.1770 absolute gate, in LUFS.
SILENCE_LUFS: float = -70.0

#: Sample formats :func:`write_audio` and :class:`AudioWriter` can write.
WRITE_SUBTYPES: tuple[str, ...] = ("PCM_16", "PCM_24", "FLOAT")

_OUTPUT_FORMATS: dict[str, str] = {".wav": "WAV", ".wave": "WAV", ".flac": "FLAC"}
_SUBTYPE_BYTES = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}
#: Most audio bytes a plain (RIFF) WAV file holds: its sizes are 32-bit, less room for the header.
WAV_MAX_DATA_BYTES: int = 2**32 - 1 - 64 * 1024
_INTEGER_SUBTYPES = frozenset({"PCM_16", "PCM_24"})
#: integer subtypes read as integers and scaled here: libsndfile's own integer-to-float path is
#: 1.1-2.4x slower and gives the same floats (x / 2**15 or x / 2**31, exact in float32)
_READ_AS_INTEGER = {"PCM_16": ("int16", 1.0 / 32768.0), "PCM_24": ("int32", 1.0 / 2**31), "PCM_32": ("int32", 1.0 / 2**31)}
_STREAM_BLOCK_FRAMES = 65536  # frames read from the file per block by AudioStream

# Errors soundfile/libsndfile raise for unreadable or unwritable files.
_SF_ERRORS: tuple[type[BaseException], ...] = (sf.SoundFileError, RuntimeError, OSError)

_MAX_RIFF_CHUNKS = 4096  # stop walking a RIFF header after this many chunks


# --------------------------------------------------------------------------------------------
# Probing and reading


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe` learned about an audio file.

    ``frames`` is the length per channel at ``sample_rate``; ``format`` and ``subtype`` are
    soundfile's names (e.g. ``"WAV"``, ``"PCM_24"``).
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


def _one_line(text: str) -> str:
    """Collapse whitespace (newlines included) so a message stays on one line."""
    return " ".join(str(text).split()).rstrip(".")


def _sf_reason(exc: BaseException) -> str:
    """The useful part of a soundfile/libsndfile error, on one line."""
    reason = getattr(exc, "error_string", None) or str(exc) or type(exc).__name__
    return _one_line(reason)


def _riff_data_extent(path: Path) -> tuple[int, int, int] | None:
    """Parse the chunk headers of a RIFF/RF64/BW64 WAVE file.

    Returns ``(declared_data_bytes, present_data_bytes, block_align)``, or ``None`` when the
    file is not a WAVE file or its header cannot be understood (unknown sizes, missing
    ``fmt `` or ``data`` chunk, I/O trouble). Only the chunk headers are read.
    """
    try:
        file_size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"BW64") or head[8:12] != b"WAVE":
                return None
            ds64_data_size: int | None = None
            block_align: int | None = None
            pos = 12
            for _ in range(_MAX_RIFF_CHUNKS):
                f.seek(pos)
                header = f.read(8)
                if len(header) < 8:
                    return None
                chunk_id = header[:4]
                (size,) = struct.unpack("<I", header[4:])
                body = pos + 8
                if chunk_id == b"ds64":  # RF64/BW64: 64-bit RIFF size, data size, sample count
                    fields = f.read(16)
                    if len(fields) < 16:
                        return None
                    _, ds64_data_size = struct.unpack("<QQ", fields)
                elif chunk_id == b"fmt ":
                    fields = f.read(14)
                    if len(fields) < 14:
                        return None
                    (block_align,) = struct.unpack("<H", fields[12:14])
                elif chunk_id == b"data":
                    if size == 0xFFFFFFFF:  # RF64 placeholder, or a stream that was never finalised
                        if ds64_data_size is None:
                            return None
                        size = ds64_data_size
                    if not block_align:
                        return None
                    return size, max(file_size - body, 0), block_align
                pos = body + size + (size & 1)  # chunks are padded to an even length
                if pos >= file_size:
                    return None
    except OSError:
        return None
    return None


def _check_not_truncated(path: Path) -> None:
    """Raise :class:`AudioError` if a WAVE file's data chunk is shorter than its header says.

    libsndfile opens such files without complaint and silently reports fewer frames.
    """
    extent = _riff_data_extent(path)
    if extent is None:
        return
    declared, present, block_align = extent
    if present < declared:
        raise AudioError(
            f"{path} is truncated: header declares {declared // block_align} frames, "
            f"file holds {present // block_align}; re-export it"
        )


def probe(path: str | os.PathLike) -> AudioInfo:
    """Check that ``path`` is a readable, non-empty audio file and describe it.

    Raises :class:`AudioError` (one line, naming the file) when the file is missing, is a
    folder, has an extension outside :data:`AUDIO_EXTENSIONS`, cannot be opened by
    libsndfile (corrupt or not audio), holds no frames, or is a WAV file whose data chunk was
    cut short. Only headers are read.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p} does not exist; check the path")
    if p.is_dir():
        raise AudioError(f"{p} is a folder, not an audio file; give the path of an audio file")
    if p.suffix.lower() not in AUDIO_EXTENSIONS:
        expected = ", ".join(_EXTENSION_ORDER)
        raise AudioError(f"{p} is not an audio file (expected {expected})")
    with contextlib.suppress(OSError):
        if p.stat().st_size == 0:
            raise AudioError(f"{p} is empty (0 bytes); re-export it")
    _check_not_truncated(p)
    try:
        with sf.SoundFile(str(p)) as f:
            info = AudioInfo(
                path=p,
                sample_rate=int(f.samplerate),
                channels=int(f.channels),
                frames=int(f.frames),
                format=str(f.format),
                subtype=str(f.subtype),
            )
    except _SF_ERRORS as exc:
        raise AudioError(
            f"{p} cannot be read as audio ({_sf_reason(exc)}); check the file or re-export it"
        ) from exc
    if info.frames <= 0:
        raise AudioError(f"{p} holds no audio (0 frames); re-export it")
    if info.sample_rate <= 0:
        raise AudioError(f"{p} has an invalid sample rate ({info.sample_rate} Hz); re-export it")
    return info


def _nonfinite_error(path: Path, first_frame: int, sample_rate: int) -> AudioError:
    seconds = first_frame / sample_rate
    return AudioError(f"{path} has NaN or infinite samples (first at {seconds:.3f} s); re-export it")


def _first_nonfinite_frame(block: np.ndarray, frame_axis: int) -> int | None:
    """Index along ``frame_axis`` of the first frame holding NaN/Inf, or None if all finite."""
    finite = np.isfinite(block)
    if finite.all():
        return None
    bad_frames = ~finite.all(axis=1 - frame_axis)
    return int(np.argmax(bad_frames))


def read_float32(f: sf.SoundFile, frames: int) -> tuple[np.ndarray, bool]:
    """Read ``frames`` frames from an open file as float32 ``[n, channels]`` (libsndfile's scaling).

    Returns ``(data, finite)``: ``finite`` is True when the data cannot hold NaN/Inf (integer
    PCM, read as integers and scaled exactly as libsndfile would), so callers can skip the check.
    """
    as_int = _READ_AS_INTEGER.get(str(f.subtype))
    if as_int is None:
        return f.read(frames, dtype="float32", always_2d=True), False
    data = f.read(frames, dtype=as_int[0], always_2d=True).astype(np.float32)
    data *= np.float32(as_int[1])
    return data, True


def read_audio(
    path: str | os.PathLike,
    *,
    sample_rate: int | None = None,
    start: int = 0,
    frames: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file into a float32 array ``[channels, frames]``.

    ``start`` and ``frames`` count frames at the file's own rate; ``frames=None`` reads to the
    end, and fewer frames are returned if the file ends first. If ``sample_rate`` is given
    and differs from the file's, the audio is resampled with :func:`resample`.

    Returns ``(audio, rate)`` where ``rate`` is the rate of the returned audio. All
    :func:`probe` errors apply; NaN or infinite samples raise :class:`AudioError`.
    """
    info = probe(path)
    if start < 0 or start > info.frames:
        raise ValueError(f"start={start} is outside {info.path} (0..{info.frames} frames)")
    if frames is not None and frames < 0:
        raise ValueError(f"frames must be >= 0, got {frames}")
    count = info.frames - start if frames is None else frames
    try:
        with sf.SoundFile(str(info.path)) as f:
            if start:
                f.seek(start)
            data, finite = read_float32(f, count)  # [T, C]
    except _SF_ERRORS as exc:
        raise AudioError(
            f"{info.path} cannot be read ({_sf_reason(exc)}); check the file or re-export it"
        ) from exc
    audio = np.ascontiguousarray(data.T)
    bad = None if finite else _first_nonfinite_frame(audio, frame_axis=1)
    if bad is not None:
        raise _nonfinite_error(info.path, start + bad, info.sample_rate)
    if sample_rate is not None and sample_rate != info.sample_rate:
        return resample(audio, info.sample_rate, sample_rate), int(sample_rate)
    return audio, info.sample_rate


# --------------------------------------------------------------------------------------------
# Writing


def check_output_format(path: str | os.PathLike, subtype: str) -> tuple[str, str]:
    """Return ``(format, subtype)`` for writing ``path``; :class:`OutputError` if unsupported."""
    ext = Path(path).suffix.lower()
    fmt = _OUTPUT_FORMATS.get(ext)
    if fmt is None:
        allowed = ", ".join(_OUTPUT_FORMATS)
        raise OutputError(f"cannot write {path}: unsupported extension '{ext}' (use {allowed})")
    sub = str(subtype).upper()
    if sub not in WRITE_SUBTYPES:
        raise OutputError(
            f"cannot write {path}: sample format '{subtype}' is not supported "
            f"(use {', '.join(WRITE_SUBTYPES)})"
        )
    if fmt == "FLAC" and sub == "FLOAT":
        raise OutputError(f"cannot write {path}: FLAC cannot hold FLOAT samples; use PCM_24 or a .wav file")
    return fmt, sub


class _Discarded(Exception):
    """Internal: thrown into :func:`atomic_output` to make it drop its temporary file."""


class AudioWriter:
    """Stream audio into a WAV or FLAC file, written atomically.

    ``AudioWriter(path, sample_rate, channels, subtype="PCM_24", overwrite=False)`` checks
    the output path first (:class:`OutputError` if it exists without ``overwrite``, if its
    folder is missing, or if the extension/subtype is unsupported), then writes into a
    temporary file beside it. :meth:`close` (or leaving a ``with`` block normally) renames
    the temporary file onto ``path``; an exception inside the ``with`` block (or
    :meth:`abort`) removes it and leaves ``path`` untouched.

    Blocks passed to :meth:`write` are float32 ``[channels, n]`` (1-D when mono). For the
    integer subtypes samples beyond [-1, 1] are clipped; the count and the peak are logged
    once, as a warning on the ``"automix"`` logger, when the file is closed. NaN or infinite
    samples raise ``ValueError``.

    WAV holds at most 4 GiB (about 3 h 22 min of stereo 32-bit float at 44.1 kHz). Given the
    expected length (``frames``), a WAV file that would pass that is written as RF64 (the WAV
    for long files; DAWs and libsndfile read it) and a warning says so; without it, a write
    that would pass the limit raises :class:`OutputError` and saves nothing (never a header
    that wraps round). ``rf64`` writes RF64 whatever the length (temporary files of any
    length). FLAC has no such limit.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        sample_rate: int,
        channels: int,
        *,
        subtype: str = "PCM_24",
        overwrite: bool = False,
        frames: int | None = None,
        rf64: bool = False,
    ) -> None:
        self._file: sf.SoundFile | None = None
        self._stack: contextlib.ExitStack | None = None
        fmt, sub = check_output_format(path, subtype)
        if rf64 and fmt == "WAV":
            fmt = "RF64"
        self.sample_rate = _check_rate(sample_rate)
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"channels must be a positive integer, got {channels!r}")
        self.channels = int(channels)
        self.subtype = sub
        self.path = check_output_path(path, overwrite=overwrite)  # before creating anything
        self._frame_bytes = self.channels * _SUBTYPE_BYTES[sub]
        if fmt == "WAV" and frames is not None and frames * self._frame_bytes > WAV_MAX_DATA_BYTES:
            fmt = "RF64"
            logger.warning("%s: %.1f GiB of audio is past the 4 GiB a WAV file holds; written as RF64 (a WAV for "
                           "long files, which DAWs read)", self.path, frames * self._frame_bytes / 2**30)
        self.format = fmt
        self.frames_written = 0
        self._clipped = 0
        self._clip_peak = 0.0
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_output(self.path, overwrite=overwrite))
        try:
            self._file = sf.SoundFile(
                str(tmp), "w", samplerate=self.sample_rate, channels=self.channels,
                subtype=sub, format=fmt,
            )
            self._file.software = SOFTWARE_TAG  # how a later run knows automix wrote it
        except BaseException as exc:
            self._discard()
            if isinstance(exc, _SF_ERRORS):
                raise OutputError(f"cannot write {self.path}: {_sf_reason(exc)}") from exc
            raise

    @property
    def closed(self) -> bool:
        """True once the file was closed (renamed into place) or discarded."""
        return self._stack is None

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (float32 ``[channels, n]``, or 1-D for a mono file)."""
        if self._file is None:
            raise ValueError(f"AudioWriter for {self.path} is closed")
        arr = _as_2d(block)
        if arr.shape[0] != self.channels:
            raise ValueError(f"block has {arr.shape[0]} channels, {self.path} has {self.channels}")
        if arr.shape[1] == 0:
            return
        if self.format == "WAV" and (self.frames_written + arr.shape[1]) * self._frame_bytes > WAV_MAX_DATA_BYTES:
            self.abort()
            raise OutputError(f"cannot write {self.path}: the audio passes the 4 GiB a WAV file holds; write "
                              ".flac, or give its length up front (then it is written as RF64); nothing was saved")
        peak = float(np.max(np.abs(arr)))
        if not math.isfinite(peak):
            raise ValueError(f"audio for {self.path} has NaN or infinite samples; nothing was saved")
        if self.subtype in _INTEGER_SUBTYPES and peak > 1.0:
            self._clipped += int(np.count_nonzero(np.abs(arr) > 1.0))
            self._clip_peak = max(self._clip_peak, peak)
            arr = np.clip(arr, -1.0, 1.0)
        try:
            self._file.write(np.ascontiguousarray(arr.T))
        except _SF_ERRORS as exc:
            raise OutputError(f"cannot write {self.path}: {_sf_reason(exc)}") from exc
        self.frames_written += arr.shape[1]

    def close(self) -> Path:
        """Finish the file and rename it onto :attr:`path`; returns :attr:`path`.

        Raises ``ValueError`` (and saves nothing) if no frames were written: an empty file
        is useless, and libsndfile cannot even reopen an empty FLAC file.
        """
        if self._stack is None:
            return self.path
        if self.frames_written == 0:
            self.abort()
            raise ValueError(f"no audio was written to {self.path}; nothing was saved")
        try:
            assert self._file is not None
            self._file.close()
            self._file = None
        except BaseException as exc:
            self._discard()
            if isinstance(exc, _SF_ERRORS):
                raise OutputError(f"cannot write {self.path}: {_sf_reason(exc)}") from exc
            raise
        stack, self._stack = self._stack, None
        stack.close()  # renames the temporary file onto self.path
        if self._clipped:
            logger.warning(
                "%s: clipped %d samples beyond [-1, 1] (peak %+.2f dBFS); lower the gain to avoid distortion",
                self.path, self._clipped, amplitude_db(self._clip_peak),
            )
        return self.path

    def abort(self) -> None:
        """Discard everything written: remove the temporary file, leave :attr:`path` as it was."""
        self._discard()

    def _discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(Exception):
                self._file.close()
            self._file = None
        stack, self._stack = self._stack, None
        if stack is not None:
            err = _Discarded()
            stack.__exit__(_Discarded, err, None)  # atomic_output removes its temp file

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "_stack", None) is not None:
            with contextlib.suppress(Exception):
                self._discard()


def write_audio(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    *,
    subtype: str = "PCM_24",
    overwrite: bool = False,
) -> Path:
    """Write ``audio`` (``[channels, frames]``, or 1-D mono) to a WAV or FLAC file atomically.

    The format follows the extension (``.wav``/``.wave`` -> WAV, ``.flac`` -> FLAC);
    ``subtype`` is ``"PCM_16"``, ``"PCM_24"`` or ``"FLOAT"`` (WAV only). For integer
    subtypes samples beyond [-1, 1] are clipped and a warning is logged. Raises
    :class:`OutputError` for an existing file (unless ``overwrite``), a missing folder or an
    unsupported extension/subtype, and ``ValueError`` for empty audio or NaN/Inf samples;
    in every error case nothing is written. Returns the absolute output path.
    """
    check_output_format(path, subtype)
    arr = _as_2d(audio)
    if arr.shape[1] == 0:
        raise ValueError(f"no audio to write to {path} (0 frames)")
    if not np.isfinite(arr).all():
        raise ValueError(f"audio for {path} has NaN or infinite samples; nothing was written")
    with AudioWriter(path, sample_rate, arr.shape[0], subtype=subtype, overwrite=overwrite,
                     frames=arr.shape[1]) as writer:
        writer.write(arr)
    return writer.path


# --------------------------------------------------------------------------------------------
# Streaming reader


class AudioStream:
    """Read one audio file block by block, resampled on the fly to ``sample_rate``.

    Attributes: ``info`` (:class:`AudioInfo` of the file), ``sample_rate`` (the output rate,
    the file's when not given), ``channels``, ``frames`` (the length at the output rate:
    exactly what :func:`read_audio` with that rate returns) and ``position`` (frames returned
    so far).

    :meth:`read` always returns exactly ``n`` frames, zero-padded after the end of the file,
    so several streams can be read in lock-step up to a common length. The output equals
    :func:`read_audio` (bit-exact without resampling; with resampling it uses
    ``soxr.ResampleStream``, which matches the one-shot resampler). Memory stays bounded:
    the file is read in blocks of ``block_frames`` frames.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        sample_rate: int | None = None,
        *,
        block_frames: int = _STREAM_BLOCK_FRAMES,
    ) -> None:
        self._file: sf.SoundFile | None = None
        self.info = probe(path)
        self.sample_rate = self.info.sample_rate if sample_rate is None else _check_rate(sample_rate)
        self.channels = self.info.channels
        if self.sample_rate == self.info.sample_rate:
            self.frames = self.info.frames
            self._resampler: soxr.ResampleStream | None = None
        else:
            self.frames = resampled_length(self.info.frames, self.info.sample_rate, self.sample_rate)
            self._resampler = soxr.ResampleStream(
                self.info.sample_rate, self.sample_rate, self.channels,
                dtype="float32", quality=_RESAMPLE_QUALITY,
            )
        if block_frames < 1:
            raise ValueError(f"block_frames must be >= 1, got {block_frames}")
        self._block_frames = int(block_frames)
        self.position = 0  # output frames returned so far
        self._file_position = 0  # input frames read from the file
        self._eof = False
        self._buffer = np.zeros((0, self.channels), dtype=np.float32)  # pending output, [n, C]
        try:
            self._file = sf.SoundFile(str(self.info.path))
        except _SF_ERRORS as exc:
            raise AudioError(
                f"{self.info.path} cannot be read ({_sf_reason(exc)}); check the file or re-export it"
            ) from exc

    def _fill(self) -> None:
        """Read one block from the file and append its (resampled) frames to the buffer."""
        assert self._file is not None
        try:
            block, finite = read_float32(self._file, self._block_frames)  # [n, C]
        except _SF_ERRORS as exc:
            raise AudioError(
                f"{self.info.path} cannot be read ({_sf_reason(exc)}); check the file or re-export it"
            ) from exc
        bad = None if finite else _first_nonfinite_frame(block, frame_axis=0)
        if bad is not None:
            raise _nonfinite_error(self.info.path, self._file_position + bad, self.info.sample_rate)
        self._file_position += block.shape[0]
        if block.shape[0] < self._block_frames or self._file_position >= self.info.frames:
            self._eof = True
        if self._resampler is not None:
            block = self._resampler.resample_chunk(block, last=self._eof)
        if block.shape[0]:
            self._buffer = np.concatenate([self._buffer, block]) if self._buffer.shape[0] else block

    def read(self, n: int) -> np.ndarray:
        """Return the next ``n`` frames as float32 ``[channels, n]`` (zeros past the end).

        Raises :class:`AudioError` if the file holds NaN/Inf samples in the frames read.
        """
        if self._file is None:
            raise ValueError(f"AudioStream for {self.info.path} is closed")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        out = np.zeros((self.channels, n), dtype=np.float32)
        wanted = min(n, max(self.frames - self.position, 0))
        while self._buffer.shape[0] < wanted and not self._eof:
            self._fill()
        take = min(wanted, self._buffer.shape[0])
        out[:, :take] = self._buffer[:take].T
        self._buffer = self._buffer[take:]
        self.position += n
        return out

    def close(self) -> None:
        """Close the file; further reads raise ``ValueError``."""
        if self._file is not None:
            self._file.close()
            self._file = None
        self._buffer = np.zeros((0, self.channels), dtype=np.float32)

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

