"""Household state as numpy columns, and synthesis of the initial population.

Each row is one agent standing for ``households_per_agent`` identical households (``weight``);
``size`` is persons per household, so the persons a row holds are ``size * weight``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

from returnsim.decision import detention_probability
from returnsim.geography import Geography
from returnsim.levers import Levers
from returnsim.scenario import Scenario


class Status(IntEnum):
    DISPLACED = 0  # away from home and not yet back since the start (deportees sent elsewhere included)
    RETURNED = 1  # living back in the origin region
    DETAINED = 2  # every member held by security services after return (nobody left at home)
    REDISPLACED = 3  # returned, then displaced again
    STAYER = 4  # never displaced yet: people at home who flee or arrive in a host during the run (events)
    DEPARTED = 5  # left a host's register without a verified return (deregistration): no longer followed


class PropertyStatus(IntEnum):
    INTACT = 0
    DAMAGED = 1
    DESTROYED = 2
    OCCUPIED = 3
    CONFISCATED = 4


#: ``arrived`` of a household that has not returned or been deported since the start
NEVER = np.iinfo(np.int16).min


@dataclass
class Population:
    """One array per attribute, one entry per agent row."""

    location: np.ndarray  # int16: host number, or n_hosts + region number
    origin: np.ndarray  # int16: region number
    size: np.ndarray  # int8: persons per household, not counting members in detention
    military_age_man: np.ndarray  # bool
    single_man: np.ndarray  # bool: the household is one man of military age
    exposed: np.ndarray  # bool: politically exposed (wanted, profiled)
    registered: np.ndarray  # bool: registration / legal residency in the host
    property: np.ndarray  # int8: PropertyStatus
    skill: np.ndarray  # float32: earning ability, multiplies livelihood indices
    savings: np.ndarray  # float32: months of basic expenses
    months_displaced: np.ndarray  # int16
    perceived_risk: np.ndarray  # float32: perceived probability of detention on return
    info_confidence: np.ndarray  # float32 in [0, 1]
    attachment: np.ndarray  # float32 in [0, 1]
    status: np.ndarray  # int8: Status
    forced: np.ndarray  # bool: the last return was a deportation
    detained: np.ndarray  # int8: members held in detention (one taken at each arrest)
    arrived: np.ndarray  # int16: month index of the household's last return or deportation (NEVER: none yet)
    return_due: np.ndarray  # int16: month index in which a household displaced for a short while goes back (NEVER)
    weight: int  # households per row

    def __len__(self) -> int:
        return len(self.location)

    @property
    def persons(self) -> np.ndarray:
        """Persons living in each row's households (size times households per row; detainees not counted)."""
        return self.size.astype(np.int64) * self.weight

    @property
    def persons_detained(self) -> np.ndarray:
        """Persons of each row held in detention."""
        return self.detained.astype(np.int64) * self.weight

    def columns(self) -> dict[str, np.ndarray]:
        """The per-row columns by name (for snapshots and tests)."""
        return {name: getattr(self, name) for name in COLUMNS}

    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.columns().values())


#: names of the per-row columns, in declaration order (everything but ``weight``)
COLUMNS = tuple(f.name for f in fields(Population) if f.name != "weight")


def _draw_sizes(rng: np.random.Generator, single: np.ndarray, mean: float, single_share: float, cap: int) -> np.ndarray:
    """Household sizes with overall mean ``mean``: single men are 1, others 1 + Poisson, capped at ``cap``."""
    others_mean = (mean - single_share) / max(1.0 - single_share, 1e-9)
    size = np.minimum(1 + rng.poisson(max(others_mean - 1.0, 0.0), len(single)), cap).astype(np.int8)
    size[single] = 1
    return size


def _n_rows(persons: float, mean_size: float, weight: int) -> int:
    return round(persons / (mean_size * weight))


def synthesize(
    s: Scenario,
    g: Geography,
    levers: Levers,
    rng: np.random.Generator,
    weight: int,
    stayers: np.ndarray | None = None,
    stayer_rng: np.random.Generator | None = None,
) -> Population:
    """Draw the initial population: refugees by host and IDPs, with origins from the scenario; then, after
    them, households who have not left home (yet) but whom events will displace or register in a host:
    ``stayers`` persons by region (:func:`stayers_needed`), drawn from a generator of their own (``stayer_rng``)
    so that the rows before them are the same whatever events a scenario adds.

    ``levers`` are those of the first month (initial perceived risk starts from the detention risk then);
    ``rng`` is the population's own generator, so that it is the same whatever policies a scenario adds.
    """
    pop_cfg = s.population
    regions = g.region_names
    nH = g.n_hosts
    locations, origins = [], []

    def shares(table: dict[str, float]) -> np.ndarray:
        w = np.array([table.get(r, 0.0) for r in regions], float)
        return w / w.sum()

    for h, host in enumerate(s.hosts.values()):
        n = _n_rows(host.refugees, pop_cfg.persons_per_household, weight)
        if n == 0:
            continue
        locations.append(np.full(n, h, np.int16))
        origins.append(rng.choice(len(regions), size=n, p=shares(host.origin_shares)).astype(np.int16))
    n_idp = _n_rows(s.idps.persons, pop_cfg.persons_per_household, weight)
    if n_idp:
        o = rng.choice(len(regions), size=n_idp, p=shares(s.idps.origin_shares)).astype(np.int16)
        loc_w = shares(s.idps.location_shares)
        # IDPs live away from home: draw a location from the shares with the origin removed.
        cond = np.tile(loc_w, (len(regions), 1))
        np.fill_diagonal(cond, 0.0)
        empty = cond.sum(axis=1) == 0
        cond[empty] = 1.0 - np.eye(len(regions))[empty]
        cum = np.cumsum(cond / cond.sum(axis=1, keepdims=True), axis=1)
        loc = (rng.random(n_idp)[:, None] > cum[o]).sum(axis=1)
        locations.append((nH + np.minimum(loc, len(regions) - 1)).astype(np.int16))
        origins.append(o)

    location = np.concatenate(locations) if locations else np.zeros(0, np.int16)
    origin = np.concatenate(origins) if origins else np.zeros(0, np.int16)
    pop = _households(s, g, levers, rng, weight, location, origin, np.zeros(len(location), np.int8))
    if stayers is None or not stayers.any():
        return pop
    # a tenth more than the persons need, and one more row, so that households' random sizes do not run short
    rows = np.ceil(1.1 * stayers / (pop_cfg.persons_per_household * weight)).astype(np.int64) + (stayers > 0)
    origin = np.repeat(np.arange(len(regions), dtype=np.int16), rows)
    status = np.full(len(origin), Status.STAYER, np.int8)
    extra = _households(s, g, levers, stayer_rng, weight, (origin + nH).astype(np.int16), origin, status)
    extra.registered[:] = False  # months_displaced stays as drawn: late registrants have been away for years
    return Population(**{n: np.concatenate([getattr(pop, n), getattr(extra, n)]) for n in COLUMNS}, weight=weight)


def stayers_needed(s: Scenario, g: Geography) -> np.ndarray:
    """Persons by region whom the scenario's events will displace from home (``new_displacement``) or register
    in a host (``registration``, by its origin shares)."""
    from returnsim.scenario import NewDisplacementEvent, RegistrationEvent

    out = np.zeros(g.n_regions)
    for e in s.events:
        if isinstance(e, NewDisplacementEvent):
            out[g.region(e.region)] += e.persons
        elif isinstance(e, RegistrationEvent):
            table = e.origin_shares or s.hosts[e.host].origin_shares
            weights = np.array([table.get(r, 0.0) for r in g.region_names], float)
            out += e.persons * weights / weights.sum()
    return out


def _households(s: Scenario, g: Geography, levers: Levers, rng, weight: int, location, origin, status) -> Population:
    """Households at ``location`` from ``origin`` with ``status``, their other attributes drawn."""
    pop_cfg = s.population
    nH, n = g.n_hosts, len(location)
    mam = rng.random(n) < pop_cfg.military_age_man_share
    single = mam & (rng.random(n) < pop_cfg.single_man_share / max(pop_cfg.military_age_man_share, 1e-9))
    size = _draw_sizes(rng, single, pop_cfg.persons_per_household, pop_cfg.single_man_share, pop_cfg.max_household_size)
    former = g.former_opposition[origin]
    exposed_p = np.where(former, pop_cfg.political_exposure_former_opposition, pop_cfg.political_exposure_other)
    exposed = rng.random(n) < exposed_p
    reg_share = np.append([h.registered_share for h in s.hosts.values()], 1.0)
    registered = rng.random(n) < reg_share[np.minimum(location, nH)]

    property_status = _draw_property(s, origin, rng)
    base_risk = levers.detention_on_return[levers.controller[origin]]
    actual = detention_probability(base_risk, mam, exposed, False, s.security)
    return Population(
        location=location,
        origin=origin,
        size=size,
        military_age_man=mam,
        single_man=single,
        exposed=exposed,
        registered=registered,
        property=property_status,
        perceived_risk=np.minimum(actual * pop_cfg.initial_risk_bias, 1.0).astype(np.float32),
        **draw_traits(pop_cfg, rng, n),
        status=np.asarray(status, np.int8),
        detained=np.zeros(n, np.int8),
        forced=np.zeros(n, bool),
        arrived=np.full(n, NEVER, np.int16),
        return_due=np.full(n, NEVER, np.int16),
        weight=weight,
    )


def draw_traits(pop_cfg, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The traits of ``n`` households (the columns it returns, drawn from ``pop_cfg``'s distributions in this
    order): what the start's selection of who has stayed draws again."""
    return {
        "skill": rng.lognormal(-0.5 * pop_cfg.skill_sigma**2, pop_cfg.skill_sigma, n).astype(np.float32),
        "savings": rng.exponential(pop_cfg.savings_mean, n).astype(np.float32),
        "months_displaced": rng.integers(pop_cfg.months_displaced_min, pop_cfg.months_displaced_max + 1, n).astype(
            np.int16
        ),
        "info_confidence": _beta_mean(rng, pop_cfg.info_confidence_mean, n, pop_cfg.trait_concentration),
        "attachment": _beta_mean(rng, pop_cfg.attachment_mean, n, pop_cfg.trait_concentration),
    }


def _beta_mean(rng: np.random.Generator, mean: float, n: int, concentration: float) -> np.ndarray:
    """Beta draws with the given mean; ``concentration`` (a + b) sets the spread: 4 is broad."""
    if mean <= 0.0 or mean >= 1.0:
        return np.full(n, mean, np.float32)
    return rng.beta(mean * concentration, (1 - mean) * concentration, n).astype(np.float32)


def _draw_property(s: Scenario, origin: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Property status from each origin region's damaged / destroyed / occupied shares."""
    r = list(s.regions.values())
    damaged = np.array([x.damaged_share for x in r])[origin]
    destroyed = np.array([x.destroyed_share for x in r])[origin]
    occupied = np.array([x.occupied_share for x in r])[origin]
    u = rng.random(len(origin))
    out = np.full(len(origin), PropertyStatus.INTACT, np.int8)
    out[u < damaged + destroyed + occupied] = PropertyStatus.OCCUPIED
    out[u < damaged + destroyed] = PropertyStatus.DESTROYED
    out[u < damaged] = PropertyStatus.DAMAGED
    return out
