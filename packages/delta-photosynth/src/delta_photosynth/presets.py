"""Default experiments shipped with delta-photosynth (``delta train --plugin photosynth.fvcb``)."""

from __future__ import annotations

from typing import Any


def fvcb_synthetic() -> dict[str, Any]:
    """Fit one FvCB parameter set per leaf on the embedded synthetic curves.

    200 synthetic leaves (A/Ci, light and temperature rows, 2.5 % noise, true parameters
    stored); ``core.free_parameters`` holds Vcmax25, Jmax25, Rd25, TPU25 for every leaf
    in one batched tensor; Adam on the RMSE of net assimilation over all rows at once.
    Rows are stored on a row-index axis written as days from 2000-01-01, so the
    "period" is simply every row of every curve. The report ends with the recovery of the
    true parameters.
    """
    return {
        "name": "fvcb-synthetic",
        "seed": 0,
        "data": {"name": "photosynth.synthetic", "params": {"generator": {"curves": 200, "seed": 0}}},
        "model": {
            "name": "core.free_parameters",
            "params": {"init": {"Vcmax25": 0.25, "Jmax25": 0.3, "Rd25": 0.1, "TPU25": 0.3}},
            "phy": {"name": "photosynth.fvcb", "params": {"mode": "aci", "tpu": True}},
        },
        "train": {
            "name": "core.trainer",
            "params": {"epochs": 10, "iterations_per_epoch": 150, "batch_size": 200, "window": 27, "lr": 0.05,
                       "grad_clip": None, "validate_every": 0, "threads": 1, "outputs": ["An"]},
        },
        "loss": {"name": "core.rmse"},
        "periods": {"train": ["2000-01-01", "2000-01-27"], "test": ["2000-01-01", "2000-01-27"]},
    }
