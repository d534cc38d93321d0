"""The trainer interface: :class:`Trainer`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class Trainer(ABC):
    """Runs an experiment: builds its components, trains, checkpoints and evaluates.

    The CLI resolves and validates the experiment configuration, creates nothing
    itself, and hands the structured configuration to :meth:`fit`.

    Parameters
    ----------
    config
        The trainer's own structured configuration (attrs instance) or ``None``.
    """

    def __init__(self, config: Any = None) -> None:
        self.config = config

    @abstractmethod
    def fit(self, experiment: Any, run_dir: Path, *, resume: bool = False) -> Path:
        """Train ``experiment`` (an :class:`~delta_core.config.schema.ExperimentConfig`).

        Parameters
        ----------
        experiment
            Fully resolved experiment configuration.
        run_dir
            Directory that receives the run's config, manifest, logs and checkpoints.
        resume
            Continue from the last checkpoint in ``run_dir`` instead of starting anew.

        Returns
        -------
        Path
            The run directory.
        """
