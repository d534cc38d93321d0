"""Plugin discovery and the component registry (torch-free)."""

from __future__ import annotations

import pluggy

from delta_core.hookspecs import PROJECT_NAME

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["hookimpl"]
