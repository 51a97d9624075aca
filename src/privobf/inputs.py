"""Which files a command works on, and where each result goes, decided before any pixel is read.

Inputs are files, folders (searched recursively, in a stable order) and glob patterns, listed lazily so
a folder of a million photos costs no memory before work starts. Each input keeps the folder it was
found under, so `--out` can mirror the tree and two `IMG_0001.jpg` in different folders never collide.
Output naming never points at an input unless the user asked for `--in-place`.
"""

from __future__ import annotations

import glob
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from .imageio import readable_suffixes

# Formats privobf reads but does not write: results are written as PNG (lossless, keeps what was there).
_WRITE_AS_PNG = {".bmp", ".gif"}
_GLOB_CHARACTERS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    path: Path
    relative: Path  # folder of `path` relative to the folder or glob root it was found under ("." for files)
    problem: str | None = None  # set for a folder or glob that gave no photo: reported like a bad file


def iter_inputs(patterns: Sequence[str]) -> Iterator[InputFile]:
    """Files as given, folders recursively (image suffixes only, hidden entries skipped), globs expanded.

    A missing file is yielded as it is, so the loader reports it by name with the other failures; the
    same file reached twice (a folder and a glob) is processed once.
    """
    seen: set[str] = set()
    suffixes = readable_suffixes()
    for pattern in patterns:
        found = False
        for item in _expand(pattern, suffixes):
            found = True
            key = os.path.normcase(os.path.abspath(item.path))
            if key not in seen:
                seen.add(key)
                yield item
        if not found:  # a typo in a folder or pattern must not pass as "nothing private found"
            known = ", ".join(sorted(suffixes))
            yield InputFile(Path(pattern), Path("."), f"{pattern}: matched no image files ({known})")


def _expand(pattern: str, suffixes: frozenset[str]) -> Iterator[InputFile]:
    path = Path(pattern)
    if path.is_dir():
        yield from _walk(path, suffixes)
    elif _GLOB_CHARACTERS & set(pattern) and not path.exists():
        root = Path(_glob_root(pattern))
        for match in sorted(glob.iglob(pattern, recursive=True)):
            found = Path(match)
            if found.is_dir():
                yield from _walk(found, suffixes, root)
            elif found.suffix.lower() in suffixes:
                yield InputFile(found, _relative_folder(found, root))
    else:
        yield InputFile(path, Path("."))


def _walk(folder: Path, suffixes: frozenset[str], root: Path | None = None) -> Iterator[InputFile]:
    """Depth-first, names sorted, one directory listing in memory at a time."""
    root = folder if root is None else root
    for current, directories, files in os.walk(folder):
        directories[:] = sorted(d for d in directories if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in suffixes:
                found = Path(current) / name
                yield InputFile(found, _relative_folder(found, root))


def _glob_root(pattern: str) -> str:
    """The part of a glob before its first wildcard component: `photos/**/*.jpg` -> `photos`."""
    fixed = list(itertools.takewhile(lambda part: not _GLOB_CHARACTERS & set(part), Path(pattern).parts[:-1]))
    return str(Path(*fixed)) if fixed else "."


def _relative_folder(path: Path, root: Path) -> Path:
    try:
        return path.parent.relative_to(root)
    except ValueError:
        return Path(".")


def count_inputs(patterns: Sequence[str]) -> int:
    """How many inputs `iter_inputs` will yield (a listing only, for the progress bar's ETA)."""
    return sum(1 for _ in iter_inputs(patterns))


@dataclass(frozen=True)
class OutputNaming:
    """Where the result of each input goes: `--out DIR` (tree mirrored), beside it with `--suffix`, or
    over it with `--in-place`. `extension` forces a format (".png" for masks)."""

    out: Path | None = None
    suffix: str = ".privobf"
    in_place: bool = False
    extension: str | None = None

    def __post_init__(self) -> None:
        if self.in_place and (self.out is not None or self.extension is not None):
            raise ValueError("--in-place writes over each input in its own format; it cannot be combined with --out or --format")
        if not self.in_place and self.out is None and not self.suffix:
            raise ValueError("refusing to overwrite inputs: give --out DIR, a non-empty --suffix, or --in-place")

    def target(self, item: InputFile) -> Path:
        if self.in_place:
            return item.path
        suffix = self.extension or item.path.suffix
        if suffix.lower() in _WRITE_AS_PNG:
            suffix = ".png"
        name = f"{item.path.stem}{self.suffix}{suffix}"
        folder = item.path.parent if self.out is None else self.out / item.relative
        target = folder / name
        if os.path.abspath(target) == os.path.abspath(item.path):
            raise ValueError(f"{item.path}: the output name is the input itself; give a --suffix or --out")
        return target
