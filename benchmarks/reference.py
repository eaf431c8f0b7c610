"""An independent per-agent reference of the model, written the idiomatic Mesa way from docs/ODD.md.

Every household is a :class:`RefHousehold` (``mesa.Agent``) holding its own state in plain Python attributes;
its methods work out *its own* month in Python and draw with ``self.random``. :meth:`ReferenceModel.step` is
one month in the order of docs/ODD.md section 3::

    levers of the month (events)  ->  origin economy  ->  announcements  ->  homes destroyed
    ->  flight from fighting  ->  new displacement, registration, deregistration (who moves is chosen by the
        model, each mover then moves itself)  ->  agents.do("come_back")  ->  agents.shuffle_do("decide")
    ->  deportation quotas  ->  agents.shuffle_do("step")
        (deportation, detention and release, re-displacement, property, savings and births)
    ->  agents.do("learn")  ->  indicators, collected by a mesa.DataCollector

Nothing of the vectorised model's rules is used: places, levers, timed events, the economy, the decision and
every other rule are written here again, in plain Python, from docs/ODD.md sections 5 and 7 and
scenarios/README.md. The module imports no ``returnsim`` code at all; scenarios are the validated scenario
objects of ``returnsim.scenario`` (read through their attributes), and :meth:`ReferenceModel.from_simulation`
copies the initial population and ties of a vectorised ``returnsim.simulation.Simulation`` (not yet stepped),
so that both start from the same households. Location codes are those of docs/ODD.md 2.1: hosts first, then
regions.

It serves two purposes: to check that the vectorised transitions implement the same rules (statistically,
month by month and year by year over seeds: ``benchmarks/agreement.py``, ``tests/test_reference.py``), and to
measure how much faster the vectorised model is (``benchmarks/bench_reference.py``).

    from returnsim.simulation import Simulation
    ref = ReferenceModel.from_simulation(Simulation("baseline", seed=1, households_per_agent=1000), seed=7)
    for _ in range(12):
        ref.step()
    ref.datacollector.get_model_vars_dataframe()
"""

from __future__ import annotations

import calendar
import datetime
import math
from dataclasses import dataclass, field

import mesa

# status and property codes (docs/ODD.md 2.1)
DISPLACED, RETURNED, DETAINED, REDISPLACED, STAYER, DEPARTED = 0, 1, 2, 3, 4, 5
INTACT, DAMAGED, DESTROYED, OCCUPIED, CONFISCATED = 0, 1, 2, 3, 4
NEVER = -32768  # ``arrived`` and ``return_due`` of a household with nothing of the kind since the start

#: the household attributes, as the columns of docs/ODD.md 2.1
ATTRIBUTES = (
    "location",
    "origin",
    "size",
    "military_age_man",
    "single_man",
    "exposed",
    "registered",
    "property",
    "skill",
    "savings",
    "months_displaced",
    "perceived_risk",
    "info_confidence",
    "attachment",
    "status",
    "forced",
    "detained",
    "arrived",
    "return_due",
)

# scenarios/README.md: who an amnesty or guarantee covers; profile = military-age man + 2 * exposed
PROFILES = {"all": (0, 1, 2, 3), "military_age_men": (1, 3), "politically_exposed": (2, 3), "others": (0,)}
TARGETS = ("all", "unregistered", "military_age_men", "single_men")
# scenarios/README.md: "Events are applied in a fixed order by kind, whatever their order in the file"
KIND_ORDER = (
    "control_change",
    "authority_change",
    "controller_policy",
    "conscription",
    "deportation",
    "host_pressure",
    "aid_change",
    "host_economy",
    "border_closure",
    "host_conflict_shock",
    "return_package",
    "sanctions_relief",
    "national_economy",
    "regime_change",
    "idp_conditions",
    "property_confiscation",
    "property_restitution",
    "amnesty",
    "security_guarantee",
    "housing_destruction",
    "conflict_displacement",
    "new_displacement",
    "registration",
    "deregistration",
)
#: events that act in one month when they have neither ``end`` nor ``months`` (scenarios/README.md)
ONCE = ("conflict_displacement", "housing_destruction", "new_displacement", "registration", "deregistration")


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def month_count(month: str) -> int:
    year, m = month[:7].split("-")
    return int(year) * 12 + int(m) - 1


# ----------------------------------------------------------------------------------------- dates


def month_days(count: int) -> tuple[datetime.date, datetime.date]:
    """First and last day of the month ``count`` (months since year 0)."""
    year, month = divmod(count, 12)
    return datetime.date(year, month + 1, 1), datetime.date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def event_days(e) -> tuple[datetime.date, datetime.date | None]:
    """scenarios/README.md: an event covers ``month`` (its first day, or the first of its month) to ``end`` (its
    day, or the last of its month), or ``months`` whole months, or, with neither, to the end of the run (one
    month for the events that move people or homes); ``None``: no end."""
    begin = datetime.date.fromisoformat(e.month if len(e.month) == 10 else e.month + "-01")
    if e.end is not None:
        return begin, datetime.date.fromisoformat(e.end) if len(e.end) == 10 else month_days(month_count(e.end))[1]
    if e.months is not None:
        return begin, month_days(month_count(e.month) + e.months - 1)[1]
    return begin, month_days(month_count(e.month))[1] if e.type in ONCE else None


def days_in(begin: datetime.date, end: datetime.date | None, lo: datetime.date, hi: datetime.date) -> int:
    """Days of [lo, hi] within [begin, end]."""
    first, last = max(begin, lo), hi if end is None else min(end, hi)
    return max((last - first).days + 1, 0)


# ----------------------------------------------------------------------------------------- places


class Places:
    """The scenario's places by number: hosts ``0..H-1``, regions ``0..R-1`` (location ``H + r``), controllers."""

    def __init__(self, s):
        self.hosts = list(s.hosts)
        self.regions = list(s.regions)
        self.controllers = list(s.controllers)
        self.H, self.R = len(self.hosts), len(self.regions)
        self.prewar = [float(r.prewar_population) for r in s.regions.values()]
        self.surveyed = [bool(h.surveyed) for h in s.hosts.values()]
        self.overland = [bool(h.overland) for h in s.hosts.values()]  # ODD 7.3: home reached by land
        self.origin_shares = {name: dict(h.origin_shares) for name, h in s.hosts.items()}
        # ODD 7.3: controllers the host's crossings lead to (none listed: all of them), and the cost of any other
        self.crossings = [set(h.crossings) or set(self.controllers) for h in s.hosts.values()]
        self.cross_line_cost = [float(h.cross_line_cost) for h in s.hosts.values()]
        # ODD 7.6: the displaced of a region go to its displacement_destination, by default the next region
        self.fallback = [
            self.regions.index(r.displacement_destination) if r.displacement_destination else (i + 1) % self.R
            for i, r in enumerate(s.regions.values())
        ]

    def location(self, name: str) -> int:
        """The location code of a host or region name."""
        return self.hosts.index(name) if name in self.hosts else self.H + self.regions.index(name)

    def destinations(self, table) -> tuple[list[int], list[float]]:
        total = sum(table.values())
        return [self.location(n) for n in table], [table[n] / total for n in table]


@dataclass
class Flight:
    """A conflict_displacement in force this month (ODD 7.6)."""

    event_id: str
    rank: int
    region: int
    share: float | None  # of the residents this month, or None
    persons: float | None  # over the whole window, or None
    this_month: float  # share of the window's days in this month
    remaining: float  # share of the window's days from this month's start on
    destinations: list[int]
    weights: list[float]


@dataclass
class Move:
    """Persons an event moves this month (ODD 7.11): stayers fleeing a region, stayers registered in a host,
    refugees leaving a host's register."""

    rank: int
    persons: float
    region: int = -1
    host: int = -1
    destinations: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)  # destinations', or (registration) origins' by region
    temporary: float = 0.0
    return_months: int = 1


@dataclass
class Ruin:
    """A housing_destruction in its first month."""

    rank: int
    regions: set[int]
    destroyed: float
    damaged: float


@dataclass
class Month:
    """Every policy lever of one month (docs/ODD.md 2.5), as plain lists."""

    pressure: list[float]
    earnings: list[float]
    aid: list[float]
    integration: list[float]
    cost: list[float]
    border: list[float]  # share of the usual returns that can cross
    host_violence: list[float]
    registered_share: list[float]
    deport_rate: list[float]
    deport_quota: list[float | None]
    targeting: list[str]
    deport_to: list[int | None]  # region number, or None for the deportee's own origin
    idp_pressure: float
    idp_factor: float
    idp_cost: float
    idp_integration: float
    controller: list[int]
    crossings: list[set[str]]  # by host: the controllers its crossings lead into (ODD 7.3)
    confiscation: list[float]
    services: list[float]
    detention_on_return: list[float]
    detention_monthly: list[float]
    violence: list[float]
    conscription: list[float]  # share of the month conscription is enforced
    relief: list[list[float]]  # controller x profile
    regime: float  # how far the government that refugees fled still rules
    exposure: list[float]  # by controller: how far its fall counts for those whose home the controller holds
    national: float
    sanctions: float
    penalty: float
    reconstruction: float
    restitution: float
    announcements: list[tuple[set, set, float, float]] = field(default_factory=list)
    flights: list[Flight] = field(default_factory=list)
    displacements: list[Move] = field(default_factory=list)
    registrations: list[Move] = field(default_factory=list)
    deregistrations: list[Move] = field(default_factory=list)
    ruins: list[Ruin] = field(default_factory=list)


@dataclass
class When:
    """What an event needs to know about the month it acts in."""

    t: int
    elapsed: int  # months since its first month
    rank: int  # its place in the file (separates the draws of several events)
    cover: float  # share of the month's days it covers
    this_month: float  # share of its window's days in this month (events with an end)
    remaining: float  # share of its window's days from this month's start on

    def ramp(self, months: int) -> float:
        """How far a ramp of ``months`` has gone: a share (elapsed + 1) / months, then all of it."""
        return min(1.0, (self.elapsed + 1) / months) if months else 1.0


def towards(old: float, new: float, w: float) -> float:
    """A level ``w`` of the way from ``old`` to ``new`` (README, dates to the day)."""
    return new if w >= 1.0 else old + w * (new - old)


def month_levers(s, places: Places, t: int) -> Month:
    """The levers of month ``t``: the scenario's values, then every event in force in the documented order."""
    H, C = list(s.hosts.values()), list(s.controllers.values())
    lv = Month(
        pressure=[h.pressure for h in H],
        earnings=[h.livelihood for h in H],
        aid=[h.aid for h in H],
        integration=[h.integration for h in H],
        cost=[h.return_cost for h in H],
        border=[1.0 if h.border_open else 0.0 for h in H],
        host_violence=[0.0] * len(H),
        registered_share=[h.registered_share for h in H],
        deport_rate=[h.deportation_rate for h in H],
        deport_quota=[None] * len(H),
        targeting=[h.deportation_targeting for h in H],
        deport_to=[
            None if h.deportation_destination == "origin" else places.regions.index(h.deportation_destination)
            for h in H
        ],
        idp_pressure=s.idps.pressure,
        idp_factor=s.idps.livelihood_factor,
        idp_cost=s.idps.return_cost,
        idp_integration=s.idps.integration,
        controller=[places.controllers.index(r.controller) for r in s.regions.values()],
        crossings=[set(c) for c in places.crossings],
        confiscation=[s.property.confiscation_hazard] * places.R,
        services=[r.services for r in s.regions.values()],
        detention_on_return=[c.detention_on_return for c in C],
        detention_monthly=[c.detention_monthly for c in C],
        violence=[c.violence for c in C],
        conscription=[1.0 if c.conscription else 0.0 for c in C],
        relief=[[1.0] * 4 for _ in C],
        regime=s.politics.regime,
        exposure=[c.regime_exposure for c in C],
        national=s.economy.national,
        sanctions=1.0 if s.economy.sanctions else 0.0,
        penalty=s.economy.sanctions_penalty,
        reconstruction=s.economy.reconstruction_aid,
        restitution=s.property.restitution_monthly,
    )
    lo, hi = month_days(month_count(s.simulation.start) + t)
    active = []
    for rank, e in enumerate(s.events):
        begin, end = event_days(e)
        covered = days_in(begin, end, lo, hi)
        if covered == 0:
            continue
        first = month_count(e.month) - month_count(s.simulation.start)
        when = When(t, t - first, rank, covered / ((hi - lo).days + 1), 0.0, 0.0)
        if end is not None:
            total = (end - begin).days + 1
            when.this_month = covered / total
            when.remaining = ((end - max(begin, lo)).days + 1) / total
        active.append((KIND_ORDER.index(e.type), first, rank, e, when))
    for _, _, _, e, when in sorted(active, key=lambda a: a[:3]):
        EFFECTS[e.type](lv, places, e, when)
    # ODD 2.5: reconstruction aid restores the missing part of basic services in proportion
    share = s.economy.services_aid_effect * lv.reconstruction
    lv.services = [x + (1.0 - x) * share for x in lv.services]
    return lv


def _controllers(places: Places, names) -> list[int]:
    return [places.controllers.index(n) for n in names] if names else list(range(len(places.controllers)))


def _control_change(lv: Month, p: Places, e, w: When) -> None:
    if w.cover >= 0.5:
        lv.controller[p.regions.index(e.region)] = p.controllers.index(e.controller)


def _authority_change(lv: Month, p: Places, e, w: When) -> None:
    if w.cover < 0.5:
        return
    old = {p.controllers.index(c) for c in e.from_controllers}
    named = {p.regions.index(r) for r in e.regions}
    new = p.controllers.index(e.controller)
    lv.controller = [new if r in named or c in old else c for r, c in enumerate(lv.controller)]
    if old:  # a host's crossings into the territory taken over now lead into the new authority's
        lv.crossings = [c | {e.controller} if c & set(e.from_controllers) else c for c in lv.crossings]


def _controller_policy(lv: Month, p: Places, e, w: When) -> None:
    share = w.cover * w.ramp(e.ramp_months)
    for c in _controllers(p, e.controllers):
        if e.detention_on_return is not None:
            lv.detention_on_return[c] = towards(lv.detention_on_return[c], e.detention_on_return, share)
        if e.detention_monthly is not None:
            lv.detention_monthly[c] = towards(lv.detention_monthly[c], e.detention_monthly, share)
        if e.violence is not None:
            lv.violence[c] = towards(lv.violence[c], e.violence, share)
        if e.conscription is not None:
            lv.conscription[c] = towards(lv.conscription[c], 1.0 if e.conscription else 0.0, share)


def _conscription(lv: Month, p: Places, e, w: When) -> None:
    for c in _controllers(p, e.controllers):
        lv.conscription[c] = towards(lv.conscription[c], 1.0 if e.enforced else 0.0, w.cover)


def _deportation(lv: Month, p: Places, e, w: When) -> None:
    h = p.hosts.index(e.host)
    if w.cover >= 0.5:
        lv.targeting[h] = e.targeting
        lv.deport_to[h] = None if e.destination == "origin" else p.regions.index(e.destination)
    if e.rate is not None:
        lv.deport_rate[h] = towards(lv.deport_rate[h], e.rate, w.cover)
    else:  # a quota, scaled by the days covered; where it is set it rules, whatever the rate
        lv.deport_quota[h] = e.quota * w.cover


def _host_pressure(lv: Month, p: Places, e, w: When) -> None:
    h = p.hosts.index(e.host)
    lv.pressure[h] = towards(lv.pressure[h], e.level, w.cover)


def _aid_change(lv: Month, p: Places, e, w: When) -> None:
    h = p.hosts.index(e.host)
    new = e.level if e.level is not None else min(1.0, max(0.0, lv.aid[h] + e.change))
    lv.aid[h] = towards(lv.aid[h], new, w.cover)


def _host_economy(lv: Month, p: Places, e, w: When) -> None:
    h = p.hosts.index(e.host)
    new = e.livelihood if e.livelihood is not None else max(0.0, lv.earnings[h] + e.change)
    lv.earnings[h] = towards(lv.earnings[h], new, w.cover * w.ramp(e.ramp_months))


def _border_closure(lv: Month, p: Places, e, w: When) -> None:
    h = p.hosts.index(e.host)
    lv.border[h] = towards(lv.border[h], 1.0 if e.open else e.capacity, w.cover)


def _host_conflict_shock(lv: Month, p: Places, e, w: When) -> None:
    h = p.hosts.index(e.host)
    lv.host_violence[h] = max(lv.host_violence[h], e.violence * w.cover)


def _return_package(lv: Month, p: Places, e, w: When) -> None:
    h = p.hosts.index(e.host)
    lv.cost[h] = max(0.0, lv.cost[h] - e.subsidy * w.cover)


def _sanctions_relief(lv: Month, p: Places, e, w: When) -> None:
    if e.lift_sanctions:
        lv.sanctions = towards(lv.sanctions, 0.0, w.cover)
    lv.reconstruction = min(1.0, lv.reconstruction + e.reconstruction_aid * w.ramp(e.ramp_months) * w.cover)


def _national_economy(lv: Month, p: Places, e, w: When) -> None:
    share = w.cover * w.ramp(e.ramp_months)
    if e.national is not None:
        lv.national = towards(lv.national, e.national, share)
    if e.sanctions_penalty is not None:
        lv.penalty = towards(lv.penalty, e.sanctions_penalty, share)


def _regime_change(lv: Month, p: Places, e, w: When) -> None:
    lv.regime = towards(lv.regime, e.regime, w.cover * w.ramp(e.ramp_months))


def _idp_conditions(lv: Month, p: Places, e, w: When) -> None:
    if e.pressure is not None:
        lv.idp_pressure = towards(lv.idp_pressure, e.pressure, w.cover)
    if e.return_cost is not None:
        lv.idp_cost = towards(lv.idp_cost, e.return_cost, w.cover)
    if e.integration is not None:
        lv.idp_integration = towards(lv.idp_integration, e.integration, w.cover)
    if e.livelihood_factor is not None:
        lv.idp_factor = towards(lv.idp_factor, e.livelihood_factor, w.cover)


def _property_confiscation(lv: Month, p: Places, e, w: When) -> None:
    if w.elapsed < e.claim_window_months:
        return
    for r in [p.regions.index(n) for n in e.regions] if e.regions else range(p.R):
        lv.confiscation[r] = towards(lv.confiscation[r], e.hazard, w.cover)


def _property_restitution(lv: Month, p: Places, e, w: When) -> None:
    lv.restitution = towards(lv.restitution, e.monthly, w.cover)
    if e.repeal_confiscation:
        lv.confiscation = [x * (1.0 - w.cover) for x in lv.confiscation]


def _relief(lv: Month, p: Places, e, w: When) -> None:
    controllers = _controllers(p, e.controllers)
    profiles = {code for name in e.profiles for code in PROFILES[name]}
    for c in controllers:
        for k in profiles:
            lv.relief[c][k] *= towards(1.0, e.detention_factor, w.cover)
    if w.elapsed == 0 and e.credibility > 0:
        lv.announcements.append((set(controllers), profiles, e.detention_factor, e.credibility))


def _housing_destruction(lv: Month, p: Places, e, w: When) -> None:
    if w.elapsed == 0:
        regions = {p.regions.index(r) for r in e.regions}
        lv.ruins.append(Ruin(w.rank, regions, e.destroyed_share, e.damaged_share))


def _conflict_displacement(lv: Month, p: Places, e, w: When) -> None:
    codes, weights = p.destinations(e.destinations)
    lv.flights.append(
        Flight(
            event_id=e.id,
            rank=w.rank,
            region=p.regions.index(e.region),
            share=1.0 - (1.0 - e.share) ** w.this_month if e.share is not None else None,
            persons=e.persons,
            this_month=w.this_month,
            remaining=w.remaining,
            destinations=codes,
            weights=weights,
        )
    )


def _new_displacement(lv: Month, p: Places, e, w: When) -> None:
    codes, weights = p.destinations(e.destinations)
    region = p.regions.index(e.region)
    lv.displacements.append(
        Move(w.rank, e.persons * w.this_month, region, -1, codes, weights, e.temporary_share, e.return_months)
    )


def _registration(lv: Month, p: Places, e, w: When) -> None:
    table = e.origin_shares or p.origin_shares[e.host]
    total = sum(table.values())
    weights = [table.get(r, 0.0) / total for r in p.regions]
    lv.registrations.append(Move(w.rank, e.persons * w.this_month, host=p.hosts.index(e.host), weights=weights))


def _deregistration(lv: Month, p: Places, e, w: When) -> None:
    lv.deregistrations.append(Move(w.rank, e.persons * w.this_month, host=p.hosts.index(e.host)))


EFFECTS = {
    "control_change": _control_change,
    "authority_change": _authority_change,
    "controller_policy": _controller_policy,
    "conscription": _conscription,
    "deportation": _deportation,
    "host_pressure": _host_pressure,
    "aid_change": _aid_change,
    "host_economy": _host_economy,
    "border_closure": _border_closure,
    "host_conflict_shock": _host_conflict_shock,
    "return_package": _return_package,
    "sanctions_relief": _sanctions_relief,
    "national_economy": _national_economy,
    "regime_change": _regime_change,
    "idp_conditions": _idp_conditions,
    "property_confiscation": _property_confiscation,
    "property_restitution": _property_restitution,
    "amnesty": _relief,
    "security_guarantee": _relief,
    "housing_destruction": _housing_destruction,
    "conflict_displacement": _conflict_displacement,
    "new_displacement": _new_displacement,
    "registration": _registration,
    "deregistration": _deregistration,
}


# --------------------------------------------------------------------------------------- households


class RefHousehold(mesa.Agent):
    """One agent row (``model.weight`` identical households) with its own attributes and its own month."""

    def __init__(self, model: ReferenceModel, **state):
        super().__init__(model)
        for name in ATTRIBUTES:
            setattr(self, name, state[name])
        self.ties: list[RefHousehold] = []
        self.back = 0  # ties back home and free, as heard at the end of last month
        self.fled = False  # moved by fighting this month

    # ------------------------------------------------------------------------------- what it knows

    @property
    def persons(self) -> int:
        return self.size * self.model.weight

    def is_displaced(self) -> bool:
        return self.status == DISPLACED or self.status == REDISPLACED

    def at_home(self) -> bool:
        return self.location == self.model.places.H + self.origin

    def loss(self) -> float:
        return self.model.loss[self.property]

    def home_income(self) -> float:
        """ODD 7.2: what it earns (or would earn) at home: L_o (1 - pi h) times skill."""
        m = self.model
        return m.livelihood[self.origin] * (1.0 - m.housing_penalty * self.loss()) * self.skill

    def income(self) -> float:
        """ODD 7.2: what it earns where it lives now."""
        m, H = self.model, self.model.places.H
        if self.location < H:
            return (m.lv.earnings[self.location] + m.host_aid_effect * m.lv.aid[self.location]) * self.skill
        if self.at_home():
            return self.home_income()
        return m.livelihood[self.location - H] * m.lv.idp_factor * self.skill

    def profile(self) -> int:
        return int(self.military_age_man) + 2 * int(self.exposed)

    def arrest_probability(self, base: list[float], controller: int, forced: bool) -> float:
        """ODD 7.5: min(1, D * relief * M^man * E^exposed * F^forced)."""
        m, sec = self.model, self.model.s.security
        p = base[controller] * m.lv.relief[controller][self.profile()]
        if self.military_age_man:
            p *= sec.military_age_multiplier
        if self.exposed:
            p *= sec.political_exposure_multiplier
        if forced:
            p *= sec.forced_return_multiplier
        return min(p, 1.0)

    def integration_now(self) -> float:
        """ODD 7.3: g = G_l (1 - exp(-t / tau)) where it lives."""
        m, H = self.model, self.model.places.H
        level = m.lv.integration[self.location] if self.location < H else m.lv.idp_integration
        return level * (1.0 - math.exp(-self.months_displaced / m.s.decision.integration_months))

    def return_odds(self) -> tuple[float, float, float]:
        """ODD 7.3: the hope eta of returning one day, the monthly hazard q of intending to return for those who
        hope, and the probability p = eta b (1 - (1 - q F)(1 - e)(1 - d poor)) of returning this month (b the border
        open, F the feasibility, e decision.unplanned_rate, d decision.distress_rate below the poverty line); from a
        host without a land border the unplanned part needs the fare too: p = eta b (q F k + F (1 - k)), k = (1 -
        e)(1 - d poor)."""
        m, b, H = self.model, self.model.s.decision, self.model.places.H
        lv, hope = m.lv, m.s.hope
        abroad = self.location < H
        c = lv.controller[self.origin]
        fallen = lv.exposure[c] * (1.0 - lv.regime)  # ODD 7.3, who rules, as the household weighs it
        integration = self.integration_now()
        at_home = self.home_income()
        eta = sigmoid(
            hope.intercept
            + hope.attachment * self.attachment
            - hope.integration * integration
            + hope.livelihood * m.livelihood[self.origin]
            - hope.violence * lv.violence[c]
            - hope.property_loss * self.loss()
            + hope.regime * fallen
        )
        v = (
            b.intercept
            + b.pressure * (lv.pressure[self.location] if abroad else lv.idp_pressure)
            + b.livelihood * (at_home - self.income())
            + b.home_livelihood * at_home
            - b.detention_risk * self.perceived_risk
            - b.violence * lv.violence[c]
            - b.conscription * (lv.conscription[c] if self.military_age_man else 0.0)
            - b.property_loss * self.loss()
            - b.services * (1.0 - lv.services[self.origin])
            + b.network * (self.back / len(self.ties) if self.ties else 0.0)
            + b.attachment * self.attachment
            - b.integration * integration
            + b.host_violence * (lv.host_violence[self.location] if abroad else 0.0)
            + (0.0 if abroad else b.internal)
            + b.regime * fallen
        )
        q = sigmoid(v)
        border = self.border()
        if border == 0:
            return eta, q, 0.0
        cost = self.journey_cost()
        fare = sigmoid(b.feasibility_slope * (self.savings - cost))
        planned, kept = q * fare, 1.0 - self.unplanned_chance()
        return eta, q, eta * border * (planned * kept + (1.0 - kept) * self.reach(fare))

    def reach(self, fare: float) -> float:
        """ODD 7.3: what an unplanned return needs besides the border: nothing where home is reached by land, the
        fare (the feasibility ``fare``) from a host without a land border."""
        H = self.model.places.H
        return fare if self.location < H and not self.model.places.overland[self.location] else 1.0

    def unplanned_chance(self) -> float:
        """ODD 7.3: the chance of an unplanned return this month, before the hope and the border:
        1 - (1 - e)(1 - d poor)."""
        m, b = self.model, self.model.s.decision
        poor = self.income() < m.poverty_line
        return 1.0 - (1.0 - b.unplanned_rate) * (1.0 - (b.distress_rate if poor else 0.0))

    def border(self) -> float:
        """The share of the usual returns that can cross from where it lives (1 inside Syria)."""
        return self.model.lv.border[self.location] if self.location < self.model.places.H else 1.0

    def journey_cost(self) -> float:
        """ODD 7.3: the cost of going home, more across a front line, lower the more violence there is where the
        household lives."""
        lv, places = self.model.lv, self.model.places
        if self.location < places.H:
            held_by = places.controllers[lv.controller[self.origin]]
            across = 0.0 if held_by in lv.crossings[self.location] else places.cross_line_cost[self.location]
            return (lv.cost[self.location] + across) * (1.0 - lv.host_violence[self.location])
        return lv.idp_cost

    def targeted(self) -> bool:
        """ODD 7.4: eligible under its host's targeting."""
        rule = self.model.lv.targeting[self.location]
        return (
            rule == "all"
            or (rule == "unregistered" and not self.registered)
            or (rule == "military_age_men" and self.military_age_man)
            or (rule == "single_men" and self.single_man)
        )

    # -------------------------------------------------------------------------------- its month

    def hear_announcements(self) -> None:
        """ODD 7.0: believe this month's amnesties and guarantees that cover it (displaced households only)."""
        if not self.is_displaced():
            return
        c = self.model.lv.controller[self.origin]
        for controllers, profiles, factor, credibility in self.model.lv.announcements:
            if c in controllers and self.profile() in profiles:
                self.perceived_risk *= 1.0 - credibility * (1.0 - factor)

    def flee(self, flight: Flight, share: float) -> None:
        """ODD 7.6, flight from fighting: a resident of the region (not wholly detained) leaves with ``share``."""
        m = self.model
        if self.fled or self.location != m.places.H + flight.region or self.status in (DETAINED, STAYER):
            return
        if self.random.random() >= share:
            return
        dest = self.destination(flight.destinations, flight.weights)
        was_home = self.status == RETURNED
        self.location = dest
        if self.at_home():
            self.status = RETURNED
        elif was_home:
            self.status = REDISPLACED
            self.months_displaced = 0
        if dest < m.places.H:
            self.registered = self.random.random() < m.lv.registered_share[dest]
        self.fled = True
        m.moved[flight.event_id] = m.moved.get(flight.event_id, 0.0) + self.persons
        m.flow["displaced_by_conflict"] += self.persons

    def destination(self, codes: list[int], weights: list[float]) -> int:
        """One of ``codes``, drawn by ``weights``."""
        u, acc = self.random.random(), 0.0
        for code, w in zip(codes, weights, strict=True):
            acc += w
            if u < acc:
                return code
        return codes[-1]

    def ruin(self, ruin: Ruin) -> None:
        """ODD 7.11: an intact or damaged home of the stricken regions is destroyed with ``destroyed``; an intact
        one not destroyed is damaged with ``damaged``, whoever lives in it."""
        if self.origin not in ruin.regions or self.property not in (INTACT, DAMAGED):
            return
        u = self.random.random()
        if u < ruin.destroyed:
            self.property = DESTROYED
        elif self.property == INTACT and u < ruin.destroyed + ruin.damaged:
            self.property = DAMAGED
        else:
            return
        self.model.flow["homes_destroyed"] += self.model.weight

    def flee_home(self, move: Move) -> None:
        """ODD 7.11: a household that had stayed flees its region (new_displacement)."""
        m = self.model
        self.location = self.destination(move.destinations, move.weights)
        self.status, self.months_displaced = DISPLACED, 0
        if self.location < m.places.H:
            self.registered = self.random.random() < m.lv.registered_share[self.location]
        if self.random.random() < move.temporary:
            self.return_due = m.t + move.return_months
        m.flow["newly_displaced"] += self.persons

    def register_in(self, host: int) -> None:
        """ODD 7.11: a household that had stayed joins a host's registered refugees, away for years already."""
        self.location, self.status, self.registered = host, DISPLACED, True
        self.months_displaced += self.model.t
        self.model.flow["registered_arrivals"] += self.persons

    def leave_register(self) -> None:
        """ODD 7.11: a refugee leaves its host's register without a verified return; no longer followed."""
        self.status = DEPARTED
        self.model.flow["deregistered"] += self.persons

    def come_back(self) -> None:
        """ODD 7.11: displaced for a short while, it goes home when due (if still displaced): a voluntary return
        from where it is."""
        m, H = self.model, self.model.places.H
        if self.return_due != m.t or not self.is_displaced():
            return
        m.flow["returns_voluntary_" + (m.places.hosts[self.location] if self.location < H else "idps")] += self.persons
        self.location, self.status, self.arrived = H + self.origin, RETURNED, m.t

    def decide(self) -> None:
        """ODD 7.3: a displaced household goes home with probability p; it pays the cost of the journey."""
        if not self.is_displaced():
            return
        m, H = self.model, self.model.places.H
        eta, q, p = self.return_odds()
        abroad = self.location < H
        if abroad:
            m.intent[self.location] += eta * (1.0 - (1.0 - q) ** 12)
            m.hope[self.location] += eta
            m.intent_n[self.location] += 1
        u = self.random.random()
        if u < p:
            cost = self.journey_cost()
            m.flow["returns_voluntary_" + (m.places.hosts[self.location] if abroad else "idps")] += self.persons
            fare = sigmoid(m.s.decision.feasibility_slope * (self.savings - cost))
            if u < eta * self.border() * self.reach(fare) * self.unplanned_chance():  # the part that needs no plan
                m.flow["returns_unplanned_" + ("refugees" if abroad else "idps")] += self.persons
            self.savings = max(self.savings - cost, 0.0)
            self.location, self.status, self.forced, self.arrived = H + self.origin, RETURNED, False, m.t

    def step(self) -> None:
        """The rest of its month, in the order of ODD section 3: deportation, security, re-displacement,
        property, savings and growth."""
        m, lv, rnd, t, H = self.model, self.model.lv, self.random.random, self.model.t, self.model.places.H
        # 7.4 deportation
        abroad = self.is_displaced() and self.location < H
        if (
            abroad
            and self.targeted()
            and (
                self in m.deport_chosen
                if lv.deport_quota[self.location] is not None
                else lv.deport_rate[self.location] > 0 and rnd() < lv.deport_rate[self.location]
            )
        ):
            m.flow["returns_forced_" + m.places.hosts[self.location]] += self.persons
            to = lv.deport_to[self.location]
            self.location = H + (self.origin if to is None else to)
            self.forced, self.arrived = True, t
            if self.at_home():
                self.status = RETURNED
            else:
                self.months_displaced = 0
        # 7.5 detention on arrival or later, and release (releases first)
        arrest = False
        if self.arrived == t:
            here = self.location - H
            arrest = rnd() < self.arrest_probability(lv.detention_on_return, lv.controller[here], self.forced)
            m.flow["detained_on_arrival"] += m.weight if arrest else 0
        elif self.status == RETURNED:
            arrest = rnd() < self.arrest_probability(lv.detention_monthly, lv.controller[self.origin], False)
        if self.detained > 0 and rnd() < m.s.security.release_monthly:
            self.detained -= 1
            self.size += 1
            if self.status == DETAINED:
                self.status = RETURNED if self.at_home() else DISPLACED  # deported elsewhere: never home
            m.flow["released"] += m.weight
        if arrest:
            self.size -= 1
            self.detained += 1
            if self.size == 0:
                self.status = DETAINED
            m.flow["detained"] += m.weight
        # 7.6 re-displacement of returnees settled at home
        if self.status == RETURNED and self.arrived != t:
            r = m.s.redisplacement
            hazard = sigmoid(
                r.intercept
                + r.violence * lv.violence[lv.controller[self.origin]]
                + r.poverty * max(m.poverty_line - self.income(), 0.0)
                + r.property_loss * self.loss()
            )
            if rnd() < hazard:
                self.location = H + m.places.fallback[self.origin]
                self.status, self.months_displaced = REDISPLACED, 0
                m.flow["redisplaced"] += self.persons
        # 7.7 property: absentee confiscation, restitution of homes lost before this month
        was_lost = self.property in (OCCUPIED, CONFISCATED)
        hazard = lv.confiscation[self.origin] * (1.0 - m.s.property.claim_success)
        if hazard > 0 and not self.at_home() and self.property in (INTACT, DAMAGED, DESTROYED) and rnd() < hazard:
            self.property = CONFISCATED
            m.confiscated += m.weight
        if lv.restitution > 0 and was_lost and rnd() < lv.restitution:
            self.property = INTACT
            m.flow["properties_restituted"] += m.weight
        # 7.8 savings, months displaced, births
        e = m.s.economy
        if self.status != DETAINED:
            kept = self.savings * (1.0 - e.savings_spend)
            self.savings = min(max(kept + e.saving_rate * (self.income() - e.poverty_line), 0.0), e.savings_max)
        if self.is_displaced():
            self.months_displaced += 1
            if m.growth > 0 and rnd() < self.size * m.growth and self.size < m.s.population.max_household_size:
                self.size += 1
                m.flow["births"] += m.weight
                m.births[self.origin] += m.weight

    def learn(self) -> None:
        """ODD 7.9: count ties back home and free, and with a member held; a displaced household moves its
        perceived risk towards what it heard and towards its true risk."""
        back = held = 0
        for tie in self.ties:
            if tie.detained > 0 or tie.status == DETAINED:
                held += 1
            elif tie.status == RETURNED:
                back += 1
        self.back = back
        if not self.is_displaced():
            return
        m, net = self.model, self.model.s.network
        true = self.arrest_probability(m.lv.detention_on_return, m.lv.controller[self.origin], False)
        r = self.perceived_risk
        news = net.learning_rate * self.info_confidence * (held / (back + held) - r) if back + held else 0.0
        self.perceived_risk = min(max(r + news + net.media_rate * (true - r), 0.0), 1.0)


# ------------------------------------------------------------------------------------------- model


class ReferenceModel(mesa.Model):
    """The model's monthly rules, one household at a time (see the module documentation).

    ``household_class`` is the agent class (a subclass of :class:`RefHousehold` may change one rule, e.g. to
    show that the comparison with the vectorised model detects a wrong rule).

    Args:
        scenario: a validated scenario (``returnsim.scenario.Scenario``).
        households: one dict of :data:`ATTRIBUTES` per agent row, in row order.
        ties: each row's ties (row numbers), in row order.
        weight: households per agent row.
        seed: seed of the model's random generator.
    """

    household_class: type[RefHousehold] = RefHousehold

    def __init__(self, scenario, households: list[dict], ties: list[list[int]], weight: int, seed: int):
        super().__init__(rng=seed)
        self.s, self.weight, self.t = scenario, weight, 0
        self.places = Places(scenario)
        p = scenario.property
        self.loss = [0.0, p.loss_damaged, p.loss_destroyed, p.loss_occupied, p.loss_confiscated]
        self.housing_penalty = p.housing_livelihood_penalty
        self.host_aid_effect = scenario.economy.host_aid_effect
        self.poverty_line = scenario.economy.poverty_line
        self.growth = (1.0 + scenario.population.growth_annual) ** (1.0 / 12.0) - 1.0
        self.livelihood = [r.livelihood for r in scenario.regions.values()]
        self.confiscated = 0.0
        self.births = [0.0] * self.places.R
        self.moved: dict[str, float] = {}
        self.lv = month_levers(scenario, self.places, 0)
        self.indicators: dict[str, float] = {}
        self.household_class.create_agents(self, len(households), **{k: [h[k] for h in households] for k in ATTRIBUTES})
        self.households = list(self.agents)  # creation order is row order
        for agent, row in zip(self.households, ties, strict=True):
            agent.ties = [self.households[j] for j in row]
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in indicator_names(self.places)}
        )

    @classmethod
    def from_simulation(cls, sim, seed: int, scenario=None) -> ReferenceModel:
        """A reference with the scenario (or ``scenario``), households and ties of a vectorised ``Simulation``
        that has not been stepped (read through its attributes: ``params``, ``state.pop``, ``state.ties``)."""
        if sim.state.t != 0:
            raise ValueError("build the reference from a simulation that has not been stepped")
        pop = sim.state.pop
        columns = {name: getattr(pop, name).tolist() for name in ATTRIBUTES}  # numpy scalars -> Python
        households = [dict(zip(ATTRIBUTES, row, strict=True)) for row in zip(*columns.values(), strict=True)]
        return cls(scenario or sim.params, households, sim.state.ties.out.tolist(), pop.weight, seed)

    # ---------------------------------------------------------------------------------------- month

    def step(self) -> None:
        """One month (docs/ODD.md section 3)."""
        s, places, t = self.s, self.places, self.t
        self.lv = lv = month_levers(s, places, t)
        self.flow = dict.fromkeys(FLOW_NAMES + tuple(flow_by_host(places)), 0.0)
        self.intent, self.hope, self.intent_n = [0.0] * places.H, [0.0] * places.H, [0] * places.H
        self.update_economy()
        if lv.announcements:
            self.agents.do("hear_announcements")
        for ruin in lv.ruins:
            self.agents.do("ruin", ruin)
        for a in self.households:
            a.fled = False
        for flight in lv.flights:
            self.agents.shuffle_do("flee", flight, self.flight_share(flight))
        self.move_people()
        self.agents.do("come_back")
        self.agents.shuffle_do("decide")
        self.deport_chosen = self.deportees_by_quota()
        self.agents.shuffle_do("step")
        self.agents.do("learn")
        self.indicators = self.observe()
        self.datacollector.collect(self)
        self.t += 1

    def choose(self, candidates: list[RefHousehold], persons: float) -> list[RefHousehold]:
        """ODD 7.11: households in a random order until they hold ``persons``; the one that crosses the total is
        taken with the probability of the part of it still wanted."""
        order = list(candidates)
        self.random.shuffle(order)
        chosen, held = [], 0.0
        for a in order:
            if held + a.persons > persons:
                if held < persons and self.random.random() < (persons - held) / a.persons:
                    chosen.append(a)
                break
            chosen.append(a)
            held += a.persons
        return chosen

    def move_people(self) -> None:
        """ODD 7.11: this month's new displacement of people who had stayed, then registrations in hosts, then
        refugees leaving hosts' registers. Each event acts on the households as the events before it left them,
        so no household is moved twice."""
        lv = self.lv
        for move in lv.displacements:
            stayers = [a for a in self.households if a.status == STAYER and a.origin == move.region]
            for a in self.choose(stayers, move.persons):
                a.flee_home(move)
        for move in lv.registrations:
            chosen = []
            for region, share in enumerate(move.weights):
                if share > 0:
                    stayers = [a for a in self.households if a.status == STAYER and a.origin == region]
                    chosen += self.choose(stayers, move.persons * share)
            for a in chosen:
                a.register_in(move.host)
        for move in lv.deregistrations:
            refugees = [a for a in self.households if a.is_displaced() and a.location == move.host]
            for a in self.choose(refugees, move.persons):
                a.leave_register()

    def update_economy(self) -> None:
        """ODD 7.1: each region's livelihood moves towards its target, less last month's arrivals' strain (not
        those back from a displacement of weeks)."""
        e, places, lv = self.s.economy, self.places, self.lv
        inflow = [0.0] * places.R
        for a in self.households:
            if a.arrived == self.t - 1 and a.return_due < self.t - 1:  # due later: back early, by its own choice
                inflow[a.location - places.H] += (a.size + a.detained) * self.weight
        start = e.national * (1.0 - e.sanctions_penalty * (1.0 if e.sanctions else 0.0))
        now = lv.national * (1.0 - lv.penalty * lv.sanctions)
        for r, region in enumerate(self.s.regions.values()):
            target = min(max(region.livelihood * now / start + e.aid_effect * lv.reconstruction, 0.0), 1.0)
            moved = self.livelihood[r] + e.adjust_rate * (target - self.livelihood[r])
            moved -= e.strain * inflow[r] / places.prewar[r]
            self.livelihood[r] = min(max(moved, e.livelihood_floor), 1.0)

    def flight_share(self, flight: Flight) -> float:
        """ODD 7.6: the probability that a resident flees this month: the event's share spread over its days, or
        what is left of its persons spread over the days left, among the followed residents still there."""
        if flight.share is not None:
            return flight.share
        here = self.places.H + flight.region
        persons = sum(
            a.persons
            for a in self.households
            if a.location == here and a.status not in (DETAINED, STAYER) and not a.fled
        )
        left = max(flight.persons - self.moved.get(flight.event_id, 0.0), 0.0) * flight.this_month / flight.remaining
        return min(1.0, left / persons) if persons > 0 else 0.0

    def deportees_by_quota(self) -> set[RefHousehold]:
        """ODD 7.4: where a host has a quota, the eligible households still there after this month's voluntary
        returns, chosen in a random order until they hold the quota (the one that crosses it by chance)."""
        lv, H = self.lv, self.places.H
        chosen: set[RefHousehold] = set()
        for h in range(H):
            if lv.deport_quota[h] is not None and lv.deport_quota[h] > 0:
                eligible = [a for a in self.households if a.is_displaced() and a.location == h and a.targeted()]
                chosen.update(self.choose(eligible, lv.deport_quota[h]))
        return chosen

    # ------------------------------------------------------------------------------------ indicators

    def observe(self) -> dict[str, float]:
        """ODD 7.10: the month's stocks, flows and shares, counted over the agents."""
        places, H, w = self.places, self.places.H, self.weight
        out = {f"refugees_{h}": 0.0 for h in places.hosts}
        idps = returnees = held = risk = 0.0
        refugee_rows = poor = returnee_persons = 0
        households, below = [0] * H, [0] * H  # refugee households by host, and those earning below the poverty line
        for a in self.households:
            held += a.detained * w
            if a.is_displaced():
                if a.location < H:
                    out[f"refugees_{places.hosts[a.location]}"] += a.persons
                    risk += a.perceived_risk
                    refugee_rows += 1
                    households[a.location] += 1
                    below[a.location] += a.income() < self.poverty_line
                else:
                    idps += a.persons
            elif a.status == RETURNED:
                returnees += a.persons
                returnee_persons += a.size
                poor += a.size if a.home_income() < self.poverty_line else 0
        f = self.flow
        surveyed = [h for h in range(H) if places.surveyed[h]]
        vol_refugees = sum(f[f"returns_voluntary_{h}"] for h in places.hosts)
        out |= {
            "refugees": sum(out[f"refugees_{h}"] for h in places.hosts),
            "idps": idps,
            "returnees": returnees,
            "detained_stock": held,
            "returns_voluntary": vol_refugees + f["returns_voluntary_idps"],
            "returns_voluntary_refugees": vol_refugees,
            "returns_forced": sum(f[f"returns_forced_{h}"] for h in places.hosts),
            "properties_confiscated": self.confiscated,
            "returnees_in_poverty_share": poor / returnee_persons if returnee_persons else 0.0,
            "mean_perceived_risk": risk / refugee_rows if refugee_rows else 0.0,
            "origin_livelihood_mean": sum(x * p for x, p in zip(self.livelihood, places.prewar, strict=True))
            / sum(places.prewar),
            "intend_return_12m_pct": _pct(self.intent, self.intent_n, range(H)),
            "intend_return_12m_pct_surveyed": _pct(self.intent, self.intent_n, surveyed),
            "hope_return_pct": _pct(self.hope, self.intent_n, range(H)),
            "hope_return_pct_surveyed": _pct(self.hope, self.intent_n, surveyed),
        }
        out |= {f"intend_return_12m_pct_{h}": _pct(self.intent, self.intent_n, [i]) for i, h in enumerate(places.hosts)}
        out |= {f"hope_return_pct_{h}": _pct(self.hope, self.intent_n, [i]) for i, h in enumerate(places.hosts)}
        out |= {f"in_poverty_pct_{h}": _pct(below, households, [i]) for i, h in enumerate(places.hosts)}
        out |= {k: f[k] for k in f if k not in out}
        return out

    def columns(self) -> dict[str, list]:
        """The households' attributes in row order (to compare with the vectorised population)."""
        return {name: [getattr(a, name) for a in self.households] for name in ATTRIBUTES}


FLOW_NAMES = (
    "returns_voluntary_idps",
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
    "properties_restituted",
    "births",
)


def flow_by_host(places: Places) -> list[str]:
    return [f"returns_{kind}_{h}" for kind in ("voluntary", "forced") for h in places.hosts]


def indicator_names(places: Places) -> list[str]:
    """The indicators the reference reports (the vectorised model's time-series columns but ``month``)."""
    return [
        "refugees",
        *(f"refugees_{h}" for h in places.hosts),
        "idps",
        "returnees",
        "detained_stock",
        "returns_voluntary",
        "returns_voluntary_refugees",
        "returns_forced",
        *FLOW_NAMES,
        *flow_by_host(places),
        "properties_confiscated",
        "returnees_in_poverty_share",
        "mean_perceived_risk",
        "origin_livelihood_mean",
        "intend_return_12m_pct",
        "intend_return_12m_pct_surveyed",
        "hope_return_pct",
        "hope_return_pct_surveyed",
        *(f"intend_return_12m_pct_{h}" for h in places.hosts),
        *(f"hope_return_pct_{h}" for h in places.hosts),
        *(f"in_poverty_pct_{h}" for h in places.hosts),
    ]


def _pct(intent: list[float], n: list[int], hosts) -> float:
    households = sum(n[h] for h in hosts)
    return 100.0 * sum(intent[h] for h in hosts) / households if households else 0.0


def _reporter(name: str):
    def report(model: ReferenceModel) -> float:
        return model.indicators[name]

    report.__name__ = f"report_{name}"
    return report
