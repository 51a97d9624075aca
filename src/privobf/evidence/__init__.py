"""Detector evidence: what the off-the-shelf detectors found, as regions that decide with the model.

PrivObfNet (the paper) uses detectors only to weight its attention maps. privobf's default
("evidence" fusion) also treats every face, person, plate and text region a detector finds as evidence
of its own: an attribute is present when the classifier or the linked detectors say so (a calibrated
noisy-OR), and where regions exist the attribute's mask is their shapes at full resolution. The links,
the rule and the calibration are written down in docs/design-decisions.md (§ Evidence fusion);
`--fusion paper` keeps the paper's behaviour for reproduction and ablation.
"""

from .fusion import FUSION_MODES, FusionConfig, fuse
from .links import linked_kinds, providers_for
from .regions import Region, regions_from_result

__all__ = ["FUSION_MODES", "FusionConfig", "Region", "fuse", "linked_kinds", "providers_for", "regions_from_result"]
