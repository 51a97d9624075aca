"""Shared fixtures: a toy labelled data set small enough to train on in seconds, and the data root."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Spinning OpenMP threads slow torch ~100x when another process holds the other core (CI runs on 2 cores).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Prior caches of training runs go to a throw-away folder, never into the user's ~/.cache.
if "PRIVOBF_TEST_KEEP_CACHE" not in os.environ:
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="privobf-test-cache-")
# A developer's own ~/.config/privobf/preferences.toml must not change what the tests see.
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="privobf-test-config-")
os.environ.pop("PRIVOBF_PREFERENCES", None)

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

# Deterministic property tests (same examples every run) and no per-example deadline: on 2 shared cores
# a slow example is load, not a bug, and a timing-dependent failure would make the suite flaky.
settings.register_profile(
    "privobf", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("privobf")

REPO_ROOT = Path(__file__).resolve().parents[1]
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def data_root() -> Path:
    return Path(os.environ.get("PRIVOBF_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    root = data_root()
    if not (root / "coco128").is_dir():
        pytest.skip(f"shared data not found at {root} (set PRIVOBF_DATA)")
    return root


TOY_IDS = ["a0_safe", "x1_person_body", "a9_face_complete", "a19_name_full"]


@dataclass
class ToySample:
    image: np.ndarray
    labels: list[str]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    human_prior: np.ndarray | None = None
    text_prior: np.ndarray | None = None


class ToyScenes(torch.utils.data.Dataset):
    """Coloured shapes standing for three attributes: red disc = person, yellow square = face, blue bar = name."""

    vocabulary_ids = TOY_IDS

    def __init__(self, n: int, size: int = 64, seed: int = 0):
        self.n, self.size, self.seed = n, size, seed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> ToySample:
        if not 0 <= index < self.n:
            raise IndexError(index)
        rng = np.random.default_rng([self.seed, index])
        s = self.size
        image = (rng.random((s, s, 3)) * 60).astype(np.uint8)
        yy, xx = np.mgrid[:s, :s]
        masks = {}
        if rng.random() < 0.5:
            cy, cx, r = rng.integers(s // 4, 3 * s // 4, 2).tolist() + [int(rng.integers(s // 8, s // 4))]
            masks["x1_person_body"] = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        if rng.random() < 0.5:
            y, x = rng.integers(0, s - s // 4, 2)
            m = np.zeros((s, s), bool)
            m[y : y + s // 4, x : x + s // 4] = True
            masks["a9_face_complete"] = m
        if rng.random() < 0.5:
            y, x = rng.integers(0, s - s // 3, 2)
            m = np.zeros((s, s), bool)
            m[y : y + s // 10 + 1, x : x + s // 3] = True
            masks["a19_name_full"] = m
        colours = {"x1_person_body": (220, 40, 40), "a9_face_complete": (240, 220, 60), "a19_name_full": (40, 60, 230)}
        for name, mask in masks.items():
            image[mask] = colours[name]
        human = np.zeros((s, s), np.float32)
        text = np.zeros((s, s), np.float32)
        for name in ("x1_person_body", "a9_face_complete"):
            if name in masks:
                human[masks[name]] = 1.0
        if "a19_name_full" in masks:
            text[masks["a19_name_full"]] = 1.0
        return ToySample(image, sorted(masks) or ["a0_safe"], masks, human, text)


@pytest.fixture
def toy_vocabulary():
    from privobf.attributes import vocabulary_from_ids

    return vocabulary_from_ids(TOY_IDS, "toy")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny PrivObfNet trained for one epoch on 8 synthetic scenes (seconds): the model of CLI and web tests."""
    import dataclasses

    from privobf.attributes import vocabulary_from_ids
    from privobf.data.sources import build_source
    from privobf.models.config import tiny_preset
    from privobf.train.engine import train

    preset = tiny_preset()
    preset = dataclasses.replace(preset, train=dataclasses.replace(preset.train, epochs=1))
    data = build_source("synthetic", n=8, image_size=64, seed=0, difficulty="easy")
    result = train(preset, data, vocabulary_from_ids(data.vocabulary_ids), tmp_path_factory.mktemp("tiny"), progress=False)
    return result.image_checkpoint
