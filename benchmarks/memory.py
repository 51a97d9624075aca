"""Peak resident memory of `privobf`: one 4032x3024 photo, and a batch of thousands streamed from a folder.

    python benchmarks/memory.py [--batch-photos 10000] [--batch-priors off] [--skip-large] [--worst-accepted]

- large photo: `privobf scan` and `privobf obfuscate` of one 12-megapixel JPEG (a COCO128 photo enlarged
  to 4032x3024), default model and priors, each in a fresh process;
- batch: `privobf scan` of a folder of N entries (COCO128's 128 photos linked N/128 times, so the decoder
  and detectors see real photos of varying sizes), its resident size sampled every 2 s, to show that it
  stays flat: the folder is listed lazily and at most a bounded window of photos is in flight;
- worst accepted (`--worst-accepted`): the largest photo the default limits let through, `privobf
  obfuscate` of a 10000x10000 JPEG (exactly the 100-megapixel default of --max-megapixels), default model
  and priors; and the largest inference scale `--scales 4` on the 12-megapixel photo (issue 16).

The resident size is read from /proc (VmRSS of the command's process and its children; VmHWM for the
peak). Writes benchmarks/results/memory.json (merged, so the two parts can be run separately).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import RESULTS, machine  # noqa: E402

DATA = Path(os.environ.get("PRIVOBF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _status_mib(pid: int, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def watched(command: list[str], every: float = 2.0) -> dict:
    """Run `command`; sample its resident size (MiB) every `every` seconds; its peak from VmHWM."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    samples: list[float] = []
    peak = 0.0
    while process.poll() is None:
        rss, hwm = _status_mib(process.pid, "VmRSS"), _status_mib(process.pid, "VmHWM")
        if rss is not None:
            samples.append(round(rss))
            peak = max(peak, hwm or 0.0)
        time.sleep(every)
    stderr = process.stderr.read()
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({process.returncode}): {stderr[-2000:]}")
    return {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mib": round(peak), "rss_samples_mib": samples}


def large_photo(workspace: Path) -> dict:
    import cv2

    from privobf.imageio import encode_image, load_image

    source = sorted((DATA / "coco128" / "images").rglob("*.jpg"))[1]
    pixels = cv2.resize(load_image(source).pixels, (4032, 3024), interpolation=cv2.INTER_CUBIC)
    photo = workspace / "large.jpg"
    photo.write_bytes(encode_image(pixels, "JPEG", quality=92))
    privobf = [sys.executable, "-m", "privobf"]
    results = {"photo": f"{source.name} enlarged to 4032x3024, JPEG quality 92"}
    results["scan"] = watched(privobf + ["scan", str(photo), "--quiet"], every=0.2)
    results["obfuscate"] = watched(privobf + ["obfuscate", str(photo), "--out", str(workspace / "out"), "--quiet"],
                                   every=0.2)
    for key in ("scan", "obfuscate"):
        results[key].pop("rss_samples_mib")
    return results


def worst_accepted(workspace: Path) -> dict:
    import cv2

    from privobf.imageio import encode_image, load_image
    from privobf.option_types import MAX_SCALE

    source = sorted((DATA / "coco128" / "images").rglob("*.jpg"))[1]
    pixels = load_image(source).pixels
    privobf = [sys.executable, "-m", "privobf"]
    results = {}
    largest = workspace / "largest.jpg"
    largest.write_bytes(encode_image(cv2.resize(pixels, (10000, 10000), interpolation=cv2.INTER_CUBIC), "JPEG", quality=90))
    results["largest_photo"] = {"photo": f"{source.name} enlarged to 10000x10000 (100 MP, the default limit), JPEG 90",
                                **watched(privobf + ["obfuscate", str(largest), "--out", str(workspace / "out"),
                                                     "--quiet"], every=0.2)}
    photo = workspace / "large.jpg"
    photo.write_bytes(encode_image(cv2.resize(pixels, (4032, 3024), interpolation=cv2.INTER_CUBIC), "JPEG", quality=92))
    results["largest_scale"] = {"photo": f"{source.name} enlarged to 4032x3024, --scales {MAX_SCALE:g}",
                                **watched(privobf + ["obfuscate", str(photo), "--out", str(workspace / "out4"),
                                                     "--scales", f"{MAX_SCALE:g}", "--quiet"], every=0.2)}
    for part in results.values():
        part.pop("rss_samples_mib")
    return results


def batch(workspace: Path, photos: int, priors: str) -> dict:
    sources = sorted((DATA / "coco128" / "images").rglob("*.jpg"))
    folder = workspace / "many"
    folder.mkdir()
    for index in range(photos):
        source = sources[index % len(sources)]
        os.symlink(source.resolve(), folder / f"{index:05d}_{source.name}")
    command = [sys.executable, "-m", "privobf", "scan", str(folder), "--priors", priors, "--progress", "off",
               "--quiet", "--workers", "0"]
    result = watched(command)
    samples = result.pop("rss_samples_mib")
    tenth = max(1, len(samples) // 10)
    result.update(photos=photos, priors=priors, photos_per_second=round(photos / result["seconds"], 3),
                  rss_mib_at_each_tenth_of_the_run=samples[tenth - 1 :: tenth][:10],
                  rss_mib_last=samples[-1] if samples else None)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-photos", type=int, default=10000, help="0: skip the batch")
    parser.add_argument("--batch-priors", choices=["on", "off"], default="on")
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--worst-accepted", action="store_true", help="only the worst photo the default limits accept")
    args = parser.parse_args()
    target = RESULTS / "memory.json"
    record = json.loads(target.read_text()) if target.exists() else {}
    # Each part records its own machine and date: the parts of this file may come from different runs.
    stamp = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    with tempfile.TemporaryDirectory() as folder:
        if args.worst_accepted:
            record["worst_accepted"] = {"command": "python benchmarks/memory.py --worst-accepted", **stamp,
                                        **worst_accepted(Path(folder))}
            print(json.dumps(record["worst_accepted"]), flush=True)
            args.skip_large, args.batch_photos = True, 0
        if not args.skip_large:
            record["large_photo"] = {"command": "python benchmarks/memory.py --batch-photos 0", **stamp,
                                     **large_photo(Path(folder))}
            print(json.dumps(record["large_photo"]), flush=True)
        if args.batch_photos:
            key = f"batch_{args.batch_photos}_priors_{args.batch_priors}"
            record[key] = {"command": f"python benchmarks/memory.py --skip-large --batch-photos {args.batch_photos} "
                                      f"--batch-priors {args.batch_priors}", **stamp,
                           **batch(Path(folder), args.batch_photos, args.batch_priors)}
            print(json.dumps(record[key]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
