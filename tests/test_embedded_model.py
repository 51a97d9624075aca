"""The model that ships inside the package: small, safe to load, and actually useful on held-out scenes."""

import json

import numpy as np
import pytest

from privobf.checkpoint import load_checkpoint
from privobf.models.loading import embedded_model_path, load_image_model

pytestmark = pytest.mark.skipif(not embedded_model_path().is_file(), reason="no embedded model in this checkout")


def test_embedded_model_is_small_safetensors_of_model_image_only():
    path = embedded_model_path()
    assert path.stat().st_size <= 25 * 1024 * 1024
    assert path.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    checkpoint = load_checkpoint(path)
    assert checkpoint.kind == "image" and checkpoint.metadata["preset"]["name"] == "default"
    assert "privobf train" in checkpoint.metadata["trained"]["command"]
    assert not any(name.startswith("cropped.") for name in checkpoint.state)


@pytest.mark.slow
def test_embedded_model_finds_attributes_in_held_out_scenes():
    """Regression guard on 40 held-out scenes (val photos): clearly better than chance, not a tuned target."""
    from privobf.data.synthetic import SyntheticScenes
    from privobf.evaluate.metrics import mean_average_precision
    from privobf.scanning import Scanner

    scanner = Scanner(load_image_model())
    scenes = SyntheticScenes(40, image_size=320, seed=777, split="val")
    ids = scanner.model.attribute_ids
    probabilities, labels = [], []
    for scene in scenes:
        report = scanner.scan(scene.image)  # reports the model's attributes and those reading would find
        probabilities.append([report.probabilities[report.attribute_ids.index(a)] for a in ids])
        labels.append([a in scene.labels for a in ids])
    per_attribute, mean_ap = mean_average_precision(np.array(probabilities), np.array(labels), min_positives=3)
    base_rate = np.nanmean(np.where(np.array(labels).sum(0) >= 3, np.array(labels).mean(0), np.nan))
    assert mean_ap > base_rate + 0.2
    assert per_attribute[ids.index("x1_person_body")] > 0.7


def test_demo_writes_pictures_and_reports(tmp_path, monkeypatch, capsys):
    from privobf import demo

    monkeypatch.setattr(demo, "sample_images", _two_samples)
    assert demo.main(["--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "astronaut.report.json").read_text())
    assert 0.0 <= report["privacy_score"] <= 1.0
    for suffix in ("obfuscated", "heatmap", "before-after"):
        assert (tmp_path / f"astronaut.{suffix}.png").is_file()
    assert "astronaut" in capsys.readouterr().out


def _two_samples():
    import skimage.data

    return [("astronaut", skimage.data.astronaut()), ("coffee", skimage.data.coffee())]
