"""``hydro.synthetic``: the embedded default dataset, generated on first use into a cache.

The store is written once per distinct generator configuration into
``$DELTA_CACHE_DIR`` (default ``$XDG_CACHE_HOME/deltamod`` or ``~/.cache/deltamod``)
and reused afterwards; writes are atomic, so an interrupted generation leaves nothing
half-written behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from delta_core.data.config import CanonicalDatasetConfig
from delta_core.data.dataset import CanonicalDataset
from delta_hydro.synthetic.config import SyntheticConfig
from delta_hydro.synthetic.dataset_config import SyntheticDatasetConfig
from delta_hydro.synthetic.generator import GENERATOR_VERSION


def cache_dir() -> Path:
    """Directory for generated datasets (``DELTA_CACHE_DIR`` overrides)."""
    if os.environ.get("DELTA_CACHE_DIR"):
        return Path(os.environ["DELTA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deltamod"


def store_path(config: SyntheticConfig, directory: Path | None = None) -> Path:
    """Cache path that identifies every generator option (and the generator version)."""
    name = (
        f"synthetic-hydro-v{GENERATOR_VERSION}-{config.basins}b-{config.years}y-{config.start}"
        f"-s{config.seed}-hbv{config.variant}-n{config.noise:g}-m{config.missing:g}.zarr"
    )
    return (directory or cache_dir()) / name


def ensure_store(config: SyntheticConfig, directory: Path | None = None) -> Path:
    """Path of the generated store, generating and writing it first if absent."""
    path = store_path(config, directory)
    if not path.exists():
        from delta_core.data.canonical import write_canonical
        from delta_hydro.synthetic.generator import generate

        write_canonical(generate(config), path, overwrite=False)
    return path


class SyntheticDataset(CanonicalDataset):
    """The synthetic hydrology set served like any canonical store (see module docstring)."""

    def __init__(self, config: SyntheticDatasetConfig) -> None:
        gen = config.generator
        directory = Path(config.cache_dir) if config.cache_dir else None
        path = ensure_store(gen, directory)
        groups = {k: getattr(config, k) for k in ("x_phy", "c_phy", "x_nn", "c_nn", "target")}
        super().__init__(
            CanonicalDatasetConfig(path=str(path), transforms=config.transforms, in_memory=config.in_memory, **groups)
        )
        self.synthetic_config = config
