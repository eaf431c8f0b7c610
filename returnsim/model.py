"""``ReturnModel``: one step is one calendar month, vectorised over every household.

The order of a month (docs/ODD.md, "Process overview and scheduling"):

0. timed policy events in force set this month's policy levers (``policies.Policies.apply``);
1. origin economies move towards their targets, strained by last month's returnee inflow;
2. displaced households decide whether to return (``decision.return_probability``);
3. host countries deport households by their policy (rate, targeting, destination);
4. arrivals may be detained on arrival; returnees face a monthly detention hazard; detainees
   may be released;
5. returnees may be displaced again when security or livelihood fails;
6. absentee property may be confiscated, and restituted where a programme runs;
7. savings and months displaced move on; displaced households grow (``population.growth_annual``);
8. households hear what happened to their ties who returned, and update perceived risk;
9. indicators are computed from the columns and collected.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

import mesa
import numpy as np

from returnsim import decision, network, reporters
from returnsim._malloc import retain_freed_memory
from returnsim.agents import Household
from returnsim.places import ORIGIN, Places, deportation_eligible
from returnsim.policies import Policies
from returnsim.population import Population, PropertyStatus, Status, grow_households, synthesize
from returnsim.scenario import Scenario

_ABSENT_CONFISCABLE = (PropertyStatus.INTACT, PropertyStatus.DAMAGED, PropertyStatus.DESTROYED)


def month_label(start: str, offset: int) -> str:
    """``month_label("2017-01", 13) == "2018-02"``."""
    year, month = map(int, start.split("-"))
    total = year * 12 + (month - 1) + offset
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


class ReturnModel(mesa.Model):
    """Syrian households deciding each month whether to go home.

    Args:
        scenario: a validated scenario (``returnsim.load_scenario``).
        seed: seed of the run's one random generator (default: the scenario's).
        households_per_agent: households each agent stands for (default: the scenario's).
        agents: create one ``Household`` Mesa agent per row (turn off for speed when only
            aggregate indicators are wanted).

    >>> from returnsim import load_scenario
    >>> m = ReturnModel(load_scenario("baseline"), seed=1, households_per_agent=1000)
    >>> m.step(); m.month
    '2017-01'
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        households_per_agent: int | None = None,
        agents: bool = True,
    ):
        self.seed = scenario.simulation.seed if seed is None else seed
        super().__init__(rng=self.seed)
        self.params = scenario
        self.places = Places.from_scenario(scenario)
        weight = households_per_agent or scenario.simulation.households_per_agent
        self.population: Population = synthesize(scenario, self.places, self.rng, weight)
        if len(self.population) >= 100_000:
            retain_freed_memory()  # speed at scale: reuse freed temporaries (see returnsim/_malloc.py)
        self.ties = network.build_ties(self.population.origin, scenario.network, self.rng)
        self.policies = Policies(scenario, self.places)
        self.month_index = 0
        self.month = month_label(scenario.simulation.start, 0)
        self.initial_persons_by_origin = self.persons_by_origin()
        self.births_by_origin = np.zeros(self.places.n_regions, np.int64)  # persons born since the start
        self.initial_persons_by_location = self.persons_by_location()
        self._network_share = np.zeros(len(self.population), np.float32)
        self._inflow = np.zeros(self.places.n_regions)  # persons arriving per region last month
        self.flows: dict[str, float] = {}
        self.cumulative = {"properties_confiscated": 0}
        # persons who left each location since the start: hosts, then one bucket for all IDP locations
        self.departed_voluntary = np.zeros(self.places.n_hosts + 1)
        self.departed_forced = np.zeros(self.places.n_hosts + 1)
        self.indicators: dict[str, float] = {}
        self.first_household_id = self.agent_id_counter
        if agents:
            collecting = gc.isenabled()
            gc.disable()  # millions of new objects and no garbage: cyclic collection would only slow this (~25 %)
            try:
                for _ in range(len(self.population)):
                    Household(self)
            finally:
                if collecting:
                    gc.enable()
        self.datacollector = mesa.DataCollector(model_reporters=reporters.model_reporters(self))

    # ------------------------------------------------------------------------ helpers

    @property
    def n_hosts(self) -> int:
        return self.places.n_hosts

    def location_name(self, code: int) -> str:
        nH = self.n_hosts
        return self.places.host_names[code] if code < nH else self.places.region_names[code - nH]

    def persons_by_origin(self) -> np.ndarray:
        """Persons by origin region, members in detention included."""
        pop = self.population
        return np.bincount(pop.origin, weights=pop.persons + pop.persons_detained, minlength=self.places.n_regions)

    def persons_by_location(self) -> np.ndarray:
        """Displaced persons in each host, and in the last entry all IDPs together."""
        pop, nH = self.population, self.n_hosts
        displaced = self.is_displaced()
        return np.bincount(np.minimum(pop.location[displaced], nH), weights=pop.persons[displaced], minlength=nH + 1)

    def is_displaced(self) -> np.ndarray:
        s = self.population.status
        return (s == Status.DISPLACED) | (s == Status.REDISPLACED)

    def income(self, rows) -> np.ndarray:
        """Livelihood index where each row lives now (host, IDP location or home)."""
        pop = self.population
        return self._income(pop.location[rows], pop.origin[rows], pop.property[rows], pop.skill[rows])

    # Speed (benchmarks/README.md): what depends only on a row's place and property status is computed
    # once per month in small tables and gathered, instead of being evaluated element by element.

    def _by_location(self, host_values: np.ndarray, idp_value) -> np.ndarray:
        """A table by location code: each host's value, then ``idp_value`` for every Syrian region."""
        return np.concatenate([host_values, np.full(self.places.n_regions, idp_value, host_values.dtype)])

    def _income(self, loc, origin, prop, skill) -> np.ndarray:
        """``income`` from gathered columns: in a host its livelihood; at home the region's, less the
        housing penalty; elsewhere in Syria the region's times the IDP factor; all times skill."""
        pl, s = self.places, self.params
        nH, R, P = self.n_hosts, pl.n_regions, len(PropertyStatus)
        loss = decision.property_loss_score(np.arange(P), s.property)
        table = np.empty((nH + R, R, P))
        table[:nH] = pl.host_livelihood(s.economy.host_aid_effect)[:, None, None]
        table[nH:] = (pl.livelihood * s.idps.livelihood_factor)[:, None, None]
        table[nH + np.arange(R), np.arange(R)] = pl.livelihood[:, None] * (
            1.0 - s.property.housing_livelihood_penalty * loss
        )
        cell = loc.astype(np.intp)
        cell *= R
        cell += origin
        cell *= P
        cell += prop
        return table.reshape(-1)[cell] * skill

    def return_inputs(self, rows) -> decision.ReturnInputs:
        """Decision inputs of the given (displaced) rows, read from the columns and places."""
        pop, pl, s = self.population, self.places, self.params
        rows = np.asarray(rows)
        # native-integer indices once, for the many table look-ups below
        loc, origin, prop = (c[rows].astype(np.intp) for c in (pop.location, pop.origin, pop.property))
        skill = pop.skill[rows]
        loss_table = decision.property_loss_score(np.arange(len(PropertyStatus)), s.property)
        there = pl.livelihood[origin] * skill
        there *= (1.0 - s.property.housing_livelihood_penalty * loss_table)[prop]
        there -= self._income(loc, origin, prop, skill)
        months = pop.months_displaced[rows]
        settled = decision.integration(np.arange(int(months.max(initial=0)) + 1), 1.0, s.decision.integration_months)
        return decision.ReturnInputs(
            pressure=self._by_location(pl.host_pressure, s.idps.pressure)[loc],
            livelihood_gap=there,
            perceived_risk=pop.perceived_risk[rows],
            violence=pl.violence[pl.controller][origin],
            conscription=pop.military_age_man[rows] & pl.conscription[pl.controller][origin],
            property_loss=loss_table[prop],
            network=self._network_share[rows],
            attachment=pop.attachment[rows],
            integration=self._by_location(pl.host_integration, s.idps.integration)[loc] * settled[months],
            savings=pop.savings[rows],
            return_cost=self._by_location(pl.host_return_cost, s.idps.return_cost)[loc],
            border_open=self._by_location(pl.host_border_open, True)[loc],
            host_violence=self._by_location(pl.host_violence, 0.0)[loc],
        )

    def return_probabilities(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """This month's voluntary-return probability of each given row."""
        return decision.return_probability(self.return_inputs(rows), self.params.decision)

    def snapshot(self, rows=slice(None), labels: bool = False):
        """Agent-level state now, as a ``pandas.DataFrame`` with one line per row (agent): ``month``, ``row``,
        ``weight`` and every population column. Take one at chosen months (e.g. from ``simulate``'s
        ``progress`` callback); the time series itself stays model-level. ``labels=True`` gives location,
        origin, status and property as categorical names instead of codes.

        >>> from returnsim import load_scenario
        >>> m = ReturnModel(load_scenario("baseline"), seed=1, households_per_agent=1000, agents=False)
        >>> snap = m.snapshot(labels=True)
        >>> len(snap) == len(m.population), str(snap.location[0]), str(snap.status[0])
        (True, 'turkey', 'displaced')
        """
        import pandas as pd

        pop = self.population
        index = np.arange(len(pop))[rows]
        frame = pd.DataFrame({"month": self.month, "row": index, "weight": pop.weight})
        for name, column in pop.columns().items():
            frame[name] = column[rows]
        if labels:
            pl = self.places
            names = {
                "location": pl.host_names + pl.region_names,
                "origin": pl.region_names,
                "status": [s.name.lower() for s in Status],
                "property": [s.name.lower() for s in PropertyStatus],
            }
            for name, categories in names.items():
                frame[name] = pd.Categorical.from_codes(frame[name].to_numpy(np.int64), categories=categories)
        return frame

    def true_detention_risk(self, rows=slice(None), forced=False) -> np.ndarray:
        """Detention probability on return home for each row's profile, under today's controllers."""
        pop = self.population
        origin, mam, exposed = pop.origin[rows], pop.military_age_man[rows], pop.exposed[rows]
        if np.ndim(forced) > 0:
            return self._detention_risk(origin, mam, exposed, forced)
        # Speed: the risk depends only on origin and profile, so compute it per (origin, man, exposed) and gather.
        R = self.places.n_regions
        mam_t, exposed_t = np.tile([False, True, False, True], R), np.tile([False, False, True, True], R)
        table = self._detention_risk(np.repeat(np.arange(R), 4), mam_t, exposed_t, forced)
        cell = np.asarray(origin, np.intp) * 4
        cell += mam
        cell += exposed
        cell += exposed
        return table[cell]

    def _detention_risk(self, origin, mam, exposed, forced) -> np.ndarray:
        pl = self.places
        base = pl.detention_base(pl.detention_on_return, pl.controller[origin], mam, exposed)
        return decision.detention_probability(base, mam, exposed, forced, self.params.security)

    # --------------------------------------------------------------------------- step

    def step(self) -> None:
        """Simulate one calendar month."""
        self.month = month_label(self.params.simulation.start, self.month_index)
        self.flows = dict.fromkeys(reporters.FLOW_KEYS, 0.0)
        self.policies.apply(self)
        self.places.update_economy(self.params, self._inflow)
        volunteers, deported = self._decide_and_deport()
        arrived = np.zeros(len(self.population), bool)
        arrived[volunteers] = arrived[deported] = True
        self._security(volunteers, deported, arrived)
        self._redisplacement(arrived)
        self._property()
        self._livelihoods()
        self._information()
        self.indicators = reporters.indicators(self)
        self.datacollector.collect(self)
        self.month_index += 1

    def _decide_and_deport(self) -> tuple[np.ndarray, np.ndarray]:
        pop, pl, s, rng = self.population, self.places, self.params, self.rng
        nH = self.n_hosts
        persons = pop.persons
        rows = np.flatnonzero(self.is_displaced())
        x = self.return_inputs(rows)
        q = decision.intention_hazard(x, s.decision)
        p = q * decision.feasibility(x.savings, x.return_cost, x.border_open, s.decision.feasibility_slope)
        in_host = pop.location[rows] < nH
        intend = 100.0 * decision.intend_within(q[in_host], 12)
        surveyed = pl.host_surveyed[pop.location[rows[in_host]]]
        self.flows["intend_return_12m_pct"] = float(intend.mean()) if len(intend) else 0.0
        self.flows["intend_return_12m_pct_surveyed"] = float(intend[surveyed].mean()) if surveyed.any() else 0.0
        go = rng.random(len(rows)) < p
        volunteers = rows[go]
        pop.savings[volunteers] = np.maximum(pop.savings[volunteers] - x.return_cost[go], 0.0)
        self.flows["returns_voluntary"] = persons[volunteers].sum()
        self.departed_voluntary += np.bincount(
            np.minimum(pop.location[volunteers], nH), weights=persons[volunteers], minlength=nH + 1
        )
        self.flows["returns_voluntary_refugees"] = persons[volunteers[in_host[go]]].sum()
        self.flows["returns_voluntary_idps"] = persons[volunteers[~in_host[go]]].sum()

        # deportation from hosts, among those who did not leave of their own accord
        stay = rows[~go & in_host]
        h = pop.location[stay]
        target = pl.deportation_targeting[h]
        eligible = deportation_eligible(target, pop.registered[stay], pop.military_age_man[stay], pop.single_man[stay])
        deported = stay[eligible & (rng.random(len(stay)) < pl.deportation_rate[h])]
        dest = pl.deportation_destination[pop.location[deported]]
        dest = np.where(dest == ORIGIN, pop.origin[deported], dest)
        self.flows["returns_forced"] = persons[deported].sum()
        self.departed_forced += np.bincount(pop.location[deported], weights=persons[deported], minlength=nH + 1)

        home = pop.origin[volunteers] + nH
        pop.location[volunteers] = home
        pop.status[volunteers] = Status.RETURNED
        pop.forced[volunteers] = False
        pop.location[deported] = dest + nH
        pop.forced[deported] = True
        deported_home = deported[dest == pop.origin[deported]]
        pop.status[deported_home] = Status.RETURNED
        pop.months_displaced[deported[dest != pop.origin[deported]]] = 0
        arrivals = np.concatenate([volunteers, deported])
        self._inflow = np.bincount(pop.location[arrivals] - nH, weights=persons[arrivals], minlength=pl.n_regions)
        return volunteers, deported

    def _security(self, volunteers: np.ndarray, deported: np.ndarray, arrived: np.ndarray) -> None:
        pop, pl, s, rng = self.population, self.places, self.params, self.rng
        nH = self.n_hosts
        arrivals = np.concatenate([volunteers, deported])
        forced = np.concatenate([np.zeros(len(volunteers), bool), np.ones(len(deported), bool)])
        ctrl_arr = pl.controller[pop.location[arrivals] - nH]
        p_arr = decision.detention_probability(
            pl.detention_base(pl.detention_on_return, ctrl_arr, pop.military_age_man[arrivals], pop.exposed[arrivals]),
            pop.military_age_man[arrivals],
            pop.exposed[arrivals],
            forced,
            s.security,
        )
        caught = arrivals[rng.random(len(arrivals)) < p_arr]

        settled = np.flatnonzero((pop.status == Status.RETURNED) & ~arrived)
        ctrl = pl.controller[pop.origin[settled]]
        p_month = decision.detention_probability(
            pl.detention_base(pl.detention_monthly, ctrl, pop.military_age_man[settled], pop.exposed[settled]),
            pop.military_age_man[settled],
            pop.exposed[settled],
            False,
            s.security,
        )
        caught_later = settled[rng.random(len(settled)) < p_month]

        # Release: at most one member of a household a month, who rejoins it where it now lives.
        held = np.flatnonzero(pop.detained > 0)
        released = held[rng.random(len(held)) < s.security.release_monthly]
        pop.detained[released] -= 1
        pop.size[released] += 1
        emptied = released[pop.status[released] == Status.DETAINED]
        at_home = pop.location[emptied] == pop.origin[emptied] + nH
        pop.status[emptied] = np.where(at_home, Status.RETURNED, Status.REDISPLACED)

        # An arrest takes one member; a household with nobody left at liberty is wholly detained.
        new = np.concatenate([caught, caught_later])
        pop.detained[new] += 1
        pop.size[new] -= 1
        pop.status[new[pop.size[new] == 0]] = Status.DETAINED
        self.flows["detained"] = float(len(new) * pop.weight)
        self.flows["detained_on_arrival"] = float(len(caught) * pop.weight)
        self.flows["released"] = float(len(released) * pop.weight)

    def _redisplacement(self, arrived: np.ndarray) -> None:
        pop, pl, s, rng = self.population, self.places, self.params, self.rng
        rows = np.flatnonzero((pop.status == Status.RETURNED) & ~arrived)
        origin = pop.origin[rows]
        loss = decision.property_loss_score(pop.property[rows], s.property)
        gap = s.economy.poverty_line - self.income(rows)
        hazard = decision.redisplacement_hazard(pl.violence[pl.controller[origin]], gap, loss, s.redisplacement)
        leave = rows[rng.random(len(rows)) < hazard]
        pop.location[leave] = pl.displacement_destination[pop.origin[leave]] + self.n_hosts
        pop.status[leave] = Status.REDISPLACED
        pop.months_displaced[leave] = 0
        self.flows["redisplaced"] = pop.persons[leave].sum()

    def _property(self) -> None:
        pop, pl, s, rng = self.population, self.places, self.params, self.rng
        hazard = pl.confiscation_hazard * (1.0 - s.property.claim_success)
        if hazard.any():
            absent = pop.location != pop.origin + self.n_hosts
            confiscable = np.isin(np.arange(len(PropertyStatus)), _ABSENT_CONFISCABLE)  # by status: a lookup
            rows = np.flatnonzero(absent & confiscable[pop.property])
            taken = rows[rng.random(len(rows)) < hazard[pop.origin[rows]]]
            pop.property[taken] = PropertyStatus.CONFISCATED
            self.cumulative["properties_confiscated"] += len(taken) * pop.weight
        if pl.restitution_monthly > 0:
            lost = np.flatnonzero(
                (pop.property == PropertyStatus.CONFISCATED) | (pop.property == PropertyStatus.OCCUPIED)
            )
            back = lost[rng.random(len(lost)) < pl.restitution_monthly]
            pop.property[back] = PropertyStatus.INTACT
            self.flows["properties_restituted"] = float(len(back) * pop.weight)

    def _livelihoods(self) -> None:
        pop, e = self.population, self.params.economy
        # over whole columns (no gather/scatter of rows), written back where not detained
        earned = self._income(pop.location, pop.origin, pop.property, pop.skill)
        saved = np.clip(pop.savings + e.saving_rate * (earned - e.poverty_line), 0.0, e.savings_max)
        np.copyto(pop.savings, saved, casting="same_kind", where=pop.status != Status.DETAINED)
        displaced = self.is_displaced()
        np.add(pop.months_displaced, 1, out=pop.months_displaced, where=displaced)
        cfg = self.params.population
        born = grow_households(pop, displaced, cfg.growth_annual, cfg.max_household_size, self.rng)
        self.births_by_origin += np.bincount(pop.origin[born], minlength=self.places.n_regions) * pop.weight
        self.flows["births"] = float(len(born) * pop.weight)

    def _information(self) -> None:
        pop = self.population
        back, detained, share = network.news(self.ties, pop.status, pop.detained > 0)
        self._network_share = share.astype(np.float32)
        # over whole columns (no gather/scatter of rows), written back for the displaced
        updated = network.update_perceived_risk(
            pop.perceived_risk, self.true_detention_risk(), back, detained, pop.info_confidence, self.params.network
        )
        np.copyto(pop.perceived_risk, updated, where=self.is_displaced())
