"""Where privobf keeps what it can recompute (prior masks, superpixels): $XDG_CACHE_HOME/privobf."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "privobf"
