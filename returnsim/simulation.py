"""One run: a scenario and a seed, month by month, to a :class:`Result` that is pure data.

:class:`Simulation` holds a run's state and steps it a month at a time (``returnsim.schedule.advance``);
``ReturnModel`` (the Mesa face) wraps one. :func:`simulate` runs one to the end and returns a :class:`Result`:
the monthly series, a summary by location and the provenance; no model, so it can be pickled, sent between
processes and kept. The command line, ``compare``, sweeps and calibration all go through :func:`simulate`.

>>> r = simulate("baseline", seed=1, months=3, households_per_agent=1000)
>>> r.series["month"].tolist()
['2017-01', '2017-02', '2017-03']
>>> import pickle; float(pickle.loads(pickle.dumps(r)).series["refugees"][-1]) == float(r.series["refugees"][-1])
True
"""

from __future__ import annotations

import csv
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from returnsim import state as state_io
from returnsim.geography import Geography, month_label
from returnsim.levers import Levers, levers_at
from returnsim.network import build_ties, codes
from returnsim.population import Status, stayers_needed, synthesize
from returnsim.reporters import columns, indicators
from returnsim.scenario import Scenario, ScenarioError, load_scenario
from returnsim.schedule import advance
from returnsim.state import State, StateError
from returnsim.streams import Draw, Streams
from returnsim.transitions.decide import select_stayed
from returnsim.transitions.livelihoods import steady_savings

__all__ = ["Result", "Simulation", "as_scenario", "run", "simulate"]


def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    """A scenario object, or one loaded from a file path or a built-in name."""
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


class Simulation:
    """A run in progress (no Mesa): the scenario, the state, the random streams and the series so far.

    Args:
        scenario: the scenario (an object, a file path or a built-in name).
        seed: seed of every random stream (default: the scenario's ``simulation.seed``, or the saved state's).
        households_per_agent: households each row stands for (default: the scenario's).
        state: start from a saved state (a path written by :meth:`save_state`) instead of a new population.
        common_random_numbers: one random stream per decision, indexed by household and month (the default;
            ``returnsim.streams``); ``False`` draws from one sequential generator (for comparisons of designs).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path = "baseline",
        *,
        seed: int | None = None,
        households_per_agent: int | None = None,
        state: str | Path | None = None,
        common_random_numbers: bool = True,
    ):
        t0 = time.perf_counter()
        self.params = s = as_scenario(scenario)
        self.geo = Geography.from_scenario(s)
        self.from_state = str(state) if state is not None else None
        if state is not None:
            header = state_io.read_header(state)
            if header.get("start") != s.simulation.start:
                raise StateError(
                    f"{state}: saved from a run starting {header.get('start')}; "
                    f"the scenario starts {s.simulation.start} (simulation.start)"
                )
            self.seed = int(header["seed"]) if seed is None else int(seed)
            self.streams = Streams(self.seed, common_random_numbers)
            self.state = state_io.load(state, self.geo)
            if households_per_agent not in (None, self.state.pop.weight):
                raise StateError(
                    f"{state}: saved with {self.state.pop.weight} households per agent, not {households_per_agent}"
                )
        else:
            self.seed = s.simulation.seed if seed is None else int(seed)
            self.streams = Streams(self.seed, common_random_numbers)
            self.state = self._new_state(households_per_agent or s.simulation.households_per_agent)
        self.start_t = self.state.t
        self.columns = columns(self.geo)
        self.series: dict[str, list] = {name: [] for name in self.columns}
        self.indicators: dict[str, float | str] = {}
        self.at_start = self.state.persons_by_location()
        self.departed_voluntary = np.zeros(self.geo.n_hosts + 1)
        self.departed_forced = np.zeros(self.geo.n_hosts + 1)
        self.init_seconds = time.perf_counter() - t0

    def _new_state(self, weight: int) -> State:
        s, g = self.params, self.geo
        stayers = stayers_needed(s, g)
        start = levers_at(s, g, 0)
        pop = synthesize(
            s,
            g,
            start,
            self.streams.generator(Draw.SYNTHESIS),
            weight,
            stayers,
            self.streams.generator(Draw.SYNTHESIS, salt=1),
        )
        base = int(np.count_nonzero(pop.status != Status.STAYER))
        ties = build_ties(
            pop.origin,
            s.network,
            self.streams.generator(Draw.NETWORK),
            base,
            self.streams.generator(Draw.NETWORK, salt=1),
        )
        n = len(pop)
        state = State(
            geo=g,
            pop=pop,
            ties=ties,
            t=0,
            livelihood=np.array([r.livelihood for r in s.regions.values()]),
            births_by_origin=np.zeros(g.n_regions),
            confiscated=np.zeros(1),
            news_back=np.zeros(n, np.int8),
            news_detained=np.zeros(n, np.int8),
            news_code=codes(pop.status, pop.detained),
        )
        if s.economy.savings_spend > 0:  # start where the savings rule settles (livelihoods.steady_savings)
            pop.savings[:] = steady_savings(state, start, s)
        if select_stayed(state, start, s, self.streams.generator(Draw.SYNTHESIS, salt=2)) and s.economy.savings_spend:
            pop.savings[:] = steady_savings(state, start, s)  # of the skills kept
        return state

    @staticmethod
    def start_of(path: str | Path) -> int:
        """The month index a saved state continues from (months simulated before it was saved)."""
        return int(state_io.read_header(path)["t"])

    # ---------------------------------------------------------------------------------------- state

    @property
    def t(self) -> int:
        """Months simulated since the scenario's start (the next month to simulate)."""
        return self.state.t

    @property
    def month(self) -> str:
        """The month just simulated (``YYYY-MM``); before the first step, the month before the start."""
        return month_label(self.params.simulation.start, self.state.t - 1)

    @property
    def horizon(self) -> int:
        """The scenario's last month, as a month index (``simulation.months`` from the start)."""
        return self.params.simulation.months

    def levers(self, t: int | None = None) -> Levers:
        """The levers in force in month ``t`` (default: the next month to simulate)."""
        return levers_at(self.params, self.geo, self.state.t if t is None else t)

    def change(self, changes: Mapping[str, Any] | Scenario, source: str = "<changes>") -> None:
        """Go on under a changed scenario from the next month (dotted keys, or a whole new scenario with the same
        places). What happened so far stays; levers, decision weights and events are read from the new one."""
        new = changes if isinstance(changes, Scenario) else self.params.with_changes(changes, source=source)
        geo = Geography.from_scenario(new)
        if geo.names() != self.geo.names():
            raise ScenarioError([f"{source}: hosts, regions and controllers cannot change during a run"])
        self.params, self.geo, self.state.geo = new, geo, geo

    def save_state(self, path: str | Path) -> Path:
        """Save the state after the last simulated month; a later :class:`Simulation` (``state=path``) goes on
        from there with the same random streams."""
        meta = {"seed": self.seed, "start": self.params.simulation.start, "scenario": self.params.meta.name}
        return state_io.save(self.state, path, meta)

    # ----------------------------------------------------------------------------------------- step

    def step(self) -> dict[str, float | str]:
        """Simulate one month; return its indicators."""
        st = self.state
        levers = levers_at(self.params, self.geo, st.t)
        flows = advance(st, levers, self.params, self.streams)
        self.indicators = indicators(st, flows, levers, self.params, month_label(self.params.simulation.start, st.t))
        st.t += 1
        for name in self.columns:
            self.series[name].append(self.indicators[name])
        self.departed_voluntary += flows.returns_voluntary_from
        self.departed_forced += flows.returns_forced_from
        return self.indicators

    def result(self, wall_seconds: float) -> Result:
        """The run so far as a :class:`Result`."""
        from returnsim import __version__

        series = {
            name: np.array(values, dtype=str) if name == "month" else np.array(values, dtype=np.float64)
            for name, values in self.series.items()
        }
        labels = [*self.geo.host_labels, "IDPs (inside Syria)"]
        return Result(
            scenario=self.params,
            seed=self.seed,
            months=self.state.t - self.start_t,
            households_per_agent=self.state.pop.weight,
            agents=len(self.state.pop),
            series=series,
            by_location={
                "where": labels,
                "at_start": self.at_start.tolist(),
                "returned_voluntarily": self.departed_voluntary.tolist(),
                "deported": self.departed_forced.tolist(),
                "still_displaced": self.state.persons_by_location().tolist(),
            },
            wall_seconds=wall_seconds,
            init_seconds=self.init_seconds,
            provenance={
                "package": "returnsim",
                "version": __version__,
                "python": platform.python_version(),
                "numpy": np.__version__,
                "common_random_numbers": self.streams.common,
                "from_state": self.from_state,
                "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )


@dataclass(frozen=True)
class Result:
    """A finished run as pure data: series, a summary by location and provenance (picklable, no model)."""

    scenario: Scenario
    seed: int
    months: int
    households_per_agent: int
    agents: int
    series: dict[str, np.ndarray]  # one array per time-series column (``month``: "YYYY-MM" labels)
    by_location: dict[str, list]  # hosts then IDPs: persons at start, returned voluntarily, deported, still away
    wall_seconds: float
    init_seconds: float
    provenance: dict[str, Any] = field(default_factory=dict)
    explained: dict[str, dict[str, float]] = field(default_factory=dict)  # month -> share for whom each barrier binds

    @property
    def timeseries(self):
        """The series as a ``pandas.DataFrame``, one row per month."""
        import pandas as pd

        return pd.DataFrame(self.series)

    def totals(self) -> dict[str, float]:
        """Overall outcomes of the run (persons unless stated), as ``returnsim run`` prints them."""
        s = self.series

        def last(name: str) -> float:
            return float(s[name][-1]) if len(s[name]) else 0.0

        return {
            "returned voluntarily": float(s["returns_voluntary"].sum()),
            "returned forcibly": float(s["returns_forced"].sum()),
            "detained": float(s["detained"].sum()),
            "re-displaced": float(s["redisplaced"].sum()),
            "still displaced": float(sum(self.by_location["still_displaced"])),
            "living back home": last("returnees"),
            "in detention": last("detained_stock"),
            "properties confiscated (households)": last("properties_confiscated"),
            "returnees in poverty (share)": last("returnees_in_poverty_share"),
            "intend to return in 12 months (% of refugee households)": last("intend_return_12m_pct"),
        }

    def write_csv(self, path: str | Path) -> Path:
        """Write the series as CSV (one row per month), without pandas."""
        names = list(self.series)
        with open(path, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(names)
            for i in range(self.months):
                out.writerow([_cell(self.series[n][i]) for n in names])
        return Path(path)


def _cell(value) -> str:
    if isinstance(value, str | np.str_):
        return str(value)
    f = float(value)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


def simulate(
    scenario: Scenario | str | Path = "baseline",
    *,
    seed: int | None = None,
    months: int | None = None,
    households_per_agent: int | None = None,
    state: str | Path | None = None,
    save_state: tuple[int, str | Path] | None = None,
    common_random_numbers: bool = True,
    explain_at: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Run a scenario (object, file path or built-in name) and return its :class:`Result`.

    ``months`` defaults to the rest of the scenario's horizon (``simulation.months``, less the months a saved
    ``state`` already covers). ``save_state=(k, path)`` saves the state after the ``k``-th month of this run.
    ``explain_at`` lists months (YYYY-MM) at whose start the binding barriers of refugees in the surveyed hosts
    are recorded (``returnsim.explain``; ``Result.explained``). ``progress(done, total)`` is called after each
    month.
    """
    t0 = time.perf_counter()
    sim = Simulation(
        scenario,
        seed=seed,
        households_per_agent=households_per_agent,
        state=state,
        common_random_numbers=common_random_numbers,
    )
    total = months if months is not None else max(sim.horizon - sim.t, 0)
    explained = {}
    for done in range(1, total + 1):
        upcoming = month_label(sim.params.simulation.start, sim.t)
        if upcoming in explain_at:
            from returnsim.explain import binding_shares_now

            explained[upcoming] = binding_shares_now(sim)
        sim.step()
        if save_state is not None and done == save_state[0]:
            sim.save_state(save_state[1])
        if progress:
            progress(done, total)
    result = sim.result(time.perf_counter() - t0)
    return replace(result, explained=explained) if explained else result


def run(
    scenario: Scenario | str | Path = "baseline",
    *,
    seed: int | None = None,
    months: int | None = None,
    households_per_agent: int | None = None,
):
    """Run a scenario and return its monthly time series as a ``pandas.DataFrame``."""
    return simulate(scenario, seed=seed, months=months, households_per_agent=households_per_agent).timeseries
