"""Benchmark of one δHBV training step, split into its parts, one torch thread.

The step is the one ``core.trainer`` takes for the δHBV 1.1p setup of the papers
(Feng et al. 2022; Song et al. 2024): an ``nn.lstm`` (hidden 256) reads forcings and
static attributes and yields HBV 1.1p's parameters (``BETA``, ``K0``, ``BETAET``
dynamic, the rest static from the last step), ``core.param_learning`` scales them,
HBV (nmul 16) runs a 730-day window whose first 365 days are warm-up, NSE-batch
loss, backward, gradient clipping and an Adam step. Size: batch 100 basins × 730
days, 3 forcings + 35 attributes into the network. Inputs are synthetic random
numbers (no data needed), shaped and scaled like real ones.

The step is timed phase by phase with ``time.perf_counter`` (``cuda.synchronize``
before each reading on a GPU):

=====================  ===============================================================
phase                  what
=====================  ===============================================================
NN forward             LSTM over the 730 days, heads, sigmoid, scaling to bounds
HBV forward            spin-up (365 days, no gradient, ``spinup_no_grad``), the
                       365-day run with autograd, routing
loss                   NSE-batch on the 365 predicted days
backward: HBV          gradients of the loss w.r.t. the physical parameters
                       (``torch.autograd.grad`` from the loss to the parameter tensors)
backward: NN           those gradients pushed on through the scaling and the LSTM
                       to the weights (``torch.autograd.backward``)
optimizer              gradient clipping (norm 1) and ``Adam.step`` / ``zero_grad``
=====================  ===============================================================

Splitting the backward pass in two at the parameter tensors costs the same work as a
single ``loss.backward()`` (each graph node is visited once); it lets the table show
how the backward cost divides between the network and the physics.

Figures are the median over ``--steps`` steps after ``--warmup-steps`` untimed ones,
with ``torch.set_num_threads(--threads)`` (1 by default, the figure the issue asks for).

Reference path: every HBV backend registered at run time
(:mod:`delta_hydro.hbv.backends`; a faster one, e.g. a compiled kernel, registers
itself there) is timed in the same run with the same network weights and inputs, and
the step and its HBV part are compared with the ``reference`` backend (a backend that
fails, e.g. one under development, is reported and skipped). For every backend the
ratio of the network's cost to the physics' cost (forward + backward each) is printed
too; when only ``reference`` is registered, that ratio is the comparison, and the
script says so.

Usage::

    .venv/bin/python benchmarks/train_step.py                # 100 × 730, 5 steps
    .venv/bin/python benchmarks/train_step.py --quick        # 20 × 730, 2 steps (smoke)
    .venv/bin/python benchmarks/train_step.py --warmup-mode full_grad
    .venv/bin/python benchmarks/train_step.py --backends reference,NAME
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch

from delta_core.coupling.config import ParameterLearningConfig
from delta_core.coupling.parameter_learning import InputSizes, ParameterLearning
from delta_core.training.losses import NSEBatchLoss
from delta_hydro.hbv.backends import backend_names
from delta_hydro.hbv.config import HBVConfig
from delta_hydro.hbv.model import HBV
from delta_nn.config import LSTMConfig
from delta_nn.lstm import LSTMNet

DYNAMIC = ("BETA", "K0", "BETAET")
PHASES = ("NN forward", "HBV forward", "loss", "backward: HBV", "backward: NN", "optimizer")


def make_batch(n_basin: int, n_time: int, n_static: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Synthetic sample: ``x_phy`` [T, B, 3] (P mm/day, T °C, PET mm/day), normalised ``x_nn``
    [T, B, 3] and ``c_nn`` [B, n_static], and a positive ``target`` [T, B] (mm/day)."""
    gen = torch.Generator().manual_seed(seed)
    day = torch.arange(n_time, dtype=torch.float32)[:, None]
    season = torch.sin(2 * torch.pi * (day - 100) / 365)
    temp = 7.5 + 17.5 * season + 3 * torch.randn(n_time, n_basin, generator=gen)
    wet = torch.rand(n_time, n_basin, generator=gen) < 0.4
    precip = torch.where(wet, -8 * torch.log(torch.rand(n_time, n_basin, generator=gen)), 0.0)
    pet = torch.clamp(3 + 3 * season + 0.3 * torch.randn(n_time, n_basin, generator=gen), 0, 6)
    x_phy = torch.stack([precip, temp, pet], dim=-1)
    x_nn = torch.stack([torch.log1p(precip), temp, pet], dim=-1)
    x_nn = (x_nn - x_nn.mean(dim=(0, 1))) / x_nn.std(dim=(0, 1))
    c_nn = torch.randn(n_basin, n_static, generator=gen)
    target = torch.distributions.Gamma(0.8, 0.5).sample((n_time, n_basin))
    return {"x_phy": x_phy, "x_nn": x_nn, "c_nn": c_nn, "target": target}


def build(backend: str, hidden: int, nmul: int, warmup: int, warmup_mode: str, n_static: int) -> ParameterLearning:
    """The coupled model: ``nn.lstm`` → HBV 1.1p with :data:`DYNAMIC` dynamic parameters."""
    phy = HBV(HBVConfig(variant="1.1p", nmul=nmul, dynamic=DYNAMIC, warmup_mode=warmup_mode, backend=backend))
    lstm = LSTMConfig(hidden_size=hidden, dropout=0.5)
    return ParameterLearning.build(
        {"phy": phy}, {"nn": lambda spec: LSTMNet(spec, lstm)}, InputSizes(3, n_static),
        ParameterLearningConfig(warmup=warmup),
    )


def one_step(model: ParameterLearning, optimizer: torch.optim.Optimizer, loss_fn: NSEBatchLoss,
             batch: dict[str, torch.Tensor], target_std: torch.Tensor, sync: Callable[[], None]) -> dict[str, float]:
    """One training step; seconds per phase."""
    times: dict[str, float] = {}
    sync()
    t0 = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal t0
        sync()
        t1 = time.perf_counter()
        times[name] = t1 - t0
        t0 = t1

    out = model.nn["nn"](batch["x_nn"], batch["c_nn"])
    params = model.scale(out.static, out.dynamic)
    mark("NN forward")
    result = model.phy_model(batch["x_phy"], params, warmup=model.warmup)
    mark("HBV forward")
    loss = loss_fn(result.fluxes["streamflow"], batch["target"][model.warmup:], {"target_std": target_std})
    mark("loss")
    names = list(params)
    grads = torch.autograd.grad(loss, [params[n] for n in names], allow_unused=True)
    mark("backward: HBV")
    pairs = [(params[n], g) for n, g in zip(names, grads, strict=True) if g is not None]
    torch.autograd.backward([p for p, _ in pairs], [g for _, g in pairs])
    mark("backward: NN")
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    mark("optimizer")
    return times


def time_backend(backend: str, args: argparse.Namespace, state: dict[str, torch.Tensor] | None,
                 batch: dict[str, torch.Tensor], device: torch.device) -> tuple[dict[str, float], dict]:
    """Median seconds per phase for ``backend`` (network weights from ``state`` when given)."""
    torch.manual_seed(args.seed)
    model = build(backend, args.hidden, args.nmul, args.warmup, args.warmup_mode, args.static).to(device)
    if state is not None:
        model.load_state_dict(state)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = NSEBatchLoss()
    target_std = batch["target"][args.warmup:].std(dim=0)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    samples: list[dict[str, float]] = []
    for i in range(args.warmup_steps + args.steps):
        times = one_step(model, optimizer, loss_fn, batch, target_std, sync)
        if i >= args.warmup_steps:
            samples.append(times)
    median = {p: statistics.median(s[p] for s in samples) for p in PHASES}
    median["total"] = statistics.median(sum(s.values()) for s in samples)
    return median, initial


def print_table(backend: str, median: dict[str, float]) -> None:
    total = median["total"]
    print(f"\nbackend {backend!r}: median of the step and of each phase")
    print(f"  {'phase':<16}{'ms':>11}{'share':>9}")
    for p in PHASES:
        print(f"  {p:<16}{1000 * median[p]:>11.1f}{100 * median[p] / total:>8.1f}%")
    print(f"  {'total step':<16}{1000 * total:>11.1f}{'':>9}")
    parts = sum(median[p] for p in PHASES)
    if abs(parts - total) > 0.05 * total:
        print(f"  (sum of the phase medians: {1000 * parts:.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=100, help="basins per batch (100)")
    parser.add_argument("--days", type=int, default=730, help="window length including warm-up (730)")
    parser.add_argument("--warmup", type=int, default=365, help="warm-up days at the start of the window (365)")
    parser.add_argument("--warmup-mode", default="spinup_no_grad", choices=("spinup_no_grad", "full_grad"))
    parser.add_argument("--nmul", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (256)")
    parser.add_argument("--static", type=int, default=35, help="static attributes into the network (35)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (median)")
    parser.add_argument("--warmup-steps", type=int, default=1, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backends", help="comma-separated HBV backends (default: every registered one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="20 basins, 2 steps: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.steps = 20, 2
    if not 0 <= args.warmup < args.days:
        parser.error("--warmup must be in [0, --days)")

    # Plugins may register further backends when the registry loads them.
    from delta_core.plugins.manager import get_registry

    get_registry()
    available = backend_names()
    backends = args.backends.split(",") if args.backends else list(available)
    unknown = [b for b in backends if b not in available]
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; registered: {', '.join(available)}")
    if "reference" in backends:  # reference first: the others are compared with it
        backends.remove("reference")
        backends.insert(0, "reference")

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch = {k: v.to(device) for k, v in make_batch(args.batch, args.days, args.static, args.seed).items()}
    print(f"δHBV training step: batch {args.batch} × {args.days} days ({args.warmup} warm-up, {args.warmup_mode}), "
          f"HBV 1.1p nmul {args.nmul}, dynamic {', '.join(DYNAMIC)}; nn.lstm hidden {args.hidden}, "
          f"3 forcings + {args.static} attributes; NSE-batch, Adam")
    print(f"torch {torch.__version__}, {args.threads} thread(s), device {device}, {platform.processor() or platform.machine()}; "
          f"median of {args.steps} steps after {args.warmup_steps} untimed; backends registered: {', '.join(available)}")

    results: dict[str, dict[str, float]] = {}
    state = None
    for backend in backends:
        try:
            results[backend], initial = time_backend(backend, args, state, batch, device)
        except Exception as exc:  # a backend under development must not hide the others' figures
            print(f"\nbackend {backend!r} failed: {type(exc).__name__}: {exc}")
            continue
        state = state if state is not None else initial
        print_table(backend, results[backend])
    if not results:
        raise SystemExit("no backend could be timed")

    print()
    for backend, med in results.items():
        nn = med["NN forward"] + med["backward: NN"]
        hbv = med["HBV forward"] + med["backward: HBV"]
        print(f"network vs physics ({backend}): NN forward+backward {1000 * nn:.0f} ms, "
              f"HBV forward+backward {1000 * hbv:.0f} ms, ratio NN/HBV = {nn / hbv:.2f}")
    if "reference" in results and len(results) > 1:
        ref = results["reference"]
        ref_hbv = ref["HBV forward"] + ref["backward: HBV"]
        for backend, med in results.items():
            if backend == "reference":
                continue
            hbv = med["HBV forward"] + med["backward: HBV"]
            print(f"{backend} vs reference: step {ref['total'] / med['total']:.2f}x faster "
                  f"({1000 * med['total']:.0f} vs {1000 * ref['total']:.0f} ms); HBV forward+backward "
                  f"{ref_hbv / hbv:.2f}x faster ({1000 * hbv:.0f} vs {1000 * ref_hbv:.0f} ms)")
    elif available == ("reference",):
        print("only the 'reference' HBV backend is registered: no faster path to compare with, "
              "so the network-vs-physics ratio above is the comparison")
    else:
        print("the reference backend was not timed (see --backends): no backend ratio")

if __name__ == "__main__":
    main()
