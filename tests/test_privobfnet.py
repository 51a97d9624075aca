import dataclasses

import pytest
import torch
import torch.nn.functional as F

from privobf.models.config import LossWeights, get_preset, tiny_preset
from privobf.models.crops import CropBox, crop_images, crop_maps, sample_crop_boxes
from privobf.models.loading import build_model
from privobf.train.losses import attribute_loss, cropped_loss, image_loss, privacy_loss, total_loss


def test_crops_of_the_image_and_of_the_global_map_cover_the_same_region():
    # A known image whose pixel values encode their own position, and known boxes.
    stride = 8
    rows = torch.arange(64.0).view(64, 1).expand(64, 64)
    cols = torch.arange(64.0).view(1, 64).expand(64, 64)
    image = torch.stack([rows, cols, rows * 64 + cols])[None]  # [1, 3, 64, 64]
    boxes = [[CropBox(0, 0, 32), CropBox(16, 24, 32), CropBox(32, 32, 32)]]
    global_map = F.avg_pool2d(image, stride)  # a "map" at stride 8 whose values say where they came from
    crop_of_map = crop_maps(global_map, boxes, stride)
    map_of_crop = F.avg_pool2d(crop_images(image, boxes), stride)
    torch.testing.assert_close(crop_of_map, map_of_crop)
    # The crop at (16, 24) starts at image row 16, column 24.
    assert crop_images(image, boxes)[1, 0, 0, 0] == 16 and crop_images(image, boxes)[1, 1, 0, 0] == 24


def test_unaligned_boxes_are_refused():
    with pytest.raises(ValueError, match="not aligned"):
        crop_maps(torch.zeros(1, 2, 8, 8), [[CropBox(3, 0, 32)]], 8)


def test_sampled_boxes_are_aligned_and_inside_the_image():
    generator = torch.Generator().manual_seed(0)
    for row in sample_crop_boxes(5, 6, 448, 320, 8, generator):
        for box in row:
            assert box.top % 8 == 0 and box.left % 8 == 0
            assert 0 <= box.top <= 128 and 0 <= box.left <= 128 and box.size == 320


def test_forward_global_crops_are_slices_of_model_image_maps(toy_vocabulary):
    torch.manual_seed(0)
    model = build_model(tiny_preset(), toy_vocabulary)
    images = torch.rand(2, 3, 64, 64)
    output = model(images, None, torch.Generator().manual_seed(1))
    stride = model.stride
    k = 0
    for b, row in enumerate(output.boxes):
        for box in row:
            top, left, size = box.top // stride, box.left // stride, box.size // stride
            expected = output.image.attention_maps[b, :, top : top + size, left : left + size]
            torch.testing.assert_close(output.global_crops[k], expected)
            k += 1
    assert output.cropped.attention_maps.shape == output.global_crops.shape


def test_priors_weight_only_human_and_text_attributes(toy_vocabulary):
    model = build_model(tiny_preset(), toy_vocabulary).image
    maps = torch.ones(1, 4, 8, 8)
    priors = torch.zeros(1, 2, 64, 64)
    priors[:, 0, :32] = 1.0  # human prior on the top half
    priors[:, 1, :, :32] = 1.0  # text prior on the left half
    weighted = model.weight_by_priors(maps, priors)
    ids = toy_vocabulary.ids
    assert torch.equal(weighted[0, ids.index("a0_safe")], maps[0, 0])  # un-masked
    assert weighted[0, ids.index("x1_person_body"), :4].eq(1).all() and weighted[0, ids.index("x1_person_body"), 4:].eq(0).all()
    assert weighted[0, ids.index("a19_name_full"), :, :4].eq(1).all() and weighted[0, ids.index("a19_name_full"), :, 4:].eq(0).all()
    # An image without priors (NaN) is left alone.
    assert torch.equal(model.weight_by_priors(maps, torch.full((1, 2, 64, 64), float("nan"))), maps)


def test_image_loss_eq2_by_hand():
    g = torch.tensor([[[[0.0]], [[0.0]]]])  # [1 crop, K=2, 1, 1] -> softmax (0.5, 0.5)
    s = torch.tensor([[[[1.0]], [[0.0]]]])
    assert image_loss(g, s, normalise_crop_maps=False, detach=True).item() == pytest.approx(0.5**2 + 0.5**2)
    softmax_s = torch.softmax(torch.tensor([1.0, 0.0]), 0)
    expected = ((0.5 - softmax_s) ** 2).sum().item()
    assert image_loss(g, s, normalise_crop_maps=True, detach=True).item() == pytest.approx(expected)


def test_image_loss_detach_sends_gradient_only_to_model_image():
    g = torch.randn(3, 4, 5, 5, requires_grad=True)
    s = torch.randn(3, 4, 5, 5, requires_grad=True)
    image_loss(g, s, True, detach=True).backward()
    assert g.grad is not None and s.grad is None


def test_cropped_loss_eq3_is_the_multilabel_soft_margin_with_image_labels_per_crop():
    scores = torch.randn(6, 5)  # 2 images x 3 crops
    labels = torch.tensor([[1, 0, 0, 1, 0], [0, 1, 1, 0, 0]], dtype=torch.float32)
    expected = torch.nn.MultiLabelSoftMarginLoss()(scores, labels.repeat_interleave(3, 0))
    torch.testing.assert_close(cropped_loss(scores, labels, 3), expected)
    manual = -(labels.repeat_interleave(3, 0) * torch.log(torch.sigmoid(scores))
               + (1 - labels.repeat_interleave(3, 0)) * torch.log(torch.exp(-scores) / (1 + torch.exp(-scores)))).mean()
    torch.testing.assert_close(cropped_loss(scores, labels, 3), manual)


def test_privacy_and_attribute_losses_eq4_eq5():
    predicted = torch.tensor([[0.2, 0.8]])
    target = torch.tensor([[0.0, 1.0]])
    assert privacy_loss(predicted, target).item() == pytest.approx((0.04 + 0.04) / 2)
    logits = torch.tensor([[2.0, -1.0]])
    q = torch.sigmoid(logits)
    manual = -(target * q.log() + (1 - target) * (1 - q).log()).mean()
    assert attribute_loss(logits, target).item() == pytest.approx(manual.item(), rel=1e-5)


def test_total_loss_weights_follow_eq1(toy_vocabulary):
    torch.manual_seed(0)
    preset = tiny_preset()
    model = build_model(preset, toy_vocabulary)
    output = model(torch.rand(2, 3, 64, 64), None, torch.Generator().manual_seed(0))
    labels = torch.tensor([[0, 1, 1, 0], [1, 0, 0, 0]], dtype=torch.float32)
    targets = torch.rand(2, 30)
    terms = total_loss(output, labels, targets, LossWeights(), preset.model)
    assert set(terms.parts) == {"image", "cropped", "privacy", "attribute", "cam_image"}
    p = terms.parts
    expected = 10 * p["image"] + p["cropped"] + p["privacy"] + p["attribute"] + p["cam_image"]
    torch.testing.assert_close(terms.total, expected)


def test_ablation_configs_drop_their_heads(toy_vocabulary):
    preset = tiny_preset()
    config = dataclasses.replace(preset.model, use_cropped=False, use_privacy_task=False, use_attribute_task=False)
    model = build_model(dataclasses.replace(preset, model=config), toy_vocabulary)
    assert model.cropped is None and model.image.privacy_head is None and model.image.attribute_head is None
    output = model(torch.rand(1, 3, 64, 64))
    terms = total_loss(output, torch.zeros(1, 4), torch.zeros(1, 30), LossWeights(), config)
    assert set(terms.parts) == {"cam_image"}


def test_presets_match_the_paper():
    paper = get_preset("paper")
    assert paper.model.backbone == "resnet38" and paper.model.image_size == 448 and paper.model.crop_size == 320
    assert paper.model.n_crops == 6 and paper.train.batch_size == 4 and paper.train.epochs == 10
    assert paper.train.lr == 0.002 and paper.train.weight_decay == 5e-4 and paper.train.lr_decay_epochs == (6,)
    w = paper.train.loss_weights
    assert (w.image, w.cropped, w.privacy, w.attribute) == (10, 1, 1, 1)
    for name in ("paper", "default", "tiny"):
        get_preset(name).model.validate()
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("huge")
