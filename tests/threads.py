"""One torch thread for tests of small models: import ``one_torch_thread`` into a package's conftest.py.

Why: tiny models gain nothing from threads, and on a shared 2-core CPU spinning OpenMP threads cost 10x.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run the test with one torch thread, then restore the previous count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
