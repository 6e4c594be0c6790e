import logging
import os

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))


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


@pytest.fixture(autouse=True)
def _restore_automix_logger():
    """The CLI configures the "automix" logger; every test starts and ends with it as it was."""
    logger = logging.getLogger("automix")
    saved = logger.handlers[:], logger.level, logger.propagate
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


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
