"""Experiment files: which scenario, which parameters vary over what, the design, replications and outcomes.

An experiment is one TOML file, validated when it is loaded. Errors name the file, the dotted key and the
rule, one line each, in the style of scenario files (keys that hold dots are quoted as in TOML)::

    experiments/x.toml: design.points = 100: must be a power of 2 for Sobol' sampling, e.g. 64 or 128
    experiments/x.toml: parameters."hosts.turkey.presure": not a key of the scenario (did you mean 'pressure'?)

A minimal file::

    scenario = "baseline"            # a scenario file (relative to this file) or a built-in name
    replications = 3                 # runs per design point, each with its own seed
    root_seed = 1                    # every seed of the experiment is derived from it
    [design]
    type = "grid"                    # grid | lhs | sobol | morris
    [parameters]
    "decision.intercept" = { values = [-6.0, -5.7] }
    [outcomes]
    voluntary_returns = { column = "returns_voluntary_refugees", statistic = "sum" }

>>> from returnsim.experiments import experiment_from_dict
>>> e = experiment_from_dict({
...     "scenario": "baseline", "design": {"type": "lhs", "points": 4},
...     "parameters": {"decision.intercept": {"range": [-6.5, -5.0]}},
...     "outcomes": {"returns": {"column": "returns_voluntary", "statistic": "sum"}},
... })
>>> e.spec.design.type, e.spec.replications, [o.name for o in e.outcomes]
('lhs', 1, ['returns'])
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from returnsim import limits
from returnsim.scenario import Scenario, ScenarioError, load_scenario
from returnsim.scenario.changes import thaw
from returnsim.scenario.errors import _TYPE_WORDS, _show
from returnsim.scenario.fields import Month, PositiveMonths, _between

#: bounded whole numbers of experiment files (the limits of returnsim.limits)
Seed = Annotated[int, _between(0, limits.MAX_SEED)]
Replications = Annotated[int, _between(1, limits.MAX_SEEDS)]
Points = Annotated[int, _between(1, 10_000_000)]
Scale = Annotated[int, _between(1, limits.MAX_HOUSEHOLDS_PER_AGENT)]

__all__ = [
    "STATISTICS",
    "Experiment",
    "ExperimentError",
    "ExperimentSpec",
    "OutcomeDef",
    "experiment_from_dict",
    "load_experiment",
]

STATISTICS = ("sum", "mean", "last", "first", "max", "min")
HOST = "{host}"  # in an outcome's or a series' column: one per host of the scenario


class ExperimentError(ScenarioError):
    """An experiment file failed validation; ``problems`` holds one line per error (file: key: rule)."""


class _Table(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, populate_by_name=True)


class Parameter(_Table):
    """One parameter to vary: a list of ``values``, or a ``range = [low, high]`` to sample from."""

    values: list[Any] | None = None
    range: list[float] | None = None
    steps: Annotated[int, Field(ge=2)] | None = None
    integer: bool = False

    @field_validator("values")
    @classmethod
    def _values(cls, v: list | None):
        if v is None:
            return v
        if not v:
            raise ValueError("must list at least one value")
        kinds = {_kind(x) for x in v}
        if None in kinds:
            raise ValueError("values must be numbers, true/false or text strings")
        if len(kinds) > 1:
            raise ValueError("values must all be of one kind: numbers, true/false, or text strings")
        if len(set(map(repr, v))) < len(v):
            raise ValueError("lists a value more than once")
        return v

    @field_validator("range")
    @classmethod
    def _range(cls, v: list | None):
        if v is not None and (len(v) != 2 or not v[0] < v[1]):
            raise ValueError("must be [low, high] with low < high")
        return v

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.values is None) == (self.range is None):
            raise ValueError("give either values or range")
        if self.steps is not None and self.range is None:
            raise ValueError("steps goes with range (a grid of evenly spaced values)")
        return self


def _kind(x: Any) -> str | None:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, int | float):
        return "number"
    return "text" if isinstance(x, str) else None


def _power_of_two(v: int) -> int:
    if v & (v - 1):
        raise ValueError("must be a power of 2 for Sobol' sampling, e.g. 64 or 128")
    return v


class GridDesign(_Table):
    """Every combination of the parameters' values (full factorial)."""

    type: Literal["grid"]


class LhsDesign(_Table):
    """``points`` Latin hypercube samples of the ranges (``scipy.stats.qmc.LatinHypercube``)."""

    type: Literal["lhs"]
    points: Points


class SobolDesign(_Table):
    """Saltelli's scheme for Sobol' indices: ``points`` x (parameters + 2) runs, or x (2 x parameters + 2)
    with ``second_order`` (``SALib.sample.sobol``)."""

    type: Literal["sobol"]
    points: Annotated[int, Field(ge=2)]
    second_order: bool = False

    _check_points = field_validator("points")(lambda cls, v: _power_of_two(v))


class MorrisDesign(_Table):
    """Morris screening: ``trajectories`` x (parameters + 1) runs on a grid of ``levels`` (``SALib.sample.morris``)."""

    type: Literal["morris"]
    trajectories: Annotated[int, Field(ge=2)] = 10
    levels: Annotated[int, Field(ge=2)] = 4

    @field_validator("levels")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be an even number (each step moves half the levels)")
        return v


DESIGNS = {"grid": GridDesign, "lhs": LhsDesign, "sobol": SobolDesign, "morris": MorrisDesign}
Design = Annotated[Union[GridDesign, LhsDesign, SobolDesign, MorrisDesign], Field(discriminator="type")]  # noqa: UP007


class Outcome(_Table):
    """A scalar per run: ``statistic`` of a time-series ``column`` over the months ``from`` … ``to``."""

    column: str
    statistic: Literal["sum", "mean", "last", "first", "max", "min"] = "sum"
    start: Month | None = Field(None, alias="from")
    end: Month | None = Field(None, alias="to")

    @model_validator(mode="after")
    def _window(self):
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"to = {self.end} is before from = {self.start}")
        return self


class ExperimentSpec(_Table):
    """The experiment file's keys (see experiments/README.md)."""

    name: str = ""
    description: str = ""
    scenario: str
    replications: Replications = 1
    root_seed: Seed = 0
    months: PositiveMonths | None = None
    households_per_agent: Scale | None = None
    design: Design
    parameters: dict[str, Parameter]
    outcomes: dict[str, Outcome]
    series: list[str] = Field(default_factory=list)

    @field_validator("parameters", "outcomes")
    @classmethod
    def _not_empty(cls, v: dict):
        if not v:
            raise ValueError("needs at least one entry")
        return v


@dataclass(frozen=True)
class OutcomeDef:
    """An outcome as resolved: ``{host}`` expanded, the window made explicit."""

    name: str
    column: str
    statistic: str
    start: str
    end: str


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: the spec, its base scenario as resolved, and its outcomes and series."""

    spec: ExperimentSpec
    source: str
    scenario: Scenario
    outcomes: tuple[OutcomeDef, ...]
    series: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def months(self) -> int:
        return self.spec.months or self.scenario.simulation.months

    @property
    def households_per_agent(self) -> int:
        return self.spec.households_per_agent or self.scenario.simulation.households_per_agent

    @property
    def parameters(self) -> dict[str, Parameter]:
        return self.spec.parameters

    def resolved(self) -> dict:
        """Everything that decides the experiment's results, as JSON-ready data (kept in the manifest)."""
        return {
            "spec": self.spec.model_dump(mode="json", by_alias=True),
            "scenario": self.scenario.model_dump(mode="json"),
            "months": self.months,
            "households_per_agent": self.households_per_agent,
            "outcomes": [o.__dict__ for o in self.outcomes],
            "series": list(self.series),
        }

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of :meth:`resolved`: a results folder holds the runs of one fingerprint only."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- loading


def load_experiment(path: str | Path) -> Experiment:
    """Load and validate an experiment file; raise :class:`ExperimentError` listing every problem."""
    from returnsim.scenario.loading import TomlFileError, read_toml_file

    path = Path(path)
    try:
        raw = read_toml_file(path, kind_of_file="an experiment file")
    except TomlFileError as exc:
        raise ExperimentError([str(exc)]) from None
    return _build(raw, str(path), path.parent, default_name=path.stem)


def experiment_from_dict(data: Mapping[str, Any], source: str = "<dict>", base: Path | None = None) -> Experiment:
    """Validate an in-memory experiment; a relative ``scenario`` path is read from ``base`` (default: cwd)."""
    return _build(dict(data), source, base or Path("."), default_name="experiment")


def _flat(tree: dict, prefix: str = "") -> dict:
    """``[parameters]`` keys written without quotes (``hosts.turkey.pressure = {...}``) are nested tables in
    TOML; take them as the dotted keys they spell. A table of tables is a level of such a key."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _build(raw: dict, source: str, folder: Path, default_name: str) -> Experiment:
    if isinstance(raw.get("parameters"), dict):
        raw = {**raw, "parameters": _flat(raw["parameters"])}
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        raise ExperimentError([_describe(err, raw, source) for err in exc.errors(include_url=False)]) from None
    if not spec.name:
        spec = spec.model_copy(update={"name": default_name})
    scenario = _load_base(spec, source, folder)
    problems = _check_parameters(spec, scenario, source)
    outcomes, series, more = _resolve_outputs(spec, scenario, source)
    problems += more
    if problems:
        raise ExperimentError(problems)
    return Experiment(spec=spec, source=source, scenario=scenario, outcomes=outcomes, series=series)


def _load_base(spec: ExperimentSpec, source: str, folder: Path) -> Scenario:
    local = folder / spec.scenario
    try:
        return load_scenario(local if local.exists() else spec.scenario)
    except ScenarioError as exc:
        if len(exc.problems) == 1 and "no such scenario file" in exc.problems[0]:
            where = f"no such scenario file in {folder}/ or among the built-ins"
            rule = exc.problems[0].split(": ", 1)[1].replace("no such scenario file", where)
            raise ExperimentError([f"{source}: scenario = {_show(spec.scenario)}: {rule}"]) from None
        raise ExperimentError([f"{source}: scenario = {_show(spec.scenario)}: {p}" for p in exc.problems]) from None


# ------------------------------------------------------------------------------------- parameter checks


def _check_parameters(spec: ExperimentSpec, scenario: Scenario, source: str) -> list[str]:
    """Every parameter names a key of the scenario, and the ends of its range (or each value) are accepted."""
    problems = []
    tree = thaw(scenario.model_dump())  # tables as dicts, arrays (events) as lists
    for key, p in spec.parameters.items():
        where = f"{source}: parameters.{_quote(key)}"
        missing = _missing_key(tree, key)
        if missing:
            problems.append(f"{where}: {missing}")
            continue
        if p.range is None and spec.design.type != "grid":
            problems.append(f"{where}: the {spec.design.type} design samples ranges: give range = [low, high]")
            continue
        if p.range is not None and spec.design.type == "grid" and p.steps is None:
            problems.append(f"{where}: a grid needs values, or range with steps (evenly spaced values)")
            continue
        if p.steps is not None and spec.design.type != "grid":
            problems.append(f"{where}.steps: only a grid design takes steps")
            continue
        probes = p.values if p.values is not None else [int(v) if p.integer else v for v in p.range]
        shown = "values" if p.values is not None else "range"
        for value in probes:
            try:
                scenario.with_changes({key: value})
            except ScenarioError as exc:
                rules = "; ".join(line.split(": ", 1)[1] for line in exc.problems)
                hint = " (set integer = true)" if isinstance(value, float) and "whole number" in rules else ""
                problems.append(
                    f"{where}.{shown} = {_show_list(getattr(p, shown))}: the scenario rejects {_show(value)}: "
                    f"{rules}{hint}"
                )
                break
            except (AttributeError, KeyError, TypeError, ValueError) as exc:  # keys with_changes cannot address
                problems.append(f"{where}: cannot be set by Scenario.with_changes: {type(exc).__name__}: {exc}")
                break
    return problems


def _missing_key(tree: Any, dotted: str) -> str:
    """Why ``dotted`` does not name a value of the scenario tree, or "" when it does."""
    node, parts = tree, dotted.split(".")
    for i, part in enumerate(parts):
        here = ".".join(parts[: i + 1])
        if isinstance(node, dict):
            if part not in node:
                hint = difflib.get_close_matches(part, [str(k) for k in node], n=1, cutoff=0.6)
                extra = f" (did you mean '{hint[0]}'?)" if hint else ""
                return f"not a key of the scenario: {here} does not exist{extra}"
            node = node[part]
        elif isinstance(node, list):
            ids = [e.get("id") for e in node if isinstance(e, dict)]
            if part.isdigit():
                if int(part) >= len(node):
                    table = ".".join(parts[:i])
                    return f"not a key of the scenario: {table} has {len(node)} entries (0 to {len(node) - 1})"
                node = node[int(part)]
            elif part in ids:
                node = node[ids.index(part)]
            else:
                known = [i for i in ids if i]
                hint = difflib.get_close_matches(part, known, n=1)
                extra = f" (did you mean '{hint[0]}'?)" if hint else ""
                named = f"ids: {', '.join(known)}" if known else "no event of the scenario has an id"
                return f"not a key of the scenario: no event {part!r} in {'.'.join(parts[:i])} ({named}){extra}"
        else:
            return f"not a key of the scenario: {'.'.join(parts[:i])} is a value, not a table"
    if isinstance(node, dict | list):
        return f"names a table, not a value: give one of its keys, e.g. {dotted}.{next(iter(node), '…')}"
    return ""


# ------------------------------------------------------------------------------------- outcomes, series


def _resolve_outputs(spec: ExperimentSpec, scenario: Scenario, source: str):
    from returnsim.experiments.runner import timeseries_columns

    columns = timeseries_columns(scenario)
    hosts = list(scenario.hosts)
    first = scenario.simulation.start
    from returnsim.geography import month_label

    last = month_label(first, (spec.months or scenario.simulation.months) - 1)
    problems: list[str] = []
    outcomes: list[OutcomeDef] = []
    for name, o in spec.outcomes.items():
        where = f"{source}: outcomes.{_quote(name)}"
        start, end = o.start or first, o.end or last
        if start > last or end < first:
            problems.append(f"{where}: from {start} to {end} lies outside the simulated months {first} to {last}")
            continue
        expanded = (
            [(f"{name}_{h}", o.column.replace(HOST, h)) for h in hosts] if HOST in o.column else [(name, o.column)]
        )
        for out_name, column in expanded:
            if column not in columns:
                problems.append(f"{where}.column = {_show(o.column)}: {_unknown_column(column, columns)}")
                break
            outcomes.append(OutcomeDef(out_name, column, o.statistic, max(start, first), min(end, last)))
    series: list[str] = []
    for i, col in enumerate(spec.series):
        for column in [col.replace(HOST, h) for h in hosts] if HOST in col else [col]:
            if column not in columns:
                problems.append(f"{source}: series[{i}] = {_show(col)}: {_unknown_column(column, columns)}")
                break
            series.append(column)
    names = [o.name for o in outcomes]
    clash = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(spec.parameters)))
    if clash:
        problems.append(f"{source}: outcomes: names used twice (after {HOST} expansion): {', '.join(clash)}")
    return tuple(outcomes), tuple(dict.fromkeys(series)), problems


def _unknown_column(column: str, columns: list[str]) -> str:
    hint = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
    extra = f" (did you mean '{hint[0]}'?)" if hint else " (see docs/ODD.md 7.10 for the columns)"
    return f"{column} is not a time-series column{extra}"


# ------------------------------------------------------------------------------------------ messages


def _quote(key: str) -> str:
    return f'"{key}"' if "." in key or not key.replace("_", "").isalnum() else key


def _show_list(v: Any) -> str:
    return "[" + ", ".join(_show(x) for x in v) + "]" if isinstance(v, list) else _show(v)


def _where(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + _quote(str(part))
    return text


def _describe(err: dict, raw: dict, source: str) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if len(loc) >= 2 and loc[0] == "design" and loc[1] in DESIGNS:
        loc = loc[:1] + loc[2:]  # pydantic names the union member; the file does not
    key = _where(loc)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        return f"{source}: {key}: unknown key{_did_you_mean(loc, raw)}"
    if kind == "missing":
        return f"{source}: {key}: required key is missing"
    if kind == "union_tag_not_found":
        return f"{source}: {key}: required key is missing: type (one of {', '.join(DESIGNS)})"
    if kind == "union_tag_invalid":
        tag = err["ctx"]["tag"]
        hint = difflib.get_close_matches(tag, DESIGNS, n=1)
        extra = f" (did you mean '{hint[0]}'?)" if hint else f" (one of {', '.join(DESIGNS)})"
        return f"{source}: {key}.type = {_show(tag)}: unknown design{extra}"
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        misplaced = len(loc) == 2 and loc[0] in ("parameters", "outcomes") and loc[1] in ExperimentSpec.model_fields
        hint = f" ({loc[1]} belongs before the first [table]: in TOML, keys after [{loc[0]}] are in it)"
        return f"{source}: {key} = {_show(value)}: must be a table{hint if misplaced else ''}"
    if kind in _TYPE_WORDS:
        return f"{source}: {key} = {_show_list(value)}: {_TYPE_WORDS[kind]}"
    if kind == "literal_error":
        return f"{source}: {key} = {_show(value)}: must be one of {err['ctx']['expected']}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{source}: {key} = {_show(value)}: must be at least {err['ctx'].get('ge', err['ctx'].get('gt'))}"
    if kind == "value_error":
        message = str(err["ctx"]["error"])
        return f"{source}: {key}{'' if isinstance(value, dict) else ' = ' + _show_list(value)}: {message}"
    return f"{source}: {key} = {_show_list(value)}: {err['msg']}"


def _did_you_mean(loc: tuple, raw: dict) -> str:
    hint = difflib.get_close_matches(str(loc[-1]), _keys_at(loc[:-1], raw), n=1, cutoff=0.6)
    return f" (did you mean '{hint[0]}'?)" if hint else ""


def _keys_at(parents: tuple, raw: dict) -> list[str]:
    model: type[BaseModel] = ExperimentSpec
    if parents == ():
        return [f.alias or n for n, f in ExperimentSpec.model_fields.items()]
    if parents[0] == "design":
        kind = raw.get("design", {}).get("type") if isinstance(raw.get("design"), dict) else None
        model = DESIGNS.get(kind)
        if model is None:
            return ["type"]
    elif parents[0] == "parameters" and len(parents) == 2:
        model = Parameter
    elif parents[0] == "outcomes" and len(parents) == 2:
        model = Outcome
    else:
        return []
    return [f.alias or n for n, f in model.model_fields.items()]
