"""Timed policy events (``[[events]]``): one table type per event, told apart by ``type``.

What each does is in ``returnsim.levers`` and scenarios/README.md. An event is in force from ``month`` to
``end`` (inclusive) or for ``months`` months; with neither it stays in force to the end of the run.

Every event has an ``id``, by which its fields are addressed (``events.turkey_quota.quota``) from Python
(``Scenario.with_changes``), ``--set`` and experiment files. An event without one is named after its type and
its rank among the unnamed events of that type: ``deportation_1``, ``deportation_2``...
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from returnsim.scenario.fields import (
    Date,
    FrozenMap,
    Items,
    Months,
    NonNegative,
    Persons,
    PositiveMonths,
    Share,
    Text,
    Weights,
    _between,
    _Node,
)

Targeting = Literal["all", "unregistered", "military_age_men", "single_men"]
Profile = Literal["all", "military_age_men", "politically_exposed", "others"]


def _event_id(v: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", v):
        raise ValueError("must start with a letter or _ and hold only letters, digits, _ and -")
    return v


EventId = Annotated[str, AfterValidator(_event_id)]


def default_ids(events: list) -> list:
    """The events with an ``id`` filled in where the file gave none (``<type>_<rank among the unnamed events of
    that type>``).

    Entries that are not tables, or have no text ``type``, are left for validation to report.
    """
    seen: dict[str, int] = {}
    out = []
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("type"), str) and "id" not in event:
            seen[event["type"]] = seen.get(event["type"], 0) + 1
            event = {"id": f"{event['type']}_{seen[event['type']]}", **event}
        out.append(event)
    return out


def first_day(date: str) -> dt.date:
    """The first day an event dated ``date`` covers: the day itself, or the month's first day."""
    return dt.date(int(date[:4]), int(date[5:7]), int(date[8:]) if len(date) == 10 else 1)


def last_day(date: str) -> dt.date:
    """The last day an event ending ``date`` covers: the day itself, or the month's last day."""
    year, month = int(date[:4]), int(date[5:7])
    return dt.date(year, month, int(date[8:]) if len(date) == 10 else calendar.monthrange(year, month)[1])


class _Event(_Node):
    id: EventId
    month: Date
    end: Date | None = None
    months: PositiveMonths | None = None
    note: Text = ""

    @model_validator(mode="after")
    def _window(self):
        if self.end is not None and self.months is not None:
            raise ValueError("give either end or months, not both")
        if self.end is not None and last_day(self.end) < first_day(self.month):
            raise ValueError(f"end {self.end} is before month {self.month}")
        return self


def _one_of(event: _Event, *names: str) -> None:
    given = [n for n in names if getattr(event, n) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {' or '.join(names)}")


class DeportationEvent(_Event):
    type: Literal["deportation"]
    host: str
    rate: Share | None = None  # monthly probability for each eligible household
    quota: Persons | None = None  # persons per month
    targeting: Targeting = "unregistered"
    destination: str = "origin"

    @model_validator(mode="after")
    def _rate_or_quota(self):
        _one_of(self, "rate", "quota")
        return self


class HostPressureEvent(_Event):
    type: Literal["host_pressure"]
    host: str
    level: Share


class AidChangeEvent(_Event):
    type: Literal["aid_change"]
    host: str
    level: Share | None = None
    change: Annotated[float, _between(-1.0, 1.0)] | None = None

    @model_validator(mode="after")
    def _level_or_change(self):
        _one_of(self, "level", "change")
        return self


class SanctionsReliefEvent(_Event):
    type: Literal["sanctions_relief"]
    lift_sanctions: bool = True
    reconstruction_aid: Share = 0.0
    ramp_months: Months = 12


class _DetentionRelief(_Event):
    controllers: Items[str] = ()
    detention_factor: Share = 0.5
    credibility: Share = 0.0


class AmnestyEvent(_DetentionRelief):
    type: Literal["amnesty"]
    profiles: Items[Profile] = ("military_age_men",)


class SecurityGuaranteeEvent(_DetentionRelief):
    type: Literal["security_guarantee"]
    profiles: Items[Profile] = ("all",)


class ConscriptionEvent(_Event):
    type: Literal["conscription"]
    controllers: Items[str] = ()
    enforced: bool


class PropertyConfiscationEvent(_Event):
    type: Literal["property_confiscation"]
    regions: Items[str] = ()
    hazard: Share
    claim_window_months: Months = 12


class PropertyRestitutionEvent(_Event):
    type: Literal["property_restitution"]
    monthly: Share
    repeal_confiscation: bool = True


class ControlChangeEvent(_Event):
    type: Literal["control_change"]
    region: str
    controller: str


class BorderClosureEvent(_Event):
    type: Literal["border_closure"]
    host: str
    open: bool = False
    capacity: Share = 0.0  # while closed: share of the usual returns that still get through


class HostConflictShockEvent(_Event):
    type: Literal["host_conflict_shock"]
    host: str
    violence: Share


class ReturnPackageEvent(_Event):
    type: Literal["return_package"]
    host: str
    subsidy: NonNegative


class ConflictDisplacementEvent(_Event):
    type: Literal["conflict_displacement"]
    region: str
    share: Share | None = None
    persons: Persons | None = None
    destinations: Weights

    @model_validator(mode="after")
    def _share_or_persons(self):
        _one_of(self, "share", "persons")
        return self


def _at_least_one(event: _Event, *names: str) -> None:
    if all(getattr(event, n) is None for n in names):
        raise ValueError(f"give at least one of {', '.join(names)}")


class ControllerPolicyEvent(_Event):
    """A controller changes its own practice: detention, violence, conscription (regime change over time)."""

    type: Literal["controller_policy"]
    controllers: Items[str] = ()
    detention_on_return: Share | None = None
    detention_monthly: Share | None = None
    violence: Share | None = None
    conscription: bool | None = None
    ramp_months: Months = 0

    @model_validator(mode="after")
    def _something(self):
        _at_least_one(self, "detention_on_return", "detention_monthly", "violence", "conscription")
        return self


class AuthorityChangeEvent(_Event):
    """A new authority takes over many regions at once: the regions listed, and every region held by the
    controllers listed in ``from_controllers``."""

    type: Literal["authority_change"]
    controller: str
    regions: Items[str] = ()
    from_controllers: Items[str] = ()

    @model_validator(mode="after")
    def _where(self):
        if not self.regions and not self.from_controllers:
            raise ValueError("give regions or from_controllers (or both)")
        return self


class IdpConditionsEvent(_Event):
    """Conditions of the internally displaced change: pressure, cost of moving home, integration, livelihood."""

    type: Literal["idp_conditions"]
    pressure: Share | None = None
    return_cost: NonNegative | None = None
    integration: Share | None = None
    livelihood_factor: NonNegative | None = None

    @model_validator(mode="after")
    def _something(self):
        _at_least_one(self, "pressure", "return_cost", "integration", "livelihood_factor")
        return self


class NationalEconomyEvent(_Event):
    """Syria's economy and the weight of sanctions change (a currency collapse, new sanctions)."""

    type: Literal["national_economy"]
    national: Share | None = None
    sanctions_penalty: Share | None = None
    ramp_months: Months = 0

    @model_validator(mode="after")
    def _something(self):
        _at_least_one(self, "national", "sanctions_penalty")
        return self


class RegimeChangeEvent(_Event):
    """The government that refugees fled loses (or regains) power: ``regime`` is how far it still rules
    afterwards (0 gone, 1 in power), reached over ``ramp_months``."""

    type: Literal["regime_change"]
    regime: Share
    ramp_months: Months = 0


class HostEconomyEvent(_Event):
    """Refugees' earnings in a host change (a host's financial crisis)."""

    type: Literal["host_economy"]
    host: str
    livelihood: NonNegative | None = None
    change: Annotated[float, _between(-1.0, 1.0)] | None = None
    ramp_months: Months = 0

    @model_validator(mode="after")
    def _level_or_change(self):
        _one_of(self, "livelihood", "change")
        return self


class HousingDestructionEvent(_Event):
    """A disaster or offensive destroys or damages homes in regions, once, in its first month."""

    type: Literal["housing_destruction"]
    regions: Items[str]
    destroyed_share: Share = 0.0
    damaged_share: Share = 0.0


class NewDisplacementEvent(_Event):
    """People who had stayed in a region flee it (spread over the event's window): new IDPs or refugees."""

    type: Literal["new_displacement"]
    region: str
    persons: Persons
    destinations: Weights
    temporary_share: Share = 0.0  # share who go back home after return_months (a displacement of weeks)
    return_months: PositiveMonths = 1


class RegistrationEvent(_Event):
    """New arrivals from Syria are registered in a host (spread over the event's window)."""

    type: Literal["registration"]
    host: str
    persons: Persons
    origin_shares: Weights = Field(default_factory=FrozenMap)  # default: the host's own origin_shares


class DeregistrationEvent(_Event):
    """Refugees leave a host's registered stock without a verified return (records closed, onward movement,
    resettlement), spread over the event's window."""

    type: Literal["deregistration"]
    host: str
    persons: Persons


_EVENT_CLASSES = (
    DeportationEvent,
    HostPressureEvent,
    AidChangeEvent,
    SanctionsReliefEvent,
    AmnestyEvent,
    SecurityGuaranteeEvent,
    ConscriptionEvent,
    PropertyConfiscationEvent,
    PropertyRestitutionEvent,
    ControlChangeEvent,
    BorderClosureEvent,
    HostConflictShockEvent,
    ReturnPackageEvent,
    ConflictDisplacementEvent,
    ControllerPolicyEvent,
    AuthorityChangeEvent,
    IdpConditionsEvent,
    NationalEconomyEvent,
    RegimeChangeEvent,
    HostEconomyEvent,
    HousingDestructionEvent,
    NewDisplacementEvent,
    RegistrationEvent,
    DeregistrationEvent,
)
EVENT_TYPES: dict[str, type[_Event]] = {cls.model_fields["type"].annotation.__args__[0]: cls for cls in _EVENT_CLASSES}
Event = Annotated[Union[_EVENT_CLASSES], Field(discriminator="type")]  # noqa: UP007
