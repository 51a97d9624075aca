"""Which files a command works on, and where each result goes, decided before any pixel is read.

Inputs are files, folders (searched recursively, in a stable order) and glob patterns, listed lazily so
a folder of a million photos costs no memory before work starts. Each input keeps the folder it was
found under, so `--out` can mirror the tree and two `IMG_0001.jpg` in different folders never collide.
Output naming never points at an input unless the user asked for `--in-place`.

What a folder holds is not trusted: a named pipe called `b.jpg` would block the reader forever, a
subfolder may not be readable, and the run's own output folders may lie inside the input tree. Anything
that is not a regular file, and every folder or entry that cannot be read, comes out as an `InputFile`
with a `problem` (a named failure of the batch, never a silent skip or a traceback); the output folders
given to `iter_inputs` are not entered at all.
"""

from __future__ import annotations

import glob
import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .atomic import NAME_MAX_BYTES
from .imageio import readable_suffixes, special_file_kind

# Formats privobf reads but does not write: results are written as PNG (lossless, keeps what was there).
_WRITE_AS_PNG = {".bmp", ".gif"}
_GLOB_CHARACTERS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    path: Path
    relative: Path  # folder of `path` relative to the folder or glob root it was found under ("." for files)
    problem: str | None = None  # set for a folder or glob that gave no photo, or an entry that cannot be read
    named: bool = True  # given by name on the command line (False: found in a folder or by a glob)


def iter_inputs(patterns: Sequence[str], skip_folders: Iterable[Path | None] = ()) -> Iterator[InputFile]:
    """Files as given, folders recursively (image suffixes only, hidden entries skipped), globs expanded.

    A missing file is yielded as it is, so the loader reports it by name with the other failures; the
    same file reached twice (a folder and a glob) is processed once. Folders in `skip_folders` (the
    run's --out, --reports and --previews) are never searched: a run does not read its own outputs.
    """
    seen: set[str] = set()
    suffixes = readable_suffixes()
    skipped = frozenset(_key(folder) for folder in skip_folders if folder is not None)
    for pattern in patterns:
        found = False
        for item in _expand(pattern, suffixes, skipped):
            found = True
            key = _key(item.path)
            if key not in seen:
                seen.add(key)
                yield item
        if not found:  # a typo in a folder or pattern must not pass as "nothing private found"
            known = ", ".join(sorted(suffixes))
            yield InputFile(Path(pattern), Path("."), f"{pattern}: matched no image files ({known})")


def _key(path: Path | str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _expand(pattern: str, suffixes: frozenset[str], skipped: frozenset[str]) -> Iterator[InputFile]:
    path = Path(pattern)
    if path.is_dir():
        yield from _walk(path, suffixes, skipped)
    elif _GLOB_CHARACTERS & set(pattern) and not path.exists():
        root = Path(_glob_root(pattern))
        for match in sorted(glob.iglob(pattern, recursive=True)):
            found = Path(match)
            if _inside(found, skipped):
                continue
            if found.is_dir():
                yield from _walk(found, suffixes, skipped, root)
            elif found.suffix.lower() in suffixes:
                yield _checked_file(found, _relative_folder(found, root))
    else:
        yield InputFile(path, Path("."))


def _inside(path: Path, folders: frozenset[str]) -> bool:
    key = _key(path)
    return any(key == folder or key.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


def _walk(folder: Path, suffixes: frozenset[str], skipped: frozenset[str], root: Path | None = None) -> Iterator[InputFile]:
    """Depth-first, names sorted, one directory listing in memory at a time; symlinked folders are not
    followed (as os.walk), so a link cannot make the walk loop."""
    root = folder if root is None else root
    if _key(folder) in skipped:
        return
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        yield InputFile(folder, _relative_folder(folder / "x", root),
                        f"{folder}: cannot read this folder ({error.strerror or error}); the photos in it were not processed",
                        named=False)
        return
    folders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_folder = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_folder = False
        if is_folder:
            folders.append(Path(entry.path))
        elif Path(entry.name).suffix.lower() in suffixes:
            found = Path(entry.path)
            yield _checked_file(found, _relative_folder(found, root))
    for sub in folders:
        yield from _walk(sub, suffixes, skipped, root)


def _checked_file(path: Path, relative: Path) -> InputFile:
    """A found entry with an image name: a regular file (or a link to one), else a named problem."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return InputFile(path, relative, f"{path}: no such file (a link to nothing?)", named=False)
    except OSError as error:
        return InputFile(path, relative, f"{path}: cannot read ({error.strerror or error})", named=False)
    kind = special_file_kind(mode)
    if kind is not None:
        return InputFile(path, relative, f"{path}: not a regular file ({kind}); skipped", named=False)
    return InputFile(path, relative, named=False)


def _glob_root(pattern: str) -> str:
    """The part of a glob before its first wildcard component: `photos/**/*.jpg` -> `photos`."""
    fixed = list(itertools.takewhile(lambda part: not _GLOB_CHARACTERS & set(part), Path(pattern).parts[:-1]))
    return str(Path(*fixed)) if fixed else "."


def _relative_folder(path: Path, root: Path) -> Path:
    try:
        return path.parent.relative_to(root)
    except ValueError:
        return Path(".")


def count_inputs(patterns: Sequence[str], skip_folders: Iterable[Path | None] = ()) -> int:
    """How many inputs `iter_inputs` will yield (a listing only, for the progress bar's ETA)."""
    return sum(1 for _ in iter_inputs(patterns, skip_folders))


def check_suffix(suffix: str) -> str:
    """`suffix` if it can only ever extend a file name; a ValueError saying why not otherwise.

    A suffix is pasted between an input's stem and its extension, so a separator in it would write
    outside the input's folder (`/../../escaped`) or create folders (`/x`)."""
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if any(separator in suffix for separator in separators):
        raise ValueError(f"--suffix {suffix!r}: must not contain a path separator; use --out DIR to write elsewhere")
    if any(ord(character) < 32 or ord(character) == 127 for character in suffix):
        raise ValueError(f"--suffix {suffix!r}: must not contain control characters")
    if suffix.strip(".") == "" and suffix:
        raise ValueError(f"--suffix {suffix!r}: needs a character other than dots")
    if len(suffix.encode("utf-8", "surrogateescape")) > 64:
        raise ValueError(f"--suffix {suffix!r}: at most 64 bytes")
    return suffix


@dataclass(frozen=True)
class OutputNaming:
    """Where the result of each input goes: `--out DIR` (tree mirrored), beside it with `--suffix`, or
    over it with `--in-place`. `extension` forces a format (".png" for masks)."""

    out: Path | None = None
    suffix: str = ".privobf"
    in_place: bool = False
    extension: str | None = None

    def __post_init__(self) -> None:
        if not self.in_place:
            check_suffix(self.suffix)
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
        check_name_length(target)
        return target


def check_name_length(path: Path) -> Path:
    """`path`, or a ValueError naming it when its file name is longer than file systems take."""
    size = len(path.name.encode("utf-8", "surrogateescape"))
    if size > NAME_MAX_BYTES:
        raise ValueError(f"its output name ({path.name[:24]}…{path.suffix}) would be {size} bytes, over the "
                         f"{NAME_MAX_BYTES}-byte limit of file names; rename the photo or choose a shorter --suffix")
    return path
