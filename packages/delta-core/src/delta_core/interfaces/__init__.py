"""Abstract interfaces every component implements.

Submodules: :mod:`.specs` (torch-free declarations), :mod:`.phy`, :mod:`.nn`,
:mod:`.dmodel`, :mod:`.dataset`, :mod:`.trainer`, :mod:`.loss`, :mod:`.metric`.
Names are imported lazily so that ``delta_core.interfaces.specs`` stays torch-free.
"""

from __future__ import annotations

import importlib
from typing import Any

_LOCATIONS = {
    "Variable": "specs",
    "Parameter": "specs",
    "PhyModel": "phy",
    "PhyOutput": "phy",
    "PhyInputError": "phy",
    "NN": "nn",
    "NNSpec": "nn",
    "NNOutput": "nn",
    "DModel": "dmodel",
    "DModelOutput": "dmodel",
    "Dataset": "dataset",
    "Sample": "dataset",
    "Trainer": "trainer",
    "Loss": "loss",
    "Metric": "metric",
}

__all__ = sorted(_LOCATIONS)


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        return getattr(importlib.import_module(f"{__name__}.{_LOCATIONS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
