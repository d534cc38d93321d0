"""Importers: convert datasets from their native layout into the canonical format.

- :mod:`delta_core.data.importers.generic`: a folder of per-entity CSV or NetCDF files
  plus an attributes table, described by a small column → variable mapping
  (``delta data import generic``);
- :mod:`delta_core.data.importers.common`: parsing helpers shared by importers (also
  by those of domain packages, e.g. CAMELS-US in delta-hydro) that turn bad input into
  a :class:`DataImportError` naming the file, the line and the column.

Nothing heavy is imported here: the CLI imports the importers inside its commands.
"""

from __future__ import annotations


class DataImportError(ValueError):
    """Input that cannot be imported; the message names the file, line, entity or variable."""


__all__ = ["DataImportError"]
