"""A prior provider that kills its process on one image: stands in for a decoder or detector that
segfaults on a hostile file, in the worker-pool test of tests/test_batch_cli.py (importable by spawned workers)."""

import os

import numpy as np

from privobf.priors import PriorResult


class DiesOnRedImages:
    name, kind, version = "dies-on-red", "person", "1"

    def __call__(self, image: np.ndarray) -> PriorResult:
        if image[..., 0].mean() > 200 and image[..., 1].mean() < 50:
            os._exit(70)  # what a native crash looks like to the pool: the process is gone
        return PriorResult(np.zeros(image.shape[:2], np.float32))
