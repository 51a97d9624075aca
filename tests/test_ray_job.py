"""`privobf ray-scan` / `ray_scan` on a local two-CPU Ray: same reports and outputs as the local path,
bad files reported by name without stopping the job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from privobf.cli import main  # noqa: E402
from privobf.imageio import load_image  # noqa: E402
from privobf.ray_job import ray_scan  # noqa: E402

GOOD = ["a/p0.png", "a/p1.jpg", "a/p2.png", "b/deep/p3.jpg", "b/deep/p4.png", "b/p5.jpg"]
BAD = ["a/corrupt.jpg", "b/empty.png"]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray for the module: starting one costs seconds, and ray_scan reuses a running one."""
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_WAIT_POLICY": "PASSIVE"}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Six small photos (PNG and JPEG, in nested folders), one corrupt file and one empty file."""
    root = tmp_path_factory.mktemp("corpus")
    yy, xx = np.mgrid[:96, :128]
    for index, name in enumerate(GOOD):
        rng = np.random.default_rng(index)
        pixels = np.stack([(xx * 2 + index * 20) % 256, (yy * 2) % 256, np.full_like(xx, 60 + 20 * index)], -1)
        top, left = rng.integers(10, 50, 2)
        pixels[top:top + 30, left:left + 40] = rng.integers(0, 256, 3)
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.astype(np.uint8)).save(root / name, quality=95)
    (root / BAD[0]).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" + bytes(range(256)))
    (root / BAD[1]).write_bytes(b"")
    return root


@pytest.fixture(scope="module")
def local_reports(corpus, tiny_model):
    """Each good photo scanned in this process by the local path, without priors."""
    from privobf.scanning import Scanner

    scanner = Scanner(tiny_model)
    return {name: scanner.scan(corpus / name) for name in GOOD}


def _report(reports: Path, name: str) -> dict:
    return json.loads((reports / f"{name}.json").read_text(encoding="utf-8"))


def test_scan_matches_the_local_scanner_and_reports_bad_files(corpus, tiny_model, local_reports, tmp_path, capsys):
    summary = ray_scan([str(corpus)], reports=tmp_path / "reports", model=tiny_model, priors=False,
                       num_workers=2, batch_size=2)
    errors = capsys.readouterr().err
    assert summary["done"] == len(GOOD) and summary["failed"] == len(BAD)
    assert sorted(summary["failed_files"]) == sorted(str(corpus / name) for name in BAD)
    for name in BAD:  # each failure is reported with the file's name and why
        assert any(str(corpus / name) in line for line in errors.splitlines() if "skipped" in line)
    for name in GOOD:
        document, local = _report(tmp_path / "reports", name), local_reports[name]
        assert document["file"] == str(corpus / name) and document["output"] is None
        for attribute, probability in document["attributes"].items():
            assert probability == pytest.approx(round(local.probability(attribute), 4), abs=1e-5)
        assert document["privacy_score"] == pytest.approx(round(local.privacy_score, 4), abs=1e-5)
        assert document["present"] == local.present()
    saved = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    assert saved == summary
    expected_mean = np.mean([report.privacy_score for report in local_reports.values()])
    assert summary["mean_privacy_score"] == pytest.approx(expected_mean, abs=1e-4)


def test_obfuscation_hides_what_the_plan_says(corpus, tiny_model, local_reports, tmp_path):
    from privobf.attributes import vocabulary_from_ids
    from privobf.protection import ProtectionPlan

    vocabulary = vocabulary_from_ids(next(iter(local_reports.values())).attribute_ids)
    hide = ("a9_face_complete", "a74_address_current_complete")  # the tiny model's maps cover part of a photo
    plan = ProtectionPlan(vocabulary, hide=hide, force=True, mode="solid")
    summary = ray_scan([str(corpus)], reports=tmp_path / "reports", out=tmp_path / "out", plan=plan,
                       model=tiny_model, priors=False, num_workers=2, batch_size=4)
    assert summary["done"] == len(GOOD) and summary["failed"] == len(BAD)
    assert summary["attributes_hidden"] == {attribute: len(GOOD) for attribute in hide}
    for name in GOOD:
        target = tmp_path / "out" / Path(name).parent / f"{Path(name).stem}.privobf{Path(name).suffix}"
        assert _report(tmp_path / "reports", name)["output"] == str(target)
        before, after = load_image(corpus / name).pixels.astype(int), load_image(target).pixels.astype(int)
        assert after.shape == before.shape
        mask = plan.mask(local_reports[name])
        assert 0 < mask.mean() < 1, "the test needs a partial mask"
        difference = np.abs(after - before).max(-1)
        assert difference[mask].mean() > 20  # hidden: a solid fill
        limit = 0 if name.endswith(".png") else 6  # JPEG re-encoding moves pixels a little
        assert np.median(difference[~mask]) <= limit


def test_cli_exit_codes_and_resume(corpus, tiny_model, tmp_path, capsys):
    common = ["--reports", str(tmp_path / "r"), "--model", str(tiny_model), "--priors", "off", "--workers", "2"]
    assert main(["ray-scan", str(corpus), *common]) == 1  # two inputs failed
    assert f"{len(GOOD)} done" in capsys.readouterr().out
    # The good photos only (same tree root, so the same report names): all finished, nothing for Ray to do.
    assert main(["ray-scan", f"{corpus}/**/p*.*", *common, "--resume"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert (summary["done"], summary["skipped_finished"], summary["failed"]) == (0, len(GOOD), 0)


def test_cli_usage_errors_need_no_ray_work(corpus, tmp_path, capsys, monkeypatch):
    assert main(["ray-scan", str(corpus), "--reports", str(tmp_path), "--hide", "face"]) == 2
    assert "--out" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # as if the extra were not installed
    assert main(["ray-scan", str(corpus), "--reports", str(tmp_path)]) == 2
    assert "privobf[ray]" in capsys.readouterr().err
