"""``automix mix`` with no ``--model`` picks the mixer by what the stems are, and says which."""

from __future__ import annotations

import numpy as np

import automix
from automix.inference.mixers import DRUM_FAMILIES, RulesMixer, choose_mixer, stem_families
from automix.models import pretrained
from tests.support import DRUM_FILES, cli, stem_folder

BAND_FILES = ("Bass DI.wav", "Lead Vox.wav", "Gtr L.wav", "Keys.wav", "01 Kick In.wav", "OH L.wav")


def test_drum_mic_names_are_all_drum_families():
    assert set(stem_families(DRUM_FILES)) <= DRUM_FAMILIES
    assert stem_families(["Bass DI.wav", "Lead Vox", "notes.wav"]) == ["bass", "vocal", None]


def test_drum_stems_get_the_default_drum_mixer():
    mixer, why = choose_mixer(list(DRUM_FILES))
    assert mixer.name == pretrained.default_model_name("mix")
    assert "drum mic stems" in why


def test_band_stems_get_the_rule_based_console():
    mixer, why = choose_mixer(list(BAND_FILES))
    assert isinstance(mixer, RulesMixer)
    assert why.startswith("not drum mic stems (bass, guitar, keys, vocal)")


def test_unnamed_stems_that_name_no_role_get_the_rule_based_console():
    mixer, why = choose_mixer(["a.wav", "b.wav"])
    assert isinstance(mixer, RulesMixer) and "no role in their names" in why


def test_mix_band_folder_without_model_mixes_and_says_which(tmp_path):
    stems = stem_folder(tmp_path / "band", BAND_FILES)
    result = automix.mix(stems, tmp_path / "mix.wav", progress=False)
    assert result.model == "rules"
    assert result.output.is_file() and result.frames >= 66150
    assert "picked for not drum mic stems" in result.summary()


def test_cli_band_folder_without_model(tmp_path, capsys):
    stems = stem_folder(tmp_path / "band", BAND_FILES)
    code, out, _ = cli(capsys, "mix", str(stems), "-o", str(tmp_path / "mix.wav"))
    assert code == 0 and (tmp_path / "mix.wav").is_file()
    assert "rule-based console; picked for not drum mic stems" in out


def test_mix_audio_by_names_picks_too():
    rng = np.random.default_rng(0)
    stems = {name: 0.1 * rng.standard_normal(44100).astype(np.float32) for name in ("bass", "vocals", "guitar")}
    out = automix.mix_audio(stems, 44100)
    assert out.shape == (2, 44100) and np.isfinite(out).all() and np.abs(out).max() > 0


def test_named_model_is_not_second_guessed(tmp_path):
    stems = stem_folder(tmp_path / "drums")
    result = automix.mix(stems, tmp_path / "mix.wav", model="rules", progress=False)
    assert result.model == "rules" and result.choice is None
