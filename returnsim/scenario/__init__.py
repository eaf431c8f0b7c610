"""Scenario files: a frozen, typed, validated tree loaded from TOML.

A scenario is one TOML file. It may name a parent with ``extends = "other.toml"``
(a path relative to its own file, or the name of a built-in scenario such as ``"baseline"``);
the child's tables are merged key by key over the parent's, and ``[[events]]`` lists are
concatenated (parent first).

Every value is checked when the file is loaded: numbers are finite and within ranges that fit the
model's columns (``returnsim.limits``), text is UTF-8. Errors name the file that set the value, the
dotted key and the rule, one line each; an event is numbered within the file that wrote it::

    scenarios/x.toml: hosts.turkey.pressure = 1.5: must be between 0 and 1
    scenarios/x.toml: hosts.turkey.presure: unknown key (did you mean 'pressure'?)

The package is split by concern: ``fields`` (value types), ``schema`` (the tables), ``events`` (timed
policy events), ``loading`` (files, ``extends``, built-in names, cross-checks) and ``errors`` (messages).

>>> s = load_scenario("baseline")
>>> s.simulation.start, sorted(s.hosts)[:2]
('2017-01', ['egypt', 'europe'])
"""

from returnsim.scenario.errors import ScenarioError
from returnsim.scenario.events import (
    EVENT_TYPES,
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
    Event,
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
    SecurityGuaranteeEvent,
)
from returnsim.scenario.loading import (
    Located,
    builtin_scenarios,
    event_warnings,
    events_outside,
    load_located,
    load_scenario,
    resolve_path,
    scenario_from_dict,
)
from returnsim.scenario.schema import (
    Controller,
    Decision,
    Economy,
    Hope,
    Host,
    Idps,
    Meta,
    Network,
    Politics,
    Population,
    Property,
    Redisplacement,
    Region,
    Scenario,
    Security,
    Simulation,
)

__all__ = [
    "EVENT_TYPES",
    "AidChangeEvent",
    "AmnestyEvent",
    "AuthorityChangeEvent",
    "BorderClosureEvent",
    "ConflictDisplacementEvent",
    "ConscriptionEvent",
    "ControlChangeEvent",
    "Controller",
    "ControllerPolicyEvent",
    "Decision",
    "DeportationEvent",
    "DeregistrationEvent",
    "Economy",
    "Event",
    "Hope",
    "Host",
    "HostConflictShockEvent",
    "HostEconomyEvent",
    "HostPressureEvent",
    "HousingDestructionEvent",
    "IdpConditionsEvent",
    "Idps",
    "Located",
    "Meta",
    "NationalEconomyEvent",
    "Network",
    "NewDisplacementEvent",
    "Politics",
    "Population",
    "Property",
    "PropertyConfiscationEvent",
    "PropertyRestitutionEvent",
    "Redisplacement",
    "RegimeChangeEvent",
    "Region",
    "RegistrationEvent",
    "ReturnPackageEvent",
    "SanctionsReliefEvent",
    "Scenario",
    "ScenarioError",
    "Security",
    "SecurityGuaranteeEvent",
    "Simulation",
    "builtin_scenarios",
    "event_warnings",
    "events_outside",
    "load_located",
    "load_scenario",
    "resolve_path",
    "scenario_from_dict",
]
