"""The neural-network interface: :class:`NN`.

Tensor layout at this boundary:

=====================  ===================================  =================================
tensor                 shape                                 meaning
=====================  ===================================  =================================
``x_dynamic``          ``[time, batch, n_dynamic_inputs]``   normalised time-varying inputs
``x_static``           ``[batch, n_static_inputs]``          normalised static attributes
``NNOutput.dynamic``   ``[time, batch, n_dynamic_outputs]``  one row per time step
``NNOutput.static``    ``[batch, n_static_outputs]``         one row per entity
=====================  ===================================  =================================

Inputs are dimensionless (normalised); outputs are in ``[0, 1]`` when the coupling asks
for ``output_range="unit"`` and unbounded when it asks for ``"unbounded"``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

import attrs
import torch

OutputRange = Literal["unit", "unbounded"]


def _non_negative(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


@attrs.frozen
class NNSpec:
    """What the coupling needs from a network: input sizes, output sizes and range.

    Parameters
    ----------
    n_dynamic_inputs, n_static_inputs
        Number of time-varying and static input features (either may be 0).
    n_dynamic_outputs, n_static_outputs
        Number of time-varying and static outputs the coupling will read.
    output_range
        ``"unit"``: every output in ``[0, 1]``; ``"unbounded"``: raw values.
    """

    n_dynamic_inputs: int = attrs.field(validator=_non_negative)
    n_static_inputs: int = attrs.field(validator=_non_negative)
    n_dynamic_outputs: int = attrs.field(default=0, validator=_non_negative)
    n_static_outputs: int = attrs.field(default=0, validator=_non_negative)
    output_range: OutputRange = "unit"


@attrs.define
class NNOutput:
    """Outputs of :meth:`NN.forward`; a part the spec did not ask for is ``None``."""

    dynamic: torch.Tensor | None = None
    static: torch.Tensor | None = None


class NNSpecError(ValueError):
    """Raised when a network cannot provide what an :class:`NNSpec` asks for."""


class NN(torch.nn.Module, ABC):
    """A network that maps inputs to parameter-like outputs.

    Implementations must be device-agnostic (create no tensors on a fixed device in
    ``__init__``) and must honour :attr:`spec` exactly: output sizes and range.

    Parameters
    ----------
    spec
        Sizes and output range requested by the coupling.
    config
        The component's structured configuration (attrs instance) or ``None``.
    """

    def __init__(self, spec: NNSpec, config: Any = None) -> None:
        super().__init__()
        self.spec = spec
        self.config = config

    @abstractmethod
    def forward(
        self, x_dynamic: torch.Tensor | None, x_static: torch.Tensor | None
    ) -> NNOutput:
        """Map ``[time, batch, f]`` dynamic and ``[batch, g]`` static inputs to outputs."""

    def squash(self, raw: torch.Tensor) -> torch.Tensor:
        """Apply the requested output range: sigmoid for ``"unit"``, identity otherwise."""
        return torch.sigmoid(raw) if self.spec.output_range == "unit" else raw
