"""Generate the synthetic hydrology dataset: attributes → weather → true parameters → HBV flow.

True parameters are smooth functions of the attributes: for each HBV parameter ``p``,
``u_p = sigmoid(w_p · z + b_p)`` squeezed into ``[0.1, 0.9]`` of its range, where ``z``
are standardised attributes and ``w_p, b_p`` are fixed coefficients (the same for every
dataset, from their own seed), so a network can learn the mapping attribute → parameter.
Flow is simulated by delta-hydro's HBV (one component, static parameters, two spin-up
years) in float64, then observed with multiplicative log-normal noise and random gaps.
Everything the generator draws comes from one ``numpy.random.Generator(seed)``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
import xarray as xr

from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from delta_hydro.synthetic.attributes import UNITS, draw_attributes
from delta_hydro.synthetic.config import SyntheticConfig
from delta_hydro.synthetic.weather import generate_weather

GENERATOR_VERSION = "1"
COEFFICIENT_SEED = 20221020  # fixed: the attribute → parameter "physics" of every synthetic set
SPINUP_DAYS = 730
PREDICTORS = ("aridity", "elevation", "soil_index", "forest_frac", "T_mean", "latitude")

SERIES_META = {
    "P": ("mm/day", "precipitation"),
    "T": ("degC", "daily mean air temperature"),
    "tmin": ("degC", "daily minimum air temperature"),
    "tmax": ("degC", "daily maximum air temperature"),
    "PET": ("mm/day", "potential evapotranspiration (Hargreaves)"),
    "Q": ("mm/day", "observed streamflow (true flow with log-normal noise and gaps)"),
    "Q_true": ("mm/day", "true streamflow simulated by HBV, noise-free"),
}


def _standardise(attrs: dict[str, np.ndarray]) -> np.ndarray:
    cols = []
    for name in PREDICTORS:
        v = np.log(attrs[name]) if name in ("aridity", "elevation") else attrs[name]
        cols.append((v - v.mean()) / (v.std() + 1e-12))
    return np.stack(cols, axis=1)


def true_parameters(model: HBV, attrs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """True parameter values ``[basin]`` in physical units, smooth in the attributes."""
    z = _standardise(attrs)
    coef_rng = np.random.default_rng(COEFFICIENT_SEED)
    out = {}
    for spec in model.param_specs:
        w = coef_rng.normal(0.0, 0.9, z.shape[1])
        b = coef_rng.normal(0.0, 0.4)
        u = 0.1 + 0.8 / (1.0 + np.exp(-(z @ w + b)))
        out[spec.name] = spec.lo + u * (spec.hi - spec.lo)
    return out


def simulate_flow(
    model: HBV, weather: dict[str, np.ndarray], params: dict[str, np.ndarray], attrs: dict[str, np.ndarray]
) -> np.ndarray:
    """Routed HBV streamflow ``[day, basin]`` (mm/day), after :data:`SPINUP_DAYS` of spin-up."""
    forcing = np.stack([weather["P"], weather["T"], weather["PET"]], axis=-1)
    spin = forcing[: min(SPINUP_DAYS, forcing.shape[0])]
    x = torch.from_numpy(np.concatenate([spin, forcing])).to(torch.float64)
    tensors = {}
    for spec in model.param_specs:
        value = torch.from_numpy(params[spec.name]).to(torch.float64)
        tensors[spec.name] = value[:, None] if spec.per_component else value
    attributes = None
    if model.attributes:
        attributes = torch.from_numpy(np.stack([attrs[v.name] for v in model.attributes], axis=1))
    with torch.no_grad():
        result = model(x, tensors, attributes=attributes, warmup=spin.shape[0])
    return result.fluxes["streamflow"].numpy()


def generate(config: SyntheticConfig, *, verbose: bool = False) -> xr.Dataset:
    """The synthetic dataset in the canonical format (entity dimension ``basin``).

    Variables: the series of :data:`SERIES_META` ``(basin, time)``; the attributes of
    :mod:`.attributes` plus ``frac_snow``, ``P_mean``, ``PET_mean`` ``(basin,)``; and
    every true HBV parameter as ``true_<NAME>`` ``(basin,)``.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    times = pd.date_range(config.start, periods=1, freq="D")
    times = pd.date_range(times[0], times[0] + pd.DateOffset(years=config.years) - pd.Timedelta(days=1), freq="D")
    doy = times.day_of_year.values.astype(np.float64)
    attrs = draw_attributes(config.basins, rng)
    # Round everything that is stored to float32 *before* simulating, so that flow
    # re-simulated from the stored forcing and parameters reproduces the stored flow.
    attrs = {k: v.astype(np.float32).astype(np.float64) for k, v in attrs.items()}
    weather = {k: v.astype(np.float32).astype(np.float64) for k, v in generate_weather(attrs, doy, rng).items()}
    model = HBV(HBVConfig(variant=config.variant, nmul=1))
    truth = {k: v.astype(np.float32).astype(np.float64) for k, v in true_parameters(model, attrs).items()}
    q_true = simulate_flow(model, weather, truth, attrs)
    noise = rng.normal(0.0, config.noise, q_true.shape) - config.noise**2 / 2.0
    q_obs = q_true * np.exp(noise)
    q_obs[rng.random(q_true.shape) < config.missing] = np.nan

    snow = np.where(weather["T"] < 0.0, weather["P"], 0.0).sum(axis=0) / np.maximum(weather["P"].sum(axis=0), 1e-9)
    derived = {
        "frac_snow": (snow, "1", "fraction of precipitation falling on days below 0 degC"),
        "P_mean": (weather["P"].mean(axis=0), "mm/day", "mean daily precipitation"),
        "PET_mean": (weather["PET"].mean(axis=0), "mm/day", "mean daily potential evapotranspiration"),
    }
    series = {**weather, "Q": q_obs, "Q_true": q_true}
    data_vars: dict[str, tuple] = {}
    for name, values in series.items():
        units, long_name = SERIES_META[name]
        data_vars[name] = (("basin", "time"), values.T.astype(np.float32), {"units": units, "long_name": long_name})
    for name, values in attrs.items():
        units, long_name = UNITS[name]
        data_vars[name] = (("basin",), values.astype(np.float32), {"units": units, "long_name": long_name})
    for name, (values, units, long_name) in derived.items():
        data_vars[name] = (("basin",), values.astype(np.float32), {"units": units, "long_name": long_name})
    for spec in model.param_specs:
        data_vars[f"true_{spec.name}"] = (
            ("basin",), truth[spec.name].astype(np.float32),
            {"units": spec.units, "long_name": f"true HBV {config.variant} parameter {spec.name}: {spec.description}"},
        )
    ds = xr.Dataset(
        data_vars,
        coords={"basin": np.array([f"syn{i:05d}" for i in range(config.basins)]),
                "time": times.values.astype("datetime64[ns]")},
        attrs={
            "entity_dim": "basin",
            "title": "deltamod synthetic hydrology dataset",
            "generator": f"delta_hydro.synthetic {GENERATOR_VERSION}",
            "seed": config.seed,
            "hbv_variant": config.variant,
            "noise": config.noise,
            "missing": config.missing,
        },
    )
    if verbose:
        print(f"generated {config.basins} basins x {times.size} days in {time.perf_counter() - t0:.1f} s")
    return ds
