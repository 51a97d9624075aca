"""Detector evidence (issue 17): regions, the fusion rule, masks with the shape of the thing, plan-aware
providers, the paper mode, the report's regions and honest messages about attributes a model lacks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from privobf.attributes import AttributeNotDetectedError, vocabulary_from_ids
from privobf.cli import main
from privobf.evidence import FusionConfig, Region, fuse, providers_for, regions_from_result
from privobf.evidence.regions import silhouettes
from privobf.priors import PriorResult, PriorSet
from privobf.priors.options import prior_set_from_arguments
from privobf.protection import ProtectionPlan, resolve_names
from privobf.report import PrivacyReport
from privobf.scanning import Scanner

REPO = Path(__file__).resolve().parents[1]
FACE = "a9_face_complete"
FACE_BOX = (40.0, 20.0, 80.0, 70.0)


class FakeFaces:
    """A face detector that finds the given boxes (or nothing), with the given confidence."""

    kind, version = "face", "fake-1"

    def __init__(self, boxes=(FACE_BOX,), confidence=0.95, name="fake-face"):
        self.name, self.boxes, self.confidence = name, list(boxes), confidence

    def __call__(self, image):
        mask = np.zeros(image.shape[:2], np.float32)
        for x0, y0, x1, y1 in self.boxes:
            mask[int(y0):int(y1), int(x0):int(x1)] = 1.0
        return PriorResult(mask, list(self.boxes), [self.confidence] * len(self.boxes))


def _photo(seed=0, shape=(96, 128)):
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)


def _uncalibrated(**changes) -> FusionConfig:
    """Detector confidence taken as is (no shipped calibration), fixed shapes: tests do not move with it."""
    return FusionConfig(calibration={}, face_shape="ellipse", face_grow=1.0, face_height_grow=1.0, plate_grow=1.0,
                        person_margin=0.0, **changes)


# ----------------------------------------------------------------------------------------------- regions


def test_regions_keep_each_providers_shape_at_image_resolution():
    result = PriorResult(np.zeros((50, 60), np.float32), [(10.0, 10.0, 30.0, 20.0)], [0.8])
    (plate,) = regions_from_result("haar-plate", "plate", result)
    assert (plate.kind, plate.shape, plate.confidence) == ("plate", "box", 0.8)
    drawn = plate.raster((50, 60))
    assert drawn.sum() == 20 * 10 and drawn[10:20, 10:30].all()
    assert plate.raster((50, 60), grow=2.0).sum() == 40 * 20  # grown about the centre
    (face,) = regions_from_result("centerface", "face", result)
    assert face.shape == "ellipse" and face.raster((50, 60)).sum() < drawn.sum()
    assert face.raster((50, 60), shape="box").sum() == drawn.sum()
    quad = np.array([[5.0, 5.0], [25.0, 5.0], [25.0, 15.0], [5.0, 15.0]])
    text = PriorResult(np.zeros((50, 60), np.float32), [(5.0, 5.0, 25.0, 15.0)], [1.0], [], [quad])
    (line,) = regions_from_result("rapidocr", "text", text)
    drawn_line = line.raster((50, 60))
    assert line.shape == "polygon" and drawn_line[5:15, 5:25].all() and drawn_line.sum() <= 21 * 11  # edges included
    assert set(line.to_dict()) == {"kind", "provider", "box", "confidence", "shape"}  # never text or pixels


def test_person_silhouettes_are_connected_parts_with_their_mean_confidence():
    soft = np.zeros((100, 100), np.float32)
    soft[10:40, 10:30] = 0.9
    soft[60:90, 60:95] = 0.6
    soft[0:2, 98:100] = 1.0  # a speck: under the minimum area
    found = silhouettes("mediapipe-person", soft, 0.5, 0.001)
    assert [(r.box, round(r.confidence, 2)) for r in found] == [((10.0, 10.0, 30.0, 40.0), 0.9), ((60.0, 60.0, 95.0, 90.0), 0.6)]
    assert found[0].raster((100, 100)).sum() == 600 and found[0].raster((100, 100), margin=2).sum() > 600


def test_plate_shaped_text_lines_are_plate_evidence_drawn_instead_of_a_loose_cascade_box():
    from privobf.evidence.plates import plates_from_text, superseded

    size = (400, 600)
    line = Region("text", "rapidocr", (100.0, 200.0, 180.0, 225.0), 1.0, "polygon",
                  polygon=np.array([[100.0, 200.0], [180.0, 200.0], [180.0, 225.0], [100.0, 225.0]]))
    heading = Region("text", "rapidocr", (10.0, 10.0, 590.0, 80.0), 1.0)  # 10 % of the photo: a sign
    tall = Region("text", "rapidocr", (300.0, 100.0, 320.0, 200.0), 1.0)  # not a plate's proportions
    (plate,) = plates_from_text([line, heading, tall], size)
    assert (plate.kind, plate.provider, plate.box, plate.shape) == ("plate", "rapidocr@plate-shaped", line.box, "box")
    cascade = Region("plate", "haar-plate", (80.0, 190.0, 210.0, 240.0), 2.5)
    elsewhere = Region("plate", "haar-plate", (400.0, 300.0, 480.0, 330.0), 2.5)
    assert superseded(cascade, [cascade, plate]) and not superseded(elsewhere, [elsewhere, plate])
    vocabulary = vocabulary_from_ids(["a0_safe", "a103_license_plate_complete"])
    config = FusionConfig(calibration={"haar-plate": [(0.0, 0.9)], "rapidocr@plate-shaped": [(0.0, 0.6)]},
                          draw_floor={"plate": 0.4})
    regions = [line, cascade, elsewhere, plate]
    fused = fuse(np.array([0.5, 0.1], np.float32), regions, vocabulary, config)
    assert [regions[k] for k in fused.drawn["a103_license_plate_complete"]] == [elsewhere, plate]
    weak = FusionConfig(calibration={"haar-plate": [(0.0, 0.9)], "rapidocr@plate-shaped": [(0.0, 0.3)]},
                        draw_floor={"plate": 0.4})
    fused = fuse(np.array([0.5, 0.1], np.float32), regions, vocabulary, weak)  # inside a cascade box: both agree
    assert [regions[k] for k in fused.drawn["a103_license_plate_complete"]] == [elsewhere, plate]
    assert fused.precisions[3] == pytest.approx(1 - 0.7 * 0.1)
    alone = [line, plate]  # no cascade box: a weak line, below the floor, is neither drawn nor counted
    fused = fuse(np.array([0.5, 0.1], np.float32), alone, vocabulary, weak)
    assert fused.drawn["a103_license_plate_complete"] == [] and fused.evidence[1] == 0.0
    assert fused.supports["a103_license_plate_complete"] == [1] and fused.probabilities[1] == pytest.approx(0.1)


def test_a_silhouette_with_a_face_on_it_counts_with_the_faces_precision():
    from privobf.evidence.fusion import region_precisions
    from privobf.evidence.people import contains_a_face, people_around_faces

    soft = np.zeros((100, 100), np.float32)
    soft[20:90, 30:60] = 0.6
    (body,) = silhouettes("seg", soft, 0.5, 0.001)
    face = Region("face", "cf", (38.0, 22.0, 52.0, 38.0), 0.95, "ellipse")
    away = Region("face", "cf", (70.0, 5.0, 80.0, 15.0), 0.95, "ellipse")
    assert contains_a_face(body, [face]) and not contains_a_face(body, [away])
    config = FusionConfig(calibration={"seg": [(0.5, 0.1)], "cf": [(0.5, 0.97)]})
    assert region_precisions([body, face], config) == pytest.approx([0.97, 0.97])
    assert region_precisions([body, away], config) == pytest.approx([0.1, 0.97])

    class Segmenter:
        kind = "person"

        def __init__(self):
            self.calls = []

        def segment_around(self, image, faces):
            self.calls.append(list(faces))
            return soft

    segmenter = Segmenter()
    found = people_around_faces(np.zeros((100, 100, 3), np.uint8), [face, body], {"seg": segmenter})
    assert segmenter.calls == [[face.box]] and [r.provider for r in found] == ["seg@faces"]
    assert people_around_faces(np.zeros((100, 100, 3), np.uint8), [body], {"seg": segmenter}) == []


# ----------------------------------------------------------------------------------------------- fusion


def test_the_rule_is_a_calibrated_noisy_or_of_classifier_and_linked_detectors():
    vocabulary = vocabulary_from_ids(["a0_safe", "x1_person_body", FACE, "a103_license_plate_complete"])
    face = Region("face", "cf", FACE_BOX, 0.9, "ellipse")
    plate = Region("plate", "haar", (0, 0, 10, 5), 2.0)
    config = FusionConfig(calibration={"cf": [(0.4, 0.5), (0.8, 0.96)], "haar": [(1.0, 0.2), (3.0, 0.9)]})
    fused = fuse(np.array([0.8, 0.3, 0.45, 0.1], np.float32), [face, plate], vocabulary, config)
    assert fused.evidence.tolist() == pytest.approx([0.0, 0.96, 0.96, 0.2])  # a face is evidence of a person too
    assert fused.probabilities[2] == pytest.approx(1 - 0.55 * 0.04)
    assert fused.probabilities[3] == pytest.approx(1 - 0.9 * 0.8)
    assert fused.probabilities[0] == pytest.approx(0.8 * 0.04 * 0.04 * 0.8, rel=1e-5)  # not "safe" with a real face
    assert fused.supports == {"x1_person_body": [0], FACE: [0], "a103_license_plate_complete": [1]}
    nothing = fuse(np.array([0.8, 0.3, 0.45, 0.1], np.float32), [], vocabulary, config)
    assert nothing.probabilities.tolist() == pytest.approx([0.8, 0.3, 0.45, 0.1])  # no detector: the classifier's
    below = Region("face", "cf", FACE_BOX, 0.3, "ellipse")  # under the lowest calibrated confidence
    assert config.precision(below) == 0.5 and FusionConfig(calibration={}).precision(below) == pytest.approx(0.3)
    paper = fuse(np.array([0.8, 0.3, 0.45, 0.1], np.float32), [face, plate], vocabulary, FusionConfig(mode="paper"))
    assert paper.probabilities.tolist() == pytest.approx([0.8, 0.3, 0.45, 0.1]) and not paper.supports


def test_shipped_calibration_is_non_decreasing_and_names_its_command():
    document = json.loads((REPO / "src" / "privobf" / "evidence" / "calibration.json").read_text())
    assert document["command"].startswith("python benchmarks/calibrate_evidence.py")
    for name, entry in document["providers"].items():
        precisions = [step[1] for step in entry["steps"]]
        assert precisions == sorted(precisions) and all(0 < p < 1 for p in precisions), name
    assert FusionConfig().face_grow == document["shapes"]["face_grow"]
    assert FusionConfig().face_height_grow == document["shapes"]["face_height_grow"]
    drawn = FusionConfig(face_shape="box", face_grow=2.0, face_height_grow=1.0).draw(
        [Region("face", "fake-face", (40, 30, 60, 50), 0.9, "box")], (100, 100))
    assert drawn.sum() == 40 * 20  # twice as wide, as tall


# ----------------------------------------------------------------------------------------------- scanning


def test_a_face_the_classifier_misses_but_a_detector_finds_is_hidden_in_its_shape(tiny_model):
    image = _photo()
    evidence = Scanner(tiny_model, prior_set=PriorSet([FakeFaces()]), fusion=_uncalibrated())
    report = evidence.scan(image)
    assert report.fused.model_probabilities[report.attribute_ids.index(FACE)] < 0.95
    assert report.probability(FACE) >= 0.95 and FACE in report.present()
    assert report.mask_source(FACE) == "detector"
    expected = Region("face", "fake-face", FACE_BOX, 0.95, "ellipse").raster(image.shape[:2])
    assert np.array_equal(report.mask(FACE), expected)
    plan = ProtectionPlan(evidence.vocabulary, hide=(FACE,), threshold=0.9)
    hidden = plan.apply(image, report)
    changed = (hidden != image).any(axis=2)
    assert changed[expected].mean() > 0.9 and not changed[~expected].any()
    regions = report.hidden_regions([FACE])
    assert regions == [{"attribute": FACE, "source": "detector", "kind": "face", "provider": "fake-face",
                        "box": list(FACE_BOX), "confidence": 0.95, "shape": "ellipse"}]


def test_a_report_for_a_smaller_preview_scales_its_regions(tiny_model):
    """The web page draws its overlay on the photo shrunk to 1024 pixels: the regions must shrink with it."""
    image = _photo(9, (192, 256))
    report = Scanner(tiny_model, prior_set=PriorSet([FakeFaces(boxes=[(80.0, 40.0, 160.0, 140.0)])]),
                     fusion=_uncalibrated()).scan(image)
    full = report.mask(FACE)
    half = report.at_size((96, 128))
    assert half.mask(FACE).shape == (96, 128) and report.mask(FACE).shape == (192, 256)  # the original unchanged
    shrunk = np.asarray(Image.fromarray(full.astype(np.uint8) * 255).resize((128, 96), Image.NEAREST)) > 0
    assert (half.mask(FACE) != shrunk).mean() < 0.01


def test_a_photo_where_no_detector_fires_and_the_classifier_is_below_threshold_hides_nothing(tiny_model):
    image = _photo(1)
    scanner = Scanner(tiny_model, prior_set=PriorSet([FakeFaces(boxes=())]), fusion=_uncalibrated())
    report = scanner.scan(image)
    threshold = float(report.probabilities.max()) + 0.01  # above every classifier probability
    plan = ProtectionPlan(scanner.vocabulary, threshold=threshold)
    assert plan.decide(report) == []
    assert np.array_equal(plan.apply(image, report), image)


def test_paper_fusion_reproduces_the_papers_report(tiny_model):
    image = _photo(2)
    paper = Scanner(tiny_model, prior_set=PriorSet([FakeFaces()]), fusion="paper").scan(image)
    assert type(paper) is PrivacyReport and "regions" not in paper.to_dict()
    raw = Scanner(tiny_model, prior_set=None).predict(image, {"human": np.zeros(image.shape[:2], np.float32)})
    assert raw["probabilities"].shape == paper.probabilities.shape
    for attribute_id in paper.attribute_ids:  # masks: the prior-weighted maps, upsampled and cut at 0.3
        expected = paper.soft_mask(attribute_id) >= paper.mask_threshold
        assert np.array_equal(paper.mask(attribute_id), expected)
    evidence = Scanner(tiny_model, prior_set=PriorSet([FakeFaces()]), fusion=_uncalibrated()).scan(image)
    unlinked = [a for a in paper.attribute_ids if a not in evidence.fused.supports and a != "a0_safe"]
    for attribute_id in unlinked:  # what no detector speaks for keeps the classifier's probability
        assert evidence.probability(attribute_id) == pytest.approx(paper.probability(attribute_id), abs=1e-6)


def test_unlinked_attributes_are_weighted_by_the_prior_at_image_resolution(tiny_model):
    """A Text-type attribute without evidence: the model's map is cut by the text prior's exact shape."""
    image = _photo(3)

    class Text(FakeFaces):
        kind = "text"

    scanner = Scanner(tiny_model, prior_set=PriorSet([Text(boxes=[(8.0, 8.0, 60.0, 30.0)], name="fake-text")]),
                      fusion=_uncalibrated())
    report = scanner.scan(image)
    inside = np.zeros(image.shape[:2], bool)
    inside[8:30, 8:60] = True
    for attribute_id in ("a19_name_full", "a74_address_current_complete"):
        assert report.mask_source(attribute_id) == "classifier"
        assert not report.mask(attribute_id, threshold=0.0 + 1e-6)[~inside].any()


def test_priors_given_as_arrays_weight_the_maps_like_detected_ones():
    """`scan(image, priors=...)` (the API, evaluation with simulated priors): no region, the array is the prior.
    The embedded model on scikit-image's `page`, whose text maps are strong (a tiny model's may be all zero)."""
    from skimage import data

    image = np.stack([data.page()] * 3, axis=-1)
    text = np.zeros(image.shape[:2], np.float32)
    text[50:150, 50:300] = 1.0
    report = Scanner(fusion=_uncalibrated()).scan(image, {"human": None, "text": text})
    for attribute_id in ("a19_name_full", "a74_address_current_complete", "a82_date_time"):
        mask = report.mask(attribute_id, threshold=1e-6)
        assert mask.any() and not mask[text == 0].any(), attribute_id


def test_evidence_raises_the_privacy_score(tiny_model):
    image = _photo(4)
    without = Scanner(tiny_model, prior_set=PriorSet([FakeFaces(boxes=())]), fusion=_uncalibrated()).scan(image)
    with_face = Scanner(tiny_model, prior_set=PriorSet([FakeFaces()]), fusion=_uncalibrated()).scan(image)
    assert with_face.privacy_score >= without.privacy_score
    if with_face.privacy_score > without.privacy_score + 1e-6:
        assert any("raised by detector evidence" in note for note in with_face.notes)


# ----------------------------------------------------------------------------------------------- plans


def test_plan_aware_scanning_runs_only_the_providers_the_attributes_need():
    vocabulary = vocabulary_from_ids(["a0_safe", "x1_person_body", FACE, "a19_name_full", "a103_license_plate_complete"])
    kinds = {"mediapipe-person": "person", "centerface": "face", "rapidocr": "text", "haar-plate": "plate"}
    assert providers_for((FACE,), vocabulary, kinds) == {"mediapipe-person": [FACE], "centerface": [FACE]}
    assert providers_for(("a103_license_plate_complete",), vocabulary, kinds) == {
        "rapidocr": ["a103_license_plate_complete"], "haar-plate": ["a103_license_plate_complete"]}
    assert set(providers_for(None, vocabulary, kinds)) == set(kinds)
    args = argparse.Namespace(priors="on", prior_providers="mediapipe-person,centerface,rapidocr,haar-plate",
                              fusion="evidence")
    chosen = prior_set_from_arguments(args, hide=(FACE,), vocabulary=vocabulary)
    assert chosen.requested == ["mediapipe-person", "centerface"] and chosen.reasons["centerface"] == [FACE]
    args.fusion = "paper"  # the paper's mode keeps every provider (its maps use both priors)
    assert prior_set_from_arguments(args, hide=(FACE,), vocabulary=vocabulary).requested == args.prior_providers.split(",")
    assert prior_set_from_arguments(args).requested == args.prior_providers.split(",")


def test_attributes_a_model_does_not_detect_are_named_as_such():
    vocabulary = vocabulary_from_ids(["a0_safe", "x1_person_body", FACE, "a19_name_full"])
    with pytest.raises(AttributeNotDetectedError, match=r"does not detect 'a11_tattoo'.*docs/recipes\.md.*--hide people"):
        resolve_names(vocabulary, ["a11_tattoo"])
    with pytest.raises(AttributeNotDetectedError, match=r"does not detect 'online' \(a85_username.*--hide text"):
        resolve_names(vocabulary, ["online"])
    with pytest.raises(Exception, match="did you mean 'face'") as typo:
        resolve_names(vocabulary, ["facee"])
    assert not isinstance(typo.value, AttributeNotDetectedError)


# ----------------------------------------------------------------------------------------------- CLI


def test_cli_report_lists_hidden_regions_by_a_documented_schema(tmp_path, tiny_model, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    photo = tmp_path / "in" / "p.png"
    photo.parent.mkdir()
    Image.fromarray(_photo(5)).save(photo)
    code = main(["obfuscate", str(photo), "--model", str(tiny_model), "--priors", "off", "--out", str(tmp_path / "o"),
                 "--reports", str(tmp_path / "r"), "--hide", "face,names", "--force", "--threshold", "0",
                 "--mask-threshold", "0.2", "--progress", "off"])
    assert code == 0, capsys.readouterr().err
    document = json.loads((tmp_path / "r" / "p.png.json").read_text())
    schema = json.loads((REPO / "docs" / "schemas" / "photo-report-regions.schema.json").read_text())
    jsonschema.validate(document, schema)
    assert document["fusion"]["mode"] == "evidence" and document["hidden_regions"]
    assert {entry["attribute"] for entry in document["hidden_regions"]} == {h["attribute"] for h in document["hidden"]}


def test_force_on_a_photo_with_nothing_to_hide_says_so(tmp_path, tiny_model, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(_photo(6)).save(photo)
    code = main(["obfuscate", str(photo), "--model", str(tiny_model), "--priors", "off", "--hide", "face", "--force",
                 "--mask-threshold", "1", "--progress", "off"])
    out = capsys.readouterr().out
    assert code == 0 and "hid nothing" in out and FACE not in out.split("hid", 1)[1]


def test_cli_says_what_the_model_does_not_detect(tmp_path, tiny_model, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(_photo(7)).save(photo)
    assert main(["obfuscate", str(photo), "--model", str(tiny_model), "--priors", "off", "--hide", "tattoo"]) == 2
    err = capsys.readouterr().err
    assert "does not detect 'tattoo'" in err and "unknown attribute" not in err


def test_preferences_naming_attributes_the_model_lacks_say_they_are_skipped(tmp_path, tiny_model, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(_photo(10)).save(photo)
    preferences = tmp_path / "prefs.toml"
    preferences.write_text('hide = ["face", "gender", "religion"]\n')
    code = main(["obfuscate", str(photo), "--model", str(tiny_model), "--priors", "off", "--preferences",
                 str(preferences), "--out", str(tmp_path / "o"), "--progress", "off"])
    err = capsys.readouterr().err
    # gender follows from the face by VISPR's label statistics (issue 19); religion needs a VISPR-trained model
    assert code == 0 and "this model does not detect 'religion'; skipped" in err and "gender" not in err


def test_a_cascade_box_with_no_text_in_it_is_weak_evidence_and_not_drawn():
    from privobf.evidence.plates import NO_TEXT_SUFFIX, without_text

    size = (300, 400)
    plate = Region("plate", "haar-plate", (100.0, 200.0, 200.0, 240.0), 2.5)
    grille = Region("plate", "haar-plate", (20.0, 20.0, 180.0, 70.0), 2.5)  # no characters in it
    line = Region("text", "ppocr-v6", (110.0, 205.0, 190.0, 235.0), 0.9)
    regions = without_text([plate, grille, line])
    assert [r.provider for r in regions] == ["haar-plate", "haar-plate" + NO_TEXT_SUFFIX, "ppocr-v6"]
    assert without_text(regions) == regions  # renamed once
    vocabulary = vocabulary_from_ids(["a0_safe", "a103_license_plate_complete"])
    config = FusionConfig(calibration={"haar-plate": [(0.0, 0.9)], "haar-plate" + NO_TEXT_SUFFIX: [(0.0, 0.14)]},
                          draw_floor={"plate": 0.0, "haar-plate" + NO_TEXT_SUFFIX: 0.2})
    fused = fuse(np.array([0.1, 0.1], np.float32), regions, vocabulary, config)
    assert fused.supports["a103_license_plate_complete"] == [0, 1]  # both are evidence
    assert fused.drawn["a103_license_plate_complete"] == [0]  # only the box with characters is hidden
    assert config.floor(regions[1]) == 0.2 and config.floor(regions[0]) == 0.0
