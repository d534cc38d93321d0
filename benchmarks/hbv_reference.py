"""Benchmark of the reference HBV backend: forward and forward+backward, one CPU thread.

Times ``HBV`` (variant 1.1p, nmul 16, BETA/K0/BETAET dynamic, the δHBV 1.1p setup) at
100 basins × 365 days and 531 basins × 730 days with ``torch.set_num_threads(1)``:

* ``forward``: inference under ``torch.no_grad()``;
* ``fwd+bwd``: forward with autograd, then backward of ``mean(streamflow)`` to every
  parameter.

Each figure is the median of several runs after one warm-up run, printed with the
throughput in basin-steps per second (basins × days / seconds).

As a reference path measured in the same run, the script also times a *naive* eager
loop written below: the same equations, but with every parameter stored as a full
``[time, basin, nmul]`` tensor that is indexed per step (``p[t]``) and outputs written
into preallocated ``[time, basin, nmul]`` buffers — the common way such loops are
written. Its backward touches the whole ``[time, ...]`` gradient at every step, so its
cost grows quadratically with the window length; ``ours/naive`` (time ratio, < 1 is
faster) shows what splitting the series once (``unbind``) buys. The naive loop is
checked to give the same streamflow before it is timed.

Usage::

    .venv/bin/python benchmarks/hbv_reference.py            # both sizes
    .venv/bin/python benchmarks/hbv_reference.py --quick    # 100 × 365 only
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from delta_hydro.hbv.routing import gamma_unit_hydrograph, route

NMUL = 16
DYNAMIC = ("BETA", "K0", "BETAET")
SIZES = ((100, 365), (531, 730))


def make_inputs(
    model: HBV, n_basin: int, n_time: int, seed: int = 0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Synthetic forcing ``[T, B, 3]`` and physical parameters (float32) for ``model``."""
    gen = torch.Generator().manual_seed(seed)
    day = torch.arange(n_time, dtype=torch.float32)[:, None]
    season = torch.sin(2 * torch.pi * (day - 100) / 365)
    temp = 7.5 + 17.5 * season + 3 * torch.randn(n_time, n_basin, generator=gen)
    wet = torch.rand(n_time, n_basin, generator=gen) < 0.4
    precip = torch.where(wet, -8 * torch.log(torch.rand(n_time, n_basin, generator=gen)), 0.0)
    pet = torch.clamp(3 + 3 * season + 0.3 * torch.randn(n_time, n_basin, generator=gen), 0, 6)
    forcing = torch.stack([precip, temp, pet], dim=-1)
    params = {}
    for spec in model.param_specs:
        shape: tuple[int, ...] = (n_basin, NMUL) if spec.per_component else (n_basin,)
        if spec.name in model.dynamic_params:
            shape = (n_time, *shape)
        params[spec.name] = spec.lo + torch.rand(shape, generator=gen) * (spec.hi - spec.lo)
    return forcing, params


def naive_streamflow(forcing: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Same model (1.1p), written with per-step indexing of full ``[T, B, nmul]`` tensors."""
    n_time, n_basin, _ = forcing.shape
    full = {}
    for name, value in params.items():
        if name.startswith("route_"):
            continue
        full[name] = value if value.ndim == 3 else value.unsqueeze(0).repeat(n_time, 1, 1)
    p_all = forcing[:, :, 0:1].repeat(1, 1, NMUL)
    t_all = forcing[:, :, 1:2].repeat(1, 1, NMUL)
    e_all = forcing[:, :, 2:3].repeat(1, 1, NMUL)
    snow_s, melt_s, sm, suz, slz = (torch.full((n_basin, NMUL), 0.001) for _ in range(5))
    q_all = torch.zeros(n_time, n_basin, NMUL)
    for t in range(n_time):
        p = {name: value[t] for name, value in full.items()}
        rain = p_all[t] * (t_all[t] >= p["TT"]).float()
        snow_s = snow_s + p_all[t] - rain
        melt = torch.minimum(torch.clamp(p["CFMAX"] * (t_all[t] - p["TT"]), min=0.0), snow_s)
        snow_s, melt_s = snow_s - melt, melt_s + melt
        refr = torch.minimum(torch.clamp(p["CFR"] * p["CFMAX"] * (p["TT"] - t_all[t]), min=0.0), melt_s)
        snow_s, melt_s = snow_s + refr, melt_s - refr
        tosoil = torch.clamp(melt_s - p["CWH"] * snow_s, min=0.0)
        melt_s = melt_s - tosoil
        recharge = (rain + tosoil) * torch.clamp((sm / p["FC"]) ** p["BETA"], 0.0, 1.0)
        sm = sm + rain + tosoil - recharge
        excess = torch.clamp(sm - p["FC"], min=0.0)
        sm = sm - excess
        factor = torch.clamp((sm / (p["LP"] * p["FC"])) ** p["BETAET"], 0.0, 1.0)
        aet = torch.minimum(sm, e_all[t] * factor)
        sm = torch.clamp(sm - aet, min=1e-5)
        cap = torch.minimum(slz, p["C"] * slz * (1.0 - torch.clamp(sm / p["FC"], max=1.0)))
        sm, slz = torch.clamp(sm + cap, min=1e-5), torch.clamp(slz - cap, min=1e-5)
        suz = suz + recharge + excess
        perc = torch.minimum(suz, p["PERC"])
        suz = suz - perc
        q0 = p["K0"] * torch.clamp(suz - p["UZL"], min=0.0)
        suz = suz - q0
        q1 = p["K1"] * suz
        suz = suz - q1
        slz = slz + perc
        q2 = p["K2"] * slz
        slz = slz - q2
        q_all[t] = q0 + q1 + q2
    weights = gamma_unit_hydrograph(params["route_a"], params["route_b"], min(n_time, 15))
    return route(q_all.mean(-1), weights)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time (s) of ``repeats`` calls after one warm-up call (shared by the HBV benchmarks)."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="only 100 basins × 365 days")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed runs of the naive loop")
    args = parser.parse_args()

    torch.set_num_threads(1)
    model = HBV(HBVConfig(variant="1.1p", nmul=NMUL, dynamic=DYNAMIC))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, float32, HBV 1.1p, nmul {NMUL}, "
          f"dynamic {', '.join(DYNAMIC)}; median of {args.repeats} runs (naive: {args.naive_repeats})")
    header = f"{'basins x days':>14} {'pass':>8} {'ours s':>9} {'basin-steps/s':>14} {'naive s':>9} {'ours/naive':>10}"
    print(header)
    print("-" * len(header))
    for n_basin, n_time in SIZES[:1] if args.quick else SIZES:
        bench_size(model, n_basin, n_time, args.repeats, args.naive_repeats)


def bench_size(model: HBV, n_basin: int, n_time: int, repeats: int, naive_repeats: int) -> None:
    """Time both passes of both paths at one size and print two table rows."""
    forcing, params = make_inputs(model, n_basin, n_time)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}

    ours_q = model(forcing, params).fluxes["streamflow"]
    naive_q = naive_streamflow(forcing, params)
    torch.testing.assert_close(naive_q, ours_q, rtol=1e-5, atol=1e-5)

    def ours_forward() -> None:
        with torch.no_grad():
            model(forcing, params)

    def ours_backward() -> None:
        model(forcing, leaves).fluxes["streamflow"].mean().backward()

    def naive_forward() -> None:
        with torch.no_grad():
            naive_streamflow(forcing, params)

    def naive_backward() -> None:
        naive_streamflow(forcing, leaves).mean().backward()

    for label, ours_fn, naive_fn in (
        ("forward", ours_forward, naive_forward),
        ("fwd+bwd", ours_backward, naive_backward),
    ):
        ours = median_time(ours_fn, repeats)
        naive = median_time(naive_fn, naive_repeats)
        rate = n_basin * n_time / ours
        print(
            f"{f'{n_basin} x {n_time}':>14} {label:>8} {ours:9.3f} {rate:14,.0f} {naive:9.3f} "
            f"{ours / naive:10.2f}",
            flush=True,
        )

if __name__ == "__main__":
    main()
