"""`privobf obfuscate` over a real folder: photos per second, peak memory, with and without worker processes.

    python benchmarks/batch_cli.py [--photos N] [--workers 0,1]

Runs the installed command line (embedded model, default priors) on the first N COCO128 photos from
`PRIVOBF_DATA` (default ../shared/data), once per worker setting, each in its own process so that peak
memory (main process + workers, from getrusage of the children) is its own. Writes
benchmarks/results/batch_cli.json with the command, the machine and the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, machine  # noqa: E402


def photos_folder(count: int, workspace: Path) -> Path:
    data = Path(os.environ.get("PRIVOBF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    sources = sorted((data / "coco128" / "images").rglob("*.jpg"))[:count]
    if len(sources) < count:
        sys.exit(f"need {count} COCO128 photos under {data}, found {len(sources)}")
    folder = workspace / "photos"
    folder.mkdir()
    for source in sources:
        os.symlink(source.resolve(), folder / source.name)  # read-only inputs; nothing copied
    return folder


_MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
    "print('MAXRSS_KIB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def run_once(folder: Path, out: Path, workers: int) -> dict:
    command = [sys.executable, "-m", "privobf", "obfuscate", str(folder), "--out", str(out), "--workers", str(workers),
               "--progress", "off", "--quiet", "--json"]
    started = time.perf_counter()
    # A fresh parent per run: ru_maxrss of RUSAGE_CHILDREN is a high-water mark over every child ever waited for.
    result = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True,
                            env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"privobf failed ({result.returncode}): {result.stderr[-2000:]}")
    peak_kib = int(result.stderr.strip().splitlines()[-1].split()[-1])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    photos = [line for line in lines if line.get("status") == "done"]
    stages = {key: sum(p["seconds"].get(key, 0.0) for p in photos) / len(photos)
              for key in ("decode", "priors", "model", "obfuscate", "encode")}
    return {
        "workers": workers,
        "photos": len(photos),
        "wall_seconds": round(seconds, 2),
        "photos_per_second": round(len(photos) / seconds, 3),
        "mean_stage_seconds": {k: round(v, 4) for k, v in stages.items()},
        "peak_rss_mib_largest_process": round(peak_kib / 1024, 1),
        "command": " ".join(command[1:]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--workers", default="0,1")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as workspace:
        folder = photos_folder(args.photos, Path(workspace))
        for workers in (int(w) for w in args.workers.split(",")):
            out = Path(workspace) / f"out-{workers}"
            results.append(run_once(folder, out, workers))
            shutil.rmtree(out)
            print(json.dumps(results[-1]))
    RESULTS.mkdir(exist_ok=True)
    document = {"command": "python benchmarks/batch_cli.py " + " ".join(sys.argv[1:]), "machine": machine(),
                "data": f"first {args.photos} COCO128 photos (sorted names)", "runs": results}
    (RESULTS / "batch_cli.json").write_text(json.dumps(document, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
