"""What the DrumGizmo kit is built from and played with: the packages it needs, found or fetched.

The ``drumgizmo`` executable, Hydrogen's GMRockKit samples (the installed ``hydrogen-data``
package, or one fetched with ``apt-get download`` into automix's cache) and the velocity layers
of its ``drumkit.xml``. :mod:`automix.data.drumkit` re-exports the public names.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from automix.data.kit_catalogue import install_hint
from automix.data.segments import (
    cache_dir as default_cache_dir,  # the generator's kits live in automix's cache
)
from daw_bridge.errors import AutomixError

__all__ = ["APT_PACKAGES", "default_cache_dir", "find_drumgizmo", "find_gmrockkit"]

#: Debian packages that provide the renderer and the samples.
APT_PACKAGES = ("drumgizmo", "hydrogen-data")

_SYSTEM_HYDROGEN = Path("/usr/share/hydrogen/data/drumkits/GMRockKit")
_HYDROGEN_SUBDIR = Path("usr/share/hydrogen/data/drumkits/GMRockKit")
_HYDROGEN_NS = "{http://www.hydrogen-music.org/drumkit}"


def _install_hint() -> str:
    return install_hint(APT_PACKAGES)


def find_drumgizmo() -> str:
    """Path of the ``drumgizmo`` executable; :class:`AutomixError` with the install command if missing."""
    exe = shutil.which("drumgizmo")
    if exe is None:
        raise AutomixError(f"the drum generator needs DrumGizmo, which is not installed; run: {_install_hint()}")
    return exe


def _tool_version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    return lines[0] if lines else "unknown"


# --------------------------------------------------------------------------------------------
# Samples


def find_gmrockkit(cache: Path | None = None) -> Path:
    """The GMRockKit folder (holding Hydrogen's ``drumkit.xml`` and the WAV samples).

    Uses the installed ``hydrogen-data`` package if present, else a copy unpacked earlier into
    ``cache/hydrogen-data``, else fetches the package (``apt-get download hydrogen-data``, then
    ``dpkg -x``) into the cache. Raises :class:`AutomixError` saying what to install when that
    is impossible.
    """
    if (_SYSTEM_HYDROGEN / "drumkit.xml").is_file():
        return _SYSTEM_HYDROGEN
    root = (cache or default_cache_dir()) / "hydrogen-data"
    kit = root / _HYDROGEN_SUBDIR
    if (kit / "drumkit.xml").is_file():
        return kit
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise AutomixError(f"Hydrogen's GMRockKit samples are missing and apt-get is unavailable; run: {_install_hint()}")
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".hydrogen-data-", dir=root.parent) as tmp:
        tmp_path = Path(tmp)
        got = subprocess.run(["apt-get", "download", "hydrogen-data"], cwd=tmp_path, capture_output=True, text=True,
                             check=False)
        debs = sorted(tmp_path.glob("hydrogen-data_*.deb"))
        if got.returncode != 0 or not debs:
            reason = " ".join((got.stderr or got.stdout).split())[-300:]
            raise AutomixError(f"could not fetch Hydrogen's drum samples with 'apt-get download hydrogen-data' "
                               f"({reason or 'no package'}); run: {_install_hint()}")
        unpacked = tmp_path / "root"
        subprocess.run(["dpkg", "-x", str(debs[0]), str(unpacked)], check=True, capture_output=True)
        if not (unpacked / _HYDROGEN_SUBDIR / "drumkit.xml").is_file():
            raise AutomixError(f"{debs[0].name} holds no GMRockKit; run: {_install_hint()}")
        (unpacked / "source.txt").write_text(debs[0].name + "\n")
        with contextlib.suppress(OSError):  # another process may have won the race
            unpacked.rename(root)
    if not (kit / "drumkit.xml").is_file():
        raise AutomixError(f"could not unpack Hydrogen's GMRockKit into {root}; run: {_install_hint()}")
    return kit


def _source_package(source: Path) -> str:
    """Which hydrogen-data package ``source`` came from (file name or installed version)."""
    if source == _SYSTEM_HYDROGEN:
        try:
            res = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "hydrogen-data"],
                                 capture_output=True, text=True, timeout=30, check=False)
            return f"hydrogen-data {res.stdout.strip() or '(installed)'}"
        except (OSError, subprocess.SubprocessError):
            return "hydrogen-data (installed)"
    marker = source.parents[len(_HYDROGEN_SUBDIR.parts) - 1] / "source.txt"
    deb = marker.read_text().strip() if marker.is_file() else ""
    parts = deb.split("_")  # hydrogen-data_<version>_all.deb
    return f"hydrogen-data {parts[1]}" if len(parts) == 3 else "hydrogen-data"


def _hydrogen_layers(kit_dir: Path) -> dict[str, list[tuple[str, float, float]]]:
    """Instrument name -> [(sample file, velocity min, velocity max)] from Hydrogen's drumkit.xml."""
    root = ET.parse(kit_dir / "drumkit.xml").getroot()
    out: dict[str, list[tuple[str, float, float]]] = {}
    for inst in root.iter(f"{_HYDROGEN_NS}instrument"):
        name = inst.findtext(f"{_HYDROGEN_NS}name")
        layers = []
        for layer in inst.iter(f"{_HYDROGEN_NS}layer"):
            layers.append((layer.findtext(f"{_HYDROGEN_NS}filename"),
                           float(layer.findtext(f"{_HYDROGEN_NS}min")), float(layer.findtext(f"{_HYDROGEN_NS}max"))))
        if name:
            out[name] = sorted(layers, key=lambda item: item[1])
    return out
