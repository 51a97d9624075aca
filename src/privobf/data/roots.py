"""Where development and benchmark data live: one setting for every reader."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_root() -> Path:
    """`$PRIVOBF_DATA`, else `<repo root>/../shared/data` (where development data lives beside the checkout)."""
    configured = os.environ.get("PRIVOBF_DATA")
    if configured:
        return Path(configured).expanduser()
    repo_root = Path(__file__).resolve().parents[3]
    return repo_root.parent / "shared" / "data"
