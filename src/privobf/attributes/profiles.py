"""User privacy profiles and the privacy score of a label set (VISPR, Orekondy et al. ICCV 2017).

A profile gives every private attribute a mean sensitivity from 1 (not sensitive) to 5. The
privacy score of an image for one profile pools the sensitivities of the attributes the image
shows; VISPR pools by max (the default here), sum and mean are available. `a0_safe` weighs 0,
and an image that shows nothing private scores 0.

Scores are reported scaled to [0, 1] by dividing by 5 (the top of the scale): a safe image
scores 0 and an image showing an attribute that a profile rates 5 scores 1. For `sum` the
scale factor is 5 times the number of attributes, so that it stays within [0, 1] too.

The overall score of an image is the mean of its 30 per-profile scores: the expected score of
a user drawn at random from the VISPR study population. It is what PrivObfNet's privacy head
is trained on when no single profile is chosen.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Literal, Sequence

import numpy as np

from .vocabulary import Vocabulary, vispr_vocabulary

Pooling = Literal["max", "sum", "mean"]
SAFE_ID = "a0_safe"
SENSITIVITY_MAX = 5.0


@dataclass(frozen=True)
class UserProfiles:
    """Sensitivities [n_profiles, n_attributes] aligned with a vocabulary; 0 where unknown or safe."""

    vocabulary: Vocabulary
    sensitivity: np.ndarray  # float32 [P, K]
    names: tuple[str, ...]

    @property
    def n_profiles(self) -> int:
        return self.sensitivity.shape[0]

    def profile_index(self, name: str) -> int:
        if name in self.names:
            return self.names.index(name)
        raise KeyError(f"unknown profile {name!r}; profiles are {', '.join(self.names[:3])}, ... {self.names[-1]}")

    def scores(self, labels: np.ndarray, pooling: Pooling = "max") -> np.ndarray:
        """Per-profile scores in [0, 1] for multi-hot or soft `labels` [..., K] -> [..., P].

        With soft labels (probabilities) `max` pools the probability-weighted sensitivities, which
        keeps the score differentiable and equal to the hard score for 0/1 inputs.
        """
        labels = np.asarray(labels, dtype=np.float32)
        weighted = labels[..., None, :] * self.sensitivity  # [..., P, K]
        if pooling == "max":
            pooled = weighted.max(axis=-1) / SENSITIVITY_MAX
        elif pooling == "sum":
            pooled = weighted.sum(axis=-1) / (SENSITIVITY_MAX * max(1, self.sensitivity.shape[1]))
        elif pooling == "mean":
            private = labels * (self.sensitivity.max(axis=0) > 0)
            count = np.maximum(private.sum(axis=-1, keepdims=True), 1.0)
            pooled = weighted.sum(axis=-1) / count / SENSITIVITY_MAX
        else:
            raise ValueError(f"unknown pooling {pooling!r}; use max, sum or mean")
        return pooled.astype(np.float32)

    def overall(self, labels: np.ndarray, pooling: Pooling = "max") -> np.ndarray:
        """The mean over profiles of :meth:`scores`: [..., K] -> [...]."""
        return self.scores(labels, pooling).mean(axis=-1)


def _parse_profiles(rows: Iterable[Sequence[str]], vocabulary: Vocabulary, source: str) -> UserProfiles:
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{source}: no profile rows")
    n_profiles = len(rows[0]) - 2
    if n_profiles < 1:
        raise ValueError(f"{source}: expected attribute_id, description, then one column per profile")
    sensitivity = np.zeros((n_profiles, len(vocabulary)), dtype=np.float32)
    for line, row in enumerate(rows, start=1):
        if len(row) - 2 != n_profiles:
            raise ValueError(f"{source}: line {line} has {len(row) - 2} profile columns, expected {n_profiles}")
        attribute_id = row[0].strip()
        if attribute_id not in vocabulary:
            continue  # a profile file may rate attributes a smaller vocabulary does not have
        try:
            values = [float(v) for v in row[2:]]
        except ValueError:
            raise ValueError(f"{source}: line {line} has a non-numeric sensitivity") from None
        if any(not (1.0 <= v <= SENSITIVITY_MAX) for v in values):
            raise ValueError(f"{source}: line {line} ({attribute_id}) has a sensitivity outside 1..5")
        if attribute_id != SAFE_ID:
            sensitivity[:, vocabulary.index(attribute_id)] = values
    names = tuple(f"profile{k:02d}" for k in range(n_profiles))
    return UserProfiles(vocabulary, sensitivity, names)


@lru_cache(maxsize=None)
def _vispr_profiles_cached(vocabulary_ids: tuple[str, ...]) -> UserProfiles:
    from .vocabulary import vocabulary_from_ids

    vocabulary = vispr_vocabulary() if list(vocabulary_ids) == vispr_vocabulary().ids else vocabulary_from_ids(vocabulary_ids)
    text = resources.files("privobf.attributes").joinpath("resources", "vispr_user_profiles.tsv").read_text("utf-8")
    return _parse_profiles(csv.reader(text.splitlines(), delimiter="\t"), vocabulary, "vispr_user_profiles.tsv")


def vispr_profiles(vocabulary: Vocabulary | None = None) -> UserProfiles:
    """The 30 VISPR user profiles (`user_profiles.tsv`, no header) aligned with `vocabulary`."""
    vocabulary = vocabulary or vispr_vocabulary()
    profiles = _vispr_profiles_cached(tuple(vocabulary.ids))
    return UserProfiles(vocabulary, profiles.sensitivity, profiles.names)


def load_profiles(path: str | Path, vocabulary: Vocabulary | None = None) -> UserProfiles:
    """Profiles from a user's own file in the VISPR layout (tab-separated, no header)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"{path}: cannot read profile file ({error.strerror or error})") from None
    return _parse_profiles(csv.reader(text.splitlines(), delimiter="\t"), vocabulary or vispr_vocabulary(), str(path))


def privacy_score(
    attribute_ids: Iterable[str],
    profile: int | str | None = None,
    pooling: Pooling = "max",
    profiles: UserProfiles | None = None,
) -> float:
    """The [0, 1] privacy score of a label set for one profile, or overall (mean of all) when None."""
    profiles = profiles or vispr_profiles()
    labels = profiles.vocabulary.encode(attribute_ids)
    if profile is None:
        return float(profiles.overall(labels, pooling))
    index = profiles.profile_index(profile) if isinstance(profile, str) else int(profile)
    return float(profiles.scores(labels, pooling)[index])
