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
