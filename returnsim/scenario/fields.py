"""Value types shared by the scenario tables and the events: ranges with plain-language rules, read-only
containers, and the strict, frozen base of every table.

Every number is finite (``nan`` and ``inf`` are refused) and every range is closed: the bounds come from
``returnsim.limits`` so that what a file may say fits the columns and the machine.

A scenario is immutable all the way down: tables are frozen models, tables of tables and weights are
:class:`FrozenMap` (a read-only, hashable ``dict``), arrays are tuples. So a scenario can be hashed, shared
between runs and sent to other processes without a copy, and only ``Scenario.with_changes`` makes variants.

>>> m = FrozenMap({"a": 1})
>>> m["a"], hash(m) == hash(FrozenMap({"a": 1}))
(1, True)
>>> m["b"] = 2
Traceback (most recent call last):
TypeError: scenario tables are read-only; make a variant with Scenario.with_changes
"""

from __future__ import annotations

import calendar
import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from returnsim import limits


class FrozenMap(dict):
    """A read-only, hashable ``dict``: the tables of tables (``hosts``, ``regions``...) and the weights."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any):
        raise TypeError("scenario tables are read-only; make a variant with Scenario.with_changes")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self.items()))

    def __reduce__(self):
        return (FrozenMap, (dict(self),))

    def __copy__(self) -> FrozenMap:
        return self

    def __deepcopy__(self, memo: dict) -> FrozenMap:
        return self


def _as_tuple(value: Any) -> Any:
    """TOML arrays arrive as lists: keep them as tuples (anything else is left for the type check to refuse)."""
    return tuple(value) if isinstance(value, list) else value


T = TypeVar("T")
#: an array in a scenario file, held as a tuple
Items = Annotated[tuple[T, ...], BeforeValidator(_as_tuple)]


def _num(v: float) -> str:
    """A bound as written in messages: ``1``, ``0.2``, ``1000000``."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _between(lo: float, hi: float):
    def check(v: float) -> float:
        if not lo <= v <= hi:
            raise ValueError(f"must be between {_num(lo)} and {_num(hi)}")
        # -0.0 passes 0 <= v but numpy's samplers refuse it as negative: a zero is held as +0.0
        return v + 0.0 if isinstance(v, float) else v

    return AfterValidator(check)


_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")  # ASCII digits only: \d would take any script's digits
_DATE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])(-[0-9]{2})?")


def _month(v: str) -> str:
    if not _MONTH.fullmatch(v):
        raise ValueError("must be a month written YYYY-MM, e.g. 2017-01")
    if not limits.FIRST_MONTH <= v <= limits.LAST_MONTH:
        raise ValueError(f"must be a month from {limits.FIRST_MONTH} to {limits.LAST_MONTH}")
    return v


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls, but tab and newline
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text(v: str) -> str:
    if _CONTROL.search(v):
        raise ValueError("must not hold control characters")
    return v


def _line(v: str) -> str:
    if _LINE_CONTROL.search(v):
        raise ValueError("must be one line of text without control characters")
    return v


Share = Annotated[float, _between(0.0, 1.0)]
NonNegative = Annotated[float, _between(0.0, limits.MAX_MAGNITUDE)]
Positive = Annotated[float, _between(limits.MIN_POSITIVE, limits.MAX_MAGNITUDE)]
Coefficient = Annotated[float, _between(-limits.MAX_COEFFICIENT, limits.MAX_COEFFICIENT)]
Persons = Annotated[int, _between(0, limits.MAX_PERSONS)]
Months = Annotated[int, _between(0, limits.MAX_MONTHS)]
PositiveMonths = Annotated[int, _between(1, limits.MAX_MONTHS)]


def _date(v: str) -> str:
    """A month (``YYYY-MM``) or a day (``YYYY-MM-DD``): the dates of events."""
    if not _DATE.fullmatch(v):
        raise ValueError("must be a month YYYY-MM or a day YYYY-MM-DD, e.g. 2019-07 or 2019-07-15")
    _month(v[:7])
    if len(v) == 10:
        year, month, day = int(v[:4]), int(v[5:7]), int(v[8:])
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            raise ValueError(f"{v[:7]} has no day {day}")
    return v


Month = Annotated[str, AfterValidator(_month)]
#: an event's date: a month (the whole month) or a day (the event acts pro rata within its first and last month)
Date = Annotated[str, AfterValidator(_date)]
Weights = Annotated[dict[str, Annotated[float, _between(0.0, limits.MAX_WEIGHT)]], AfterValidator(FrozenMap)]
Text = Annotated[str, AfterValidator(_text)]
Line = Annotated[str, AfterValidator(_line)]


class _Node(BaseModel):
    """Base for every table: strict types, finite numbers, unknown keys rejected, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)
