"""Render a mix plan (:class:`~daw_bridge.session.Session`) to a stereo mix with pedalboard.

``render(session, "mix.wav")`` reads every heard track block by block, runs its plugin chain
(built-in pedalboard effects and VST3 plugins), applies its gain and pan, sums the tracks,
runs the master chain, normalises the loudness under a true-peak ceiling and writes a WAV or
FLAC file atomically. Memory stays flat for any session length. Torch-free.

What a track goes through, in this order
----------------------------------------
1. **Source.** The file (resampled on the fly with :class:`daw_bridge.audio.AudioStream` when it
   is not at ``session.sample_rate``; a note names it); with ``channel`` set, that one channel.
   A mono file (or one channel) is a *mono source*, a stereo file a *stereo source*; a file
   with more channels needs ``channel``.
2. **Position.** The track starts at frame ``int(round(offset_s * sample_rate))`` (Python's
   ``round``: halves to even; the session writers place regions the same way). Before it the
   track is silent and its plugins are not run (so they see the track's audio from its first
   frame, as after a transport start); after the file ends they keep receiving silence, so
   effect tails ring out.
3. **Plugins**, in chain order, bypassed ones skipped, each fed with ``reset=False`` block by
   block (chunked processing equals pedalboard's one-shot processing). A built-in effect runs
   on whatever channel count reaches it. A VST3 plugin that refuses mono (the usual 2-in/2-out
   plugin) gets a mono signal as ``[x, x]``; the chain is stereo from that plugin on.
4. **Gain**: ``db_to_gain(gain_db)``.
5. **Pan**, chosen by the *source*, not by what the chain made of it:

   * a mono source: ``(l, r) = pan_gains(pan, session.pan_law_db)`` (constant power by
     default); the output is ``[l * y, r * y]`` for a mono chain output ``y`` and
     ``[l * y0, r * y1]`` when the chain turned it stereo. So a neutral stereo-only plugin
     changes nothing, and a stereo reverb on a mono track keeps its width, shaped by the law;
   * a stereo source: a linear balance (:func:`balance_gains`): ``pan < 0`` scales R by
     ``1 + pan``, ``pan > 0`` scales L by ``1 - pan``, the centre leaves both alone (Ardour's
     "Stereo Balance" panner).

6. **Mute and solo** as the session says: a muted track is silent; if any track is soloed,
   only the soloed, unmuted tracks are heard. Tracks not heard are not read, and their files
   and plugins are not checked.

Blocks and latency (pedalboard 0.9.26, measured)
------------------------------------------------
* pedalboard prepares a plugin for the size of the first block it gets after ``reset()`` and,
  when a *larger* block arrives later, prepares it again, which clears its state (a delay
  line, a reverb, filter memories, an LFO's phase; a VST3 plugin is re-activated). So every
  plugin here is always called with exactly ``block_frames`` frames: each track is read in
  its own blocks from its first frame, and a plugin whose predecessor returned fewer frames
  waits until a whole block has gathered. Chunked processing then equals pedalboard's
  one-shot processing. The output does not depend on ``block_frames``, with one exception
  at the level of 1e-9: JUCE's IIR filters (``HighpassFilter``, ``PeakFilter`` and the other
  filters) flush filter states under 1e-8 to zero at the end of each block, so a decaying
  filter tail (-180 dBFS) may differ in its last bits between block sizes.
* pedalboard withholds the latency a plugin reports in chunked processing once the plugin
  was ``reset()`` (measured with the ``AutomixDelay`` test plugin): its first blocks come
  back shorter and the stream stays aligned. The renderer resets every plugin after
  preparing it and feeds each track further until its block is complete, so a track through
  a plugin with latency L is sample-aligned with a dry track and is rendered L samples
  further. Should a plugin with latency ever return a whole first block (pedalboard did not
  withhold it), the renderer drops its first L samples itself. The master chain works the
  same way.

The sum, the master and the loudness
------------------------------------
Tracks are summed in track order in float32, the master chain runs on the sum, and the output
is metered while it streams (:class:`daw_bridge.loudness.LoudnessMeter`, BS.1770-4 integrated
loudness, and :class:`daw_bridge.loudness.TruePeakMeter`, 4x oversampled true peak). With
``normalize=True`` and ``session.target_lufs`` set, the gain is ``target - measured``, lowered
where needed so that the true peak stays at or under ``session.true_peak_db`` (a warning then
says by how much the target was missed; there is no hidden limiter: put a ``Limiter`` in the
master chain if you want one). The first pass then goes to a temporary float32 file beside
the output and a second pass writes ``gain * audio``; without a gain to apply the output is
written in one pass.

Effect tails
------------
After the last frame of the last heard track the render goes on with silence at the inputs:
``tail_s="auto"`` until the master output has stayed at or below -90 dBFS (before the
normalisation gain) for 0.5 s, at most 30 s (a warning says so when cut there); the output
then ends after its last sample above -90 dBFS. A number renders exactly that many seconds
(``round(tail_s * sample_rate)`` frames) more. The output's length is content + tail.

Threads
-------
Tracks are rendered by persistent worker threads, each owning a fixed set of tracks (and
their plugin instances, which no other thread touches; tracks are shared out by a rough
estimate of their work) and computing block ``k + 1`` of them while the calling thread sums,
masters, meters and writes block ``k``. Plugins are created, prepared and reset in the
calling thread (call :func:`render` from the main thread when the plan holds VST3 plugins:
pedalboard loads and resets those only there) and then used by their worker alone with
``reset=False``. Per-track blocks are summed in track order, so ``threads=1`` (everything in
the calling thread) and any other thread count give bit-identical output.

Plugin failures
---------------
Every plugin's output block is checked. A plugin that raises or produces NaN/Inf is named
(``track 'snare' plugin 2 (AutomixFaulty.vst3) produced NaN at 0.50 s``; plugins counted from
1 in the chain, times on the session's timeline). By default the render starts over with that
plugin bypassed on that track and the message goes into :attr:`RenderResult.warnings`; with
``strict=True`` it raises :class:`RenderError` and writes nothing. A master plugin that fails
always raises.

Known pedalboard limits: ``PitchShift`` and ``GSMFullRateCompressor`` do not give the same
output in chunked processing as in one call (pedalboard 0.9.26, whatever the block size);
the renderer gives their chunked output.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from daw_bridge.audio import (
    PEAK_FLOOR_DB,
    SILENCE_LUFS,
    AudioInfo,
    AudioStream,
    AudioWriter,
    amplitude_db,
    check_output_format,
    probe,
    resampled_length,
)
from daw_bridge.errors import AudioError, AutomixError, OutputError
from daw_bridge.outputs import check_output_path, reads
from daw_bridge.loudness import LoudnessMeter, TruePeakMeter, ceiling_gain

from daw_bridge.plugins import PluginError, check_plugins, make_plugin, reported_latency_samples
from daw_bridge.session import PluginSpec, Session, Track
from daw_bridge.panlaw import db_to_gain, pan_gains

__all__ = [
    "AUTO_TAIL_MAX_S",
    "AUTO_TAIL_QUIET_S",
    "AUTO_TAIL_THRESHOLD_DB",
    "DEFAULT_BLOCK_FRAMES",
    "RenderError",
    "RenderResult",
    "balance_gains",
    "render",
    "track_start_frame",
]

#: Frames rendered per block (per track and for the master).
DEFAULT_BLOCK_FRAMES: int = 65536
#: ``tail_s="auto"``: the master output counts as silent at or below this level (dBFS) ...
AUTO_TAIL_THRESHOLD_DB: float = -90.0
#: ... once it has stayed there for this long (s) ...
AUTO_TAIL_QUIET_S: float = 0.5
#: ... and the tail is cut here (s after the content) at the latest.
AUTO_TAIL_MAX_S: float = 30.0

_INTEGER_SUBTYPES = frozenset({"PCM_16", "PCM_24"})
_PROBE_FRAMES = 64  # silence a VST3 plugin processes once to be prepared at the session's rate
_STALL_S = 10.0  # a chain that withholds this much more than its reported latency is broken


class RenderError(AutomixError):
    """A mix plan cannot be rendered (missing or unreadable files, bad plugins, a failing plugin)."""


@dataclass
class RenderResult:
    """What :func:`render` did.

    ``path`` is the written file (``None`` when rendering to memory) and ``audio`` the mix as
    float32 ``[2, frames]`` when rendering to memory (``None`` when written to a file).
    ``frames``/``duration_s`` are the output's length at ``sample_rate`` Hz, ``content_s`` the
    part up to the end of the last heard track and ``tail_s`` what was rendered after it.
    Loudness in LUFS, peaks in dBTP, gain in dB: ``loudness_before_lufs`` and
    ``true_peak_before_db`` are the master output's as rendered, ``gain_db`` the normalisation
    gain applied, ``loudness_lufs`` and ``true_peak_db`` the output's (the measured values
    moved by ``gain_db``). ``warnings`` are problems worked around (a plugin rendered without,
    a missed target), ``notes`` what was done on the way (resampled files, latency
    compensated). ``seconds`` is the wall-clock time of the whole render, ``threads`` the
    number of worker threads used (1: serial). ``failed_plugins`` names each plugin that failed
    while processing and was left out (its message is in ``warnings`` too).
    """

    path: Path | None
    audio: np.ndarray | None
    sample_rate: int
    frames: int
    content_s: float
    tail_s: float
    loudness_before_lufs: float
    loudness_lufs: float
    gain_db: float
    true_peak_before_db: float
    true_peak_db: float
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    threads: int = 1
    failed_plugins: list[str] = field(default_factory=list)
    plan: Session | None = None  # the plan that was rendered, when the caller made it (rules)

    @property
    def duration_s(self) -> float:
        """Length of the output in seconds."""
        return self.frames / self.sample_rate

    @property
    def realtime_factor(self) -> float:
        """Seconds of audio rendered per second of wall-clock time (x real time)."""
        return self.duration_s / self.seconds if self.seconds > 0 else math.inf

    def summary(self) -> str:
        """One line for people: where, how long, how loud, how fast."""
        where = f"wrote {self.path}" if self.path is not None else "rendered to memory"
        gain = f", gain {self.gain_db:+.2f} dB" if self.gain_db else ""
        return (
            f"{where}: {self.duration_s:.2f} s at {self.sample_rate} Hz (tail {self.tail_s:.2f} s), "
            f"{self.loudness_lufs:.1f} LUFS, true peak {self.true_peak_db:.1f} dBTP{gain}; "
            f"{self.seconds:.1f} s, {self.realtime_factor:.0f}x real time"
        )


# --------------------------------------------------------------------------- small helpers


def balance_gains(pan: float) -> tuple[float, float]:
    """Left and right factors of a *stereo* source at ``pan`` (-1 .. +1): a linear balance.

    ``pan < 0`` scales the right channel by ``1 + pan``, ``pan > 0`` the left channel by
    ``1 - pan``; the centre is ``(1, 1)``, hard left ``(1, 0)``, hard right ``(0, 1)``.
    """
    if not -1.0 <= pan <= 1.0 or math.isnan(pan):
        raise ValueError(f"pan must be in [-1, 1], got {pan}")
    if pan < 0:
        return 1.0, 1.0 + pan
    return 1.0 - pan, 1.0


def track_start_frame(offset_s: float, sample_rate: int) -> int:
    """The frame a track starts at: ``int(round(offset_s * sample_rate))`` (halves to even)."""
    return int(round(offset_s * sample_rate))


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _problems_error(problems: Sequence[str]) -> RenderError:
    return RenderError(f"cannot render: {_plural(len(problems), 'problem')}: " + "; ".join(problems))


def _audible(session: Session) -> list[bool]:
    any_solo = any(t.solo for t in session.tracks)
    return [not t.mute and (t.solo or not any_solo) for t in session.tracks]


# --------------------------------------------------------------------------- plan


@dataclass
class _TrackPlan:
    """One heard track, resolved: where its audio comes from and how it is mixed."""

    index: int  # position in session.tracks
    track: Track
    info: AudioInfo
    start: int  # first frame on the session timeline
    frames: int  # length at the session rate
    stereo_source: bool
    coeffs: np.ndarray  # float32 [2, 1]: gain x pan (or balance) factors

    @property
    def owner(self) -> str:
        return f"track {self.track.name!r}"

    @property
    def end(self) -> int:
        return self.start + self.frames


def _check_format(out: Path, subtype: str) -> list[str]:
    try:
        check_output_format(out, subtype)
    except OutputError as exc:
        return [str(exc)]
    return []


def _preflight(
    session: Session, out: Path | None, *, overwrite: bool, subtype: str, base: Path
) -> tuple[list[_TrackPlan], list[str]]:
    """Check everything before any processing; return the heard tracks and notes.

    Raises one :class:`RenderError` listing every problem found.
    """
    problems: list[str] = []
    notes: list[str] = []
    if out is not None:
        try:
            check_output_path(out, overwrite=overwrite)
        except OutputError as exc:
            problems.append(str(exc))
        problems.extend(_check_format(out, subtype))
    rate = session.sample_rate
    heard = _audible(session)
    if not session.tracks:
        problems.append("the session has no tracks")
    elif not any(heard):
        problems.append("no track is heard (every track is muted, or the soloed ones are); nothing to render")
    silent_names = [t.name for t, h in zip(session.tracks, heard) if not h]
    if silent_names and any(heard):
        notes.append(f"not heard (muted or not soloed), not rendered: {', '.join(map(repr, silent_names))}")
    heard_session = session.model_copy(update={"tracks": [t for t, h in zip(session.tracks, heard) if h]})
    missing = set(heard_session.missing_files())
    plans: list[_TrackPlan] = []
    resampled: list[str] = []
    for index, (track, is_heard) in enumerate(zip(session.tracks, heard)):
        if not is_heard:
            continue
        owner = f"track {track.name!r}"
        path = Path(track.file)
        if path in missing:
            problems.append(f"{owner}: audio file {path} does not exist")
            continue
        try:
            info = probe(path)
        except AudioError as exc:
            problems.append(f"{owner}: {exc}")
            continue
        if track.channel is not None and track.channel >= info.channels:
            problems.append(
                f"{owner}: channel {track.channel} is beyond {path} ({_plural(info.channels, 'channel')}, "
                f"counted from 0)"
            )
            continue
        if track.channel is None and info.channels > 2:
            problems.append(f"{owner}: {path} has {info.channels} channels; pick one with channel (0-based)")
            continue
        stereo = track.channel is None and info.channels == 2
        gain = db_to_gain(track.gain_db)
        left, right = balance_gains(track.pan) if stereo else pan_gains(track.pan, session.pan_law_db)
        coeffs = np.array([[gain * left], [gain * right]], dtype=np.float32)
        if info.sample_rate != rate:
            resampled.append(f"{path.name} ({info.sample_rate} Hz)")
        stream_frames = _frames_at_rate(info, rate)
        plans.append(
            _TrackPlan(
                index=index,
                track=track,
                info=info,
                start=track_start_frame(track.offset_s, rate),
                frames=stream_frames,
                stereo_source=stereo,
                coeffs=coeffs,
            )
        )
    if resampled:
        notes.append(f"resampled to {rate} Hz on the fly: {', '.join(resampled)}")
    problems.extend(check_plugins(heard_session, base))
    if problems:
        raise _problems_error(problems)
    return plans, notes


def _frames_at_rate(info: AudioInfo, rate: int) -> int:
    if info.sample_rate == rate:
        return info.frames
    return resampled_length(info.frames, info.sample_rate, rate)


# --------------------------------------------------------------------------- plugins while rendering


class _PluginFault(Exception):
    """A plugin raised, or produced NaN/Inf, while processing (internal)."""

    def __init__(self, slot: _Slot, message: str) -> None:
        super().__init__(message)
        self.slot = slot
        self.message = message


class _Slot:
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
            raise _PluginFault(self, f"{self.name} failed at {self._at(self.frames_out)}: {_one_line(exc)}") from None
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
                raise _PluginFault(self, f"{self.name} produced {what} at {self._at(self.frames_out + frame)}")
        self.frames_in += n
        self.frames_out += y.shape[1]
        return y


def _prepare_vst3(slot: _Slot, channels: int) -> str | None:
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
            return f"{slot.name}: does not take stereo audio ({_one_line(exc)})"
        first = exc
    except Exception as exc:
        return f"{slot.name}: failed on silence: {_one_line(exc)}"
    try:
        slot.plugin.process(np.zeros((2, _PROBE_FRAMES), dtype=np.float32), rate)
    except Exception as exc:
        return f"{slot.name}: takes neither mono nor stereo audio ({_one_line(first)}; {_one_line(exc)})"
    slot.stereo = True
    return None


def _build_chain(
    specs: Sequence[PluginSpec],
    *,
    owner: str,
    track_index: int | None,
    channels: int,
    sample_rate: int,
    start: int,
    base: Path,
    disabled: set[tuple[int, int]],
) -> tuple[list[_Slot], list[str], list[str]]:
    """Plugin instances for a chain, prepared and reset (main thread). ``(slots, problems, notes)``."""
    slots: list[_Slot] = []
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
        slot = _Slot(
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
            problems.append(f"{slot.name}: cannot be reset: {_one_line(exc)}")
            continue
        slot.latency = reported_latency_samples(plugin)
        if slot.stereo and channels == 1:
            channels = 2
            notes.append(f"{slot.name} takes stereo only: the mono track goes through it as [x, x] and stays stereo")
        if slot.latency:
            notes.append(f"{slot.name} reports {_plural(slot.latency, 'sample')} of latency; compensated")
        slots.append(slot)
    return slots, problems, notes


class _Frames:
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


class _Chain:
    """Plugins in series, each always called with exactly ``block`` frames.

    pedalboard prepares a plugin for the size of the first block after ``reset()`` and
    prepares it again, clearing its state (delay lines, reverb, filter memories, LFO
    phases; a VST3 plugin is re-activated), whenever a larger block arrives. Calling every
    plugin with one fixed block size keeps chunked processing equal to one-shot processing,
    whatever that size. A plugin that withholds latency returns fewer frames at first: the
    next plugin waits in its input buffer until a whole block has gathered.
    """

    def __init__(self, slots: list[_Slot], block: int) -> None:
        self.slots = slots
        self.block = block
        self._inputs = [_Frames() for _ in slots]
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


class _TrackRunner:
    """Produces one track's stereo output block by block (used by one thread at a time)."""

    def __init__(self, plan: _TrackPlan, slots: list[_Slot], sample_rate: int, block: int) -> None:
        self.plan = plan
        self.chain = _Chain(slots, block)
        self.block_frames = block
        self.rate = sample_rate
        self.stream = AudioStream(plan.info.path, sample_rate)
        self._out = _Frames()
        self._fed = 0
        self._made = 0
        # what a healthy chain may hold back: its latency and a block waiting in each plugin's input
        self._allowance = self.chain.latency + (len(slots) + 1) * block + int(_STALL_S * sample_rate)

    @property
    def slots(self) -> list[_Slot]:
        return self.chain.slots

    @property
    def cost(self) -> int:
        """A rough work estimate for sharing tracks among threads: channels read and processed."""
        channels = 1 if self.plan.track.channel is not None else self.plan.info.channels
        cost = self.plan.info.channels * (2 if self.plan.info.sample_rate != self.rate else 1)
        for slot in self.slots:
            channels = 2 if slot.stereo else channels
            cost += 2 * channels
        return cost

    def close(self) -> None:
        self.stream.close()
        self.chain = _Chain([], self.block_frames)

    def block(self, pos: int, n: int) -> np.ndarray | None:
        """Stereo float32 ``[2, n]`` for session frames ``[pos, pos + n)``; None when silent."""
        plan = self.plan
        if pos + n <= plan.start:
            return None
        if not self.chain.slots and pos >= plan.end:
            return None
        lead = max(plan.start - pos, 0)
        y = self._pull(n - lead)
        out = np.empty((2, n), dtype=np.float32)
        if lead:
            out[:, :lead] = 0.0
        np.multiply(y, plan.coeffs, out=out[:, lead:])
        return out

    def _pull(self, m: int) -> np.ndarray:
        """The next ``m`` frames of the chain's output, ``[channels, m]``."""
        channel = self.plan.track.channel
        while self._out.frames < m:
            try:
                x = self.stream.read(self.block_frames)  # the track's own blocks, from its first frame
            except AudioError as exc:
                raise RenderError(f"{self.plan.owner}: {exc}") from None
            if channel is not None:
                x = x[channel : channel + 1]
            self._fed += x.shape[1]
            for y in self.chain.feed(x):
                self._out.push(y)
                self._made += y.shape[1]
            if self._fed - self._made > self._allowance:
                worst = max(self.slots, key=lambda s: s.frames_in - s.frames_out - s.latency)
                raise _PluginFault(worst, f"{worst.name} stopped returning audio")
        return self._out.pop(m)


# --------------------------------------------------------------------------- running tracks


class _SerialPool:
    """Runs every track in the calling thread."""

    threads = 1

    def __init__(self, runners: list[_TrackRunner]) -> None:
        self.runners = runners
        self._job: tuple[int, int, int] | None = None

    def submit(self, k: int, pos: int, n: int) -> None:
        self._job = (k, pos, n)

    def collect(self, k: int) -> list[np.ndarray | None]:
        assert self._job is not None and self._job[0] == k
        _, pos, n = self._job
        self._job = None
        return [runner.block(pos, n) for runner in self.runners]

    def close(self) -> None:
        self._job = None


class _ThreadPool:
    """Persistent worker threads, each owning a fixed set of tracks (and their plugins).

    ``submit(k, pos, n)`` starts block ``k`` on every worker; ``collect(k)`` waits for it and
    returns the per-track blocks in track order. One block is in flight at a time, so the
    caller can work on block ``k`` while the workers compute ``k + 1``.
    """

    def __init__(self, runners: list[_TrackRunner], threads: int) -> None:
        self.runners = runners
        cost = [r.cost for r in runners]
        groups: list[list[int]] = [[] for _ in range(threads)]
        load = [0] * threads
        for i in sorted(range(len(runners)), key=lambda i: (-cost[i], i)):  # longest first, to the least loaded
            w = min(range(threads), key=lambda w: (load[w], w))
            groups[w].append(i)
            load[w] += cost[i]
        self.threads = threads
        self._results: list[list[np.ndarray | None]] = [[None] * len(runners), [None] * len(runners)]
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._inboxes: list[queue.SimpleQueue] = []
        self._workers: list[threading.Thread] = []
        for w, group in enumerate(groups):
            inbox: queue.SimpleQueue = queue.SimpleQueue()
            worker = threading.Thread(
                target=self._work, args=(sorted(group), inbox), name=f"automix-render-{w}", daemon=True
            )
            self._inboxes.append(inbox)
            self._workers.append(worker)
            worker.start()

    def _work(self, group: list[int], inbox: queue.SimpleQueue) -> None:
        while True:
            job = inbox.get()
            if job is None:
                return
            k, pos, n = job
            results = self._results[k % 2]
            error: BaseException | None = None
            try:
                for i in group:
                    if self._cancel.is_set():
                        break
                    results[i] = self.runners[i].block(pos, n)
            except BaseException as exc:  # handed to the main thread
                error = exc
            self._done.put((k, error))

    def submit(self, k: int, pos: int, n: int) -> None:
        for inbox in self._inboxes:
            inbox.put((k, pos, n))

    def collect(self, k: int) -> list[np.ndarray | None]:
        errors: list[BaseException] = []
        for _ in self._workers:
            done_k, error = self._done.get()
            assert done_k == k
            if error is not None:
                errors.append(error)
        if errors:
            others = [e for e in errors if not isinstance(e, _PluginFault)]
            if others:
                raise others[0]
            # several tracks failed in this block: the first track in order, as a serial render would
            raise min(errors, key=lambda e: e.slot.track_index)  # type: ignore[attr-defined]
        return self._results[k % 2]

    def close(self) -> None:
        self._cancel.set()
        for inbox in self._inboxes:
            inbox.put(None)
        for worker in self._workers:
            worker.join()


# --------------------------------------------------------------------------- the output


class _Output:
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


class _MemorySink:
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


class _TempSink:
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


class _FileSink:
    def __init__(self, path: Path, rate: int, subtype: str, overwrite: bool) -> None:
        self.writer = AudioWriter(path, rate, 2, subtype=subtype, overwrite=overwrite)

    def write(self, chunk: np.ndarray) -> None:
        self.writer.write(chunk)

    def discard(self) -> None:
        self.writer.abort()


@dataclass
class _PassStats:
    frames: int
    loudness_lufs: float
    true_peak_db: float
    sample_peak: float
    capped: bool
    notes: list[str]


def _progress_bar(progress: bool, total_s: float, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=round(total_s, 2), desc=desc, unit="s", disable=not progress, leave=False,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}]",
    )  # fmt: skip


def _render_pass(
    session: Session,
    plans: list[_TrackPlan],
    *,
    base: Path,
    disabled: set[tuple[int, int]],
    block_frames: int,
    threads: int,
    tail_s: float | str,
    sink: Any,
    progress: bool,
) -> _PassStats:
    """Render the master output once into ``sink``, metering it. Plugins raise _PluginFault."""
    rate = session.sample_rate
    content = max(p.end for p in plans)
    runners: list[_TrackRunner] = []
    pool: _SerialPool | _ThreadPool | None = None
    problems: list[str] = []
    notes: list[str] = []
    bar = None
    try:
        for plan in plans:
            channels = 1 if plan.track.channel is not None else plan.info.channels
            slots, found, said = _build_chain(
                plan.track.plugins, owner=plan.owner, track_index=plan.index, channels=channels,
                sample_rate=rate, start=plan.start, base=base, disabled=disabled,
            )  # fmt: skip
            problems.extend(found)
            notes.extend(said)
            try:
                runners.append(_TrackRunner(plan, slots, rate, block_frames))
            except AudioError as exc:
                problems.append(f"{plan.owner}: {exc}")
        master_slots, found, said = _build_chain(
            session.master, owner="master", track_index=None, channels=2, sample_rate=rate, start=0,
            base=base, disabled=disabled,
        )  # fmt: skip
        problems.extend(found)
        notes.extend(said)
        if problems:
            raise _problems_error(problems)
        master = _Chain(master_slots, block_frames)

        loudness = LoudnessMeter(rate, 2)
        true_peak = TruePeakMeter(rate, 2)
        bar = _progress_bar(progress, content / rate, "rendering")

        def emit(chunk: np.ndarray) -> None:
            loudness.add(chunk)
            true_peak.add(chunk)
            sink.write(chunk)
            bar.update(round(chunk.shape[1] / rate, 6))

        output = _Output(rate=rate, content=content, tail_s=tail_s, emit=emit)
        workers = min(threads, len(runners))
        pool = _ThreadPool(runners, workers) if workers > 1 else _SerialPool(runners)
        give_up = output.limit + master.latency + (len(master.slots) + 1) * block_frames + int(_STALL_S * rate)
        k = 0
        pool.submit(0, 0, block_frames)
        while True:
            blocks = pool.collect(k)
            pos = k * block_frames
            pool.submit(k + 1, pos + block_frames, block_frames)  # the workers go on while we master
            mix: np.ndarray | None = None
            for block in blocks:  # track order, whatever the threads: bit-identical sums
                if block is None:
                    continue
                if mix is None:
                    mix = block
                else:
                    mix += block
            if mix is None:
                mix = np.zeros((2, block_frames), dtype=np.float32)
            try:
                mastered = master.feed(mix)
            except _PluginFault as fault:
                raise RenderError(f"{fault.message}; nothing was written") from None
            for y in mastered:
                output.push(y)
            if output.done:
                break
            k += 1
            if pos > give_up:
                raise RenderError(f"the master chain stopped returning audio after {output.received / rate:.2f} s")
        return _PassStats(
            frames=output.emitted,
            loudness_lufs=loudness.integrated(),
            true_peak_db=true_peak.true_peak_db(),
            sample_peak=true_peak.sample_peak,
            capped=output.capped,
            notes=notes,
        )
    finally:
        if pool is not None:
            pool.close()
        for runner in runners:
            runner.close()
        if bar is not None:
            bar.close()


# --------------------------------------------------------------------------- render


@reads("session")
def render(
    session: Session,
    out: str | os.PathLike[str] | None = None,
    *,
    overwrite: bool = False,
    block_frames: int = DEFAULT_BLOCK_FRAMES,
    threads: int | None = None,
    tail_s: float | Literal["auto"] = "auto",
    normalize: bool = True,
    subtype: str = "PCM_24",
    progress: bool = False,
    strict: bool = False,
    base_dir: str | os.PathLike[str] | None = None,
) -> RenderResult:
    """Render ``session`` (a mix plan) to a stereo mix; see the module notes for every rule.

    ``out``: a ``.wav`` or ``.flac`` file (written atomically; an existing one is refused
    unless ``overwrite``), or ``None`` to get the audio back in :attr:`RenderResult.audio`.
    ``subtype``: ``"PCM_16"``, ``"PCM_24"`` or ``"FLOAT"`` (WAV only). ``block_frames``:
    frames per processing block (the output does not depend on it). ``threads``: worker
    threads for the tracks (default one per core, at most one per track; 1 renders in the
    calling thread; the output does not depend on it). ``tail_s``: ``"auto"`` or seconds
    rendered after the content. ``normalize``: apply ``session.target_lufs`` under
    ``session.true_peak_db``. ``progress``: a progress bar on stderr. ``strict``: raise on a
    plugin that fails while processing instead of rendering without it. ``base_dir``: where
    relative paths in the session are resolved (default the session file's folder).

    Raises :class:`RenderError` listing every problem found before processing (missing or
    unreadable audio, a channel beyond a file's channels, plugins that cannot be loaded or
    set, the output path) and for a master plugin (or, with ``strict``, any plugin) that
    fails while processing; nothing is written then.
    """
    started = time.perf_counter()
    if isinstance(block_frames, bool) or not isinstance(block_frames, (int, np.integer)) or block_frames < 1:
        raise ValueError(f"block_frames must be a positive integer, got {block_frames!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    if tail_s != "auto" and (
        isinstance(tail_s, bool) or not isinstance(tail_s, (int, float)) or not math.isfinite(tail_s) or tail_s < 0
    ):
        raise ValueError(f"tail_s must be 'auto' or a number of seconds >= 0, got {tail_s!r}")
    subtype = str(subtype).upper()
    base = Path(base_dir).expanduser().absolute() if base_dir is not None else session.base_dir
    resolved = session.resolve_paths(base)
    out_path = Path(out).expanduser().absolute() if out is not None else None
    plans, notes = _preflight(resolved, out_path, overwrite=overwrite, subtype=subtype, base=base)
    rate = resolved.sample_rate
    content = max(p.end for p in plans)
    workers = min(threads if threads is not None else (os.cpu_count() or 1), len(plans))
    target = resolved.target_lufs if normalize else None
    two_passes = out_path is not None and target is not None
    warnings: list[str] = []
    failed: list[str] = []
    disabled: set[tuple[int, int]] = set()

    while True:
        if out_path is None:
            sink: Any = _MemorySink()
        elif two_passes:
            sink = _TempSink(out_path.parent)
        else:
            sink = _FileSink(out_path, rate, subtype, overwrite)
        try:
            stats = _render_pass(
                resolved, plans, base=base, disabled=disabled, block_frames=int(block_frames),
                threads=workers, tail_s=tail_s, sink=sink, progress=progress,
            )  # fmt: skip
        except _PluginFault as fault:
            sink.discard()
            if strict:
                raise RenderError(f"{fault.message}; nothing was written (strict)") from None
            disabled.add((fault.slot.track_index, fault.slot.position))  # type: ignore[arg-type]
            warnings.append(f"{fault.message}; rendered {fault.slot.owner} without it")
            failed.append(fault.message)
            continue
        except BaseException:
            sink.discard()
            raise
        break
    notes.extend(stats.notes)
    if stats.capped:
        warnings.append(
            f"the effect tail was still above {AUTO_TAIL_THRESHOLD_DB:.0f} dBFS {AUTO_TAIL_MAX_S:.0f} s after the "
            f"end of the tracks; cut there (give tail_s to choose)"
        )

    # ------------------------------------------------------------ loudness and ceiling
    lufs, peak = stats.loudness_lufs, stats.true_peak_db
    ceiling = resolved.true_peak_db
    gain_db = 0.0
    if target is not None:
        if lufs <= SILENCE_LUFS:
            warnings.append("the mix is silent (at or below -70 LUFS); it was not normalised")
        else:
            gain_db, missed = ceiling_gain(lufs, peak, target, ceiling)
            if missed is not None:
                warnings.append(
                    f"loudness target {target:.1f} LUFS missed by {missed:.2f} LU: the true-peak ceiling "
                    f"{ceiling:.1f} dBTP allows {lufs + gain_db:.2f} LUFS (true peak {peak:.2f} dBTP at "
                    f"{lufs:.2f} LUFS); put a Limiter in the master chain to get louder"
                )
    elif peak > ceiling:
        why = "normalize=False" if not normalize else "the session has no target_lufs"
        warnings.append(f"true peak {peak:+.2f} dBTP is above the ceiling {ceiling:.1f} dBTP (level left as is: {why})")
    scale = np.float32(db_to_gain(gain_db))
    if out_path is not None and subtype in _INTEGER_SUBTYPES and stats.sample_peak * float(scale) > 1.0:
        warnings.append(
            f"the mix peaks at {amplitude_db(stats.sample_peak * float(scale)):+.2f} dBFS: samples beyond full scale were "
            f"clipped in the {subtype} file; lower the gains, set target_lufs, or add a Limiter"
        )

    # ------------------------------------------------------------ output
    audio: np.ndarray | None = None
    if out_path is None:
        audio = sink.audio()
        if gain_db:
            audio *= scale
    elif two_passes:
        bar = _progress_bar(progress, stats.frames / rate, "writing")
        try:
            with AudioWriter(out_path, rate, 2, subtype=subtype, overwrite=overwrite) as writer:
                for block in sink.blocks(int(block_frames)):
                    writer.write(block * scale)
                    bar.update(round(block.shape[1] / rate, 6))
        finally:
            bar.close()
            sink.discard()
    else:
        sink.writer.close()
    return RenderResult(
        path=out_path,
        audio=audio,
        sample_rate=rate,
        frames=stats.frames,
        content_s=content / rate,
        tail_s=(stats.frames - content) / rate,
        loudness_before_lufs=lufs,
        loudness_lufs=lufs + gain_db if lufs > SILENCE_LUFS else SILENCE_LUFS,
        gain_db=gain_db,
        true_peak_before_db=peak,
        true_peak_db=peak + gain_db if peak > PEAK_FLOOR_DB else PEAK_FLOOR_DB,
        warnings=warnings,
        notes=notes,
        seconds=time.perf_counter() - started,
        threads=workers,
        failed_plugins=failed,
    )
