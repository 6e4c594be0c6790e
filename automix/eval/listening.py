"""The listening page of an evaluation report: ``index.html``, an A/B player, the metrics and the plots.

:func:`write_page` writes the page and, beside it in ``audio/``, one 16-bit FLAC file per system
(the reference, the mix, every baseline). Nothing on the page comes from the network. The
player has one transport; switching system keeps the play position. By default every system
plays at the reference's integrated loudness (BS.1770, measured here); a toggle plays the levels
as delivered. Details: ``docs/evaluation.md``.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf

from daw_bridge.audio import SILENCE_LUFS
from daw_bridge.loudness import measure_loudness

if TYPE_CHECKING:
    from automix.eval.evaluate import EvaluationReport

__all__ = ["AUDIO_FOLDER", "PAGE", "Track", "page_html", "tracks_for", "write_page"]

PAGE = "index.html"
AUDIO_FOLDER = "audio"
_PEAK = 0.99  # a system peaking higher is scaled down in its file (16-bit FLAC holds +-1) and up by the player
REFERENCE = "reference"


@dataclass(frozen=True)
class Track:
    """One system on the page: its file, its loudness and the volumes the player gives it.

    ``gain_db`` brings the system to the reference's integrated loudness (0 for the reference and
    for silent systems). The file holds the system times ``scale`` (below 1 only for a system
    peaking over 0.99: 16-bit FLAC holds +-1). ``matched`` and ``raw`` are the ``<audio>``
    volumes (at most 1) that play it loudness-matched or at the delivered level; in each mode all
    systems share one trim, so the largest volume is exactly 1.
    """

    name: str
    file: str
    lufs: float
    gain_db: float
    scale: float
    matched: float
    raw: float


def _stereo(audio: np.ndarray) -> np.ndarray:
    """``[2, T]`` float32; mono plays on both channels (as the evaluation compares it)."""
    arr = np.asarray(audio, dtype=np.float32)
    arr = arr[np.newaxis] if arr.ndim == 1 else arr
    return np.repeat(arr, 2, axis=0) if arr.shape[0] == 1 else arr


def _file_name(index: int, name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "system"
    return f"{AUDIO_FOLDER}/{index + 1:02d}-{slug}.flac"


def _volumes(gains: Sequence[float], scales: Sequence[float]) -> list[float]:
    """Volumes playing files scaled by ``scales`` at linear ``gains``, trimmed so the largest is 1."""
    wanted = [g / s for g, s in zip(gains, scales)]
    top = max(wanted)
    return [w / top for w in wanted]


def tracks_for(signals: Mapping[str, np.ndarray], sample_rate: int) -> list[Track]:
    """Each system of ``signals`` as a :class:`Track` (the reference's loudness measured here)."""
    audio = {name: _stereo(x) for name, x in signals.items()}
    names = list(audio)
    lufs = [measure_loudness(audio[n], sample_rate) for n in names]
    target = lufs[names.index(REFERENCE)] if REFERENCE in audio else lufs[0]
    gains_db = [0.0 if min(level, target) <= SILENCE_LUFS else target - level for level in lufs]
    peaks = [float(np.max(np.abs(audio[n]))) for n in names]
    scales = [min(1.0, _PEAK / peak) if peak > 0 else 1.0 for peak in peaks]
    matched = _volumes([10.0 ** (g / 20.0) for g in gains_db], scales)
    raw = _volumes([1.0] * len(names), scales)
    return [
        Track(n, _file_name(i, n), lufs[i], gains_db[i], scales[i], matched[i], raw[i]) for i, n in enumerate(names)
    ]


# --------------------------------------------------------------------------------------------
# The page

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1400px; margin: 1.5em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
#player { position: sticky; top: 0; background: #fff; padding: .6em 0; border-bottom: 1px solid #ddd; z-index: 1; }
#systems { display: flex; flex-wrap: wrap; gap: .4em; }
#systems button { font: inherit; padding: .35em .8em; border: 1px solid #888; border-radius: 4px;
                  background: #f4f4f4; cursor: pointer; }
#systems button small { display: block; color: #666; font-size: .8em; }
#systems button[aria-pressed="true"] { background: #2a5d9f; border-color: #2a5d9f; color: #fff; }
#systems button[aria-pressed="true"] small { color: #dde; }
.transport { display: flex; align-items: center; gap: .8em; margin: .6em 0; }
.transport button { font: inherit; min-width: 5em; padding: .35em; }
#seek { flex: 1; }
#clock { font-variant-numeric: tabular-nums; }
.hint { color: #555; font-size: .9em; margin: .2em 0; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; }
td { text-align: right; font-variant-numeric: tabular-nums; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; display: block; margin: .8em 0; }
"""

_SCRIPT = """
(() => {
"use strict";
const tracks = [...document.querySelectorAll("#player audio")];
const buttons = [...document.querySelectorAll("#systems button")];
const play = document.getElementById("play"), seek = document.getElementById("seek");
const clock = document.getElementById("clock"), matched = document.getElementById("matched");
let current = Math.max(0, buttons.findIndex(b => b.getAttribute("aria-pressed") === "true"));

const clockText = s => Math.floor(s / 60) + ":" + (s % 60).toFixed(1).padStart(4, "0");
function start(audio) {
  audio.play().catch(e => { if (e.name !== "AbortError") console.error("cannot play: " + e.message); });
}
function show() {
  const audio = tracks[current];
  seek.value = audio.currentTime;
  clock.textContent = clockText(audio.currentTime) + " / " + clockText(Number(seek.max));
  play.textContent = audio.paused ? "Play" : "Pause";
}
function levels() {
  for (const audio of tracks) audio.volume = Number(matched.checked ? audio.dataset.matched : audio.dataset.raw);
}
function select(index) {  // the new system starts where the old one was, playing if it played
  const from = tracks[current], to = tracks[index];
  if (to !== from) {
    const playing = !from.paused;
    to.currentTime = from.currentTime;
    from.pause();
    if (playing) start(to);
    current = index;
  }
  buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(i === index)));
  show();
}

buttons.forEach((b, i) => b.addEventListener("click", () => select(i)));
play.addEventListener("click", () => tracks[current].paused ? start(tracks[current]) : tracks[current].pause());
seek.addEventListener("input", () => { tracks[current].currentTime = Number(seek.value); });
matched.addEventListener("change", levels);
for (const audio of tracks) for (const e of ["timeupdate", "play", "pause", "ended"]) audio.addEventListener(e, show);
document.addEventListener("keydown", e => {
  const index = "123456789".indexOf(e.key);
  if (index >= 0 && index < buttons.length) select(index);
});
levels();
select(current);
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _db(value: float) -> str:
    return f"{round(value, 1) + 0.0:+.1f}"  # + 0.0: no "-0.0"


def _player(tracks: Sequence[Track], seconds: float, caption: str) -> str:
    start = next((i for i, t in enumerate(tracks) if t.name != REFERENCE), 0)
    target = next((t.lufs for t in tracks if t.name == REFERENCE), tracks[0].lufs)
    buttons, audios = [], []
    for i, t in enumerate(tracks):
        level = f"{t.lufs:.1f} LUFS" + (f", {_db(t.gain_db)} dB" if t.name != REFERENCE else "")
        buttons.append(
            f'<button type="button" aria-pressed="{str(i == start).lower()}" '
            f'title="key {i + 1}; gain to the reference\'s loudness {_db(t.gain_db)} dB">'
            f"{_e(t.name)}<small>{level}</small></button>"
        )
        audios.append(
            f'<audio src="{_e(t.file)}" preload="auto" data-system="{_e(t.name)}" '
            f'data-matched="{t.matched:.6g}" data-raw="{t.raw:.6g}"></audio>'
        )
    first = tracks[0]  # every system shares each mode's trim
    matched_db = 20 * math.log10(first.matched * first.scale) - first.gain_db
    raw_db = 20 * math.log10(first.raw * first.scale)
    return "\n".join([
        '<section id="player">',
        f'<h2>Listen{_e(caption)}</h2>',
        f'<div id="systems">{"".join(buttons)}</div>',
        '<div class="transport"><button type="button" id="play">Play</button>',
        f'<input type="range" id="seek" min="0" max="{seconds:.3f}" step="0.01" value="0" aria-label="position">',
        '<span id="clock"></span></div>',
        (
            f'<label><input type="checkbox" id="matched" checked> loudness-matched: every system at the '
            f"reference's integrated loudness ({target:.1f} LUFS); off: the levels as delivered</label>"
        ),
        (
            f'<p class="hint">Keys 1-{len(tracks)} switch system at the same position. A page cannot turn a '
            f"file up, so all systems play {abs(matched_db):.1f} dB below that loudness when matched and "
            f"{abs(raw_db):.1f} dB below their levels as delivered (the loudest at full volume).</p>"
        ),
        *audios,
        "</section>",
    ])


def _table(report: EvaluationReport, systems: dict[str, dict[str, float]]) -> str:
    headers, rows = report.table(systems)
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        f"<tr><td>{_e(name)}</td>"
        + "".join(f"<td><strong>{_e(text)}</strong></td>" if best else f"<td>{_e(text)}</td>" for text, best in cells)
        + "</tr>"
        for name, cells in rows
    )
    return f'<table class="metrics"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _metrics(report: EvaluationReport) -> str:
    parts = ['<section id="metrics">', "<h2>Metrics</h2>", _table(report, report.systems)]
    parts.append(f'<p class="hint">{_e(report.legend())}</p>')
    if report.per_item:
        parts.append(f"<details><summary>Per take ({len(report.per_item)})</summary>")
        for item, systems in report.per_item.items():
            parts += [f"<h3>{_e(item)}</h3>", _table(report, systems)]
        parts.append("</details>")
    if report.notes:
        parts += ["<h3>Notes</h3>", "<ul>", *(f"<li>{_e(n)}</li>" for n in report.notes), "</ul>"]
    return "\n".join(parts + ["</section>"])


def _plots(plots: Sequence[str]) -> str:
    if not plots:
        return ""
    images = "\n".join(f'<img src="{_e(name)}" alt="{_e(Path(name).stem)}">' for name in plots)
    return f'<section id="plots">\n<h2>Plots</h2>\n{images}\n</section>'


def page_html(report: EvaluationReport, tracks: Sequence[Track], plots: Sequence[str] = ()) -> str:
    """The page's HTML: the player over ``tracks``, the metric tables and the ``plots`` (file names)."""
    seconds = next(iter(report.signals.values())).shape[-1] / report.sample_rate
    take = report.info.get("plotted_take")
    caption = f" (take {take})" if take else ""
    return "\n".join([
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>automix evaluation</title><style>{_STYLE}</style></head><body>",
        "<h1>Evaluation</h1>",
        f"<p>{_e(report.summary())}</p>" if report.summary() else "",
        _player(tracks, seconds, caption),
        _metrics(report),
        _plots(plots),
        f"<script>{_SCRIPT}</script>",
        "</body></html>",
        "",
    ])


def write_page(report: EvaluationReport, folder: Path, plots: Sequence[str] = ()) -> list[str]:
    """Write ``index.html`` and ``audio/*.flac`` for ``report`` (which has audio) into ``folder``.

    ``plots``: names of image files already in ``folder``, shown in this order. Returns the
    names written, relative to ``folder``.
    """
    if not report.signals or not report.sample_rate:
        raise ValueError("the report holds no audio to listen to")
    tracks = tracks_for(report.signals, report.sample_rate)
    (folder / AUDIO_FOLDER).mkdir(exist_ok=True)
    for track in tracks:
        audio = _stereo(report.signals[track.name]) * track.scale
        sf.write(str(folder / track.file), audio.T, report.sample_rate, format="FLAC", subtype="PCM_16")
    (folder / PAGE).write_text(page_html(report, tracks, plots), encoding="utf-8")
    return [PAGE] + [t.file for t in tracks]
