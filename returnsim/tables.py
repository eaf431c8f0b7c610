"""Per-month tables by place cell: what depends only on where a household is.

A household's *place cell* (``State.cells``) combines its location, its origin region, its home's status and
whether a man of military age is present. Everything the transitions need that depends on those alone (incomes,
the place terms of the return utility, the return cost, whether the border is open) is computed here once a
month for every cell, by the same kernels as for one household (``returnsim.decision``), and gathered per row.
With 21 locations, 15 regions, 5 home statuses and 2 profiles there are 3 150 cells for 2.6 million rows.

>>> from returnsim.scenario import load_scenario
>>> from returnsim.geography import Geography
>>> from returnsim.levers import levers_at
>>> s = load_scenario("baseline"); g = Geography.from_scenario(s)
>>> tab = Tables.build(s, g, levers_at(s, g, 0), np.array([r.livelihood for r in s.regions.values()]))
>>> tab.income.shape == (g.n_locations * g.n_regions * 5 * 2,)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from returnsim import decision
from returnsim.geography import Geography
from returnsim.levers import Levers
from returnsim.population import PropertyStatus
from returnsim.scenario import Scenario

__all__ = ["Cells", "Tables"]

N_PROPERTY = len(PropertyStatus)


@dataclass(frozen=True)
class Cells:
    """The parts of every place cell, in cell order: location, origin, property status, military-age man."""

    location: np.ndarray
    origin: np.ndarray
    property: np.ndarray
    man: np.ndarray

    @classmethod
    def of(cls, g: Geography) -> Cells:
        R, P = g.n_regions, N_PROPERTY
        c = np.arange(g.n_locations * R * P * 2)
        return cls(location=c // (R * P * 2), origin=(c // (P * 2)) % R, property=(c // 2) % P, man=c % 2 == 1)

    def at_home(self, n_hosts: int) -> np.ndarray:
        return self.location == self.origin + n_hosts


def home_income(s: Scenario, livelihood: np.ndarray, origin, prop) -> np.ndarray:
    """Livelihood index at home per unit skill: the region's, less the housing penalty for a lost home."""
    loss = decision.property_loss_score(prop, s.property)
    return livelihood[origin] * (1.0 - s.property.housing_livelihood_penalty * loss)


def host_income(s: Scenario, lv: Levers) -> np.ndarray:
    """Livelihood index per unit skill in each host: earnings plus assistance."""
    return lv.host_livelihood + s.economy.host_aid_effect * lv.host_aid


def income_here(s: Scenario, g: Geography, lv: Levers, livelihood: np.ndarray, loc, origin, prop) -> np.ndarray:
    """Livelihood index per unit skill where a household lives: in a host, earnings plus assistance; at home,
    :func:`home_income`; elsewhere in Syria, the region's livelihood times the IDP factor."""
    nH = g.n_hosts
    loc, origin = np.asarray(loc), np.asarray(origin)
    region = np.maximum(loc - nH, 0)
    in_host = loc < nH
    host = host_income(s, lv)
    elsewhere = livelihood[region] * lv.idp_livelihood_factor
    out = np.where(in_host, host[np.minimum(loc, nH - 1)], elsewhere)
    home = loc == origin + nH
    return np.where(home, home_income(s, livelihood, origin, prop), out)


def by_location(g: Geography, host_values, idp_value) -> np.ndarray:
    """A table by location code: each host's value, then ``idp_value`` for every Syrian region."""
    host_values = np.asarray(host_values)
    return np.concatenate([host_values, np.full(g.n_regions, idp_value, host_values.dtype)])


@dataclass(frozen=True)
class Tables:
    """This month's values by place cell (float32 arrays indexed by ``State.cell``)."""

    place_inputs: decision.ReturnInputs  # the decision inputs that depend only on the cell
    hope_inputs: decision.HopeInputs  # the hope inputs that depend only on the cell
    income: np.ndarray  # livelihood index per unit skill where the row lives
    home_income: np.ndarray  # the same at home
    place_utility: np.ndarray  # place terms of the return utility (``decision.place_utility``)
    gap: np.ndarray  # home income minus income here, per unit skill (times skill: the livelihood gap)
    integration: np.ndarray  # integration level G of the place (times 1 - exp(-t/tau): the integration term)
    return_cost: np.ndarray
    border_open: np.ndarray  # share of the usual returns that can cross (1 open, 0 closed)
    reachable_cost: np.ndarray  # the return cost where the way home is open, infinite where it is closed
    overland: np.ndarray  # 1 where home is reached by land (the hosts with a land border, inside Syria), else 0
    hope_place: np.ndarray  # place terms of the hope logit (``decision.hope_place``)

    @classmethod
    def build(cls, s: Scenario, g: Geography, lv: Levers, livelihood: np.ndarray) -> Tables:
        c = Cells.of(g)
        here = income_here(s, g, lv, livelihood, c.location, c.origin, c.property)
        home = home_income(s, livelihood, c.origin, c.property)
        ctrl = lv.controller[c.origin]
        loss = decision.property_loss_score(c.property, s.property)
        x = decision.ReturnInputs(
            pressure=by_location(g, lv.host_pressure, lv.idp_pressure)[c.location],
            violence=lv.violence[ctrl],
            conscription=c.man * lv.conscription[ctrl],
            property_loss=loss,
            host_violence=by_location(g, lv.host_violence, 0.0)[c.location],
            services=1.0 - lv.services[c.origin],
            internal=(c.location >= g.n_hosts).astype(float),
            # who rules, as the household weighs it: the fall counts by how far its home's controller depended on it
            regime=1.0 - lv.regime_exposure[ctrl] * (1.0 - lv.regime),
        )
        h = decision.HopeInputs(
            livelihood=livelihood[c.origin], violence=lv.violence[ctrl], property_loss=loss, regime=x.regime
        )

        # a return across a front line (home held by a controller the host's crossings do not lead to) costs more;
        # fleeing a war in the host costs less than a planned journey: the cost falls with violence there
        abroad = c.location < g.n_hosts
        detour = np.where(abroad, lv.cross_line_cost[np.minimum(c.location, g.n_hosts - 1), ctrl], 0.0)
        cost = (by_location(g, lv.host_return_cost, lv.idp_return_cost)[c.location] + detour) * (1.0 - x.host_violence)
        open_ = by_location(g, lv.host_border, 1.0)[c.location]

        def f32(a) -> np.ndarray:
            return np.ascontiguousarray(a, np.float32)

        return cls(
            place_inputs=x,
            hope_inputs=h,
            income=f32(here),
            home_income=f32(home),
            place_utility=f32(decision.place_utility(x, s.decision)),
            gap=f32(home - here),
            integration=f32(by_location(g, lv.host_integration, lv.idp_integration)[c.location]),
            return_cost=f32(cost),
            border_open=f32(open_),
            reachable_cost=f32(np.where(open_ > 0, cost, np.inf)),
            overland=f32(by_location(g, g.host_overland.astype(float), 1.0)[c.location]),
            hope_place=f32(decision.hope_place(h, s.hope)),
        )
