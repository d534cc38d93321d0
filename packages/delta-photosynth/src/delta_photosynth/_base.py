"""What the leaf models share: the row axis, padding rows, parameter shapes, input checks.

Leaf gas-exchange data have no time axis: the PhyModel's ``time`` axis is the **row
within a curve** (the points of an A/Ci curve in measurement order) and the entity axis
is the **curve**. Rows are independent (no states, no memory), so ``warmup`` only drops
leading rows.

Curves of different lengths are padded to the longest one. A row whose forcings are
**all** non-finite is a *padding row*: the model evaluates it on finite placeholder
values and returns :attr:`padding_fill` (NaN by default) for every output there, via
``torch.where``, so neither NaN values nor NaN gradients reach valid rows. A row with
only *some* forcings non-finite is an error (:class:`~delta_core.interfaces.phy.PhyInputError`).
Data written by :mod:`delta_photosynth.data` repeat each curve's last row in the
forcings of padding rows instead (the core's datasets require complete PhyModel
inputs) and keep the observations (A, gsw) NaN there, so losses mask them.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from delta_core.interfaces.phy import PhyInputError, PhyModel, PhyOutput
from delta_core.interfaces.specs import Parameter, Variable

FORCING_META: dict[str, tuple[str, str, float]] = {
    "Ci": ("umol mol-1", "intercellular CO2 mole fraction", 300.0),
    "Ca": ("umol mol-1", "CO2 mole fraction outside the boundary layer (leaf surface when gbw is none)", 400.0),
    "Q": ("umol m-2 s-1", "photosynthetic photon flux density incident on the leaf (PPFD)", 1500.0),
    "Tleaf": ("degC", "leaf temperature", 25.0),
    "Patm": ("kPa", "atmospheric pressure", 101.325),
    "O2": ("mmol mol-1", "O2 mole fraction", 210.0),
    "VPD": ("kPa", "leaf-to-air vapour pressure deficit", 1.5),
    "RH": ("%", "relative humidity at the leaf surface", 60.0),
    "gbw": ("mol m-2 s-1", "boundary-layer conductance to water vapour", 3.0),
}
"""Forcing name -> (units, long name, placeholder used on padding rows)."""

# Plausible ranges of valid rows (catch wrong units: Kelvin, Pa instead of kPa, fractions).
_RANGES: dict[str, tuple[float, float]] = {
    "Ci": (0.0, 1e5),
    "Ca": (1e-6, 1e5),
    "Tleaf": (-60.0, 70.0),
    "Patm": (30.0, 120.0),
    "O2": (0.0, 1000.0),
    "VPD": (-1.0, 20.0),
    "RH": (0.0, 100.0),
    "gbw": (1e-6, 1e3),
}


def forcing_variables(names: tuple[str, ...]) -> tuple[Variable, ...]:
    """:class:`Variable` declarations of the forcings ``names``."""
    return tuple(Variable(n, FORCING_META[n][0], FORCING_META[n][1]) for n in names)


class LeafModel(PhyModel):
    """Base of the leaf models: rows as time, curves as entities, no states.

    Subclasses define :attr:`forcing_names`, :attr:`param_specs`, :attr:`output_vars`
    and :meth:`compute`.
    """

    forcing_names: tuple[str, ...] = ()

    @property
    def forcings(self) -> tuple[Variable, ...]:
        return forcing_variables(self.forcing_names)

    @property
    def state_vars(self) -> tuple[Variable, ...]:
        return ()

    @property
    def dynamic_params(self) -> tuple[str, ...]:
        return tuple(self.config.dynamic)

    # -- helpers for subclasses -------------------------------------------------------------
    def compute(self, x: dict[str, torch.Tensor], p: dict[str, torch.Tensor],
                valid: torch.Tensor) -> dict[str, torch.Tensor]:
        """Outputs ``[row, curve]`` from forcings ``x`` and parameters ``p`` (each
        ``[row, curve]`` or ``[1, curve]``); ``valid`` marks non-padding rows."""
        raise NotImplementedError

    def forward(
        self,
        forcing: torch.Tensor,
        params: Mapping[str, torch.Tensor],
        *,
        attributes: torch.Tensor | None = None,
        states: Mapping[str, torch.Tensor] | None = None,
        warmup: int = 0,
    ) -> PhyOutput:
        """Evaluate every row of every curve.

        Parameters
        ----------
        forcing
            ``[row, curve, n_forcing]`` in the units of :attr:`forcings`; padding rows
            all-NaN (see the module docstring).
        params
            Physical values: ``[curve, 1]`` (or ``[curve]``) per curve, or
            ``[row, curve, 1]`` per row; parameters with a default may be omitted.
        attributes, states
            Unused (the leaf models declare none).
        warmup
            Leading rows left out of the outputs.

        Returns
        -------
        PhyOutput
            ``fluxes`` ``[row - warmup, curve]`` per :attr:`output_vars`; no states.
        """
        cls = type(self).__name__
        names = self.forcing_names
        if forcing.ndim != 3 or forcing.shape[-1] != len(names):
            raise PhyInputError(f"{cls}: forcing must be [row, curve, {len(names)}] ({', '.join(names)}), "
                                f"got shape {tuple(forcing.shape)}")
        finite = torch.isfinite(forcing)
        padding = ~finite.any(dim=-1)
        partial = ~finite.all(dim=-1) & ~padding
        if bool(partial.any()):
            t, e = (int(v) for v in torch.nonzero(partial)[0])
            bad = [names[i] for i in range(len(names)) if not bool(finite[t, e, i])]
            raise PhyInputError(
                f"{cls}: {int(partial.sum())} rows have some but not all forcings non-finite "
                f"(first: row {t}, curve {e}, non-finite {', '.join(bad)}); padding rows must be all NaN")
        placeholder = torch.tensor([FORCING_META[n][2] for n in names], dtype=forcing.dtype, device=forcing.device)
        filled = torch.where(padding[..., None], placeholder, forcing)
        self.check_inputs(filled, params, attributes, warmup)
        valid = ~padding
        x = {n: filled[warmup:, :, i] for i, n in enumerate(names)}
        self._check_ranges(x, valid[warmup:])
        p = self._param_view(params, forcing.shape[1], warmup, filled)
        out = self.compute(x, p, valid[warmup:])
        fill = torch.as_tensor(self.config.padding_fill, dtype=forcing.dtype, device=forcing.device)
        pad = padding[warmup:]
        fluxes = {k: torch.where(pad, fill, v.expand_as(pad).to(forcing.dtype)) for k, v in out.items()}
        return PhyOutput(fluxes=fluxes, states={})

    def _check_ranges(self, x: Mapping[str, torch.Tensor], valid: torch.Tensor) -> None:
        for name, value in x.items():
            if name not in _RANGES:
                continue
            lo, hi = _RANGES[name]
            bad = valid & ((value < lo) | (value > hi))
            if bool(bad.any()):
                t, e = (int(v) for v in torch.nonzero(bad)[0])
                units = FORCING_META[name][0]
                raise PhyInputError(
                    f"{type(self).__name__}: forcing {name!r} has {int(bad.sum())} values outside the plausible "
                    f"range [{lo:g}, {hi:g}] {units} (first: {float(value[t, e]):g} at row {t}, curve {e}); "
                    "check the units")

    def _param_view(self, params: Mapping[str, torch.Tensor], n_curve: int, warmup: int,
                    like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every declared parameter as ``[row, curve]`` (per row) or ``[1, curve]`` (per curve)."""
        out: dict[str, torch.Tensor] = {}
        for spec in self.param_specs:
            value = params.get(spec.name)
            if value is None:
                assert spec.default is not None  # check_inputs enforces it
                out[spec.name] = torch.full((1, n_curve), spec.default, dtype=like.dtype, device=like.device)
                continue
            value = value.to(like.dtype)
            if spec.per_component and value.shape[-1] == 1 and value.ndim in (2, 3):
                value = value[..., 0]
            out[spec.name] = value[warmup:] if value.ndim == 2 else value[None, :]
        return out


def rate_parameter(name: str, lo: float, hi: float, units: str, description: str,
                   default: float | None = None) -> Parameter:
    """A per-curve parameter declaration (``[curve, 1]``, dynamic allowed)."""
    return Parameter(name, lo, hi, units=units, description=description, dynamic_allowed=True,
                     per_component=True, default=default)
