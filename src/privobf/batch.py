"""Reading photos and computing their priors in worker processes, with bounded memory.

The scanner's network runs in the main process, batched; everything before it that does not need the
network (decoding, EXIF orientation, the prior detectors) runs in `workers` processes. At most
`window` photos are in flight at any time, whatever the folder size, and results come back in input
order, so output and reports are deterministic. A worker that dies on a hostile file (a decoder crash
takes the process with it) costs that file only: it is reported, the pool is restarted, and the
photos that were queued behind it are read again. Workers end themselves when the main process dies
(kill -9 included): each holds a model's worth of memory, and an orphan would keep it forever.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from .imageio import DEFAULT_LIMIT_HINT, MAX_PIXELS, ImageLoadError, LoadedImage, load_image
from .inputs import InputFile
from .memory import release_freed_memory
from .scanning import ImagePriors, compute_priors

if TYPE_CHECKING:
    from .priors import PriorSet


@dataclass
class Prepared:
    """One input, read and with its priors, or the one-line reason it could not be."""

    item: InputFile
    loaded: LoadedImage | None = None
    priors: ImagePriors | None = None
    error: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def prepare(
    item: InputFile, prior_set: "PriorSet | None", max_pixels: int = MAX_PIXELS, limit_hint: str = DEFAULT_LIMIT_HINT
) -> Prepared:
    """Decode one photo and compute its priors; never raises for a bad file."""
    started = time.perf_counter()
    try:
        loaded = load_image(item.path, max_pixels=max_pixels, limit_hint=limit_hint)
    except ImageLoadError as error:
        return Prepared(item, error=str(error))
    decoded = time.perf_counter()
    try:
        priors = compute_priors(prior_set, loaded.pixels)
    except Exception as error:  # a provider bug must not end a batch; the photo is reported as failed
        return Prepared(item, error=f"{item.path}: computing priors failed ({type(error).__name__}: {error})")
    done = time.perf_counter()
    return Prepared(item, loaded, priors, seconds={"decode": decoded - started, "priors": done - decoded})


_worker_state: dict = {}


PARENT_POLL_SECONDS = 0.5


def _initialise_worker(prior_set: "PriorSet | None", max_pixels: int, limit_hint: str, parent: int) -> None:
    exit_with_parent(parent)
    import torch

    torch.set_num_threads(1)  # workers do not run the network; leave the cores to the main process
    _worker_state.update(prior_set=prior_set, max_pixels=max_pixels, limit_hint=limit_hint)


def exit_with_parent(parent: int) -> None:
    """End this process as soon as `parent` (the process that started it) is gone: a daemon thread notices
    that this process was re-parented. A worker blocked waiting for work never learns otherwise that nobody
    will send any. (Linux's PR_SET_PDEATHSIG is not used: it fires when the parent *thread* that started
    the worker ends, which is not the same thing when a pool is driven from another thread.)
    """
    if os.getppid() != parent:  # the parent died before this process got here
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="privobf-parent-watch", daemon=True).start()


def _prepare_in_worker(item: InputFile) -> Prepared:
    prepared = prepare(item, _worker_state["prior_set"], _worker_state["max_pixels"], _worker_state["limit_hint"])
    release_freed_memory()
    return prepared


def prepared_stream(
    items: Iterable[InputFile],
    prior_set: "PriorSet | None",
    *,
    workers: int = 0,
    window: int = 8,
    max_pixels: int = MAX_PIXELS,
    limit_hint: str = DEFAULT_LIMIT_HINT,
) -> Iterator[Prepared]:
    """`prepare` over `items`, in order; in `workers` processes (0: in this process)."""
    if workers <= 0:
        for item in items:
            yield prepare(item, prior_set, max_pixels, limit_hint)
        return
    yield from _ParallelPreparation(prior_set, workers, max(window, workers), max_pixels, limit_hint).run(iter(items))


class _ParallelPreparation:
    def __init__(self, prior_set: "PriorSet | None", workers: int, window: int, max_pixels: int, limit_hint: str):
        self.prior_set, self.workers, self.window, self.max_pixels = prior_set, workers, window, max_pixels
        self.limit_hint = limit_hint
        self.pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        # spawn, not fork: forking a process that already runs torch / onnxruntime threads can deadlock.
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_initialise_worker,
            initargs=(self.prior_set, self.max_pixels, self.limit_hint, os.getpid()),
        )

    def run(self, items: Iterator[InputFile]) -> Iterator[Prepared]:
        self.pool = self._start()
        pending: deque[tuple[InputFile, Future]] = deque()
        try:
            while True:
                while len(pending) < self.window:
                    item = next(items, None)
                    if item is None:
                        break
                    pending.append((item, self.pool.submit(_prepare_in_worker, item)))
                if not pending:
                    return
                item, future = pending.popleft()
                try:
                    yield future.result()
                except BrokenProcessPool:
                    yield Prepared(item, error=f"{item.path}: the reading process crashed on this file (skipped)")
                    pending = self._restart(pending)
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _restart(self, pending: deque[tuple[InputFile, Future]]) -> deque[tuple[InputFile, Future]]:
        """A dead pool fails every queued future; queue those photos again on a fresh pool."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = self._start()
        return deque((item, self.pool.submit(_prepare_in_worker, item)) for item, _ in pending)


def batches(stream: Iterable[Prepared], size: int) -> Iterator[list[Prepared]]:
    """Group a stream into lists of at most `size`; failures travel alone (nothing to batch)."""
    batch: list[Prepared] = []
    for prepared in stream:
        if prepared.error is not None:
            if batch:
                yield batch
                batch = []
            yield [prepared]
            continue
        batch.append(prepared)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
