"""Backbone base class, name registry and user weight-file loading.

Every model in the project (attribute classifiers, CAM generators, segmenters)
receives its feature extractor from :func:`create_backbone`, so swapping
backbones is a configuration change, not a code change.  The base class owns
input normalisation because each set of pretrained weights was trained with its
own statistics and callers should never have to know which.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = [
    "Backbone",
    "BackboneFactory",
    "create_backbone",
    "list_backbones",
    "load_weight_file",
    "register_backbone",
]

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Backbone(nn.Module):
    """A feature extractor taking RGB images in [0, 1].

    Subclasses set :attr:`out_channels`, :attr:`output_stride` and
    :attr:`stage_channels`, and implement :meth:`_stages`, which receives the
    already normalised images.  :meth:`forward` is the last stage, so the two
    entry points can never disagree.
    """

    out_channels: int
    output_stride: int
    stage_channels: tuple[int, ...]
    #: State-dict key prefixes that may appear in a weight file but are not part
    #: of the backbone (classifier layers of the ImageNet checkpoint).
    ignored_weight_prefixes: tuple[str, ...] = ()

    def __init__(
        self,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        # Non-persistent so that state dicts hold only the learnt weights and
        # round-trip with the checkpoint formats users bring.
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)
        # Stage transforms (see set_stage_transform): a plain dict, so that an
        # unhooked backbone pays one emptiness check per stage and its state
        # dict is unchanged.  Transforms that are modules are also registered
        # in ``stage_transform_modules`` (created on first use) so their
        # parameters train, move with .to() and are saved.
        self._stage_transforms: dict[int, Callable[[Tensor], Tensor]] = {}

    def normalise(self, images: Tensor) -> Tensor:
        """Map [0, 1] RGB to the statistics this backbone's weights expect."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape [B, 3, H, W], got {list(images.shape)}")
        return (images - self.pixel_mean) / self.pixel_std

    def _stages(self, x: Tensor) -> list[Tensor]:
        """Every stage's output; implementations call :meth:`_after_stage` at each stage end."""
        raise NotImplementedError

    def set_stage_transform(self, index: int, fn: Callable[[Tensor], Tensor] | None) -> None:
        """Transform stage ``index``'s output before anything downstream sees it.

        ``index`` counts like :meth:`forward_stages` (0 = shallowest, -1 or
        ``len(stage_channels) - 1`` = the final feature map).  The transformed
        tensor is what the next stage consumes *and* what
        :meth:`forward_stages`/:meth:`forward` report, so for example a DRS
        transform on a middle stage changes every deeper feature.  ``None``
        removes the transform at ``index``; setting one replaces the previous.
        A transform that is an :class:`nn.Module` is registered as a submodule
        (its parameters then appear in :meth:`parameters` and the state dict,
        under ``stage_transform_modules.<index>.``); plain callables such as
        the parameter-free DRS leave the module tree untouched.
        """
        index = self._stage_index(index)
        modules = self._modules.get("stage_transform_modules")
        if modules is not None and str(index) in modules:
            del modules[str(index)]
            if not len(modules):
                del self._modules["stage_transform_modules"]
        if fn is None:
            self._stage_transforms.pop(index, None)
            return
        if not callable(fn):
            raise TypeError(f"stage transform must be callable or None, got {type(fn).__name__}")
        if isinstance(fn, nn.Module):
            if "stage_transform_modules" not in self._modules:
                self.stage_transform_modules = nn.ModuleDict()
            self.stage_transform_modules[str(index)] = fn
        self._stage_transforms[index] = fn

    def stage_transforms(self) -> dict[int, Callable[[Tensor], Tensor]]:
        """A copy of the installed transforms, by non-negative stage index."""
        return dict(self._stage_transforms)

    def clear_stage_transforms(self) -> None:
        """Remove every stage transform."""
        for index in list(self._stage_transforms):
            self.set_stage_transform(index, None)

    def _stage_index(self, index: int) -> int:
        count = len(self.stage_channels)
        if isinstance(index, bool) or not isinstance(index, int) or not -count <= index < count:
            raise ValueError(f"stage index must be an int in [{-count}, {count - 1}], got {index!r}")
        return index % count

    def _after_stage(self, index: int, x: Tensor) -> Tensor:
        """Apply the transform installed at stage ``index``, if any (else return ``x``)."""
        # __dict__ lookup: also works for modules unpickled from before hooks existed.
        transforms = self.__dict__.get("_stage_transforms")
        if not transforms:
            return x
        fn = transforms.get(index)
        return x if fn is None else fn(x)

    def forward_stages(self, images: Tensor) -> list[Tensor]:
        """Every stage's output, shallow to deep; the last equals :meth:`forward`."""
        return self._stages(self.normalise(images))

    def forward(self, images: Tensor) -> Tensor:
        return self.forward_stages(images)[-1]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters grouped for optimisers.

        All backbone parameters are "pretrained"; heads that callers add on top
        form their own group and, in WSSS practice, get a 10x learning rate.
        """
        return {"pretrained": [p for p in self.parameters() if p.requires_grad]}


BackboneFactory = Callable[..., Backbone]
_REGISTRY: dict[str, BackboneFactory] = {}


def register_backbone(name: str) -> Callable[[BackboneFactory], BackboneFactory]:
    """Register ``factory(pretrained: bool, output_stride: int | None, **kw)``.

    Factories only ever see ``pretrained`` as a bool: True asks for the weights
    shipped with a package (a factory without such weights raises ValueError);
    user weight files are loaded by :func:`create_backbone` itself so every
    backbone reports mismatches the same way.
    """

    def decorator(factory: BackboneFactory) -> BackboneFactory:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"backbone {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorator


def list_backbones() -> list[str]:
    """Names accepted by :func:`create_backbone`, sorted."""
    return sorted(_REGISTRY)


def create_backbone(
    name: str,
    pretrained: bool | str | os.PathLike = False,
    output_stride: int | None = None,
    **kwargs,
) -> Backbone:
    """Build a registered backbone.

    ``pretrained`` is False (random init), True (weights shipped with a
    package) or a path to a user weight file (``.pth``/``.pt`` loaded with
    ``weights_only=True``, or ``.safetensors``).  ``output_stride=None`` keeps
    the backbone's default.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown backbone {name!r}; available: {', '.join(list_backbones())}")
    factory = _REGISTRY[name]
    if isinstance(pretrained, bool):
        return factory(pretrained=pretrained, output_stride=output_stride, **kwargs)
    if not isinstance(pretrained, (str, os.PathLike)):
        raise TypeError(f"pretrained must be a bool or a path, got {type(pretrained).__name__}")
    backbone = factory(pretrained=False, output_stride=output_stride, **kwargs)
    load_weight_file(backbone, pretrained)
    return backbone


def read_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a state dict without executing pickled code.

    Accepts a bare state dict, or one wrapped under ``state_dict``/``model``
    (common training-checkpoint layouts), and strips the ``module.`` prefix
    that DataParallel adds.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: weight file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj: object = load_file(str(path), device="cpu")
        else:
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means "not a usable weight file"
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: cannot read weights ({first_line})") from err
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def load_weight_file(module: Backbone, path: str | os.PathLike) -> list[str]:
    """Load ``path`` into ``module`` strictly; return the ignored keys.

    Any missing key, shape mismatch or unexpected key (other than the
    backbone's ``ignored_weight_prefixes``) is a ValueError naming the file,
    because a silently half-loaded backbone trains to plausible-looking but
    wrong results.  Missing BatchNorm ``num_batches_tracked`` counters are
    tolerated: converted Caffe/MXNet checkpoints never have them and they do not
    affect the forward pass.
    """
    state = read_state_dict(path)
    return apply_state_dict(module, state, source=str(path))


def apply_state_dict(module: Backbone, state: Mapping[str, Tensor], source: str) -> list[str]:
    """Strictly copy ``state`` into ``module``; errors are prefixed with ``source``."""
    own = module.state_dict()
    ignored = sorted(
        k for k in state if k not in own and k.startswith(module.ignored_weight_prefixes)
    )
    unexpected = sorted(k for k in state if k not in own and k not in ignored)
    missing = sorted(
        k for k in own if k not in state and not k.endswith("num_batches_tracked")
    )
    wrong_shape = sorted(
        k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    )
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (first: {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
    if wrong_shape:
        k = wrong_shape[0]
        problems.append(
            f"{len(wrong_shape)} with wrong shape (first: {k} is {list(state[k].shape)}, "
            f"model needs {list(own[k].shape)})"
        )
    if problems:
        raise ValueError(f"{source}: " + ", ".join(problems))
    to_load = {k: v for k, v in state.items() if k in own}
    module.load_state_dict(to_load, strict=False)
    if ignored:
        log.info("%s: ignored %d keys not used by the backbone (%s, ...)", source, len(ignored), ignored[0])
    return ignored


def no_shipped_weights(name: str) -> ValueError:
    """The error for ``pretrained=True`` on a backbone without packaged weights."""
    return ValueError(
        f"backbone {name!r} has no weights shipped with a package; "
        f"pass pretrained=<path to a weight file> instead"
    )


def check_output_stride(name: str, output_stride: int | None, allowed: Sequence[int], default: int) -> int:
    """Resolve ``output_stride`` (None -> default) or raise a ValueError listing what works."""
    if output_stride is None:
        return default
    if output_stride not in allowed:
        raise ValueError(
            f"backbone {name!r} supports output_stride in {sorted(allowed)}, got {output_stride}"
        )
    return output_stride
