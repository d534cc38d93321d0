"""Fixtures of the delta-hydro tests."""

from __future__ import annotations

import pytest
import torch

from tests.hydro.helpers import synthetic_forcing


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    """Keep torch to the two cores CI has."""
    torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def year_forcing() -> torch.Tensor:
    """One year of synthetic forcing for 4 basins, float64."""
    return synthetic_forcing(365, 4, seed=1)


@pytest.fixture(scope="session")
def wet_year_forcing() -> torch.Tensor:
    """One wet year for 4 basins, float64, with three extreme storms (250 mm/day).

    The storms fill the upper zone above UZL for most parameter values, so that every
    parameter (K0 and UZL included) influences the outputs.
    """
    forcing = synthetic_forcing(365, 4, seed=1, wet=2.0)
    forcing[[200, 201, 260], :, 0] = 250.0
    return forcing
