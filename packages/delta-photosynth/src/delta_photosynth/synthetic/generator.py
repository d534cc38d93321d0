"""Generate synthetic leaf gas-exchange curves from known FvCB parameters.

Each entity is one leaf measured in three segments (rows concatenated in this order):

1. **A/Ci curve** at saturating light (Q ≈ 1800 µmol m⁻² s⁻¹, Tleaf ≈ 25 °C): the
   LI-6800 sequence of reference CO2 400, 300, 200, 100, 50, 400, 400, 600, 800, 1000,
   1200, 1500, 1800 µmol mol⁻¹ (repeated or cut to ``aci_points``), with
   ``Ci = Ca × U(0.6, 0.85)``;
2. **light curve** at Ca 400: Q from 2000 down to 0 µmol m⁻² s⁻¹, Ci rising towards Ca as
   light falls;
3. **temperature series** at saturating light: Tleaf from 15 to 40 °C.

True parameters per leaf: ``Vcmax25 ~ U(vcmax25)``, ``Jmax25 = Vcmax25 × U(jv_ratio)``,
``Rd25 = Vcmax25 × U(0.01, 0.02)``, ``TPU25 = Vcmax25 × U(0.10, 0.20)``; A is computed
by ``photosynth.fvcb`` with its default configuration (smoothed co-limitation, TPU,
peaked Arrhenius responses) in float64 from the stored (float32) drivers, and observed
with Gaussian error of standard deviation ``sqrt((noise × A)² + noise_floor²)``.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from delta_photosynth.data.canonical import curves_to_dataset
from delta_photosynth.data.columns import BY_NAME
from delta_photosynth.fvcb import FvCB
from delta_photosynth.synthetic.config import SyntheticLeafConfig

GENERATOR_VERSION = 1
"""Bumped whenever the same configuration would generate different data."""

ACI_SEQUENCE = (400.0, 300.0, 200.0, 100.0, 50.0, 400.0, 400.0, 600.0, 800.0, 1000.0, 1200.0, 1500.0, 1800.0)
"""Reference CO2 sequence of the A/Ci segment, µmol mol⁻¹."""

SEGMENTS = {"aci": 0.0, "light": 1.0, "temperature": 2.0}
"""Codes of the ``segment`` variable."""

TRUE_PARAMETERS = ("Vcmax25", "Jmax25", "Rd25", "TPU25")


def draw_parameters(config: SyntheticLeafConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """True parameters ``(curve,)`` in µmol m⁻² s⁻¹ (rounded to float32)."""
    n = config.curves
    vcmax = rng.uniform(*config.vcmax25, n)
    params = {
        "Vcmax25": vcmax,
        "Jmax25": vcmax * rng.uniform(*config.jv_ratio, n),
        "Rd25": vcmax * rng.uniform(0.01, 0.02, n),
        "TPU25": vcmax * rng.uniform(0.10, 0.20, n),
    }
    return {k: v.astype(np.float32).astype(np.float64) for k, v in params.items()}


def draw_drivers(config: SyntheticLeafConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Drivers ``[curve, row]``: Ci (µmol mol⁻¹), Q (µmol m⁻² s⁻¹), Tleaf (°C), and segment codes."""
    n = config.curves
    parts: dict[str, list[np.ndarray]] = {"Ci": [], "Q": [], "Tleaf": [], "segment": []}
    t_leaf = 25.0 + rng.normal(0.0, 0.3, (n, 1))
    if config.aci_points:
        k = config.aci_points
        ca = np.resize(np.array(ACI_SEQUENCE), k)[None, :]
        parts["Ci"].append(ca * rng.uniform(0.6, 0.85, (n, k)))
        parts["Q"].append(1800.0 * (1.0 + rng.normal(0.0, 0.002, (n, k))))
        parts["Tleaf"].append(t_leaf + rng.normal(0.0, 0.1, (n, k)))
        parts["segment"].append(np.full((n, k), SEGMENTS["aci"]))
    if config.light_points:
        k = config.light_points
        q = np.linspace(2000.0, 0.0, k)[None, :] if k > 1 else np.full((1, 1), 1000.0)
        ratio = 0.7 + 0.25 * (1.0 - q / 2000.0)
        parts["Ci"].append(400.0 * ratio * (1.0 + rng.normal(0.0, 0.03, (n, k))))
        parts["Q"].append(q * (1.0 + rng.normal(0.0, 0.002, (n, k))) + np.zeros((n, k)))
        parts["Tleaf"].append(t_leaf + rng.normal(0.0, 0.1, (n, k)))
        parts["segment"].append(np.full((n, k), SEGMENTS["light"]))
    if config.temperature_points:
        k = config.temperature_points
        temps = np.linspace(15.0, 40.0, k)[None, :] if k > 1 else np.full((1, 1), 30.0)
        parts["Ci"].append(400.0 * rng.uniform(0.6, 0.8, (n, k)))
        parts["Q"].append(1800.0 * (1.0 + rng.normal(0.0, 0.002, (n, k))))
        parts["Tleaf"].append(temps + rng.normal(0.0, 0.2, (n, k)))
        parts["segment"].append(np.full((n, k), SEGMENTS["temperature"]))
    return {k: np.concatenate(v, axis=1).astype(np.float32).astype(np.float64) for k, v in parts.items()}


def true_assimilation(params: dict[str, np.ndarray], drivers: dict[str, np.ndarray]) -> np.ndarray:
    """Noise-free An ``[curve, row]`` from ``photosynth.fvcb`` (default configuration), float64."""
    model = FvCB()
    forcing = torch.from_numpy(np.stack([drivers["Ci"].T, drivers["Q"].T, drivers["Tleaf"].T], axis=-1))
    p = {k: torch.from_numpy(v[:, None]) for k, v in params.items()}
    with torch.no_grad():
        out = model(forcing, p)
    return out.fluxes["An"].numpy().T


def generate(config: SyntheticLeafConfig) -> xr.Dataset:
    """The synthetic dataset in the canonical format (entity dimension ``curve``).

    Variables: drivers ``Ci``, ``Q``, ``Tleaf``; observed ``A`` and noise-free ``A_true``;
    ``segment`` (0 A/Ci, 1 light, 2 temperature); ``row_valid``; ``n_rows``;
    ``leaf_N`` (leaf nitrogen per area, g m⁻², ``Vcmax25 / 40`` with 10 % scatter: an
    attribute a network can learn Vcmax25 from); ``true_<NAME>`` ``(curve,)`` for every
    true parameter (used by the core's parameter-recovery report).
    """
    rng = np.random.default_rng(config.seed)
    params = draw_parameters(config, rng)
    drivers = draw_drivers(config, rng)
    a_true = true_assimilation(params, drivers)
    sd = np.sqrt((config.noise * a_true) ** 2 + config.noise_floor**2)
    a_obs = a_true + rng.normal(0.0, 1.0, a_true.shape) * sd
    leaf_n = params["Vcmax25"] / 40.0 * (1.0 + 0.1 * rng.normal(0.0, 1.0, config.curves))
    ids = [f"leaf{i:05d}" for i in range(config.curves)]
    series = {
        "A": a_obs, "A_true": a_true, "Ci": drivers["Ci"], "Q": drivers["Q"], "Tleaf": drivers["Tleaf"],
        "segment": drivers["segment"],
    }
    units = {name: (BY_NAME[name].units, BY_NAME[name].long_name) for name in ("A", "Ci", "Q", "Tleaf")}
    units["A"] = (units["A"][0], f"net CO2 assimilation rate, observed ({100 * config.noise:g} % noise)")
    units["A_true"] = ("umol m-2 s-1", "net CO2 assimilation rate without measurement error")
    units["segment"] = ("1", "measurement segment: 0 A/Ci curve, 1 light curve, 2 temperature series")
    static = {f"true_{k}": (v, "umol m-2 s-1", f"true {k} used to generate the curve") for k, v in params.items()}
    static["leaf_N"] = (np.maximum(leaf_n, 0.05), "g m-2", "leaf nitrogen per area (synthetic, scales with Vcmax25)")
    ds = curves_to_dataset(
        ids, {k: list(v) for k, v in series.items()}, units=units, observations=("A", "A_true"), static=static,
        attrs={
            "title": "deltamod synthetic leaf gas-exchange curves",
            "generator": f"delta_photosynth.synthetic {GENERATOR_VERSION}",
            "seed": config.seed,
            "noise": config.noise,
            "noise_floor": config.noise_floor,
            "model": "photosynth.fvcb (default configuration)",
        },
    )
    return ds
