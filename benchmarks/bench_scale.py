"""Speed and memory of the vectorised model at several scales (issue 4).

For each number of households per agent (default 1, 10 and 100: full scale, 1/10, 1/100) and each
choice of Mesa agent handles (``--handles off``: a ``returnsim.simulation.Simulation``, as ``returnsim run``
and sweeps use; ``on``: a ``ReturnModel`` with one ``Household`` Mesa agent per row), a fresh Python process
runs the scenario and reports

- init: building the model (population synthesis, network, agent handles),
- per month: mean wall time of one ``step()`` (plus the slowest month),
- total: init plus all months (excluding interpreter start-up and imports, shown as "process"),
- peak RSS: ``resource.getrusage(...).ru_maxrss`` of that process.

Then it prints how the time per month scales with the number of rows (linear scaling keeps the
nanoseconds per row-month constant).

    python benchmarks/bench_scale.py                      # K = 1, 10, 100; handles off and on; 120 months
    python benchmarks/bench_scale.py --sizes 100 --handles off
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time


def one(scenario: str, k: int, months: int, handles: bool, seed: int | None) -> dict:
    """Run one size in this process and return its measurements."""
    t_import = time.perf_counter()
    if handles:
        from returnsim.model import ReturnModel as Run
    else:
        from returnsim.simulation import Simulation as Run

    imported = time.perf_counter() - t_import
    t0 = time.perf_counter()
    run = Run(scenario, seed=seed, households_per_agent=k, **({"agents": True} if handles else {}))
    init = time.perf_counter() - t0
    stamps = [time.perf_counter()]
    for _ in range(months):
        run.step()
        stamps.append(time.perf_counter())
    total = time.perf_counter() - t0
    state = run.sim.state if handles else run.state
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    ties = state.ties.out.nbytes + state.ties.in_ptr.nbytes + state.ties.in_rows.nbytes
    return {
        "households_per_agent": k,
        "handles": handles,
        "rows": len(state.pop),
        "households": len(state.pop) * k,
        "months": months,
        "import_s": imported,
        "init_s": init,
        "month_s": (stamps[-1] - stamps[0]) / months,
        "slowest_month_s": max(gaps),
        "total_s": total,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "columns_mb": (state.pop.nbytes() + ties) / 2**20,
        "mesa_agents": len(run.agents) if handles else 0,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--sizes", default="1,10,100", help="households per agent, comma-separated")
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--handles", choices=("off", "on", "both"), default="both", help="Mesa Household agents")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON line per run as well")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: run one size here
    args = ap.parse_args(argv)
    sizes = [int(k) for k in args.sizes.split(",")]

    if args.one:
        print(json.dumps(one(args.scenario, sizes[0], args.months, args.handles == "on", args.seed)))
        return 0

    modes = {"off": ["off"], "on": ["on"], "both": ["off", "on"]}[args.handles]
    print(f"scenario {args.scenario}, {args.months} months, one fresh process per run\n")
    header = f"{'K':>4} {'handles':>7} {'rows':>10} {'init s':>7} {'month ms':>9} {'slowest':>8} {'total s':>8}"
    print(header + f" {'process s':>9} {'peak RSS MB':>11} {'columns MB':>10}")
    rows = []
    for handles in modes:
        for k in sizes:
            cmd = [sys.executable, __file__, "--one", "--scenario", args.scenario, "--sizes", str(k)]
            cmd += ["--months", str(args.months), "--handles", handles]
            if args.seed is not None:
                cmd += ["--seed", str(args.seed)]
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            process = time.perf_counter() - t0
            if out.returncode != 0:
                print(out.stdout + out.stderr, file=sys.stderr)
                return out.returncode
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["process_s"] = process
            rows.append(r)
            print(
                f"{k:>4} {handles:>7} {r['rows']:>10,} {r['init_s']:>7.2f} {1e3 * r['month_s']:>9.1f}"
                f" {1e3 * r['slowest_month_s']:>8.1f} {r['total_s']:>8.2f} {process:>9.2f}"
                f" {r['peak_rss_mb']:>11.0f} {r['columns_mb']:>10.0f}",
                flush=True,
            )
            if args.json:
                print(json.dumps(r), flush=True)

    print("\nscaling of the monthly step (handles off if run, else on)")
    mode = "off" if "off" in modes else "on"
    picked = sorted((r for r in rows if r["handles"] == (mode == "on")), key=lambda r: r["rows"])
    base = picked[0] if picked else None
    for r in picked:
        ns = 1e9 * r["month_s"] / r["rows"]
        grow = (r["month_s"] / base["month_s"]) / (r["rows"] / base["rows"])
        print(
            f"  {r['rows']:>10,} rows: {1e3 * r['month_s']:8.1f} ms/month = {ns:6.1f} ns per row-month"
            f"  (time ratio / size ratio vs smallest: {grow:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
