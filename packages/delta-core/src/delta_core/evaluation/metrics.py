"""Per-entity skill scores on ``[time, entity]`` arrays (numpy), NaN-aware.

Every function takes ``sim`` and ``obs`` shaped ``[time, entity]`` and returns
``[entity]``. Time steps where either value is NaN (or infinite) are excluded
pairwise; an entity with fewer than two valid pairs, or with constant observations
where the score divides by their variance (NSE, r, alpha; constant simulations for r),
or a zero observed mean where it divides by it (beta, pbias), gets NaN. Constancy is
tested exactly (``max == min``), not through a computed variance, whose rounding error
would otherwise turn an undefined score into a huge finite one.

References
----------
Nash & Sutcliffe (1970), J. Hydrol. 10:282 — NSE.
Gupta et al. (2009), J. Hydrol. 377:80 — KGE and its components r, alpha, beta.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from delta_core.interfaces.metric import Metric

MIN_PAIRS = 2


def _pairs(sim: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sim = np.asarray(sim, dtype=np.float64)
    obs = np.asarray(obs, dtype=np.float64)
    if sim.shape != obs.shape or sim.ndim != 2:
        raise ValueError(f"sim and obs must both be [time, entity], got {sim.shape} and {obs.shape}")
    valid = np.isfinite(sim) & np.isfinite(obs)
    return np.where(valid, sim, np.nan), np.where(valid, obs, np.nan), valid.sum(axis=0)


def _varies(x: np.ndarray) -> np.ndarray:
    """``[entity]``: whether the valid values of each column are not all equal."""
    return np.nanmax(x, axis=0) > np.nanmin(x, axis=0)


def _quiet(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def wrapped(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN entities give NaN on purpose
            return fn(sim, obs)

    wrapped.__doc__ = fn.__doc__
    wrapped.__name__ = fn.__name__
    return wrapped


@_quiet
def nse(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Nash–Sutcliffe efficiency ``1 - Σ(s - o)² / Σ(o - ō)²`` (1 is perfect)."""
    s, o, n = _pairs(sim, obs)
    num = np.nansum((s - o) ** 2, axis=0)
    den = np.nansum((o - np.nanmean(o, axis=0)) ** 2, axis=0)
    out = 1.0 - num / den
    return np.where((n >= MIN_PAIRS) & _varies(o) & (den > 0), out, np.nan)


@_quiet
def pearson_r(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Pearson correlation coefficient."""
    s, o, n = _pairs(sim, obs)
    ds, do = s - np.nanmean(s, axis=0), o - np.nanmean(o, axis=0)
    den = np.sqrt(np.nansum(ds**2, axis=0) * np.nansum(do**2, axis=0))
    out = np.nansum(ds * do, axis=0) / den
    return np.where((n >= MIN_PAIRS) & _varies(s) & _varies(o) & (den > 0), out, np.nan)


@_quiet
def kge_alpha(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """KGE variability ratio ``σ_sim / σ_obs`` (population standard deviations)."""
    s, o, n = _pairs(sim, obs)
    out = np.nanstd(s, axis=0) / np.nanstd(o, axis=0)
    return np.where((n >= MIN_PAIRS) & _varies(o), out, np.nan)


@_quiet
def kge_beta(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """KGE bias ratio ``μ_sim / μ_obs``."""
    s, o, n = _pairs(sim, obs)
    mean_o = np.nanmean(o, axis=0)
    out = np.nanmean(s, axis=0) / mean_o
    return np.where((n >= MIN_PAIRS) & (mean_o != 0), out, np.nan)


@_quiet
def kge(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Kling–Gupta efficiency ``1 - sqrt((r - 1)² + (α - 1)² + (β - 1)²)``."""
    r, a, b = pearson_r(sim, obs), kge_alpha(sim, obs), kge_beta(sim, obs)
    return 1.0 - np.sqrt((r - 1.0) ** 2 + (a - 1.0) ** 2 + (b - 1.0) ** 2)


@_quiet
def rmse(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Root mean square error (units of the data)."""
    s, o, n = _pairs(sim, obs)
    return np.where(n >= MIN_PAIRS, np.sqrt(np.nanmean((s - o) ** 2, axis=0)), np.nan)


@_quiet
def bias(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Mean error ``mean(s - o)`` (units of the data)."""
    s, o, n = _pairs(sim, obs)
    return np.where(n >= MIN_PAIRS, np.nanmean(s - o, axis=0), np.nan)


@_quiet
def percent_bias(sim: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Percent bias ``100 Σ(s - o) / Σ o`` (%)."""
    s, o, n = _pairs(sim, obs)
    den = np.nansum(o, axis=0)
    return np.where((n >= MIN_PAIRS) & (den != 0), 100.0 * np.nansum(s - o, axis=0) / den, np.nan)


class FunctionMetric(Metric):
    """A :class:`Metric` backed by one of this module's functions."""

    function: Callable[[np.ndarray, np.ndarray], np.ndarray]

    def __call__(self, simulated: np.ndarray, observed: np.ndarray) -> np.ndarray:
        return type(self).function(simulated, observed)


def _metric(name: str, fn: Callable[[np.ndarray, np.ndarray], np.ndarray], units: str = "1",
            higher: bool = True) -> type[FunctionMetric]:
    cls = type(name, (FunctionMetric,), {
        "name": name, "units": units, "higher_is_better": higher, "function": staticmethod(fn),
        "__doc__": fn.__doc__,
    })
    return cls


NSE = _metric("NSE", nse)
KGE = _metric("KGE", kge)
PearsonR = _metric("r", pearson_r)
KGEAlpha = _metric("alpha", kge_alpha)
KGEBeta = _metric("beta", kge_beta)
RMSE = _metric("RMSE", rmse, "data units", higher=False)
Bias = _metric("bias", bias, "data units", higher=False)
PercentBias = _metric("pbias", percent_bias, "%", higher=False)
