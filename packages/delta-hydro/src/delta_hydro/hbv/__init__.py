"""The HBV model family (1.0, 1.1p, 2.0), registered as ``hydro.hbv``.

Modules: :mod:`.config` (``HBVConfig``, torch-free), :mod:`.parameters` (declarations,
torch-free), :mod:`.backends` (time-loop registry, torch-free), :mod:`.model`
(``HBV``, the PhyModel), :mod:`.reference` (the plain PyTorch time loop) and
:mod:`.routing` (gamma unit hydrograph). Nothing is imported here, so that reading the
configuration or the parameter table does not import torch.
"""
