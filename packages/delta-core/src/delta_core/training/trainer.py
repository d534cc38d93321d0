"""``core.trainer``: the standard training loop for any differentiable model.

One epoch draws ``iterations_per_epoch`` random batches (entities × window with a
warm-up prefix) from the training period, runs the coupled model, compares the chosen
PhyModel output with the target (NaN masked), and steps the optimizer. Validation,
early stopping, checkpoints and the per-epoch table follow the configuration.

Reproducibility and resume: every random draw comes from generators whose states are
saved in each checkpoint (torch CPU/CUDA, the sampler's numpy generator, python's
``random``), together with model, optimizer, scheduler and epoch; ``delta train
--resume RUN`` restores them and continues exactly as an uninterrupted run would.
"""

from __future__ import annotations

import json
import logging
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from delta_core.config.load import to_yaml
from delta_core.config.schema import ExperimentConfig
from delta_core.data.normalize import Normalizer
from delta_core.data.periods import TimeRange, time_range
from delta_core.data.sampling import WindowSampler, coverage_iterations
from delta_core.evaluation.metrics import nse
from delta_core.evaluation.simulate import simulate_period
from delta_core.interfaces.trainer import Trainer
from delta_core.training.build import build_dataset, build_loss, build_model, warmup_of
from delta_core.training.config import TrainerConfig
from delta_core.training.distributed import (
    DistInfo,
    barrier,
    broadcast_value,
    device_for,
    from_environment,
    gather_objects,
    mean_across_ranks,
    process_group,
)
from delta_core.training.errors import TrainingError
from delta_core.training.run_dir import RunDir, atomic_write_text, now


def _progress_enabled(setting: str) -> bool:
    if setting == "always":
        return True
    if setting == "never":
        return False
    return sys.stderr.isatty()


def rng_state(sampler_rng: np.random.Generator) -> dict[str, Any]:
    """Every random state a run depends on."""
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_sampler": sampler_rng.bit_generator.state,
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any], sampler_rng: np.random.Generator) -> None:
    """Inverse of :func:`rng_state`."""
    torch.set_rng_state(state["torch"])
    sampler_rng.bit_generator.state = state["numpy_sampler"]
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class StandardTrainer(Trainer):
    """The standard trainer (``core.trainer``); see the module docstring.

    Parameters
    ----------
    config
        :class:`~delta_core.training.config.TrainerConfig` (defaults when ``None``).
    """

    def __init__(self, config: TrainerConfig | None = None) -> None:
        super().__init__(config or TrainerConfig())

    # ------------------------------------------------------------------------------
    def fit(self, experiment: ExperimentConfig, run_dir: Path, *, resume: bool = False) -> Path:
        """Train ``experiment`` into ``run_dir`` (or continue it with ``resume=True``).

        Under ``torchrun`` (``WORLD_SIZE`` > 1) every process calls this; see
        :mod:`delta_core.training.distributed` for what each rank does.
        """
        info = from_environment()
        device = device_for(experiment.device, info)
        with process_group(info, device):
            return self._fit(experiment, Path(run_dir), resume, info, device)

    def _fit(self, experiment: ExperimentConfig, run_dir: Path, resume: bool, info: DistInfo,
             device: torch.device) -> Path:
        from delta_core.plugins.manager import get_registry

        cfg: TrainerConfig = self.config
        registry = get_registry()
        run = RunDir(run_dir)
        main = info.is_main
        # Refuse a used directory first, but create nothing until the experiment has been
        # checked (periods, data, outputs): a failed start must not leave a half-made run
        # behind that blocks the corrected command.
        if main:
            run.check(resume=resume)
        if cfg.mixed_precision != "none" and device.type != "cuda":
            raise TrainingError(f"mixed_precision {cfg.mixed_precision!r} needs a CUDA device, not {device}")
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        # dropout and python randomness differ per rank (seed + rank); DDP copies rank 0's
        # initial weights to all. The batch sampler is seeded identically on every rank and
        # each rank keeps its own disjoint slice of the global batch (see WindowSampler).
        torch.manual_seed(experiment.seed + info.rank)
        random.seed(experiment.seed + info.rank)
        sampler_rng = np.random.default_rng(experiment.seed)

        dataset = build_dataset(registry, experiment)
        warmup = warmup_of(experiment)
        train_period = experiment.periods.train
        if train_period is None:
            raise TrainingError("periods.train is required for training")
        train_range = time_range(dataset.times, train_period.start, train_period.end, name="train", warmup=warmup)
        dataset.check_complete(train_range, warmup, "train")
        norm_path = run.path / "normalization.json"
        normalizer = None
        if resume and norm_path.is_file():
            dataset.set_normalizer(Normalizer.load(norm_path))
        else:
            normalizer = dataset.fit_normalizer(train_range)
        target_std = torch.from_numpy(dataset.target_std(train_range)[:, 0])
        valid_range = None
        if experiment.periods.valid is not None and cfg.validate_every:
            p = experiment.periods.valid
            valid_range = time_range(dataset.times, p.start, p.end, name="valid", warmup=warmup)

        model = build_model(registry, experiment, dataset).to(device)
        output_names = self._outputs(model, dataset)
        loss_fn = build_loss(registry, experiment).to(device)
        optimizer = self._optimizer(model)
        scheduler = self._scheduler(optimizer)
        n_entities = len(dataset.entity_ids)
        sampler = WindowSampler(n_entities, train_range, cfg.window, warmup, cfg.batch_size, sampler_rng,
                                rank=info.rank, world_size=info.world_size)
        n_iter = cfg.iterations_per_epoch or coverage_iterations(
            n_entities, train_range.length, sampler.global_batch, cfg.window, cfg.coverage_probability
        )

        if main:
            run.create(resume=resume)
            log = run.logger()
            if not resume:
                atomic_write_text(run.path / "config.yaml", to_yaml(experiment))
            if normalizer is not None:
                normalizer.save(norm_path)
        else:
            log = logging.getLogger("deltamod.run.worker")
            log.addHandler(logging.NullHandler())
            log.propagate = False
        barrier(info)  # the run directory exists before any rank reads from it
        net: torch.nn.Module = model
        if info.enabled:
            net = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )

        history: list[dict[str, Any]] = []
        start_epoch, best_score, stale = 1, -math.inf, 0
        if resume and run.checkpoint_path("last").is_file():
            state = run.load_checkpoint("last")
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            rng = state["rng"]
            restore_rng_state(rng[info.rank] if isinstance(rng, list) else rng, sampler_rng)
            start_epoch = int(state["epoch"]) + 1
            best_score, stale, history = state["best_score"], state["stale"], state["history"]
            log.info("resumed from epoch %d", state["epoch"])
            if cfg.patience is not None and stale >= cfg.patience:
                # the run had already stopped early at that checkpoint: an uninterrupted run
                # would not train further, so neither does the resumed one
                log.info("the run stopped early after epoch %d; nothing left to train", state["epoch"])
                start_epoch = cfg.epochs + 1
        if main and (not resume or not (run.path / "manifest.json").is_file()):
            run.write_manifest({
                "experiment": experiment.name, "started": now(), "device": str(device),
                "dataset": {"component": experiment.data.name, "entities": n_entities,
                            "days": len(dataset.times), "fingerprint": _fingerprint(dataset)},
                "iterations_per_epoch": n_iter, "trainable_parameters": sum(p.numel() for p in model.parameters()),
                "world_size": info.world_size,
            })
        log.info("training %s: %d entities, %d iterations/epoch, %d epochs", experiment.name, n_entities, n_iter,
                 cfg.epochs)
        show = main and _progress_enabled(cfg.progress)
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.mixed_precision)
        scaler = torch.amp.GradScaler("cuda", enabled=cfg.mixed_precision == "fp16")
        for epoch in range(start_epoch, cfg.epochs + 1):
            t0 = time.perf_counter()
            net.train()
            losses = []
            bar = _bar(range(n_iter), show, f"epoch {epoch}/{cfg.epochs}")
            for _ in bar:
                window = sampler.draw()
                batch = dataset.sample(window.entities, window.start, window.length)
                sample = {k: v.to(device) for k, v in batch.items()}
                with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                    out = net(sample)
                context = {"target_std": target_std[window.entities].to(device)}
                loss = self._loss(loss_fn, out, sample, output_names, context)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                losses.append(float(loss.detach()))
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{np.mean(losses):.4f}")
            if not all(math.isfinite(v) for v in losses):
                raise TrainingError(f"epoch {epoch}: the loss became non-finite; lower lr or check the inputs")
            lr = optimizer.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()
            epoch_loss = mean_across_ranks(float(np.mean(losses)), info)
            row: dict[str, Any] = {"epoch": epoch, "train_loss": epoch_loss, "lr": lr}
            improved = False
            if valid_range is not None and epoch % cfg.validate_every == 0:
                score = math.nan
                if main:  # rank 0 evaluates; every rank takes the same decisions from its score
                    result = simulate_period(model, dataset, valid_range, warmup, chunk_size=cfg.eval_chunk,
                                             device=device)
                    assert result.observed is not None
                    score = float(np.nanmedian(nse(result.fluxes[output_names[0]], result.observed[..., 0])))
                score = broadcast_value(score, info)
                row["valid_median_nse"] = score
                improved = score > best_score
                best_score, stale = (score, 0) if improved else (best_score, stale + 1)
            row["seconds"] = time.perf_counter() - t0
            history.append(row)
            log.info("epoch %d: %s", epoch, json.dumps(row))
            if show:
                print(f"epoch {epoch}: " + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch"),
                      file=sys.stderr)
            if main:
                _write_losses(run.path / "losses.csv", history)
            stop = cfg.patience is not None and stale >= cfg.patience
            if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or stop or improved:
                # every rank's sampler state is saved, so a resumed DDP run draws the same batches
                rngs = gather_objects(rng_state(sampler_rng), info)
                if main:
                    state = {
                        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "epoch": epoch, "rng": rngs if info.enabled else rngs[0], "best_score": best_score,
                        "stale": stale, "history": history, "outputs": output_names,
                    }
                    run.save_checkpoint(state, epoch, best=improved or valid_range is None)
            if stop:
                log.info("early stopping after epoch %d (no improvement for %d validations)", epoch, stale)
                break
        # DDP keeps replicas identical by construction; verify it, since a silent divergence
        # (e.g. a buffer updated on one rank only) would make rank 0's checkpoint misleading
        hashes = gather_objects(_weights_hash(model), info)
        if len(set(hashes)) != 1:
            raise TrainingError(f"model replicas diverged across ranks: weight hashes {hashes}")
        if main:
            run.update_manifest(finished=now(), epochs_completed=history[-1]["epoch"] if history else 0,
                                rank_weight_hashes=hashes)
        barrier(info)
        return run.path

    # ------------------------------------------------------------------------------
    def _outputs(self, model: Any, dataset: Any) -> tuple[str, ...]:
        phy = model.phy_model if hasattr(model, "phy_model") else next(iter(model.phy.values()))
        declared = [v.name for v in phy.output_vars]
        targets = [v.name for v in dataset.variables.get("target", ())]
        if not targets:
            raise TrainingError("the dataset has no target variable to train on (data.params.target)")
        outputs = self.config.outputs or (declared[0],)
        if len(outputs) != len(targets):
            raise TrainingError(f"train.params.outputs {list(outputs)} must pair with the targets {targets}")
        unknown = [o for o in outputs if o not in declared]
        if unknown:
            raise TrainingError(f"train.params.outputs {unknown} are not outputs of the PhyModel; declared: {declared}")
        return tuple(outputs)

    @staticmethod
    def _loss(loss_fn: Any, out: Any, sample: dict[str, torch.Tensor], outputs: tuple[str, ...],
              context: dict[str, torch.Tensor]) -> torch.Tensor:
        target = sample["target"][out.warmup :]
        total = torch.zeros((), device=target.device)
        for k, name in enumerate(outputs):
            total = total + loss_fn(out.fluxes[name], target[..., k], context)
        return total / len(outputs)

    def _optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        cfg = self.config
        params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "adadelta":
            return torch.optim.Adadelta(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _scheduler(self, optimizer: torch.optim.Optimizer) -> Any:
        cfg = self.config
        if cfg.lr_schedule == "step":
            return torch.optim.lr_scheduler.StepLR(optimizer, cfg.lr_step, cfg.lr_gamma)
        if cfg.lr_schedule == "exponential":
            return torch.optim.lr_scheduler.ExponentialLR(optimizer, cfg.lr_gamma)
        if cfg.lr_schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs)
        return None


def _weights_hash(model: torch.nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _bar(iterable: range, show: bool, desc: str) -> Any:
    if not show:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)


def _write_losses(path: Path, history: list[dict[str, Any]]) -> None:
    keys = list(dict.fromkeys(k for row in history for k in row))
    lines = [",".join(keys)]
    for row in history:
        lines.append(",".join("" if row.get(k) is None else f"{row[k]:.6g}" if isinstance(row[k], float)
                              else str(row[k]) for k in keys))
    atomic_write_text(path, "\n".join(lines) + "\n")


def _fingerprint(dataset: Any) -> str:
    import hashlib

    h = hashlib.sha256()
    h.update("\n".join(dataset.entity_ids).encode())
    h.update(np.asarray(dataset.times).tobytes())
    h.update(json.dumps({k: [v.name for v in vs] for k, vs in dataset.variables.items()}).encode())
    source = getattr(dataset, "source", None)
    if source is not None:
        h.update(str(source).encode())
    return h.hexdigest()[:16]


def period_range(dataset: Any, experiment: ExperimentConfig, name: str) -> TimeRange:
    """Positions of the configured period ``name`` on the dataset's time axis (with warm-up room)."""
    known = [f.name for f in attrs.fields(type(experiment.periods))]
    if name not in known:
        raise TrainingError(f"unknown period {name!r}; choose one of {', '.join(known)}")
    period = getattr(experiment.periods, name)
    if period is None:
        raise TrainingError(f"periods.{name} is not configured")
    return time_range(dataset.times, period.start, period.end, name=name, warmup=warmup_of(experiment))
