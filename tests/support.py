"""Builders the test modules share: synthetic drum stems, running the CLI, reading results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from automix.cli import main
from daw_bridge.stems import DRUM_SLOTS

SR = 44100
SECONDS = 1.5
N = int(SECONDS * SR)  # 66150 frames

#: File name per slot, in the model's slot order (DRUM_SLOTS).
DRUM_FILES = (
    "01 Kick In.wav",
    "02 Snare.wav",
    "HH.wav",
    "Tom 1.wav",
    "Tom 2.wav",
    "Floor Tom.wav",
    "OH L.wav",
    "OH R.wav",
)
SLOT_OF = dict(zip(DRUM_FILES, DRUM_SLOTS))


def drum_signal(index: int, n: int = N, sr: int = SR, seed: int | None = None) -> np.ndarray:
    """Mono float32 test stem: a decaying sine plus decaying noise bursts, peak about 0.5."""
    rng = np.random.default_rng(index if seed is None else seed)
    t = np.arange(n) / sr
    period = 0.25 + 0.05 * (index % 4)
    phase = t % period
    tone = np.sin(2 * np.pi * (60.0 + 70.0 * index) * t) * np.exp(-6.0 * phase)
    noise = rng.standard_normal(n) * np.exp(-25.0 * ((t + 0.1 * index) % 0.3))
    x = 0.35 * tone + 0.08 * noise
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray, sr: int = SR, subtype: str = "PCM_24") -> Path:
    """Write ``audio`` (1-D mono or [C, T]) and return the path."""
    arr = np.asarray(audio, dtype=np.float32)
    sf.write(str(path), arr.T if arr.ndim == 2 else arr, sr, subtype=subtype)
    return path


def make_stems(
    folder: Path,
    names=DRUM_FILES,
    *,
    n: int = N,
    sr: int = SR,
    subtype: str = "PCM_24",
) -> dict[str, np.ndarray]:
    """Write one mono stem per name into ``folder``; return {name: audio as read back (float32)}."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for name in names:
        index = DRUM_FILES.index(name) if name in DRUM_FILES else 8 + len(arrays)
        path = write_wav(folder / name, drum_signal(index, n, sr), sr, subtype)
        arrays[name] = read_mono(path)
    return arrays


def read_mono(path: Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return data[:, 0].copy()


def read_mix(path: Path) -> np.ndarray:
    """A written mix as float32 [channels, frames]."""
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.ascontiguousarray(data.T)


def slot_array(arrays: dict[str, np.ndarray], length: int | None = None) -> np.ndarray:
    """[8, T] stems in slot order from {file name: mono audio} (missing slots silent)."""
    length = length or max(a.shape[-1] for a in arrays.values())
    data = np.zeros((len(DRUM_SLOTS), length), dtype=np.float32)
    for name, audio in arrays.items():
        data[DRUM_SLOTS.index(SLOT_OF[name]), : audio.shape[-1]] = audio
    return data


def cli(capsys, *argv) -> tuple[int, str, str]:
    """Run ``automix ARGV`` in-process; return (exit code, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def run_process(*argv, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run(
        [sys.executable, "-m", "automix", *map(str, argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def listing(folder: Path) -> list[str]:
    """Every entry of ``folder``, hidden ones (temporary files) included."""
    return sorted(os.listdir(folder))


def assert_one_error(err: str, *needles: str) -> str:
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, f"expected exactly one stderr line, got {len(lines)}:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def stem_folder(folder: Path, names=DRUM_FILES) -> Path:
    """``folder`` with one synthetic stem per name written into it (see :func:`make_stems`)."""
    make_stems(folder, names)
    return folder


# --------------------------------------------------------------------------- real processes, signals, leftovers

ROOT = Path(__file__).resolve().parents[1]


def process_env() -> dict[str, str]:
    """The environment of an ``automix`` subprocess: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _interruptible() -> None:
    """In the child: SIGINT at its default, as at a terminal. A test run started in the background
    (``cmd &``, nohup) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_process(*argv, cwd=None) -> subprocess.Popen:
    """``python -m automix ARGV`` started in the background (stdout and stderr piped, text), its
    SIGINT at the default whatever the test run inherited."""
    return subprocess.Popen([sys.executable, "-m", "automix", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=process_env(), preexec_fn=_interruptible)


def wait_until(condition, proc: subprocess.Popen | None = None, timeout: float = 120.0, what: str = "") -> None:
    """Poll ``condition()`` until it holds; fail when ``proc`` ends first or ``timeout`` passes."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the process ended (rc {proc.returncode}) before {what}:\n{err[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def automix_temps(*folders: Path) -> list[Path]:
    """Temporary files and folders automix makes (``.NAME.automix-...``, ``*.part``) under ``folders``."""
    import re

    pattern = re.compile(r"\.automix-[0-9a-f]{6}-[0-9]+-[0-9a-f]{8}\.[a-z]+|\.part$|^\.automix-(remix|render|probe)")
    found = []
    for folder in folders:
        if folder.is_dir():
            found += [p for p in folder.rglob("*") if pattern.search(p.name)]
    return sorted(found)


def tree_hashes(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folders`` (hidden ones too)."""
    import hashlib

    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def open_files_under(pid: int, folder: Path) -> bool:
    """Whether the process ``pid`` has a file under ``folder`` open (Linux ``/proc``): its work started."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    prefix = str(folder.resolve())
    return any(link.startswith(prefix) for link in links)
