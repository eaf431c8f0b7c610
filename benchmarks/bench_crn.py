"""Common random numbers: how much noise they take out of a policy comparison, and what they cost.

For each library policy given, run it and the baseline over the same seeds, once with common random numbers
(every decision its own stream, indexed by household and month: ``returnsim.streams``) and once with one
sequential generator per run (each decision drawing only for the households that take it, as the first version
did). Report the mean and standard deviation across seeds of the paired effect (policy minus baseline, same
seed) of several outcomes, the ratio of the standard deviations, and the run time of each design (and, at the
end, the baseline's run time with the two designs interleaved). The last columns are unpaired: the policy's
run of seed i minus the baseline's run of the next seed (sequential streams), the noise of a comparison of
independent runs, and its sd over the common random numbers' sd.

    python benchmarks/bench_crn.py                              # turkey_deports_to_safe_zone, 12 seeds, 1:100
    python benchmarks/bench_crn.py amnesty_guarantees --seeds 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from returnsim.scenario import load_scenario
from returnsim.simulation import simulate

OUTCOMES = {
    "all returns (with forced)": (("returns_voluntary", "returns_forced"), "sum"),
    "all voluntary returns": ("returns_voluntary", "sum"),
    "voluntary refugee returns": ("returns_voluntary_refugees", "sum"),
    "IDP returns": ("returns_voluntary_idps", "sum"),
    "persons arrested": ("detained", "sum"),
    "re-displaced": ("redisplaced", "sum"),
    "refugees at the end": ("refugees", "last"),
}


def outcomes(result) -> dict[str, float]:
    s = result.series
    out = {}
    for name, (cols, how) in OUTCOMES.items():
        values = sum(s[c] for c in ((cols,) if isinstance(cols, str) else cols))
        out[name] = float(values.sum() if how == "sum" else values[-1])
    return out


def effects(policy: str, seeds: list[int], common: bool, households_per_agent: int) -> tuple[dict, dict, float]:
    """Per outcome, the paired effects across seeds and the unpaired ones (the policy's seed i against the
    baseline's seed i + 1, cyclically); and the mean wall time of one run."""
    out: dict[str, list[float]] = {name: [] for name in OUTCOMES}
    both: list[list[dict]] = []
    wall = []
    for seed in seeds:
        runs = []
        for scenario in ("baseline", policy):
            t0 = time.perf_counter()
            runs.append(
                outcomes(
                    simulate(
                        scenario, seed=seed, households_per_agent=households_per_agent, common_random_numbers=common
                    )
                )
            )
            wall.append(time.perf_counter() - t0)
        both.append(runs)
        for name in OUTCOMES:
            out[name].append(runs[1][name] - runs[0][name])
    unpaired = {
        name: [both[i][1][name] - both[(i + 1) % len(both)][0][name] for i in range(len(both))] for name in OUTCOMES
    }
    return out, unpaired, statistics.mean(wall)


def run_times(seeds: list[int], households_per_agent: int) -> tuple[float, float]:
    """Median wall time of one baseline run with common random numbers and with one sequential stream,
    the two designs interleaved run by run (alternating which goes first), so that a machine's drift
    weighs on both alike."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for i, seed in enumerate(seeds * 2):
        for common in (True, False) if i % 2 == 0 else (False, True):
            t0 = time.perf_counter()
            simulate("baseline", seed=seed, households_per_agent=households_per_agent, common_random_numbers=common)
            times[common].append(time.perf_counter() - t0)
    return statistics.median(times[True]), statistics.median(times[False])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policies", nargs="*", default=["turkey_deports_to_safe_zone"])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--households-per-agent", type=int, default=100)
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    months = load_scenario("baseline").simulation.months
    print(
        f"{os.cpu_count()} cores; {args.seeds} seeds; 1 agent = {args.households_per_agent} households; {months} months"
    )
    for policy in args.policies:
        common, _, t_common = effects(policy, seeds, True, args.households_per_agent)
        sequential, independent, t_seq = effects(policy, seeds, False, args.households_per_agent)
        print(f"\n{policy} minus baseline (persons): mean ± sd across seeds")
        print(
            f"{'outcome':28s} {'common random numbers':>26s} {'one sequential stream':>26s} {'sd ratio':>9s} "
            f"{'independent runs':>26s} {'sd ratio':>9s}"
        )
        for name in OUTCOMES:
            a, b, c = common[name], sequential[name], independent[name]
            sa, sb, sc = statistics.stdev(a), statistics.stdev(b), statistics.stdev(c)
            ratio = f"{sb / sa:8.1f}x" if sa > 0 else "   (sd 0)"
            ratio_c = f"{sc / sa:8.1f}x" if sa > 0 else "   (sd 0)"
            print(
                f"{name:28s} {statistics.mean(a):>14,.0f} ± {sa:>9,.0f} {statistics.mean(b):>14,.0f} ± {sb:>9,.0f} "
                f"{ratio} {statistics.mean(c):>14,.0f} ± {sc:>9,.0f} {ratio_c}"
            )
        print(
            f"run time (mean of the runs above): {t_common:.3f} s with common random numbers, {t_seq:.3f} s with "
            f"one sequential stream ({100 * (t_common / t_seq - 1):+.1f} %)"
        )
    crn, seq = run_times(seeds, args.households_per_agent)
    print(
        f"\nbaseline run time, the designs interleaved ({2 * len(seeds)} runs each, median): {crn:.3f} s with common "
        f"random numbers, {seq:.3f} s with one sequential stream ({100 * (crn / seq - 1):+.1f} %)"
    )


if __name__ == "__main__":
    main()
