"""`scan`, `obfuscate`, `evaluate` and the CLI, end to end on a tiny model trained on synthetic scenes."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from privobf.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from privobf.cli import main
from privobf.scanning import Scanner, model_input_size


@pytest.fixture
def photo_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 255, (50, 40, 3), dtype=np.uint8)).save(folder / "sub" / "b.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_input_size_keeps_aspect_and_stride():
    assert model_input_size(480, 640, 320, 16) == (240, 320)
    assert model_input_size(10, 4000, 320, 16) == (32, 320)


def test_scan_report_shapes_and_ranges(tiny_model):
    scanner = Scanner(tiny_model)
    image = np.random.default_rng(1).integers(0, 255, (75, 101, 3), dtype=np.uint8)
    report = scanner.scan(image)
    k = len(report.attribute_ids)
    assert report.image_size == (75, 101)
    assert report.probabilities.shape == (k,) and ((0 <= report.probabilities) & (report.probabilities <= 1)).all()
    assert report.attention_maps.min() >= 0 and report.attention_maps.max() <= 1
    assert 0.0 <= report.privacy_score <= 1.0 and report.profile_scores.shape == (30,)
    assert report.mask(report.attribute_ids[1]).shape == (75, 101)
    assert report.model["preset"] == "tiny" and len(report.model["sha256"]) == 16


def test_multiscale_flip_and_priors_change_the_maps_but_not_the_shapes(tiny_model):
    image = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    plain = Scanner(tiny_model).scan(image)
    scanner = Scanner(tiny_model)
    scanner.inference = dataclasses.replace(scanner.inference, scales=(1.0, 0.5, 1.5), flip=True)
    rich = scanner.scan(image)
    assert rich.attention_maps.shape == plain.attention_maps.shape
    assert not np.allclose(rich.attention_maps, plain.attention_maps)
    zero_priors = {"human": np.zeros((64, 64), np.float32), "text": np.zeros((64, 64), np.float32)}
    with_priors = Scanner(tiny_model).scan(image, zero_priors)
    ids = with_priors.attribute_ids
    # Human / text attributes are zero everywhere the priors are zero; un-masked ones are unaffected.
    assert with_priors.attention_maps[ids.index("x1_person_body")].max() == 0
    np.testing.assert_allclose(with_priors.attention_maps[ids.index("a30_credit_card")],
                               plain.attention_maps[ids.index("a30_credit_card")], rtol=1e-5, atol=1e-6)


def test_cli_scan_goes_past_a_broken_file_and_says_which(tiny_model, photo_folder, capsys):
    code = main(["scan", str(photo_folder), "--model", str(tiny_model), "--json"])
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "broken.jpg" in captured.err and "Traceback" not in captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]  # JSON Lines: photos, then the summary
    reports = [line for line in lines if line.get("status") == "done"]
    assert sorted(r["file"].split("/")[-1] for r in reports) == ["a.png", "b.jpg"]
    assert [line["file"].split("/")[-1] for line in lines if line.get("status") == "failed"] == ["broken.jpg"]
    assert lines[-1]["summary"]["done"] == 2 and lines[-1]["summary"]["failed"] == 1


def test_cli_obfuscate_writes_new_files_and_never_touches_inputs(tiny_model, photo_folder, tmp_path, capsys):
    before = {p: _digest(p) for p in photo_folder.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    args = ["obfuscate", str(photo_folder / "a.png"), "--model", str(tiny_model), "--out", str(out), "--hide", "face_complete", "--force"]
    assert main(args) == 0
    written = out / "a.privobf.png"
    assert written.is_file() and Image.open(written).size == (120, 90)
    assert {p: _digest(p) for p in photo_folder.rglob("*") if p.is_file()} == before
    # A second run refuses to overwrite the output it made, and says so.
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err


def test_cli_usage_errors_exit_2_with_one_line(tiny_model, photo_folder, tmp_path, capsys):
    assert main(["obfuscate", str(photo_folder), "--model", str(tiny_model), "--hide", "face_complet", "--out", str(tmp_path)]) == 2
    assert "did you mean 'face_complete'" in capsys.readouterr().err
    not_a_model = tmp_path / "model.safetensors"
    not_a_model.write_bytes(b"garbage")
    assert main(["scan", str(photo_folder), "--model", str(not_a_model)]) == 2
    err = capsys.readouterr().err
    assert "model.safetensors" in err and "Traceback" not in err
    assert main(["obfuscate", str(photo_folder), "--model", str(tiny_model), "--suffix", ""]) == 2
    assert main(["scan", str(photo_folder), "--model", str(tiny_model), "--profile", "nobody"]) == 2
    with pytest.raises(SystemExit) as info:  # checked by argparse, which names the option
        main(["scan", str(photo_folder), "--model", str(tiny_model), "--scales", "1,big"])
    assert info.value.code == 2
    assert "argument --scales: expected comma-separated numbers" in capsys.readouterr().err


def test_checkpoint_of_another_vocabulary_is_refused(tiny_model, tmp_path):
    checkpoint = load_checkpoint(tiny_model)
    with pytest.raises(CheckpointError, match="vocabulary"):
        load_checkpoint(tiny_model, expected_attribute_ids=["a0_safe", "a9_face_complete"])
    broken = dict(checkpoint.metadata, attribute_ids=checkpoint.attribute_ids[:-1])
    path = save_checkpoint(tmp_path / "bad.safetensors", checkpoint.state, broken)
    with pytest.raises(CheckpointError, match="bad.safetensors: weights do not fit"):
        Scanner(path)


@pytest.mark.parametrize("command", ["scan", "obfuscate", "serve", "train", "evaluate"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert len(capsys.readouterr().out) > 400


def test_cli_evaluate_writes_every_section(tiny_model, tmp_path):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(tiny_model), "--n", "6", "--image-size", "64", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {"privacy_score", "attributes", "masks_localisation", "masks_end_to_end", "protection", "setup"} <= set(result)
    assert result["setup"]["mask_threshold_source"] == "fixed in the model's preset"
    assert 0.0 <= result["protection"]["leak_rate"] <= 1.0


def test_package_level_scan_and_obfuscate(tiny_model):
    import privobf

    image = np.random.default_rng(3).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    report = privobf.scan(image, model=tiny_model)
    assert report.image_size == (64, 80)
    assert report.priors["providers"] and report.priors["human"] in ("computed", "absent")  # default priors ran
    assert privobf.scan(image, model=tiny_model, prior_set=None).priors == {"human": "off", "text": "off"}
    hidden = privobf.obfuscate(image, report, hide=[report.attribute_ids[1]], mode="solid", threshold=0.0)
    assert hidden.shape == image.shape and (hidden == 0).all()  # threshold 0: the whole image is in the mask
