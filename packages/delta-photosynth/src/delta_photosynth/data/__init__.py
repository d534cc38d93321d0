"""Leaf gas-exchange data: readers of LI-COR exports and long tables, canonical stores.

- :mod:`.columns`: column aliases and plausibility limits;
- :mod:`.readers`: LI-6400 / LI-6800 exports (raw text with header blocks, or CSV),
  PhotoGEA files (three header rows: names, categories, units) and long CSV tables;
- :mod:`.canonical`: curves to the canonical format (entity dim ``curve``, rows on the
  ``time`` axis);
- :mod:`.cli`: ``delta data import licor`` and ``delta data import leaf-csv``.

Nothing here imports torch.
"""

from __future__ import annotations
