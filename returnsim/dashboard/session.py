"""One dashboard session: a scenario, a seed and the changes made on the page, run month by month.

A policy set on the page is a dated event (``[[events]]``) that starts at the next month to simulate and is
added to the scenario; the session then rebuilds the model with the same seed and replays it to the current
month. Runs are deterministic, so the months already shown stay as they were and the policy acts from now
on. A decision weight applies to the whole run: the run is replayed from the start with the new weight.

:func:`region_state` is the one place that reads the model's internals (population columns and places);
everything else goes through ``model.step()``, ``model.month`` and ``model.indicators``.

>>> from returnsim import load_scenario
>>> s = Session(load_scenario("baseline"), households_per_agent=2000)
>>> len(s.step(2)), s.month, s.next_month
(2, '2017-02', '2017-03')
>>> s.set_policy("pressure:lebanon", {"type": "host_pressure", "host": "lebanon", "level": 0.9})
>>> s.page_events[0]["month"], len(s.rows)
('2017-03', 2)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from returnsim.geography import month_label
from returnsim.model import ReturnModel
from returnsim.scenario import Scenario, ScenarioError, scenario_from_dict

SOURCE = "dashboard"  # what errors in the page's own changes are reported against

#: the decision weights the page offers, with the plain-language name of each slider
WEIGHTS: dict[str, str] = {
    "detention_risk": "Fear of arrest",
    "violence": "Violence at home",
    "livelihood": "Earnings at home vs here",
    "property_loss": "Lost home or property",
    "conscription": "Military service",
    "pressure": "Pressure in the host country",
    "network": "Friends and family back home",
    "attachment": "Attachment to home",
    "integration": "Settled where they are",
}


def region_state(model: ReturnModel) -> pd.DataFrame:
    """Persons displaced and returned in every host and Syrian region now, with each region's controller.

    Columns: ``place``, ``kind`` (``host``/``region``), ``displaced_here`` (refugees in a host; IDPs living in a
    region), ``returned_here`` (returnees living back in their home region), ``controller`` (empty for hosts).
    Persons in detention are not counted.
    """
    sim = model.sim
    state, geo = sim.state, sim.geo
    pop = state.pop
    n_hosts, size = geo.n_hosts, geo.n_locations
    persons = pop.persons
    displaced, returned = state.displaced(), state.at_home()
    away = np.bincount(pop.location[displaced], weights=persons[displaced], minlength=size)
    home = np.bincount(pop.location[returned], weights=persons[returned], minlength=size)
    levers = sim.levers(max(sim.t - 1, 0))  # who held each region in the month last simulated
    controllers = [geo.controller_names[c] for c in levers.controller]
    return pd.DataFrame(
        {
            "place": [*geo.host_names, *geo.region_names],
            "kind": ["host"] * n_hosts + ["region"] * geo.n_regions,
            "displaced_here": away,
            "returned_here": home,
            "controller": [""] * n_hosts + controllers,
        }
    )


class Session:
    """A scenario run month by month, with the policies and decision weights set on the page.

    Args:
        scenario: the scenario as loaded (the page's changes are kept apart and added on top).
        seed: the run's seed (default: the scenario's).
        households_per_agent: households one agent stands for (default: the scenario's).
    """

    def __init__(self, scenario: Scenario, *, seed: int | None = None, households_per_agent: int | None = None):
        self.scenario = scenario
        self.seed = scenario.simulation.seed if seed is None else seed
        self.households_per_agent = households_per_agent or scenario.simulation.households_per_agent
        self.months = scenario.simulation.months
        self.page_events: list[dict[str, Any]] = []  # events added on the page, in order
        self._lever_of: list[str] = []  # the lever each page event sets
        self.weights: dict[str, float] = {}  # decision weights changed on the page
        self.effective = scenario
        self.model = self._build(scenario)
        self.rows: list[dict[str, Any]] = []
        self.compare_cache: dict[str, pd.DataFrame] = {}

    # ------------------------------------------------------------------------------ running

    def _build(self, scenario: Scenario) -> ReturnModel:
        return ReturnModel(scenario, seed=self.seed, households_per_agent=self.households_per_agent, agents=False)

    @property
    def month(self) -> str | None:
        """The month last simulated (``None`` before the first step)."""
        return self.rows[-1]["month"] if self.rows else None

    @property
    def next_month(self) -> str:
        """The month the next step simulates, and from which a policy set now acts."""
        return month_label(self.scenario.simulation.start, len(self.rows))

    @property
    def finished(self) -> bool:
        return len(self.rows) >= self.months

    def step(self, n: int = 1) -> list[dict[str, Any]]:
        """Simulate up to ``n`` more months (never past the scenario's end); return their indicators."""
        new = []
        for _ in range(min(n, self.months - len(self.rows))):
            self.model.step()
            new.append(dict(self.model.indicators))
        self.rows += new
        return new

    def timeseries(self) -> pd.DataFrame:
        """The months simulated so far, one row each (the time-series columns)."""
        return pd.DataFrame(self.rows)

    def regions(self) -> pd.DataFrame:
        return region_state(self.model)

    def reset(self) -> None:
        """Back to the start, without the changes made on the page."""
        self.page_events, self._lever_of, self.weights = [], [], {}
        self.effective = self.scenario
        self.model = self._build(self.scenario)
        self.rows = []

    def _replay(self, scenario: Scenario, months: int) -> None:
        """Rebuild the model from ``scenario`` with the same seed and simulate ``months`` months."""
        self.model = self._build(scenario)
        self.effective = scenario
        self.rows = []
        self.step(months)

    # ------------------------------------------------------------------------------ changes

    def _tree(self, events: list[dict], weights: Mapping[str, float]) -> dict:
        tree = self.scenario.model_dump(mode="json")
        tree["events"] = [*tree["events"], *copy.deepcopy(events)]
        tree["decision"] = {**tree["decision"], **weights}
        return tree

    def set_policy(self, lever: str, event: Mapping[str, Any] | None) -> None:
        """Set the page's policy for ``lever`` (e.g. ``"deportation:turkey"``) from the next month on.

        ``event`` is an ``[[events]]`` table without its ``month`` (the next month is used), or ``None`` to go
        back to the scenario's own policy for that lever. The lever's earlier page event ends the month before;
        one set for the same month is replaced. The run is replayed to the current month. A
        :class:`ScenarioError` (an invalid value) leaves the session as it was.
        """
        if self.finished:
            raise ScenarioError([f"{SOURCE}: the run has reached its last month ({self.month}); reset to start again"])
        start = self.next_month
        events, levers = copy.deepcopy(self.page_events), list(self._lever_of)
        for i in reversed(range(len(events))):
            if levers[i] != lever or (events[i].get("end") or "9999-12") < start:
                continue
            if events[i]["month"] == start:
                del events[i], levers[i]
            else:
                events[i].pop("months", None)
                events[i]["end"] = month_label(start, -1)
        if event is not None:
            events.append({**event, "month": start})
            levers.append(lever)
        scenario = scenario_from_dict(self._tree(events, self.weights), source=SOURCE)
        self.page_events, self._lever_of = events, levers
        self._replay(scenario, len(self.rows))

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Change decision weights (``decision.<key>``) for the whole run, replayed from the start."""
        merged = {**self.weights, **weights}
        scenario = scenario_from_dict(self._tree(self.page_events, merged), source=SOURCE)
        self.weights = merged
        self._replay(scenario, len(self.rows))

    def policy_value(self, lever: str) -> dict[str, Any] | None:
        """The page's event in force for ``lever`` now (the last one set), if any."""
        for event, name in zip(reversed(self.page_events), reversed(self._lever_of), strict=True):
            if name == lever:
                return None if (event.get("end") or "9999-12") < self.next_month else event
        return None

    def all_events(self) -> list[dict[str, Any]]:
        """The scenario's events and the page's, as ``[[events]]`` tables."""
        return self.effective.model_dump(mode="json")["events"]

    # ------------------------------------------------------------------------------ comparison

    def comparison(self, which: str) -> pd.DataFrame:
        """A whole run to set beside this one, same seed and scale: ``"loaded"`` (the scenario without the page's
        changes) or ``"baseline"`` (the built-in baseline scenario). Computed once and kept."""
        if which not in self.compare_cache:
            if which == "loaded":
                scenario = self.scenario
            elif which == "baseline":
                from returnsim.scenario import load_scenario

                scenario = load_scenario("baseline")
            else:
                raise ValueError(f"unknown comparison {which!r}: 'loaded' or 'baseline'")
            model = self._build(scenario)
            rows = []
            for _ in range(self.months):
                model.step()
                rows.append(dict(model.indicators))
            self.compare_cache[which] = pd.DataFrame(rows)
        return self.compare_cache[which]
