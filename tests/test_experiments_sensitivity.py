"""Sensitivity: the estimators recover known indices (Ishigami, linear functions), the analysis of a sweep
folder feeds them its points in design order, and ``returnsim sensitivity`` prints and writes the results."""

from __future__ import annotations

import random

import numpy as np
import pytest

from returnsim.cli import main
from returnsim.experiments import experiment_from_dict
from returnsim.experiments.designs import plan, points, problem
from returnsim.experiments.runner import RunRecord
from returnsim.experiments.seeds import analysis_seed
from returnsim.experiments.sensitivity import analyze, morris_table, sobol_table
from returnsim.experiments.store import SweepStore, new_manifest
from returnsim.results import OutputError

PI = float(np.pi)
X3 = ["decision.intercept", "decision.pressure", "decision.livelihood"]  # unbounded weights: any range is valid
# Ishigami (a = 7, b = 0.1) on [-pi, pi]^3: analytic first-order and total indices
S1 = [0.3139, 0.4424, 0.0]
ST = [0.5576, 0.4424, 0.2437]


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def experiment(design: dict, parameters: dict, replications: int = 2):
    return experiment_from_dict(
        {
            "scenario": "baseline",
            "design": design,
            "replications": replications,
            "parameters": parameters,
            "outcomes": {"y": {"column": "returns_voluntary"}},
        }
    )


def fake_sweep(folder, e, f, drop_points=()):
    """Store a sweep of ``e`` whose outcome ``y`` is ``f(point values)`` (replications ± 1, mean exact),
    committed in shuffled order, as a parallel sweep would."""
    tasks = plan(e)
    store = SweepStore.open(folder, new_manifest(e, len(tasks), None))
    random.Random(1).shuffle(tasks)
    for task in tasks:
        if task.point in drop_points:
            record = RunRecord(task, "failed", "ValueError: no", 0.0, {}, None, "test")
        else:
            x = np.array([[task.changes[k] for k in e.parameters]], dtype=float)
            noise = (-1.0) ** task.replication  # +1 and -1: the mean over two replications is exact
            record = RunRecord(task, "ok", None, 0.0, {"y": float(f(x)[0]) + noise}, None, "test")
        store.commit(record)
    store.compact()
    return points(e)


def test_sobol_estimator_recovers_the_ishigami_indices():
    from SALib.sample import sobol

    prob = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3}
    X = sobol.sample(prob, 2048, calc_second_order=False, seed=3)
    t = sobol_table(prob, {"y": ishigami(X)}, seed=3).set_index("parameter").loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(t["S1"], S1, atol=0.04)
    np.testing.assert_allclose(t["ST"], ST, atol=0.04)
    assert (t["S1_conf"] > 0).all() and (t["S1_conf"] < 0.1).all()
    inside = (np.abs(t["ST"] - ST) <= 3 * t["ST_conf"]).all()
    assert inside  # the intervals are honest about the error
    assert list(t.sort_values("rank").index) == ["x1", "x2", "x3"]  # ranked by the total index


def test_a_sobol_sweep_folder_is_analysed_in_design_order(tmp_path):
    e = experiment({"type": "sobol", "points": 32}, {k: {"range": [-PI, PI]} for k in X3})
    X = fake_sweep(tmp_path, e, ishigami).to_numpy(float)
    result = analyze(tmp_path, resamples=200)
    direct = sobol_table(problem(e), {"y": ishigami(X)}, resamples=200, seed=analysis_seed(0))
    assert result.method == "sobol" and result.notes == []
    got = result.table.set_index("parameter")[["S1", "ST", "S1_conf", "ST_conf"]]
    expected = direct.set_index("parameter").loc[got.index, got.columns]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_morris_mu_star_is_the_effect_over_the_range_for_a_linear_outcome(tmp_path):
    e = experiment(
        {"type": "morris", "trajectories": 6, "levels": 4},
        {
            "decision.intercept": {"range": [0, 2]},
            "decision.pressure": {"range": [-1, 1]},
            "decision.violence": {"range": [0, 10]},
        },
    )
    fake_sweep(tmp_path, e, lambda x: 3 * x[:, 0] - 5 * x[:, 1] + 0 * x[:, 2])
    t = analyze(tmp_path).table.set_index("parameter")
    np.testing.assert_allclose(
        t.loc[["decision.intercept", "decision.pressure", "decision.violence"], "mu_star"], [6, 10, 0], atol=1e-9
    )
    np.testing.assert_allclose(t["sigma"], 0, atol=1e-9)
    assert t.loc["decision.pressure", "mu"] == pytest.approx(-10)
    assert t["rank"].to_dict() == {"decision.pressure": 1, "decision.intercept": 2, "decision.violence": 3}


def test_morris_table_matches_salib_on_its_own_sample():
    from SALib.sample import morris

    prob = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 1], [0, 1]]}
    X = morris.sample(prob, 8, num_levels=4, seed=2)
    t = morris_table(prob, X, {"y": X[:, 0] ** 2 + X[:, 1]}, levels=4, seed=2)
    assert t.iloc[0]["parameter"] == "b" and t.iloc[0]["mu_star"] == pytest.approx(1.0)


def test_grid_profiles_are_the_means_at_each_value(tmp_path):
    e = experiment(
        {"type": "grid"},
        {"decision.intercept": {"values": [0.0, 1.0, 2.0]}, "decision.pressure": {"values": [10.0, 20.0]}},
        replications=2,
    )
    fake_sweep(tmp_path, e, lambda x: 2 * x[:, 0] + x[:, 1])
    result = analyze(tmp_path)
    p = result.profiles.set_index(["parameter", "value"])
    assert p.loc[("decision.intercept", 2.0), "mean"] == pytest.approx(4 + 15)  # 2x at x = 2, mean of 10 and 20
    assert p.loc[("decision.pressure", 10.0), "mean"] == pytest.approx(2 + 10)
    assert p.loc[("decision.pressure", 10.0), "runs"] == 6
    spread = result.table.set_index("parameter")["spread"]
    assert spread.to_dict() == {"decision.pressure": pytest.approx(10), "decision.intercept": pytest.approx(4)}


def test_lhs_rank_correlations_follow_monotone_effects(tmp_path):
    e = experiment(
        {"type": "lhs", "points": 30},
        {"decision.intercept": {"range": [0, 1]}, "decision.pressure": {"range": [0, 1]}},
        replications=1,
    )
    fake_sweep(tmp_path, e, lambda x: -np.exp(5 * x[:, 1]) + 0.01 * x[:, 0])
    t = analyze(tmp_path).table.set_index("parameter")
    assert t.loc["decision.pressure", "rho"] < -0.95 and t.loc["decision.pressure", "rank"] == 1


def test_a_point_without_a_successful_run_stops_the_indices_with_a_clear_message(tmp_path, capsys):
    e = experiment({"type": "sobol", "points": 4}, {k: {"range": [-PI, PI]} for k in X3})
    fake_sweep(tmp_path, e, ishigami, drop_points={3, 7})
    with pytest.raises(
        OutputError, match=r"2 of 20 design points have no successful run \(points 3, 7\); sobol indices"
    ):
        analyze(tmp_path)
    assert main(["sensitivity", str(tmp_path)]) == 2
    assert "no successful run" in capsys.readouterr().err
    assert not (tmp_path / "sensitivity").exists()
    with pytest.raises(OutputError, match=r"no outcome z \(outcomes: y\)"):
        analyze(tmp_path, outcomes=["z"])


def test_cli_sensitivity_of_a_real_sweep(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(
        'scenario = "baseline"\nmonths = 3\nhouseholds_per_agent = 3000\n[design]\ntype = "sobol"\npoints = 4\n'
        '[parameters]\n"decision.intercept" = { range = [-6.5, -4.5] }\n'
        '"hosts.turkey.pressure" = { range = [0.1, 0.9] }\n'
        '[outcomes]\nreturns = { column = "returns_voluntary_refugees" }\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sensitivity", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Sobol' indices (S1 first order, ST total")
    assert "returns" in printed and "decision.intercept" in printed
    assert {p.name for p in (out / "sensitivity").iterdir()} == {
        "indices.csv",
        "sensitivity.txt",
        "sensitivity.png",
        "manifest.json",
    }
