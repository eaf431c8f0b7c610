"""Setting the model beside the evidence: targets, validate, explain and calibrate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from returnsim import decision, load_scenario, simulate
from returnsim import targets as T
from returnsim.calibrate import (
    CalibrationError,
    calibrate,
    load_spec,
    months_seen,
    noise_seeds,
    objective,
    setup_of,
    spec_from_dict,
)
from returnsim.cli import main
from returnsim.explain import BARRIERS, binding_shares, contributions, explain, rank_penalty
from returnsim.simulation import Simulation
from returnsim.tables import Tables
from returnsim.transitions import decide
from returnsim.validate import validate

FAST = {"households_per_agent": 5000}


# ------------------------------------------------------------------------------------------------ validate


def test_validate_prints_every_series_and_the_targets(tmp_path, capsys):
    out = tmp_path / "v"
    assert main(["validate", "--seeds", "1", "--households-per-agent", "5000", "--out", str(out), "--no-plot"]) == 0
    text = capsys.readouterr().out
    assert "verified refugee returns by year (within x1.5)" in text and "holdout" in text
    assert "targets\n  [" in text and "verified refugee returns 2017-2023: MAPE <= 25 %" in text
    context = text.split("returns reported beyond UNHCR's verification (context, not a target)\n")[1].split("\n\n")[0]
    assert "177,282" in next(line for line in context.splitlines() if "turkey 2018 with gov." in line)
    assert "<- outside" not in context
    frame = pd.read_csv(out / "validation.csv")
    assert not frame.query("family == 'reported_returns'")["within"].all()  # far off, yet not marked: no target
    # computed, not copied: the file's model figures are those of a fresh run
    r = simulate("baseline", seed=load_spec_seed(), **FAST)
    again = T.compare([r.series], T.targets() + T.context())
    merged = frame.merge(again, on=["family", "label"], suffixes=("", "_again"))
    np.testing.assert_allclose(merged["simulated"], merged["simulated_again"])
    assert json.loads((out / "manifest.json").read_text())["kind"] == "validate"


def test_validate_leaves_out_what_a_scenario_does_not_have(toy):
    """A world without Syria's hosts and regions validates against what it has, without a KeyError."""
    v = validate(toy(), seeds=1)
    families = set(v.frame["family"])
    assert "idp_stock" in families and not families & {"refugee_returns", "returns_by_host", "refugee_stock"}


def load_spec_seed() -> int:
    from returnsim import load_scenario

    return load_scenario("baseline").simulation.seed


# ------------------------------------------------------------------------------------------------- explain


@pytest.fixture(scope="module")
def running():
    sim = Simulation("baseline", seed=3, **FAST)
    for _ in range(30):
        sim.step()
    return sim


def test_contributions_add_up_to_the_utility(running):
    sim = running
    tab = Tables.build(sim.params, sim.geo, sim.levers(), sim.state.livelihood)
    rows = np.flatnonzero(sim.state.displaced())
    x = decide.inputs(sim.state, tab, sim.params, rows)
    parts = contributions(x, sim.params.decision)
    np.testing.assert_allclose(
        sum(parts.values()), decision.return_utility(x, sim.params.decision), rtol=1e-5, atol=1e-5
    )


def test_the_binding_barrier_is_the_largest_one():
    parts = {k: np.zeros(3) for k in contributions(decision.ReturnInputs.single(), _weights())}
    parts["perceived risk of arrest"] = np.array([-2.0, -0.1, 0.0])
    parts["military service"] = np.array([-1.0, -0.5, 0.0])
    parts["loss of the home"] = np.array([-0.5, -0.3, -0.2])
    parts["missing services at origin"] = np.array([-0.6, -0.1, 0.0])
    shares = binding_shares(parts)
    assert shares == {
        "safety and security": 1 / 3,
        "basic services and shelter": 1 / 3,
        "military service": 1 / 3,
        "livelihoods and jobs": 0.0,
    }
    assert (
        rank_penalty(
            {
                "safety and security": 0.5,
                "basic services and shelter": 0.3,
                "military service": 0.15,
                "livelihoods and jobs": 0.05,
            }
        )
        == 0.0
    )
    assert rank_penalty(
        {
            "safety and security": 0.3,
            "basic services and shelter": 0.5,
            "military service": 0.1,
            "livelihoods and jobs": 0.1,
        }
    ) == pytest.approx((0.5 + 0.02 - 0.3) / 0.05 + 0.02 / 0.05)


def _weights():
    from returnsim.scenario import Decision

    return Decision()


def test_a_heavier_security_barrier_binds_for_more_households(running):
    sim = running
    light = explain(sim)
    heavy_sim = Simulation(sim.params.with_changes({"decision.detention_risk": 500.0}), seed=3, **FAST)
    for _ in range(30):
        heavy_sim.step()
    heavy = explain(heavy_sim)

    def share(table):
        return table.query("group == 'safety and security'")["binding_share"].iloc[0]

    assert share(heavy) > share(light) + 0.1
    assert set(light.dropna(subset=["binding_share"])["group"]) == set(BARRIERS)


def test_who_rules_is_reported_on_its_own_and_never_decides_which_barrier_binds(running):
    sim = running
    fallen = sim.params.with_changes(
        {"events": [*sim.params.events, {"type": "regime_change", "month": "2017-01", "regime": 0.0}]}
    )
    after = Simulation(fallen, seed=3, **FAST)
    after.step()
    table = explain(after).set_index("factor")
    row = table.loc["the fall of the government they fled"]
    assert (row["group"], row["mean_contribution"]) == ("who rules", pytest.approx(fallen.decision.regime))
    assert np.isnan(row["binding_share"]) and "who rules" not in BARRIERS
    before = Simulation(sim.params, seed=3, **FAST)
    before.step()
    assert explain(before).set_index("factor").loc["the fall of the government they fled", "mean_contribution"] == 0


def test_explain_command(tmp_path, capsys):
    out = tmp_path / "e"
    assert main(["explain", "--month", "2019-01", "--households-per-agent", "5000", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "decisions of 2019-01" in text and "survey rank" in text
    assert {p.name for p in out.iterdir()} == {"explain.csv", "explain.png", "manifest.json"}
    assert main(["explain", "--month", "2030-01", "--households-per-agent", "5000", "--out", str(tmp_path / "f")]) == 2
    assert "--month 2030-01: must be a month of the run, 2017-01 to 2024-06" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------- calibrate


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"parameters": []}, None),
        (
            {"parameters": [{"name": "a", "keys": ["decision.intercept"], "low": 1.0, "high": 0.0}]},
            "<dict>: parameters[0]: low must be below high (both finite numbers)",
        ),
        (
            {"parameters": [{"name": "a", "keys": [], "low": 0.0, "high": 1.0}]},
            "<dict>: parameters[0].keys: must list at least one dotted scenario key",
        ),
        (
            {"parameters": [{"name": "a", "keys": ["decision.intercept"], "low": 0.0, "high": 1.0, "prior": "normal"}]},
            "<dict>: parameters[0]: a normal prior needs mean and sd > 0",
        ),
        (
            {"parameters": [], "weights": {"refugee_return": 2.0}},
            "<dict>: weights: 'refugee_return' is not a target family (known: refugee_returns, returns_by_host, "
            "refugee_stock, intention, hope, intention_by_host, hope_by_host, idp_stock, idp_returns)",
        ),
        (
            {"parameters": [], "fit": ["shock_return"]},
            f"<dict>: fit: 'shock_return' is not a family of observed figures (known: {', '.join(T.SHOWN)})",
        ),
        (
            {"parameters": [], "fit": ["shock_returns", "shock_hope"], "weights": {"hope": 2.0}},
            "<dict>: weights: 'hope' is not a family the loss counts (known: shock_returns, shock_hope)",
        ),
        ({"parameters": [], "seeds": [1, 1]}, "<dict>: seeds: must list one or more distinct seeds"),
        ({"parameters": [], "popsize": 3}, "<dict>: popsize: unknown key"),
    ],
)
def test_calibration_file_errors_are_located(data, message):
    if message is None:
        assert spec_from_dict(data).parameters == []
        return
    with pytest.raises(CalibrationError) as err:
        spec_from_dict(data)
    assert message in err.value.problems


def test_a_parameter_outside_what_its_key_accepts_is_refused(tmp_path):
    spec = spec_from_dict({"parameters": [{"name": "a", "keys": ["hosts.turkey.pressure"], "low": 0.5, "high": 2.0}]})
    with pytest.raises(CalibrationError) as err:
        calibrate(spec, tmp_path / "c")
    assert err.value.problems == ["<spec>: parameters[0]: hosts.turkey.pressure = 2.0: must be between 0 and 1"]


def test_the_library_calibration_file_is_valid():
    spec = load_spec("experiments/calibration.toml")
    assert len(spec.parameters) >= 8 and set(spec.quick.parameters) <= {p.name for p in spec.parameters}


def test_the_fall_has_its_own_calibration_that_counts_only_what_followed_it_and_finds_the_political_terms():
    spec = load_spec("experiments/calibration_fall.toml")
    setup = setup_of(spec, "experiments/calibration_fall.toml", quick=True)
    assert {t.family for t in setup.observed} == {"shock_returns", "shock_intention", "shock_hope"}
    assert setup.keys == (("decision.regime",), ("hope.regime",)) and setup.calibrate_until == "2025-04"
    baseline = load_scenario("baseline")
    fitted = objective(setup, [baseline.decision.regime, baseline.hope.regime])
    without = objective(setup, [0.0, 0.0])  # the fall changes only arrests and military service
    assert fitted.fit < without.fit / 4, (fitted.fit, without.fit)


@pytest.mark.parametrize("path", sorted(str(p) for p in Path("experiments").glob("calibration*.toml")))
def test_every_library_calibration_file_loads_and_searches_inside_the_full_ranges(path):
    full = {p.name: p for p in load_spec("experiments/calibration.toml").parameters}
    for p in load_spec(path).parameters:  # a file the README tells users to run must at least load
        if p.name in full and p.keys == full[p.name].keys:
            assert full[p.name].low <= p.low < p.high <= full[p.name].high, (path, p.name)


def test_the_local_calibration_searches_inside_the_full_ranges_around_its_start():
    full = {p.name: p for p in load_spec("experiments/calibration.toml").parameters}
    local = load_spec("experiments/calibration_local.toml")
    assert [p.name for p in local.parameters] == list(full)
    for p in local.parameters:
        wide = full[p.name]
        assert wide.low <= p.low <= p.start <= p.high <= wide.high, p.name
        assert p.high - p.low <= 0.31 * (wide.high - wide.low), p.name


def test_the_savings_calibration_is_the_local_search_with_spending_freed():
    local = load_spec("experiments/calibration_local.toml")
    spend = load_spec("experiments/calibration_savings.toml")
    assert spend.parameters[:-1] == local.parameters and spend.weights == local.weights
    assert spend.parameters[-1].keys == ["economy.savings_spend"]
    assert 0 < spend.parameters[-1].low < spend.parameters[-1].start < spend.parameters[-1].high < 1


def test_candidates_run_to_the_end_of_the_calibration_period_only_and_score_as_full_runs(monkeypatch):
    import returnsim.calibrate as C

    spec = load_spec("experiments/calibration.toml")
    setup = setup_of(spec, "experiments/calibration.toml", quick=True)
    x = [p.start for p in spec.parameters if p.name in spec.quick.parameters]
    asked = []

    def recording(*args, **kwargs):
        asked.append(kwargs["months"])
        return simulate(*args, **kwargs)

    monkeypatch.setattr(C, "simulate", recording)
    short = objective(setup, x)
    assert asked == [60] * len(setup.seeds)  # 2017-01 to 2021-12, of the baseline's 90 months
    scale = setup.households_per_agent
    runs = [simulate(setup.scenario_at(x), seed=s, households_per_agent=scale) for s in setup.seeds]
    assert len(runs[0].series["month"]) == 90
    full = T.loss(T.compare([r.series for r in runs], setup.observed, setup.calibrate_until), dict(setup.weights))
    assert short.fit == pytest.approx(full, rel=1e-12)
    baseline = load_scenario("baseline")
    assert months_seen(baseline, "2016-06") == 1 and months_seen(baseline, "2030-01") == 90


def test_calibration_recovers_known_parameters_and_resumes(tmp_path):
    """Data made by the model with known values are recovered within the reported uncertainty (quick scale);
    a rerun on the same folder evaluates nothing again."""
    truth = {"decision.intercept": -5.2, "hope.intercept": -3.0}  # a hope of about 75 %
    from returnsim import load_scenario

    short = tmp_path / "short.toml"  # 2017-2021: the calibration period only, to keep the test quick
    from returnsim.scenario import builtin_scenarios

    short.write_text(f'extends = "{builtin_scenarios()["baseline"]}"\n[simulation]\nmonths = 60\n', encoding="utf-8")
    # made at the candidates' scale, with a seed of its own: the data carry noise the candidates do not share
    made = simulate(load_scenario(short).with_changes(truth), seed=11, households_per_agent=2000)
    points = []
    for p in T.targets():
        value = p.value(made.series)
        if (
            value is not None
            and p.family in ("refugee_returns", "hope", "intention", "idp_returns")
            and (
                p.kind == "points" or value > 20_000  # counts this coarse scale measures well enough
            )
        ):
            points.append(T.Target(p.family, p.label, max(value, 1.0), p.columns, p.first, p.last, p.how, "model"))
    spec = spec_from_dict(
        {
            "seeds": [7],
            "households_per_agent": 2000,
            "noise_seeds": [8, 9],
            "parameters": [
                {"name": "intercept", "keys": ["decision.intercept"], "low": -7.0, "high": -3.5},
                {"name": "hope", "keys": ["hope.intercept"], "low": -6.0, "high": 0.0},
            ],
            "optimizer": {"popsize": 4, "maxiter": 6, "seed": 3},
        }
    )
    out = tmp_path / "cal"
    calls = []
    c = calibrate(spec, out, observed=points, tick=calls.append)
    for name, key in (("intercept", "decision.intercept"), ("hope", "hope.intercept")):
        row = c.parameters.set_index("parameter").loc[name]
        assert row["low"] <= truth[key] <= row["high"], (name, row.to_dict())
        assert row["high"] - row["low"] < 0.8 * (row["bound_high"] - row["bound_low"])  # the data inform it
    lines = (out / "evaluations.csv").read_text().count("\n")
    again = []
    c2 = calibrate(spec, out, observed=points, tick=again.append)
    assert again == [] and (c2.best.x, c2.best.loss) == (c.best.x, c.best.loss)
    assert c.reused == 0 and c2.reused == c2.evaluations == c.evaluations
    assert (out / "evaluations.csv").read_text().count("\n") == lines
    # a changed calibration is refused on that folder, naming it, rather than reusing losses that do not hold
    weighed = spec_from_dict({**spec.model_dump(), "weights": {"hope": 3.0}})
    with pytest.raises(CalibrationError, match="evaluated with another scenario, targets, seeds or settings"):
        calibrate(weighed, out, observed=points)
    with pytest.raises(CalibrationError, match="evaluated with another scenario, targets, seeds or settings"):
        calibrate(spec, out, observed=points[1:])
    fewer = spec_from_dict({**spec.model_dump(), "parameters": spec.model_dump()["parameters"][:1]})
    with pytest.raises(CalibrationError) as err:
        calibrate(fewer, out, observed=points)
    assert err.value.problems == [
        f"{out / 'evaluations.csv'}: written by a calibration of other parameters (intercept, hope), not intercept: "
        f"choose another output folder, or remove {out} to start again"
    ]
    assert (out / "evaluations.csv").read_text().count("\n") == lines


def test_a_calibrations_fingerprint_is_the_same_in_another_process():
    """A folder is resumed by a later session: the fingerprint must not depend on the process (hash seeds)."""
    import os
    import subprocess
    import sys

    from returnsim.calibrate import fingerprint, setup_of

    code = (
        "from returnsim.calibrate import fingerprint, load_spec, setup_of; "
        "print(fingerprint(setup_of(load_spec('experiments/calibration_local.toml'), 'x')))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    here = fingerprint(setup_of(load_spec("experiments/calibration_local.toml"), "x"))
    assert other.stdout.strip() == here


def test_quick_mode_measures_the_noise_with_seeds_the_search_did_not_use():
    """With the search's own seed the repeat would give the same loss: a spread of 0 and no uncertainty."""
    spec = load_spec("experiments/calibration.toml")
    quick = noise_seeds(spec, quick=True)
    assert len(quick) == 2 and not set(quick) & set(spec.quick.seeds)
    assert noise_seeds(spec, quick=False) == list(spec.noise_seeds)


def test_refinement_picks_the_best_of_the_finer_run_and_resumes(tmp_path):
    """The best candidates of the search are run again at a finer scale; the best reported is the finer run's,
    with its loss there, and a rerun evaluates nothing again."""
    spec = spec_from_dict(
        {
            "seeds": [7],
            "households_per_agent": 4000,
            "noise_seeds": [8, 9],
            "parameters": [{"name": "intercept", "keys": ["decision.intercept"], "low": -9.0, "high": -6.0}],
            "optimizer": {"popsize": 3, "maxiter": 1, "seed": 3},
            "refine": {"candidates": 3, "households_per_agent": 2000, "seeds": [21, 22]},
        }
    )
    out = tmp_path / "cal"
    c = calibrate(spec, out)
    refined = pd.read_csv(out / "refined.csv")
    searched = pd.read_csv(out / "evaluations.csv").sort_values("loss")
    assert c.refined == 3 and len(refined) == 3
    assert sorted(refined["intercept"]) == sorted(searched["intercept"].iloc[:3])  # the three best of the search
    assert c.best.loss == refined["loss"].min() and c.best.x == (refined.sort_values("loss")["intercept"].iloc[0],)
    assert (c.setup.households_per_agent, c.setup.seeds) == (2000, (21, 22)) and c.search == ((7,), 4000)
    again = []
    c2 = calibrate(spec, out, tick=again.append)
    assert again == [] and (c2.best.x, c2.best.loss) == (c.best.x, c.best.loss)
    with pytest.raises(CalibrationError, match=r"refine\.seeds and noise_seeds share seed 8"):
        spec_from_dict({**spec.model_dump(), "refine": {"candidates": 2, "seeds": [8, 30]}})
    with pytest.raises(CalibrationError, match=r"refine\.seeds: must list one or more distinct seeds"):
        spec_from_dict({**spec.model_dump(), "refine": {"candidates": 2, "seeds": [30, 30]}})
