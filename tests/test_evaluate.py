"""Evaluation API (automix.eval.evaluate), plots (automix.eval.plots) and ``automix evaluate``.

Everything runs on short synthetic audio: a few mono stems panned into a reference mix, and
for the split evaluation a two-take ENST-layout tree (tests/test_enst.write_take) with a tiny
untrained Mix-Wave-U-Net, so the whole file stays fast on a small CPU.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from automix.eval import metrics as M
from daw_bridge.loudness import measure_loudness
from automix.cli import main
from daw_bridge.errors import AudioError, AutomixError, OutputError
from automix.eval.evaluate import (
    LOUDNESS_EQUALISED_SUM,
    ORACLE_GAIN_PAN,
    RECORDED_BALANCE,
    RULE_BASED_CONSOLE,
    SUM_OF_STEMS,
    EvaluationReport,
    evaluate_pair,
    evaluate_split,
    loudness_equalised_sum,
    sum_of_stems,
)

SR = 44100
SECONDS = 2.0
N = int(SECONDS * SR)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPORT_FILES = ["audio", "index.html", "loudness.png", "metrics.json", "panning.png", "report.md", "spectrograms.png"]
NO_PLOT_FILES = ["audio", "index.html", "metrics.json", "report.md"]  # the listening page and its audio stay
PANS = (0.5, 0.5, 0.15, 0.85)  # per stem: 0 hard left, 1 hard right (linear)


def stem_signals(n: int = N) -> list[np.ndarray]:
    """Kick-, snare-, cymbal- and noise-like mono stems."""
    t = np.arange(n) / SR
    rng = np.random.default_rng(0)
    env = np.exp(-12 * (t % 0.5))
    return [
        (0.5 * np.sin(2 * np.pi * 60 * t) * env).astype(np.float32),
        (0.2 * (np.sin(2 * np.pi * 200 * t) + rng.standard_normal(n)) * np.exp(-20 * ((t + 0.25) % 0.5))).astype(np.float32),
        (0.05 * rng.standard_normal(n) * np.exp(-6 * (t % 0.25))).astype(np.float32),
        (0.02 * rng.standard_normal(n)).astype(np.float32),
    ]


def panned_mix(stems: list[np.ndarray]) -> np.ndarray:
    return np.stack([sum((1 - p) * s for p, s in zip(PANS, stems)), sum(p * s for p, s in zip(PANS, stems))]).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = SR, subtype: str = "FLOAT") -> Path:
    arr = np.asarray(audio, dtype=np.float32)
    sf.write(str(path), arr.T if arr.ndim == 2 else arr, sr, subtype=subtype)
    return path


@pytest.fixture
def song(tmp_path) -> dict:
    """stems/ (4 mono WAVs), reference.wav (their panned mix), estimate.wav (a close mix)."""
    stems = stem_signals()
    folder = tmp_path / "stems"
    folder.mkdir()
    for i, s in enumerate(stems):
        write(folder / f"{i + 1:02d} stem.wav", s)
    reference = panned_mix(stems)
    estimate = 0.9 * reference + 0.003 * np.random.default_rng(1).standard_normal(reference.shape).astype(np.float32)
    return {
        "stems": folder,
        "stem_arrays": stems,
        "reference": write(tmp_path / "reference.wav", reference),
        "estimate": write(tmp_path / "estimate.wav", estimate),
        "reference_audio": reference,
        "estimate_audio": estimate,
    }


@pytest.fixture(autouse=True)
def _quiet_automix_logger():
    """main() points the 'automix' logger at the (captured) stderr of the moment; undo it."""
    logger = logging.getLogger("automix")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """ENST loudness indexes go to automix's cache folder: keep it in tmp."""
    monkeypatch.setenv("AUTOMIX_CACHE", str(tmp_path / "cache"))


def cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_error(err: str, *needles: str) -> str:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one stderr line, got:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def table_rows(markdown: str) -> list[list[str]]:
    """Rows of the first Markdown table (header and separator left out), as lists of cells."""
    block: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("|"):
            block.append(line)
        elif block:
            break
    return [[c.strip() for c in line.strip("|").split("|")] for line in block[2:]]


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000, path


# --------------------------------------------------------------------------------------------
# Baselines


def test_sum_of_stems_puts_the_plain_sum_on_both_channels():
    stems = np.array([[1.0, 0.5, -0.25], [0.5, 0.5, 0.25]], dtype=np.float32)
    out = sum_of_stems(stems)
    assert out.shape == (2, 3) and out.dtype == np.float32
    assert np.allclose(out, [[1.5, 1.0, 0.0], [1.5, 1.0, 0.0]])


def test_loudness_equalised_sum_balances_stems_and_matches_the_reference_loudness():
    stems = np.stack(stem_signals())
    stems[3] = 0.0  # a silent stem is left out
    out = loudness_equalised_sum(stems, SR, -20.0)
    assert out.shape == (2, N) and np.array_equal(out[0], out[1])
    assert measure_loudness(out, SR) == pytest.approx(-20.0, abs=0.01)
    # by hand: each non-silent stem at the same loudness, summed
    gains = [10 ** ((-30 - measure_loudness(s, SR)) / 20) for s in stems[:3]]
    by_hand = sum(g * s for g, s in zip(gains, stems[:3]))
    scale = out[0] / np.where(by_hand == 0, 1, by_hand)
    assert np.allclose(scale[np.abs(by_hand) > 1e-3], scale[np.argmax(np.abs(by_hand))], rtol=1e-3)
    assert not np.any(loudness_equalised_sum(np.zeros((3, N), np.float32), SR, -20.0))


# --------------------------------------------------------------------------------------------
# evaluate_pair


def test_evaluate_pair_end_to_end_with_baselines_and_files(song, tmp_path):
    out = tmp_path / "eval"
    report = evaluate_pair(song["estimate"], song["reference"], stems=song["stems"], out=out)
    assert list(report.systems) == ["estimate", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    for metrics in report.systems.values():
        assert set(metrics) == set(M.METRICS) and all(math.isfinite(v) for v in metrics.values())
    est = report.systems["estimate"]
    assert est["si_sdr"] > 20 and est["loudness_diff_lu"] == pytest.approx(20 * math.log10(0.9), abs=0.05)
    assert report.systems[LOUDNESS_EQUALISED_SUM]["loudness_diff_lu"] == pytest.approx(0.0, abs=0.01)
    # the centred baselines miss the panning the estimate keeps
    assert est["panning_spectrum_error"] < report.systems[SUM_OF_STEMS]["panning_spectrum_error"]
    assert report.notes == []

    assert listed(out) == REPORT_FILES  # no temporary files left
    data = json.loads((out / "metrics.json").read_text())
    assert {"format", "info", "metrics", "systems", "per_item", "notes"} <= set(data)
    assert set(data["systems"]) == {"estimate", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN}
    assert data["systems"]["estimate"]["si_sdr"] == pytest.approx(est["si_sdr"])
    assert data["metrics"]["si_sdr"] == {"label": "SI-SDR", "unit": "dB", "better": "higher"}
    assert data["info"]["kind"] == "pair" and data["info"]["sample_rate"] == SR
    markdown = (out / "report.md").read_text()
    rows = table_rows(markdown)
    assert [r[0] for r in rows] == ["estimate", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    assert "higher is better" in markdown and "lower is better" in markdown
    for name in ("spectrograms.png", "loudness.png", "panning.png"):
        assert_png(out / name)


def test_markdown_bolds_the_best_value_per_column():
    report = EvaluationReport(
        systems={
            "a": {"si_sdr": 10.0, "mrstft": 0.5, "loudness_diff_lu": -2.0},
            "b": {"si_sdr": 5.0, "mrstft": 0.25, "loudness_diff_lu": 1.0},
        }
    )
    rows = table_rows(report.to_markdown())
    assert rows == [["a", "**10.00**", "0.500", "-2.00"], ["b", "5.00", "**0.250**", "**1.00**"]]
    header = report.to_markdown().splitlines()[0]
    assert header == "| system | SI-SDR (dB) | MR-STFT | loudness diff. (LU) |"


def test_identical_estimate_scores_perfectly(song):
    report = evaluate_pair(song["reference"], song["reference"], plots=False)
    metrics = report.systems["estimate"]
    assert metrics["si_sdr"] == 120.0 and metrics["mrstft"] == 0.0 and metrics["mape_mean"] == 0.0
    assert list(report.systems) == ["estimate"]


def test_arrays_work_with_a_sample_rate(song):
    report = evaluate_pair(song["estimate_audio"], song["reference_audio"], stems=np.stack(song["stem_arrays"]), sample_rate=SR, name="mine")
    assert list(report.systems) == ["mine", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    with pytest.raises(AutomixError, match="sample_rate"):
        evaluate_pair(song["estimate_audio"], song["reference_audio"])


def test_rule_based_console_baseline(song, capsys):
    from daw_bridge.rules import mix_audio_with_rules

    names = ["Kick", "Snare", "OH L", "OH R"]
    stems = np.stack(song["stem_arrays"])
    report = evaluate_pair(song["estimate_audio"], song["reference_audio"], stems=stems, sample_rate=SR,
                           stem_names=names, plots=False)
    ref_lufs = measure_loudness(song["reference_audio"], SR)
    expected = mix_audio_with_rules(stems, names, SR, target_lufs=ref_lufs)
    assert np.array_equal(report.signals[RULE_BASED_CONSOLE], expected)
    rules_row = report.systems[RULE_BASED_CONSOLE]
    assert rules_row == pytest.approx(M.compare(expected, song["reference_audio"], SR))
    assert rules_row["loudness_diff_lu"] == pytest.approx(0.0, abs=0.3)  # at the reference's loudness
    # it pans the overhead pair apart (OH L to the left), where the sum is centred
    side, mid = expected[0] - expected[1], expected[0] + expected[1]
    assert np.sum(side**2) > 0.01 * np.sum(mid**2)
    assert np.dot(side, song["stem_arrays"][2]) > 0
    without = evaluate_pair(song["estimate"], song["reference"], stems=song["stems"], plots=False, rules=False)
    assert list(without.systems) == ["estimate", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, ORACLE_GAIN_PAN]
    with pytest.raises(AutomixError, match="3 stem names for 4 stems"):
        evaluate_pair(song["estimate_audio"], song["reference_audio"], stems=stems, sample_rate=SR, stem_names=names[:3])
    assert main(["evaluate", "--estimate", str(song["estimate"]), "--reference", str(song["reference"]),
                 "--stems", str(song["stems"]), "--no-rules"]) == 0
    assert [r[0] for r in table_rows(capsys.readouterr().out)] == ["estimate", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, ORACLE_GAIN_PAN]


def test_fixes_are_noted(song, tmp_path, caplog):
    ref = song["reference_audio"]
    mono_44k = ref.mean(axis=0)[: N - SR // 2]  # mono, 0.5 s shorter
    from daw_bridge.audio import resample

    est = write(tmp_path / "est48k.wav", resample(mono_44k, SR, 48000), 48000)
    stereo_stem = tmp_path / "stereo-stem.wav"
    write(stereo_stem, np.stack([song["stem_arrays"][0]] * 2))
    with caplog.at_level(logging.WARNING, logger="automix"):
        report = evaluate_pair(est, song["reference"], stems=[stereo_stem, song["stems"] / "02 stem.wav"], plots=False)
    notes = " | ".join(report.notes)
    assert "48000 Hz; resampled" in notes
    assert "mono; used on both channels" in notes
    assert "lengths differ by 0.500 s" in notes
    assert "stereo-stem.wav has 2 channels; downmixed" in notes
    assert "cut or zero-padded" in notes
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == report.notes
    assert report.info["seconds"] == pytest.approx(SECONDS - 0.5, abs=1e-3)


def test_bad_input_is_refused_with_one_line(song, tmp_path):
    ref = song["reference"]
    with pytest.raises(AudioError, match="does not exist"):
        evaluate_pair(tmp_path / "missing.wav", ref)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF not really a wave file" * 10)
    with pytest.raises(AudioError, match="cannot be read"):
        evaluate_pair(corrupt, ref)
    nan = song["estimate_audio"].copy()
    nan[0, 1000] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        evaluate_pair(write(tmp_path / "nan.wav", nan), ref)
    with pytest.raises(AudioError, match="3 channels"):
        evaluate_pair(write(tmp_path / "three.wav", np.zeros((3, N)) + 0.1), ref)
    with pytest.raises(AudioError, match="silent"):
        evaluate_pair(song["estimate"], write(tmp_path / "silent.wav", np.zeros((2, N))))
    long = np.concatenate([song["estimate_audio"], song["estimate_audio"]], axis=1)
    with pytest.raises(AutomixError, match="more than 1 s"):
        evaluate_pair(write(tmp_path / "long.wav", long), ref)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AudioError, match="no audio files"):
        evaluate_pair(song["estimate"], ref, stems=empty)


def test_silent_estimate_is_scored_not_refused(song, tmp_path):
    report = evaluate_pair(write(tmp_path / "silent.wav", np.zeros((2, N))), song["reference"], plots=False)
    assert report.systems["estimate"]["si_sdr"] == -120.0
    assert any("silent" in note for note in report.notes)


def listed(folder) -> list[str]:
    """The files of ``folder`` a person sees (not automix's hidden record of what it wrote)."""
    return sorted(p for p in os.listdir(folder) if not p.startswith("."))


def test_out_folder_rules(song, tmp_path):
    out = tmp_path / "eval"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="exists; pass --force"):
        evaluate_pair(song["estimate"], song["reference"], out=out)
    with pytest.raises(OutputError, match="was not written by automix"):  # the user's folder, --force or not
        evaluate_pair(song["estimate"], song["reference"], out=out, overwrite=True)
    assert os.listdir(out) == ["keep.txt"]
    out = tmp_path / "ours"
    report = evaluate_pair(song["estimate"], song["reference"], out=out, plots=False)
    assert listed(out) == NO_PLOT_FILES
    (out / "keep.txt").write_text("mine")
    report.save(out, overwrite=True)  # again, with plots: replaces its own files, keeps the user's
    assert listed(out) == sorted(["keep.txt", *REPORT_FILES])
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        evaluate_pair(song["estimate"], song["reference"], out=a_file)


# --------------------------------------------------------------------------------------------
# Plots


def test_plots_write_valid_pngs_atomically(song, tmp_path):
    from automix.eval.plots import plot_loudness, plot_panning, plot_spectrograms

    signals = {"reference": song["reference_audio"], "estimate": song["estimate_audio"], "mono": song["stem_arrays"][0]}
    for plot, name in ((plot_spectrograms, "s.png"), (plot_loudness, "l.png"), (plot_panning, "p.png")):
        path = plot(signals, SR, tmp_path / name)
        assert path == (tmp_path / name).absolute()
        assert_png(path)
        with pytest.raises(OutputError, match="exists"):
            plot(signals, SR, tmp_path / name)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_importing_automix_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, automix, automix.eval.evaluate, automix.eval.metrics\nassert 'matplotlib' not in sys.modules\nprint('ok')"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# --------------------------------------------------------------------------------------------
# evaluate_split


@pytest.fixture(scope="module")
def enst(tmp_path_factory) -> dict:
    """A two-take ENST-layout tree and a tiny untrained Mix-Wave-U-Net checkpoint."""
    from tests.test_enst import write_take

    from automix.models.mixer import mix_wave_unet

    base = tmp_path_factory.mktemp("enst")
    root = base / "ENST"
    write_take(root, 1, "010_phrase_rock_simple_slow_sticks", seconds=SECONDS, seed=1)
    write_take(root, 2, "012_phrase_funk_complex_fast_sticks", seconds=SECONDS, seed=2)
    ckpt = mix_wave_unet(levels=3, growth=4, base_filters=4, name="tiny-mixer").save(base / "tiny")
    other = mix_wave_unet(["bass", "drums"], levels=3, growth=4, base_filters=4, name="two-slots").save(base / "two")
    return {"root": root, "ckpt": ckpt, "other": other, "takes": ["drummer_1/010_phrase_rock_simple_slow_sticks", "drummer_2/012_phrase_funk_complex_fast_sticks"]}


def test_evaluate_split_scores_every_take(enst, tmp_path):
    seen = []
    out = tmp_path / "eval"
    report = evaluate_split(enst["ckpt"], enst["root"], subset=None, out=out, progress=seen.append)
    assert seen == enst["takes"] and list(report.per_item) == enst["takes"]
    assert list(report.systems) == ["tiny-mixer", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    for system, metrics in report.systems.items():
        for key, value in metrics.items():
            per_take = [report.per_item[t][system][key] for t in enst["takes"]]
            assert value == pytest.approx(np.mean(per_take)), (system, key)
    # the baselines on the take's normalised stems (checked against the loader by hand)
    from automix.data.enst import EnstDrums

    ds = EnstDrums(enst["root"], input_length=1000, output_length=1000)
    take = ds.load_take(enst["takes"][0])
    expected = M.compare_systems({"sum": sum_of_stems(take["stems"])}, take["mix"], SR)["sum"]  # level-matched
    assert report.per_item[enst["takes"][0]][SUM_OF_STEMS] == pytest.approx(expected)
    assert listed(out) == REPORT_FILES
    data = json.loads((out / "metrics.json").read_text())
    assert data["info"]["kind"] == "split" and data["info"]["takes"] == enst["takes"]
    assert set(data["per_item"]) == set(enst["takes"])
    markdown = (out / "report.md").read_text()
    assert "mean over 2 takes" in markdown and f"### {enst['takes'][1]}" in markdown
    assert [r[0] for r in table_rows(markdown)] == ["tiny-mixer", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    assert_png(out / "spectrograms.png")


def test_evaluate_split_with_a_split_file_limit_and_plot_take(enst, tmp_path):
    from automix.data.enst import make_enst_split

    split = make_enst_split(enst["root"], fractions={"train": 0.5, "test": 0.5}, seed=0)
    path = split.save(tmp_path / "split.json")
    report = evaluate_split(enst["ckpt"], enst["root"], split=path, subset="test", plots=False, progress=False)
    assert list(report.per_item) == split.items("test")
    report = evaluate_split(enst["ckpt"], enst["root"], subset=None, limit=1, target="dry", progress=False, plot_take=enst["takes"][0])
    assert list(report.per_item) == enst["takes"][:1] and report.info["target"] == "dry"
    assert report.info["model_loudness_lufs"] is None  # auto, and the card has no output_lufs: its own level
    levelled = evaluate_split(enst["ckpt"], enst["root"], subset=None, limit=1, target="dry", progress=False,
                              plots=False, rules=False, loudness=-40.0)
    name = report.info["model"]
    assert levelled.info["model_loudness_lufs"] == -40.0
    from daw_bridge.loudness import LoudnessMeter

    meter = LoudnessMeter(levelled.sample_rate, 2)
    meter.add(levelled.signals[name])
    assert abs(meter.integrated() - (-40.0)) < 1e-3  # the model's mix as scored
    unlevelled = report.signals[name]
    assert np.allclose(levelled.signals[name] / np.abs(levelled.signals[name]).max(),
                       unlevelled / np.abs(unlevelled).max(), atol=1e-5)  # one gain, nothing else
    with pytest.raises(AutomixError, match="plot-take"):
        evaluate_split(enst["ckpt"], enst["root"], subset=None, limit=1, progress=False, plot_take=enst["takes"][1])
    # heard from the other side: the model's mix mirrored, as automix mix --perspective gives it
    from automix.models.checkpoint import load_model

    sided = load_model(enst["ckpt"])
    sided.card.training.perspective = "drummer"
    sided_path = sided.save(tmp_path / "sided")
    front = evaluate_split(sided_path, enst["root"], subset=None, limit=1, target="dry", progress=False,
                           plots=False, rules=False, perspective="audience")
    assert front.info["model_perspective"] == "audience" and report.info["model_perspective"] == ""
    np.testing.assert_allclose(front.signals[name], unlevelled[::-1], atol=1e-6)
    with pytest.raises(AutomixError, match="does not record which side"):
        evaluate_split(enst["ckpt"], enst["root"], subset=None, limit=1, progress=False, perspective="audience")


def test_evaluate_split_refuses_a_model_for_other_slots(enst):
    with pytest.raises(AutomixError, match="mixes bass, drums"):
        evaluate_split(enst["other"], enst["root"], subset=None, progress=False)


# --------------------------------------------------------------------------------------------
# CLI


def test_cli_pair_prints_the_table_and_writes_files(song, tmp_path, capsys):
    out = tmp_path / "eval"
    rc, stdout, err = cli(capsys, "evaluate", "--estimate", song["estimate"], "--reference", song["reference"], "--stems", song["stems"], "--out", out)
    assert rc == 0, err
    assert [r[0] for r in table_rows(stdout)] == ["estimate", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    assert listed(out) == REPORT_FILES
    # existing --out without --force: exit 1, one error line, nothing touched
    before = (out / "metrics.json").read_bytes()
    rc, stdout, err = cli(capsys, "evaluate", "--estimate", song["estimate"], "--reference", song["reference"], "--out", out)
    assert rc == 1 and stdout == ""
    one_error(err, "exists", "--force")
    assert (out / "metrics.json").read_bytes() == before
    rc, stdout, err = cli(capsys, "evaluate", "--estimate", song["estimate"], "--reference", song["reference"], "--out", out, "--force", "--no-plots", "-q")
    assert rc == 0 and stdout == "" and err == ""


def test_cli_missing_file_is_one_error_line(song, tmp_path, capsys):
    rc, stdout, err = cli(capsys, "evaluate", "--estimate", tmp_path / "nope.wav", "--reference", song["reference"])
    assert rc == 1 and stdout == ""
    one_error(err, "nope.wav", "does not exist")


@pytest.mark.parametrize(
    "argv, needle",
    [
        ([], "give --estimate MIX --reference MIX, or --model"),
        (["--estimate", "a.wav"], "go together"),
        (["--estimate", "a.wav", "--reference", "b.wav", "--data", "d"], "not both"),
        (["--estimate", "a.wav", "--reference", "b.wav", "--limit", "3"], "--limit only apply"),
        (["--model", "drums"], "needs --data"),
        (["--data", "d", "--stems", "s/"], "--stems only applies"),
        (["--data", "d", "--limit", "0"], "must be 1 or more"),
        (["--data", "d", "--target", "moist"], "invalid choice"),
    ],
)
def test_cli_usage_errors_exit_2(capsys, argv, needle):
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", *argv])
    assert exc.value.code == 2
    line = one_error(capsys.readouterr().err, needle)
    assert "automix evaluate --help" in line


def test_cli_split_mode(enst, tmp_path, capsys):
    out = tmp_path / "eval"
    rc, stdout, err = cli(capsys, "evaluate", "--model", enst["ckpt"], "--data", enst["root"], "--subset", "all", "--limit", "1", "--out", out, "--no-plots")
    assert rc == 0, err
    assert [r[0] for r in table_rows(stdout)] == ["tiny-mixer", SUM_OF_STEMS, LOUDNESS_EQUALISED_SUM, RULE_BASED_CONSOLE, RECORDED_BALANCE, ORACLE_GAIN_PAN]
    assert "mean over 1 take" in stdout
    assert listed(out) == NO_PLOT_FILES
    rc, stdout, err = cli(capsys, "evaluate", "--model", tmp_path / "missing.safetensors", "--data", enst["root"])
    assert rc == 1
    one_error(err)


def test_oracle_gain_pan_fit_recovers_a_gain_and_pan_mix():
    from automix.eval.baselines import oracle_gain_pan_mix, oracle_gains
    from daw_bridge.panlaw import db_to_gain, pan_gains

    rng = np.random.default_rng(7)
    stems = rng.standard_normal((5, SR)).astype(np.float32) * np.array([[0.3], [0.1], [0.05], [0.2], [0.01]], np.float32)
    settings = [(-3.0, -0.5), (2.0, 0.0), (0.0, 1.0), (-6.0, 0.3), (6.0, -1.0)]
    gains = np.array([[db_to_gain(g) * p for p in pan_gains(pan)] for g, pan in settings])
    reference = (gains.T @ stems.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(oracle_gains(stems, reference), gains, atol=1e-4)
    assert M.compare(oracle_gain_pan_mix(stems, reference), reference, SR)["si_sdr"] > 60.0
    # a polarity-flipped stem cannot be matched by a gain/pan console: its gain stays at zero
    flipped = reference - 2 * np.outer(gains[1], stems[1])
    assert np.all(oracle_gains(stems, flipped) >= 0.0)


def test_recorded_balance_keeps_the_stems_levels_and_pans_by_role(song):
    from automix.eval.baselines import recorded_balance_mix

    stems, names = np.stack(song["stem_arrays"]), ["Kick", "Snare", "OH L", "OH R"]
    mixed = recorded_balance_mix(stems, names, SR, -20.0)
    assert measure_loudness(mixed, SR) == pytest.approx(-20.0, abs=0.1)
    # every stem enters with one common gain: the mix is a fixed combination of the raw stems
    mid = (mixed[0] + mixed[1]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(stems.T.astype(np.float64), mid, rcond=None)
    assert np.ptp(coef / coef.max()) < 0.2  # one gain; the overheads' pans (+-0.7) lower their mid by 1.4 dB
    side = (mixed[0] - mixed[1]).astype(np.float64)
    coef_side, *_ = np.linalg.lstsq(stems.T.astype(np.float64), side, rcond=None)
    assert coef_side[2] > 0.4 * coef.max() and coef_side[3] < -0.4 * coef.max()  # OH L left, OH R right
    assert abs(coef_side[0]) < 1e-6 and abs(coef_side[1]) < 1e-6  # kick and snare in the centre
