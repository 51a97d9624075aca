"""Several providers run as one: the human and text priors PrivObfNet weights its attention maps with.

Human prior = the pixel-wise maximum of the person, face (and, if enabled, nudity) masks: a face the
person segmenter missed still counts as human. Text prior = the maximum of the text (OCR) and plate
masks: plate characters are text. A provider that cannot be loaded is left out and named in
`unavailable`; one that fails on a particular image is left out for that image and named in `errors`,
so a scan or a batch goes on and the report says what was missing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .base import PriorProvider, PriorResult, ProviderUnavailable, create_provider
from .cache import PriorCache, image_key

log = logging.getLogger(__name__)

DEFAULT_PROVIDERS: tuple[str, ...] = ("mediapipe-person", "centerface", "ppocr-v6", "haar-plate")
# Text providers that also read what the lines say (their results carry texts and words; privobf.evidence.reading).
READING_PROVIDERS = frozenset({"ppocr-v6"})


def detection_only(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Provider options that keep the reading providers among `names` from reading: for training and the
    paper's fusion, which use the text prior (where the lines are), not what they say."""
    return {name: {"read": False} for name in names if name in READING_PROVIDERS}
HUMAN_KINDS = frozenset({"person", "face", "nudity"})
TEXT_KINDS = frozenset({"text", "plate"})


@dataclass
class PriorMaps:
    """Priors of one image: the two maps the model takes, and what each provider found."""

    human: np.ndarray | None  # float32 [H, W] in [0, 1]; None: no human provider ran
    text: np.ndarray | None
    results: dict[str, PriorResult] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def for_model(self) -> dict[str, np.ndarray | None]:
        return {"human": self.human, "text": self.text}


def _pixel_max(masks: list[np.ndarray]) -> np.ndarray | None:
    return np.maximum.reduce(masks) if masks else None


class PriorSet:
    """Named providers (+ optional cache) -> PriorMaps. Providers load on first use, and again after
    pickling (e.g. in DataLoader workers), since detector sessions cannot be pickled."""

    def __init__(
        self,
        providers: Sequence[str | PriorProvider] = DEFAULT_PROVIDERS,
        *,
        cache: PriorCache | str | Path | None = None,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        strict: bool = False,
        reasons: Mapping[str, Sequence[str]] | None = None,
        evidence_kinds: Sequence[str] | None = None,
    ):
        self.requested = [p if isinstance(p, str) else p.name for p in providers]
        self._given = {p.name: p for p in providers if not isinstance(p, str)}
        self.options = {name: dict(value) for name, value in (options or {}).items()}
        self.cache = PriorCache(cache) if isinstance(cache, (str, Path)) else cache
        self.strict = strict
        self.reasons = {name: list(why) for name, why in (reasons or {}).items()}  # provider -> what it runs for
        # Kinds of region a plan needs as evidence (None: all); others are computed only as priors.
        self.evidence_kinds = None if evidence_kinds is None else frozenset(evidence_kinds)
        self._providers: dict[str, PriorProvider] | None = None
        self.unavailable: dict[str, str] = {}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_providers"] = None
        return state

    @property
    def providers(self) -> dict[str, PriorProvider]:
        if self._providers is None:
            loaded: dict[str, PriorProvider] = {}
            for name in self.requested:
                try:
                    loaded[name] = self._given.get(name) or create_provider(name, **self.options.get(name, {}))
                except ProviderUnavailable as error:
                    if self.strict:
                        raise
                    self.unavailable[name] = str(error)
                    log.warning("%s; scanning goes on without it", error)
            self._providers = loaded
        return self._providers

    def reads(self, name: str) -> bool:
        """Whether provider `name` reads what its text lines say (a reading provider not told otherwise)."""
        return name in READING_PROVIDERS and bool(getattr(self.providers.get(name), "read", False))

    def versions(self) -> dict[str, str]:
        return {name: provider.version for name, provider in self.providers.items()}

    def describe(self) -> dict[str, Any]:
        """What a report records: which providers ran (with versions), which could not be loaded."""
        described = {"providers": self.versions(), "unavailable": dict(self.unavailable)}
        if self.reasons:
            described["run_for"] = dict(self.reasons)
        return described

    def __call__(self, image: np.ndarray) -> PriorMaps:
        height, width = image.shape[:2]
        key = image_key(image) if self.cache is not None else ""
        maps = PriorMaps(None, None)
        human: list[np.ndarray] = []
        text: list[np.ndarray] = []
        for name, provider in self.providers.items():
            started = time.perf_counter()
            result = self.cache.get(key, name, provider.version, (height, width)) if self.cache is not None else None
            if result is None:
                try:
                    result = provider(image)
                except Exception as error:  # one failing detector must not stop a batch; the report names it
                    if self.strict:
                        raise
                    maps.errors[name] = f"{type(error).__name__}: {error}"
                    log.warning("prior provider %s failed on this image: %s", name, error)
                    continue
                if self.cache is not None:
                    result = self.cache.put(key, name, provider.version, result)
            maps.seconds[name] = time.perf_counter() - started
            maps.results[name] = result
            if provider.kind in HUMAN_KINDS:
                human.append(result.mask)
            elif provider.kind in TEXT_KINDS:
                text.append(result.mask)
        maps.human, maps.text = _pixel_max(human), _pixel_max(text)
        return maps
