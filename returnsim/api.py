"""The one entry point: ``run(scenario) -> DataFrame``; sweeps, comparisons, the CLI and the
dashboard all go through :func:`simulate`.

>>> df = run("baseline", seed=1, months=3, households_per_agent=1000)
>>> list(df["month"])
['2017-01', '2017-02', '2017-03']
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from returnsim import reporters
from returnsim.model import ReturnModel
from returnsim.scenario import Scenario, load_scenario


@dataclass
class RunResult:
    """A finished run: its time series and what is needed to reproduce it."""

    timeseries: pd.DataFrame
    scenario: Scenario
    seed: int
    months: int
    households_per_agent: int
    agents: int
    wall_seconds: float
    init_seconds: float
    model: ReturnModel


def as_scenario(scenario: Scenario | str | Path) -> Scenario:
    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def simulate(
    scenario: Scenario | str | Path = "baseline",
    *,
    seed: int | None = None,
    months: int | None = None,
    households_per_agent: int | None = None,
    agents: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Build a model, run it month by month and return its :class:`RunResult`.

    ``progress(done, total)`` is called after each month when given.
    """
    s = as_scenario(scenario)
    t0 = time.perf_counter()
    model = ReturnModel(s, seed=seed, households_per_agent=households_per_agent, agents=agents)
    t1 = time.perf_counter()
    total = months or s.simulation.months
    for done in range(1, total + 1):
        model.step()
        if progress:
            progress(done, total)
    frame = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    frame = frame[reporters.columns(model)]
    return RunResult(
        timeseries=frame,
        scenario=s,
        seed=model.seed,
        months=total,
        households_per_agent=model.population.weight,
        agents=len(model.population),
        wall_seconds=time.perf_counter() - t0,
        init_seconds=t1 - t0,
        model=model,
    )


def run(
    scenario: Scenario | str | Path = "baseline",
    *,
    seed: int | None = None,
    months: int | None = None,
    households_per_agent: int | None = None,
) -> pd.DataFrame:
    """Run a scenario (object, file path or built-in name) and return its monthly time series."""
    return simulate(
        scenario, seed=seed, months=months, households_per_agent=households_per_agent, agents=False
    ).timeseries
