#!/usr/bin/env python3
"""Score a drum-mixing model for its card: held-out generated takes, and a kit it never heard.

1. **Held-out takes** of the generated corpus (the test subset of the default seeded split, or
   with ``--by-kit`` of a leave-kit-out split: kits, and a mic set-up, the model never heard;
   ``--split`` names a split file) through :func:`automix.eval.evaluate.evaluate_split` (wet
   target), beside the three baselines, with a table per kit of the held-out takes.
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

from automix.inference.mixing import mix_audio  # noqa: E402
from daw_bridge.loudness import normalize_loudness  # noqa: E402
from automix.data.enst import MIX_LUFS  # noqa: E402
from automix.data.generate import load_recipe, mix_stems, sample_mix_params  # noqa: E402
from automix.eval.evaluate import EvaluationReport, evaluate_pair, evaluate_split  # noqa: E402
from automix.eval.metrics import METRICS  # noqa: E402
from automix.models.pretrained import load  # noqa: E402
from daw_bridge.stems import DRUM_SLOTS  # noqa: E402

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


def take_sides(corpus: Path, items) -> dict[str, str]:
    """``{take id: "drummer" or "audience"}``: the side each generated take was mixed from (its
    annotation's ``mix.perspective``)."""
    sides = {}
    for item in items:
        folder, take = item.split("/", 1)
        sides[item] = json.loads((corpus / folder / "annotation" / f"{take}.json").read_text())["mix"]["perspective"]
    return sides


def model_side(held: EvaluationReport, sides: dict[str, str], name: str) -> dict:
    """Which side the model mixes from, measured: its panning-spectrum error on the held-out takes
    mixed from the drummer's side against those mixed from the audience's (the generator records
    each take's ``mix.perspective``; the stems cannot tell them apart)."""
    errors: dict[str, list[float]] = {"drummer": [], "audience": []}
    mrstft: dict[str, dict[str, list[float]]] = {"drummer": {}, "audience": {}}
    for item, systems in held.per_item.items():
        side = sides[item]
        errors[side].append(systems[name]["panning_spectrum_error"])
        for system, scores in systems.items():
            mrstft[side].setdefault(system, []).append(scores["mrstft"])
    means = {side: float(np.mean(v)) if v else float("nan") for side, v in errors.items()}
    out = {"takes": {side: len(v) for side, v in errors.items()},
           "panning_spectrum_error": means,
           "mrstft": {side: {s: float(np.mean(v)) for s, v in d.items()} for side, d in mrstft.items()}}
    if errors["drummer"] and errors["audience"]:
        out["side"] = "drummer" if means["drummer"] < means["audience"] else "audience"
    return out


def per_kit(held: EvaluationReport, corpus: Path) -> dict[str, dict[str, dict[str, float]]]:
    """``{kit: {system: {metric: mean}}}`` over the held-out takes, by the kit each take was played on
    (its annotation's ``kit.name``), with the number of takes under ``"takes"``."""
    groups: dict[str, list[dict]] = {}
    for item, systems in held.per_item.items():
        folder, take = item.split("/", 1)
        kit = json.loads((corpus / folder / "annotation" / f"{take}.json").read_text())["kit"]["name"]
        groups.setdefault(kit, []).append(systems)
    out = {}
    for kit, items in sorted(groups.items()):
        out[kit] = {"takes": len(items)}
        for system in items[0]:
            out[kit][system] = {k: float(np.mean([it[system][k] for it in items])) for k in METRICS
                                if all(k in it[system] for it in items)}
    return out


def per_kit_markdown(table: dict, metric: str = "mrstft") -> str:
    """One row per kit: the takes and each system's mean ``metric``."""
    systems = [s for s in next(iter(table.values())) if s != "takes"]
    lines = [f"| kit | takes | {' | '.join(systems)} |", "|---|---|" + "---|" * len(systems)]
    for kit, row in table.items():
        lines.append(f"| {kit} | {row['takes']} | " + " | ".join(f"{row[s].get(metric, float('nan')):.3f}" for s in systems) + " |")
    return "\n".join(lines)


def own_side_scores(model, corpus: Path, held: EvaluationReport, sides: dict[str, str], side: str,
                    split=None) -> dict[str, dict[str, float]]:
    """Mean held-out scores of the model and the rule-based console when each take is heard from its
    own side, as a user who sets ``--perspective`` gets them: a system's mix is mirrored on the
    takes mixed from the side it does not mix from (the model: ``side``; the rules: the drummer's)."""
    from automix.inference.mix_settings import target_lufs
    from daw_bridge.loudness import to_loudness
    from automix.data.enst import SLOTS, EnstDrums
    from automix.eval.evaluate import RULE_BASED_CONSOLE, rule_based_mix
    from automix.inference.tiling import process
    from automix.eval.metrics import compare_systems
    from daw_bridge.loudness import measure_loudness

    rate = int(model.sample_rate)
    data = EnstDrums(corpus, split=split, subset="test", target="wet", model=model, mode="fixed", sample_rate=rate)
    level = target_lufs("auto", model.card.output_lufs)
    name = model.card.name
    system_sides = {name: side, RULE_BASED_CONSOLE: "drummer"}  # the rules' default side
    items: dict[str, list[dict[str, float]]] = {system: [] for system in system_sides}
    for item, systems in held.per_item.items():
        own = sides[item]
        loaded = None
        for system, mixes_from in system_sides.items():
            if mixes_from == own:
                items[system].append(systems[system])
                continue
            loaded = loaded or data.load_take(item)
            stems, reference = loaded["stems"], loaded["mix"]
            if system == name:
                mixed = process(model.net, stems, precision="fp32")
                if level is not None:
                    mixed = to_loudness(mixed, rate, level)[0]
            else:
                mixed = rule_based_mix(stems, SLOTS, rate, measure_loudness(reference, rate))
            items[system].append(compare_systems({system: np.ascontiguousarray(mixed[::-1])}, reference, rate)[system])
    return {system: {k: float(np.mean([v[k] for v in values])) for k in METRICS if all(k in v for v in values)}
            for system, values in items.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True, help="the generated corpus the model was trained on")
    ap.add_argument("--out", required=True)
    ap.add_argument("--songs", type=int, default=3, help="FluidSynth songs for the other-kit test")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--split", default=None, help="split file or shipped split name (default: a seeded split of the corpus)")
    ap.add_argument("--by-kit", action="store_true", help="test on a leave-kit-out split of the corpus "
                    "(automix.data.kitsplit defaults: kits and a mic set-up held out of training)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    model = load(args.model)
    split = args.split
    if args.by_kit and split is None:
        from automix.data.kitsplit import make_kit_split

        split = make_kit_split(args.corpus)
    held = evaluate_split(model, args.corpus, split=split, subset="test", target="wet", out=out / "heldout",
                          progress=False)
    print("## held-out generated takes\n")
    print(held.to_markdown())
    kits_table = per_kit(held, Path(args.corpus))
    print("\n## held-out takes per kit (MR-STFT, lower is better)\n")
    print(per_kit_markdown(kits_table))
    sides = take_sides(Path(args.corpus), held.per_item)
    side = model_side(held, sides, model.card.name)
    print(f"\nside: {side.get('side', 'unknown')} (panning spectrum err. on {side['takes']['drummer']} drummer-side "
          f"takes {side['panning_spectrum_error']['drummer']:.3f}, on {side['takes']['audience']} audience-side takes "
          f"{side['panning_spectrum_error']['audience']:.3f}); MR-STFT by side: "
          + "; ".join(f"{k}: " + ", ".join(f"{s} {v:.3f}" for s, v in d.items()) for k, d in side["mrstft"].items()))
    if "side" in side:
        side["own_side_scores"] = own_side_scores(model, Path(args.corpus), held, sides, side["side"], split)
        for system, o in side["own_side_scores"].items():
            print(f"{system}, every take heard from its own side (mirrored where it was mixed from the other): "
                  f"MR-STFT {o['mrstft']:.3f}, SI-SDR {o['si_sdr']:.2f} dB, panning spectrum err. {o['panning_spectrum_error']:.3f}")
    kit = other_kit(model, args.songs, args.seed, out / "other-kit")
    print("\n## another kit (FluidR3_GM), the generator's wet chain\n")
    print(kit.to_markdown())
    (out / "scores.json").write_text(json.dumps({"heldout": held.systems, "other_kit": kit.systems,
                                                 "heldout_takes": list(held.per_item), "per_kit": kits_table,
                                                 "side": side}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
