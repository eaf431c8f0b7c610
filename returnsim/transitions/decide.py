r"""Voluntary return: each displaced household's monthly probability of going home, and who goes.

The probability is the hope to return one day times ``decision.return_probability``: a logit hazard of
intending to return times the feasibility of doing it (savings against the cost, an open border), or an event the
household did not plan that sends it home whatever its savings, through an open border
(``decision.unplanned_rate``; ``decision.distress_rate`` for households below the poverty line, pushed home by
their poverty). The place terms of the utility are computed per place cell (``returnsim.tables``) and the
household terms per row, by the same kernels (``decision.place_utility`` and ``decision.household_utility``).
Households that go pay the return cost from their savings and arrive home.

The survey-comparable intention, the share of refugee households intending to return within 12 months
(``decision.intend_within``), is reported for all hosts, for the hosts UNHCR's survey covers and for each host.
"""

from __future__ import annotations

import functools

import numpy as np

from returnsim import decision, parallel
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.population import draw_traits
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.tables import Tables
from returnsim.transitions import RETURNED, refugees_to

__all__ = ["decide", "hazards", "inputs", "select_stayed"]


@functools.lru_cache(maxsize=8)
def _settled_table(time_scale: float) -> np.ndarray:
    """``1 - exp(-t / tau)`` for every possible months displaced ``t`` (``decision.integration`` with G = 1)."""
    months = np.arange(np.iinfo(np.int16).max + 1)
    table = decision.integration(months, 1.0, time_scale).astype(np.float32)
    table.setflags(write=False)
    return table


def _below_the_line(tab: Tables, params: Scenario, cell: np.ndarray, skill: np.ndarray) -> np.ndarray:
    """Whether each household earns below ``economy.poverty_line`` where it lives (pi_i of docs/ODD.md 7.3)."""
    return np.take(tab.income, cell) * skill < np.float32(params.economy.poverty_line)


def _household(state: State, tab: Tables, params: Scenario, rows) -> dict[str, np.ndarray]:
    """The decision inputs that differ between households of one place cell (gathers use ``np.take``, about
    twice as fast as fancy indexing on millions of rows)."""
    pop = state.pop
    cell = state.cell[rows]
    integration = np.take(tab.integration, cell)
    integration *= np.take(_settled_table(params.decision.integration_months), pop.months_displaced[rows])
    skill = pop.skill[rows]
    gap = np.take(tab.gap, cell)
    gap *= skill
    at_home = np.take(tab.home_income, cell)
    at_home *= skill
    network = state.news_back[rows].astype(np.float32)
    network *= np.float32(1.0 / max(state.ties.k, 1))
    return {
        "livelihood_gap": gap,
        "home_livelihood": at_home,
        "perceived_risk": pop.perceived_risk[rows],
        "network": network,
        "attachment": pop.attachment[rows],
        "integration": integration,
        "savings": pop.savings[rows],
        "return_cost": np.take(tab.return_cost, cell),
        "border_open": np.take(tab.border_open, cell),
        "poor": _below_the_line(tab, params, cell, skill).astype(np.float32),
        "overland": np.take(tab.overland, cell),
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
        services=place.services[cell],
        internal=place.internal[cell],
        regime=place.regime[cell],
        **_household(state, tab, params, rows),
    )


def hope_inputs(state: State, tab: Tables, params: Scenario, rows=slice(None)) -> decision.HopeInputs:
    """Every input of the hope to return one day of ``rows``: what ``decision.hope`` weighs."""
    cell = state.cell[rows]
    place = tab.hope_inputs
    household = _household(state, tab, params, rows)
    return decision.HopeInputs(
        attachment=household["attachment"],
        integration=household["integration"],
        livelihood=place.livelihood[cell],
        violence=place.violence[cell],
        property_loss=place.property_loss[cell],
        regime=place.regime[cell],
    )


def hazards(state: State, tab: Tables, params: Scenario, rows=slice(None), out=None) -> tuple[np.ndarray, ...]:
    """The hope to return one day ``eta``, the monthly intention hazard ``q`` of those who hope, and the return
    probability ``p = eta * (q * F * k + R * (1 - k))`` of ``rows``, with ``k = (1 - unplanned_rate) * (1 -
    distress_rate * poor)`` (feasibility ``F``, the border in it; ``R`` the border, or ``F`` where home is not reached
    by land): the numbers of ``decision.hope(hope_inputs(...))`` and
    ``decision.return_probability(inputs(...))`` (to float32 rounding), computed in place over a few float32
    buffers: the place terms summed once per cell, the two livelihood terms one per-cell factor of the skill, and a
    closed border written as an infinite cost (its feasibility is 0 either way). ``out``: three float32 arrays of
    the rows' length to hold ``eta``, ``q`` and ``p`` (else new arrays)."""
    b, h, pop = params.decision, params.hope, state.pop
    eta_out, q_out, p_out = out if out is not None else (None, None, None)
    f32 = np.float32
    cell = state.cell[rows]
    attachment = pop.attachment[rows]
    integration = np.take(tab.integration, cell, out=p_out, mode="clip")  # (cells are valid: no clipping)
    integration *= np.take(_settled_table(b.integration_months), pop.months_displaced[rows])
    term = np.empty_like(integration)

    hoping = np.take(tab.hope_place, cell, out=eta_out, mode="clip")
    hoping += np.multiply(attachment, f32(h.attachment), out=term)
    hoping -= np.multiply(integration, f32(h.integration), out=term)
    eta = _expit_in_place(hoping)

    earnings = (b.livelihood * tab.gap + b.home_livelihood * tab.home_income).astype(np.float32)
    utility = np.take(tab.place_utility, cell, out=q_out, mode="clip")
    utility += np.multiply(np.take(earnings, cell), pop.skill[rows], out=term)
    utility -= np.multiply(pop.perceived_risk[rows], f32(b.detention_risk), out=term)
    utility += np.multiply(state.news_back[rows], f32(b.network / max(state.ties.k, 1)), out=term)
    utility += np.multiply(attachment, f32(b.attachment), out=term)
    utility -= np.multiply(integration, f32(b.integration), out=term)
    q = _expit_in_place(utility)

    p = np.subtract(pop.savings[rows], np.take(tab.reachable_cost, cell), out=integration)
    p *= f32(b.feasibility_slope)
    p = _expit_in_place(p)
    border = np.take(tab.border_open, cell)
    p *= border
    unplanned = b.unplanned_rate or b.distress_rate
    # what an unplanned return needs: the border open, and the fare (F) where home is not reached by land
    reach = _reach(tab, cell, border, p) if unplanned else None
    p *= q
    if unplanned:  # planned or not: q F k + R (1 - k)
        kept = np.full_like(p, 1.0 - b.unplanned_rate)  # k: the chance of no unplanned return
        if b.distress_rate:
            kept *= 1 - f32(b.distress_rate) * _below_the_line(tab, params, cell, pop.skill[rows])
        p *= kept
        np.subtract(1, kept, out=kept)
        p += np.multiply(reach, kept, out=term)
    p *= eta
    return eta, q, p


#: rounds of redrawing at most; a household still drawn away after them keeps its last traits
SELECTION_ROUNDS = 1000
#: traits drawn again at most, per displaced household, over all rounds: a parameter set under which most of the
#: start's households would have gone home already (far from the observed stocks, as a calibration tries some)
#: stops there; the baseline needs under one (0.57 at 1:100)
SELECTION_BUDGET = 10


def select_stayed(state: State, levers: Levers, params: Scenario, rng: np.random.Generator) -> int:
    """Draw the displaced households' traits given that they have stayed displaced through
    ``population.survived_months`` months of the start's conditions (docs/ODD.md 5, "selection"): a household
    whose return probability is ``p`` this month stays through them with probability ``(1 - p) ** M``; one that
    would not have stayed has its traits (``population.draw_traits``) drawn again, until it stays or after
    :data:`SELECTION_ROUNDS` rounds (rejection sampling: the traits kept follow their drawn distribution weighted
    by ``(1 - p) ** M``), or until :data:`SELECTION_BUDGET` redraws per household have been spent. Places, origins
    and the rest are kept, so the stocks do not change. Changes ``state.pop`` in place; returns the number of
    redraws."""
    months = params.population.survived_months
    if months <= 0:
        return 0
    tab = Tables.build(params, state.geo, levers, state.livelihood)
    pop, rows, redrawn = state.pop, np.flatnonzero(state.displaced()), 0
    budget = SELECTION_BUDGET * len(rows)
    for _ in range(SELECTION_ROUNDS):
        p = hazards(state, tab, params, rows)[2].astype(np.float64)
        gone = rows[rng.random(len(rows)) >= np.power(1.0 - p, months)]
        if not len(gone) or redrawn + len(gone) > budget:
            break
        for name, values in draw_traits(params.population, rng, len(gone)).items():
            getattr(pop, name)[gone] = values
        rows, redrawn = gone, redrawn + len(gone)
    return redrawn


def _reach(tab: Tables, cell: np.ndarray, border: np.ndarray, fare: np.ndarray) -> np.ndarray:
    """``R`` of ``decision.return_probability``: what an unplanned return needs, the border (``border``) where home
    is reached by land and the fare (``fare``, the feasibility) where it is not; ``border`` itself when every
    row is reached by land."""
    if tab.overland.all():  # every cell reached by land: no gather
        return border
    return np.where(np.take(tab.overland, cell) > 0, border, fare)


def _expit_in_place(x: np.ndarray) -> np.ndarray:
    """``decision.expit(x)``, overwriting ``x``."""
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: the result is then 0
        np.negative(x, out=x)
        np.exp(x, out=x)
        x += 1
        return np.reciprocal(x, out=x)


def _shares(values: np.ndarray, surveyed: np.ndarray) -> tuple[float, float]:
    """100 times the mean of ``values``, over all and over the surveyed entries (0 when there are none)."""
    n, n_surveyed = len(values), np.count_nonzero(surveyed)
    total = 100.0 * float(values.sum(dtype=np.float64)) / n if n else 0.0
    part = 100.0 * float(values.sum(where=surveyed, dtype=np.float64)) / n_surveyed if n_surveyed else 0.0
    return total, part


def _unplanned(state: State, tab: Tables, params: Scenario, go: np.ndarray, eta: np.ndarray, u: np.ndarray):
    """Which of the households that go (``go``, with their hopes ``eta`` and draws ``u``) go unplanned: the draw
    falls in the part of the probability that needs no plan, ``eta * R * unplanned_probability`` (``R`` the border,
    or the fare where home is not reached by land: ``decision.return_probability``)."""
    b = params.decision
    if not (b.unplanned_rate or b.distress_rate):
        return np.zeros(len(go))
    cell, pop = state.cell[go], state.pop
    poor = _below_the_line(tab, params, cell, pop.skill[go])
    border = tab.border_open[cell]
    fare = decision.feasibility(pop.savings[go], tab.return_cost[cell], border, b.feasibility_slope)
    return u < eta * _reach(tab, cell, border, fare) * decision.unplanned_probability(poor, b)


def decide(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Who of the displaced returns this month (see the module documentation)."""
    pop, g, t = state.pop, state.geo, state.t
    nH = g.n_hosts
    tab = Tables.build(params, g, levers, state.livelihood)
    n = len(pop)
    eta, q, p = (np.empty(n, np.float32) for _ in range(3))
    displaced = state.displaced()
    u = streams.uniform_all(Draw.RETURN, t, n)

    def part(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:  # rows apart: in parallel when large
        rows = slice(start, stop)
        hazards(state, tab, params, rows, out=(eta[rows], q[rows], p[rows]))
        here = displaced[rows]
        go = start + np.flatnonzero(here & (u[rows] < p[rows]))
        in_host = start + np.flatnonzero(here & (pop.location[rows] < nH))  # refugee households
        return go, in_host

    found = parallel.each(part, n)
    go = np.concatenate([rows for rows, _ in found])

    # intentions and hopes of refugee households, overall and in the surveyed hosts: each part fills its place
    places, end = {}, 0
    for (start, _), (_, rows) in zip(parallel.parts(n), found, strict=True):
        places[start] = (end, end + len(rows), rows)
        end += len(rows)
    hoping, intend, surveyed = np.empty(end, np.float32), np.empty(end, np.float32), np.empty(end, bool)
    host = np.empty(end, pop.location.dtype)
    in_survey = np.append(g.host_surveyed, False)

    def stats(start: int, stop: int) -> None:  # each part fills its place: hopes, intentions, hosts, surveyed
        a, b, rows = places[start]
        np.take(eta, rows, out=hoping[a:b], mode="clip")
        intend[a:b] = decision.intend_within(np.take(q, rows), 12)
        intend[a:b] *= hoping[a:b]
        np.take(pop.location, rows, out=host[a:b], mode="clip")
        np.take(in_survey, np.minimum(host[a:b], nH), out=surveyed[a:b], mode="clip")

    parallel.each(stats, n)
    pct, pct_surveyed = _shares(intend, surveyed)
    # each host's sums in one pass over the rows in order, so that they do not depend on how the rows were split
    households = np.maximum(np.bincount(host, minlength=nH), 1.0)
    by_host, hope_by_host = (100.0 * np.bincount(host, weights=w, minlength=nH) / households for w in (intend, hoping))
    hope, hope_surveyed = _shares(hoping, surveyed)

    left = np.minimum(pop.location[go], nH)
    persons = pop.size[go].astype(np.float64) * pop.weight
    spent = np.maximum(pop.savings[go] - tab.return_cost[state.cell[go]], np.float32(0.0))
    return Flows(
        returns_voluntary_from=np.bincount(left, weights=persons, minlength=nH + 1),
        returns_unplanned_from=np.bincount(
            left, weights=persons * _unplanned(state, tab, params, go, eta[go], u[go]), minlength=nH + 1
        ),
        returns_voluntary_to=refugees_to(state, go, left, persons),
        intend_return_12m_pct=pct,
        intend_return_12m_pct_surveyed=pct_surveyed,
        hope_return_pct=hope,
        hope_return_pct_surveyed=hope_surveyed,
        intend_return_12m_pct_by_host=by_host,
        hope_return_pct_by_host=hope_by_host,
        changes=(
            Change("location", go, pop.origin[go] + np.int16(nH)),
            Change("status", go, RETURNED),
            Change("forced", go, False),
            Change("savings", go, spent),
            Change("arrived", go, np.int16(t)),
        ),
    )
