"""Multitrack collections: manifest validation, folder scanning, and the training dataset."""

import json
import logging
import math
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from daw_bridge.audio import resample
from daw_bridge.loudness import measure_loudness
from automix.data import collection as col
from automix.data.collection import (
    LOUDNESS_INDEX_NAME,
    Manifest,
    ManifestError,
    MultitrackDataset,
    check_manifest_files,
    load_manifest,
    parse_manifest,
    scan_collection,
    write_manifest,
)
from daw_bridge.errors import AutomixError, OutputError
from daw_bridge.stems import DRUM_SLOTS
from automix.models.unet import WaveUNet, WaveUNetConfig

SR = 16000
SECONDS = 2.0
SLOTS = ["bass", "drums", "vocals", "other"]


def tone(freq, seconds=SECONDS, amp=0.1, phase=0.0):
    t = np.arange(int(SR * seconds)) / SR
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def write(path, audio, rate=SR, subtype="PCM_24"):
    """Write ``audio`` shaped [channels, frames] (or 1-D mono)."""
    audio = np.asarray(audio, dtype=np.float32)
    sf.write(str(path), audio.T if audio.ndim == 2 else audio, rate, subtype=subtype)


def build_collection(root):
    """Four songs with different stem sets; returns the root.

    Song A: kick, bass, lead vocal, guitar (L), an unrecognised file and a stereo Mix.wav.
    Song B: kick, bass and a stereo keys stem; no mix (the sum of the stems).
    Song C: bass and vocal, a mono mix named after the song.
    Song D: kick and a corrupt vocal file, and a mix.
    """
    a, b, c, d = (root / n for n in ("Song A", "Song B", "Song C", "Song D"))
    for folder in (a, b, c, d):
        folder.mkdir(parents=True)
    write(a / "Kick.wav", tone(60, amp=0.3))
    write(a / "Bass DI.wav", tone(110))
    write(a / "Lead Vocal.wav", tone(440, amp=0.05))
    write(a / "Gtr L.wav", tone(330, amp=0.08))
    write(a / "Weird Noise.wav", tone(1000, amp=0.01))
    write(a / "Mix.wav", np.stack([tone(200, amp=0.2), tone(210, amp=0.2)]))
    write(b / "Kick.wav", tone(65, amp=0.3))
    write(b / "Bass DI.wav", tone(98))
    write(b / "Keys.wav", np.stack([tone(523, amp=0.1), tone(659, amp=0.05)]))
    write(c / "Bass.wav", tone(82, seconds=1.5))
    write(c / "Lead Vocal.wav", tone(392, amp=0.05))
    write(c / "Song C Mix.wav", tone(150, amp=0.2))
    write(d / "Kick.wav", tone(55, amp=0.3))
    (d / "Lead Vocal.wav").write_bytes(b"this is not audio at all" * 10)
    write(d / "Mix.wav", np.stack([tone(300), tone(300)]))
    return root


@pytest.fixture()
def collection(tmp_path):
    root = build_collection(tmp_path / "coll")
    manifest = scan_collection(root, SLOTS)
    splits = {"Song A": "train", "Song B": "train", "Song C": "valid", "Song D": "test"}
    manifest = manifest.model_copy(
        update={"songs": [s.model_copy(update={"split": splits[s.name]}) for s in manifest.songs]}
    )
    path = write_manifest(manifest, root / "manifest.json")
    return root, path


@pytest.fixture(scope="module")
def net_sizes():
    net = WaveUNet(WaveUNetConfig(in_channels=4, out_channels=2, levels=3, base_filters=4, growth=4,
                                  kernel_down=5, kernel_up=5))
    info = net.input_length_for(2000)
    return net, info.input_length, info.output_length


def song_index(ds, name):
    return [s.name for s in ds.songs].index(name)


def sequential_items(ds, name):
    k = song_index(ds, name)
    return [ds[i] for i in range(len(ds)) if ds.tile(i)[0] == k]


# --------------------------------------------------------------------------- scanning


def test_scan_guesses_slots_from_typical_names(tmp_path):
    root = build_collection(tmp_path / "coll")
    manifest = scan_collection(root, SLOTS)
    songs = {s.name: s for s in manifest.songs}
    assert list(songs) == ["Song A", "Song B", "Song C", "Song D"]
    a = songs["Song A"]
    assert a.mix == "Mix.wav"
    assert {(st.file, st.slot) for st in a.stems} == {
        ("Bass DI.wav", "bass"), ("Kick.wav", "drums"), ("Lead Vocal.wav", "vocals"), ("Gtr L.wav", "other"),
    }
    assert a.unassigned == ["Weird Noise.wav"]
    assert songs["Song B"].mix is None  # no mix file: the sum of the stems
    assert songs["Song C"].mix == "Song C Mix.wav"  # "<song> mix"
    # the corrupt file is still assigned by name (the loader skips the song later)
    assert ("Lead Vocal.wav", "vocals") in {(st.file, st.slot) for st in songs["Song D"].stems}

    inferred = scan_collection(root)  # slots from the roles found
    assert inferred.slots == ["kick", "bass", "vocal", "guitar_L", "keys"]
    a = {st.file: st.slot for st in inferred.songs[0].stems}
    assert a == {"Kick.wav": "kick", "Bass DI.wav": "bass", "Lead Vocal.wav": "vocal", "Gtr L.wav": "guitar_L"}


def test_scan_mix_names_and_drum_slots(tmp_path):
    root = tmp_path / "drums"
    for name in ("one", "two", "three"):
        (root / name).mkdir(parents=True)
    write(root / "one" / "01 Kick In.wav", tone(60))
    write(root / "one" / "Kick Out.wav", tone(61))
    write(root / "one" / "Snare Top.wav", tone(200))
    write(root / "one" / "OH.wav", np.stack([tone(5000), tone(6000)]))
    write(root / "one" / "Click.wav", tone(1000))
    write(root / "one" / "Stereo Mix.wav", np.stack([tone(100), tone(100)]))
    write(root / "two" / "HH.wav", tone(8000))
    write(root / "two" / "Master.wav", tone(100))
    write(root / "three" / "Floor Tom.wav", tone(90))
    write(root / "three" / "three.wav", tone(100))  # named like the song: the mix
    (root / "empty").mkdir()
    manifest = scan_collection(root, DRUM_SLOTS)
    assert [s.name for s in manifest.songs] == ["one", "three", "two"]
    one, three, two = manifest.songs
    assert (one.mix, two.mix, three.mix) == ("Stereo Mix.wav", "Master.wav", "three.wav")
    stems = {(st.file, st.slot, st.channel) for st in one.stems}
    assert stems == {
        ("01 Kick In.wav", "kick", None), ("Kick Out.wav", "kick", None), ("Snare Top.wav", "snare", None),
        ("OH.wav", "overhead_L", 0), ("OH.wav", "overhead_R", 1),
    }
    assert one.unassigned == ["Click.wav"]
    assert [(st.file, st.slot) for st in two.stems] == [("HH.wav", "hi-hat")]
    assert [(st.file, st.slot) for st in three.stems] == [("Floor Tom.wav", "tom_3")]


def test_scan_bad_input(tmp_path):
    with pytest.raises(AutomixError, match="not a folder"):
        scan_collection(tmp_path / "nope")
    (tmp_path / "empty" / "song").mkdir(parents=True)
    with pytest.raises(AutomixError, match="no songs"):
        scan_collection(tmp_path / "empty")
    root = build_collection(tmp_path / "coll")
    with pytest.raises(AutomixError, match="given twice"):
        scan_collection(root, ["bass", "bass"])


def test_write_manifest_validates_and_round_trips(tmp_path):
    root = build_collection(tmp_path / "coll")
    manifest = scan_collection(root, SLOTS)
    path = write_manifest(manifest, root / "manifest.json")
    data = json.loads(path.read_text())
    assert data["root"] == "."
    assert data["slots"] == SLOTS
    assert data["songs"][1]["mix"] is None  # explicit: the sum of the stems
    assert "channel" not in data["songs"][0]["stems"][0]  # empty optional keys left out
    assert load_manifest(path) == manifest
    check_manifest_files(load_manifest(path))

    # written elsewhere: root is relative to the manifest, and still finds the songs
    (tmp_path / "elsewhere").mkdir()
    other = write_manifest(manifest, tmp_path / "elsewhere" / "m.json")
    assert json.loads(other.read_text())["root"] == "../coll"
    assert load_manifest(other) == manifest

    with pytest.raises(OutputError, match="exists"):
        write_manifest(manifest, path)
    assert load_manifest(path) == manifest  # untouched
    write_manifest(manifest, path, overwrite=True)
    with pytest.raises(OutputError, match=".json, .yaml or .yml"):
        write_manifest(manifest, root / "manifest.txt")


def test_yaml_manifest_round_trips(tmp_path):
    pytest.importorskip("yaml")
    root = build_collection(tmp_path / "coll")
    manifest = scan_collection(root, SLOTS)
    path = write_manifest(manifest, root / "manifest.yaml")
    assert "slots:" in path.read_text()
    assert load_manifest(path) == manifest


# --------------------------------------------------------------------------- validation


def small_manifest(**song):
    base = {"name": "s", "folder": "s", "mix": None, "stems": [{"file": "a.wav", "slot": "bass"}]}
    base.update(song)
    return {"version": 1, "slots": SLOTS, "songs": [base]}


def test_bad_slot_names_the_key():
    data = small_manifest(stems=[{"file": "a.wav", "slot": "bass"}, {"file": "k.wav", "slot": "kik"}])
    with pytest.raises(ManifestError) as err:
        parse_manifest(data, source="m.json")
    msg = str(err.value)
    assert "songs[0].stems[1].slot: 'kik' is not one of the manifest slots (bass, drums, vocals, other)" in msg
    assert msg.startswith("m.json is not a valid manifest") and "\n" not in msg


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"mixx": "a.wav"}, "songs[0].mixx: unknown key (allowed: name, folder, mix, stems, split, unassigned)"),
        ({"split": "training"}, "songs[0].split: Input should be 'train', 'valid' or 'test' (got 'training')"),
        ({"stems": [{"file": "a.wav", "slot": "bass", "channel": -1}]}, "songs[0].stems[0].channel"),
        ({"stems": [{"file": "a.wav"}]}, "songs[0].stems[0].slot: required key is missing"),
        ({"stems": [{"file": "a.wav", "slot": "bass"}] * 2}, "songs[0].stems[1]: repeats songs[0].stems[0]"),
    ],
)
def test_validation_errors_name_the_key(change, expected):
    with pytest.raises(ManifestError) as err:
        parse_manifest(small_manifest(**change))
    assert expected in str(err.value)


def test_manifest_level_errors(tmp_path):
    with pytest.raises(ManifestError, match=r"version: Input should be 1 \(got 2\)"):
        parse_manifest({**small_manifest(), "version": 2})
    with pytest.raises(ManifestError, match=r"slots\[1\]: 'bass' is listed twice"):
        parse_manifest({**small_manifest(), "slots": ["bass", "bass"]})
    data = small_manifest()
    data["songs"].append(dict(data["songs"][0]))
    with pytest.raises(ManifestError, match=r"songs\[1\].name: 's' is used twice"):
        parse_manifest(data)
    bad = tmp_path / "bad.json"
    bad.write_text('{"slots": [')
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="does not exist"):
        load_manifest(tmp_path / "missing.json")


def test_missing_files_give_one_error_listing_them(tmp_path):
    (tmp_path / "s").mkdir()
    write(tmp_path / "s" / "a.wav", tone(100))
    stems = [{"file": "a.wav", "slot": "bass"}] + [{"file": f"gone{i}.wav", "slot": "other"} for i in range(12)]
    data = small_manifest(stems=stems, mix="mix.wav")
    data["songs"].append({"name": "t", "folder": "no-such-folder", "stems": [{"file": "x.wav", "slot": "bass"}]})
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError) as err:
        MultitrackDataset(path, input_length=100, output_length=100)
    msg = str(err.value)
    assert "names 14 missing file(s)" in msg
    assert "mix.wav" in msg and "gone0.wav" in msg and "and 4 more" in msg
    assert "a.wav" not in msg.replace("gone", "")  # the file that exists is not listed
    assert "\n" not in msg


def test_channel_out_of_range_is_a_manifest_error(tmp_path):
    (tmp_path / "s").mkdir()
    write(tmp_path / "s" / "a.wav", tone(100))
    path = tmp_path / "m.json"
    path.write_text(json.dumps(small_manifest(stems=[{"file": "a.wav", "slot": "bass", "channel": 1}])))
    with pytest.raises(ManifestError, match=r"songs\[0\].stems\[0\].channel: 1 but a.wav has 1 channel"):
        MultitrackDataset(path, input_length=100, output_length=100)


# --------------------------------------------------------------------------- the dataset


def test_mix_mode_shapes_masks_and_model_sizes(collection, net_sizes):
    _, path = collection
    net, n_in, n_out = net_sizes
    ds = MultitrackDataset(path, input_length=n_in, output_length=n_out, mode="mix", split="train")
    assert ds.sample_rate == SR and ds.slots == tuple(SLOTS)
    assert [s.name for s in ds.songs] == ["Song A", "Song B"]
    assert len(ds) == sum(math.ceil(s.frames / n_out) for s in ds.songs)
    item = ds[0]
    assert item["input"].shape == (4, n_in) and item["input"].dtype == torch.float32
    assert item["target"].shape == (2, n_out)
    assert item["mask"].shape == (4,)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["input"].shape == (3, 4, n_in)
    with torch.no_grad():
        assert net(batch["input"]).shape == batch["target"].shape

    seq = MultitrackDataset(path, input_length=n_in, output_length=n_out, segment="sequential", split="train")
    for item in sequential_items(seq, "Song B"):  # bass, drums, other; no vocals
        assert item["mask"].tolist() == [1.0, 1.0, 0.0, 1.0]
        assert torch.all(item["input"][2] == 0)
        assert item["input"][0].abs().max() > 0
    assert sequential_items(seq, "Song A")[0]["mask"].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_separate_mode_shapes(collection, net_sizes):
    _, path = collection
    _, n_in, n_out = net_sizes
    for channels in (1, 2):
        ds = MultitrackDataset(path, input_length=n_in, output_length=n_out, mode="separate",
                               mix_channels=channels, split="train")
        item = ds[3]
        assert item["input"].shape == (channels, n_in)
        assert item["target"].shape == (4, n_out)
        assert item["mask"].shape == (4,)
    net = WaveUNet(WaveUNetConfig(in_channels=2, out_channels=4, levels=3, base_filters=4, growth=4,
                                  kernel_down=5, kernel_up=5))
    with torch.no_grad():
        assert net(item["input"][None]).shape == (1, 4, n_out)


def test_mix_null_is_the_sum_of_the_stems(collection, net_sizes):
    root, path = collection
    _, n_in, n_out = net_sizes
    ctx = (n_in - n_out) // 2
    ds = MultitrackDataset(path, input_length=n_in, output_length=n_out, segment="sequential", split="train")
    b = root / "Song B"
    kick, bass = (sf.read(b / n, dtype="float32")[0] for n in ("Kick.wav", "Bass DI.wav"))
    keys = sf.read(b / "Keys.wav", dtype="float32")[0].T  # stereo [2, T]
    expected = np.stack([kick + bass, kick + bass]) + keys  # mono stems centred, stereo as is
    items = sequential_items(ds, "Song B")
    for item in items:
        s = item["start"]
        np.testing.assert_allclose(item["target"].numpy(), expected[:, s : s + n_out], atol=1e-6)
        # the target lines up with the centre of the input: its fold-down is the sum of the slots
        np.testing.assert_allclose(item["target"].mean(0), item["input"][:, ctx : ctx + n_out].sum(0), atol=1e-6)
        np.testing.assert_allclose(item["input"][3, ctx : ctx + n_out], keys.mean(0)[s : s + n_out], atol=1e-6)

    sep = MultitrackDataset(path, input_length=n_in, output_length=n_out, mode="separate", mix_channels=1,
                            segment="sequential", split="train")
    for item in sequential_items(sep, "Song B"):
        np.testing.assert_allclose(item["input"][0, ctx : ctx + n_out], item["target"].sum(0), atol=1e-6)


def test_mix_files_are_used_and_mono_mixes_duplicated(collection, net_sizes):
    root, path = collection
    _, n_in, n_out = net_sizes
    ds = MultitrackDataset(path, input_length=n_in, output_length=n_out, segment="sequential", split="valid")
    mix = sf.read(root / "Song C" / "Song C Mix.wav", dtype="float32")[0]
    items = sequential_items(ds, "Song C")
    for item in items:
        s = item["start"]
        np.testing.assert_allclose(item["target"][0], mix[s : s + n_out], atol=1e-6)
        np.testing.assert_allclose(item["target"][1], item["target"][0])
    # Song C's bass is shorter than the song: zeros past its end, never an error
    assert items[-1]["input"][0, -100:].abs().max() == 0


def test_unreadable_song_is_skipped_and_counted(collection, net_sizes, caplog):
    _, path = collection
    _, n_in, n_out = net_sizes
    with caplog.at_level(logging.WARNING, logger="automix"):
        ds = MultitrackDataset(path, input_length=n_in, output_length=n_out)
    assert [s.name for s in ds.songs] == ["Song A", "Song B", "Song C"]
    assert len(ds.skipped) == 1 and ds.skipped[0].name == "Song D"
    assert "Lead Vocal.wav" in ds.skipped[0].reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 1 of 4" in warnings[0].getMessage()
    for i in range(len(ds)):
        assert ds[i]["song"] != len(ds.songs)
    with pytest.raises(ManifestError, match="no readable song"):
        MultitrackDataset(path, input_length=n_in, output_length=n_out, split="test")


def test_a_file_failing_mid_epoch_never_stops_it(tmp_path, net_sizes, caplog):
    _, n_in, n_out = net_sizes
    root = build_collection(tmp_path / "coll")
    bad = tone(77)
    bad[10:] = np.nan  # only found when the samples are read
    write(root / "Song A" / "Bass DI.wav", bad, subtype="FLOAT")
    path = write_manifest(scan_collection(root, SLOTS), root / "manifest.json")
    ds = MultitrackDataset(path, input_length=n_in, output_length=n_out, segment="sequential")
    assert len(ds.skipped) == 1  # Song D, found at build time
    with caplog.at_level(logging.WARNING, logger="automix"):
        items = [ds[i] for i in range(len(ds))]
    assert len(ds.skipped) == 2 and ds.skipped[1].name == "Song A" and "NaN" in ds.skipped[1].reason
    a = song_index(ds, "Song A")
    later = [it for it in items if it["song"] == a][-1]
    assert later["mask"].sum() == 0 and later["target"].abs().max() == 0
    assert sum("Song A" in r.getMessage() for r in caplog.records) == 1  # logged once
    rand = MultitrackDataset(path, input_length=n_in, output_length=n_out, seed=3)
    songs = [rand[i]["song"] for i in range(20)]  # draws that hit Song A are drawn again elsewhere
    assert a not in songs and [s.name for s in rand.skipped] == ["Song D", "Song A"]


def test_sequential_segments_are_deterministic_and_tile_each_song(collection, net_sizes):
    _, path = collection
    _, n_in, n_out = net_sizes
    kwargs = dict(input_length=n_in, output_length=n_out, segment="sequential", split=["train", "valid"])
    one, two = MultitrackDataset(path, **kwargs), MultitrackDataset(path, **kwargs)
    assert len(one) == len(two) == sum(math.ceil(s.frames / n_out) for s in one.songs)
    for i in range(len(one)):
        x, y = one[i], two[i]
        assert x["song"] == y["song"] and x["start"] == y["start"]
        assert torch.equal(x["input"], y["input"]) and torch.equal(x["target"], y["target"])
    for k, song in enumerate(one.songs):
        starts = [one.tile(i)[1] for i in range(len(one)) if one.tile(i)[0] == k]
        assert starts[0] == 0 and starts[-1] == song.frames - n_out
        assert all(b - a == n_out for a, b in zip(starts[:-2], starts[1:-1]))
        assert starts[-1] - starts[-2] <= n_out


def test_random_segments_are_seeded_and_skip_silence(tmp_path, net_sizes):
    _, n_in, n_out = net_sizes
    root = tmp_path / "quiet"
    (root / "q").mkdir(parents=True)
    quiet = np.concatenate([np.zeros(2 * SR, np.float32), tone(200, seconds=2.0)])
    write(root / "q" / "Bass.wav", quiet)
    path = write_manifest(scan_collection(root, SLOTS), root / "m.json")
    kwargs = dict(input_length=n_in, output_length=n_out, samples_per_epoch=30)
    one, two = MultitrackDataset(path, **kwargs), MultitrackDataset(path, **kwargs)
    assert len(one) == 30
    assert [one[i]["start"] for i in range(30)] == [two[i]["start"] for i in range(30)]
    other_seed = MultitrackDataset(path, seed=1, **kwargs)
    assert [one[i]["start"] for i in range(30)] != [other_seed[i]["start"] for i in range(30)]
    before = [one[i]["start"] for i in range(30)]
    one.set_epoch(1)
    assert [one[i]["start"] for i in range(30)] != before

    def silent(ds):
        return sum(float(ds[i]["target"].pow(2).mean()) < 1e-6 for i in range(30))

    no_skip = MultitrackDataset(path, silence_db=-math.inf, **kwargs)
    assert silent(no_skip) >= 5  # about half the song is silence
    assert silent(one) == 0


def test_splits_filter_songs(collection, net_sizes):
    _, path = collection
    _, n_in, n_out = net_sizes
    names = lambda split: [s.name for s in MultitrackDataset(path, input_length=n_in, output_length=n_out,
                                                              split=split).songs]  # noqa: E731
    assert names("train") == ["Song A", "Song B"]
    assert names("valid") == ["Song C"]
    assert names(["valid", "test"]) == ["Song C"]  # Song D is unreadable
    assert names(None) == ["Song A", "Song B", "Song C"]
    with pytest.raises(ValueError, match="split must be one of"):
        names("training")
    manifest = load_manifest(path)
    unsplit = manifest.model_copy(update={"songs": [s.model_copy(update={"split": None}) for s in manifest.songs]})
    with pytest.raises(ManifestError, match="no song has split 'train'"):
        MultitrackDataset(unsplit, input_length=n_in, output_length=n_out, split="train")


def test_loudness_normalisation_and_its_cache(collection, monkeypatch):
    root, path = collection
    n = int(SR * SECONDS)  # one window per song, the whole song
    ds = MultitrackDataset(path, input_length=n, output_length=n, segment="sequential", split="train",
                           loudness_target=-23.0)
    for item in ds:
        assert abs(measure_loudness(item["target"].numpy(), SR) + 23.0) < 0.5
        for row, present in zip(item["input"].numpy(), item["mask"].tolist()):
            if present:
                assert abs(measure_loudness(row, SR) + 23.0) < 0.5
    index = root / LOUDNESS_INDEX_NAME
    entries = json.loads(index.read_text())["entries"]
    assert len(entries) == (1 + 4) + (1 + 3)  # Song A: mix + 4 slots; Song B: sum-of-stems mix + 3 slots
    assert any(e["files"] == [["Song A/Kick.wav", os.path.getsize(root / "Song A" / "Kick.wav"),
                               os.stat(root / "Song A" / "Kick.wav").st_mtime_ns, None]] for e in entries.values())

    def no_measuring(*args, **kwargs):
        raise AssertionError("measured again instead of using the index")

    monkeypatch.setattr(col, "measure_loudness", no_measuring)
    again = MultitrackDataset(path, input_length=n, output_length=n, segment="sequential", split="train",
                              loudness_target=-23.0)
    assert torch.equal(again[0]["target"], ds[0]["target"])
    # a changed file is measured again
    write(root / "Song B" / "Keys.wav", np.stack([tone(523, amp=0.3), tone(659, amp=0.3)]))
    with pytest.raises(AssertionError, match="measured again"):
        MultitrackDataset(path, input_length=n, output_length=n, split="train", loudness_target=-23.0)


def test_separation_loudness_keeps_the_stems_share(collection):
    _, path = collection
    n = int(SR * SECONDS)
    ds = MultitrackDataset(path, input_length=n, output_length=n, mode="separate", mix_channels=1,
                           segment="sequential", split="train", loudness_target=-20.0)
    item = ds[song_index(ds, "Song B")]
    assert abs(measure_loudness(item["input"].numpy(), SR) + 20.0) < 0.5
    np.testing.assert_allclose(item["input"][0], item["target"].sum(0), atol=1e-5)  # mix = sum of stems


def test_other_sample_rates_are_resampled(tmp_path, net_sizes):
    _, n_in, n_out = net_sizes
    root = tmp_path / "rates"
    (root / "s").mkdir(parents=True)
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(22050 * 2)).astype(np.float32)
    write(root / "s" / "Bass.wav", noise, rate=22050)
    write(root / "s" / "Kick.wav", tone(60), rate=SR)
    manifest = scan_collection(root, SLOTS).model_copy(update={"sample_rate": SR})
    path = write_manifest(manifest, root / "m.json")
    ds = MultitrackDataset(path, input_length=n_in, output_length=n_out, segment="sequential")
    expected = resample(sf.read(root / "s" / "Bass.wav", dtype="float32")[0], 22050, SR)
    assert ds.songs[0].frames == len(expected)
    ctx = (n_in - n_out) // 2
    for i in range(len(ds)):
        item = ds[i]
        lo = item["start"] - ctx
        want = np.zeros(n_in, np.float32)
        a, b = max(lo, 0), min(lo + n_in, len(expected))
        want[a - lo : b - lo] = expected[a:b]
        np.testing.assert_allclose(item["input"][0], want, atol=1e-5)


def test_argument_checks(collection):
    _, path = collection
    with pytest.raises(ValueError, match="symmetric context"):
        MultitrackDataset(path, input_length=101, output_length=100)
    with pytest.raises(ValueError, match="mode"):
        MultitrackDataset(path, input_length=100, output_length=100, mode="unmix")
    with pytest.raises(ValueError, match="random segments only"):
        MultitrackDataset(path, input_length=100, output_length=100, segment="sequential", samples_per_epoch=5)
    manifest = load_manifest(path)
    assert isinstance(manifest, Manifest)
    ds = MultitrackDataset(manifest, input_length=100, output_length=100, split="valid")  # an object works too
    assert len(ds.songs) == 1


