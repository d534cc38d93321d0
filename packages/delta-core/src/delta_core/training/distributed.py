"""Multi-process training with torch DistributedDataParallel, launched by ``torchrun``.

``torchrun --nproc-per-node N -m delta_core.cli train CONFIG`` (or ``delta train CONFIG
--nproc N``, which launches exactly that) starts N processes; each reads ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` from the environment, joins a process group (gloo on
CPU, NCCL on GPU), wraps the model in DDP (gradients are averaged across ranks after
every backward), and draws its own batches from a sampler seeded with ``seed + rank``.
Only rank 0 writes the run directory, logs and progress bars, and evaluates.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import torch
import torch.distributed as dist


@attrs.frozen
class DistInfo:
    """Where this process stands in the job.

    Attributes
    ----------
    rank, world_size, local_rank
        As set by ``torchrun`` (0, 1, 0 for a single process).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """More than one process takes part."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """This process writes files, logs and progress (rank 0)."""
        return self.rank == 0


def from_environment() -> DistInfo:
    """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (set by torchrun); single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def device_for(setting: str, info: DistInfo) -> torch.device:
    """The device of this rank: ``cuda:<local_rank>`` for CUDA settings under DDP."""
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {setting!r} requested but CUDA is not available")
        if info.enabled:
            return torch.device(f"cuda:{info.local_rank}")
    return torch.device(setting)


@contextmanager
def process_group(info: DistInfo, device: torch.device) -> Iterator[None]:
    """Join (and finally leave) the process group: NCCL for CUDA devices, gloo otherwise."""
    if not info.enabled:
        yield
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    try:
        yield
    finally:
        dist.barrier()
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op for a single process)."""
    if info.enabled:
        dist.barrier()


def broadcast_value(value: float, info: DistInfo) -> float:
    """Rank 0's ``value`` on every rank (e.g. a validation score)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t.item())


def gather_objects(obj: object, info: DistInfo) -> list[object]:
    """``obj`` of every rank, in rank order (a one-item list for a single process)."""
    if not info.enabled:
        return [obj]
    out: list[object] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def mean_across_ranks(value: float, info: DistInfo) -> float:
    """Mean of a scalar over ranks (e.g. the epoch loss reported by rank 0)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size
