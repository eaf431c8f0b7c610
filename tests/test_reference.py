"""The vectorised model and the per-agent Mesa reference (benchmarks/reference.py) implement the same rules.

1. From the same state, each reference household's own return probability equals the vectorised kernel's.
2. From an identical initial population, one month's voluntary returns agree statistically: over several
   seeds, the two totals differ by less than 4 binomial standard errors (a false alarm about once in 16 000
   runs), and each is within 4 standard errors of the expected count ``sum(p)``.
3. The criterion of 2 has power: a reference whose return utility is shifted by +0.7 (about twice the
   returns) fails it.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from returnsim import load_scenario
from returnsim.model import ReturnModel
from returnsim.population import Status

K = 200  # households per agent: about 13 000 rows
SEED = 1  # the population's seed, the same for every run
RUNS = 16  # seeds of the month's random draws
Z = 4.0


def _load_reference():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "reference.py"
    spec = importlib.util.spec_from_file_location("returnsim_benchmarks_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference = _load_reference()


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("baseline")


def _fresh(scenario) -> ReturnModel:
    return ReturnModel(scenario, seed=SEED, households_per_agent=K, agents=False)


def _month_one_probabilities(scenario) -> tuple[np.ndarray, np.ndarray]:
    """Displaced rows and their voluntary-return probability in the first month (events and economy applied)."""
    m = _fresh(scenario)
    m.policies.apply(m)
    m.places.update_economy(m.params, m._inflow)
    rows = np.flatnonzero(m.is_displaced())
    return rows, m.return_probabilities(rows)


def _voluntary_returns(status: np.ndarray, forced: np.ndarray) -> int:
    """Households that went home of their own accord in the first month (some detained on arrival)."""
    return int((((status == Status.RETURNED) | (status == Status.DETAINED)) & ~forced).sum())


def _agree(a: float, b: float, variance: float) -> bool:
    return abs(a - b) <= Z * math.sqrt(variance)


def test_each_household_computes_the_kernels_probability(scenario):
    rows, p_vec = _month_one_probabilities(scenario)
    ref = reference.ReferenceModel.from_model(_fresh(scenario), seed=0)
    ref.begin_month()
    p_ref = np.array([ref.households[i].intention_and_probability()[1] for i in rows])
    assert (p_vec > 0).mean() > 0.5 and p_vec.max() < 0.5
    # float32 columns (perceived risk) are multiplied in float32 by the kernels, in float64 here
    np.testing.assert_allclose(p_ref, p_vec, rtol=1e-5, atol=1e-12)


def _totals(scenario, ref_scenario=None, runs: int = RUNS) -> tuple[int, int, float, float]:
    _, p = _month_one_probabilities(scenario)
    vec_total = ref_total = 0
    for run in range(runs):
        vec = _fresh(scenario)
        ref = reference.ReferenceModel.from_model(vec, seed=1000 + run)
        if ref_scenario is not None:
            ref.params = ref_scenario
            ref.b = ref_scenario.decision
        vec.rng = np.random.default_rng(2000 + run)  # same population, other draws
        vec.step()
        ref.step()
        vec_total += _voluntary_returns(vec.population.status, vec.population.forced)
        cols = ref.columns()
        ref_total += _voluntary_returns(cols["status"], cols["forced"].astype(bool))
    return vec_total, ref_total, runs * float(p.sum()), runs * float((p * (1 - p)).sum())


def test_one_months_voluntary_returns_agree_statistically(scenario):
    vec_total, ref_total, expected, variance = _totals(scenario)
    assert expected > 300, "too few expected returns for a meaningful comparison"
    assert _agree(vec_total, ref_total, 2 * variance), (vec_total, ref_total, math.sqrt(2 * variance))
    assert _agree(vec_total, expected, variance), (vec_total, expected, math.sqrt(variance))
    assert _agree(ref_total, expected, variance), (ref_total, expected, math.sqrt(variance))


def test_the_comparison_detects_a_different_rule(scenario):
    d = scenario.decision
    wrong = scenario.model_copy(update={"decision": d.model_copy(update={"intercept": d.intercept + 0.7})})
    vec_total, ref_total, _, variance = _totals(scenario, ref_scenario=wrong, runs=4)  # ~8 standard errors apart
    assert ref_total > vec_total
    assert not _agree(vec_total, ref_total, 2 * variance), (vec_total, ref_total, math.sqrt(2 * variance))
