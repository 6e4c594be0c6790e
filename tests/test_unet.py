"""The Wave-U-Net core: size arithmetic, the paper configuration, variants, context."""

import pytest
import torch

from automix.models.mixer import PAPER_CONFIG, mix_wave_unet
from automix.models.unet import WaveUNet, WaveUNetConfig, center_crop, linear_upsample

SMALL = dict(levels=4, base_filters=6, growth=6)
VARIANTS = [
    dict(downsampling=d, upsampling=u, context=c)
    for d in ("decimate", "strided")
    for u in ("linear", "nearest", "learned")
    for c in (True, False)
]


def test_paper_configuration_figures():
    net = WaveUNet(PAPER_CONFIG)
    info = net.input_length_for(88_200)
    assert info.input_length == 121_843
    assert info.output_length == 89_093
    assert net.num_parameters() == 6_183_450  # "about 6.18 M"
    assert net.context == 16_375 and info.context == 16_375
    assert net.hop == 1024
    assert net.receptive_field == 2 * 16_375 + 2 * 1024 - 1
    # the defaults of the config are the paper's values
    assert WaveUNetConfig() == PAPER_CONFIG


def test_paper_configuration_forward_shape():
    model = mix_wave_unet()
    assert model.slots == ("kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "overhead_L", "overhead_R")
    net = model.net.eval()
    info = net.input_length_for(1)
    with torch.inference_mode():
        y = net(torch.zeros(1, 8, info.input_length))
    assert y.shape == (1, 2, info.output_length)


@pytest.mark.parametrize("levels,growth,stems", [(6, 12, 4), (3, 8, 1), (8, 16, 10)])
def test_other_sizes_from_the_same_config(levels, growth, stems):
    model = mix_wave_unet([f"s{i}" for i in range(stems)], levels=levels, growth=growth, base_filters=growth)
    net = model.net
    assert net.config.in_channels == stems and net.config.levels == levels
    for want in (1, 777, 5000):
        info = net.input_length_for(want)
        assert info.output_length >= want
        # smallest: one bottleneck sample less would not reach the wanted length
        assert net.input_length_for(max(1, info.output_length - net.hop)).output_length < info.output_length or info.output_length - net.hop < 1
        assert info.input_length - info.output_length == 2 * net.context
        y = net(torch.randn(2, stems, info.input_length))
        assert y.shape == (2, 2, info.output_length)


def test_invalid_length_is_refused_with_nearest_valid_lengths():
    net = WaveUNet(**SMALL)
    good = net.input_length_for(100).input_length
    with pytest.raises(ValueError, match="nearest valid lengths"):
        net(torch.zeros(1, 8, good + 1))
    with pytest.raises(ValueError, match=r"expected input \[batch, 8, samples\]"):
        net(torch.zeros(1, 3, good))


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="kernel_down"):
        WaveUNetConfig(kernel_down=4)
    with pytest.raises(ValueError, match="levels"):
        WaveUNetConfig(levels=0)
    with pytest.raises(ValueError, match="extra"):
        WaveUNetConfig(layers=3)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(str(x) for x in v.values()))
def test_variants_shapes_and_gradients(variant):
    net = WaveUNet(**SMALL, **variant)
    info = net.input_length_for(300)
    x = torch.randn(2, 8, info.input_length, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 2, info.output_length)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with torch.inference_mode():  # the fast inference path computes the same function
        assert torch.allclose(net(x.detach()), y.detach(), atol=1e-5)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v["context"]], ids=lambda v: f"{v['downsampling']}-{v['upsampling']}")
def test_dependency_window_is_within_the_receptive_field(variant):
    """Output j depends only on inputs in [j - (j mod hop), j + 2*context + hop - 1]."""
    net = WaveUNet(**SMALL, **variant).double()
    info = net.input_length_for(1)
    widest = 0
    for j in range(2 * net.hop, 3 * net.hop):  # one full period of phases
        x = torch.randn(1, 8, info.input_length + 4 * net.hop, dtype=torch.float64, requires_grad=True)
        net(x)[0, :, j].sum().backward()
        touched = torch.nonzero(x.grad[0].abs().sum(0)).flatten()
        lo, hi = touched.min().item(), touched.max().item()
        assert lo >= j - (j % net.hop) and hi <= j + 2 * net.context + net.hop - 1
        widest = max(widest, hi - lo + 1)
    assert 2 * net.context < widest <= net.receptive_field


def test_linear_upsample_matches_interpolate_align_corners():
    x = torch.randn(2, 3, 17)
    ref = torch.nn.functional.interpolate(x, size=33, mode="linear", align_corners=True)
    assert torch.allclose(linear_upsample(x, True), ref, atol=1e-6)
    x4 = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    assert torch.allclose(linear_upsample(x4, True).squeeze(2), ref, atol=1e-6)


def test_center_crop():
    x = torch.arange(10.0).view(1, 1, 10)
    assert center_crop(x, 6).flatten().tolist() == [2, 3, 4, 5, 6, 7]
    with pytest.raises(ValueError):
        center_crop(x, 7)


def test_channel_order_matters():
    """The network is not symmetric in its inputs: slot order is part of the model."""
    net = WaveUNet(**SMALL).eval()
    info = net.input_length_for(100)
    x = torch.randn(1, 8, info.input_length)
    with torch.inference_mode():
        a, b = net(x), net(x.flip(1))
    assert (a - b).abs().max() > 1e-4


def test_a_mixer_started_as_a_console_is_that_console():
    """init_as_console: the output is gain x pan law x the (cropped) input, exactly, before training."""
    from automix.models.mixer import init_as_console, mix_wave_unet
    from automix.models.unet import center_crop
    from daw_bridge.panlaw import pan_gains

    model = mix_wave_unet(levels=3, base_filters=4, growth=4)
    pans = [0.0, 0.0, -0.3, -0.6, 0.0, 0.6, -0.7, 0.7]
    init_as_console(model.net, pans, gain_db=6.0)
    x = torch.randn(1, 8, model.net.input_length_for(1000).input_length)
    with torch.no_grad():
        out = model.net(x)
    inp = center_crop(x.unsqueeze(2), out.shape[-1]).squeeze(2)[0]
    gains = torch.tensor([pan_gains(p) for p in pans], dtype=torch.float32) * 10 ** (6.0 / 20)
    torch.testing.assert_close(out[0], gains.T @ inp, rtol=1e-5, atol=1e-5)
