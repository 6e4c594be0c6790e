"""Chain presets (presets/chains/*.json) and daw_bridge.chains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pedalboard
import pytest

from daw_bridge.stems import DRUM_SLOTS
from daw_bridge.plugins import check_plugins, make_chain
from daw_bridge.chains import (
    ChainPreset,
    PresetError,
    apply_chain_presets,
    chain_presets_dir,
    list_chain_presets,
    load_chain_preset,
    preset_for_role,
    role_key,
)
from daw_bridge.session import PluginSpec, Session, Track

TRACK_ROLES = ("kick", "snare", "hi-hat", "tom", "overheads", "room", "bass", "vocal", "guitar", "keys")


def test_shipped_presets_are_where_the_package_installs_them():
    folder = chain_presets_dir()
    assert folder.parts[-2:] == ("presets", "chains") or folder.parts[-2:] == ("_presets", "chains")
    names = [p.name for p in list_chain_presets()]
    assert names == sorted(names) and len(names) == len(set(names))
    assert {"kick", "snare", "hihat", "toms", "overheads", "room", "bass", "vocal", "guitar", "keys"} <= set(names)
    assert {"master-clean", "master-loud"} <= set(names)
    for path in folder.glob("*.json"):  # what the files say, literally
        assert json.loads(path.read_text())["name"] == path.stem


def _stereo_noise(sr: int, seconds: float = 1.0, level_db: float = -12.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, int(sr * seconds))).astype(np.float32)
    return x / np.abs(x).max() * np.float32(10 ** (level_db / 20))


@pytest.mark.parametrize("sr", [44100, 48000])
def test_every_preset_instantiates_and_processes_noise_to_finite_audio(sr):
    x = _stereo_noise(sr)
    for preset in list_chain_presets():
        board = pedalboard.Pedalboard(make_chain(preset.plugins))
        y = board(x, sr)
        assert y.shape == x.shape, preset.name
        assert np.isfinite(y).all(), preset.name
        assert 1e-4 < np.abs(y).max() < 2.0, preset.name  # did something, did not explode
        mono = board(x[:1], sr)  # a mono track works too (built-in effects take any channel count)
        assert mono.shape == x[:1].shape and np.isfinite(mono).all(), preset.name


def test_presets_pass_the_renderers_plugin_check():
    tracks = [
        Track(name=p.name, file=Path("x.wav"), plugins=p.plugins) for p in list_chain_presets() if p.kind == "track"
    ]
    for p in list_chain_presets():
        if p.kind == "master":
            assert check_plugins(Session(sample_rate=44100, tracks=tracks, master=p.plugins)) == []


def test_master_presets_keep_sample_peaks_under_minus_1_dbfs():
    sr = 44100
    loud = _stereo_noise(sr, 2.0, level_db=0.0)
    for name in ("master-clean", "master-loud"):
        preset = load_chain_preset(name)
        assert preset.kind == "master" and preset.plugins[-2].name == "Limiter"
        y = pedalboard.Pedalboard(make_chain(preset.plugins))(loud, sr)
        assert 20 * np.log10(np.abs(y).max()) <= -1.0 + 1e-3, name


def test_every_role_of_the_project_has_a_preset():
    for role in (*DRUM_SLOTS, *TRACK_ROLES, "overheads", "tom_1", "tom_2", "tom_3", "hihat", "guitar_2", "vox", "OH L"):
        preset = preset_for_role(role)
        assert preset is not None and preset.kind == "track", role
    assert preset_for_role("overhead_L").name == "overheads" and preset_for_role("overhead_R").name == "overheads"
    assert preset_for_role("tom_1").name == preset_for_role("tom_3").name == preset_for_role("Floor Tom").name == "toms"
    assert preset_for_role("hi-hat").name == "hihat"
    assert preset_for_role("drums") is None and preset_for_role(None) is None and preset_for_role("") is None
    # no role family is claimed by two presets
    owners: dict[str, str] = {}
    for preset in list_chain_presets():
        for role in preset.roles:
            assert owners.setdefault(role_key(role), preset.name) == preset.name, role
    for preset in list_chain_presets():
        if preset.kind == "track":
            assert preset.pan is None or -1 <= preset.pan <= 1


def _session(tmp_path: Path) -> Session:
    existing = [PluginSpec(kind="builtin", name="Gain", params={"gain_db": -3.0})]
    return Session(
        name="song",
        tracks=[
            Track(name="Kick In", file=Path("kick.wav"), role="kick"),
            Track(name="Snare Top", file=Path("snare.wav"), role="snare", plugins=existing, gain_db=-2.0, pan=0.1),
            Track(name="OH L", file=Path("ohl.wav"), role="overhead_L", pan=-0.7),
            Track(name="Floor", file=Path("ft.wav"), role="tom_3"),
            Track(name="Drums", file=Path("drums.wav"), role="drums"),
            Track(name="Thing", file=Path("thing.wav")),
        ],
        notes=["imported from stems/"],
    )


def test_apply_chain_presets_fills_empty_chains_and_returns_a_new_session(tmp_path):
    session = _session(tmp_path)
    before = session.model_dump()
    result = apply_chain_presets(session)
    assert session.model_dump() == before  # the input is untouched
    tracks = {t.name: t for t in result.tracks}
    assert tracks["Kick In"].plugins == load_chain_preset("kick").plugins
    assert tracks["OH L"].plugins == load_chain_preset("overheads").plugins
    assert tracks["Floor"].plugins == load_chain_preset("toms").plugins
    assert tracks["Snare Top"].plugins == session.tracks[1].plugins  # kept
    assert tracks["Drums"].plugins == [] and tracks["Thing"].plugins == []
    assert result.master == load_chain_preset("master-clean").plugins
    # nothing else changes: gains, pans, roles, files
    for old, new in zip(session.tracks, result.tracks):
        assert (old.gain_db, old.pan, old.role, old.file, old.name) == (new.gain_db, new.pan, new.role, new.file, new.name)
    assert result.notes[0] == "imported from stems/"
    assert "chain preset 'kick' applied to track 'Kick In' (role 'kick')" in result.notes
    assert "no chain preset for track 'Drums' (role 'drums')" in result.notes
    assert "chain preset 'master-clean' applied to the master" in result.notes
    # the result is a valid session that saves and loads
    result.save(tmp_path / "plan.json")
    assert Session.load(tmp_path / "plan.json") == result


def test_apply_chain_presets_replace_and_master_choices(tmp_path):
    session = _session(tmp_path)
    replaced = apply_chain_presets(session, master="master-loud", replace=True)
    assert {t.name: t for t in replaced.tracks}["Snare Top"].plugins == load_chain_preset("snare").plugins
    assert replaced.master == load_chain_preset("master-loud").plugins
    # an existing master chain is kept unless replace=True; master=None leaves it alone
    kept = apply_chain_presets(replaced, master="master-clean")
    assert kept.master == replaced.master
    assert apply_chain_presets(session, master=None).master == []
    master_only = apply_chain_presets(session, master="master-loud", tracks=False)
    assert [t.plugins for t in master_only.tracks] == [t.plugins for t in session.tracks]
    assert master_only.master == load_chain_preset("master-loud").plugins
    assert master_only.notes == [*session.notes, "chain preset 'master-loud' applied to the master"]
    custom = tmp_path / "my-master.json"
    custom.write_text(json.dumps({
        "name": "my-master", "kind": "master", "description": "just a limiter",
        "plugins": [{"kind": "builtin", "name": "Limiter", "params": {"threshold_db": -3}}],
    }))  # fmt: skip
    assert apply_chain_presets(session, master=str(custom)).master[0].name == "Limiter"
    with pytest.raises(PresetError, match="'snare' is a track preset; the master needs a kind: master preset"):
        apply_chain_presets(session, master="snare")
    with pytest.raises(PresetError, match="unknown chain preset 'master-lound'"):
        apply_chain_presets(session, master="master-lound")


def test_unknown_preset_names_list_the_known_ones():
    with pytest.raises(PresetError) as info:
        load_chain_preset("snaer")
    message = str(info.value)
    assert message.startswith("unknown chain preset 'snaer'; the presets are ")
    assert "snare" in message and "master-clean" in message and "\n" not in message
    with pytest.raises(PresetError, match="does not exist"):
        load_chain_preset("nowhere/snare.json")


def test_preset_files_are_validated_with_one_line_errors(tmp_path):
    good = json.loads((chain_presets_dir() / "snare.json").read_text())

    def write(name: str, data: dict, suffix: str = ".json") -> Path:
        path = tmp_path / f"{name}{suffix}"
        path.write_text(json.dumps(data))
        return path

    assert load_chain_preset(write("snare", good)).plugins == load_chain_preset("snare").plugins
    cases = [
        ({**good, "colour": "red"}, "colour: unknown key; check its spelling"),
        ({**good, "plugins": [{**good["plugins"][0], "cutoff": 3}]}, "plugins.0.cutoff: unknown key"),
        ({**good, "plugins": [{"kind": "builtin", "name": "Compressor", "params": {"thresh": -3}}]}, "Compressor has no parameter 'thresh'"),
        ({**good, "plugins": [{"kind": "vst3", "path": "x.vst3"}]}, "built-in effects only"),
        ({**good, "roles": []}, "a track preset needs roles"),
        ({**good, "kind": "master"}, "a master preset has no roles"),
        ({**good, "pan": 2}, "pan: Input should be less than or equal to 1"),
        ({k: v for k, v in good.items() if k != "plugins"}, "plugins: Field required"),
    ]
    for data, message in cases:
        with pytest.raises(PresetError) as info:
            load_chain_preset(write("snare", data))
        assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
        assert str(tmp_path / "snare.json") in str(info.value)
    with pytest.raises(PresetError, match="is named 'snare'; a preset's name must be its file name \\('drums'\\)"):
        load_chain_preset(write("drums", good))
    bad = tmp_path / "broken.json"
    bad.write_text('{"name": "broken", ')
    with pytest.raises(PresetError, match=r"not valid JSON \(line 1"):
        load_chain_preset(bad)
    with pytest.raises(PresetError, match="must be a .json, .yaml or .yml file"):
        load_chain_preset(tmp_path / "snare.txt")


def test_yaml_preset_files(tmp_path):
    yaml = pytest.importorskip("yaml")
    data = json.loads((chain_presets_dir() / "vocal.json").read_text())
    path = tmp_path / "vocal.yaml"
    path.write_text(yaml.safe_dump(data))
    preset = load_chain_preset(path)
    assert isinstance(preset, ChainPreset) and preset == load_chain_preset("vocal")
