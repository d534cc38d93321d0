"""``core.free_parameters``: one learnable parameter set per entity, no network.

Each entity ``e`` has a free value ``w[e, p]`` per parameter (and component); the
PhyModel receives ``lo + sigmoid(w) * (hi - lo)``. This is classic per-entity
calibration (e.g. one FvCB parameter set per A/Ci curve, fitted for all curves at once
in one batched tensor; or one HBV set per basin) expressed in the same framework, so
the same trainer, losses and reports apply. Samples must carry ``entity_index``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from delta_core.coupling.config import FreeParametersConfig
from delta_core.coupling.parameter_learning import CouplingError, InputSizes, fixed_parameters
from delta_core.interfaces.dmodel import DModel, DModelOutput
from delta_core.interfaces.phy import PhyModel


class FreeParameters(DModel):
    """A table of per-entity parameters in unconstrained space, scaled into the bounds.

    Parameters
    ----------
    phy
        The PhyModel whose static parameters are fitted.
    n_entities
        Rows of the table (the dataset's entities).
    config
        Initial value in ``[0, 1]`` of the bounds, fixed parameters, warm-up.
    """

    def __init__(self, phy: PhyModel, n_entities: int, config: FreeParametersConfig) -> None:
        super().__init__({"phy": phy}, {}, config)
        if n_entities < 1:
            raise CouplingError("core.free_parameters needs the number of entities (got 0)")
        if phy.dynamic_params:
            raise CouplingError(
                f"core.free_parameters fits static parameters only; {type(phy).__name__} declares "
                f"dynamic {list(phy.dynamic_params)}"
            )
        declared = {p.name: p for p in phy.param_specs}
        unknown = [n for n in config.fixed if n not in declared]
        if unknown:
            raise CouplingError(f"fixed parameters {unknown} are not declared by {type(phy).__name__}")
        for name in list(config.init):
            if name not in declared:
                raise CouplingError(f"init names {name!r}, not a parameter of {type(phy).__name__}")
        self.specs = [p for p in phy.param_specs if p.name not in config.fixed]
        tables = {}
        for p in self.specs:
            u = min(max(config.init.get(p.name, config.init_default), 1e-4), 1 - 1e-4)
            width = (phy.n_components,) if p.per_component else ()
            tables[p.name] = torch.nn.Parameter(torch.full((n_entities, *width), float(torch.logit(torch.tensor(u)))))
        self.table = torch.nn.ParameterDict(tables)
        self.warmup = config.warmup

    @classmethod
    def build(
        cls,
        phy: Mapping[str, torch.nn.Module],
        nn: Mapping[str, Callable[[Any], torch.nn.Module]],
        inputs: Any,
        config: Any = None,
    ) -> FreeParameters:
        """Size the table from ``inputs.n_entities``; no network may be configured."""
        config = config or FreeParametersConfig()
        if len(phy) != 1:
            raise CouplingError(f"core.free_parameters couples exactly one PhyModel, got {len(phy)}")
        if nn:
            raise CouplingError("core.free_parameters uses no network: remove model.nn")
        (model,) = phy.values()
        assert isinstance(model, PhyModel)
        n = inputs.n_entities if isinstance(inputs, InputSizes) else int(inputs)
        return cls(model, n, config)

    @property
    def phy_model(self) -> PhyModel:
        """The fitted PhyModel."""
        model = self.phy["phy"]
        assert isinstance(model, PhyModel)
        return model

    def physical(self, entity_index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Physical parameters of the given entities: ``[batch, n_components]`` or ``[batch]``."""
        out = {}
        for p in self.specs:
            u = torch.sigmoid(self.table[p.name][entity_index])
            out[p.name] = p.lo + u * (p.hi - p.lo)
        return out

    def forward(self, sample: Mapping[str, torch.Tensor]) -> DModelOutput:
        """Run the PhyModel with the table rows of ``sample["entity_index"]``."""
        if "entity_index" not in sample or "x_phy" not in sample:
            raise CouplingError(f"core.free_parameters needs 'x_phy' and 'entity_index'; sample has {sorted(sample)}")
        x_phy = sample["x_phy"]
        params = {k: v.to(x_phy.dtype) for k, v in self.physical(sample["entity_index"].to(x_phy.device)).items()}
        params.update(fixed_parameters(self.phy_model, self.config.fixed, x_phy))
        result = self.phy_model(x_phy, params, attributes=sample.get("c_phy"), warmup=self.warmup)
        return DModelOutput(fluxes=result.fluxes, parameters=params, states=result.states, warmup=self.warmup)
