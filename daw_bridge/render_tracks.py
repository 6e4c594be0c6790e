"""Rendering tracks: one runner per heard track, run in the calling thread or by worker threads.

A :class:`TrackRunner` gives a track's stereo float32 ``[2, n]`` block for session frames
``[pos, pos + n)``; :class:`SerialPool` and :class:`ThreadPool` compute block ``k + 1`` of
every track while the caller masters block ``k``. Threads: ``docs/rendering.md``.
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from daw_bridge.audio import AudioStream
from daw_bridge.errors import AudioError, RenderError
from daw_bridge.render_chain import STALL_S, Chain, Frames, PluginFault, Slot
from daw_bridge.render_plan import TrackPlan


class TrackRunner:
    """Produces one track's stereo output block by block (used by one thread at a time)."""

    def __init__(self, plan: TrackPlan, slots: list[Slot], sample_rate: int, block: int) -> None:
        self.plan = plan
        self.chain = Chain(slots, block)
        self.block_frames = block
        self.rate = sample_rate
        self.stream = AudioStream(plan.info.path, sample_rate)
        self._out = Frames()
        self._fed = 0
        self._made = 0
        # what a healthy chain may hold back: its latency and a block waiting in each plugin's input
        self._allowance = self.chain.latency + (len(slots) + 1) * block + int(STALL_S * sample_rate)

    @property
    def slots(self) -> list[Slot]:
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
        self.chain = Chain([], self.block_frames)

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
                raise PluginFault(worst, f"{worst.name} stopped returning audio")
        return self._out.pop(m)




class SerialPool:
    """Runs every track in the calling thread."""

    threads = 1

    def __init__(self, runners: list[TrackRunner]) -> None:
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


class ThreadPool:
    """Persistent worker threads, each owning a fixed set of tracks (and their plugins).

    ``submit(k, pos, n)`` starts block ``k`` on every worker; ``collect(k)`` waits for it and
    returns the per-track blocks in track order. One block is in flight at a time, so the
    caller can work on block ``k`` while the workers compute ``k + 1``.
    """

    def __init__(self, runners: list[TrackRunner], threads: int) -> None:
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
            others = [e for e in errors if not isinstance(e, PluginFault)]
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
