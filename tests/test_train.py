import dataclasses
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from privobf.checkpoint import load_checkpoint
from privobf.models.config import tiny_preset
from privobf.train.engine import learning_rate_factor, train

from .conftest import REPO_ROOT, ToyScenes


def _preset(epochs: int, **train_changes):
    preset = tiny_preset()
    return dataclasses.replace(preset, train=dataclasses.replace(preset.train, epochs=epochs, **train_changes))


def test_learning_rate_decays_at_the_sixth_epoch():
    factors = [learning_rate_factor(e, (6,), 0.1) for e in range(1, 11)]
    assert factors[:5] == [1.0] * 5 and factors[5:] == pytest.approx([0.1] * 5)


def test_training_writes_checkpoints_metrics_and_inference_model(tmp_path, toy_vocabulary):
    result = train(_preset(2), ToyScenes(12), toy_vocabulary, tmp_path, progress=False)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert {"loss", "loss_image", "loss_cropped", "loss_privacy", "loss_attribute", "images_per_second"} <= set(lines[0])
    full = load_checkpoint(result.full_checkpoint)
    image = load_checkpoint(result.image_checkpoint)
    assert full.kind == "full" and image.kind == "image"
    assert full.attribute_ids == toy_vocabulary.ids and full.metadata["preset"]["name"] == "tiny"
    assert any(k.startswith("cropped.") for k in full.state) and not any(k.startswith("cropped.") for k in image.state)
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave nothing behind
    (tmp_path / "plain").touch()
    plain_mode = (tmp_path / "plain").stat().st_mode & 0o777
    assert result.image_checkpoint.stat().st_mode & 0o777 == plain_mode  # as readable as any new file (umask)


def test_resume_continues_exactly_where_an_uninterrupted_run_would_be(tmp_path, toy_vocabulary):
    straight = train(_preset(2), ToyScenes(12), toy_vocabulary, tmp_path / "straight", progress=False)
    train(_preset(1), ToyScenes(12), toy_vocabulary, tmp_path / "resumed", progress=False)
    resumed = train(_preset(2), ToyScenes(12), toy_vocabulary, tmp_path / "resumed", progress=False, resume=True)
    a = load_checkpoint(straight.full_checkpoint).state
    b = load_checkpoint(resumed.full_checkpoint).state
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], msg=name)
    assert [r["epoch"] for r in resumed.history] == [1, 2]


def test_same_seed_same_weights(tmp_path, toy_vocabulary):
    one = train(_preset(1), ToyScenes(8), toy_vocabulary, tmp_path / "one", progress=False)
    two = train(_preset(1), ToyScenes(8), toy_vocabulary, tmp_path / "two", progress=False)
    a, b = load_checkpoint(one.image_checkpoint).state, load_checkpoint(two.image_checkpoint).state
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_without_a_run_is_a_clear_error(tmp_path, toy_vocabulary):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(_preset(1), ToyScenes(4), toy_vocabulary, tmp_path, progress=False, resume=True)


@pytest.mark.slow
def test_tiny_model_learns_where_the_toy_attributes_are(tmp_path, toy_vocabulary):
    """After a short run, the person map is higher on the red disc than off it, on unseen scenes."""
    preset = _preset(6, lr=0.05, batch_size=8)
    preset = dataclasses.replace(preset, model=dataclasses.replace(preset.model, prior_dropout=1.0))
    result = train(preset, ToyScenes(96), toy_vocabulary, tmp_path, progress=False)
    assert result.history[-1]["loss_cam_image"] < result.history[0]["loss_cam_image"]
    from privobf.scanning import Scanner

    scanner = Scanner(result.image_checkpoint)
    inside, outside = [], []
    for sample in ToyScenes(40, seed=99):
        if "x1_person_body" not in sample.masks:
            continue
        person = scanner.scan(sample.image).soft_mask("x1_person_body")
        mask = sample.masks["x1_person_body"]
        inside.append(person[mask].mean())
        outside.append(person[~mask].mean())
    assert sum(inside) / len(inside) > 1.5 * sum(outside) / len(outside)


DDP_SCRIPT = textwrap.dedent(
    """
    import dataclasses, json, sys
    sys.path.insert(0, {tests!r})
    import torch
    from conftest import ToyScenes
    from privobf.attributes import vocabulary_from_ids
    from privobf.models.config import tiny_preset
    from privobf.train.engine import train
    torch.set_num_threads(1)
    preset = tiny_preset()
    preset = dataclasses.replace(preset, train=dataclasses.replace(preset.train, epochs=1, batch_size=2))
    result = train(preset, ToyScenes(8), vocabulary_from_ids(ToyScenes.vocabulary_ids), sys.argv[1], progress=False, device="cpu")
    # One write per rank: both ranks share the stdout pipe, and print's separate writes can interleave.
    sys.stdout.write("RESULT " + json.dumps(result.history[-1]["steps"]) + "\\n")
    sys.stdout.flush()
    """
)


@pytest.mark.slow
def test_torchrun_ddp_with_two_cpu_processes(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT.format(tests=str(REPO_ROOT / "tests")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as probe:  # a free port, so a leftover process or a parallel run cannot collide
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    completed = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", port,
         str(script), str(tmp_path / "run")],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    # 8 samples over 2 processes with batch 2: 2 steps each.
    assert completed.stdout.count("RESULT 2") == 2
    checkpoint = load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert not any(k.startswith("module.") for k in checkpoint.state)  # saved from the unwrapped model


def test_per_epoch_validation_lands_in_the_metrics_log(tmp_path, toy_vocabulary):
    from privobf.evaluate.quick import quick_validation

    validate = quick_validation(ToyScenes(8, seed=5), toy_vocabulary)
    result = train(_preset(1), ToyScenes(8), toy_vocabulary, tmp_path, progress=False, validate=validate)
    record = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0.0 <= record["val_attribute_map"] <= 1.0 and -1.0 <= record["val_score_pearson"] <= 1.0
    assert record == result.history[-1]


def test_train_arguments_map_onto_the_preset():
    import argparse

    from privobf.train.run import add_train_arguments, preset_from_arguments

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--out", "x", "--preset", "tiny", "--tasks", "image+attr", "--loss-weights", "image=1,cam_image=0.5",
                              "--epochs", "3", "--image-size", "96"])
    preset = preset_from_arguments(args)
    assert preset.model.use_cropped is False and preset.model.use_attribute_task and not preset.model.use_privacy_task
    assert preset.train.loss_weights.image == 1.0 and preset.train.loss_weights.cam_image == 0.5
    assert preset.train.loss_weights.cropped == 1.0 and preset.train.epochs == 3 and preset.model.image_size == 96
    for bad in ("imag=1", "image=ten"):
        with pytest.raises(ValueError, match="loss"):
            preset_from_arguments(parser.parse_args(["--out", "x", "--loss-weights", bad]))
