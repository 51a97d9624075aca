"""PrivMini val for several models, each with priors off and on: the side-by-side table of docs/results.md.

    python benchmarks/privmini_models.py NAME=MODEL.safetensors [NAME=MODEL ...] [--data-root ../shared/data]

Runs `privobf evaluate --data-root DIR --min-positives 5 --model MODEL --priors off|on` for each model
and writes benchmarks/results/privmini/NAME.priors-{off,on}.json; then prints the table
(`python benchmarks/results_tables.py privmini` prints it again from the files).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "privmini"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="NAME=PATH (PATH 'embedded' = the model inside the package)")
    parser.add_argument("--data-root", default=os.environ.get("PRIVOBF_DATA", str(ROOT.parent / "shared" / "data")))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for spec in args.models:
        name, _, path = spec.partition("=")
        for priors in ("off", "on"):
            command = [sys.executable, "-m", "privobf.cli", "evaluate", "--data-root", args.data_root, "--min-positives", "5",
                       "--priors", priors, "--out", str(OUT / f"{name}.priors-{priors}.json")]
            if path and path != "embedded":
                command += ["--model", path]
            print(" ".join(command), flush=True)
            subprocess.run(command, check=True, cwd=ROOT)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "results_tables.py"), "privmini"], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
