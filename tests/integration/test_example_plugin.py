"""The third-party plugin template (examples/plugin-template): discovery, contract, installation."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from delta_core.interfaces.dataset import SAMPLE_KEYS, Dataset
from delta_core.interfaces.phy import PhyModel
from delta_core.plugins.manager import PluginLoadWarning, build_registry
from delta_core.testing import check_phy_model

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "plugin-template"
SRC = TEMPLATE / "src"


@pytest.fixture(scope="module")
def example():
    """The template's modules, importable without installing the distribution."""
    sys.path.insert(0, str(SRC))
    try:
        from delta_example import config, data, model, plugin, presets

        yield {"config": config, "data": data, "model": model, "plugin": plugin, "presets": presets}
    finally:
        sys.path.remove(str(SRC))


@pytest.fixture(scope="module")
def registry(example):
    registry, _ = build_registry(autoload=False, extra_plugins={"example": example["plugin"]})
    return registry


# -- (a) loading the plugin module directly -----------------------------------------------------


def test_plugin_registers_its_components_with_summaries(registry):
    components = {(c.kind, c.name): c for c in registry.by_plugin("example")}
    assert sorted(components) == [
        ("dataset", "example.synthetic"),
        ("phy", "example.linear_reservoir"),
        ("preset", "example.linear_reservoir"),
    ]
    assert all(c.summary for c in components.values())
    assert registry.plugins["example"].module == "delta_example.plugin"


def test_names_resolve_to_the_classes(registry, example):
    phy = registry.get("phy", "example.linear_reservoir")
    assert phy.load() is example["model"].LinearReservoir
    assert phy.load_config_class() is example["config"].LinearReservoirConfig
    data = registry.get("dataset", "example.synthetic")
    assert data.load() is example["data"].SyntheticReservoirDataset
    assert data.load_config_class() is example["config"].SyntheticConfig
    assert issubclass(phy.load(), PhyModel) and issubclass(data.load(), Dataset)


def test_a_misspelt_name_suggests_the_example_component(registry):
    with pytest.raises(KeyError, match=r"Did you mean 'example.linear_reservoir'\?"):
        registry.get("phy", "example.linear_resevoir")


# -- (b) the contract checks on the linear reservoir ---------------------------------------------


@pytest.fixture(scope="module")
def forcing(example) -> torch.Tensor:
    dataset = example["data"].SyntheticReservoirDataset()
    return dataset.sample([0, 1, 2, 3, 4], start=0, length=365)["x_phy"].double()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_components": 3, "initial_storage": 40.0},
        {"n_components": 2, "dynamic_params": ["K", "CET"]},
    ],
)
def test_linear_reservoir_passes_the_contract_checks(example, forcing, params):
    config = example["config"].LinearReservoirConfig(**params)
    model = example["model"].LinearReservoir(config)
    check_phy_model(model, forcing, budget=example["model"].water_budget, warmup=30, atol=1e-9)


def test_a_leaking_reservoir_fails_the_mass_balance_check(example, forcing):
    class Leaky(example["model"].LinearReservoir):
        def forward(self, forcing, params, **kw):
            out = super().forward(forcing, params, **kw)
            out.fluxes["ET"] = 0.95 * out.fluxes["ET"]  # 5 % of ET disappears from the books
            return out

    with pytest.raises(AssertionError, match=r"Leaky: mass balance does not close: \|residual\| > atol"):
        check_phy_model(Leaky(), forcing, budget=example["model"].water_budget, atol=1e-9)


def test_reservoir_reproduces_the_synthetic_target_with_the_true_k(example):
    dataset = example["data"].SyntheticReservoirDataset()
    sample = dataset.sample(list(range(8)), start=0, length=len(dataset.times))
    k = torch.as_tensor(dataset.true_params["K"], dtype=torch.float64)[:, None]
    params = {"K": k, "CET": torch.ones_like(k)}
    out = example["model"].LinearReservoir()(sample["x_phy"].double(), params)
    target = sample["target"][..., 0].double()
    assert target.sum() > 100  # flow is not trivially zero
    torch.testing.assert_close(out.fluxes["Q"], target, rtol=1e-4, atol=1e-4)
    wrong = out.fluxes["Q"] - example["model"].LinearReservoir()(
        sample["x_phy"].double(), {"K": 0.5 * k + 0.01, "CET": torch.ones_like(k)}
    ).fluxes["Q"]
    assert wrong.abs().max() > 0.1  # the target does pin K down


# -- the synthetic dataset and the preset --------------------------------------------------------


def test_synthetic_dataset_follows_the_dataset_contract(example):
    config = example["config"].SyntheticConfig(n_entities=3, start="2000-03-01", n_days=50, seed=7)
    dataset = example["data"].SyntheticReservoirDataset(config)
    assert dataset.entity_ids == ["syn000", "syn001", "syn002"]
    times = dataset.times
    assert times.dtype == np.dtype("datetime64[ns]") and len(times) == 50
    assert times[0] == np.datetime64("2000-03-01") and (np.diff(times) == np.timedelta64(1, "D")).all()
    sample = dataset.sample([2, 0], start=10, length=20)
    assert set(sample) <= set(SAMPLE_KEYS)
    n_vars = {key: len(v) for key, v in dataset.variables.items()}
    assert sample["x_phy"].shape == (20, 2, n_vars["x_phy"])
    assert sample["x_nn"].shape == (20, 2, n_vars["x_nn"])
    assert sample["c_nn"].shape == (2, n_vars["c_nn"])
    assert sample["target"].shape == (20, 2, n_vars["target"])
    assert sample["entity_index"].tolist() == [2, 0]
    assert sample["time_index"].tolist() == list(range(10, 30))
    assert all(torch.isfinite(sample[k]).all() for k in ("x_phy", "x_nn", "c_nn", "target"))
    again = example["data"].SyntheticReservoirDataset(config).sample([2, 0], start=10, length=20)
    assert all(torch.equal(sample[k], again[k]) for k in sample)
    other = example["data"].SyntheticReservoirDataset(
        example["config"].SyntheticConfig(n_entities=3, start="2000-03-01", n_days=50, seed=8)
    ).sample([2, 0], start=10, length=20)
    assert not torch.equal(sample["x_phy"], other["x_phy"])
    with pytest.raises(IndexError, match=r"window start=40, length=20 does not fit in 50 time steps"):
        dataset.sample([0], start=40, length=20)
    with pytest.raises(IndexError, match=r"entities must be positions in \[0, 3\), got \[3\]"):
        dataset.sample([3], start=0, length=5)


def test_config_classes_validate_their_fields(example):
    config = example["config"]
    with pytest.raises(ValueError, match="n_components must be > 0, got 0"):
        config.LinearReservoirConfig(n_components=0)
    with pytest.raises(ValueError, match=r"dynamic_params: unknown \['BETA'\]; choose from K, CET"):
        config.LinearReservoirConfig(dynamic_params=["BETA"])
    with pytest.raises(ValueError, match=r"start must be an ISO date 'YYYY-MM-DD', got '2000/01/01'"):
        config.SyntheticConfig(start="2000/01/01")


def test_preset_is_a_complete_experiment_of_the_example_components(registry, example):
    preset = registry.get("preset", "example.linear_reservoir").load()()
    assert preset == {
        "name": "example-linear-reservoir",
        "seed": 0,
        "data": {"name": "example.synthetic", "params": preset["data"]["params"]},
        "model": {
            "name": "core.param_learning",
            "params": {"warmup": 30},
            "phy": {"name": "example.linear_reservoir", "params": {}},
            "nn": {"name": "nn.mlp", "params": {}},
        },
        "periods": {"train": ["2000-01-01", "2000-12-31"], "test": ["2001-01-01", "2001-12-31"]},
    }
    preset["name"] = "changed"  # callers get a fresh mapping each time
    assert registry.get("preset", "example.linear_reservoir").load()()["name"] == "example-linear-reservoir"
    # every component named resolves (nn.mlp belongs to deltamod-nn, checked elsewhere)
    assert ("dmodel", "core.param_learning") in registry
    data = registry.get("dataset", preset["data"]["name"])
    dataset = data.load()(data.load_config_class()(**preset["data"]["params"]))
    phy = registry.get("phy", preset["model"]["phy"]["name"])
    assert isinstance(phy.load()(phy.load_config_class()(**preset["model"]["phy"]["params"])), PhyModel)
    # the data cover both periods plus the warm-up before the first one
    times = dataset.times
    first = np.datetime64(preset["periods"]["train"][0])
    last = np.datetime64(preset["periods"]["test"][1])
    warmup = preset["model"]["params"]["warmup"]
    assert times[0] <= first - np.timedelta64(warmup, "D") and times[-1] == last
    for period in preset["periods"].values():
        start, end = (datetime.date.fromisoformat(d) for d in period)
        assert start < end


def test_preset_and_overrides_validate_through_the_config_system(example):
    from delta_core.config.errors import ConfigError
    from delta_core.config.load import load_experiment, preset

    with warnings.catch_warnings():  # this test is about the preset, not deltamod-nn's health
        warnings.simplefilter("ignore", PluginLoadWarning)
        registry, _ = build_registry(only=["nn"], extra_plugins={"example": example["plugin"]})
    if ("nn", "nn.mlp") not in registry:
        pytest.skip("the preset's network nn.mlp (deltamod-nn) is not registered")
    raw = preset(registry, "example.linear_reservoir")
    config = load_experiment(raw, registry, ["model.phy.params.dynamic_params=[K]"])
    (phy,) = config.model.phy
    assert phy.params == example["config"].LinearReservoirConfig(dynamic_params=("K",))
    assert config.data.params == example["config"].SyntheticConfig()
    with pytest.raises(ConfigError) as info:
        load_experiment(raw, registry, ["model.phy.params.n_components=0", "data.params.start=2000/1/1"])
    message = str(info.value)
    assert "$.model.phy.params.n_components: n_components must be > 0, got 0" in message
    assert "$.data.params.start: start must be an ISO date 'YYYY-MM-DD', got '2000/1/1'" in message


# -- (c) installed for real ----------------------------------------------------------------------

PROBE = textwrap.dedent(
    """
    import json, sys
    from delta_core.plugins.manager import PluginLoadWarning, build_registry

    result = {}
    registry, _ = build_registry(only=["example"])
    result["torch_after_listing"] = "torch" in sys.modules
    registry, _ = build_registry()  # plain autoload, as `delta plugins list` does
    info = registry.plugins.get("example")
    result["plugin"] = None if info is None else [info.module, info.distribution, info.version]
    result["failures"] = [[f.name, f.error] for f in registry.failures]
    result["components"] = [[c.kind, c.name] for c in registry.by_plugin("example")]
    cls = registry.get("phy", "example.linear_reservoir").load()
    from delta_core.interfaces.phy import PhyModel
    result["class"] = [cls.__module__, cls.__qualname__, issubclass(cls, PhyModel)]
    result["file"] = sys.modules[cls.__module__].__file__
    preset = registry.get("preset", "example.linear_reservoir").load()()
    result["preset_phy"] = registry.get("phy", preset["model"]["phy"]["name"]).load() is cls

    # a configuration section naming the component resolves to its class and params class
    from delta_core.config.converter import make_converter
    from delta_core.config.schema import PhyComponent
    section = {"name": "example.linear_reservoir", "params": {"n_components": 2}}
    phy = make_converter(registry).structure(section, PhyComponent)
    params_cls = type(phy.params)
    result["config"] = [params_cls.__module__, params_cls.__qualname__, phy.params.n_components]
    model = registry.get("phy", phy.name).load()(phy.params)
    result["model_n_components"] = model.n_components
    print(json.dumps(result))
    """
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """``pip install --no-deps --no-build-isolation --target`` of a copy of the template.

    Returns the copy, the target folder and an environment whose ``PYTHONPATH`` makes
    the installed distribution (and its entry point) visible to a subprocess.
    """
    tmp = tmp_path_factory.mktemp("example-plugin")
    source = tmp / "plugin-template"  # build a copy: pip builds in-tree and leaves build/ behind
    shutil.copytree(TEMPLATE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DELTA_", "PYTHONPATH", "PIP_"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        env=env, cwd=tmp, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (target / "deltamod_example-0.1.0.dist-info" / "entry_points.txt").is_file()
    env["PYTHONPATH"] = str(target)
    return source, target, env


def test_installed_plugin_is_discovered_through_its_entry_point(installed):
    _, target, env = installed
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=target.parent, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["plugin"] == ["delta_example.plugin", "deltamod-example", "0.1.0"]
    assert "example" not in [name for name, _ in result["failures"]]
    assert sorted(result["components"]) == [
        ["dataset", "example.synthetic"],
        ["phy", "example.linear_reservoir"],
        ["preset", "example.linear_reservoir"],
    ]
    assert result["torch_after_listing"] is False
    assert result["class"] == ["delta_example.model", "LinearReservoir", True]
    assert Path(result["file"]).is_relative_to(target)  # the installed copy, not the source tree
    assert result["preset_phy"] is True
    assert result["config"] == ["delta_example.config", "LinearReservoirConfig", 2]
    assert result["model_n_components"] == 2


def test_installed_plugin_passes_its_own_test_suite(installed):
    """What a plugin author's CI does: the template's tests, against the installed copy."""
    source, _, env = installed
    shutil.rmtree(source / "src")  # the tests must import the installed distribution
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        env=env, cwd=source, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
