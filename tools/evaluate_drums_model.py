#!/usr/bin/env python3
"""Score a drum-mixing model for its card: held-out generated takes, and a kit it never heard.

1. **Held-out takes** of the generated corpus (the test subset of the default seeded split)
   through :func:`automix.evaluate.evaluate_split` (wet target), beside the three baselines.
2. **Another kit**: songs rendered with FluidSynth and the FluidR3_GM SoundFont (a sampled GM
   kit; the generator's grooves, the stems and overhead pair made by ``tools/fluid_kit.py``), mixed by
   the generator's own randomised chain (:func:`automix.data.generate.sample_mix_params` +
   :func:`~automix.data.generate.mix_stems`, wet mix): the same mixing style as training, on
   drums the model has not heard. Needs ``apt-get install fluidsynth fluid-soundfont-gm``.

Writes ``OUT/heldout/`` and ``OUT/other-kit/`` reports and ``OUT/scores.json``; prints both
tables.

    python tools/evaluate_drums_model.py --model automix/pretrained/drums.safetensors \\
        --corpus corpus/ --out eval-drums/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import fluid_kit  # noqa: E402

from automix.api import mix_audio  # noqa: E402
from automix.audio import normalize_loudness  # noqa: E402
from automix.data.enst import MIX_LUFS  # noqa: E402
from automix.data.generate import load_recipe, mix_stems, sample_mix_params  # noqa: E402
from automix.evaluate import EvaluationReport, evaluate_pair, evaluate_split  # noqa: E402
from automix.metrics import METRICS  # noqa: E402
from automix.pretrained import load  # noqa: E402
from automix.stems import DRUM_SLOTS  # noqa: E402

SR = 44100


def other_kit(model, songs: int, seed: int, out: Path, seconds: float = 20.0) -> EvaluationReport:
    fluid_kit.tools()  # exits with what to install
    recipe = load_recipe()
    per_item: dict[str, dict[str, dict[str, float]]] = {}
    signals = {}
    for i in range(songs):
        groove = fluid_kit.song_groove(seed, i, seconds)
        stems = fluid_kit.render_stems(groove, seconds)
        params = sample_mix_params(np.random.default_rng([seed, i]), recipe, DRUM_SLOTS)
        _, wet, _ = mix_stems(dict(zip(DRUM_SLOTS, stems)), params)
        # the corpus loader brings every reference to MIX_LUFS (the generator writes -18 LUFS):
        # the held-out table compares at that level, and so does this one
        wet, _ = normalize_loudness(wet, SR, MIX_LUFS)
        mixed = mix_audio(stems, SR, model=model, precision="fp32")  # at the card's output_lufs
        report = evaluate_pair(mixed, wet, stems=stems, sample_rate=SR, stem_names=list(DRUM_SLOTS),
                               name=model.card.name, plots=False)
        per_item[f"song {i} ({groove.style}, {groove.bpm} bpm)"] = report.systems
        if not signals:
            signals = report.signals
        print(f"  other kit: song {i} done", file=sys.stderr)
    systems = list(next(iter(per_item.values())))
    means = {s: {k: float(np.mean([item[s][k] for item in per_item.values()])) for k in METRICS} for s in systems}
    report = EvaluationReport(systems=means, per_item=per_item, sample_rate=SR, signals=signals,
                              info={"kind": "other-kit", "model": model.card.name,
                                    "data": f"{songs} FluidR3_GM songs of {seconds:g} s (the generator's grooves), its wet chain (seed {seed})"})
    report.save(out)
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True, help="the generated corpus the model was trained on")
    ap.add_argument("--out", required=True)
    ap.add_argument("--songs", type=int, default=3, help="FluidSynth songs for the other-kit test")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    model = load(args.model)
    held = evaluate_split(model, args.corpus, subset="test", target="wet", out=out / "heldout", progress=False)
    print("## held-out generated takes (same kit)\n")
    print(held.to_markdown())
    kit = other_kit(model, args.songs, args.seed, out / "other-kit")
    print("\n## another kit (FluidR3_GM), the generator's wet chain\n")
    print(kit.to_markdown())
    (out / "scores.json").write_text(json.dumps({"heldout": held.systems, "other_kit": kit.systems,
                                                 "heldout_takes": list(held.per_item)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
