"""`privobf scan` / `obfuscate` over folders: inputs, output naming, reports, resume, workers, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from privobf.batch import batches, prepare, prepared_stream
from privobf.cli import main
from privobf.evidence.appearance import derived_attributes
from privobf.inputs import InputFile, OutputNaming, iter_inputs
from privobf.priors import PriorSet

from .crashing_prior import DiesOnRedImages

REPO = Path(__file__).resolve().parents[1]


def _photo(path: Path, seed: int, size=(60, 80), color=None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    if color is not None:
        pixels[:] = color
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture
def album(tmp_path):
    root = tmp_path / "album"
    _photo(root / "IMG_1.jpg", 1)
    _photo(root / "trip" / "IMG_1.jpg", 2)  # same name, other folder: must not collide
    _photo(root / "trip" / "beach.png", 3, size=(70, 50))
    _photo(root / ".hidden" / "skip.jpg", 4)
    (root / "notes.txt").write_text("not a photo")
    return root


def _run(*args, model) -> int:
    return main([*args, "--model", str(model), "--priors", "off", "--progress", "off"])


def test_inputs_folders_globs_and_files_once_each(album):
    found = list(iter_inputs([str(album), str(album / "trip" / "*.png"), str(album / "IMG_1.jpg")]))
    names = [(str(i.relative), i.path.name) for i in found]
    assert names == [(".", "IMG_1.jpg"), ("trip", "IMG_1.jpg"), ("trip", "beach.png")]  # hidden + txt skipped, no repeats
    globbed = list(iter_inputs([str(album / "**" / "*.jpg")]))
    assert sorted(str(i.relative / i.path.name) for i in globbed) == ["IMG_1.jpg", "trip/IMG_1.jpg"]
    (album / "empty").mkdir()
    nothing = list(iter_inputs([str(album / "empty"), str(album / "*.heic.typo")]))
    assert [i.problem.split(": ")[1][:25] for i in nothing] == ["matched no image files (."] * 2


def test_output_naming_never_points_at_an_input(tmp_path):
    item = InputFile(tmp_path / "a.bmp", Path("sub"))
    assert OutputNaming(out=tmp_path / "o").target(item) == tmp_path / "o" / "sub" / "a.privobf.png"  # BMP written as PNG
    assert OutputNaming(suffix="_x", extension=".png").target(item) == tmp_path / "a_x.png"
    with pytest.raises(ValueError, match="refusing to overwrite"):
        OutputNaming(suffix="")
    with pytest.raises(ValueError, match="output name is the input"):
        OutputNaming(out=tmp_path, suffix="").target(InputFile(tmp_path / "a.png", Path(".")))
    assert OutputNaming(in_place=True).target(item) == item.path


def test_obfuscate_folder_mirrors_tree_with_reports_and_previews(album, tmp_path, tiny_model, capsys):
    out, reports, previews = tmp_path / "out", tmp_path / "reports", tmp_path / "previews"
    code = _run("obfuscate", str(album), "--out", str(out), "--reports", str(reports), "--previews", str(previews),
                "--hide", "face,names", "--force", "--mode", "blur", "--threshold", "0", "--mask-threshold", "0",
                model=tiny_model)
    assert code == 0, capsys.readouterr().err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "IMG_1.privobf.jpg", "trip/IMG_1.privobf.jpg", "trip/beach.privobf.png"]
    report = json.loads((reports / "trip" / "beach.png.json").read_text())
    assert report["format"] == "privobf-photo-report/1" and report["output"].endswith("beach.privobf.png")
    modes = {h["attribute"]: h["mode"] for h in report["hidden"]}
    assert modes["a9_face_complete"] == "blur" and modes["a19_name_full"] == "solid"  # text stays solid under --mode blur
    assert 0.0 <= report["privacy_score"] <= 1.0 and len(report["attributes"]) == len(report["present"]) + len(
        [a for a in report["attributes"] if a not in report["present"]])
    assert report["metadata"]["exif"] == "none written" and report["model"]["sha256"]
    assert report["plan"]["mode"] == "blur" and report["priors"] == {"human": "off", "text": "off"}
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["done"] == 3 and summary["failed"] == 0 and summary["attributes_hidden"]["a9_face_complete"] == 3
    for picture in ("trip/beach.png.heatmap.jpg", "trip/beach.png.before-after.jpg"):
        with Image.open(previews / picture) as image:
            assert image.height == 70 and image.width >= 50
    table = capsys.readouterr().out
    assert "3 done, 0 failed" in table and "a9_face_complete (blur)" in table


def test_mask_only_writes_the_mask_as_png(tmp_path, tiny_model):
    source = _photo(tmp_path / "p.jpg", 5)
    assert _run("obfuscate", str(source), "--out", str(tmp_path / "o"), "--mode", "mask-only", "--hide", "face",
                "--force", "--threshold", "0", "--mask-threshold", "0", model=tiny_model) == 0
    with Image.open(tmp_path / "o" / "p.privobf.png") as mask:
        values = np.asarray(mask)
    assert values.shape == (60, 80) and set(np.unique(values)) == {255}  # threshold 0: everything is in the mask


def test_in_place_replaces_only_when_asked_and_refuses_resume(tmp_path, tiny_model, capsys):
    source = _photo(tmp_path / "p.png", 6)
    original = source.read_bytes()
    assert _run("obfuscate", str(source), "--in-place", "--hide", "face", "--force", "--threshold", "0",
                "--mask-threshold", "0", model=tiny_model) == 0
    assert source.read_bytes() != original and (np.asarray(Image.open(source)) == 0).all()
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]  # no temp file, no second copy
    assert _run("obfuscate", str(source), "--in-place", "--resume", model=tiny_model) == 2
    assert _run("obfuscate", str(source), "--in-place", "--mode", "mask-only", model=tiny_model) == 2
    assert "mask-only" in capsys.readouterr().err


def test_resume_skips_finished_photos_and_cleans_a_killed_runs_temp_files(album, tmp_path, tiny_model, capsys):
    out = tmp_path / "out"
    assert _run("obfuscate", str(album), "--out", str(out), model=tiny_model) == 0
    finished = out / "IMG_1.privobf.jpg"
    stamp = finished.stat().st_mtime_ns
    (out / "trip" / "beach.privobf.png").unlink()
    stale = out / "trip" / ".beach.privobf.png.0123456789ab.tmp"
    stale.write_bytes(b"half")
    capsys.readouterr()
    assert _run("obfuscate", str(album), "--out", str(out), "--resume", model=tiny_model) == 0
    assert finished.stat().st_mtime_ns == stamp and (out / "trip" / "beach.privobf.png").is_file()
    assert not stale.exists()
    assert "1 done, 2 already finished (--resume)" in capsys.readouterr().out
    assert _run("obfuscate", str(album), "--out", str(out), model=tiny_model) == 1  # without --resume: refuses
    assert "already exists (--resume skips finished photos" in capsys.readouterr().err


def test_scan_json_lines_warn_exit_code_and_bad_file(album, tiny_model, capsys):
    (album / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert _run("scan", str(album), "--json", model=tiny_model) == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["status"] for line in lines[:-1]].count("failed") == 1 and lines[-1]["summary"]["done"] == 3
    (album / "broken.png").unlink()
    assert _run("scan", str(album), "--warn-above", "0", model=tiny_model) == 3  # every photo scores above 0
    assert "[above warning]" in capsys.readouterr().out
    assert _run("scan", str(album), "--warn-above", "1", model=tiny_model) == 0


def test_preferences_file_sets_the_plan_and_typos_are_named(album, tmp_path, tiny_model, capsys):
    preferences = tmp_path / "prefs.toml"
    preferences.write_text('hide = ["face", "addresses", "people"]\nmode = "pixelate"\nthreshold = 0\n'
                           '[attributes.person_body]\nmode = "blur"\n')
    reports = tmp_path / "r"
    assert _run("obfuscate", str(album / "IMG_1.jpg"), "--out", str(tmp_path / "o"), "--preferences", str(preferences),
                "--reports", str(reports), model=tiny_model) == 0
    listed = [h["attribute"] for h in json.loads((reports / "IMG_1.jpg.json").read_text())["hidden"]]
    hidden = {h["attribute"]: h["mode"] for h in json.loads((reports / "IMG_1.jpg.json").read_text())["hidden"]}
    assert len(listed) == len(set(listed))  # "face" and "people" both hold the face: hidden once
    # The tiny model knows one face, one address and the whole-person extension of the synthetic scenes; "people"
    # also holds the appearance attributes VISPR's label statistics derive from the face (issue 19).
    appearance = {attribute: "pixelate" for attribute in derived_attributes(["a9_face_complete"])}
    assert hidden == {"a9_face_complete": "pixelate", "x1_person_body": "blur", "a74_address_current_complete": "solid",
                      **appearance}
    preferences.write_text('hide = ["face"]\ntreshold = 0.4\n')
    assert _run("scan", str(album), "--preferences", str(preferences), model=tiny_model) == 2
    assert "prefs.toml: unknown setting 'treshold'; did you mean 'threshold'?" in capsys.readouterr().err
    os.environ["PRIVOBF_PREFERENCES"] = str(preferences)
    try:
        assert _run("scan", str(album), model=tiny_model) == 2  # found through the environment too
    finally:
        del os.environ["PRIVOBF_PREFERENCES"]


def test_own_profile_file_scores_with_the_users_ratings(tmp_path, tiny_model, capsys):
    source = _photo(tmp_path / "p.png", 7)
    mine = tmp_path / "mine.toml"
    mine.write_text("[sensitivity]\nall = 5\n")  # everything private is maximally sensitive to me
    reports = tmp_path / "r"
    assert _run("scan", str(source), "--profile", str(mine), "--reports", str(reports), model=tiny_model) == 0
    report = json.loads((reports / "p.png.json").read_text())
    assert any("own sensitivity profile" in note for note in report["notes"])
    probabilities = [p for a, p in report["attributes"].items() if a != "a0_safe"]
    assert report["privacy_score"] == pytest.approx(max(probabilities), abs=1e-3)  # max pooling of 5/5 x probability
    assert _run("scan", str(source), "--profile", "profile07", model=tiny_model) == 0
    assert _run("scan", str(source), "--profile", str(tmp_path / "missing.toml"), model=tiny_model) == 2


def test_worker_processes_match_in_process_and_survive_a_crashing_file(tmp_path, tiny_model):
    folder = tmp_path / "photos"
    for k in range(4):
        _photo(folder / f"p{k}.png", k)
    _photo(folder / "p2_red.png", 9, color=(255, 0, 0))  # kills the worker that reads it
    items = list(iter_inputs([str(folder)]))
    prior_set = PriorSet([DiesOnRedImages()])
    parallel = list(prepared_stream(items, prior_set, workers=1, window=3))
    assert [p.item.path.name for p in parallel] == [i.path.name for i in items]  # input order kept
    errors = {p.item.path.name: p.error for p in parallel if p.error}
    assert list(errors) == ["p2_red.png"] and "crashed" in errors["p2_red.png"]
    inline = [prepare(i, None) for i in items if i.path.name != "p2_red.png"]
    ok = [p for p in parallel if p.error is None]
    assert all((a.loaded.pixels == b.loaded.pixels).all() for a, b in zip(ok, inline))


def test_in_flight_photos_are_bounded_whatever_the_folder_size(tmp_path):
    folder = tmp_path / "photos"
    for k in range(12):
        _photo(folder / f"p{k:02d}.png", k, size=(20, 20))
    pulled = 0

    def counting():
        nonlocal pulled
        for item in iter_inputs([str(folder)]):
            pulled += 1
            yield item

    most_ahead = 0
    for yielded, _ in enumerate(prepared_stream(counting(), None, workers=1, window=4), start=1):
        most_ahead = max(most_ahead, pulled - yielded)
    assert yielded == 12 and most_ahead <= 4
    sizes = [len(b) for b in batches(prepared_stream(iter_inputs([str(folder)]), None), 5)]
    assert sizes == [5, 5, 2]


def test_kill_9_mid_batch_leaves_no_partial_output_and_resume_finishes(tmp_path, tiny_model):
    folder, out, reports = tmp_path / "photos", tmp_path / "out", tmp_path / "reports"
    for k in range(20):
        _photo(folder / f"p{k:02d}.png", k, size=(480, 640))
    command = [sys.executable, "-m", "privobf", "obfuscate", str(folder), "--out", str(out), "--reports", str(reports),
               "--model", str(tiny_model), "--priors", "off", "--workers", "0", "--batch-size", "1", "--progress", "off"]
    environment = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(reports.glob("p*.json"))) < 3:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert 3 <= len(finished) < 20, "the kill should land mid-batch"
    for path in finished:  # every file under a final name is complete
        with Image.open(path) as image:
            image.load()
    for path in reports.glob("*.json"):
        json.loads(path.read_text())
    rerun = subprocess.run(command + ["--resume"], env=environment, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"p{k:02d}.privobf.png" for k in range(20)]  # no temp files left
    assert sorted(p.name for p in reports.iterdir()) == sorted([f"p{k:02d}.png.json" for k in range(20)] + ["summary.json"])
