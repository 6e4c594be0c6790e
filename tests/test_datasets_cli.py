"""`automix datasets manifest|split` through the CLI: files, numbers, exit codes."""

import json

import pytest

from automix.cli import main
from automix.data.collection import load_manifest
from automix.data.segments import Split
from tests.test_collection import build_collection
from tests.test_enst import build_tree


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOMIX_CACHE", str(tmp_path / "cache"))


def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_manifest_written_and_refused_twice(tmp_path, capsys):
    root = build_collection(tmp_path / "songs")
    out = tmp_path / "manifest.json"
    assert main(["datasets", "manifest", str(root), "-o", str(out)]) == 0
    stdout = capsys.readouterr().out
    manifest = load_manifest(out)
    assert f"{len(manifest.songs)} songs" in stdout and len(manifest.songs) >= 3
    assert json.loads(out.read_text())["version"] == 1
    before = out.read_bytes()
    assert main(["datasets", "manifest", str(root), "-o", str(out)]) == 1
    assert "exists" in _one_error(capsys.readouterr().err)
    assert out.read_bytes() == before
    assert main(["datasets", "manifest", str(root), "-o", str(out), "--force", "--slots", "bass,drums,vocals,other"]) == 0
    assert load_manifest(out).slots == ["bass", "drums", "vocals", "other"]


def test_manifest_of_missing_folder(tmp_path, capsys):
    assert main(["datasets", "manifest", str(tmp_path / "nope"), "-o", str(tmp_path / "m.json")]) == 1
    _one_error(capsys.readouterr().err)
    assert not (tmp_path / "m.json").exists()


def test_split_written_and_deterministic(tmp_path, capsys):
    root = build_tree(tmp_path / "enst")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["datasets", "split", str(root), "-o", str(a), "--seed", "3"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["datasets", "split", str(root), "-o", str(b), "--seed", "3", "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert a.read_bytes() == b.read_bytes()
    split = Split.model_validate_json(a.read_text())
    every = [t for name in split.subsets for t in split.items(name)]
    assert len(every) == len(set(every)) and not any("hits" in t for t in every)
    assert main(["datasets", "split", str(root), "-o", str(tmp_path / "h.json"), "--include-hits", "-q"]) == 0
    with_hits = Split.model_validate_json((tmp_path / "h.json").read_text())
    assert sum(len(with_hits.items(n)) for n in with_hits.subsets) > len(every)


def test_split_by_drummer(tmp_path, capsys):
    root = build_tree(tmp_path / "enst")
    out = tmp_path / "d.json"
    assert main(["datasets", "split", str(root), "-o", str(out), "--test-drummer", "3", "-q"]) == 0
    split = Split.model_validate_json(out.read_text())
    assert split.items("test") and all(t.startswith("drummer_3/") for t in split.items("test"))
    assert not any(t.startswith("drummer_3/") for t in split.items("train") + split.items("valid"))


def test_split_bad_input(tmp_path, capsys):
    root = build_tree(tmp_path / "enst")
    assert main(["datasets", "split", str(tmp_path), "-o", str(tmp_path / "s.json")]) == 1
    assert "drummer_" in _one_error(capsys.readouterr().err)
    assert main(["datasets", "split", str(root), "-o", str(tmp_path / "s.json"), "--valid", "0.6", "--test", "0.5"]) == 1
    _one_error(capsys.readouterr().err)
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "split", str(root), "-o", str(tmp_path / "s.json"), "--valid", "-1"])
    assert exc.value.code == 2
    assert not (tmp_path / "s.json").exists()


def test_drums_generator_through_the_cli(tmp_path, capsys):
    """`automix datasets drums` renders for real (DrumGizmo) and the ENST loader reads it."""
    import shutil

    import soundfile as sf

    from automix.data.enst import scan_enst

    if shutil.which("drumgizmo") is None and not __import__("os").environ.get("CI"):
        pytest.skip("drumgizmo not installed (CI installs it)")
    out = tmp_path / "corpus"
    argv = ["datasets", "drums", "--out", str(out), "--songs", "2", "--seconds", "3", "--seed", "5", "-q"]
    assert main(argv) == 0
    takes = scan_enst(out)
    assert len(takes) == 2
    for take in takes:
        lengths = {sf.info(str(p)).frames for p in take.stems if p is not None}
        lengths.add(sf.info(str(take.dry_mix)).frames)
        assert len(lengths) == 1
        assert sf.info(str(take.wet_mix)).channels == 2
    # a second run into the same folder is refused, with one line, and nothing changes
    before = sorted(p.name for p in out.rglob("*"))
    assert main(argv) == 1
    assert "--force" in _one_error(capsys.readouterr().err)
    assert sorted(p.name for p in out.rglob("*")) == before
    with pytest.raises(SystemExit) as exc:
        main(["datasets", "drums", "--out", str(tmp_path / "x"), "--songs", "0"])
    assert exc.value.code == 2
    capsys.readouterr()
    assert main(["datasets", "drums", "--out", str(tmp_path / "x"), "--songs", "1", "--seconds", "1"]) == 1
    assert "seconds" in _one_error(capsys.readouterr().err)
    assert not (tmp_path / "x").exists()


def test_committed_generated_split_matches_the_generator(tmp_path):
    """datasets/splits/generated-drums-100-seed0.json names the takes `--songs 100 --seed 0` writes.

    Take names depend only on the seed and the take number, so three short takes are enough to
    check the first names; the file itself is the seeded split of all 100.
    """
    import shutil

    from automix.data.enst import make_enst_split, scan_enst
    from automix.data.segments import splits_dir

    path = splits_dir() / "generated-drums-100-seed0.json"
    split = Split.model_validate_json(path.read_text())
    every = sorted(t for name in split.subsets for t in split.items(name))
    assert len(every) == 100 == len(set(every))
    assert (len(split.items("train")), len(split.items("valid")), len(split.items("test"))) == (80, 10, 10)
    # the split is what make_enst_split gives for these names and seed
    assert make_enst_split(every, seed=0).subsets == split.subsets
    if shutil.which("drumgizmo") is None and not __import__("os").environ.get("CI"):
        pytest.skip("drumgizmo not installed (CI installs it)")
    assert main(["datasets", "drums", "--out", str(tmp_path / "c"), "--songs", "3", "--seconds", "2", "-q"]) == 0
    assert [t.id for t in scan_enst(tmp_path / "c")] == every[:3]
