"""Options of the standard trainer and the built-in losses (torch-free)."""

from __future__ import annotations

import attrs

from delta_core.config.validators import in_range, non_negative, one_of, positive


@attrs.frozen
class TrainerConfig:
    """Options of ``core.trainer``.

    Parameters
    ----------
    epochs
        Number of epochs.
    iterations_per_epoch
        Batches per epoch; ``None`` applies the coverage rule: enough random windows
        that every entity-day of the training period is drawn with
        ``coverage_probability``.
    batch_size
        Entities per batch.
    window
        Predicted time steps per window; the coupling's ``warmup`` steps come before it.
    optimizer
        ``adam`` or ``adadelta``.
    lr, weight_decay
        Learning rate and L2 penalty of the optimizer.
    lr_schedule
        ``none``, ``step`` (multiply by ``lr_gamma`` every ``lr_step`` epochs),
        ``exponential`` (by ``lr_gamma`` each epoch) or ``cosine`` (to 0 over ``epochs``).
    grad_clip
        Maximum global gradient norm; ``null`` disables clipping.
    validate_every
        Validate on the ``valid`` period every N epochs (0: never).
    patience
        Stop after this many validations without improvement (``null``: never stop early).
    checkpoint_every
        Write a checkpoint every N epochs (and always after the last one).
    outputs
        PhyModel output compared with each target variable, in target order; empty
        means the PhyModel's first declared output.
    eval_chunk
        Entities per chunk when simulating whole periods.
    threads
        ``torch.set_num_threads`` for the run (``null``: leave torch's default).
    progress
        Progress bar: ``auto`` (only on a terminal), ``always`` or ``never``.
    mixed_precision
        ``none``, ``bf16`` or ``fp16`` autocast of the forward pass on CUDA (networks run
        in reduced precision; fp16 uses a gradient scaler). Rejected on CPU.
    """

    epochs: int = attrs.field(default=20, validator=positive)
    iterations_per_epoch: int | None = attrs.field(default=None)
    coverage_probability: float = attrs.field(default=0.99, validator=in_range(0.5, 0.9999))
    batch_size: int = attrs.field(default=100, validator=positive)
    window: int = attrs.field(default=365, validator=positive)
    optimizer: str = attrs.field(default="adam", validator=one_of(("adam", "adadelta")))
    lr: float = attrs.field(default=1e-3, validator=positive)
    weight_decay: float = attrs.field(default=0.0, validator=non_negative)
    lr_schedule: str = attrs.field(default="none", validator=one_of(("none", "step", "exponential", "cosine")))
    lr_step: int = attrs.field(default=10, validator=positive)
    lr_gamma: float = attrs.field(default=0.5, validator=in_range(0.0, 1.0))
    grad_clip: float | None = 1.0
    validate_every: int = attrs.field(default=1, validator=non_negative)
    patience: int | None = None
    checkpoint_every: int = attrs.field(default=1, validator=positive)
    outputs: tuple[str, ...] = ()
    eval_chunk: int = attrs.field(default=100, validator=positive)
    threads: int | None = None
    progress: str = attrs.field(default="auto", validator=one_of(("auto", "always", "never")))
    mixed_precision: str = attrs.field(default="none", validator=one_of(("none", "bf16", "fp16")))

    def __attrs_post_init__(self) -> None:
        for name in ("iterations_per_epoch", "patience", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or null, got {value}")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be > 0 or null, got {self.grad_clip}")


@attrs.frozen
class NSEBatchConfig:
    """``core.nse_batch``: ``eps`` stabilises basins with near-constant flow (Kratzert et al. 2019)."""

    eps: float = attrs.field(default=0.1, validator=positive)


@attrs.frozen
class CombinedRMSEConfig:
    """``core.rmse_combined``: weight of the RMSE on ``log10(sqrt(q) + 0.1)`` (the rest on q)."""

    log_weight: float = attrs.field(default=0.25, validator=in_range(0.0, 1.0))
