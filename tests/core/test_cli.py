"""The ``delta`` command line, in-process (CliRunner) and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from delta_core.cli.main import _add_plugin_commands, cli
from delta_core.plugins import hookimpl, manager

pytestmark = pytest.mark.usefixtures("cli_with_toy")


def run(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.startswith("deltamod-core ")


def test_plugins_list_shows_components_by_plugin() -> None:
    result = run("plugins", "list")
    assert result.exit_code == 0
    assert "core  deltamod-core" in result.output
    assert "  phy      toy.bucket                   a toy bucket" in result.output
    assert "  preset   toy.bucket                   toy default experiment" in result.output


def test_plugins_list_json() -> None:
    data = json.loads(run("plugins", "list", "--json").output)
    toy = next(p for p in data["plugins"] if p["name"] == "toy")
    assert toy["components"] == {
        "dataset": ["toy.source"], "nn": ["toy.net"], "phy": ["toy.bucket"],
        "preset": ["toy.bucket"], "trainer": ["toy.trainer"],
    }
    assert data["failures"] == [] and data["blocked"] == []


def test_plugins_list_reports_failures() -> None:
    registry, _ = manager._CACHE["default"]
    registry.failures.append(manager.PluginLoadFailure("broken", "cannot load broken.plugin: boom"))
    result = run("plugins", "list")
    assert "FAILED broken: cannot load broken.plugin: boom" in result.output


def test_plugins_show_phy_prints_parameter_table() -> None:
    result = run("plugins", "show", "toy.bucket", "--kind", "phy")
    assert result.exit_code == 0, result.output
    assert "A linear bucket" in result.output
    lines = result.output.splitlines()
    assert any(line.split() == ["nmul", "int", "4"] for line in lines)
    assert any(line.split()[:5] == ["k", "0.01", "0.5", "1/day", "yes"] for line in lines)
    assert any(line.split()[:5] == ["scale", "0.5", "1.5", "1", "no"] for line in lines)


def test_plugins_show_unknown_suggests() -> None:
    result = CliRunner().invoke(cli, ["plugins", "show", "toy.bukket"])
    assert result.exit_code == 1
    assert "Error: no component named 'toy.bukket'. Did you mean 'toy.bucket'?" in result.output


def test_config_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("data: toy.source\nmodel: {phy: toy.bucket, nn: toy.net}\n")
    result = run("config", "validate", str(good))
    assert result.exit_code == 0 and result.output == f"{good}: valid\n"
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: toy.source\nmodel: {phy: {name: toy.bucket, params: {nmul: x}}, nn: toy.net}\nsed: 1\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(bad)])
    assert result.exit_code == 1
    assert result.output == textwrap.dedent(f"""\
        Error: invalid configuration in {bad} (2 problems):
          $.model.phy.params.nmul: expected an integer, got str 'x'
          $: unknown key 'sed' (did you mean 'seed'?) in ExperimentConfig; allowed: data, model, name, seed, \
device, train, loss, metrics, periods, output_dir
        """)


def test_config_validate_with_set_and_show(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("data: toy.source\nmodel: {phy: toy.bucket, nn: toy.net}\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(good), "--show", "--set", "model.phy.params.nmul=7"])
    assert result.exit_code == 0
    assert "nmul: 7" in result.stdout


def test_config_template_for_preset_and_component() -> None:
    preset = run("config", "template", "toy.bucket")
    assert preset.exit_code == 0
    assert "name: toy-default" in preset.output and "variant: a" in preset.output
    component = run("config", "template", "toy.trainer")
    assert component.output == (
        "# trainer component toy.trainer\nname: toy.trainer\nparams:\n  epochs: 10\n  lr: 0.001\n  batch_size: 8\n"
    )


def test_train_hands_off_to_trainer(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run("train", "--plugin", "toy.bucket", "--set", "train.params.epochs=2",
                 "--set", "train.params.lr=1e-4", "--run-dir", str(run_dir))
    assert result.exit_code == 0, result.output
    received = json.loads((run_dir / "received.json").read_text())
    assert received == {"name": "toy-default", "epochs": 2, "lr": 0.0001, "resume": False}
    resumed = run("train", "--resume", str(run_dir))
    assert resumed.exit_code == 0
    assert json.loads((run_dir / "received.json").read_text())["resume"] is True


def test_train_without_trainer_fails_clearly(tmp_path: Path) -> None:
    from tests.core.plugins import toy

    module = types.ModuleType("toy_without_trainer")

    @hookimpl
    def delta_register(registry) -> None:  # type: ignore[no-untyped-def]
        registry.add_phy("toy.bucket", "tests.core.plugins.toy_impl:Bucket",
                         config="tests.core.plugins.toy:BucketConfig")
        registry.add_nn("toy.net", "tests.core.plugins.toy_impl:Net")
        registry.add_dataset("toy.source", "tests.core.plugins.toy_impl:Source",
                             config="tests.core.plugins.toy:SourceConfig")
        registry.add_preset("toy.bucket", "tests.core.plugins.toy:PRESET")

    module.delta_register = delta_register  # type: ignore[attr-defined]
    registry, pm = manager.build_registry(autoload=False, extra_plugins={"toy": module})
    registry._components.pop(("trainer", "core.trainer"))  # a core without its trainer
    manager._CACHE["default"] = (registry, pm)
    config = tmp_path / "exp.yaml"
    config.write_text("data: toy.source\nmodel: {phy: toy.bucket, nn: toy.net}\n")
    result = CliRunner().invoke(cli, ["train", str(config)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: no trainer registered: the configuration is valid, but no installed plugin provides "
        "a component of kind 'trainer', so nothing can train it (see `delta plugins list`).\n"
    )
    assert toy.PRESET["train"] == {"name": "toy.trainer"}  # the preset names one: config error instead
    result = CliRunner().invoke(cli, ["train", "--plugin", "toy.bucket"])
    assert "$.train.name: no trainer component named 'toy.trainer'" in result.output


def test_train_needs_config_or_plugin() -> None:
    result = CliRunner().invoke(cli, ["train"])
    assert result.exit_code == 2
    assert "give a CONFIG file or --plugin NAME" in result.output


def test_train_unknown_preset() -> None:
    result = CliRunner().invoke(cli, ["train", "--plugin", "toy.buket"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no preset component named 'toy.buket'. Did you mean 'toy.bucket'?")


def test_plugins_can_add_commands() -> None:
    module = types.ModuleType("cmd_plugin")

    @hookimpl
    def delta_commands(cli: click.Group) -> None:
        @cli.command("hello")
        def hello() -> None:
            click.echo("hello from a plugin")

    module.delta_commands = delta_commands  # type: ignore[attr-defined]
    manager._CACHE["default"] = manager.build_registry(autoload=False, extra_plugins={"cmd": module})
    group = click.Group(commands=dict(cli.commands))
    _add_plugin_commands(group)
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"


def _delta(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys, time; t = time.perf_counter(); from delta_core.cli.main import main\n"
        "code = 0\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "print('TORCH_IMPORTED=%s ELAPSED=%.3f' % ('torch' in sys.modules, time.perf_counter() - t), file=sys.stderr)\n"
        "sys.exit(code)"
    )
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


def test_plugins_list_is_fast_and_does_not_import_torch() -> None:
    start = time.perf_counter()
    proc = _delta("plugins", "list")
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr
    assert "core  deltamod-core" in proc.stdout
    from importlib import metadata

    if any(ep.name == "example" for ep in metadata.entry_points(group="delta.plugins")):
        # the README's setup installs the third-party example plugin: it must be listed
        assert "example  deltamod-example" in proc.stdout
        assert "  phy      example.linear_reservoir" in proc.stdout
    assert "TORCH_IMPORTED=False" in proc.stderr
    elapsed = float(proc.stderr.rsplit("ELAPSED=", 1)[1])
    assert elapsed < 1.0, f"`delta plugins list` took {elapsed:.2f}s in-process ({wall:.2f}s with interpreter start)"


def test_config_validate_does_not_import_torch(tmp_path: Path) -> None:
    config = tmp_path / "exp.yaml"
    config.write_text("data: nope.source\nmodel: {phy: nope.x, nn: nope.y}\n")
    proc = _delta("config", "validate", str(config))
    assert proc.returncode == 1
    assert "$.data.name: no dataset component named 'nope.source'." in proc.stderr
    assert "TORCH_IMPORTED=False" in proc.stderr


def test_subgroup_helper_names_a_missing_group() -> None:
    from delta_core.cli.extend import subgroup

    assert subgroup(cli, "data", "import").name == "import"
    with pytest.raises(RuntimeError, match=r"the core command group `delta data export` is missing"):
        subgroup(cli, "data", "export")
