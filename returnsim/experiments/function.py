"""The model as a function of its parameters, for EMA Workbench, SALib and other tools that drive one.

>>> from returnsim import experiment
>>> base = experiment(months=24, households_per_agent=1000, seed=1)
>>> sorted(base)[:3]
['detained', 'displaced_by_conflict', 'intend_return_12m_pct']
>>> keen = experiment(months=24, households_per_agent=1000, seed=1, decision__intercept=-4.5)
>>> keen["returns_voluntary_refugees"] > 1.5 * base["returns_voluntary_refugees"]
True

(Over the first months a keener intercept adds fewer returns than it seems it should, and can even give fewer:
the households displaced at the start are drawn given that they stayed through ``population.survived_months`` of
the same conditions, docs/ODD.md 5. Hence two years here.)

With EMA Workbench (not a dependency of returnsim), parameter names must be identifiers, so write the
dots of a key as ``__``::

    from ema_workbench import Model, RealParameter, ScalarOutcome, perform_experiments
    model = Model("returnsim", function=returnsim.experiment)
    model.uncertainties = [RealParameter("decision__intercept", -6.5, -5.0)]
    model.outcomes = [ScalarOutcome("returns_voluntary_refugees")]
    results = perform_experiments(model, 100)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from returnsim.scenario import Scenario, ScenarioError

__all__ = ["experiment"]


def experiment(
    scenario: Scenario | str | Path = "baseline",
    *,
    seed: int | None = None,
    months: int | None = None,
    households_per_agent: int | None = None,
    **params: Any,
) -> dict[str, float]:
    """Run ``scenario`` with ``params`` set and return its key outcomes as ``{name: value}``.

    ``params`` are scenario keys by dotted path, ``**{"hosts.turkey.pressure": 0.8}``, or with ``__`` for
    each dot, ``hosts__turkey__pressure=0.8``; they are validated like a scenario file. The outcomes are
    those ``returnsim compare`` reports (``returnsim.compare.OUTCOMES``), over the whole run: persons who
    returned voluntarily (refugees, IDPs), were deported, detained or displaced again, homes confiscated and
    restituted, returnees in poverty at the end, the mean intention share, and refugees and returnees at
    the end. ``seed``, ``months`` and ``households_per_agent`` default to the scenario's.
    """
    from returnsim.compare import OUTCOMES
    from returnsim.experiments.runner import run_point, summarise
    from returnsim.experiments.spec import OutcomeDef, _missing_key
    from returnsim.scenario.changes import thaw
    from returnsim.simulation import as_scenario

    base = as_scenario(scenario)
    changes = {key.replace("__", "."): value for key, value in params.items()}
    tree = thaw(base.model_dump())
    problems = [f"experiment(): {key}: {why}" for key in changes if (why := _missing_key(tree, key))]
    if problems:
        raise ScenarioError(problems)
    s = base.with_changes(changes) if changes else base
    ts = run_point(s, s.simulation.seed if seed is None else seed, months, households_per_agent)
    first, last = ts["month"].iloc[0], ts["month"].iloc[-1]
    outcomes = [OutcomeDef(col, col, how, first, last) for col, how, _ in OUTCOMES if col in ts]
    return summarise(ts, outcomes)
