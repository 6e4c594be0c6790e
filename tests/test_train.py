"""Training: recipes, overfitting a generated take, exact resume after SIGKILL, DDP on gloo, bad input.

Data comes from the real generator (DrumGizmo + Hydrogen's GMRockKit; CI installs both).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from automix.models.checkpoint import load_model
from automix.cli import main
from automix.data.enst import make_enst_split
from automix.data.generate import generate_corpus
from daw_bridge.errors import AutomixError
from automix.train.recipe import TrainRecipe, list_recipes, load_recipe, recipe_differences
from automix.train.builders import NumberedSegments, StepSampler
from automix.train.errors import TrainingDiverged, TrainingError
from automix.train.state import list_checkpoints
from automix.train.trainer import train

ROOT = Path(__file__).resolve().parent.parent
HAVE_DRUMGIZMO = shutil.which("drumgizmo") is not None
if not HAVE_DRUMGIZMO and os.environ.get("CI"):
    raise RuntimeError("CI needs DrumGizmo: apt-get install -y --no-install-recommends drumgizmo hydrogen-data")
pytestmark = pytest.mark.skipif(not HAVE_DRUMGIZMO, reason="DrumGizmo missing (apt-get install drumgizmo hydrogen-data)")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("train")


@pytest.fixture(scope="module")
def cache(workdir):
    """A private automix cache (loudness indexes, kit) for this module and its subprocesses."""
    path = workdir / "cache"
    old = os.environ.get("AUTOMIX_CACHE")
    os.environ["AUTOMIX_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("AUTOMIX_CACHE", None)
    else:
        os.environ["AUTOMIX_CACHE"] = old


@pytest.fixture(scope="module")
def corpus(workdir, cache):
    """Three generated takes of 6 s, all in the training subset (validation reads them too)."""
    out = workdir / "corpus"
    generate_corpus(out, 3, seed=5, seconds=6.0, progress=False)
    split = make_enst_split(out, fractions={"train": 1.0})
    split.save(workdir / "split.json")
    return out


@pytest.fixture(scope="module")
def one_take(workdir, cache):
    out = workdir / "one"
    generate_corpus(out, 1, seed=3, seconds=4.0, progress=False)
    make_enst_split(out, fractions={"train": 1.0}).save(workdir / "one-split.json")
    return out


def tiny_recipe(root: Path, split: Path, **top) -> dict:
    recipe = {
        "name": "tiny",
        "task": "mix",
        "model": {"preset": "mix-wave-u-net-small", "config": {"levels": 3, "base_filters": 8, "growth": 8}},
        "data": {"kind": "generated", "root": str(root), "split": str(split), "valid_subset": "train",
                 "segments_per_epoch": 6, "valid_segments": 4, "target": "dry", "workers": 0},
        "loss": "l1",
        "optimizer": {"lr": 1e-3},
        "steps": 12,
        "batch_size": 4,
        "segment_seconds": 0.1,
        "precision": "fp32",
        "validate_every": 6,
        "checkpoint_every": 4,
        "keep_checkpoints": 10,
        "log_every": 1,
    }
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(recipe.get(key), dict):
            recipe[key] = {**recipe[key], **value}
        else:
            recipe[key] = value
    return recipe


def write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(json.dumps(recipe))
    return path


def rows(run: Path, phase: str = "train") -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["phase"] == phase]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------ recipes


def test_shipped_recipes_validate_and_paper_recipe_is_the_papers():
    names = list_recipes()
    assert {"mix-wave-u-net-paper", "mix-small-cpu", "separate-small-cpu", "mix-wave-u-net-perceptual"} <= set(names)
    from automix.train.console_trainer import ConsoleRecipe, console_recipe

    for name in names:
        console = console_recipe(name)
        if name.startswith("drums-console"):
            assert isinstance(console, ConsoleRecipe)
        else:
            assert isinstance(load_recipe(name), TrainRecipe)
    dynamics = console_recipe("drums-console-dynamics")
    assert dynamics.config.dynamics and dynamics.freeze_base and dynamics.init == "drums-console"
    paper = load_recipe("mix-wave-u-net-paper")
    assert (paper.optimizer.name, paper.optimizer.lr, paper.batch_size) == ("adam", 1e-4, 16)
    assert [t.name for t in paper.loss_terms()] == ["l1"] and paper.early_stopping is not None
    assert paper.data.kind == "enst" and paper.model.preset == "mix-wave-u-net-paper"
    assert load_recipe("drums-default").swap_invariant and not paper.swap_invariant


def test_swap_invariant_is_left_out_of_digests_when_off():
    from automix.train.recipe import canonical_json

    plain = load_recipe("mix-small-cpu")
    assert '"swap_invariant"' not in canonical_json(plain)  # digests of older runs still match
    on = load_recipe("mix-small-cpu", ["swap_invariant=true"])
    assert '"swap_invariant":true' in canonical_json(on) and on.digest() != plain.digest()
    assert "swap_invariant: false -> true" in recipe_differences(plain, on)


def test_recipe_errors_name_the_key():
    with pytest.raises(AutomixError, match=r"optimizer\.lrr: Extra inputs are not permitted"):
        load_recipe("mix-small-cpu", ["optimizer.lrr=1"])
    with pytest.raises(AutomixError, match=r"batch_size: Input should be greater than or equal to 1 \(got 0\)"):
        load_recipe("mix-small-cpu", ["batch_size=0"])
    with pytest.raises(AutomixError, match=r"schedule\.name"):
        load_recipe("mix-small-cpu", {"schedule.name": "linear"})
    with pytest.raises(AutomixError, match="KEY=VALUE"):
        load_recipe("mix-small-cpu", ["steps"])
    with pytest.raises(AutomixError, match=r"model\.config: .*unknown architecture field\(s\) dilatoin; WaveUNetConfig has "):
        load_recipe("mix-small-cpu", ['model.config.dilatoin="exp2"'])  # refused when read, not when built
    with pytest.raises(AutomixError, match="no recipe file or shipped recipe named 'nope'"):
        load_recipe("nope")
    with pytest.raises(AutomixError, match="stereo_perceptual needs stereo"):
        load_recipe("separate-small-cpu", ['loss="stereo_perceptual"'])
    with pytest.raises(AutomixError, match="swap_invariant needs stereo mix targets"):
        load_recipe("separate-small-cpu", ["swap_invariant=true"])
    r = load_recipe("mix-small-cpu", ["optimizer.lr=3e-4", "steps=7", 'loss="l1+0.1*mrstft"'])
    assert r.optimizer.lr == 3e-4 and r.steps == 7 and [t.name for t in r.loss_terms()] == ["l1", "mrstft"]
    diffs = recipe_differences(load_recipe("mix-small-cpu"), r)
    assert "optimizer.lr: 0.0005 -> 0.0003" in diffs and "steps: 300 -> 7" in diffs


def test_schedule_factors():
    r = load_recipe("mix-small-cpu", {"schedule": {"name": "cosine", "warmup_steps": 10, "min_lr_ratio": 0.1}})
    f = [r.schedule.factor(s, 110) for s in (0, 9, 10, 60, 110)]
    np.testing.assert_allclose(f, [0.1, 1.0, 1.0, 0.55, 0.1], atol=1e-12)
    step = load_recipe("mix-small-cpu", {"schedule": {"name": "step", "step_size": 5, "gamma": 0.5}}).schedule
    assert [step.factor(s, 100) for s in (0, 4, 5, 12)] == [1.0, 1.0, 0.5, 0.25]


def test_step_sampler_partitions_the_global_batch():
    one = StepSampler(3, 8)
    it = iter(one)
    assert [next(it) for _ in range(8)] == list(range(24, 32))
    halves = []
    for rank in (0, 1):
        it = iter(StepSampler(3, 8, rank, 2))
        halves.append([next(it) for _ in range(8)])  # two updates' worth of this rank's share
    assert halves[0] == [24, 25, 26, 27, 32, 33, 34, 35] and halves[1] == [28, 29, 30, 31, 36, 37, 38, 39]
    with pytest.raises(TrainingError, match="does not split over 3 processes"):
        StepSampler(0, 8, 0, 3)


# ------------------------------------------------------------------------------------ training


def test_tiny_model_overfits_one_take_far_below_the_plain_sum(one_take, workdir):
    recipe = tiny_recipe(
        one_take, workdir / "one-split.json",
        model={"preset": "mix-wave-u-net-small", "config": {"levels": 4, "base_filters": 12, "growth": 12}},
        data={"segments_per_epoch": 8, "valid_segments": 8},
        optimizer={"lr": 2e-3}, schedule={"name": "cosine", "min_lr_ratio": 0.05},
        steps=250, segment_seconds=0.5, precision="auto", validate_every=125, checkpoint_every=250, log_every=25,
    )
    result = train(recipe, out=workdir / "overfit", progress=False)
    base = result.baseline_valid_loss
    assert result.steps == 250 and result.best_step == 250
    assert result.best_valid_loss < 0.35 * base, (result.best_valid_loss, base)
    card = load_model(result.model_path).card
    assert card.metrics["valid_si_sdr_db"] > card.metrics["baseline_sum_valid_si_sdr_db"] + 4.0
    assert card.training.steps == 250 and "generated drums" in card.training.data
    assert card.training.target == recipe["data"]["target"] == "dry"  # the demo picks its reference by it
    assert (card.input_lufs, card.output_lufs) == (-30.0, -23.0)  # the loader's stem and mix levels


def test_run_folder_logs_card_and_mix_with_the_result(corpus, workdir, tmp_path):
    run = workdir / "logged"
    result = train(tiny_recipe(corpus, workdir / "split.json", loss="l1+0.1*mrstft"), out=run, progress=False)
    assert result.steps == 12
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoints", "metrics.csv", "model.json", "model.safetensors", "recipe.json", "tensorboard", "train.log"]
    assert [s for s, _ in list_checkpoints(run)] == [4, 8, 12]
    train_rows, valid_rows = rows(run), rows(run, "valid")
    assert [int(r["step"]) for r in train_rows] == list(range(1, 13))
    assert all(set(json.loads(r["terms"])) == {"l1", "mrstft"} and float(r["segments_per_s"]) > 0 for r in train_rows)
    assert [int(r["step"]) for r in valid_rows] == [6, 12]
    assert all(float(r["baseline_loss"]) > 0 for r in valid_rows)
    # TensorBoard events hold the same training losses
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tensorboard"))
    acc.Reload()
    tb = [e.value for e in acc.Scalars("train/loss")]
    np.testing.assert_allclose(tb, [float(r["loss"]) for r in train_rows], rtol=1e-4)
    assert {"valid/loss", "valid/si_sdr", "train/lr", "train/mrstft"} <= set(acc.Tags()["scalars"])
    assert "validation loss" in (run / "train.log").read_text()
    card = json.loads((run / "model.json").read_text())
    assert card["task"] == "mix" and card["training"]["steps"] == result.best_step
    assert "1.0*l1 + 0.1*mrstft" in card["training"]["recipe"].replace("1*l1", "1.0*l1")
    assert json.loads((run / "recipe.json").read_text())["loss"] == "l1+0.1*mrstft"
    # the run's model mixes stems
    out = tmp_path / "mix.wav"
    assert main(["mix", str(ROOT / "examples" / "stems"), "-o", str(out), "--model", str(run / "model.safetensors"), "-q"]) == 0
    assert out.stat().st_size > 1000


def test_swap_invariant_run_logs_the_swapped_share(corpus, workdir):
    run = workdir / "swap"
    result = train(tiny_recipe(corpus, workdir / "split.json", steps=4, validate_every=4, swap_invariant=True),
                   out=run, progress=False)
    assert result.steps == 4
    shares = [json.loads(r["terms"])["swapped"] for r in rows(run)]
    assert len(shares) == 4 and all(0.0 <= v <= 1.0 for v in shares)
    assert "channel-swap invariant" in load_model(result.model_path).card.training.recipe


def test_separation_recipe_trains_a_separator(corpus, workdir):
    recipe = tiny_recipe(corpus, workdir / "split.json", task="separate", steps=4, validate_every=4)
    result = train(recipe, out=workdir / "sep", progress=False)
    model = load_model(result.model_path)
    assert model.task == "separate" and model.card.config.in_channels == 2 and model.card.config.out_channels == 8
    assert model.card.output_names[0] == "kick" and np.isfinite(result.best_valid_loss)


def test_resume_after_sigkill_ends_where_an_uninterrupted_run_ends(corpus, workdir, tmp_path):
    recipe = write_recipe(tmp_path / "r.json", tiny_recipe(corpus, workdir / "split.json", steps=40, checkpoint_every=5,
                                                           validate_every=10, data={"workers": 2}))
    # every run in its own process with the same thread count: float sums then add up in the same order
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    cmd = [sys.executable, "-m", "automix", "train", str(recipe), "-q", "--out"]
    done = subprocess.run(cmd + [str(whole)], env=_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()

    proc = subprocess.Popen(cmd + [str(killed)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (killed / "checkpoints" / "step-00000010").is_dir():
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = [s for s, _ in list_checkpoints(killed)]
    assert 10 <= done[-1] < 40, done  # killed mid-training

    done = subprocess.run(cmd + [str(killed), "--resume"], env=_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    a, b = weights(whole / "checkpoints/step-00000040/model.safetensors"), weights(killed / "checkpoints/step-00000040/model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    la, lb = rows(whole), rows(killed)
    assert [r["step"] for r in la] == [r["step"] for r in lb] and [r["loss"] for r in la] == [r["loss"] for r in lb]
    state_a = json.loads((whole / "checkpoints/step-00000040/state.json").read_text())
    state_b = json.loads((killed / "checkpoints/step-00000040/state.json").read_text())
    assert state_a["best_loss"] == state_b["best_loss"] and state_a["best_step"] == state_b["best_step"]


def test_resume_refuses_a_changed_recipe_and_extends_steps(corpus, workdir, tmp_path, capsys):
    recipe = write_recipe(tmp_path / "r.json", tiny_recipe(corpus, workdir / "split.json", steps=4))
    run = tmp_path / "run"
    assert main(["train", str(recipe), "--out", str(run), "-q"]) == 0
    capsys.readouterr()
    assert main(["train", str(recipe), "--out", str(run), "-q"]) == 1
    assert "already holds a run (checkpoint at step 4); add --resume" in capsys.readouterr().err
    assert main(["train", str(recipe), "--out", str(run), "--resume", "--lr", "0.01", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "optimizer.lr: 0.001 -> 0.01" in err
    assert main(["train", str(recipe), "--out", str(run), "--resume", "--steps", "8", "-q"]) == 0
    assert [s for s, _ in list_checkpoints(run)] == [4, 8]
    assert [int(r["step"]) for r in rows(run)] == list(range(1, 9))
    assert main(["train", str(recipe), "--out", str(tmp_path / "none"), "--resume", "-q"]) == 1
    assert "nothing to resume" in capsys.readouterr().err


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(corpus, workdir, tmp_path, capsys):
    # a learning rate of 1e30 without clipping: the first update is finite, the next forward overflows
    recipe = write_recipe(tmp_path / "r.json", tiny_recipe(corpus, workdir / "split.json", optimizer={"lr": 1e30},
                                                           grad_clip=None, checkpoint_every=1, steps=10))
    run = tmp_path / "run"
    assert main(["train", str(recipe), "--out", str(run), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "became NaN or infinite at step" in err and "last good checkpoint is" in err
    kept = list_checkpoints(run)
    assert kept and kept[-1][0] < 10
    for t in weights(kept[-1][1] / "model.safetensors").values():
        assert torch.isfinite(t).all()
    with pytest.raises(TrainingDiverged):
        train(json.loads(recipe.read_text()), out=tmp_path / "run2", progress=False)


def test_bad_data_and_run_folders_fail_before_training(corpus, workdir, tmp_path, capsys):
    recipe = tiny_recipe(corpus, workdir / "split.json", data={"kind": "enst"})  # generated would fill an empty folder
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = tmp_path / "wrong"
    (wrong / "songs").mkdir(parents=True)
    (wrong / "songs" / "a.txt").write_text("x")
    rp = write_recipe(tmp_path / "r.json", recipe)
    for data, message in ((empty, "found an empty folder"), (wrong, "is not an ENST-drums folder"),
                          (tmp_path / "missing", "does not exist")):
        out = tmp_path / f"run-{data.name}"
        assert main(["train", str(rp), "--data", str(data), "--out", str(out), "-q"]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
        assert not out.exists()  # nothing left behind
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["train", str(rp), "--out", str(blocker / "run"), "-q"]) == 1
    assert "cannot create the run folder" in capsys.readouterr().err
    assert main(["train", "mix-wave-u-net-paper", "-q"]) == 1
    assert "needs data (enst): pass --data" in capsys.readouterr().err


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


def test_full_or_read_only_disk_fails_before_training(corpus, workdir, tmp_path, capsys):
    rp = write_recipe(tmp_path / "r.json", tiny_recipe(corpus, workdir / "split.json"))
    small, ro = tmp_path / "small", tmp_path / "ro"
    if not (_mount_tmpfs(small, "size=256k") and _mount_tmpfs(ro, "size=1m,ro")):
        pytest.skip("mounting a tmpfs needs root")
    try:
        assert main(["train", str(rp), "--out", str(small / "run"), "-q"]) == 1
        err = capsys.readouterr().err
        assert "not enough free space for the run" in err and "MB needed" in err
        assert main(["train", str(rp), "--out", str(ro / "run"), "-q"]) == 1
        assert "cannot create the run folder" in capsys.readouterr().err
        assert main(["train", str(rp), "--out", str(ro), "-q"]) == 1
        assert "cannot write in the run folder" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", str(small)])
        subprocess.run(["umount", str(ro)])


# ------------------------------------------------------------------------------------ DDP

DDP_WORKER = r"""
import json, os, sys
import torch, torch.distributed as dist
from safetensors.torch import save_file
from automix.train.recipe import load_recipe
from automix.train.trainer import Trainer
recipe = load_recipe(json.loads(open(sys.argv[1]).read()))
t = Trainer(recipe, out=sys.argv[2] + "/unused", device="cpu")
t._start_processes()
grads = t.first_gradients()
if dist.get_rank() == 0:
    save_file(grads, sys.argv[2] + "/ddp-grads.safetensors")
dist.barrier()  # neither process tears down gloo while the other still uses it
t.close_processes()  # frees the DDP wrapper before leaving the group, not at interpreter shutdown
"""


def test_ddp_on_two_cpu_processes_matches_one_process(corpus, workdir, tmp_path):
    recipe = tiny_recipe(corpus, workdir / "split.json", steps=6, validate_every=3, checkpoint_every=3)
    rp = write_recipe(tmp_path / "r.json", recipe)
    worker = tmp_path / "worker.py"
    worker.write_text(DDP_WORKER)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}"]
    done = subprocess.run(torchrun + [str(worker), str(rp), str(tmp_path)], env=_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    from automix.train.trainer import Trainer

    single = Trainer(load_recipe(recipe), out=tmp_path / "unused", device="cpu").first_gradients()
    ddp = weights(tmp_path / "ddp-grads.safetensors")
    assert single.keys() == ddp.keys()
    for k in single:
        torch.testing.assert_close(ddp[k], single[k], rtol=1e-3, atol=1e-6)  # fp32 sums in another order (two half-batches)

    # and a whole run through torchrun: the same losses as one process, one run folder written by rank 0
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["train", str(rp), "--out", str(one), "-q"]) == 0
    done = subprocess.run(torchrun[:-1] + [f"--master_port={_free_port()}", "-m", "automix", "train", str(rp), "--out", str(two), "-q"],
                          env=_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    np.testing.assert_allclose([float(r["loss"]) for r in rows(two)], [float(r["loss"]) for r in rows(one)], rtol=1e-3)
    card = json.loads((two / "model.json").read_text())
    assert card["training"]["hardware"].startswith("2 x CPU")
    assert [s for s, _ in list_checkpoints(two)] == [3, 6]


def test_numbered_segments_are_the_same_in_any_process(corpus, workdir):
    from automix.data.enst import EnstDrums

    ds = EnstDrums(corpus, split=workdir / "split.json", subset="train", input_length=2048, output_length=2048,
                   segments_per_epoch=5)
    a = NumberedSegments(ds)
    first = [(a[n]["take"], a[n]["offset"]) for n in (0, 3, 7, 12)]
    b = NumberedSegments(EnstDrums(corpus, split=workdir / "split.json", subset="train", input_length=2048,
                                   output_length=2048, segments_per_epoch=5))
    assert [(b[n]["take"], b[n]["offset"]) for n in (12, 7, 3, 0)] == first[::-1]
    assert (a[0]["take"], a[0]["offset"]) != (a[5]["take"], a[5]["offset"]) or a[0]["take"] != a[10]["take"]


def test_cli_lists_recipes(capsys):
    assert main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    assert "mix-wave-u-net-paper" in out and "separate-small-cpu" in out
    assert main(["train"]) == 1


def test_early_stopping_keeps_the_best_model(corpus, workdir, tmp_path):
    # min_delta larger than any loss: only the first validation counts as an improvement
    recipe = tiny_recipe(corpus, workdir / "split.json", steps=20, validate_every=2, checkpoint_every=100,
                         early_stopping={"patience": 2, "min_delta": 10.0})
    result = train(recipe, out=tmp_path / "run", progress=False)
    assert result.stopped_early and result.steps == 6 and result.best_step == 2
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [6]  # the stop writes a checkpoint
    card = load_model(result.model_path).card
    assert card.training.steps == 2 and "stopped early" in card.training.notes


def test_trains_on_a_collection_manifest_without_splits(corpus, tmp_path, capsys):
    songs = tmp_path / "songs"
    for take in sorted((corpus / "drummer_1" / "audio" / "dry_mix").glob("*.wav")):
        folder = songs / take.stem
        folder.mkdir(parents=True)
        for slot in ("kick", "snare", "overhead_L", "overhead_R"):
            shutil.copy(corpus / "drummer_1" / "audio" / slot / take.name, folder / f"{slot}.wav")
        shutil.copy(take, folder / "mix.wav")
    assert main(["datasets", "manifest", str(songs), "-o", str(songs / "manifest.json"), "-q"]) == 0
    manifest = json.loads((songs / "manifest.json").read_text())
    assert all(song.get("split") is None for song in manifest["songs"]) and len(manifest["slots"]) == 4
    recipe = tiny_recipe(songs, songs / "none.json", data={"kind": "collection", "root": str(songs), "split": None,
                                                           "valid_subset": "valid"}, steps=4)
    result = train(recipe, out=tmp_path / "run", progress=False)
    model = load_model(result.model_path)
    assert model.card.config.in_channels == 4 and list(model.slots) == manifest["slots"]
    assert "split 80/10/10 by a seeded hash" in model.card.training.data
    assert model.card.training.target == "mix"
    assert model.card.input_lufs == model.card.output_lufs == recipe["data"].get("loudness_target", -23.0)
