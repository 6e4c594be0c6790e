"""Leave-kit-out splits of a generated drum corpus: whole kits (and mic set-ups) the training never sees.

A model that mixes drums must be judged on drums it has not heard. :func:`make_kit_split` reads
each take's annotation (its ``kit`` and its stereo pair's ``mics.pair``) and puts in ``test``
every take of the held-out kits, every take recorded with a held-out pair technique or
placement, and every take in a held-out room type; the other takes are split into ``train`` and
``valid`` with a seeded hash order (:func:`automix.data.segments.make_split`). Held-out kits are
widened to their whole *family* (kits that share recordings, :attr:`automix.data.kits.KitSpec.family`),
so no sample of a test kit is heard in training.

:data:`DEFAULT_HELDOUT` is the default: BJA_Pacific and the two AVL kits (three acoustic kits, two
families, all multi-velocity recordings) and the room-pair placement (a stereo pair in front of
the kit instead of over it). The split file format is :mod:`automix.data.segments`'; its
``options`` record what was held out and the kits and techniques in each subset.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from automix.data import kits
from automix.data.recording import PAIR_PLACEMENTS, PAIR_TECHNIQUES
from automix.data.segments import Split, make_split
from daw_bridge.errors import AutomixError

__all__ = ["DATASET_NAME", "DEFAULT_HELDOUT", "TakeFacts", "make_kit_split", "take_facts"]

DATASET_NAME = "generated-drums"
#: What the default leave-kit-out split holds out.
DEFAULT_HELDOUT: dict[str, list[str]] = {
    "kits": ["BJA_Pacific", "AVL Black Pearl", "AVL Red Zeppelin"],
    "mics": ["room"],
    "rooms": [],
}

TakeFacts = dict  # {"id", "kit", "family", "placement", "technique", "room"}


def take_facts(root: str | os.PathLike) -> list[TakeFacts]:
    """What a split needs to know of every take of a generated corpus, from its annotations
    (``drummer_N/annotation/<take>.json``), sorted by take id."""
    root = Path(root).expanduser()
    files = sorted(root.glob("drummer_*/annotation/*.json"))
    if not files:
        raise AutomixError(f"{root} holds no generated takes (no drummer_N/annotation/<take>.json); "
                           "make a corpus with 'automix datasets drums'")
    out = []
    for f in files:
        try:
            truth = json.loads(f.read_text())
            kit = truth["kit"]["name"]
            pair = truth["mics"]["pair"]
            out.append({"id": f"{f.parent.parent.name}/{f.stem}", "kit": kit,
                        "family": truth["kit"].get("family") or kits.CATALOGUE[kit].family,
                        "placement": pair["placement"], "technique": pair["technique"],
                        "room": truth["room"]["type"]})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AutomixError(f"{f} is not an annotation of this generator ({type(exc).__name__}: {exc}); "
                               "regenerate the corpus") from None
    return sorted(out, key=lambda t: t["id"])


def _names(values: Iterable[str] | str | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    return [v.strip() for v in values if v and v.strip()]


def make_kit_split(
    takes: str | os.PathLike | Sequence[TakeFacts],
    *,
    test_kits: Iterable[str] | str | None = None,
    test_mics: Iterable[str] | str | None = None,
    test_rooms: Iterable[str] | str | None = None,
    seed: int = 0,
    valid: float = 0.1,
) -> Split:
    """A leave-kit-out split of a generated corpus (a root folder, or :func:`take_facts` rows).

    ``test_kits`` (catalogue names; their whole families are held out), ``test_mics`` (pair
    placements ``overhead``/``room`` or techniques ``spaced``/``xy``/``ortf``) and ``test_rooms``
    (room types) choose the test takes; with none of them given, :data:`DEFAULT_HELDOUT`. The
    other takes go to ``train`` and ``valid`` (fraction ``valid``) in a seeded order. Raises
    :class:`AutomixError` for unknown names, or when no take is left for training or testing.
    """
    facts = take_facts(takes) if isinstance(takes, (str, os.PathLike)) else [dict(t) for t in takes]
    if test_kits is None and test_mics is None and test_rooms is None:
        test_kits, test_mics, test_rooms = DEFAULT_HELDOUT["kits"], DEFAULT_HELDOUT["mics"], DEFAULT_HELDOUT["rooms"]
    kit_names, mic_names, room_names = _names(test_kits), _names(test_mics), _names(test_rooms)
    unknown = [k for k in kit_names if k not in kits.CATALOGUE]
    if unknown:
        raise AutomixError(f"unknown kits {unknown}; the catalogue has: {', '.join(kits.CATALOGUE)}")
    bad_mics = [m for m in mic_names if m not in (*PAIR_PLACEMENTS, *PAIR_TECHNIQUES)]
    if bad_mics:
        raise AutomixError(f"unknown mic set-ups {bad_mics}; use placements {', '.join(PAIR_PLACEMENTS)} "
                           f"or techniques {', '.join(PAIR_TECHNIQUES)}")
    if not 0 <= float(valid) < 1:
        raise AutomixError(f"valid must be in [0, 1), got {valid}")
    held_families = sorted({kits.CATALOGUE[k].family for k in kit_names})
    held_kits = [k for k, spec in kits.CATALOGUE.items() if spec.family in held_families]
    reasons: dict[str, list[str]] = {}
    for t in facts:
        why = []
        if t["family"] in held_families:
            why.append(f"kit {t['kit']}")
        if t["placement"] in mic_names or t["technique"] in mic_names:
            why.append(f"mics {t['placement']} {t['technique']}")
        if t["room"] in room_names:
            why.append(f"room {t['room']}")
        if why:
            reasons[t["id"]] = why
    rest = [t["id"] for t in facts if t["id"] not in reasons]
    if not rest or not reasons:
        raise AutomixError(f"holding out kits {held_kits or '-'}, mics {mic_names or '-'}, rooms {room_names or '-'} "
                           f"leaves {len(rest)} takes for training and {len(reasons)} for testing; "
                           "hold out something else or generate more takes")
    fractions = {"train": 1.0 - float(valid), "valid": float(valid)} if valid > 0 else {"train": 1.0}
    split = make_split(
        [t["id"] for t in facts], seed=seed, fractions={**fractions, "test": 0.0},
        fixed={t: "test" for t in reasons}, dataset=DATASET_NAME,
        options={
            "leave_out": {"kits": held_kits, "families": held_families, "mics": mic_names, "rooms": room_names},
            "takes_found": len(facts),
            "test_reasons": "takes of the held-out kit families, pair set-ups and room types; train and valid "
                            "split the others by the fractions",
        },
    )
    split.options["subsets"] = {name: _describe(facts, set(items)) for name, items in split.subsets.items()}
    return split


def _describe(facts: Sequence[Mapping], ids: set[str] | None) -> dict:
    rows = [t for t in facts if ids is None or t["id"] in ids]
    count = lambda key: {v: sum(1 for t in rows if t[key] == v) for v in sorted({t[key] for t in rows})}  # noqa: E731
    return {"takes": len(rows), "kits": count("kit"), "placements": count("placement"),
            "techniques": count("technique"), "rooms": count("room")}
