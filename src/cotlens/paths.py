"""Where cotlens keeps files between runs: converted models, the call cache, served-model probes.

Never inside the installed package: ``$COTLENS_CACHE_DIR``, else ``~/.cache/cotlens``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where cotlens keeps converted models and the default call cache (never inside the package)."""
    return Path(os.environ.get("COTLENS_CACHE_DIR", Path.home() / ".cache" / "cotlens"))


__all__ = ["cache_root"]
