"""Any-length inference: tiled equals whole, streaming, precision."""

import numpy as np
import pytest
import torch

from automix.inference.tiling import TilePlan, pick_dtype, process, process_whole, run_tiled
from automix.models.unet import WaveUNet

SMALL = dict(levels=4, base_filters=6, growth=6)


def _signal(channels, n, seed=0):
    rng = np.random.default_rng(seed)
    return (0.3 * rng.standard_normal((channels, n))).astype(np.float32)


@pytest.mark.parametrize(
    "variant",
    [dict(downsampling=d, upsampling=u) for d in ("decimate", "strided") for u in ("linear", "nearest", "learned")],
    ids=lambda v: f"{v['downsampling']}-{v['upsampling']}",
)
@pytest.mark.parametrize("tile", [16, 100, 1000])
def test_tiled_equals_whole(variant, tile):
    net = WaveUNet(**SMALL, **variant).eval()
    audio = _signal(8, 5003)
    whole = process_whole(net, audio)
    tiled = process(net, audio, tile=tile, precision="fp32")
    assert tiled.shape == whole.shape == (2, 5003)
    assert np.abs(tiled - whole).max() < 1e-5 * max(1.0, np.abs(whole).max())


def test_tiled_equals_whole_paper_model():
    """The paper configuration, tiles far smaller than the input."""
    from automix.models.mixer import mix_wave_unet

    net = mix_wave_unet().net.eval()
    audio = _signal(8, 70_000, seed=1)
    whole = process_whole(net, audio)
    tiled = process(net, audio, tile=20_000, precision="fp32")
    assert np.abs(tiled - whole).max() < 2e-5 * max(1.0, np.abs(whole).max())


def test_batched_tiles_equal_single_tiles():
    net = WaveUNet(**SMALL).eval()
    audio = _signal(8, 4000)
    a = process(net, audio, tile=200, batch_size=1)
    b = process(net, audio, tile=200, batch_size=5)
    assert np.abs(a - b).max() < 1e-5


def test_output_aligned_with_input():
    """A network computing 'mean of inputs' through the skip path keeps time alignment."""
    net = WaveUNet(**SMALL).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        # output conv: last 8 input channels are the concatenated (cropped) input
        net.output.weight[0, -8:, 0] = 1.0
        net.output.weight[1, -8, 0] = 1.0
    audio = _signal(8, 3000)
    y = process(net, audio, tile=64)
    assert np.allclose(y[0], audio.sum(0), atol=1e-5)
    assert np.allclose(y[1], audio[0], atol=1e-6)


def test_same_mode_tiling_close_to_whole():
    net = WaveUNet(**SMALL, context=False).eval()
    audio = _signal(8, 3000)
    whole = process_whole(net, audio)
    tiled = process(net, audio, tile=256)
    # no exact tiling in same mode; the margin makes it close in the interior
    assert np.abs(tiled - whole)[:, 600:-600].max() < 1e-4


def test_streaming_reads_bounded_blocks():
    net = WaveUNet(**SMALL).eval()
    plan = TilePlan.for_model(net, 256)
    total = 10_000
    reads, written = [], []

    def read(n):
        reads.append(n)
        return np.zeros((8, n), np.float32)

    run_tiled(net, read, total, written.append, tile=256)
    assert sum(b.shape[1] for b in written) == total
    assert max(reads) <= plan.input_length
    assert all(b.shape[0] == 2 for b in written)


def test_bf16_close_to_fp32():
    net = WaveUNet(**SMALL).eval()
    audio = _signal(8, 4000)
    a = process(net, audio, precision="fp32")
    b = process(net, audio, precision="bf16")
    err = np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(a**2))
    assert err < 0.02


def test_pick_dtype():
    cpu = torch.device("cpu")
    assert pick_dtype("fp32", cpu) == torch.float32
    assert pick_dtype("bf16", cpu) == torch.bfloat16
    assert pick_dtype("auto", cpu) in (torch.float32, torch.bfloat16)
