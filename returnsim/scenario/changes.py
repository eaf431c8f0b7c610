"""Setting scenario keys by dotted path: ``Scenario.with_changes``, ``--set KEY=VALUE`` and keyword overrides.

A path names tables and keys (``decision.intercept``, ``hosts.turkey.pressure``); events are named by their
``id`` or index (``events.turkey_quota.quota``, ``events.3.quota``). Values are validated afterwards with the
same located messages as scenario files.

>>> parse_assignment("hosts.turkey.pressure=0.8")
('hosts.turkey.pressure', 0.8)
>>> parse_assignment("hosts.turkey.deportation_targeting=all")
('hosts.turkey.deportation_targeting', 'all')
>>> keyword_path("decision__intercept")
'decision.intercept'
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from typing import Any

from returnsim.scenario.errors import ScenarioError

__all__ = ["apply_changes", "keyword_path", "parse_assignment", "thaw"]

#: tables of named places: a dotted key may change them, not add to them
_NAMED = {"hosts": "host", "regions": "region", "controllers": "controller"}
#: ids the baseline's events had by default before they were named: old id -> new id
RENAMED_EVENT_IDS = {"border_closure_1": "nasib_closure"}


def thaw(tree: Any) -> Any:
    """A plain, mutable copy of a dumped scenario tree: mappings to ``dict``, tuples to ``list``."""
    if isinstance(tree, Mapping):
        return {k: thaw(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [thaw(v) for v in tree]
    return tree


def keyword_path(name: str) -> str:
    """A keyword argument's name as a dotted path: ``decision__intercept`` -> ``decision.intercept``."""
    return name.replace("__", ".")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line: the value is read as a TOML value (``0.8``, ``true``, ``"x"``,
    ``[1, 2]``, ``{a = 1}``); anything TOML cannot read is taken as text, so quotes may be left out."""
    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key:
        raise ScenarioError([f"--set {text}: must be written KEY=VALUE, e.g. --set decision.intercept=-5.5"])
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key, parsed


def apply_changes(data: Mapping[str, Any], changes: Mapping[str, Any], source: str) -> dict:
    """A copy of the dumped tree ``data`` with each dotted key of ``changes`` set to its value."""
    tree = thaw(data)
    for dotted, value in changes.items():
        parts = str(dotted).split(".")
        if not all(parts):
            raise ScenarioError([f"{source}: {dotted}: not a dotted key such as decision.intercept"])
        node: Any = tree
        for depth, key in enumerate(parts[:-1]):
            node = _child(node, key, parts[: depth + 1], source, str(dotted))
        leaf = parts[-1]
        if isinstance(node, list):
            node[_event_index(node, leaf, parts, source)] = thaw(value)
        elif isinstance(node, dict):
            node[leaf] = thaw(value)
        else:
            where = ".".join(parts[:-1])
            raise ScenarioError([f"{source}: {dotted}: {where} is a value, not a table"])
    return tree


def _child(node: Any, key: str, path: list[str], source: str, dotted: str) -> Any:
    if isinstance(node, list):
        return node[_event_index(node, key, path, source)]
    if not isinstance(node, dict):
        raise ScenarioError([f"{source}: {dotted}: {'.'.join(path[:-1])} is a value, not a table"])
    if key not in node:
        if len(path) == 2 and path[0] in _NAMED:  # a misspelt host, region or controller, not a new one
            hint = difflib.get_close_matches(key, list(node), n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else f" (known: {', '.join(node)})"
            raise ScenarioError([f"{source}: {dotted}: no {_NAMED[path[0]]} '{key}'{extra}"])
        node[key] = {}  # a table the file left to its defaults: validation reports what it lacks
    elif not isinstance(node[key], dict | list):
        raise ScenarioError([f"{source}: {dotted}: {'.'.join(path)} is a value, not a table"])
    return node[key]


def _event_index(events: list, key: str, path: list[str], source: str) -> int:
    """The position of the event named ``key`` (its id, or its index in the list)."""
    ids = [e.get("id") if isinstance(e, dict) else None for e in events]
    if key in ids:
        return ids.index(key)
    if key.isdigit() and int(key) < len(events):
        return int(key)
    known = [i for i in ids if i]
    if RENAMED_EVENT_IDS.get(key) in ids:
        new = RENAMED_EVENT_IDS[key]
        raise ScenarioError([f"{source}: {'.'.join(path)}: event '{key}' is now called '{new}'; write events.{new}"])
    hint = difflib.get_close_matches(key, known, n=1)
    extra = f" (did you mean '{hint[0]}'?)" if hint else f" (known: {', '.join(known) or 'none'})"
    raise ScenarioError([f"{source}: {'.'.join(path)}: no event with id or index '{key}'{extra}"])
