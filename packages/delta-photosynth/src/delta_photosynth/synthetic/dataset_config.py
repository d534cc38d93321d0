"""Options of the ``photosynth.synthetic`` dataset component (torch-free)."""

from __future__ import annotations

import attrs

from delta_photosynth.synthetic.config import SyntheticLeafConfig


@attrs.frozen
class SyntheticLeafDatasetConfig:
    """Generator options and the variables that feed each sample key (see ``core.canonical``).

    Defaults suit ``photosynth.fvcb`` in A/Ci mode: forcings Ci, Q, Tleaf; target A;
    network input the leaf nitrogen attribute.

    Parameters
    ----------
    generator
        What to generate (:class:`~delta_photosynth.synthetic.config.SyntheticLeafConfig`).
    cache_dir
        Where generated stores are kept; default ``$DELTA_CACHE_DIR`` or ``~/.cache/deltamod``.
    """

    generator: SyntheticLeafConfig = attrs.field(factory=SyntheticLeafConfig)
    cache_dir: str | None = None
    x_phy: tuple[str, ...] = ("Ci", "Q", "Tleaf")
    c_phy: tuple[str, ...] = ()
    x_nn: tuple[str, ...] = ()
    c_nn: tuple[str, ...] = ("leaf_N",)
    target: tuple[str, ...] = ("A",)
    transforms: dict[str, str] = attrs.field(factory=dict)
    in_memory: bool = True
