"""Configuration of the canonical dataset component ``core.canonical`` (torch-free)."""

from __future__ import annotations

from typing import Any

import attrs

from delta_core.data.normalize import TRANSFORMS


def _transforms(_: object, attribute: attrs.Attribute[Any], value: dict[str, str]) -> None:
    bad = {k: v for k, v in value.items() if v not in TRANSFORMS}
    if bad:
        raise ValueError(f"{attribute.name}: unknown transforms {bad}; choose from {', '.join(TRANSFORMS)}")


@attrs.frozen
class CanonicalDatasetConfig:
    """Options of ``core.canonical``: which variables of a canonical store feed what.

    Parameters
    ----------
    path
        Zarr directory or NetCDF file in the canonical format.
    entities
        Entity ids to use (strings); all entities when absent.
    x_phy
        Time series fed to the PhyModel, in the order of its declared forcings,
        physical units, not normalised (sample key ``x_phy``).
    c_phy
        Static attributes fed to the PhyModel, physical units (``c_phy``).
    x_nn
        Time series fed to the network, normalised (``x_nn``).
    c_nn
        Static attributes fed to the network, normalised (``c_nn``).
    target
        Observed series the loss compares with (``target``); NaN is masked, not filled.
    transforms
        Per-variable transform before z-scoring: ``none`` (default), ``log1p``, ``sqrt``.
    fill
        Per-variable value (in normalised units; 0 is the training mean) replacing NaN
        in network inputs. Without a rule, NaN in a network input is an error.
    in_memory
        Load the selected variables into memory instead of reading lazily.
    """

    path: str
    entities: tuple[str, ...] | None = None
    x_phy: tuple[str, ...] = ()
    c_phy: tuple[str, ...] = ()
    x_nn: tuple[str, ...] = ()
    c_nn: tuple[str, ...] = ()
    target: tuple[str, ...] = ()
    transforms: dict[str, str] = attrs.field(factory=dict, validator=_transforms)
    fill: dict[str, float] = attrs.field(factory=dict)
    in_memory: bool = False
