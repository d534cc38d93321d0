"""Example deltamod plugin: a one-bucket linear reservoir, a synthetic dataset and a preset.

Importing this package imports nothing heavy; the model and the dataset (which use
torch) live in :mod:`delta_example.model` and :mod:`delta_example.data` and are loaded
only when a configuration names them.
"""

from __future__ import annotations

__version__ = "0.1.0"
