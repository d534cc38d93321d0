"""``photosynth.c4``: C4 leaf photosynthesis after Collatz et al. (1992), as in CLM4.5/FATES.

Tensor layout as in :mod:`delta_photosynth.fvcb` (rows × curves); forcings Ci, Q, Tleaf
(A/Ci mode) or Ca, Q, Tleaf, VPD/RH [, gbw] (coupled mode).

Equations (Collatz, Ribas-Carbo & Berry 1992, Aust. J. Plant Physiol. 19:519; CLM4.5
tech. note, Oleson et al. 2013, sec. 8.2), at leaf temperature ``T``:

- ``Vcmax = Vcmax25 f_V(T)``, ``kp = kp25 f_k(T)``, ``Rd = Rd25 f_R(T)``; defaults: Q10
  2.0 with inhibition below 13 °C and above 36 °C (Vcmax), Q10 1.8 (kp), Q10 2.0 with
  inhibition above 55 °C (Rd), each normalised so that ``f(25 °C) = 1`` (Collatz' Vcmax
  factor is 0.939 at 25 °C un-normalised: ``Vcmax25`` here is the rate at 25 °C);
- ``Ac = Vcmax`` (Rubisco), ``Aj = α Q`` (light; ``α`` = 0.05 on incident PPFD),
  ``Ap = kp Ci`` (PEP carboxylation; ``kp`` mol m⁻² s⁻¹, ``Ci`` µmol mol⁻¹);
- co-limitation: smaller root of ``θ M² - (Ac + Aj) M + Ac Aj = 0`` (θ = 0.80), then of
  ``β A² - (M + Ap) A + M Ap = 0`` (β = 0.95), or hard minimum; ``An = A - Rd``.
"""

from __future__ import annotations

import torch

from delta_core.interfaces.specs import Parameter, Variable
from delta_photosynth._base import LeafModel, rate_parameter
from delta_photosynth.biochem import c4_limits, colimit, limiting_index
from delta_photosynth.config import C4Config
from delta_photosynth.fvcb import coupled_forcings, learned_response, stomatal_parameters, temperature_parameter
from delta_photosynth.stomata import coupled_drivers, solve_ci, stomatal_conductance, surface_co2
from delta_photosynth.temperature import response_factor

_OUTPUTS = (
    Variable("An", "umol m-2 s-1", "net CO2 assimilation rate A - Rd"),
    Variable("Ac", "umol m-2 s-1", "Rubisco-limited gross assimilation rate Vcmax"),
    Variable("Aj", "umol m-2 s-1", "light-limited gross assimilation rate alpha Q"),
    Variable("Ap", "umol m-2 s-1", "PEP-carboxylation (CO2) limited gross assimilation rate kp Ci"),
    Variable("A", "umol m-2 s-1", "gross CO2 assimilation rate (co-limited), An + Rd"),
    Variable("limitation", "1", "limiting process: 1 Rubisco (Ac), 2 light (Aj), 3 PEP carboxylation (Ap)"),
)
_COUPLED = (
    Variable("gsw", "mol m-2 s-1", "stomatal conductance to water vapour"),
    Variable("Ci", "umol mol-1", "intercellular CO2 mole fraction (solved)"),
    Variable("ci_converged", "1", "1 where the Ci solve converged, 0 where it did not"),
)


class C4(LeafModel):
    """C4 leaf photosynthesis (Collatz et al. 1992), registered as ``photosynth.c4``.

    Parameters
    ----------
    config
        :class:`~delta_photosynth.config.C4Config`; defaults when ``None``.

    Notes
    -----
    Parameters::

        name     lo     hi     units          description
        Vcmax25  1      300    umol m-2 s-1   maximum Rubisco capacity at 25 degC
        kp25     0.01   3      mol m-2 s-1    initial slope of the PEP-carboxylation CO2 response at 25 degC
        Rd25     0      10     umol m-2 s-1   day respiration at 25 degC
        alpha    0.01   0.1    mol mol-1      quantum efficiency (learn: [alpha])
        Q10_X    1      4      1              Q10 of rate X (learn)
        g0, g1                                stomatal model (coupled), as in photosynth.fvcb
    """

    config: C4Config

    def __init__(self, config: C4Config | None = None) -> None:
        config = C4Config() if config is None else config
        if not isinstance(config, C4Config):
            raise TypeError(f"C4 expects a C4Config, got {type(config).__name__}")
        super().__init__(config)
        if config.mode == "aci":
            self.forcing_names = ("Ci", "Q", "Tleaf")
        else:
            self.forcing_names = coupled_forcings(config.stomatal, config.optional_forcings, ("gbw",))
        specs = [
            rate_parameter("Vcmax25", 1.0, 300.0, "umol m-2 s-1", "maximum Rubisco capacity at 25 degC"),
            rate_parameter("kp25", 0.01, 3.0, "mol m-2 s-1",
                           "initial slope of the PEP-carboxylation CO2 response at 25 degC"),
            rate_parameter("Rd25", 0.0, 10.0, "umol m-2 s-1", "day (mitochondrial) respiration at 25 degC"),
        ]
        if "alpha" in config.learn:
            specs.append(rate_parameter("alpha", 0.01, 0.1, "mol mol-1", "quantum efficiency on incident PPFD",
                                        default=min(max(config.alpha, 0.01), 0.1)))
        for name in config.learn:
            if "_" in name:
                rate = name.split("_", 1)[1]
                specs.append(temperature_parameter(name, rate, config.temperature[rate]))
        if config.mode == "coupled":
            specs += stomatal_parameters(config.stomatal)
        self._params = tuple(specs)
        self._outputs = _OUTPUTS + (_COUPLED if config.mode == "coupled" else ())

    @property
    def param_specs(self) -> tuple[Parameter, ...]:
        return self._params

    @property
    def output_vars(self) -> tuple[Variable, ...]:
        return self._outputs

    def compute(self, x: dict[str, torch.Tensor], p: dict[str, torch.Tensor],
                valid: torch.Tensor) -> dict[str, torch.Tensor]:
        c, t = self.config, x["Tleaf"]
        rates = {}
        for rate in ("Vcmax", "kp", "Rd"):
            factor = response_factor(t, c.temperature[rate], learned_response(p, rate, c.learn))
            rates[rate] = p[f"{rate}25"] * factor
        alpha = p.get("alpha", c.alpha)
        smooth = c.colimitation == "smooth"
        q = x["Q"]

        def net(ci: torch.Tensor, vcmax: torch.Tensor, q_: torch.Tensor, kp: torch.Tensor, rd: torch.Tensor,
                al: torch.Tensor) -> torch.Tensor:
            ac, aj, ap = c4_limits(ci, vcmax, q_, kp, al)
            return colimit(colimit(ac, aj, c.curvature, smooth), ap, c.curvature_pep, smooth) - rd

        out: dict[str, torch.Tensor] = {}
        if c.mode == "aci":
            ci = x["Ci"]
        else:
            ca, rb, slope = coupled_drivers(x, p["g1"], c.stomatal, c.gbw)
            al = alpha if isinstance(alpha, torch.Tensor) else torch.full_like(ca, alpha)
            bio = [rates["Vcmax"], q, rates["kp"], rates["Rd"], al]
            ci, converged = solve_ci(net, bio, gamma=torch.zeros_like(ca), rd=rates["Rd"], ca=ca, rb=rb, g0=p["g0"],
                                     slope=slope, config=c.solver, where="photosynth.c4", valid=valid)
            an_solved = net(ci, *bio)
            out["gsw"] = stomatal_conductance(an_solved, surface_co2(ca, an_solved, rb), p["g0"], slope)
            out["Ci"] = ci
            out["ci_converged"] = converged.to(ci.dtype)
        ac, aj, ap = c4_limits(ci, rates["Vcmax"], q, rates["kp"], alpha)
        a = colimit(colimit(ac, aj, c.curvature, smooth), ap, c.curvature_pep, smooth)
        out.update({"An": a - rates["Rd"], "Ac": ac, "Aj": aj, "Ap": ap, "A": a,
                    "limitation": limiting_index(ac, aj, ap)})
        return out
