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

NAME_MAX_BYTES = 255  # the longest file name ext4, XFS, btrfs, APFS and NTFS take (in bytes, UTF-8)
_TEMP_EXTRA = len(".") + len(".0123456789ab.tmp")


def temp_prefix(name: str) -> str:
    """The target's name as it starts the temp file's name, shortened so that the temp name stays within
    NAME_MAX_BYTES: a target of 250 bytes is legal, its temp file must be too."""
    room = NAME_MAX_BYTES - _TEMP_EXTRA
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= room:
        return name
    return encoded[:room].decode("utf-8", "ignore")


def create_temp_file(directory: Path, name: str) -> Path:
    """An exclusive, hidden temp file beside the target (so the rename cannot cross filesystems).

    os.open with 0o666 lets the umask set permissions as for any new file (tempfile.mkstemp would
    leave the published file readable by its owner only)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = directory / f".{temp_prefix(name)}.{secrets.token_hex(6)}.tmp"
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
    prefix = temp_prefix(target.name)
    pattern = re.compile(rf"^\.{re.escape(prefix)}\.[0-9a-f]{{12}}\.tmp$")
    removed = 0
    if not target.parent.is_dir():
        return 0
    for candidate in target.parent.glob(f".{glob.escape(prefix)}.*.tmp"):
        if pattern.match(candidate.name):
            remove_quietly(candidate)
            removed += 1
    return removed
