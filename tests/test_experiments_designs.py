"""Designs: sizes, bounds, integer rounding, seeds (paired across points, reproducible), shards."""

from __future__ import annotations

import numpy as np
import pytest

from returnsim.experiments import experiment_from_dict
from returnsim.experiments.designs import plan, points, problem, shard
from returnsim.experiments.seeds import design_seed, replication_seeds

OUT = {"returns": {"column": "returns_voluntary"}}
RANGES = {
    "decision.intercept": {"range": [-6.5, -5.0]},
    "hosts.turkey.pressure": {"range": [0.1, 0.9]},
    "network.ties": {"range": [2, 10], "integer": True},
}


def exp(design: dict, parameters: dict = RANGES, **more):
    return experiment_from_dict(
        {"scenario": "baseline", "design": design, "parameters": parameters, "outcomes": OUT, **more}
    )


@pytest.mark.parametrize(
    ("design", "size"),
    [
        ({"type": "lhs", "points": 10}, 10),
        ({"type": "sobol", "points": 16}, 16 * (3 + 2)),
        ({"type": "sobol", "points": 16, "second_order": True}, 16 * (2 * 3 + 2)),
        ({"type": "morris", "trajectories": 5, "levels": 4}, 5 * (3 + 1)),
    ],
)
def test_sampled_designs_have_their_size_and_stay_in_bounds(design, size):
    e = exp(design, replications=3)
    frame = points(e)
    assert list(frame.columns) == list(RANGES)
    assert len(frame) == size and len(plan(e)) == 3 * size
    for name, spec in RANGES.items():
        lo, hi = spec["range"]
        assert frame[name].between(lo, hi).all(), name
        assert frame[name].nunique() > 1
    assert frame["network.ties"].dtype.kind == "i"  # integer = true: whole numbers, accepted by the scenario


def test_lhs_puts_one_point_in_each_stratum():
    frame = points(exp({"type": "lhs", "points": 20}))
    strata = np.floor((frame["decision.intercept"] + 6.5) / 1.5 * 20).astype(int)
    assert sorted(strata) == list(range(20))


def test_sobol_design_is_saltellis_sample_seeded_from_the_root():
    from SALib.sample import sobol

    floats = {k: v for k, v in RANGES.items() if k != "network.ties"}
    e = exp({"type": "sobol", "points": 8}, floats, root_seed=4)
    expected = sobol.sample(problem(e), 8, calc_second_order=False, seed=design_seed(4))
    np.testing.assert_array_equal(points(e).to_numpy(), expected)
    other = exp({"type": "sobol", "points": 8}, floats, root_seed=5)
    assert not np.array_equal(points(other).to_numpy(), expected)


def test_grid_is_every_combination_with_steps_and_integer_rounding():
    params = {
        "network.ties": {"range": [2, 6], "steps": 3, "integer": True},
        "economy.sanctions": {"values": [True, False]},
        "decision.intercept": {"range": [-6.0, -5.0], "steps": 2},
    }
    frame = points(exp({"type": "grid"}, params))
    assert len(frame) == 3 * 2 * 2
    assert sorted(set(frame["network.ties"])) == [2, 4, 6]
    assert frame.drop_duplicates().shape[0] == 12
    assert set(frame["decision.intercept"]) == {-6.0, -5.0}


def test_replication_seeds_are_shared_by_every_point_and_come_from_the_root():
    e = exp({"type": "lhs", "points": 5}, replications=4, root_seed=9)
    tasks = plan(e)
    by_point = {}
    for t in tasks:
        by_point.setdefault(t.point, []).append(t.seed)
    assert all(seeds == replication_seeds(9, 4) for seeds in by_point.values())
    assert len(set(replication_seeds(9, 4))) == 4
    assert replication_seeds(9, 4) != replication_seeds(10, 4)
    assert [(t.point, t.replication) for t in tasks[:5]] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    assert len({t.run_id for t in tasks}) == len(tasks)
    assert plan(e) == tasks  # the same file plans the same runs
    assert all(isinstance(v, int | float) and not isinstance(v, np.generic) for t in tasks for v in t.changes.values())


def test_more_replications_keep_the_earlier_seeds():
    assert replication_seeds(3, 6)[:2] == replication_seeds(3, 2)


def test_shards_partition_the_plan():
    tasks = plan(exp({"type": "lhs", "points": 7}, replications=3))
    shards = [shard(tasks, i, 4) for i in (1, 2, 3, 4)]
    ids = [t.run_id for s in shards for t in s]
    assert sorted(ids) == sorted(t.run_id for t in tasks) and len(ids) == len(set(ids))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    with pytest.raises(ValueError, match="between 1 and 4"):
        shard(tasks, 5, 4)
