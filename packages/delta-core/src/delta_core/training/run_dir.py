"""The run directory: everything a run produces, written atomically.

Layout::

    RUN/
      config.yaml         resolved experiment (every default filled in)
      manifest.json       package versions, git commit, dataset fingerprint, times
      train.log           log of the run
      normalization.json  statistics of the network inputs (training data only)
      losses.csv          epoch, train loss, validation score, learning rate, seconds
      checkpoints/
        epoch_0005.pt     model, optimizer, scheduler, epoch, every RNG state
        last.pt           the newest checkpoint
        best.pt           the checkpoint with the best validation score
      test/               metrics.csv, summary, simulations (delta test / simulate)

Every file is written to a temporary name in the same directory and then renamed, so
a killed run never leaves a half-written file under a final name.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from delta_core.training.errors import RunDirError

CHECKPOINTS = "checkpoints"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file, fsync, then rename onto ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as fh:
        torch.save(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class RunDir:
    """Paths and writers of one run directory (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def checkpoints(self) -> Path:
        """The checkpoints folder."""
        return self.path / CHECKPOINTS

    def check(self, *, resume: bool) -> None:
        """Raise :class:`RunDirError` if the directory cannot host the run; create nothing.

        A fresh run needs an absent or empty directory; a resumed one needs the
        ``config.yaml`` of an earlier run.
        """
        if resume:
            if not (self.path / "config.yaml").is_file():
                raise RunDirError(f"{self.path}: no config.yaml, not a run directory")
        elif self.path.exists() and any(self.path.iterdir()):
            raise RunDirError(
                f"{self.path} already holds a run; use `delta train --resume {self.path}` or another --run-dir"
            )

    def create(self, *, resume: bool) -> None:
        """Create the directory (see :meth:`check`); a fresh run refuses a non-empty directory."""
        self.check(resume=resume)
        self.checkpoints.mkdir(parents=True, exist_ok=True)

    def logger(self) -> logging.Logger:
        """A logger writing to ``train.log`` (appending on resume)."""
        log = logging.getLogger(f"deltamod.run.{self.path.resolve()}")
        log.setLevel(logging.INFO)
        if not log.handlers:
            handler = logging.FileHandler(self.path / "train.log", encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            log.addHandler(handler)
        log.propagate = False
        return log

    def write_manifest(self, extra: Mapping[str, Any]) -> None:
        """Write ``manifest.json``: versions, git commit, platform, plus ``extra``."""
        data = {"versions": package_versions(), "git_commit": git_commit(), "python": sys.version.split()[0],
                "platform": platform.platform(), "argv": sys.argv, **extra}
        atomic_write_text(self.path / "manifest.json", json.dumps(data, indent=2, default=str))

    def update_manifest(self, **values: Any) -> None:
        """Add or replace keys of ``manifest.json``."""
        path = self.path / "manifest.json"
        data = json.loads(path.read_text()) if path.is_file() else {}
        data.update(values)
        atomic_write_text(path, json.dumps(data, indent=2, default=str))

    def checkpoint_path(self, which: str | int) -> Path:
        """``best``, ``last`` or an epoch number → checkpoint file."""
        if isinstance(which, int) or str(which).isdigit():
            return self.checkpoints / f"epoch_{int(which):04d}.pt"
        if which not in ("best", "last"):
            raise RunDirError(f"checkpoint must be best, last or an epoch number, got {which!r}")
        return self.checkpoints / f"{which}.pt"

    def save_checkpoint(self, state: Mapping[str, Any], epoch: int, *, best: bool = False) -> None:
        """Write the epoch checkpoint, then ``last.pt`` (and ``best.pt``), each atomically."""
        atomic_torch_save(dict(state), self.checkpoint_path(epoch))
        atomic_torch_save(dict(state), self.checkpoint_path("last"))
        if best:
            atomic_torch_save(dict(state), self.checkpoint_path("best"))

    def load_checkpoint(self, which: str | int = "last") -> dict[str, Any]:
        """Read a checkpoint (CPU tensors)."""
        path = self.checkpoint_path(which)
        if not path.is_file():
            have = sorted(p.name for p in self.checkpoints.glob("*.pt")) if self.checkpoints.is_dir() else []
            raise RunDirError(f"{path}: no such checkpoint; available: {', '.join(have) or '(none)'}")
        return torch.load(path, map_location="cpu", weights_only=False)


def package_versions() -> dict[str, str]:
    """Versions of deltamod distributions and key dependencies that are installed."""
    out = {}
    for dist in ("deltamod-core", "deltamod-nn", "deltamod-hydro", "deltamod-photosynth", "torch", "numpy",
                 "xarray", "zarr", "pluggy", "attrs", "cattrs"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """The commit of the working directory's git checkout, if any (``+dirty`` if modified)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def now() -> str:
    """UTC timestamp, ISO 8601."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
