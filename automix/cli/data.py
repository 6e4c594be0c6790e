"""``automix datasets``: the drum corpus generator, collection manifests, split files."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from automix.cli.common import Parser, add_verbosity, command, positive_float, positive_int, reads_args
from daw_bridge.errors import AutomixError

log = logging.getLogger("automix")

DATASETS_EXAMPLES = """\
examples:
  automix datasets drums --out corpus/ --songs 100 --seed 0
  automix datasets drums --out corpus/ --songs 30 --seconds 30 --drummers 3 --force
  automix datasets manifest my_songs/ -o my_songs/manifest.json
  automix datasets manifest my_songs/ -o manifest.json --slots bass,drums,vocals,other
  automix datasets split /data/ENST-drums -o enst-split.json --seed 0
  automix datasets split /data/ENST-drums -o enst-by-drummer.json --test-drummer 3
  automix datasets split corpus/ -o corpus-leave-kit-out.json --by-kit
"""


def register(sub: Any) -> None:
    p = command(
        sub, "datasets", _cmd_datasets,
        help="prepare training data (drum corpus generator, collection manifests, ENST-drums splits)",
        description="Prepare training data. 'drums' renders a realistic drum multitrack corpus in the ENST-drums "
        "layout (recorded kits, rooms and mics; dry and wet target mixes with their settings saved); "
        "'manifest' scans a folder of songs (one sub-folder of stems per song) and writes a starter manifest to "
        "edit; 'split' writes a reproducible ENST-drums split file.",
        epilog=DATASETS_EXAMPLES,
    )
    dsub = p.add_subparsers(dest="datasets_command", metavar="ACTION", parser_class=Parser, required=True)
    drums = dsub.add_parser(
        "drums",
        help="generate a drum multitrack corpus in the ENST-drums layout",
        description="Render drum takes from generated MIDI grooves on recorded acoustic kits (Debian's Hydrogen kits "
        "and SoundFonts; see datasets/generated-drums.md for the packages), recorded in drawn rooms with drawn mics, "
        "one mono stem per mic slot at its recorded level, plus dry and wet mixes in a drawn mixing style whose "
        "settings are saved per take. Deterministic for a seed.",
        epilog=DATASETS_EXAMPLES,
    )
    drums.add_argument("--out", required=True, metavar="DIR", help="corpus folder (created; must be empty unless --force)")
    drums.add_argument("--songs", type=positive_int, required=True, help="number of takes")
    drums.add_argument("--seed", type=int, default=0, help="random seed")
    drums.add_argument("--seconds", type=positive_float, default=20.0, help="length of every take in seconds")
    drums.add_argument("--drummers", type=int, default=1, choices=(1, 2, 3), help="spread takes over drummer_1..N; only drummer 3 has tom_3 when N > 1")
    drums.add_argument("--recipe", default=None, metavar="RECIPE.json", help="generator recipe (default: datasets/recipes/drums-default.json)")
    drums.add_argument("--cache", default=None, metavar="DIR", help="folder for the kits' prepared one-shots (default: ~/.cache/automix)")
    drums.add_argument("--force", action="store_true", help="write into a non-empty folder, replacing generated files")
    add_verbosity(drums)
    man = dsub.add_parser("manifest", help="write a starter manifest for a multitrack collection", epilog=DATASETS_EXAMPLES)
    man.add_argument("root", metavar="ROOT", help="folder with one sub-folder per song")
    man.add_argument("-o", "--output", required=True, metavar="MANIFEST.json", help="manifest to write (.json, or .yaml with PyYAML)")
    man.add_argument("--slots", default=None, help="comma-separated slot names (default: one slot per role found)")
    man.add_argument("--force", action="store_true", help="overwrite the manifest if it exists")
    add_verbosity(man)
    spl = dsub.add_parser("split", help="write a seeded train/valid/test split of ENST-drums takes (--by-kit: a "
                          "leave-kit-out split of a generated corpus)", epilog=DATASETS_EXAMPLES)
    spl.add_argument("root", metavar="ENST_ROOT", help="ENST-drums root (drummer_1, drummer_2, drummer_3)")
    spl.add_argument("-o", "--output", required=True, metavar="SPLIT.json", help="split file to write")
    spl.add_argument("--seed", type=int, default=0, help="seed of the split")
    spl.add_argument("--valid", type=positive_float, default=0.1, help="fraction of takes for validation")
    spl.add_argument("--test", type=positive_float, default=0.1, help="fraction of takes for testing")
    spl.add_argument("--include-hits", action="store_true", help="keep the isolated-hits takes (left out by default)")
    spl.add_argument("--test-drummer", type=int, choices=[1, 2, 3], default=None, help="put all takes of this drummer in the test set")
    spl.add_argument("--by-kit", action="store_true", help="leave-kit-out split of a generated corpus: test = the "
                     "held-out kits and pair set-ups (default: BJA_Pacific, AVL Black Pearl, AVL Red Zeppelin; room pairs)")
    spl.add_argument("--test-kits", default=None, metavar="KIT,...", help="with --by-kit: kits to hold out (whole families)")
    spl.add_argument("--test-mics", default=None, metavar="SETUP,...", help="with --by-kit: pair placements "
                     "(overhead, room) or techniques (spaced, xy, ortf) to hold out")
    spl.add_argument("--force", action="store_true", help="overwrite the split file if it exists")
    add_verbosity(spl)


@reads_args("root")
def _cmd_datasets(args: argparse.Namespace) -> int:
    from pathlib import Path

    from daw_bridge.outputs import check_output_path

    if args.datasets_command == "drums":
        from automix.data.generate import generate_corpus

        summary = generate_corpus(
            Path(args.out),
            args.songs,
            seed=args.seed,
            seconds=args.seconds,
            drummers=args.drummers,
            overwrite=args.force,
            progress=False if args.quiet else None,
            cache=Path(args.cache) if args.cache else None,
            recipe=args.recipe,
        )
        if not args.quiet:
            print(f"wrote {len(summary.takes)} takes ({summary.seconds:g} s of audio, {len(summary.paths)} files) to {summary.out}")
        return 0
    check_output_path(args.output, overwrite=args.force)  # fail before scanning anything
    if args.datasets_command == "manifest":
        from automix.data.collection import scan_collection, write_manifest

        manifest = scan_collection(args.root, slots=args.slots)
        path = write_manifest(manifest, args.output, overwrite=args.force)
        unassigned = sum(len(song.unassigned) for song in manifest.songs)
        if not args.quiet:
            print(
                f"wrote {path}: {len(manifest.songs)} songs, slots {', '.join(manifest.slots)}"
                + (f"; {unassigned} file(s) left unassigned: edit the manifest" if unassigned else "")
    )
        return 0
    if args.by_kit or args.test_kits or args.test_mics:
        return _kit_split(args)
    from automix.data.enst import make_enst_split

    if args.valid + args.test >= 1:
        raise AutomixError("--valid and --test together must leave takes for training (sum below 1)")
    fractions = {"train": 1 - args.valid - args.test, "valid": args.valid, "test": args.test}
    by_drummer = None
    if args.test_drummer is not None:
        fractions = {"train": 1 - args.valid, "valid": args.valid}
        by_drummer = {"test": [args.test_drummer]}
    split = make_enst_split(
        args.root,
        seed=args.seed,
        fractions=fractions,
        exclude_categories=() if args.include_hits else ("hits",),
        by_drummer=by_drummer,
    )
    path = split.save(args.output, overwrite=args.force)
    if not args.quiet:
        sizes = ", ".join(f"{name} {len(split.items(name))}" for name in split.subsets)
        print(f"wrote {path}: {sizes} takes (seed {args.seed})")
    return 0

def _kit_split(args: argparse.Namespace) -> int:
    from automix.data.kitsplit import make_kit_split

    split = make_kit_split(args.root, test_kits=args.test_kits, test_mics=args.test_mics, seed=args.seed, valid=args.valid)
    path = split.save(args.output, overwrite=args.force)
    if not args.quiet:
        held = split.options["leave_out"]
        sizes = ", ".join(f"{name} {len(split.items(name))}" for name in split.subsets)
        print(f"wrote {path}: {sizes} takes; held out kits {', '.join(held['kits'])}; mics {', '.join(held['mics']) or '-'}")
    return 0
