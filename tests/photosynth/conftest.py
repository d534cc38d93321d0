"""Fixtures of the delta-photosynth tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.conftest import SHARED

LEAF_DATA = SHARED / "data" / "leaf_gas_exchange"


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Leaf tensors are small ([rows, curves]): one thread avoids OpenMP overhead (x100 on 2 busy cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def leaf_dir() -> Path:
    """``<repo>/../shared/data/leaf_gas_exchange``; skips the test when it is absent."""
    if not LEAF_DATA.is_dir():
        pytest.skip(f"shared leaf gas-exchange data not found at {LEAF_DATA}")
    return LEAF_DATA
