"""Livelihoods: origin economies, savings, time displaced and births.

``economy``: each region's livelihood index moves by ``economy.adjust_rate`` towards its target: the scenario's
regional level scaled by how the national economy and sanctions have changed since the start, plus
reconstruction aid (``livelihood_target``), less the strain of last month's arrivals relative to the region's
pre-war population (``economy.strain``). Households back from a displacement of weeks (``movements.come_back``,
or by their own decision before they were due) find the work and homes they left: they are not counted as
arrivals that strain.

``livelihoods``: households save ``economy.saving_rate`` of what they earn above the poverty line and spend
``economy.savings_spend`` of what they hold (shocks, debts, help to family), so that savings settle where the
two balance (none while wholly detained; between 0 and ``economy.savings_max``); displaced households count
one more month displaced; and displaced households grow: each gains a member with probability ``size * m`` a
month, where ``m = (1 + population.growth_annual) ** (1/12) - 1``, so persons grow by ``growth_annual`` a year
(sizes stop at ``population.max_household_size``).
"""

from __future__ import annotations

import numpy as np

from returnsim import parallel
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.tables import Tables
from returnsim.transitions import DETAINED

__all__ = ["economy", "livelihood_target", "livelihoods", "steady_savings"]


def livelihood_target(params: Scenario, levers: Levers) -> np.ndarray:
    """Where each region's livelihood heads::

        target_r = L0_r * (N * (1 - p*S)) / (N0 * (1 - p0*S0)) + a * aid

    with ``L0`` the scenario's regional levels (which hold under the starting national economy ``N0`` and
    sanctions ``S0``), ``p`` the sanctions penalty (``p0`` at the start) and ``a`` the effect of reconstruction
    aid: ``N`` and ``p`` are this month's levers (``national_economy`` events change them)."""
    e = params.economy
    base = np.array([r.livelihood for r in params.regions.values()])
    start = e.national * (1.0 - e.sanctions_penalty * e.sanctions)
    factor = levers.national * (1.0 - levers.sanctions_penalty * levers.sanctions) / max(start, 1e-9)
    return np.clip(base * factor + e.aid_effect * levers.reconstruction_aid, 0.0, 1.0)


def economy(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """This month's origin livelihoods (see the module documentation)."""
    pop, g, e = state.pop, state.geo, params.economy
    last = np.flatnonzero((pop.arrived == state.t - 1) & (pop.return_due < state.t - 1))
    persons = (pop.size[last].astype(np.float64) + pop.detained[last]) * pop.weight
    inflow = np.bincount(pop.location[last] - g.n_hosts, weights=persons, minlength=g.n_regions)
    target = livelihood_target(params, levers)
    moved = state.livelihood + e.adjust_rate * (target - state.livelihood) - e.strain * inflow / g.prewar_population
    return Flows(changes=(Change("livelihood", None, np.clip(moved, e.livelihood_floor, 1.0)),))


def _saved(tab: Tables, cell: np.ndarray, skill: np.ndarray, e, out: np.ndarray | None = None) -> np.ndarray:
    """What a month's earnings add to savings: ``r * (y * skill - z)`` (negative below the poverty line)."""
    s = np.take(tab.income, cell, out=out, mode="clip")
    s *= skill
    s -= np.float32(e.poverty_line)
    s *= np.float32(e.saving_rate)
    return s


def steady_savings(state: State, levers: Levers, params: Scenario) -> np.ndarray:
    """Savings each household would hold if this month's conditions lasted: the fixed point of the savings rule,
    ``s* = clip(r * (y * skill - z) / d, 0, S)`` (``r`` the saving rate, ``y`` the livelihood where it lives,
    ``z`` the poverty line, ``d`` ``economy.savings_spend``, ``S`` ``economy.savings_max``), then scaled so that
    displaced households hold ``population.savings_mean`` on average (and clipped to ``S`` again). A run starts
    from it when ``d > 0``: with ``d`` at the value that makes that scale 1, the start is a steady state, so
    savings neither grow nor shrink on average while conditions hold."""
    e = params.economy
    tab = Tables.build(params, state.geo, levers, state.livelihood)
    steady = _saved(tab, state.cell, state.pop.skill, e)
    steady /= np.float32(max(e.savings_spend, 1e-9))
    np.clip(steady, np.float32(0.0), np.float32(e.savings_max), out=steady)
    displaced = state.displaced()
    mean = float(steady[displaced].mean(dtype=np.float64)) if displaced.any() else 0.0
    if mean > 0.0:
        steady *= np.float32(params.population.savings_mean / mean)
    return np.minimum(steady, np.float32(e.savings_max)).astype(np.float32)


def livelihoods(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Savings, months displaced and births this month (see the module documentation)."""
    pop, e, cfg = state.pop, params.economy, params.population
    tab = Tables.build(params, state.geo, levers, state.livelihood)
    n = len(pop)
    displaced = state.displaced()
    saved, months = np.empty(n, np.float32), np.empty(n, np.int16)

    def part(a: int, b: int) -> None:  # rows apart: in parallel on large populations
        s = _saved(tab, state.cell[a:b], pop.skill[a:b], e, out=saved[a:b])  # then the savings kept
        if e.savings_spend > 0:
            s += pop.savings[a:b] * np.float32(1.0 - e.savings_spend)
        else:  # no spending: no temporary array (full scale: 3.4 million rows a month)
            s += pop.savings[a:b]
        np.clip(s, np.float32(0.0), np.float32(e.savings_max), out=s)
        np.copyto(s, pop.savings[a:b], where=pop.status[a:b] == DETAINED)
        np.add(pop.months_displaced[a:b], displaced[a:b], out=months[a:b], dtype=np.int16)

    parallel.each(part, n)
    changes = [Change("savings", None, saved), Change("months_displaced", None, months)]
    born = np.zeros(0, np.int64)
    if cfg.growth_annual > 0:
        monthly = np.float32((1.0 + cfg.growth_annual) ** (1.0 / 12.0) - 1.0)
        u = streams.uniform_all(Draw.BIRTH, state.t, n)

        def births(a: int, b: int) -> np.ndarray:
            size = pop.size[a:b]
            return a + np.flatnonzero(displaced[a:b] & (u[a:b] < size * monthly) & (size < cfg.max_household_size))

        born = np.concatenate(parallel.each(births, n))
        by_origin = np.bincount(pop.origin[born], minlength=state.geo.n_regions) * pop.weight
        changes += [Change("size", born, 1, add=True), Change("births_by_origin", None, by_origin, add=True)]
    return Flows(births=float(len(born) * pop.weight), changes=tuple(changes))
