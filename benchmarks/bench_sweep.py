"""Sweeps (issue 7): 200 runs at 1 agent per 100 households over 120 months on 2 local workers.

Phases, each with the same 200 runs (a Latin hypercube of 100 points over three parameters x 2 paired
replications of the baseline):

- ``model``: the runs one after another through ``runner.run_point`` only (no executor, no store): the
  model time the other phases are measured against;
- ``processes``: ``returnsim.experiments.sweep`` on a local process pool (pool start-up, commits, compaction
  included), in a fresh Python process so that start-up is counted as a user would see it;
- ``dask``: the same sweep on a Dask ``LocalCluster`` of 2 single-threaded worker processes started first
  (its start-up is reported apart: a cluster is started once and used for many sweeps), with the glibc
  settings of ``WORKER_MALLOC`` (``--dask-default-malloc`` keeps Dask's own);
- ``kill``: ``returnsim sweep`` in a subprocess, SIGKILLed (with its workers) when about half the runs are
  stored, then the same command again: runs lost (planned but not stored) and duplicated (stored twice).

Sweep overhead = (wall x workers - model time) / model time: what the sweep costs beyond the model's own
work, start-up included. It is given against the serial model time of the ``model`` phase and against the
model time the workers measured around each run (which already includes any slowdown of two runs sharing
the machine, so it isolates the sweep's own costs: pool start-up, transfers, commits, compaction).

    python benchmarks/bench_sweep.py                  # all phases, about 5 minutes on 2 idle cores
    python benchmarks/bench_sweep.py --phases model processes --runs 40
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def spec_text(points: int, months: int, per_agent: int) -> str:
    return f"""
name = "bench_sweep"
scenario = "baseline"
months = {months}
households_per_agent = {per_agent}
replications = 2
root_seed = 2024
series = ["returns_voluntary", "returns_forced"]
[design]
type = "lhs"
points = {points}
[parameters]
"decision.intercept" = {{ range = [-6.5, -5.0] }}
"hosts.turkey.deportation_rate" = {{ range = [0.0, 0.003] }}
"economy.reconstruction_aid" = {{ range = [0.0, 0.5] }}
[outcomes]
voluntary_returns = {{ column = "returns_voluntary_refugees" }}
forced_returns = {{ column = "returns_forced" }}
detained = {{ column = "detained" }}
refugees_left = {{ column = "refugees_{{host}}", statistic = "last" }}
"""


def phase_model(spec: Path) -> dict:
    from returnsim.experiments import load_experiment
    from returnsim.experiments.designs import plan
    from returnsim.experiments.runner import run_point

    e = load_experiment(spec)
    t0 = time.perf_counter()
    for task in plan(e):
        run_point(e.scenario.with_changes(task.changes), task.seed, e.months, e.households_per_agent)
    return {"runs": len(plan(e)), "wall_s": time.perf_counter() - t0}


def phase_processes(spec: Path, out: Path, workers: int) -> dict:
    """In a fresh process, as ``returnsim sweep`` would run it."""
    code = (
        "import json, sys, time; t0 = time.perf_counter()\n"
        "from returnsim.experiments.sweep import sweep\n"
        f"r = sweep({str(spec)!r}, {str(out)!r}, workers={workers}, progress=False)\n"
        "print(json.dumps({'wall_s': time.perf_counter() - t0, 'sweep_s': r.wall_seconds, "
        "'model_s': r.model_seconds, 'ok': r.ok, 'failed': r.failed}))"
    )
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


#: glibc settings for the Dask workers. Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (to hand
#: memory back to the system), which makes glibc unmap and fault in again the arrays a month allocates and frees:
#: a run at 1 agent per 100 households then takes 25-50 % longer. These values keep freed memory for reuse, as
#: glibc's own defaults do in a process started without Dask (experiments/README.md, "Dask").
WORKER_MALLOC = {"MALLOC_TRIM_THRESHOLD_": 64 * 2**20, "MALLOC_MMAP_THRESHOLD_": 32 * 2**20}


def phase_dask(spec: Path, out: Path, workers: int, malloc: dict[str, int]) -> dict:
    import dask
    from distributed import LocalCluster

    from returnsim.experiments.executors import DaskExecutor
    from returnsim.experiments.sweep import sweep

    t0 = time.perf_counter()
    with (
        dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in malloc.items()}),
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        DaskExecutor(cluster.scheduler_address) as ex,
    ):
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        r = sweep(spec, out, executor=ex, progress=False)
        wall = time.perf_counter() - t1
    return {"cluster_start_s": started, "wall_s": wall, "model_s": r.model_seconds, "ok": r.ok, "failed": r.failed}


def phase_kill(spec: Path, out: Path, workers: int, planned: int) -> dict:
    from returnsim.experiments.store import load_results

    cmd = [
        sys.executable,
        "-m",
        "returnsim",
        "sweep",
        str(spec),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    parts = out / "parts"
    while proc.poll() is None:
        if parts.is_dir() and len(list(parts.glob("*.run.parquet"))) >= planned // 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = load_results(out)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    resume = time.perf_counter() - t0
    after = load_results(out)
    return {
        "stored_at_kill": len(before),
        "resume_s": resume,
        "rows": len(after),
        "lost": planned - after["run_id"].nunique(),
        "duplicated": len(after) - after["run_id"].nunique(),
        "rerun_of_stored": int(
            (
                after.set_index("run_id").loc[before["run_id"], "finished_utc"]
                != before.set_index("run_id")["finished_utc"]
            ).sum()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs (an even number: 2 replications per point)")
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--households-per-agent", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--phases", nargs="+", default=["model", "processes", "dask", "kill"])
    parser.add_argument(
        "--dask-default-malloc", action="store_true", help="leave Dask's MALLOC_TRIM_THRESHOLD_=65536 in its workers"
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_sweep."))
    spec = folder / "bench_sweep.toml"
    spec.write_text(spec_text(args.runs // 2, args.months, args.households_per_agent), encoding="utf-8")
    print(f"{args.runs} runs, {args.months} months, 1 agent per {args.households_per_agent} households, "
          f"{args.workers} workers; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    results: dict[str, dict] = {}
    for name in args.phases:
        if name == "model":
            results[name] = phase_model(spec)
        elif name == "processes":
            results[name] = phase_processes(spec, folder / "processes", args.workers)
        elif name == "dask":
            results[name] = phase_dask(
                spec, folder / "dask", args.workers, {} if args.dask_default_malloc else WORKER_MALLOC
            )
        elif name == "kill":
            results[name] = phase_kill(spec, folder / "kill", args.workers, args.runs)
        print(name, json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results[name].items()}))
    model = results.get("model", {}).get("wall_s")
    for name in ("processes", "dask"):
        if name not in results:
            continue
        wall, in_workers = results[name]["wall_s"], results[name]["model_s"]
        text = f"{name}: {wall:.1f} s for {args.runs} runs"
        if model:
            text += (f"; serial model time {model:.1f} s, ideal {model / args.workers:.1f} s; "
                     f"overhead {(wall * args.workers - model) / model:+.1%} of the serial model time")  # fmt: skip
        text += f"; {(wall * args.workers - in_workers) / in_workers:+.1%} of the model time measured in the workers"
        print(text)
    if "processes" in results and "dask" in results:
        ratio = results["dask"]["wall_s"] / results["processes"]["wall_s"]
        print(f"dask / process pool: {ratio:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
