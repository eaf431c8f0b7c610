"""Where the spread of a deportation's effect across seeds comes from, with common random numbers.

A deportation moves households the baseline leaves where they are; once moved, they take decisions (going
home from where they were sent) that they never take in the baseline. Common random numbers give such a
decision the same draw in both runs, but cannot make it the same decision: for one household that returns
with probability ``P1`` in the policy and ``P0`` in the baseline, the smallest variance of the difference over
any pairing of the two runs' draws is ``|P1 - P0| * (1 - |P1 - P0|)``, large when the policy changes the
household's prospects a lot. The households the policy does not move feel it only through what they hear,
the strain on their region's economy and the host's pressure: small changes of many households' chances.

For each seed, the policy and the baseline run with common random numbers; every voluntary return and
deportation is recorded by household (persons at the time). The effect on all voluntary returns is split into
the deportees' part (the households the policy deported, all their voluntary returns in both runs) and the
rest; the parts add up to the effect, which is checked against the runs' own series.

    python benchmarks/crn_floor.py                                   # turkey_deports_to_safe_zone, 48 seeds
    python benchmarks/crn_floor.py turkey_deports_to_safe_zone --seeds 12
"""

from __future__ import annotations

import argparse
import os
import statistics
from contextlib import contextmanager

import numpy as np

from returnsim import schedule
from returnsim.simulation import Simulation

KEYS = {"decide": "returned", "come_back": "returned", "deport": "deported"}


@contextmanager
def recording(record: dict[str, np.ndarray]):
    """Add to ``record`` (one array per value of ``KEYS``, a row per household), the persons of each voluntary
    return (``decide``, and ``come_back`` for the short-term displaced) and deportation (``deport``) while the
    context lasts (by wrapping those stages of the month). A run's rows never change in number."""

    def wrap(stage):
        def recorded(state, levers, params, streams):
            flows = stage(state, levers, params, streams)
            moved = next((c.rows for c in flows.changes if c.target == "location"), None)
            if moved is not None:
                persons = state.pop.size[moved].astype(np.float64) * state.pop.weight
                np.add.at(record[KEYS[stage.__name__]], moved, persons)
            return flows

        return recorded

    saved = schedule.STAGES
    schedule.STAGES = tuple(wrap(s) if s.__name__ in KEYS else s for s in saved)
    try:
        yield record
    finally:
        schedule.STAGES = saved


def run(scenario: str, seed: int, households_per_agent: int) -> tuple[dict[str, np.ndarray], float]:
    """Per-household persons returned and deported over the run, and the run's total voluntary returns."""
    sim = Simulation(scenario, seed=seed, households_per_agent=households_per_agent)
    with recording({key: np.zeros(len(sim.state.pop)) for key in set(KEYS.values())}) as record:
        while sim.t < sim.horizon:
            sim.step()
    return record, float(np.sum(sim.series["returns_voluntary"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy", nargs="?", default="turkey_deports_to_safe_zone")
    parser.add_argument("--seeds", type=int, default=48)
    parser.add_argument("--households-per-agent", type=int, default=100)
    args = parser.parse_args()
    seeds = list(range(1, args.seeds + 1))
    print(f"{os.cpu_count()} cores; {args.seeds} seeds; 1 agent = {args.households_per_agent} households")
    parts: dict[str, list[float]] = {"effect": [], "deportees": [], "the rest": [], "deported": []}
    totals: list[tuple[float, float]] = []
    for seed in seeds:
        (base, base_total), (pol, pol_total) = (
            run(s, seed, args.households_per_agent) for s in ("baseline", args.policy)
        )
        returns_base, returns_pol, deported = base["returned"], pol["returned"], pol["deported"]
        moved = deported > 0
        diff = returns_pol - returns_base
        parts["effect"].append(pol_total - base_total)
        parts["deportees"].append(float(diff[moved].sum()))
        parts["the rest"].append(float(diff[~moved].sum()))
        parts["deported"].append(float(deported.sum()))
        totals.append((base_total, pol_total))
        assert abs(parts["deportees"][-1] + parts["the rest"][-1] - parts["effect"][-1]) < 1e-6 * max(base_total, 1)
        print(
            f"seed {seed:3d}: effect {parts['effect'][-1]:>10,.0f} = deportees {parts['deportees'][-1]:>10,.0f}"
            f" + the rest {parts['the rest'][-1]:>10,.0f}",
            flush=True,
        )
    independent = [totals[i][1] - totals[(i + 1) % len(totals)][0] for i in range(len(totals))]
    sd_ind = statistics.stdev(independent)
    print(f"\n{args.policy} minus baseline, all voluntary returns (persons): mean ± sd across seeds")
    for name, values in parts.items():
        print(f"  {name:12s} {statistics.mean(values):>12,.0f} ± {statistics.stdev(values):>9,.0f}")
    print(f"  {'independent runs':12s} {statistics.mean(independent):>12,.0f} ± {sd_ind:>9,.0f}")
    r = np.corrcoef(parts["deportees"], parts["the rest"])[0, 1]
    print(f"correlation across seeds of the deportees' part and the rest: {r:+.2f}")
    print(
        f"sd of independent runs over sd with common random numbers: {sd_ind / statistics.stdev(parts['effect']):.1f}x"
        f" (over the deportees' part alone: {sd_ind / statistics.stdev(parts['deportees']):.1f}x, the rest alone: "
        f"{sd_ind / statistics.stdev(parts['the rest']):.1f}x)"
    )


if __name__ == "__main__":
    main()
