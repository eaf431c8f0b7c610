"""Timed policy events: each month, set the policy levers the events in force say.

Events come from the scenario's ``[[events]]`` (their keys are in ``returnsim.scenario`` and
``scenarios/README.md``). At the start of every month the levers in :class:`~returnsim.places.Places`
(``returnsim.places.LEVERS``) are reset to their scenario values and every event in force is applied
on top, in file order. So an event starts at its ``month`` and, once past its ``end`` (or ``months``),
what it changed reverts by itself; overlapping events compose in file order.

A few events also act on households directly, vectorised over the columns:
``conflict_displacement`` moves residents of a region during its window, and ``amnesty`` /
``security_guarantee`` lower perceived risk once, in their first month, by their ``credibility``.

>>> from returnsim import load_scenario
>>> from returnsim.model import ReturnModel
>>> s = load_scenario("baseline").with_changes(
...     {"events": [{"type": "host_pressure", "month": "2017-02", "months": 2, "host": "lebanon", "level": 0.9}]})
>>> m = ReturnModel(s, households_per_agent=5000, agents=False)
>>> lebanon = m.places.host_names.index("lebanon")
>>> levels = []
>>> for _ in range(4):
...     m.step(); levels.append(float(m.places.host_pressure[lebanon]))
>>> levels
[0.5, 0.9, 0.9, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from returnsim.places import ORIGIN, TARGETING, Places, deportation_eligible
from returnsim.population import Status
from returnsim.scenario import (
    AidChangeEvent,
    AmnestyEvent,
    BorderClosureEvent,
    ConflictDisplacementEvent,
    ConscriptionEvent,
    ControlChangeEvent,
    DeportationEvent,
    HostConflictShockEvent,
    HostPressureEvent,
    PropertyConfiscationEvent,
    PropertyRestitutionEvent,
    ReturnPackageEvent,
    SanctionsReliefEvent,
    Scenario,
    SecurityGuaranteeEvent,
)

if TYPE_CHECKING:
    from returnsim.model import ReturnModel

# Household profiles for amnesties: profile = military-age man (1) + 2 * politically exposed.
PROFILE_CODES = {
    "all": (0, 1, 2, 3),
    "military_age_men": (1, 3),
    "politically_exposed": (2, 3),
    "others": (0,),
}


_FOREVER = 10**9  # last month of an event with neither end nor months: beyond any run


def month_number(month: str) -> int:
    """Months since year 0: ``month_number("2018-04") - month_number("2017-01") == 15``."""
    year, m = map(int, month.split("-"))
    return year * 12 + m - 1


class Policies:
    """The scenario's events with their windows, and the levers' scenario values to reset to."""

    def __init__(self, scenario: Scenario, places: Places):
        self.events = scenario.events
        self.windows = [_window(e) for e in self.events]
        self.base = places.levers() if self.events else {}
        self.host = {name: i for i, name in enumerate(places.host_names)}
        self.region = {name: i for i, name in enumerate(places.region_names)}
        self.controller = {name: i for i, name in enumerate(places.controller_names)}
        self.registered_share = np.array([h.registered_share for h in scenario.hosts.values()])
        self.moved: dict[int, float] = {}  # persons moved so far by each conflict_displacement (by id)

    def in_force(self, month: str) -> list[tuple[object, int]]:
        """The events in force in ``month``, each with the months elapsed since it started."""
        now = month_number(month)
        windows = zip(self.events, self.windows, strict=True)
        return [(e, now - first) for e, (first, last) in windows if first <= now <= last]

    def apply(self, model: ReturnModel) -> None:
        """Reset the levers and apply every event in force this month (called first in each step)."""
        if not self.events:
            return
        model.places.restore(self.base)
        for event, elapsed in self.in_force(model.month):
            APPLY[type(event)](self, model, event, elapsed)

    def controllers(self, names: list[str]) -> list[int]:
        """Controller numbers, all of them when ``names`` is empty."""
        return [self.controller[n] for n in names] if names else list(self.controller.values())


def _window(event) -> tuple[int, int]:
    """First and last month (as month numbers) an event is in force."""
    first = month_number(event.month)
    if event.end is not None:
        return first, month_number(event.end)
    if event.months is not None:
        return first, first + event.months - 1
    one_off = isinstance(event, ConflictDisplacementEvent)
    return first, first if one_off else _FOREVER


# ------------------------------------------------------------------------- one per type


def _deportation(p: Policies, m: ReturnModel, e: DeportationEvent, _elapsed: int) -> None:
    pl, h = m.places, p.host[e.host]
    pl.deportation_targeting[h] = TARGETING.index(e.targeting)
    pl.deportation_destination[h] = ORIGIN if e.destination == "origin" else p.region[e.destination]
    if e.rate is not None:
        pl.deportation_rate[h] = e.rate
        return
    # a quota of persons a month: the rate that deports it from the eligible households there now
    pop = m.population
    rows = np.flatnonzero((pop.location == h) & m.is_displaced())
    target = np.full(len(rows), pl.deportation_targeting[h])
    ok = deportation_eligible(target, pop.registered[rows], pop.military_age_man[rows], pop.single_man[rows])
    eligible = float(pop.persons[rows[ok]].sum())
    pl.deportation_rate[h] = min(1.0, e.quota / eligible) if eligible > 0 else 0.0


def _host_pressure(p: Policies, m: ReturnModel, e: HostPressureEvent, _elapsed: int) -> None:
    m.places.host_pressure[p.host[e.host]] = e.level


def _aid_change(p: Policies, m: ReturnModel, e: AidChangeEvent, _elapsed: int) -> None:
    aid, h = m.places.host_aid, p.host[e.host]
    aid[h] = e.level if e.level is not None else np.clip(aid[h] + e.change, 0.0, 1.0)


def _sanctions_relief(_p: Policies, m: ReturnModel, e: SanctionsReliefEvent, elapsed: int) -> None:
    pl = m.places
    if e.lift_sanctions:
        pl.sanctions = False
    ramp = min(1.0, (elapsed + 1) / e.ramp_months) if e.ramp_months else 1.0
    pl.reconstruction_aid = min(1.0, pl.reconstruction_aid + e.reconstruction_aid * ramp)


def _detention_relief(p: Policies, m: ReturnModel, e: AmnestyEvent | SecurityGuaranteeEvent, elapsed: int) -> None:
    pl = m.places
    ctrls = p.controllers(e.controllers)
    profiles = sorted({code for name in e.profiles for code in PROFILE_CODES[name]})
    pl.detention_factor[np.ix_(ctrls, profiles)] *= e.detention_factor
    if elapsed == 0 and e.credibility > 0:
        # the announcement: believed at once by a share of households whose profile and origin it covers
        pop = m.population
        profile = pop.military_age_man.astype(np.int8) + 2 * pop.exposed.astype(np.int8)
        covered = m.is_displaced() & np.isin(profile, profiles) & np.isin(pl.controller[pop.origin], ctrls)
        pop.perceived_risk[covered] *= np.float32(1.0 - e.credibility * (1.0 - e.detention_factor))


def _conscription(p: Policies, m: ReturnModel, e: ConscriptionEvent, _elapsed: int) -> None:
    m.places.conscription[p.controllers(e.controllers)] = e.enforced


def _property_confiscation(p: Policies, m: ReturnModel, e: PropertyConfiscationEvent, elapsed: int) -> None:
    if elapsed >= e.claim_window_months:  # owners who missed the claim window start losing homes
        regions = [p.region[r] for r in e.regions] if e.regions else slice(None)
        m.places.confiscation_hazard[regions] = e.hazard


def _property_restitution(_p: Policies, m: ReturnModel, e: PropertyRestitutionEvent, _elapsed: int) -> None:
    m.places.restitution_monthly = e.monthly
    if e.repeal_confiscation:
        m.places.confiscation_hazard[:] = 0.0


def _control_change(p: Policies, m: ReturnModel, e: ControlChangeEvent, _elapsed: int) -> None:
    m.places.controller[p.region[e.region]] = p.controller[e.controller]


def _border_closure(p: Policies, m: ReturnModel, e: BorderClosureEvent, _elapsed: int) -> None:
    m.places.host_border_open[p.host[e.host]] = e.open


def _host_conflict_shock(p: Policies, m: ReturnModel, e: HostConflictShockEvent, _elapsed: int) -> None:
    violence, h = m.places.host_violence, p.host[e.host]
    violence[h] = max(violence[h], e.violence)


def _return_package(p: Policies, m: ReturnModel, e: ReturnPackageEvent, _elapsed: int) -> None:
    cost, h = m.places.host_return_cost, p.host[e.host]
    cost[h] = max(0.0, cost[h] - e.subsidy)


def _conflict_displacement(p: Policies, m: ReturnModel, e: ConflictDisplacementEvent, elapsed: int) -> None:
    """Move residents of ``e.region`` (returnees, IDPs living there, stayers are not modelled) to the
    destinations, spread evenly over the event's window."""
    pop, rng, nH = m.population, m.rng, m.n_hosts
    first, last = _window(e)
    months_left = last - first + 1 - elapsed
    rows = np.flatnonzero((pop.location == nH + p.region[e.region]) & (pop.status != Status.DETAINED))
    persons = pop.persons[rows]
    if e.share is not None:
        share = 1.0 - (1.0 - e.share) ** (1.0 / (last - first + 1))
    else:  # the persons not yet moved, spread over the months left
        moved = p.moved.get(id(e), 0.0)
        share = min(1.0, (e.persons - moved) / months_left / persons.sum()) if persons.sum() > 0 else 0.0
    movers = rows[rng.random(len(rows)) < share]
    names = list(e.destinations)
    weights = np.array([e.destinations[n] for n in names], float)
    codes = np.array([p.host[n] if n in p.host else nH + p.region[n] for n in names], np.int16)
    dest = codes[rng.choice(len(names), size=len(movers), p=weights / weights.sum())]
    was_home = pop.status[movers] == Status.RETURNED
    pop.location[movers] = dest
    home = dest == pop.origin[movers] + nH
    pop.status[movers] = np.where(home, Status.RETURNED, np.where(was_home, Status.REDISPLACED, pop.status[movers]))
    pop.months_displaced[movers[was_home & ~home]] = 0
    abroad = movers[dest < nH]
    pop.registered[abroad] = rng.random(len(abroad)) < p.registered_share[pop.location[abroad]]
    n = float(pop.persons[movers].sum())
    p.moved[id(e)] = p.moved.get(id(e), 0.0) + n
    m.flows["displaced_by_conflict"] = m.flows.get("displaced_by_conflict", 0.0) + n


APPLY: dict[type, Callable] = {
    DeportationEvent: _deportation,
    HostPressureEvent: _host_pressure,
    AidChangeEvent: _aid_change,
    SanctionsReliefEvent: _sanctions_relief,
    AmnestyEvent: _detention_relief,
    SecurityGuaranteeEvent: _detention_relief,
    ConscriptionEvent: _conscription,
    PropertyConfiscationEvent: _property_confiscation,
    PropertyRestitutionEvent: _property_restitution,
    ControlChangeEvent: _control_change,
    BorderClosureEvent: _border_closure,
    HostConflictShockEvent: _host_conflict_shock,
    ReturnPackageEvent: _return_package,
    ConflictDisplacementEvent: _conflict_displacement,
}
