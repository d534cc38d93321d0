"""FHV, FLV and peak timing on constructed series whose answers are known by construction."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import delta_hydro.plugin
from delta_core.plugins.manager import build_registry
from delta_hydro.metrics import FHV, FLV, PeakTiming, fhv, flv, peak_timing, segment_size
from delta_hydro.presets import hbv_synthetic

PEAK_DAYS = (50, 200, 350, 500)
MODEL_OUTPUT = (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "camels_us" / "model_output"
                / "flow_timeseries" / "daymet")


def col(x: np.ndarray | list[float]) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)[:, None]


def hydrograph(n: int = 600, peaks: tuple[int, ...] = PEAK_DAYS, height: float = 10.0, width: float = 5.0,
               bumps: tuple[tuple[int, float], ...] = ()) -> np.ndarray:
    """Base flow 1 plus Gaussian flood peaks (and optional ``(day, height)`` bumps)."""
    t = np.arange(n, dtype=np.float64)
    q = np.ones(n)
    for day in peaks:
        q += height * np.exp(-0.5 * ((t - day) / width) ** 2)
    for day, h in bumps:
        q += h * np.exp(-0.5 * ((t - day) / 2.0) ** 2)
    return q


def shifted(q: np.ndarray, days: int) -> np.ndarray:
    """``q`` delayed by ``days`` (edges filled with the base flow)."""
    out = np.full_like(q, q[0])
    if days >= 0:
        out[days:] = q[: len(q) - days]
    else:
        out[:days] = q[-days:]
    return out


# -- FHV -------------------------------------------------------------------------------------

def test_segment_size_is_the_nearest_count() -> None:
    assert [segment_size(0.02, n) for n in (1, 10, 24, 25, 100, 1000, 5479)] == [1, 1, 1, 1, 2, 20, 110]
    assert [segment_size(0.3, n) for n in (2, 10, 100)] == [1, 3, 30]


def test_fhv_of_a_scaled_simulation_is_the_scale() -> None:
    obs = np.random.default_rng(0).lognormal(0.0, 1.0, (1000, 3))
    np.testing.assert_allclose(fhv(1.1 * obs, obs), 10.0, rtol=1e-12)
    np.testing.assert_allclose(fhv(0.8 * obs, obs), -20.0, rtol=1e-12)
    np.testing.assert_allclose(fhv(obs, obs), 0.0, atol=1e-12)


def test_fhv_by_hand_and_only_the_top_two_percent() -> None:
    obs = np.arange(1.0, 101.0)  # n = 100: the top segment is {100, 99}
    sim = obs.copy()
    sim[99] = 120.0
    assert fhv(col(sim), col(obs))[0] == pytest.approx(100.0 * 20.0 / 199.0, rel=1e-12)
    sim[97] = 98.0 + 50.0  # the third largest now exceeds 99: it enters the sim segment instead of 99
    assert fhv(col(sim), col(obs))[0] == pytest.approx(100.0 * (120.0 + 148.0 - 199.0) / 199.0, rel=1e-12)
    sim = obs.copy()
    sim[:98] *= 0.5  # everything below the segment
    assert fhv(col(sim), col(obs))[0] == 0.0


def test_fhv_ignores_timing() -> None:
    obs = np.random.default_rng(1).lognormal(0.0, 1.0, 500)
    sim = np.random.default_rng(2).permutation(obs)
    assert fhv(col(sim), col(obs))[0] == pytest.approx(0.0, abs=1e-12)


def test_fhv_drops_pairs_with_a_gap_in_either_series() -> None:
    obs = np.arange(1.0, 101.0)
    sim = obs.copy()
    sim[99] = np.nan  # the largest observation has no partner: 99 pairs, H = 2 of {1..99} in both
    assert fhv(col(sim), col(obs))[0] == 0.0
    obs2 = obs.copy()
    obs2[0] = np.nan
    sim2 = obs.copy()
    sim2[99] = 110.0
    assert fhv(col(sim2), col(obs2))[0] == pytest.approx(100.0 * 10.0 / 199.0, rel=1e-12)


def test_fhv_undefined_cases() -> None:
    obs = np.array([[np.nan, 1.0, 0.0], [np.nan, np.nan, 0.0], [np.nan, np.nan, 0.0]])
    sim = np.ones_like(obs)
    assert np.isnan(fhv(sim, obs)).all()  # all-NaN, one pair, no observed volume


# -- FLV -------------------------------------------------------------------------------------

def test_flv_is_scale_invariant_and_measures_the_log_slope() -> None:
    obs = np.random.default_rng(3).uniform(0.05, 1.0, (730, 2))
    np.testing.assert_allclose(flv(1.1 * obs, obs), 0.0, atol=1e-10)
    np.testing.assert_allclose(flv(obs**2, obs), -100.0, rtol=1e-10)  # log s = 2 log o: SS = 2 SO
    np.testing.assert_allclose(flv(np.sqrt(obs), obs), 50.0, rtol=1e-10)


def test_flv_uses_only_the_bottom_thirty_percent() -> None:
    obs = np.linspace(1.0, 10.0, 100)  # L = 30
    sim = obs.copy()
    sim[30:] = sim[30:] ** 3  # above the segment (still above it after the change)
    assert flv(col(sim), col(obs))[0] == pytest.approx(0.0, abs=1e-12)
    sim[1:30] = obs[1:30] ** 2 / obs[0]  # log-distances to the minimum double inside the segment
    assert flv(col(sim), col(obs))[0] == pytest.approx(-100.0, rel=1e-10)


def test_flv_floors_zero_flows() -> None:
    """n = 10, L = 3; zeros become 1e-6: SO = ln(1e3) + ln(1e4), SS = 2 ln(1e4) -> -100 (8 - 7) / 7."""
    obs = np.array([0.0, 1e-3, 1e-2, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    sim = np.array([0.0, 1e-2, 1e-2, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert flv(col(sim), col(obs))[0] == pytest.approx(-100.0 / 7.0, rel=1e-10)
        dry = np.zeros(10)
        assert np.isnan(flv(col(sim), col(dry))[0])  # constant low segment: undefined
        assert flv(col(sim), col(obs), floor=1e-4)[0] == pytest.approx(-100.0 * (4 - 3) / 3, rel=1e-10)


def test_flv_nan_handling() -> None:
    obs = np.linspace(1.0, 10.0, 100)
    sim = obs**2
    sim[5] = np.nan
    out = flv(np.stack([sim, sim], 1), np.stack([obs, np.full(100, np.nan)], 1))
    assert out[0] == pytest.approx(-100.0, rel=1e-10)
    assert np.isnan(out[1])


# -- peak timing -----------------------------------------------------------------------------

@pytest.mark.parametrize(("days", "expected"), [(0, 0.0), (2, 2.0), (-1, 1.0), (3, 3.0), (5, 3.0)])
def test_peak_timing_of_a_shifted_simulation(days: int, expected: float) -> None:
    """A shift beyond the ±3-day window is found at the window's edge (rising limb): capped at 3."""
    obs = hydrograph()
    assert peak_timing(col(shifted(obs, days)), col(obs))[0] == expected


def test_peak_timing_averages_over_events_and_entities() -> None:
    obs = hydrograph()
    sim = np.ones_like(obs)
    for day, lag in zip(PEAK_DAYS, (0, 1, 2, 3), strict=True):
        sim += hydrograph(peaks=(day + lag,)) - 1.0
    out = peak_timing(np.stack([sim, shifted(obs, 1), obs], 1), np.stack([obs, obs, obs], 1))
    np.testing.assert_array_equal(out, [1.5, 1.0, 0.0])


def test_peak_timing_counts_only_prominent_distant_peaks() -> None:
    """A small bump (prominence below the std) and a flood 50 days after a larger one are not peaks."""
    obs = hydrograph(bumps=((120, 0.5), (250, 6.0)))
    sim = shifted(hydrograph(), 2) + hydrograph(peaks=(), bumps=((123, 0.5), (250, 6.0))) - 1.0
    assert peak_timing(col(sim), col(obs))[0] == 2.0
    # with a spacing rule short enough to accept the day-250 flood (offset 0), it counts
    assert peak_timing(col(sim), col(obs), distance=40)[0] == pytest.approx(8.0 / 5.0)
    # and with a tiny prominence the day-120 bump (offset 3) counts too
    assert peak_timing(col(sim), col(obs), distance=40, prominence=0.1)[0] == pytest.approx(11.0 / 6.0)


def test_peak_timing_gaps_neither_hide_nor_invent_peaks() -> None:
    """A gap over the day-200 flood removes that peak; its truncated limbs are not peaks either."""
    obs = hydrograph()
    obs[195:206] = np.nan
    sim = shifted(hydrograph(), 2)
    assert peak_timing(col(sim), col(obs))[0] == 2.0
    # a missing simulated value at the simulated maximum: the best remaining one counts (pairwise)
    obs = hydrograph()
    sim = shifted(hydrograph(), 2)
    sim[352] = np.nan
    expected = (2 + 2 + 1 + 2) / 4  # around day 350 the largest valid sim is at 351 (tie 353 is farther)
    assert peak_timing(col(sim), col(obs))[0] == pytest.approx(expected)


def test_peak_timing_ties_take_the_smallest_offset() -> None:
    obs = hydrograph()
    assert peak_timing(col(np.full_like(obs, 2.0)), col(obs))[0] == 0.0


def test_peak_timing_undefined_cases() -> None:
    flat = np.ones(400)
    rising = np.linspace(0.0, 1.0, 400)  # no interior maximum
    obs = np.stack([flat, rising, np.full(400, np.nan)], 1)
    assert np.isnan(peak_timing(np.ones_like(obs), obs)).all()
    with pytest.raises(ValueError, match="window must be >= 0 and distance >= 1"):
        peak_timing(col(flat), col(flat), window=-1)


def test_shapes_are_checked() -> None:
    for fn in (fhv, flv, peak_timing):
        with pytest.raises(ValueError, match=r"must both be \[time, entity\]"):
            fn(np.ones((5, 2)), np.ones((5, 3)))


# -- registration ------------------------------------------------------------------------------

def test_metrics_are_registered() -> None:
    registry, _ = build_registry(autoload=False, extra_plugins={"hydro": delta_hydro.plugin})
    obs = hydrograph()[:, None] * np.array([1.0, 2.0])
    sim = 1.1 * shifted(hydrograph(), 2)[:, None] * np.array([1.0, 2.0])
    for key, cls, fn in (("hydro.fhv", FHV, fhv), ("hydro.flv", FLV, flv), ("hydro.peak_timing", PeakTiming,
                                                                             peak_timing)):
        loaded = registry.get("metric", key).load()
        assert loaded is cls
        metric = loaded()
        assert metric.higher_is_better is False
        np.testing.assert_array_equal(metric(sim, obs), fn(sim, obs))
    assert registry.get("metric", "hydro.fhv").load()()(sim, obs) == pytest.approx([10.0, 10.0])
    assert (FHV.units, FLV.units, PeakTiming.name) == ("%", "%", "peak_timing")


def test_preset_lists_every_metric_in_order() -> None:
    registry, _ = build_registry(autoload=False, extra_plugins={"hydro": delta_hydro.plugin})
    names = [section["name"] for section in hbv_synthetic()["metrics"]]
    columns = [registry.get("metric", name).load().name for name in names]
    assert columns == ["NSE", "KGE", "r", "alpha", "beta", "RMSE", "bias", "pbias", "FHV", "FLV", "peak_timing"]


# -- real CAMELS-US series -----------------------------------------------------------------

@pytest.mark.shared_data
def test_on_real_hydrographs() -> None:
    """On the four observed CAMELS-US records: delays are recovered from real, noisy peaks."""
    if not MODEL_OUTPUT.is_dir():
        pytest.skip(f"shared CAMELS-US data absent: no {MODEL_OUTPUT} (../shared/data not checked out)")
    paths = sorted(MODEL_OUTPUT.glob("*/*_05_model_output.txt"))
    assert len(paths) == 4
    tables = [np.loadtxt(path, skiprows=1) for path in paths]
    obs = np.stack([np.where(t[:, 11] == -999.0, np.nan, t[:, 11]) for t in tables], 1)
    sac = np.stack([t[:, 10] for t in tables], 1)
    for days in (1, 2, 3):
        delayed = np.full_like(obs, np.nan)
        delayed[days:] = obs[:-days]
        np.testing.assert_allclose(peak_timing(delayed, obs), days, atol=0.05)
    np.testing.assert_allclose(fhv(1.1 * obs, obs), 10.0, rtol=1e-12)
    # SAC-SMA, the CAMELS benchmark: scores exist and are in a sensible range
    assert np.all(np.abs(fhv(sac, obs)) < 100.0)
    assert np.all(np.isfinite(flv(sac, obs)))
    assert np.all(peak_timing(sac, obs) < 2.0)
