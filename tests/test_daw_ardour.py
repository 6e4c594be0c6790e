"""Tests for daw_bridge.formats.ardour: Ardour 7 sessions written from a mix plan and read back.

Against the real Ardour 7.3 (``ardour7-lua``, ``ardour7-export``; CI installs the ``ardour``
Debian package): one well-built session is loaded by Ardour (routes, gains, pans, regions
checked) and exported, and the export must equal the plan's render.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from daw_bridge.audio import read_audio
from daw_bridge.errors import AudioError, AutomixError
from daw_bridge.formats.ardour import (
    AI_MIX_TRACK,
    BALANCE_PANNER_URI,
    MONO_PANNER_URI,
    ArdourSessionError,
    ardour_mono_pan_gains,
    ardour_to_mono_pan,
    mono_pan_to_ardour,
    read_ardour_session,
    write_ardour_session,
)
from daw_bridge.session import PluginSpec, Session, Track
from daw_bridge.panlaw import db_to_gain, pan_gains
from daw_bridge.errors import SessionReadError, SessionWriteError

ROOT = Path(__file__).resolve().parents[1]
SR = 48000
EXPORT_ATTEMPTS = 5
#: Ardour computes in float32: the export equals the plan's render to about 1e-7
RENDER_TOLERANCE = 2e-6

LUA_INSPECT = r"""
AudioEngine:set_backend("None (Dummy)", "", "")
AudioEngine:start(false)
local s = load_session(arg[1], arg[2])
assert(s, "could not load the session")
print(string.format("SESSION|%d", s:nominal_sample_rate()))
for r in s:get_routes():iter() do
  local az = -1
  if not r:pan_azimuth_control():isnil() then az = r:pan_azimuth_control():get_value() end
  print(string.format("ROUTE|%s|%.17g|%.17g|%.17g|%s|%s|%d|%d", r:name(), r:gain_control():get_value(),
    r:trim_control():get_value(), az, tostring(r:muted()), tostring(r:solo_control():self_soloed()),
    r:n_inputs():n_audio(), r:n_outputs():n_audio()))
  local t = r:to_track()
  if not t:isnil() then
    for reg in t:playlist():region_list():iter() do
      print(string.format("REGION|%s|%d|%d|%d|%d", r:name(), reg:position():samples(), reg:length():samples(),
        reg:start():samples(), reg:to_audioregion():n_channels()))
    end
  end
end
s:save_state(arg[3], false, false, false, false, false)
close_session()
print("INSPECTED")
"""


def assert_one_line(message: str) -> None:
    assert message and "\n" not in message and "\r" not in message


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tone(freq: float, frames: int, rate: int, amp: float, seed: int) -> np.ndarray:
    """A sine plus a little noise: distinct per stem, so a mix-up of stems shows."""
    t = np.arange(frames) / rate
    noise = np.random.default_rng(seed).standard_normal(frames)
    return (amp * np.sin(2 * np.pi * freq * t) + 0.05 * noise).astype(np.float32)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def stems(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("stems")
    n = SR  # 1 s
    files = {
        "kick": d / "kick.wav",
        "snare": d / "snare.flac",
        "bass44": d / "bass_44k.wav",
        "gtr": d / "gtr.wav",
        "keys": d / "keys.wav",
        "multi": d / "multi.wav",
        "room44": d / "room_44k.wav",
        "vox": d / "vox.wav",
        "mix": d / "ai_mix.wav",
    }
    sf.write(files["kick"], tone(60, n, SR, 0.5, 1), SR, subtype="PCM_24")
    sf.write(files["snare"], tone(200, n // 2, SR, 0.4, 2), SR, subtype="PCM_24")
    sf.write(files["bass44"], tone(80, 44100, 44100, 0.4, 3), 44100, subtype="FLOAT")
    sf.write(files["gtr"], np.stack([tone(330, n, SR, 0.3, 4), tone(335, n, SR, 0.25, 5)], axis=1), SR,
             subtype="FLOAT")
    sf.write(files["keys"], np.stack([tone(440, n, SR, 0.2, 6), tone(445, n, SR, 0.3, 7)], axis=1), SR,
             subtype="PCM_24")
    sf.write(files["multi"], np.stack([tone(100 + 50 * c, n, SR, 0.3, 10 + c) for c in range(4)], axis=1), SR,
             subtype="FLOAT")
    sf.write(files["room44"], np.stack([tone(500, 44100, 44100, 0.2, 20), tone(510, 44100, 44100, 0.3, 21)], axis=1),
             44100, subtype="FLOAT")
    sf.write(files["vox"], tone(220, n, SR, 0.3, 8), SR, subtype="FLOAT")
    sf.write(files["mix"], np.stack([tone(300, n, SR, 0.5, 30), tone(301, n, SR, 0.5, 31)], axis=1), SR,
             subtype="FLOAT")
    return files


def make_plan(stems: dict[str, Path]) -> Session:
    """Mono and stereo stems, a FLAC, two 44.1 kHz files, channels of multichannel files,
    centre / hard left / hard right / off-centre pans, offsets, a muted track, a +8 dB track
    (beyond Ardour's +6 dB fader), a name with XML and Ardour special characters, a plugin chain
    Ardour has no counterpart for (its ACE plugins are tested in test_ardour_plugins.py)."""
    comp = PluginSpec(kind="builtin", name="Delay", params={"delay_seconds": 0.1, "mix": 0.0})  # silent wet
    return Session(
        name="song",
        sample_rate=SR,
        tracks=[
            Track(name="Kick", file=stems["kick"], role="kick", gain_db=-2.0, pan=0.0, plugins=[comp]),
            Track(name="Snare", file=stems["snare"], role="snare", gain_db=3.0, pan=-1.0, offset_s=0.25),
            Track(name="Bass", file=stems["bass44"], gain_db=-6.0, pan=1.0, offset_s=0.1),
            Track(name="Gtr", file=stems["gtr"], gain_db=-1.5, pan=0.35),
            Track(name="Keys", file=stems["keys"], gain_db=0.0, pan=-0.6, offset_s=0.5),
            Track(name="Tom", file=stems["multi"], channel=2, role="tom", gain_db=8.0, pan=-0.3,
                  offset_s=1234 / SR),
            Track(name="OH", file=stems["multi"], channel=0, gain_db=-4.0, pan=0.7, mute=True),
            Track(name="Room", file=stems["room44"], channel=1, gain_db=-9.0, pan=0.55, offset_s=0.05),
            Track(name="Vox: lead & <dbl>", file=stems["vox"], gain_db=1.0, pan=0.12, offset_s=0.3),
        ],
    )


def expected_render(plan: Session, base: Path | None = None) -> np.ndarray:
    """The plan rendered from its definition: stems x db_to_gain x pan law (mono) or linear
    balance (stereo), at round(offset_s * rate); muted tracks silent (solo: only soloed ones)."""
    plan = plan.resolve_paths(base)
    soloing = any(t.solo for t in plan.tracks)
    parts = []
    for t in plan.tracks:
        audio, _ = read_audio(t.file, sample_rate=plan.sample_rate)
        audio = audio.astype(np.float64)
        if t.channel is not None:
            audio = audio[t.channel : t.channel + 1]
        g = db_to_gain(t.gain_db)
        if audio.shape[0] == 1:
            left, right = pan_gains(t.pan, plan.pan_law_db)
            stereo = np.concatenate([audio * g * left, audio * g * right])
        else:
            stereo = audio * g
            if t.pan < 0:
                stereo[1] *= 1.0 + t.pan
            elif t.pan > 0:
                stereo[0] *= 1.0 - t.pan
        start = round(t.offset_s * plan.sample_rate)
        heard = not t.mute and (t.solo or not soloing)
        parts.append((start, stereo if heard else np.zeros_like(stereo)))
    length = max(start + a.shape[1] for start, a in parts)
    out = np.zeros((2, length))
    for start, a in parts:
        out[:, start : start + a.shape[1]] += a
    return out


# --------------------------------------------------------------------------- running Ardour


def run_lua(folder: Path, name: str, snapshot: str, tmp: Path) -> str:
    script = tmp / "inspect.lua"
    script.write_text(LUA_INSPECT)
    last = ""
    for _ in range(EXPORT_ATTEMPTS):  # ardour7-lua, like the exporter, may crash at exit
        proc = subprocess.run(["ardour7-lua", str(script), str(folder), name, snapshot], capture_output=True,
                              text=True, timeout=180, check=False)
        last = proc.stdout + proc.stderr
        if "INSPECTED" in proc.stdout and (folder / f"{snapshot}.ardour").exists():
            return proc.stdout
    raise AssertionError(f"ardour7-lua could not load {folder}:\n{last[-3000:]}")


def ardour_export(folder: Path, name: str, out: Path, frames: int, expected: np.ndarray | None = None,
                  log: list[str] | None = None, rate: int = SR) -> np.ndarray:
    """Render the session with ardour7-export, trusting nothing but a checked result.

    Ardour 7.3 crashes at exit now and then, and sometimes writes a corrupt render (a garbage
    sample every 2048 frames) with exit code 0. A render counts only when ``* Done.`` was
    printed, the file exists, is finite, has ``frames`` frames, and equals ``expected`` (or,
    without one, a second good render). Retries up to EXPORT_ATTEMPTS times.
    """
    previous = None
    problems = []
    for attempt in range(1, EXPORT_ATTEMPTS + 1):
        out.unlink(missing_ok=True)
        try:
            proc = subprocess.run(["ardour7-export", "-b", "float", "-o", str(out), str(folder), name],
                                  capture_output=True, text=True, timeout=180, check=False)
        except subprocess.TimeoutExpired:
            problems.append(f"attempt {attempt}: timed out")
            continue
        text = proc.stdout + proc.stderr
        if "* Done." not in text or not out.exists():
            problems.append(f"attempt {attempt}: rc={proc.returncode}, no finished render ({text[-200:]!r})")
            continue
        audio, got_rate = sf.read(out, dtype="float64", always_2d=True)
        audio = audio.T
        if got_rate != rate or audio.shape != (2, frames) or not np.isfinite(audio).all():
            problems.append(f"attempt {attempt}: {audio.shape} at {got_rate} Hz, finite={np.isfinite(audio).all()}")
            continue
        reference = expected if expected is not None else previous
        if reference is None:
            previous = audio
            continue
        diff = float(np.abs(audio - reference).max())
        if diff <= RENDER_TOLERANCE:
            if log is not None:
                log.extend(problems)
                log.append(f"attempt {attempt}: good (max diff {diff:.3g})")
            return audio
        problems.append(f"attempt {attempt}: differs by {diff:.3g}")
        previous = audio
    raise AssertionError(f"no good Ardour render in {EXPORT_ATTEMPTS} attempts: {'; '.join(problems)}")


def parse_inspection(text: str) -> tuple[dict[str, dict], dict[str, list[tuple[int, int, int, int]]]]:
    routes, regions = {}, {}
    for line in text.splitlines():
        parts = line.split("|")
        if parts[0] == "ROUTE":
            routes[parts[1]] = {
                "gain": float(parts[2]), "trim": float(parts[3]), "azimuth": float(parts[4]),
                "muted": parts[5] == "true", "soloed": parts[6] == "true", "inputs": int(parts[7]),
                "outputs": int(parts[8]),
            }
        elif parts[0] == "REGION":
            regions.setdefault(parts[1], []).append(tuple(int(p) for p in parts[2:6]))
    return routes, regions


# --------------------------------------------------------------------------- the mapping


@pytest.mark.parametrize("law", [-3.0, -4.5, -6.0, -1.5])
def test_mono_pan_mapping_reproduces_the_plan_law(law):
    for pan in [-1.0, -0.999, -0.7, -0.3, -1e-9, 0.0, 1e-9, 0.12, 0.5, 0.9, 0.999, 1.0]:
        azimuth, k = mono_pan_to_ardour(pan, law)
        left, right = ardour_mono_pan_gains(azimuth)
        want = pan_gains(pan, law)
        assert k * left == pytest.approx(want[0], abs=1e-12)
        assert k * right == pytest.approx(want[1], abs=1e-12)
        back, k_back = ardour_to_mono_pan(azimuth, law)
        assert back == pytest.approx(pan, abs=1e-9)
        assert k_back == pytest.approx(k, rel=1e-12)


def test_mono_pan_mapping_exact_at_hard_left_centre_hard_right():
    assert mono_pan_to_ardour(-1.0) == (0.0, 1.0)
    assert mono_pan_to_ardour(1.0) == (1.0, 1.0)
    azimuth, k = mono_pan_to_ardour(0.0)
    assert azimuth == 0.5
    # Ardour's centre is -3.0 dB, the constant-power law's -3.0103 dB: the fader takes -0.0103 dB
    assert 20 * math.log10(k) == pytest.approx(-0.0103, abs=1e-4)
    assert ardour_to_mono_pan(0.5)[0] == 0.0
    assert ardour_to_mono_pan(0.0) == (-1.0, 1.0)
    assert ardour_to_mono_pan(1.0) == (1.0, 1.0)
    # Ardour's law as REAL_PARTS gives it
    s = -0.831783138
    left, right = ardour_mono_pan_gains(0.3)
    assert left == pytest.approx(0.7 * (s * 0.7 + 1 - s), rel=1e-8)
    assert right == pytest.approx(0.3 * (s * 0.3 + 1 - s), rel=1e-8)


# --------------------------------------------------------------------------- against Ardour


def test_ardour_loads_and_renders_the_plan_exactly(stems, tmp_path):
    """One session checks it all: Ardour loads it (routes, gains, trims, azimuths, mute, solo,
    regions at the offsets), its export equals the plan's render (and the renderer's, when
    daw_bridge.render exists), and Ardour's own re-save reads back as the plan."""
    plan = make_plan(stems)
    hashes = {k: sha256(p) for k, p in stems.items()}
    folder = tmp_path / "Song session"
    result = write_ardour_session(plan, folder, mix=stems["mix"])

    assert result.folder == folder and result.path == folder / "song.ardour" and result.path.is_file()
    assert (folder / "interchange" / "Song session" / "audiofiles").is_dir()
    assert {k: sha256(p) for k, p in stems.items()} == hashes  # the user's files untouched
    by_name = {t.name: t for t in result.tracks}
    assert [t.name for t in result.tracks] == [t.name for t in plan.tracks]
    assert by_name["Vox: lead & <dbl>"].route == "Vox- lead & <dbl>"  # ':' separates Ardour's ports
    # sources: in place where Ardour plays the file as it is, converted copies otherwise
    assert {t.name for t in result.tracks if t.converted} == {"Bass", "Room"}
    assert len(result.converted) == 2 and all(p.parent.name == "audiofiles" and p.exists() for p in result.converted)
    # every source lies in the session folder (so it can move): hard-linked or copied when Ardour plays it as it is
    audiofiles = folder / "interchange" / "Song session" / "audiofiles"
    assert by_name["Tom"].source == audiofiles / "multi.wav" and not by_name["Tom"].converted
    assert sha256(by_name["Tom"].source) == hashes["multi"] and by_name["OH"].source == by_name["Tom"].source
    assert all(t.source.parent == audiofiles for t in result.tracks)
    assert any("Bass" in n and "44100 Hz" in n for n in result.notes)
    assert any("Kick" in n and "Delay" in n and "not in the Ardour session" in n for n in result.notes)
    assert by_name["Tom"].trim_db > 0 and by_name["Tom"].fader_db == pytest.approx(20 * math.log10(2))
    assert by_name["Gtr"].panner == BALANCE_PANNER_URI and by_name["Kick"].panner == MONO_PANNER_URI
    assert by_name["Kick"].fader_db == pytest.approx(-2.0103, abs=1e-4)  # the centre's pan-law difference
    assert all(len(n) and "\n" not in n for n in result.notes)

    # Ardour loads it: every route as intended
    inspection = run_lua(folder, "song", "resaved", tmp_path)
    routes, regions = parse_inspection(inspection)
    assert f"SESSION|{SR}" in inspection
    assert set(routes) == {t.route for t in result.tracks} | {AI_MIX_TRACK, "Master"}
    for t in result.tracks:
        r = routes[t.route]
        track = next(p for p in plan.tracks if p.name == t.name)
        assert r["gain"] == pytest.approx(db_to_gain(t.fader_db), rel=1e-7), t.name
        assert r["trim"] == pytest.approx(db_to_gain(t.trim_db), rel=1e-7), t.name
        assert r["azimuth"] == pytest.approx(t.azimuth, abs=1e-7), t.name
        assert r["muted"] == track.mute and r["soloed"] == track.solo
        assert (r["inputs"], r["outputs"]) == (t.channels, 2)
        assert regions[t.route] == [(round(track.offset_s * SR), read_audio(t.source)[0].shape[1], 0,
                                     t.channels)], t.name
    assert routes[AI_MIX_TRACK]["muted"] and routes[AI_MIX_TRACK]["gain"] == 1.0
    assert routes[AI_MIX_TRACK]["azimuth"] == 0.5 and routes["Master"]["gain"] == 1.0
    for t in result.tracks:
        if t.pan in (-1.0, 1.0, 0.0) and t.channels == 1:
            assert routes[t.route]["azimuth"] == {-1.0: 0.0, 0.0: 0.5, 1.0: 1.0}[t.pan]

    # Ardour renders the plan: the export equals the plan's render
    expected = expected_render(plan)
    log: list[str] = []
    audio = ardour_export(folder, "song", tmp_path / "ardour.wav", expected.shape[1], expected, log)
    error = float(np.abs(audio - expected).max())
    print(f"\nArdour export vs the plan's render: max abs difference {error:.3g}; attempts: {log}")
    assert error <= RENDER_TOLERANCE
    assert np.abs(expected).max() > 0.3  # something was rendered

    renderer = importlib.util.find_spec("daw_bridge.render") and getattr(
        importlib.import_module("daw_bridge.render"), "render", None)
    if renderer is not None:  # the renderer (written in parallel) renders the same plan the same way
        rendered = renderer(plan, normalize=False, tail_s=0)
        ours = np.asarray(getattr(rendered, "audio", rendered), dtype=np.float64)
        assert ours.shape[0] == 2
        n = min(ours.shape[1], audio.shape[1])
        assert n >= expected.shape[1] - 1
        renderer_error = float(np.abs(ours[:, :n] - audio[:, :n]).max())
        print(f"Ardour export vs daw_bridge.render: max abs difference {renderer_error:.3g}")
        assert renderer_error <= RENDER_TOLERANCE
        assert np.abs(ours[:, n:]).max(initial=0.0) <= 1e-4  # only a silent tail beyond

    # Ardour's own save of the session reads back as the plan (Ardour writes float32 values
    # and keeps in-place files by bare name plus an audio search path)
    assert read_ardour_session(folder).tracks == read_ardour_session(result.path).tracks  # instant.xml's snapshot
    resaved = read_ardour_session(folder / "resaved.ardour")
    check_round_trip(plan, resaved, result, tolerance=1e-6)
    assert {k: sha256(p) for k, p in stems.items()} == hashes


def test_solo_in_ardour_matches_the_plan(stems, tmp_path):
    """A soloed track: only soloed, unmuted tracks are heard, in Ardour as in the plan."""
    plan = Session(name="solo", sample_rate=SR, tracks=[
        Track(name="Kick", file=stems["kick"], gain_db=-3.0, pan=-0.2, solo=True),
        Track(name="Gtr", file=stems["gtr"], gain_db=0.0, pan=0.3),
        Track(name="Vox", file=stems["vox"], gain_db=0.0, pan=0.0, solo=True, mute=True),
    ])
    result = write_ardour_session(plan, tmp_path / "solo")
    routes, _ = parse_inspection(run_lua(result.folder, "solo", "resaved", tmp_path))
    assert routes["Kick"]["soloed"] and not routes["Gtr"]["soloed"] and routes["Vox"]["muted"]
    expected = expected_render(plan)
    assert np.abs(expected[:, : SR // 10]).max() > 0.1
    audio = ardour_export(result.folder, "solo", tmp_path / "solo.wav", expected.shape[1], expected)
    assert np.abs(audio - expected).max() <= RENDER_TOLERANCE


def test_moved_ardour_session_still_renders_in_ardour(stems, tmp_path):
    """Issue 19 (6): a written session folder holds its audio, named relatively; moved and renamed,
    with the stems it was made from gone, Ardour still loads it and renders the plan."""
    import shutil

    mine = tmp_path / "mine"
    mine.mkdir()
    for key in ("kick", "gtr", "bass44", "multi"):
        shutil.copyfile(stems[key], mine / stems[key].name)
    plan = Session(name="moving", sample_rate=SR, tracks=[
        Track(name="Kick", file=mine / "kick.wav", gain_db=-3.0, pan=-0.2),
        Track(name="Gtr", file=mine / "gtr.wav", gain_db=-1.0, pan=0.3, offset_s=0.05),
        Track(name="Bass", file=mine / "bass_44k.wav", gain_db=-2.0),  # converted: 44.1 kHz
        Track(name="Tom", file=mine / "multi.wav", channel=1, pan=0.5),
    ])
    expected = expected_render(plan)
    result = write_ardour_session(plan, tmp_path / "first place", mix=stems["mix"])
    assert "so it can move" in " ".join(result.notes)
    shutil.rmtree(mine)
    moved = tmp_path / "elsewhere" / "moved session"
    moved.parent.mkdir()
    result.folder.rename(moved)
    back = read_ardour_session(moved)
    assert all(t.file.is_relative_to(moved) and t.file.is_file() for t in back.tracks)
    audio = ardour_export(moved, "moving", tmp_path / "moved.wav", expected.shape[1], expected)
    assert np.abs(audio - expected).max() <= RENDER_TOLERANCE
    assert np.abs(expected).max() > 0.1


def test_reader_matches_what_ardour_plays_for_ardour_style_tracks(stems, tmp_path):
    """Sessions Ardour itself makes: a stereo track recorded as two mono files with the default
    Equal Power Stereo panner at centre, and a mono region on a stereo track. The plan read
    from it must render what Ardour renders."""
    import xml.etree.ElementTree as ET

    left, right = tmp_path / "gtr%L.wav", tmp_path / "gtr%R.wav"
    gtr = sf.read(stems["gtr"], dtype="float32")[0]
    sf.write(left, gtr[:, 0], SR, subtype="FLOAT")
    sf.write(right, gtr[:, 1], SR, subtype="FLOAT")
    plan = Session(name="a", sample_rate=SR, tracks=[
        Track(name="Gtr", file=stems["gtr"], gain_db=-2.0, offset_s=0.1),
        Track(name="Keys", file=stems["keys"], gain_db=-1.0, pan=0.4),
        Track(name="Vox", file=stems["vox"], gain_db=1.0, pan=0.3),
    ])
    result = write_ardour_session(plan, tmp_path / "a")
    tree = ET.parse(result.path)
    root = tree.getroot()
    sources = root.find("Sources")
    for source in list(sources):
        if source.get("name") == "gtr.wav":
            source.set("name", str(left if source.get("channel") == "0" else right))
            source.set("channel", "0")
        if source.get("name") == "keys.wav" and source.get("channel") == "1":
            sources.remove(source)
    routes = {r.get("name"): r for r in root.find("Routes")}
    routes["Gtr"].find("Processor[@type='main-outs']/PannerShell").set("user-panner", "")  # Equal Power Stereo
    for region in root.iter("Region"):  # Keys: only the left channel of its file, on a stereo track
        if region.get("name", "").startswith("Keys"):
            del region.attrib["source-1"], region.attrib["master-source-1"]
            region.set("channels", "1")
    tree.write(result.path, encoding="utf-8", xml_declaration=True)

    back = read_ardour_session(result.folder)
    assert [t.name for t in back.tracks] == ["Gtr L", "Gtr R", "Keys", "Vox"]
    assert [t.pan for t in back.tracks[:2]] == [-1.0, 1.0]
    assert back.tracks[0].file == left and back.tracks[1].file == right
    assert back.tracks[2].channel == 0  # one channel of the stereo file
    assert any("two files" in n for n in back.notes) and any("mono region on a stereo track" in n for n in back.notes)
    expected = expected_render(back)
    audio = ardour_export(result.folder, "a", tmp_path / "a.wav", expected.shape[1], expected)
    assert np.abs(audio - expected).max() <= RENDER_TOLERANCE


# --------------------------------------------------------------------------- round trip (no Ardour needed)


def check_round_trip(plan: Session, back: Session, result, tolerance: float) -> None:
    by_route = {t.route: t for t in result.tracks}
    assert back.sample_rate == plan.sample_rate
    assert [t.name for t in back.tracks] == [t.route for t in result.tracks]
    for original, read in zip(plan.tracks, back.tracks):
        mapping = by_route[read.name]
        assert read.file == mapping.source  # the session's own copy (or hard link)
        if mapping.converted:
            assert read.channel is None
        else:
            assert read.channel == original.channel and sha256(read.file) == sha256(original.file)
        assert read.offset_s == pytest.approx(original.offset_s, abs=tolerance)
        assert read.gain_db == pytest.approx(original.gain_db, abs=tolerance)
        assert read.pan == pytest.approx(original.pan, abs=tolerance)
        assert (read.mute, read.solo, read.role) == (original.mute, original.solo, original.role)
        assert read.plugins == []


def test_write_read_round_trip(stems, tmp_path):
    plan = make_plan(stems)
    plan.tracks[1].solo = True
    result = write_ardour_session(plan, tmp_path / "rt", mix=stems["mix"], name="Round trip")
    assert result.path.name == "Round trip.ardour"
    for where in (result.path, result.folder):
        back = read_ardour_session(where)
        assert back.name == "Round trip"
        check_round_trip(plan, back, result, tolerance=1e-9)
        assert all(t.name != AI_MIX_TRACK for t in back.tracks)
        back.resolve_paths()  # a valid session


def test_round_trip_other_pan_law_and_gains(stems, tmp_path):
    plan = Session(name="law", sample_rate=SR, pan_law_db=-4.5, tracks=[
        Track(name=f"T{i}", file=stems["vox"], gain_db=g, pan=p)
        for i, (g, p) in enumerate([(-120.0, 0.4), (24.0, -0.9), (6.0, 0.0), (0.0, 1.0), (-0.5, -1.0)])
    ])
    result = write_ardour_session(plan, tmp_path / "law")
    assert result.tracks[1].trim_db > 0 and result.tracks[0].fader_db < -119
    back = read_ardour_session(result.folder, pan_law_db=-4.5)
    for original, read in zip(plan.tracks, back.tracks):
        assert read.gain_db == pytest.approx(original.gain_db, abs=1e-9)
        assert read.pan == pytest.approx(original.pan, abs=1e-9)


def test_relative_paths_and_base_dir(stems, tmp_path):
    plan = Session(name="rel", sample_rate=SR, tracks=[Track(name="Kick", file=Path(stems["kick"].name))])
    result = write_ardour_session(plan, tmp_path / "rel", base_dir=stems["kick"].parent)
    read = read_ardour_session(result.folder).tracks[0].file
    assert read == result.folder / "interchange" / "rel" / "audiofiles" / "kick.wav"
    assert sha256(read) == sha256(stems["kick"])


# --------------------------------------------------------------------------- refusals and safety


def test_existing_out_dir_refused_unless_force(stems, tmp_path):
    plan = Session(name="s", sample_rate=SR, tracks=[Track(name="Kick", file=stems["kick"])])
    folder = tmp_path / "s"
    first = write_ardour_session(plan, folder)
    before = first.path.read_bytes()
    with pytest.raises(SessionWriteError) as err:
        write_ardour_session(plan, folder)
    assert_one_line(str(err.value))
    assert "exists; pass --force to replace it" in str(err.value)
    assert first.path.read_bytes() == before

    (folder / "interchange" / "s" / "audiofiles" / "take 2.wav").write_bytes(b"a recorded take")
    plan.tracks[0].gain_db = -7.0
    second = write_ardour_session(plan, folder, force=True)
    assert second.path.read_bytes() != before
    # --force replaces only what automix wrote: the take recorded into the session stays
    assert (folder / "interchange" / "s" / "audiofiles" / "take 2.wav").read_bytes() == b"a recorded take"
    assert read_ardour_session(folder).tracks[0].gain_db == pytest.approx(-7.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no temporary folders left

    other = tmp_path / "not a session"
    other.mkdir()
    (other / "precious.txt").write_text("keep")
    with pytest.raises(SessionWriteError, match="was not written by automix"):
        write_ardour_session(plan, other, force=True)
    assert (other / "precious.txt").read_text() == "keep"


def test_force_never_writes_over_a_session_whose_audio_it_reads(stems, tmp_path):
    plan = Session(name="s", sample_rate=SR, tracks=[Track(name="Bass", file=stems["bass44"])])
    folder = tmp_path / "s"
    write_ardour_session(plan, folder)
    read = read_ardour_session(folder)  # its track plays the converted copy inside the folder
    assert folder in read.tracks[0].file.parents
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with pytest.raises(SessionWriteError, match="holds an input of this command"):
        write_ardour_session(read, folder, force=True)
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_failure_midway_leaves_nothing(stems, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunk")
    plan = Session(name="s", sample_rate=SR, tracks=[
        Track(name="Bass", file=stems["bass44"]),  # converted first: a file is written before the failure
        Track(name="Broken", file=bad),
    ])
    out = tmp_path / "out"
    out_parent_before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(AudioError) as err:
        write_ardour_session(plan, out)
    assert_one_line(str(err.value))
    assert sorted(p.name for p in tmp_path.iterdir()) == out_parent_before
    # with force, the old session stays as it was
    good = Session(name="s", sample_rate=SR, tracks=[Track(name="Kick", file=stems["kick"])])
    write_ardour_session(good, out)
    before = (out / "s.ardour").read_bytes()
    with pytest.raises(AudioError):
        write_ardour_session(plan, out, force=True)
    assert (out / "s.ardour").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(out_parent_before + ["out"])


def test_writer_refusals(stems, tmp_path):
    base = Session(name="s", sample_rate=SR, tracks=[Track(name="M", file=stems["multi"])])
    with pytest.raises(SessionWriteError, match="4 channels") as err:
        write_ardour_session(base, tmp_path / "a")
    assert_one_line(str(err.value))
    base.tracks[0].channel = 7
    with pytest.raises(SessionWriteError, match="channel 7"):
        write_ardour_session(base, tmp_path / "b")
    plan = Session(name="s", sample_rate=SR, tracks=[Track(name="K", file=stems["kick"])])
    with pytest.raises(SessionWriteError, match="stereo"):
        write_ardour_session(plan, tmp_path / "c", mix=stems["kick"])
    with pytest.raises(AudioError, match="does not exist"):
        write_ardour_session(plan, tmp_path / "d", mix=tmp_path / "nope.wav")
    with pytest.raises(SessionWriteError, match="does not exist"):
        write_ardour_session(plan, tmp_path / "missing" / "e")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def written_xml(stems, tmp_path) -> tuple[Path, str]:
    plan = Session(name="x", sample_rate=SR, tracks=[Track(name="Kick", file=stems["kick"], gain_db=-3.0)])
    result = write_ardour_session(plan, tmp_path / "x")
    return result.path, result.path.read_text()


@pytest.mark.parametrize("prolog, what", [
    ('<!DOCTYPE Session [<!ENTITY boom "boom">]>', "entity declaration"),
    ('<!DOCTYPE Session [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>', "entity declaration"),
    ('<!DOCTYPE Session [<!ENTITY ext SYSTEM "file:///etc/passwd">]>', "entity declaration"),
    ('<!DOCTYPE Session [<!ENTITY % p SYSTEM "http://example.invalid/x.dtd"> %p;]>', "entity declaration"),
    ('<!DOCTYPE Session SYSTEM "http://example.invalid/session.dtd">', "external reference"),
    ('<!DOCTYPE Session PUBLIC "-//x//y" "session.dtd">', "external reference"),
])
def test_reader_refuses_entities_and_external_references(stems, tmp_path, prolog, what):
    path, text = written_xml(stems, tmp_path)
    text = text.replace("<Session ", prolog + "\n<Session ", 1)
    path.write_text(text)
    with pytest.raises(ArdourSessionError) as err:
        read_ardour_session(path)
    message = str(err.value)
    assert_one_line(message)
    assert what in message and "refusing to read it" in message and str(path) in message


def test_reader_refuses_what_is_not_an_ardour_session(stems, tmp_path):
    cases = {
        "other.ardour": '<?xml version="1.0"?><project><track/></project>',
        "broken.ardour": "<Session version='7002' sample-rate='48000'><Routes>",
        "text.ardour": "not xml at all",
    }
    for name, text in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(ArdourSessionError) as err:
            read_ardour_session(p)
        assert_one_line(str(err.value))
        assert str(p) in str(err.value)
    for missing in (tmp_path / "nope.ardour", tmp_path / "nope"):
        with pytest.raises(ArdourSessionError, match="does not exist"):
            read_ardour_session(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArdourSessionError, match="no .ardour file"):
        read_ardour_session(empty)
    assert isinstance(ArdourSessionError("x"), SessionReadError)
    assert issubclass(SessionReadError, AutomixError) and issubclass(SessionWriteError, AutomixError)


def test_reader_notes_what_the_model_cannot_hold(stems, tmp_path):
    import xml.etree.ElementTree as ET

    plan = Session(name="n", sample_rate=SR, tracks=[
        Track(name="Kick", file=stems["kick"], gain_db=-3.0, pan=0.2, offset_s=0.5),
        Track(name="Gtr", file=stems["gtr"], pan=0.4),
    ])
    result = write_ardour_session(plan, tmp_path / "n")
    tree = ET.parse(result.path)
    root = tree.getroot()
    playlists = root.find("Playlists").findall("Playlist")
    kick_region = playlists[0].find("Region")
    second = ET.fromstring(ET.tostring(kick_region))
    second.set("id", "9001")
    second.set("length", f"a{SR // 4 * 5880}@a{3 * SR * 5880}")  # 3 s, a quarter of the file ...
    second.set("start", f"a{SR // 2 * 5880}")  # ... from its middle: trimmed
    playlists[0].append(second)
    gtr_region = playlists[1].find("Region")
    gtr_region.set("length", re.sub(r"@a\d+", "@b1920", gtr_region.get("length")))  # musical time
    kick_route = next(r for r in root.find("Routes") if r.get("name") == "Kick")
    amp = next(p for p in kick_route.findall("Processor") if p.get("type") == "amp")
    alist = amp.find("Automation/AutomationList")
    alist.set("state", "Play")
    alist.text = "a0 1\na282240000 0.5\n"
    ET.SubElement(kick_route, "Processor", {"id": "9100", "name": "ACE Compressor", "active": "1", "type": "lv2"})
    tree.write(result.path, encoding="utf-8", xml_declaration=True)

    back = read_ardour_session(result.path)
    names = [t.name for t in back.tracks]
    assert names == ["Kick.1", "Kick.2"]  # Gtr (musical time) skipped, with a note
    assert back.tracks[0].offset_s == pytest.approx(0.5) and back.tracks[0].gain_db == pytest.approx(-3.0)
    assert back.tracks[1].offset_s == pytest.approx(2.5)  # whole file placed so the audio keeps its time
    notes = " | ".join(back.notes)
    for fragment in ("2 regions", "trimmed", "ends before its file", "automation (gain)", "ACE Compressor",
                     "musical time"):
        assert fragment in notes, fragment
    assert all("\n" not in n for n in back.notes)


def test_reader_reads_plain_sample_times_and_missing_files(stems, tmp_path):
    import xml.etree.ElementTree as ET

    plan = Session(name="p", sample_rate=SR, tracks=[Track(name="Vox", file=stems["vox"], offset_s=0.75)])
    result = write_ardour_session(plan, tmp_path / "p")
    tree = ET.parse(result.path)
    for region in tree.getroot().iter("Region"):  # an Ardour 6 style region: plain samples
        length = region.get("length")
        region.set("length", str(int(length.split("@")[0][1:]) // 5880))
        region.set("position", str(int(length.split("@")[1][1:]) // 5880))
        region.set("start", "0")
    source = tree.getroot().find("Sources/Source")
    source.set("name", str(tmp_path / "gone.wav"))
    tree.write(result.path, encoding="utf-8", xml_declaration=True)
    back = read_ardour_session(result.path)
    assert back.tracks[0].offset_s == 0.75 and back.tracks[0].file == tmp_path / "gone.wav"
    assert any("missing" in n for n in back.notes)


def test_ardour_module_never_imports_torch():
    code = ("import sys, daw_bridge.formats.ardour; "
            "assert 'torch' not in sys.modules, 'daw_bridge.formats.ardour imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
