"""A one-bucket linear reservoir, the smallest useful :class:`~delta_core.interfaces.phy.PhyModel`.

Per entity and component, with storage ``S`` (mm), precipitation ``P`` and potential
evapotranspiration ``PET`` (mm/day), one explicit daily step is::

    S  <- S + P                    rain enters the bucket
    ET  = min(CET * PET, S)        evaporation, limited by what is stored
    S  <- S - ET
    Q   = K * S                    linear outflow; K < 1 keeps S >= 0
    S  <- S - Q

Every flux leaves the bucket exactly once, so over a window
``S_start + sum(P) - sum(ET) - sum(Q) - S_end = 0`` (see :func:`water_budget`).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from delta_core.interfaces.phy import PhyInputError, PhyModel, PhyOutput
from delta_core.interfaces.specs import Parameter, Variable
from delta_example.config import LinearReservoirConfig


class LinearReservoir(PhyModel):
    """One linear bucket per entity (and per component), daily explicit scheme.

    Forcing ``[time, entity, 2]``: ``P`` and ``PET`` in mm/day. Parameters (each
    ``[entity, n_components]``, or ``[time, entity, n_components]`` when listed in
    ``config.dynamic_params``): ``K`` (1/day) and ``CET`` (-). State ``S`` (mm).
    Outputs ``Q`` and ``ET`` (mm/day), ``[time - warmup, entity]``, averaged over
    components.

    Parameters
    ----------
    config
        :class:`~delta_example.config.LinearReservoirConfig`; defaults when ``None``.
    """

    config: LinearReservoirConfig

    def __init__(self, config: LinearReservoirConfig | None = None) -> None:
        super().__init__(config if config is not None else LinearReservoirConfig())

    @property
    def forcings(self) -> tuple[Variable, ...]:
        """``P`` and ``PET``, mm/day."""
        return (
            Variable("P", "mm/day", "precipitation"),
            Variable("PET", "mm/day", "potential evapotranspiration"),
        )

    @property
    def param_specs(self) -> tuple[Parameter, ...]:
        """``K`` (recession) and ``CET`` (evaporation scaling)."""
        return (
            Parameter("K", 0.01, 0.9, "1/day", "recession coefficient: fraction of storage released per day"),
            Parameter("CET", 0.5, 1.5, "1", "scaling of PET to the bucket's evaporation demand"),
        )

    @property
    def state_vars(self) -> tuple[Variable, ...]:
        """``S``, mm."""
        return (Variable("S", "mm", "storage"),)

    @property
    def output_vars(self) -> tuple[Variable, ...]:
        """``Q`` and ``ET``, mm/day."""
        return (
            Variable("Q", "mm/day", "outflow (streamflow)"),
            Variable("ET", "mm/day", "actual evapotranspiration"),
        )

    @property
    def n_components(self) -> int:
        """``config.n_components``."""
        return self.config.n_components

    @property
    def dynamic_params(self) -> tuple[str, ...]:
        """``config.dynamic_params``."""
        return self.config.dynamic_params

    def initial_states(
        self, n_entity: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
    ) -> dict[str, torch.Tensor]:
        """``S = config.initial_storage`` everywhere, ``[entity, n_components]``."""
        shape = (n_entity, self.n_components)
        return {"S": torch.full(shape, self.config.initial_storage, dtype=dtype, device=device)}

    def forward(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        *,
        attributes: torch.Tensor | None = None,
        states: Mapping[str, torch.Tensor] | None = None,
        warmup: int = 0,
    ) -> PhyOutput:
        """Run the bucket over ``forcing``; see :class:`~delta_core.interfaces.phy.PhyModel`."""
        self.check_inputs(forcing, params, attributes, warmup)
        n_time, n_entity, _ = forcing.shape
        if states is None:
            states = self.initial_states(n_entity, dtype=forcing.dtype, device=forcing.device)
        storage = states["S"]
        if tuple(storage.shape) != (n_entity, self.n_components):
            raise PhyInputError(
                f"LinearReservoir: state 'S' must be [{n_entity}, {self.n_components}], "
                f"got {tuple(storage.shape)}"
            )
        precip = forcing[..., 0:1]  # [time, entity, 1], broadcast over components
        pet = forcing[..., 1:2]
        k, cet = params["K"], params["CET"]
        q_series, et_series = [], []
        for t in range(n_time):
            k_t = k[t] if k.ndim == 3 else k
            cet_t = cet[t] if cet.ndim == 3 else cet
            storage = storage + precip[t]
            et = torch.minimum(cet_t * pet[t], storage)
            storage = storage - et
            q = k_t * storage
            storage = storage - q
            q_series.append(q.mean(dim=-1))
            et_series.append(et.mean(dim=-1))
        fluxes = {
            "Q": torch.stack(q_series[warmup:]),
            "ET": torch.stack(et_series[warmup:]),
        }
        return PhyOutput(fluxes=fluxes, states={"S": storage})


def water_budget(
    forcing: torch.Tensor,
    params: Mapping[str, torch.Tensor],
    initial_states: Mapping[str, torch.Tensor],
    output: PhyOutput,
) -> torch.Tensor:
    """Water-balance residual per entity (mm over the window) of a run without warm-up.

    ``S_start + sum(P) - sum(Q) - sum(ET) - S_end``, storages averaged over components
    like the outputs. Zero up to rounding for a correct model; the signature is the
    ``budget`` of :func:`delta_core.testing.check_mass_balance`.
    """
    del params  # the budget needs no parameter values
    inflow = forcing[..., 0].sum(dim=0)
    outflow = output.fluxes["Q"].sum(dim=0) + output.fluxes["ET"].sum(dim=0)
    change = output.states["S"].mean(dim=-1) - initial_states["S"].mean(dim=-1)
    return inflow - outflow - change
