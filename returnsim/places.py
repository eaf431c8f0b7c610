"""Host countries, origin regions and controllers as state arrays, with their monthly dynamics.

Locations are numbered in one space: hosts first (``0 .. n_hosts-1``), then Syrian regions
(``n_hosts .. n_hosts+n_regions-1``). A household's ``origin`` is a region number
(``0 .. n_regions-1``); its location code is ``n_hosts + origin`` when it is at home.

Policy levers (pressure, aid, deportation rates, controllers, sanctions…) live here as mutable
arrays copied from the frozen scenario, so timed events change them without touching the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from returnsim.scenario import Scenario

TARGETING = ("all", "unregistered", "military_age_men", "single_men")
ORIGIN = -1  # deportation destination code: the household's own origin region
# policy levers: the attributes timed events (returnsim.policies) may change
LEVERS = (
    "host_pressure",
    "host_aid",
    "host_return_cost",
    "host_border_open",
    "host_violence",
    "deportation_rate",
    "deportation_targeting",
    "deportation_destination",
    "controller",
    "confiscation_hazard",
    "restitution_monthly",
    "detention_on_return",
    "detention_monthly",
    "conscription",
    "detention_factor",
    "sanctions",
    "reconstruction_aid",
)


def deportation_eligible(targeting, registered, military_age_man, single_man) -> np.ndarray:
    """Whether each household is a target of its host's deportation policy (``TARGETING`` codes)."""
    return (
        (targeting == 0)
        | ((targeting == 1) & ~registered)
        | ((targeting == 2) & military_age_man)
        | ((targeting == 3) & single_man)
    )


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


@dataclass
class Places:
    """State of every place; arrays are indexed by host, region or controller number."""

    host_names: list[str]
    region_names: list[str]
    controller_names: list[str]
    # hosts
    host_pressure: np.ndarray
    host_livelihood_base: np.ndarray
    host_aid: np.ndarray
    host_integration: np.ndarray
    host_return_cost: np.ndarray
    host_border_open: np.ndarray
    deportation_rate: np.ndarray
    deportation_targeting: np.ndarray  # index into TARGETING
    deportation_destination: np.ndarray  # region number or ORIGIN
    host_violence: np.ndarray  # violence against refugees where they live (host_conflict_shock), 0-1
    host_surveyed: np.ndarray  # bool: counted in the survey-comparable intention share
    # regions
    controller: np.ndarray  # controller number per region
    prewar_population: np.ndarray
    livelihood_base: np.ndarray  # the region's own potential (its scenario value)
    livelihood: np.ndarray  # current livelihood index, moves monthly
    displacement_destination: np.ndarray
    confiscation_hazard: np.ndarray
    restitution_monthly: float  # share of confiscated/occupied homes returned to owners each month
    # controllers
    detention_on_return: np.ndarray
    detention_monthly: np.ndarray
    violence: np.ndarray
    conscription: np.ndarray
    detention_factor: np.ndarray  # (controller, profile) multiplier on detention; profile = man + 2*exposed
    # national
    sanctions: bool
    reconstruction_aid: float
    national: float
    _start_factor: float = 1.0  # national economy x sanctions factor at the start

    @property
    def n_hosts(self) -> int:
        return len(self.host_names)

    @property
    def n_regions(self) -> int:
        return len(self.region_names)

    @classmethod
    def from_scenario(cls, s: Scenario) -> Places:
        hosts, regions, ctrls = list(s.hosts), list(s.regions), list(s.controllers)
        r_index = {name: i for i, name in enumerate(regions)}
        c_index = {name: i for i, name in enumerate(ctrls)}
        H, R = s.hosts.values(), s.regions.values()

        def arr(values, dtype=np.float64):
            return np.array(list(values), dtype=dtype)

        def neighbour(i: int, name: str) -> int:
            # A region with no destination named sends its displaced to the next region in the file.
            return r_index[name] if name else (i + 1) % len(regions)

        return cls(
            host_names=hosts,
            region_names=regions,
            controller_names=ctrls,
            host_pressure=arr(h.pressure for h in H),
            host_livelihood_base=arr(h.livelihood for h in H),
            host_aid=arr(h.aid for h in H),
            host_integration=arr(h.integration for h in H),
            host_return_cost=arr(h.return_cost for h in H),
            host_border_open=arr((h.border_open for h in H), bool),
            deportation_rate=arr(h.deportation_rate for h in H),
            deportation_targeting=arr((TARGETING.index(h.deportation_targeting) for h in H), np.int8),
            deportation_destination=arr(
                (ORIGIN if h.deportation_destination == "origin" else r_index[h.deportation_destination] for h in H),
                np.int16,
            ),
            host_violence=np.zeros(len(hosts)),
            host_surveyed=arr((h.surveyed for h in H), bool),
            controller=arr((c_index[r.controller] for r in R), np.int16),
            prewar_population=arr(r.prewar_population for r in R),
            livelihood_base=arr(r.livelihood for r in R),
            livelihood=arr(r.livelihood for r in R),
            displacement_destination=arr((neighbour(i, r.displacement_destination) for i, r in enumerate(R)), np.int16),
            confiscation_hazard=np.full(len(regions), s.property.confiscation_hazard),
            restitution_monthly=s.property.restitution_monthly,
            detention_on_return=arr(c.detention_on_return for c in s.controllers.values()),
            detention_monthly=arr(c.detention_monthly for c in s.controllers.values()),
            violence=arr(c.violence for c in s.controllers.values()),
            conscription=arr((c.conscription for c in s.controllers.values()), bool),
            detention_factor=np.ones((len(ctrls), 4)),
            sanctions=s.economy.sanctions,
            reconstruction_aid=s.economy.reconstruction_aid,
            national=s.economy.national,
            _start_factor=s.economy.national * (1.0 - s.economy.sanctions_penalty * s.economy.sanctions),
        )

    def detention_base(self, table: np.ndarray, controller, military_age_man, exposed) -> np.ndarray:
        """A controller's base detention rate (``detention_on_return`` or ``detention_monthly``) for each
        household, times any amnesty or security guarantee in force for its profile."""
        profile = np.asarray(military_age_man, np.int8) + 2 * np.asarray(exposed, np.int8)
        return table[controller] * self.detention_factor[controller, profile]

    def levers(self) -> dict:
        """Copies of every policy lever (what timed events may change), to restore them later."""
        return {name: _copy(getattr(self, name)) for name in LEVERS}

    def restore(self, levers: dict) -> None:
        """Set the policy levers back to values saved by :meth:`levers`."""
        for name, value in levers.items():
            setattr(self, name, _copy(value))

    def host_livelihood(self, host_aid_effect: float) -> np.ndarray:
        """Livelihood index of refugees in each host: earnings plus assistance."""
        return self.host_livelihood_base + host_aid_effect * self.host_aid

    def livelihood_target(self, s: Scenario) -> np.ndarray:
        """Where each region's livelihood heads.

        The scenario's regional livelihoods hold under the starting national economy and sanctions;
        the target scales them by how those have changed since, plus reconstruction aid::

            target_r = L0_r * (N * (1 - p*S)) / (N0 * (1 - p*S0)) + a * aid
        """
        e = s.economy
        factor = self.national * (1.0 - e.sanctions_penalty * self.sanctions) / max(self._start_factor, 1e-9)
        return np.clip(self.livelihood_base * factor + e.aid_effect * self.reconstruction_aid, 0.0, 1.0)

    def update_economy(self, s: Scenario, inflow_persons: np.ndarray) -> None:
        """One month of the origin economy: adjustment towards target minus strain of returnee inflow."""
        e = s.economy
        target = self.livelihood_target(s)
        strain = e.strain * inflow_persons / self.prewar_population
        moved = self.livelihood + e.adjust_rate * (target - self.livelihood) - strain
        self.livelihood = np.clip(moved, e.livelihood_floor, 1.0)
