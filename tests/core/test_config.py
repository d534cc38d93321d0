"""Configuration loading: strict types, paths in errors, YAML pitfalls, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from delta_core.config import (
    ConfigError,
    OverrideError,
    apply_overrides,
    load_experiment,
    preset,
    to_yaml,
)
from delta_core.config.yaml_io import YAMLReadError, parse_yaml
from delta_core.plugins.registry import Registry

BASE = """\
name: exp
data:
  name: toy.source
  params:
    basins: ['01013500']
model:
  phy: {name: toy.bucket, params: {nmul: 2}}
  nn: toy.net
train:
  name: toy.trainer
  params: {epochs: 3}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def _problems(tmp_path: Path, registry: Registry, text: str) -> list[str]:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_experiment(path, registry)
    assert str(err.value).startswith(f"invalid configuration in {path} (")
    return [str(p) for p in err.value.problems]


def test_valid_file_structures_into_plugin_classes(tmp_path: Path, toy_registry: Registry) -> None:
    from tests.core.plugins.toy import BucketConfig, TrainConfig

    exp = load_experiment(_write(tmp_path, BASE), toy_registry)
    (phy,) = exp.model.phy
    assert phy.params == BucketConfig(nmul=2)
    assert exp.train is not None and exp.train.params == TrainConfig(epochs=3)
    assert exp.model.coupling.name == "core.param_learning"
    assert exp.data.params.basins == ("01013500",)


def test_unknown_key(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("params: {epochs: 3}", "params: {epochs: 3, bach_size: 4}")
    assert _problems(tmp_path, toy_registry, text) == [
        "$.train.params: unknown key 'bach_size' (did you mean 'batch_size'?) in TrainConfig; "
        "allowed: epochs, lr, batch_size"
    ]


def test_unknown_top_level_key(tmp_path: Path, toy_registry: Registry) -> None:
    assert _problems(tmp_path, toy_registry, BASE + "sed: 3\n") == [
        "$: unknown key 'sed' (did you mean 'seed'?) in ExperimentConfig; allowed: data, model, name, "
        "seed, device, train, loss, metrics, periods, output_dir"
    ]


def test_wrong_type_is_not_coerced(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("{nmul: 2}", "{nmul: 2.7}")
    assert _problems(tmp_path, toy_registry, text) == [
        "$.model.phy.params.nmul: expected an integer, got float 2.7"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"3"', "expected an integer, got str '3'"),
        ("true", "expected an integer, got bool True"),
        ("[3]", "expected an integer, got list [3]"),
    ],
)
def test_other_wrong_types(tmp_path: Path, toy_registry: Registry, value: str, message: str) -> None:
    text = BASE.replace("{epochs: 3}", f"{{epochs: {value}}}")
    assert _problems(tmp_path, toy_registry, text) == [f"$.train.params.epochs: {message}"]


def test_string_is_not_a_list(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("{nmul: 2}", "{dynamic: k}")
    assert _problems(tmp_path, toy_registry, text) == [
        "$.model.phy.params.dynamic: expected a list, got str 'k'"
    ]


def test_out_of_range_value(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("{nmul: 2}", "{nmul: 0}")
    assert _problems(tmp_path, toy_registry, text) == ["$.model.phy.params.nmul: nmul must be > 0, got 0"]


def test_several_errors_reported_together(tmp_path: Path, toy_registry: Registry) -> None:
    text = (
        BASE.replace("{nmul: 2}", "{nmul: 0, variant: c}")
        .replace("{epochs: 3}", "{epochs: 3, lr: -1}")
        .replace("name: toy.source", "name: toy.sauce")
        + "seed: -1\ndevice: gpu\nperiods: {train: [1995-10-01, 1980-10-01]}\n"
    )
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_experiment(path, toy_registry)
    assert str(err.value) == "\n".join(
        [
            f"invalid configuration in {path} (7 problems):",
            "  $.data.name: no dataset component named 'toy.sauce'. Did you mean 'toy.source'? "
            "Available dataset components: core.canonical, toy.source.",
            "  $.model.phy.params.nmul: nmul must be > 0, got 0",
            "  $.model.phy.params.variant: variant must be one of 'a', 'b', got 'c'",
            "  $.seed: seed must be >= 0, got -1",
            "  $.device: device must be auto, cpu, cuda, cuda:N or mps, got 'gpu'",
            "  $.train.params.lr: lr must be > 0, got -1.0",
            "  $.periods.train: period ends (1980-10-01) before it starts (1995-10-01)",
        ]
    )


def test_unknown_component_with_suggestion_in_config(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("nn: toy.net", "nn: [toy.net, {name: toy.nett}]")
    assert _problems(tmp_path, toy_registry, text) == [
        "$.model.nn[1].name: no nn component named 'toy.nett'. Did you mean 'toy.net'? "
        "Available nn components: toy.net."
    ]


def test_missing_required_sections(tmp_path: Path, toy_registry: Registry) -> None:
    assert _problems(tmp_path, toy_registry, "name: x\nmodel: {nn: toy.net}\n") == [
        "$.data: required key missing",
        "$.model.phy: required key missing",
    ]


def test_params_for_component_without_options(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("nn: toy.net", "nn: {name: toy.net, params: {hidden: 3}}")
    assert _problems(tmp_path, toy_registry, text) == [
        "$.model.nn.params: nn 'toy.net' takes no params, got dict {'hidden': 3}"
    ]


def test_coupling_params_are_validated(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("  nn: toy.net\n", "  nn: toy.net\n  params: {warmup: -5, fixd: {}}\n")
    assert _problems(tmp_path, toy_registry, text) == [
        "$.model.params.warmup: warmup must be >= 0, got -5",
        "$.model.params: unknown key 'fixd' (did you mean 'fixed'?) in ParameterLearningConfig; "
        "allowed: warmup, fixed",
    ]


def test_yaml_exponent_without_dot_is_a_float(tmp_path: Path, toy_registry: Registry) -> None:
    exp = load_experiment(_write(tmp_path, BASE.replace("{epochs: 3}", "{epochs: 3, lr: 1e-3}")), toy_registry)
    assert exp.train is not None and exp.train.params.lr == 0.001
    assert parse_yaml("a: 1e-3\nb: -2.5E+2\nc: .5\n") == {"a": 0.001, "b": -250.0, "c": 0.5}


def test_leading_zero_ids_stay_strings_quoted_or_not(tmp_path: Path, toy_registry: Registry) -> None:
    text = BASE.replace("basins: ['01013500']", "basins: [01013500, '01022500', \"01031500\"]")
    exp = load_experiment(_write(tmp_path, text), toy_registry)
    assert exp.data.params.basins == ("01013500", "01022500", "01031500")


def test_id_without_leading_zero_is_a_number_and_rejected_for_string_field(
    tmp_path: Path, toy_registry: Registry
) -> None:
    text = BASE.replace("basins: ['01013500']", "basins: ['01013500', 6409000]")
    assert _problems(tmp_path, toy_registry, text) == [
        "$.data.params.basins[1]: expected a string, got int 6409000 (quote ids and codes, e.g. '01013500')"
    ]


def test_yaml_11_booleans_and_dates_stay_strings() -> None:
    assert parse_yaml("a: yes\nb: off\nc: 1981-10-01\nd: true\n") == {
        "a": "yes", "b": "off", "c": "1981-10-01", "d": True,
    }


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(YAMLReadError, match=r"duplicate key 'seed' \(line 2\)"):
        parse_yaml("seed: 1\nseed: 2\n", "x.yaml")


def test_missing_file_names_the_file(tmp_path: Path, toy_registry: Registry) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment(tmp_path / "nope.yaml", toy_registry)
    assert err.value.problems[0].message == f"{tmp_path / 'nope.yaml'}: file not found"


def test_set_overrides(tmp_path: Path, toy_registry: Registry) -> None:
    exp = load_experiment(
        _write(tmp_path, BASE),
        toy_registry,
        [
            "train.params.lr=1e-2",
            "model.phy.params.nmul=8",
            "data.params.basins=[01013500, 06409000]",
            "model.nn.params={}",
            "periods.test=[1995-10-01, 2010-09-30]",
            "name=renamed",
        ],
    )
    assert exp.train is not None and exp.train.params.lr == 0.01
    assert exp.model.phy[0].params.nmul == 8
    assert exp.data.params.basins == ("01013500", "06409000")
    assert exp.periods.test is not None and (exp.periods.test.start, exp.periods.test.end) == (
        "1995-10-01", "2010-09-30",
    )
    assert exp.name == "renamed"


def test_override_results_are_validated(tmp_path: Path, toy_registry: Registry) -> None:
    with pytest.raises(ConfigError) as err:
        load_experiment(_write(tmp_path, BASE), toy_registry, ["train.params.epochs=2.5"])
    assert [str(p) for p in err.value.problems] == ["$.train.params.epochs: expected an integer, got float 2.5"]


def test_malformed_override() -> None:
    with pytest.raises(OverrideError) as err:
        apply_overrides({}, ["train.params.lr"])
    assert str(err.value) == (
        "--set 'train.params.lr': expected KEY=VALUE with a dotted KEY, e.g. train.params.epochs=5"
    )
    with pytest.raises(OverrideError, match=r"'metrics.3' must index a list of 1 items"):
        apply_overrides({"metrics": ["a"]}, ["metrics.3.name=x"])


def test_preset_round_trips_through_yaml(tmp_path: Path, toy_registry: Registry) -> None:
    exp = load_experiment(preset(toy_registry, "toy.bucket"), toy_registry)
    path = tmp_path / "resolved.yaml"
    path.write_text(to_yaml(exp))
    assert load_experiment(path, toy_registry) == exp


def test_preset_is_a_copy(toy_registry: Registry) -> None:
    first = preset(toy_registry, "toy.bucket")
    first["name"] = "changed"
    assert preset(toy_registry, "toy.bucket")["name"] == "toy-default"


def test_validators_may_read_other_fields(tmp_path: Path, toy_registry: Registry) -> None:
    """A validator that depends on another field (like an HBV variant) gets the sibling values."""
    import attrs

    from delta_core.config.converter import make_converter

    def depends(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if value > instance.limit:  # type: ignore[attr-defined]
            raise ValueError(f"{attribute.name} must be <= limit ({instance.limit}), got {value}")  # type: ignore[attr-defined]

    @attrs.frozen
    class Pair:
        limit: int = 3
        value: int = attrs.field(default=1, validator=depends)

    conv = make_converter(toy_registry)
    assert conv.structure({"limit": 10, "value": 5}, Pair) == Pair(10, 5)
    with pytest.raises(Exception) as err:
        conv.structure({"value": 5}, Pair)
    from delta_core.config.errors import collect_problems

    assert [str(p) for p in collect_problems(err.value)] == ["$.value: value must be <= limit (3), got 5"]
