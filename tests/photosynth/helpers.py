"""Forcings and parameters for the photosynthesis tests."""

from __future__ import annotations

import torch

F64 = torch.float64


def aci_forcing(n_rows: int = 12, n_curves: int = 4, seed: int = 0) -> torch.Tensor:
    """``[row, curve, 3]`` Ci (50..1500), Q (saturating, plus low light and darkness), Tleaf 20-30 degC."""
    g = torch.Generator().manual_seed(seed)
    ci = torch.linspace(50.0, 1500.0, n_rows, dtype=F64)[:, None].expand(n_rows, n_curves)
    q = torch.full((n_rows, n_curves), 1800.0, dtype=F64)
    q[-3:] = torch.tensor([100.0, 400.0, 0.0], dtype=F64)[:, None]
    t = 20.0 + 10.0 * torch.rand(n_rows, n_curves, generator=g, dtype=F64)
    return torch.stack([ci, q, t], dim=-1)


def coupled_forcing(humidity: str, n_rows: int = 12, n_curves: int = 4, seed: int = 0,
                    gbw: bool = False) -> torch.Tensor:
    """``[row, curve, 4 or 5]`` Ca, Q, Tleaf, VPD (kPa) or RH (%) [, gbw] spanning low to high CO2 and light."""
    g = torch.Generator().manual_seed(seed)
    ca = torch.full((n_rows, n_curves), 400.0, dtype=F64)
    ca[:4] = torch.tensor([100.0, 200.0, 800.0, 1500.0], dtype=F64)[:, None]
    q = torch.linspace(0.0, 2000.0, n_rows, dtype=F64)[:, None].expand(n_rows, n_curves)
    t = 15.0 + 20.0 * torch.rand(n_rows, n_curves, generator=g, dtype=F64)
    if humidity == "VPD":
        h = 0.5 + 2.5 * torch.rand(n_rows, n_curves, generator=g, dtype=F64)
    else:
        h = 40.0 + 50.0 * torch.rand(n_rows, n_curves, generator=g, dtype=F64)
    cols = [ca, q, t, h]
    if gbw:
        cols.append(0.5 + 3.0 * torch.rand(n_rows, n_curves, generator=g, dtype=F64))
    return torch.stack(cols, dim=-1)


def per_curve(values: dict[str, float], n_curves: int, dtype: torch.dtype = F64) -> dict[str, torch.Tensor]:
    """Parameters ``[curve, 1]`` with the same value on every curve."""
    return {k: torch.full((n_curves, 1), float(v), dtype=dtype) for k, v in values.items()}


C3 = {"Vcmax25": 60.0, "Jmax25": 110.0, "Rd25": 1.2, "TPU25": 7.0}
C4P = {"Vcmax25": 40.0, "kp25": 0.7, "Rd25": 0.8}
STOMATA = {"g0": 0.02, "g1": 4.0}
