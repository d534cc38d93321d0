"""The process-based model interface: :class:`PhyModel`.

Tensor layout at this boundary (all floating point, one dtype and device):

========================  ==========================================  =====================
argument / result         shape                                       units
========================  ==========================================  =====================
``forcing``               ``[time, entity, n_forcing]``               per :attr:`forcings`
``params[p]`` static      ``[entity, n_components]`` (``[entity]``     per :attr:`param_specs`
                          when ``per_component`` is false)
``params[p]`` dynamic     ``[time, entity, n_components]``             per :attr:`param_specs`
``attributes``            ``[entity, n_attribute]``                    per :attr:`attributes`
``states[s]``             ``[entity, n_components]``                   per :attr:`state_vars`
``PhyOutput.fluxes[f]``   ``[time - warmup, entity]`` or ``[entity]``  per :attr:`output_vars`
========================  ==========================================  =====================

Parameters are always passed in *physical* units (already scaled into their bounds);
the scaling from a network's ``[0, 1]`` output lives in the coupling
(:mod:`delta_core.coupling`), so every PhyModel is usable with or without a network.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import attrs
import torch

from delta_core.interfaces.specs import Parameter, Variable, names


@attrs.define
class PhyOutput:
    """What :meth:`PhyModel.forward` returns.

    Attributes
    ----------
    fluxes
        Output variables by name, ``[time - warmup, entity]`` (or ``[entity]`` for
        variables declared with ``dims="entity"``), averaged over components.
    states
        Final state variables by name, ``[entity, n_components]``; pass them back as
        ``states`` to continue a run.
    """

    fluxes: dict[str, torch.Tensor]
    states: dict[str, torch.Tensor]


def _value_range(x: torch.Tensor) -> tuple[float, float] | None:
    """``(min, max)`` of ``x`` in one reduction; ``None`` when empty.

    NaN propagates through min/max and infinities show there, so both are finite
    exactly when every value is.
    """
    if x.numel() == 0:
        return None
    lo, hi = torch.aminmax(x.detach())
    return float(lo), float(hi)


def all_finite(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is finite, from its min and max in one reduction.

    ``torch.isfinite(x).all()`` makes several passes and allocates a mask, about ten
    times slower on large model outputs (20 ms per forward at 531 x 730 for HBV).
    """
    found = _value_range(x)
    return found is None or (math.isfinite(found[0]) and math.isfinite(found[1]))


class PhyInputError(ValueError):
    """Raised when forcing, parameters, attributes or states are malformed."""


class PhyModel(torch.nn.Module, ABC):
    """A differentiable process-based model.

    Subclasses declare what they consume and produce (:attr:`forcings`,
    :attr:`attributes`, :attr:`param_specs`, :attr:`state_vars`, :attr:`output_vars`,
    :attr:`n_components`) and implement :meth:`forward`. Declarations may depend on the
    instance's configuration (for example a model variant), which is why they are
    properties.

    Parameters
    ----------
    config
        The component's structured configuration (an attrs instance), or ``None`` for
        components without options.
    """

    def __init__(self, config: Any = None) -> None:
        super().__init__()
        self.config = config

    # -- declarations -----------------------------------------------------------
    @property
    @abstractmethod
    def forcings(self) -> tuple[Variable, ...]:
        """Time-varying inputs, in the channel order of ``forcing``."""

    @property
    def attributes(self) -> tuple[Variable, ...]:
        """Static physical inputs, in the column order of ``attributes`` (default none)."""
        return ()

    @property
    @abstractmethod
    def param_specs(self) -> tuple[Parameter, ...]:
        """Learnable parameters with physical bounds."""

    @property
    @abstractmethod
    def state_vars(self) -> tuple[Variable, ...]:
        """State variables, each ``[entity, n_components]``."""

    @property
    @abstractmethod
    def output_vars(self) -> tuple[Variable, ...]:
        """Output variables that :meth:`forward` returns in ``fluxes``."""

    @property
    def n_components(self) -> int:
        """Number of parallel components per entity whose outputs are averaged."""
        return 1

    @property
    def dynamic_params(self) -> tuple[str, ...]:
        """Names of parameters this configured instance expects as time series."""
        return ()

    # -- behaviour ----------------------------------------------------------------
    @abstractmethod
    def forward(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        *,
        attributes: torch.Tensor | None = None,
        states: Mapping[str, torch.Tensor] | None = None,
        warmup: int = 0,
    ) -> PhyOutput:
        """Run the model over a window.

        Parameters
        ----------
        forcing
            ``[time, entity, n_forcing]`` in the units of :attr:`forcings`.
        params
            Physical parameter values by name; static ones ``[entity, n_components]``,
            dynamic ones ``[time, entity, n_components]`` (see the module table).
        attributes
            ``[entity, n_attribute]`` static physical inputs, if the model declares any.
        states
            Initial states by name, ``[entity, n_components]``; ``None`` means the
            model's documented default initial state.
        warmup
            Number of leading time steps used to spin up the states; outputs cover
            ``time[warmup:]`` only.

        Returns
        -------
        PhyOutput
        """

    # -- shared validation ----------------------------------------------------------
    def check_inputs(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        attributes: torch.Tensor | None = None,
        warmup: int = 0,
    ) -> dict[str, tuple[float, float]]:
        """Validate shapes, names and finiteness; raise :class:`PhyInputError` naming the culprit.

        Subclasses call this at the top of :meth:`forward`. It checks that ``forcing``
        is ``[time, entity, n_forcing]`` and finite, that every declared parameter is
        given with a static or dynamic shape, that no undeclared parameter is given, and
        that ``attributes`` matches :attr:`attributes`.

        Returns
        -------
        dict
            ``(min, max)`` of every given, non-empty parameter, found by the finiteness
            check; a subclass's range checks can use them instead of reading each
            parameter again (a dynamic one is ``[time, entity, ...]``, often the largest
            input).
        """
        cls = type(self).__name__
        forcing_names = names(self.forcings)
        if forcing.ndim != 3 or forcing.shape[-1] != len(forcing_names):
            raise PhyInputError(
                f"{cls}: forcing must be [time, entity, {len(forcing_names)}] "
                f"({', '.join(forcing_names)}), got shape {tuple(forcing.shape)}"
            )
        n_time, n_entity, _ = forcing.shape
        if not 0 <= warmup < n_time:
            raise PhyInputError(f"{cls}: warmup={warmup} must be in [0, {n_time}) for {n_time} steps")
        if not all_finite(forcing):  # cheap check first; locate the culprit only on failure
            bad = ~torch.isfinite(forcing)
            for i, name in enumerate(forcing_names):
                count = int(bad[..., i].sum())
                if count:
                    t, e = (int(v) for v in torch.nonzero(bad[..., i])[0])
                    raise PhyInputError(
                        f"{cls}: forcing {name!r} has {count} non-finite values "
                        f"(first at time index {t}, entity index {e})"
                    )
        declared = {p.name: p for p in self.param_specs}
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise PhyInputError(
                f"{cls}: unknown parameters {unknown}; declared: {', '.join(declared)}"
            )
        n_comp = self.n_components
        ranges: dict[str, tuple[float, float]] = {}
        for name, spec in declared.items():
            if name not in params:
                if spec.default is None:
                    raise PhyInputError(f"{cls}: parameter {name!r} is missing")
                continue
            value = params[name]
            static_shape = (n_entity, n_comp) if spec.per_component else (n_entity,)
            shapes = [static_shape, (n_time, *static_shape)]
            if tuple(value.shape) not in shapes:
                raise PhyInputError(
                    f"{cls}: parameter {name!r} must have shape {static_shape} (static) or "
                    f"{(n_time, *static_shape)} (dynamic), got {tuple(value.shape)}"
                )
            found = _value_range(value)
            if found is None:
                continue
            if not (math.isfinite(found[0]) and math.isfinite(found[1])):
                raise PhyInputError(f"{cls}: parameter {name!r} has non-finite values")
            ranges[name] = found
        if self.attributes:
            n_attr = len(self.attributes)
            if attributes is None:
                raise PhyInputError(
                    f"{cls}: attributes [entity, {n_attr}] "
                    f"({', '.join(names(self.attributes))}) are required"
                )
            if tuple(attributes.shape) != (n_entity, n_attr):
                raise PhyInputError(
                    f"{cls}: attributes must be [{n_entity}, {n_attr}] "
                    f"({', '.join(names(self.attributes))}), got {tuple(attributes.shape)}"
                )
            if not all_finite(attributes):
                raise PhyInputError(f"{cls}: attributes have non-finite values")
        return ranges

    def initial_states(
        self, n_entity: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
    ) -> dict[str, torch.Tensor]:
        """Default initial states, ``[entity, n_components]`` zeros; override if needed."""
        return {
            v.name: torch.zeros(n_entity, self.n_components, dtype=dtype, device=device)
            for v in self.state_vars
        }
