"""CAMELS-US: readers of the official file formats and the importer into the canonical format.

``delta data import camels-us SRC --out X.zarr`` (see :mod:`delta_hydro.camels.importer`
for the variables, their units and where each comes from). Nothing heavy is imported
here, so that the plugin's command registration stays light: import
:func:`delta_hydro.camels.importer.import_camels_us` where it is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["import_camels_us"]


def __getattr__(name: str) -> Any:
    if name == "import_camels_us":
        from delta_hydro.camels.importer import import_camels_us

        return import_camels_us
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
