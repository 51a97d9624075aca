"""The ONNX Runtime backend: the exported graph, the scanner on it, its cache and `privobf export-onnx`."""

import numpy as np
import pytest

from privobf.cli import main
from privobf.models.loading import load_image_model
from privobf.models.onnx_backend import OnnxImageRunner, export_onnx, max_abs_difference, onnx_runner_for
from privobf.scanning import Scanner

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model(tiny_model):
    return load_image_model(tiny_model)


def test_export_matches_torch_at_two_sizes_with_and_without_priors(model, tmp_path):
    path = export_onnx(model, tmp_path / "tiny.onnx")
    stride = model.branch.backbone.output_stride
    differences = max_abs_difference(model, OnnxImageRunner(model, path), sizes=[(4 * stride, 6 * stride), (9 * stride, 5 * stride)])
    assert differences["attention"] < 1e-4 and differences["probabilities"] < 1e-4
    assert differences["privacy"] < 1e-4


def test_runner_refuses_sizes_that_are_not_stride_multiples(model):
    import torch

    stride = model.branch.backbone.output_stride
    with pytest.raises(ValueError, match="stride"):
        onnx_runner_for(model)(torch.rand(1, 3, 4 * stride + 1, 4 * stride))


def test_onnx_scanner_matches_torch_scanner(tiny_model):
    image = np.random.default_rng(3).integers(0, 255, (75, 101, 3), dtype=np.uint8)
    priors = {"human": np.random.default_rng(4).random((75, 101), dtype=np.float32), "text": None}
    for given in (None, priors):
        expected = Scanner(tiny_model).scan(image, given)
        got = Scanner(tiny_model, backend="onnx").scan(image, given)
        np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-4)
        np.testing.assert_allclose(got.attention_maps, expected.attention_maps, atol=1e-4)
        np.testing.assert_allclose(got.profile_scores, expected.profile_scores, atol=1e-4)
        assert (got.model["backend"], expected.model["backend"]) == ("onnx", "torch")  # reports say which ran


def test_cached_export_is_reused(model):
    first = onnx_runner_for(model).path
    stamp = first.stat().st_mtime_ns
    second = onnx_runner_for(model).path
    assert second == first and second.stat().st_mtime_ns == stamp


def test_export_onnx_command(tiny_model, tmp_path, capsys):
    out = tmp_path / "x.onnx"
    assert main(["export-onnx", "--model", str(tiny_model), "--out", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 0
    assert "probabilities" in capsys.readouterr().out


def test_unknown_backend_is_refused(tiny_model):
    with pytest.raises(ValueError, match="torch, onnx"):
        Scanner(tiny_model, backend="tensorrt")
