"""The metric interface: :class:`Metric`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class Metric(ABC):
    """A per-entity skill score computed on numpy arrays.

    Attributes
    ----------
    name
        Column name in metric tables (``"NSE"``).
    units
        Units of the score (``"1"`` for dimensionless).
    higher_is_better
        Direction of improvement, used by early stopping and summaries.
    """

    name: str = ""
    units: str = "1"
    higher_is_better: bool = True

    def __init__(self, config: Any = None) -> None:
        self.config = config

    @abstractmethod
    def __call__(self, simulated: np.ndarray, observed: np.ndarray) -> np.ndarray:
        """Score per entity.

        Parameters
        ----------
        simulated, observed
            ``[time, entity]``; NaN in ``observed`` marks missing values, which are
            excluded pairwise.

        Returns
        -------
        numpy.ndarray
            ``[entity]``; NaN where an entity has too few valid pairs.
        """
