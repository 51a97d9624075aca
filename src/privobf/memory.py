"""Give freed heap memory back to the system between photos, so a long batch's footprint stays flat.

A photo's work frees hundreds of megabytes (decoded pixels, detector and network buffers of its own
sizes) from several threads: torch's, ONNX Runtime's, the detectors'. glibc keeps freed blocks in per-
thread arenas and returns them to the system only when the top of a heap is free, so with photos of
varying sizes the resident size of a batch crept upwards (976 -> 1,764 MiB over 256 COCO128 photos).
`malloc_trim(0)` after each batch releases the free pages of every arena: the same run stays near
700 MiB (benchmarks/memory.py, docs/performance.md). It costs about a millisecond. Elsewhere than glibc
(macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # no C library by that name, or one without malloc_trim (not glibc)
        return None


def release_freed_memory() -> bool:
    """Return free heap pages to the system; True when the C library could do it (glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
