"""Attribution maps from a trained model: CAM and Grad-CAM at several scales with flips, batched,
and the registry every seed method (AdvCAM, RIB, FickleNet, ...) joins.

The multi-scale rule is IRN's `make_cam` (dissertation §2, IRN code): each scale's image and its
mirror go through the network together, the mirrored map is flipped back and added, every scale is
resized to the stride-4 working grid and summed, and only then is each class map divided by its
maximum. Methods that compute a map per scale in their own way (AdvCAM's climbing, FickleNet's
stochastic passes) plug a `PerScale` function into :func:`accumulate`, so they share that rule.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..data.batching import image_to_tensor
from ..scanning import stack_priors
from .cam_model import CamModel
from .localisation import Localisation, max_normalise

Priors = Mapping[str, np.ndarray | None] | None
# (images [n, 3, h, w], priors [n, 2, h, w] or None, class indices) -> non-negative maps [n, len(indices), h', w']
PerScale = Callable[[torch.Tensor, torch.Tensor | None, list[int]], torch.Tensor]


@dataclass
class AttributionConfig:
    """Scales and flip of every seed method (IRN defaults: 1.0, 0.5, 1.5, 2.0 with flips)."""

    scales: tuple[float, ...] = (1.0, 0.5, 1.5, 2.0)
    flip: bool = True

    def __post_init__(self) -> None:
        self.scales = tuple(float(s) for s in self.scales)
        if not self.scales or any(s <= 0 for s in self.scales):
            raise ValueError(f"scales must be positive, got {self.scales}")


def scale_inputs(
    model: CamModel, pixels: np.ndarray, priors: Priors, scale: float, flip: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The model input of one photo at `scale`: [1 or 2, 3, h, w] (with its mirror) and its priors."""
    size = model.input_size(pixels.shape[0], pixels.shape[1], scale)
    images = image_to_tensor(pixels, size)[None]
    prior = stack_priors(priors, size) if priors else None
    if flip:
        images = torch.cat([images, images.flip(-1)])
        prior = None if prior is None else torch.cat([prior, prior.flip(-1)])
    return images, prior


def merge_flip(maps: torch.Tensor, grid: tuple[int, int], flip: bool) -> torch.Tensor:
    """[1 or 2, K, h, w] -> [K, *grid]: resize to the working grid, flip the mirror back, add."""
    maps = F.interpolate(maps.float(), size=grid, mode="bilinear", align_corners=False)
    return maps[0] + maps[1].flip(-1) if flip else maps[0]


def accumulate(
    model: CamModel,
    pixels: np.ndarray,
    classes: Sequence[str],
    per_scale: PerScale,
    config: AttributionConfig,
    priors: Priors = None,
) -> Localisation:
    """Sum `per_scale` over the scales (with flips) on the working grid, then max-normalise per class."""
    classes = list(classes)
    height, width = pixels.shape[:2]
    grid = model.grid_size(height, width)
    if not classes:
        return Localisation([], np.zeros((0, *grid), np.float32), (height, width))
    indices = model.class_indices(classes)
    total = torch.zeros(len(classes), *grid)
    for scale in config.scales:
        images, prior = scale_inputs(model, pixels, priors, scale, config.flip)
        total += merge_flip(per_scale(images, prior, indices).detach(), grid, config.flip)
    return Localisation(classes, max_normalise(total).numpy(), (height, width))


# ------------------------------------------------------------------------------------------ CAM


def cam_per_scale(model: CamModel) -> PerScale:
    def run(images: torch.Tensor, priors: torch.Tensor | None, indices: list[int]) -> torch.Tensor:
        with torch.no_grad():
            return F.relu(model(images, priors)[:, indices])

    return run


def cam_many(
    model: CamModel,
    images: Sequence[np.ndarray],
    classes: Sequence[Sequence[str]],
    config: AttributionConfig,
    priors: Sequence[Priors] | None = None,
) -> list[Localisation]:
    """CAMs of several photos: at every scale, photos with the same input size share one forward pass
    (mirrors included). Equal to one-by-one :func:`accumulate` up to float rounding."""
    priors = list(priors) if priors is not None else [None] * len(images)
    grids = [model.grid_size(*image.shape[:2]) for image in images]
    indices = [model.class_indices(list(c)) for c in classes]
    totals = [torch.zeros(len(c), *g) for c, g in zip(indices, grids)]
    for scale in config.scales:
        groups: dict[tuple[int, int], list[int]] = {}
        for position, image in enumerate(images):
            if indices[position]:
                groups.setdefault(model.input_size(image.shape[0], image.shape[1], scale), []).append(position)
        for members in groups.values():
            inputs = [scale_inputs(model, images[i], priors[i], scale, config.flip) for i in members]
            batch = torch.cat([i[0] for i in inputs])
            prior = _cat_priors([i[1] for i in inputs], batch)
            with torch.no_grad():
                maps = F.relu(model(batch, prior))
            rows = 2 if config.flip else 1
            for offset, position in enumerate(members):
                picked = maps[offset * rows:(offset + 1) * rows, indices[position]]
                totals[position] += merge_flip(picked, grids[position], config.flip)
    return [
        Localisation(list(c), max_normalise(t).numpy(), image.shape[:2])
        for c, t, image in zip(classes, totals, images)
    ]


def _cat_priors(priors: list[torch.Tensor | None], batch: torch.Tensor) -> torch.Tensor | None:
    if all(p is None for p in priors):
        return None
    rows = batch.shape[0] // len(priors)
    return torch.cat([p if p is not None else torch.full((rows, 2, *batch.shape[-2:]), float("nan")) for p in priors])


# ------------------------------------------------------------------------------------- Grad-CAM


def gradcam_per_scale(model: CamModel) -> PerScale:
    """Grad-CAM (eq. 2.2 with Selvaraju's pooled channel weights) on the CAM classifier's features.

    The class score is the spatial sum of ReLU(Z_c), as in AdvCAM's gradCAM.py. With privobf's
    bias-free 1x1 head this equals CAM up to a positive factor wherever Z_c > 0 (dissertation §3);
    it differs where priors or a DRS/FUM refiner make the head non-linear in the features."""

    def run(images: torch.Tensor, priors: torch.Tensor | None, indices: list[int]) -> torch.Tensor:
        with torch.enable_grad():
            features = model.features(images).detach().requires_grad_(True)
            maps = model.class_maps(features, priors)[:, indices]
            out = []
            for k in range(len(indices)):
                score = F.relu(maps[:, k]).sum()
                (gradient,) = torch.autograd.grad(score, features, retain_graph=k < len(indices) - 1)
                weights = gradient.mean(dim=(2, 3), keepdim=True)
                out.append(F.relu((weights * features).sum(1)))
            return torch.stack(out, 1).detach()

    return run


# ------------------------------------------------------------------------------------- registry


@dataclass
class SeedContext:
    """What a seed method may need beyond the photo. dataset: the training items (`.image` uint8,
    `.labels` ids), from which RIB draws its auxiliary batch; seed: for methods that sample."""

    dataset: Sequence[Any] | None = None
    seed: int = 0


class SeedFunction(Protocol):
    def __call__(
        self, model: CamModel, pixels: np.ndarray, classes: Sequence[str], priors: Priors,
        config: Any, attribution: AttributionConfig, context: SeedContext,
    ) -> Localisation: ...


@dataclass
class SeedMethod:
    """A registered seed method: its function and its config dataclass (the published defaults)."""

    name: str
    function: SeedFunction
    config_type: type
    description: str

    def default_config(self, **options: Any) -> Any:
        return self.config_type(**options)


SEED_METHODS: dict[str, SeedMethod] = {}
_BUILTIN_MODULES = ("advcam", "rib", "ficklenet")


def register_seed_method(name: str, config_type: type, description: str) -> Callable[[SeedFunction], SeedFunction]:
    def decorator(function: SeedFunction) -> SeedFunction:
        if name in SEED_METHODS:
            raise ValueError(f"seed method {name!r} is registered twice")
        SEED_METHODS[name] = SeedMethod(name, function, config_type, description)
        return function

    return decorator


def seed_method(name: str) -> SeedMethod:
    """The registered method `name` (built-ins are imported on first use)."""
    if name not in SEED_METHODS:
        import importlib

        for module in _BUILTIN_MODULES:
            importlib.import_module(f"{__package__}.{module}")
    if name not in SEED_METHODS:
        raise ValueError(f"unknown seed method {name!r}; available: {', '.join(list_seed_methods())}")
    return SEED_METHODS[name]


def list_seed_methods() -> list[str]:
    seed_method("cam")
    return sorted(SEED_METHODS)


def config_from_options(config_type: type, options: Mapping[str, str]) -> Any:
    """A method's config from `key=value` strings (CLI `--option`), converted to the fields' types."""
    fields = {f.name: f for f in dataclasses.fields(config_type)}
    values: dict[str, Any] = {}
    for key, text in options.items():
        if key not in fields:
            raise ValueError(f"{config_type.__name__} has no option {key!r}; options: {', '.join(fields)}")
        default = getattr(config_type(), key)
        values[key] = _convert(text, default, key)
    return config_type(**values)


def _convert(text: str, default: Any, key: str) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            return tuple(float(v) for v in text.split(","))
        if default is None:  # an optional number (None = "not set")
            for kind in (int, float):
                try:
                    return kind(text)
                except ValueError:
                    pass
        return text
    except ValueError:
        raise ValueError(f"option {key}={text!r} is not a {type(default).__name__}") from None


@dataclass
class NoOptions:
    """CAM and Grad-CAM have no options beyond scales and flip."""


@register_seed_method("cam", NoOptions, "class activation maps (eq. 2.1), multi-scale + flip")
def cam(model, pixels, classes, priors, config, attribution, context) -> Localisation:
    return cam_many(model, [pixels], [list(classes)], attribution, [priors])[0]


@register_seed_method("gradcam", NoOptions, "Grad-CAM (eq. 2.2) on the CAM classifier's features")
def gradcam(model, pixels, classes, priors, config, attribution, context) -> Localisation:
    return accumulate(model, pixels, classes, gradcam_per_scale(model), attribution, priors)
