"""`privobf ray-scan`: scan (and optionally obfuscate) a corpus larger than one machine as a Ray Data job.

The driver lists the inputs lazily and decides what to do exactly as `privobf scan` / `obfuscate` do
(missing inputs, existing outputs, `--resume`), so those become failure rows without reaching Ray. The
rest goes through `map_batches` on a pool of actors, each of which loads the model and the prior
detectors once and then runs the local path's own per-photo work (`batch.prepare`, `Scanner.scan_many`,
`runner.BatchRun`'s outputs and report files), so a photo's output image and report are byte-for-byte
what the local CLI writes. The driver streams the per-photo rows back, aggregates the summary in
constant memory and writes `summary.json`.

Workers read the inputs and write outputs and reports themselves: on a real cluster every path given
here (inputs, `out`, `reports`) must be on a filesystem that the driver and all workers share.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .terminal import printable

if TYPE_CHECKING:  # imported where used: cli.py imports this module for every command, and these load torch
    import numpy as np

    from .protection import ProtectionPlan
    from .runner import BatchRun, RunOptions

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
ROW_KEYS = ("path", "status", "error", "privacy_score", "report")
# One torch / OpenMP thread per actor (each actor owns one CPU), and no spinning threads on shared cores.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
RAY_MISSING = "`privobf ray-scan` needs the ray extra: pip install 'privobf[ray]'"


def ray_scan(
    inputs: Sequence[str],
    *,
    reports: Path,
    out: Path | None = None,
    plan: ProtectionPlan | None = None,
    model: str | Path | None = None,
    segmentation: str | Path | None = None,
    segmentation_threshold: float | None = None,
    priors: bool = True,
    num_workers: int = 2,
    batch_size: int = 4,
    address: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Scan `inputs` (files, folders, globs) on Ray; with a `plan`, also write obfuscated copies under `out`.

    One report per photo goes under `reports` (mirroring the input tree, as `privobf scan --reports`),
    then `reports/summary.json`; the summary dict is returned. `address=None` starts a local Ray with
    `num_workers` CPUs (or uses the one this process already started); otherwise connects to that
    cluster. Results are consumed as a stream, so the driver's memory does not grow with the results;
    only the list of paths to do is held (a few hundred bytes per photo).
    """
    if plan is not None and out is None:
        raise ValueError("an obfuscation plan needs `out`, the folder the obfuscated copies go to")
    if num_workers < 1 or batch_size < 1:
        raise ValueError("num_workers and batch_size must be at least 1")
    from .inputs import OutputNaming, iter_inputs
    from .runner import BatchRun, RunOptions

    naming = None if plan is None else OutputNaming(out=out, extension=".png" if plan.mask_only else None)
    options = RunOptions(plan=plan, naming=naming, reports=Path(reports), resume=resume, overwrite=overwrite,
                         batch_size=batch_size, quiet=True)
    # The driver runs no model: BatchRun's refusal checks, failure reporting and summary are all it needs.
    driver = BatchRun(None, options, None)  # type: ignore[arg-type]
    todo = [{"path": str(item.path), "relative": str(item.relative)}
            for item in driver.not_finished(iter_inputs(inputs), None)]
    if todo:
        masks = {"segmentation": None if segmentation is None else str(segmentation),
                 "segmentation_threshold": segmentation_threshold}
        for row in _run_on_ray(todo, options, model, masks, priors, num_workers, address):
            _account(driver, row)
    driver.write_summary()
    summary = driver.summary.to_dict()
    if driver.summary_error:
        summary["summary_error"] = driver.summary_error
    return summary


def _import_ray():
    """ray with ray.data, or an ImportError that names the extra to install (ray is optional)."""
    try:
        import ray
        import ray.data  # noqa: F401  (ray without the data extra has no ray.data)
    except ImportError as error:
        raise ImportError(f"{RAY_MISSING} ({error})") from None
    return ray


def _run_on_ray(todo: list[dict[str, str]], options: RunOptions, model: str | Path | None,
                masks: dict[str, Any], priors: bool, num_workers: int, address: str | None) -> Iterator[dict[str, Any]]:
    """The rows of `todo` scanned by `num_workers` actors, as they finish; shuts down a Ray it started."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=num_workers if address is None else None, include_dashboard=False,
                 ignore_reinit_error=True, log_to_driver=False)
    try:
        dataset = ray.data.from_items(todo).map_batches(
            _ScanBatches,
            fn_constructor_kwargs={"model": None if model is None else str(model), "priors": priors,
                                   "options": options, "masks": masks},
            batch_size=options.batch_size,
            concurrency=num_workers,
            num_cpus=1,
            runtime_env={"env_vars": WORKER_ENV},
        )
        yield from dataset.iter_rows()
    finally:
        if started:
            ray.shutdown()


def _account(driver: BatchRun, row: dict[str, Any]) -> None:
    """Add one worker row to the summary (and report a failure on stderr, as the local run does)."""
    from .inputs import InputFile
    from .protection import Decision

    path = Path(row["path"])
    if row["status"] != "done":
        driver.failed(InputFile(path, Path(".")), row["error"])
        return
    document = json.loads(row["report"])
    hidden = document["hidden"]
    decisions = None if hidden is None else [Decision(**decision) for decision in hidden]
    driver.summary.add(path, float(row["privacy_score"]), document["present"], decisions)


@functools.cache
def _collecting_run() -> type:
    """BatchRun with each photo's outcome kept as a row for the driver instead of printed: the local run's
    per-photo work (outputs, report files, failure messages), unchanged. Built on first use (see imports)."""
    from .photo_report import dumps
    from .runner import BatchRun

    class CollectingRun(BatchRun):
        def __init__(self, *args: Any):
            super().__init__(*args)
            self.rows: dict[str, dict[str, Any]] = {}

        def announce(self, document, report, decisions, output) -> None:
            self.rows[document["file"]] = {"path": document["file"], "status": "done", "error": None,
                                           "privacy_score": float(report.privacy_score), "report": dumps(document)}

        def failed(self, item, message: str) -> None:
            self.rows[str(item.path)] = {"path": str(item.path), "status": "failed", "error": message,
                                         "privacy_score": None, "report": None}

    return CollectingRun


class _ScanBatches:
    """The Ray Data actor: loads the model and the prior detectors once, then scans batches of rows."""

    def __init__(self, model: str | None, priors: bool, options: RunOptions, masks: dict[str, Any] | None = None):
        import torch

        from .priors import PriorSet
        from .scanning import Scanner
        from .segmentation.mask_source import mask_source_from_arguments

        torch.set_num_threads(1)  # the actor holds one CPU; more threads would fight the other actors
        self.scanner = Scanner(model)
        self.scanner.segmentation = mask_source_from_arguments(argparse.Namespace(**(masks or {"segmentation": None})),
                                                               self.scanner.model)
        self.prior_set = PriorSet() if priors else None
        self.options = options

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        from .batch import prepare
        from .inputs import InputFile

        items = [InputFile(Path(path), Path(relative)) for path, relative in zip(batch["path"], batch["relative"])]
        run = _collecting_run()(self.scanner, self.options, self.prior_set)
        try:
            run.process([prepare(item, self.prior_set, self.options.max_pixels) for item in items])
        except Exception as error:  # an unforeseen error fails this batch's unfinished photos, not the job
            for item in items:
                if str(item.path) not in run.rows:
                    run.failed(item, f"{item.path}: scanning failed ({type(error).__name__}: {error})")
        rows = [run.rows[str(item.path)] for item in items]
        return {key: [row[key] for row in rows] for key in ROW_KEYS}


# ----------------------------------------------------------------------------------------------- command line


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `privobf ray-scan`; cli.py calls this on the subcommand's parser."""
    parser.add_argument("paths", nargs="+", help="image files, folders (searched recursively) or glob patterns; "
                        "on a cluster, paths every worker can read")
    parser.add_argument("--reports", required=True, help="folder for one JSON report per photo and summary.json "
                        "(on a cluster: a shared path)")
    parser.add_argument("--out", help="also write obfuscated copies into this folder, mirroring the input tree "
                        "(on a cluster: a shared path)")
    parser.add_argument("--hide", help="with --out: comma-separated attribute ids, short names or groups "
                        "(default: every attribute found)")
    parser.add_argument("--mode", default="solid", help="with --out: solid | blur | pixelate | mask-only (default solid)")
    parser.add_argument("--threshold", type=float, default=None, help="with --out: probability from which an "
                        "attribute is hidden (default: the model's, 0.5)")
    parser.add_argument("--workers", type=int, default=2, help="Ray actors, one CPU and one model each (default 2)")
    parser.add_argument("--batch-size", type=int, default=4, help="photos per forward pass in an actor (default 4)")
    parser.add_argument("--address", help="Ray cluster to connect to (e.g. auto, ray://head:10001); default: a "
                        "local Ray on this machine")
    parser.add_argument("--model", help="model file (.safetensors) from `privobf train`; default: the embedded model")
    parser.add_argument("--segmentation", metavar="SEG.safetensors", help=(
        "take the masks from this segmentation network (from `privobf train-seg`), as `privobf scan --segmentation`"))
    parser.add_argument("--segmentation-threshold", type=float, default=None, metavar="P", help=(
        "with --segmentation: probability from which a pixel is inside a mask the network gives (default 0.5)"))
    parser.add_argument("--priors", choices=["on", "off"], default="on", help="run the prior detectors in every "
                        "actor (default on)")
    parser.add_argument("--resume", action="store_true", help="skip photos whose outputs and reports already exist")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs and reports")


def run_ray(args: argparse.Namespace) -> int:
    """`privobf ray-scan`: exit 0 when every input was done, 1 when some failed, 2 on a usage error."""
    try:
        _import_ray()
        plan = _plan(args)
        _check_segmentation(args)
        summary = ray_scan(args.paths, reports=Path(args.reports), out=Path(args.out) if args.out else None,
                           plan=plan, model=args.model, segmentation=args.segmentation,
                           segmentation_threshold=args.segmentation_threshold,
                           priors=args.priors == "on", num_workers=args.workers,
                           batch_size=args.batch_size, address=args.address, resume=args.resume,
                           overwrite=args.overwrite)
    except (ImportError, KeyError, ValueError, OSError) as error:
        print(f"privobf: error: {str(error).strip(chr(39) + chr(34))}", file=sys.stderr)
        return EXIT_USAGE
    print(f"privobf: {summary['done']} done, {summary['skipped_finished']} already finished, "
          f"{summary['failed']} failed; reports and summary.json in {args.reports}")
    if summary.get("summary_error"):
        print(f"privobf: error: {printable(summary['summary_error'])}", file=sys.stderr)
    return EXIT_SOME_FAILED if summary["failed"] or summary.get("summary_error") else EXIT_OK


def _check_segmentation(args: argparse.Namespace) -> None:
    """An unusable --segmentation file or threshold is a usage error here, before any actor starts
    (CheckpointError is a ValueError naming the file)."""
    from .segmentation.mask_source import mask_source_from_arguments

    if args.segmentation is not None or args.segmentation_threshold is not None:
        mask_source_from_arguments(args, args.model)


def _plan(args: argparse.Namespace) -> ProtectionPlan | None:
    """The obfuscation plan of --out / --hide / --mode / --threshold, checked against the model's
    vocabulary here, before any Ray work starts; None for a scan."""
    if args.out is None:
        if args.hide is not None or args.threshold is not None:
            raise ValueError("--hide and --threshold choose what to hide in the copies written to --out; give --out")
        return None
    from .evidence import FusionConfig
    from .models.loading import load_image_model
    from .protection import ProtectionPlan, resolve_names
    from .scanning import scanner_vocabulary

    vocabulary = scanner_vocabulary(load_image_model(args.model).attribute_ids, FusionConfig())
    hide = resolve_names(vocabulary, args.hide.split(",")) if args.hide else None
    return ProtectionPlan(vocabulary, hide=hide, threshold=args.threshold, mode=args.mode)
