"""Per-agent reference implementation of ``ReturnModel``'s monthly rules, written the idiomatic Mesa way.

Every household is a ``RefHousehold(mesa.Agent)`` holding its own state in plain Python attributes, and
``RefHousehold.step()`` works out *its own* month in Python: it computes its return probability, draws with
``self.random``, and moves, is deported, detained, released or displaced again. The model calls
``self.agents.shuffle_do("step")`` and then ``self.agents.do("learn")`` (news from ties, once everyone has
moved), and collects indicators with a ``mesa.DataCollector`` whose reporters loop over the agents.

It exists for two things (issue 4): to measure how much faster the vectorised model is, and to check that
the vectorised kernels implement the same rules (``tests/test_reference.py``).

The equations are those of ``returnsim.decision`` (see its module docstring), **re-implemented in plain
Python** with ``math.exp`` rather than calling the numpy kernels on scalars: that is how a per-agent Mesa
model would be written, and it is the faster of the two per-agent styles, so the speed ratio is not
flattered. The place-level state (``returnsim.places.Places``: livelihoods, controllers, policy levers) and
its monthly economy update are shared with the vectorised model; they are model-level, not per household.
So are timed policy events (``returnsim.policies``) that change places; events that act on households
directly (a deportation quota, an amnesty's announcement, conflict displacement) raise ``NotImplementedError``
in the month they come into force.

Usage::

    vec = ReturnModel(load_scenario("baseline"), seed=1, households_per_agent=200, agents=False)
    ref = ReferenceModel.from_model(vec, seed=7)  # the same initial population, agent by agent
    ref.step()
"""

from __future__ import annotations

import math

import mesa
import numpy as np
from returnsim.places import ORIGIN, Places
from returnsim.policies import Policies

from returnsim.model import ReturnModel, month_label
from returnsim.population import COLUMNS, PropertyStatus, Status

DISPLACED, RETURNED, DETAINED, REDISPLACED = (int(s) for s in Status)
CONFISCATED, OCCUPIED, INTACT = int(PropertyStatus.CONFISCATED), int(PropertyStatus.OCCUPIED), 0
_CONFISCABLE = (int(PropertyStatus.INTACT), int(PropertyStatus.DAMAGED), int(PropertyStatus.DESTROYED))

#: the per-household state, as in ``returnsim.population.Population``
STATE = COLUMNS


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class RefHousehold(mesa.Agent):
    """One row of the population as a Mesa agent with its own attributes and its own monthly step."""

    def __init__(self, model: ReferenceModel, **state):
        super().__init__(model)
        for name in STATE:
            setattr(self, name, state[name])
        self.ties: list[RefHousehold] = []
        self.network_share = 0.0  # share of ties back home, heard at the end of last month

    # --------------------------------------------------------------------------- rules

    @property
    def persons(self) -> int:
        return self.size * self.model.weight

    def displaced(self) -> bool:
        return self.status == DISPLACED or self.status == REDISPLACED

    def income(self) -> float:
        """Livelihood index where the household lives now, times its skill (``ReturnModel.income``)."""
        m = self.model
        if self.location < m.nH:
            base = m.host_livelihood[self.location]
        elif self.location == self.origin + m.nH:
            base = m.livelihood[self.origin] * (1.0 - m.housing_penalty * m.loss[self.property])
        else:
            base = m.livelihood[self.location - m.nH] * m.idp_livelihood_factor
        return base * self.skill

    def intention_and_probability(self) -> tuple[float, float]:
        """This month's hazard of intending to return and probability of returning (``returnsim.decision``)."""
        m, b = self.model, self.model.b
        in_host = self.location < m.nH
        h = self.location
        loss = m.loss[self.property]
        there = m.livelihood[self.origin] * self.skill * (1.0 - m.housing_penalty * loss)
        ctrl = m.controller[self.origin]
        months = self.months_displaced
        integration = (m.host_integration[h] if in_host else m.idp_integration) * (1.0 - math.exp(-months / m.tau))
        utility = (
            b.intercept
            + b.pressure * (m.host_pressure[h] if in_host else m.idp_pressure)
            + b.livelihood * (there - self.income())
            - b.detention_risk * self.perceived_risk
            - b.violence * m.violence[ctrl]
            - b.conscription * (self.military_age_man and m.conscription[ctrl])
            - b.property_loss * loss
            + b.network * self.network_share
            + b.attachment * self.attachment
            - b.integration * integration
            + b.host_violence * (m.host_violence[h] if in_host else 0.0)
        )
        q = _sigmoid(utility)
        cost = m.host_return_cost[h] if in_host else m.idp_return_cost
        border_open = m.host_border_open[h] if in_host else True
        f = _sigmoid(b.feasibility_slope * (self.savings - cost)) if border_open else 0.0
        return q, q * f

    def detention_probability(self, base_table: list[float], controller: int, forced: bool) -> float:
        """``decision.detention_probability`` with ``Places.detention_base`` for this household's profile."""
        m, sec = self.model, self.model.security
        profile = int(self.military_age_man) + 2 * int(self.exposed)
        p = base_table[controller] * m.detention_factor[controller][profile]
        if self.military_age_man:
            p *= sec.military_age_multiplier
        if self.exposed:
            p *= sec.political_exposure_multiplier
        if forced:
            p *= sec.forced_return_multiplier
        return min(p, 1.0)

    def step(self) -> None:
        """This household's month: decide, be deported, face security services, stay or leave again."""
        m, rnd = self.model, self.random
        status = self.status
        held = self.detained > 0  # a member in detention at the start of the month
        arrived = arrest = False
        if status in (DISPLACED, REDISPLACED):
            in_host = self.location < m.nH
            q, p = self.intention_and_probability()
            if in_host:
                m.intent_sum += 1.0 - (1.0 - q) ** 12
                m.intent_n += 1
            if rnd.random() < p:  # voluntary return
                cost = m.host_return_cost[self.location] if in_host else m.idp_return_cost
                self.savings = max(self.savings - cost, 0.0)
                m.flow["returns_voluntary"] += self.persons
                m.flow["returns_voluntary_refugees" if in_host else "returns_voluntary_idps"] += self.persons
                self.location, self.status, self.forced = self.origin + m.nH, RETURNED, False
                arrived = True
            elif in_host and self._targeted() and rnd.random() < m.deportation_rate[self.location]:
                dest = m.deportation_destination[self.location]
                dest = self.origin if dest == ORIGIN else dest
                m.flow["returns_forced"] += self.persons
                self.location, self.forced = dest + m.nH, True
                if dest == self.origin:
                    self.status = RETURNED
                else:
                    self.months_displaced = 0
                arrived = True
            if arrived:
                region = self.location - m.nH
                m.inflow[region] += self.persons
                p_arr = self.detention_probability(m.detention_on_return, m.controller[region], self.forced)
                if rnd.random() < p_arr:
                    arrest = True
                    m.flow["detained_on_arrival"] += m.weight
        elif status == RETURNED:
            p_month = self.detention_probability(m.detention_monthly, m.controller[self.origin], False)
            arrest = rnd.random() < p_month
        if held and rnd.random() < m.release_monthly:  # one member released, rejoins the household
            self.detained -= 1
            self.size += 1
            if self.status == DETAINED:
                self.status = RETURNED if self.location == self.origin + m.nH else REDISPLACED
            m.flow["released"] += m.weight
        if arrest:  # one member taken; nobody left at liberty: the household is wholly detained
            self.detained += 1
            self.size -= 1
            if self.size == 0:
                self.status = DETAINED
            m.flow["detained"] += m.weight

        if self.status == RETURNED and not arrived:  # displaced again?
            r = m.redisplacement
            gap = max(m.poverty_line - self.income(), 0.0)
            ctrl = m.controller[self.origin]
            hazard = _sigmoid(
                r.intercept + r.violence * m.violence[ctrl] + r.poverty * gap + r.property_loss * m.loss[self.property]
            )
            if rnd.random() < hazard:
                self.location = m.displacement_destination[self.origin] + m.nH
                self.status, self.months_displaced = REDISPLACED, 0
                m.flow["redisplaced"] += self.persons

        # property: absentee confiscation, restitution
        hazard = m.confiscation_hazard[self.origin] * (1.0 - m.claim_success)
        absent = self.location != self.origin + m.nH
        if hazard > 0 and absent and self.property in _CONFISCABLE and rnd.random() < hazard:
            self.property = CONFISCATED
            m.confiscated += m.weight
        restitution = m.restitution_monthly
        if restitution > 0 and self.property in (CONFISCATED, OCCUPIED) and rnd.random() < restitution:
            self.property = INTACT
            m.flow["properties_restituted"] += m.weight

        # livelihood, time displaced, natural increase
        if self.status != DETAINED:
            saved = self.savings + m.saving_rate * (self.income() - m.poverty_line)
            self.savings = min(max(saved, 0.0), m.savings_max)
        if self.displaced():
            self.months_displaced += 1
            if m.growth_monthly > 0 and rnd.random() < self.size * m.growth_monthly and self.size < m.max_size:
                self.size += 1
                m.flow["births"] += m.weight

    def _targeted(self) -> bool:
        target = self.model.deportation_targeting[self.location]
        return (
            target == 0
            or (target == 1 and not self.registered)
            or (target == 2 and self.military_age_man)
            or (target == 3 and self.single_man)
        )

    def learn(self) -> None:
        """News from ties (after everyone has moved): share back home, and perceived risk if displaced."""
        m, cfg = self.model, self.model.network_cfg
        back = sum(1 for t in self.ties if t.status == RETURNED and not t.detained)
        detained = sum(1 for t in self.ties if t.detained)
        self.network_share = back / len(self.ties) if self.ties else 0.0
        if not self.displaced():
            return
        r = self.perceived_risk
        true_risk = self.detention_probability(m.detention_on_return, m.controller[self.origin], False)
        heard = back + detained
        learn = cfg.learning_rate * self.info_confidence if heard else 0.0
        signal = detained / heard if heard else 0.0
        self.perceived_risk = min(max(r + learn * (signal - r) + cfg.media_rate * (true_risk - r), 0.0), 1.0)


class ReferenceModel(mesa.Model):
    """The same monthly rules as ``ReturnModel``, one ``RefHousehold.step()`` at a time.

    Build it from a vectorised model so both start from the same population (:meth:`from_model`).
    """

    def __init__(self, scenario, places, columns: dict[str, np.ndarray], ties: np.ndarray, weight: int, seed: int):
        super().__init__(rng=seed)
        self.params, self.places, self.weight = scenario, places, weight
        self.policies = Policies(scenario, places)
        s = scenario
        self.nH = places.n_hosts
        self.b, self.security, self.redisplacement = s.decision, s.security, s.redisplacement
        self.network_cfg = s.network
        self.tau = s.decision.integration_months
        self.loss = [0.0, s.property.loss_damaged, s.property.loss_destroyed, s.property.loss_occupied]
        self.loss.append(s.property.loss_confiscated)
        self.housing_penalty = s.property.housing_livelihood_penalty
        self.claim_success = s.property.claim_success
        self.idp_pressure, self.idp_integration = s.idps.pressure, s.idps.integration
        self.idp_return_cost, self.idp_livelihood_factor = s.idps.return_cost, s.idps.livelihood_factor
        e = s.economy
        self.poverty_line, self.saving_rate, self.savings_max = e.poverty_line, e.saving_rate, e.savings_max
        self.release_monthly = s.security.release_monthly
        self.growth_monthly = (1.0 + s.population.growth_annual) ** (1.0 / 12.0) - 1.0
        self.max_size = s.population.max_household_size
        self.month_index = 0
        self.month = month_label(s.simulation.start, 0)
        self.inflow = [0.0] * places.n_regions
        self.confiscated = 0
        self.flow: dict[str, float] = {}
        self.intent_sum = self.intent_n = 0.0

        values = {name: columns[name].tolist() for name in STATE}  # numpy scalars -> Python int/float/bool
        RefHousehold.create_agents(self, len(ties), **values)
        households = list(self.agents)  # creation order = row order
        for agent, row in zip(households, ties.tolist(), strict=True):
            agent.ties = [households[j] for j in row]
        self.households = households
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "month": "month",
                "refugees": lambda m: sum(a.persons for a in m.agents if a.displaced() and a.location < m.nH),
                "idps": lambda m: sum(a.persons for a in m.agents if a.displaced() and a.location >= m.nH),
                "returnees": lambda m: sum(a.persons for a in m.agents if a.status == RETURNED),
                "detained_stock": lambda m: sum(a.detained for a in m.agents) * m.weight,
                "returns_voluntary": lambda m: m.flow["returns_voluntary"],
                "returns_forced": lambda m: m.flow["returns_forced"],
                "detained": lambda m: m.flow["detained"],
                "redisplaced": lambda m: m.flow["redisplaced"],
                "detained_on_arrival": lambda m: m.flow["detained_on_arrival"],
                "released": lambda m: m.flow["released"],
                "births": lambda m: m.flow["births"],
                "intend_return_12m_pct": lambda m: 100.0 * m.intent_sum / m.intent_n if m.intent_n else 0.0,
                "properties_confiscated": "confiscated",
            }
        )

    @classmethod
    def from_model(cls, model: ReturnModel, seed: int) -> ReferenceModel:
        """A reference model with the population and ties of ``model`` (not yet stepped), drawing from ``seed``."""
        if model.month_index != 0:
            raise ValueError("build the reference from a model that has not been stepped yet")
        cols = {k: v.copy() for k, v in model.population.columns().items()}
        places = Places.from_scenario(model.params)
        return cls(model.params, places, cols, model.ties, model.population.weight, seed)

    @property
    def population(self):
        """Events that act on the household columns cannot act on per-agent state."""
        raise NotImplementedError(
            f"{self.month}: the per-agent reference implements events that change places only, "
            "not events that act on households directly"
        )

    def _read_places(self) -> None:
        """This month's place-level state as plain Python lists (read by every household)."""
        pl = self.places
        for name in (
            "host_pressure",
            "host_integration",
            "host_return_cost",
            "host_border_open",
            "host_violence",
            "deportation_rate",
            "deportation_targeting",
            "deportation_destination",
            "controller",
            "livelihood",
            "displacement_destination",
            "confiscation_hazard",
            "detention_on_return",
            "detention_monthly",
            "violence",
            "conscription",
            "detention_factor",
        ):
            setattr(self, name, np.asarray(getattr(pl, name)).tolist())
        self.host_livelihood = pl.host_livelihood(self.params.economy.host_aid_effect).tolist()
        self.restitution_monthly = float(pl.restitution_monthly)

    def step(self) -> None:
        """One month: events and the economy, every household steps in random order, then everyone hears the news."""
        self.begin_month()
        self.agents.shuffle_do("step")
        self.agents.do("learn")
        self.datacollector.collect(self)
        self.month_index += 1

    def begin_month(self) -> None:
        """Model-level start of a month (as in ``ReturnModel.step``): events in force, then the economy."""
        self.month = month_label(self.params.simulation.start, self.month_index)
        self.flow = dict.fromkeys(
            ("returns_voluntary", "returns_voluntary_refugees", "returns_voluntary_idps", "returns_forced"), 0.0
        )
        self.flow.update(dict.fromkeys(("detained", "detained_on_arrival", "released", "redisplaced"), 0.0))
        self.flow["properties_restituted"] = self.flow["births"] = 0.0
        self.intent_sum = self.intent_n = 0.0
        self.policies.apply(self)
        self.places.update_economy(self.params, np.asarray(self.inflow))
        self._read_places()
        self.inflow = [0.0] * self.places.n_regions

    def columns(self) -> dict[str, np.ndarray]:
        """The households' state as arrays in row order (to compare with ``ReturnModel.population``)."""
        return {name: np.array([getattr(a, name) for a in self.households]) for name in STATE}
