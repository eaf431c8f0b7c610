"""returnsim: an agent-based model of Syrian refugee households deciding whether to return home."""

from importlib.metadata import PackageNotFoundError, version

from returnsim.api import RunResult, run, simulate
from returnsim.experiments.function import experiment
from returnsim.experiments.store import load_results
from returnsim.model import ReturnModel
from returnsim.scenario import Scenario, ScenarioError, load_scenario

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
