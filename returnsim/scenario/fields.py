"""Value types shared by the scenario tables and the events: ranges with plain-language rules, and the
strict, frozen base of every table."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


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
