"""``photosynth.fvcb``: the C3 Farquhar–von Caemmerer–Berry model as a PhyModel.

Tensor layout (``R`` rows per curve, ``C`` curves; see :mod:`delta_photosynth._base`
for the row axis and padding):

==================  ==========================================  ===========================
argument            shape                                       units
==================  ==========================================  ===========================
``forcing``         ``[R, C, n]``: A/Ci mode Ci, Q, Tleaf        µmol mol⁻¹, µmol m⁻² s⁻¹, °C
                    coupled: Ca, Q, Tleaf, VPD (or RH)           ..., kPa (or %)
                    then optional Patm, O2, gbw                  kPa, mmol mol⁻¹, mol m⁻² s⁻¹
``params[p]``       ``[C, 1]`` per curve or ``[R, C, 1]`` per row  see :attr:`FvCB.param_specs`
fluxes              ``[R - warmup, C]``                           see :attr:`FvCB.output_vars`
==================  ==========================================  ===========================

Equations (Farquhar et al. 1980; von Caemmerer 2000), at leaf temperature ``T``:

- ``Vcmax = Vcmax25 f_V(T)``, ``Jmax = Jmax25 f_J(T)``, ``TPU = TPU25 f_P(T)``,
  ``Rd = Rd25 f_R(T)`` with the responses of :attr:`FvCBConfig.temperature`;
  ``Kc``, ``Ko``, ``Γ*`` from their 25 °C values with Arrhenius responses
  (:class:`~delta_photosynth.config.C3Kinetics`), ``Km = Kc (1 + O/Ko)``;
- ``J``: smaller root of ``θ J² - (α Q + Jmax) J + α Q Jmax = 0``;
- ``Ac = Vcmax (Ci - Γ*)/(Ci + Km)``, ``Aj = J (Ci - Γ*)/(4 Ci + 8 Γ*)``, ``Ap = 3 TPU``;
- ``A`` = co-limited minimum (smoothed: smaller quadratic roots with curvature 0.999,
  first of Ac and Aj, then with Ap; or hard minimum), ``An = A - Rd``.

In the ``partial_pressure`` kinetics basis, ``Kc``, ``Γ*`` and ``Ko`` are divided by
``Patm / P_ref`` (equivalent to using partial pressures in Pa with constants fixed at
the reference pressure); in the default ``mole_fraction`` basis (FATES) Patm cancels.

Coupled mode: ``Ci`` solves ``Ci = Ca - An(Ci) (1.4/gbw + 1.6/gsw)`` with ``gsw`` from
the Medlyn or Ball–Berry model (:mod:`delta_photosynth.stomata`), gradients through the
solve by the implicit-function theorem.
"""

from __future__ import annotations

import torch

from delta_core.interfaces.specs import Parameter, Variable
from delta_photosynth._base import LeafModel, rate_parameter
from delta_photosynth.biochem import c3_limits, colimit, electron_transport, limiting_index
from delta_photosynth.config import FvCBConfig, TemperatureResponse
from delta_photosynth.stomata import coupled_drivers, solve_ci, stomatal_conductance, surface_co2
from delta_photosynth.temperature import response_factor

_OUT_AN = Variable("An", "umol m-2 s-1", "net CO2 assimilation rate A - Rd")
_OUT_AC = Variable("Ac", "umol m-2 s-1", "Rubisco-limited gross assimilation rate")
_OUT_AJ = Variable("Aj", "umol m-2 s-1", "electron-transport (RuBP regeneration) limited gross assimilation rate")
_OUT_AP = Variable("Ap", "umol m-2 s-1", "triose-phosphate-utilisation limited gross assimilation rate 3 TPU")
_OUT_A = Variable("A", "umol m-2 s-1", "gross CO2 assimilation rate (co-limited), An + Rd")
_OUT_LIM = Variable("limitation", "1", "limiting process: 1 Rubisco (Ac), 2 electron transport (Aj), 3 TPU (Ap)")
_OUT_GS = Variable("gsw", "mol m-2 s-1", "stomatal conductance to water vapour")
_OUT_CI = Variable("Ci", "umol mol-1", "intercellular CO2 mole fraction (solved)")
_OUT_OK = Variable("ci_converged", "1", "1 where the Ci solve converged, 0 where it did not")

_TEMPERATURE_PARAMS = {
    "Ha": (10000.0, 200000.0, "J mol-1", "activation energy of the temperature response of {}"),
    "Hd": (100000.0, 300000.0, "J mol-1", "deactivation energy of the peaked temperature response of {}"),
    "dS": (400.0, 800.0, "J mol-1 K-1", "entropy term of the peaked temperature response of {}"),
    "Q10": (1.0, 4.0, "1", "Q10 of the temperature response of {}"),
}


def temperature_parameter(name: str, rate: str, response: TemperatureResponse) -> Parameter:
    """Declaration of a learnable temperature-response parameter such as ``Ha_Vcmax``."""
    field = name.split("_", 1)[0]
    lo, hi, units, text = _TEMPERATURE_PARAMS[field]
    default = {"Ha": response.Ha, "Hd": response.Hd, "dS": response.dS, "Q10": response.q10}[field]
    default = min(max(default, lo), hi)
    return rate_parameter(name, lo, hi, units, text.format(rate), default=default)


def learned_response(p: dict[str, torch.Tensor], rate: str, learn: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Learned fields of the temperature response of ``rate`` (``Ha_Vcmax`` -> ``{"Ha": ...}``)."""
    out = {}
    for field, key in (("Ha", "Ha"), ("Hd", "Hd"), ("dS", "dS"), ("Q10", "q10")):
        name = f"{field}_{rate}"
        if name in learn:
            out[key] = p[name]
    return out


def stomatal_parameters(model: str) -> tuple[Parameter, ...]:
    """g0 and g1 of the Medlyn or Ball–Berry model."""
    g0 = rate_parameter("g0", 1e-3, 0.3, "mol m-2 s-1", "residual (minimum) stomatal conductance to water vapour")
    if model == "medlyn":
        g1 = rate_parameter("g1", 0.1, 15.0, "kPa0.5", "Medlyn slope parameter g1 (Medlyn et al. 2011)")
    else:
        g1 = rate_parameter("g1", 0.5, 30.0, "1", "Ball-Berry slope m (Ball et al. 1987)")
    return (g0, g1)


def coupled_forcings(stomatal: str, optional: tuple[str, ...], allowed: tuple[str, ...]) -> tuple[str, ...]:
    """Forcing names of the coupled mode."""
    humidity = "VPD" if stomatal == "medlyn" else "RH"
    return ("Ca", "Q", "Tleaf", humidity, *(n for n in allowed if n in optional))


class FvCB(LeafModel):
    """C3 leaf photosynthesis (FvCB), registered as ``photosynth.fvcb``.

    Parameters
    ----------
    config
        :class:`~delta_photosynth.config.FvCBConfig`; defaults (A/Ci mode, TPU, smoothed
        co-limitation, peaked Arrhenius responses) when ``None``.

    Notes
    -----
    Parameters (physical value ``lo + u (hi - lo)``; ``alpha``, ``theta`` and
    temperature-response parameters only when listed in ``learn``)::

        name     lo     hi     units          description
        Vcmax25  1      300    umol m-2 s-1   maximum carboxylation rate at 25 degC
        Jmax25   1      500    umol m-2 s-1   maximum electron transport rate at 25 degC
        Rd25     0      10     umol m-2 s-1   day respiration at 25 degC
        TPU25    0      30     umol m-2 s-1   triose-phosphate utilisation rate at 25 degC (tpu: true)
        alpha    0.05   0.6    mol mol-1      quantum yield of electron transport (incident light)
        theta    0.1    0.99   1              curvature of the light response of J
        Ha_X     1e4    2e5    J mol-1        activation energy of rate X
        Hd_X     1e5    3e5    J mol-1        deactivation energy of rate X (peaked)
        dS_X     400    800    J mol-1 K-1    entropy term of rate X (peaked)
        Q10_X    1      4      1              Q10 of rate X (q10)
        g0       0.001  0.3    mol m-2 s-1    residual stomatal conductance (coupled)
        g1       0.1    15     kPa0.5         Medlyn g1 (coupled; Ball-Berry: 0.5-30, 1)
    """

    config: FvCBConfig

    def __init__(self, config: FvCBConfig | None = None) -> None:
        config = FvCBConfig() if config is None else config
        if not isinstance(config, FvCBConfig):
            raise TypeError(f"FvCB expects an FvCBConfig, got {type(config).__name__}")
        super().__init__(config)
        if config.mode == "aci":
            self.forcing_names = ("Ci", "Q", "Tleaf", *(n for n in ("Patm", "O2") if n in config.optional_forcings))
        else:
            self.forcing_names = coupled_forcings(config.stomatal, config.optional_forcings, ("Patm", "O2", "gbw"))
        self._rates = ("Vcmax", "Jmax", "Rd", *(("TPU",) if config.tpu else ()))
        self._params = self._declare()
        outputs = [_OUT_AN, _OUT_AC, _OUT_AJ, *([_OUT_AP] if config.tpu else []), _OUT_A, _OUT_LIM]
        if config.mode == "coupled":
            outputs += [_OUT_GS, _OUT_CI, _OUT_OK]
        self._outputs = tuple(outputs)

    def _declare(self) -> tuple[Parameter, ...]:
        c = self.config
        specs = [
            rate_parameter("Vcmax25", 1.0, 300.0, "umol m-2 s-1", "maximum carboxylation rate of Rubisco at 25 degC"),
            rate_parameter("Jmax25", 1.0, 500.0, "umol m-2 s-1", "maximum electron transport rate at 25 degC"),
            rate_parameter("Rd25", 0.0, 10.0, "umol m-2 s-1", "day (mitochondrial) respiration at 25 degC"),
        ]
        if c.tpu:
            specs.append(rate_parameter("TPU25", 0.0, 30.0, "umol m-2 s-1",
                                        "triose-phosphate utilisation rate at 25 degC"))
        if "alpha" in c.learn:
            specs.append(rate_parameter("alpha", 0.05, 0.6, "mol mol-1",
                                        "quantum yield of electron transport on incident PPFD", default=c.alpha))
        if "theta" in c.learn:
            specs.append(rate_parameter("theta", 0.1, 0.99, "1", "curvature of the light response of J",
                                        default=min(c.theta, 0.99)))
        for name in c.learn:
            if "_" in name:
                rate = name.split("_", 1)[1]
                specs.append(temperature_parameter(name, rate, c.temperature[rate]))
        if c.mode == "coupled":
            specs += stomatal_parameters(c.stomatal)
        return tuple(specs)

    @property
    def param_specs(self) -> tuple[Parameter, ...]:
        return self._params

    @property
    def output_vars(self) -> tuple[Variable, ...]:
        return self._outputs

    # -- physics ------------------------------------------------------------------------------
    def _kinetics(self, x: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``Km = Kc (1 + O/Ko)`` and ``Γ*`` at leaf temperature, µmol mol⁻¹ (effective)."""
        k = self.config.kinetics
        t = x["Tleaf"]
        kc = k.Kc25 * response_factor(t, k.Kc)
        ko = k.Ko25 * response_factor(t, k.Ko)
        gstar = k.gammastar25 * response_factor(t, k.gammastar)
        o2 = x.get("O2", torch.full_like(t, self.config.o2))
        if k.basis == "partial_pressure":
            patm = x.get("Patm", torch.full_like(t, self.config.patm))
            ratio = k.reference_pressure / patm  # constants fixed in Pa: their mole fraction scales with 1/Patm
            kc, ko, gstar = kc * ratio, ko * ratio, gstar * ratio
        return kc * (1.0 + o2 / ko), gstar

    def _rates_at(self, x: dict[str, torch.Tensor], p: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c, t = self.config, x["Tleaf"]
        out = {}
        for rate in self._rates:
            factor = response_factor(t, c.temperature[rate], learned_response(p, rate, c.learn))
            out[rate] = p[f"{rate}25"] * factor
        return out

    def compute(self, x: dict[str, torch.Tensor], p: dict[str, torch.Tensor],
                valid: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        r = self._rates_at(x, p)
        alpha = p.get("alpha", c.alpha)
        theta = p.get("theta", c.theta)
        j = electron_transport(x["Q"], r["Jmax"], alpha, theta)
        km, gstar = self._kinetics(x)
        tpu = r.get("TPU")
        smooth = c.colimitation == "smooth"

        def net(ci: torch.Tensor, vcmax: torch.Tensor, jj: torch.Tensor, km_: torch.Tensor, gs_: torch.Tensor,
                rd: torch.Tensor, *tp: torch.Tensor) -> torch.Tensor:
            ac, aj, ap = c3_limits(ci, vcmax, jj, km_, gs_, tp[0] if tp else None)
            a = colimit(ac, aj, c.curvature, smooth)
            if ap is not None:
                a = colimit(a, ap, c.curvature_tpu, smooth)
            return a - rd

        out: dict[str, torch.Tensor] = {}
        if c.mode == "aci":
            ci = x["Ci"]
        else:
            ca, rb, slope = coupled_drivers(x, p["g1"], c.stomatal, c.gbw)
            bio = [r["Vcmax"], j, km, gstar, r["Rd"], *([tpu] if tpu is not None else [])]
            ci, converged = solve_ci(net, bio, gamma=gstar, rd=r["Rd"], ca=ca, rb=rb, g0=p["g0"], slope=slope,
                                     config=c.solver, where="photosynth.fvcb", valid=valid)
            an_solved = net(ci, *bio)
            cs = surface_co2(ca, an_solved, rb)
            out["gsw"] = stomatal_conductance(an_solved, cs, p["g0"], slope)
            out["Ci"] = ci
            out["ci_converged"] = converged.to(ci.dtype)
        ac, aj, ap = c3_limits(ci, r["Vcmax"], j, km, gstar, tpu)
        a = colimit(ac, aj, c.curvature, smooth)
        if ap is not None:
            a = colimit(a, ap, c.curvature_tpu, smooth)
        out.update({"An": a - r["Rd"], "Ac": ac, "Aj": aj, "A": a,
                    "limitation": limiting_index(ac, aj, ap)})
        if ap is not None:
            out["Ap"] = ap
        return out

