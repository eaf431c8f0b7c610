"""Experiments: parameter sweeps and sensitivity analyses, resumable, run locally or on a Dask cluster."""

from returnsim.experiments.spec import Experiment, ExperimentError, experiment_from_dict, load_experiment

__all__ = ["Experiment", "ExperimentError", "experiment_from_dict", "load_experiment"]
