"""Inference: a photo in, a :class:`PrivacyReport` out (privacy score, attributes, per-attribute maps).

Only Model-Image is used (paper §3.1). Multi-scale + flip runs every scale's original and
mirrored image as one batch, and the maps of all passes are summed at the base map resolution
before each attribute's map is max-normalised to [0, 1] (the CAM convention of the WSSS lineage).

With evidence fusion (the default, `privobf.evidence`) the detectors that computed the priors also
give regions, which decide presence with the classifier and shape the masks; `fusion="paper"` gives
the paper's report, with the priors only weighting the maps.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .attributes import UserProfiles, Vocabulary, vispr_profiles, vocabulary_from_ids
from .attributes.vocabulary import MaskType
from .data.batching import image_to_tensor
from .evidence import FusionConfig, Region, fuse, regions_from_result
from .evidence.appearance import derived_attributes
from .evidence.people import people_around_faces
from .evidence.plates import is_plate_line, plates_from_text, without_text
from .evidence.reading import reading_regions
from .models.config import InferenceConfig
from .models.loading import load_image_model
from .models.privobfnet import ImageModel
from .report import PrivacyReport

if TYPE_CHECKING:
    from .priors import PriorMaps, PriorSet
    from .segmentation.mask_source import SegmentationMaskSource

ImageInput = np.ndarray | str | os.PathLike


def model_input_size(height: int, width: int, long_side: int, stride: int) -> tuple[int, int]:
    """Keep the aspect ratio, long side = `long_side`, both sides multiples of the stride."""
    scale = long_side / max(height, width)
    return (
        max(stride * 2, int(round(height * scale / stride)) * stride),
        max(stride * 2, int(round(width * scale / stride)) * stride),
    )


def stack_priors(priors: Mapping[str, np.ndarray | None] | None, size: tuple[int, int]) -> torch.Tensor | None:
    """{"human": [H, W], "text": [H, W]} -> [1, 2, h, w]; a missing prior is NaN (= not applied)."""
    if not priors or all(priors.get(k) is None for k in ("human", "text")):
        return None
    channels = []
    for key in ("human", "text"):
        prior = priors.get(key)
        if prior is None:
            channels.append(torch.full(size, float("nan")))
        else:
            tensor = torch.from_numpy(np.ascontiguousarray(prior, dtype=np.float32))[None, None]
            channels.append(F.interpolate(tensor, size=size, mode="area")[0, 0].clamp(0, 1))
    return torch.stack(channels)[None]


BACKENDS = ("torch", "onnx")


class Scanner:
    """Holds a loaded model and scans images with it; reuse one Scanner for many images."""

    def __init__(
        self,
        model: ImageModel | str | os.PathLike | None = None,
        *,
        inference: InferenceConfig | None = None,
        profile: int | str | None = None,
        profiles: UserProfiles | None = None,
        device: str = "cpu",
        prior_set: "PriorSet | None" = None,
        backend: str = "torch",
        segmentation: "SegmentationMaskSource | str | os.PathLike | None" = None,
        fusion: FusionConfig | str = "evidence",
    ):
        """prior_set: providers whose human / text masks are computed for every scanned image when the
        caller passes no priors (None: the model runs without priors). backend: "torch", or "onnx" for
        the model through ONNX Runtime (exported once into the cache; needs the privobf[onnx] extra).
        segmentation: a network from `privobf train-seg` (file or loaded mask source) that gives the masks
        of the attributes it knows; the classifier still decides presence and score. It runs in torch
        whatever the backend. fusion: "evidence" (detector regions decide with the classifier and shape the
        masks), "paper" (priors only weight the maps), or a FusionConfig."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.model = model if isinstance(model, ImageModel) else load_image_model(model)
        self.model.to(device).eval()
        self.device = device
        self.backend = backend
        self.onnx_runner = None
        if backend == "onnx":
            from .models.onnx_backend import onnx_runner_for

            self.onnx_runner = onnx_runner_for(self.model)
        preset_inference = getattr(self.model, "preset", None)
        self.inference = inference or (preset_inference.inference if preset_inference else InferenceConfig())
        self.fusion = fusion if isinstance(fusion, FusionConfig) else FusionConfig(mode=fusion)
        self.vocabulary = scanner_vocabulary(self.model.attribute_ids, self.fusion)
        # Appearance attributes the model lacks, with P(attribute | face) from VISPR's labels (issue 19).
        self.derived = {} if self.fusion.paper else derived_attributes(self.model.attribute_ids)
        self.own_profiles = profiles is not None  # the user's ratings, not the VISPR profiles the head learnt
        self.profiles = profiles or vispr_profiles(self.vocabulary)
        self.profile = profile
        self.prior_set = prior_set
        if isinstance(segmentation, (str, os.PathLike)):
            from .segmentation.mask_source import load_mask_source

            segmentation = load_mask_source(segmentation, self.model.attribute_ids, device=device)
        self.segmentation = segmentation
        kinds = {MaskType.HUMAN: "human", MaskType.TEXT: "text"}  # the prior that weights each attribute's map
        self.prior_of = {a.id: kinds[a.mask_type] for a in self.vocabulary if a.mask_type in kinds}

    @torch.inference_mode()
    def predict(self, image: np.ndarray, priors: Mapping[str, np.ndarray | None] | None = None) -> dict[str, Any]:
        """Raw outputs for one uint8 [H, W, 3] image: maps [K, h, w], probabilities [K], profile scores [P] or None."""
        return self.predict_many([image], [priors])[0]

    @torch.inference_mode()
    def predict_many(
        self, images: Sequence[np.ndarray], priors: Sequence[Mapping[str, np.ndarray | None] | None] | None = None
    ) -> list[dict[str, Any]]:
        """:meth:`predict` for several images, batched: at each scale, the images that share a model input
        size (a folder of photos from one camera) go through the network in one forward pass, mirrored
        copies included. Results equal one-by-one prediction up to float rounding."""
        priors = list(priors) if priors is not None else [None] * len(images)
        if len(priors) != len(images):
            raise ValueError(f"{len(images)} images but {len(priors)} prior entries")
        config = self.model.config
        stride = self.model.branch.backbone.output_stride
        shapes = [image.shape[:2] for image in images]
        map_sizes = [
            tuple(side // stride for side in model_input_size(h, w, config.image_size, stride)) for h, w in shapes
        ]
        maps_sum: list[torch.Tensor | None] = [None] * len(images)
        raw_sum: list[torch.Tensor | None] = [None] * len(images)
        probabilities: list[list[torch.Tensor]] = [[] for _ in images]
        privacies: list[list[torch.Tensor]] = [[] for _ in images]
        for scale in self.inference.scales:
            long_side = int(round(config.image_size * scale))
            groups: dict[tuple[int, int], list[int]] = {}
            for index, (h, w) in enumerate(shapes):
                groups.setdefault(model_input_size(h, w, long_side, stride), []).append(index)
            for size, members in groups.items():
                attention, probability, privacy, raw, count = self._forward(images, priors, members, size)
                attention, raw = F.relu(attention.float()), F.relu(raw.float())
                probability = probability.float()
                for position, index in enumerate(members):
                    rows = [position, position + count] if self.inference.flip else [position]
                    merged = self._merged(attention, rows, map_sizes[index])
                    maps_sum[index] = merged if maps_sum[index] is None else maps_sum[index] + merged
                    merged_raw = self._merged(raw, rows, map_sizes[index])
                    raw_sum[index] = merged_raw if raw_sum[index] is None else raw_sum[index] + merged_raw
                    probabilities[index].append(probability[rows].mean(0))
                    if privacy is not None:
                        privacies[index].append(privacy.float()[rows].mean(0))
        results = []
        for index in range(len(images)):
            results.append({
                "attention_maps": _max_normalised(maps_sum[index]),
                "raw_maps": _max_normalised(raw_sum[index]),
                "probabilities": torch.stack(probabilities[index]).mean(0).cpu().numpy().astype(np.float32),
                "profile_scores": (
                    torch.stack(privacies[index]).mean(0).cpu().numpy().astype(np.float32) if privacies[index] else None
                ),
            })
        return results

    def _merged(self, maps: torch.Tensor, rows: list[int], size: tuple[int, int]) -> torch.Tensor:
        """One image's maps at the base map size, its mirrored pass flipped back and added."""
        resized = F.interpolate(maps[rows], size=size, mode="bilinear", align_corners=False)
        return resized[0] + (resized[1].flip(-1) if self.inference.flip else 0)

    def _forward(self, images, priors, members: list[int], size: tuple[int, int]):
        """One forward pass over `members` at `size`: originals first, then (with flip) their mirrors.
        Returns (attention maps before relu, attribute probabilities, privacy or None, raw maps before relu
        and prior weighting, len(members))."""
        tensor = torch.stack([image_to_tensor(images[i], size) for i in members])
        stacked = [stack_priors(priors[i], size) for i in members]
        prior = None
        if any(p is not None for p in stacked):
            prior = torch.cat([p if p is not None else torch.full((1, 2, *size), float("nan")) for p in stacked])
        if self.inference.flip:
            tensor = torch.cat([tensor, tensor.flip(-1)])
            prior = None if prior is None else torch.cat([prior, prior.flip(-1)])
        if self.onnx_runner is not None:
            return (*self.onnx_runner(tensor, prior), len(members))
        output = self.model(tensor.to(self.device), None if prior is None else prior.to(self.device))
        probabilities = self.model.branch.attribute_probabilities(output)
        return output.attention_maps, probabilities, output.privacy, output.raw_maps, len(members)

    def _seen_by_privacy_head(self, model_probabilities: np.ndarray) -> np.ndarray:
        """The model's probabilities of the attributes its privacy head takes in, zero for the rest (those
        taught on the frozen network after training, `privobf.train.extend`, and those the model lacks)."""
        seen = np.array(model_probabilities, dtype=np.float32, copy=True)
        seen[self.model.branch.n_base:] = 0.0
        return seen

    def scan(self, image: ImageInput, priors: Mapping[str, np.ndarray | None] | None = None) -> PrivacyReport:
        """Scan one image (array or path); `priors` gives its human / text masks directly, else the
        scanner's prior set computes them (or none run)."""
        if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
            pixels = image
        else:
            from .imageio import load_image

            pixels = load_image(image).pixels
        prepared = given_priors(priors) if priors is not None else compute_priors(self.prior_set, pixels)
        return self.scan_many([pixels], [prepared])[0]

    def scan_many(self, images: Sequence[np.ndarray], priors: Sequence["ImagePriors"]) -> list[PrivacyReport]:
        """Reports for uint8 RGB images whose priors were prepared already (e.g. in worker processes),
        with the model batched (:meth:`predict_many`)."""
        raws = self.predict_many(images, [p.maps for p in priors])
        return [self._report(pixels, raw, prepared) for pixels, raw, prepared in zip(images, raws, priors)]

    def _report(self, pixels: np.ndarray, raw: dict[str, Any], prepared: "ImagePriors") -> PrivacyReport:
        notes = list(prepared.notes)
        raw = padded(raw, len(self.vocabulary))
        fused = fuse(raw["probabilities"], prepared.regions, self.vocabulary, self.fusion, read=prepared.read,
                     derived=self.derived, read_lines=prepared.read_lines)
        profile_scores = raw["profile_scores"]
        if profile_scores is None or self.own_profiles:
            # No privacy head, or the user's own ratings (the head learnt the VISPR profiles): the score
            # follows from the attribute probabilities and the profiles.
            profile_scores = self.profiles.scores(fused.probabilities, "max")
            why = "the model has no privacy head" if raw["profile_scores"] is None else "own sensitivity profile"
            notes.append(f"privacy score derived from attribute probabilities ({why})")
        elif any(fused.model_probabilities[k] >= self.inference.attribute_threshold > fused.probabilities[k]
                 for k in (self.vocabulary.index(a) for a in fused.read)):
            # Reading overruled the classifier on text it had judged present by its look (a textbook page scored
            # as an address): the privacy head saw the same look, so the score is the profiles' score of the fused
            # attributes instead (VISPR's max pooling), as for a model without a head.
            profile_scores = self.profiles.scores(fused.probabilities, "max")
            notes.append("privacy score derived from the fused attributes (reading decided text attributes the "
                         "privacy head had judged by their look)")
        elif (fused.probabilities > self._seen_by_privacy_head(fused.model_probabilities) + 1e-6).any():
            # Evidence raised an attribute the classifier doubted (a detected face counts like a predicted one), or
            # the model found an attribute its privacy head never learnt (a document type taught later): the
            # score is at least what the profiles give the fused attributes (VISPR's max pooling).
            derived = self.profiles.scores(fused.probabilities, "max")
            if (derived > profile_scores).any():
                profile_scores = np.maximum(profile_scores, derived).astype(np.float32)
                notes.append("privacy score raised by detector evidence or attributes the privacy head does not "
                             "see (at least the profiles' score of the fused attributes)")
        if self.profile is None:
            score = float(np.mean(profile_scores))
        else:
            index = self.profiles.profile_index(self.profile) if isinstance(self.profile, str) else int(self.profile)
            score = float(profile_scores[index])
        values = dict(
            image_size=(int(pixels.shape[0]), int(pixels.shape[1])),
            attribute_ids=list(self.vocabulary.ids),
            probabilities=fused.probabilities,
            attention_maps=raw["attention_maps"],
            privacy_score=score,
            profile_scores=profile_scores,
            attribute_threshold=self.inference.attribute_threshold,
            mask_threshold=self.inference.mask_threshold,
            model={**getattr(self.model, "source", {}), "backend": self.backend},
            priors=prepared.record,
            notes=notes,
        )
        if self.segmentation is not None:
            values.update(
                segmentation_maps=self.segmentation.maps(pixels, flip=self.inference.flip),
                segmentation_threshold=self.segmentation.threshold,
                segmentation=self.segmentation.describe(),
            )
        if self.fusion.paper:
            if self.segmentation is None:
                return PrivacyReport(**values)
            from .segmentation.mask_source import SegmentedReport

            return SegmentedReport(**values)
        from .evidence.report import EvidenceReport

        available = tuple(name for name in ("human", "text") if prepared.record.get(name) in ("computed", "given"))
        given = {name: prepared.maps[name] for name in available
                 if prepared.record.get(name) == "given" and prepared.maps and prepared.maps.get(name) is not None}
        return EvidenceReport(
            given_priors=given,
            **values, regions=list(prepared.regions), fusion=self.fusion, fused=fused, raw_maps=raw["raw_maps"],
            prior_of=self.prior_of, priors_available=available, prior_floor=float(self.model.config.prior_floor),
        )


def scanner_vocabulary(model_ids: Sequence[str], fusion: FusionConfig) -> "Vocabulary":
    """The attributes a scanner reports: the model's, and in evidence fusion every VISPR attribute a text
    recogniser reports that the model lacks (issue 18: `--hide a90_email` works with the embedded model) and
    the appearance attributes VISPR's label statistics derive from a face (issue 19,
    `privobf.evidence.appearance`). Those have no map and a model probability of 0: reading alone decides
    the first, where a photo was read; the face decides the second."""
    if fusion.paper:
        return vocabulary_from_ids(list(model_ids))
    from .evidence.appearance import derived_attributes
    from .evidence.links import readable_ids

    read = readable_ids() - set(model_ids)
    added = (read | set(derived_attributes(model_ids))) - set(model_ids)
    vocabulary = vocabulary_from_ids(list(model_ids) + sorted(added))
    # What this scanner grounds only by reading is shown as writing here, whatever VISPR's mask type says (an
    # occupation is Human-type for its uniforms; read, it is a job title): `--hide text` holds it, `--hide
    # people` does not (and so does not start the reader), and it is filled solid.
    return Vocabulary([dataclasses.replace(a, mask_type=MaskType.TEXT, mask_type_reason="read by this scanner")
                       if a.id in read and a.mask_type != MaskType.TEXT and a.group != "Documents" else a
                       for a in vocabulary], vocabulary.name)


def padded(raw: dict[str, Any], count: int) -> dict[str, Any]:
    """The model's outputs with zero probabilities and empty maps for the attributes it does not know (the last
    ones of the scanner's vocabulary)."""
    missing = count - len(raw["probabilities"])
    if missing <= 0:
        return raw
    grown = dict(raw)
    grown["probabilities"] = np.concatenate([raw["probabilities"], np.zeros(missing, np.float32)])
    for key in ("attention_maps", "raw_maps"):
        maps = raw[key]
        grown[key] = np.concatenate([maps, np.zeros((missing, *maps.shape[1:]), maps.dtype)])
    return grown


@dataclass
class ImagePriors:
    """One image's priors as the scanner needs them: the model's two maps, the report's record, notes.

    Small enough to send between processes: `compute_priors` shrinks the maps (the model never sees
    them larger than its input)."""

    maps: dict[str, np.ndarray | None] | None
    record: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)  # the detectors' instances, at image resolution
    read: bool = False  # a reading provider read this photo: its text attributes are decided by what it says
    read_lines: int = 0  # how many lines it read


# What reading understands, said in every report where it ran (issue 18, item 6; docs/usage.md § Limits of reading).
READING_LIMITS = ("Latin script, English-first recognisers (with Malaysian, UK, German and US address and date "
                  "conventions); text in other scripts or languages is detected but nothing in it is hidden as a "
                  "text attribute")
PRIOR_MAP_MAX_SIDE = 1024  # > the largest model input (448 x 1.5 scale); area-shrunk maps keep their means


def compute_priors(prior_set: "PriorSet | None", pixels: np.ndarray) -> ImagePriors:
    """Run the providers on one image (or record that priors are off)."""
    if prior_set is None:
        return ImagePriors(None, {"human": "off", "text": "off"})
    maps = prior_set(pixels)
    notes = [f"prior provider {name} unavailable: {why}" for name, why in prior_set.unavailable.items()]
    notes += [f"prior provider {name} failed on this image: {why}" for name, why in maps.errors.items()]
    shrunk = {key: _shrunk(value) for key, value in maps.for_model().items()}
    kinds = {name: provider.kind for name, provider in prior_set.providers.items()}
    regions = [region for name, result in maps.results.items() for region in regions_from_result(name, kinds[name], result)]
    wanted = prior_set.evidence_kinds
    if wanted is None or "person" in wanted:  # a second segmenter pass per face: only when people are evidence
        regions += people_around_faces(pixels, regions, prior_set.providers)
    if wanted is None or "plate" in wanted:
        regions += plates_from_text(regions, pixels.shape[:2])
        if any(kinds[name] == "text" for name in maps.results):  # a text detector looked: boxes without text
            regions = without_text(regions)
    plate_boxes = [region.box for region in regions if region.kind == "plate" and not is_plate_line(region)]
    read = [name for name in maps.results if prior_set.reads(name)]
    record = prior_summary(maps, prior_set)
    for name in read:
        found = reading_regions(name, maps.results[name], plate_boxes)
        regions += found
        record.setdefault("reading", {})[name] = {"lines": len(maps.results[name].texts), "findings": len(found),
                                                  "limits": READING_LIMITS}
    lines = sum(len(maps.results[name].texts) for name in read)
    return ImagePriors(shrunk, record, notes, regions, read=bool(read), read_lines=lines)


def given_priors(priors: Mapping[str, np.ndarray | None]) -> ImagePriors:
    return ImagePriors(dict(priors), {k: ("given" if v is not None else "absent") for k, v in priors.items()})


def _max_normalised(maps: torch.Tensor) -> np.ndarray:
    """float32 [K, h, w]: each map divided by its maximum (the CAM convention)."""
    maxima = maps.flatten(1).max(dim=1).values.clamp(min=1e-5)
    return (maps / maxima[:, None, None]).cpu().numpy().astype(np.float32)


def _shrunk(prior: np.ndarray | None) -> np.ndarray | None:
    if prior is None or max(prior.shape) <= PRIOR_MAP_MAX_SIDE:
        return prior
    import cv2

    scale = PRIOR_MAP_MAX_SIDE / max(prior.shape)
    size = (max(1, round(prior.shape[1] * scale)), max(1, round(prior.shape[0] * scale)))
    return cv2.resize(np.asarray(prior, dtype=np.float32), size, interpolation=cv2.INTER_AREA)


def prior_summary(maps: "PriorMaps", prior_set: "PriorSet") -> dict[str, Any]:
    """The report's record of the priors: which providers ran (versions), what each found, how long it took."""
    return {
        "human": "computed" if maps.human is not None else "absent",
        "text": "computed" if maps.text is not None else "absent",
        **prior_set.describe(),
        "detections": {name: len(result.boxes) for name, result in maps.results.items()},
        "seconds": {name: round(value, 4) for name, value in maps.seconds.items()},
        "errors": dict(maps.errors),
    }


_DEFAULT_PRIORS = object()
_shared_scanners: dict[bool, Scanner] = {}  # the embedded model with / without the default priors


def scan(
    image: ImageInput,
    model: ImageModel | str | os.PathLike | None = None,
    *,
    priors: Mapping[str, np.ndarray | None] | None = None,
    prior_set: "PriorSet | None | object" = _DEFAULT_PRIORS,
    **kwargs: Any,
) -> PrivacyReport:
    """Scan one image (array or path) with `model` (default: the embedded model).

    Like `privobf scan`, the default providers compute the human / text priors; `prior_set=None`
    turns them off, a `PriorSet` of your own replaces them, and `priors={"human": ..., "text": ...}`
    gives this image's masks directly. The embedded model is loaded once per process.
    """
    from .priors import PriorSet

    default_priors = prior_set is _DEFAULT_PRIORS
    if model is None and not kwargs and (default_priors or prior_set is None):
        if default_priors not in _shared_scanners:
            _shared_scanners[default_priors] = Scanner(prior_set=PriorSet() if default_priors else None)
        return _shared_scanners[default_priors].scan(image, priors)
    return Scanner(model, prior_set=PriorSet() if default_priors else prior_set, **kwargs).scan(image, priors)
