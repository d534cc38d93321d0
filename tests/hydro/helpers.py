"""Shared helpers of the delta-hydro tests: synthetic forcing, parameters, water budget."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from delta_core.interfaces.phy import PhyModel, PhyOutput
from delta_hydro.hbv.reference import STATE_NAMES

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference" / "hbv"

FLOOR = 1e-5
"""Storage floor (mm) of HBV; each step the floors can add at most ``2 * FLOOR`` (SM after
ET and SLZ after capillary rise) per component."""


def synthetic_forcing(
    n_time: int,
    n_basin: int,
    *,
    seed: int = 0,
    start_day: int = 0,
    wet: float = 1.0,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Plausible daily forcing ``[time, basin, 3]``: P (mm/day), T (°C), PET (mm/day).

    Gamma-distributed precipitation on about 40 % of days with occasional storms,
    seasonal temperature from about -12 to 27 °C (snow in winter), seasonal PET 0..6.
    """
    rng = np.random.default_rng(seed)
    day = start_day + np.arange(n_time)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, n_basin)) * 0.2
    season = np.sin(2 * np.pi * (day - 100) / 365.0 + phase)
    temp = 7.5 + 17.5 * season + rng.normal(0, 3, size=(n_time, n_basin))
    wet = rng.random((n_time, n_basin)) < 0.4
    precip = np.where(wet, rng.gamma(0.8, 8.0, size=(n_time, n_basin)), 0.0)
    storms = rng.random((n_time, n_basin)) < 0.02
    precip = np.where(storms, precip + rng.uniform(40, 120, size=(n_time, n_basin)), precip)
    precip = precip * wet
    pet = np.clip(3.0 + 3.0 * season + rng.normal(0, 0.3, size=(n_time, n_basin)), 0.0, 6.0)
    return torch.tensor(np.stack([precip, temp, pet], axis=-1), dtype=dtype)


def attributes_2_0(n_basin: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Basin area (km²) and mean elevation (m) covering both leakage regimes and the TT override."""
    areas = [800.0, 1500.0, 2400.0, 3000.0]
    elevations = [300.0, 1200.0, 2500.0, 800.0]
    rows = [(areas[i % 4], elevations[i % 4]) for i in range(n_basin)]
    return torch.tensor(rows, dtype=dtype)


def water_budget_terms(
    forcing: torch.Tensor,
    initial: Mapping[str, torch.Tensor],
    out: PhyOutput,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(P - AET - Q_unrouted + leakage, ΔS)`` per basin over the window (mm).

    The model has no warm-up here: outputs cover every step of ``forcing``.
    """
    fluxes = out.fluxes
    net = forcing[:, :, 0].sum(0) - fluxes["AET_hydro"].sum(0) - fluxes["streamflow_no_rout"].sum(0)
    if "leakage" in fluxes:
        net = net + fluxes["leakage"].sum(0)
    change = sum(out.states[name].mean(-1) - initial[name].mean(-1) for name in STATE_NAMES)
    assert isinstance(change, torch.Tensor)
    return net, change


def budget_residual(
    forcing: torch.Tensor,
    params: Mapping[str, torch.Tensor],
    initial: Mapping[str, torch.Tensor],
    out: PhyOutput,
) -> torch.Tensor:
    """Residual ``P - AET - Q + leakage - ΔS`` per basin (mm), for ``delta_core.testing``."""
    net, change = water_budget_terms(forcing, initial, out)
    return net - change


def unit_params(
    phy: PhyModel,
    n_time: int,
    n_basin: int,
    *,
    mode: str = "uniform",
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> dict[str, torch.Tensor]:
    """Unit-scale parameters ``u`` (dynamic ones ``[T, B, nmul]``).

    ``mode``: ``"lo"`` / ``"hi"`` (all at a bound), ``"corners"`` (each element at one
    bound), ``"mixed"`` (elements at either bound or uniform), ``"uniform"``.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for spec in phy.param_specs:
        shape: tuple[int, ...] = (n_basin, phy.n_components) if spec.per_component else (n_basin,)
        if spec.name in phy.dynamic_params:
            shape = (n_time, *shape)
        if mode == "lo":
            u = np.zeros(shape)
        elif mode == "hi":
            u = np.ones(shape)
        elif mode == "corners":
            u = (rng.random(shape) < 0.5).astype(float)
        elif mode == "mixed":
            pick = rng.integers(0, 3, size=shape)
            u = np.where(pick == 0, 0.0, np.where(pick == 1, 1.0, rng.random(shape)))
        else:
            u = rng.random(shape)
        out[spec.name] = torch.tensor(u, dtype=dtype)
    return out


def to_physical(phy: PhyModel, units: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``lo + u (hi - lo)`` for every parameter in ``units``."""
    specs = {p.name: p for p in phy.param_specs}
    return {name: specs[name].lo + u * (specs[name].hi - specs[name].lo) for name, u in units.items()}
