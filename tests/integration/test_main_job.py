"""The main job's preset, `delta train --plugin hydro.hbv`, end to end at a tiny size."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from delta_core.cli.main import cli


def test_hbv_preset_trains_tests_and_reports_recovery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELTA_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    result = CliRunner().invoke(cli, [
        "train", "--plugin", "hydro.hbv", "--run-dir", str(run),
        "--set", "data.params.generator.basins=6", "--set", "data.params.generator.years=5",
        "--set", "periods.train=[1991-01-01, 1992-12-31]", "--set", "periods.valid=[1993-01-01, 1993-12-31]",
        "--set", "periods.test=[1994-01-01, 1994-12-31]", "--set", "train.params.epochs=2",
        "--set", "train.params.iterations_per_epoch=2", "--set", "train.params.batch_size=6",
        "--set", "train.params.validate_every=1", "--set", "model.phy.params.nmul=2",
    ], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "dhbv-synthetic: test period 1994-01-01 .. 1994-12-31, 6 entities" in out
    for metric in ("NSE", "KGE", "FHV", "FLV", "peak_timing"):
        assert any(line.split()[:1] == [metric] for line in out.splitlines()), metric
    assert "parameter recovery against the dataset's true values" in out
    header = (run / "test/metrics_test.csv").read_text().splitlines()[0]
    assert header.startswith("basin,NSE,KGE")
