"""Hydrological signature metrics on ``[time, entity]`` arrays (numpy), NaN-aware.

Every function takes ``sim`` and ``obs`` shaped ``[time, entity]`` and returns
``[entity]``, following the conventions of :mod:`delta_core.evaluation.metrics`: a time
step where either value is NaN (or infinite) is excluded from both series, and an
entity with fewer than two valid pairs, or whose score is undefined (no observed
volume in the segment, no observed peak), gets NaN.

The flow-duration-curve (FDC) biases compare the two series sorted *independently*
(each FDC is the sorted flows of its own series), so they measure the distribution of
flows, not their timing; peak timing measures timing only.

References
----------
Yilmaz, K. K., Gupta, H. V. & Wagener, T. (2008). A process-based diagnostic approach to
model evaluation: application to the NWS distributed hydrologic model. Water Resources
Research 44, W09417 — FHV and FLV.
Kratzert, F., Klotz, D., Hochreiter, S. & Nearing, G. S. (2021). A note on leveraging
synergy in multiple meteorological data sets with deep learning for rainfall–runoff
modeling. Hydrology and Earth System Sciences 25, 2685 — peak timing.
"""

from __future__ import annotations

import numpy as np

from delta_core.evaluation.metrics import MIN_PAIRS, FunctionMetric

HIGH_FLOW_FRACTION = 0.02
LOW_FLOW_FRACTION = 0.3
LOW_FLOW_FLOOR = 1e-6
PEAK_WINDOW = 3
PEAK_DISTANCE = 100


def _valid_pairs(sim: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float64 copies of ``sim`` and ``obs`` and the mask of steps where both are finite."""
    sim = np.asarray(sim, dtype=np.float64)
    obs = np.asarray(obs, dtype=np.float64)
    if sim.shape != obs.shape or sim.ndim != 2:
        raise ValueError(f"sim and obs must both be [time, entity], got {sim.shape} and {obs.shape}")
    return sim, obs, np.isfinite(sim) & np.isfinite(obs)


def segment_size(fraction: float, n: int) -> int:
    """Number of FDC values in a segment holding ``fraction`` of ``n`` values.

    The nearest integer to ``fraction · n`` (halves round up), at least 1: with the
    plotting position ``p_i = i / n`` of the ``i``-th largest value, these are the values
    whose exceedance probability is at most ``fraction`` (FHV) or, counted from the
    smallest value, at least ``1 - fraction`` (FLV).
    """
    return max(1, int(np.floor(fraction * n + 0.5)))


def fhv(sim: np.ndarray, obs: np.ndarray, fraction: float = HIGH_FLOW_FRACTION) -> np.ndarray:
    """Percent bias of the high-flow segment of the flow duration curve (FHV).

    ``100 · Σ_h (QS_h - QO_h) / Σ_h QO_h`` over the ``H`` largest values of each series,
    sorted separately (Yilmaz et al. 2008, eq. A3); ``H`` is :func:`segment_size` of
    ``fraction`` (0.02: the top 2 % of the FDC) and the number of valid pairs.

    Parameters
    ----------
    sim, obs
        ``[time, entity]``; NaN marks missing values, excluded pairwise.
    fraction
        Share of the FDC in the high-flow segment.

    Returns
    -------
    numpy.ndarray
        ``[entity]`` in %; 0 is perfect, positive means the simulated peaks are too
        high (closer to 0 is better). NaN with fewer than two valid pairs or when the
        observed segment sums to 0.
    """
    s, o, valid = _valid_pairs(sim, obs)
    out = np.full(s.shape[1], np.nan)
    for j in range(s.shape[1]):
        keep = valid[:, j]
        n = int(keep.sum())
        if n < MIN_PAIRS:
            continue
        h = segment_size(fraction, n)
        high_s = np.sort(s[keep, j])[::-1][:h]
        high_o = np.sort(o[keep, j])[::-1][:h]
        total = high_o.sum()
        if total != 0:
            out[j] = 100.0 * (high_s.sum() - total) / total
    return out


def flv(
    sim: np.ndarray, obs: np.ndarray, fraction: float = LOW_FLOW_FRACTION, floor: float = LOW_FLOW_FLOOR
) -> np.ndarray:
    """Percent bias of the low-flow segment of the flow duration curve, in log space (FLV).

    With ``L`` the :func:`segment_size` of ``fraction`` (0.3: exceedance probabilities
    0.7–1) and ``QS_L``, ``QO_L`` the minimum flow of each series (Yilmaz et al. 2008,
    eq. A4)::

        SS = Σ_l (log QS_l - log QS_L),   SO = Σ_l (log QO_l - log QO_L)
        FLV = -100 · (SS - SO) / SO

    over the ``L`` smallest values of each series, sorted separately. FLV compares the
    *shape* of the low-flow FDC above its minimum: it is unchanged when a series is
    scaled by a constant; ``sim = obs**k`` gives ``-100 (k - 1)``.

    Parameters
    ----------
    sim, obs
        ``[time, entity]``; NaN marks missing values, excluded pairwise.
    fraction
        Share of the FDC in the low-flow segment.
    floor
        Flows below ``floor`` (zero or negative flows, which the logarithm of the paper's
        formula leaves undefined) are raised to it first, in the data's units.

    Returns
    -------
    numpy.ndarray
        ``[entity]`` in %; 0 is perfect (closer to 0 is better). NaN with fewer than two
        valid pairs or when the observed low-flow segment is constant (``SO = 0``), as
        for a stream that is dry for the whole segment.
    """
    s, o, valid = _valid_pairs(sim, obs)
    out = np.full(s.shape[1], np.nan)
    for j in range(s.shape[1]):
        keep = valid[:, j]
        n = int(keep.sum())
        if n < MIN_PAIRS:
            continue
        length = segment_size(fraction, n)
        low_s = np.log(np.maximum(np.sort(s[keep, j])[:length], floor))
        low_o = np.log(np.maximum(np.sort(o[keep, j])[:length], floor))
        ss = np.sum(low_s - low_s[0])
        so = np.sum(low_o - low_o[0])
        if so > 0:
            out[j] = -100.0 * (ss - so) / so
    return out


def _peak_offsets(s: np.ndarray, o: np.ndarray, keep: np.ndarray, window: int, distance: int,
                  prominence: float | None) -> list[int]:
    """Offsets (steps) between each accepted observed peak and the simulated maximum near it."""
    from scipy.signal import find_peaks  # scipy is a delta-core dependency; deferred to keep imports light

    observed = o[keep]
    height = float(np.std(observed)) if prominence is None else prominence
    if not height > 0:
        return []
    # Gaps take the lowest observed value: a missing step can never be a peak.
    filled = np.where(keep, o, observed.min())
    peaks, _ = find_peaks(filled, distance=distance, prominence=height)
    n = len(o)
    offsets = []
    for t in peaks:
        # A peak next to a gap cannot be confirmed as a local maximum of the observations
        # (find_peaks never returns the first or last step, so t - 1 and t + 1 exist).
        if not (keep[t] and keep[t - 1] and keep[t + 1]):
            continue
        lo, hi = max(0, t - window), min(n, t + window + 1)
        candidate = np.where(keep[lo:hi], s[lo:hi], -np.inf)
        best = np.flatnonzero(candidate == candidate.max()) + lo
        offsets.append(int(np.abs(best - t).min()))
    return offsets


def peak_timing(
    sim: np.ndarray, obs: np.ndarray, window: int = PEAK_WINDOW, distance: int = PEAK_DISTANCE,
    prominence: float | None = None,
) -> np.ndarray:
    """Mean absolute timing error of the observed peaks, in time steps (days for daily data).

    Following Kratzert et al. (2021): observed peaks are found with
    :func:`scipy.signal.find_peaks`; for each, the simulated maximum within ``±window``
    steps is located and the absolute offset between the two is recorded; the score is
    the mean offset over peaks.

    Rules (fixed here, the paper leaves them to the implementation):

    - steps where either series is missing are excluded pairwise: for peak detection
      they take the lowest observed value (never a peak), and an observed peak with a
      missing neighbour (``t - 1`` or ``t + 1``) is discarded;
    - peaks must be at least ``distance`` steps apart (100 days: about one event per
      season) and have a prominence of at least ``prominence``, by default the standard
      deviation of the valid observations, so only flood events count, not small
      wiggles of the recession;
    - the window is cut at the ends of the series; when the simulated maximum is tied,
      the smallest offset counts.

    Parameters
    ----------
    sim, obs
        ``[time, entity]``; NaN marks missing values, excluded pairwise.
    window
        Half-width of the search window, in steps.
    distance
        Minimum spacing of observed peaks, in steps.
    prominence
        Minimum prominence of observed peaks in the data's units (``None``: the standard
        deviation of each entity's valid observations).

    Returns
    -------
    numpy.ndarray
        ``[entity]``; between 0 (perfect; lower is better) and ``window``. NaN with fewer
        than two valid pairs or when no observed peak qualifies.
    """
    if window < 0 or distance < 1:
        raise ValueError(f"window must be >= 0 and distance >= 1, got {window} and {distance}")
    s, o, valid = _valid_pairs(sim, obs)
    out = np.full(s.shape[1], np.nan)
    for j in range(s.shape[1]):
        keep = valid[:, j]
        if keep.sum() < MIN_PAIRS:
            continue
        offsets = _peak_offsets(s[:, j], o[:, j], keep, window, distance, prominence)
        if offsets:
            out[j] = float(np.mean(offsets))
    return out


class FHV(FunctionMetric):
    """Top-2 % flow duration curve percent bias (%, closer to 0 is better); see :func:`fhv`."""

    name = "FHV"
    units = "%"
    higher_is_better = False
    function = staticmethod(fhv)


class FLV(FunctionMetric):
    """Bottom-30 % log flow duration curve percent bias (%, closer to 0 is better); see :func:`flv`."""

    name = "FLV"
    units = "%"
    higher_is_better = False
    function = staticmethod(flv)


class PeakTiming(FunctionMetric):
    """Mean absolute peak timing error (time steps, lower is better); see :func:`peak_timing`."""

    name = "peak_timing"
    units = "time steps"
    higher_is_better = False
    function = staticmethod(peak_timing)
