"""The photosynthesis preset through the same trainer, run directory and report as hydrology."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from delta_core.cli.main import cli


def test_preset_recovers_parameters_at_small_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTA_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, [
        "train", "--plugin", "photosynth.fvcb", "--run-dir", str(run),
        "--set", "data.params.generator.curves=60", "--set", "train.params.epochs=4",
        "--set", "train.params.iterations_per_epoch=150", "--set", "train.params.batch_size=60",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the same run directory layout as hydrology
    for name in ("config.yaml", "manifest.json", "losses.csv", "train.log",
                 "checkpoints/last.pt", "test/metrics_test.csv", "test/summary_test.txt"):
        assert (run / name).exists(), name
    recovery = {line.split(",")[0]: float(line.split(",")[2])
                for line in (run / "test/recovery_test.csv").read_text().splitlines()[1:]}
    assert recovery["Vcmax25"] <= 0.03, recovery
    assert recovery["Jmax25"] <= 0.05, recovery
    assert "parameter recovery" in result.output
