r"""Voluntary return: each displaced household's monthly probability of going home, and who goes.

The probability is ``decision.return_probability``: a logit hazard of intending to return times the feasibility
of doing it (savings against the cost, an open border). The place terms of the utility are computed per place
cell (``returnsim.tables``) and the household terms per row, by the same kernels (``decision.place_utility`` and
``decision.household_utility``). Households that go pay the return cost from their savings and arrive home.

The survey-comparable intention, the share of refugee households intending to return within 12 months
(``decision.intend_within``), is reported for all hosts and for the hosts UNHCR's survey covers.
"""

from __future__ import annotations

import functools

import numpy as np

from returnsim import decision
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.tables import Tables
from returnsim.transitions import RETURNED

__all__ = ["decide", "hazards", "inputs"]


@functools.lru_cache(maxsize=8)
def _settled_table(time_scale: float) -> np.ndarray:
    """``1 - exp(-t / tau)`` for every possible months displaced ``t`` (``decision.integration`` with G = 1)."""
    months = np.arange(np.iinfo(np.int16).max + 1)
    table = decision.integration(months, 1.0, time_scale).astype(np.float32)
    table.setflags(write=False)
    return table


def _household(state: State, tab: Tables, params: Scenario, rows) -> dict[str, np.ndarray]:
    """The decision inputs that differ between households of one place cell (gathers use ``np.take``, about
    twice as fast as fancy indexing on millions of rows)."""
    pop = state.pop
    cell = state.cell[rows]
    integration = np.take(tab.integration, cell)
    integration *= np.take(_settled_table(params.decision.integration_months), pop.months_displaced[rows])
    gap = np.take(tab.gap, cell)
    gap *= pop.skill[rows]
    network = state.news_back[rows].astype(np.float32)
    network *= np.float32(1.0 / max(state.ties.k, 1))
    return {
        "livelihood_gap": gap,
        "perceived_risk": pop.perceived_risk[rows],
        "network": network,
        "attachment": pop.attachment[rows],
        "integration": integration,
        "savings": pop.savings[rows],
        "return_cost": np.take(tab.return_cost, cell),
        "border_open": np.take(tab.border_open, cell),
    }


def inputs(state: State, tab: Tables, params: Scenario, rows=slice(None)) -> decision.ReturnInputs:
    """Every decision input of ``rows`` (all rows by default): what ``decision.return_probability`` weighs."""
    cell = state.cell[rows]
    place = tab.place_inputs
    return decision.ReturnInputs(
        pressure=place.pressure[cell],
        violence=place.violence[cell],
        conscription=place.conscription[cell],
        property_loss=place.property_loss[cell],
        host_violence=place.host_violence[cell],
        **_household(state, tab, params, rows),
    )


def hazards(state: State, tab: Tables, params: Scenario, rows=slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """The monthly intention hazard ``q`` and return probability ``p = q * f`` of ``rows``: the same numbers as
    ``decision.return_probability(inputs(...))``, with the place terms summed once per cell and a closed border
    written as an infinite cost (its feasibility is 0 either way)."""
    b = params.decision
    cell = state.cell[rows]
    household = _household(state, tab, params, rows)
    del household["return_cost"], household["border_open"]
    utility = np.take(tab.place_utility, cell)
    utility += decision.household_utility(decision.ReturnInputs(**household), b)
    q = decision.expit(utility)
    cost = np.take(tab.reachable_cost, cell)
    f = decision.feasibility(household["savings"], cost, np.float32(1.0), b.feasibility_slope)
    f *= q
    return q, f


def decide(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Who of the displaced returns this month (see the module documentation)."""
    pop, g, t = state.pop, state.geo, state.t
    nH = g.n_hosts
    tab = Tables.build(params, g, levers, state.livelihood)
    q, p = hazards(state, tab, params)
    displaced = state.displaced()
    u = streams.uniform_all(Draw.RETURN, t, len(pop))
    go = np.flatnonzero(displaced & (u < p))

    # intentions of refugee households (displaced in a host), overall and in the hosts the survey covers
    in_host = np.flatnonzero(displaced & (pop.location < nH))
    intend = decision.intend_within(np.take(q, in_host), 12)
    surveyed = np.take(np.append(g.host_surveyed, False), np.minimum(np.take(pop.location, in_host), nH))
    n_surveyed = np.count_nonzero(surveyed)
    pct = 100.0 * float(intend.sum(dtype=np.float64)) / len(in_host) if len(in_host) else 0.0
    pct_surveyed = 100.0 * float(intend.sum(where=surveyed, dtype=np.float64)) / n_surveyed if n_surveyed else 0.0

    left = np.minimum(pop.location[go], nH)
    persons = pop.size[go].astype(np.float64) * pop.weight
    spent = np.maximum(pop.savings[go] - tab.return_cost[state.cell[go]], np.float32(0.0))
    return Flows(
        returns_voluntary_from=np.bincount(left, weights=persons, minlength=nH + 1),
        intend_return_12m_pct=float(pct),
        intend_return_12m_pct_surveyed=float(pct_surveyed),
        changes=(
            Change("location", go, pop.origin[go] + np.int16(nH)),
            Change("status", go, RETURNED),
            Change("forced", go, False),
            Change("savings", go, spent),
            Change("arrived", go, np.int16(t)),
        ),
    )
