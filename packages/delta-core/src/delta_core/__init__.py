"""deltamod core: interfaces, plugin registry, configuration and CLI.

Importing this package is cheap: it imports neither torch nor any plugin.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("deltamod-core")
except metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
