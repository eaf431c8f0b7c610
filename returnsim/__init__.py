"""returnsim: an agent-based model of Syrian refugee households deciding whether to return home."""

from importlib.metadata import PackageNotFoundError, version

from returnsim.api import RunResult, run, simulate
from returnsim.experiments.function import experiment
from returnsim.model import ReturnModel
from returnsim.scenario import Scenario, ScenarioError, load_scenario


def __getattr__(name: str):
    """``returnsim.load_results`` is imported on first use: it brings in pyarrow, which nothing else needs."""
    if name == "load_results":
        from returnsim.experiments.store import load_results

        return load_results
    raise AttributeError(f"module 'returnsim' has no attribute {name!r}")


try:
    __version__ = version("returnsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "ReturnModel",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "experiment",
    "load_results",
    "load_scenario",
    "run",
    "simulate",
]
