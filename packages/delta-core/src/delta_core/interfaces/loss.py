"""The loss interface: :class:`Loss`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import torch


class Loss(torch.nn.Module, ABC):
    """A training objective between simulated and observed series.

    Implementations must mask missing observations (NaN in ``observed``) rather than
    fill them, and must return a finite scalar when at least one observation exists.

    Parameters
    ----------
    config
        The loss's structured configuration (attrs instance) or ``None``.
    """

    def __init__(self, config: Any = None) -> None:
        super().__init__()
        self.config = config

    @abstractmethod
    def forward(
        self,
        simulated: torch.Tensor,
        observed: torch.Tensor,
        context: Mapping[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Scalar loss.

        Parameters
        ----------
        simulated, observed
            ``[time, batch]`` in the target's physical units; ``observed`` may hold NaN.
        context
            Optional per-batch statistics, e.g. ``{"target_std": [batch]}``.
        """
