"""Basin attributes drawn from plausible ranges (CAMELS-US-like), deterministic under a seed.

=============  =====  ==============================================  ======================
name           units  meaning                                         distribution
=============  =====  ==============================================  ======================
latitude       deg    basin centroid latitude (north)                 U(30, 49)
elevation      m      mean basin elevation                            log-normal, 10–3500
area           km2    drainage area                                   log-uniform, 20–5000
aridity        1      long-term PET / P                               log-normal, 0.25–4
soil_index     1      relative soil water-holding capacity (0–1)      Beta(2, 2)
forest_frac    1      forest cover fraction                           Beta(2, 2)
T_mean         degC   long-term mean air temperature                  lapse rate + latitude
T_amplitude    degC   half the annual temperature range               grows with latitude
=============  =====  ==============================================  ======================
"""

from __future__ import annotations

import numpy as np

UNITS = {
    "latitude": ("degrees_north", "basin centroid latitude"),
    "elevation": ("m", "mean basin elevation"),
    "area": ("km2", "drainage area"),
    "aridity": ("1", "aridity index, long-term PET / P"),
    "soil_index": ("1", "relative soil water-holding capacity"),
    "forest_frac": ("1", "forest cover fraction"),
    "T_mean": ("degC", "long-term mean daily air temperature"),
    "T_amplitude": ("degC", "amplitude of the annual temperature cycle"),
}


def draw_attributes(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Attributes of ``n`` basins (see the module table), float64 arrays ``[basin]``."""
    latitude = rng.uniform(30.0, 49.0, n)
    elevation = np.clip(np.exp(rng.normal(np.log(500.0), 0.9, n)), 10.0, 3500.0)
    area = np.exp(rng.uniform(np.log(20.0), np.log(5000.0), n))
    aridity = np.clip(np.exp(rng.normal(0.0, 0.5, n)), 0.25, 4.0)
    soil_index = rng.beta(2.0, 2.0, n)
    forest_frac = rng.beta(2.0, 2.0, n)
    # ~0.55 °C per degree of latitude and 6.5 °C/km lapse rate
    t_mean = 24.0 - 0.55 * (latitude - 30.0) - 6.5e-3 * elevation + rng.normal(0.0, 1.0, n)
    t_amplitude = 6.0 + 0.45 * (latitude - 30.0) + rng.normal(0.0, 0.8, n)
    return {
        "latitude": latitude,
        "elevation": elevation,
        "area": area,
        "aridity": aridity,
        "soil_index": soil_index,
        "forest_frac": forest_frac,
        "T_mean": t_mean,
        "T_amplitude": t_amplitude,
    }
