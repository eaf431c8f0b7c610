"""Policy levers: everything a policy can set, resolved for one month from the scenario and its events.

``levers_at(scenario, geography, t)`` is a pure function: the scenario's own values, with every event in force
in month ``t`` (counted from ``simulation.start``) applied on top. Nothing is carried from one month to the next,
so an event reverts by itself once its window ends, and any month can be resolved on its own.

Events in force are applied in a fixed order that does not depend on their order in the file (docs/ODD.md
7.0): first who controls each region (``control_change``), then controllers' own properties
(``conscription``), then host-country policies, the national economy, property, relief from detention
(``amnesty``, ``security_guarantee``: applied to the controllers in force after the changes of control), and
last the displacements. Within one kind, the event that started earlier is applied first (a later one
overrides it), then file order.

Two kinds of event also act once on households, which needs the state: an amnesty or guarantee announced with
some ``credibility`` lowers perceived risk in its first month (``Levers.announcements``), and
``conflict_displacement`` moves residents (``Levers.displacements``); the transitions in
``returnsim.transitions`` carry these out.

>>> from returnsim.scenario import load_scenario
>>> s = load_scenario("baseline").with_changes(
...     {"events": [{"type": "host_pressure", "month": "2017-02", "months": 2, "host": "lebanon", "level": 0.9}]})
>>> g = Geography.from_scenario(s)
>>> [float(levers_at(s, g, t).host_pressure[g.host("lebanon")]) for t in range(4)]
[0.5, 0.9, 0.9, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from returnsim.geography import Geography, month_number
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

__all__ = [
    "ORIGIN",
    "PROFILE_CODES",
    "TARGETING",
    "Announcement",
    "Displacement",
    "Levers",
    "event_window",
    "levers_at",
]

TARGETING = ("all", "unregistered", "military_age_men", "single_men")
ORIGIN = -1  # deportation destination code: the household's own origin region
# Household profiles for amnesties: profile = military-age man (1) + 2 * politically exposed.
PROFILE_CODES = {"all": (0, 1, 2, 3), "military_age_men": (1, 3), "politically_exposed": (2, 3), "others": (0,)}
_FOREVER = 10**9  # last month of an event with neither end nor months: beyond any run


@dataclass(frozen=True)
class Announcement:
    """An amnesty or guarantee in its first month: believed at once by a share ``credibility`` of the displaced
    households whose profile and origin's controller it covers."""

    controllers: np.ndarray  # bool by controller
    profiles: np.ndarray  # bool by profile code (0-3)
    detention_factor: float
    credibility: float


@dataclass(frozen=True)
class Displacement:
    """A ``conflict_displacement`` in force this month: residents of ``region`` flee to ``destinations``."""

    event_id: str
    salt: int  # separates the random streams of several displacements
    region: int
    share: float | None  # share of residents over the whole window (or None)
    persons: float | None  # persons over the whole window (or None)
    months: int  # length of the window
    elapsed: int  # months since it started
    destinations: np.ndarray  # location codes
    weights: np.ndarray  # shares, summing to 1


@dataclass(frozen=True)
class Levers:
    """Every policy lever in force in one month. Arrays are indexed by host, region or controller number."""

    # host countries
    host_pressure: np.ndarray
    host_livelihood: np.ndarray  # refugees' earnings where they are (0-1), before assistance
    host_aid: np.ndarray
    host_integration: np.ndarray
    host_return_cost: np.ndarray  # months of expenses
    host_border_open: np.ndarray  # bool
    host_violence: np.ndarray  # violence against refugees where they live (host_conflict_shock)
    registered_share: np.ndarray
    deportation_rate: np.ndarray  # monthly probability per eligible household
    deportation_quota: np.ndarray  # persons a month; NaN where the rate applies
    deportation_targeting: np.ndarray  # index into TARGETING
    deportation_destination: np.ndarray  # region number, or ORIGIN
    # IDPs, wherever they live in Syria
    idp_pressure: float
    idp_livelihood_factor: float
    idp_return_cost: float
    idp_integration: float
    # regions
    controller: np.ndarray  # controller number of each region
    confiscation_hazard: np.ndarray  # monthly, of absentees' homes, before claims
    # controllers
    detention_on_return: np.ndarray
    detention_monthly: np.ndarray
    violence: np.ndarray
    conscription: np.ndarray  # bool
    detention_factor: np.ndarray  # (controller, profile): multiplier on detention from amnesties and guarantees
    # national
    national: float
    sanctions: bool
    reconstruction_aid: float
    restitution_monthly: float
    # once-off actions of events this month
    announcements: tuple[Announcement, ...] = ()
    displacements: tuple[Displacement, ...] = ()

    def region_controller_value(self, table: np.ndarray) -> np.ndarray:
        """A controller property (e.g. ``violence``) for each region, by who controls it now."""
        return table[self.controller]


def event_window(event, start: str) -> tuple[int, int]:
    """First and last month an event is in force, as month indices from ``start`` (inclusive)."""
    first = month_number(event.month) - month_number(start)
    if event.end is not None:
        return first, month_number(event.end) - month_number(start)
    if event.months is not None:
        return first, first + event.months - 1
    one_off = isinstance(event, ConflictDisplacementEvent)
    return first, first if one_off else _FOREVER


def _base(s: Scenario, g: Geography) -> dict:
    """The scenario's own values, as mutable arrays (before any event)."""
    H, C = list(s.hosts.values()), list(s.controllers.values())

    def arr(values, dtype=np.float64):
        return np.array(list(values), dtype=dtype)

    return {
        "host_pressure": arr(h.pressure for h in H),
        "host_livelihood": arr(h.livelihood for h in H),
        "host_aid": arr(h.aid for h in H),
        "host_integration": arr(h.integration for h in H),
        "host_return_cost": arr(h.return_cost for h in H),
        "host_border_open": arr((h.border_open for h in H), bool),
        "host_violence": np.zeros(len(H)),
        "registered_share": arr(h.registered_share for h in H),
        "deportation_rate": arr(h.deportation_rate for h in H),
        "deportation_quota": np.full(len(H), np.nan),
        "deportation_targeting": arr((TARGETING.index(h.deportation_targeting) for h in H), np.int8),
        "deportation_destination": arr(
            (ORIGIN if h.deportation_destination == "origin" else g.region(h.deportation_destination) for h in H),
            np.int16,
        ),
        "idp_pressure": s.idps.pressure,
        "idp_livelihood_factor": s.idps.livelihood_factor,
        "idp_return_cost": s.idps.return_cost,
        "idp_integration": s.idps.integration,
        "controller": arr((g.controller(r.controller) for r in s.regions.values()), np.int16),
        "confiscation_hazard": np.full(g.n_regions, s.property.confiscation_hazard),
        "detention_on_return": arr(c.detention_on_return for c in C),
        "detention_monthly": arr(c.detention_monthly for c in C),
        "violence": arr(c.violence for c in C),
        "conscription": arr((c.conscription for c in C), bool),
        "detention_factor": np.ones((len(C), 4)),
        "national": s.economy.national,
        "sanctions": s.economy.sanctions,
        "reconstruction_aid": s.economy.reconstruction_aid,
        "restitution_monthly": s.property.restitution_monthly,
        "announcements": [],
        "displacements": [],
    }


def _controllers(g: Geography, names) -> list[int]:
    """Controller numbers, all of them when ``names`` is empty."""
    return [g.controller(n) for n in names] if names else list(range(len(g.controller_names)))


# ----------------------------------------------------------------------------------- one per type
# Each takes the levers being built (a dict of arrays), the geography, the event, the months since it started
# and its rank in the scenario's event list.


def _control_change(lv: dict, g: Geography, e: ControlChangeEvent, _elapsed: int, _rank: int) -> None:
    lv["controller"][g.region(e.region)] = g.controller(e.controller)


def _conscription(lv: dict, g: Geography, e: ConscriptionEvent, _elapsed: int, _rank: int) -> None:
    lv["conscription"][_controllers(g, e.controllers)] = e.enforced


def _deportation(lv: dict, g: Geography, e: DeportationEvent, _elapsed: int, _rank: int) -> None:
    h = g.host(e.host)
    lv["deportation_targeting"][h] = TARGETING.index(e.targeting)
    lv["deportation_destination"][h] = ORIGIN if e.destination == "origin" else g.region(e.destination)
    lv["deportation_rate"][h] = e.rate if e.rate is not None else 0.0
    lv["deportation_quota"][h] = e.quota if e.quota is not None else np.nan


def _host_pressure(lv: dict, g: Geography, e: HostPressureEvent, _elapsed: int, _rank: int) -> None:
    lv["host_pressure"][g.host(e.host)] = e.level


def _aid_change(lv: dict, g: Geography, e: AidChangeEvent, _elapsed: int, _rank: int) -> None:
    aid, h = lv["host_aid"], g.host(e.host)
    aid[h] = e.level if e.level is not None else np.clip(aid[h] + e.change, 0.0, 1.0)


def _border_closure(lv: dict, g: Geography, e: BorderClosureEvent, _elapsed: int, _rank: int) -> None:
    lv["host_border_open"][g.host(e.host)] = e.open


def _host_conflict_shock(lv: dict, g: Geography, e: HostConflictShockEvent, _elapsed: int, _rank: int) -> None:
    violence, h = lv["host_violence"], g.host(e.host)
    violence[h] = max(violence[h], e.violence)


def _return_package(lv: dict, g: Geography, e: ReturnPackageEvent, _elapsed: int, _rank: int) -> None:
    cost, h = lv["host_return_cost"], g.host(e.host)
    cost[h] = max(0.0, cost[h] - e.subsidy)


def _sanctions_relief(lv: dict, _g: Geography, e: SanctionsReliefEvent, elapsed: int, _rank: int) -> None:
    if e.lift_sanctions:
        lv["sanctions"] = False
    ramp = min(1.0, (elapsed + 1) / e.ramp_months) if e.ramp_months else 1.0
    lv["reconstruction_aid"] = min(1.0, lv["reconstruction_aid"] + e.reconstruction_aid * ramp)


def _property_confiscation(lv: dict, g: Geography, e: PropertyConfiscationEvent, elapsed: int, _rank: int) -> None:
    if elapsed >= e.claim_window_months:  # owners who missed the claim window start losing homes
        regions = [g.region(r) for r in e.regions] if e.regions else slice(None)
        lv["confiscation_hazard"][regions] = e.hazard


def _property_restitution(lv: dict, _g: Geography, e: PropertyRestitutionEvent, _elapsed: int, _rank: int) -> None:
    lv["restitution_monthly"] = e.monthly
    if e.repeal_confiscation:
        lv["confiscation_hazard"][:] = 0.0


def _detention_relief(lv: dict, g: Geography, e: AmnestyEvent | SecurityGuaranteeEvent, elapsed: int, _rank: int):
    ctrls = _controllers(g, e.controllers)
    profiles = sorted({code for name in e.profiles for code in PROFILE_CODES[name]})
    lv["detention_factor"][np.ix_(ctrls, profiles)] *= e.detention_factor
    if elapsed == 0 and e.credibility > 0:
        covered_c, covered_p = np.zeros(len(g.controller_names), bool), np.zeros(4, bool)
        covered_c[ctrls], covered_p[profiles] = True, True
        lv["announcements"].append(Announcement(covered_c, covered_p, e.detention_factor, e.credibility))


def _conflict_displacement(lv: dict, g: Geography, e: ConflictDisplacementEvent, elapsed: int, rank: int) -> None:
    names = list(e.destinations)
    weights = np.array([e.destinations[n] for n in names], float)
    codes = np.array([g.host(n) if n in g.host_names else g.n_hosts + g.region(n) for n in names], np.int16)
    first, last = event_window(e, "0000-01")
    lv["displacements"].append(
        Displacement(
            event_id=e.id,
            salt=rank,
            region=g.region(e.region),
            share=e.share,
            persons=float(e.persons) if e.persons is not None else None,
            months=last - first + 1,
            elapsed=elapsed,
            destinations=codes,
            weights=weights / weights.sum(),
        )
    )


# (event type, how it acts), in the order they are applied within a month
ORDER: tuple[tuple[type, Callable], ...] = (
    (ControlChangeEvent, _control_change),
    (ConscriptionEvent, _conscription),
    (DeportationEvent, _deportation),
    (HostPressureEvent, _host_pressure),
    (AidChangeEvent, _aid_change),
    (BorderClosureEvent, _border_closure),
    (HostConflictShockEvent, _host_conflict_shock),
    (ReturnPackageEvent, _return_package),
    (SanctionsReliefEvent, _sanctions_relief),
    (PropertyConfiscationEvent, _property_confiscation),
    (PropertyRestitutionEvent, _property_restitution),
    (AmnestyEvent, _detention_relief),
    (SecurityGuaranteeEvent, _detention_relief),
    (ConflictDisplacementEvent, _conflict_displacement),
)
_RANK = {kind: i for i, (kind, _) in enumerate(ORDER)}
_APPLY = dict(ORDER)


def levers_at(s: Scenario, g: Geography, t: int) -> Levers:
    """The levers in force in month ``t`` (0 = ``simulation.start``); see the module documentation."""
    lv = _base(s, g)
    start = s.simulation.start
    in_force = []
    for rank, event in enumerate(s.events):
        first, last = event_window(event, start)
        if first <= t <= last:
            in_force.append((_RANK[type(event)], first, rank, event))
    for _kind, first, rank, event in sorted(in_force, key=lambda x: x[:3]):
        _APPLY[type(event)](lv, g, event, t - first, rank)
    lv["announcements"] = tuple(lv["announcements"])
    lv["displacements"] = tuple(lv["displacements"])
    for value in lv.values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return Levers(**lv)


#: names of the levers (for documentation and tests)
LEVER_NAMES = tuple(f.name for f in fields(Levers))
