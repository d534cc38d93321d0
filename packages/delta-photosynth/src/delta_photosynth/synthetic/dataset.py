"""``photosynth.synthetic``: synthetic leaf curves generated on first use into a cache.

The store is written once per distinct generator configuration into ``$DELTA_CACHE_DIR``
(default ``$XDG_CACHE_HOME/deltamod`` or ``~/.cache/deltamod``) and reused afterwards;
writes are atomic.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from delta_core.data.config import CanonicalDatasetConfig
from delta_core.data.dataset import CanonicalDataset
from delta_photosynth.synthetic.config import SyntheticLeafConfig
from delta_photosynth.synthetic.dataset_config import SyntheticLeafDatasetConfig
from delta_photosynth.synthetic.generator import GENERATOR_VERSION


def cache_dir() -> Path:
    """Directory for generated datasets (``DELTA_CACHE_DIR`` overrides)."""
    if os.environ.get("DELTA_CACHE_DIR"):
        return Path(os.environ["DELTA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deltamod"


def store_path(config: SyntheticLeafConfig, directory: Path | None = None) -> Path:
    """Cache path that identifies every generator option (and the generator version)."""
    c = config
    name = (
        f"synthetic-photosynth-v{GENERATOR_VERSION}-{c.curves}c-s{c.seed}-n{c.noise:g}-f{c.noise_floor:g}"
        f"-p{c.aci_points}.{c.light_points}.{c.temperature_points}-v{c.vcmax25[0]:g}.{c.vcmax25[1]:g}"
        f"-r{c.jv_ratio[0]:g}.{c.jv_ratio[1]:g}.zarr"
    )
    return (directory or cache_dir()) / name


def ensure_store(config: SyntheticLeafConfig, directory: Path | None = None) -> Path:
    """Path of the generated store, generating and writing it first if absent."""
    path = store_path(config, directory)
    if not path.exists():
        from delta_core.data.canonical import write_canonical
        from delta_photosynth.synthetic.generator import generate

        with contextlib.suppress(FileExistsError):  # another process wrote it meanwhile (writes are atomic)
            write_canonical(generate(config), path, overwrite=False)
    return path


class SyntheticLeafDataset(CanonicalDataset):
    """The synthetic leaf curves served like any canonical store (see module docstring)."""

    def __init__(self, config: SyntheticLeafDatasetConfig) -> None:
        directory = Path(config.cache_dir) if config.cache_dir else None
        path = ensure_store(config.generator, directory)
        groups = {k: getattr(config, k) for k in ("x_phy", "c_phy", "x_nn", "c_nn", "target")}
        super().__init__(
            CanonicalDatasetConfig(path=str(path), transforms=config.transforms, in_memory=config.in_memory, **groups)
        )
        self.synthetic_config = config
