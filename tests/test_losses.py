"""Training losses (automix.losses): weighting curves, the stereo gap and its fix, values, robustness, parsing."""

from __future__ import annotations

import math

import auraloss
import numpy as np

from daw_bridge.loudness import k_weighting_sos
import pytest
import torch
from pydantic import ValidationError

from automix.losses import (
    CombinedLoss,
    L1Loss,
    LossTerm,
    MSELoss,
    MultiResolutionSTFTLoss,
    SISDRLoss,
    StereoPerceptualLoss,
    a_weighting_db,
    build_loss,
    frequency_weights,
    k_weighting_db,
    parse_loss,
    spectral_convergence_log_mag,
    swap_to_nearest,
)

SR = 44100
T = 8192
NAMES = ("l1", "mse", "si_sdr", "mrstft", "stereo_perceptual")


def _colored(n: int, corner_hz: float, highpass: bool, gen: torch.Generator) -> torch.Tensor:
    """[n, T] Gaussian noise through a first-order low- (or high-) pass magnitude shape."""
    spec = torch.fft.rfft(torch.randn(n, T, generator=gen))
    ratio = torch.fft.rfftfreq(T, 1.0 / SR) / corner_hz
    gain = ratio / torch.sqrt(1 + ratio**2) if highpass else 1 / torch.sqrt(1 + ratio**2)
    return torch.fft.irfft(spec * gain, n=T)


@pytest.fixture
def stereo() -> torch.Tensor:
    """[2, 2, T] reference with distinct content: dark noise on the left, bright noise on the right."""
    gen = torch.Generator().manual_seed(1)
    x = torch.stack([_colored(2, 500.0, False, gen), _colored(2, 3000.0, True, gen)], dim=1)
    return 0.3 * x / x.abs().amax()


def _noisy(x: torch.Tensor, rel: float, seed: int = 2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return x + rel * x.std() * torch.randn(x.shape, generator=gen)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small tensors: one thread is faster, and immune to a busy second core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _loss(name: str) -> torch.nn.Module:
    return build_loss(name, SR).losses[0]


# ------------------------------------------------------------------ weighting curves


def test_a_weighting_matches_iec_61672_table():
    # the table's nominal frequencies are the base-10 ones: "31.5 Hz" is 10**1.5 = 31.62 Hz
    freqs = np.array([1000.0, 100.0, 10000.0, 10**1.3, 10**1.5, 10**1.8, 10**3.6, 10**4.3])
    table = np.array([0.0, -19.1, -2.5, -50.5, -39.4, -26.2, 1.0, -9.3])
    got = a_weighting_db(freqs)
    assert abs(got[0]) < 0.01
    np.testing.assert_allclose(got[1:], table[1:], atol=0.1)
    assert got.shape == freqs.shape and a_weighting_db(np.array([0.0]))[0] == -np.inf


def test_k_weighting_response_and_other_sample_rates():
    at48 = k_weighting_db(np.array([10.0, 500.0, 10000.0]), 48000)
    assert at48[0] < -20.0  # RLB high-pass
    assert abs(at48[1]) < 0.2
    assert abs(at48[2] - 4.0) < 0.1  # shelf
    # 44.1 kHz: different coefficients, (nearly) the same response below 10 kHz
    assert abs(k_weighting_sos(44100)[0, 0] - 1.53512485958697) > 1e-3
    freqs = np.geomspace(20.0, 10000.0, 30)
    np.testing.assert_allclose(k_weighting_db(freqs, 44100), k_weighting_db(freqs, 48000), atol=0.02)
    assert k_weighting_db(np.array([1000.0]), 44100).shape == (1,)
    with pytest.raises(ValueError, match="sample rate"):
        k_weighting_sos(3000)


def test_frequency_weights_at_bin_centres():
    w = frequency_weights(1024, SR, "a")
    assert w.shape == (513,) and w[0] == 0.0
    k = 1000 * 1024 // SR  # bin 23 is at 990.5 Hz
    assert w[k] == pytest.approx(10 ** (a_weighting_db(np.array([k * SR / 1024]))[0] / 20))
    np.testing.assert_array_equal(frequency_weights(512, None, "none"), np.ones(257))
    with pytest.raises(ValueError, match="sample rate"):
        frequency_weights(512, None, "k")


# ------------------------------------------------------------------ the stereo gap and its fix


def test_swapped_channels_fool_sum_difference_but_not_stereo_perceptual(stereo):
    swapped = stereo.flip(1)
    noisy = _noisy(stereo, 0.1)  # 20 dB SNR, channels in place
    sizes = [2048, 1024, 512]
    sad = auraloss.freq.SumAndDifferenceSTFTLoss(sizes, [n // 4 for n in sizes], sizes)
    assert sad(swapped, stereo).item() < 1e-5  # the gap: a swapped mix is "perfect"
    assert sad(noisy, stereo).item() > 0.05
    for weighting in ("k", "a", "none"):
        loss = StereoPerceptualLoss(SR, weighting=weighting)
        parts = loss.components(swapped, stereo)
        assert parts["mid"].item() < 1e-5 and parts["side"].item() < 1e-5
        assert parts["balance"].item() > 1.0  # left and right are mostly in different bins
        swapped_loss, noisy_loss = loss(swapped, stereo).item(), loss(noisy, stereo).item()
        assert swapped_loss > 1.0
        assert swapped_loss > 3 * noisy_loss > 0.05


def test_perceptual_weighting_discounts_low_frequency_errors():
    gen = torch.Generator().manual_seed(3)
    ref = 0.1 * torch.randn(1, 2, T, generator=gen)
    t = torch.arange(T) / SR

    def ratio(loss: torch.nn.Module) -> float:  # loss of a 40 Hz hum / loss of a 3 kHz tone, same level
        hum, tone = (ref + 0.05 * torch.sin(2 * math.pi * f * t) for f in (40.0, 3000.0))
        return loss(hum, ref).item() / loss(tone, ref).item()

    flat = ratio(StereoPerceptualLoss(SR, weighting="none"))
    assert 0.7 < flat < 1.5
    assert ratio(StereoPerceptualLoss(SR, weighting="a")) < 0.1 * flat
    assert ratio(StereoPerceptualLoss(SR, weighting="k")) < 0.5 * flat
    assert ratio(MultiResolutionSTFTLoss(sample_rate=SR, weighting="a")) < 0.1 * flat


def test_balance_term_weight_and_gain_invariance(stereo):
    swapped = stereo.flip(1)
    no_balance = StereoPerceptualLoss(SR, balance_weight=0.0)
    assert no_balance(swapped, stereo).item() < 1e-5
    double = StereoPerceptualLoss(SR, balance_weight=2.0)
    single = StereoPerceptualLoss(SR)
    assert double(swapped, stereo).item() == pytest.approx(2 * single(swapped, stereo).item(), rel=1e-5)
    # the balance compares shares of energy: an overall gain barely changes it (only through its floor)
    assert single.components(0.5 * stereo, stereo)["balance"].item() < 2e-3
    assert single.components(0.5 * stereo, stereo)["total"].item() > 0.5


def test_stereo_perceptual_needs_two_channels(stereo):
    loss = StereoPerceptualLoss(SR)
    for channels in (1, 3):
        x = torch.zeros(2, channels, T)
        with pytest.raises(ValueError, match=f"{channels} channels"):
            loss(x, x)
    with pytest.raises(ValueError, match="2 channels"):
        build_loss("stereo_perceptual", SR)(stereo[:, :1], stereo[:, :1])


# ------------------------------------------------------------------ values


@pytest.mark.parametrize("name", NAMES)
def test_identical_and_quieter_estimates(stereo, name):
    loss = _loss(name)
    same = loss(stereo.clone(), stereo).item()
    quieter = loss(0.5 * stereo, stereo).item()
    if name == "si_sdr":  # -SI-SDR of a perfect estimate: very negative (float32 limits it); scale-invariant
        assert same < -60.0 and quieter < -60.0
        noisy = _noisy(stereo, 0.1)  # per-channel SNR = SI-SDR up to the noise's chance correlation
        snr = 10 * torch.log10(stereo.square().sum(-1) / (noisy - stereo).square().sum(-1))
        assert loss(noisy, stereo).item() == pytest.approx(-snr.mean().item(), abs=0.1)
        return
    assert abs(same) < 1e-6
    if name == "l1":
        assert quieter == pytest.approx(0.5 * stereo.abs().mean().item(), rel=1e-5)
    elif name == "mse":
        assert quieter == pytest.approx(0.25 * stereo.square().mean().item(), rel=1e-5)
    else:  # spectral convergence 0.5 + log-magnitude log(2) = 1.19 (slightly less at the 1e-4 floor)
        assert 1.0 < quieter < 1.2


def test_l1_and_mse_hand_values():
    est = torch.tensor([[[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]]])
    ref = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [0.0, -1.0, 1.0, 0.5]]])
    # |diff| = [0, 1, 2, 3, 0, 1, 1, 0.5]
    assert L1Loss()(est, ref).item() == pytest.approx(8.5 / 8)
    assert MSELoss()(est, ref).item() == pytest.approx((0 + 1 + 4 + 9 + 0 + 1 + 1 + 0.25) / 8)


def test_si_sdr_of_orthogonal_noise_at_known_ratio():
    gen = torch.Generator().manual_seed(4)
    s = torch.randn(T, dtype=torch.float64, generator=gen)
    n = torch.randn(T, dtype=torch.float64, generator=gen)
    s, n = s - s.mean(), n - n.mean()
    n = n - (n @ s) / (s @ s) * s  # orthogonal to s, still zero-mean
    ratios = [10.0, 100.0, 2.0, 1000.0]  # energy ratios |s|^2 / |n|^2 -> SI-SDR 10, 20, 3.01, 30 dB
    refs, ests = [], []
    for r in ratios:
        noise = n * torch.sqrt((s @ s) / (n @ n) / r)
        refs.append(s)
        ests.append(s + noise)
    ref = torch.stack(refs).reshape(2, 2, T).float()
    est = torch.stack(ests).reshape(2, 2, T).float()
    expected = -float(np.mean(10 * np.log10(ratios)))
    assert SISDRLoss()(est, ref).item() == pytest.approx(expected, abs=1e-3)
    # per channel and scale-invariant: rescaling one channel's estimate changes nothing
    est[0, 1] *= 3.0
    est[1, 0] *= 0.2
    assert SISDRLoss()(est, ref).item() == pytest.approx(expected, abs=1e-3)
    one = SISDRLoss()(est[:1, :1], ref[:1, :1]).item()
    assert one == pytest.approx(-10.0, abs=1e-3)


def test_native_spectral_terms_match_auraloss(stereo):
    est = _noisy(stereo, 0.3)
    stft = auraloss.freq.STFTLoss(1024, 256, 1024)
    x_mag, _ = stft.stft(est.reshape(-1, T))
    y_mag, _ = stft.stft(stereo.reshape(-1, T))
    assert spectral_convergence_log_mag(x_mag, y_mag).item() == pytest.approx(stft(est, stereo).item(), rel=1e-5)
    # stereo_perceptual without weighting and balance: the mid/side part equals auraloss's sum/difference loss
    sizes = [2048, 512]
    sad = auraloss.freq.SumAndDifferenceSTFTLoss(sizes, [n // 4 for n in sizes], sizes)
    ours = StereoPerceptualLoss(SR, fft_sizes=sizes, weighting="none", balance_weight=0.0)
    assert ours(est, stereo).item() == pytest.approx(sad(est, stereo).item(), rel=1e-4)


def test_mrstft_works_on_any_channel_count(stereo):
    est = _noisy(stereo, 0.3)
    for weighting in ("none", "k"):
        loss = MultiResolutionSTFTLoss([1024, 256], SR, weighting)
        two = loss(est, stereo).item()
        assert two > 0.1
        assert loss(est[:, :1], stereo[:, :1]).item() > 0.1
    with pytest.raises(ValueError, match="too short"):
        MultiResolutionSTFTLoss([4096])(stereo[..., :1024], stereo[..., :1024])


# ------------------------------------------------------------------ robustness


@pytest.mark.parametrize("name", NAMES)
def test_silence_gives_finite_values_and_gradients(stereo, name):
    loss = _loss(name)
    zeros = torch.zeros_like(stereo)
    for est, ref in ((zeros, stereo), (0.5 * stereo, zeros), (zeros, zeros)):
        x = est.clone().requires_grad_(True)
        value = loss(x, ref)
        value.backward()
        assert torch.isfinite(value), (name, value)
        assert torch.isfinite(x.grad).all(), name


@pytest.mark.parametrize("name", NAMES)
def test_bf16_autocast_computes_in_float32(stereo, name):
    loss = _loss(name)
    est = _noisy(stereo, 0.3)  # ~10 dB SNR: bf16 rounding of the inputs barely moves the loss
    est16, ref16 = est.bfloat16(), stereo.bfloat16()
    x = est16.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = loss(x, ref16)
    assert value.dtype == torch.float32 and value.dim() == 0
    value.backward()
    assert x.grad.dtype == torch.bfloat16 and torch.isfinite(x.grad.float()).all()
    exact = loss(est16.float(), ref16.float()).item()
    assert value.item() == pytest.approx(exact, rel=1e-5, abs=1e-6)
    assert value.item() == pytest.approx(loss(est, stereo).item(), rel=0.03)


def test_shape_mismatch_is_refused(stereo):
    with pytest.raises(ValueError, match="same shape"):
        L1Loss()(stereo, stereo[..., :100])
    with pytest.raises(ValueError, match="batch, channels, samples"):
        build_loss("l1", SR)(stereo[0], stereo[0])


# ------------------------------------------------------------------ combination


def test_combined_loss_total_parts_and_describe(stereo):
    loss = build_loss("l1+0.1*mrstft", SR)
    assert isinstance(loss, CombinedLoss)
    assert loss.describe() == "1.0*l1 + 0.1*mrstft(2048,1024,512)"
    est = _noisy(stereo, 0.3).requires_grad_(True)
    total, parts = loss(est, stereo)
    assert set(parts) == {"l1", "mrstft"}
    assert not parts["l1"].requires_grad and total.requires_grad and total.dtype == torch.float32
    assert parts["l1"].item() == pytest.approx((est - stereo).abs().mean().item(), rel=1e-6)
    assert total.item() == pytest.approx(parts["l1"].item() + 0.1 * parts["mrstft"].item(), rel=1e-6)
    total.backward()
    assert torch.isfinite(est.grad).all()

    full = build_loss(
        [
            {"name": "stereo_perceptual", "weighting": "a", "fft_sizes": [1024, 256], "balance_weight": 0.5},
            {"name": "mrstft", "weight": 0.5},
            {"name": "mrstft", "weight": 0.25, "weighting": "k", "fft_sizes": [512]},
            {"name": "si_sdr", "weight": 0.01},
        ],
        SR,
    )
    assert full.describe() == (
        "1.0*stereo_perceptual(1024,256; weighting=a; balance=0.5) + 0.5*mrstft(2048,1024,512)"
        " + 0.25*mrstft(512; weighting=k) + 0.01*si_sdr"
    )
    total, parts = full(stereo.flip(1), stereo)
    assert list(parts) == ["stereo_perceptual", "mrstft", "mrstft_2", "si_sdr"]
    weights = [t.weight for t in full.terms]
    assert total.item() == pytest.approx(sum(w * p.item() for w, p in zip(weights, parts.values())), rel=1e-5)
    assert build_loss("stereo_perceptual", 48000).describe() == (
        "1.0*stereo_perceptual(2048,1024,512; weighting=k; balance=1.0)"
    )


def test_swap_to_nearest_matches_each_example(stereo):
    est = torch.stack([stereo[0], stereo[1].flip(0)])  # the second example mirrored
    matched, swapped = swap_to_nearest(est, stereo)
    assert swapped.tolist() == [False, True]
    assert torch.equal(matched, est)
    matched, swapped = swap_to_nearest(stereo, stereo)  # a tie keeps the reference
    assert swapped.tolist() == [False, False] and torch.equal(matched, stereo)
    with pytest.raises(ValueError, match="batch, 2, samples"):
        swap_to_nearest(stereo[:, :1], stereo[:, :1])
    with pytest.raises(ValueError, match="batch, 2, samples"):
        swap_to_nearest(stereo, stereo[:, :, :100])


def test_swap_invariant_loss(stereo):
    plain = build_loss("l1+0.1*mrstft", SR)
    both = build_loss("l1+0.1*mrstft", SR, swap_invariant=True)
    assert both.describe() == "1.0*l1 + 0.1*mrstft(2048,1024,512), channel-swap invariant"
    est = _noisy(stereo, 0.3).requires_grad_(True)
    want, _ = plain(est, stereo)
    for ref, fraction in ((stereo, 0.0), (stereo.flip(1), 1.0)):
        total, parts = both(est, ref)
        assert total.item() == pytest.approx(want.item(), rel=1e-6)
        assert parts["swapped"].item() == fraction and set(parts) == {"swapped", "l1", "mrstft"}
    half = torch.stack([stereo[0], stereo[1].flip(0)])
    total, parts = both(est, half)
    assert parts["swapped"].item() == 0.5 and total.item() == pytest.approx(want.item(), rel=1e-6)
    assert plain(est, stereo.flip(1))[0].item() > 1.5 * want.item()  # what the option saves
    total.backward()
    assert torch.isfinite(est.grad).all() and est.grad.abs().sum() > 0
    mono = stereo[:, :1]  # one channel: nothing to swap
    total, parts = both(mono, mono)
    assert "swapped" not in parts and total.item() == pytest.approx(0.0, abs=1e-6)


# ------------------------------------------------------------------ parsing


def test_parse_loss_forms():
    assert parse_loss("l1") == [LossTerm(name="l1")]
    assert parse_loss("l1+0.1*mrstft") == [LossTerm(name="l1"), LossTerm(name="mrstft", weight=0.1)]
    assert [(t.name, t.weight) for t in parse_loss(" 2 * mse + 1e-3*si_sdr+stereo_perceptual ")] == [
        ("mse", 2.0), ("si_sdr", 1e-3), ("stereo_perceptual", 1.0)
    ]
    assert parse_loss({"name": "mse", "weight": 3}) == [LossTerm(name="mse", weight=3.0)]
    term = LossTerm(name="mrstft", fft_sizes=[512])
    assert parse_loss(term) == [term]
    mixed = parse_loss([{"name": "l1"}, term, "0.5*si_sdr+mse"])
    assert [t.name for t in mixed] == ["l1", "mrstft", "si_sdr", "mse"]
    assert LossTerm(name="stereo_perceptual").resolved().model_dump() == {
        "name": "stereo_perceptual", "weight": 1.0, "fft_sizes": [2048, 1024, 512],
        "weighting": "k", "balance_weight": 1.0,
    }
    assert LossTerm(name="l1").resolved() == LossTerm(name="l1")


@pytest.mark.parametrize(
    "spec, key",
    [
        ({"name": "huber"}, "name"),
        ({"name": "l1", "wieght": 2.0}, "wieght"),
        ({"name": "l1", "weight": 0}, "weight"),
        ({"name": "l1", "weight": -1.0}, "weight"),
        ({"name": "l1", "weight": float("nan")}, "weight"),
        ("-1*l1", "weight"),
        ({"name": "l1", "fft_sizes": [512]}, "fft_sizes is not an option of l1"),
        ({"name": "si_sdr", "weighting": "a"}, "weighting is not an option of si_sdr"),
        ({"name": "mrstft", "balance_weight": 1.0}, "balance_weight is not an option of mrstft"),
        ({"name": "stereo_perceptual", "balance_weight": -0.5}, "balance_weight"),
        ({"name": "stereo_perceptual", "weighting": "c"}, "weighting"),
        ({"name": "mrstft", "fft_sizes": []}, "fft_sizes"),
        ({"name": "mrstft", "fft_sizes": [8]}, "fft_sizes"),
        ([{"name": "l1"}, {"name": "mse", "extra": 1}], "extra"),
    ],
)
def test_parse_loss_refuses_with_the_key(spec, key):
    with pytest.raises(ValidationError) as info:
        parse_loss(spec)
    assert key in str(info.value)


@pytest.mark.parametrize(
    "spec, words",
    [("huber", "unknown loss name 'huber'"), ("l1++mse", "cannot read"), ("0.1*", "cannot read"),
     ("l1 mse", "expected '\\+'"), ("", "empty"), ([], "empty")],
)
def test_parse_loss_refuses_bad_strings(spec, words):
    with pytest.raises(ValueError, match=words):
        parse_loss(spec)
    with pytest.raises(TypeError):
        parse_loss(3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cuda_mixed_precision_matches_cpu(stereo, dtype):
    loss = build_loss([{"name": n} for n in NAMES], SR)
    est = _noisy(stereo, 0.3)
    _, cpu_parts = loss(est.to(dtype).float(), stereo.to(dtype).float())
    loss = loss.cuda()
    x = est.to("cuda", dtype).requires_grad_(True)
    with torch.autocast("cuda", dtype=dtype):
        total, parts = loss(x, stereo.to("cuda", dtype))
    assert total.dtype == torch.float32 and total.device.type == "cuda"
    total.backward()
    assert torch.isfinite(x.grad.float()).all()
    for name in NAMES:
        assert parts[name].item() == pytest.approx(cpu_parts[name].item(), rel=1e-3, abs=1e-4), name
