"""daw_bridge.plugins against real VST3 plugins built from tests/vst3 (no mocks)."""

from __future__ import annotations

import base64
import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pedalboard
import pytest

from daw_bridge.plugins import (
    ParameterInfo,
    PluginError,
    _looks_linear,
    _tidy,
    check_plugins,
    describe_plugin,
    get_parameter,
    get_state,
    list_parameters,
    load_vst3,
    make_chain,
    make_plugin,
    reported_latency_samples,
    set_parameter,
    set_state,
)
from daw_bridge.session import PluginSpec, Session, Track

SR = 44100


def noise(seconds: float = 0.25, sr: int = SR, channels: int = 2, seed: int = 0) -> np.ndarray:
    n = int(seconds * sr)
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (channels, n)).astype(np.float32)


def impulses(n: int, at: tuple[int, ...]) -> np.ndarray:
    x = np.zeros((2, n), dtype=np.float32)
    for i, pos in enumerate(at):
        x[:, pos] = 1.0 / (i + 1)
    return x


@pytest.fixture
def gain(vst3_plugins):
    return load_vst3(vst3_plugins["AutomixGain"])


@pytest.fixture
def delay(vst3_plugins):
    return load_vst3(vst3_plugins["AutomixDelay"])


@pytest.fixture
def faulty(vst3_plugins):
    return load_vst3(vst3_plugins["AutomixFaulty"])


def _build_module():
    spec = importlib.util.spec_from_file_location("vst3_build_under_test", Path(__file__).parent / "vst3" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- building


def test_built_bundles_have_the_vst3_layout(vst3_plugins):
    assert set(vst3_plugins) == {"AutomixGain", "AutomixDelay", "AutomixFaulty"}
    for name, bundle in vst3_plugins.items():
        assert bundle.name == f"{name}.vst3" and bundle.is_dir()
        (binary,) = (bundle / "Contents").glob(f"*-linux/{name}.so")
        assert binary.stat().st_size > 10_000


def test_build_failure_raises_with_the_compiler_stderr(tmp_path, monkeypatch):
    build = _build_module()
    with pytest.raises(build.PluginBuildError, match="no test plugin 'Nope'"):
        build.build_plugin("Nope", tmp_path)
    broken = tmp_path / "src" / "AutomixGain"
    broken.mkdir(parents=True)
    shutil.copy(Path(build.__file__).parent / "AutomixGain" / "DistrhoPluginInfo.h", broken)
    (broken / "AutomixGain.cpp").write_text('#include "DistrhoPlugin.hpp"\nthis is not C++;\n')
    monkeypatch.setattr(build, "HERE", tmp_path / "src")
    with pytest.raises(build.PluginBuildError, match=r"(?s)building AutomixGain failed.*error"):
        build.build_plugin("AutomixGain", tmp_path / "out")
    assert not (tmp_path / "out" / "AutomixGain.vst3").exists()


# --------------------------------------------------------------------------- loading


def test_load_vst3_returns_a_pedalboard_plugin(gain, vst3_plugins):
    assert isinstance(gain, pedalboard.ExternalPlugin)
    assert gain.name == "AutomixGain" and not gain.is_instrument
    assert load_vst3(str(vst3_plugins["AutomixGain"]), name="AutomixGain").name == "AutomixGain"


def test_load_vst3_refuses_bad_paths(tmp_path, vst3_plugins):
    with pytest.raises(PluginError, match=r"nope\.vst3 does not exist"):
        load_vst3(tmp_path / "nope.vst3")
    so = tmp_path / "libfoo.so"
    so.write_bytes(b"\x7fELF not really")
    with pytest.raises(PluginError, match=r"libfoo\.so is not a VST3 plugin \(a shared library\): pedalboard on Linux loads only \.vst3"):
        load_vst3(so)
    for suffix in (".lv2", ".dll", ".component", ".vst"):
        other = tmp_path / f"foo{suffix}"
        other.mkdir()
        with pytest.raises(PluginError, match="is not a VST3 plugin"):
            load_vst3(other)
    text = tmp_path / "x.vst3"
    text.write_text("hello, I am not a plugin\n")
    with pytest.raises(PluginError) as info:
        load_vst3(text)
    message = str(info.value)
    assert "\n" not in message and str(text) in message and message.startswith("cannot load VST3 plugin")
    empty = tmp_path / "empty.vst3"
    empty.mkdir()
    with pytest.raises(PluginError, match=r"has no Contents/.*-linux/\*\.so"):
        load_vst3(empty)
    inner = next(vst3_plugins["AutomixGain"].glob("Contents/*/*.so"))
    with pytest.raises(PluginError, match="is a file inside the VST3 bundle .*AutomixGain.vst3; give the bundle"):
        load_vst3(inner)
    with pytest.raises(PluginError, match="holds no plugin named 'Other'; it holds 'AutomixGain'"):
        load_vst3(vst3_plugins["AutomixGain"], name="Other")


def test_a_bundle_with_a_broken_binary_is_refused_in_one_line(tmp_path, vst3_plugins):
    bundle = tmp_path / "Broken.vst3"
    shutil.copytree(vst3_plugins["AutomixGain"], bundle)
    binary = next(bundle.glob("Contents/*/*.so"))
    binary.write_bytes(b"garbage" * 100)
    with pytest.raises(PluginError) as info:
        load_vst3(bundle)
    assert "\n" not in str(info.value) and str(bundle) in str(info.value)


# --------------------------------------------------------------------------- parameters


def test_list_parameters_reports_ranges_units_and_kinds(gain, delay, faulty):
    by_name = {p.name: p for p in list_parameters(gain)}
    assert by_name["gain_db"] == ParameterInfo(
        name="gain_db", label="Gain", unit="dB", minimum=-60.0, maximum=24.0, default=0.0, steps=None
    )
    invert = by_name["invert"]
    assert invert.is_boolean and invert.steps == 2 and (invert.minimum, invert.maximum, invert.default) == (0, 1, 0)
    d = {p.name: p for p in list_parameters(delay)}["delay_samples"]
    assert (d.label, d.unit, d.minimum, d.maximum, d.default, d.steps) == ("Delay", "samples", 0, 512, 64, 513)
    # DPF's own read-only latency report is listed, marked not automatable
    assert not {p.name: p for p in list_parameters(delay)}["latency_frames"].automatable
    kind = {p.name: p for p in list_parameters(faulty)}["kind"]
    assert kind.choices == ("NaN", "Infinity", "Silence") and kind.steps == 3 and (kind.minimum, kind.maximum) == (0, 2)


def test_set_parameter_is_exact_where_plain_assignment_snaps(gain):
    x = noise()
    assert set_parameter(gain, "gain_db", -6.0) == -6.0
    assert get_parameter(gain, "gain_db") == pytest.approx(-6.0, abs=1e-6)
    y = gain.process(x, SR)
    np.testing.assert_allclose(y, x * 10 ** (-6 / 20), rtol=0, atol=1e-6)
    # pedalboard's own attribute assignment snaps to its 1000-step grid: -5.988 dB
    gain.gain_db = -6.0
    snapped = get_parameter(gain, "gain_db")
    assert abs(snapped - -6.0) > 1e-3
    assert np.abs(gain.process(x, SR) - x * 10 ** (-6 / 20)).max() > 1e-5
    # by display label, and odd values
    set_parameter(gain, "Gain", -12.345678)
    assert get_parameter(gain, "Gain") == pytest.approx(-12.345678, abs=1e-5)
    np.testing.assert_allclose(gain.process(x, SR), x * 10 ** (-12.345678 / 20), rtol=0, atol=1e-6)
    for edge in (-60.0, 24.0):
        set_parameter(gain, "gain_db", edge)
        assert get_parameter(gain, "gain_db") == edge
    set_parameter(gain, "gain_db", "3.5 dB")
    assert get_parameter(gain, "gain_db") == pytest.approx(3.5, abs=1e-6)


def test_invert_flips_polarity(gain):
    x = noise()
    set_parameter(gain, "invert", True)
    assert get_parameter(gain, "Invert") == 1.0
    np.testing.assert_array_equal(gain.process(x, SR), -x)
    set_parameter(gain, "Invert", "off")
    np.testing.assert_array_equal(gain.process(x, SR), x)
    set_parameter(gain, "invert", 1)
    set_parameter(gain, "gain_db", -6)
    np.testing.assert_allclose(gain.process(x, SR), -x * 10 ** (-6 / 20), rtol=0, atol=1e-6)


def test_stepped_and_list_parameters_snap(delay, faulty):
    assert set_parameter(delay, "delay_samples", 200.4) == 200.0
    assert get_parameter(delay, "Delay") == 200.0
    assert set_parameter(delay, "Delay", 0) == 0.0
    assert set_parameter(faulty, "kind", "Silence") == 2.0
    assert get_parameter(faulty, "Kind") == 2.0 and str(faulty.kind) == "Silence"
    assert set_parameter(faulty, "Kind", "infinity") == 1.0  # labels are matched without case
    assert set_parameter(faulty, "kind", 0) == 0.0 and str(faulty.kind) == "NaN"


def test_bad_parameter_names_and_values_are_refused(gain, faulty):
    gain.volume = 1.0  # pedalboard silently stores an unknown attribute on a VST3 plugin
    with pytest.raises(PluginError, match=r"AutomixGain has no parameter 'volume'; it has gain_db \(Gain\), invert \(Invert\)"):
        set_parameter(gain, "volume", 1.0)
    with pytest.raises(PluginError, match="has no parameter 'volume'"):
        get_parameter(gain, "volume")
    with pytest.raises(PluginError, match=r"gain_db = 30 is out of range \[-60, 24\] dB"):
        set_parameter(gain, "gain_db", 30)
    with pytest.raises(PluginError, match=r"out of range \[-60, 24\] dB"):
        set_parameter(gain, "Gain", -60.5)
    with pytest.raises(PluginError, match="must be a finite number"):
        set_parameter(gain, "gain_db", math.nan)
    with pytest.raises(PluginError, match="must be a number"):
        set_parameter(gain, "gain_db", "loud")
    with pytest.raises(PluginError, match="invert is on/off"):
        set_parameter(gain, "invert", 0.5)
    with pytest.raises(PluginError, match=r"kind must be one of 'NaN', 'Infinity', 'Silence', got 'Zero'"):
        set_parameter(faulty, "kind", "Zero")
    with pytest.raises(PluginError, match=r"kind index 5 is out of range \[0, 2\]"):
        set_parameter(faulty, "kind", 5)
    assert get_parameter(gain, "gain_db") == 0.0  # nothing was changed


# --------------------------------------------------------------------------- state


def test_state_round_trip_restores_parameters_and_sound(gain, vst3_plugins):
    set_parameter(gain, "gain_db", -6.0)
    set_parameter(gain, "invert", True)
    state = get_state(gain)  # no process() in between: get_state flushes the changes
    base64.b64decode(state, validate=True)
    x = noise()
    other = load_vst3(vst3_plugins["AutomixGain"])
    assert get_parameter(other, "gain_db") == 0.0
    set_state(other, state)
    assert get_parameter(other, "gain_db") == pytest.approx(-6.0, abs=1e-6)
    assert get_parameter(other, "invert") == 1.0
    np.testing.assert_array_equal(other.process(x, SR), gain.process(x, SR))


def test_raw_state_misses_parameters_set_since_the_last_process(vst3_plugins):
    # why get_state flushes: a VST3 host hands parameter changes to the processor with the
    # next block, and raw_state is the processor's state
    g = load_vst3(vst3_plugins["AutomixGain"])
    set_parameter(g, "gain_db", -6.0)
    stale = bytes(g.raw_state)
    fresh = load_vst3(vst3_plugins["AutomixGain"])
    fresh.raw_state = stale
    assert get_parameter(fresh, "gain_db") == 0.0


def test_set_state_refuses_bad_data(gain):
    with pytest.raises(PluginError, match="not valid base64"):
        set_state(gain, "not base64 !!")
    with pytest.raises(PluginError, match="not a VST3 plugin state saved by pedalboard"):
        set_state(gain, base64.b64encode(b"hello").decode())
    with pytest.raises(PluginError, match="built-in effect"):
        get_state(pedalboard.Gain())
    with pytest.raises(PluginError, match="built-in effect"):
        set_state(pedalboard.Gain(), get_state(gain))


# --------------------------------------------------------------------------- built-in effects


def test_builtin_plugins_via_make_plugin():
    comp = make_plugin(PluginSpec(kind="builtin", name="Compressor", params={"threshold_db": -20, "ratio": 4}))
    assert isinstance(comp, pedalboard.Compressor) and comp.ratio == 4 and comp.threshold_db == -20
    ladder = make_plugin(PluginSpec(kind="builtin", name="LadderFilter", params={"mode": "HPF24", "cutoff_hz": 300}))
    assert ladder.mode == pedalboard.LadderFilter.Mode.HPF24
    assert get_parameter(ladder, "mode") == 4.0
    cases = [
        ("Reverb", {"room_size": 2}, r"Reverb: room_size = 2 is out of range \[0, 1\]"),
        ("Compressor", {"ratio": 0.5}, r"Compressor: ratio = 0.5 is out of range \[1, inf\]"),
        ("Gain", {"gain_db": "loud"}, "Gain: gain_db must be a number, got 'loud'"),
        ("HighpassFilter", {"cutoff_frequency_hz": 0}, r"cutoff_frequency_hz = 0 is out of range \[0.001, inf\] Hz"),
        ("LadderFilter", {"mode": "notch"}, "LadderFilter: mode must be one of LPF12, HPF12"),
        ("Delay", {"delay_seconds": 31}, r"Delay: delay_seconds = 31 is out of range \[0, 30\] s"),
    ]
    for name, params, message in cases:
        with pytest.raises(PluginError, match=message):
            make_plugin(PluginSpec(kind="builtin", name=name, params=params))


def test_builtin_parameters_are_validated_and_unknown_names_refused():
    comp = pedalboard.Compressor()
    info = {p.name: p for p in list_parameters(comp)}
    assert info["ratio"].minimum == 1.0 and info["ratio"].maximum == math.inf and info["ratio"].default == 1.0
    assert info["threshold_db"].unit == "dB" and info["threshold_db"].minimum == -math.inf
    assert info["attack_ms"].unit == "ms"
    assert set_parameter(comp, "threshold_db", -18.5) == -18.5 and comp.threshold_db == -18.5
    with pytest.raises(PluginError, match="Compressor has no parameter 'thresh'; it has attack_ms, ratio, release_ms, threshold_db"):
        set_parameter(comp, "thresh", 3)
    with pytest.raises(PluginError, match=r"ratio = 0 is out of range \[1, inf\]"):
        set_parameter(comp, "ratio", 0)
    with pytest.raises(PluginError, match="must be a number"):
        set_parameter(comp, "ratio", "high")


# --------------------------------------------------------------------------- chains and checks


def test_make_plugin_vst3_resolves_relative_paths_and_applies_state_then_params(tmp_path, vst3_plugins, gain):
    shutil.copytree(vst3_plugins["AutomixGain"], tmp_path / "plugins" / "AutomixGain.vst3")
    set_parameter(gain, "gain_db", -20.0)
    set_parameter(gain, "invert", True)
    state = get_state(gain)
    spec = PluginSpec(kind="vst3", path=Path("plugins/AutomixGain.vst3"), state=state, params={"Gain": -6.0})
    plugin = make_plugin(spec, base_dir=tmp_path)
    assert get_parameter(plugin, "gain_db") == pytest.approx(-6.0, abs=1e-6)  # params after state
    assert get_parameter(plugin, "invert") == 1.0  # from the state
    chain = make_chain(
        [spec, PluginSpec(kind="builtin", name="Gain", params={"gain_db": 6.0}, bypass=True)], base_dir=tmp_path
    )
    assert len(chain) == 2 and isinstance(chain[1], pedalboard.Gain)
    with pytest.raises(PluginError, match="does not exist"):
        make_plugin(spec)  # relative to the current folder, where there is no plugins/


def test_check_plugins_lists_every_problem_at_once(tmp_path, vst3_plugins):
    (tmp_path / "a.wav").write_bytes(b"")
    good = PluginSpec(kind="vst3", path=vst3_plugins["AutomixGain"], params={"gain_db": -3})
    session = Session(
        sample_rate=44100,
        tracks=[
            Track(name="kick", file=Path("a.wav"), plugins=[good, PluginSpec(kind="builtin", name="Compressor")]),
            Track(
                name="snare",
                file=Path("a.wav"),
                plugins=[
                    good,
                    PluginSpec(kind="vst3", path=Path("missing/Foo.vst3")),
                    PluginSpec(kind="vst3", path=vst3_plugins["AutomixGain"], params={"volume": 1}),
                ],
            ),
            Track(
                name="bass",
                file=Path("a.wav"),
                plugins=[PluginSpec(kind="vst3", path=vst3_plugins["AutomixGain"], params={"gain_db": 99})],
            ),
        ],
        master=[
            PluginSpec(kind="builtin", name="Reverb", params={"room_size": 3}),
            PluginSpec(kind="builtin", name="LowpassFilter", params={"cutoff_frequency_hz": 30000}),
            PluginSpec(kind="builtin", name="Limiter", params={"threshold_db": -1}),
        ],
    )
    problems = check_plugins(session, base_dir=tmp_path)
    assert len(problems) == 5, problems
    missing, unknown, out_of_range, reverb, nyquist = problems
    assert missing.startswith("track 'snare' plugin 2 (Foo.vst3): ") and "missing/Foo.vst3 does not exist" in missing
    assert unknown.startswith("track 'snare' plugin 3 (AutomixGain.vst3): ") and "no parameter 'volume'" in unknown
    assert out_of_range.startswith("track 'bass' plugin 1 (AutomixGain.vst3): ") and "[-60, 24] dB" in out_of_range
    assert reverb.startswith("master plugin 1 (Reverb): ") and "room_size" in reverb
    assert nyquist.startswith("master plugin 2 (LowpassFilter): ") and "Nyquist frequency (22050 Hz" in nyquist
    assert all("\n" not in p for p in problems)
    fixed = session.model_copy(deep=True)
    fixed.tracks = [session.tracks[0]]
    fixed.master = [session.master[2]]
    assert check_plugins(fixed, base_dir=tmp_path) == []


def test_check_plugins_resolves_relative_paths_against_the_session_file(tmp_path, vst3_plugins):
    shutil.copytree(vst3_plugins["AutomixDelay"], tmp_path / "fx" / "AutomixDelay.vst3")
    session = Session(master=[PluginSpec(kind="vst3", path=Path("fx/AutomixDelay.vst3"), params={"Delay": 10})])
    session.save(tmp_path / "plan.json")
    loaded = Session.load(tmp_path / "plan.json")
    assert check_plugins(loaded) == []
    assert check_plugins(loaded, base_dir=tmp_path / "elsewhere") != []


# --------------------------------------------------------------------------- describe


def test_describe_plugin_is_json_serialisable(vst3_plugins):
    info = describe_plugin(vst3_plugins["AutomixDelay"])
    text = json.dumps(info, allow_nan=False)
    assert json.loads(text) == info
    assert info["kind"] == "vst3" and info["name"] == "AutomixDelay" and info["latency_samples"] == 64
    assert info["path"] == str(vst3_plugins["AutomixDelay"]) and info["is_instrument"] is False
    assert info["plugins_in_file"] == ["AutomixDelay"]
    delay = {p["name"]: p for p in info["parameters"]}["delay_samples"]
    assert delay == {
        "name": "delay_samples", "label": "Delay", "unit": "samples", "minimum": 0.0, "maximum": 512.0,
        "default": 64.0, "steps": 513, "is_boolean": False, "choices": [], "automatable": True,
    }  # fmt: skip
    builtin = describe_plugin("Compressor")
    json.dumps(builtin, allow_nan=False)
    ratio = {p["name"]: p for p in builtin["parameters"]}["ratio"]
    assert builtin["kind"] == "builtin" and builtin["path"] is None and ratio["minimum"] == 1.0 and ratio["maximum"] is None
    with pytest.raises(PluginError, match="'Compresor' is neither a .vst3 path nor a built-in effect"):
        describe_plugin("Compresor")
    with pytest.raises(PluginError, match="does not exist"):
        describe_plugin("nowhere/Foo.vst3")


# --------------------------------------------------------------------------- latency


def test_delay_reports_its_latency(delay):
    assert reported_latency_samples(delay) == 64
    set_parameter(delay, "Delay", 200)
    # the plugin updates the figure when it next runs: stale until then
    assert reported_latency_samples(delay) == 64
    assert reported_latency_samples(delay, refresh=True) == 200
    assert reported_latency_samples(pedalboard.Compressor()) == 0


def test_pedalboard_compensates_reported_latency_in_one_shot_processing(delay, vst3_plugins):
    x = impulses(4096, (100, 4090))
    y = delay.process(x, SR)
    assert y.shape == x.shape
    np.testing.assert_array_equal(y, x)  # a pure delay, fully compensated: aligned, same length
    # the plugin itself does delay: with its latency hidden (0 reported) it would come out late
    set_parameter(delay, "Delay", 0)
    np.testing.assert_array_equal(delay.process(x, SR), x)
    # chains: latencies add up and are all removed
    second = load_vst3(vst3_plugins["AutomixDelay"])
    set_parameter(second, "Delay", 200)
    set_parameter(delay, "Delay", 64)
    board = pedalboard.Pedalboard([delay, pedalboard.Gain(0.0), second])
    np.testing.assert_array_equal(board(x, SR), x)
    assert reported_latency_samples(board, refresh=True) == 264


def test_chunked_processing_withholds_the_latency_until_flushed(delay):
    x = impulses(4096, (100, 4090))
    delay.reset()  # needed: see the next test
    chunks = [delay.process(x[:, i : i + 1000], SR, reset=False) for i in range(0, 4096, 1000)]
    assert [c.shape[1] for c in chunks] == [936, 1000, 1000, 1000, 96]  # 64 samples withheld
    tail = delay.process(np.zeros((2, 64), np.float32), SR, reset=False)  # flush with silence
    np.testing.assert_array_equal(np.concatenate(chunks + [tail], axis=1), x)
    delay.reset()
    small = [delay.process(x[:, i : i + 32], SR, reset=False).shape[1] for i in range(0, 128, 32)]
    assert small == [0, 0, 32, 32]


def test_chunked_processing_without_reset_is_late_by_the_latency(vst3_plugins, delay):
    x = impulses(4096, (100,))

    def chunked(plugin):
        return np.concatenate([plugin.process(x[:, i : i + 1000], SR, reset=False) for i in range(0, 4096, 1000)], axis=1)

    fresh = chunked(delay)  # never reset: nothing withheld, the impulse comes out 64 samples late
    assert fresh.shape == x.shape and np.flatnonzero(fresh[0]).tolist() == [164]
    used = load_vst3(vst3_plugins["AutomixDelay"])
    used.process(x, SR)  # a one-shot process() leaves the count running too
    assert np.flatnonzero(chunked(used)[0]).tolist() == [164]
    used.reset()
    assert np.flatnonzero(chunked(used)[0]).tolist() == [100]


# --------------------------------------------------------------------------- misbehaving plugins


@pytest.mark.parametrize("sr", [44100, 48000])
def test_faulty_writes_nan_after_half_a_second_when_asked(faulty, sr):
    x = noise(1.0, sr)
    np.testing.assert_array_equal(faulty.process(x, sr), x)
    set_parameter(faulty, "fault", True)
    y = faulty.process(x, sr)
    bad = ~np.isfinite(y)
    onset = sr // 2
    assert not bad[:, :onset].any() and np.isnan(y[:, onset:]).all()
    np.testing.assert_array_equal(y[:, :onset], x[:, :onset])
    set_parameter(faulty, "kind", "Infinity")
    assert np.isinf(faulty.process(x, sr)[:, onset:]).all()


def test_mono_input_into_a_stereo_plugin_raises_value_error(gain):
    with pytest.raises(ValueError, match="does not support 1-channel"):
        gain.process(noise(0.1, channels=1), SR)
    with pytest.raises(ValueError):
        gain.process(noise(0.1, channels=1)[0], SR)


# --------------------------------------------------------------------------- helpers


def test_linearity_check_and_tidy_values():
    linear = {(i / 10, (i + 1) / 10): -60 + 84 * i / 10 for i in range(10)}
    assert _looks_linear(linear, -60.0, 24.0)
    # a logarithmic 20 Hz .. 20 kHz control shows 632 Hz half-way, not 10 kHz
    log = {(i / 10, (i + 1) / 10): 20 * 1000 ** (i / 10) for i in range(11)}
    assert not _looks_linear(log, 20.0, 20000.0)
    assert _tidy(-6.0000007, 5e-6) == -6.0 and _tidy(1.9e-6, 5e-6) == 0.0
    assert _tidy(-12.3456789, 1e-7) == pytest.approx(-12.3456789, abs=1e-7)
    assert math.copysign(1.0, _tidy(-1e-9, 1e-6)) == 1.0


class _LogParameter:
    """A stand-in for pedalboard's wrapper of a logarithmic 20 Hz .. 20 kHz VST3 control.

    DPF's VST3 wrapper maps every parameter linearly, so no test plugin can show a
    non-linear one; this exercises the non-linear path with the same interface.
    """

    name, units, is_automatable, num_steps, type = "Cutoff", "Hz", True, 0x7FFFFFFF, float

    def __init__(self):
        self.raw_value = 0.5
        self.default_raw_value = 0.5
        self.ranges = {(i / 1000, (i + 1) / 1000): self._value(i / 1000) for i in range(1000)}
        self.min_value, self.max_value = 20.0, 20000.0
        self.valid_values = list(self.ranges.values())

    @staticmethod
    def _value(raw):
        return round(20.0 * 1000.0**raw, 2)

    def get_text_for_raw_value(self, raw):
        return f"{self._value(raw):.2f} Hz"

    def get_raw_value_for_text(self, text):
        raise RuntimeError("this plugin cannot parse text")


def test_non_linear_parameters_are_set_through_the_plugins_own_text():
    from daw_bridge.plugins import _Vst3Param

    param = _Vst3Param("cutoff_hz", _LogParameter())
    assert not param.linear and param.default == pytest.approx(632.46, abs=0.01)
    raw = param.raw_of_value(1000.0)
    assert raw == pytest.approx(np.log(1000 / 20) / np.log(1000), abs=1e-5)
    assert param.value_of_raw(raw) == pytest.approx(1000.0, abs=0.01)
    assert param.info().minimum == 20.0 and param.info().maximum == 20000.0


def test_daw_bridge_plugin_modules_do_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, daw_bridge.plugins, daw_bridge.chains, pedalboard\n"
        "daw_bridge.chains.list_chain_presets(); daw_bridge.plugins.describe_plugin('Compressor')\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)
