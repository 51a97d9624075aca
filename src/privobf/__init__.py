"""privobf: find what a photo reveals about people and hide exactly that.

    import privobf
    report = privobf.scan("photo.jpg")                     # PrivacyReport: score, attributes, masks
    hidden = privobf.obfuscate(image, report, hide=["a9_face_complete"], mode="blur")

`scan` uses the embedded default model unless `model=` names another; see `privobf.scanning.Scanner`
to reuse one loaded model for many images.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from .report import PrivacyReport


def scan(image: Any, model: Any = None, **kwargs: Any) -> "PrivacyReport":
    """Scan one image (uint8 H×W×3 array or a path) -> PrivacyReport. See `privobf.scanning.scan`."""
    from .scanning import scan as _scan

    return _scan(image, model, **kwargs)


def obfuscate(image: Any, report: "PrivacyReport", hide: Any = None, mode: Any = "solid", **kwargs: Any) -> Any:
    """Hide the chosen attributes of `report` in `image`; pixels outside the masks stay bit-exact."""
    from .obfuscation import obfuscate as _obfuscate

    return _obfuscate(image, report, hide, mode, **kwargs)


__all__ = ["__version__", "obfuscate", "scan"]
