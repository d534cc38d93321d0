"""Core skill scores against HydroErr (an independent implementation) and real CAMELS-US series.

HydroErr works on 1-D series and, by default, drops every time step where either series
is NaN or infinite; our functions work on ``[time, entity]`` arrays with the same pairwise
rule, so each column is compared with HydroErr on that column. HydroErr's KGE uses
sample standard deviations (``ddof=1``), ours population ones: the ratio alpha is the
same. HydroErr has no percent bias; ``100 (beta - 1)`` of its KGE decomposition is the
same quantity.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import HydroErr as he
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from delta_core.evaluation import metrics as m
from delta_core.plugins.manager import build_registry

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_OUTPUT = REPO_ROOT.parent / "shared" / "data" / "camels_us" / "model_output" / "flow_timeseries" / "daymet"
BASINS = ["01013500", "01031500", "06409000", "07373000"]
# SAC-SMA (seed 05) NSE of MOD_RUN vs OBS_RUN stated in ../shared/data/README.md:
# water years 1981-1995 (calibration) and 1996-2010 (validation).
README_NSE = {
    "01013500": (0.898, 0.894),
    "01031500": (0.774, 0.742),
    "06409000": (0.512, -0.216),
    "07373000": (0.516, 0.612),
}

Fn = Callable[[np.ndarray, np.ndarray], np.ndarray]
ALL: dict[str, Fn] = {
    "nse": m.nse, "kge": m.kge, "r": m.pearson_r, "alpha": m.kge_alpha, "beta": m.kge_beta, "rmse": m.rmse,
    "bias": m.bias, "pbias": m.percent_bias,
}


def hydroerr(name: str, sim: np.ndarray, obs: np.ndarray) -> float:
    """HydroErr's value of metric ``name`` for 1-D series (its default: drop NaN/inf pairs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "nse":
            return float(he.nse(sim, obs))
        if name == "rmse":
            return float(he.rmse(sim, obs))
        if name == "bias":
            return float(he.me(sim, obs))
        if name == "r":
            return float(he.pearson_r(sim, obs))
        _, alpha, beta, kge = he.kge_2009(sim, obs, return_all=True)
        return float({"kge": kge, "alpha": alpha, "beta": beta, "pbias": 100.0 * (beta - 1.0)}[name])


def assert_agrees(sim: np.ndarray, obs: np.ndarray, names: tuple[str, ...] = tuple(ALL), rtol: float = 1e-9) -> None:
    for name in names:
        ours = ALL[name](sim, obs)
        theirs = np.array([hydroerr(name, sim[:, j], obs[:, j]) for j in range(sim.shape[1])])
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-10, err_msg=name)


def random_flows(rng: np.random.Generator, n_time: int, n_entity: int, *, zeros: float = 0.0,
                 gaps: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Skewed flow-like ``(sim, obs)`` with a share of zero flows and of NaN gaps in each."""
    obs = rng.lognormal(0.0, 1.2, (n_time, n_entity))
    sim = obs * rng.lognormal(0.1, 0.4, obs.shape) + rng.normal(0.0, 0.3, obs.shape)
    obs[rng.random(obs.shape) < zeros] = 0.0
    sim[rng.random(sim.shape) < zeros] = 0.0
    obs[rng.random(obs.shape) < gaps] = np.nan
    sim[rng.random(sim.shape) < gaps / 2] = np.nan
    if gaps and n_time > 40:
        obs[10:30, 0] = np.nan  # a long gap, as in a real gauge record
    return sim, obs


# -- random series ---------------------------------------------------------------------------

@pytest.mark.parametrize(("seed", "zeros", "gaps"), [(0, 0.0, 0.0), (1, 0.3, 0.0), (2, 0.0, 0.15), (3, 0.4, 0.3)])
def test_random_series_agree_with_hydroerr(seed: int, zeros: float, gaps: float) -> None:
    sim, obs = random_flows(np.random.default_rng(seed), 500, 6, zeros=zeros, gaps=gaps)
    assert_agrees(sim, obs)


def test_short_series_and_infinities_agree_with_hydroerr() -> None:
    rng = np.random.default_rng(7)
    sim, obs = random_flows(rng, 12, 20, zeros=0.2, gaps=0.2)
    sim[3, :5] = np.inf  # HydroErr drops inf pairs by default, like NaN
    obs[4, 5:10] = -np.inf
    assert_agrees(sim, obs)


def test_pairwise_nan_removal_is_explicit() -> None:
    """A gap in *either* series removes the pair from both, as ``remove NaN pairs`` does in HydroErr."""
    obs = np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan, 5.0])
    sim = np.array([1.5, 2.0, 2.5, 4.5, np.nan, 50.0, 5.0])
    keep = np.isfinite(obs) & np.isfinite(sim)
    for name, fn in ALL.items():
        gapped = fn(sim[:, None], obs[:, None])[0]
        compact = fn(sim[keep, None], obs[keep, None])[0]
        assert gapped == pytest.approx(compact, rel=1e-12), name
        assert gapped == pytest.approx(hydroerr(name, sim[keep], obs[keep]), rel=1e-9), name
        # Dropping only the observed gaps (leaving obs = 100 where sim is missing) gives another answer.
        one_sided = np.isfinite(obs)
        assert fn(np.nan_to_num(sim[one_sided, None]), obs[one_sided, None])[0] != pytest.approx(gapped), name
    # NSE is 1 - SSE / SS_obs on the five kept pairs, by hand: SSE = 0.75, mean(o) = 3, SS_obs = 10.
    assert m.nse(sim[:, None], obs[:, None])[0] == pytest.approx(1 - 0.75 / 10.0, rel=1e-12)


finite_flow = st.floats(0.0, 1e3, allow_nan=False, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(
    obs=hnp.arrays(np.float64, st.tuples(st.integers(2, 40), st.integers(1, 3)), elements=finite_flow),
    data=st.data(),
)
def test_any_series_with_gaps_agrees_with_hydroerr(obs: np.ndarray, data: st.DataObject) -> None:
    sim = data.draw(hnp.arrays(np.float64, obs.shape, elements=finite_flow))
    obs = np.where(data.draw(hnp.arrays(bool, obs.shape)), np.nan, obs)
    sim = np.where(data.draw(hnp.arrays(bool, obs.shape)), np.nan, sim)
    for j in range(obs.shape[1]):
        s, o = sim[:, j : j + 1], obs[:, j : j + 1]
        keep = np.isfinite(s[:, 0]) & np.isfinite(o[:, 0])
        sk, ok = s[keep, 0], o[keep, 0]
        for name, fn in ALL.items():
            ours = fn(s, o)[0]
            if keep.sum() < m.MIN_PAIRS:
                assert np.isnan(ours), name
                continue
            # HydroErr has no rule for undefined scores (it divides by ~0): check ours is NaN there.
            obs_const = np.ptp(ok) == 0
            undefined = {
                "nse": obs_const, "alpha": obs_const, "r": obs_const or np.ptp(sk) == 0,
                "kge": obs_const or np.ptp(sk) == 0 or ok.mean() == 0,
                "beta": ok.mean() == 0, "pbias": ok.mean() == 0,
            }.get(name, False)
            if undefined:
                assert np.isnan(ours), name
            elif np.ptp(ok) > 1e-3 and np.ptp(sk) > 1e-3:  # well-conditioned: both must agree closely
                assert ours == pytest.approx(hydroerr(name, sk, ok), rel=1e-7, abs=1e-9), name


# -- edge cases --------------------------------------------------------------------------------

def test_all_nan_entity_is_nan_and_leaves_the_others_alone() -> None:
    sim, obs = random_flows(np.random.default_rng(4), 50, 3)
    obs[:, 1] = np.nan
    for name, fn in ALL.items():
        out = fn(sim, obs)
        assert np.isnan(out[1]), name
        np.testing.assert_allclose(out[[0, 2]], fn(sim[:, [0, 2]], obs[:, [0, 2]]), rtol=1e-14, err_msg=name)


def test_fewer_than_two_pairs_is_nan() -> None:
    obs = np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, np.nan], [np.nan, np.nan, np.nan]])
    sim = np.array([[1.5, 1.0, np.nan], [2.0, 2.5, 1.0], [3.0, 3.0, 2.0]])  # one pair, one pair, none
    for name, fn in ALL.items():
        assert np.isnan(fn(sim, obs)).all(), name


@pytest.mark.parametrize("value", [0.1, 0.3, 0.7, 3.3, 123.456])
@pytest.mark.parametrize("n", [3, 6, 7, 365])
def test_constant_observations_give_nan_not_a_rounding_artefact(value: float, n: int) -> None:
    """Σ(o - mean(o))² of a constant series is rarely exactly 0 in floating point; the scores must still be NaN."""
    obs = np.full((n, 1), value)
    sim = obs + np.linspace(0.0, 1.0, n)[:, None]
    for name in ("nse", "kge", "r", "alpha"):
        assert np.isnan(ALL[name](sim, obs)[0]), name
    assert m.kge_beta(sim, obs)[0] == pytest.approx(1.0 + 0.5 / value)
    assert np.isfinite(m.rmse(sim, obs)[0])


def test_constant_simulation_and_zero_mean_observations() -> None:
    obs = np.array([[1.0, -1.0], [2.0, 1.0], [4.0, -1.0], [3.0, 1.0]])
    sim = np.array([[2.0, 1.0], [2.0, 2.0], [2.0, 3.0], [2.0, 4.0]])
    assert np.isnan(m.pearson_r(sim, obs)[0]) and np.isnan(m.kge(sim, obs)[0])
    assert m.kge_alpha(sim, obs)[0] == 0.0
    assert m.nse(sim, obs)[0] == pytest.approx(1 - 6.0 / 5.0)
    assert np.isnan(m.kge_beta(sim, obs)[1]) and np.isnan(m.percent_bias(sim, obs)[1])
    assert m.bias(sim, obs)[1] == pytest.approx(2.5)


def test_no_runtime_warning_on_degenerate_input() -> None:
    obs = np.array([[np.nan, 1.0, 0.0], [np.nan, 1.0, 0.0], [np.nan, 1.0, 0.0]])
    sim = np.ones_like(obs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in ALL.values():
            fn(sim, obs)


def test_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match=r"must both be \[time, entity\], got \(3, 2\) and \(3, 1\)"):
        m.nse(np.ones((3, 2)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="must both be"):
        m.rmse(np.ones(3), np.ones(3))


def test_registered_metric_classes() -> None:
    registry, _ = build_registry(autoload=False)
    sim, obs = random_flows(np.random.default_rng(5), 100, 4, gaps=0.1)
    expected = {"core.nse": ("NSE", True), "core.kge": ("KGE", True), "core.r": ("r", True),
                "core.alpha": ("alpha", True), "core.beta": ("beta", True), "core.rmse": ("RMSE", False),
                "core.bias": ("bias", False), "core.pbias": ("pbias", False)}
    functions = dict(zip(expected, ALL.values(), strict=True))
    for key, (name, higher) in expected.items():
        metric = registry.get("metric", key).load()()
        assert (metric.name, metric.higher_is_better) == (name, higher)
        np.testing.assert_array_equal(metric(sim, obs), functions[key](sim, obs))


# -- real CAMELS-US series -------------------------------------------------------------------

@pytest.fixture(scope="module")
def camels_benchmark() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(water_year [time], MOD_RUN [time, basin], OBS_RUN [time, basin])`` of the four SAC-SMA files."""
    if not MODEL_OUTPUT.is_dir():
        pytest.skip(f"shared CAMELS-US data absent: no {MODEL_OUTPUT} (../shared/data not checked out)")
    dates, sims, obss = None, [], []
    for basin in BASINS:
        (path,) = MODEL_OUTPUT.glob(f"*/{basin}_05_model_output.txt")
        table = np.loadtxt(path, skiprows=1)
        if dates is None:
            dates = table[:, :3]
        np.testing.assert_array_equal(table[:, :3], dates, err_msg=f"{basin}: dates differ from {BASINS[0]}")
        sims.append(table[:, 10])
        obss.append(np.where(table[:, 11] == -999.0, np.nan, table[:, 11]))
    assert dates is not None
    water_year = dates[:, 0] + (dates[:, 1] >= 10)
    return water_year, np.stack(sims, axis=1), np.stack(obss, axis=1)


@pytest.mark.shared_data
def test_real_series_agree_with_hydroerr(camels_benchmark: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    _, sim, obs = camels_benchmark
    assert np.isnan(obs).any(), "07373000 has a missing observation: the real test covers a gap"
    assert_agrees(sim, obs)


@pytest.mark.shared_data
@pytest.mark.parametrize(("first", "last", "which"), [(1981, 1995, 0), (1996, 2010, 1)])
def test_real_nse_reproduces_the_sacsma_benchmark(
    camels_benchmark: tuple[np.ndarray, np.ndarray, np.ndarray], first: int, last: int, which: int,
) -> None:
    water_year, sim, obs = camels_benchmark
    period = (water_year >= first) & (water_year <= last)
    assert period.sum() == 365 * 15 + 4 - (which == 0), "15 water years of daily values"
    ours = m.nse(sim[period], obs[period])
    expected = np.array([README_NSE[b][which] for b in BASINS])
    np.testing.assert_allclose(ours, expected, atol=5e-4)
