"""The plugin's own tests: the contract checks of delta_core.testing plus model-specific ones.

Run with ``pip install -e .[test]`` then ``pytest`` in this folder.
"""

from __future__ import annotations

import pytest
import torch

from delta_core.plugins.manager import build_registry
from delta_core.testing import check_phy_model
from delta_example import plugin
from delta_example.config import LinearReservoirConfig
from delta_example.data import SyntheticReservoirDataset
from delta_example.model import LinearReservoir, water_budget


@pytest.fixture(scope="module")
def forcing() -> torch.Tensor:
    """One year of synthetic P and PET for four entities, in float64 for a tight budget."""
    data = SyntheticReservoirDataset()
    return data.sample([0, 1, 2, 3], start=0, length=365)["x_phy"].double()


@pytest.mark.parametrize(
    "config",
    [
        LinearReservoirConfig(),
        LinearReservoirConfig(n_components=4, initial_storage=25.0, dynamic_params=("K", "CET")),
    ],
)
def test_linear_reservoir_honours_the_phy_model_contract(forcing, config):
    check_phy_model(LinearReservoir(config), forcing, budget=water_budget, warmup=30, atol=1e-9)


def test_plugin_registers_its_components():
    registry, _ = build_registry(autoload=False, extra_plugins={"example": plugin})
    assert registry.get("phy", "example.linear_reservoir").load() is LinearReservoir
    assert registry.get("dataset", "example.synthetic").load() is SyntheticReservoirDataset
    assert registry.get("preset", "example.linear_reservoir").load()()["name"] == "example-linear-reservoir"
