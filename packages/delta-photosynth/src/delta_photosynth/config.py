"""Configuration of ``photosynth.fvcb`` and ``photosynth.c4`` (torch-free).

Everything here is plain attrs: ``delta plugins show`` and ``delta config validate`` read
it without importing torch. The physics lives in :mod:`delta_photosynth.fvcb`,
:mod:`delta_photosynth.c4`, :mod:`delta_photosynth.biochem`,
:mod:`delta_photosynth.temperature` and :mod:`delta_photosynth.stomata`.

Example YAML (A/Ci-curve fitting with TPU and Arrhenius temperature responses)::

    phy:
      leaf:
        name: photosynth.fvcb
        params:
          mode: aci
          tpu: true
          temperature:
            Vcmax: {kind: arrhenius, Ha: 65330}
            Jmax: {kind: arrhenius, Ha: 43540}

Coupled mode (Ci solved from the stomatal model)::

    params: {mode: coupled, stomatal: medlyn, optional_forcings: [gbw]}
"""

from __future__ import annotations

import math
from typing import Any

import attrs

from delta_core.config.validators import in_range, one_of, positive, subset_of

R_GAS = 8.314462618
"""Molar gas constant, J mol⁻¹ K⁻¹."""

T25 = 298.15
"""Reference temperature 25 °C in K."""

P_REFERENCE = 101.325
"""Standard atmospheric pressure, kPa."""

TEMPERATURE_KINDS: tuple[str, ...] = ("none", "arrhenius", "peaked", "q10")
"""Temperature response shapes (see :class:`TemperatureResponse`)."""

MODES: tuple[str, ...] = ("aci", "coupled")
"""``aci``: Ci is measured (a forcing); ``coupled``: Ci is solved with a stomatal model."""

STOMATAL_MODELS: tuple[str, ...] = ("medlyn", "ball_berry")
"""Stomatal conductance models of the coupled mode."""

COLIMITATION: tuple[str, ...] = ("smooth", "min")
"""Co-limitation: smoothed minimum (quadratic, curvature < 1) or hard minimum."""

KINETICS_BASES: tuple[str, ...] = ("mole_fraction", "partial_pressure")
"""How Kc, Ko and Γ* scale with atmospheric pressure (see :class:`C3Kinetics`)."""


def _finite(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not math.isfinite(value):
        raise ValueError(f"{attribute.name} must be finite, got {value!r}")


def _names(value: object) -> tuple[str, ...]:
    """A single name or an iterable of names, as a tuple."""
    if isinstance(value, str):
        return (value,)
    return tuple(value)  # type: ignore[call-overload]


@attrs.frozen
class TemperatureResponse:
    """Temperature scaling ``f(T)`` of a rate or constant, with ``f(25 °C) = 1`` always.

    With ``Tk`` the leaf temperature in K, ``T`` in °C and ``R`` = :data:`R_GAS`:

    ``"none"``
        ``f = 1``.
    ``"arrhenius"``
        ``f = exp(Ha (Tk - 298.15) / (R 298.15 Tk))``.
    ``"peaked"``
        peaked Arrhenius (Johnson et al. 1942; Medlyn et al. 2002, Plant Cell Environ.
        25:1167): the Arrhenius term times
        ``(1 + exp((298.15 ΔS - Hd) / (R 298.15))) / (1 + exp((Tk ΔS - Hd) / (R Tk)))``.
    ``"q10"``
        ``f = Q10^((T - 25) / 10)``, optionally times low- and high-temperature
        inhibition ``1 / ((1 + exp(s_low (t_low - T))) (1 + exp(s_high (T - t_high))))``
        (Collatz et al. 1992, Aust. J. Plant Physiol. 19:519), divided by its value at
        25 °C so that ``f(25 °C) = 1``.

    Parameters
    ----------
    kind
        One of :data:`TEMPERATURE_KINDS`.
    Ha
        Activation energy, J mol⁻¹ (``arrhenius``, ``peaked``).
    Hd
        Deactivation energy, J mol⁻¹ (``peaked``).
    dS
        Entropy term ΔS, J mol⁻¹ K⁻¹ (``peaked``).
    q10
        Q10 factor (``q10``).
    t_low, t_high
        Midpoints (°C) of the low/high-temperature inhibition of ``q10``; ``None``: no
        inhibition on that side.
    s_low, s_high
        Steepness of the inhibition terms, K⁻¹.
    """

    kind: str = attrs.field(default="arrhenius", validator=one_of(TEMPERATURE_KINDS))
    Ha: float = attrs.field(default=0.0, validator=_finite)
    Hd: float = attrs.field(default=0.0, validator=_finite)
    dS: float = attrs.field(default=0.0, validator=_finite)
    q10: float = attrs.field(default=2.0, validator=positive)
    t_low: float | None = None
    s_low: float = attrs.field(default=0.3, validator=positive)
    t_high: float | None = None
    s_high: float = attrs.field(default=0.3, validator=positive)

    def __attrs_post_init__(self) -> None:
        if self.kind == "peaked" and not (self.Hd > 0 and self.dS > 0):
            raise ValueError(f"a peaked Arrhenius response needs Hd > 0 and dS > 0, got Hd={self.Hd}, dS={self.dS}")


def arrhenius(Ha: float) -> TemperatureResponse:
    """An Arrhenius response with activation energy ``Ha`` (J mol⁻¹)."""
    return TemperatureResponse(kind="arrhenius", Ha=Ha)


def peaked(Ha: float, Hd: float, dS: float) -> TemperatureResponse:
    """A peaked Arrhenius response (J mol⁻¹, J mol⁻¹, J mol⁻¹ K⁻¹)."""
    return TemperatureResponse(kind="peaked", Ha=Ha, Hd=Hd, dS=dS)


# Peaked Arrhenius values of CLM4.5 (Oleson et al. 2013, NCAR/TN-503+STR, sec. 8.4; after
# Leuning 2002 and Kattge & Knorr 2007), also used by FATES.
C3_TEMPERATURE_DEFAULTS: dict[str, TemperatureResponse] = {
    "Vcmax": peaked(65330.0, 149250.0, 485.0),
    "Jmax": peaked(43540.0, 152040.0, 495.0),
    "TPU": peaked(53100.0, 150650.0, 490.0),
    "Rd": peaked(46390.0, 150650.0, 490.0),
}
"""Default temperature responses of the C3 rates (peaked Arrhenius, CLM4.5/FATES values)."""

# Collatz et al. (1992), Table 2 (Q10 2.0 for Vmax and Rd, 1.8 for k; inhibition terms).
C4_TEMPERATURE_DEFAULTS: dict[str, TemperatureResponse] = {
    "Vcmax": TemperatureResponse(kind="q10", q10=2.0, t_low=13.0, s_low=0.3, t_high=36.0, s_high=0.3),
    "kp": TemperatureResponse(kind="q10", q10=1.8),
    "Rd": TemperatureResponse(kind="q10", q10=2.0, t_high=55.0, s_high=1.3),
}
"""Default temperature responses of the C4 rates (Collatz et al. 1992, normalised to 25 °C)."""


def _merge(defaults: dict[str, TemperatureResponse]) -> Any:
    def convert(value: object) -> dict[str, TemperatureResponse]:
        if value is None:
            return dict(defaults)
        if not isinstance(value, dict):
            raise TypeError(f"temperature must map rate names to responses, got {type(value).__name__}")
        unknown = sorted(set(value) - set(defaults))
        if unknown:
            raise ValueError(f"temperature: unknown rates {unknown}; choose from {', '.join(defaults)}")
        merged = dict(defaults)
        for key, item in value.items():
            merged[key] = item if isinstance(item, TemperatureResponse) else TemperatureResponse(**item)
        return merged

    return convert


@attrs.frozen
class C3Kinetics:
    """Rubisco kinetic constants at 25 °C and their temperature responses.

    Defaults are FATES' values (Bernacchi et al. 2001, Plant Cell Environ. 24:253, as
    used in CLM4.5/FATES): Kc 404.9 µmol mol⁻¹ (Ha 79430 J mol⁻¹), Ko 278.4 mmol mol⁻¹
    (Ha 36380 J mol⁻¹), Γ* 42.75 µmol mol⁻¹ (Ha 37830 J mol⁻¹).

    Parameters
    ----------
    Kc25, Ko25, gammastar25
        µmol mol⁻¹, mmol mol⁻¹, µmol mol⁻¹.
    Kc, Ko, gammastar
        Temperature responses.
    basis
        ``"mole_fraction"`` (FATES): the constants are mole fractions, i.e. partial
        pressures ``K · Patm`` in Pa that scale with the ambient pressure; Patm then
        cancels out of the biochemistry. ``"partial_pressure"``: the constants are
        fixed partial pressures (their mole fraction times ``reference_pressure``), and
        the leaf's CO2 and O2 partial pressures are ``Ci · Patm`` and ``O2 · Patm``:
        at a lower ``Patm`` (altitude) Rubisco sees less CO2 for the same Ci.
    reference_pressure
        kPa; converts the constants to partial pressures in the ``partial_pressure`` basis.
    """

    Kc25: float = attrs.field(default=404.9, validator=positive)
    Ko25: float = attrs.field(default=278.4, validator=positive)
    gammastar25: float = attrs.field(default=42.75, validator=positive)
    Kc: TemperatureResponse = attrs.field(factory=lambda: arrhenius(79430.0))
    Ko: TemperatureResponse = attrs.field(factory=lambda: arrhenius(36380.0))
    gammastar: TemperatureResponse = attrs.field(factory=lambda: arrhenius(37830.0))
    basis: str = attrs.field(default="mole_fraction", validator=one_of(KINETICS_BASES))
    reference_pressure: float = attrs.field(default=P_REFERENCE, validator=positive)


@attrs.frozen
class CiSolverConfig:
    """Options of the coupled-mode Ci solve (:mod:`delta_photosynth.stomata`).

    Parameters
    ----------
    max_newton
        Iterations of the batched, bracket-safeguarded Newton phase.
    max_bisect
        Bisection iterations for rows the Newton phase left unconverged.
    rtol
        Convergence when ``|F(Ci)| <= rtol * max(Ca, 1)``; ``None``: 1e-5 in float32,
        1e-12 in float64 (where converged rows are also polished to round-off, so that
        finite differences of the solution are accurate).
    """

    max_newton: int = attrs.field(default=30, validator=in_range(1, 1000))
    max_bisect: int = attrs.field(default=200, validator=in_range(0, 2000))
    rtol: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.rtol is not None and not 0 < self.rtol < 1:
            raise ValueError(f"rtol must be in (0, 1), got {self.rtol}")


def _params_of(value: tuple[str, ...], allowed: tuple[str, ...], what: str) -> None:
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ValueError(f"{what}: unknown {unknown}; choose from {', '.join(allowed)}")
    if len(set(value)) != len(value):
        raise ValueError(f"{what}: duplicates in {list(value)}")


def _learnable_extras(rates: tuple[str, ...], temperature: dict[str, TemperatureResponse],
                      fixed: tuple[str, ...]) -> tuple[str, ...]:
    out = list(fixed)
    for rate in rates:
        resp = temperature[rate]
        if resp.kind == "arrhenius":
            out.append(f"Ha_{rate}")
        elif resp.kind == "peaked":
            out += [f"Ha_{rate}", f"Hd_{rate}", f"dS_{rate}"]
        elif resp.kind == "q10":
            out.append(f"Q10_{rate}")
    return tuple(out)


def _check_common(instance: Any) -> None:
    if instance.mode == "aci" and "gbw" in instance.optional_forcings:
        raise ValueError("optional_forcings: 'gbw' is only used in the coupled mode")
    if instance.gbw is not None and not instance.gbw > 0:
        raise ValueError(f"gbw must be > 0 (or null for no boundary layer), got {instance.gbw}")


@attrs.frozen
class FvCBConfig:
    """Options of ``photosynth.fvcb``, the C3 Farquhar–von Caemmerer–Berry model.

    Parameters
    ----------
    mode
        ``"aci"``: Ci is measured and given (forcings Ci, Q, Tleaf); ``"coupled"``: Ci
        is solved from the diffusion constraint with a stomatal model (forcings Ca, Q,
        Tleaf and VPD (Medlyn) or RH (Ball–Berry)).
    tpu
        Include the triose-phosphate-utilisation limit ``Ap = 3 TPU`` (and TPU25).
    colimitation
        ``"smooth"``: smaller root of ``θ A² - (A1 + A2) A + A1 A2 = 0`` for Ac/Aj
        (curvature :attr:`curvature`) and then with Ap (:attr:`curvature_tpu`);
        ``"min"``: hard minimum.
    curvature, curvature_tpu
        Co-limitation curvatures, in (0, 1); 0.999 as in FATES.
    alpha
        Quantum yield of electron transport on incident PPFD, mol e⁻ mol⁻¹ photon,
        when not learned (0.24, Medlyn et al. 2002 fits; plantecophys default).
    theta
        Curvature of the light response of J when not learned (0.85).
    temperature
        Temperature response per rate (``Vcmax``, ``Jmax``, ``TPU``, ``Rd``); given
        entries replace :data:`C3_TEMPERATURE_DEFAULTS` ones, the others keep them.
    kinetics
        Kc, Ko, Γ* (:class:`C3Kinetics`).
    learn
        Extra parameters to learn besides Vcmax25, Jmax25, Rd25 (and TPU25, and g0, g1
        in coupled mode): ``alpha``, ``theta`` and the temperature-response parameters
        of the configured kinds, ``Ha_<rate>`` (arrhenius/peaked), ``Hd_<rate>``,
        ``dS_<rate>`` (peaked), ``Q10_<rate>`` (q10). Not learned ones are fixed at
        their configured values.
    dynamic
        Parameters given one value per row (``[row, curve, 1]``) instead of per curve.
    optional_forcings
        Extra forcings: ``Patm`` (kPa), ``O2`` (mmol mol⁻¹), ``gbw`` (mol m⁻² s⁻¹,
        coupled mode); when absent, :attr:`patm`, :attr:`o2`, :attr:`gbw` are used.
    patm
        Atmospheric pressure, kPa, when not a forcing.
    o2
        O2 mole fraction, mmol mol⁻¹, when not a forcing (210 = 21 %).
    gbw
        Boundary-layer conductance to water vapour, mol m⁻² s⁻¹, when not a forcing;
        ``None``: none (the CO2 forcing ``Ca`` is then the leaf-surface mole fraction,
        e.g. LI-COR ``CO2S``/``CO2_s``).
    stomatal
        ``"medlyn"`` (Medlyn et al. 2011) or ``"ball_berry"`` (Ball et al. 1987).
    solver
        Ci solve options (:class:`CiSolverConfig`).
    padding_fill
        Value of every output on padding rows (rows whose forcings are all NaN); NaN by
        default. Outputs there are computed from finite placeholders and replaced, so
        neither NaN nor its gradient leaks into valid rows.
    """

    mode: str = attrs.field(default="aci", validator=one_of(MODES))
    tpu: bool = True
    colimitation: str = attrs.field(default="smooth", validator=one_of(COLIMITATION))
    curvature: float = attrs.field(default=0.999, validator=in_range(0.01, 0.9999))
    curvature_tpu: float = attrs.field(default=0.999, validator=in_range(0.01, 0.9999))
    alpha: float = attrs.field(default=0.24, validator=in_range(0.01, 1.0))
    theta: float = attrs.field(default=0.85, validator=in_range(0.01, 0.999))
    temperature: dict[str, TemperatureResponse] = attrs.field(
        factory=lambda: dict(C3_TEMPERATURE_DEFAULTS), converter=_merge(C3_TEMPERATURE_DEFAULTS))
    kinetics: C3Kinetics = attrs.field(factory=C3Kinetics)
    learn: tuple[str, ...] = attrs.field(default=(), converter=_names)
    dynamic: tuple[str, ...] = attrs.field(default=(), converter=_names)
    optional_forcings: tuple[str, ...] = attrs.field(default=(), converter=_names,
                                                     validator=subset_of(("Patm", "O2", "gbw")))
    patm: float = attrs.field(default=P_REFERENCE, validator=in_range(30.0, 120.0))
    o2: float = attrs.field(default=210.0, validator=in_range(0.0, 1000.0))
    gbw: float | None = None
    stomatal: str = attrs.field(default="medlyn", validator=one_of(STOMATAL_MODELS))
    solver: CiSolverConfig = attrs.field(factory=CiSolverConfig)
    padding_fill: float = float("nan")

    def __attrs_post_init__(self) -> None:
        _check_common(self)
        if "Patm" in self.optional_forcings and self.kinetics.basis == "mole_fraction":
            raise ValueError("optional_forcings: 'Patm' has no effect with kinetics.basis 'mole_fraction' "
                             "(Patm cancels out); use kinetics: {basis: partial_pressure} or drop Patm")
        rates = ("Vcmax", "Jmax", "Rd", *(("TPU",) if self.tpu else ()))
        _params_of(self.learn, _learnable_extras(rates, self.temperature, ("alpha", "theta")), "learn")
        base = ["Vcmax25", "Jmax25", "Rd25", *(["TPU25"] if self.tpu else [])]
        if self.mode == "coupled":
            base += ["g0", "g1"]
        _params_of(self.dynamic, (*base, *self.learn), "dynamic")


@attrs.frozen
class C4Config:
    """Options of ``photosynth.c4``, the C4 model of Collatz et al. (1992) as in FATES/CLM.

    Parameters
    ----------
    mode, optional_forcings, gbw, stomatal, solver, dynamic, padding_fill
        As in :class:`FvCBConfig` (``optional_forcings``: only ``gbw``; Patm and O2
        do not enter the C4 model).
    colimitation
        ``"smooth"`` (default) or ``"min"``.
    curvature
        θ of the Rubisco/light co-limitation (0.80, Collatz et al. 1992).
    curvature_pep
        β of the co-limitation with the PEP-carboxylation limit (0.95, Collatz et al. 1992).
    alpha
        Quantum efficiency on incident PPFD, mol CO2 mol⁻¹ photon, when not learned
        (0.05 as in CLM4.5/FATES).
    temperature
        Responses of ``Vcmax``, ``kp``, ``Rd``; defaults :data:`C4_TEMPERATURE_DEFAULTS`.
    learn
        Extra learned parameters: ``alpha`` and ``Q10_<rate>`` / ``Ha_<rate>`` ... of
        the configured kinds.
    """

    mode: str = attrs.field(default="aci", validator=one_of(MODES))
    colimitation: str = attrs.field(default="smooth", validator=one_of(COLIMITATION))
    curvature: float = attrs.field(default=0.80, validator=in_range(0.01, 0.9999))
    curvature_pep: float = attrs.field(default=0.95, validator=in_range(0.01, 0.9999))
    alpha: float = attrs.field(default=0.05, validator=in_range(0.001, 0.5))
    temperature: dict[str, TemperatureResponse] = attrs.field(
        factory=lambda: dict(C4_TEMPERATURE_DEFAULTS), converter=_merge(C4_TEMPERATURE_DEFAULTS))
    learn: tuple[str, ...] = attrs.field(default=(), converter=_names)
    dynamic: tuple[str, ...] = attrs.field(default=(), converter=_names)
    optional_forcings: tuple[str, ...] = attrs.field(default=(), converter=_names, validator=subset_of(("gbw",)))
    gbw: float | None = None
    stomatal: str = attrs.field(default="medlyn", validator=one_of(STOMATAL_MODELS))
    solver: CiSolverConfig = attrs.field(factory=CiSolverConfig)
    padding_fill: float = float("nan")

    def __attrs_post_init__(self) -> None:
        _check_common(self)
        _params_of(self.learn, _learnable_extras(("Vcmax", "kp", "Rd"), self.temperature, ("alpha",)), "learn")
        base = ["Vcmax25", "kp25", "Rd25", *(["g0", "g1"] if self.mode == "coupled" else [])]
        _params_of(self.dynamic, (*base, *self.learn), "dynamic")
