"""Calibration: free parameters fitted to the observed figures of the calibration period, with a hold-out.

A calibration file (``experiments/calibration.toml``) names the scenario, the free parameters (each one or more
dotted scenario keys set to the same value, with bounds and a prior), the seeds every candidate is run with
(the same for all: common random numbers make the comparison of candidates fair), the scale, the last month of
the calibration period, the weights of the target families and of the barrier ranking, and the optimiser's
settings. ``fit`` names the families of observed figures the loss counts (default: every target family of
``returnsim.targets``); naming a context family (``shock_returns``) fits it too, as
``experiments/calibration_fall.toml`` does. Validation errors name the file, the key and the rule.

What is minimised (:func:`objective`): the loss of ``returnsim.targets`` over the calibration-period points
(mean squared error per family in units of its tolerance, weighted), plus the distance of the binding barriers
from the survey's ranking (``returnsim.explain.rank_penalty``) at the survey months given, plus the priors
(a normal prior adds ``((x - mean) / sd)^2 / 2``, in the same units). A candidate's runs stop at the end of the
calibration period (:func:`months_seen`): the loss sees nothing later, and with common random numbers a month's
draws do not depend on how long the run is, so the loss is the same as a full run's (a third of the baseline's
months are the hold-out's).

The optimiser is ``scipy.optimize.differential_evolution`` (a population of candidates per generation, each
generation evaluated in parallel by the executors of ``returnsim.experiments``, local processes or Dask).
Every evaluation is appended to ``evaluations.csv`` as it finishes, so a rerun on the same folder reuses what is
there and only runs what is missing.

With ``[refine]`` (``candidates`` > 0), the best candidates of the search are then evaluated again at a finer
scale with more seeds (``refined.csv``, resumable the same way), and what follows is done with those: at the
search's coarse scale a small host's returns are a few households, so close candidates are ranked by noise.

After the search, the best candidate is run again with extra seeds (``noise_seeds``) to measure how much its
loss varies from seed to seed alone. Every evaluated candidate whose loss lies within twice that spread of the
best fits about as well. The reported uncertainty of each parameter spans those candidates and the interval
over which a quadratic fitted to the loss near the best stays within the same rise (:func:`curvature_intervals`,
a Laplace approximation), whichever is wider; how wide it is shows which parameters the data pin down
(identifiability).

>>> spec = spec_from_dict({"scenario": "baseline", "parameters": [
...     {"name": "intercept", "keys": ["decision.intercept"], "low": -7.0, "high": -4.0}]})
>>> [p.name for p in spec.parameters], spec.seeds
(['intercept'], [1, 2])
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from returnsim import style
from returnsim import targets as T
from returnsim.results import write_json_atomic
from returnsim.scenario import Scenario, ScenarioError, load_scenario
from returnsim.scenario.errors import _TYPE_WORDS, _show
from returnsim.simulation import simulate

__all__ = [
    "CalibrationError",
    "CalibrationSpec",
    "Candidate",
    "fingerprint",
    "load_spec",
    "objective",
    "spec_from_dict",
]


class CalibrationError(ScenarioError):
    """A calibration file failed validation; ``problems`` holds one line per error (file: key: rule)."""


class _Table(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class FreeParameter(_Table):
    """A free parameter: one value set on every key listed, searched between ``low`` and ``high``."""

    name: str
    keys: list[str]
    low: float
    high: float
    prior: Literal["uniform", "normal"] = "uniform"
    mean: float | None = None
    sd: float | None = None
    start: float | None = None  # a starting guess (e.g. an earlier calibration's value), put in the first generation
    note: str = ""

    @field_validator("keys")
    @classmethod
    def _keys(cls, v: list[str]):
        if not v:
            raise ValueError("must list at least one dotted scenario key")
        return v

    @model_validator(mode="after")
    def _bounds(self):
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValueError("low must be below high (both finite numbers)")
        if self.prior == "normal" and (self.mean is None or self.sd is None or not self.sd > 0):
            raise ValueError("a normal prior needs mean and sd > 0")
        if self.start is not None and not self.low <= self.start <= self.high:
            raise ValueError(f"start {self.start:g} is outside [{self.low:g}, {self.high:g}]")
        return self


class Optimizer(_Table):
    popsize: int = Field(default=8, ge=2, le=100)
    maxiter: int = Field(default=25, ge=1, le=1000)
    tol: float = Field(default=0.01, ge=0.0)
    seed: int = Field(default=1, ge=0)


class Quick(_Table):
    """Settings that replace the full ones with ``--quick``: fewer parameters, seeds, generations."""

    parameters: list[str] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=lambda: [1])
    households_per_agent: int = Field(default=500, ge=1)
    popsize: int = Field(default=5, ge=2)
    maxiter: int = Field(default=6, ge=1)


def _distinct_seeds(v: list[int]) -> list[int]:
    if not v or len(set(v)) < len(v):
        raise ValueError("must list one or more distinct seeds")
    return v


class Refine(_Table):
    """The best candidates of the search evaluated again at a finer scale with more seeds (``candidates`` 0:
    off). A coarse scale is what makes a search of thousands of candidates affordable, but its counts of small
    hosts are few households and its ranking of close candidates is noisy; the finer run decides between them."""

    candidates: int = Field(default=0, ge=0, le=1000)
    households_per_agent: int = Field(default=10, ge=1)
    seeds: list[int] = Field(default_factory=lambda: [1, 2, 3, 4])

    _seeds = field_validator("seeds")(classmethod(lambda cls, v: _distinct_seeds(v)))


class CalibrationSpec(_Table):
    scenario: str = "baseline"
    parameters: list[FreeParameter]
    seeds: list[int] = Field(default_factory=lambda: [1, 2])
    households_per_agent: int = Field(default=100, ge=1)
    calibrate_until: str = "2021-12"
    barrier_months: list[str] = Field(default_factory=list)
    barrier_weight: float = Field(default=1.0, ge=0.0)
    noise_seeds: list[int] = Field(default_factory=lambda: [101, 102, 103, 104])
    weights: dict[str, float] = Field(default_factory=dict)
    fit: list[str] = Field(default_factory=list)  # the families the loss counts; empty: every target family
    optimizer: Optimizer = Field(default_factory=Optimizer)
    quick: Quick = Field(default_factory=Quick)
    refine: Refine = Field(default_factory=Refine)

    @field_validator("fit")
    @classmethod
    def _fitted(cls, v: list[str]):
        unknown = [k for k in v if k not in T.SHOWN]
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a family of observed figures (known: {', '.join(T.SHOWN)})")
        return v

    _seeds = field_validator("seeds")(classmethod(lambda cls, v: _distinct_seeds(v)))

    @model_validator(mode="after")
    def _weighed(self):
        """Weights only for the families the loss counts (``fit``, or every target family)."""
        fitted = self.fit or list(T.FAMILIES)
        unknown = [k for k in self.weights if k not in fitted]
        if unknown:
            what = "a family the loss counts" if unknown[0] in T.SHOWN else "a target family"
            raise ValueError(f"weights: {unknown[0]!r} is not {what} (known: {', '.join(fitted)})")
        return self

    @model_validator(mode="after")
    def _names(self):
        names = [p.name for p in self.parameters]
        if len(set(names)) < len(names):
            raise ValueError("parameter names must be distinct")
        unknown = [n for n in self.quick.parameters if n not in names]
        if unknown:
            raise ValueError(f"quick.parameters names {unknown[0]!r}, which is not a parameter")
        shared = sorted(set(self.refine.seeds) & set(self.noise_seeds)) if self.refine.candidates else []
        if shared:
            raise ValueError(
                f"refine.seeds and noise_seeds share seed {shared[0]}: the spread from seed to seed would be "
                "measured with the seeds that chose the best"
            )
        return self


@dataclass(frozen=True)
class Setup:
    """What every evaluation needs (picklable, sent to the workers once per candidate)."""

    scenario: Scenario
    names: tuple[str, ...]
    keys: tuple[tuple[str, ...], ...]
    seeds: tuple[int, ...]
    households_per_agent: int
    calibrate_until: str
    barrier_months: tuple[str, ...]
    barrier_weight: float
    weights: tuple[tuple[str, float], ...]
    priors: tuple[tuple[str, float | None, float | None], ...]
    observed: tuple[T.Target, ...] | None = None  # replace the observed figures (tests: recover known values)
    fit: tuple[str, ...] = ()  # the families the loss counts (empty: every target family)

    def scenario_at(self, x: Sequence[float]) -> Scenario:
        changes = {key: float(v) for keys, v in zip(self.keys, x, strict=True) for key in keys}
        return self.scenario.with_changes(changes, source="<calibration>")


@dataclass(frozen=True)
class Candidate:
    """One evaluated candidate."""

    x: tuple[float, ...]
    loss: float
    fit: float  # the targets' part of the loss
    barriers: float  # the barrier-ranking part
    prior: float  # the priors' part
    seconds: float
    error: str = ""


def _prior(setup: Setup, x: Sequence[float]) -> float:
    total = 0.0
    for (kind, mean, sd), v in zip(setup.priors, x, strict=True):
        if kind == "normal":
            total += 0.5 * ((v - mean) / sd) ** 2
    return total


def months_seen(scenario: Scenario, calibrate_until: str) -> int:
    """The months of ``scenario`` that a loss over the points to ``calibrate_until`` (YYYY-MM) can see: from its
    start to that month, at least one and at most its horizon."""
    from returnsim.geography import month_number

    last = month_number(calibrate_until) - month_number(scenario.simulation.start) + 1
    return min(max(last, 1), scenario.simulation.months)


def objective(setup: Setup, x: Sequence[float], seeds: Sequence[int] | None = None) -> Candidate:
    """Evaluate one candidate: run it with every seed, to the end of the calibration period, and score it (see
    the module documentation)."""
    t0 = time.perf_counter()
    try:
        scenario = setup.scenario_at(x)
        months = months_seen(scenario, setup.calibrate_until)
        runs = [
            simulate(
                scenario,
                seed=s,
                months=months,
                households_per_agent=setup.households_per_agent,
                explain_at=setup.barrier_months,
            )
            for s in seeds or setup.seeds
        ]
    except ScenarioError as exc:  # a candidate the schema refuses (e.g. outside a key's range)
        return Candidate(tuple(x), math.inf, math.inf, 0.0, 0.0, time.perf_counter() - t0, str(exc))
    frame = T.compare([r.series for r in runs], setup.observed, setup.calibrate_until)
    fit = T.loss(frame, dict(setup.weights), families=setup.fit or None)
    barriers = 0.0
    if setup.barrier_months and setup.barrier_weight:
        from returnsim.explain import rank_penalty

        penalties = [rank_penalty(r.explained[m]) for r in runs for m in setup.barrier_months if m in r.explained]
        barriers = setup.barrier_weight * float(np.mean(penalties)) if penalties else 0.0
    prior = _prior(setup, x)
    return Candidate(tuple(float(v) for v in x), fit + barriers + prior, fit, barriers, prior, time.perf_counter() - t0)


# ------------------------------------------------------------------------------------------ the file


def _describe(err: dict, source: str) -> str:
    loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        return f"{source}: {loc}: unknown key"
    if kind == "missing":
        return f"{source}: {loc}: required key is missing"
    if kind in _TYPE_WORDS:
        return f"{source}: {loc} = {_show(value)}: {_TYPE_WORDS[kind]}"
    message = str(err.get("ctx", {}).get("error", err["msg"]))
    if kind != "value_error":
        message = err["msg"].lower()
    shown = "" if isinstance(value, dict | list) or not loc else f" = {_show(value)}"
    return f"{source}: {loc}{shown}: {message}" if loc else f"{source}: {message}"


def spec_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> CalibrationSpec:
    try:
        return CalibrationSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise CalibrationError([_describe(e, source) for e in exc.errors(include_url=False)]) from None


def load_spec(path: str | Path) -> CalibrationSpec:
    """Read and validate a calibration file; raise :class:`CalibrationError` naming each problem."""
    from returnsim.scenario.loading import TomlFileError, read_toml_file

    try:
        raw = read_toml_file(path, kind_of_file="a calibration file")
    except TomlFileError as exc:
        raise CalibrationError([str(exc)]) from None
    return spec_from_dict(raw, str(path))


def setup_of(spec: CalibrationSpec, source: str, quick: bool = False, folder: Path | None = None) -> Setup:
    """The evaluation setup of a spec (``quick``: its quick settings); checks every key against the scenario."""
    local = (folder or Path(".")) / spec.scenario
    try:
        scenario = load_scenario(local if local.exists() else spec.scenario)
    except ScenarioError as exc:
        raise CalibrationError([f"{source}: scenario = {_show(spec.scenario)}: {p}" for p in exc.problems]) from None
    params = spec.parameters
    if quick and spec.quick.parameters:
        params = [p for p in params if p.name in spec.quick.parameters]
    problems = []
    for i, p in enumerate(params):
        for value in (p.low, p.high):
            try:
                scenario.with_changes({k: float(value) for k in p.keys}, source=f"{source}: parameters[{i}]")
            except ScenarioError as exc:
                problems += exc.problems
    if problems:
        raise CalibrationError(sorted(set(problems)))
    return Setup(
        scenario=scenario,
        names=tuple(p.name for p in params),
        keys=tuple(tuple(p.keys) for p in params),
        seeds=tuple(spec.quick.seeds if quick else spec.seeds),
        households_per_agent=spec.quick.households_per_agent if quick else spec.households_per_agent,
        calibrate_until=spec.calibrate_until,
        barrier_months=tuple(spec.barrier_months),
        barrier_weight=spec.barrier_weight,
        weights=tuple(sorted(spec.weights.items())),
        priors=tuple((p.prior, p.mean, p.sd) for p in params),
        observed=tuple(t for t in T.targets() + T.context() if t.family in spec.fit) if spec.fit else None,
        fit=tuple(spec.fit),
    )


# ---------------------------------------------------------------------------------------- the search


def _key(x: Sequence[float]) -> str:
    return hashlib.sha1(json.dumps([round(float(v), 10) for v in x]).encode()).hexdigest()[:16]


def fingerprint(setup: Setup) -> str:
    """A short hash of everything a candidate's loss depends on besides its values: the scenario as resolved,
    the parameters' names and keys, seeds, scale, calibration period, weights, priors, the observed targets and
    the package's version. A folder's evaluations are reused only by a calibration with the same fingerprint."""
    from returnsim import __version__

    targets = setup.observed if setup.observed is not None else T.targets()
    doc = {
        "scenario": setup.scenario.model_dump(mode="json"),
        "setup": [getattr(setup, f) for f in ("names", "keys", "seeds", "households_per_agent", "calibrate_until")],
        "loss": [setup.barrier_months, setup.barrier_weight, setup.weights, setup.priors, setup.fit],
        "targets": [(t.family, t.label, t.observed, t.columns, t.first, t.last, t.how) for t in targets],
        "version": __version__,
    }
    return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:16]


class Evaluations:
    """Every evaluated candidate, appended to ``evaluations.csv`` as it finishes (one line, flushed and synced),
    and read back on a rerun so nothing is evaluated twice. Beside it, ``evaluations.json`` holds the
    calibration's :func:`fingerprint`: a rerun with other parameters, scenario, targets or settings is refused
    (its losses would not hold), naming the folder, instead of mixing the two."""

    def __init__(self, path: Path, names: Sequence[str], fingerprint: str | None = None):
        self.path, self.names = Path(path), list(names)
        self.done: dict[str, Candidate] = {}
        self._check(fingerprint)
        if self.path.exists():
            with self.path.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    try:
                        x = tuple(float(row[n]) for n in self.names)
                        c = Candidate(
                            x,
                            float(row["loss"]),
                            float(row["fit"]),
                            float(row["barriers"]),
                            float(row["prior"]),
                            float(row["seconds"]),
                            row.get("error", ""),
                        )
                    except (KeyError, ValueError):
                        continue  # a line cut short by an interruption: evaluated again
                    self.done[_key(x)] = c
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        if new and fingerprint is not None:
            write_json_atomic({"fingerprint": fingerprint, "parameters": self.names}, self._sidecar)
        self._fh = self.path.open("a", newline="", encoding="utf-8")
        self._out = csv.writer(self._fh)
        if new:
            self._out.writerow([*self.names, "loss", "fit", "barriers", "prior", "seconds", "error"])
            self._fh.flush()

    @property
    def _sidecar(self) -> Path:
        return self.path.with_suffix(".json")

    def _check(self, fingerprint: str | None) -> None:
        """Refuse a file written by another calibration: other parameters (its header) or another fingerprint."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
        advice = f"choose another output folder, or remove {self.path.parent} to start again"
        if header[: len(self.names) + 1] != [*self.names, "loss"]:
            old = ", ".join(header[: header.index("loss")] if "loss" in header else header)
            ours = ", ".join(self.names)
            problem = f"{self.path}: written by a calibration of other parameters ({old}), not {ours}: {advice}"
            raise CalibrationError([problem])
        if fingerprint is None or not self._sidecar.exists():
            return  # written before fingerprints were kept: the parameters match, so it is reused
        try:
            old = json.loads(self._sidecar.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            old = None
        if old != fingerprint:
            raise CalibrationError(
                [
                    f"{self.path}: evaluated with another scenario, targets, seeds or settings (fingerprint {old}, "
                    f"now {fingerprint}), so its losses do not hold for this calibration: {advice}"
                ]
            )

    def add(self, c: Candidate) -> None:
        self.done[_key(c.x)] = c
        self._out.writerow([*c.x, c.loss, c.fit, c.barriers, c.prior, round(c.seconds, 3), c.error])
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def _evaluate_all(
    setup: Setup,
    xs: list[tuple[float, ...]],
    store: Evaluations,
    map_unordered,
    tick: Callable[[Candidate], None] | None,
) -> list[float]:
    missing = [x for x in dict.fromkeys(xs) if _key(x) not in store.done]
    if missing:
        for done in map_unordered(partial(objective, setup), missing):
            c = (
                done.value
                if done.error is None
                else Candidate(done.item, math.inf, math.inf, 0, 0, 0, repr(done.error))
            )
            store.add(c)
            if tick:
                tick(c)
    return [store.done[_key(x)].loss for x in xs]


def search(
    setup: Setup,
    optimizer: Optimizer | Quick,
    store: Evaluations,
    map_unordered,
    bounds: Sequence[tuple[float, float]],
    tick=None,
    seed: int = 1,
    tol: float = 0.01,
    start: Sequence[float] | None = None,
):
    """Run differential evolution; every generation's candidates go through ``map_unordered`` together; ``start``
    (a starting guess) joins the first generation."""
    from scipy.optimize import differential_evolution

    def batch(fn, population: Iterable) -> list[float]:
        return _evaluate_all(setup, [tuple(float(v) for v in x) for x in population], store, map_unordered, tick)

    return differential_evolution(
        lambda x: 0.0,  # never called: the map below evaluates every candidate
        bounds=list(bounds),
        popsize=optimizer.popsize,
        maxiter=optimizer.maxiter,
        tol=tol,
        seed=seed,
        init="latinhypercube",
        updating="deferred",
        workers=batch,
        polish=False,
        x0=None if start is None else np.asarray(start, float),
    )


# ------------------------------------------------------------------------------------------ the run


@dataclass
class Calibration:
    """A finished calibration: the best values, the parameter sets that fit about as well, the fit."""

    setup: Setup
    names: list[str]
    best: Candidate
    noise_sd: float
    accepted: list[Candidate]
    parameters: Any  # pandas.DataFrame: per parameter, best, accepted low/high/mean, bounds, prior
    fit: Any  # pandas.DataFrame: every target, observed vs simulated at the best (calibration and hold-out)
    summary: Any  # pandas.DataFrame: statistics per family and period
    evaluations: int
    seconds: float
    reused: int = 0  # evaluations read back from an earlier session's evaluations.csv
    refined: int = 0  # the best candidates of the search evaluated again at the finer scale (``refine``)
    search: tuple[tuple[int, ...], int] | None = None  # the search's own seeds and scale, when refined
    search_best: float | None = None  # the lowest loss of the search, when refined (the best's is the finer run's)


def _serial_map(fn, items):
    """Evaluate one after another (the default when no executor is given)."""
    from types import SimpleNamespace

    for item in items:
        try:
            yield SimpleNamespace(item=item, value=fn(item), error=None)
        except Exception as exc:
            yield SimpleNamespace(item=item, value=None, error=exc)


def calibrate(
    spec: CalibrationSpec,
    out: Path,
    *,
    source: str = "<spec>",
    folder: Path | None = None,
    quick: bool = False,
    map_unordered=None,
    observed: Sequence[T.Target] | None = None,
    tick: Callable[[Candidate], None] | None = None,
) -> Calibration:
    """Run (or resume) a calibration into ``out``; see the module documentation."""
    import pandas as pd

    t0 = time.perf_counter()
    setup = setup_of(spec, source, quick, folder)
    if observed is not None:
        setup = Setup(**{**setup.__dict__, "observed": tuple(observed)})
    params = {p.name: p for p in spec.parameters}
    bounds = [(params[n].low, params[n].high) for n in setup.names]
    settings = spec.quick if quick else spec.optimizer
    run_map = map_unordered or _serial_map
    store = Evaluations(Path(out) / "evaluations.csv", setup.names, fingerprint(setup))
    reused = len(store.done)  # read back from an earlier session: not evaluated again
    try:
        starts = [params[n].start for n in setup.names]
        start = starts if all(v is not None for v in starts) else None
        search(
            setup, settings, store, run_map, bounds, tick, seed=spec.optimizer.seed, tol=spec.optimizer.tol, start=start
        )
        finite = [c for c in store.done.values() if math.isfinite(c.loss)]
        if not finite:
            raise CalibrationError([f"{source}: no candidate could be evaluated (see {store.path})"])
        best = min(finite, key=lambda c: c.loss)
        # the spread of the best's loss from seed to seed alone, with groups of as many seeds as the search used
        k = len(setup.seeds)
        noise = noise_seeds(spec, quick)
        groups = [tuple(noise[i : i + k]) for i in range(0, len(noise) - k + 1, k)] or [tuple(noise)]
        repeat = [c.loss for c in run_map_ordered(run_map, partial(_objective_seeds, setup, best.x), groups)]
        noise_sd = float(np.std([best.loss, *repeat], ddof=1)) if repeat else 0.0
        accepted = sorted((c for c in finite if c.loss <= best.loss + 2 * noise_sd), key=lambda c: c.loss)
        curved = curvature_intervals(finite, best, 2 * noise_sd, bounds)
        refined, searched, searched_best, run_setup = 0, None, None, setup
        if spec.refine.candidates and not quick:
            # the finer run decides which of the search's best is the best; what fits about as well stays the
            # search's (its many candidates, its spread), with the refined best among them
            fine, run_setup = _refine(spec.refine, setup, finite, Path(out) / "refined.csv", run_map, tick)
            if not fine:
                raise CalibrationError([f"{source}: no refined candidate could be evaluated (see refined.csv)"])
            refined, searched, searched_best = len(fine), (setup.seeds, setup.households_per_agent), best.loss
            best = min(fine, key=lambda c: c.loss)
            if all(c.x != best.x for c in accepted):
                accepted.append(store.done[_key(best.x)])
        all_seeds = tuple(dict.fromkeys([*run_setup.seeds, *noise]))
        runs = run_map_ordered(run_map, partial(_series, run_setup, best.x), all_seeds)
        fit = T.compare(runs, setup.observed, setup.calibrate_until)
        summary = T.summary(fit)
        rows = []
        for i, name in enumerate(setup.names):
            values = np.array([c.x[i] for c in accepted])
            p = params[name]
            low, high = values.min(), values.max()
            if curved is not None:
                low, high = min(low, curved[i][0]), max(high, curved[i][1])
            low, high = min(low, best.x[i]), max(high, best.x[i])
            rows.append(
                {
                    "parameter": name,
                    "keys": " ".join(p.keys),
                    "best": best.x[i],
                    "low": low,
                    "high": high,
                    "mean": values.mean(),
                    "bound_low": p.low,
                    "bound_high": p.high,
                    "prior": p.prior if p.prior == "uniform" else f"normal({p.mean}, {p.sd})",
                    "note": p.note,
                }
            )
        return Calibration(
            run_setup,
            list(setup.names),
            best,
            noise_sd,
            accepted,
            pd.DataFrame(rows),
            fit,
            summary,
            len(store.done),
            time.perf_counter() - t0,
            reused,
            refined,
            searched,
            searched_best,
        )
    finally:
        store.close()


def _refine(
    refine: Refine, setup: Setup, finite: list[Candidate], path: Path, run_map, tick
) -> tuple[list[Candidate], Setup]:
    """The ``refine.candidates`` best of ``finite`` evaluated again at the finer scale, with the setup that did it.
    Each is appended to ``refined.csv`` as it finishes; a rerun reads them back."""
    from dataclasses import replace

    fine = replace(setup, households_per_agent=refine.households_per_agent, seeds=tuple(refine.seeds))
    chosen = sorted(finite, key=lambda c: c.loss)[: refine.candidates]
    store = Evaluations(path, setup.names, fingerprint(fine))
    try:
        _evaluate_all(fine, [c.x for c in chosen], store, run_map, tick)
        again = [store.done[_key(c.x)] for c in chosen]
    finally:
        store.close()
    return [c for c in again if math.isfinite(c.loss)], fine


def curvature_intervals(
    candidates: Sequence[Candidate], best: Candidate, rise: float, bounds: Sequence[tuple[float, float]]
) -> list[tuple[float, float]] | None:
    """Per parameter, the interval over which the loss stays within ``rise`` of the best, from a quadratic fitted
    to the candidates near the best (a Laplace approximation of the loss surface: ``x* +- sqrt(2 rise (H^-1)_ii)``
    with ``H`` the fitted curvature), clipped to the bounds. ``None`` when too few candidates lie near the best or
    the fitted surface is not curved upwards in every direction."""
    lo, hi = np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])
    span = hi - lo
    x0 = (np.array(best.x) - lo) / span
    near = sorted(candidates, key=lambda c: c.loss)[: max(40, 8 * len(bounds) ** 2)]
    d = np.array([(np.array(c.x) - lo) / span - x0 for c in near])
    y = np.array([c.loss for c in near]) - best.loss
    n = d.shape[1]
    pairs = [(i, j) for i in range(n) for j in range(i, n)]
    features = np.column_stack([np.ones(len(d)), d, *[d[:, i] * d[:, j] for i, j in pairs]])
    if len(d) < 2 * features.shape[1] or not rise > 0:
        return None
    coef = np.linalg.lstsq(features, y, rcond=None)[0]
    h = np.zeros((n, n))
    for k, (i, j) in enumerate(pairs):
        value = coef[1 + n + k]
        h[i, j] += value if i != j else 2 * value
        h[j, i] = h[i, j] if i != j else h[i, i]
    try:
        inverse = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return None
    if np.any(np.linalg.eigvalsh(h) <= 0):
        return None
    half = np.sqrt(2 * rise * np.diag(inverse)) * span
    centre = np.array(best.x)
    return [
        (float(max(a, b0)), float(min(b, b1)))
        for a, b, b0, b1 in zip(centre - half, centre + half, lo, hi, strict=True)
    ]


def noise_seeds(spec, quick: bool) -> list[int]:
    """The seeds that measure the best candidate's spread from seed to seed: ``noise_seeds``, or in quick mode
    the first two of them (never the search's own seeds, whose loss the search has already seen)."""
    return list(spec.noise_seeds[:2]) if quick else list(spec.noise_seeds)


def _objective_seeds(setup: Setup, x: Sequence[float], seeds: Sequence[int]) -> Candidate:
    return objective(setup, x, seeds)


def _series(setup: Setup, x: Sequence[float], seed: int) -> dict:
    return simulate(setup.scenario_at(x), seed=seed, households_per_agent=setup.households_per_agent).series


def run_map_ordered(map_unordered, fn, items: Sequence) -> list:
    """``map_unordered`` in the order of ``items`` (raising the first error)."""
    results = {}
    for done in map_unordered(partial(_call, fn), list(enumerate(items))):
        if done.error is not None:
            raise done.error
        results[done.item[0]] = done.value
    return [results[i] for i in range(len(items))]


def _call(fn, indexed):
    return fn(indexed[1])


# ------------------------------------------------------------------------------------------ the report


def write_report(c: Calibration, folder: Path, spec: CalibrationSpec, source: str, quick: bool) -> Path:
    """The fit report in ``folder``: ``fit.md``, ``parameters.csv``, ``fit.csv``, ``summary.csv``,
    ``accepted.csv``, ``calibrated.toml`` (the values to put in the scenario) and figures ``fit.png``,
    ``parameters.png`` and ``convergence.png``."""
    import pandas as pd

    from returnsim.validate import Validation, checks, figure

    folder = Path(folder)
    c.parameters.to_csv(folder / "parameters.csv", index=False)
    c.fit.to_csv(folder / "fit.csv", index=False)
    c.summary.to_csv(folder / "summary.csv", index=False)
    pd.DataFrame([[*a.x, a.loss] for a in c.accepted], columns=[*c.names, "loss"]).to_csv(
        folder / "accepted.csv", index=False
    )
    lines = [f"# values fitted by returnsim calibrate ({source}{', quick' if quick else ''})"]
    for _, row in c.parameters.iterrows():
        for key in row["keys"].split():
            lines.append(f'"{key}" = {row["best"]:.6g}  # fits about as well: {row["low"]:.4g} to {row["high"]:.4g}')
    (folder / "calibrated.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    seeds = sorted({*c.setup.seeds, *noise_seeds(spec, quick)})
    v = Validation(
        c.setup.scenario.meta.name,
        seeds,
        c.setup.households_per_agent,
        c.setup.calibrate_until,
        c.fit,
        c.summary,
        checks(c.fit),
    )
    figure(v, folder / "fit.png")
    _parameters_figure(c, folder / "parameters.png")
    _convergence_figure(folder / "evaluations.csv", folder / "convergence.png")
    (folder / "fit.md").write_text(_markdown(c, v, spec, source, quick), encoding="utf-8")
    return folder


def _markdown(c: Calibration, v, spec: CalibrationSpec, source: str, quick: bool) -> str:
    from returnsim.validate import format_validation

    p = c.parameters
    width = (p["high"] - p["low"]) / (p["bound_high"] - p["bound_low"])
    weak = [name for name, w in zip(p["parameter"], width, strict=True) if w > 0.5]
    seeds, scale = c.search or (c.setup.seeds, c.setup.households_per_agent)
    out = [
        f"# Calibration of `{c.setup.scenario.meta.name}`{' (quick)' if quick else ''}",
        "",
        f"From `{source}`: {len(c.names)} free parameters, {c.evaluations} candidates evaluated"
        + (f" ({c.reused} of them by an earlier session, read back from `evaluations.csv`)" if c.reused else "")
        + f" in {c.seconds / 60:.1f} minutes{' this session' if c.reused else ''}, each with seeds "
        f"{', '.join(map(str, seeds))} at 1 agent per {scale} households. "
        f"Calibration period: to {c.setup.calibrate_until}; the later "
        "points are a hold-out the search never saw.",
        "",
    ]
    if c.refined:
        mine = next(a.loss for a in c.accepted if a.x == c.best.x)
        out += [
            f"The {c.refined} best of the search were evaluated again with seeds "
            f"{', '.join(map(str, c.setup.seeds))} at 1 agent per {c.setup.households_per_agent} households "
            f"(`refined.csv`), and the best is the one with the lowest loss there: {c.best.loss:.3f} (targets "
            f"{c.best.fit:.3f}, barrier ranking {c.best.barriers:.3f}, priors {c.best.prior:.3f}; {mine:.3f} in the "
            f"search, whose lowest was {c.search_best:.3f}). The fit below is at that finer scale. What fits about as "
            f"well is the search's: its best's spread from seed to seed alone is {c.noise_sd:.3f}, so the "
            f"{style.count(len(c.accepted), 'candidate')} within {2 * c.noise_sd:.3f} of its "
            "lowest loss (and the best) fit about as "
            "well; their range is the uncertainty below.",
            "",
        ]
    else:
        out += [
            f"Best loss {c.best.loss:.3f} (targets {c.best.fit:.3f}, barrier ranking {c.best.barriers:.3f}, priors "
            f"{c.best.prior:.3f}); its spread from seed to seed alone is {c.noise_sd:.3f}, so the "
            f"{style.count(len(c.accepted), 'candidate')} within {2 * c.noise_sd:.3f} of the "
            "best fit about as well. Their range is the uncertainty below.",
            "",
        ]
    out += [
        "## Fitted values",
        "",
        "| parameter | scenario keys | best | fits about as well | bounds | prior |",
        "|---|---|---:|---|---|---|",
    ]
    for _, r in p.iterrows():
        out.append(
            f"| {r['parameter']} | `{r['keys']}` | {r['best']:.4g} | {r['low']:.4g} to {r['high']:.4g} | "
            f"{r['bound_low']:g} to {r['bound_high']:g} | {r['prior']} |"
        )
    out += [
        "",
        "Identifiability: "
        + (
            f"the data leave {', '.join(weak)} loosely determined (the sets that fit about as well span more than "
            "half of their bounds)."
            if weak
            else "every parameter is confined to less than half of its bounds by the sets that fit about as well."
        ),
        "",
        "## Goodness of fit",
        "",
        "| family | period | points | within tolerance | MAPE % | worst ratio | mean abs. points |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for _, r in c.summary.iterrows():

        def fmt(x, f):
            return "" if pd_isna(x) else format(x, f)

        out.append(
            f"| {r['family']} | {r['period']} | {r['points']} | {r['within']} | {fmt(r['mape_pct'], '.1f')} | "
            f"{fmt(r['worst_ratio'], '.2f')} | {fmt(r['mean_abs_points'], '.2f')} |"
        )
    out += [
        "",
        "## Every point",
        "",
        "```",
        format_validation(v),
        "```",
        "",
        "Figures: `fit.png` (observed against the model, hold-out shaded), `parameters.png` (the sets that fit "
        "about as well, within each parameter's bounds), `convergence.png` (loss of every candidate).",
        "",
    ]
    return "\n".join(out)


def pd_isna(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _parameters_figure(c: Calibration, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(c.names)
    fig, ax = plt.subplots(figsize=(8, 0.45 * n + 1.2), layout="constrained")
    for i, (_, r) in enumerate(c.parameters.iterrows()):
        span = r["bound_high"] - r["bound_low"]
        xs = [(a.x[i] - r["bound_low"]) / span for a in c.accepted]
        ax.plot(xs, [i] * len(xs), "|", color="#1f77b4", alpha=0.6, markersize=12)
        ax.plot([(r["best"] - r["bound_low"]) / span], [i], "D", color="#d62728")
    ax.set_yticks(range(n), c.names)
    ax.set_xlim(0, 1)
    ax.set_xlabel("position within the parameter's bounds (0 = low, 1 = high)")
    ax.set_title("Parameter sets that fit about as well (ticks) and the best (diamond)")
    ax.grid(alpha=0.3, axis="x")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _convergence_figure(evaluations: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    e = pd.read_csv(evaluations)
    loss = e["loss"].replace([np.inf], np.nan)
    fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
    ax.plot(np.arange(len(e)), loss, ".", color="0.6", markersize=3, label="candidate")
    ax.plot(np.arange(len(e)), loss.cummin(), color="#d62728", label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("candidate (in the order evaluated)")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)
