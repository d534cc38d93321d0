"""The dataset interface: :class:`Dataset` and the keys of a sample.

A *sample* is a ``dict[str, torch.Tensor]`` for a batch of entities over one window.
Keys and layouts (``T`` = window length including warm-up, ``B`` = batch size):

=================  ========================  ==================================================
key                shape                     content
=================  ========================  ==================================================
``x_phy``          ``[T, B, n_forcing]``     PhyModel forcing, physical units, raw
``c_phy``          ``[B, n_attribute]``      PhyModel static attributes, physical units, raw
``x_nn``           ``[T, B, n_x]``           network time-varying inputs, normalised
``c_nn``           ``[B, n_c]``              network static inputs, normalised
``target``         ``[T, B, n_target]``      observations, physical units, NaN = missing
``entity_index``   ``[B]`` (int64)           positions of the entities in :attr:`entity_ids`
``time_index``     ``[T]`` (int64)           positions of the steps in :attr:`times`
=================  ========================  ==================================================

Keys a dataset cannot provide are absent, never filled with placeholders.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import torch

from delta_core.interfaces.specs import Variable

Sample = dict[str, torch.Tensor]

SAMPLE_KEYS = ("x_phy", "c_phy", "x_nn", "c_nn", "target", "entity_index", "time_index")


class Dataset(ABC):
    """Entities × time series with static attributes, served as samples.

    Implementations hold the canonical labelled data (see the data-format docs) and
    return windows of it in the layout above.
    """

    @property
    @abstractmethod
    def entity_ids(self) -> Sequence[str]:
        """Entity identifiers (strings, e.g. gauge ids ``"01013500"``)."""

    @property
    @abstractmethod
    def times(self) -> np.ndarray:
        """Daily time axis, ``datetime64[ns]``, monotonic without duplicates."""

    @property
    @abstractmethod
    def variables(self) -> dict[str, tuple[Variable, ...]]:
        """Variables behind each sample key (``{"x_phy": (P, T, PET), ...}``) with units."""

    @abstractmethod
    def sample(self, entities: Sequence[int], start: int, length: int) -> Sample:
        """Return the window ``times[start:start + length]`` for entity positions ``entities``."""
