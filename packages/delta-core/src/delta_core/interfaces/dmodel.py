"""The differentiable-model interface: :class:`DModel`.

A DModel owns one or more networks and one or more PhyModels and defines how they are
coupled. It consumes a *sample* (see :mod:`delta_core.interfaces.dataset` for the keys
and layouts) and returns a :class:`DModelOutput`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import torch


@attrs.define
class DModelOutput:
    """What a DModel returns.

    Attributes
    ----------
    fluxes
        Physical outputs by name, ``[time - warmup, batch]`` or ``[batch]``, in the
        units the PhyModel declares.
    parameters
        Physical parameter values actually used, by name: static
        ``[batch, n_components]`` (or ``[batch]``), dynamic ``[time, batch, n_components]``.
    states
        Final states by name, ``[batch, n_components]``.
    warmup
        Number of leading input steps that produced no output; targets are compared
        from ``time[warmup:]``.
    """

    fluxes: dict[str, torch.Tensor]
    parameters: dict[str, torch.Tensor]
    states: dict[str, torch.Tensor]
    warmup: int = 0


class DModel(torch.nn.Module, ABC):
    """Networks and process models coupled into one differentiable model.

    Parameters
    ----------
    phy
        PhyModels by role name (e.g. ``{"hbv": HBV(...)}``).
    nn
        Networks by role name.
    config
        The coupling's structured configuration (attrs instance) or ``None``.
    """

    def __init__(
        self,
        phy: Mapping[str, torch.nn.Module],
        nn: Mapping[str, torch.nn.Module],
        config: Any = None,
    ) -> None:
        super().__init__()
        self.phy = torch.nn.ModuleDict(dict(phy))
        self.nn = torch.nn.ModuleDict(dict(nn))
        self.config = config

    @classmethod
    def build(
        cls,
        phy: Mapping[str, torch.nn.Module],
        nn: Mapping[str, Callable[[Any], torch.nn.Module]],
        inputs: Any,
        config: Any = None,
    ) -> DModel:
        """Construct the coupled model; the trainer builds every DModel this way.

        Parameters
        ----------
        phy
            Instantiated PhyModels by role name (from the ``model.phy`` sections).
        nn
            Network *factories* by role name: ``factory(NNSpec) -> NN``; the coupling
            decides the sizes and output range it needs.
        inputs
            Network input sizes the dataset provides
            (:class:`~delta_core.coupling.parameter_learning.InputSizes`).
        config
            The coupling's structured ``model.params``.
        """
        raise NotImplementedError(f"{cls.__name__} does not implement DModel.build")

    @abstractmethod
    def forward(self, sample: Mapping[str, torch.Tensor]) -> DModelOutput:
        """Run the coupled model on one sample (see :mod:`delta_core.interfaces.dataset`)."""
