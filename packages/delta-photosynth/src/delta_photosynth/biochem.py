"""Leaf biochemistry: C3 (Farquhar–von Caemmerer–Berry) and C4 (Collatz) limiting rates.

All functions are elementwise and broadcast; units are µmol m⁻² s⁻¹ for rates,
µmol mol⁻¹ for CO2 mole fractions, mmol mol⁻¹ for O2, µmol m⁻² s⁻¹ for PPFD.

References
----------
- Farquhar, G. D., von Caemmerer, S., Berry, J. A. (1980). A biochemical model of
  photosynthetic CO2 assimilation in leaves of C3 species. Planta 149:78–90.
- von Caemmerer, S. (2000). Biochemical Models of Leaf Photosynthesis. CSIRO Publishing.
- Sharkey, T. D. (1985). Photosynthesis in intact leaves of C3 plants: physics,
  physiology and rate limitations. Bot. Rev. 51:53–105 (TPU limit ``3 TPU``).
- Collatz, G. J., Ribas-Carbo, M., Berry, J. A. (1992). Coupled photosynthesis-stomatal
  conductance model for leaves of C4 plants. Aust. J. Plant Physiol. 19:519–538.
- Oleson, K. W. et al. (2013). Technical description of version 4.5 of the Community
  Land Model (CLM), NCAR/TN-503+STR, sec. 8 (co-limitation as used by FATES).
"""

from __future__ import annotations

import torch

_TINY = 1e-30


def smooth_min(a1: torch.Tensor, a2: torch.Tensor, theta: float | torch.Tensor) -> torch.Tensor:
    """Smaller root of ``θ x² - (a1 + a2) x + a1 a2 = 0``: a smoothed ``min(a1, a2)``.

    Evaluated in the cancellation-free form: with ``b = a1 + a2``, ``c = a1 a2`` and
    ``D = b² - 4 θ c = (a1 - a2)² + 4 (1 - θ) a1 a2 >= 0``, ``q = (b + sign(b) √D) / 2``;
    the roots are ``q / θ`` and ``c / q``, the smaller being ``c / q`` for ``b >= 0``
    and ``q / θ`` for ``b < 0``. For ``θ -> 1`` it tends to ``min(a1, a2)``; for
    ``θ < 1`` it lies slightly below the minimum. ``0 < θ < 1``.
    """
    b = a1 + a2
    c = a1 * a2
    disc = torch.clamp((a1 - a2) ** 2 + 4.0 * (1.0 - theta) * c, min=0.0)
    root = torch.sqrt(disc + _TINY)
    positive = b >= 0
    q = 0.5 * (b + torch.where(positive, root, -root))
    tiny_q = q.abs() < 1e-300 if q.dtype == torch.float64 else q.abs() < 1e-30
    q_safe = torch.where(tiny_q, torch.ones_like(q), q)
    small = torch.where(positive, c / q_safe, q_safe / theta)
    return torch.where(tiny_q, torch.zeros_like(small), small)


def colimit(a1: torch.Tensor, a2: torch.Tensor, theta: float | torch.Tensor, smooth: bool) -> torch.Tensor:
    """``smooth_min(a1, a2, θ)`` when ``smooth`` else ``min(a1, a2)``."""
    return smooth_min(a1, a2, theta) if smooth else torch.minimum(a1, a2)


def electron_transport(q: torch.Tensor, jmax: torch.Tensor, alpha: float | torch.Tensor,
                       theta: float | torch.Tensor) -> torch.Tensor:
    """Potential electron transport rate J (µmol e⁻ m⁻² s⁻¹).

    The smaller root of ``θ J² - (α Q + Jmax) J + α Q Jmax = 0`` (non-rectangular
    hyperbola; von Caemmerer 2000, eq. 2.14), with ``Q`` the incident PPFD (negative
    readings count as 0), ``α`` the quantum yield on incident light (mol e⁻ mol⁻¹).
    """
    return smooth_min(alpha * torch.clamp(q, min=0.0), jmax, theta)


def c3_limits(
    ci: torch.Tensor,
    vcmax: torch.Tensor,
    j: torch.Tensor,
    km: torch.Tensor,
    gammastar: torch.Tensor,
    tpu: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Gross C3 assimilation limited by Rubisco (Ac), electron transport (Aj) and TPU (Ap).

    ``Ac = Vcmax (Ci - Γ*) / (Ci + Km)`` with ``Km = Kc (1 + O/Ko)``;
    ``Aj = J (Ci - Γ*) / (4 Ci + 8 Γ*)``; ``Ap = 3 TPU`` (``None`` without TPU).

    Parameters
    ----------
    ci, km, gammastar
        Same units (µmol mol⁻¹, or effective mole fractions in the partial-pressure basis).
    vcmax, j, tpu
        µmol m⁻² s⁻¹ at leaf temperature.
    """
    ac = vcmax * (ci - gammastar) / (ci + km)
    aj = j * (ci - gammastar) / (4.0 * ci + 8.0 * gammastar)
    ap = None if tpu is None else 3.0 * tpu * torch.ones_like(ac)
    return ac, aj, ap


def c4_limits(
    ci: torch.Tensor, vcmax: torch.Tensor, q: torch.Tensor, kp: torch.Tensor, alpha: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gross C4 assimilation limits (Collatz et al. 1992, eqs. 1–3 in CLM4.5 form).

    ``Ac = Vcmax`` (Rubisco), ``Aj = α Q`` (light, incident PPFD, negatives as 0),
    ``Ap = kp Ci`` (PEP carboxylation), with ``kp`` in mol m⁻² s⁻¹ and ``Ci`` in
    µmol mol⁻¹ so that ``kp Ci`` is in µmol m⁻² s⁻¹.
    """
    ac = vcmax * torch.ones_like(ci)
    aj = alpha * torch.clamp(q, min=0.0) * torch.ones_like(ci)
    ap = kp * ci
    return ac, aj, ap


def limiting_index(*limits: torch.Tensor | None) -> torch.Tensor:
    """1-based index of the smallest of ``limits`` (``None`` entries skipped in numbering
    but kept in position), as a float tensor without gradient; ties go to the lower index."""
    present = [(i + 1, x) for i, x in enumerate(limits) if x is not None]
    stacked = torch.stack([x.detach() for _, x in present], dim=0)
    labels = torch.tensor([i for i, _ in present], dtype=stacked.dtype, device=stacked.device)
    return labels[torch.argmin(stacked, dim=0)]
