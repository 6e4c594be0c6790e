"""Leave-kit-out splits of generated corpora: the function, the CLI option and the committed split file."""

from __future__ import annotations

import json

import pytest

from automix.cli import main
from automix.data import kits
from automix.data.generate import generate_corpus, plan_corpus
from automix.data.kitsplit import DEFAULT_HELDOUT, make_kit_split, take_facts
from automix.data.segments import Split, splits_dir
from daw_bridge.errors import AutomixError

COMMITTED = "generated-drums-200-seed0-leave-kit-out"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("kitsplit") / "c"
    generate_corpus(out, 6, seed=0, seconds=2.0, progress=False)
    return out


def test_plan_is_what_the_generator_makes(small):
    facts = take_facts(small)
    plan = plan_corpus(6, seed=0, seconds=2.0)
    assert facts == [{k: v for k, v in row.items() if k != "mix_style"} for row in plan]
    for row in plan:
        truth = json.loads((small / row["id"].replace("/", "/annotation/", 1)).with_suffix(".json").read_text())
        assert truth["mix_style"] == row["mix_style"]


def test_held_out_kits_and_mics_never_reach_training():
    rows = plan_corpus(60, seed=3)
    split = make_kit_split(rows, test_kits=["AVL Red Zeppelin", "BJA_Pacific", "ColomboAcousticDrumkit"],
                           test_mics=["xy"], seed=1, valid=0.1)
    held = split.options["leave_out"]
    assert set(held["kits"]) == {"AVL Black Pearl", "AVL Red Zeppelin", "BJA_Pacific", "ColomboAcousticDrumkit"}
    assert held["families"] == ["avl", "bja-pacific", "colombo"] and held["mics"] == ["xy"]
    by_id = {r["id"]: r for r in rows}
    seen = [t for name in split.subsets for t in split.items(name)]
    assert sorted(seen) == sorted(by_id) and len(seen) == len(set(seen))
    for name in ("train", "valid"):
        for take in split.items(name):
            assert by_id[take]["kit"] not in held["kits"] and by_id[take]["technique"] != "xy"
    for take in split.items("test"):
        assert by_id[take]["kit"] in held["kits"] or by_id[take]["technique"] == "xy"
    assert len(split.items("valid")) == round(0.1 * (len(rows) - len(split.items("test"))))
    assert split.options["subsets"]["train"]["takes"] == len(split.items("train"))
    assert not set(split.options["subsets"]["train"]["kits"]) & set(held["kits"])
    # deterministic; the seed only reorders train and valid
    assert make_kit_split(rows, test_kits=["AVL Red Zeppelin", "BJA_Pacific", "ColomboAcousticDrumkit"],
                          test_mics=["xy"], seed=1, valid=0.1).subsets == split.subsets
    other = make_kit_split(rows, test_kits=["AVL Red Zeppelin", "BJA_Pacific", "ColomboAcousticDrumkit"],
                           test_mics=["xy"], seed=2, valid=0.1)
    assert other.items("test") == split.items("test") and other.items("valid") != split.items("valid")
    with pytest.raises(AutomixError, match="unknown kits"):
        make_kit_split(rows, test_kits=["TR808EmulationKit"])
    with pytest.raises(AutomixError, match="unknown mic"):
        make_kit_split(rows, test_mics=["blumlein"])
    with pytest.raises(AutomixError, match="leaves 0 takes for training"):
        make_kit_split(rows, test_kits=list(kits.CATALOGUE))


def test_cli_writes_a_leave_kit_out_split(small, tmp_path, capsys):
    out = tmp_path / "split.json"
    argv = ["datasets", "split", str(small), "-o", str(out), "--by-kit", "--test-kits", "BJA_Pacific,rumpf_kit_z01",
            "--test-mics", "room"]
    assert main(argv) == 0
    assert "held out kits BJA_Pacific, rumpf_kit_z01" in capsys.readouterr().out
    split = Split.load(out)
    facts = {t["id"]: t for t in take_facts(small)}
    assert split.dataset == "generated-drums"
    for take in split.items("train") + split.items("valid"):
        assert facts[take]["kit"] not in ("BJA_Pacific", "rumpf_kit_z01") and facts[take]["placement"] != "room"
    assert {facts[t]["kit"] for t in split.items("test")} & {"BJA_Pacific", "rumpf_kit_z01"}
    assert main(argv) == 1  # refuses to overwrite
    capsys.readouterr()
    assert main(["datasets", "split", str(tmp_path), "-o", str(tmp_path / "x.json"), "--by-kit"]) == 1
    assert "no generated takes" in capsys.readouterr().err


def test_committed_leave_kit_out_split_matches_the_default_corpus():
    """datasets/splits/generated-drums-200-seed0-leave-kit-out.json is the default leave-kit-out split
    of ``automix datasets drums --songs 200 --seed 0`` (its plan: names, kits and mics of every take)."""
    split = Split.load(COMMITTED)
    rows = plan_corpus(200, seed=0)
    assert split.subsets == make_kit_split(rows).subsets
    held = split.options["leave_out"]
    assert set(held["kits"]) == set(DEFAULT_HELDOUT["kits"]) and held["mics"] == DEFAULT_HELDOUT["mics"]
    acoustic = [k for k in held["kits"] if kits.CATALOGUE[k].source in ("hydrogen", "soundfont")]
    assert len(acoustic) >= 3 and held["mics"]
    by_id = {r["id"]: r for r in rows}
    train = split.items("train") + split.items("valid")
    assert len(train) + len(split.items("test")) == 200
    assert not {by_id[t]["kit"] for t in train} & set(held["kits"])
    assert not {by_id[t]["placement"] for t in train} & set(held["mics"])
    assert set(held["kits"]) <= {by_id[t]["kit"] for t in split.items("test")}
    assert len({by_id[t]["kit"] for t in split.items("train")}) >= 12
    assert (splits_dir() / f"{COMMITTED}.json").read_text() == split.to_json()
