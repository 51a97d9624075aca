"""Feature-extractor backbones, built by name through :func:`create_backbone`."""

from .registry import Backbone, create_backbone, list_backbones, load_weight_file, register_backbone

# Importing the modules registers their backbones.
from . import resnet as _resnet  # noqa: F401
from . import resnet38 as _resnet38  # noqa: F401
from . import tiny as _tiny  # noqa: F401
from .efficientnet_lite import efficientnet_lite0_imagenet_classifier

__all__ = [
    "Backbone",
    "create_backbone",
    "efficientnet_lite0_imagenet_classifier",
    "list_backbones",
    "load_weight_file",
    "register_backbone",
]
