"""Loading scenario files: TOML, ``extends`` inheritance, built-in names, validation and cross-checks.

A scenario file is a regular file of UTF-8 TOML, at most ``returnsim.limits.MAX_FILE_BYTES`` long, nested
at most ``MAX_NESTING`` levels; an ``extends`` chain holds at most ``MAX_EXTENDS`` files. Devices, named
pipes and folders are refused before anything is read from them.

``extends = "NAME"`` is looked up next to the file first; when no such file is there and NAME is a bare
name (no folder), it is the built-in scenario of that name, so ``extends = "baseline"`` works from any
folder, installed or not.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import stat
import sys
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from returnsim import limits
from returnsim.scenario.errors import ScenarioError, _describe, _dotted, _name, _show, _source
from returnsim.scenario.events import (
    AuthorityChangeEvent,
    ConflictDisplacementEvent,
    ControlChangeEvent,
    DeportationEvent,
    DeregistrationEvent,
    HousingDestructionEvent,
    NewDisplacementEvent,
    RegistrationEvent,
)
from returnsim.scenario.schema import Scenario

_NAME = re.compile(r"\w[\w-]*")  # letters and digits of any script, '_', and '-' after the first character
_RESERVED_REGIONS = {"origin": "deportation destinations use it for each household's own region"}


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


def _builtin(name: str) -> Path | None:
    """The built-in scenario a bare name (``baseline`` or ``baseline.toml``) stands for, if any."""
    if "/" in name or os.sep in name:
        return None
    return builtin_scenarios().get(name.removesuffix(".toml"))


def _builtin_hint(name: str) -> str:
    hint = difflib.get_close_matches(Path(name).name.removesuffix(".toml"), builtin_scenarios(), n=1)
    return f" (did you mean the built-in scenario '{hint[0]}'?)" if hint else ""


def resolve_path(name: str | Path) -> Path:
    """A path as given, else a built-in scenario by name (``baseline`` or ``baseline.toml``)."""
    path = Path(name)
    if path.exists() or path.is_symlink():
        return path
    builtin = _builtin(str(name)) if path.parent == Path(".") else None
    if builtin is not None:
        return builtin
    raise ScenarioError([f"{name}: no such scenario file{_builtin_hint(str(name))}"])


@dataclass(frozen=True)
class Located:
    """A validated scenario with the file that set each of its values.

    ``where(loc)`` names a location as error messages do: ``FILE: dotted.key``, with event numbers
    counted in the file that wrote the event.
    """

    scenario: Scenario
    name: str
    origin: dict[tuple, str] = field(default_factory=dict, repr=False)
    event_index: dict[int, int] = field(default_factory=dict, repr=False)

    def where(self, *loc: Any) -> str:
        name = _name(_local(loc, self.event_index))
        source = _source(loc, self.origin, self.name)
        return f"{source}: {name}" if name else source


def load_located(name: str | Path) -> Located:
    """Load, merge (``extends``) and validate a scenario file, keeping where each value was set."""
    chain = _load_chain(resolve_path(name))
    raw, origin, event_index = _merge_chain(chain)
    scenario = _validate(raw, origin, str(name), event_index)
    return Located(scenario, str(name), origin, event_index)


def load_scenario(name: str | Path) -> Scenario:
    """Load, merge (``extends``) and validate a scenario file; raise :class:`ScenarioError`."""
    return load_located(name).scenario


def scenario_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Scenario:
    """Validate an in-memory scenario tree; errors are reported against ``source``."""
    tree = dict(data)
    deep = _too_deep(tree)
    if deep is not None:
        raise ScenarioError([f"{source}: {_dotted(deep[:6])}nested more than {limits.MAX_NESTING} levels deep"])
    return _validate(tree, {}, source, {})


# ------------------------------------------------------------------------------ reading files


class _Unreadable(Exception):
    """Why a path cannot be read as a scenario file (the caller says where it was named)."""


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _read_text(path: Path, kind_of_file: str = "a scenario file") -> str:
    """The file's text: a regular file (checked on the open file, so nothing blocks), UTF-8, not too long."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _Unreadable(f"cannot be read: {exc.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((word for test, word in _KINDS if test(mode)), "not a regular file")
        raise _Unreadable(f"is {kind}, not {kind_of_file}")
    with os.fdopen(fd, "rb") as fh:
        try:
            data = fh.read(limits.MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _Unreadable(f"cannot be read: {exc.strerror}") from None
    if len(data) > limits.MAX_FILE_BYTES:
        raise _Unreadable(f"is larger than {limits.gib(limits.MAX_FILE_BYTES)}; {kind_of_file} is a few kB of TOML")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf16 = data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        what = "UTF-16 text" if utf16 else f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise _Unreadable(f"is {what}; save it as UTF-8") from None


class TomlFileError(Exception):
    """A file that cannot be read as TOML; the message names the file and the problem."""


def read_toml_file(
    path: str | Path, named_by: str | None = None, kind_of_file: str = "a scenario file"
) -> dict[str, Any]:
    """Read one TOML file with the checks every input file gets: a regular UTF-8 file of at most
    ``limits.MAX_FILE_BYTES``, numbers Python can hold, nesting at most ``limits.MAX_NESTING`` levels.
    Raise :class:`TomlFileError` (located at the file, or at the ``extends`` that named it)."""
    path = Path(path)
    try:
        text = _read_text(path, kind_of_file)
    except _Unreadable as exc:
        raise TomlFileError(f"{named_by}: {path} {exc}" if named_by else f"{path}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlFileError(f"{path}: not valid TOML: {exc}") from None
    except ValueError:  # a whole number too long for Python to convert
        digits = sys.get_int_max_str_digits()
        raise TomlFileError(f"{path}: not valid TOML: a whole number has more than {digits} digits") from None
    except RecursionError:
        raise TomlFileError(f"{path}: arrays or tables nested more than {limits.MAX_NESTING} levels deep") from None
    deep = _too_deep(raw)
    if deep is not None:
        raise TomlFileError(f"{path}: {_dotted(deep[:6])}nested more than {limits.MAX_NESTING} levels deep")
    return raw


def _read_toml(path: Path, named_by: str | None) -> dict[str, Any]:
    """Parse one scenario file. Problems are located at the file, or at the ``extends`` that named it."""
    try:
        raw = read_toml_file(path, named_by)
    except TomlFileError as exc:
        raise ScenarioError([str(exc)]) from None
    events = raw.get("events")
    if isinstance(events, dict):
        raise ScenarioError([f"{path}: events: must be an array of tables, each written [[events]], not [events]"])
    if events is not None and not isinstance(events, list):
        raise ScenarioError([f"{path}: events = {_show(events)}: must be an array of tables, each written [[events]]"])
    return raw


def _too_deep(tree: Any) -> tuple | None:
    """The location of the first value nested deeper than ``MAX_NESTING``, or ``None`` (no recursion)."""
    stack: list[tuple[Any, tuple]] = [(tree, ())]
    while stack:
        node, loc = stack.pop()
        if len(loc) > limits.MAX_NESTING:
            return loc
        if isinstance(node, dict):
            stack.extend((v, (*loc, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(node))
    return None


def _load_chain(path: Path) -> list[tuple[Path, dict]]:
    """The file and its ancestors (``extends``), child first; cycles, long chains and bad parents are errors."""
    chain = [(path, _read_toml(path, None))]
    seen = [path.resolve()]
    while True:
        current, raw = chain[-1]
        parent = raw.get("extends")
        if parent is None:
            return chain
        named_by = f"{current}: extends = {_show(parent)}"
        if not isinstance(parent, str) or not parent or "\x00" in parent:
            raise ScenarioError([f'{named_by}: must be a file name such as "baseline.toml"'])
        if len(chain) >= limits.MAX_EXTENDS:
            raise ScenarioError([f"{named_by}: a chain of more than {limits.MAX_EXTENDS} files extending each other"])
        parent_path = _parent_path(current, parent, named_by)
        real = parent_path.resolve()
        if real in seen:
            cycle = " -> ".join(str(p) for p in (*seen, real))
            raise ScenarioError([f"{seen[-1]}: extends: cycle of scenario files: {cycle}"])
        chain.append((parent_path, _read_toml(parent_path, named_by)))
        seen.append(real)


def _parent_path(child: Path, parent: str, named_by: str) -> Path:
    """``parent`` next to ``child``, else the built-in scenario of that bare name."""
    candidate = child.parent / parent
    if candidate.exists() or candidate.is_symlink():
        return candidate
    builtin = _builtin(parent)
    if builtin is not None:
        return builtin
    raise ScenarioError([f"{named_by}: no such file {candidate}{_builtin_hint(parent)}"])


def _merge_chain(chain: list[tuple[Path, dict]]) -> tuple[dict, dict[tuple, str], dict[int, int]]:
    """Merge the chain, oldest ancestor first. Returns the tree, the file that set each location, and for
    each event of the merged list its number in the file that wrote it."""
    merged: dict = {}
    origin: dict[tuple, str] = {}
    event_index: dict[int, int] = {}
    for path, raw in reversed(chain):
        before = merged.get("events")
        shift = len(before) if isinstance(before, list) and isinstance(raw.get("events"), list) else 0
        own = _origins(raw, str(path))
        if shift:  # the child's events follow the parent's in the merged list
            own = {_shifted(k, shift): v for k, v in own.items()}
        for i in range(len(raw.get("events") or ())):
            event_index[shift + i] = i
        merged = _merge(merged, raw, origin)
        origin.update(own)
    return merged, origin, event_index


def _shifted(loc: tuple, shift: int) -> tuple:
    return ("events", loc[1] + shift, *loc[2:]) if loc[:1] == ("events",) and len(loc) > 1 else loc


def _origins(tree: Any, source: str, prefix: tuple = ()) -> dict[tuple, str]:
    out = {prefix: source}
    if isinstance(tree, dict):
        for key, value in tree.items():
            out.update(_origins(value, source, (*prefix, key)))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out.update(_origins(value, source, (*prefix, i)))
    return out


def _merge(base: dict, over: dict, origin: dict[tuple, str], loc: tuple = ()) -> dict:
    """``over`` merged key by key over ``base``. A table written over a parent's value that is not a table
    would hide the parent's mistake: that is an error located in the parent."""
    out = dict(base)
    for key, value in over.items():
        here, old = (*loc, key), base.get(key)
        if here == ("events",) and isinstance(value, list) and isinstance(old, list):
            out[key] = [*old, *value]
        elif isinstance(value, dict) and isinstance(old, dict):
            out[key] = _merge(old, value, origin, here)
        elif isinstance(value, dict) and key in base and _expects_table(here):
            raise ScenarioError([f"{_source(here, origin, '?')}: {_dotted(here, old, True)}must be a table"])
        else:
            out[key] = value
    return out


def _expects_table(loc: tuple) -> bool:
    """Whether the schema has a table at ``loc`` (so a parent's other value there is the mistake)."""
    model: Any = Scenario
    parts = list(loc)
    while parts:
        fields = getattr(model, "model_fields", None)
        if fields is None or parts[0] not in fields:
            return False
        annotation = fields[parts.pop(0)].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        elif typing.get_origin(annotation) is dict:
            if not parts:
                return True
            parts.pop(0)  # the entry's name
            entry = typing.get_args(annotation)[1]
            if not (isinstance(entry, type) and issubclass(entry, BaseModel)):
                return False
            model = entry
        else:
            return False
    return True


# ------------------------------------------------------------------------------ validation


def _local(loc: tuple, event_index: Mapping[int, int]) -> tuple:
    """A merged location as its file wrote it: ``events[i]`` numbered within that file."""
    if len(loc) > 1 and loc[0] == "events" and isinstance(loc[1], int):
        return ("events", event_index.get(loc[1], loc[1]), *loc[2:])
    return loc


def _validate(raw: dict, origin: dict[tuple, str], default: str, event_index: Mapping[int, int]) -> Scenario:
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise ScenarioError([_describe(err, raw, origin, default, event_index) for err in errors]) from None
    problems = [
        f"{_source(loc, origin, default)}: {_dotted(_local(loc, event_index))}{msg}"
        for loc, msg in _cross_check(scenario)
    ]
    if problems:
        raise ScenarioError(problems)
    return scenario


def _cross_check(s: Scenario) -> list[tuple[tuple, str]]:
    """Rules across tables: names are well formed and distinct; region, host and controller names exist."""
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

    for table in ("hosts", "regions", "controllers"):
        for name in getattr(s, table):
            if not _NAME.fullmatch(name):
                out.append(((table, name), "a name may hold only letters, digits, '_' and '-' (names label outputs)"))
    for name in s.regions:
        if name in s.hosts:
            out.append((("regions", name), "is also the name of a host; give the region another name"))
        elif name in _RESERVED_REGIONS:
            out.append((("regions", name), f"is reserved ({_RESERVED_REGIONS[name]}); give the region another name"))
    if not s.hosts:
        out.append((("hosts",), "at least one host country is required"))
    if not s.regions:
        out.append((("regions",), "at least one origin region is required"))
    for name, host in s.hosts.items():
        weights(("hosts", name, "origin_shares"), host.origin_shares, host.refugees > 0)
        ref(("hosts", name, "deportation_destination"), host.deportation_destination, regions, "region", ("origin",))
        for i, crossing in enumerate(host.crossings):
            ref(("hosts", name, "crossings", i), crossing, controllers, "controller")
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
    pop = s.population
    if pop.single_man_share > pop.military_age_man_share:
        out.append((("population", "single_man_share"), "must not exceed population.military_age_man_share"))
    if pop.months_displaced_min > pop.months_displaced_max:
        out.append((("population", "months_displaced_min"), "must not exceed population.months_displaced_max"))
    if pop.persons_per_household > pop.max_household_size:
        out.append((("population", "persons_per_household"), "must not exceed population.max_household_size"))
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


# ------------------------------------------------------------------------------ events and the run's months


def _month_number(date: str) -> int:
    """The month a date (``YYYY-MM`` or ``YYYY-MM-DD``) falls in, counted from year 0."""
    return int(date[:4]) * 12 + int(date[5:7]) - 1


def _month_label(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


#: events that act in their first month only when they give neither ``end`` nor ``months``
_ONE_MONTH = (
    ConflictDisplacementEvent,
    DeregistrationEvent,
    HousingDestructionEvent,
    NewDisplacementEvent,
    RegistrationEvent,
)


def events_outside(scenario: Scenario, months: int) -> list[tuple[int, str]]:
    """Events wholly outside a run of ``months`` months from ``simulation.start``: (event number in the
    merged list, why). Such an event changes nothing in that run.

    An event is in force from ``month`` to ``end``, or for ``months`` months; with neither it lasts to the
    end of the run (the events that move people or homes then act in their first month only).
    """
    first_run = _month_number(scenario.simulation.start)
    last_run = first_run + months - 1
    out = []
    for i, e in enumerate(scenario.events):
        first = _month_number(e.month)
        if e.end is not None:
            last = _month_number(e.end)
        elif e.months is not None:
            last = first + e.months - 1
        else:
            last = first if isinstance(e, _ONE_MONTH) else None
        if first > last_run:
            out.append((i, f"starts in {e.month}, after the run's last month {_month_label(last_run)}"))
        elif last is not None and last < first_run:
            out.append((i, f"ends in {_month_label(last)}, before the run's first month {scenario.simulation.start}"))
    return out


def event_warnings(located: Located, months: int | None = None) -> list[str]:
    """One ``warning:`` line per event wholly outside the run's months (``months``: the run's length,
    default ``simulation.months``)."""
    s = located.scenario
    span = months or s.simulation.months
    return [
        f"warning: {located.where('events', i)} ({s.events[i].type}) {why}: it changes nothing"
        for i, why in events_outside(s, span)
    ]
