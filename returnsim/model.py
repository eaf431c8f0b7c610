"""``ReturnModel``: the Mesa face of a run. One step is one calendar month.

The month's work is done by the transitions over the household columns (``returnsim.schedule``); the model
holds a :class:`~returnsim.simulation.Simulation`, collects its indicators with Mesa's ``DataCollector``, and
(optionally) gives every row a thin ``Household`` agent. It follows Mesa's conventions: keyword arguments for
the seed and for any scenario key (so ``mesa.batch_run(ReturnModel, parameters={...})`` works), ``running``
turns False at the scenario's horizon, and ``model.steps`` counts months.

>>> m = ReturnModel("baseline", seed=1, households_per_agent=1000, agents=False)
>>> m.step(); m.month
'2017-01'
>>> m = ReturnModel("baseline", households_per_agent=5000, agents=False, **{"decision.intercept": -5.0})
>>> m.params.decision.intercept
-5.0
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from returnsim.agents import Household
from returnsim.scenario import Scenario
from returnsim.scenario.changes import keyword_path
from returnsim.simulation import Simulation, as_scenario
from returnsim.tables import Tables
from returnsim.transitions import decide

__all__ = ["ReturnModel"]


class ReturnModel(mesa.Model):
    """Syrian households deciding each month whether to go home.

    Args:
        scenario: a scenario object, a file path or a built-in name (default ``"baseline"``).
        seed: seed of the run's random streams (default: the scenario's ``simulation.seed``).
        households_per_agent: households each agent stands for (default: the scenario's).
        agents: create one ``Household`` Mesa agent per row (turn off for speed when only aggregate
            indicators are wanted).
        state: start from a state saved by ``Simulation.save_state`` (``returnsim run --save-state``).
        rng: accepted for Mesa's ``batch_run``; an integer is used as the seed when ``seed`` is not given.
        **overrides: scenario keys to change, as dotted paths (``**{"decision.intercept": -5.0}``) or with
            double underscores (``decision__intercept=-5.0``).
    """

    def __init__(
        self,
        scenario: Scenario | str | Path = "baseline",
        *,
        seed: int | None = None,
        households_per_agent: int | None = None,
        agents: bool = True,
        state: str | Path | None = None,
        rng: Any = None,
        **overrides: Any,
    ):
        params = as_scenario(scenario)
        if overrides:
            changes = {keyword_path(k): v for k, v in overrides.items()}
            params = params.with_changes(changes, source="ReturnModel(...)")
        if seed is None and isinstance(rng, int | np.integer):
            seed = int(rng)
        self.sim = Simulation(params, seed=seed, households_per_agent=households_per_agent, state=state)
        super().__init__(rng=self.sim.seed)
        self.seed = self.sim.seed
        self.first_household_id = self.agent_id_counter
        if agents:
            collecting = gc.isenabled()
            gc.disable()  # millions of new objects and no garbage: cyclic collection would only slow this
            try:
                for _ in range(len(self.population)):
                    Household(self)
            finally:
                if collecting:
                    gc.enable()
        self.running = self.sim.t < self.sim.horizon
        self.datacollector = mesa.DataCollector(model_reporters={name: _reader(name) for name in self.sim.columns})

    # ------------------------------------------------------------------------------------ views

    @property
    def params(self) -> Scenario:
        """The scenario being run."""
        return self.sim.params

    @property
    def state(self):
        return self.sim.state

    @property
    def population(self):
        """The household columns (``returnsim.population.Population``)."""
        return self.sim.state.pop

    @property
    def geography(self):
        return self.sim.geo

    @property
    def month(self) -> str:
        """The month just simulated (``YYYY-MM``)."""
        return self.sim.month

    @property
    def indicators(self) -> dict[str, float | str]:
        """The indicators of the month just simulated (the time-series columns)."""
        return self.sim.indicators

    def location_name(self, code: int) -> str:
        return self.sim.geo.location_name(code)

    def return_probabilities(self, rows) -> np.ndarray:
        """This month's voluntary-return probability of each given row (the transition's own computation)."""
        sim = self.sim
        tab = Tables.build(sim.params, sim.geo, sim.levers(), sim.state.livelihood)
        return decide.hazards(sim.state, tab, sim.params, np.asarray(rows))[2]

    def change(self, changes, source: str = "<changes>") -> None:
        """Go on under a changed scenario from the next month (see ``Simulation.change``)."""
        self.sim.change(changes, source)
        self.running = self.sim.t < self.sim.horizon

    def snapshot(self, rows=slice(None), labels: bool = False):
        """Agent-level state now, as a ``pandas.DataFrame`` with one line per row (agent): ``month``, ``row``,
        ``weight`` and every population column. ``labels=True`` gives location, origin, status and property as
        categorical names instead of codes.

        >>> m = ReturnModel("baseline", seed=1, households_per_agent=1000, agents=False)
        >>> snap = m.snapshot(labels=True)
        >>> len(snap) == len(m.population), str(snap.location[0]), str(snap.status[0])
        (True, 'turkey', 'displaced')
        """
        import pandas as pd

        from returnsim.population import PropertyStatus, Status

        pop, g = self.population, self.geography
        index = np.arange(len(pop))[rows]
        frame = pd.DataFrame({"month": self.month, "row": index, "weight": pop.weight})
        for name, column in pop.columns().items():
            frame[name] = column[rows]
        if labels:
            names = {
                "location": [*g.host_names, *g.region_names],
                "origin": list(g.region_names),
                "status": [s.name.lower() for s in Status],
                "property": [s.name.lower() for s in PropertyStatus],
            }
            for name, categories in names.items():
                frame[name] = pd.Categorical.from_codes(frame[name].to_numpy(np.int64), categories=categories)
        return frame

    # ------------------------------------------------------------------------------------- step

    def step(self) -> None:
        """Simulate one calendar month (``returnsim.schedule.advance``) and collect its indicators."""
        self.sim.step()
        self.datacollector.collect(self)
        self.running = self.sim.t < self.sim.horizon


def _reader(name: str):
    def read(model: ReturnModel):
        return model.sim.indicators[name]

    read.__name__ = f"report_{name}"
    return read
