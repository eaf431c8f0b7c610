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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

__all__ = [
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
    where = _source(loc, origin, default)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: {_dotted(loc)}unknown key{_did_you_mean(loc)}"
    if kind == "missing":
        return f"{where}: {_dotted(loc)}required key is missing"
    if kind in _TYPE_WORDS:
        return f"{where}: {_dotted(loc, err['input'], True)}{_TYPE_WORDS[kind]}"
    if kind == "literal_error":
        return f"{where}: {_dotted(loc, err['input'], True)}must be one of {err['ctx']['expected']}"
    if kind == "value_error":
        message = str(err["ctx"]["error"])
        return f"{where}: {_dotted(loc, err['input'], True)}{message}"
    return f"{where}: {_dotted(loc, err.get('input'), True)}{err['msg']}"


def _did_you_mean(loc: tuple) -> str:
    hint = difflib.get_close_matches(str(loc[-1]), _keys_at(loc[:-1]), n=1, cutoff=0.6)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _keys_at(parents: tuple) -> list[str]:
    """The keys allowed in the table at ``parents`` (``dict[str, Table]`` fields skip one name)."""
    model: type[BaseModel] = Scenario
    i = 0
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
        if region.displacement_destination:
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
    return out
