"""Stomatal conductance and the coupled-mode solve for Ci, with implicit gradients.

Units: CO2 as mole fractions (µmol mol⁻¹), An in µmol m⁻² s⁻¹, conductances to water
vapour in mol m⁻² s⁻¹, so that ``An / g`` is in µmol mol⁻¹. In mole fractions the
diffusion constraint ``Ci = Ca - An P (1.4/gb + 1.6/gs) / P`` loses the pressure:

``Ci = Ca - An (1.4 / gbw + 1.6 / gsw)``

(1.6 and 1.4 are the ratios of the diffusivities of water vapour and CO2 through the
stomatal pore and the boundary layer). The leaf-surface mole fraction is
``Cs = Ca - 1.4 An / gbw``.

Stomatal models (``gsw`` to water vapour; ``An⁺ = max(An, 0)``, so ``gsw = g0`` when
the leaf respires):

- Medlyn et al. (2011, Global Change Biol. 17:2134), eq. 11:
  ``gsw = g0 + 1.6 (1 + g1 / √D) An⁺ / Cs``, ``D`` the leaf-to-air VPD in kPa (floored
  at :data:`VPD_MIN`), ``g1`` in kPa^0.5;
- Ball, Woodrow & Berry (1987): ``gsw = g0 + g1 hs An⁺ / Cs``, ``hs`` the relative
  humidity at the leaf surface as a fraction, ``g1`` dimensionless.

Both are ``gsw = g0 + m An⁺ / Cs`` with a slope ``m`` computed before the solve.

The solve finds the root of ``F(Ci) = Ci - Ca + An(Ci) (rb + 1.6 / gsw(An(Ci), Cs))``
(``rb = 1.4 / gbw``) row by row: a batched Newton iteration whose steps are safeguarded
by a bracket ``[lo, hi]`` with ``F(lo) <= 0 <= F(hi)`` (a step leaving the bracket is
replaced by bisection), then plain bisection for rows still unconverged. The bracket
``lo = min(Ca, Γ)``, ``hi = max(Ca, Γ) + Rd (rb + 1.6 / g0)`` (``Γ`` the CO2 at which
gross assimilation is zero: Γ* for C3, 0 for C4) holds because gross assimilation is
non-negative above ``Γ`` and ``gsw >= g0``.

Gradients come from the implicit-function theorem in a custom
:class:`torch.autograd.Function`: ``dCi/dθ = -(∂F/∂θ) / (∂F/∂Ci)`` at the solution, one
vector-Jacobian product of ``F`` evaluated once, so memory does not grow with the number
of iterations.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.autograd.function import once_differentiable

from delta_photosynth.config import CiSolverConfig

VPD_MIN = 0.05
"""Lower bound of the VPD used by the Medlyn model, kPa (avoids ``g1 / √0``)."""

CS_MIN_FRACTION = 1e-3
"""Leaf-surface CO2 is floored at this fraction of Ca."""

NetAssimilation = Callable[..., torch.Tensor]
"""``an(ci, *bio) -> An``: net assimilation at ``ci`` (µmol m⁻² s⁻¹), elementwise."""


class CiSolveWarning(RuntimeWarning):
    """The coupled-mode Ci solve did not converge on some rows."""


def medlyn_slope(g1: torch.Tensor, vpd: torch.Tensor) -> torch.Tensor:
    """``m = 1.6 (1 + g1 / √D)`` of Medlyn et al. (2011); ``D`` in kPa, floored at :data:`VPD_MIN`."""
    return 1.6 * (1.0 + g1 / torch.sqrt(torch.clamp(vpd, min=VPD_MIN)))


def ball_berry_slope(g1: torch.Tensor, rh: torch.Tensor) -> torch.Tensor:
    """``m = g1 hs`` of Ball et al. (1987); ``rh`` the leaf-surface relative humidity in %."""
    return g1 * torch.clamp(rh, min=0.0, max=100.0) / 100.0


def coupled_drivers(
    x: dict[str, torch.Tensor], g1: torch.Tensor, stomatal: str, gbw_default: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ambient CO2, boundary-layer resistance to CO2 and stomatal slope for the coupled mode.

    ``rb = 1.4 / gbw`` (s m2 mol-1) from the ``gbw`` forcing if given, else from the
    configured constant, else 0 (well-coupled leaf); the slope is Medlyn's (needs ``VPD``)
    or Ball-Berry's (needs ``RH``). Returns ``(ca, rb, slope)``, each shaped like ``ca``.
    """
    ca = x["Ca"]
    gbw = x.get("gbw")
    if gbw is not None:
        rb = 1.4 / gbw
    elif gbw_default is None:
        rb = torch.zeros_like(ca)
    else:
        rb = torch.full_like(ca, 1.4 / gbw_default)
    slope = medlyn_slope(g1, x["VPD"]) if stomatal == "medlyn" else ball_berry_slope(g1, x["RH"])
    return ca, rb, slope


def stomatal_conductance(an: torch.Tensor, cs: torch.Tensor, g0: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
    """``gsw = g0 + m max(An, 0) / Cs`` (mol m⁻² s⁻¹)."""
    return g0 + slope * torch.relu(an) / cs


def surface_co2(ca: torch.Tensor, an: torch.Tensor, rb: torch.Tensor) -> torch.Tensor:
    """``Cs = Ca - rb An`` with ``rb = 1.4 / gbw``, floored at :data:`CS_MIN_FRACTION` ``Ca``."""
    return torch.maximum(ca - rb * an, CS_MIN_FRACTION * ca)


def diffusion_residual(
    net_assimilation: NetAssimilation, n_bio: int, ci: torch.Tensor, *tensors: torch.Tensor
) -> torch.Tensor:
    """``F(Ci) = Ci - Ca + An (rb + 1.6 / gsw)``, zero at the coupled solution.

    ``tensors`` are the ``n_bio`` arguments of ``net_assimilation`` followed by
    ``ca``, ``rb``, ``g0``, ``slope``.
    """
    bio, (ca, rb, g0, slope) = tensors[:n_bio], tensors[n_bio:]
    an = net_assimilation(ci, *bio)
    cs = surface_co2(ca, an, rb)
    gs = stomatal_conductance(an, cs, g0, slope)
    return ci - ca + an * (rb + 1.6 / gs)


def _value_and_slope(residual: Callable[[torch.Tensor], torch.Tensor],
                     x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``F(x)`` and ``dF/dx`` (rows are independent, so the gradient of the sum is the diagonal)."""
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        f = residual(xg)
        (df,) = torch.autograd.grad(f.sum(), xg)
    return f.detach(), df


def _default_rtol(dtype: torch.dtype) -> float:
    return 1e-12 if dtype == torch.float64 else 1e-5


def newton_bisect(
    residual: Callable[[torch.Tensor], torch.Tensor],
    lo: torch.Tensor,
    hi: torch.Tensor,
    x0: torch.Tensor,
    scale: torch.Tensor,
    config: CiSolverConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Root of the elementwise ``residual`` in ``[lo, hi]`` (``F(lo) <= 0 <= F(hi)``).

    Returns the roots and a boolean tensor of rows that converged to
    ``|F| <= rtol * scale``. Tensors are detached; gradients are not tracked here.
    """
    rtol = config.rtol if config.rtol is not None else _default_rtol(x0.dtype)
    tol = rtol * scale
    lo, hi = lo.clone(), hi.clone()
    x = torch.minimum(torch.maximum(x0, lo), hi)
    done = torch.zeros_like(x, dtype=torch.bool)
    for _ in range(config.max_newton):
        f, df = _value_and_slope(residual, x)
        finite = torch.isfinite(f)
        done = finite & (f.abs() <= tol)
        if bool(done.all()):
            break
        below = finite & (f < 0)
        lo = torch.where(below, x, lo)
        hi = torch.where(finite & ~below, x, hi)
        step = x - f / df
        mid = 0.5 * (lo + hi)
        ok = torch.isfinite(step) & (step > lo) & (step < hi)
        x = torch.where(done, x, torch.where(ok, step, mid))
    if x.dtype == torch.float64:  # polish converged rows to round-off (one more Newton step if it helps)
        f, df = _value_and_slope(residual, x)
        step = x - f / df
        f_step, _ = _value_and_slope(residual, torch.where(torch.isfinite(step), step, x))
        better = torch.isfinite(step) & (f_step.abs() < f.abs()) & (step >= lo) & (step <= hi)
        x = torch.where(done & better, step, x)
    if bool(done.all()) or config.max_bisect == 0:
        return x, done
    for _ in range(config.max_bisect):  # bracketed fallback for the rows Newton left
        f, _ = _value_and_slope(residual, x)
        finite = torch.isfinite(f)
        done = finite & (f.abs() <= tol)
        if bool(done.all()):
            break
        below = finite & (f < 0)
        lo = torch.where(~done & below, x, lo)
        hi = torch.where(~done & ~below, x, hi)
        x = torch.where(done, x, 0.5 * (lo + hi))
        collapsed = (hi - lo) <= torch.finfo(x.dtype).eps * torch.maximum(hi.abs(), lo.abs())
        if bool((done | collapsed).all()):
            break
    f, _ = _value_and_slope(residual, x)
    done = torch.isfinite(f) & (f.abs() <= tol)
    return x, done


class _ImplicitCi(torch.autograd.Function):
    """Ci* with ``F(Ci*, θ) = 0``; backward by the implicit-function theorem."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        residual: Callable[..., torch.Tensor],
        config: CiSolverConfig,
        lo: torch.Tensor,
        hi: torch.Tensor,
        x0: torch.Tensor,
        scale: torch.Tensor,
        *tensors: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        detached = [t.detach() for t in tensors]
        ci, converged = newton_bisect(lambda x: residual(x, *detached), lo.detach(), hi.detach(), x0.detach(),
                                      scale.detach(), config)
        ctx.residual = residual
        ctx.save_for_backward(ci, *tensors)
        ctx.mark_non_differentiable(converged)
        return ci, converged

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ci: torch.Tensor, _grad_flag: torch.Tensor | None) -> tuple[Any, ...]:
        ci, *tensors = ctx.saved_tensors
        needs = ctx.needs_input_grad[6:]
        inputs = [t.detach().requires_grad_(bool(n)) for t, n in zip(tensors, needs, strict=True)]
        wanted = [t for t, n in zip(inputs, needs, strict=True) if n]
        grads: list[torch.Tensor | None] = [None] * len(inputs)
        if wanted:
            with torch.enable_grad():
                x = ci.detach().requires_grad_(True)
                f = ctx.residual(x, *inputs)
                (df_dci,) = torch.autograd.grad(f.sum(), x, retain_graph=True)
                safe = torch.where(df_dci.abs() > 1e-12, df_dci, torch.full_like(df_dci, 1e-12))
                v = -grad_ci / safe
                got = torch.autograd.grad(f, wanted, grad_outputs=v, allow_unused=True)
            it = iter(got)
            grads = [next(it) if n else None for n in needs]
        return (None, None, None, None, None, None, *grads)


def solve_ci(
    net_assimilation: NetAssimilation,
    bio: Sequence[torch.Tensor],
    *,
    gamma: torch.Tensor,
    rd: torch.Tensor,
    ca: torch.Tensor,
    rb: torch.Tensor,
    g0: torch.Tensor,
    slope: torch.Tensor,
    config: CiSolverConfig,
    where: str = "",
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve the coupled Ci of every row, differentiably.

    Parameters
    ----------
    net_assimilation
        ``an(ci, *bio) -> An`` (µmol m⁻² s⁻¹), elementwise in ``ci``.
    bio
        Its tensor arguments, broadcastable to ``ca`` (e.g. ``[row, curve]``).
    gamma
        CO2 (µmol mol⁻¹) at which gross assimilation is zero (Γ* for C3, 0 for C4).
    rd
        Day respiration at leaf temperature (µmol m⁻² s⁻¹), >= 0.
    ca
        Ambient CO2 mole fraction, µmol mol⁻¹, ``[row, curve]``.
    rb
        ``1.4 / gbw`` (m² s mol⁻¹; 0 without boundary layer).
    g0, slope
        Stomatal model ``gsw = g0 + slope An⁺ / Cs``; ``g0 > 0``.
    config
        Iteration limits and tolerance.
    where
        Text naming the model, for the warning.
    valid
        Rows that count (padding rows are not reported).

    Returns
    -------
    ci, converged
        ``[row, curve]`` Ci (µmol mol⁻¹) with implicit gradients, and a boolean tensor
        of rows that converged. Rows that did not are reported in a
        :class:`CiSolveWarning` naming their (row, curve) indices.
    """
    shape = torch.broadcast_shapes(ca.shape, *(b.shape for b in bio), gamma.shape, rd.shape, rb.shape, g0.shape,
                                   slope.shape)
    stomatal = [ca, rb, g0, slope]
    tensors = [t.expand(shape) for t in (*bio, *stomatal)]
    n_bio = len(bio)

    def residual(x: torch.Tensor, *ts: torch.Tensor) -> torch.Tensor:
        return diffusion_residual(net_assimilation, n_bio, x, *ts)

    with torch.no_grad():
        g = gamma.expand(shape)
        c = ca.expand(shape)
        r_max = rb.expand(shape) + 1.6 / g0.expand(shape)
        lo = torch.minimum(c, g)
        hi = torch.maximum(c, g) + torch.clamp(rd.expand(shape), min=0.0) * r_max + 1e-6 * c
        x0 = torch.minimum(torch.maximum(0.7 * c, lo), hi)
        scale = torch.clamp(c, min=1.0)
    ci, converged = _ImplicitCi.apply(residual, config, lo, hi, x0, scale, *tensors)
    failed = ~converged if valid is None else (~converged & valid.expand(shape))
    if bool(failed.any()):
        idx = torch.nonzero(failed)
        shown = ", ".join(f"(row {int(r)}, curve {int(e)})" for r, e in idx[:10].tolist())
        more = f" and {idx.shape[0] - 10} more" if idx.shape[0] > 10 else ""
        warnings.warn(
            f"{where or 'Ci solve'}: the Ci solve did not converge on {idx.shape[0]} rows: {shown}{more}; "
            "their outputs use the last iterate (flag ci_converged = 0)",
            CiSolveWarning, stacklevel=3,
        )
    return ci, converged
