"""Run a Wave-U-Net over audio of any length, in tiles, with bounded memory.

Context-mode models (valid convolutions) are exactly shift-equivariant for shifts by
``2 ** levels`` samples. The input is conceptually padded with ``context`` zeros on the left
(so output sample ``t`` lines up with input sample ``t``) and cut into overlapping input tiles
whose starts are multiples of that hop; each tile's output is kept up to the next tile's start.
The result equals one forward pass over the whole padded input (to float rounding), with no
seam, while memory depends only on the tile size.

Same-mode models (padded convolutions) have no exact tiling; they are run with a margin of
half their receptive field on each side of every tile and the margins are discarded.

Audio is ``[channels, samples]`` float32 numpy at the model's sample rate.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import torch

from automix.models.unet import WaveUNet
from daw_bridge.errors import AutomixError

log = logging.getLogger("automix")

Precision = Literal["auto", "fp32", "bf16", "fp16"]
#: Default output samples per tile: large tiles spread the fixed context (32,750 input
#: samples for the paper model) over more output; 2**18 measured fastest on a 2-core CPU.
DEFAULT_TILE = 2**18


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"``: CUDA when present, else CPU; otherwise ``torch.device(device)``.

    Raises :class:`~daw_bridge.errors.AutomixError` for an unknown device or a CUDA device that
    this machine does not have.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise AutomixError(f"unknown device '{device}'; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise AutomixError(f"device '{device}' asked for, but CUDA is not available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise AutomixError(f"device '{device}' asked for, but this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type not in ("cpu", "mps", "xpu"):
        raise AutomixError(f"unsupported device '{device}'; use cpu, cuda or cuda:N")
    return dev


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU runs bf16 convolutions natively (AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - depends on the torch build
        return False


def pick_dtype(precision: Precision, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on GPUs that support it (else fp16) and on CPUs with native bf16, else fp32."""
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32


@dataclass(frozen=True)
class TilePlan:
    """How audio is cut into tiles for one model (all in samples)."""

    input_length: int  # samples fed per tile
    step: int  # output samples kept per tile (= distance between tile starts)
    left: int  # zeros conceptually prepended to the input
    offset: int  # first kept sample within a tile's output

    @classmethod
    def for_model(cls, net: WaveUNet, tile: int = DEFAULT_TILE) -> "TilePlan":
        hop = net.hop
        tile = max(int(tile), hop)
        if net.config.context:
            info = net.input_length_for(tile)
            step = (info.output_length // hop) * hop
            return cls(info.input_length, step, net.context, 0)
        margin = math.ceil((net.receptive_field // 2) / hop) * hop
        step = math.ceil(tile / hop) * hop
        return cls(step + 2 * margin, step, margin, margin)


class _Prepared:
    """A copy of the network on ``device`` in ``dtype``, ready for inference."""

    def __init__(self, net: WaveUNet, device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype
        if dtype == torch.float32 and next(net.parameters()).device == device:
            self.net = net.eval()
        else:
            clone = WaveUNet(net.config)
            clone.load_state_dict(net.state_dict())
            self.net = clone.to(device=device, dtype=dtype).eval()

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device, non_blocking=True).to(self.dtype)
        with torch.inference_mode():
            y = self.net(x)
        return y.float().cpu().numpy()


def run_tiled(
    net: WaveUNet,
    read: Callable[[int], np.ndarray],
    total: int,
    write: Callable[[np.ndarray], None],
    *,
    tile: int = DEFAULT_TILE,
    device: str | torch.device | None = None,
    precision: Precision = "auto",
    batch_size: int = 1,
    progress: Callable[[int], None] | None = None,
    background_io: bool = True,
) -> None:
    """Stream ``total`` samples through ``net``.

    ``read(n)`` must return ``[in_channels, n]`` float32 (zeros past the end of the audio);
    ``write(block)`` receives ``[out_channels, k]`` blocks, in order, whose lengths add up to
    ``total``; ``progress(k)`` is called with each block's length. ``batch_size`` tiles run
    per forward pass (useful on GPUs). With ``background_io`` the next input is read and the
    previous output written on one worker thread while the model runs (torch releases the GIL).
    """
    if total < 1:
        raise ValueError("nothing to process (total < 1)")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    plan = TilePlan.for_model(net, tile)
    dev = pick_device(device)
    run = _Prepared(net, dev, pick_dtype(precision, dev))
    channels = net.config.in_channels
    n_tiles = math.ceil(total / plan.step)
    batches = [range(b, min(b + batch_size, n_tiles)) for b in range(0, n_tiles, batch_size)]
    # padded-stream position each batch must reach, and so how much each read asks for
    ends = [plan.left] + [batch[-1] * plan.step + plan.input_length for batch in batches]
    sizes = [b - a for a, b in zip(ends, ends[1:])]

    def checked_read(n: int) -> np.ndarray:
        block = np.asarray(read(n), dtype=np.float32)
        if block.shape != (channels, n):
            raise ValueError(f"read({n}) returned {block.shape}, expected {(channels, n)}")
        return block

    pool = ThreadPoolExecutor(1, thread_name_prefix="automix-io") if background_io else None
    submit = pool.submit if pool else _run_now
    pending_writes = []
    try:
        buffer = np.zeros((channels, plan.left), dtype=np.float32)
        next_block = submit(checked_read, sizes[0])
        done = 0
        for i, batch in enumerate(batches):
            block = next_block.result()
            if i + 1 < len(batches):
                next_block = submit(checked_read, sizes[i + 1])
            buffer = np.concatenate([buffer, block], axis=1) if buffer.shape[1] else block
            tiles = [buffer[:, k * plan.step : k * plan.step + plan.input_length] for k in range(len(batch))]
            out = run(np.stack(tiles))
            for y in out:
                keep = min(plan.step, total - done)
                pending_writes.append(submit(write, np.ascontiguousarray(y[:, plan.offset : plan.offset + keep])))
                done += keep
                if progress is not None:
                    progress(keep)
            buffer = buffer[:, len(batch) * plan.step :]
            while pending_writes and pending_writes[0].done():
                pending_writes.pop(0).result()  # surface write errors early
        for f in pending_writes:
            f.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class _Done:
    """A finished 'future' for running I/O on the calling thread."""

    def __init__(self, fn, *args):
        self._value, self._error = None, None
        try:
            self._value = fn(*args)
        except BaseException as exc:  # re-raised by result(), like a Future
            self._error = exc

    def done(self) -> bool:
        return True

    def result(self):
        if self._error is not None:
            raise self._error
        return self._value


def _run_now(fn, *args) -> _Done:
    return _Done(fn, *args)


def process(
    net: WaveUNet,
    audio: np.ndarray | torch.Tensor,
    *,
    tile: int = DEFAULT_TILE,
    device: str | torch.device | None = None,
    precision: Precision = "fp32",
    batch_size: int = 1,
) -> np.ndarray:
    """Tiled inference on an in-memory ``[in_channels, T]`` array; returns ``[out_channels, T]``."""
    audio = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    total = audio.shape[1]
    pos = 0

    def read(n: int) -> np.ndarray:
        nonlocal pos
        block = audio[:, pos : pos + n]
        pos += n
        if block.shape[1] < n:
            block = np.pad(block, ((0, 0), (0, n - block.shape[1])))
        return block

    parts: list[np.ndarray] = []
    run_tiled(net, read, total, parts.append, tile=tile, device=device, precision=precision, batch_size=batch_size)
    return np.concatenate(parts, axis=1)


def process_whole(net: WaveUNet, audio: np.ndarray | torch.Tensor) -> np.ndarray:
    """One forward pass over the whole (padded) input, float32: the reference for tiling.

    The input gets ``context`` zeros on the left and enough on the right to reach a valid
    length; the first ``T`` output samples are returned. Memory grows with ``T``.
    """
    audio = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    total = audio.shape[1]
    if net.config.context:
        info = net.input_length_for(total)
        padded = torch.nn.functional.pad(audio, (net.context, info.input_length - net.context - total))
    else:
        n = math.ceil(total / net.hop) * net.hop
        padded = torch.nn.functional.pad(audio, (0, n - total))
    with torch.inference_mode():
        y = net.eval()(padded[None])[0]
    return y[:, :total].numpy()
