"""The one writer guard (daw_bridge.outputs): no command writes over its inputs, ``--force`` or not,
and ``--force`` replaces only what automix itself wrote. Each case of the redesign issue is a test."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import automix
from daw_bridge.audio import write_audio
from daw_bridge.errors import OutputError
from daw_bridge.outputs import MARKER, check_output_path, new_output_folder, reading
from tests.support import DRUM_FILES, SR, assert_one_error, cli, read_mix, stem_folder, write_wav


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def song(tmp_path) -> Path:
    """A user's Ardour session folder: their session file, a recorded take, and their exported stems."""
    folder = tmp_path / "MySong"
    (folder / "interchange" / "MySong" / "audiofiles").mkdir(parents=True)
    (folder / "MySong.ardour").write_text("<Session version='7002' name='MySong'/>\n")
    write_wav(folder / "interchange" / "MySong" / "audiofiles" / "take 1.wav", 0.1 * np.ones(SR // 2, np.float32))
    stem_folder(folder / "export")
    return folder


def refused(capsys, argv, *needles) -> str:
    rc, out, err = cli(capsys, *argv)
    assert rc == 1, err
    assert out == ""
    return assert_one_error(err, *needles)


def test_mix_session_into_the_users_session_folder_is_refused_with_force(tmp_path, song, capsys):
    before = tree_digest(song)
    refused(capsys, ["mix", song / "export", "-o", tmp_path / "mix.wav", "--model", "rules", "--session", song,
                     "--force"], "holds an input")
    assert tree_digest(song) == before and not (tmp_path / "mix.wav").exists()
    # stems from elsewhere: the folder is still the user's, not automix's
    stem_folder(tmp_path / "other")
    refused(capsys, ["mix", tmp_path / "other", "-o", tmp_path / "mix.wav", "--model", "rules", "--session", song,
                     "--force"], "was not written by automix")
    assert tree_digest(song) == before and not (tmp_path / "mix.wav").exists()


def test_session_write_over_the_session_holding_its_stems_is_refused(tmp_path, song, capsys):
    plan = tmp_path / "plan.json"
    assert cli(capsys, "session", "import", song / "export", "-o", plan)[0] == 0
    before = tree_digest(song)
    refused(capsys, ["session", "write", plan, "--format", "ardour", "-o", song, "--force"], "holds an input")
    assert tree_digest(song) == before


def test_mix_into_a_stem_of_its_own_folder_is_refused(tmp_path, capsys):
    stems = stem_folder(tmp_path / "stems")
    before = tree_digest(stems)
    refused(capsys, ["mix", stems, "-o", stems / DRUM_FILES[0], "--model", "rules", "--force"], "automix did not write")
    refused(capsys, ["mix", stems, "-o", stems / ".." / "stems" / DRUM_FILES[1], "--model", "rules", "--force"],
            "automix did not write")
    assert tree_digest(stems) == before
    # a mix automix wrote into the stems folder is its own: skipped as a stem, replaced with --force
    assert cli(capsys, "mix", stems, "-o", stems / "mix.wav", "--model", "rules", "-q")[0] == 0
    assert cli(capsys, "mix", stems, "-o", stems / "mix.wav", "--model", "rules", "--force", "-q")[0] == 0


def test_mix_onto_a_named_input_is_refused(tmp_path, capsys):
    a = write_wav(tmp_path / "kick.wav", 0.3 * np.sin(np.arange(SR) / 9.0).astype(np.float32))
    b = write_wav(tmp_path / "snare.wav", 0.3 * np.sin(np.arange(SR) / 5.0).astype(np.float32))
    before = b.read_bytes()
    refused(capsys, ["mix", a, b, "-o", b, "--model", "rules", "--force"], "is an input of this command")
    assert b.read_bytes() == before


def test_links_to_an_input_are_refused(tmp_path, capsys):
    stems = stem_folder(tmp_path / "stems")
    kick = stems / DRUM_FILES[0]
    before = kick.read_bytes()
    (tmp_path / "out").mkdir()
    os.symlink(kick, tmp_path / "out" / "soft.wav")
    os.link(kick, tmp_path / "out" / "hard.wav")
    for name in ("soft.wav", "hard.wav"):
        line = refused(capsys, ["mix", stems, "-o", tmp_path / "out" / name, "--model", "rules", "--force"])
        # an input, or (the hard link, seen before the stems are listed) audio automix did not write
        assert "never writes over its inputs" in line or "audio that automix did not write" in line
    assert kick.read_bytes() == before


def test_render_onto_a_tracks_audio_is_refused(tmp_path, capsys):
    stems = stem_folder(tmp_path / "stems")
    plan = tmp_path / "plan.json"
    assert cli(capsys, "session", "import", stems, "-o", plan)[0] == 0
    before = tree_digest(stems)
    refused(capsys, ["render", plan, "-o", stems / DRUM_FILES[2], "--force"], "input")
    assert tree_digest(stems) == before


def test_separate_into_the_folder_of_its_input_is_refused(tmp_path, capsys):
    sep = tmp_path / "sep"
    sep.mkdir()
    mix = write_wav(sep / "kick.wav", 0.2 * np.random.default_rng(0).standard_normal((2, SR)).astype(np.float32))
    before = tree_digest(sep)
    refused(capsys, ["separate", mix, "-o", sep, "--force"], "holds an input")
    assert tree_digest(sep) == before


def test_remix_onto_its_input_is_refused(tmp_path, capsys):
    drums = write_wav(tmp_path / "drums.wav", 0.2 * np.random.default_rng(1).standard_normal((2, SR)).astype(np.float32))
    before = drums.read_bytes()
    refused(capsys, ["remix", drums, "-o", drums, "--force"], "is an input of this command")
    assert drums.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["drums.wav"]


def test_fit_render_onto_a_stem_is_refused(tmp_path, capsys):
    stems = stem_folder(tmp_path / "stems")
    target = tmp_path / "target.wav"
    assert cli(capsys, "mix", stems, "-o", target, "--model", "rules", "-q")[0] == 0
    before = tree_digest(stems)
    refused(capsys, ["fit", stems, "--target", target, "-o", tmp_path / "plan.json", "--render", stems / DRUM_FILES[3],
                     "--force"], "automix did not write")
    assert tree_digest(stems) == before and not (tmp_path / "plan.json").exists()


def test_evaluate_out_holding_the_estimate_is_refused(tmp_path, capsys):
    folder = tmp_path / "mixes"
    folder.mkdir()
    noise = np.random.default_rng(2).standard_normal((2, SR)).astype(np.float32)
    est = write_wav(folder / "est.wav", 0.1 * noise)
    ref = write_wav(folder / "ref.wav", 0.1 * noise[::-1])
    before = tree_digest(folder)
    refused(capsys, ["evaluate", "--estimate", est, "--reference", ref, "--out", folder, "--force"], "holds an input")
    assert tree_digest(folder) == before


def test_force_replaces_only_what_automix_wrote_in_a_session(tmp_path, capsys):
    stems = stem_folder(tmp_path / "stems")
    session = tmp_path / "session"
    assert cli(capsys, "mix", stems, "-o", tmp_path / "mix.wav", "--model", "rules", "--session", session, "-q")[0] == 0
    assert (session / MARKER).is_file()
    take = session / "interchange" / "session" / "audiofiles" / "take 2.wav"
    take.parent.mkdir(parents=True, exist_ok=True)
    write_wav(take, 0.1 * np.ones(SR // 4, np.float32))
    take_hash = hashlib.sha256(take.read_bytes()).hexdigest()
    assert cli(capsys, "mix", stems, "-o", tmp_path / "mix.wav", "--model", "rules", "--session", session, "--force",
               "--loudness", "-20", "-q")[0] == 0
    assert hashlib.sha256(take.read_bytes()).hexdigest() == take_hash  # the user's recording is kept
    # a session file the user changed (saved from Ardour) is never replaced
    ardour = next(session.glob("*.ardour"))
    ardour.write_text(ardour.read_text() + "\n<!-- saved by Ardour -->\n")
    edited = tree_digest(session)
    refused(capsys, ["mix", stems, "-o", tmp_path / "mix.wav", "--model", "rules", "--session", session, "--force"],
            "changed since automix wrote it")
    assert tree_digest(session) == edited


def test_python_guard_reading_and_folders(tmp_path):
    user = tmp_path / "user.wav"
    write_wav(user, np.zeros(100, np.float32))
    with reading([user]), pytest.raises(OutputError, match="is an input"):
        check_output_path(tmp_path / "." / "user.wav", overwrite=True)
    with pytest.raises(OutputError, match="audio that automix did not write"):  # --force or not
        check_output_path(user, overwrite=True)
    ours = tmp_path / "ours.wav"
    write_audio(ours, np.zeros(100, np.float32), SR)
    assert check_output_path(ours, overwrite=True) == ours  # automix wrote it: --force replaces it
    with new_output_folder(tmp_path / "ours") as tmp:
        (tmp / "a.txt").write_text("1")
    with new_output_folder(tmp_path / "ours", force=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in (tmp_path / "ours").iterdir() if p.name != MARKER) == ["b.txt"]


def test_api_rules_mix_equals_the_cli(tmp_path, capsys):
    stems = stem_folder(tmp_path / "stems")
    assert cli(capsys, "mix", stems, "-o", tmp_path / "cli.wav", "--model", "rules", "-q")[0] == 0
    result = automix.mix(stems, tmp_path / "api.wav", model="rules")
    assert result.model == "rules" and result.plan is not None and result.output == tmp_path / "api.wav"
    np.testing.assert_array_equal(read_mix(tmp_path / "api.wav"), read_mix(tmp_path / "cli.wav"))
    memory = automix.mix(stems, None, model="rules")
    assert memory.audio.shape[0] == 2 and np.allclose(memory.audio[:, : read_mix(tmp_path / "api.wav").shape[1]],
                                                      read_mix(tmp_path / "api.wav"), atol=1e-4)
