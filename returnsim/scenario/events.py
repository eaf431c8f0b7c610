"""Timed policy events (``[[events]]``): one table type per event, told apart by ``type``.

What each does is in ``returnsim.levers`` and scenarios/README.md. An event is in force from ``month`` to
``end`` (inclusive) or for ``months`` months; with neither it stays in force to the end of the run.

Every event has an ``id``, by which its fields are addressed (``events.turkey_quota.quota``) from Python
(``Scenario.with_changes``), ``--set`` and experiment files. An event without one is named after its type and
its rank among the events of that type: ``deportation_1``, ``deportation_2``...
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from returnsim.scenario.fields import (
    Items,
    Month,
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
    """The events with an ``id`` filled in where the file gave none (``<type>_<rank among that type>``).

    Entries that are not tables, or have no text ``type``, are left for validation to report.
    """
    seen: dict[str, int] = {}
    out = []
    for event in events:
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            seen[event["type"]] = seen.get(event["type"], 0) + 1
            if "id" not in event:
                event = {"id": f"{event['type']}_{seen[event['type']]}", **event}
        out.append(event)
    return out


class _Event(_Node):
    id: EventId
    month: Month
    end: Month | None = None
    months: PositiveMonths | None = None
    note: Text = ""

    @model_validator(mode="after")
    def _window(self):
        if self.end is not None and self.months is not None:
            raise ValueError("give either end or months, not both")
        if self.end is not None and self.end < self.month:
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
)
EVENT_TYPES: dict[str, type[_Event]] = {cls.model_fields["type"].annotation.__args__[0]: cls for cls in _EVENT_CLASSES}
Event = Annotated[Union[_EVENT_CLASSES], Field(discriminator="type")]  # noqa: UP007
