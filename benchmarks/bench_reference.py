"""Speed of the vectorised model against the per-agent Mesa reference (benchmarks/reference.py).

Both start from the same population of about 100 000 agent rows (one agent per 34 households of the
baseline) and run 12 months. Prints the time of each (the vectorised ``ReturnModel``, without per-row Mesa
handles: the fastest of ``--repeat`` runs; the reference: one run), the speed ratio of the monthly steps and of
the whole run (building included), and the 12-month totals of both as a sanity check.

    python benchmarks/bench_reference.py
    python benchmarks/bench_reference.py --households-per-agent 100 --months 6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import ReferenceModel

from returnsim import load_scenario
from returnsim.model import ReturnModel
from returnsim.simulation import Simulation


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--households-per-agent", type=int, default=34, help="34: about 100 000 rows of the baseline")
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the vectorised model (the fastest is shown)")
    args = ap.parse_args(argv)
    s = load_scenario(args.scenario)

    best = None
    for _ in range(args.repeat):  # the vectorised run is short: best of a few
        t0 = time.perf_counter()
        vec = ReturnModel(s, seed=args.seed, households_per_agent=args.households_per_agent, agents=False)
        t1 = time.perf_counter()
        for _ in range(args.months):
            vec.step()
        t2 = time.perf_counter()
        if best is None or t2 - t0 < sum(best):
            best = (t1 - t0, t2 - t1)
    vec_init, vec_steps = best

    start = Simulation(s, seed=args.seed, households_per_agent=args.households_per_agent)
    t0 = time.perf_counter()
    ref = ReferenceModel.from_simulation(start, seed=args.seed)
    t1 = time.perf_counter()
    for _ in range(args.months):
        ref.step()
    t2 = time.perf_counter()
    ref_init, ref_steps = t1 - t0, t2 - t1

    n, months = len(vec.population), args.months
    k = args.households_per_agent
    print(f"scenario {args.scenario}: {n:,} agents (1 agent = {k} households), {months} months")
    print(f"{'':28}{'build s':>9}{'months s':>10}{'ms/month':>10}{'us/agent-month':>16}")
    for name, init, steps in (
        ("vectorised ReturnModel", vec_init, vec_steps),
        ("per-agent ReferenceModel", ref_init, ref_steps),
    ):
        print(f"{name:28}{init:>9.2f}{steps:>10.2f}{1e3 * steps / months:>10.1f}{1e6 * steps / months / n:>16.2f}")
    print(f"speed ratio, monthly steps: {ref_steps / vec_steps:.0f}x")
    print(f"speed ratio, build + months: {(ref_init + ref_steps) / (vec_init + vec_steps):.0f}x")
    a = vec.datacollector.get_model_vars_dataframe()
    b = ref.datacollector.get_model_vars_dataframe()
    print("12-month totals (persons), vectorised vs reference:")
    for col in (
        "returns_voluntary",
        "returns_forced",
        "detained",
        "redisplaced",
        "newly_displaced",
        "registered_arrivals",
        "deregistered",
    ):
        print(f"  {col:20}{a[col].sum():>12,.0f}{b[col].sum():>12,.0f}")
    print(f"  {'returnees at the end':20}{a['returnees'].iloc[-1]:>12,.0f}{b['returnees'].iloc[-1]:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
