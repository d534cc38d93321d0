"""Options of the ``hydro.synthetic`` dataset component (torch-free)."""

from __future__ import annotations

import attrs

from delta_hydro.synthetic.config import SyntheticConfig

DEFAULT_ATTRIBUTES = (
    "aridity", "elevation", "area", "soil_index", "forest_frac", "T_mean", "latitude",
    "frac_snow", "P_mean", "PET_mean",
)


@attrs.frozen
class SyntheticDatasetConfig:
    """Generator options and the variables that feed each sample key (see ``core.canonical``).

    Parameters
    ----------
    generator
        What to generate (:class:`~delta_hydro.synthetic.config.SyntheticConfig`).
    cache_dir
        Where generated stores are kept; default ``$DELTA_CACHE_DIR`` or ``~/.cache/deltamod``.
    """

    generator: SyntheticConfig = attrs.field(factory=SyntheticConfig)
    cache_dir: str | None = None
    x_phy: tuple[str, ...] = ("P", "T", "PET")
    c_phy: tuple[str, ...] = ()
    x_nn: tuple[str, ...] = ("P", "T", "PET")
    c_nn: tuple[str, ...] = DEFAULT_ATTRIBUTES
    target: tuple[str, ...] = ("Q",)
    transforms: dict[str, str] = attrs.field(factory=lambda: {"P": "log1p"})
    in_memory: bool = True
