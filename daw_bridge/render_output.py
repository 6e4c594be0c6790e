"""Where the master output goes: the tail rule that ends it, and the sinks that keep it.

:class:`Output` takes float32 ``[2, n]`` master blocks and decides where the output ends
(content, then a fixed or automatic tail); sinks keep it in memory, in a temporary float32
file (two-pass normalisation) or in the output file. Tail rules: ``docs/rendering.md``.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from daw_bridge.audio import AudioWriter
from daw_bridge.errors import RenderError

#: ``tail_s="auto"``: the master output counts as silent at or below this level (dBFS) ...
AUTO_TAIL_THRESHOLD_DB: float = -90.0
#: ... once it has stayed there for this long (s) ...
AUTO_TAIL_QUIET_S: float = 0.5
#: ... and the tail is cut here (s after the content) at the latest.
AUTO_TAIL_MAX_S: float = 30.0


class Output:
    """Takes the master output as it comes, decides where it ends, feeds meters and a sink.

    Everything up to ``content`` (the end of the last heard track) is kept. After it, a
    fixed tail keeps exactly ``tail`` frames more; the automatic tail keeps going until
    the output has stayed at or below the threshold for ``AUTO_TAIL_QUIET_S`` and ends the
    output after its last louder frame (frames since that one wait in a small buffer until a
    louder frame proves them part of the tail), at most ``AUTO_TAIL_MAX_S`` after the content.
    """

    def __init__(self, *, rate: int, content: int, tail_s: float | str, emit: Callable[[np.ndarray], None]) -> None:
        self.content = content
        self.auto = tail_s == "auto"
        tail_frames = round((AUTO_TAIL_MAX_S if self.auto else float(tail_s)) * rate)
        self.limit = content + tail_frames
        self.threshold = 10.0 ** (AUTO_TAIL_THRESHOLD_DB / 20.0)
        self.quiet_needed = round(AUTO_TAIL_QUIET_S * rate)
        self._emit = emit
        self.received = 0
        self.emitted = 0
        self._quiet: list[np.ndarray] = []
        self._quiet_frames = 0
        self.done = content <= 0 and tail_frames == 0
        self.capped = False

    def _keep(self, chunk: np.ndarray) -> None:
        if chunk.shape[1]:
            self._emit(chunk)
            self.emitted += chunk.shape[1]

    def push(self, y: np.ndarray) -> None:
        if self.done:
            return
        start = self.received
        self.received += y.shape[1]
        if start < self.content:
            take = min(y.shape[1], self.content - start)
            self._keep(y[:, :take])
            y = y[:, take:]
            start += take
        if not y.shape[1]:
            if not self.auto and start >= self.limit:
                self.done = True
            return
        room = self.limit - start
        at_cap = y.shape[1] >= room
        if at_cap:
            y = y[:, :room]
        if not self.auto:
            self._keep(y)
            self.done = at_cap
            return
        loud = np.flatnonzero(np.max(np.abs(y), axis=0) > self.threshold)
        if loud.size:
            for part in self._quiet:
                self._keep(part)
            self._quiet, self._quiet_frames = [], 0
            last = int(loud[-1]) + 1
            self._keep(y[:, :last])
            y = y[:, last:]
        if y.shape[1]:
            self._quiet.append(y)
            self._quiet_frames += y.shape[1]
        if self._quiet_frames >= self.quiet_needed:
            self._quiet, self._quiet_frames = [], 0
            self.done = True
        elif at_cap:
            for part in self._quiet:
                self._keep(part)
            self._quiet, self._quiet_frames = [], 0
            self.done = True
            self.capped = True


class MemorySink:
    """Keeps the output in memory (float32 ``[2, frames]``)."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []

    def write(self, chunk: np.ndarray) -> None:
        self.parts.append(np.array(chunk, dtype=np.float32, copy=True))

    def audio(self) -> np.ndarray:
        if not self.parts:
            return np.zeros((2, 0), dtype=np.float32)
        return np.concatenate(self.parts, axis=1)

    def discard(self) -> None:
        self.parts = []


class TempSink:
    """Raw interleaved float32 in an anonymous temporary file (in ``folder``)."""

    def __init__(self, folder: Path) -> None:
        self.file = tempfile.TemporaryFile(prefix=".automix-render.", dir=folder)
        self.frames = 0

    def write(self, chunk: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(chunk.T, dtype=np.float32).tobytes())
        self.frames += chunk.shape[1]

    def blocks(self, block_frames: int) -> Iterator[np.ndarray]:
        """Read it back: float32 ``[2, n]`` blocks of at most ``block_frames`` frames."""
        self.file.flush()
        self.file.seek(0)
        left = self.frames
        while left:
            n = min(block_frames, left)
            data = np.frombuffer(self.file.read(8 * n), dtype=np.float32)
            if data.size != 2 * n:  # pragma: no cover - the file is ours
                raise RenderError("the temporary render file was cut short; check the disk")
            yield data.reshape(n, 2).T
            left -= n

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()


class FileSink:
    """Writes the output straight into the output file (one pass)."""

    def __init__(self, path: Path, rate: int, subtype: str, overwrite: bool, frames: int | None = None) -> None:
        # ``frames``: the most the output can hold (a WAV that could pass 4 GiB is written as RF64)
        self.writer = AudioWriter(path, rate, 2, subtype=subtype, overwrite=overwrite, frames=frames)

    def write(self, chunk: np.ndarray) -> None:
        self.writer.write(chunk)

    def discard(self) -> None:
        self.writer.abort()
