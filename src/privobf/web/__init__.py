"""`privobf serve`: a local web page to scan a photo, see what it reveals, and download a protected copy.

The page runs entirely on this machine: the server keeps uploads in memory only (never on disk), the
page loads nothing from the internet, and every response forbids caching. FastAPI and uvicorn are an
optional extra (``pip install privobf[serve]``), so they are imported only when this package is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """Import the app lazily: `import privobf.web` must not fail for a mere attribute listing without FastAPI."""
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
