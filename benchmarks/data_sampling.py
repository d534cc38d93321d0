"""Benchmark: random (entity, window) batches from a large Zarr store, lazy vs in memory.

Builds (once, cached) a canonical store of 2,000 entities x 30 years (P, T, PET, Q,
float32: ~350 MB uncompressed), then measures in *separate processes* so peak memory
is not shared:

- lazy: ``core.canonical`` reading only the chunks each batch touches;
- memory: the same dataset with ``in_memory: true`` (the reference path).

Each run draws batches of 100 entities x 730 days (365 of them warm-up) and reports
batches per second and peak RSS (ru_maxrss), plus the ratio lazy / memory.

    python benchmarks/data_sampling.py [--entities 2000 --years 30 --batches 50]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build_store(path: Path, n_entities: int, n_years: int) -> None:
    import pandas as pd
    import xarray as xr

    from delta_core.data.canonical import write_canonical

    rng = np.random.default_rng(0)
    times = pd.date_range("1980-01-01", periods=int(365.25 * n_years), freq="D")
    n_days = times.size
    doy = times.day_of_year.values
    data = {}
    p = rng.gamma(0.5, 6.0, (n_entities, n_days)).astype("float32")
    p[rng.random((n_entities, n_days)) < 0.5] = 0.0
    data["P"] = p
    t = 10 - 12 * np.cos(2 * np.pi * (doy - 15) / 365.25)[None, :] + rng.normal(0, 3, (n_entities, n_days))
    data["T"] = t.astype("float32")
    data["PET"] = np.clip(0.2 * (t + 5), 0, None).astype("float32")
    data["Q"] = (0.3 * p + rng.random((n_entities, n_days))).astype("float32")
    units = {"P": "mm/day", "T": "degC", "PET": "mm/day", "Q": "mm/day"}
    ds = xr.Dataset(
        {k: (("basin", "time"), v, {"units": units[k], "long_name": k}) for k, v in data.items()}
        | {"area": (("basin",), rng.uniform(10, 5000, n_entities), {"units": "km2", "long_name": "area"})},
        coords={"basin": np.array([f"{i:08d}" for i in range(n_entities)]), "time": times},
    )
    write_canonical(ds, path, overwrite=True)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path, mode: str, n_batches: int, seed: int) -> dict[str, float]:
    from delta_core.data.config import CanonicalDatasetConfig
    from delta_core.data.dataset import CanonicalDataset
    from delta_core.data.periods import TimeRange
    from delta_core.data.sampling import WindowSampler

    base_rss = peak_rss_mb()
    t0 = time.perf_counter()
    config = CanonicalDatasetConfig(path=str(path), x_phy=("P", "T", "PET"), x_nn=("P", "T", "PET"),
                                    c_nn=("area",), target=("Q",), in_memory=mode == "memory")
    ds = CanonicalDataset(config)
    n_days = len(ds.times)
    ds.fit_normalizer(TimeRange(0, min(n_days, 3650)))
    setup = time.perf_counter() - t0
    sampler = WindowSampler(len(ds.entity_ids), TimeRange(365, n_days), window=365, warmup=365, batch_size=100,
                            rng=np.random.default_rng(seed))
    ds.sample(**_args(sampler.draw()))  # warm caches once
    t0 = time.perf_counter()
    for _ in range(n_batches):
        sample = ds.sample(**_args(sampler.draw()))
        assert sample["x_phy"].shape == (730, 100, 3)
    elapsed = time.perf_counter() - t0
    return {
        "batches_per_s": n_batches / elapsed,
        "setup_s": setup,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_imports_mb": base_rss,
    }


def _args(window: object) -> dict[str, object]:
    return {"entities": window.entities, "start": window.start, "length": window.length}  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=2000)
    parser.add_argument("--years", type=int, default=30)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--store", type=Path, default=Path(tempfile.gettempdir()) / "deltamod-bench")
    parser.add_argument("--measure", choices=("lazy", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = args.store / f"sampling_{args.entities}x{args.years}y.zarr"
    if args.measure:
        print(json.dumps(measure(path, args.measure, args.batches, seed=1)))
        return
    if not path.exists():
        t0 = time.perf_counter()
        build_store(path, args.entities, args.years)
        print(f"built {path} in {time.perf_counter() - t0:.1f} s")
    size_mb = args.entities * int(365.25 * args.years) * 4 * 4 / 2**20
    disk_mb = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
    results = {}
    for mode in ("lazy", "memory"):
        cmd = [sys.executable, __file__, "--measure", mode, "--batches", str(args.batches),
               "--entities", str(args.entities), "--years", str(args.years), "--store", str(args.store)]
        results[mode] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(f"dataset: {args.entities} entities x {args.years} years, 4 series float32 = {size_mb:.0f} MB "
          f"in memory, {disk_mb:.0f} MB on disk (zarr, compressed)")
    print(f"batches of 100 entities x 730 days (365 warm-up), {args.batches} batches per mode")
    print(f"{'mode':<8}{'batches/s':>12}{'setup s':>10}{'peak RSS MB':>14}{'RSS after imports MB':>24}")
    for mode, r in results.items():
        print(f"{mode:<8}{r['batches_per_s']:>12.1f}{r['setup_s']:>10.1f}{r['peak_rss_mb']:>14.0f}"
              f"{r['rss_after_imports_mb']:>24.0f}")
    lazy, memory = results["lazy"], results["memory"]
    print(f"ratio lazy/memory: speed {lazy['batches_per_s'] / memory['batches_per_s']:.2f}x, "
          f"peak RSS {lazy['peak_rss_mb'] / memory['peak_rss_mb']:.2f}x; lazy peak RSS above imports "
          f"{lazy['peak_rss_mb'] - lazy['rss_after_imports_mb']:.0f} MB vs dataset {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
