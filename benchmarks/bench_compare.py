"""``compare`` of the scenario library (issue 7): 12 scenarios x 5 seeds, serial against every core.

``--workers 1`` runs the 60 (scenario, seed) jobs one after another in this process, as ``compare`` did
before it used the executors; the default spreads them over a local process pool of all cores. Each phase
runs in a fresh Python process (start-up and imports included, as ``returnsim compare`` would see them),
and the two comparisons must be identical.

    python benchmarks/bench_compare.py                 # 12 scenarios x 5 seeds at their own scale, ~1 minute
    python benchmarks/bench_compare.py --seeds 2 --months 24
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "scenarios").glob("*.toml"))


def run(workers: int, out: Path, seeds: int, months: int | None) -> float:
    cmd = [sys.executable, "-m", "returnsim", "compare", *map(str, SCENARIOS), "--seeds", str(seeds)]
    cmd += ["--out", str(out), "--workers", str(workers), "--quiet", "--no-plot"]
    if months:
        cmd += ["--months", str(months)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--months", type=int, help="default: the first scenario's")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_compare."))
    load = os.getloadavg()[0]
    print(f"{len(SCENARIOS)} scenarios x {args.seeds} seeds; load average {load:.1f} on {os.cpu_count()} cores")
    serial = run(1, folder / "serial", args.seeds, args.months)
    print(f"serial (--workers 1): {serial:.1f} s")
    parallel = run(args.workers, folder / "parallel", args.seeds, args.months)
    print(f"parallel (--workers {args.workers}): {parallel:.1f} s = {parallel / serial:.2f} x serial")
    same = (folder / "serial" / "runs.csv").read_bytes() == (folder / "parallel" / "runs.csv").read_bytes()
    same &= (folder / "serial" / "summary.csv").read_bytes() == (folder / "parallel" / "summary.csv").read_bytes()
    print(f"runs.csv and summary.csv identical: {same}; load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
