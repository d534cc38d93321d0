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

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from delta_core.interfaces.specs import Variable

if TYPE_CHECKING:
    from delta_core.data.normalize import Normalizer
    from delta_core.data.periods import TimeRange

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

    # -- training protocol: defaults work for any dataset; override to do better --------
    def check_complete(self, period: TimeRange, warmup: int, name: str) -> None:
        """Raise if inputs needed for ``period`` (and ``warmup`` steps before it) are missing.

        The default checks nothing; datasets should name the entity, variable and dates.
        """
        return None

    def fit_normalizer(self, period: TimeRange) -> Normalizer | None:
        """Fit network-input statistics on ``period`` (training data only) and use them.

        Returns the statistics to save with the run, or ``None`` (the default) when the
        dataset needs none (its inputs are already normalised).
        """
        return None

    def set_normalizer(self, normalizer: Normalizer) -> None:
        """Use previously saved statistics (resume, test, simulate)."""
        return None

    def target_std(self, period: TimeRange, chunk_size: int = 256) -> np.ndarray:
        """Per-entity standard deviation of each target over ``period``, ``[entity, n_target]``.

        The default reads the targets through :meth:`sample` in entity chunks.
        """
        n = len(self.entity_ids)
        out = np.full((n, len(self.variables.get("target", ()))), np.nan, dtype=np.float32)
        for start in range(0, n, chunk_size):
            idx = list(range(start, min(start + chunk_size, n)))
            target = self.sample(idx, period.start, period.length)["target"].numpy()
            with warnings.catch_warnings():  # all-NaN entities give NaN, on purpose
                warnings.simplefilter("ignore", RuntimeWarning)
                out[idx] = np.nanstd(target, axis=0)
        return out
