"""The synthetic hydrology dataset: determinism, consistency with HBV, format, component."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from delta_core.data.canonical import open_canonical, validate
from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from delta_hydro.synthetic.config import SyntheticConfig
from delta_hydro.synthetic.generator import SPINUP_DAYS, generate

SMALL = SyntheticConfig(basins=6, years=3, seed=7)


@pytest.fixture(scope="module")
def small() -> xr.Dataset:
    return generate(SMALL)


def test_deterministic_under_seed(small: xr.Dataset) -> None:
    xr.testing.assert_identical(small, generate(SMALL))
    other = generate(SyntheticConfig(basins=6, years=3, seed=8))
    assert not np.array_equal(other["P"].values, small["P"].values)


def test_passes_validation_with_units_and_string_ids(small: xr.Dataset) -> None:
    assert validate(small).problems == ()
    assert small["basin"].values.tolist() == [f"syn{i:05d}" for i in range(6)]
    assert small["Q"].attrs["units"] == "mm/day" and small["true_FC"].attrs["units"] == "mm"
    assert small.sizes["time"] == 365 * 3 + 1  # 1990-1992 incl. the 1992 leap day


@pytest.mark.parametrize("variant", ["1.0", "1.1p", "2.0"])
def test_flow_is_reproduced_by_hbv_from_stored_truth(variant: str) -> None:
    ds = generate(SyntheticConfig(basins=4, years=3, seed=3, variant=variant))
    model = HBV(HBVConfig(variant=variant, nmul=1))
    forcing = np.stack([ds[v].values.T for v in ("P", "T", "PET")], axis=-1).astype(np.float64)
    x = torch.from_numpy(np.concatenate([forcing[:SPINUP_DAYS], forcing]))
    params = {}
    for spec in model.param_specs:
        value = torch.from_numpy(ds[f"true_{spec.name}"].values.astype(np.float64))
        params[spec.name] = value[:, None] if spec.per_component else value
    attributes = None
    if model.attributes:
        attributes = torch.from_numpy(np.stack([ds[v.name].values for v in model.attributes], 1).astype(np.float64))
    with torch.no_grad():
        q = model(x, params, attributes=attributes, warmup=SPINUP_DAYS).fluxes["streamflow"].numpy()
    np.testing.assert_allclose(q.T.astype(np.float32), ds["Q_true"].values, rtol=1e-6, atol=1e-9)


def test_truth_within_bounds_and_observations_noisy_with_gaps(small: xr.Dataset) -> None:
    model = HBV(HBVConfig(variant="1.1p", nmul=1))
    for spec in model.param_specs:
        v = small[f"true_{spec.name}"].values
        assert (v >= spec.lo).all() and (v <= spec.hi).all(), spec.name
    q, q_true = small["Q"].values, small["Q_true"].values
    share = np.isnan(q).mean()
    assert 0.005 < share < 0.05  # configured 2 % gaps
    ratio = q[~np.isnan(q)] / np.maximum(q_true[~np.isnan(q)], 1e-12)
    assert 0.02 < np.std(np.log(ratio)) < 0.08  # configured 5 % log-normal noise
    assert (q_true >= 0).all() and np.isfinite(q_true).all()


def test_weather_is_plausible(small: xr.Dataset) -> None:
    p, t, pet = small["P"].values, small["T"].values, small["PET"].values
    assert (p >= 0).all() and 0.2 < (p > 0).mean() < 0.8
    assert (pet >= 0).all() and (small["tmax"].values >= small["tmin"].values).all()
    # summer warmer than winter in every basin
    month = small["time"].dt.month.values
    assert (t[:, month == 7].mean(1) > t[:, month == 1].mean(1)).all()
    aridity = pet.mean(1) / p.mean(1)
    np.testing.assert_allclose(aridity, small["aridity"].values, rtol=1e-3)


def test_component_generates_into_cache_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from delta_core.config.converter import make_converter
    from delta_core.plugins.manager import build_registry
    from delta_hydro.synthetic.dataset import SyntheticDataset
    from delta_hydro.synthetic.dataset_config import SyntheticDatasetConfig

    monkeypatch.setenv("DELTA_CACHE_DIR", str(tmp_path))
    registry, _ = build_registry()
    conv = make_converter(registry)
    config = conv.structure({"generator": {"basins": 3, "years": 2, "seed": 1}}, SyntheticDatasetConfig)
    ds = SyntheticDataset(config)
    (store,) = tmp_path.iterdir()
    assert store.name == "synthetic-hydro-v1-3b-2y-1990-01-01-s1-hbv1.1p-n0.05-m0.02.zarr"
    assert len(ds.entity_ids) == 3 and open_canonical(store).sizes["time"] == 730
    mtime = store.stat().st_mtime_ns
    SyntheticDataset(config)
    assert store.stat().st_mtime_ns == mtime  # reused, not regenerated
