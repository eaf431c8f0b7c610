"""Scenario errors: one line per problem, naming the file that set the value, the dotted key and the rule."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel


class ScenarioError(ValueError):
    """A scenario file (or dict) failed validation; ``problems`` holds one line per error."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _source(loc: tuple, origin: dict[tuple, str], default: str) -> str:
    for n in range(len(loc), -1, -1):
        if loc[:n] in origin:
            return origin[loc[:n]]
    return default


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _key(part: Any) -> str:
    """One part of a dotted key as TOML writes it: bare, ``[3]`` for an array index, else quoted."""
    if isinstance(part, int):
        return f"[{part}]"
    text = str(part)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def _name(loc: tuple) -> str:
    """``hosts.turkey.pressure``, ``events[2].rate``, ``hosts."new host"``."""
    return ".".join(_key(p) for p in loc).replace(".[", "[")


def _dotted(loc: tuple, value: Any = ..., has_value: bool = False) -> str:
    text = _name(loc)
    if has_value:
        return f"{text} = {_show(value)}: "
    return f"{text}: " if text else ""


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value[:80] + ("…" if len(value) > 80 else ""), ensure_ascii=False)
    if isinstance(value, dict):
        return "{table}"
    if isinstance(value, list):
        return "[array]"
    if isinstance(value, int) and value.bit_length() > 128:
        return f"(a whole number of {value.bit_length() * 30103 // 100000 + 1} digits)"
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
    "finite_number": "must be a finite number (not nan or inf)",
}


def _describe(
    err: dict, raw: dict, origin: dict[tuple, str], default: str, event_index: Mapping[int, int] | None = None
) -> str:
    """One pydantic error as ``FILE: dotted.key = value: rule``; events are numbered within their own file."""
    from returnsim.scenario.events import EVENT_TYPES

    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    if len(loc) > 2 and loc[0] == "events" and isinstance(loc[1], int) and loc[2] in EVENT_TYPES:
        loc = loc[:2] + loc[3:]  # pydantic names the union member; the file does not
    where = _source(loc, origin, default)
    if event_index and len(loc) > 1 and loc[0] == "events" and isinstance(loc[1], int):
        raw_loc, loc = loc, ("events", event_index.get(loc[1], loc[1]), *loc[2:])
        return _describe_at(err, raw, where, loc, raw_loc)
    return _describe_at(err, raw, where, loc, loc)


def _describe_at(err: dict, raw: dict, where: str, loc: tuple, raw_loc: tuple) -> str:
    """``_describe`` once the file and the location shown are known (``raw_loc``: in the merged tree)."""
    from returnsim.scenario.events import EVENT_TYPES

    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{where}: {_dotted(loc)}unknown key{_did_you_mean(raw_loc, raw)}"
    if kind == "union_tag_not_found":
        return f"{where}: {_dotted(loc)}required key is missing: type (one of {', '.join(EVENT_TYPES)})"
    if kind == "union_tag_invalid":
        tag = str(err["ctx"]["tag"])
        hint = difflib.get_close_matches(tag, EVENT_TYPES, n=1)
        extra = f" (did you mean '{hint[0]}'?)" if hint else f" (known types: {', '.join(EVENT_TYPES)})"
        return f"{where}: {_dotted((*loc, 'type'), err['input'].get('type'), True)}unknown event type{extra}"
    if kind in ("model_attributes_type", "model_type", "dict_type"):
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
    from returnsim.scenario.events import EVENT_TYPES
    from returnsim.scenario.schema import Scenario

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
