"""returnsim: an agent-based model of Syrian refugee households deciding whether to return home.

The names below are imported on first use, so ``import returnsim`` stays cheap (the command line, a sweep
worker or a notebook pays for Mesa, pandas or matplotlib only when it uses them).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__all__ = [
    "Result",
    "ReturnModel",
    "Scenario",
    "ScenarioError",
    "__version__",
    "experiment",
    "load_results",
    "load_scenario",
    "run",
    "simulate",
]

_WHERE = {
    "Result": "returnsim.simulation",
    "run": "returnsim.simulation",
    "simulate": "returnsim.simulation",
    "ReturnModel": "returnsim.model",
    "Scenario": "returnsim.scenario",
    "ScenarioError": "returnsim.scenario",
    "load_scenario": "returnsim.scenario",
    "experiment": "returnsim.experiments.function",
    "load_results": "returnsim.experiments.store",  # brings in pyarrow, which nothing else needs
}

if TYPE_CHECKING:  # pragma: no cover
    from returnsim.experiments.function import experiment
    from returnsim.experiments.store import load_results
    from returnsim.model import ReturnModel
    from returnsim.scenario import Scenario, ScenarioError, load_scenario
    from returnsim.simulation import Result, run, simulate


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("returnsim")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0.0.0+unknown"
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'returnsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
