"""Build the test VST3 plugins in this folder with the DISTRHO Plugin Framework (DPF).

Each plugin is a folder ``tests/vst3/NAME/`` holding ``NAME.cpp`` (a ``DISTRHO::Plugin``
subclass and ``createPlugin()``) and ``DistrhoPluginInfo.h`` (name, URI, 2 in / 2 out, no UI).
One ``g++`` call turns it into a VST3 bundle ``NAME.vst3/Contents/<arch>-linux/NAME.so``
(2-4 s, about 80 KB); DPF brings its own VST3 code, no Steinberg SDK is needed.

Needs ``g++`` (Debian ``build-essential``) and DPF (Debian ``dpf-source``, in
``/usr/share/dpf``; another checkout can be named with ``$DPF_DIR``).

Plugins:

* ``AutomixGain``: ``Gain`` (dB, -60..+24, default 0) and ``Invert`` (boolean);
  output = input x 10^(Gain/20) x (-1 if Invert).
* ``AutomixDelay``: delays both channels by ``Delay`` samples (integer 0..512, default 64)
  and reports that delay to the host as its latency.
* ``AutomixFaulty``: passes audio through; with ``Fault`` on, replaces every output sample
  from 0.5 s after activation onward by NaN, +Inf or 0 (``Kind``, an enumerated parameter).

Command line: ``python tests/vst3/build.py OUT_DIR`` builds them all into ``OUT_DIR``.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: The plugins this folder holds, in build order.
PLUGINS: tuple[str, ...] = ("AutomixGain", "AutomixDelay", "AutomixFaulty")

CXX_FLAGS: tuple[str, ...] = (
    "-std=gnu++11",
    "-O2",
    "-fPIC",
    "-shared",
    "-fvisibility=hidden",
    "-DDISTRHO_PLUGIN_TARGET_VST3",
)


class PluginBuildError(RuntimeError):
    """A test plugin could not be built (no compiler, no DPF, or the compiler failed)."""


def dpf_dir() -> Path:
    """The DPF checkout: ``$DPF_DIR``, else Debian's ``/usr/share/dpf``."""
    return Path(os.environ.get("DPF_DIR", "/usr/share/dpf"))


def _arch_folder() -> str:
    """The VST3 bundle's binary folder for this machine, e.g. ``x86_64-linux``."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return f"{machine}-linux"


def _compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise PluginBuildError(f"{cxx} not found; install a C++ compiler (apt-get install build-essential)")
    return cxx


def _check_dpf() -> Path:
    dpf = dpf_dir()
    if not (dpf / "distrho" / "DistrhoPluginMain.cpp").is_file():
        raise PluginBuildError(f"DPF not found in {dpf}; apt-get install dpf-source (or set DPF_DIR)")
    return dpf


def sources_hash() -> str:
    """Hex digest of everything a build depends on: sources, this script, compiler, DPF."""
    digest = hashlib.sha256()
    for path in sorted(HERE.glob("*/*")) + [Path(__file__).resolve()]:
        if path.is_file() and path.suffix in (".cpp", ".h", ".hpp", ".py"):
            digest.update(str(path.relative_to(HERE)).encode())
            digest.update(path.read_bytes())
    cxx = _compiler()
    version = subprocess.run([cxx, "-dumpfullversion"], capture_output=True, text=True, check=False).stdout
    digest.update(f"{cxx} {version.strip()} {_arch_folder()}".encode())
    dpf = _check_dpf()
    for name in ("distrho/DistrhoPlugin.hpp", "distrho/src/DistrhoPluginVST3.cpp"):
        digest.update((dpf / name).read_bytes())
    return digest.hexdigest()[:16]


def build_plugin(name: str, out_dir: str | os.PathLike[str]) -> Path:
    """Compile the plugin ``name`` into ``out_dir/NAME.vst3`` and return the bundle's path.

    An existing bundle of that name is replaced (the new one is built beside it and renamed
    into place, so a reader never sees half a bundle). Raises :class:`PluginBuildError` with
    the compiler's stderr when the build fails.
    """
    src = HERE / name
    if name not in PLUGINS or not (src / f"{name}.cpp").is_file():
        raise PluginBuildError(f"no test plugin {name!r}; the plugins are {', '.join(PLUGINS)}")
    cxx = _compiler()
    dpf = _check_dpf()
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    bundle = out_dir / f"{name}.vst3"
    work = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_dir))
    try:
        binary_dir = work / f"{name}.vst3" / "Contents" / _arch_folder()
        binary_dir.mkdir(parents=True)
        cmd = [
            cxx,
            *CXX_FLAGS,
            "-I", str(src),
            "-I", str(dpf / "distrho"),
            str(src / f"{name}.cpp"),
            str(dpf / "distrho" / "DistrhoPluginMain.cpp"),
            f"-Wl,--version-script={dpf / 'utils' / 'symbols' / 'vst3.version'}",
            "-o", str(binary_dir / f"{name}.so"),
            "-lpthread",
            "-ldl",
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PluginBuildError(
                f"building {name} failed (exit {result.returncode}):\n{' '.join(cmd)}\n{result.stderr.strip()}"
            )
        if bundle.exists():
            shutil.rmtree(bundle)
        os.replace(work / f"{name}.vst3", bundle)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bundle


def build_all(out_dir: str | os.PathLike[str], *, jobs: int = 2) -> dict[str, Path]:
    """Build every plugin of :data:`PLUGINS` into ``out_dir``; ``{name: bundle path}``.

    ``jobs`` compilers run at once (each takes one core for 2-4 s).
    """
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        paths = list(pool.map(lambda n: build_plugin(n, out_dir), PLUGINS))
    return dict(zip(PLUGINS, paths))


def cached_build(cache_root: str | os.PathLike[str] | None = None, *, jobs: int = 2) -> dict[str, Path]:
    """The plugins built once per set of sources: ``cache_root/<sources_hash()>/NAME.vst3``.

    ``cache_root`` defaults to ``$AUTOMIX_TEST_VST3_CACHE``, else
    ``~/.cache/automix-test-vst3``. A finished build is marked by a ``complete`` file, so a
    build interrupted half-way is redone; two processes building at once each build into
    their own folder and the first to finish wins.
    """
    if cache_root is None:
        cache_root = os.environ.get("AUTOMIX_TEST_VST3_CACHE") or Path.home() / ".cache" / "automix-test-vst3"
    root = Path(cache_root).expanduser().absolute()
    final = root / sources_hash()
    bundles = {name: final / f"{name}.vst3" for name in PLUGINS}
    if (final / "complete").is_file() and all(p.is_dir() for p in bundles.values()):
        return bundles
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        build_all(work, jobs=jobs)
        (work / "complete").write_text("built by tests/vst3/build.py\n")
        if final.exists() and not (final / "complete").is_file():
            shutil.rmtree(final, ignore_errors=True)  # a broken earlier attempt
        try:
            os.replace(work, final)
        except OSError:  # another process finished first
            if not (final / "complete").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return bundles


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tests/vst3/build.py OUT_DIR", file=sys.stderr)
        return 2
    try:
        for name, path in build_all(args[0]).items():
            print(f"{name}: {path}")
    except PluginBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
