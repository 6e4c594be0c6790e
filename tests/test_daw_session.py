"""Tests for daw_bridge.session (the DAW-neutral session model) and daw_bridge.importer (stem folders)."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge.errors import AutomixError, SessionError
from daw_bridge.importer import DEFAULT_PANS, import_session_file, import_stems
from daw_bridge.panlaw import db_to_gain, pan_gains
from daw_bridge.session import MixPlan, PluginSpec, Session, Track, load_session

ROOT = Path(__file__).resolve().parents[1]

HAVE_YAML = importlib.util.find_spec("yaml") is not None


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message


def full_session() -> Session:
    return Session(
        name="song",
        sample_rate=48000,
        tracks=[
            Track(
                name="Kick",
                file=Path("stems/kick.wav"),
                role="kick",
                gain_db=-2.5,
                pan=0.0,
                plugins=[
                    PluginSpec(kind="builtin", name="HighpassFilter", params={"cutoff_frequency_hz": 30.0}),
                    PluginSpec(kind="builtin", name="Compressor", params={"threshold_db": -18, "ratio": 4.0}),
                ],
            ),
            Track(
                name="OH L",
                file=Path("stems/oh.wav"),
                channel=0,
                role="overhead_L",
                offset_s=0.25,
                pan=-0.7,
                mute=True,
                plugins=[
                    PluginSpec(
                        kind="vst3",
                        path=Path("plugins/Comp.vst3"),
                        params={"Threshold": -12.0, "Auto": True, "Mode": "Opto"},
                        state="AAEC",
                        bypass=True,
                    )
                ],
            ),
        ],
        master=[PluginSpec(kind="builtin", name="Limiter", params={"threshold_db": -1.0})],
        target_lufs=-14.0,
        true_peak_db=-1.0,
        notes=["made in a test"],
    )


# --------------------------------------------------------------------------- pan law and gains


def test_pan_law_constant_power_numbers():
    centre = 10 ** (-3.0103 / 20)
    left, right = pan_gains(0.0)
    assert left == pytest.approx(centre, abs=1e-5) and right == pytest.approx(centre, abs=1e-5)
    assert pan_gains(-1.0) == (1.0, 0.0)
    assert pan_gains(1.0) == (0.0, 1.0)
    for pan in np.linspace(-1, 1, 21):
        left, right = pan_gains(float(pan))
        assert left**2 + right**2 == pytest.approx(1.0)  # constant power everywhere
    left, right = pan_gains(-0.7)
    assert left > right and left == pytest.approx(math.cos(0.3 * math.pi / 4))


def test_pan_law_other_laws_and_bad_values():
    left, right = pan_gains(0.0, law_db=-6.0)
    assert 20 * math.log10(left) == pytest.approx(-6.0206, abs=1e-3) and left == pytest.approx(right)
    assert pan_gains(-1.0, law_db=-4.5) == (1.0, 0.0)
    with pytest.raises(ValueError):
        pan_gains(1.5)
    with pytest.raises(ValueError):
        pan_gains(0.0, law_db=0.0)


def test_db_to_gain():
    assert db_to_gain(0.0) == 1.0
    assert db_to_gain(-6.0) == pytest.approx(0.501187, abs=1e-6)
    assert db_to_gain(20.0) == pytest.approx(10.0)
    assert db_to_gain(-math.inf) == 0.0


# --------------------------------------------------------------------------- model and files


def test_json_round_trip(tmp_path):
    session = full_session()
    path = session.save(tmp_path / "song.json")
    assert path == tmp_path / "song.json" and session.source == path
    data = json.loads(path.read_text())
    assert data["format"] == 1 and data["tracks"][0]["plugins"][1]["params"] == {"threshold_db": -18, "ratio": 4.0}
    loaded = load_session(path)
    assert loaded == session
    assert isinstance(loaded.tracks[0].plugins[1].params["threshold_db"], int)
    assert loaded.tracks[1].plugins[0].params["Auto"] is True
    assert MixPlan.load(path) == session and import_session_file(path) == session
    assert full_session() == loaded  # built in memory (no source file) equals the loaded one
    assert full_session() != loaded.model_copy(update={"name": "other"})
    assert not list(tmp_path.glob(".*part*"))  # no temporary file left behind


def test_save_refuses_overwrite_unless_asked(tmp_path):
    session = full_session()
    path = session.save(tmp_path / "song.json")
    before = path.read_text()
    with pytest.raises(AutomixError, match="exists"):
        session.model_copy(update={"name": "other"}).save(path)
    assert path.read_text() == before
    session.model_copy(update={"name": "other"}).save(path, overwrite=True)
    assert load_session(path).name == "other"
    with pytest.raises(SessionError, match=r"\.json, \.yaml or \.yml"):
        session.save(tmp_path / "song.txt")


@pytest.mark.skipif(not HAVE_YAML, reason="PyYAML not installed")
def test_yaml_round_trip(tmp_path):
    session = full_session()
    for name in ("song.yaml", "song.yml"):
        path = session.save(tmp_path / name)
        assert "tracks:" in path.read_text()
        assert load_session(path) == session


def test_yaml_without_pyyaml_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` fail
    with pytest.raises(SessionError, match="PyYAML") as info:
        full_session().save(tmp_path / "song.yaml")
    assert "pip install pyyaml" in str(info.value) and ".json" in str(info.value)
    assert not (tmp_path / "song.yaml").exists()
    (tmp_path / "other.yaml").write_text("format: 1\n")
    with pytest.raises(SessionError, match="PyYAML"):
        load_session(tmp_path / "other.yaml")


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def session_data() -> dict:
    return full_session().model_dump(mode="json")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["tracks"][1].update(pan=1.5), "tracks.1.pan: Input should be less than or equal to 1"),
        (
            lambda d: d["tracks"][0].update(gain_db=-200),
            "tracks.0.gain_db: Input should be greater than or equal to -120",
        ),
        (lambda d: d["tracks"][0].update(offset_s=-1), "tracks.0.offset_s: Input should be greater than or equal to 0"),
        (lambda d: d.update(true_peak_db=0.5), "true_peak_db: Input should be less than or equal to 0"),
        (lambda d: d.update(format=2), "format: Input should be 1"),
        (lambda d: d["tracks"][0].update(colour="red"), "tracks.0.colour: unknown key"),
        (lambda d: d.update(tempo=120), "tempo: unknown key"),
        (lambda d: d["tracks"][1].update(name="Kick"), "tracks: track name 'Kick' is used twice"),
        (
            lambda d: d["tracks"][0]["plugins"][0].update(name="Fuzz"),
            "tracks.0.plugins.0: 'Fuzz' is not a pedalboard effect",
        ),
        (lambda d: d["tracks"][0]["plugins"][0].update(name="VST3Plugin"), "tracks.0.plugins.0: 'VST3Plugin' is not"),
        (
            lambda d: d["tracks"][0]["plugins"][1]["params"].update(knee_db=3),
            "tracks.0.plugins.1: Compressor has no parameter 'knee_db'",
        ),
        (
            lambda d: d["tracks"][1]["plugins"][0].update(path="Comp.dll"),
            "tracks.1.plugins.0: path 'Comp.dll' is not a .vst3",
        ),
        (
            lambda d: d["tracks"][1]["plugins"][0].update(state="not base64!"),
            "tracks.1.plugins.0: state is not valid base64",
        ),
        (lambda d: d["master"][0].update(kind="clap"), "master.0.kind: Input should be 'builtin' or 'vst3'"),
        (lambda d: d["tracks"][0].pop("file"), "tracks.0.file: Field required"),
    ],
)
def test_validation_errors_name_the_key(tmp_path, change, expected):
    data = session_data()
    change(data)
    path = write_json(tmp_path / "bad.json", data)
    with pytest.raises(SessionError) as info:
        load_session(path)
    message = str(info.value)
    assert_one_line(message)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_infinite_gain_refused_in_python():
    with pytest.raises(ValueError, match="gain_db"):
        Track(name="x", file=Path("x.wav"), gain_db=-math.inf)
    with pytest.raises(ValueError, match="pan"):
        Track(name="x", file=Path("x.wav"), pan=float("nan"))


def test_bad_session_files(tmp_path):
    with pytest.raises(SessionError, match="does not exist"):
        load_session(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text('{"format": 1,')
    with pytest.raises(SessionError, match=r"not valid JSON \(line 1"):
        load_session(tmp_path / "broken.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(SessionError, match="must hold a mapping"):
        load_session(tmp_path / "list.json")
    with pytest.raises(SessionError, match=r"must end in \.json"):
        load_session(tmp_path / "song.txt")


def test_relative_paths_resolve_against_session_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    (folder / "stems").mkdir(parents=True)
    path = full_session().save(folder / "song.json")
    monkeypatch.chdir(tmp_path)  # the current folder must not matter
    loaded = load_session(path)
    assert loaded.base_dir == folder
    resolved = loaded.resolve_paths()
    assert resolved.tracks[0].file == folder / "stems" / "kick.wav"
    assert resolved.tracks[1].plugins[0].path == folder / "plugins" / "Comp.vst3"
    assert loaded.tracks[0].file == Path("stems/kick.wav")  # the original is untouched
    assert loaded.audio_paths() == [folder / "stems" / "kick.wav", folder / "stems" / "oh.wav"]
    assert loaded.audio_paths(base=tmp_path / "elsewhere")[0] == tmp_path / "elsewhere" / "stems" / "kick.wav"
    absolute = Track(name="a", file=tmp_path / "a.wav")
    assert Session(tracks=[absolute]).resolve_paths(folder).tracks[0].file == tmp_path / "a.wav"


def test_missing_files_lists_every_missing_file_and_plugin(tmp_path):
    folder = tmp_path / "project"
    (folder / "stems").mkdir(parents=True)
    session = full_session()
    session.master.append(PluginSpec(kind="vst3", path=tmp_path / "Master.vst3"))
    session.tracks.append(Track(name="Kick again", file=Path("stems/kick.wav")))
    path = session.save(folder / "song.json")
    loaded = load_session(path)
    assert loaded.missing_files() == [
        folder / "stems" / "kick.wav",  # listed once though two tracks use it
        folder / "stems" / "oh.wav",
        folder / "plugins" / "Comp.vst3",
        tmp_path / "Master.vst3",
    ]
    sf.write(folder / "stems" / "kick.wav", np.zeros(100, dtype=np.float32), 48000)
    (folder / "plugins" / "Comp.vst3").mkdir(parents=True)  # a VST3 bundle is a folder
    assert loaded.missing_files() == [folder / "stems" / "oh.wav", tmp_path / "Master.vst3"]


def test_plugin_spec_rules():
    assert PluginSpec(kind="builtin", name="Reverb", params={"room_size": 0.3}).label() == "Reverb"
    assert PluginSpec(kind="vst3", path=Path("/p/A.VST3"), name="A mono").label() == "A.VST3 (A mono)"
    with pytest.raises(ValueError, match="needs name"):
        PluginSpec(kind="builtin")
    with pytest.raises(ValueError, match="needs path"):
        PluginSpec(kind="vst3")
    with pytest.raises(ValueError, match="path is for vst3"):
        PluginSpec(kind="builtin", name="Gain", path=Path("x.vst3"))
    with pytest.raises(ValueError, match="extra"):
        PluginSpec(kind="builtin", name="Gain", colour="red")


# --------------------------------------------------------------------------- importing stems


def write_wav(path: Path, seconds: float = 1.0, rate: int = 44100, channels: int = 1) -> Path:
    frames = round(seconds * rate)
    t = np.arange(frames) / rate
    tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    sf.write(path, np.stack([tone] * channels, axis=1) if channels > 1 else tone, rate, subtype="PCM_16")
    return path


@pytest.fixture
def stems(tmp_path) -> Path:
    folder = tmp_path / "My Song"
    folder.mkdir()
    for name in ("Vocals.wav", "OH R.wav", "OH L.wav", "Snare Top.wav", "01 Kick In.wav"):
        write_wav(folder / name)
    (folder / "notes.txt").write_text("not audio")
    (folder / ".DS_Store").write_bytes(b"\0\0")
    return folder


def test_import_folder_roles_pans_and_order(stems):
    session = import_stems(stems)
    assert session.name == "My Song" and session.sample_rate == 44100 and session.notes == []
    assert [t.name for t in session.tracks] == ["01 Kick In", "OH L", "OH R", "Snare Top", "Vocals"]
    assert [t.role for t in session.tracks] == ["kick", "overhead_L", "overhead_R", "snare", "vocal"]
    assert [t.pan for t in session.tracks] == [0.0, -0.7, 0.7, 0.0, 0.0]
    assert DEFAULT_PANS["overhead_L"] == -0.7
    for track in session.tracks:
        assert track.file == stems / f"{track.name}.wav" and track.file.is_absolute()
        assert track.gain_db == 0.0 and track.plugins == [] and not track.mute and track.channel is None
    assert session.missing_files() == []


def test_import_unknown_role_is_none_and_natural_order(tmp_path):
    for name in ("Tom 10.wav", "Tom 2.wav", "Zither.flac"):
        write_wav(tmp_path / name)
    session = import_stems(tmp_path)
    assert [t.name for t in session.tracks] == ["Tom 2", "Tom 10", "Zither"]
    assert session.tracks[-1].role is None


def test_import_notes_rate_and_length(stems):
    write_wav(stems / "Snare Top.wav", rate=48000)
    write_wav(stems / "Vocals.wav", seconds=0.5)
    session = import_stems(stems)
    assert session.sample_rate == 44100  # the most common rate
    assert "Snare Top.wav is 48000 Hz, the session 44100 Hz: resampled when rendering" in session.notes
    assert any(n.startswith("Vocals.wav is 0.500 s, the longest stem 1.000 s") for n in session.notes)
    assert len(session.notes) == 2  # 1 s at 48 kHz is 1 s at 44.1 kHz: no length note
    forced = import_stems(stems, sample_rate=48000)
    assert forced.sample_rate == 48000
    assert sum("resampled when rendering" in n for n in forced.notes) == 4


def test_import_list_of_files(stems):
    session = import_stems([stems / "Vocals.wav", stems / "01 Kick In.wav"], name="pair")
    assert session.name == "pair" and [t.name for t in session.tracks] == ["01 Kick In", "Vocals"]


def test_import_mapping_overrides_roles(stems, tmp_path):
    session = import_stems(stems, mapping={"Vocals.wav": "backing", "Snare Top": None, "oh l": "room"})
    roles = {t.name: t.role for t in session.tracks}
    assert roles["Vocals"] == "backing" and roles["Snare Top"] is None and roles["OH L"] == "room"
    assert roles["01 Kick In"] == "kick"
    assert session.tracks[1].pan == 0.0  # the pan follows the (mapped) role
    mapping_file = write_json(tmp_path / "roles.json", {"01 Kick In.wav": "kick_in"})
    assert import_stems(stems, mapping=mapping_file).tracks[0].role == "kick_in"
    with pytest.raises(AutomixError, match="'Bass.wav', which is not among the stems") as info:
        import_stems(stems, mapping={"Bass.wav": "bass"})
    assert_one_line(str(info.value))


def test_import_custom_slots(stems):
    session = import_stems(stems, slots=("vocal", "drums"))
    assert [t.role for t in session.tracks] == ["kick", "overheads", "overheads", "snare", "vocal"]
    assert {t.pan for t in session.tracks} == {0.0}


def test_import_corrupt_file_is_one_line_error(stems):
    (stems / "Bass.wav").write_bytes(b"this is not a wave file at all" * 10)
    with pytest.raises(AutomixError, match="Bass.wav cannot be read as audio") as info:
        import_stems(stems)
    assert_one_line(str(info.value))


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: None, "is empty"),
        (lambda d: (d / "readme.txt").write_text("x"), "has no audio files"),
        (lambda d: d.rmdir(), "does not exist"),
    ],
)
def test_import_folder_errors(tmp_path, setup, expected):
    folder = tmp_path / "stems"
    folder.mkdir()
    setup(folder)
    with pytest.raises(AutomixError, match=expected) as info:
        import_stems(folder)
    assert_one_line(str(info.value))
    assert str(folder) in str(info.value)


def test_imported_session_round_trips(stems, tmp_path):
    write_wav(stems / "Snare Top.wav", rate=48000)
    session = import_stems(stems)
    path = session.save(tmp_path / "imported.json")
    assert load_session(path) == session


def test_daw_bridge_never_imports_torch():
    code = "import daw_bridge, daw_bridge.session, daw_bridge.importer, sys; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
