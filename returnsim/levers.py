"""Policy levers: everything a policy can set, resolved for one month from the scenario and its events.

``levers_at(scenario, geography, t)`` is a pure function: the scenario's own values, with every event in force
in month ``t`` (counted from ``simulation.start``) applied on top. Nothing is carried from one month to the next,
so an event reverts by itself once its window ends, and any month can be resolved on its own.

Events in force are applied in a fixed order that does not depend on their order in the file (docs/ODD.md
7.0, ``ORDER``): first who controls each region (``control_change``, ``authority_change``), then controllers'
own practice (``controller_policy``, ``conscription``), then host-country policies and economies, the national
economy, who rules (``regime_change``), IDP conditions, property, relief from detention (``amnesty``,
``security_guarantee``: applied to the controllers in force after the changes of control), and last the events
that move people. Within one kind, the event that started earlier is applied first (a later one overrides it),
then file order.

**Dates to the day.** An event dated to the day (``2019-10-17``) acts pro rata in its first and last month:
with the share ``w`` of the month's days it covers, a level moves ``w`` of the way from what it would be
without the event (``lever + w * (value - lever)``), a rate or quota is scaled by ``w``, and a change of
controller takes effect in the month the event covers at least half of. An event that moves a number of
persons spreads them over its window day by day.

Some events act once on households, which needs the state: an amnesty or guarantee announced with some
``credibility`` (``Levers.announcements``), people fleeing fighting (``Levers.displacements``), new
displacement of people who had stayed (``Levers.new_displacements``), new registrations and closed
registrations in hosts (``Levers.registrations``, ``Levers.deregistrations``) and destruction of homes
(``Levers.destructions``); the transitions in ``returnsim.transitions`` carry these out.

>>> from returnsim.scenario import load_scenario
>>> s = load_scenario("baseline").with_changes(
...     {"events": [{"type": "host_pressure", "month": "2017-02", "months": 2, "host": "lebanon", "level": 0.9}]})
>>> g = Geography.from_scenario(s)
>>> [float(levers_at(s, g, t).host_pressure[g.host("lebanon")]) for t in range(4)]
[0.5, 0.9, 0.9, 0.5]
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from returnsim.geography import Geography, month_number
from returnsim.scenario import (
    AidChangeEvent,
    AmnestyEvent,
    AuthorityChangeEvent,
    BorderClosureEvent,
    ConflictDisplacementEvent,
    ConscriptionEvent,
    ControlChangeEvent,
    ControllerPolicyEvent,
    DeportationEvent,
    DeregistrationEvent,
    HostConflictShockEvent,
    HostEconomyEvent,
    HostPressureEvent,
    HousingDestructionEvent,
    IdpConditionsEvent,
    NationalEconomyEvent,
    NewDisplacementEvent,
    PropertyConfiscationEvent,
    PropertyRestitutionEvent,
    RegimeChangeEvent,
    RegistrationEvent,
    ReturnPackageEvent,
    SanctionsReliefEvent,
    Scenario,
    SecurityGuaranteeEvent,
)
from returnsim.scenario.events import first_day, last_day

__all__ = [
    "ORIGIN",
    "PROFILE_CODES",
    "TARGETING",
    "Announcement",
    "Destruction",
    "Displacement",
    "Levers",
    "Movement",
    "event_window",
    "levers_at",
]

TARGETING = ("all", "unregistered", "military_age_men", "single_men")
ORIGIN = -1  # deportation destination code: the household's own origin region
# Household profiles for amnesties: profile = military-age man (1) + 2 * politically exposed.
PROFILE_CODES = {"all": (0, 1, 2, 3), "military_age_men": (1, 3), "politically_exposed": (2, 3), "others": (0,)}
_FOREVER = 10**9  # last month of an event with neither end nor months: beyond any run
#: events that act once, in their first month, when they have neither end nor months
ONE_OFF = (
    ConflictDisplacementEvent,
    HousingDestructionEvent,
    NewDisplacementEvent,
    RegistrationEvent,
    DeregistrationEvent,
)


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
    salt: int  # separates the random streams of several events
    region: int
    share: float | None  # share of residents to move this month (or None)
    persons: float | None  # the event's persons over its whole window (or None)
    remaining_days: float  # share of the window not yet past at the start of this month (persons: catch up)
    this_month: float  # share of the window in this month
    destinations: np.ndarray  # location codes
    weights: np.ndarray  # shares, summing to 1


@dataclass(frozen=True)
class Movement:
    """Persons to move this month: people who stayed fleeing a region (``new_displacement``), new arrivals
    registered in a host (``registration``) or refugees leaving a host's register (``deregistration``)."""

    event_id: str
    salt: int
    persons: float  # persons this month
    region: int = -1  # new_displacement: the region they flee
    host: int = -1  # registration, deregistration: the host
    destinations: np.ndarray | None = None  # new_displacement: location codes
    weights: np.ndarray | None = None  # new_displacement: destinations' shares; registration: origins' shares
    temporary_share: float = 0.0  # new_displacement: share who go back after ``return_months``
    return_months: int = 1


@dataclass(frozen=True)
class Destruction:
    """Homes destroyed or damaged in ``regions`` (bool by region), once."""

    salt: int
    regions: np.ndarray
    destroyed_share: float
    damaged_share: float


@dataclass(frozen=True)
class Levers:
    """Every policy lever in force in one month. Arrays are indexed by host, region or controller number."""

    # host countries
    host_pressure: np.ndarray
    host_livelihood: np.ndarray  # refugees' earnings where they are (0-1), before assistance
    host_aid: np.ndarray
    host_integration: np.ndarray
    host_return_cost: np.ndarray  # months of expenses
    host_border: np.ndarray  # share of the usual returns that can cross (1 open, 0 closed)
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
    cross_line_cost: np.ndarray  # (host, controller): months more to reach that territory (0: a crossing leads in)
    confiscation_hazard: np.ndarray  # monthly, of absentees' homes, before claims
    services: np.ndarray  # basic services and shelter functioning at origin (0-1)
    # controllers
    detention_on_return: np.ndarray
    detention_monthly: np.ndarray
    violence: np.ndarray
    conscription: np.ndarray  # share of the month conscription is enforced (0-1)
    detention_factor: np.ndarray  # (controller, profile): multiplier on detention from amnesties and guarantees
    # national
    regime: float  # how far the government that refugees fled still rules (1 in power, 0 gone)
    regime_exposure: np.ndarray  # by controller: how far the fall of that government changes things in its regions
    national: float
    sanctions: float  # sanctions in force (1), lifted (0)
    sanctions_penalty: float
    reconstruction_aid: float
    restitution_monthly: float
    # actions of events this month
    announcements: tuple[Announcement, ...] = ()
    displacements: tuple[Displacement, ...] = ()
    new_displacements: tuple[Movement, ...] = ()
    registrations: tuple[Movement, ...] = ()
    deregistrations: tuple[Movement, ...] = ()
    destructions: tuple[Destruction, ...] = ()


# ------------------------------------------------------------------------------------------ windows


def _month_start(start: str, t: int) -> dt.date:
    total = month_number(start) + t
    return dt.date(total // 12, total % 12 + 1, 1)


def _days(start: str, t: int) -> int:
    d = _month_start(start, t)
    return calendar.monthrange(d.year, d.month)[1]


def _span(event) -> tuple[dt.date, dt.date | None]:
    """First and last day an event is in force (``None``: to the end of the run)."""
    begin = first_day(event.month)
    if event.end is not None:
        return begin, last_day(event.end)
    if event.months is not None:
        total = month_number(event.month[:7]) + event.months - 1
        return begin, dt.date(total // 12, total % 12 + 1, calendar.monthrange(total // 12, total % 12 + 1)[1])
    if isinstance(event, ONE_OFF):
        return begin, last_day(event.month[:7])
    return begin, None


def event_window(event, start: str) -> tuple[int, int]:
    """First and last month an event is in force, as month indices from ``start`` (inclusive)."""
    _, end = _span(event)
    first = month_number(event.month[:7]) - month_number(start)
    if end is None:
        return first, _FOREVER
    return first, end.year * 12 + end.month - 1 - month_number(start)


def _overlap(event, start: str, t: int) -> int:
    """Days of month ``t`` the event covers."""
    begin, end = _span(event)
    m0 = _month_start(start, t)
    m1 = m0 + dt.timedelta(days=_days(start, t) - 1)
    lo, hi = max(begin, m0), min(end or m1, m1)
    return max((hi - lo).days + 1, 0)


def coverage(event, start: str, t: int) -> float:
    """The share of month ``t``'s days the event covers (1 for a whole month)."""
    return _overlap(event, start, t) / _days(start, t)


def spread(event, start: str, t: int) -> tuple[float, float]:
    """The share of an event's window that falls in month ``t``, and the share still ahead at the start of
    month ``t`` (for events that move a number of persons over their window)."""
    begin, end = _span(event)
    total = (end - begin).days + 1
    here = _overlap(event, start, t)
    ahead = (end - max(begin, _month_start(start, t))).days + 1
    return here / total, max(ahead, 0) / total


# ---------------------------------------------------------------------------------------- the levers


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
        "host_border": arr(float(h.border_open) for h in H),
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
        "cross_line_cost": np.array(g.cross_line_cost, np.float64),
        "confiscation_hazard": np.full(g.n_regions, s.property.confiscation_hazard),
        "services": arr(r.services for r in s.regions.values()),
        "detention_on_return": arr(c.detention_on_return for c in C),
        "detention_monthly": arr(c.detention_monthly for c in C),
        "violence": arr(c.violence for c in C),
        "conscription": arr(float(c.conscription) for c in C),
        "regime_exposure": arr(c.regime_exposure for c in C),
        "detention_factor": np.ones((len(C), 4)),
        "regime": s.politics.regime,
        "national": s.economy.national,
        "sanctions": float(s.economy.sanctions),
        "sanctions_penalty": s.economy.sanctions_penalty,
        "reconstruction_aid": s.economy.reconstruction_aid,
        "restitution_monthly": s.property.restitution_monthly,
        "announcements": [],
        "displacements": [],
        "new_displacements": [],
        "registrations": [],
        "deregistrations": [],
        "destructions": [],
    }


def _controllers(g: Geography, names) -> list[int]:
    """Controller numbers, all of them when ``names`` is empty."""
    return [g.controller(n) for n in names] if names else list(range(len(g.controller_names)))


def _blend(old, new, w: float):
    """``w`` of the way from ``old`` to ``new`` (exactly ``new`` when ``w`` is 1)."""
    return new if w >= 1.0 else old + w * (new - old)


def _ramp(elapsed: int, months: int) -> float:
    return min(1.0, (elapsed + 1) / months) if months else 1.0


@dataclass(frozen=True)
class _When:
    """What an event's application needs to know about this month."""

    s: Scenario
    g: Geography
    t: int
    first: int  # the event's first month index
    rank: int  # its position in the scenario's event list (separates random streams)

    @property
    def elapsed(self) -> int:
        return self.t - self.first

    def w(self, event) -> float:
        return coverage(event, self.s.simulation.start, self.t)


# ----------------------------------------------------------------------------------- one per type
# Each takes the levers being built (a dict of arrays), the event and what it needs to know of the month.


def _control_change(lv: dict, e: ControlChangeEvent, when: _When) -> None:
    if when.w(e) >= 0.5:
        lv["controller"][when.g.region(e.region)] = when.g.controller(e.controller)


def _authority_change(lv: dict, e: AuthorityChangeEvent, when: _When) -> None:
    if when.w(e) < 0.5:
        return
    g = when.g
    regions = np.isin(np.arange(g.n_regions), [g.region(r) for r in e.regions])
    old = [g.controller(c) for c in e.from_controllers]
    regions |= np.isin(lv["controller"], old)
    new = g.controller(e.controller)
    lv["controller"][regions] = new
    if old:  # the crossings that led into the territory taken over now lead into the new authority's
        cost = lv["cross_line_cost"]
        cost[:, new] = np.where((cost[:, old] == 0).any(axis=1), 0.0, cost[:, new])


def _controller_policy(lv: dict, e: ControllerPolicyEvent, when: _When) -> None:
    ctrls = _controllers(when.g, e.controllers)
    w = when.w(e) * _ramp(when.elapsed, e.ramp_months)
    for key in ("detention_on_return", "detention_monthly", "violence", "conscription"):
        value = getattr(e, key)
        if value is not None:
            lv[key][ctrls] = _blend(lv[key][ctrls], float(value), w)


def _conscription(lv: dict, e: ConscriptionEvent, when: _When) -> None:
    ctrls = _controllers(when.g, e.controllers)
    lv["conscription"][ctrls] = _blend(lv["conscription"][ctrls], float(e.enforced), when.w(e))


def _deportation(lv: dict, e: DeportationEvent, when: _When) -> None:
    g, h, w = when.g, when.g.host(e.host), when.w(e)
    if w >= 0.5:
        lv["deportation_targeting"][h] = TARGETING.index(e.targeting)
        lv["deportation_destination"][h] = ORIGIN if e.destination == "origin" else g.region(e.destination)
    if e.rate is not None:
        lv["deportation_rate"][h] = _blend(lv["deportation_rate"][h], e.rate, w)
    else:
        lv["deportation_quota"][h] = e.quota * w


def _host_pressure(lv: dict, e: HostPressureEvent, when: _When) -> None:
    h = when.g.host(e.host)
    lv["host_pressure"][h] = _blend(lv["host_pressure"][h], e.level, when.w(e))


def _aid_change(lv: dict, e: AidChangeEvent, when: _When) -> None:
    aid, h = lv["host_aid"], when.g.host(e.host)
    new = e.level if e.level is not None else np.clip(aid[h] + e.change, 0.0, 1.0)
    aid[h] = _blend(aid[h], new, when.w(e))


def _host_economy(lv: dict, e: HostEconomyEvent, when: _When) -> None:
    earnings, h = lv["host_livelihood"], when.g.host(e.host)
    new = e.livelihood if e.livelihood is not None else max(0.0, earnings[h] + e.change)
    earnings[h] = _blend(earnings[h], new, when.w(e) * _ramp(when.elapsed, e.ramp_months))


def _border_closure(lv: dict, e: BorderClosureEvent, when: _When) -> None:
    h = when.g.host(e.host)
    lv["host_border"][h] = _blend(lv["host_border"][h], 1.0 if e.open else e.capacity, when.w(e))


def _host_conflict_shock(lv: dict, e: HostConflictShockEvent, when: _When) -> None:
    violence, h = lv["host_violence"], when.g.host(e.host)
    violence[h] = max(violence[h], e.violence * when.w(e))


def _return_package(lv: dict, e: ReturnPackageEvent, when: _When) -> None:
    cost, h = lv["host_return_cost"], when.g.host(e.host)
    cost[h] = max(0.0, cost[h] - e.subsidy * when.w(e))


def _sanctions_relief(lv: dict, e: SanctionsReliefEvent, when: _When) -> None:
    w = when.w(e)
    if e.lift_sanctions:
        lv["sanctions"] = _blend(lv["sanctions"], 0.0, w)
    aid = e.reconstruction_aid * _ramp(when.elapsed, e.ramp_months) * w
    lv["reconstruction_aid"] = min(1.0, lv["reconstruction_aid"] + aid)


def _national_economy(lv: dict, e: NationalEconomyEvent, when: _When) -> None:
    w = when.w(e) * _ramp(when.elapsed, e.ramp_months)
    for key in ("national", "sanctions_penalty"):
        value = getattr(e, key)
        if value is not None:
            lv[key] = _blend(lv[key], value, w)


def _regime_change(lv: dict, e: RegimeChangeEvent, when: _When) -> None:
    lv["regime"] = _blend(lv["regime"], e.regime, when.w(e) * _ramp(when.elapsed, e.ramp_months))


def _idp_conditions(lv: dict, e: IdpConditionsEvent, when: _When) -> None:
    w = when.w(e)
    for key in ("pressure", "return_cost", "integration", "livelihood_factor"):
        value = getattr(e, key)
        if value is not None:
            lv[f"idp_{key}"] = _blend(lv[f"idp_{key}"], value, w)


def _property_confiscation(lv: dict, e: PropertyConfiscationEvent, when: _When) -> None:
    if when.elapsed >= e.claim_window_months:  # owners who missed the claim window start losing homes
        g = when.g
        regions = [g.region(r) for r in e.regions] if e.regions else slice(None)
        lv["confiscation_hazard"][regions] = _blend(lv["confiscation_hazard"][regions], e.hazard, when.w(e))


def _property_restitution(lv: dict, e: PropertyRestitutionEvent, when: _When) -> None:
    w = when.w(e)
    lv["restitution_monthly"] = _blend(lv["restitution_monthly"], e.monthly, w)
    if e.repeal_confiscation:
        lv["confiscation_hazard"] *= 1.0 - w


def _detention_relief(lv: dict, e: AmnestyEvent | SecurityGuaranteeEvent, when: _When) -> None:
    g = when.g
    ctrls = _controllers(g, e.controllers)
    profiles = sorted({code for name in e.profiles for code in PROFILE_CODES[name]})
    lv["detention_factor"][np.ix_(ctrls, profiles)] *= _blend(1.0, e.detention_factor, when.w(e))
    if when.elapsed == 0 and e.credibility > 0:
        covered_c, covered_p = np.zeros(len(g.controller_names), bool), np.zeros(4, bool)
        covered_c[ctrls], covered_p[profiles] = True, True
        lv["announcements"].append(Announcement(covered_c, covered_p, e.detention_factor, e.credibility))


def _housing_destruction(lv: dict, e: HousingDestructionEvent, when: _When) -> None:
    if when.elapsed == 0:
        regions = np.isin(np.arange(when.g.n_regions), [when.g.region(r) for r in e.regions])
        lv["destructions"].append(Destruction(when.rank, regions, e.destroyed_share, e.damaged_share))


def _destinations(g: Geography, table) -> tuple[np.ndarray, np.ndarray]:
    names = list(table)
    weights = np.array([table[n] for n in names], float)
    codes = np.array([g.host(n) if n in g.host_names else g.n_hosts + g.region(n) for n in names], np.int16)
    return codes, weights / weights.sum()


def _conflict_displacement(lv: dict, e: ConflictDisplacementEvent, when: _When) -> None:
    here, ahead = spread(e, when.s.simulation.start, when.t)
    codes, weights = _destinations(when.g, e.destinations)
    lv["displacements"].append(
        Displacement(
            event_id=e.id,
            salt=when.rank,
            region=when.g.region(e.region),
            share=1.0 - (1.0 - e.share) ** here if e.share is not None else None,
            persons=float(e.persons) if e.persons is not None else None,
            remaining_days=ahead,
            this_month=here,
            destinations=codes,
            weights=weights,
        )
    )


def _new_displacement(lv: dict, e: NewDisplacementEvent, when: _When) -> None:
    here, _ = spread(e, when.s.simulation.start, when.t)
    codes, weights = _destinations(when.g, e.destinations)
    move = Movement(
        e.id,
        when.rank,
        e.persons * here,
        region=when.g.region(e.region),
        destinations=codes,
        weights=weights,
        temporary_share=e.temporary_share,
        return_months=e.return_months,
    )
    lv["new_displacements"].append(move)


def _registration(lv: dict, e: RegistrationEvent, when: _When) -> None:
    g, h = when.g, when.g.host(e.host)
    shares = e.origin_shares or when.s.hosts[e.host].origin_shares
    weights = np.array([shares.get(r, 0.0) for r in g.region_names], float)
    here, _ = spread(e, when.s.simulation.start, when.t)
    lv["registrations"].append(Movement(e.id, when.rank, e.persons * here, host=h, weights=weights / weights.sum()))


def _deregistration(lv: dict, e: DeregistrationEvent, when: _When) -> None:
    here, _ = spread(e, when.s.simulation.start, when.t)
    lv["deregistrations"].append(Movement(e.id, when.rank, e.persons * here, host=when.g.host(e.host)))


# (event type, how it acts), in the order they are applied within a month
ORDER: tuple[tuple[type, Callable], ...] = (
    (ControlChangeEvent, _control_change),
    (AuthorityChangeEvent, _authority_change),
    (ControllerPolicyEvent, _controller_policy),
    (ConscriptionEvent, _conscription),
    (DeportationEvent, _deportation),
    (HostPressureEvent, _host_pressure),
    (AidChangeEvent, _aid_change),
    (HostEconomyEvent, _host_economy),
    (BorderClosureEvent, _border_closure),
    (HostConflictShockEvent, _host_conflict_shock),
    (ReturnPackageEvent, _return_package),
    (SanctionsReliefEvent, _sanctions_relief),
    (NationalEconomyEvent, _national_economy),
    (RegimeChangeEvent, _regime_change),
    (IdpConditionsEvent, _idp_conditions),
    (PropertyConfiscationEvent, _property_confiscation),
    (PropertyRestitutionEvent, _property_restitution),
    (AmnestyEvent, _detention_relief),
    (SecurityGuaranteeEvent, _detention_relief),
    (HousingDestructionEvent, _housing_destruction),
    (ConflictDisplacementEvent, _conflict_displacement),
    (NewDisplacementEvent, _new_displacement),
    (RegistrationEvent, _registration),
    (DeregistrationEvent, _deregistration),
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
        _APPLY[type(event)](lv, event, _When(s, g, t, first, rank))
    # the reconstruction aid restores services: what is missing is made good in proportion
    lv["services"] = lv["services"] + (1.0 - lv["services"]) * s.economy.services_aid_effect * lv["reconstruction_aid"]
    for key in ("announcements", "displacements", "new_displacements", "registrations", "deregistrations"):
        lv[key] = tuple(lv[key])
    lv["destructions"] = tuple(lv["destructions"])
    for value in lv.values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    return Levers(**lv)


#: names of the levers (for documentation and tests)
LEVER_NAMES = tuple(f.name for f in fields(Levers))
