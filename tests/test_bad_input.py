"""The bad-input corpus (issue 19, item 5): every verb against the standard list of bad inputs,
and interruptions of real processes.

Every case asserts the exit status; when the command fails, exactly one ``error:`` line on
stderr (when the input is usable, the command succeeds and its warnings are single lines);
every input unchanged (SHA-256 of every file the corpus holds); no partial output and no
temporary file left (``.NAME.automix-...``, ``*.part``). The inputs are built here, tiny (1.5 s
stems; a tiny mixer and separator), so the in-process cases take well under a second each; the
interruption cases run ``python -m automix`` for real, on 20 s of audio, and send the signal
once the work has started (a temporary file appears, or the inputs are open).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from automix.cli import main
from tests.support import (
    DRUM_FILES,
    SR,
    automix_temps,
    make_stems,
    start_process,
    tree_hashes,
    wait_until,
    write_wav,
)

# --------------------------------------------------------------------------- the corpus


@dataclass
class Kit:
    """Every input the cases use, under ``root`` (hashed around each case)."""

    root: Path

    def __getattr__(self, name: str) -> Path:  # kit.stems -> root/stems, kit.nan_wav -> root/nan.wav ...
        return self.root / _NAMES.get(name, name)


_NAMES = {
    "stems": "stems", "mixer": "tiny-mixer.safetensors", "separator": "tiny-sep.safetensors",
    "mix_wav": "mix.wav", "reference": "reference.wav", "plan": "plan.json", "session": "session",
    "corrupt_wav": "corrupt.wav", "truncated_wav": "truncated.wav", "empty_wav": "empty.wav", "nan_wav": "nan.wav",
    "inf_wav": "inf.wav", "silent_wav": "silent.wav", "u8_wav": "u8.wav", "int32_wav": "int32.wav",
    "three_ch_wav": "three.wav", "short_wav": "short.wav", "rate48_wav": "rate48.wav", "unicode_wav": "Mïx – ünï.wav",
    "pickle_pt": "model.pt", "pickle_st": "pickled.safetensors", "mismatched": "mismatched.safetensors",
    "hostile": "hostile", "garbage_plan": "garbage.json", "binary_plan": "binary.json", "missing_plan": "missing-files.json",
    "garbage_yaml": "garbage.yaml", "nan_plan": "nan-plan.json", "recipe_garbage": "recipe-garbage.json",
    "recipe_text": "recipe-text.json", "recipe": "recipe.json", "songs": "songs", "manifest": "songs/manifest.json",
    "user_folder": "user-folder", "users_audio": "users-mix.wav", "text": "notes.txt",
}

STEM_CASES = ("corrupt", "truncated", "empty", "nan", "inf", "silent", "clipped", "rates", "lengths", "channels", "u8",
              "int32", "unicode")


def _stem_folder(root: Path, name: str, fix: Callable[[Path], None] | None = None) -> Path:
    folder = root / f"stems-{name}"
    make_stems(folder)
    if fix is not None:
        fix(folder)
    return folder


def _rewrite(path: Path, audio: np.ndarray, rate: int = SR, subtype: str = "PCM_24") -> None:
    write_wav(path, audio, rate, subtype)


def _bad_stem_folders(root: Path) -> None:
    kick = DRUM_FILES[0]
    n = int(1.5 * SR)
    loud = np.sin(2 * np.pi * 100 * np.arange(n) / SR).astype(np.float32)

    def nan(folder: Path) -> None:
        x = loud * 0.3
        x[n // 2] = np.nan
        _rewrite(folder / kick, x, subtype="FLOAT")

    def inf(folder: Path) -> None:
        x = loud * 0.3
        x[n // 3] = np.inf
        _rewrite(folder / kick, x, subtype="FLOAT")

    fixes: dict[str, Callable[[Path], None]] = {
        "corrupt": lambda f: (f / kick).write_bytes(os.urandom(3000)),
        "truncated": lambda f: (f / kick).write_bytes((f / kick).read_bytes()[:-5000]),
        "empty": lambda f: (f / kick).write_bytes(b""),
        "nan": nan,
        "inf": inf,
        "silent": lambda f: [_rewrite(p, np.zeros(n, np.float32)) for p in f.iterdir()],
        "clipped": lambda f: _rewrite(f / kick, np.clip(loud * 4, -1, 1)),
        "rates": lambda f: _rewrite(f / kick, loud[: int(1.5 * 48000)] * 0.3, 48000),
        "lengths": lambda f: _rewrite(f / kick, loud[: n // 2] * 0.3),
        "channels": lambda f: _rewrite(f / kick, np.stack([loud, -loud]) * 0.3),
        "u8": lambda f: [_rewrite(p, sf.read(str(p), dtype="float32")[0], subtype="PCM_U8") for p in f.iterdir()],
        "int32": lambda f: [_rewrite(p, sf.read(str(p), dtype="float32")[0], subtype="PCM_32") for p in f.iterdir()],
        "unicode": lambda f: [p.rename(p.with_name(p.stem + " – ünïcødé ✓" + p.suffix)) for p in f.iterdir()],
    }
    for name in STEM_CASES:
        _stem_folder(root, name, fixes[name])


def _bad_files(root: Path) -> None:
    n = int(1.5 * SR)
    x = np.sin(2 * np.pi * 110 * np.arange(n) / SR).astype(np.float32) * 0.3
    stereo = np.stack([x, 0.8 * x])
    _rewrite(root / _NAMES["mix_wav"], stereo)
    _rewrite(root / _NAMES["reference"], stereo * 0.9)
    (root / _NAMES["corrupt_wav"]).write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + os.urandom(2000))
    _rewrite(root / _NAMES["truncated_wav"], stereo)
    data = (root / _NAMES["truncated_wav"]).read_bytes()
    (root / _NAMES["truncated_wav"]).write_bytes(data[: len(data) // 2])
    (root / _NAMES["empty_wav"]).write_bytes(b"")
    bad = stereo.copy()
    bad[0, n // 2] = np.nan
    _rewrite(root / _NAMES["nan_wav"], bad, subtype="FLOAT")
    bad = stereo.copy()
    bad[1, n // 4] = -np.inf
    _rewrite(root / _NAMES["inf_wav"], bad, subtype="FLOAT")
    _rewrite(root / _NAMES["silent_wav"], np.zeros((2, n), np.float32))
    _rewrite(root / _NAMES["u8_wav"], stereo, subtype="PCM_U8")
    _rewrite(root / _NAMES["int32_wav"], stereo, subtype="PCM_32")
    _rewrite(root / _NAMES["three_ch_wav"], np.stack([x, x, x]))
    _rewrite(root / _NAMES["short_wav"], stereo[:, : n // 3])
    _rewrite(root / _NAMES["rate48_wav"], np.stack([x, x])[:, : int(1.5 * 48000)], 48000)
    _rewrite(root / _NAMES["unicode_wav"], stereo)
    _rewrite(root / _NAMES["users_audio"], stereo)  # the user's own audio: never replaced, --force or not
    (root / _NAMES["text"]).write_text("not audio\n")
    (root / _NAMES["user_folder"]).mkdir()
    (root / _NAMES["user_folder"] / "mine.txt").write_text("the user's\n")


def _models(root: Path) -> None:
    import torch

    from automix.models.mixer import mix_wave_unet
    from automix.models.separator import separation_wave_unet

    mix_wave_unet(levels=3, growth=4, base_filters=4, name="tiny-mixer").save(root / "tiny-mixer")
    torch.manual_seed(0)
    separation_wave_unet(size="tiny", mix_channels=1, name="tiny-sep").save(root / "tiny-sep")
    torch.save({"w": torch.zeros(3)}, root / _NAMES["pickle_pt"])
    shutil.copyfile(root / "tiny-mixer.json", root / "pickled.json")
    shutil.copyfile(root / _NAMES["pickle_pt"], root / _NAMES["pickle_st"])  # pickle bytes under a weights name
    other = mix_wave_unet(levels=3, growth=6, base_filters=4, name="other").save(root / "other")
    shutil.copyfile(other, root / _NAMES["mismatched"])
    shutil.copyfile(root / "tiny-mixer.json", root / "mismatched.json")  # a card for other weights


def _plans(root: Path) -> None:
    from daw_bridge import open_session, write_session

    plan = open_session(root / "stems")
    plan.save(root / _NAMES["plan"])
    write_session(plan, root / _NAMES["session"], format="ardour")
    (root / _NAMES["garbage_plan"]).write_text(json.dumps({"name": "x", "tracks": "all of them", "sample_rate": -3}))
    (root / _NAMES["binary_plan"]).write_bytes(b"\x00\xff\xfe" + os.urandom(200))
    (root / _NAMES["garbage_yaml"]).write_text("tracks: [\n  - {name: [unclosed\n")
    data = json.loads((root / _NAMES["plan"]).read_text())
    data["tracks"][0]["file"] = str(root / "no-such-stem.wav")
    (root / _NAMES["missing_plan"]).write_text(json.dumps(data))
    data = json.loads((root / _NAMES["plan"]).read_text())
    data["tracks"][0]["file"] = str(root / "stems-nan" / DRUM_FILES[0])
    (root / _NAMES["nan_plan"]).write_text(json.dumps(data))
    hostile = root / _NAMES["hostile"]
    hostile.mkdir()
    text = (root / _NAMES["session"] / "plan.ardour").read_text() if (root / _NAMES["session"] / "plan.ardour").exists() \
        else next((root / _NAMES["session"]).glob("*.ardour")).read_text()
    entity = '<!DOCTYPE Session [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
    body = text.split("\n", 1)[1].replace('name="', 'name="&b;', 1)
    (hostile / "hostile.ardour").write_text(text.split("\n", 1)[0] + "\n" + entity + body)
    (root / "external.rpp").write_text('<REAPER_PROJECT 0.1 "7.0"\n  <TRACK\n    NAME "x\n')


def tiny_collection_recipe(songs: Path, name: str, songs_named: tuple[str, ...], **overrides: Any) -> dict:
    """A collection of two generated songs under ``songs`` (manifest written) and a tiny
    Mix-Wave-U-Net training recipe on it, with ``overrides`` of its top-level keys."""
    from automix.data.collection import scan_collection, write_manifest

    for song in songs_named:
        make_stems(songs / song)
    write_manifest(scan_collection(songs), songs / "manifest.json")
    return {
        "name": name, "task": "mix",
        "model": {"preset": "mix-wave-u-net-small", "config": {"levels": 3, "base_filters": 4, "growth": 4}},
        "data": {"kind": "collection", "root": str(songs / "manifest.json"), "segments_per_epoch": 4, "workers": 0},
        "loss": "l1", "optimizer": {"lr": 1e-3}, "batch_size": 2, "segment_seconds": 0.2, "precision": "fp32",
        "validate_every": 100000, "log_every": 1, **overrides,
    }


def _training(root: Path) -> None:
    recipe = tiny_collection_recipe(root / _NAMES["songs"], "tiny", ("Song A", "Song B"), steps=2,
                                    checkpoint_every=1, keep_checkpoints=3)
    recipe["data"]["valid_segments"] = 2
    (root / _NAMES["recipe"]).write_text(json.dumps(recipe))
    (root / _NAMES["recipe_garbage"]).write_text(json.dumps({**recipe, "steps": "many", "optimizer": [1, 2]}))
    (root / _NAMES["recipe_text"]).write_text("this is not a recipe {")


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Kit:
    root = tmp_path_factory.mktemp("corpus")
    make_stems(root / "stems")
    _bad_stem_folders(root)
    _bad_files(root)
    _models(root)
    _plans(root)
    _training(root)
    return Kit(root)


# --------------------------------------------------------------------------- running a case


@dataclass(frozen=True)
class Case:
    """``argv(kit, out)``: the command; ``rc``: its exit status; ``needle``: in its one error line."""

    id: str
    argv: Callable[[Kit, Path], list]
    rc: int
    needle: str = ""


def run_case(case: Case, kit: Kit, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = tree_hashes(kit.root)
    argv = [str(a) for a in case.argv(kit, out)]
    try:
        rc = main(argv)
    except SystemExit as exc:  # a usage error: argparse exits 2
        rc = exc.code
    printed, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == case.rc, f"{argv}: rc {rc}, stderr:\n{err}"
    assert all(line.startswith(("error: ", "warning: ")) or rc == 0 for line in lines), err
    if rc != 0:
        errors = [line for line in lines if line.startswith("error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], f"expected one error line last:\n{err}"
        assert case.needle in errors[0], f"{case.needle!r} not in {errors[0]!r}"
        assert printed == "" or case.id.startswith("usage"), printed
    assert "Traceback" not in err and "\r" not in err
    assert tree_hashes(kit.root) == before, "an input changed"
    assert automix_temps(out, kit.root) == [], "a temporary file was left"
    if rc != 0:
        leftovers = [p for p in out.rglob("*")]
        assert leftovers == [], f"a failed command left {leftovers}"
    else:  # what it was asked to write is there
        assert all(Path(a).exists() for a in argv if a.startswith(str(out))), sorted(os.listdir(out))


M = ["--model"]  # readability below


def mix(stems: str, *extra) -> Callable[[Kit, Path], list]:
    return lambda k, o: ["mix", k.root / stems, "-o", o / "mix.wav", "--model", k.mixer, "-q", *extra]


MIX_CASES = [
    Case("missing stems", lambda k, o: ["mix", k.root / "nowhere", "-o", o / "mix.wav", *M, k.mixer], 1, "does not exist"),
    Case("corrupt stem", mix("stems-corrupt"), 1, "cannot be read"),
    Case("truncated stem", mix("stems-truncated"), 1, "truncated"),
    Case("zero-length stem", mix("stems-empty"), 1, "empty (0 bytes)"),
    Case("nan stem", mix("stems-nan"), 1, "NaN"),
    Case("inf stem", mix("stems-inf"), 1, "NaN or infinite"),
    Case("silent stems", mix("stems-silent"), 1, "silent"),
    Case("clipped stem", mix("stems-clipped"), 0),
    Case("mismatched rates", mix("stems-rates"), 0),
    Case("mismatched lengths", mix("stems-lengths"), 0),
    Case("mismatched channels", mix("stems-channels"), 0),
    Case("8-bit stems", mix("stems-u8"), 0),
    Case("32-bit int stems", mix("stems-int32"), 0),
    Case("unicode names", mix("stems-unicode"), 0),
    Case("rules with nan stem", lambda k, o: ["mix", k.root / "stems-nan", "-o", o / "mix.wav", *M, "rules"], 1, "NaN"),
    Case("output is a folder", lambda k, o: ["mix", k.stems, "-o", o, *M, k.mixer], 1, "is a folder"),
    Case("output odd extension", lambda k, o: ["mix", k.stems, "-o", o / "mix.mp3", *M, k.mixer], 1, ".wav or .flac"),
    Case("output unwritable", lambda k, o: ["mix", k.stems, "-o", "/proc/automix-mix.wav", *M, k.mixer], 1, "cannot write"),
    Case("output folder missing", lambda k, o: ["mix", k.stems, "-o", o / "no" / "mix.wav", *M, k.mixer], 1, "does not exist"),
    Case("output is a stem", lambda k, o: ["mix", k.stems, "-o", k.stems / DRUM_FILES[1], *M, k.mixer, "--force"], 1,
         "never writes over its inputs"),
    Case("output is the user's audio", lambda k, o: ["mix", k.stems, "-o", k.users_audio, *M, k.mixer, "--force"], 1,
         "automix did not write"),
    Case("existing output", lambda k, o: ["mix", k.stems, "-o", k.text, *M, k.mixer], 1, "exists; pass --force"),
    Case("session in the stems folder", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", *M, k.mixer, "--session",
                                                       k.stems, "--force"], 1, "input of this command"),
    Case("pickled model", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", *M, k.pickle_pt], 1, "pickle"),
    Case("pickle named as weights", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", *M, k.pickle_st], 1, "pickle"),
    Case("mismatched checkpoint", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", *M, k.mismatched], 1, "SHA-256"),
    Case("separator as mixer", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", *M, k.separator], 1, "separate"),
    Case("garbage map file", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", *M, k.mixer, "--map-file",
                                           k.binary_plan], 1, ""),
    Case("map to a missing file", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", *M, k.mixer, "--map",
                                                "kick=nope.wav"], 1, "no such stem file"),
    Case("usage bad loudness", lambda k, o: ["mix", k.stems, "-o", o / "mix.wav", "--loudness", "loud"], 2, "LUFS"),
]

RENDER_CASES = [
    Case("render garbage plan", lambda k, o: ["render", k.garbage_plan, "-o", o / "m.wav"], 1, ""),
    Case("render binary plan", lambda k, o: ["render", k.binary_plan, "-o", o / "m.wav"], 1, ""),
    Case("render garbage yaml", lambda k, o: ["render", k.garbage_yaml, "-o", o / "m.wav"], 1, ""),
    Case("render missing audio", lambda k, o: ["render", k.missing_plan, "-o", o / "m.wav"], 1, "does not exist"),
    Case("render nan audio", lambda k, o: ["render", k.nan_plan, "-o", o / "m.wav"], 1, "NaN"),
    Case("render corrupt stem", lambda k, o: ["render", k.root / "stems-corrupt", "-o", o / "m.wav"], 1, "cannot be read"),
    Case("render truncated stem", lambda k, o: ["render", k.root / "stems-truncated", "-o", o / "m.wav"], 1, "truncated"),
    Case("render zero-length stem", lambda k, o: ["render", k.root / "stems-empty", "-o", o / "m.wav"], 1, "empty"),
    Case("render silent stems", lambda k, o: ["render", k.root / "stems-silent", "-o", o / "m.wav", "-q"], 0),
    Case("render clipped", lambda k, o: ["render", k.root / "stems-clipped", "-o", o / "m.wav", "-q"], 0),
    Case("render mismatched rates", lambda k, o: ["render", k.root / "stems-rates", "-o", o / "m.wav", "-q"], 0),
    Case("render 8-bit", lambda k, o: ["render", k.root / "stems-u8", "-o", o / "m.wav", "-q"], 0),
    Case("render unicode", lambda k, o: ["render", k.root / "stems-unicode", "-o", o / "m.wav", "-q"], 0),
    Case("render hostile xml", lambda k, o: ["render", k.hostile, "-o", o / "m.wav"], 1, ""),
    Case("render broken rpp", lambda k, o: ["render", k.root / "external.rpp", "-o", o / "m.wav"], 1, ""),
    Case("render onto a track", lambda k, o: ["render", k.plan, "-o", k.stems / DRUM_FILES[0], "--force"], 1, "input"),
    Case("render existing output", lambda k, o: ["render", k.plan, "-o", k.text], 1, "exists"),
    Case("render odd output", lambda k, o: ["render", k.plan, "-o", o / "m.ogg"], 1, "unsupported extension"),
    Case("usage render target", lambda k, o: ["render", k.plan, "-o", o / "m.wav", "--target-lufs", "loud"], 2, ""),
]

SEPARATE_CASES = [
    Case(f"separate {what}", (lambda f: lambda k, o: ["separate", k.root / f, "-o", o / "src", *M, k.separator, "-q"])(f),
         rc, needle)
    for what, f, rc, needle in [
        ("missing", "nope.wav", 1, "does not exist"), ("corrupt", "corrupt.wav", 1, "cannot be read"),
        ("truncated", "truncated.wav", 1, "truncated"), ("zero-length", "empty.wav", 1, "empty"),
        ("nan", "nan.wav", 1, "NaN"), ("inf", "inf.wav", 1, "NaN or infinite"), ("silent", "silent.wav", 1, "silent"),
        ("three channels", "three.wav", 1, "channels"), ("8-bit", "u8.wav", 0, ""), ("32-bit int", "int32.wav", 0, ""),
        ("48 kHz", "rate48.wav", 0, ""), ("unicode", "Mïx – ünï.wav", 0, ""), ("not audio", "notes.txt", 1, "not an audio file"),
    ]
] + [
    Case("separate into a file", lambda k, o: ["separate", k.mix_wav, "-o", k.text, *M, k.separator], 1, "is a file"),
    Case("separate into its folder", lambda k, o: ["separate", k.mix_wav, "-o", k.root, *M, k.separator, "--force"], 1,
         "holds an input"),
    Case("separate with a mixer", lambda k, o: ["separate", k.mix_wav, "-o", o / "src", *M, k.mixer], 1, ""),
    Case("separate pickled model", lambda k, o: ["separate", k.mix_wav, "-o", o / "src", *M, k.pickle_pt], 1, "pickle"),
]

REMIX_CASES = [
    Case("remix corrupt", lambda k, o: ["remix", k.corrupt_wav, "-o", o / "r.wav", "--separator", k.separator, *M,
                                        k.mixer], 1, "cannot be read"),
    Case("remix nan", lambda k, o: ["remix", k.nan_wav, "-o", o / "r.wav", "--separator", k.separator, *M, k.mixer],
         1, "NaN"),
    Case("remix silent", lambda k, o: ["remix", k.silent_wav, "-o", o / "r.wav", "--separator", k.separator, *M,
                                       k.mixer], 1, "silent"),
    Case("remix onto its input", lambda k, o: ["remix", k.mix_wav, "-o", k.mix_wav, "--separator", k.separator, *M,
                                               k.mixer, "--force"], 1, "input"),
    Case("remix 8-bit", lambda k, o: ["remix", k.u8_wav, "-o", o / "r.wav", "--separator", k.separator, *M, k.mixer,
                                      "-q"], 0),
    Case("remix pickled mixer", lambda k, o: ["remix", k.mix_wav, "-o", o / "r.wav", "--separator", k.separator, *M,
                                              k.pickle_st], 1, "pickle"),
]

FIT_CASES = [
    Case("fit corrupt stem", lambda k, o: ["fit", k.root / "stems-corrupt", "--target", k.mix_wav, "-o", o / "p.json",
                                           "--steps", "2"], 1, "cannot be read"),
    Case("fit missing target", lambda k, o: ["fit", k.stems, "--target", k.root / "nope.wav", "-o", o / "p.json"], 1,
         "does not exist"),
    Case("fit nan target", lambda k, o: ["fit", k.stems, "--target", k.nan_wav, "-o", o / "p.json", "--steps", "2"], 1,
         "NaN"),
    Case("fit truncated target", lambda k, o: ["fit", k.stems, "--target", k.truncated_wav, "-o", o / "p.json"], 1,
         "truncated"),
    Case("fit render onto a stem", lambda k, o: ["fit", k.stems, "--target", k.mix_wav, "-o", o / "p.json", "--render",
                                                 k.stems / DRUM_FILES[2], "--force"], 1, "input"),
    Case("fit existing plan", lambda k, o: ["fit", k.stems, "--target", k.mix_wav, "-o", k.text], 1, "exists"),
    Case("fit mismatched rates", lambda k, o: ["fit", k.stems, "--target", k.rate48_wav, "-o", o / "p.json",
                                               "--steps", "2", "-q"], 0),
]

SESSION_CASES = [
    Case("import hostile xml", lambda k, o: ["session", "import", k.hostile, "-o", o / "p.json"], 1, ""),
    Case("import corrupt stem", lambda k, o: ["session", "import", k.root / "stems-corrupt", "-o", o / "p.json"], 1, ""),
    Case("import zero-length stem", lambda k, o: ["session", "import", k.root / "stems-empty", "-o", o / "p.json"], 1, ""),
    Case("import unicode", lambda k, o: ["session", "import", k.root / "stems-unicode", "-o", o / "p.json", "-q"], 0),
    Case("import existing output", lambda k, o: ["session", "import", k.stems, "-o", k.plan], 1, "exists"),
    Case("import onto its input", lambda k, o: ["session", "import", k.plan, "-o", k.plan, "--force"], 1, "input"),
    Case("show garbage plan", lambda k, o: ["session", "show", k.garbage_plan], 1, ""),
    Case("show binary plan", lambda k, o: ["session", "show", k.binary_plan], 1, ""),
    Case("show hostile xml", lambda k, o: ["session", "show", k.hostile], 1, ""),
    Case("show broken rpp", lambda k, o: ["session", "show", k.root / "external.rpp"], 1, ""),
    Case("write garbage plan", lambda k, o: ["session", "write", k.garbage_plan, "--format", "ardour", "-o", o / "s"], 1,
         ""),
    Case("write missing audio", lambda k, o: ["session", "write", k.missing_plan, "--format", "reaper", "-o", o / "s"],
         1, "missing"),
    Case("write into the stems", lambda k, o: ["session", "write", k.plan, "--format", "ardour", "-o", k.stems,
                                               "--force"], 1, "holds an input"),
    Case("write into the user's folder", lambda k, o: ["session", "write", k.plan, "--format", "reaper", "-o",
                                                       k.user_folder, "--force"], 1, "not written by automix"),
    Case("write midi with a mix", lambda k, o: ["session", "write", k.plan, "--format", "midi", "-o", o / "s", "--mix",
                                                k.mix_wav], 1, "MIDI"),
    Case("write corrupt mix", lambda k, o: ["session", "write", k.plan, "--format", "ardour", "-o", o / "s", "--mix",
                                            k.corrupt_wav], 1, ""),
]

DATASET_CASES = [
    Case("manifest missing root", lambda k, o: ["datasets", "manifest", k.root / "nope", "-o", o / "m.json"], 1, ""),
    Case("manifest of a file", lambda k, o: ["datasets", "manifest", k.text, "-o", o / "m.json"], 1, ""),
    Case("manifest existing output", lambda k, o: ["datasets", "manifest", k.songs, "-o", k.manifest], 1, "exists"),
    Case("split of no ENST", lambda k, o: ["datasets", "split", k.stems, "-o", o / "s.json"], 1, ""),
    Case("drums into the user's folder", lambda k, o: ["datasets", "drums", "--out", k.user_folder, "--songs", "1"], 1,
         ""),
    Case("usage drums zero songs", lambda k, o: ["datasets", "drums", "--out", o / "c", "--songs", "0"], 2, ""),
]

EVALUATE_CASES = [
    Case("evaluate missing estimate", lambda k, o: ["evaluate", "--estimate", k.root / "nope.wav", "--reference",
                                                    k.reference], 1, "does not exist"),
    Case("evaluate corrupt estimate", lambda k, o: ["evaluate", "--estimate", k.corrupt_wav, "--reference",
                                                    k.reference], 1, "cannot be read"),
    Case("evaluate nan estimate", lambda k, o: ["evaluate", "--estimate", k.nan_wav, "--reference", k.reference], 1,
         "NaN"),
    Case("evaluate silent reference", lambda k, o: ["evaluate", "--estimate", k.mix_wav, "--reference", k.silent_wav],
         1, "silent"),
    Case("evaluate mismatched lengths", lambda k, o: ["evaluate", "--estimate", k.short_wav, "--reference",
                                                      k.reference, "-q"], 0),  # 1 s apart: the common part
    Case("evaluate mismatched rates", lambda k, o: ["evaluate", "--estimate", k.rate48_wav, "--reference", k.reference,
                                                    "-q"], 0),
    Case("evaluate 8-bit", lambda k, o: ["evaluate", "--estimate", k.u8_wav, "--reference", k.reference, "-q"], 0),
    Case("evaluate out in the user's folder", lambda k, o: ["evaluate", "--estimate", k.mix_wav, "--reference",
                                                            k.reference, "--out", k.user_folder, "--force"], 1, ""),
    Case("evaluate out holding the estimate", lambda k, o: ["evaluate", "--estimate", k.mix_wav, "--reference",
                                                            k.reference, "--out", k.root, "--force"], 1, "holds an input"),
    Case("evaluate pickled model", lambda k, o: ["evaluate", *M, k.pickle_pt, "--data", k.songs], 1, "pickle"),
]

TRAIN_CASES = [
    Case("train garbage recipe", lambda k, o: ["train", k.recipe_garbage, "--out", o / "run"], 1, ""),
    Case("train text recipe", lambda k, o: ["train", k.recipe_text, "--out", o / "run"], 1, ""),
    Case("train missing recipe", lambda k, o: ["train", k.root / "nope.json", "--out", o / "run"], 1, ""),
    Case("train data is a wav", lambda k, o: ["train", "mix-small-cpu", "--data", k.mix_wav, "--out", o / "run"], 1,
         "is a file"),
    Case("train missing manifest", lambda k, o: ["train", "mix-small-cpu", "--data", k.root / "nope.json", "--out",
                                                 o / "run"], 1, "does not exist"),
    Case("train pickled init", lambda k, o: ["train", k.recipe, "--out", o / "run", "--init", k.pickle_pt], 1, "pickle"),
    Case("train mismatched init", lambda k, o: ["train", k.recipe, "--out", o / "run", "--init", k.mismatched], 1, ""),
]

MODELS_CASES = [
    Case("models show pickle", lambda k, o: ["models", "show", k.pickle_pt], 1, "pickle"),
    Case("models show pickle as weights", lambda k, o: ["models", "show", k.pickle_st], 1, "pickle"),
    Case("models show mismatched", lambda k, o: ["models", "show", k.mismatched], 1, "SHA-256"),
    Case("models show unknown", lambda k, o: ["models", "show", "no-such-model"], 1, "unknown model"),
    Case("models show a plan", lambda k, o: ["models", "show", k.plan], 1, ""),
]

DEMO_CASES = [
    Case("demo into the user's folder", lambda k, o: ["demo", "-o", k.user_folder, "--force"], 1, "not written by automix"),
    Case("demo unwritable", lambda k, o: ["demo", "-o", "/proc/automix-demo"], 1, ""),
    Case("demo pickled model", lambda k, o: ["demo", "-o", o / "d", *M, k.pickle_pt], 1, "pickle"),
    Case("demo separator", lambda k, o: ["demo", "-o", o / "d", *M, k.separator], 1, ""),
]

ALL_CASES = (MIX_CASES + RENDER_CASES + SEPARATE_CASES + REMIX_CASES + FIT_CASES + SESSION_CASES + DATASET_CASES
             + EVALUATE_CASES + TRAIN_CASES + MODELS_CASES + DEMO_CASES)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_bad_input(case: Case, kit: Kit, tmp_path: Path, capsys) -> None:
    run_case(case, kit, tmp_path, capsys)


# --------------------------------------------------------------------------- interruptions of real processes

LONG_S = 20  # seconds of audio: the work runs for seconds after it starts (the default models, pedalboard)


@pytest.fixture(scope="module")
def long_kit(tmp_path_factory) -> Path:
    """20 s stems, their 20 s mix, a 48 kHz plan of 24 tracks (every track converted when written as an
    Ardour session) and a long training recipe on a tiny collection."""
    from daw_bridge import open_session

    root = tmp_path_factory.mktemp("long")
    arrays = make_stems(root / "stems", n=LONG_S * SR)
    mix = np.sum(list(arrays.values()), axis=0) / 4
    write_wav(root / "mix.wav", np.stack([mix, mix]))
    plan = open_session(root / "stems")
    tracks = [t.model_copy(update={"name": f"{t.name} {i}"}) for i in range(3) for t in plan.tracks]
    plan.model_copy(update={"tracks": tracks, "sample_rate": 48000}).save(root / "plan.json")
    recipe = tiny_collection_recipe(root / "songs", "long", ("A", "B"), steps=100000, checkpoint_every=2,
                                    keep_checkpoints=2)
    (root / "recipe.json").write_text(json.dumps(recipe))
    return root


@dataclass(frozen=True)
class Job:
    """A long command: ``argv(root, out)``; ``started(out)``: its work is under way; ``output``: what it writes."""

    verb: str
    argv: Callable[[Path, Path], list]
    started: Callable[[Path], bool]
    output: str


#: What automix adds to a collection's folder by design: its loudness cache (automix.data.collection).
CACHES = (".automix-loudness.json",)


def assert_unchanged(before: dict[str, str], after: dict[str, str]) -> None:
    """Every input file as it was; nothing new but automix's caches."""
    assert {k: after.get(k) for k in before} == before, "an input changed"
    assert all(Path(k).name in CACHES for k in set(after) - set(before)), sorted(set(after) - set(before))


def _temp_of(folder: Path, name: str) -> bool:
    return folder.is_dir() and any(p.name.startswith(f".{name}.automix-") for p in folder.iterdir())


JOBS = {
    "mix": Job("mix", lambda r, o: ["mix", r / "stems", "-o", o / "mix.wav", "--precision", "fp32"],
               lambda o: _temp_of(o, "mix.wav"), "mix.wav"),
    "render": Job("render", lambda r, o: ["render", r / "stems", "-o", o / "mix.wav", "--presets", "--no-normalize",
                                          "--threads", "1"], lambda o: _temp_of(o, "mix.wav"), "mix.wav"),
    "separate": Job("separate", lambda r, o: ["separate", r / "mix.wav", "-o", o / "src", "--precision", "fp32"],
                    lambda o: _temp_of(o / "src", "kick.wav"), "src/kick.wav"),
    "session write": Job("session write", lambda r, o: ["session", "write", r / "plan.json", "--format", "ardour",
                                                        "-o", o / "session"], lambda o: _temp_of(o, "session"),
                         "session"),
    "train": Job("train", lambda r, o: ["train", r / "recipe.json", "--out", o / "run"],
                 lambda o: (o / "run" / "checkpoints").is_dir(), "run"),
}
SIGNALS = {"SIGINT": (signal.SIGINT, 130, "interrupted"), "SIGTERM": (signal.SIGTERM, 143, "terminated")}


def _interrupt(job: Job, root: Path, out: Path, signum: int) -> subprocess.CompletedProcess:
    proc = start_process(*job.argv(root, out), "-q")
    try:
        wait_until(lambda: job.started(out), proc, what=f"{job.verb} to start")
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # a failed test leaves no process behind
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("name", list(SIGNALS))
@pytest.mark.parametrize("verb", list(JOBS))
def test_interrupted(verb: str, name: str, long_kit: Path, tmp_path: Path) -> None:
    """SIGINT / SIGTERM mid-work: exit 130 / 143, one line, inputs untouched, nothing half-written."""
    job, (signum, rc, word) = JOBS[verb], SIGNALS[name]
    out = tmp_path / "out"
    out.mkdir()
    before = tree_hashes(long_kit)
    done = _interrupt(job, long_kit, out, signum)
    assert done.returncode == rc, f"rc {done.returncode}: {done.stderr}"
    assert done.stderr.splitlines() == [f"error: {word}; nothing half-written was left behind"], done.stderr
    assert_unchanged(before, tree_hashes(long_kit))
    assert automix_temps(out) == [], sorted(str(p) for p in out.rglob("*"))
    if verb == "train":  # the run folder keeps its whole checkpoints (resumable), never a half one
        assert not (out / "run" / "model.safetensors").exists()
    else:
        assert sorted(os.listdir(out)) == []


@pytest.mark.parametrize("verb", list(JOBS))
def test_killed_then_run_again(verb: str, long_kit: Path, tmp_path: Path) -> None:
    """SIGKILL mid-work leaves temporary files (nothing can run then); the next run of the same command
    removes them as it starts (train: with --resume), and no output is half-written."""
    job = JOBS[verb]
    out = tmp_path / "out"
    out.mkdir()
    before = tree_hashes(long_kit)
    proc = start_process(*job.argv(long_kit, out), "-q")
    wait_until(lambda: job.started(out), proc, what=f"{verb} to start")
    proc.kill()
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    stale = automix_temps(out)
    if verb != "train":
        assert stale and not (out / job.output).exists(), sorted(os.listdir(out))  # never a half output
    again = job.argv(long_kit, out) + (["--resume"] if verb == "train" else [])
    proc = start_process(*again, "-q")
    if verb == "train":  # the resumed run goes past the step the killed one was at
        wait_until(lambda: len(list((out / "run" / "checkpoints").glob("step-*"))) >= 1 and not automix_temps(out),
                   proc, what="the resumed run")
    else:
        wait_until(lambda: not any(p.exists() for p in stale) and job.started(out), proc,
                   what="the next run to remove the stale temporary files and start")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    assert automix_temps(out) == []
    assert_unchanged(before, tree_hashes(long_kit))
