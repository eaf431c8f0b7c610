"""The scenario tree: one frozen, strictly typed table per section of a scenario file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from returnsim import limits
from returnsim.scenario.events import Event, Targeting, default_ids
from returnsim.scenario.fields import (
    Coefficient,
    FrozenMap,
    Items,
    Line,
    Month,
    NonNegative,
    Persons,
    Positive,
    PositiveMonths,
    Share,
    Text,
    Weights,
    _between,
    _Node,
)


class Meta(_Node):
    name: Line = "unnamed"
    description: Text = ""


class Simulation(_Node):
    start: Month = "2017-01"
    months: PositiveMonths = 84
    households_per_agent: Annotated[int, _between(1, limits.MAX_HOUSEHOLDS_PER_AGENT)] = 100
    seed: Annotated[int, _between(0, limits.MAX_SEED)] = 0


class Population(_Node):
    persons_per_household: Annotated[float, _between(1.0, limits.MAX_HOUSEHOLD_SIZE)] = 4.6
    military_age_man_share: Share = 0.45
    single_man_share: Share = 0.08
    political_exposure_former_opposition: Share = 0.35
    political_exposure_other: Share = 0.08
    months_displaced_min: Annotated[int, _between(0, limits.MAX_MONTHS_DISPLACED)] = 12
    months_displaced_max: Annotated[int, _between(0, limits.MAX_MONTHS_DISPLACED)] = 72
    savings_mean: NonNegative = 2.0
    skill_sigma: NonNegative = 0.35
    attachment_mean: Share = 0.7
    info_confidence_mean: Share = 0.5
    initial_risk_bias: NonNegative = 2.0
    growth_annual: Annotated[float, _between(0.0, 0.2)] = 0.0
    max_household_size: Annotated[int, _between(1, limits.MAX_HOUSEHOLD_SIZE)] = 30
    trait_concentration: Positive = 4.0
    survived_months: Annotated[float, _between(0.0, limits.MAX_MONTHS_DISPLACED)] = 0.0


class Network(_Node):
    ties: Annotated[int, _between(1, 50)] = 6  # no network: learning_rate = 0 and decision.network = 0
    same_origin_share: Share = 0.8
    learning_rate: Share = 0.3
    media_rate: Share = 0.02


class Decision(_Node):
    intercept: Coefficient = -6.0
    pressure: Coefficient = 1.0
    livelihood: Coefficient = 2.0
    detention_risk: Coefficient = 20.0
    violence: Coefficient = 3.0
    conscription: Coefficient = 1.0
    property_loss: Coefficient = 1.0
    network: Coefficient = 2.0
    attachment: Coefficient = 1.5
    integration: Coefficient = 1.5
    feasibility_slope: NonNegative = 1.5
    integration_months: Positive = 60.0
    host_violence: Coefficient = 6.0
    services: Coefficient = 0.0
    home_livelihood: Coefficient = 0.0
    internal: Coefficient = 0.0
    regime: Coefficient = 0.0  # what the fall of the government that refugees fled releases (``politics.regime``)
    unplanned_rate: Share = 0.0  # monthly chance that an event sends home a household that hopes to, unpaid for
    distress_rate: Share = 0.0  # the same for a household below the poverty line, pushed home by its poverty


class Hope(_Node):
    """Weights of the hope to return one day (a logit share; the default hopes nearly everyone)."""

    intercept: Coefficient = 10.0
    attachment: Coefficient = 0.0
    integration: Coefficient = 0.0
    livelihood: Coefficient = 0.0
    violence: Coefficient = 0.0
    property_loss: Coefficient = 0.0
    regime: Coefficient = 0.0  # what the fall of the government that refugees fled adds (``politics.regime``)


class Security(_Node):
    military_age_multiplier: NonNegative = 2.0
    political_exposure_multiplier: NonNegative = 3.0
    forced_return_multiplier: NonNegative = 2.0
    release_monthly: Share = 0.03


class Redisplacement(_Node):
    intercept: Coefficient = -6.5
    violence: Coefficient = 4.0
    poverty: Coefficient = 2.0
    property_loss: Coefficient = 1.0


class Politics(_Node):
    """Who rules Syria, as displaced households weigh it: ``regime`` is how far the government they fled still
    holds power (1 in power, 0 gone; ``regime_change`` events move it)."""

    regime: Share = 1.0


class Economy(_Node):
    national: Share = 0.45
    sanctions: bool = True
    sanctions_penalty: Share = 0.2
    reconstruction_aid: Share = 0.0
    aid_effect: NonNegative = 0.4
    adjust_rate: Share = 0.05
    strain: NonNegative = 2.0
    poverty_line: NonNegative = 0.4
    host_aid_effect: NonNegative = 0.3
    saving_rate: NonNegative = 0.5
    savings_max: NonNegative = 24.0
    savings_spend: Share = 0.0
    livelihood_floor: Share = 0.01
    services_aid_effect: Share = 0.5


class Property(_Node):
    confiscation_hazard: Share = 0.0
    claim_success: Share = 0.3
    restitution_monthly: Share = 0.0
    loss_damaged: Share = 0.3
    loss_destroyed: Share = 1.0
    loss_occupied: Share = 0.8
    loss_confiscated: Share = 1.0
    housing_livelihood_penalty: Share = 0.4


class Idps(_Node):
    persons: Persons = 0
    pressure: Share = 0.3
    livelihood_factor: NonNegative = 0.8
    return_cost: NonNegative = 0.5
    integration: Share = 0.2
    origin_shares: Weights = Field(default_factory=FrozenMap)
    location_shares: Weights = Field(default_factory=FrozenMap)


class Host(_Node):
    label: Line = ""
    refugees: Persons = 0
    pressure: Share = 0.3
    livelihood: NonNegative = 0.5
    aid: Share = 0.3
    integration: Share = 0.5
    registered_share: Share = 0.9
    return_cost: NonNegative = 3.0
    crossings: Items[str] = ()  # controllers whose territory the host's crossings open into; () every one
    cross_line_cost: NonNegative = 0.0  # months of expenses more for a return across a front line
    border_open: bool = True
    overland: bool = True  # a land border with Syria: without one, even an unplanned return needs the fare
    deportation_rate: Share = 0.0
    deportation_targeting: Targeting = "unregistered"
    deportation_destination: str = "origin"
    origin_shares: Weights = Field(default_factory=FrozenMap)
    surveyed: bool = True


class Region(_Node):
    label: Line = ""
    controller: str
    prewar_population: Annotated[int, _between(1, limits.MAX_PERSONS)]
    livelihood: Share = 0.5
    damaged_share: Share = 0.15
    destroyed_share: Share = 0.1
    occupied_share: Share = 0.03
    services: Share = 0.5
    former_opposition: bool = False
    displacement_destination: str = ""


class Controller(_Node):
    label: Line = ""
    detention_on_return: Share = 0.005
    detention_monthly: Share = 0.0003
    violence: Share = 0.1
    conscription: bool = False
    # how far the fall of the government that refugees fled (``politics.regime``) changes things for those whose
    # home this controller holds: 1 fully, 0 not at all (a controller that held its regions before and after)
    regime_exposure: Share = 1.0


class Scenario(_Node):
    """The whole scenario tree. Build it with :func:`load_scenario` or :func:`scenario_from_dict`."""

    extends: str = ""
    meta: Meta = Field(default_factory=Meta)
    simulation: Simulation = Field(default_factory=Simulation)
    population: Population = Field(default_factory=Population)
    network: Network = Field(default_factory=Network)
    decision: Decision = Field(default_factory=Decision)
    hope: Hope = Field(default_factory=Hope)
    security: Security = Field(default_factory=Security)
    redisplacement: Redisplacement = Field(default_factory=Redisplacement)
    politics: Politics = Field(default_factory=Politics)
    economy: Economy = Field(default_factory=Economy)
    property: Property = Field(default_factory=Property)
    idps: Idps = Field(default_factory=Idps)
    hosts: Annotated[dict[str, Host], AfterValidator(FrozenMap)]
    regions: Annotated[dict[str, Region], AfterValidator(FrozenMap)]
    controllers: Annotated[dict[str, Controller], AfterValidator(FrozenMap)]
    events: Items[Event] = ()

    @model_validator(mode="before")
    @classmethod
    def _name_events(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and isinstance(data.get("events"), list | tuple):
            data = {**data, "events": default_ids(list(data["events"]))}
        return data

    def event(self, event_id: str):
        """The event with this ``id`` (``KeyError`` if there is none)."""
        for e in self.events:
            if e.id == event_id:
                return e
        raise KeyError(event_id)

    def with_changes(self, changes: Mapping[str, Any], source: str = "<changes>") -> Scenario:
        """A validated copy with dotted keys set, e.g. ``{"hosts.turkey.pressure": 0.8}``.

        Events are addressed by id or index: ``{"events.turkey_quota.quota": 8000}``; ``{"events": [...]}``
        replaces the list. Errors are located against ``source`` (``ScenarioError``), as for files.

        >>> from returnsim import load_scenario
        >>> s = load_scenario("baseline").with_changes({"decision.intercept": -5.0})
        >>> s.decision.intercept
        -5.0
        """
        from returnsim.scenario.changes import apply_changes
        from returnsim.scenario.loading import scenario_from_dict

        return scenario_from_dict(apply_changes(self.model_dump(), changes, source), source=source)
