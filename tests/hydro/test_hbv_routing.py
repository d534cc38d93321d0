"""Gamma unit hydrograph and causal convolution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from delta_hydro.hbv.routing import gamma_unit_hydrograph, route


def _direct_weights(route_a: float, route_b: float, length: int) -> np.ndarray:
    a, theta = max(route_a, 0.0) + 0.1, max(route_b, 0.0) + 0.5
    t = np.arange(length) + 0.5
    w = t ** (a - 1) * np.exp(-t / theta) / (math.gamma(a) * theta**a)
    return w / w.sum()


@pytest.mark.parametrize(("route_a", "route_b"), [(0.0, 0.0), (2.9, 6.5), (1.3, 0.7), (0.2, 4.0)])
def test_weights_are_the_normalised_gamma_density(route_a: float, route_b: float) -> None:
    w = gamma_unit_hydrograph(
        torch.tensor([route_a], dtype=torch.float64), torch.tensor([route_b], dtype=torch.float64), 15
    )
    assert w.shape == (15, 1)
    np.testing.assert_allclose(w[:, 0].numpy(), _direct_weights(route_a, route_b, 15), rtol=1e-12)
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-12)


def test_impulse_response_is_the_unit_hydrograph_and_causal() -> None:
    a = torch.tensor([0.5, 2.0], dtype=torch.float64)
    b = torch.tensor([1.0, 3.0], dtype=torch.float64)
    w = gamma_unit_hydrograph(a, b, 10)
    x = torch.zeros(30, 2, dtype=torch.float64)
    x[5] = 1.0
    y = route(x, w)
    assert torch.all(y[:5] == 0)  # nothing before the impulse
    torch.testing.assert_close(y[5:15], w)
    assert torch.all(y[15:] == 0)


def test_several_series_at_once_and_mass_is_conserved_away_from_the_edges() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(3, 100, 4, generator=gen, dtype=torch.float64)
    x[:, -20:] = 0.0
    w = gamma_unit_hydrograph(torch.rand(4, dtype=torch.float64), torch.rand(4, dtype=torch.float64), 15)
    y = route(x, w)
    assert y.shape == x.shape
    for i in range(3):
        torch.testing.assert_close(y[i], route(x[i], w))
    torch.testing.assert_close(y.sum(1), x.sum(1))  # all mass leaves within the window


def test_length_must_be_positive() -> None:
    with pytest.raises(ValueError, match="length"):
        gamma_unit_hydrograph(torch.zeros(1), torch.zeros(1), 0)
