"""Design points: which parameter values each point of an experiment runs.

- ``grid``: every combination of the parameters' values (``values``, or ``range`` with ``steps``);
- ``lhs``: a Latin hypercube over the ranges (``scipy.stats.qmc.LatinHypercube``);
- ``sobol``: Saltelli's extension of the Sobol' sequence (``SALib.sample.sobol``), for Sobol' indices;
- ``morris``: Morris trajectories on a grid of levels (``SALib.sample.morris``), for screening.

Samplers are seeded from the experiment's root seed (``returnsim.experiments.seeds.design_seed``);
``integer = true`` rounds a parameter to whole numbers. :func:`plan` crosses the points with the
replications: one :class:`~returnsim.experiments.runner.RunTask` per (point, replication).

>>> from returnsim.experiments import experiment_from_dict
>>> e = experiment_from_dict({"scenario": "baseline", "design": {"type": "grid"}, "replications": 2,
...     "parameters": {"decision.intercept": {"values": [-6.0, -5.5]}, "economy.sanctions": {"values": [True, False]}},
...     "outcomes": {"returns": {"column": "returns_voluntary"}}})
>>> points(e)
   decision.intercept  economy.sanctions
0                -6.0               True
1                -6.0              False
2                -5.5               True
3                -5.5              False
>>> [(t.run_id, t.seed) for t in plan(e)][:3]
[('p0-r0', 3953331965), ('p0-r1', 3613627650), ('p1-r0', 3953331965)]
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from returnsim.experiments.runner import RunTask
from returnsim.experiments.seeds import design_seed, replication_seeds
from returnsim.experiments.spec import Experiment

__all__ = ["plan", "points", "problem", "shard"]


def problem(experiment: Experiment) -> dict:
    """SALib's description of the sampled parameters: names and ``[low, high]`` bounds."""
    params = experiment.parameters
    return {"num_vars": len(params), "names": list(params), "bounds": [list(p.range) for p in params.values()]}


def points(experiment: Experiment) -> pd.DataFrame:
    """One row per design point, one column per parameter (named by its dotted key), in run order."""
    design, params = experiment.spec.design, experiment.parameters
    names = list(params)
    if design.type == "grid":
        levels = [_levels(p) for p in params.values()]
        return pd.DataFrame(list(itertools.product(*levels)), columns=names)
    seed = design_seed(experiment.spec.root_seed)
    if design.type == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), rng=np.random.default_rng(seed)).random(design.points)
        bounds = np.array([p.range for p in params.values()], dtype=float)
        matrix = qmc.scale(unit, bounds[:, 0], bounds[:, 1])
    elif design.type == "sobol":
        from SALib.sample import sobol

        matrix = sobol.sample(problem(experiment), design.points, calc_second_order=design.second_order, seed=seed)
    else:
        from SALib.sample import morris

        matrix = morris.sample(problem(experiment), design.trajectories, num_levels=design.levels, seed=seed)
    frame = pd.DataFrame(matrix, columns=names)
    for name, p in params.items():
        if p.integer:
            frame[name] = np.rint(frame[name]).astype(np.int64)
    return frame


def _levels(p) -> list:
    if p.values is not None:
        return list(p.values)
    grid = np.linspace(p.range[0], p.range[1], p.steps)
    return list(dict.fromkeys(int(v) for v in np.rint(grid))) if p.integer else [float(v) for v in grid]


def plan(experiment: Experiment) -> list[RunTask]:
    """Every run of the experiment, point by point, each point with every replication's seed."""
    seeds = replication_seeds(experiment.spec.root_seed, experiment.spec.replications)
    rows = points(experiment).to_dict("records")
    return [
        RunTask(run_id=f"p{i}-r{r}", point=i, replication=r, seed=seed, changes={k: _plain(v) for k, v in row.items()})
        for i, row in enumerate(rows)
        for r, seed in enumerate(seeds)
    ]


def _plain(value):
    """numpy scalars as Python values (the scenario's strict types accept only those)."""
    return value.item() if isinstance(value, np.generic) else value


def shard(tasks: list[RunTask], index: int, count: int) -> list[RunTask]:
    """Shard ``index`` of ``count`` (1-based): every ``count``-th run, so shards take equal shares of each point.

    >>> [t for t in range(7)][0::3], shard(list(range(7)), 2, 3)
    ([0, 3, 6], [1, 4])
    """
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: the index must be between 1 and {count}")
    return tasks[index - 1 :: count]
