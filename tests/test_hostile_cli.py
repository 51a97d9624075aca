"""Hostile files, names, folders and options for `privobf scan` / `obfuscate` (issue 16).

Each test reproduces one defect a hostile probe found, and checks the promise it broke: inputs are never
overwritten, a batch goes on past a bad entry and names it, and a bad option is a one-line usage error.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from privobf import runner
from privobf.cli import main
from privobf.inputs import check_suffix, iter_inputs
from privobf.provenance import is_privobf_output
from privobf.terminal import json_line, printable

REPO = Path(__file__).resolve().parents[1]
HIDE_ALL = ("--hide", "face", "--force", "--threshold", "0", "--mask-threshold", "0")


def _photo(path: Path, seed: int, size=(60, 80)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path


def _run(*args, model) -> int:
    return main([*args, "--model", str(model), "--priors", "off", "--progress", "off"])


def _usage_exit(argv: list[str]) -> int:
    """Exit status of a command argparse refuses (SystemExit), or of one the handlers refuse."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------------------------- data loss


def test_an_output_never_lands_on_an_input_whatever_overwrite_says(tmp_path, tiny_model, capsys):
    """x.jpg and x_safe.jpg, --suffix _safe --overwrite: x.jpg's output would be the input x_safe.jpg."""
    folder = tmp_path / "in"
    _photo(folder / "x.jpg", 1)
    users_photo = _photo(folder / "x_safe.jpg", 2)
    before = users_photo.read_bytes()
    assert _run("obfuscate", str(folder), "--suffix", "_safe", "--overwrite", model=tiny_model) == 1
    assert users_photo.read_bytes() == before
    err = capsys.readouterr().err
    assert "x_safe.jpg exists and privobf did not write it: --overwrite only replaces privobf's own outputs" in err
    # Named on the command line too, even when it is privobf's own earlier output:
    earlier = tmp_path / "p.jpg"
    _photo(earlier, 3)
    assert _run("obfuscate", str(earlier), model=tiny_model) == 0
    output = tmp_path / "p.privobf.jpg"
    assert is_privobf_output(output)
    kept = output.read_bytes()
    assert _run("obfuscate", str(output), str(earlier), "--overwrite", model=tiny_model) == 1
    assert output.read_bytes() == kept  # named, so an input: read (its own output is p.privobf.privobf.jpg), never replaced
    assert "is an input of this run (or a file it reads); privobf never writes over one" in capsys.readouterr().err


def test_overwrite_replaces_privobfs_own_earlier_output(tmp_path, tiny_model, capsys):
    source = _photo(tmp_path / "a.png", 4)
    assert _run("obfuscate", str(source), model=tiny_model) == 0
    output = tmp_path / "a.privobf.png"
    first = output.stat().st_mtime_ns
    time.sleep(0.01)
    assert _run("obfuscate", str(source), "--overwrite", *HIDE_ALL, model=tiny_model) == 0
    assert output.stat().st_mtime_ns != first and (np.asarray(Image.open(output)) == 0).all()


@pytest.mark.parametrize("suffix", ["/../../escaped", "/x", "\\x", "..", "a\nb"])
def test_a_suffix_that_is_not_part_of_a_name_is_a_usage_error(tmp_path, tiny_model, capsys, suffix):
    folder = tmp_path / "deep" / "in"
    _photo(folder / "p.png", 5)
    before = _files(tmp_path)
    assert _run("obfuscate", str(folder), f"--suffix={suffix}", model=tiny_model) == 2
    assert _files(tmp_path) == before
    assert "--suffix" in capsys.readouterr().err
    with pytest.raises(ValueError):
        check_suffix(suffix)


@pytest.mark.skipif(os.name != "posix", reason="symlinks and modes")
def test_in_place_writes_through_a_symlink_and_keeps_the_mode(tmp_path, tiny_model):
    real = _photo(tmp_path / "store" / "real.png", 6)
    real.chmod(0o640)
    link = tmp_path / "album" / "link.png"
    link.parent.mkdir()
    link.symlink_to(real)
    assert _run("obfuscate", str(tmp_path / "album"), "--in-place", *HIDE_ALL, model=tiny_model) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)  # the link is kept ...
    assert (np.asarray(Image.open(real)) == 0).all()  # ... and the photo it names is the one obfuscated
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["real.png"]  # no temp file left


def test_reruns_never_take_their_own_outputs_as_inputs(tmp_path, tiny_model, capsys):
    folder = tmp_path / "in"
    _photo(folder / "p.jpg", 7)
    _photo(folder / "sub" / "q.png", 8)
    for _ in range(2):
        assert _run("obfuscate", str(folder), "--resume", model=tiny_model) == 0
    assert _files(folder) == ["p.jpg", "p.privobf.jpg", "sub/q.png", "sub/q.privobf.png"]
    assert "2 files privobf wrote earlier not read as inputs" in capsys.readouterr().out
    hidden = folder / "hidden"
    for _ in range(2):  # --out inside the input folder, with reports and previews there too
        assert _run("obfuscate", str(folder), "--out", str(hidden), "--previews", str(folder / "previews"),
                    "--resume", model=tiny_model) == 0
    assert _files(hidden) == ["p.privobf.jpg", "sub/q.privobf.png"]
    assert not (hidden / "hidden").exists()


# ----------------------------------------------------------------------------------------------- resources


@pytest.mark.parametrize("scales", ["50", "1,10", "nan", "inf", "1,-1", "0", ",".join(["1"] * 9)])
def test_scales_are_bounded(scales, tmp_path, tiny_model, capsys):
    _photo(tmp_path / "p.png", 9)
    assert _usage_exit(["scan", str(tmp_path), "--model", str(tiny_model), "--scales", scales]) == 2
    assert "argument --scales" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_worker_processes_exit_when_the_main_process_is_killed(tmp_path, tiny_model):
    folder = tmp_path / "in"
    for k in range(40):
        _photo(folder / f"p{k:02d}.png", k, size=(400, 500))
    command = [sys.executable, "-m", "privobf", "obfuscate", str(folder), "--out", str(tmp_path / "out"),
               "--model", str(tiny_model), "--priors", "off", "--workers", str(min(2, os.cpu_count() or 1)),
               "--progress", "off"]
    process = subprocess.Popen(command, env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(children) < 1:
        children = _children(process.pid)
        time.sleep(0.1)
    assert children, "the batch should have started its workers"
    time.sleep(1.0)
    children = _children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(child) for child in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ----------------------------------------------------------------------------------------------- hangs


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_fifo_named_like_a_photo_is_a_named_failure_not_a_hang(tmp_path, tiny_model, capsys):
    folder = tmp_path / "in"
    _photo(folder / "a.jpg", 10)
    os.mkfifo(folder / "b.jpg")
    started = time.monotonic()
    assert _run("scan", str(folder), model=tiny_model) == 1
    assert _run("scan", str(folder / "b.jpg"), model=tiny_model) == 1  # named on the command line too
    assert time.monotonic() - started < 60
    err = capsys.readouterr().err
    assert err.count("b.jpg: not a regular file (a named pipe (FIFO)); skipped") == 2


def test_an_output_name_over_255_bytes_fails_that_photo_only(tmp_path, tiny_model, capsys):
    folder = tmp_path / "in"
    _photo(folder / ("n" * 250 + ".png"), 11)
    _photo(folder / "ok.png", 12)
    assert _run("obfuscate", str(folder), "--reports", str(tmp_path / "r"), model=tiny_model) == 1
    captured = capsys.readouterr()
    assert "over the 255-byte limit of file names; rename the photo or choose a shorter --suffix" in captured.err
    assert "1 done, 1 failed" in captured.out and (folder / "ok.privobf.png").is_file()
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["failed"] == 1


def test_a_name_of_exactly_255_bytes_is_written(tmp_path, tiny_model):
    """Its temp file gets a shortened name: the 255-byte limit applies to the final name only."""
    name = "n" * (255 - len(".privobf.png")) + ".png"
    source = _photo(tmp_path / "in" / name, 13)
    assert _run("obfuscate", str(source), "--out", str(tmp_path / "out"), model=tiny_model) == 0
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_unreadable_folders_and_entries_are_named_failures(tmp_path, tiny_model, capsys, monkeypatch):
    """Simulated (the tests run as root, which reads anything): a subfolder whose listing is refused."""
    folder = tmp_path / "in"
    _photo(folder / "a.png", 14)
    _photo(folder / "locked" / "b.png", 15)
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr("privobf.inputs.os.scandir", scandir)
    assert _run("scan", str(folder), model=tiny_model) == 1
    err = capsys.readouterr().err
    assert "locked: cannot read this folder (Permission denied); the photos in it were not processed" in err


def test_a_summary_that_cannot_be_written_is_named_after_the_table(tmp_path, tiny_model, capsys, monkeypatch):
    _photo(tmp_path / "in" / "a.png", 16)
    _photo(tmp_path / "in" / "b.png", 17)
    real_write = runner.atomic_write

    def disk_full(path, write):
        if Path(path).name == "summary.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, write)

    monkeypatch.setattr(runner, "atomic_write", disk_full)
    assert _run("scan", str(tmp_path / "in"), "--reports", str(tmp_path / "r"), model=tiny_model) == 1
    captured = capsys.readouterr()
    assert "2 done, 0 failed" in captured.out  # the table still prints
    assert captured.err.count("summary.json: could not write the summary (No space left on device)") == 1
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert _run("scan", str(tmp_path / "in"), "--reports", str(a_file), model=tiny_model) == 2
    assert "--reports" in capsys.readouterr().err and a_file.read_text() == "x"


# ----------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize("option", [
    ("--max-megapixels", "nan"), ("--max-megapixels", "inf"), ("--max-megapixels", "1e-9"), ("--strength", "nan"),
    ("--strength", "inf"), ("--strength", "0"), ("--threshold", "nan"), ("--warn-above", "inf"), ("--dilate", "-1"),
    ("--dilate", "100000000"), ("--quality", "0"), ("--batch-size", "0"), ("--workers", "100000"),
])
def test_option_values_that_make_no_sense_are_usage_errors(option, tmp_path, tiny_model, capsys):
    _photo(tmp_path / "p.png", 18)
    argv = ["obfuscate", str(tmp_path / "p.png"), "--model", str(tiny_model), "--priors", "off", *option]
    assert _usage_exit(argv) == 2
    err = capsys.readouterr().err
    assert option[0] in err and "Traceback" not in err
    assert _files(tmp_path) == ["p.png"]


# ----------------------------------------------------------------------------------------------- messages


def test_messages_speak_of_options_not_of_library_arguments(tmp_path, tiny_model, capsys):
    big = _photo(tmp_path / "big.png", 19, size=(400, 500))
    assert _run("scan", str(big), "--max-megapixels", "0.1", model=tiny_model) == 1
    assert "exceeds the 0.1 MP limit; use a larger --max-megapixels if you trust this file" in capsys.readouterr().err
    gif = tmp_path / "anim.gif"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(gif)
    before = gif.read_bytes()
    assert _run("obfuscate", str(gif), "--in-place", model=tiny_model) == 1
    err = capsys.readouterr().err
    assert "--in-place cannot write GIF files" in err and gif.read_bytes() == before
    profile = tmp_path / "mine.tsv"
    profile.write_bytes(bytes(range(256)))
    assert _run("scan", str(big), "--profile", str(profile), model=tiny_model) == 2
    assert f"{profile}: not a text file" in capsys.readouterr().err


def test_an_empty_preferences_variable_means_none(tmp_path, tiny_model, monkeypatch, capsys):
    monkeypatch.setenv("PRIVOBF_PREFERENCES", "")
    monkeypatch.chdir(tmp_path)
    _photo(tmp_path / "p.png", 20)
    assert _run("scan", "p.png", model=tiny_model) == 0
    assert _usage_exit(["scan", "p.png", "--preferences", "", "--model", str(tiny_model)]) == 2


def test_a_decoder_warning_names_the_photo(tmp_path, tiny_model, capsys):
    """Pillow's "Corrupt EXIF data" (and any other decoder warning) is printed once, with the file's name."""
    import struct

    ifd = struct.pack("<H", 30) + struct.pack("<HHII", 0x0112, 3, 1, 1)  # claims 30 entries, holds 1
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd
    path = tmp_path / "odd.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path, exif=exif)
    assert _run("scan", str(path), model=tiny_model) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("privobf: warning:")]
    assert warnings and all(f"{path}: " in line for line in warnings)


def test_empty_hide_lists_are_refused_not_silent(tmp_path, tiny_model, capsys):
    photo = _photo(tmp_path / "p.png", 21)
    preferences = tmp_path / "prefs.toml"
    preferences.write_text("hide = []\n")
    assert _run("obfuscate", str(photo), "--preferences", str(preferences), model=tiny_model) == 2
    assert "an empty list would hide nothing" in capsys.readouterr().err
    assert _run("obfuscate", str(photo), "--hide", "", model=tiny_model) == 2
    assert _run("obfuscate", str(photo), "--hide", ",", model=tiny_model) == 2
    assert "names nothing to hide" in capsys.readouterr().err
    assert _files(tmp_path) == ["p.png", "prefs.toml"]


def test_control_characters_in_file_names_are_printed_escaped(tmp_path, tiny_model, capsys):
    name = "a\x1b]0;owned\x07\nprivobf: all done\u202e.png"
    _photo(tmp_path / "in" / name, 22)
    (tmp_path / "in" / "bad\x1b[2J.png").write_bytes(b"not an image")
    assert _run("scan", str(tmp_path / "in"), model=tiny_model) == 1
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert "\x1b" not in stream and "\u202e" not in stream and "\x07" not in stream
    assert "a\\x1b]0;owned\\x07\\nprivobf: all done\\u202e.png" in captured.out
    assert "bad\\x1b[2J.png" in captured.err
    assert _run("scan", str(tmp_path / "in"), "--json", model=tiny_model) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {Path(r["file"]).name for r in records if "file" in r} == {name, "bad\x1b[2J.png"}


def test_printable_and_json_line_escape_what_a_terminal_would_act_on():
    text = "x\x1b[31m\x9b\u2028\udcff\ty"
    assert printable(text) == "x\\x1b[31m\\x9b\\u2028\\xff\\ty"
    line = json_line({"f": text})
    assert json.loads(line) == {"f": text} and not any(ch in line for ch in "\x1b\x9b\u2028\t")


def test_iter_inputs_skips_the_runs_own_output_folders(tmp_path):
    _photo(tmp_path / "a.png", 23)
    _photo(tmp_path / "out" / "a.privobf.png", 24)
    found = [item.path.name for item in iter_inputs([str(tmp_path)], [tmp_path / "out"])]
    assert found == ["a.png"]
