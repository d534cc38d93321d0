"""Temperature responses of photosynthetic rates and constants, normalised to 25 °C.

Every function returns a dimensionless factor ``f(T)`` with ``f(25 °C) = 1`` exactly,
so that a rate at leaf temperature is ``rate25 * f(T)``. Arguments broadcast: leaf
temperature ``tleaf`` in °C (any shape, e.g. ``[row, curve]``), response parameters as
floats or tensors broadcastable to it (e.g. ``[1, curve]`` when learned per curve).

References: Arrhenius form as in Bernacchi et al. (2001, Plant Cell Environ. 24:253);
peaked Arrhenius after Johnson et al. (1942) as written by Medlyn et al. (2002, Plant Cell
Environ. 25:1167, eq. 18); Q10 with inhibition terms from Collatz et al. (1992, Aust. J.
Plant Physiol. 19:519).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

from delta_photosynth.config import R_GAS, T25, TemperatureResponse

Number = float | torch.Tensor

KELVIN = 273.15


def arrhenius(tleaf: torch.Tensor, Ha: Number) -> torch.Tensor:
    """``exp(Ha (Tk - T25) / (R T25 Tk))``: Ha in J mol⁻¹, ``tleaf`` in °C."""
    tk = tleaf + KELVIN
    return torch.exp(Ha * (tk - T25) / (R_GAS * T25 * tk))


def peaked_arrhenius(tleaf: torch.Tensor, Ha: Number, Hd: Number, dS: Number) -> torch.Tensor:
    """Peaked Arrhenius factor, normalised to 1 at 25 °C.

    ``f = arrhenius(T, Ha) * (1 + exp((T25 ΔS - Hd)/(R T25))) / (1 + exp((Tk ΔS - Hd)/(R Tk)))``,
    evaluated in log space with softplus so that no exponential overflows.

    Parameters
    ----------
    Ha, Hd
        Activation and deactivation energies, J mol⁻¹.
    dS
        Entropy term, J mol⁻¹ K⁻¹.
    """
    tk = tleaf + KELVIN
    log_arr = Ha * (tk - T25) / (R_GAS * T25 * tk)
    x_ref = (T25 * dS - Hd) / (R_GAS * T25)
    x = (tk * dS - Hd) / (R_GAS * tk)
    if not isinstance(x_ref, torch.Tensor):
        x_ref = torch.as_tensor(x_ref, dtype=tk.dtype, device=tk.device)
    return torch.exp(log_arr + F.softplus(x_ref) - F.softplus(x))


def q10(tleaf: torch.Tensor, q10_value: Number, response: TemperatureResponse | None = None) -> torch.Tensor:
    """``Q10^((T - 25)/10)`` times the inhibition terms of ``response`` (if any), normalised at 25 °C."""
    if isinstance(q10_value, torch.Tensor):
        base = torch.exp(torch.log(q10_value) * (tleaf - 25.0) / 10.0)
    else:
        base = torch.pow(torch.as_tensor(q10_value, dtype=tleaf.dtype, device=tleaf.device), (tleaf - 25.0) / 10.0)
    if response is None:
        return base
    log_inhibition = torch.zeros_like(tleaf)
    ref = 0.0
    if response.t_low is not None:
        log_inhibition = log_inhibition - F.softplus(response.s_low * (response.t_low - tleaf))
        ref -= float(F.softplus(torch.tensor(response.s_low * (response.t_low - 25.0), dtype=torch.float64)))
    if response.t_high is not None:
        log_inhibition = log_inhibition - F.softplus(response.s_high * (tleaf - response.t_high))
        ref -= float(F.softplus(torch.tensor(response.s_high * (25.0 - response.t_high), dtype=torch.float64)))
    return base * torch.exp(log_inhibition - ref)


def response_factor(
    tleaf: torch.Tensor, response: TemperatureResponse, learned: Mapping[str, torch.Tensor] | None = None
) -> torch.Tensor:
    """The factor of ``response`` at ``tleaf`` (°C), with learned values overriding fixed ones.

    Parameters
    ----------
    tleaf
        Leaf temperature, °C, e.g. ``[row, curve]``.
    response
        Kind and fixed parameter values.
    learned
        Tensors (broadcastable to ``tleaf``) by field name (``"Ha"``, ``"Hd"``, ``"dS"``,
        ``"q10"``) replacing the fixed values.
    """
    got = dict(learned or {})
    if response.kind == "none":
        return torch.ones_like(tleaf)
    if response.kind == "arrhenius":
        return arrhenius(tleaf, got.get("Ha", response.Ha))
    if response.kind == "peaked":
        return peaked_arrhenius(tleaf, got.get("Ha", response.Ha), got.get("Hd", response.Hd),
                                got.get("dS", response.dS))
    if response.kind == "q10":
        return q10(tleaf, got.get("q10", response.q10), response)
    raise ValueError(f"unknown temperature response kind {response.kind!r}")
