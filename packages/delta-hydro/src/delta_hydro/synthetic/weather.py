"""A stochastic daily weather generator: precipitation, temperature and PET per basin.

- Precipitation occurrence follows a two-state Markov chain (Richardson 1981, WRR
  17:182): P(wet | wet) and P(wet | dry) depend on aridity and season; amounts are
  gamma distributed with a seasonal cycle, scaled so that long-term PET / P matches
  the basin's aridity index.
- Mean temperature is an annual cosine (coldest mid-January) plus AR(1) anomalies;
  the diurnal range widens with aridity; tmin/tmax bracket the mean.
- PET is Hargreaves (Hargreaves & Samani 1985) from tmin, tmax, latitude, day of year.
"""

from __future__ import annotations

import numpy as np

from delta_hydro.pet import hargreaves_pet


def generate_weather(
    attrs: dict[str, np.ndarray], day_of_year: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Daily series ``[day, basin]`` (float64): P, T, tmin, tmax (°C), PET (mm/day).

    Parameters
    ----------
    attrs
        Basin attributes from :func:`~delta_hydro.synthetic.attributes.draw_attributes`.
    day_of_year
        ``[day]`` day of year (1..366) of each simulated day.
    rng
        Seeded generator.
    """
    n_days, n = day_of_year.size, attrs["latitude"].size
    phase = 2.0 * np.pi * (day_of_year[:, None] - 15.0) / 365.25
    anomaly = np.empty((n_days, n))
    anomaly[0] = rng.normal(0.0, 2.5, n)
    shocks = rng.normal(0.0, 2.5 * np.sqrt(1 - 0.7**2), (n_days, n))
    for t in range(1, n_days):
        anomaly[t] = 0.7 * anomaly[t - 1] + shocks[t]
    temp = attrs["T_mean"][None, :] - attrs["T_amplitude"][None, :] * np.cos(phase) + anomaly
    dtr = 7.0 + 3.0 * np.log(attrs["aridity"])[None, :] + 2.0 * rng.standard_normal((n_days, n)) * 0.5
    dtr = np.clip(dtr, 3.0, 18.0)
    tmin, tmax = temp - dtr / 2.0, temp + dtr / 2.0
    pet = hargreaves_pet(tmin, tmax, attrs["latitude"][None, :], day_of_year[:, None])

    # Markov-chain occurrence: drier basins have fewer and shorter wet spells.
    season = 1.0 + 0.25 * np.cos(phase - rng.uniform(0, 2 * np.pi, n)[None, :])
    p_wd = np.clip(0.32 / np.sqrt(attrs["aridity"])[None, :] * season, 0.03, 0.8)
    p_ww = np.clip(0.62 / attrs["aridity"][None, :] ** 0.2 * np.ones_like(season), 0.2, 0.9)
    wet = np.empty((n_days, n), dtype=bool)
    wet[0] = rng.random(n) < 0.3
    draws = rng.random((n_days, n))
    for t in range(1, n_days):
        wet[t] = draws[t] < np.where(wet[t - 1], p_ww[t], p_wd[t])
    amounts = rng.gamma(0.75, 1.0, (n_days, n)) * season
    raw = np.where(wet, amounts, 0.0)
    # scale to the aridity index: mean P = mean PET / aridity
    target_mean = pet.mean(axis=0) / attrs["aridity"]
    precip = raw * (target_mean / np.maximum(raw.mean(axis=0), 1e-9))[None, :]
    return {"P": precip, "T": temp, "tmin": tmin, "tmax": tmax, "PET": pet}
