"""``core.trainer`` in-process: run directory, early stopping, lr schedules, iteration count, errors.

Everything here needs delta-core alone (the ``core_alone`` session runs it): the runs
train the ``toy`` test plugin's bucket (``toy.bucket``, 2 components, ``k`` dynamic)
coupled to its network (``toy.net``) on a tiny canonical store written by
:func:`write_reservoir_store`: 6 basins with CAMELS-style string ids,
1999-10-01 .. 2001-12-31, flow simulated with a known recession coefficient.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import xarray as xr
import yaml
from click.testing import CliRunner

from delta_core.cli.main import cli
from delta_core.config.load import load_experiment
from delta_core.config.schema import ExperimentConfig
from delta_core.data.canonical import write_canonical
from delta_core.data.periods import PeriodError
from delta_core.data.sampling import WindowSampler
from delta_core.plugins import manager
from delta_core.plugins.registry import Registry
from delta_core.training.errors import RunDirError, TrainingError
from delta_core.training.run_dir import RunDir
from delta_core.training.trainer import StandardTrainer
from tests.core.plugins import toy

BASINS = ["01013500", "01022500", "01030500", "01031500", "02011400", "02011460"]
START, DAYS = "1999-10-01", 823  # to 2001-12-31


def write_reservoir_store(path: Path, seed: int = 0) -> Path:
    """A canonical store of 6 basins: P, PET, Q (mm/day, Q with gaps) and two attributes.

    ``Q`` is the toy bucket ``S += P; Q = k S; S -= Q`` with ``k = 0.05 + 0.4 * steepness``,
    so the attributes determine the parameter; PET is an extra network input.
    """
    rng = np.random.default_rng(seed)
    n = len(BASINS)
    times = (np.datetime64(START, "D") + np.arange(DAYS)).astype("datetime64[ns]")
    doy = np.arange(DAYS) % 365
    wetness, steepness = rng.uniform(0.5, 1.5, n), rng.uniform(0.0, 1.0, n)
    precip = np.where(rng.random((n, DAYS)) < 0.35, rng.exponential(6.0, (n, DAYS)) * wetness[:, None], 0.0)
    pet = np.clip(2.5 + 2.0 * np.sin(2 * np.pi * (doy - 105) / 365.25) + rng.normal(0, 0.3, (n, DAYS)), 0, None)
    k = 0.05 + 0.4 * steepness
    storage, flow = np.zeros(n), np.empty((n, DAYS))
    for t in range(DAYS):
        storage = storage + precip[:, t]
        flow[:, t] = k * storage
        storage = storage - flow[:, t]
    flow[rng.random((n, DAYS)) < 0.03] = np.nan  # observation gaps: masked in losses and metrics
    series = {"P": (precip, "precipitation"), "PET": (pet, "potential evapotranspiration"),
              "Q": (flow, "streamflow")}
    ds = xr.Dataset(
        {name: (("basin", "time"), v.astype(np.float32), {"units": "mm/day", "long_name": ln})
         for name, (v, ln) in series.items()}
        | {"wetness": ("basin", wetness, {"units": "1", "long_name": "rain amount scaling"}),
           "steepness": ("basin", steepness, {"units": "1", "long_name": "sets the recession coefficient"})},
        coords={"basin": np.asarray(BASINS, dtype=str), "time": times},
    )
    return write_canonical(ds, path)


def reservoir_experiment(store: Path, **train: Any) -> dict[str, Any]:
    """A complete experiment mapping on ``store``; ``train`` overrides trainer options."""
    return {
        "name": "tiny-bucket",
        "seed": 3,
        "data": {"name": "core.canonical", "params": {
            "path": str(store), "x_phy": ["P"], "x_nn": ["P", "PET"], "c_nn": ["wetness", "steepness"],
            "target": ["Q"], "transforms": {"P": "log1p"}}},
        "model": {
            "name": "core.param_learning",
            "params": {"warmup": 30},
            "phy": {"name": "toy.bucket", "params": {"nmul": 2, "dynamic": ["k"]}},
            "nn": {"name": "toy.net"},
        },
        "train": {"name": "core.trainer", "params": {
            "epochs": 2, "iterations_per_epoch": 2, "batch_size": 4, "window": 60, "lr": 0.01,
            "progress": "never", **train}},
        "loss": {"name": "core.rmse"},
        "periods": {"train": ["2000-01-01", "2000-12-31"], "valid": ["2001-01-01", "2001-06-30"],
                    "test": ["2001-07-01", "2001-12-31"]},
    }


@pytest.fixture(autouse=True)
def _restore_threads() -> Iterator[None]:
    """The trainer's ``threads`` option sets torch's process-wide thread count."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    """Core and the toy test plugin only, also as the process-wide registry (the trainer's)."""
    saved = dict(manager._CACHE)
    manager._CACHE["default"] = manager.build_registry(autoload=False, extra_plugins={"toy": toy})
    yield manager._CACHE["default"][0]
    manager._CACHE.clear()
    manager._CACHE.update(saved)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_reservoir_store(tmp_path_factory.mktemp("data") / "reservoir.zarr")


def fit(registry: Registry, raw: dict[str, Any], run_dir: Path, *, resume: bool = False) -> ExperimentConfig:
    experiment = load_experiment(raw, registry)
    assert experiment.train is not None
    StandardTrainer(experiment.train.params).fit(experiment, run_dir, resume=resume)
    return experiment


def read_losses(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "losses.csv").open() as fh:
        return list(csv.DictReader(fh))


# -- the run directory ------------------------------------------------------------------------------


def test_run_directory_holds_config_manifest_losses_normalisation_and_checkpoints(registry, store, tmp_path):
    run = tmp_path / "run"
    experiment = fit(registry, reservoir_experiment(store, epochs=2), run)

    assert load_experiment(run / "config.yaml", registry) == experiment  # resolved and re-loadable
    manifest = json.loads((run / "manifest.json").read_text())
    assert {"versions", "git_commit", "python", "platform", "argv", "experiment", "started", "finished",
            "device", "dataset", "iterations_per_epoch", "trainable_parameters", "epochs_completed"} <= set(manifest)
    assert manifest["experiment"] == "tiny-bucket" and manifest["epochs_completed"] == 2
    assert manifest["dataset"]["component"] == "core.canonical" and manifest["dataset"]["entities"] == 6
    assert manifest["dataset"]["days"] == DAYS and len(manifest["dataset"]["fingerprint"]) == 16
    assert manifest["versions"]["deltamod-core"] and manifest["iterations_per_epoch"] == 2
    assert manifest["trainable_parameters"] == sum(
        t.numel() for t in RunDir(run).load_checkpoint("last")["model"].values())

    rows = read_losses(run)
    assert list(rows[0]) == ["epoch", "train_loss", "lr", "valid_median_nse", "seconds"]
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(math.isfinite(float(r["train_loss"])) and float(r["lr"]) == 0.01 for r in rows)
    assert all(-10 < float(r["valid_median_nse"]) <= 1 for r in rows)

    # statistics of the network inputs over the training period and entities only
    stats = json.loads((run / "normalization.json").read_text())
    assert sorted(stats) == ["P", "PET", "steepness", "wetness"]  # x_nn and c_nn only
    data = xr.open_zarr(store)
    train = data.sel(time=slice("2000-01-01", "2000-12-31"))
    p = np.log1p(train["P"].values.astype(np.float64))
    assert stats["P"]["transform"] == "log1p"
    assert stats["P"]["mean"] == pytest.approx(p.mean(), rel=1e-6)
    assert stats["P"]["std"] == pytest.approx(p.std(), rel=1e-6)
    assert stats["PET"]["mean"] == pytest.approx(train["PET"].values.astype(np.float64).mean(), rel=1e-6)
    assert stats["PET"]["mean"] != pytest.approx(data["PET"].values.astype(np.float64).mean(), rel=1e-4)

    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["best.pt", "epoch_0001.pt", "epoch_0002.pt", "last.pt"]
    state = RunDir(run).load_checkpoint("last")
    assert state["epoch"] == 2 and set(state["rng"]) >= {"torch", "numpy_sampler", "python"}
    assert {"model", "optimizer", "scheduler", "history", "best_score", "stale", "outputs"} <= set(state)
    assert state["outputs"] == ("Q",)
    assert "epoch 2:" in (run / "train.log").read_text()


def test_a_non_empty_run_directory_is_refused(registry, store, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match=r"already holds a run; use `delta train --resume"):
        fit(registry, reservoir_experiment(store), run)
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    with pytest.raises(RunDirError, match=r"no config.yaml, not a run directory"):
        fit(registry, reservoir_experiment(store), run, resume=True)


# -- early stopping, schedules, iterations ----------------------------------------------------------


def test_early_stopping_counts_validations_without_improvement(registry, store, tmp_path):
    # lr far below float32 resolution: weights, hence the validation score, never change,
    # so only the first validation improves.
    run = tmp_path / "run"
    raw = reservoir_experiment(store, epochs=20, iterations_per_epoch=1, lr=1e-30, validate_every=2, patience=2)
    fit(registry, raw, run)
    rows = read_losses(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3", "4", "5", "6"]  # validations at 2 (best), 4, 6: stop
    assert [r["valid_median_nse"] != "" for r in rows] == [False, True, False, True, False, True]
    assert len({r["valid_median_nse"] for r in rows if r["valid_median_nse"]}) == 1
    assert RunDir(run).load_checkpoint("best")["epoch"] == 2
    last = RunDir(run).load_checkpoint("last")
    assert last["epoch"] == 6 and last["stale"] == 2
    assert "early stopping after epoch 6" in (run / "train.log").read_text()
    assert json.loads((run / "manifest.json").read_text())["epochs_completed"] == 6

    # resuming a run that stopped early trains no further, like the uninterrupted run
    fit(registry, raw, run, resume=True)
    assert len(read_losses(run)) == 6
    assert RunDir(run).load_checkpoint("last")["epoch"] == 6


def test_without_patience_training_runs_every_epoch(registry, store, tmp_path):
    run = tmp_path / "run"
    fit(registry, reservoir_experiment(store, epochs=4, iterations_per_epoch=1, lr=1e-30), run)
    assert len(read_losses(run)) == 4


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("none", [0.01] * 5),
        ("step", [0.01, 0.01, 0.005, 0.005, 0.0025]),  # x gamma every lr_step=2 epochs
        ("exponential", [0.01 * 0.5**k for k in range(5)]),  # x gamma every epoch
        ("cosine", [0.005 * (1 + math.cos(math.pi * k / 5)) for k in range(5)]),  # to 0 over the 5 epochs
    ],
)
def test_lr_schedules_change_the_learning_rate_as_documented(registry, store, tmp_path, schedule, expected):
    raw = reservoir_experiment(store, epochs=5, iterations_per_epoch=1, validate_every=0, lr_schedule=schedule,
                               lr_step=2, lr_gamma=0.5)
    fit(registry, raw, tmp_path / "run")
    state = RunDir(tmp_path / "run").load_checkpoint("last")
    assert [row["lr"] for row in state["history"]] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert [float(r["lr"]) for r in read_losses(tmp_path / "run")] == pytest.approx(expected, rel=1e-5)
    after = {"none": 0.01, "step": 0.0025, "exponential": 0.01 * 0.5**5, "cosine": 0.0}[schedule]
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(after, abs=1e-15)


@pytest.mark.parametrize(("probability", "expected"), [(0.99, 12), (0.9, 6)])
def test_coverage_rule_sets_the_iterations_per_epoch(registry, store, tmp_path, monkeypatch, probability, expected):
    # 6 basins x 182 training days; one batch covers 6 basins (batch_size 8 is capped at the 6
    # there are) x 60 days, a share s = 360/1092 of the basin-days; k batches miss a given
    # basin-day with probability (1 - s)^k, so k = ceil(log(1 - p) / log(1 - s)).
    share = 6 * 60 / (6 * 182)
    assert math.ceil(math.log(1 - probability) / math.log(1 - share)) == expected
    draws = []
    original = WindowSampler.draw

    def counting(self):
        draws.append(1)
        return original(self)

    monkeypatch.setattr(WindowSampler, "draw", counting)
    raw = reservoir_experiment(store, epochs=2, iterations_per_epoch=None, coverage_probability=probability,
                               batch_size=8, window=60, validate_every=0)
    raw["periods"]["train"] = ["2000-01-01", "2000-06-30"]
    fit(registry, raw, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["iterations_per_epoch"] == expected
    assert len(draws) == 2 * expected  # per epoch


# -- clear errors -------------------------------------------------------------------------------


def _without_train(raw: dict[str, Any]) -> dict[str, Any]:
    del raw["periods"]["train"]
    return raw


def _train_period(start: str, end: str):
    def change(raw: dict[str, Any]) -> dict[str, Any]:
        raw["periods"]["train"] = [start, end]
        return raw

    return change


def _outputs(*names: str):
    def change(raw: dict[str, Any]) -> dict[str, Any]:
        raw["train"]["params"]["outputs"] = list(names)
        return raw

    return change


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (_without_train, TrainingError, r"^periods\.train is required for training$"),
        (_outputs("Q", "Qmean"), TrainingError,
         r"^train\.params\.outputs \['Q', 'Qmean'\] must pair with the targets \['Q'\]$"),
        (_outputs("streamflow"), TrainingError,
         r"^train\.params\.outputs \['streamflow'\] are not outputs of the PhyModel; declared: \['Q', 'Qmean'\]$"),
        (_train_period("1998-01-01", "1998-12-31"), PeriodError,
         r"^period 'train' \[1998-01-01 \.\. 1998-12-31\] starts on 1998-01-01, before the data's first day "
         r"1999-10-01 \(data: 1999-10-01 \.\. 2001-12-31\)$"),
        (_train_period("2001-01-01", "2002-06-30"), PeriodError,
         r"ends on 2002-06-30, after the data's last day 2001-12-31"),
        (_train_period("1999-10-15", "2000-12-31"), PeriodError,
         r"needs 30 warm-up days before 1999-10-15 \(from 1999-09-15\), but the data start on 1999-10-01"),
    ],
    ids=["no-train-period", "outputs-vs-targets", "unknown-output", "before-data", "after-data", "no-warmup-room"],
)
def test_configuration_errors_are_clear_and_leave_no_run_behind(registry, store, tmp_path, change, error, message):
    run = tmp_path / "run"
    raw = change(reservoir_experiment(store))
    with pytest.raises(error, match=message):
        fit(registry, raw, run)
    assert not run.exists()  # nothing blocks the corrected command with the same --run-dir
    fit(registry, reservoir_experiment(store, epochs=1, iterations_per_epoch=1), run)
    assert (run / "checkpoints" / "last.pt").is_file()


def test_delta_train_reports_a_training_error_as_one_line(registry, store, tmp_path):
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(_outputs("Q", "Qmean")(reservoir_experiment(store))))
    result = CliRunner().invoke(cli, ["train", str(config), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output == (
        "Error: training stopped: train.params.outputs ['Q', 'Qmean'] must pair with the targets ['Q']\n"
    )
