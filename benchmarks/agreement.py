"""Do the vectorised model and the per-agent reference (benchmarks/reference.py) agree? A statistical comparison.

Both start from the same initial population and ties (one population seed); the vectorised model is run with
``--vectorised-runs`` stream seeds (it is cheap) and the reference with ``--reference-runs`` seeds of its own
generator. Every run's monthly indicators are summarised into *cells*:

- flows (returns voluntary from each host and of IDPs, forced returns from each host, detentions, detentions on
  arrival, releases, re-displacement, flight from fighting, new displacement, registrations, deregistrations,
  homes destroyed, births, restitutions, confiscations): year by year, and over the whole run;
- stocks (refugees by host, IDPs, returnees, persons detained, homes confiscated) and means (intentions, hopes to
  return one day, mean perceived risk, returnee poverty, origin livelihood): month by month.

For each cell, ``z = (mean_ref - mean_vec) / (sd * sqrt(1/n_ref + 1/n_vec))``: under the hypothesis that the two
implement the same rules both have the same distribution, and the many vectorised runs estimate its spread
``sd``. Flows are counts of events (a household returns, a member is arrested, a home is taken): ``sd`` is at
least the spread of a Poisson count of such events, and a flow for which fewer than ``MIN_EVENTS`` (10) events
are expected over the reference runs is not compared on its own (the mean of a few runs of so rare an event is
far from normal); its year is still in the run's total (``@all``) and in the stocks. Stocks have an ``sd`` of
at least one event, shares and means of at least 0.001. The implementations agree when every ``|z|`` is below
``--z`` (default 5).

    python benchmarks/agreement.py                        # every library scenario: several minutes
    python benchmarks/agreement.py baseline lebanon_war --households-per-agent 2000 --reference-runs 3
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import ReferenceModel

from returnsim.scenario import load_scenario
from returnsim.simulation import Simulation

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
MIN_EVENTS = 10

FLOWS = (
    "returns_voluntary_refugees",
    "returns_voluntary_idps",
    "returns_forced",
    "returns_unplanned_refugees",
    "returns_unplanned_idps",
    "detained",
    "detained_on_arrival",
    "released",
    "redisplaced",
    "displaced_by_conflict",
    "newly_displaced",
    "registered_arrivals",
    "deregistered",
    "homes_destroyed",
    "births",
    "properties_restituted",
)
STOCKS = ("refugees", "idps", "returnees", "detained_stock", "properties_confiscated")
MEANS = (
    "intend_return_12m_pct",
    "intend_return_12m_pct_surveyed",
    "hope_return_pct",
    "hope_return_pct_surveyed",
    "mean_perceived_risk",
    "returnees_in_poverty_share",
    "origin_livelihood_mean",
)


#: a world where every mechanism and every event type is busy within three years (for power, not realism): the
#: baseline with high deportation and detention rates, and one event of each type from 2017 on
STRESS_CHANGES = {
    "meta.name": "stress",
    "simulation.months": 36,
    "decision.intercept": -4.5,
    "security.forced_return_multiplier": 4.0,
    "security.release_monthly": 0.1,
    "redisplacement.intercept": -4.5,
    "population.growth_annual": 0.1,
    "property.restitution_monthly": 0.01,
    "decision.services": 0.8,
    "decision.home_livelihood": 1.0,
    "decision.internal": 1.0,
    "hope.violence": 3.0,
    "hope.property_loss": 1.0,
    "hope.intercept": -2.0,  # most hope (about 93 %), and hope still differs between households
    "decision.feasibility_slope": 1.5,
    "decision.unplanned_rate": 0.001,  # unplanned returns too (docs/ODD.md 7.3)
    "decision.distress_rate": 0.003,
    "decision.detention_risk": 20.0,
    "economy.savings_spend": 0.05,  # savings spent as well as saved, from the steady state (docs/ODD.md 7.8)
    "population.survived_months": 0.0,  # keep the busy households (the reference starts from the model's state)
    **{f"hosts.{h}.return_cost": 1.0 for h in ("turkey", "lebanon", "jordan", "iraq", "egypt", "europe")},
    **{f"controllers.{c}.detention_on_return": 0.03 for c in ("government", "opposition", "turkish_backed", "sdf")},
    **{f"controllers.{c}.detention_monthly": 0.005 for c in ("government", "opposition", "turkish_backed", "sdf")},
    **{f"hosts.{h}.deportation_rate": 0.05 for h in ("lebanon", "jordan", "iraq")},
    "hosts.jordan.deportation_targeting": "all",
    "hosts.iraq.deportation_targeting": "military_age_men",
    "hosts.iraq.deportation_destination": "al_hasakah",
}
STRESS_EVENTS = [
    {
        "type": "deportation",
        "month": "2017-03",
        "host": "turkey",
        "quota": 40000,
        "targeting": "all",
        "destination": "northern_safe_zone",
    },
    {"type": "deportation", "month": "2018-01", "months": 6, "host": "egypt", "rate": 0.5, "targeting": "single_men"},
    {"type": "host_pressure", "month": "2017-02", "host": "turkey", "level": 0.9},
    {"type": "aid_change", "month": "2017-06", "months": 12, "host": "lebanon", "change": -0.3},
    {"type": "border_closure", "month": "2018-01", "months": 6, "host": "lebanon"},
    {"type": "host_conflict_shock", "month": "2017-09", "months": 3, "host": "lebanon", "violence": 0.5},
    {"type": "return_package", "month": "2017-04", "host": "europe", "subsidy": 2.0},
    {"type": "sanctions_relief", "month": "2017-06", "reconstruction_aid": 0.5, "ramp_months": 12},
    {"type": "property_confiscation", "month": "2017-01", "hazard": 0.02, "claim_window_months": 2},
    {"type": "property_restitution", "month": "2018-06", "monthly": 0.05, "repeal_confiscation": False},
    {"type": "amnesty", "month": "2017-05", "controllers": ["government"], "detention_factor": 0.3, "credibility": 0.5},
    {
        "type": "security_guarantee",
        "month": "2018-01",
        "profiles": ["politically_exposed"],
        "detention_factor": 0.5,
        "credibility": 0.3,
    },
    {"type": "conscription", "month": "2018-03", "controllers": ["government"], "enforced": False},
    {"type": "control_change", "month": "2017-08", "region": "idlib", "controller": "government"},
    {
        "type": "conflict_displacement",
        "month": "2017-04",
        "months": 4,
        "region": "aleppo",
        "share": 0.3,
        "destinations": {"northern_safe_zone": 2.0, "turkey": 1.0, "idlib": 1.0},
    },
    {
        "type": "conflict_displacement",
        "month": "2018-02",
        "months": 3,
        "region": "damascus",
        "persons": 200000,
        "destinations": {"rif_dimashq": 1.0, "lebanon": 1.0},
    },
    {
        "type": "controller_policy",
        "month": "2017-03-10",
        "controllers": ["opposition"],
        "detention_on_return": 0.08,
        "violence": 0.5,
        "ramp_months": 6,
    },
    {"type": "authority_change", "month": "2018-05-20", "controller": "government", "from_controllers": ["sdf"]},
    {
        "type": "idp_conditions",
        "month": "2017-02-15",
        "end": "2018-06-10",
        "pressure": 0.6,
        "return_cost": 1.0,
        "integration": 0.4,
        "livelihood_factor": 0.6,
    },
    {"type": "national_economy", "month": "2017-07", "national": 0.35, "sanctions_penalty": 0.3, "ramp_months": 6},
    {"type": "regime_change", "month": "2017-03-20", "regime": 0.9, "ramp_months": 3},
    {"type": "host_economy", "month": "2017-05-12", "host": "jordan", "change": -0.2, "ramp_months": 4},
    {
        "type": "housing_destruction",
        "month": "2017-09-03",
        "regions": ["homs", "hama"],
        "destroyed_share": 0.1,
        "damaged_share": 0.2,
    },
    {
        "type": "new_displacement",
        "month": "2017-02-14",
        "end": "2017-05-31",
        "region": "homs",
        "persons": 150000,
        "destinations": {"lebanon": 1.0, "hama": 2.0},
        "temporary_share": 0.5,
        "return_months": 2,
    },
    {
        "type": "registration",
        "month": "2017-06",
        "months": 6,
        "host": "jordan",
        "persons": 60000,
        "origin_shares": {"daraa": 1.0, "homs": 1.0},
    },
    {"type": "deregistration", "month": "2017-04-20", "end": "2018-02-10", "host": "egypt", "persons": 40000},
    {"type": "border_closure", "month": "2018-08-15", "months": 3, "host": "turkey", "capacity": 0.4},
]


def stress_scenario():
    """The baseline made busy: :data:`STRESS_CHANGES` and :data:`STRESS_EVENTS` added after its own events."""
    base = load_scenario("baseline")
    events = [e.model_dump(exclude_none=True) for e in base.events]
    events += [{"id": f"stress_{e['type']}_{i}", **e} for i, e in enumerate(STRESS_EVENTS)]
    return base.with_changes({**STRESS_CHANGES, "events": events}, source="stress")


def scenario_named(name):
    """A scenario object from a file, a built-in name, or "stress"."""
    if not isinstance(name, str | Path):
        return name
    return stress_scenario() if str(name) == "stress" else load_scenario(name)


def cells(series: dict[str, np.ndarray], hosts: list[str]) -> dict[str, float]:
    """One run's summary: ``name@yN`` for flows (yearly sums, confiscations as yearly increments), ``name@all``
    (sums over the run), ``name@mN`` for stocks and means (month by month)."""
    months = len(series["refugees"])
    years = range(0, months, 12)
    out = {}
    flows = [*FLOWS, *flow_by_host_names(hosts)]
    for name in flows:
        x = np.asarray(series[name], float)
        out |= {f"{name}@y{y // 12}": float(x[y : y + 12].sum()) for y in years}
        out[f"{name}@all"] = float(x.sum())
    confiscated = np.concatenate([[0.0], np.asarray(series["properties_confiscated"], float)])
    out |= {f"confiscations@y{y // 12}": float(confiscated[min(y + 12, months)] - confiscated[y]) for y in years}
    prefixes = ("refugees_", "intend_return_12m_pct_", "hope_return_pct_", "in_poverty_pct_")
    by_host = [f"{prefix}{h}" for prefix in prefixes for h in hosts]
    for name in [*STOCKS, *MEANS, *by_host]:
        x = np.asarray(series[name], float)
        out |= {f"{name}@m{m}": float(x[m]) for m in range(months)}
    return out


def flow_by_host_names(hosts: list[str]) -> list[str]:
    return [f"returns_{kind}_{h}" for kind in ("voluntary", "forced") for h in hosts]


#: series counted one member (or one home) at a time; the other counts move whole households
BY_MEMBER = ("detained", "detained_on_arrival", "released", "births", "detained_stock")
BY_HOME = ("confiscations", "properties_restituted", "properties_confiscated", "homes_destroyed")


def event_size(name: str, scenario) -> float | None:
    """What one event adds to a cell: one household (``households_per_agent`` times the mean household size),
    one member or one home of an agent row (``households_per_agent``); ``None`` for shares and means."""
    series = name.split("@")[0]
    if series in MEANS:
        return None
    if series in BY_MEMBER or series in BY_HOME:
        return 1.0
    return scenario.population.persons_per_household


def run_vectorised(scenario, start: Path, seed: int, months: int) -> dict[str, np.ndarray]:
    sim = Simulation(scenario, state=start, seed=seed)
    for _ in range(months):
        sim.step()
    return sim.result(0.0).series


def run_reference(sim: Simulation, seed: int, months: int, model=ReferenceModel, scenario=None) -> dict:
    ref = model.from_simulation(sim, seed, scenario=scenario)
    for _ in range(months):
        ref.step()
    frame = ref.datacollector.get_model_vars_dataframe()
    return {name: frame[name].to_numpy(float) for name in frame.columns}


@dataclass
class Agreement:
    """The comparison of one scenario: every cell's z, and the worst."""

    scenario: str
    z: dict[str, float]
    limit: float
    vec_mean: dict[str, float]
    ref_mean: dict[str, float]
    seconds: float
    rare: list[str]  # counts too rare to compare: fewer than MIN_EVENTS events expected over the reference runs

    @property
    def worst(self) -> tuple[str, float]:
        name = max(self.z, key=lambda k: abs(self.z[k]))
        return name, self.z[name]

    @property
    def failures(self) -> list[str]:
        return [k for k, z in self.z.items() if abs(z) > self.limit]

    @property
    def ok(self) -> bool:
        return not self.failures

    def describe(self, cell: str) -> str:
        vec, ref = self.vec_mean[cell], self.ref_mean[cell]
        return f"{cell}: vectorised {vec:,.4g}, reference {ref:,.4g}, z {self.z[cell]:+.1f}"


def compare(
    scenario,
    *,
    households_per_agent: int = 1000,
    months: int | None = None,
    population_seed: int = 1,
    vectorised_runs: int = 40,
    reference_runs: int = 8,
    limit: float = 5.0,
    model=ReferenceModel,
    reference_scenario=None,
    reference_seed: int = 2000,
) -> Agreement:
    """Compare the two implementations on one scenario (see the module documentation). ``model`` and
    ``reference_scenario`` give the reference another class or scenario (to show that a wrong rule fails); its
    runs use the seeds ``reference_seed``, ``reference_seed + 1``..."""
    t0 = time.perf_counter()
    s = scenario_named(scenario)
    months = months or s.simulation.months
    sim = Simulation(s, seed=population_seed, households_per_agent=households_per_agent)
    hosts, weight = list(s.hosts), households_per_agent
    with tempfile.TemporaryDirectory() as tmp:
        start = sim.save_state(Path(tmp) / "start.npz")
        vec = [cells(run_vectorised(s, start, 1000 + i, months), hosts) for i in range(vectorised_runs)]
    ref = [
        cells(run_reference(sim, reference_seed + i, months, model, reference_scenario), hosts)
        for i in range(reference_runs)
    ]
    z, vec_mean, ref_mean, rare = {}, {}, {}, []
    for name in vec[0]:
        v = np.array([c[name] for c in vec])
        r = np.array([c[name] for c in ref])
        vec_mean[name], ref_mean[name] = float(v.mean()), float(r.mean())
        size, series = event_size(name, s), name.split("@")[0]
        if size is None:  # a share or a mean
            spread = max(float(v.std(ddof=1)), 1e-3)
        elif series in STOCKS or series.startswith("refugees_"):  # a stock: at least one event
            spread = max(float(v.std(ddof=1)), size * weight)
        else:  # a flow: a count of events of ``unit`` persons (or homes) each
            unit = size * weight
            if len(r) * v.mean() / unit < MIN_EVENTS:
                rare.append(name)
                continue
            spread = max(float(v.std(ddof=1)), math.sqrt(unit * v.mean()))  # at least a Poisson count's spread
        z[name] = (r.mean() - v.mean()) / (spread * math.sqrt(1 / len(r) + 1 / len(v)))
    return Agreement(s.meta.name, z, limit, vec_mean, ref_mean, time.perf_counter() - t0, rare)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "scenarios",
        nargs="*",
        help='scenario files, built-in names or "stress" (default: every library file and stress)',
    )
    ap.add_argument("--households-per-agent", type=int, default=1000)
    ap.add_argument("--months", type=int, default=None, help="default: each scenario's simulation.months")
    ap.add_argument("--vectorised-runs", type=int, default=40)
    ap.add_argument("--reference-runs", type=int, default=8)
    ap.add_argument("--z", type=float, default=5.0, help="largest |z| allowed in any cell")
    args = ap.parse_args(argv)
    names = args.scenarios or [*(str(p) for p in sorted(SCENARIOS.glob("*.toml"))), "stress"]
    print(f"{'scenario':44}{'cells':>7}{'rare':>6}{'worst |z|':>11}{'seconds':>9}  worst cell")
    failed = 0
    for name in names:
        a = compare(
            name,
            households_per_agent=args.households_per_agent,
            months=args.months,
            vectorised_runs=args.vectorised_runs,
            reference_runs=args.reference_runs,
            limit=args.z,
        )
        cell, z = a.worst
        line = f"{a.scenario:44}{len(a.z):>7}{len(a.rare):>6}{abs(z):>11.2f}{a.seconds:>9.1f}  {a.describe(cell)}"
        print(line, flush=True)
        for f in a.failures:
            print(f"    disagrees: {a.describe(f)}")
        failed += not a.ok
    print("agree" if not failed else f"{failed} scenario(s) disagree")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
