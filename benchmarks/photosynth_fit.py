"""Benchmark: fitting FvCB to leaf gas-exchange curves through deltamod.

1. plantecophys ``manyacidat`` (28 real A/Ci curves, 390 points): one parameter set per
   curve (Vcmax25, Jmax25, Rd25, TPU25; Arrhenius temperature responses, TPU limit,
   smoothed co-limitation) fitted by ``delta train examples/photosynth/manyacidat.yaml``
   (``core.free_parameters`` + ``core.trainer``). Prints the pooled RMSE over all 390
   points and the CPU time, beside a reference path measured in the same run: the same
   model and parameterisation fitted by a plain hand-written Adam loop (framework
   overhead ratio). Published figure for comparison: PhoTorch 1.4.7 reaches 0.67 after
   10,000 iterations.
2. Synthetic recovery at full size (500 curves, Vcmax25 20–150, Jmax/Vcmax 1.2–2.2,
   2.5 % noise) through ``delta train --plugin photosynth.fvcb``: median relative error
   of Vcmax25 and Jmax25.

    python benchmarks/photosynth_fit.py [--shared ../shared] [--curves 500]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def cpu_time() -> float:
    """CPU seconds of this process and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def pooled_rmse(run_dir: Path) -> tuple[float, int]:
    """RMSE of An over every measured point of the run's curves, and the number of points."""
    from delta_core.data.periods import time_range
    from delta_core.evaluation.report import load_run
    from delta_core.evaluation.simulate import simulate_period
    from delta_core.plugins.manager import get_registry

    loaded = load_run(run_dir, get_registry(), "last")
    p = loaded.experiment.periods.train
    rng = time_range(loaded.dataset.times, p.start, p.end)
    result = simulate_period(loaded.model, loaded.dataset, rng, 0)
    sim, obs = result.fluxes["An"], result.observed[..., 0]
    valid = np.isfinite(obs)
    return float(np.sqrt(np.mean((sim[valid] - obs[valid]) ** 2))), int(valid.sum())


def plain_adam(store: Path, iterations: int, lr: float) -> tuple[float, float]:
    """Reference path: the same fit with a hand-written loop (no trainer, no registry)."""
    import torch

    from delta_core.data.config import CanonicalDatasetConfig
    from delta_core.data.dataset import CanonicalDataset
    from delta_photosynth.config import FvCBConfig
    from delta_photosynth.fvcb import FvCB

    torch.set_num_threads(1)
    t0 = cpu_time()
    ds = CanonicalDataset(CanonicalDatasetConfig(path=str(store), x_phy=("Ci", "Q", "Tleaf"), target=("A",),
                                                 in_memory=True))
    n = len(ds.entity_ids)
    sample = ds.sample(np.arange(n), 0, len(ds.times))
    model = FvCB(FvCBConfig(mode="aci", tpu=True, colimitation="smooth"))
    init = {"Vcmax25": 0.25, "Jmax25": 0.3, "Rd25": 0.1, "TPU25": 0.3}
    raw = {p.name: torch.full((n, 1), float(torch.logit(torch.tensor(init.get(p.name, 0.5)))), requires_grad=True)
           for p in model.param_specs}
    opt = torch.optim.Adam(raw.values(), lr=lr)
    obs = sample["target"][..., 0]
    mask = torch.isfinite(obs)

    def params() -> dict[str, torch.Tensor]:
        return {p.name: p.lo + torch.sigmoid(raw[p.name]) * (p.hi - p.lo) for p in model.param_specs}

    for _ in range(iterations):
        sim = model(sample["x_phy"], params()).fluxes["An"]
        loss = torch.sqrt(torch.mean((sim[mask] - obs[mask]) ** 2))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        sim = model(sample["x_phy"], params()).fluxes["An"]
        rmse = float(torch.sqrt(torch.mean((sim[mask] - obs[mask]) ** 2)))
    return rmse, cpu_time() - t0


def delta(*args: str, env: dict[str, str] | None = None) -> None:
    exe = Path(sys.executable).with_name("delta")
    subprocess.run([str(exe), *args], check=True, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--curves", type=int, default=500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deltamod-photosynth-"))
    csv = args.shared / "data/leaf_gas_exchange/plantecophys/manyacidat.csv"
    if not csv.is_file():
        sys.exit(f"{csv}: not found (pass --shared)")
    store = work / "manyacidat.zarr"
    delta("data", "import", "leaf-csv", str(csv), "--out", str(store))

    config = REPO / "examples/photosynth/manyacidat.yaml"
    run = work / "run-manyacidat"
    t0 = cpu_time()
    delta("train", str(config), "--set", f"data.params.path={store}", "--run-dir", str(run))
    framework_cpu = cpu_time() - t0
    rmse, n_points = pooled_rmse(run)
    from delta_core.config import load_experiment
    from delta_core.plugins.manager import get_registry

    train = load_experiment(run / "config.yaml", get_registry()).train.params
    iterations = train.epochs * train.iterations_per_epoch
    ref_rmse, ref_cpu = plain_adam(store, iterations, train.lr)
    print(f"manyacidat: {n_points} points, 28 curves, {iterations} Adam iterations")
    print(f"  delta train (core.free_parameters + core.trainer): RMSE {rmse:.3f} umol m-2 s-1, "
          f"CPU {framework_cpu:.1f} s (incl. start-up, import and report)")
    print(f"  reference: plain Adam loop, same model:              RMSE {ref_rmse:.3f}, CPU {ref_cpu:.1f} s")
    print(f"  ratio delta/reference: RMSE {rmse / ref_rmse:.3f}, CPU {framework_cpu / ref_cpu:.2f}x;"
          f" target RMSE <= 0.55; PhoTorch 1.4.7 published 0.67")

    run2 = work / "run-synthetic"
    t0 = time.perf_counter()
    delta("train", "--plugin", "photosynth.fvcb", "--set", f"data.params.generator.curves={args.curves}",
          "--run-dir", str(run2), env={"DELTA_CACHE_DIR": str(work / "cache")})
    wall = time.perf_counter() - t0
    rows = dict(line.split(",")[0:3:2] for line in (run2 / "test/recovery_test.csv").read_text().splitlines()[1:])
    print(f"synthetic recovery, {args.curves} curves (2.5 % noise), wall {wall:.1f} s: median |rel err| "
          f"Vcmax25 {100 * float(rows['Vcmax25']):.2f} % (target <= 3 %), "
          f"Jmax25 {100 * float(rows['Jmax25']):.2f} % (target <= 5 %), "
          f"Rd25 {100 * float(rows['Rd25']):.1f} %, TPU25 {100 * float(rows['TPU25']):.1f} %")


if __name__ == "__main__":
    main()
