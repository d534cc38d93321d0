"""Potential evapotranspiration from daily temperature extremes (Hargreaves method).

Reference-crop evapotranspiration after Hargreaves & Samani (1985):

    ET0 = 0.0023 · Ra · (Tmean + 17.8) · sqrt(Tmax − Tmin)        [mm/day]

with ``Tmean = (Tmax + Tmin) / 2`` (°C) and ``Ra`` the extraterrestrial radiation
expressed as equivalent evaporation (MJ m⁻² day⁻¹ × 0.408 mm per MJ m⁻²), computed from
latitude and day of year as in FAO Irrigation and Drainage Paper 56 (Allen, Pereira,
Raes & Smith 1998, eqs. 21–25 and 52):

    Ra = 24·60/π · Gsc · dr · [ωs sin φ sin δ + cos φ cos δ sin ωs]
    dr = 1 + 0.033 cos(2π J / 365),   δ = 0.409 sin(2π J / 365 − 1.39),
    ωs = arccos(−tan φ tan δ),        Gsc = 0.0820 MJ m⁻² min⁻¹.

References
----------
Hargreaves, G. H. and Samani, Z. A. (1985). Reference crop evapotranspiration from
temperature. Applied Engineering in Agriculture 1(2), 96–99.
Allen, R. G., Pereira, L. S., Raes, D. and Smith, M. (1998). Crop evapotranspiration:
guidelines for computing crop water requirements. FAO Irrigation and Drainage Paper 56.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

SOLAR_CONSTANT = 0.0820
"""Gsc, MJ m⁻² min⁻¹ (FAO-56)."""

MJ_TO_MM = 0.408
"""Evaporation equivalent of 1 MJ m⁻² in mm (1 / latent heat 2.45 MJ kg⁻¹, FAO-56 eq. 20)."""



def _namespace(*values: Any) -> ModuleType:
    """``torch`` if any argument is a torch tensor, else ``numpy``."""
    for value in values:
        if type(value).__module__.startswith("torch"):
            import torch

            return torch
    return np


def extraterrestrial_radiation(latitude: Any, day_of_year: Any) -> Any:
    """Daily extraterrestrial radiation Ra in MJ m⁻² day⁻¹ (FAO-56 eq. 21).

    Parameters
    ----------
    latitude
        Latitude in decimal degrees (north positive), within [-90, 90]; array, tensor
        or number, broadcast against ``day_of_year``.
    day_of_year
        Day of the year J, 1..366.

    Returns
    -------
    Array or tensor of Ra (numpy unless an argument is a torch tensor). In polar night
    Ra is 0; in polar day the sunset hour angle is π.
    """
    xp = _namespace(latitude, day_of_year)
    lat = xp.asarray(latitude) if xp is np else _as_tensor(latitude, day_of_year)
    doy = xp.asarray(day_of_year) if xp is np else _as_tensor(day_of_year, lat)
    if xp is np:
        lat = lat.astype(np.result_type(lat.dtype, np.float32))
    if bool((abs(lat) > 90).any()):
        raise ValueError("latitude must be in decimal degrees within [-90, 90]")
    if bool(((doy < 1) | (doy > 366)).any()):
        raise ValueError("day_of_year must be within 1..366")
    phi = lat * (math.pi / 180.0)
    angle = (2.0 * math.pi / 365.0) * doy
    dr = 1.0 + 0.033 * xp.cos(angle)
    delta = 0.409 * xp.sin(angle - 1.39)
    omega = xp.arccos(xp.clip(-xp.tan(phi) * xp.tan(delta), -1.0, 1.0))
    ra = (
        (24.0 * 60.0 / math.pi)
        * SOLAR_CONSTANT
        * dr
        * (omega * xp.sin(phi) * xp.sin(delta) + xp.cos(phi) * xp.cos(delta) * xp.sin(omega))
    )
    return xp.clip(ra, 0.0, None) if xp is np else ra.clamp(min=0.0)


def hargreaves_pet(tmin: Any, tmax: Any, latitude: Any, day_of_year: Any) -> Any:
    """Hargreaves (1985) potential evapotranspiration, mm/day.

    Parameters
    ----------
    tmin, tmax
        Daily minimum and maximum air temperature (°C); ``tmax >= tmin``. Any shape,
        e.g. ``[time, basin]``.
    latitude
        Decimal degrees, broadcast against the temperatures (e.g. ``[basin]``).
    day_of_year
        1..366, broadcast against the temperatures (e.g. ``[time, 1]``).

    Returns
    -------
    PET in mm/day, ≥ 0 (negative values where ``Tmean < −17.8 °C`` are set to 0). A
    numpy array, or a torch tensor (differentiable in the temperatures) if any input
    is one.

    Raises
    ------
    ValueError
        Non-finite temperatures, ``tmax < tmin``, latitude or day of year out of range.
    """
    xp = _namespace(tmin, tmax, latitude, day_of_year)
    if xp is np:
        tmin_a, tmax_a = np.asarray(tmin, dtype=float), np.asarray(tmax, dtype=float)
    else:
        tmin_a, tmax_a = _as_tensor(tmin, tmax), _as_tensor(tmax, tmin)
    if not (bool(xp.isfinite(tmin_a).all()) and bool(xp.isfinite(tmax_a).all())):
        raise ValueError("tmin and tmax must be finite (°C)")
    inverted = tmax_a < tmin_a
    if bool(inverted.any()):
        raise ValueError(f"tmax < tmin at {int(inverted.sum())} positions; check the inputs")
    ra = extraterrestrial_radiation(latitude, day_of_year)
    if xp is not np:
        ra = ra.to(tmin_a.dtype)
    tmean = 0.5 * (tmin_a + tmax_a)
    pet = 0.0023 * MJ_TO_MM * ra * (tmean + 17.8) * xp.sqrt(tmax_a - tmin_a)
    return xp.clip(pet, 0.0, None) if xp is np else pet.clamp(min=0.0)


def _as_tensor(value: Any, like: Any) -> Any:
    import torch

    ref = like if isinstance(like, torch.Tensor) else None
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.get_default_dtype()
    if isinstance(value, torch.Tensor):
        return value if value.is_floating_point() else value.to(dtype)
    device = ref.device if ref is not None else None
    return torch.as_tensor(value, dtype=dtype, device=device)
