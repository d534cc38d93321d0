"""Two-process CPU DDP training (gloo) through `delta train --nproc 2`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DELTA = str(Path(sys.executable).with_name("delta"))

pytestmark = pytest.mark.skipif(
    not any(True for _ in __import__("importlib.metadata").metadata.entry_points(group="delta.plugins", name="example")),
    reason="the example plugin (examples/plugin-template) is not installed",
)

# NSE-batch is a mean of per-element terms, so the mean of the two ranks' losses over equal
# halves of the batch is the single process's loss of the whole batch (RMSE's square root is not)
COMMON = ["--plugin", "example.linear_reservoir", "--set", "train.params.epochs=4",
          "--set", "train.params.iterations_per_epoch=10", "--set", "train.params.lr=0.01",
          "--set", "loss.name=core.nse_batch"]


def _train(run_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([DELTA, "train", *COMMON, "--run-dir", str(run_dir), *extra], capture_output=True,
                          text=True, timeout=300, env=env)


def _losses(run_dir: Path) -> list[float]:
    with (run_dir / "losses.csv").open() as fh:
        return [float(row["train_loss"]) for row in csv.DictReader(fh)]


def test_two_process_ddp_matches_single_process(tmp_path: Path) -> None:
    single = tmp_path / "single"
    ddp = tmp_path / "ddp"
    one = _train(single, "--set", "train.params.batch_size=8")
    assert one.returncode == 0, one.stderr
    two = _train(ddp, "--nproc", "2", "--set", "train.params.batch_size=4")  # same total batch: 2 x 4
    assert two.returncode == 0, two.stderr

    manifest = json.loads((ddp / "manifest.json").read_text())
    assert manifest["world_size"] == 2
    hashes = manifest["rank_weight_hashes"]
    assert len(hashes) == 2 and hashes[0] == hashes[1]  # both ranks hold identical weights

    # only rank 0 wrote the run directory: one set of files, one log line per epoch
    assert sorted(p.name for p in ddp.iterdir()) == sorted(p.name for p in single.iterdir())
    log = (ddp / "train.log").read_text()
    assert log.count("epoch 1:") == 1 and log.count("training example-linear-reservoir") == 1
    assert two.stdout.count("run directory:") == 1

    # same total batch per step: the two ranks train on disjoint halves of the single process's
    # batch, so the loss curves agree up to float summation order and NaN-count differences
    # between the halves: stated tolerance 0.1 % per epoch (measured: ~1e-6)
    a, b = _losses(single), _losses(ddp)
    assert len(a) == len(b) == 4
    for x, y in zip(a, b, strict=True):
        assert abs(x - y) <= 1e-3 * x, (a, b)
    assert b[-1] < b[0]


def test_mixed_precision_is_refused_on_cpu(tmp_path: Path) -> None:
    result = _train(tmp_path / "amp", "--set", "train.params.mixed_precision=bf16", "--set", "device=cpu")
    assert result.returncode == 1
    assert "Error: training stopped: mixed_precision 'bf16' needs a CUDA device, not cpu" in result.stderr
    assert not (tmp_path / "amp").exists()  # nothing half-made
