"""Hargreaves (1985) PET and FAO-56 extraterrestrial radiation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from delta_hydro.pet import extraterrestrial_radiation, hargreaves_pet


def test_extraterrestrial_radiation_fao56_example_8() -> None:
    # FAO-56 Example 8: 20°S on 3 September (J = 246): Ra = 32.2 MJ m-2 day-1.
    assert float(extraterrestrial_radiation(-20.0, 246)) == pytest.approx(32.2, abs=0.05)


def test_hargreaves_hand_computed() -> None:
    # 45.72°N, 15 July (J = 196), Tmin 14.8, Tmax 26.6 °C (FAO-56 Example 17/18 station data):
    # Ra = 40.55 MJ m-2 d-1 -> 0.0023 * 0.408 * 40.55 * (20.7 + 17.8) * sqrt(11.8) = 5.03 mm/day
    ra = float(extraterrestrial_radiation(45.72, 196))
    assert ra == pytest.approx(40.55, abs=0.02)
    expected = 0.0023 * 0.408 * ra * (20.7 + 17.8) * math.sqrt(11.8)
    assert float(hargreaves_pet(14.8, 26.6, 45.72, 196)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(5.03, abs=0.01)


def test_seasonality_and_plausible_range() -> None:
    doy = np.arange(1, 366)
    tmin = 5.0 + 10.0 * np.sin(2 * np.pi * (doy - 105) / 365)
    tmax = tmin + 11.0
    north = hargreaves_pet(tmin, tmax, 40.0, doy)
    assert north.shape == (365,) and np.all((north >= 0) & (north < 10))
    assert north[180] > 3 * north[0]  # July >> January in the north
    south = hargreaves_pet(np.full(365, 10.0), np.full(365, 20.0), -40.0, doy)  # radiation only
    assert south[0] > 2 * south[180]  # January is the southern summer
    ra_n, ra_s = extraterrestrial_radiation(40.0, doy), extraterrestrial_radiation(-40.0, doy)
    assert int(np.argmax(ra_n)) in range(165, 180) and int(np.argmin(ra_s)) in range(165, 180)


def test_polar_night_and_cold_give_zero() -> None:
    assert float(extraterrestrial_radiation(80.0, 355)) == 0.0
    assert float(hargreaves_pet(-5.0, 2.0, 80.0, 355)) == 0.0
    assert float(hargreaves_pet(-40.0, -30.0, 45.0, 180)) == 0.0  # Tmean < -17.8 °C


def test_numpy_and_torch_agree_and_torch_is_differentiable() -> None:
    rng = np.random.default_rng(0)
    tmin = rng.uniform(-10, 20, (30, 5))
    tmax = tmin + rng.uniform(0.5, 15, (30, 5))
    lat = rng.uniform(-60, 60, 5)
    doy = np.arange(100, 130)[:, None]
    ref = hargreaves_pet(tmin, tmax, lat, doy)
    t_tmax = torch.tensor(tmax, requires_grad=True)
    got = hargreaves_pet(torch.tensor(tmin), t_tmax, torch.tensor(lat), torch.tensor(doy))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-12)
    got.sum().backward()
    assert t_tmax.grad is not None and torch.isfinite(t_tmax.grad).all() and (t_tmax.grad > 0).all()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((5.0, 3.0, 45.0, 100), "tmax < tmin"),
        ((1.0, 3.0, 95.0, 100), "latitude"),
        ((1.0, 3.0, 45.0, 0), "day_of_year"),
        ((float("nan"), 3.0, 45.0, 10), "finite"),
    ],
)
def test_bad_inputs(args: tuple[float, float, float, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        hargreaves_pet(*args)
