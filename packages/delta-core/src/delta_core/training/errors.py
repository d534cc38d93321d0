"""Errors of training and run directories (torch-free, so the CLI can catch them cheaply)."""

from __future__ import annotations


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why."""


class RunDirError(RuntimeError):
    """A run directory that cannot be created, reused or resumed."""
