"""Packaging and dependency direction."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_torch_free_parts_do_not_import_torch():
    proc = _run(
        "import sys, automix, daw_bridge.audio, daw_bridge.stems, daw_bridge.files, daw_bridge.errors, daw_bridge\n"
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:3]\n"
        "print('ok')"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_cli_help_does_not_import_torch():
    proc = _run(
        "import sys\nfrom automix.cli import build_parser\nbuild_parser().format_help()\n"
        "assert 'torch' not in sys.modules\nprint('ok')"
    )
    assert proc.returncode == 0, proc.stderr


def test_version_and_module_entry_point():
    proc = subprocess.run([sys.executable, "-m", "automix", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0
    import automix

    assert proc.stdout.strip() == f"automix {automix.__version__}"


def test_pyproject_ships_both_packages_and_the_script():
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["automix"] == "automix.cli:main"
    listed = set(meta["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("automix", "daw_bridge")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= listed, f"add {sorted(on_disk - listed)} to [tool.setuptools] packages"
    assert meta["tool"]["setuptools"]["package-dir"]["automix._presets"] == "presets"
    data = meta["tool"]["setuptools"]["package-data"]["automix"]
    assert "pretrained/*.safetensors" in data and "pretrained/*.json" in data


def test_model_presets_validate_and_build():
    from automix.models.mixer import PAPER_CONFIG, mix_wave_unet
    from automix.models.architectures import list_presets, load_model_preset

    assert {"mix-wave-u-net-paper", "mix-wave-u-net-small"} <= set(list_presets("models"))
    for name in list_presets("models"):
        preset, config = load_model_preset(name)
        assert config.in_channels == len(preset.slots)
    assert load_model_preset("mix-wave-u-net-paper")[1] == PAPER_CONFIG
    small = mix_wave_unet(preset="mix-wave-u-net-small")
    assert small.net.config.levels == 6 and small.slots[0] == "kick"
    assert small.net.num_parameters() < 1_000_000


def test_no_import_circles_between_modules():
    """No module imports one that imports it back (module- and function-level imports both
    count; TYPE_CHECKING blocks do not): tools/import_cycles.py over automix and daw_bridge."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "tools" / "import_cycles.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    graph = tool.import_graph(ROOT)
    assert len(graph) > 100 and "daw_bridge.render" in graph["automix.inference.mixers"] | graph["automix.inference.console_plan"]
    assert tool.cycles(graph) == []
