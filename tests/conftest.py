import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, ROOT)
TESTS = os.path.join(ROOT, "tests")
if TESTS not in sys.path:  # test modules share builders (e.g. test_enst.build_tree)
    sys.path.insert(0, TESTS)


@pytest.fixture(autouse=True)
def _torch_threads():
    """Keep torch to the machine's cores and seeded per test."""
    try:
        import torch
    except ImportError:  # torch-free tests
        yield
        return
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def vst3_plugins(tmp_path_factory):
    """The test VST3 plugins of tests/vst3, built once: ``{"AutomixGain": Path(...vst3), ...}``.

    Cached under ``~/.cache/automix-test-vst3/<hash of the sources>`` (``$AUTOMIX_TEST_VST3_CACHE``
    to move it); where that cannot be written, built into this session's temporary folder.
    Needs g++ and DPF (Debian build-essential, dpf-source); a failed build fails the tests.
    """
    import importlib.util

    spec = importlib.util.spec_from_file_location("automix_test_vst3_build", os.path.join(TESTS, "vst3", "build.py"))
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    try:
        return build.cached_build()
    except OSError:  # cache folder not writable
        return build.build_all(tmp_path_factory.getbasetemp() / "vst3")
