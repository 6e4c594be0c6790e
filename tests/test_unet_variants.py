"""Wave-U-Net variants on the one core: size arithmetic, exact tiling, cards, recipes."""

import json

import numpy as np
import pytest
import torch

from automix.models.checkpoint import Model, ModelCard, load_model, save_model
from automix.inference.tiling import process, process_whole
from automix.models.mixer import PAPER_CONFIG, mix_wave_unet
from automix.train.recipe import list_recipes, load_recipe
from automix.models.unet import ChannelGroupNorm, WaveUNet, WaveUNetConfig

TINY = dict(levels=3, base_filters=8, growth=8, kernel_down=7, kernel_up=3)
#: one entry per option the issue asks for, plus a combination of all of them
VARIANTS = {
    "paper": {},
    "strided": dict(downsampling="strided"),
    "strided-k5": dict(downsampling="strided", strided_kernel=5),
    "nearest": dict(upsampling="nearest"),
    "learned": dict(upsampling="learned"),
    "dilated-list": dict(dilation=(1, 3, 2)),
    "dilated-list-bottleneck": dict(dilation=(2, 1, 3, 2)),
    "dilated-exp2": dict(dilation="exp2"),
    "dilated-exp2-cap2": dict(dilation="exp2", dilation_cap=2),
    "multiscale": dict(multiscale_input=True),
    "multiscale-strided": dict(multiscale_input=True, downsampling="strided"),
    "groupnorm": dict(norm="group", norm_groups=2),
    "batchnorm": dict(norm="batch"),
    "prelu": dict(activation="prelu"),
    "all": dict(downsampling="strided", upsampling="learned", dilation="exp2", multiscale_input=True,
                norm="group", activation="prelu"),
    "all-batchnorm": dict(downsampling="strided", upsampling="nearest", dilation=(1, 2, 2, 1), multiscale_input=True,
                          norm="batch", activation="prelu"),
}
SHAPES = {"mixer": (8, 2), "separator": (2, 8)}


def _net(variant: dict, shape: str = "mixer", **extra) -> WaveUNet:
    c_in, c_out = SHAPES[shape]
    torch.manual_seed(0)
    net = WaveUNet(**TINY, **variant, in_channels=c_in, out_channels=c_out, **extra)
    _randomise_norms(net)
    return net.eval()


def _randomise_norms(net: WaveUNet) -> None:
    """Give norms and PReLUs non-trivial parameters and statistics (fresh ones are near identity)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, ChannelGroupNorm)):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.copy_(0.05 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
            if isinstance(m, torch.nn.PReLU):
                m.weight.copy_(0.4 * torch.rand(m.weight.shape, generator=gen))


def expected_context(cfg: WaveUNetConfig) -> int:
    """Context by hand: level i runs at 1/2**(i-1) of the input rate, so a convolution there of
    kernel k and dilation d costs 2**(i-1) * (k - 1) * d input samples (split over both sides)."""
    total = 0
    for i in range(1, cfg.levels + 1):
        d = cfg.dilation_of(i)
        total += 2 ** (i - 1) * ((cfg.kernel_down - 1) + (cfg.kernel_up - 1)) * d
        if cfg.downsampling == "strided":
            total += 2 ** (i - 1) * (cfg.strided_kernel - 1)
    total += 2**cfg.levels * (cfg.kernel_down - 1) * cfg.dilation_of(cfg.levels + 1)
    total += cfg.kernel_output - 1
    assert total % 2 == 0
    return total // 2


def _signal(channels: int, n: int, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal((channels, n))).astype(np.float32)


# ------------------------------------------------------------------------------ defaults


def test_defaults_are_the_papers_and_paper_weights_keep_their_keys():
    cfg = WaveUNetConfig()
    assert cfg == PAPER_CONFIG
    assert (cfg.dilation, cfg.multiscale_input, cfg.norm, cfg.activation) == (None, False, "none", "leaky_relu")
    assert (cfg.downsampling, cfg.upsampling) == ("decimate", "linear")
    assert [cfg.dilation_of(i) for i in range(1, 12)] == [1] * 11
    keys = list(WaveUNet(**TINY).state_dict())
    # conv weights and biases only, at the same keys as before the variants existed
    assert keys[:4] == ["down.0.0.weight", "down.0.0.bias", "down.1.0.weight", "down.1.0.bias"]
    assert all(k.endswith(".0.weight") or k.endswith(".0.bias") or k.startswith("output.") for k in keys)
    assert len(keys) == 2 * (3 + 1 + 3) + 2


def test_shipped_checkpoint_loads_with_paper_defaults():
    model = load_model("automix/pretrained/drums.safetensors")
    cfg = model.net.config
    assert (cfg.dilation, cfg.multiscale_input, cfg.norm, cfg.downsampling, cfg.upsampling) == (
        None, False, "none", "decimate", "linear")
    assert model.net.num_parameters() == model.card.parameters


# ------------------------------------------------------------------------------ config


def test_dilation_schedules():
    cfg = WaveUNetConfig(levels=6, dilation="exp2", dilation_cap=8)
    assert [cfg.dilation_of(i) for i in range(1, 8)] == [1, 2, 4, 8, 8, 8, 8]
    cfg = WaveUNetConfig(levels=3, dilation=(1, 3, 2))
    assert [cfg.dilation_of(i) for i in range(1, 5)] == [1, 3, 2, 1]  # bottleneck defaults to 1
    cfg = WaveUNetConfig(levels=3, dilation=[2, 1, 3, 4])
    assert cfg.dilation == (2, 1, 3, 4) and cfg.dilation_of(4) == 4
    with pytest.raises(ValueError, match="dilation has 2 factors; give one per level"):
        WaveUNetConfig(levels=3, dilation=(1, 2))
    with pytest.raises(ValueError, match="dilation"):
        WaveUNetConfig(levels=2, dilation=(1, 0))
    with pytest.raises(ValueError, match="dilation"):
        WaveUNetConfig(dilation="exp3")
    with pytest.raises(ValueError, match="norm"):
        WaveUNetConfig(norm="layer")


def test_dilation_widens_the_receptive_field_without_weights():
    # by hand: filters 8, 16, 24, bottleneck 32; kernels 7 down, 3 up
    # weights: 456 + 912 + 2712 (down) + 5408 (bottleneck) + 4056 + 1936 + 584 (up) + 34 (output)
    # 2 x context: 2**(i-1) * (6 + 2) * d_i over levels i = 1..3, plus 2**3 * 6 * d_bottleneck
    #   plain:       8 * (1 + 2 + 4)          + 48     = 104
    #   exp2 (1, 2, 4; bottleneck 8): 8 * (1 + 4 + 16) + 48 * 8 = 552
    plain, dilated = WaveUNet(**TINY), WaveUNet(**TINY, dilation="exp2")
    assert plain.num_parameters() == dilated.num_parameters() == 16_098
    assert (plain.context, dilated.context) == (52, 276)
    assert (plain.receptive_field, dilated.receptive_field) == (2 * 52 + 15, 2 * 276 + 15)


@pytest.mark.parametrize("channels,groups,want", [(16, 4, 4), (24, 4, 4), (6, 4, 3), (10, 4, 2), (4, 4, 2), (3, 4, 1), (7, 4, 1)])
def test_channel_groups_keep_two_or_more_channels_per_group(channels, groups, want):
    assert WaveUNetConfig(norm="group", norm_groups=groups).channel_groups(channels) == want


def test_channel_group_norm_is_per_time_step():
    """Statistics over channel groups at each time step: a crop of the input gives the crop of
    the output (no statistic spans time), and one group is a layer norm over channels."""
    torch.manual_seed(0)
    x = torch.randn(2, 12, 1, 50) * 3 + 1
    norm = ChannelGroupNorm(12, 3)
    y = norm(x)
    assert torch.allclose(norm(x[..., 10:30]), y[..., 10:30], atol=1e-6)
    g = y.reshape(2, 3, 4, 50)
    assert torch.allclose(g.mean(2), torch.zeros(2, 3, 50), atol=1e-5)
    assert torch.allclose(g.var(2, unbiased=False), torch.ones(2, 3, 50), atol=1e-3)
    one = ChannelGroupNorm(12, 1)
    ref = torch.nn.functional.layer_norm(x.squeeze(2).transpose(1, 2), (12,), eps=1e-5).transpose(1, 2)
    assert torch.allclose(one(x).squeeze(2), ref, atol=1e-5)
    # torch's GroupNorm would not do: its statistics span time, so a crop changes the output
    gn = torch.nn.GroupNorm(3, 12)
    assert not torch.allclose(gn(x.squeeze(2))[..., 10:30], gn(x.squeeze(2)[..., 10:30]), atol=1e-3)


# ------------------------------------------------------------------------------ size arithmetic


@pytest.mark.parametrize("name", VARIANTS)
def test_size_arithmetic_is_exact(name):
    net = _net(VARIANTS[name])
    assert net.context == expected_context(net.config)
    assert net.receptive_field == 2 * net.context + 2 * net.hop - 1
    assert net.hop == 2**TINY["levels"]
    for want in (1, 37, 500):
        info = net.input_length_for(want)
        assert info.output_length >= want > info.output_length - net.hop
        assert info.input_length - info.output_length == 2 * net.context == 2 * info.context
        assert net.output_length(info.input_length) == info.output_length
        with pytest.raises(ValueError, match="nearest valid lengths"):
            net.output_length(info.input_length + 1)
        with torch.inference_mode():
            y = net(torch.randn(2, 8, info.input_length))
        assert y.shape == (2, 2, info.output_length)


@pytest.mark.parametrize("name", ["dilated-exp2", "multiscale", "multiscale-strided", "groupnorm", "all"])
def test_dependency_window_is_within_the_receptive_field(name):
    """Output j depends only on inputs in [j - (j mod hop), j + 2 * context + hop - 1]."""
    net = _net(VARIANTS[name]).double()
    info = net.input_length_for(1)
    widest = 0
    for j in range(2 * net.hop, 3 * net.hop):
        x = torch.randn(1, 8, info.input_length + 4 * net.hop, dtype=torch.float64, requires_grad=True)
        net(x)[0, :, j].sum().backward()
        touched = torch.nonzero(x.grad[0].abs().sum(0)).flatten()
        lo, hi = touched.min().item(), touched.max().item()
        assert lo >= j - (j % net.hop) and hi <= j + 2 * net.context + net.hop - 1
        widest = max(widest, hi - lo + 1)
    assert 2 * net.context < widest <= net.receptive_field


@pytest.mark.parametrize("name", VARIANTS)
def test_same_mode_shapes_and_gradients(name):
    torch.manual_seed(0)
    net = WaveUNet(**TINY, **VARIANTS[name], context=False).train()
    x = torch.randn(2, 8, 5 * net.hop, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 2, 5 * net.hop)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize("name", VARIANTS)
def test_training_and_inference_paths_agree(name):
    """Gradients reach every weight; in eval mode the no-grad fast path computes the same function."""
    net = _net(VARIANTS[name])
    info = net.input_length_for(100)
    x = torch.randn(2, 8, info.input_length, requires_grad=True)
    y = net(x)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with torch.inference_mode():
        assert torch.allclose(net(x.detach()), y.detach(), atol=1e-5)


# ------------------------------------------------------------------------------ tiling


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", VARIANTS)
def test_tiled_equals_whole(name, shape):
    net = _net(VARIANTS[name], shape)
    c_in, c_out = SHAPES[shape]
    audio = _signal(c_in, 1201)
    whole = process_whole(net, audio)
    scale = max(1.0, np.abs(whole).max())
    assert whole.shape == (c_out, 1201) and np.abs(whole).max() > 1e-3
    for tile in (4 * net.hop, 300):  # 38 and 4 tiles: many seams, every phase of the hop
        tiled = process(net, audio, tile=tile, precision="fp32")
        assert tiled.shape == whole.shape
        assert np.abs(tiled - whole).max() < 1e-5 * scale, f"tile {tile}"


def test_batch_norm_uses_running_statistics_at_inference():
    """In eval mode a batch-norm net's output for one item does not depend on the rest of the batch."""
    net = _net(VARIANTS["batchnorm"])
    info = net.input_length_for(64)
    x = torch.randn(3, 8, info.input_length)
    with torch.inference_mode():
        assert torch.allclose(net(x)[:1], net(x[:1]), atol=1e-6)
    net.train()
    before = net.down[0][1].running_mean.clone()
    net(x)
    assert not torch.equal(before, net.down[0][1].running_mean)  # training updates the statistics


# ------------------------------------------------------------------------------ checkpoints and recipes


@pytest.mark.parametrize("name", VARIANTS)
def test_checkpoint_round_trips_with_its_card(name, tmp_path):
    model = mix_wave_unet(name=f"variant-{name}", **TINY, **VARIANTS[name])
    net = model.net
    if net.config.norm == "batch":  # running statistics are part of the checkpoint
        net.train()
        with torch.no_grad():
            net(torch.randn(2, 8, net.input_length_for(64).input_length))
    _randomise_norms(net)
    net.eval()
    weights = save_model(model, tmp_path / name)
    card = json.loads((tmp_path / f"{name}.json").read_text())
    for key, value in VARIANTS[name].items():  # the card records the variant literally
        assert card["config"][key] == (list(value) if isinstance(value, tuple) else value)
    assert card["parameters"] == net.num_parameters()
    loaded = load_model(weights)
    assert loaded.net.config == net.config and loaded.card.config == net.config
    state, back = net.state_dict(), loaded.net.state_dict()
    assert list(state) == list(back) and all(torch.equal(state[k], back[k]) for k in state)
    audio = _signal(8, 1500, seed=2)
    assert np.array_equal(process_whole(net, audio), process_whole(loaded.net, audio))


def test_separator_checkpoint_round_trips_with_its_card(tmp_path):
    net = _net(VARIANTS["all"], "separator")
    slots = ["kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "overhead_L", "overhead_R"]
    card = ModelCard(name="sep-variant", task="separate", config=net.config, input_names=["L", "R"], output_names=slots)
    save_model(Model(net, card), tmp_path / "sep")
    loaded = load_model(tmp_path / "sep.json")
    assert loaded.task == "separate" and loaded.net.config == net.config
    audio = _signal(2, 1200, seed=3)
    assert np.array_equal(process_whole(net, audio), process_whole(loaded.net, audio))


VARIANT_RECIPES = sorted(n for n in list_recipes() if n.startswith("variant-"))


def test_variant_recipes_share_one_budget_and_differ_in_one_architecture_line():
    assert {"variant-paper", "variant-strided", "variant-nearest", "variant-learned", "variant-dilated",
            "variant-multiscale", "variant-groupnorm", "variant-batchnorm", "variant-prelu"} <= set(VARIANT_RECIPES)
    base = load_recipe("variant-paper").model_dump(mode="json")
    assert base["model"]["config"] == {} and base["data"]["target"] == "dry" and base["data"]["kind"] == "generated"
    small = load_recipe("mix-small-cpu").model_dump(mode="json")
    assert base["data"]["generate"] == small["data"]["generate"] and base["model"]["preset"] == small["model"]["preset"]
    for name in VARIANT_RECIPES:
        r = load_recipe(name).model_dump(mode="json")
        rest = {k: v for k, v in r.items() if k not in ("name", "description", "model")}
        assert rest == {k: v for k, v in base.items() if k not in ("name", "description", "model")}, name
        assert r["model"]["preset"] == base["model"]["preset"]
        # one line: the model line of the file is the only one that differs from variant-paper's
        lines = open(f"presets/train/{name}.json").read().splitlines()
        paper_lines = open("presets/train/variant-paper.json").read().splitlines()
        assert len(lines) == len(paper_lines)
        differ = [i for i, (a, b) in enumerate(zip(lines, paper_lines)) if a != b]
        assert all(lines[i].lstrip().startswith(('"name"', '"description"', '"model"')) for i in differ), name


@pytest.mark.parametrize("name", VARIANT_RECIPES)
def test_variant_recipe_builds_its_network_and_the_card_records_it(name, tmp_path):
    from automix.train.builders import build_model

    recipe = load_recipe(name)
    slots = ("kick", "snare", "hi-hat", "tom_1", "tom_2", "tom_3", "overhead_L", "overhead_R")
    model = build_model(recipe, slots)
    for key, value in recipe.model.config.items():
        assert getattr(model.net.config, key) == value
    assert model.card.config == model.net.config
    save_model(model, tmp_path / "m")
    card = json.loads((tmp_path / "m.json").read_text())
    assert {k: card["config"][k] for k in recipe.model.config} == recipe.model.config
    assert load_model(tmp_path / "m").net.config == model.net.config
