"""Random (entity, window) batches for training and entity chunks for evaluation."""

from __future__ import annotations

import math
from collections.abc import Iterator

import attrs
import numpy as np

from delta_core.data.periods import TimeRange


class SamplingError(ValueError):
    """A sampler that cannot draw the requested windows."""


def coverage_iterations(
    n_entities: int, n_steps: int, batch_size: int, window: int, probability: float = 0.99
) -> int:
    """Iterations per epoch so that each entity-day is sampled with ``probability``.

    One batch covers ``batch_size * window`` of the ``n_entities * n_steps`` entity-days;
    drawing them at random, a given entity-day is missed by ``k`` batches with
    probability ``(1 - batch_size * window / (n_entities * n_steps)) ** k``. Solving
    for ``k`` gives the rule used by δ models (e.g. Feng et al. 2022, WRR).
    """
    if not 0 < probability < 1:
        raise SamplingError(f"probability must be in (0, 1), got {probability}")
    share = min(batch_size, n_entities) * min(window, n_steps) / (n_entities * n_steps)
    if share >= 1:
        return 1
    return max(1, math.ceil(math.log(1 - probability) / math.log(1 - share)))


@attrs.frozen
class Window:
    """One batch request: entity positions and the input window ``[start, start + length)``.

    The first ``warmup`` steps of the window spin up states; predictions are compared
    with observations from ``start + warmup``.
    """

    entities: np.ndarray
    start: int
    length: int
    warmup: int


class WindowSampler:
    """Draws batches of distinct random entities sharing one random window.

    Parameters
    ----------
    n_entities
        Number of entities to draw from (positions ``0 .. n_entities - 1``).
    period
        Positions of the training period on the time axis; predicted steps fall in it.
    window
        Predicted steps per window (``rho``).
    warmup
        Extra steps before each window, taken from before the period when available.
    batch_size
        Entities per batch (capped at ``n_entities``).
    rng
        NumPy generator; seed it for reproducible batches (its state is checkpointed).
    rank, world_size
        Distributed training: every rank holds an identically seeded generator, draws the
        same global batch of ``batch_size * world_size`` distinct entities and one window,
        and keeps its own slice. The ranks' batches are disjoint, and the averaged DDP
        gradient equals the single-process gradient of the global batch.
    """

    def __init__(
        self,
        n_entities: int,
        period: TimeRange,
        window: int,
        warmup: int,
        batch_size: int,
        rng: np.random.Generator,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if window > period.length:
            raise SamplingError(f"window of {window} steps is longer than the period ({period.length} steps)")
        self.first = max(period.start, warmup)
        self.last = period.stop - window
        if self.first > self.last:
            raise SamplingError(
                f"no room for a {window}-step window with {warmup} warm-up steps in the period "
                f"(steps {period.start}..{period.stop}); shorten window or warmup"
            )
        self.n_entities = n_entities
        self.window = window
        self.warmup = warmup
        if not 0 <= rank < world_size:
            raise SamplingError(f"rank {rank} outside a world of {world_size}")
        if n_entities < world_size:
            raise SamplingError(f"{n_entities} entities cannot be split over {world_size} ranks")
        self.global_batch = min(batch_size * world_size, n_entities)
        self.batch_size = len(np.array_split(np.arange(self.global_batch), world_size)[rank])
        self.rank = rank
        self.world_size = world_size
        self.rng = rng

    def draw(self) -> Window:
        """The next random batch request."""
        drawn = self.rng.choice(self.n_entities, size=self.global_batch, replace=False)
        entities = np.sort(np.array_split(drawn, self.world_size)[self.rank])
        first_predicted = int(self.rng.integers(self.first, self.last + 1))
        return Window(entities, first_predicted - self.warmup, self.window + self.warmup, self.warmup)

    def __iter__(self) -> Iterator[Window]:
        while True:
            yield self.draw()


def entity_chunks(n_entities: int, chunk_size: int) -> Iterator[np.ndarray]:
    """Consecutive entity positions in chunks of ``chunk_size`` (the last may be shorter)."""
    if chunk_size < 1:
        raise SamplingError(f"chunk_size must be >= 1, got {chunk_size}")
    for start in range(0, n_entities, chunk_size):
        yield np.arange(start, min(start + chunk_size, n_entities))
