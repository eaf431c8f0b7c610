"""Scenario files: a frozen, typed, validated tree loaded from TOML.

A scenario is one TOML file. It may name a parent with ``extends = "other.toml"``
(a path relative to its own file); the child's tables are merged key by key over the
parent's, and ``[[events]]`` lists are concatenated (parent first).

Every value is checked when the file is loaded. Errors name the file that set the
value, the dotted key and the rule, one line each::

    scenarios/x.toml: hosts.turkey.pressure = 1.5: must be between 0 and 1
    scenarios/x.toml: hosts.turkey.presure: unknown key (did you mean 'pressure'?)

>>> s = load_scenario("baseline")
>>> s.simulation.start, sorted(s.hosts)[:2]
('2017-01', ['egypt', 'europe'])
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "EVENT_TYPES",
    "Event",
    "Scenario",
    "ScenarioError",
    "builtin_scenarios",
    "load_scenario",
    "scenario_from_dict",
]

# ----------------------------------------------------------------------------- errors


class ScenarioError(ValueError):
    """A scenario file (or dict) failed validation; ``problems`` holds one line per error."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# ------------------------------------------------------------------------ field types


def _between(lo: float, hi: float):
    def check(v: float) -> float:
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return v

    return AfterValidator(check)


def _at_least(lo: float):
    def check(v: float) -> float:
        if v < lo:
            raise ValueError(f"must be at least {lo:g}")
        return v

    return AfterValidator(check)


def _positive(v: float) -> float:
    if v <= 0:
        raise ValueError("must be greater than 0")
    return v


def _month(v: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", v):
        raise ValueError("must be a month written YYYY-MM, e.g. 2017-01")
    return v


Share = Annotated[float, _between(0.0, 1.0)]
NonNegative = Annotated[float, _at_least(0.0)]
Positive = Annotated[float, AfterValidator(_positive)]
Count = Annotated[int, _at_least(0)]
PositiveInt = Annotated[int, _at_least(1)]
Month = Annotated[str, AfterValidator(_month)]
Weights = dict[str, NonNegative]


class _Node(BaseModel):
    """Base for every table: strict types, unknown keys rejected, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# ---------------------------------------------------------------------------- tables


class Meta(_Node):
    name: str = "unnamed"
    description: str = ""


class Simulation(_Node):
    start: Month = "2017-01"
    months: PositiveInt = 84
    households_per_agent: PositiveInt = 100
    seed: Count = 0


class Population(_Node):
    persons_per_household: Annotated[float, _at_least(1.0)] = 4.6
    military_age_man_share: Share = 0.45
    single_man_share: Share = 0.08
    political_exposure_former_opposition: Share = 0.35
    political_exposure_other: Share = 0.08
    months_displaced_min: Count = 12
    months_displaced_max: Count = 72
    savings_mean: NonNegative = 2.0
    skill_sigma: NonNegative = 0.35
    attachment_mean: Share = 0.7
    info_confidence_mean: Share = 0.5
    initial_risk_bias: NonNegative = 2.0
    growth_annual: Annotated[float, _between(0.0, 0.2)] = 0.0
    max_household_size: Annotated[int, _between(1, 100)] = 30
    trait_concentration: Positive = 4.0


class Network(_Node):
    ties: Annotated[int, _between(0, 50)] = 6
    same_origin_share: Share = 0.8
    learning_rate: Share = 0.3
    media_rate: Share = 0.02


class Decision(_Node):
    intercept: float = -6.0
    pressure: float = 1.0
    livelihood: float = 2.0
    detention_risk: float = 20.0
    violence: float = 3.0
    conscription: float = 1.0
    property_loss: float = 1.0
    network: float = 2.0
    attachment: float = 1.5
    integration: float = 1.5
    feasibility_slope: NonNegative = 1.5
    integration_months: Positive = 60.0
    host_violence: float = 6.0


class Security(_Node):
    military_age_multiplier: NonNegative = 2.0
    political_exposure_multiplier: NonNegative = 3.0
    forced_return_multiplier: NonNegative = 2.0
    release_monthly: Share = 0.03


class Redisplacement(_Node):
    intercept: float = -6.5
    violence: float = 4.0
    poverty: float = 2.0
    property_loss: float = 1.0


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
    livelihood_floor: Share = 0.01


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
    persons: Count = 0
    pressure: Share = 0.3
    livelihood_factor: NonNegative = 0.8
    return_cost: NonNegative = 0.5
    integration: Share = 0.2
    origin_shares: Weights = Field(default_factory=dict)
    location_shares: Weights = Field(default_factory=dict)


Targeting = Literal["all", "unregistered", "military_age_men", "single_men"]


class Host(_Node):
    label: str = ""
    refugees: Count = 0
    pressure: Share = 0.3
    livelihood: NonNegative = 0.5
    aid: Share = 0.3
    integration: Share = 0.5
    registered_share: Share = 0.9
    return_cost: NonNegative = 3.0
    border_open: bool = True
    deportation_rate: Share = 0.0
    deportation_targeting: Targeting = "unregistered"
    deportation_destination: str = "origin"
    origin_shares: Weights = Field(default_factory=dict)
    surveyed: bool = True


class Region(_Node):
    label: str = ""
    controller: str
    prewar_population: PositiveInt
    livelihood: Share = 0.5
    damaged_share: Share = 0.15
    destroyed_share: Share = 0.1
    occupied_share: Share = 0.03
    former_opposition: bool = False
    displacement_destination: str = ""


class Controller(_Node):
    label: str = ""
    detention_on_return: Share = 0.005
    detention_monthly: Share = 0.0003
    violence: Share = 0.1
    conscription: bool = False


# ------------------------------------------------------------------------------ events
# Timed policy events (``[[events]]``); what each does is in returnsim/policies.py and
# scenarios/README.md. An event is in force from ``month`` to ``end`` (inclusive) or for
# ``months`` months; with neither it stays in force to the end of the run.

Profile = Literal["all", "military_age_men", "politically_exposed", "others"]


class _Event(_Node):
    month: Month
    end: Month | None = None
    months: PositiveInt | None = None
    note: str = ""

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
    quota: Count | None = None  # persons per month
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
    ramp_months: Count = 12


class _DetentionRelief(_Event):
    controllers: list[str] = Field(default_factory=list)
    detention_factor: Share = 0.5
    credibility: Share = 0.0


class AmnestyEvent(_DetentionRelief):
    type: Literal["amnesty"]
    profiles: list[Profile] = Field(default_factory=lambda: ["military_age_men"])


class SecurityGuaranteeEvent(_DetentionRelief):
    type: Literal["security_guarantee"]
    profiles: list[Profile] = Field(default_factory=lambda: ["all"])


class ConscriptionEvent(_Event):
    type: Literal["conscription"]
    controllers: list[str] = Field(default_factory=list)
    enforced: bool


class PropertyConfiscationEvent(_Event):
    type: Literal["property_confiscation"]
    regions: list[str] = Field(default_factory=list)
    hazard: Share
    claim_window_months: Count = 12


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
    persons: Count | None = None
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


class Scenario(_Node):
    """The whole scenario tree. Build it with :func:`load_scenario` or :func:`scenario_from_dict`."""

    extends: str = ""
    meta: Meta = Field(default_factory=Meta)
    simulation: Simulation = Field(default_factory=Simulation)
    population: Population = Field(default_factory=Population)
    network: Network = Field(default_factory=Network)
    decision: Decision = Field(default_factory=Decision)
    security: Security = Field(default_factory=Security)
    redisplacement: Redisplacement = Field(default_factory=Redisplacement)
    economy: Economy = Field(default_factory=Economy)
    property: Property = Field(default_factory=Property)
    idps: Idps = Field(default_factory=Idps)
    hosts: dict[str, Host]
    regions: dict[str, Region]
    controllers: dict[str, Controller]
    events: list[Event] = Field(default_factory=list)

    def with_changes(self, changes: Mapping[str, Any]) -> Scenario:
        """Return a validated copy with dotted keys replaced, e.g. ``{"hosts.turkey.pressure": 0.8}``."""
        data = self.model_dump()
        for dotted, value in changes.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        return scenario_from_dict(data, source="<changes>")


# ----------------------------------------------------------------------------- loading


def builtin_scenarios() -> dict[str, Path]:
    """Scenario files shipped inside the package, by stem (``baseline`` → its path).

    Installed, they are the package ``returnsim.scenarios`` (mapped from the top-level
    ``scenarios/`` folder); in a source checkout they are that folder itself.
    """
    try:
        files = [Path(str(p)) for p in resources.files("returnsim.scenarios").iterdir()]
    except ModuleNotFoundError:
        files = list((Path(__file__).resolve().parent.parent / "scenarios").iterdir())
    return {p.stem: p for p in sorted(files) if p.suffix == ".toml"}


def resolve_path(name: str | Path) -> Path:
    """A path as given, else a built-in scenario by name (``baseline`` or ``baseline.toml``)."""
    path = Path(name)
    if path.exists():
        return path
    stem = path.name[:-5] if path.name.endswith(".toml") else path.name
    builtin = builtin_scenarios()
    if path.parent == Path(".") and stem in builtin:
        return builtin[stem]
    hint = difflib.get_close_matches(stem, builtin, n=1)
    extra = f" (did you mean the built-in scenario '{hint[0]}'?)" if hint else ""
    raise ScenarioError([f"{name}: no such scenario file{extra}"])


def load_scenario(name: str | Path) -> Scenario:
    """Load, merge (``extends``) and validate a scenario file; raise :class:`ScenarioError`."""
    raw, origin = _load_raw(resolve_path(name), chain=())
    return _validate(raw, origin, default=str(name))


def scenario_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Scenario:
    """Validate an in-memory scenario tree; errors are reported against ``source``."""
    return _validate(dict(data), {}, default=source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{path}: not valid TOML: {exc}"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot be read: {exc.strerror}"]) from None


def _load_raw(path: Path, chain: tuple[Path, ...]) -> tuple[dict, dict]:
    """Read ``path`` and its ancestors; return the merged tree and the file that set each key."""
    real = path.resolve()
    if real in chain:
        cycle = " -> ".join(str(p) for p in (*chain, real))
        raise ScenarioError([f"{chain[-1]}: extends: cycle of scenario files: {cycle}"])
    raw = _read_toml(path)
    origin = _origins(raw, str(path))
    parent = raw.get("extends")
    if parent is None:
        return raw, origin
    if not isinstance(parent, str) or not parent:
        raise ScenarioError([f'{path}: extends = {_show(parent)}: must be a file name such as "baseline.toml"'])
    parent_path = path.parent / parent
    if not parent_path.exists():
        raise ScenarioError([f"{path}: extends = {_show(parent)}: no such file {parent_path}"])
    base, base_origin = _load_raw(parent_path, (*chain, real))
    # the child's events follow the parent's in the merged list: shift their locations
    shift = len(base["events"]) if isinstance(base.get("events"), list) and isinstance(raw.get("events"), list) else 0
    origin = {(k[0], k[1] + shift, *k[2:]) if k[:1] == ("events",) and len(k) > 1 else k: v for k, v in origin.items()}
    return _merge(base, raw), {**base_origin, **origin}


def _origins(tree: Any, source: str, prefix: tuple = ()) -> dict[tuple, str]:
    out = {prefix: source}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(_origins(value, source, (*prefix, key)))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out.update(_origins(value, source, (*prefix, i)))
    return out


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if key == "events" and isinstance(value, list) and isinstance(base.get(key), list):
            out[key] = [*base[key], *value]
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = _merge(base[key], value)
        else:
            out[key] = value
    return out


def _validate(raw: dict, origin: dict[tuple, str], default: str) -> Scenario:
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError([_describe(err, raw, origin, default) for err in exc.errors(include_url=False)]) from None
    problems = [f"{_source(loc, origin, default)}: {_dotted(loc)}{msg}" for loc, msg in _cross_check(scenario)]
    if problems:
        raise ScenarioError(problems)
    return scenario


# ------------------------------------------------------------------ error descriptions


def _source(loc: tuple, origin: dict[tuple, str], default: str) -> str:
    for n in range(len(loc), -1, -1):
        if loc[:n] in origin:
            return origin[loc[:n]]
    return default


def _dotted(loc: tuple, value: Any = ..., has_value: bool = False) -> str:
    text = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
    if has_value:
        return f"{text} = {_show(value)}: "
    return f"{text}: " if text else ""


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{table}"
    if isinstance(value, list):
        return "[array]"
    return str(value)


_TYPE_WORDS = {
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be a text string in quotes",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "list_type": "must be an array",
}


def _describe(err: dict, raw: dict, origin: dict[tuple, str], default: str) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if len(loc) > 2 and loc[0] == "events" and isinstance(loc[1], int) and loc[2] in EVENT_TYPES:
        loc = loc[:2] + loc[3:]  # pydantic names the union member; the file does not
    where = _source(loc, origin, default)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: {_dotted(loc)}unknown key{_did_you_mean(loc, raw)}"
    if kind == "union_tag_not_found":
        return f"{where}: {_dotted(loc)}required key is missing: type (one of {', '.join(EVENT_TYPES)})"
    if kind == "union_tag_invalid":
        tag = err["ctx"]["tag"]
        hint = difflib.get_close_matches(tag, EVENT_TYPES, n=1)
        extra = f" (did you mean '{hint[0]}'?)" if hint else f" (known types: {', '.join(EVENT_TYPES)})"
        return f"{where}: {_dotted((*loc, 'type'), err['input'].get('type'), True)}unknown event type{extra}"
    if kind == "model_attributes_type":
        return f"{where}: {_dotted(loc, err['input'], True)}must be a table"
    if kind == "missing":
        return f"{where}: {_dotted(loc)}required key is missing"
    if kind in _TYPE_WORDS:
        return f"{where}: {_dotted(loc, err['input'], True)}{_TYPE_WORDS[kind]}"
    if kind == "literal_error":
        return f"{where}: {_dotted(loc, err['input'], True)}must be one of {err['ctx']['expected']}"
    if kind == "value_error":
        message = str(err["ctx"]["error"])
        shown = not isinstance(err["input"], dict)  # a rule across a table's keys: name the table only
        return f"{where}: {_dotted(loc, err['input'], shown)}{message}"
    return f"{where}: {_dotted(loc, err.get('input'), True)}{err['msg']}"


def _did_you_mean(loc: tuple, raw: dict) -> str:
    hint = difflib.get_close_matches(str(loc[-1]), _keys_at(loc[:-1], raw), n=1, cutoff=0.6)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _keys_at(parents: tuple, raw: dict) -> list[str]:
    """The keys allowed in the table at ``parents`` (``dict[str, Table]`` fields skip one name;
    an event's keys depend on its ``type``)."""
    model: type[BaseModel] = Scenario
    i = 0
    if parents[:1] == ("events",) and len(parents) >= 2:
        event = raw["events"][parents[1]]
        model, i = EVENT_TYPES[event["type"]], 2
    while i < len(parents):
        field = model.model_fields.get(parents[i])
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model, i = annotation, i + 1
        elif args and isinstance(args[-1], type) and issubclass(args[-1], BaseModel):
            model, i = args[-1], i + 2
        else:
            return []
    return list(model.model_fields) if i == len(parents) else []


# ----------------------------------------------------------------------- cross-checks


def _cross_check(s: Scenario) -> list[tuple[tuple, str]]:
    """References between tables: region, host and controller names must exist."""
    out: list[tuple[tuple, str]] = []
    regions, controllers = list(s.regions), list(s.controllers)

    def ref(loc: tuple, name: str, known: list[str], what: str, allowed: tuple[str, ...] = ()) -> None:
        if name in known or name in allowed:
            return
        hint = difflib.get_close_matches(name, [*known, *allowed], n=1)
        extra = f" (did you mean '{hint[0]}'?)" if hint else ""
        out.append((loc, f"{_show(name)} is not a known {what}{extra}"))

    def weights(loc: tuple, table: Mapping[str, float], must_have_mass: bool) -> None:
        for key in table:
            ref((*loc, key), key, regions, "region")
        if must_have_mass and sum(table.values()) <= 0:
            out.append((loc, "needs at least one region with a positive share"))

    if not s.hosts:
        out.append((("hosts",), "at least one host country is required"))
    if not s.regions:
        out.append((("regions",), "at least one origin region is required"))
    for name, host in s.hosts.items():
        weights(("hosts", name, "origin_shares"), host.origin_shares, host.refugees > 0)
        ref(("hosts", name, "deportation_destination"), host.deportation_destination, regions, "region", ("origin",))
    for name, region in s.regions.items():
        ref(("regions", name, "controller"), region.controller, controllers, "controller")
        if region.displacement_destination == name:
            out.append((("regions", name, "displacement_destination"), "must name another region"))
        elif region.displacement_destination:
            ref(("regions", name, "displacement_destination"), region.displacement_destination, regions, "region")
        if region.damaged_share + region.destroyed_share + region.occupied_share > 1:
            out.append((("regions", name), "damaged_share + destroyed_share + occupied_share must not exceed 1"))
    weights(("idps", "origin_shares"), s.idps.origin_shares, s.idps.persons > 0)
    weights(("idps", "location_shares"), s.idps.location_shares, s.idps.persons > 0)
    if s.idps.persons > 0 and len(s.regions) < 2:
        out.append((("idps", "persons"), "IDPs need at least two regions (they live away from their origin)"))
    if s.population.single_man_share > s.population.military_age_man_share:
        out.append((("population", "single_man_share"), "must not exceed population.military_age_man_share"))
    if s.population.months_displaced_min > s.population.months_displaced_max:
        out.append((("population", "months_displaced_min"), "must not exceed population.months_displaced_max"))
    hosts = list(s.hosts)
    for i, event in enumerate(s.events):
        loc = ("events", i)
        if hasattr(event, "host"):
            ref((*loc, "host"), event.host, hosts, "host")
        if isinstance(event, DeportationEvent):
            ref((*loc, "destination"), event.destination, regions, "region", ("origin",))
        for name in getattr(event, "controllers", ()):
            ref((*loc, "controllers"), name, controllers, "controller")
        for name in getattr(event, "regions", ()):
            ref((*loc, "regions"), name, regions, "region")
        if isinstance(event, ControlChangeEvent | ConflictDisplacementEvent):
            ref((*loc, "region"), event.region, regions, "region")
        if isinstance(event, ControlChangeEvent):
            ref((*loc, "controller"), event.controller, controllers, "controller")
        if isinstance(event, ConflictDisplacementEvent):
            for key in event.destinations:
                ref((*loc, "destinations", key), key, [r for r in regions if r != event.region] + hosts,
                    "destination (another region or a host)")
            if sum(event.destinations.values()) <= 0:
                out.append(((*loc, "destinations"), "needs at least one destination with a positive share"))
    return out
