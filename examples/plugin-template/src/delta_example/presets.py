"""Complete default experiments shipped with the plugin (plain data, torch-free)."""

from __future__ import annotations

from typing import Any


def linear_reservoir() -> dict[str, Any]:
    """The default experiment of ``example.linear_reservoir``.

    A network (``nn.mlp`` from deltamod-nn) learns the reservoir's parameters from the
    synthetic dataset's attributes and forcing; training on 2000, testing on 2001.
    ``delta train --plugin example.linear_reservoir`` runs it. A new mapping is returned
    on every call, so callers may modify it.
    """
    return {
        "name": "example-linear-reservoir",
        "seed": 0,
        "data": {
            "name": "example.synthetic",
            "params": {"n_entities": 8, "start": "1999-10-01", "n_days": 823, "seed": 0},
        },
        "model": {
            "name": "core.param_learning",
            "params": {"warmup": 30},
            "phy": {"name": "example.linear_reservoir", "params": {}},
            "nn": {"name": "nn.mlp", "params": {}},
        },
        "periods": {"train": ["2000-01-01", "2000-12-31"], "test": ["2001-01-01", "2001-12-31"]},
    }
