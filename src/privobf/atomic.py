"""Atomic file writes: a reader sees the old file or the complete new one, never half of one.

Shared by image outputs (`privobf.imageio`) and checkpoints / logs (`privobf.checkpoint`).
"""

from __future__ import annotations

import glob
import os
import re
import secrets
from pathlib import Path
from typing import Callable


def create_temp_file(directory: Path, name: str) -> Path:
    """An exclusive, hidden temp file beside the target (so the rename cannot cross filesystems).

    os.open with 0o666 lets the umask set permissions as for any new file (tempfile.mkstemp would
    leave the published file readable by its owner only)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(temp, flags, 0o666))
            return temp
        except FileExistsError:
            continue


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def sync_directory(directory: Path) -> None:
    """Persist the rename itself. Not possible everywhere (Windows, some network filesystems): best effort."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call write(temp_path), fsync, then rename over `path` (replacing any existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = create_temp_file(path.parent, path.name)
    try:
        write(temp)
        with open(temp, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        remove_quietly(temp)
        raise
    sync_directory(path.parent)


def remove_stale_temps(target: Path) -> int:
    """Delete the temp files a killed run left beside `target` (only names `create_temp_file` makes
    for exactly this target); returns how many. Called before `target` is written again."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9a-f]{{12}}\.tmp$")
    removed = 0
    if not target.parent.is_dir():
        return 0
    for candidate in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        if pattern.match(candidate.name):
            remove_quietly(candidate)
            removed += 1
    return removed
