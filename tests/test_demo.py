"""``automix demo`` and the shipped example stems (automix.demo)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from automix.cli import main
from daw_bridge.errors import AutomixError
from automix.demo import example_stems, run_demo
from automix.eval.evaluate import LOUDNESS_EQUALISED_SUM, ORACLE_GAIN_PAN, RECORDED_BALANCE, RULE_BASED_CONSOLE, SUM_OF_STEMS
from automix.models.pretrained import default_model_name
from daw_bridge.stems import DRUM_SLOTS

REPORT_FILES = {"audio", "index.html", "loudness.png", "metrics.json", "panning.png", "report.md", "spectrograms.png"}


def test_example_stems_are_shipped_and_consistent():
    folder = example_stems()
    stems = sorted(p.stem for p in folder.glob("*.flac"))
    assert stems == sorted(DRUM_SLOTS)
    infos = [sf.info(str(p)) for p in folder.glob("*.flac")]
    assert {(i.samplerate, i.channels, i.frames, i.format, i.subtype) for i in infos} == {(44100, 1, 352800, "FLAC", "PCM_16")}
    for name in ("wet", "dry"):
        info = sf.info(str(folder / "reference" / f"{name}.flac"))
        assert (info.samplerate, info.channels, info.frames) == (44100, 2, 352800)
    take = json.loads((folder / "take.json").read_text())
    assert take["seed"] == 2026 and take["seconds"] == 8.0
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert total < 4_000_000  # a few MB in the repository
    for p in folder.glob("*.flac"):
        audio, _ = sf.read(str(p), dtype="float32")
        assert np.isfinite(audio).all() and np.abs(audio).max() > 1e-3  # no silent stem


def test_demo_writes_mix_session_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    for what in ("mix.wav", "automix-demo.ardour", "report.md"):
        assert what in printed
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["mix.wav", "report", "session", "stems"]
    mix, rate = sf.read(str(out / "mix.wav"), dtype="float32")
    assert rate == 44100 and mix.shape == (352800, 2) and np.isfinite(mix).all()
    assert {p.name for p in (out / "report").iterdir() if not p.name.startswith(".")} == REPORT_FILES
    data = json.loads((out / "report" / "metrics.json").read_text())
    assert list(data["systems"]) == [default_model_name(), SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    assert all(math.isfinite(v) for v in data["systems"][default_model_name()].values())
    # the session plays the stems copied into the demo folder, and the mix, muted
    from daw_bridge.formats.ardour import read_ardour_session

    session = read_ardour_session(out / "session")
    assert sorted(t.name for t in session.tracks) == sorted(DRUM_SLOTS)
    for track in session.tracks:  # its own copies (hard links) of the stems: the folder can move
        assert track.file.is_relative_to((out / "session").absolute())
        assert track.file.read_bytes() == (out / "stems" / track.file.name).read_bytes()
    # an existing folder is refused (one line, exit 1) and left alone; --force replaces it
    before = (out / "mix.wav").stat().st_mtime_ns
    assert main(["demo", "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--force" in err
    assert (out / "mix.wav").stat().st_mtime_ns == before
    assert main(["demo", "-o", str(out), "--force", "-q", "--no-plots"]) == 0
    assert {p.name for p in (out / "report").iterdir() if not p.name.startswith(".")} == {"audio", "index.html", "metrics.json", "report.md"}


@pytest.fixture(scope="module")
def api_demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("demo") / "d", plots=False, progress=False)


def test_demo_and_evaluate_estimate_agree_and_name_the_level(api_demo):
    """Issue 19 (7): the demo scored its mix MR-STFT 0.949 where 'automix evaluate --estimate' said 1.254
    (the reference brought to the model's level in one, not in the other): both now score every system at
    the shipped reference's own loudness, and the report says so."""
    from automix.eval.evaluate import evaluate_pair

    result = api_demo
    reference = example_stems() / "reference" / f"{result.reference}.flac"
    report = evaluate_pair(result.mix, reference, stems=result.folder / "stems", plots=False, rules=False)
    ours, demo = report.systems["estimate"], result.scores[result.model]
    for key in ("mrstft", "si_sdr", "loudness_diff_lu"):
        assert ours[key] == pytest.approx(demo[key], abs=1e-9), key
    legend = report.to_markdown()
    assert "scored at the reference's integrated loudness" in legend and " LUFS)" in legend
    assert "scored at the reference's integrated loudness" in (result.report / "report.md").read_text()


def test_demo_api_and_a_wrong_model(tmp_path, api_demo):
    result = api_demo
    assert result.mix.exists() and result.session.suffix == ".ardour" and result.reference in ("wet", "dry")
    assert result.scores[result.model]["mrstft"] > 0
    assert "SI-SDR" in result.summary()
    from automix.models.mixer import mix_wave_unet

    other = mix_wave_unet(["bass", "drums"], levels=2, growth=2, base_filters=2, name="two").save(tmp_path / "two")
    with pytest.raises(AutomixError, match="matched a slot"):
        run_demo(tmp_path / "e", model=other, plots=False, progress=False)
    assert not (tmp_path / "e").exists()
