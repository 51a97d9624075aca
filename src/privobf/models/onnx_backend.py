"""Model-Image through ONNX Runtime: an optional inference backend (the `privobf[onnx]` extra).

What is exported: the backbone, the feature refiner and the CAM classifier, i.e. images -> raw
attention maps and pooled features, with batch, height and width dynamic. The prior weighting and
the two small heads run in torch on the graph's outputs (`PrivObfBranch.heads`), because
`weight_by_priors` area-resamples the priors to the map size, an adaptive pooling whose output size
follows the input size; the TorchScript exporter refuses a non-constant output size. One graph then
serves images with and without priors (NaN priors = not applied, as in the model).

Exporter: torch.onnx's TorchScript exporter (`dynamo=False`). The default dynamo exporter did not
finish in 10 minutes on the EfficientNet-Lite0 backbone (torch 2.13): its TF "same" padding is
computed from the input size in every convolution, and the symbolic shape reasoning over those
expressions (sympy) never converged, even with height and width declared multiples of the stride.
Tracing records that padding half as constants of the example size (`math.ceil` leaves the graph),
so the exported copy pads by fixed amounts instead (:func:`_fixed_padding`): for every size that is
a multiple of the backbone's output stride each stride-2 convolution sees an even size, and the TF
padding is the same as at the example. The scanner only feeds such sizes (`model_input_size`);
:class:`OnnxImageRunner` refuses others.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import os
import warnings
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_write
from ..cachedir import default_cache_dir
from .privobfnet import ImageModel

EXPORT_FORMAT = 1  # bump when what the graph computes changes: old cache entries are then not reused
ONNX_EXTRA_HINT = "the ONNX backend needs onnx, onnxscript and onnxruntime: pip install 'privobf[onnx]'"
ScannerTensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]  # + raw maps


class _MapsAndFeatures(nn.Module):
    """The exported part of Model-Image: images -> (raw attention maps [B, K, h, w], pooled features [B, C])."""

    def __init__(self, branch: nn.Module):
        super().__init__()
        self.branch = branch

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.branch.maps_and_features(images)


class _FixedPadConv(nn.Module):
    """A `SameConv2d` whose TF padding was computed once, so tracing records no size arithmetic."""

    def __init__(self, conv: nn.Conv2d, pads: tuple[int, int, int, int]):
        super().__init__()
        self.conv = conv
        self.pads = pads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.Conv2d.forward(self.conv, F.pad(x, self.pads))


def _fixed_padding(model: ImageModel, example: torch.Tensor) -> nn.Module:
    """A copy of the branch with each `SameConv2d` padding by what it pads at the example size."""
    from .backbones.efficientnet_lite import SameConv2d

    branch = copy.deepcopy(model.branch).eval()
    sizes: dict[str, torch.Size] = {}
    hooks = [
        module.register_forward_pre_hook(lambda _, args, name=name: sizes.__setitem__(name, args[0].shape[-2:]))
        for name, module in branch.named_modules() if isinstance(module, SameConv2d)
    ]
    with torch.no_grad():
        branch.backbone(example)
    for hook in hooks:
        hook.remove()
    for name, (height, width) in sizes.items():
        conv = branch.get_submodule(name)
        parent, _, attribute = name.rpartition(".")
        pads = (*conv._pad(width, 1), *conv._pad(height, 0))
        setattr(branch.get_submodule(parent), attribute, _FixedPadConv(conv, pads))
    return branch


def finish_forward(model: ImageModel, raw_maps: torch.Tensor, pooled: torch.Tensor, priors: torch.Tensor | None) -> ScannerTensors:
    """The part of the forward pass the graph leaves out (prior weighting and the small heads), in torch."""
    output = model.branch.heads(raw_maps, pooled, priors)
    return output.attention_maps, model.branch.attribute_probabilities(output), output.privacy, output.raw_maps


def _require_onnx() -> None:
    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"{ONNX_EXTRA_HINT} (missing: {', '.join(missing)})")


def _example_size(model: ImageModel) -> tuple[int, int]:
    stride = model.branch.backbone.output_stride
    return 4 * stride, 6 * stride


def export_onnx(model: ImageModel, path: str | os.PathLike) -> Path:
    """Write the exported graph to `path` atomically (a reader never sees half a file)."""
    _require_onnx()
    path = Path(path)
    model.eval()
    example = torch.rand(1, 3, *_example_size(model))
    axes = {0: "batch", 2: "height", 3: "width"}

    def write(temp: Path) -> None:
        # TracerWarnings on shape checks are expected: the padding they feed is fixed, and the numerical
        # check (`max_abs_difference`) is what shows the graph right at other sizes.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                _MapsAndFeatures(_fixed_padding(model, example)), (example,), str(temp), dynamo=False, opset_version=18,
                input_names=["images"], output_names=["raw_maps", "pooled_features"],
                dynamic_axes={"images": axes, "raw_maps": axes, "pooled_features": {0: "batch"}},
            )

    atomic_write(path, write)
    return path


class OnnxImageRunner:
    """An ONNX Runtime session on an exported graph, called like the scanner calls the model."""

    def __init__(self, model: ImageModel, path: str | os.PathLike):
        _require_onnx()
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        # Photos of many sizes would grow the arena to the largest one seen and keep it.
        options.enable_cpu_mem_arena = False
        self.model = model
        self.path = Path(path)
        self.stride = model.branch.backbone.output_stride
        self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])

    def __call__(self, images: torch.Tensor, priors: torch.Tensor | None = None) -> ScannerTensors:
        """images [B, 3, H, W] (H, W multiples of the output stride), priors [B, 2, H', W'] or None ->
        (attention maps before relu, attribute probabilities, privacy [B, P] or None, raw maps before relu)."""
        height, width = images.shape[-2:]
        if height % self.stride or width % self.stride:
            raise ValueError(f"ONNX backend: input {height}x{width} is not a multiple of the stride {self.stride}")
        raw_maps, pooled = self.session.run(None, {"images": images.detach().cpu().float().numpy()})
        with torch.no_grad():
            return finish_forward(self.model, torch.from_numpy(raw_maps), torch.from_numpy(pooled), priors)


def model_digest(model: ImageModel) -> str:
    """The sha256 its loader recorded, else a hash of the weights (a model built in memory)."""
    digest = getattr(model, "source", {}).get("sha256")
    if digest:
        return str(digest)
    hasher = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        hasher.update(name.encode())
        hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()[:16]


def cached_onnx_path(model: ImageModel) -> Path:
    version = torch.__version__.replace("+", "-")
    return default_cache_dir() / "onnx" / f"{model_digest(model)}-torch{version}-v{EXPORT_FORMAT}.onnx"


def onnx_runner_for(model: ImageModel) -> OnnxImageRunner:
    """A runner for `model`, exported into the cache on first use and reused afterwards."""
    _require_onnx()
    path = cached_onnx_path(model)
    if not path.is_file():
        export_onnx(model, path)
    return OnnxImageRunner(model, path)


def max_abs_difference(
    model: ImageModel, runner: OnnxImageRunner, sizes: Sequence[tuple[int, int]] | None = None, seed: int = 0
) -> dict[str, float]:
    """Largest |onnx - torch| per output over random images at `sizes` (default: two sizes, multiples
    of the stride), each without priors and with priors of which one image's text channel is NaN."""
    stride = model.branch.backbone.output_stride
    sizes = sizes or [(4 * stride, 6 * stride), (7 * stride, 5 * stride)]
    generator = torch.Generator().manual_seed(seed)
    worst = {"attention": 0.0, "probabilities": 0.0, "privacy": 0.0}
    model.eval()
    for height, width in sizes:
        images = torch.rand(2, 3, height, width, generator=generator)
        priors = torch.rand(2, 2, height, width, generator=generator)
        priors[1, 1] = float("nan")
        for prior in (None, priors):
            with torch.no_grad():
                output = model(images, prior)
                expected = (output.attention_maps, model.branch.attribute_probabilities(output), output.privacy)
            for name, got, want in zip(worst, runner(images, prior), expected):
                if want is not None:
                    worst[name] = max(worst[name], float((got - want).abs().max()))
    return worst
