"""`privobf scan` and `privobf obfuscate` over many photos: the loop, the outputs, the summary.

One `BatchRun` streams inputs through `batch.prepared_stream` (decoding and priors in worker
processes), scans them in batches, and for each photo writes, in this order: the result (obfuscated
photo or mask), the preview pictures, then the JSON report. Every file is written atomically, so a run
killed at any moment leaves finished files and hidden temp files, never a half-written file under a
final name; `--resume` skips photos whose outputs all exist and removes the temp files a killed run
left beside the outputs it redoes.

What may be written where is checked before a photo is read: an output never lands on an input of the
run or a file it reads (model, preferences, profile), whatever `--overwrite` says; an existing image is
only replaced when privobf wrote it (its mark, `privobf.provenance`), so `--overwrite` cannot destroy a
photo that merely has an output's name; and files privobf wrote are not taken as inputs when a folder
or glob finds them, so reruns never obfuscate their own outputs.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence, TextIO

import numpy as np

from .atomic import atomic_write, remove_stale_temps
from .batch import Prepared, batches, prepared_stream
from .imageio import MAX_PIXELS, save_image_atomic
from .inputs import InputFile, OutputNaming, check_name_length, count_inputs, iter_inputs
from .memory import release_freed_memory
from .photo_report import BatchSummary, dumps, photo_report
from .protection import ProtectedImage, ProtectionPlan, protect
from .provenance import is_privobf_output
from .terminal import json_line, printable

if TYPE_CHECKING:
    from .priors import PriorSet
    from .report import PrivacyReport
    from .scanning import Scanner

PREVIEW_MAX_SIDE = 1600
PREVIEW_EXTENSIONS = (".heatmap.jpg", ".before-after.jpg")
# Formats privobf reads but cannot write: --in-place cannot replace them in their own format.
_NOT_WRITABLE_IN_PLACE = {".gif", ".bmp"}


@dataclass
class RunOptions:
    """How a batch runs. `plan` and `naming` are None for `scan` (nothing is hidden or written but reports)."""

    plan: ProtectionPlan | None = None
    naming: OutputNaming | None = None
    reports: Path | None = None
    previews: Path | None = None
    resume: bool = False
    overwrite: bool = False
    keep_metadata: bool = False
    warn_above: float | None = None
    workers: int = 0
    batch_size: int = 4
    max_pixels: int = MAX_PIXELS
    quality: int = 95
    json_lines: bool = False
    quiet: bool = False
    progress: bool | None = None  # None: a progress bar when stderr is a terminal
    read_files: tuple[Path, ...] = field(default_factory=tuple)  # model, preferences, profile: never written over
    limit_hint: str = "use a larger --max-megapixels if you trust this file"


class BatchRun:
    def __init__(self, scanner: "Scanner", options: RunOptions, prior_set: "PriorSet | None", out: TextIO | None = None):
        self.scanner, self.options, self.prior_set = scanner, options, prior_set
        self.out = out if out is not None else sys.stdout
        self.summary = BatchSummary(warn_above=options.warn_above)
        self.summary_error: str | None = None
        self._protected: set[str] = {_real(path) for path in options.read_files}
        self._written: dict[str, Path] = {}  # real path of each output written -> the input it came from

    def run(self, patterns: Sequence[str]) -> BatchSummary:
        self._protected |= {_real(pattern) for pattern in patterns if os.path.isfile(pattern)}
        bar = self._progress_bar(patterns)
        try:
            todo = self.not_finished(iter_inputs(patterns, self._output_folders()), bar)
            stream = prepared_stream(
                todo, self.prior_set, workers=self.options.workers,
                window=max(2 * self.options.workers, self.options.batch_size) + 1, max_pixels=self.options.max_pixels,
                limit_hint=self.options.limit_hint,
            )
            for batch in batches(stream, self.options.batch_size):
                self.process(batch)
                if bar is not None:
                    bar.update(len(batch))
        finally:
            if bar is not None:
                bar.close()
        self.write_summary()
        return self.summary

    def _output_folders(self) -> list[Path | None]:
        naming = self.options.naming
        return [naming.out if naming is not None else None, self.options.reports, self.options.previews]

    def write_summary(self) -> None:
        """`summary.json` in the reports folder (created if no photo got that far), when reports are asked for.
        A summary that cannot be written (disk full, --reports naming a file) is named in `summary_error`:
        the caller prints its table, then that error, and exits 1."""
        if self.options.reports is None:
            return
        target = self.options.reports / "summary.json"
        try:
            self.options.reports.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda temp: temp.write_text(dumps(self.summary.to_dict()), encoding="utf-8"))
        except OSError as error:
            self.summary_error = f"{target}: could not write the summary ({error.strerror or error})"

    def _progress_bar(self, patterns: Sequence[str]):
        """A bar with ETA, or None. Only a bar needs the total, so only a bar pays for a listing pass."""
        wanted = self.options.progress if self.options.progress is not None else sys.stderr.isatty()
        if not wanted:
            return None
        from tqdm import tqdm

        total = count_inputs(patterns, self._output_folders())
        return tqdm(total=total, unit="photo", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)

    # ------------------------------------------------------------------------------------- skipping and refusing

    def _targets(self, item: InputFile) -> list[Path]:
        """Every file this photo's run writes; all of them existing = finished."""
        targets = []
        if self.options.naming is not None and not self.options.naming.in_place:
            targets.append(self.options.naming.target(item))
        report = self._companion(item, self.options.reports, ".json")
        if report is not None:
            targets.append(check_name_length(report))
        for extension in PREVIEW_EXTENSIONS:  # not "finished" markers, but a name too long must fail before any write
            preview = self._companion(item, self.options.previews, extension)
            if preview is not None:
                check_name_length(preview)
        return targets

    def _companion(self, item: InputFile, folder: Path | None, extension: str) -> Path | None:
        if folder is None:
            return None
        # The full input name (IMG_1.jpg.json): IMG_1.jpg and IMG_1.png in one folder keep separate reports.
        return folder / item.relative / f"{item.path.name}{extension}"

    def not_finished(self, items: Iterator[InputFile], bar) -> Iterator[InputFile]:
        """The inputs left to do; the others are counted (finished with --resume, or privobf's own outputs)
        or reported here."""
        for item in items:
            refusal = self._refusal(item)
            if refusal is None:
                yield item
                continue
            if refusal == "finished":
                self.summary.skipped += 1
            elif refusal == "an output":
                self.summary.earlier_outputs += 1
            else:
                self.failed(item, refusal)
            if bar is not None:
                bar.update(1)

    def _refusal(self, item: InputFile) -> str | None:
        """None: do this photo; "finished": --resume skips it; "an output": privobf wrote it (found in a
        folder or by a glob, so not an input); otherwise why it cannot be done."""
        if item.problem is not None:
            return item.problem
        naming = self.options.naming
        in_place = naming is not None and naming.in_place
        refusal = self._in_place_refusal(item) if in_place else None
        if refusal is not None:
            return refusal
        if _real(item.path) in self._written or (not item.named and is_privobf_output(item.path)):
            return "an output"
        try:
            targets = self._targets(item)
            existing = [t for t in targets if os.path.lexists(t)]
        except (OSError, ValueError) as error:
            return _failure(item.path, error)
        for target in targets:
            refusal = self._collision(item, target)
            if refusal is not None:
                return refusal
        if self.options.resume and targets and len(existing) == len(targets):
            return "finished"
        if existing and not (self.options.overwrite or self.options.resume):
            return f"{existing[0]} already exists (--resume skips finished photos, --overwrite replaces)"
        for target in existing:
            if target.suffix.lower() != ".json" and not is_privobf_output(target):
                return (f"{target} exists and privobf did not write it: --overwrite only replaces privobf's own "
                        "outputs; move that file away or choose another --suffix or --out")
        return None

    def _collision(self, item: InputFile, target: Path) -> str | None:
        """Why `target` must not be written for `item`: an input or a file this run reads, or the output of
        another input of this run; None if neither."""
        real = _real(target)
        if real in self._protected:
            return (f"{item.path}: its output {target} is an input of this run (or a file it reads); privobf never "
                    "writes over one, whatever --overwrite says: choose another --suffix or --out")
        other = self._written.get(real)
        if other is not None and other != item.path:
            return f"{item.path}: its output {target} was already written for {other} in this run; choose --out or --format"
        return None

    def _in_place_refusal(self, item: InputFile) -> str | None:
        """--in-place replaces the file a link points to (the link stays), in the file's own format."""
        if item.path.suffix.lower() in _NOT_WRITABLE_IN_PLACE:
            return (f"{item.path}: --in-place cannot write {item.path.suffix.upper().lstrip('.')} files (privobf writes "
                    "JPEG, PNG, WebP, TIFF and HEIC); use --out or --suffix, which write it as PNG")
        real = _real(item.path)
        if real in self._written and self._written[real] != item.path:
            return f"{item.path}: the same file as {self._written[real]}, already replaced in this run"
        return None

    # ------------------------------------------------------------------------------------- one batch

    def process(self, batch: list[Prepared]) -> None:
        """One batch through the network, then each photo's outputs and report (`ray_job` calls this per
        Ray batch, so a cluster writes exactly what the local run writes)."""
        ready = [p for p in batch if p.error is None]
        for prepared in batch:
            if prepared.error is not None:
                self.failed(prepared.item, prepared.error)
        if not ready:
            return
        started = time.perf_counter()
        for prepared in ready:
            for warning in prepared.loaded.warnings:
                print(f"privobf: warning: {printable(warning)}", file=sys.stderr)
        reports = self.scanner.scan_many([p.loaded.pixels for p in ready], [p.priors for p in ready])
        model_seconds = (time.perf_counter() - started) / len(ready)
        for prepared, report in zip(ready, reports):
            prepared.seconds["model"] = model_seconds
            try:
                self._finish(prepared, report)
            except (OSError, ValueError) as error:
                self.failed(prepared.item, _failure(prepared.item.path, error))
            finally:
                prepared.loaded = None  # let the pixels go before the next batch
        release_freed_memory()  # keeps a long batch's resident size flat (see privobf.memory)

    def _finish(self, prepared: Prepared, report: "PrivacyReport") -> None:
        item, options = prepared.item, self.options
        plan = options.plan
        decisions = plan.decide(report) if plan is not None else None
        output, metadata, hidden = None, None, None
        if plan is not None:
            started = time.perf_counter()
            protected = protect(plan, prepared.loaded, report, decisions, keep_metadata=options.keep_metadata)
            prepared.seconds["obfuscate"] = time.perf_counter() - started
            started = time.perf_counter()
            output = self._write_result(item, protected)
            prepared.seconds["encode"] = time.perf_counter() - started
            metadata = {
                "exif": "none written" if protected.exif is None else "technical tags kept",
                "identifying_tags_removed": protected.exif_removed if options.keep_metadata else "all EXIF dropped",
                "icc_profile": "kept" if protected.icc_profile else "none",
            }
            hidden = None if plan.mask_only else protected.pixels
        self._write_previews(item, prepared.loaded.pixels, report, hidden,
                             [d.attribute for d in decisions] if decisions is not None else None)
        document = photo_report(item.path, report, plan=plan, decisions=decisions, output=output, metadata=metadata,
                                warn_above=options.warn_above, seconds=prepared.seconds)
        report_path = self._companion(item, options.reports, ".json")
        if report_path is not None:
            remove_stale_temps(report_path)
            atomic_write(report_path, lambda temp: temp.write_text(dumps(document), encoding="utf-8"))
        self.summary.add(item.path, report.privacy_score, report.present(), decisions)
        self.announce(document, report, decisions, output)

    def _write_result(self, item: InputFile, protected: ProtectedImage) -> Path:
        naming = self.options.naming
        target, permissions = naming.target(item), None
        if naming.in_place:  # through a symlink to the file it names, keeping the link and the file's mode
            target = Path(os.path.realpath(item.path))
            permissions = stat.S_IMODE(os.stat(target).st_mode)
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target)
        save_image_atomic(protected.pixels, target, exif=protected.exif, icc_profile=protected.icc_profile,
                          quality=self.options.quality, mark=True, permissions=permissions,
                          overwrite=self.options.overwrite or self.options.resume or naming.in_place)
        self._written[_real(target)] = item.path
        return target

    def _write_previews(self, item: InputFile, pixels: np.ndarray, report: "PrivacyReport",
                        hidden: np.ndarray | None, attributes: list[str] | None) -> None:
        if self.options.previews is None:
            return
        from .visualize import heatmap_overlay, side_by_side

        heat = heatmap_overlay(pixels, report, attributes)
        heatmap_extension, before_after_extension = PREVIEW_EXTENSIONS
        pictures = {heatmap_extension: heat}
        if hidden is not None:
            pictures[before_after_extension] = side_by_side(heat, hidden)
        for extension, picture in pictures.items():
            target = self._companion(item, self.options.previews, extension)
            collision = self._collision(item, target)
            if collision is None and os.path.lexists(target) and not is_privobf_output(target):
                collision = f"{target} exists and privobf did not write it; previews never replace such a file"
            if collision is not None:
                raise ValueError(collision)
            target.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(target)
            save_image_atomic(_shrunk(picture), target, quality=88, overwrite=True, mark=True)
            self._written[_real(target)] = item.path

    # ------------------------------------------------------------------------------------- telling the user

    def failed(self, item: InputFile, message: str) -> None:
        """A photo that could not be done: counted, and told on stderr (a hook: `ray_job` collects it)."""
        self.summary.failed.append(str(item.path))
        if self.options.json_lines:
            self._emit({"file": str(item.path), "status": "failed", "error": message})
        print(f"privobf: skipped {printable(message)}", file=sys.stderr)

    def announce(self, document: dict[str, Any], report: "PrivacyReport", decisions, output: Path | None) -> None:
        """A finished photo, told as JSON Lines or a line of text (a hook: `ray_job` collects it)."""
        if self.options.json_lines:
            self._emit({"status": "done", **document})
            return
        if self.options.quiet:
            return
        warn = " [above warning]" if document.get("above_warning") else ""
        name = printable(document["file"])
        if decisions is None:
            shown = ", ".join(f"{a} {report.probability(a):.2f}" for a in report.present()) or "nothing private found"
            print(f"{name}: privacy score {report.privacy_score:.2f}{warn}; {shown}", file=self.out)
        else:
            hidden = ", ".join(f"{d.attribute} ({d.mode})" for d in decisions) or "nothing"
            print(f"{name} -> {printable(output)}: hid {hidden} (score {report.privacy_score:.2f}){warn}", file=self.out)

    def _emit(self, document: dict[str, Any]) -> None:
        self.out.write(json_line(document) + "\n")
        self.out.flush()


def _real(path: Path | str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _failure(path: Path, error: OSError | ValueError) -> str:
    """One line for a photo whose outputs could not be written; library wording replaced by the CLI's."""
    if isinstance(error, FileExistsError):
        return f"{path}: {error.args[0].split(';')[0]}; --overwrite replaces it" if error.args else f"{path}: {error}"
    if isinstance(error, OSError) and error.filename is not None:
        return f"{path}: cannot write {error.filename} ({error.strerror or error})"
    text = str(error)
    return text if text.startswith(str(path)) else f"{path}: {text}"


def _shrunk(picture: np.ndarray) -> np.ndarray:
    """Previews are for looking at: long side at most PREVIEW_MAX_SIDE."""
    scale = PREVIEW_MAX_SIDE / max(picture.shape[:2])
    if scale >= 1:
        return picture
    import cv2

    size = (max(1, round(picture.shape[1] * scale)), max(1, round(picture.shape[0] * scale)))
    return cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
