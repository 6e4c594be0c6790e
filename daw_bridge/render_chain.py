"""Plugin chains as the renderer drives them: every plugin always gets exactly one block size.

A :class:`Chain` of :class:`Slot` s takes ``[channels, block]`` float32 blocks and returns what
its last plugin put out (fewer frames while latency is withheld). A plugin that raises or
puts out NaN/Inf raises :class:`PluginFault`. Why one block size: ``docs/rendering.md``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from daw_bridge.errors import PluginError
from daw_bridge.plugin_info import one_line
from daw_bridge.plugins import make_plugin, reported_latency_samples
from daw_bridge.render_plan import plural
from daw_bridge.session import PluginSpec

_PROBE_FRAMES = 64  # silence a VST3 plugin processes once to be prepared at the session's rate
STALL_S = 10.0  # a chain that withholds this much more than its reported latency is broken


class PluginFault(Exception):
    """A plugin raised, or produced NaN/Inf, while processing (internal)."""

    def __init__(self, slot: Slot, message: str) -> None:
        super().__init__(message)
        self.slot = slot
        self.message = message


class Slot:
    """One plugin of a chain as the renderer drives it (by one thread at a time, never two)."""

    def __init__(
        self,
        plugin: Any,
        *,
        owner: str,
        track_index: int | None,
        position: int,
        label: str,
        sample_rate: int,
        start: int,
    ) -> None:
        self.plugin = plugin
        self.owner = owner  # "track 'snare'" or "master"
        self.track_index = track_index  # None for the master chain
        self.position = position  # 1-based place in the chain as written (bypassed ones count)
        self.label = label
        self.sample_rate = sample_rate
        self.start = start  # session frame of this stream's first frame (for messages)
        self.stereo = False  # feed a mono signal as [x, x]
        self.latency = 0
        self._first = True
        self._skip = 0
        self.frames_in = 0
        self.frames_out = 0

    @property
    def name(self) -> str:
        return f"{self.owner} plugin {self.position} ({self.label})"

    def _at(self, frame: int) -> str:
        return f"{(self.start + frame) / self.sample_rate:.2f} s"

    def process(self, x: np.ndarray) -> np.ndarray:
        """Process the next block ``[channels, n]``; the output may be shorter (latency)."""
        if self.stereo and x.shape[0] == 1:
            x = np.concatenate([x, x])
        n = x.shape[1]
        try:
            y = self.plugin.process(x, self.sample_rate, reset=False)
        except Exception as exc:  # a plugin's own error: name it, the caller decides
            raise PluginFault(self, f"{self.name} failed at {self._at(self.frames_out)}: {one_line(exc)}") from None
        if y.ndim == 1:
            y = y[np.newaxis, :]
        if self._first and n:
            self._first = False
            if self.latency and y.shape[1] == n:  # pedalboard did not withhold the latency: do it here
                self._skip = self.latency
        if self._skip and y.shape[1]:
            drop = min(self._skip, y.shape[1])
            y = y[:, drop:]
            self._skip -= drop
        if y.shape[1] and not math.isfinite(float(np.sum(y))):  # NaN and Inf survive a sum
            finite = np.isfinite(y)
            if not finite.all():
                frame = int(np.argmax(~finite.all(axis=0)))
                what = "NaN" if np.isnan(y[:, frame]).any() else "Inf"
                raise PluginFault(self, f"{self.name} produced {what} at {self._at(self.frames_out + frame)}")
        self.frames_in += n
        self.frames_out += y.shape[1]
        return y


def _prepare_vst3(slot: Slot, channels: int) -> str | None:
    """Let a VST3 plugin process a little silence at the session's rate; find its channels.

    Returns a problem line, or None. Sets ``slot.stereo`` for a mono signal the plugin
    refuses (it then gets ``[x, x]``).
    """
    rate = slot.sample_rate
    try:
        slot.plugin.process(np.zeros((channels, _PROBE_FRAMES), dtype=np.float32), rate)
        return None
    except ValueError as exc:
        if channels == 2:
            return f"{slot.name}: does not take stereo audio ({one_line(exc)})"
        first = exc
    except Exception as exc:
        return f"{slot.name}: failed on silence: {one_line(exc)}"
    try:
        slot.plugin.process(np.zeros((2, _PROBE_FRAMES), dtype=np.float32), rate)
    except Exception as exc:
        return f"{slot.name}: takes neither mono nor stereo audio ({one_line(first)}; {one_line(exc)})"
    slot.stereo = True
    return None


def build_chain(
    specs: Sequence[PluginSpec],
    *,
    owner: str,
    track_index: int | None,
    channels: int,
    sample_rate: int,
    start: int,
    base: Path,
    disabled: set[tuple[int, int]],
) -> tuple[list[Slot], list[str], list[str]]:
    """Plugin instances for a chain, prepared and reset (main thread). ``(slots, problems, notes)``."""
    slots: list[Slot] = []
    problems: list[str] = []
    notes: list[str] = []
    for position, spec in enumerate(specs, start=1):
        if spec.bypass or (track_index is not None and (track_index, position) in disabled):
            continue
        try:
            plugin = make_plugin(spec, base_dir=base)
        except PluginError as exc:
            problems.append(f"{owner} plugin {position} ({spec.label()}): {exc}")
            continue
        slot = Slot(
            plugin, owner=owner, track_index=track_index, position=position, label=spec.label(),
            sample_rate=sample_rate, start=start,
        )  # fmt: skip
        if spec.kind == "vst3":
            problem = _prepare_vst3(slot, channels)
            if problem is not None:
                problems.append(problem)
                continue
        try:
            plugin.reset()  # a fresh stream: pedalboard withholds the latency from here on
        except Exception as exc:
            problems.append(f"{slot.name}: cannot be reset: {one_line(exc)}")
            continue
        slot.latency = reported_latency_samples(plugin)
        if slot.stereo and channels == 1:
            channels = 2
            notes.append(f"{slot.name} takes stereo only: the mono track goes through it as [x, x] and stays stereo")
        if slot.latency:
            notes.append(f"{slot.name} reports {plural(slot.latency, 'sample')} of latency; compensated")
        slots.append(slot)
    return slots, problems, notes


class Frames:
    """A first-in first-out buffer of ``[channels, n]`` float32 blocks."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self.frames = 0

    def push(self, block: np.ndarray) -> None:
        if block.shape[1]:
            self._parts.append(block)
            self.frames += block.shape[1]

    def pop(self, n: int) -> np.ndarray:
        """The first ``n`` frames (``n <= frames``)."""
        parts = self._parts
        if len(parts) == 1 and parts[0].shape[1] == n:
            self._parts, self.frames = [], 0
            return parts[0]
        joined = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        rest = joined[:, n:]
        self._parts = [rest] if rest.shape[1] else []
        self.frames = rest.shape[1]
        return joined[:, :n]


class Chain:
    """Plugins in series, each always called with exactly ``block`` frames.

    pedalboard prepares a plugin for the size of the first block after ``reset()`` and
    prepares it again, clearing its state (delay lines, reverb, filter memories, LFO
    phases; a VST3 plugin is re-activated), whenever a larger block arrives. Calling every
    plugin with one fixed block size keeps chunked processing equal to one-shot processing,
    whatever that size. A plugin that withholds latency returns fewer frames at first: the
    next plugin waits in its input buffer until a whole block has gathered.
    """

    def __init__(self, slots: list[Slot], block: int) -> None:
        self.slots = slots
        self.block = block
        self._inputs = [Frames() for _ in slots]
        self.latency = sum(s.latency for s in slots)

    def feed(self, x: np.ndarray) -> list[np.ndarray]:
        """Take ``block`` frames in; return whatever the last plugin put out (possibly nothing)."""
        chunks = [x]
        for slot, inbox in zip(self.slots, self._inputs):
            for chunk in chunks:
                inbox.push(chunk)
            chunks = []
            while inbox.frames >= self.block:
                y = slot.process(inbox.pop(self.block))
                if y.shape[1]:
                    chunks.append(y)
        return chunks
