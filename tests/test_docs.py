"""docs/ODD.md, the model description, cannot drift from the code.

Scenario keys: every key of the schema (``returnsim.scenario.Scenario``, walked recursively through its
tables, the entries of ``dict[str, Table]`` fields and the event union of ``[[events]]``) is documented in
docs/ODD.md or scenarios/README.md. A key counts as documented when either

- its dotted path is written in backticks anywhere, e.g. `hosts.<name>.pressure` (``<name>`` stands for
  the name of a host, region or controller), or
- its bare name is written in backticks inside a section whose heading names its table in backticks, e.g.
  a table row `pressure` under the heading ``### `hosts.<name>` ``. A section runs to the next heading of
  the same or a higher level; brackets and quotes in a heading's backticks are ignored.

An event table is named `events.<type>` or by its type alone (`deportation`); the keys every event has
may instead be documented once under a heading naming `events`. The rows of docs/ODD.md's key tables
must also name real keys with the code's defaults.

Code and files: every path named in docs/ODD.md exists; every ``returnsim.module.name`` or
``ReturnModel.method`` it names can be imported; section 3 names the stages of ``ReturnModel.step`` in
the order the step calls them; section 7.10 names every output column.
"""

from __future__ import annotations

import importlib
import re
import tomllib
import types
import typing
from pathlib import Path

from pydantic import BaseModel

from returnsim.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
ODD = ROOT / "docs" / "ODD.md"
DOCS = (ODD, ROOT / "scenarios" / "README.md")
ENTRY = "<name>"  # stands for the name of an entry of a dict[str, Table] field, e.g. hosts.<name>


# ------------------------------------------------------------------------- schema keys


def _models(annotation) -> list[type[BaseModel]]:
    """The tables an annotation holds (through Annotated, Optional, unions and lists)."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def _tag(model: type[BaseModel]) -> tuple[str, str] | None:
    """A union member's discriminator: its one-value ``Literal`` field and that value, if any."""
    for name, field in model.model_fields.items():
        args = typing.get_args(field.annotation)
        if typing.get_origin(field.annotation) is typing.Literal and len(args) == 1:
            return name, str(args[0])
    return None


Key = tuple[tuple[str, ...], str]  # (names its table may go by, the first canonical; the key)


def schema_tables(
    model: type[BaseModel] = Scenario, names: tuple[str, ...] = ("",), parent: tuple[str, frozenset] = ("", frozenset())
) -> list[tuple[tuple[str, ...], type[BaseModel], tuple[str, frozenset]]]:
    """Every table as ``(names, model, (parent table, keys also accepted there))``.

    The root table is ``""``; the entries of a ``dict[str, Table]`` field are ``<field>.<name>``. A union
    of tables (``list[Event]``) yields each member as ``<field>.<tag>`` (also accepted: the tag alone, or
    ``type = "<tag>"``), and the keys every member has may be documented under the field's own heading.
    """
    out = [(names, model, parent)]
    for key, field in model.model_fields.items():
        path = f"{names[0]}.{key}" if names[0] else key
        annotation = field.annotation
        if typing.get_origin(annotation) is dict:
            for sub in _models(typing.get_args(annotation)[1]):
                out += schema_tables(sub, (f"{path}.{ENTRY}",))
            continue
        members = _models(annotation)
        if len(members) == 1 and _tag(members[0]) is None:
            out += schema_tables(members[0], (path,))
            continue
        shared = frozenset.intersection(*(frozenset(m.model_fields) for m in members)) if members else frozenset()
        for member in members:
            disc, tag = _tag(member) or ("", member.__name__)
            aliases = (f"{path}.{tag}", tag, *((f'{disc} = "{tag}"', f'{path} {disc} = "{tag}"') if disc else ()))
            out += schema_tables(member, aliases, (path, shared))
    return out


def schema_keys() -> list[Key]:
    """Every key of the schema as ``(names of its table, key)``."""
    return [
        ((*names, parent) if key in shared else names, key)
        for names, model, (parent, shared) in schema_tables()
        for key in model.model_fields
    ]


def _canonical(tables: tuple[str, ...], key: str) -> str:
    return f"{tables[0]}.{key}" if tables[0] else key


# ---------------------------------------------------------------------- markdown reading

_CODE = re.compile(r"`([^`\n]+)`")
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")


def _norm(text: str) -> str:
    """A backticked name as compared: brackets and quotes dropped, spaces collapsed."""
    return " ".join(re.sub(r"[\[\]\"']", "", text).split())


def _without_fences(text: str) -> list[str]:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append("")
            continue
        lines.append("" if fenced else line)
    return lines


def _headings(lines: list[str]) -> list[tuple[str, int, int]]:
    """Each heading's title with the line span of its section (to the next heading of the same or a
    higher level)."""
    heads = [(i, len(m.group(1)), m.group(2)) for i, line in enumerate(lines) if (m := _HEADING.match(line))]
    return [
        (title, i, next((j for j, lv, _ in heads[n + 1 :] if lv <= level), len(lines)))
        for n, (i, level, title) in enumerate(heads)
    ]


def raw_sections(text: str) -> list[tuple[set[str], list[str]]]:
    """Each heading's backticked names with the lines of its section."""
    lines = _without_fences(text)
    return [({_norm(c) for c in _CODE.findall(title)}, lines[i + 1 : end]) for title, i, end in _headings(lines)]


def sections(text: str) -> list[tuple[set[str], set[str]]]:
    """Each heading's backticked names with the backticked names of its section."""
    return [(heads, {_norm(c) for c in _CODE.findall("\n".join(body))}) for heads, body in raw_sections(text)]


def _docs_text() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in DOCS if p.exists()]


def undocumented(texts: list[str]) -> list[str]:
    """Canonical paths of the schema keys that no document names by the rules above."""
    anywhere: set[str] = set()
    parts: list[tuple[set[str], set[str]]] = []
    for text in texts:
        anywhere |= {_norm(c) for c in _CODE.findall("\n".join(_without_fences(text)))}
        parts += sections(text)
    missing = []
    for tables, key in schema_keys():
        paths = {_norm(f"{t}.{key}" if t else key) for t in tables}
        if paths & anywhere:
            continue
        names = {_norm(t) for t in tables if t}
        if any(heads & names and _norm(key) in body for heads, body in parts):
            continue
        if any(h.startswith(f"{p}.") for p in paths for heads, _ in parts for h in heads):
            continue  # a table of tables (``hosts``) is documented by its entries' section (``hosts.<name>``)
        missing.append(_canonical(tables, key))
    return sorted(set(missing))


# -------------------------------------------------------------------------------- tests


def test_schema_walk_reaches_every_table():
    """The walk itself: it descends into tables, dict-of-table entries and (if present) events."""
    paths = {_canonical(t, k) for t, k in schema_keys()}
    assert {"simulation.seed", "hosts.<name>.deportation_rate", "regions.<name>.controller"} <= paths
    assert "controllers.<name>.detention_on_return" in paths
    if "events" in Scenario.model_fields:
        assert any(p.startswith("events.") and p.count(".") >= 2 for p in paths)


def test_matching_rules_are_strict():
    """A bare key under the wrong table, or outside any section, does not count."""
    doc = "# Keys\n`pressure` `seed`\n## `hosts.<name>`\n`aid`\n## `simulation`\n`seed`\n"
    missing = undocumented([doc])
    assert "hosts.<name>.pressure" in missing
    assert "hosts.<name>.aid" not in missing
    assert "simulation.seed" not in missing
    assert "idps.pressure" in missing
    assert "simulation.months" not in undocumented([doc + "\nsee `simulation.months`\n"])


def test_every_scenario_key_is_documented():
    missing = undocumented(_docs_text())
    by_table: dict[str, list[str]] = {}
    for path in missing:
        table, _, key = path.rpartition(".")
        by_table.setdefault(table or "(top level)", []).append(key)
    listing = "\n  ".join(f"{table}: {', '.join(keys)}" for table, keys in by_table.items())
    assert not missing, (
        f"{len(missing)} scenario keys are not documented in docs/ODD.md or scenarios/README.md "
        "(write the dotted path in backticks, or the bare key in backticks in a section whose heading "
        f"names the table in backticks), by table:\n  {listing}"
    )


def key_rows(lines: list[str]) -> list[dict[str, str]]:
    """Rows of the Markdown tables in ``lines`` whose first column is ``key``, as column -> cell."""
    rows, header = [], None
    for line in lines:
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set("".join(cells)) <= set("-: "):
            rows.append(dict(zip(header, cells, strict=False)))
    return [r for r in rows if "key" in r and "default" in r]


def _value(cell: str):
    return tomllib.loads(f"v = {cell}")["v"]


def test_odd_key_tables_match_the_schema():
    """In docs/ODD.md, each table's rows name only keys of that table, with the code's default."""
    tables = {_norm(names[0]): model for names, model, _ in schema_tables() if names[0]}
    problems = []
    for heads, body in raw_sections(ODD.read_text(encoding="utf-8")):
        for table in heads & tables.keys():
            fields = tables[table].model_fields
            for row in key_rows(body):
                key = row["key"].strip("`")
                if key not in fields:
                    problems.append(f"{table}.{key}: no such key")
                    continue
                field, cell = fields[key], row["default"]
                if cell == "required" or field.is_required():
                    if not (cell == "required" and field.is_required()):
                        problems.append(f"{table}.{key}: default {cell!r}, required: {field.is_required()}")
                    continue
                default = field.get_default(call_default_factory=True)
                if isinstance(default, tuple):  # a list in TOML, held as a tuple so that a scenario is hashable
                    default = list(default)
                try:
                    documented = _value(cell)
                except tomllib.TOMLDecodeError:
                    problems.append(f"{table}.{key}: default {cell!r} is not a TOML value")
                    continue
                if documented != default or isinstance(documented, bool) != isinstance(default, bool):
                    problems.append(f"{table}.{key}: documented default {cell}, code default {default!r}")
    assert not problems, "docs/ODD.md key tables disagree with returnsim/scenario/:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------- paths and code names

_PATH = re.compile(r"^[\w.\-*]+(/[\w.\-*]+)+/?$|^[\w\-]+\.(py|toml|csv|md)$")


def _odd_spans() -> list[str]:
    return _CODE.findall("\n".join(_without_fences(ODD.read_text(encoding="utf-8"))))


def named_paths() -> list[str]:
    """Repository paths named in docs/ODD.md: backticked paths (from the repository root) and
    relative Markdown links (from docs/), made relative to the root."""
    text = ODD.read_text(encoding="utf-8")
    spans = [s for s in _odd_spans() if _PATH.match(s) and "<" not in s]
    links = [
        str((ODD.parent / target).resolve().relative_to(ROOT))
        for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text)
        if "://" not in target and not target.startswith("mailto:")
    ]
    return sorted(set(spans + links))


def test_paths_named_in_odd_exist():
    paths = named_paths()
    assert "returnsim/decision.py" in paths
    missing = [p for p in paths if not any(ROOT.glob(p))]
    assert not missing, f"docs/ODD.md names paths that do not exist: {missing}"


_CLASSES = {
    "ReturnModel": "returnsim.model",
    "Household": "returnsim.agents",
    "Places": "returnsim.places",
    "Population": "returnsim.population",
    "Status": "returnsim.population",
    "PropertyStatus": "returnsim.population",
    "ReturnInputs": "returnsim.decision",
}
_NAME = re.compile(rf"^(returnsim(?:\.\w+)+|(?:{'|'.join(_CLASSES)})(?:\.\w+)+)(?:\(\))?$")


def named_code() -> list[str]:
    """``returnsim.module.name`` and ``ReturnModel.method`` (and the like) named in docs/ODD.md."""
    return sorted({m.group(1) for s in _odd_spans() if (m := _NAME.match(s.strip()))})


def resolve(dotted: str):
    """Import the longest module prefix of ``dotted`` and getattr the rest."""
    parts = dotted.split(".")
    if parts[0] in _CLASSES:
        parts = [*_CLASSES[parts[0]].split("."), *parts]
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ModuleNotFoundError:
            continue
        for attr in parts[n:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_code_named_in_odd_exists():
    names = named_code()
    assert "returnsim.decision.return_probability" in names and "ReturnModel.step" in names
    broken = []
    for name in names:
        try:
            resolve(name)
        except (AttributeError, ModuleNotFoundError) as exc:
            broken.append(f"{name} ({exc})")
    assert not broken, "docs/ODD.md names code that does not exist:\n  " + "\n  ".join(broken)


def _section(title_start: str) -> str:
    """The text of docs/ODD.md's section whose heading starts with ``title_start``."""
    lines = _without_fences(ODD.read_text(encoding="utf-8"))
    return next("\n".join(lines[i:end]) for title, i, end in _headings(lines) if title.startswith(title_start))


def test_schedule_follows_the_step():
    """Section 3 names every stage of the month (``returnsim.schedule.STAGES``), in the order they run."""
    from returnsim.schedule import STAGES

    stages = [f"{f.__module__}.{f.__name__}" for f in STAGES]
    named = re.findall(r"`(returnsim\.transitions\.[\w.]+)`", _section("3 Process overview"))
    described = list(dict.fromkeys(n for n in named if n in stages))
    assert described == stages, f"the month runs {stages}; docs/ODD.md section 3 describes {described}"


def test_every_indicator_is_described():
    """Each output column (``returnsim.reporters.columns``) is named in docs/ODD.md, section 7.10."""
    from returnsim import reporters

    geo = types.SimpleNamespace(host_names=["<host>"], region_names=["<region>"])
    spans = {name for span in _odd_spans() for name in span.split(", ")} | set(_odd_spans())
    missing = [c for c in reporters.columns(geo) if c not in spans]
    assert not missing, f"output columns not described in docs/ODD.md: {missing}"
