"""The listening page of evaluation reports (automix.eval.listening), checked in headless Chromium.

The page is written by ``EvaluationReport.save`` for a small report of 2 s signals and loaded in
Debian's ``chromium`` driven over the DevTools protocol (tests/browser.py): it must load without
a console error, decode every audio file, keep the play position when switching system and
play the systems at the levels the report measured. A screenshot is kept (tmp_path, and
``$AUTOMIX_TEST_ARTIFACTS`` when set).
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from automix.eval.evaluate import EvaluationReport
from daw_bridge.loudness import measure_loudness
from tests.browser import Browser
from tests.support import drum_signal

SR = 44100
N = 2 * SR
SYSTEMS = ["reference", "mix", "too loud", "mono"]

DECODED = """new Promise(done => {
  const audio = [...document.querySelectorAll("audio")], until = Date.now() + 10000;
  (function check() {
    if (audio.every(a => a.readyState >= 2) || Date.now() > until)
      done(audio.map(a => ({system: a.dataset.system, ready: a.readyState, duration: a.duration})));
    else setTimeout(check, 20);
  })();
})"""
VOLUMES = '[...document.querySelectorAll("audio")].map(a => a.volume)'
PAGE_JS = """(() => {
const audio = [...document.querySelectorAll("audio")];
const buttons = [...document.querySelectorAll("#systems button")];
const seek = document.getElementById("seek"), play = document.getElementById("play");
const pressed = () => buttons.findIndex(b => b.getAttribute("aria-pressed") === "true");
"""
SWITCH_PAUSED = PAGE_JS + """buttons[0].click();
seek.value = 1.25; seek.dispatchEvent(new Event("input"));
buttons[2].click();
return {position: audio[2].currentTime, pressed: pressed(), paused: audio.map(a => a.paused)};
})()"""
SWITCH_PLAYING = PAGE_JS + """return new Promise(done => {
  play.click();
  setTimeout(() => {
    const before = audio[2].currentTime;
    buttons[1].click();
    const after = audio[1].currentTime;
    setTimeout(() => done({before, after, later: audio[1].currentTime, pressed: pressed(),
                           paused: audio.map(a => a.paused), label: play.textContent}), 300);
  }, 300);
});
})()"""


def signals() -> dict[str, np.ndarray]:
    """A stereo reference, a mix 6 dB down, a system peaking over full scale and a mono one."""
    stems = [drum_signal(i, N) for i in range(3)]
    reference = np.stack([stems[0] + 0.8 * stems[1] + 0.3 * stems[2], stems[0] + 0.3 * stems[1] + 0.8 * stems[2]])
    return {
        "reference": reference,
        "mix": 0.5 * reference,
        "too loud": 3.0 * np.stack([stems[1], stems[2]]),
        "mono": drum_signal(3, N),
    }


def report() -> EvaluationReport:
    metrics = {"si_sdr": 3.0, "mrstft": 0.8}
    return EvaluationReport(
        systems={name: {k: v + i for k, v in metrics.items()} for i, name in enumerate(SYSTEMS[1:])},
        info={"kind": "pair", "estimate": "mix.wav", "reference": "reference.wav", "sample_rate": SR,
              "seconds": N / SR},
        sample_rate=SR,
        signals=signals(),
    )


def played_levels(folder: Path, volumes: list[float]) -> list[float]:
    """Loudness each system plays at: its file's loudness plus the player's volume."""
    files = sorted((folder / "audio").glob("*.flac"))
    levels = [measure_loudness(sf.read(str(f), dtype="float32")[0].T, SR) for f in files]
    return [level + 20 * math.log10(v) for level, v in zip(levels, volumes)]


def delivered_levels() -> list[float]:
    """The systems' own loudness, mono on both channels (as the page plays it)."""
    return [measure_loudness(np.stack([x, x]) if x.ndim == 1 else x, SR) for x in signals().values()]


def keep_artefact(path: Path) -> None:
    folder = os.environ.get("AUTOMIX_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, Path(folder) / path.name)


def test_page_and_audio_are_local_files_in_the_report(tmp_path):
    out = tmp_path / "report"
    written = report().save(out, plots=False)
    names = [str(p.relative_to(out)) for p in written]
    assert names == ["metrics.json", "report.md", "index.html", "audio/01-reference.flac", "audio/02-mix.flac",
                     "audio/03-too-loud.flac", "audio/04-mono.flac"]
    page = (out / "index.html").read_text()
    assert "http:" not in page and "https:" not in page and "<img" not in page  # no network; no plots asked
    for link in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert (out / link).is_file(), link
    for path in written[3:]:
        info = sf.info(str(path))
        assert (info.format, info.subtype, info.channels, info.frames, info.samplerate) == ("FLAC", "PCM_16", 2, N, SR)
    loud, _ = sf.read(str(out / "audio/03-too-loud.flac"), dtype="float32")
    assert 0.98 < np.abs(loud).max() <= 0.99  # scaled under full scale; the player turns the others down


def test_page_in_headless_chromium(tmp_path):
    out = tmp_path / "report"
    report().save(out)
    with Browser(tmp_path / "chromium-profile") as browser:
        browser.open((out / "index.html").as_uri())
        decoded = browser.evaluate(DECODED)
        assert [a["system"] for a in decoded] == SYSTEMS
        assert all(a["ready"] >= 2 and a["duration"] == pytest.approx(N / SR, abs=0.01) for a in decoded), decoded
        assert browser.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)") == [True] * 3
        width, height = browser.evaluate('(i => [i.naturalWidth, i.naturalHeight])(document.images[0])')
        assert width >= 1200 and height >= 600  # spectrograms: two large panels a row, two rows for four
        assert browser.evaluate('document.querySelectorAll("table.metrics tbody tr").length') == 3

        # loudness-matched by default: every system plays at one level; the loudest volume is 1
        volumes = browser.evaluate(VOLUMES)
        assert max(volumes) == pytest.approx(1.0, abs=1e-5)
        matched = played_levels(out, volumes)
        assert matched == pytest.approx([matched[0]] * len(SYSTEMS), abs=0.05)
        # raw levels: the systems' own differences
        browser.evaluate('document.getElementById("matched").click()')
        raw = played_levels(out, browser.evaluate(VOLUMES))
        delivered = delivered_levels()
        assert [r - raw[0] for r in raw] == pytest.approx([d - delivered[0] for d in delivered], abs=0.05)
        browser.evaluate('document.getElementById("matched").click()')
        assert browser.evaluate(VOLUMES) == volumes

        # switching keeps the position, paused and playing
        paused = browser.evaluate(SWITCH_PAUSED)
        assert paused == {"position": pytest.approx(1.25, abs=0.01), "pressed": 2, "paused": [True] * 4}
        playing = browser.evaluate(SWITCH_PLAYING)
        assert playing["before"] > 1.3, playing  # it played on from 1.25 s
        assert playing["after"] == pytest.approx(playing["before"], abs=0.05)
        assert playing["later"] > playing["after"] and playing["pressed"] == 1, playing
        assert playing["paused"] == [True, False, True, True] and playing["label"] == "Pause"

        screenshot = browser.screenshot(tmp_path / "listening.png")
        assert browser.errors() == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep_artefact(screenshot)
