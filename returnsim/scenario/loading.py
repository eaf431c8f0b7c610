"""Loading scenario files: TOML, ``extends`` inheritance, built-in names, validation and cross-checks."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from returnsim.scenario.errors import ScenarioError, _describe, _dotted, _show, _source
from returnsim.scenario.events import (
    AuthorityChangeEvent,
    ConflictDisplacementEvent,
    ControlChangeEvent,
    DeportationEvent,
    NewDisplacementEvent,
    RegistrationEvent,
)
from returnsim.scenario.schema import Scenario


def builtin_scenarios() -> dict[str, Path]:
    """Scenario files shipped inside the package, by stem (``baseline`` → its path).

    Installed, they are the package ``returnsim.scenarios`` (mapped from the top-level
    ``scenarios/`` folder); in a source checkout they are that folder itself.
    """
    try:
        files = [Path(str(p)) for p in resources.files("returnsim.scenarios").iterdir()]
    except ModuleNotFoundError:
        files = list((Path(__file__).resolve().parents[2] / "scenarios").iterdir())
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
    first_with_id: dict[str, int] = {}
    for i, event in enumerate(s.events):
        loc = ("events", i)
        if event.id in first_with_id:
            out.append(((*loc, "id"), f"{_show(event.id)} is also the id of events[{first_with_id[event.id]}]"))
        first_with_id.setdefault(event.id, i)
        if hasattr(event, "host"):
            ref((*loc, "host"), event.host, hosts, "host")
        if isinstance(event, DeportationEvent):
            ref((*loc, "destination"), event.destination, regions, "region", ("origin",))
        for name in getattr(event, "controllers", ()):
            ref((*loc, "controllers"), name, controllers, "controller")
        for name in getattr(event, "regions", ()):
            ref((*loc, "regions"), name, regions, "region")
        for name in getattr(event, "from_controllers", ()):
            ref((*loc, "from_controllers"), name, controllers, "controller")
        if isinstance(event, ControlChangeEvent | ConflictDisplacementEvent | NewDisplacementEvent):
            ref((*loc, "region"), event.region, regions, "region")
        if isinstance(event, ControlChangeEvent | AuthorityChangeEvent):
            ref((*loc, "controller"), event.controller, controllers, "controller")
        if isinstance(event, RegistrationEvent):
            for key in event.origin_shares:
                ref((*loc, "origin_shares", key), key, regions, "region")
        if isinstance(event, ConflictDisplacementEvent | NewDisplacementEvent):
            for key in event.destinations:
                ref(
                    (*loc, "destinations", key),
                    key,
                    [r for r in regions if r != event.region] + hosts,
                    "destination (another region or a host)",
                )
            if sum(event.destinations.values()) <= 0:
                out.append(((*loc, "destinations"), "needs at least one destination with a positive share"))
    return out
