"""ENST-drums loader (automix.data.enst) and the shared segment helpers (automix.data.segments)."""

from __future__ import annotations

import json
import logging
import math
import os
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from daw_bridge.loudness import measure_loudness
from automix.data import segments
from automix.data.enst import (
    MIX_LUFS,
    SLOTS,
    STEM_LUFS,
    EnstDrums,
    make_enst_split,
    scan_enst,
    take_category,
)
from automix.data.segments import (
    LoudnessIndex,
    RandomSegmentSampler,
    SegmentSizes,
    Split,
    fixed_segments,
    make_split,
    segment_sizes,
    slice_padded,
)
from daw_bridge.errors import AutomixError
from daw_bridge.stems import DRUM_SLOTS
from automix.models.unet import WaveUNet

SR = 44100
FREQS = {"kick": 60, "snare": 200, "hi-hat": 7000, "tom_1": 150, "tom_2": 110, "tom_3": 90,
         "overhead_L": 3000, "overhead_R": 3300}
AMPS = {"kick": 0.5, "snare": 0.2, "hi-hat": 0.05, "tom_1": 0.3, "tom_2": 0.02, "tom_3": 0.1,
        "overhead_L": 0.08, "overhead_R": 0.08}


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """The default loudness index goes to automix's cache folder: keep it in tmp."""
    monkeypatch.setenv("AUTOMIX_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------------------------
# Building ENST-layout trees


def hits(seconds: float, sr: int, freq: float, amp: float, *, seed: int, period: float = 0.5,
         phase: float = 0.0, start: float = 0.0) -> np.ndarray:
    """Decaying tone + noise bursts every ``period`` s from ``start + phase``."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    out = np.zeros(n, dtype=np.float64)
    for t0 in np.arange(start + phase, seconds, period):
        i = int(t0 * sr)
        length = min(n - i, int(0.35 * sr))
        tt = np.arange(length) / sr
        out[i : i + length] += amp * np.exp(-tt * 14) * (np.sin(2 * np.pi * freq * tt) + 0.3 * rng.standard_normal(length))
    return out.astype(np.float32)


def write_take(root: Path, drummer: int, name: str, *, seconds: float = 3.0, slots=None, rates=None,
               seconds_of=None, silent=(), mixes=("dry_mix", "wet_mix"), quiet_until: float = 0.0,
               unreadable=(), seed: int = 0) -> None:
    """One take in the ENST layout: mono stems, stereo mixes (a panned sum of the stems)."""
    slots = [s for s in SLOTS if s != "tom_3" or drummer == 3] if slots is None else slots
    rates, seconds_of = dict(rates or {}), dict(seconds_of or {})
    audio_dir = root / f"drummer_{drummer}" / "audio"
    mix = np.zeros((2, int(round(seconds * SR))), dtype=np.float32)
    for k, slot in enumerate(slots):
        sig = hits(seconds, SR, FREQS[slot], AMPS[slot], seed=seed * 31 + k, phase=0.06 * k, start=quiet_until)
        if slot in silent:
            sig[:] = 0.0
        pan = k / max(len(slots) - 1, 1)
        mix[0] += (1 - pan) * sig
        mix[1] += pan * sig
        rate, secs = rates.get(slot, SR), seconds_of.get(slot, seconds)
        if rate != SR:
            from daw_bridge.audio import resample

            sig = resample(sig, SR, rate)
        sig = sig[: int(round(secs * rate))]
        folder = audio_dir / slot
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.wav"
        if slot in unreadable:
            path.write_bytes(b"RIFF not really a wave file" * 10)
        else:
            sf.write(path, sig, rate, subtype="FLOAT")
    for folder_name in mixes:
        folder = audio_dir / folder_name
        folder.mkdir(parents=True, exist_ok=True)
        gain = 0.7 if folder_name == "wet_mix" else 1.0
        sf.write(folder / f"{name}.wav", (gain * mix).T, SR, subtype="FLOAT")
    acc = audio_dir / "accompaniment"
    acc.mkdir(parents=True, exist_ok=True)
    if "minus-one" in name:
        sf.write(acc / f"{name}.wav", np.zeros((SR, 2), np.float32), SR)


TAKES = [
    # (drummer, name, options)
    (1, "001_hits_snare-drum_sticks_x6", {"seconds": 2.0}),
    (1, "010_phrase_rock_simple_slow_sticks", {"silent": ("tom_2",)}),
    (1, "011_phrase_disco_simple_medium_sticks", {"slots": [s for s in SLOTS if s not in ("snare", "tom_3")]}),
    (1, "020_minus-one_salsa_sticks", {}),
    (2, "002_hits_bass-drum_sticks_x6", {"seconds": 2.0}),
    (2, "012_phrase_funk_complex_fast_sticks", {"rates": {"overhead_R": 48000}}),
    (2, "030_solo_latin_hands", {"seconds_of": {"hi-hat": 2.0}}),
    (2, "031_phrase_reggae_simple_slow_mallets", {"unreadable": ("kick",)}),
    (3, "003_hits_medium-tom_sticks_x5", {"seconds": 2.0}),
    (3, "040_phrase_blues_complex_medium_sticks", {}),
    (3, "041_MIDI-minus-one_fusion-125_sticks", {}),
]


def build_tree(root: Path, order=None) -> Path:
    takes = list(TAKES) if order is None else [TAKES[i] for i in order]
    for drummer, name, options in takes:
        write_take(root, drummer, name, seed=zlib.crc32(name.encode()) % 1000, **options)
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("enst") / "ENST-drums-public")


def small_net() -> WaveUNet:
    return WaveUNet(in_channels=8, out_channels=2, levels=3, base_filters=4, growth=4, kernel_down=5, kernel_up=3)


# --------------------------------------------------------------------------------------------
# Layout and takes


def test_scan_finds_takes_in_drummer_order_and_slots(tree):
    takes = scan_enst(tree)
    ids = [t.id for t in takes]
    assert ids == sorted(ids, key=lambda s: (int(s.split("/")[0].split("_")[1]), s))
    assert len(ids) == len(TAKES)
    d1 = next(t for t in takes if t.name.startswith("010_"))
    d3 = next(t for t in takes if t.name.startswith("040_"))
    assert SLOTS == DRUM_SLOTS
    assert d1.stems[SLOTS.index("tom_3")] is None and d3.stems[SLOTS.index("tom_3")] is not None
    assert d1.wet_mix.parent.name == "wet_mix" and d1.dry_mix.parent.name == "dry_mix"
    assert [take_category(t.name) for t in takes[:4]] == ["hits", "phrase", "phrase", "minus-one"]
    assert take_category("041_MIDI-minus-one_fusion-125_sticks") == "MIDI-minus-one"
    assert take_category("030_solo_latin_hands") == "solo"


def test_bad_root_error_says_what_was_expected(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AutomixError) as err:
        EnstDrums(empty, input_length=100, output_length=100)
    msg = str(err.value)
    assert "expected ROOT/drummer_N/audio/<stem>/<take>.wav; found an empty folder" in msg
    assert "\n" not in msg

    other = tmp_path / "other"
    (other / "songs").mkdir(parents=True)
    (other / "readme.txt").write_text("x")
    with pytest.raises(AutomixError, match=r"expected ROOT/drummer_N/audio/<stem>/<take>\.wav; found readme\.txt, songs/"):
        scan_enst(other)
    with pytest.raises(AutomixError, match="found no such folder"):
        scan_enst(tmp_path / "missing")
    one = tmp_path / "one"
    write_take(one, 1, "010_phrase_x", seconds=0.5)
    with pytest.raises(AutomixError, match="drummer_1, drummer_2"):
        scan_enst(one / "drummer_1")


# --------------------------------------------------------------------------------------------
# Splits


def test_split_is_deterministic_and_independent_of_file_order(tree, tmp_path):
    a = make_enst_split(tree, seed=7)
    b = make_enst_split(tree, seed=7)
    assert a == b
    order = list(range(len(TAKES)))
    random.Random(3).shuffle(order)
    other = build_tree(tmp_path / "other", order=order)
    assert make_enst_split(other, seed=7).subsets == a.subsets
    ids = [t.id for t in scan_enst(tree)]
    assert make_enst_split(list(reversed(ids)), seed=7).subsets == a.subsets
    # a seed changes the order (checked on a list long enough to be sure)
    names = [f"drummer_1/{i:03d}_phrase_x" for i in range(100)]
    assert make_enst_split(names, seed=1).subsets != make_enst_split(names, seed=2).subsets
    counts = {k: len(v) for k, v in make_enst_split(names, seed=1).subsets.items()}
    assert counts == {"train": 80, "valid": 10, "test": 10}


def test_split_excludes_hits_by_default(tree):
    split = make_enst_split(tree)
    listed = [t for items in split.subsets.values() for t in items]
    assert listed and not any("_hits_" in t for t in listed)
    assert len(listed) == len(TAKES) - 3 and len(set(listed)) == len(listed)
    assert split.options["exclude_categories"] == ["hits"]
    with_hits = make_enst_split(tree, exclude_categories=())
    assert sum(len(v) for v in with_hits.subsets.values()) == len(TAKES)


def test_split_by_drummer(tree):
    split = make_enst_split(tree, by_drummer={"test": [3]})
    assert sorted(split.subsets["test"]) == ["drummer_3/040_phrase_blues_complex_medium_sticks",
                                             "drummer_3/041_MIDI-minus-one_fusion-125_sticks"]
    assert set(split.subsets) == {"train", "valid", "test"}
    for name in ("train", "valid"):
        assert not any(t.startswith("drummer_3/") for t in split.subsets[name])
    assert split.options["by_drummer"] == {"test": [3]}
    both = make_enst_split(tree, by_drummer={"train": [1, 2], "test": [3]})
    assert all(t.startswith(("drummer_1/", "drummer_2/")) for t in both.subsets["train"])
    assert len(both.subsets["train"]) == 6 and both.subsets["valid"] == []


def test_split_file_written_and_read_back(tree, tmp_path):
    split = make_enst_split(tree, seed=3, fractions={"train": 0.5, "valid": 0.25, "test": 0.25})
    (tmp_path / "splits").mkdir()
    path = split.save(tmp_path / "splits" / "enst.json")
    data = json.loads(path.read_text())
    assert data["format"] == "automix-split/1" and data["dataset"] == "enst-drums"
    assert data["seed"] == 3 and data["fractions"] == {"train": 0.5, "valid": 0.25, "test": 0.25}
    assert data["options"]["exclude_categories"] == ["hits"]
    assert data["subsets"] == split.subsets
    assert Split.load(path) == split
    with pytest.raises(AutomixError, match="exists"):
        split.save(path)
    ds = EnstDrums(tree, split=path, subset="train", input_length=512, output_length=512, index_path=tmp_path / "i.json")
    assert set(ds.takes) | {t for t, _ in ds.skipped} == set(split.subsets["train"])
    with pytest.raises(AutomixError, match="no subset 'nope'"):
        EnstDrums(tree, split=path, subset="nope", input_length=512, output_length=512)
    with pytest.raises(AutomixError, match="add up to 1"):
        make_enst_split(tree, fractions={"train": 0.5, "test": 0.4})
    with pytest.raises(AutomixError, match="split file .* not found"):
        Split.load(tmp_path / "missing.json")


def test_generic_make_split_counts_and_fixed():
    split = make_split([f"x{i}" for i in range(7)], seed=0, fractions={"a": 0.5, "b": 0.5}, fixed={"x0": "c"})
    assert split.subsets["c"] == ["x0"]
    assert sorted(len(split.subsets[k]) for k in ("a", "b")) == [3, 3]


# --------------------------------------------------------------------------------------------
# Takes: masks, loudness, odd files, skipped


@pytest.fixture(scope="module")
def full(tree, tmp_path_factory) -> EnstDrums:
    index = tmp_path_factory.mktemp("index") / "loudness.json"
    return EnstDrums(tree, input_length=1243, output_length=1005, index_path=index, exclude_categories=())


def test_masks_mark_missing_stems_with_silence(full):
    missing = full.load_take("drummer_1/011_phrase_disco_simple_medium_sticks")
    snare, tom3 = SLOTS.index("snare"), SLOTS.index("tom_3")
    assert missing["mask"][snare] == 0 and missing["mask"][tom3] == 0
    assert not missing["stems"][snare].any() and not missing["stems"][tom3].any()
    assert missing["mask"].sum() == 6
    d3 = full.load_take("drummer_3/040_phrase_blues_complex_medium_sticks")
    assert d3["mask"].tolist() == [1.0] * 8
    # a silent file exists: mask 1, gain 0 dB, still silent, no NaN
    silent = full.load_take("drummer_1/010_phrase_rock_simple_slow_sticks")
    tom2 = SLOTS.index("tom_2")
    assert silent["mask"][tom2] == 1 and not silent["stems"][tom2].any()
    assert full.gains_db("drummer_1/010_phrase_rock_simple_slow_sticks")[0][tom2] == 0.0
    assert np.isfinite(silent["stems"]).all() and np.isfinite(silent["mix"]).all()


@pytest.mark.parametrize("take", [
    "drummer_1/010_phrase_rock_simple_slow_sticks",
    "drummer_2/012_phrase_funk_complex_fast_sticks",  # a 48 kHz stem
    "drummer_2/030_solo_latin_hands",  # a shorter stem
    "drummer_3/041_MIDI-minus-one_fusion-125_sticks",
])
def test_loudness_of_normalised_takes_is_on_target(full, take):
    t = full.load_take(take)
    for i, slot in enumerate(SLOTS):
        if t["mask"][i] and t["stems"][i].any():
            assert abs(measure_loudness(t["stems"][i], SR) - STEM_LUFS) < 0.5, slot
    assert t["mix"].shape[0] == 2
    assert abs(measure_loudness(t["mix"], SR) - MIX_LUFS) < 0.5


def test_odd_files_are_fixed_and_noted_and_bad_takes_skipped(full):
    assert any("overhead_R is 48000 Hz, resampled to 44100 Hz" in n for n in full.notes)
    assert any("030_solo_latin_hands: lengths differ" in n and "hi-hat padded" in n for n in full.notes)
    skipped = dict(full.skipped)
    assert list(skipped) == ["drummer_2/031_phrase_reggae_simple_slow_mallets"]
    assert "kick" in skipped["drummer_2/031_phrase_reggae_simple_slow_mallets"]
    assert "drummer_2/031_phrase_reggae_simple_slow_mallets" not in full.takes
    short = full.load_take("drummer_2/030_solo_latin_hands")
    hh = SLOTS.index("hi-hat")
    assert short["stems"].shape == (8, 3 * SR) and short["mix"].shape == (2, 3 * SR)
    assert not short["stems"][hh, 2 * SR :].any() and short["stems"][hh, : 2 * SR].any()
    resampled = full.load_take("drummer_2/012_phrase_funk_complex_fast_sticks")
    assert resampled["stems"].shape == (8, 3 * SR)


def test_notes_are_logged_once(tree, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="automix")
    ds = EnstDrums(tree, input_length=1243, output_length=1005, index_path=tmp_path / "i.json", mode="fixed")
    resampled = [r for r in caplog.records if "48000 Hz" in r.getMessage()]
    assert len(resampled) == 1
    caplog.clear()
    for i in range(len(ds)):
        ds[i]
    assert not [r for r in caplog.records if "48000 Hz" in r.getMessage()]


# --------------------------------------------------------------------------------------------
# The loudness index


def test_loudness_index_is_written_once_and_reused(tree, tmp_path, monkeypatch):
    calls = []
    real = segments.measure_loudness

    def counting(audio, rate):
        calls.append(audio.shape)
        return real(audio, rate)

    monkeypatch.setattr(segments, "measure_loudness", counting)
    index = tmp_path / "loudness.json"
    EnstDrums(tree, input_length=512, output_length=512, index_path=index)
    first = len(calls)
    assert first > 0 and index.is_file()
    data = json.loads(index.read_text())
    assert data["format"] == "automix-loudness-index/1"
    key = "drummer_1/audio/kick/010_phrase_rock_simple_slow_sticks.wav"
    assert set(data["files"][key]) >= {"size", "mtime_ns", "sample_rate", "frames", "lufs"}
    stamp = index.stat().st_mtime_ns

    calls.clear()
    again = EnstDrums(tree, input_length=512, output_length=512, index_path=index, mode="fixed")
    assert calls == [] and index.stat().st_mtime_ns == stamp
    for i in range(3):  # items do not measure either
        again[i]
    assert calls == []

    # the default index (in the cache folder) works the same way
    calls.clear()
    EnstDrums(tree, input_length=512, output_length=512)
    assert len(calls) == first
    calls.clear()
    EnstDrums(tree, input_length=512, output_length=512)
    assert calls == []
    assert LoudnessIndex.default_path(tree).is_file()


def test_loudness_index_is_rebuilt_for_changed_files(tmp_path, monkeypatch):
    root = tmp_path / "enst"
    write_take(root, 1, "010_phrase_a", seconds=1.0)
    write_take(root, 1, "011_phrase_b", seconds=1.0)
    index = tmp_path / "loudness.json"
    ds = EnstDrums(root, input_length=512, output_length=512, index_path=index)
    before = ds.gains_db("drummer_1/010_phrase_a")[0][0]

    calls = []
    real = segments.measure_loudness
    monkeypatch.setattr(segments, "measure_loudness", lambda a, r: calls.append(1) or real(a, r))
    kick = root / "drummer_1/audio/kick/010_phrase_a.wav"
    audio, _ = sf.read(kick, dtype="float32")
    sf.write(kick, audio * 0.5, SR, subtype="FLOAT")
    os.utime(kick, ns=(kick.stat().st_atime_ns, kick.stat().st_mtime_ns + 10**9))
    ds = EnstDrums(root, input_length=512, output_length=512, index_path=index)
    assert len(calls) == 1
    assert ds.gains_db("drummer_1/010_phrase_a")[0][0] == pytest.approx(before + 6.02, abs=0.05)


def test_corrupt_index_is_measured_again(tmp_path):
    root = tmp_path / "enst"
    write_take(root, 1, "010_phrase_a", seconds=1.0)
    index = tmp_path / "loudness.json"
    index.write_text("{not json")
    ds = EnstDrums(root, input_length=512, output_length=512, index_path=index)
    assert ds.takes == ["drummer_1/010_phrase_a"]
    assert json.loads(index.read_text())["format"] == "automix-loudness-index/1"


# --------------------------------------------------------------------------------------------
# Segments


def test_shapes_follow_the_model_sizes(tree, tmp_path):
    net = small_net()
    info = net.input_length_for(2000)
    ds = EnstDrums(tree, model=net, output_length=2000, index_path=tmp_path / "i.json", segments_per_epoch=6)
    assert (ds.sizes.input_length, ds.sizes.output_length, ds.context) == (info.input_length, info.output_length, info.context)
    item = ds[0]
    assert item["stems"].shape == (8, info.input_length) and item["stems"].dtype == torch.float32
    assert item["mix"].shape == (2, info.output_length) and item["mix"].dtype == torch.float32
    assert item["mask"].shape == (8,)
    assert isinstance(item["take"], str) and isinstance(item["offset"], int)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["stems"].shape == (3, 8, info.input_length)
    with torch.no_grad():
        assert net(batch["stems"]).shape == batch["mix"].shape
    assert len(ds) == 6
    # input_length alone, checked against the model
    assert EnstDrums(tree, model=net, input_length=info.input_length, index_path=tmp_path / "i.json").sizes == ds.sizes
    with pytest.raises(AutomixError, match="not valid"):
        EnstDrums(tree, model=net, input_length=info.input_length + 1, index_path=tmp_path / "i.json")


def test_segment_sizes_helper():
    net = small_net()
    sizes = segment_sizes(net, output_length=1000)
    assert sizes.input_length - sizes.output_length == 2 * sizes.context == 2 * net.context
    assert segment_sizes(None, input_length=300, output_length=100).context == 100
    with pytest.raises(AutomixError):
        segment_sizes(None, input_length=300)
    with pytest.raises(AutomixError, match="even"):
        segment_sizes(None, input_length=301, output_length=100)
    assert SegmentSizes(300, 100).input_start(50) == -50
    assert slice_padded(np.arange(5, dtype=np.float32)[None], -2, 4).tolist() == [[0, 0, 0, 1]]
    assert slice_padded(np.arange(5, dtype=np.float32)[None], 3, 4).tolist() == [[3, 4, 0, 0]]


def test_mix_is_aligned_with_the_centre_of_the_stems(tmp_path):
    root = tmp_path / "enst"
    write_take(root, 1, "010_phrase_a", seconds=1.0)
    net = small_net()
    ds = EnstDrums(root, model=net, output_length=1000, normalize=None, mode="fixed", hop=700, target="dry")
    ctx, n_out = ds.context, ds.sizes.output_length
    pans = np.linspace(0, 1, 7)  # the tree's mix is a panned sum of the 7 stems
    for i in range(len(ds)):
        item = ds[i]
        present = item["stems"].numpy()[item["mask"].numpy() > 0]  # the 7 stems, in slot order
        centre = present[:, ctx : ctx + n_out]
        left = ((1 - pans)[:, None] * centre).sum(0)
        right = (pans[:, None] * centre).sum(0)
        np.testing.assert_allclose(item["mix"][0].numpy(), left, atol=1e-5)
        np.testing.assert_allclose(item["mix"][1].numpy(), right, atol=1e-5)
    first = ds[0]
    assert first["offset"] == 0 and not first["stems"][:, :ctx].any()  # the window starts before the take
    # a shifted window is not aligned
    item = ds[1]
    wrong = ((1 - pans)[:, None] * item["stems"].numpy()[item["mask"].numpy() > 0][:, ctx + 3 : ctx + 3 + n_out]).sum(0)
    assert not np.allclose(item["mix"][0].numpy(), wrong, atol=1e-3)


def test_validation_segments_are_deterministic(tree, tmp_path):
    kwargs = dict(input_length=3000, output_length=2000, mode="fixed", index_path=tmp_path / "i.json")
    a, b = EnstDrums(tree, **kwargs), EnstDrums(tree, **kwargs)
    assert a.fixed_positions == b.fixed_positions and len(a) == len(a.fixed_positions)
    for i in (0, 5, len(a) - 1):
        x, y = a[i], b[i]
        assert (x["take"], x["offset"]) == (y["take"], y["offset"]) == a.fixed_positions[i]
        assert torch.equal(x["stems"], y["stems"]) and torch.equal(x["mix"], y["mix"])
        assert torch.equal(a[i]["mix"], x["mix"])
    # a fixed hop over each take, the last segment ending at the take's end
    for take in a.takes:
        offsets = [o for t, o in a.fixed_positions if t == take]
        assert offsets[:-1] == list(range(0, 2000 * (len(offsets) - 1), 2000))
        assert offsets[-1] == a.take_length(take) - 2000
    assert fixed_segments([5000, 100], 2000, hop=1500) == [(0, 0), (0, 1500), (0, 3000), (1, 0)]


def test_random_segments_skip_silence(tmp_path):
    root = tmp_path / "enst"
    write_take(root, 1, "010_phrase_quiet_start", seconds=4.0, quiet_until=3.2)
    kwargs = dict(input_length=2048, output_length=2048, index_path=tmp_path / "i.json", segments_per_epoch=40)
    ds = EnstDrums(root, **kwargs, seed=1, max_tries=50)  # 80 % of the take is silent: 0.8 ** 50 ~ 1e-5
    levels = [segments.rms_db(ds[i]["mix"].numpy()) for i in range(len(ds))]
    assert min(levels) > ds.silence_db
    assert all(ds[i]["offset"] > 3.2 * SR - 2048 for i in range(10))
    once = EnstDrums(root, **kwargs, seed=1, max_tries=1)
    quiet = sum(segments.rms_db(once[i]["mix"].numpy()) < once.silence_db for i in range(len(once)))
    assert quiet > 10  # without retries most draws land in the silence
    # seeded: the same seed gives the same sequence, another seed another one
    def offsets(seed):
        ds = EnstDrums(root, **kwargs, seed=seed)
        return [ds[i]["offset"] for i in range(5)]

    assert offsets(1) == offsets(1) != offsets(2)


def test_sampler_gives_up_after_max_tries():
    sampler = RandomSegmentSampler([1000, 10], 100)
    rng = np.random.default_rng(0)
    seen = []
    track, offset, level, tries = sampler.draw_loud(rng, lambda t, o: seen.append((t, o)) or -100.0, -50, max_tries=7)
    assert tries == 7 and len(seen) == 7 and level == -100.0
    draws = [sampler.draw(rng) for _ in range(2000)]
    assert all(0 <= o <= 900 for t, o in draws if t == 0) and all(o == 0 for t, o in draws if t == 1)
    assert sum(t == 1 for t, _ in draws) < 20  # weighted by positions: 901 vs 1


def test_segment_normalisation_option(tree, tmp_path):
    ds = EnstDrums(tree, input_length=SR, output_length=SR, normalize="segment", mode="fixed",
                   index_path=tmp_path / "i.json")
    item = ds[0]
    for i in range(8):
        if item["mask"][i] and item["stems"][i].abs().max() > 0:
            assert abs(measure_loudness(item["stems"][i].numpy(), SR) - STEM_LUFS) < 0.5
    assert abs(measure_loudness(item["mix"].numpy(), SR) - MIX_LUFS) < 0.5
    assert np.isfinite(item["stems"].numpy()).all()


def test_cached_audio_gives_the_same_items(tree, tmp_path):
    kwargs = dict(input_length=3000, output_length=2000, mode="fixed", index_path=tmp_path / "i.json")
    plain, cached = EnstDrums(tree, **kwargs), EnstDrums(tree, **kwargs, cache_audio=True)
    assert cached.preload() > 0
    for i in range(0, len(plain), 3):
        x, y = plain[i], cached[i]
        np.testing.assert_allclose(x["stems"].numpy(), y["stems"].numpy(), atol=1e-6)
        np.testing.assert_allclose(x["mix"].numpy(), y["mix"].numpy(), atol=1e-6)


def test_dry_target_and_subset_without_split_file(tree, tmp_path):
    wet = EnstDrums(tree, input_length=1000, output_length=1000, mode="fixed", index_path=tmp_path / "i.json",
                    normalize=None)
    dry = EnstDrums(tree, input_length=1000, output_length=1000, mode="fixed", index_path=tmp_path / "i.json",
                    normalize=None, target="dry")
    k = 4
    np.testing.assert_allclose(wet[k]["mix"].numpy(), 0.7 * dry[k]["mix"].numpy(), atol=1e-6)
    train = EnstDrums(tree, subset="train", input_length=1000, output_length=1000, index_path=tmp_path / "i.json")
    assert set(train.takes) <= set(make_enst_split(tree).subsets["train"])
    with pytest.raises(AutomixError, match="unknown ENST target"):
        EnstDrums(tree, target="damp", input_length=1000, output_length=1000)


def test_file_failing_mid_epoch_skips_the_take(tmp_path):
    root = tmp_path / "enst"
    write_take(root, 1, "010_phrase_a", seconds=1.0)
    write_take(root, 1, "011_phrase_b", seconds=1.0)
    ds = EnstDrums(root, input_length=1024, output_length=1024, index_path=tmp_path / "i.json", segments_per_epoch=20)
    (root / "drummer_1/audio/snare/011_phrase_b.wav").write_bytes(b"garbage")
    items = [ds[i] for i in range(len(ds))]
    assert {it["take"] for it in items[5:]} == {"drummer_1/010_phrase_a"}
    assert [t for t, _ in ds.skipped] == ["drummer_1/011_phrase_b"]
    assert "unreadable during training" in ds.skipped[0][1]


def test_workers_draw_different_segments(tree, tmp_path):
    ds = EnstDrums(tree, input_length=1024, output_length=1024, index_path=tmp_path / "i.json", segments_per_epoch=8)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)
    batches = list(loader)
    pos = [(t, int(o)) for b in batches for t, o in zip(b["take"], b["offset"])]
    assert len(set(pos)) == len(pos) == 8
    assert all(math.isfinite(float(b["mix"].abs().max())) for b in batches)


def test_stereo_stem_is_downmixed_and_mono_mix_duplicated(tmp_path):
    root = tmp_path / "enst"
    write_take(root, 1, "010_phrase_a", seconds=1.0)
    kick = root / "drummer_1/audio/kick/010_phrase_a.wav"
    mono, _ = sf.read(kick, dtype="float32")
    sf.write(kick, np.stack([mono, 0.5 * mono], axis=1), SR, subtype="FLOAT")
    wet = root / "drummer_1/audio/wet_mix/010_phrase_a.wav"
    stereo, _ = sf.read(wet, dtype="float32")
    sf.write(wet, stereo.mean(axis=1), SR, subtype="FLOAT")
    ds = EnstDrums(root, input_length=1024, output_length=1024, index_path=tmp_path / "i.json")
    assert any("kick has 2 channels, downmixed to mono" in n for n in ds.notes)
    assert any("wet_mix is mono, used on both channels" in n for n in ds.notes)
    take = ds.load_take(0)
    np.testing.assert_array_equal(take["mix"][0], take["mix"][1])
    assert abs(measure_loudness(take["stems"][0], SR) - STEM_LUFS) < 0.5
    assert abs(measure_loudness(take["mix"], SR) - MIX_LUFS) < 0.5
    assert ds[0]["stems"].shape == (8, 1024) and ds[0]["mix"].shape == (2, 1024)


def test_kit_stem_gain_keeps_the_recorded_balance():
    from automix.data.segments import kit_lufs, stem_gains_db
    from automix.inference.stem_files import input_gains

    levels = [-20.0, -26.0, -70.0, -45.0]  # a loud kick, a snare, a silent slot, a bleed-only tom
    assert kit_lufs(levels) == pytest.approx(10 * np.log10(10 ** -2.0 + 10 ** -2.6 + 10 ** -4.5), abs=1e-9)
    each = stem_gains_db(levels, -30.0, "each", 30.0)
    assert each == [-10.0, -4.0, 0.0, 15.0]  # the bleed-only tom raised 15 dB, the balance gone
    kit = stem_gains_db(levels, -30.0, "kit", 30.0)
    assert kit[0] == kit[1] == kit[3] and kit[2] == 0.0  # one gain: the recording's balance kept
    assert kit_lufs([v + kit[0] for v in levels]) == pytest.approx(-30.0, abs=1e-9)
    gains, notes = input_gains(levels, -30.0, ["kick", "snare", "hi-hat", "tom_1"], "kit")
    assert np.allclose(gains[[0, 1, 3]], 10 ** (kit[0] / 20)) and "the kit (one gain" in notes[0]
    with pytest.raises(ValueError, match="'each' or 'kit'"):
        stem_gains_db(levels, -30.0, "loudest", 30.0)
