"""Killing ``delta train`` mid-epoch and resuming gives the weights of an uninterrupted run, bit for bit.

Two real ``delta train`` processes start together with the same seed: one runs to the
end; the other is SIGKILLed once its first epoch checkpoint exists and its progress bar
shows it inside the second epoch, then continued with ``delta train --resume``. The
experiment is the example plugin's linear reservoir with everything that draws random
numbers or carries state switched on: dropout (torch RNG), 4 of 8 entities per batch
(the sampler's numpy RNG), a step learning-rate schedule, Adam's moments, validation
with early-stopping bookkeeping.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

EPOCHS, ITERATIONS = 3, 60
OVERRIDES = {
    "train.params.epochs": EPOCHS,
    "train.params.iterations_per_epoch": ITERATIONS,
    "train.params.window": 90,
    "train.params.batch_size": 4,
    "train.params.threads": 1,
    "train.params.progress": "always",
    "train.params.lr_schedule": "step",
    "train.params.lr_step": 1,
    "train.params.patience": 5,
    "model.nn.params.hidden_size": 32,
    "model.nn.params.dropout": 0.2,
    "periods.valid": "[2001-01-01,2001-06-30]",
    "periods.test": "[2001-07-01,2001-12-31]",
}
DELTA = [sys.executable, "-c", "from delta_core.cli.main import main; main()"]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTA_")}
    env.update(DELTA_PLUGINS="nn,example", DELTA_CACHE_DIR=str(tmp / "cache"))
    return env


def _train(run_dir: Path) -> list[str]:
    sets = [arg for key, value in OVERRIDES.items() for arg in ("--set", f"{key}={value}")]
    return [*DELTA, "train", "--plugin", "example.linear_reservoir", *sets, "--run-dir", str(run_dir)]


def _kill_inside_epoch_2(cmd: list[str], env: dict[str, str], run_dir: Path, timeout: float = 240) -> str:
    """Start ``cmd``; SIGKILL it when epoch 1 is checkpointed and epoch 2 is under way."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    progress = re.compile(rb"epoch 2/%d:[^\r\n|]*\|[^\r\n|]*\| *(\d+)/%d" % (EPOCHS, ITERATIONS))
    seen = b""
    try:
        assert proc.stderr is not None
        while True:
            chunk = proc.stderr.read1(65536)
            if not chunk:
                break
            seen = (seen + chunk)[-20000:]
            done = [int(n) for n in progress.findall(seen)]
            if done and max(done) >= 5 and (run_dir / "checkpoints" / "epoch_0001.pt").is_file():
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=30)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = seen.decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL, f"training ended by itself ({proc.returncode}):\n{text[-3000:]}"
    return text


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def _without_seconds(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_killed_mid_epoch_and_resumed_run_equals_the_uninterrupted_run(tmp_path):
    env = _env(tmp_path)
    full_dir, killed_dir = tmp_path / "full", tmp_path / "killed"
    start = time.perf_counter()
    full = subprocess.Popen(_train(full_dir), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _kill_inside_epoch_2(_train(killed_dir), env, killed_dir)
        # killed inside epoch 2: epoch 1 is the newest checkpoint, epoch 2 left nothing behind
        checkpoints = sorted(p.name for p in (killed_dir / "checkpoints").iterdir())
        assert checkpoints == ["best.pt", "epoch_0001.pt", "last.pt"], checkpoints
        assert _load(killed_dir / "checkpoints" / "last.pt")["epoch"] == 1
        assert (killed_dir / "losses.csv").read_text().count("\n") == 2  # header + epoch 1

        resumed = subprocess.run([*DELTA, "train", "--resume", str(killed_dir)], env=env, capture_output=True,
                                 text=True, timeout=240)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert f"run directory: {killed_dir}" in resumed.stdout
        out, err = full.communicate(timeout=240)
        assert full.returncode == 0, err[-3000:]
    finally:
        if full.poll() is None:
            full.kill()
            full.wait()
    assert time.perf_counter() - start < 120

    a, b = _load(full_dir / "checkpoints" / "last.pt"), _load(killed_dir / "checkpoints" / "last.pt")
    assert a["epoch"] == b["epoch"] == EPOCHS
    assert a["model"].keys() == b["model"].keys()
    differ = [k for k in a["model"] if not torch.equal(a["model"][k], b["model"][k])]
    assert not differ, f"weights differ after resuming: {differ}"
    for key, state in a["optimizer"]["state"].items():  # Adam's step count and moments
        for name, value in state.items():
            assert torch.equal(value, b["optimizer"]["state"][key][name]), (key, name)
    assert a["optimizer"]["param_groups"][0]["lr"] == b["optimizer"]["param_groups"][0]["lr"] == 0.001 * 0.5**EPOCHS
    assert _without_seconds(a["history"]) == _without_seconds(b["history"])
    assert (a["best_score"], a["stale"]) == (b["best_score"], b["stale"])
    assert [row["epoch"] for row in b["history"]] == [1, 2, 3]

    # the comparison is not vacuous: the weights moved after the checkpoint the run resumed from
    first = _load(killed_dir / "checkpoints" / "epoch_0001.pt")["model"]
    assert any(not torch.equal(first[k], b["model"][k]) for k in first)
    # and the two runs report the same test metrics
    table = [line for line in out.splitlines() if line.startswith(("NSE", "KGE"))]
    assert len(table) == 2 and all(line in resumed.stdout for line in table)
