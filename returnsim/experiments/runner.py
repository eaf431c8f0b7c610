"""One run of a sweep, as pure data; the only module of ``returnsim.experiments`` that calls the model.

:func:`run_point` is the narrow interface to the model core: a scenario, a seed, a horizon and a scale in,
the monthly time series out (a ``month`` column "YYYY-MM" and one column per indicator, docs/ODD.md 7.10).
:func:`execute` wraps it for executors: it applies a design point's changes to the base scenario, runs it,
sums the series up into the experiment's outcomes and returns a :class:`RunRecord`. It never raises for a
failing run: the error text goes into the record, so one bad point cannot stop a sweep.

>>> from returnsim import load_scenario
>>> ts = run_point(load_scenario("baseline"), seed=1, months=2, households_per_agent=5000)
>>> list(ts["month"]), "returns_voluntary" in ts
(['2017-01', '2017-02'], True)
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from returnsim.scenario import Scenario

__all__ = ["RunRecord", "RunTask", "Setup", "execute", "run_point", "summarise", "timeseries_columns"]


def run_point(scenario: Scenario, seed: int, months: int | None, households_per_agent: int | None) -> pd.DataFrame:
    """Run ``scenario`` with ``seed`` for ``months`` at ``households_per_agent``; return its monthly time series."""
    from returnsim.simulation import simulate

    return simulate(scenario, seed=seed, months=months, households_per_agent=households_per_agent).timeseries


def timeseries_columns(scenario: Scenario) -> list[str]:
    """The columns a run of ``scenario`` reports (they depend on its places: one per host for some)."""
    from returnsim.geography import Geography
    from returnsim.reporters import columns

    return columns(Geography.from_scenario(scenario))


@dataclass(frozen=True)
class Setup:
    """What every run of a sweep shares: the base scenario, horizon, scale, outcomes and series to keep."""

    scenario: Scenario
    months: int
    households_per_agent: int
    outcomes: tuple = ()  # of spec.OutcomeDef
    series: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunTask:
    """One planned run: a design point (its parameter values) and a replication (its seed)."""

    run_id: str
    point: int
    replication: int
    seed: int
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunRecord:
    """A finished run as pure data (picklable): status, error text, timing, outcomes and kept series."""

    task: RunTask
    status: str  # "ok" or "failed"
    error: str | None
    runtime_s: float
    outcomes: dict[str, float]
    series: pd.DataFrame | None
    worker: str


def execute(setup: Setup, task: RunTask) -> RunRecord:
    """Run one task; a raising run becomes a record with ``status="failed"`` and the error text."""
    t0 = time.perf_counter()
    try:
        scenario = setup.scenario.with_changes(task.changes) if task.changes else setup.scenario
        ts = run_point(scenario, task.seed, setup.months, setup.households_per_agent)
        outcomes = summarise(ts, setup.outcomes)
        series = ts[["month", *setup.series]].reset_index(drop=True) if setup.series else None
        status, error = "ok", None
    except Exception as exc:  # a failed run is data, not a crashed sweep
        last = traceback.extract_tb(exc.__traceback__)[-1]
        status, error = "failed", f"{type(exc).__name__}: {exc} (at {os.path.basename(last.filename)}:{last.lineno})"
        outcomes, series = {}, None
    return RunRecord(
        task=task,
        status=status,
        error=error,
        runtime_s=time.perf_counter() - t0,
        outcomes=outcomes,
        series=series,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


def summarise(ts: pd.DataFrame, outcomes) -> dict[str, float]:
    """Each outcome's statistic of its column over its months (``OutcomeDef``: name, column, statistic, window).

    >>> from returnsim.experiments.spec import OutcomeDef
    >>> ts = pd.DataFrame({"month": ["2017-01", "2017-02", "2017-03"], "x": [1.0, 2.0, 4.0]})
    >>> total = OutcomeDef("total", "x", "sum", "2017-02", "2017-03")
    >>> summarise(ts, [total, OutcomeDef("end", "x", "last", "2017-01", "2017-03")])
    {'total': 6.0, 'end': 4.0}
    """
    out = {}
    for o in outcomes:
        window = ts.loc[(ts["month"] >= o.start) & (ts["month"] <= o.end), o.column]
        if window.empty:
            raise ValueError(f"outcome {o.name}: the run has no months from {o.start} to {o.end}")
        value = window.iloc[-1] if o.statistic == "last" else window.iloc[0] if o.statistic == "first" else None
        out[o.name] = float(value if value is not None else getattr(window, o.statistic)())
    return out


def run_series(scenario: Scenario, seed: int, months: int | None, households_per_agent: int | None):
    """A (time series, wall seconds) pair for ``compare``'s jobs: one scenario, one seed."""
    t0 = time.perf_counter()
    ts = run_point(scenario, seed, months, households_per_agent)
    return ts, time.perf_counter() - t0
