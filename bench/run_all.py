"""Run every bench/bench_*.py in turn (`make bench`); `--quick` passes small sizes to each.

    python bench/run_all.py            # full sizes (1000 namespaces: a few minutes)
    python bench/run_all.py --quick    # smoke run in seconds
    python bench/run_all.py -k import  # only benchmarks whose file name contains "import"

Each benchmark is a standalone script taking `--quick`; it prints its own numbers and ratios.
The exit status is non-zero only when a benchmark crashes, never because a goal was missed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("-k", "--filter", default="", help="only benchmarks whose file name contains this")
    args = parser.parse_args(argv)
    failed = []
    for script in sorted(BENCH_DIR.glob("bench_*.py")):
        if args.filter not in script.name:
            continue
        print(f"== {script.name}{' --quick' if args.quick else ''}", flush=True)
        start = time.perf_counter()
        command = [sys.executable, str(script), *(["--quick"] if args.quick else [])]
        returncode = subprocess.run(command, check=False).returncode
        print(f"== {script.name}: exit {returncode}, {time.perf_counter() - start:.1f} s\n", flush=True)
        if returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"crashed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
