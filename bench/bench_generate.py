"""Benchmark: the drum corpus generator, against the first generator (DrumGizmo + GMRockKit), same run.

Generates ``--takes`` takes of ``--seconds`` seconds with the default recipe and prints seconds
per take and the speed as a multiple of real time, and the same for the first generator (git
commit ``--old-ref``, extracted with ``git archive`` into a temporary folder and run in a
subprocess), with the ratio. Both are warmed first (imports, the first generator's DrumGizmo kit,
the kits' one-shots in the cache) so the figures are per-take costs. Then a breakdown of one take
of the new generator by stage.

Needs the kit packages (``.ci/apt-packages.txt``) and, for the old generator, git and drumgizmo.

Usage: ``python bench/bench_generate.py [--takes 4] [--seconds 20] [--old-ref c66a058]``
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from automix.data import generate, kits, recording, rooms  # noqa: E402
from automix.data.generate import generate_corpus  # noqa: E402

SR = 44100

_OLD_RUN = """
import json, sys, time
from pathlib import Path
from automix.data.generate import generate_corpus
out, takes, seconds = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
generate_corpus(out / "warm", 1, seed=99, seconds=2.0, progress=False)  # DrumGizmo kit, calibration, imports
t = time.perf_counter()
generate_corpus(out / "corpus", takes, seed=0, seconds=seconds, progress=False)
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def new_generator(takes: int, seconds: float, work: Path) -> float:
    generate_corpus(work / "warm", 1, seed=99, seconds=2.0, progress=False)
    for i in range(takes):  # the kits these takes play, prepared and loaded (as in a long run)
        kits.load_kit(generate.kit_for_take(0, i, list(kits.CATALOGUE)))
    t = time.perf_counter()
    generate_corpus(work / "new", takes, seed=0, seconds=seconds, progress=False)
    return time.perf_counter() - t


def old_generator(ref: str, takes: int, seconds: float, work: Path) -> float | None:
    if shutil.which("git") is None or shutil.which("drumgizmo") is None:
        print("old generator: skipped (needs git and drumgizmo)")
        return None
    tree = work / "old-tree"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "automix", "daw_bridge", "datasets"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tree)
    res = subprocess.run([sys.executable, "-c", _OLD_RUN, str(work / "old"), str(takes), str(seconds)],
                         capture_output=True, text=True, check=False, cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin",
                                                                         "HOME": str(Path.home())})
    if res.returncode != 0:
        print(f"old generator failed: {res.stderr[-500:]}")
        return None
    return float(json.loads(res.stdout.strip().splitlines()[-1])["seconds"])


def breakdown(seconds: float) -> dict[str, float]:
    """Seconds per stage for one take (the same calls as generate_corpus)."""
    rec = generate.load_recipe()
    seeds = generate._take_seeds([0, 1, 1])
    times: dict[str, float] = {}
    t = time.perf_counter()
    groove, _, _ = generate._plan(rec, seeds, seconds, 3)
    times["groove"] = time.perf_counter() - t
    t = time.perf_counter()
    kit = kits.load_kit(generate.kit_for_take(0, 0, list(kits.CATALOGUE)))
    times["kit (loaded)"] = time.perf_counter() - t
    t = time.perf_counter()
    setup = recording.draw_setup(np.random.default_rng(seeds["setup"]), rec.recording, generate._pieces_for(3),
                                 list(recording.SLOT_PIECE) + ["overhead_L", "overhead_R"])
    times["set-up draw"] = time.perf_counter() - t
    length = int(seconds * SR)
    events = generate.take_events(groove.to_dict())
    t = time.perf_counter()
    axes = {p: i["axis"] for p, i in setup.pieces.items() if "axis" in i}
    gains = recording.shadowing(setup)
    for pair, g in recording.near_field(setup).items():
        gains[pair] = gains.get(pair, 1.0) * g
    response = rooms.room_responses(setup.room, setup.sources(), setup.mics, sample_rate=SR,
                                    rng=np.random.default_rng(seeds["tails"]), axes=axes, direct_gains=gains)
    times["room responses (image sources)"] = time.perf_counter() - t
    t = time.perf_counter()
    sources = kit.play(events, length)
    times["one-shots placed"] = time.perf_counter() - t
    t = time.perf_counter()
    rooms.record(response, sources, length)
    times["FFT convolution (8 mics)"] = time.perf_counter() - t
    t = time.perf_counter()
    stems, _ = recording.record_take(kit, setup, events, length, tail_rng=np.random.default_rng(seeds["tails"]),
                                     noise_rng=np.random.default_rng(seeds["hiss"]))
    times["whole recording (the above + soundcheck, noise)"] = time.perf_counter() - t
    t = time.perf_counter()
    params = generate.sample_mix_params(np.random.default_rng(seeds["mix"]), rec, list(stems))
    generate.mix_stems(stems, params)
    times[f"mixes ({params['style']})"] = time.perf_counter() - t
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--takes", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--old-ref", default="c66a058", help="git commit of the first generator")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-generate-") as tmp:
        work = Path(tmp)
        new = new_generator(args.takes, args.seconds, work)
        old = old_generator(args.old_ref, args.takes, args.seconds, work)
    audio = args.takes * args.seconds
    print(f"\n{args.takes} takes of {args.seconds:g} s (default recipe, seed 0), warm caches\n")
    print("| generator | s per take | x real time | vs first generator |")
    print("|---|---|---|---|")
    if old is not None:
        print(f"| first (DrumGizmo + GMRockKit, {args.old_ref}) | {old / args.takes:.2f} | {audio / old:.1f}x | 1x |")
    ratio = f"{old / new:.2f}x" if old is not None else "-"
    print(f"| new (kits, rooms, mics, styles) | {new / args.takes:.2f} | {audio / new:.1f}x | {ratio} |")
    print("\none take, by stage (s):")
    for stage, sec in breakdown(args.seconds).items():
        print(f"  {stage:52s} {sec:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
