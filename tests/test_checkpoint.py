"""Checkpoints: safetensors + JSON card; never a pickle; mismatches refused."""

import json
import pickle

import pytest
import torch

from automix.models.checkpoint import ModelCard, load_model, read_card
from daw_bridge.errors import CheckpointError, OutputError
from automix.models.mixer import mix_wave_unet


def _small(**kw):
    return mix_wave_unet(levels=3, growth=4, base_filters=4, **kw)


def test_round_trip(tmp_path):
    model = _small(name="tiny")
    model.card.training.data = "unit test"
    model.card.metrics["l1"] = 0.5
    path = model.save(tmp_path / "tiny")
    assert path.name == "tiny.safetensors" and (tmp_path / "tiny.json").is_file()
    card = json.loads((tmp_path / "tiny.json").read_text())
    assert card["input_names"][0] == "kick" and card["output_names"] == ["L", "R"]
    assert card["sample_rate"] == 44100 and card["parameters"] == model.net.num_parameters()
    assert card["config"]["levels"] == 3 and len(card["weights_sha256"]) == 64
    for p in (tmp_path / "tiny", tmp_path / "tiny.json", tmp_path / "tiny.safetensors"):
        loaded = load_model(p)
        assert loaded.slots == model.slots and loaded.card.metrics == {"l1": 0.5}
        for (k, a), (_, b) in zip(model.net.state_dict().items(), loaded.net.state_dict().items()):
            assert torch.equal(a, b), k


def test_save_refuses_existing_without_overwrite(tmp_path):
    model = _small()
    model.save(tmp_path / "m")
    before = (tmp_path / "m.safetensors").read_bytes()
    with pytest.raises(OutputError, match="exists"):
        _small().save(tmp_path / "m")
    assert (tmp_path / "m.safetensors").read_bytes() == before
    _small().save(tmp_path / "m", overwrite=True)
    assert (tmp_path / "m.safetensors").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.safetensors"]


def test_pickle_is_refused(tmp_path):
    model = _small()
    torch.save(model.net.state_dict(), tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="pickled"):
        load_model(tmp_path / "model.pt")
    # a pickle renamed to .safetensors is refused too, before anything is unpickled
    (tmp_path / "evil.safetensors").write_bytes(pickle.dumps({"a": 1}))
    model.card.model_copy()
    (tmp_path / "evil.json").write_text(json.dumps(model.card.model_dump(mode="json")))
    with pytest.raises(CheckpointError, match="pickled"):
        load_model(tmp_path / "evil.safetensors")


def test_card_for_other_weights_is_refused(tmp_path):
    _small().save(tmp_path / "a")
    mix_wave_unet(levels=3, growth=6, base_filters=4).save(tmp_path / "b")
    # swap the cards: architecture differs -> shapes differ
    (tmp_path / "a.json").write_text((tmp_path / "b.json").read_text())
    with pytest.raises(CheckpointError, match="other weights|does not match"):
        load_model(tmp_path / "a")
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(tmp_path / "a", verify_hash=False)


def test_same_architecture_other_weights_is_refused_by_hash(tmp_path):
    _small().save(tmp_path / "a")
    _small().save(tmp_path / "b")  # new random init, same shapes
    (tmp_path / "a.json").write_text((tmp_path / "b.json").read_text())
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_model(tmp_path / "a")


def test_invalid_card_names_the_key(tmp_path):
    _small().save(tmp_path / "a")
    card = json.loads((tmp_path / "a.json").read_text())
    card["config"]["levels"] = -1
    (tmp_path / "a.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="config.levels"):
        read_card(tmp_path / "a.json")
    card["config"]["levels"] = 3
    card["input_names"] = ["kick"]
    (tmp_path / "a.json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="input_names"):
        load_model(tmp_path / "a")
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(tmp_path / "a")


def test_missing_and_corrupt(tmp_path):
    with pytest.raises(CheckpointError, match="do not exist"):
        load_model(tmp_path / "nothing")
    _small().save(tmp_path / "a")
    (tmp_path / "a.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(CheckpointError):
        load_model(tmp_path / "a", verify_hash=False)


def test_card_validation():
    model = _small()
    data = model.card.model_dump()
    data["output_names"] = ["L"]
    with pytest.raises(ValueError, match="output_names"):
        ModelCard.model_validate(data)


def test_saved_files_are_deterministic_and_not_private(tmp_path):
    import os
    import stat

    model = _small()
    a = model.save(tmp_path / "a")
    b = model.save(tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()  # same weights -> same bytes -> same hash
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(a.stat().st_mode) == 0o666 & ~mask
