"""Where privobf keeps what it can recompute (prior masks, superpixels), and how.

Entries are compressed `.npz` files written atomically. An entry that cannot be read back whole
(truncated, corrupt, failing the caller's checks) is deleted and reported as absent, so it is
recomputed, never trusted.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from .atomic import atomic_write, remove_quietly

log = logging.getLogger(__name__)
T = TypeVar("T")
# What reading a damaged .npz or a caller's check of its contents raises (JSONDecodeError is a ValueError).
UNREADABLE = (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile)


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "privobf"


class NpzStore:
    """Reads and writes cache entries, counting hits, misses and corrupt entries."""

    def __init__(self, name: str):
        self.name = name
        self.hits = self.misses = self.corrupt = 0

    def read(self, path: Path, decode: Callable[[np.lib.npyio.NpzFile], T]) -> T | None:
        """decode(stored) -> value, raising ValueError (or KeyError, TypeError) for contents not to trust."""
        if not path.is_file():
            self.misses += 1
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                value = decode(stored)
        except UNREADABLE as error:
            log.warning("%s cache: corrupt entry %s (%s); recomputing", self.name, path, error)
            self.corrupt += 1
            remove_quietly(path)
            return None
        self.hits += 1
        return value

    def write(self, path: Path, **arrays: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write(path, lambda temp: temp.write_bytes(buffer.getvalue()))

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt}
