"""privobf.memory: freed heap pages really go back to the system (glibc), so a batch's footprint stays flat."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from privobf.memory import release_freed_memory

# 100 MiB in 64 KiB blocks (below glibc's mmap threshold: they live on the heap), all freed but the last,
# which pins the heap's top so that free() alone cannot shrink it.
PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from privobf.memory import release_freed_memory

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def rss_mib():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

    blocks = [libc.malloc(65536) for _ in range(1600)]
    for block in blocks:
        ctypes.memset(block, 1, 65536)
    for block in blocks[:-1]:
        libc.free(block)
    before = rss_mib()
    trimmed = release_freed_memory()
    print(trimmed, before - rss_mib())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim; a no-op elsewhere")
def test_freed_heap_pages_are_returned_to_the_system():
    completed = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    trimmed, released_mib = completed.stdout.split()
    assert trimmed == "True"
    assert float(released_mib) > 80  # of the 100 MiB freed


def test_release_is_safe_to_call_repeatedly():
    assert release_freed_memory() == release_freed_memory()
