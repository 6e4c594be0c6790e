"""End-to-end tests of the DAW-side commands: ``automix render``, ``session``, ``presets``,
``plugins`` and ``automix mix --session``, driven through ``automix.cli.main`` (and one real
process), over short synthetic drum stems.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

import daw_bridge
from daw_bridge.loudness import measure_loudness
from daw_bridge.stems import DRUM_SLOTS
from tests.support import SR, assert_one_error, cli, listing, make_stems, read_mix, run_process


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture()
def stems(tmp_path) -> Path:
    folder = tmp_path / "stems"
    make_stems(folder)
    return folder


@pytest.fixture()
def plan(tmp_path, stems, capsys) -> Path:
    out = tmp_path / "plan.json"
    rc, stdout, err = cli(capsys, "session", "import", stems, "-o", out, "--target-lufs", "-18")
    assert rc == 0, err
    return out


def test_session_import_show_and_refusals(tmp_path, stems, plan, capsys):
    data = json.loads(plan.read_text())
    assert len(data["tracks"]) == 8 and data["sample_rate"] == SR and data["target_lufs"] == -18.0
    roles = {Path(t["file"]).name: t["role"] for t in data["tracks"]}
    assert roles["01 Kick In.wav"] == "kick" and roles["OH L.wav"] == "overhead_L" and roles["Floor Tom.wav"] == "tom_3"
    pans = {t["role"]: t["pan"] for t in data["tracks"]}
    assert pans["overhead_L"] == -0.7 and pans["overhead_R"] == 0.7 and pans["kick"] == 0.0

    rc, out, err = cli(capsys, "session", "show", plan)
    assert rc == 0 and "8 tracks at 44100 Hz" in out and "target -18 LUFS" in out
    assert sum(1 for line in out.splitlines() if ".wav" not in line and "overhead_" in line) == 2
    rc, out, _ = cli(capsys, "session", "show", plan, "--json")
    assert rc == 0 and json.loads(out)["tracks"][0]["name"] == data["tracks"][0]["name"]

    # an existing plan is refused (one line) and left alone; --force replaces it
    before = plan.read_bytes()
    rc, _, err = cli(capsys, "session", "import", stems, "-o", plan)
    assert rc == 1 and plan.read_bytes() == before
    assert_one_error(err, "exists")
    rc, _, err = cli(capsys, "session", "import", stems, "-o", plan, "--force", "--presets", "--map", _roles(tmp_path))
    assert rc == 0, err
    data = json.loads(plan.read_text())
    by_name = {t["name"]: t for t in data["tracks"]}
    assert by_name["HH"]["role"] is None and by_name["HH"]["plugins"] == []  # mapped to no role: no preset
    assert [p["name"] for p in by_name["02 Snare"]["plugins"]][0] == "HighpassFilter"
    assert [p["name"] for p in data["master"]][-2:] == ["Limiter", "Gain"]  # master-clean

    rc, _, err = cli(capsys, "session", "import", tmp_path / "nothing", "-o", tmp_path / "p2.json")
    assert rc == 1 and not (tmp_path / "p2.json").exists()
    assert_one_error(err, "does not exist")
    rc, _, err = cli(capsys, "session", "show", tmp_path / "notes.txt")
    assert rc == 1
    assert_one_error(err)


def _roles(tmp_path: Path) -> Path:
    path = tmp_path / "roles.json"
    path.write_text(json.dumps({"HH.wav": None}))
    return path


def test_render_a_plan_to_its_loudness_target(tmp_path, plan, capsys):
    out = tmp_path / "mix.wav"
    rc, stdout, err = cli(capsys, "render", plan, "-o", out, "-q")
    assert rc == 0 and stdout == "" and err == ""
    mix = read_mix(out)
    assert mix.shape[0] == 2 and mix.shape[1] >= int(1.5 * SR)
    assert abs(measure_loudness(mix, SR) - (-18.0)) < 0.15
    # the overheads are panned: left and right differ
    assert np.abs(mix[0] - mix[1]).max() > 1e-3

    # --no-normalize leaves the levels: equal to the plain pan-law sum of the stems
    raw = tmp_path / "raw.wav"
    rc, stdout, err = cli(capsys, "render", plan, "-o", raw, "--no-normalize", "--tail", "0", "--bit-depth", "32f")
    assert rc == 0, err
    session = daw_bridge.load_session(plan)
    expected = np.zeros((2, int(1.5 * SR)), np.float64)
    for track in session.tracks:
        x, _ = sf.read(str(track.file), dtype="float64")
        left, right = daw_bridge.pan_gains(track.pan)
        expected[0, : len(x)] += left * x
        expected[1, : len(x)] += right * x
    got = read_mix(raw)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-6)
    assert "wrote" in stdout

    # an existing output is refused, --force replaces it
    rc, _, err = cli(capsys, "render", plan, "-o", raw)
    assert rc == 1
    assert_one_error(err, "exists")


def test_render_stems_with_presets_and_a_real_process(tmp_path, stems):
    out = tmp_path / "preset-mix.flac"
    done = run_process("render", stems, "-o", out, "--presets", "--target-lufs", "-16", "--true-peak", "-1")
    assert done.returncode == 0, done.stderr
    mix = read_mix(out)
    assert mix.shape[0] == 2
    assert abs(measure_loudness(mix, SR) - (-16.0)) < 0.2 or "ceiling" in done.stderr
    assert 20 * np.log10(np.abs(mix).max()) <= -1.0 + 0.05  # sample peak under the ceiling


def test_render_lists_every_missing_file_and_writes_nothing(tmp_path, plan, capsys):
    data = json.loads(plan.read_text())
    data["tracks"][0]["file"] = str(tmp_path / "gone-1.wav")
    data["tracks"][3]["file"] = str(tmp_path / "gone-2.wav")
    data["tracks"][5]["plugins"] = [{"kind": "vst3", "path": str(tmp_path / "NoSuch.vst3")}]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    before = listing(tmp_path)
    rc, _, err = cli(capsys, "render", bad, "-o", tmp_path / "mix.wav")
    assert rc == 1
    line = assert_one_error(err)
    assert "gone-1.wav" in line and "gone-2.wav" in line and "NoSuch.vst3" in line
    assert listing(tmp_path) == before


@pytest.mark.parametrize("fmt", ["ardour", "reaper", "midi"])
def test_session_write_formats(tmp_path, stems, plan, fmt, capsys):
    before = digest(stems)
    mix = tmp_path / "mix.wav"
    assert cli(capsys, "render", plan, "-o", mix, "-q")[0] == 0
    out = tmp_path / f"out-{fmt}"
    args = ["session", "write", plan, "--format", fmt, "-o", out] + (["--mix", mix] if fmt != "midi" else [])
    rc, stdout, err = cli(capsys, *args)
    assert rc == 0, err
    assert f"wrote {fmt} session" in stdout
    main_file = out / ("stems" + {"ardour": ".ardour", "reaper": ".rpp", "midi": ".mid"}[fmt])  # named after the session
    assert main_file.is_file() and str(main_file) in stdout
    if fmt == "midi":
        midi = mido.MidiFile(str(main_file))
        assert midi.type == 1 and len(midi.tracks) == 1 + 8
        back = daw_bridge.read_midi_automation(main_file)
        assert sorted(back) == sorted(t.name for t in daw_bridge.load_session(plan).tracks)
    else:
        back = daw_bridge.open_session(main_file)
        assert [t.name for t in back.tracks] == [t.name for t in daw_bridge.load_session(plan).tracks]
        pans = {t.role: t.pan for t in back.tracks}
        assert pans["overhead_L"] == pytest.approx(-0.7, abs=1e-6)
    # refused when it exists (nothing changed), replaced with --force; the stems never change
    stamp = main_file.stat().st_mtime_ns
    rc, _, err = cli(capsys, *args)
    assert rc == 1 and main_file.stat().st_mtime_ns == stamp
    assert_one_error(err, "exists", "--force")
    assert cli(capsys, *args, "--force")[0] == 0
    assert digest(stems) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_midi_refuses_a_mix(tmp_path, plan, capsys):
    rc, _, err = cli(capsys, "session", "write", plan, "--format", "midi", "-o", tmp_path / "m", "--mix", plan)
    assert rc == 1 and not (tmp_path / "m").exists()
    assert_one_error(err, "MIDI")


def test_presets_and_plugins_commands(vst3_plugins, capsys):
    rc, out, _ = cli(capsys, "presets", "list")
    names = [line.split()[0] for line in out.splitlines()]
    for needed in ("kick", "snare", "hihat", "toms", "overheads", "room", "bass", "vocal", "guitar", "keys", "master-clean"):
        assert needed in names
    rc, out, _ = cli(capsys, "presets", "list", "--kind", "master")
    assert rc == 0 and all(line.split()[1] == "master" for line in out.splitlines())
    rc, out, _ = cli(capsys, "presets", "show", "snare", "--json")
    assert rc == 0 and json.loads(out)["kind"] == "track"
    rc, _, err = cli(capsys, "presets", "show", "no-such-preset")
    assert rc == 1
    assert_one_error(err, "kick")  # lists the known ones

    rc, out, _ = cli(capsys, "plugins", "show", vst3_plugins["AutomixGain"])
    assert rc == 0 and "-60 .. 24 dB" in out
    rc, out, _ = cli(capsys, "plugins", "show", "Compressor", "--json")
    assert rc == 0 and {p["name"] for p in json.loads(out)["parameters"]} >= {"threshold_db", "ratio"}
    rc, _, err = cli(capsys, "plugins", "show", "/etc/hostname")
    assert rc == 1
    assert_one_error(err)


def test_mix_writes_a_session_beside_the_mix(tmp_path, stems, capsys):
    out = tmp_path / "mix.wav"
    session_dir = tmp_path / "mix-session"
    rc, stdout, err = cli(capsys, "mix", stems, "-o", out, "--session", session_dir)
    assert rc == 0, err
    assert out.is_file() and (session_dir / "mix.ardour").is_file()
    back = daw_bridge.open_session(session_dir)
    assert sorted(t.role for t in back.tracks) == sorted(DRUM_SLOTS)
    text = (session_dir / "mix.ardour").read_text()
    assert "AI mix" in text
    # an existing session folder stops the command before mixing
    out2 = tmp_path / "mix2.wav"
    rc, _, err = cli(capsys, "mix", stems, "-o", out2, "--session", session_dir)
    assert rc == 1 and not out2.exists()
    assert_one_error(err, "--force")


def test_usage_errors_exit_2(tmp_path, plan, capsys):
    with pytest.raises(SystemExit) as exc:
        cli(capsys, "session", "write", plan, "-o", tmp_path / "x")  # --format missing
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli(capsys, "render", plan, "-o", tmp_path / "m.wav", "--tail", "-1")
    assert exc.value.code == 2
    assert "error: argument --tail" in capsys.readouterr().err


def test_render_a_failing_plugin_exits_1_with_the_mix_written(tmp_path, vst3_plugins, capsys):
    from tests.test_daw_render import faulty_session

    plan = faulty_session(tmp_path, vst3_plugins).save(tmp_path / "faulty.json")
    out = tmp_path / "mix.wav"
    rc, _, err = cli(capsys, "render", plan, "-o", out)
    assert rc == 1 and out.is_file()  # the rest of the render is not lost
    lines = [line for line in err.splitlines() if line.startswith(("warning:", "error:"))]
    assert lines[0] == (
        "warning: track 'snare' plugin 2 (AutomixFaulty.vst3) produced NaN at 0.50 s; rendered track 'snare' without it"
    )
    assert lines[-1].startswith("error: 1 plugin failed while processing") and "--strict" in lines[-1]
    strict = tmp_path / "strict.wav"
    rc, _, err = cli(capsys, "render", plan, "-o", strict, "--strict")
    assert rc == 1 and not strict.exists()
    assert "nothing was written (strict)" in err


def test_mix_with_the_rule_based_console(tmp_path, stems, capsys):
    out = tmp_path / "rules.wav"
    session_dir = tmp_path / "rules-session"
    rc, stdout, err = cli(capsys, "mix", stems, "-o", out, "--model", "rules", "--session", session_dir, "--session-format", "reaper")
    assert rc == 0, err
    assert "rule-based console" in stdout
    mix = read_mix(out)
    assert abs(measure_loudness(mix, SR) - (-16.0)) < 0.2
    back = daw_bridge.open_session(session_dir / "rules.rpp")
    pans = {t.role: t.pan for t in back.tracks}
    assert pans["overhead_L"] == pytest.approx(-0.7) and pans["overhead_R"] == pytest.approx(0.7)
    assert pans["tom_1"] < pans["tom_2"] < pans["tom_3"]  # the drummer's seat: the floor tom right
    assert len({round(t.gain_db, 3) for t in back.tracks}) > 3  # levels were set, not left at 0 dB
    rc, _, err = cli(capsys, "mix", stems, "-o", tmp_path / "x.wav", "--model", "rules", "--map", "kick=HH.wav")
    assert rc == 1
    assert_one_error(err, "--model rules")
    # the audience's side: every pan mirrored, in the mix and in the session
    seated, seated_dir = tmp_path / "seated.wav", tmp_path / "seated-session"
    rc, _, err = cli(capsys, "mix", stems, "-o", seated, "--model", "rules", "--perspective", "audience",
                     "--session", seated_dir, "--session-format", "reaper", "-q")
    assert rc == 0, err
    mirrored = {t.role: t.pan for t in daw_bridge.open_session(seated_dir / "seated.rpp").tracks}
    assert mirrored == pytest.approx({role: -pan for role, pan in pans.items()})
    assert np.abs(read_mix(seated) - mix[::-1]).max() < 1e-3


def test_fit_recovers_gains_and_pans_from_a_target_mix(tmp_path, stems, capsys):
    plan = daw_bridge.import_stems(stems)
    gains = [0.0, -2.0, -4.0, -6.0, -3.0, -3.0, -5.0, -1.0]
    pans = [0.0, 0.0, -0.5, 0.3, -0.7, 0.7, 0.4, 0.1]
    for track, gain, pan in zip(plan.tracks, gains, pans):
        track.gain_db, track.pan = gain, pan
    target = tmp_path / "target.wav"
    daw_bridge.render_session(plan, target, normalize=False, tail_s=0, subtype="FLOAT")
    out, rendered = tmp_path / "fit.json", tmp_path / "fitted.wav"
    rc, stdout, err = cli(capsys, "fit", stems, "--target", target, "-o", out, "--fit", "gain,pan", "--steps", "200", "--render", rendered, "-q")
    assert rc == 0, err
    fitted = daw_bridge.load_session(out)
    for track, gain, pan in zip(fitted.tracks, gains, pans):
        assert abs(track.gain_db - gain) < 0.5 and abs(track.pan - pan) < 0.05, track
    assert read_mix(rendered).shape == read_mix(target).shape
    # an existing plan stops the command before fitting
    rc, _, err = cli(capsys, "fit", stems, "--target", target, "-o", out)
    assert rc == 1
    assert_one_error(err, "exists")
    rc, _, err = cli(capsys, "fit", stems, "--target", target, "-o", tmp_path / "p.json", "--fit", "gain,volume")
    assert rc == 1
    assert_one_error(err, "volume")
