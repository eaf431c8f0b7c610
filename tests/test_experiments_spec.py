"""Experiment files: every rule has an exact, located message; the example files in experiments/ validate."""

# ruff: noqa: E501  (a table of exact messages reads best one per line)
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from returnsim.experiments import ExperimentError, experiment_from_dict, load_experiment
from returnsim.experiments.designs import plan
from returnsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "experiments"
N_EVENTS = len(load_scenario("baseline").events)

BASE = {
    "scenario": "baseline",
    "design": {"type": "grid"},
    "parameters": {"decision.intercept": {"values": [-6.0, -5.5]}},
    "outcomes": {"returns": {"column": "returns_voluntary"}},
}


def variant(**changes) -> dict:
    """BASE with top-level keys replaced (None deletes)."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return data


def p(**spec) -> dict:
    return {"parameters": spec}


ERRORS = [
    (variant(design={"type": "sobol", "points": 100}), "design.points = 100: must be a power of 2 for Sobol' sampling, e.g. 64 or 128"),
    (variant(design={"type": "sobl"}), "design.type = \"sobl\": unknown design (did you mean 'sobol'?)"),
    (variant(design={"typ": "grid"}), "design: required key is missing: type (one of grid, lhs, sobol, morris)"),
    (variant(design={"type": "morris", "levels": 3}), "design.levels = 3: must be an even number (each step moves half the levels)"),
    (variant(design={"type": "lhs", "points": 0}), "design.points = 0: must be between 1 and 10000000"),
    (variant(design={"type": "lhs", "points": 8, "second_order": True}), "design.second_order: unknown key"),
    (variant(replications=0), "replications = 0: must be between 1 and 1000"),
    (variant(replications=2.5), "replications = 2.5: must be a whole number"),
    (variant(replicatons=3), "replicatons: unknown key (did you mean 'replications'?)"),
    (variant(scenario=None), "scenario: required key is missing"),
    (variant(scenario="baselin"), "scenario = \"baselin\": no such scenario file in ./ or among the built-ins (did you mean the built-in scenario 'baseline'?)"),
    (variant(**p(**{"hosts.turkey.presure": {"values": [0.1]}})), "parameters.\"hosts.turkey.presure\": not a key of the scenario: hosts.turkey.presure does not exist (did you mean 'pressure'?)"),
    (variant(**p(**{"hosts.turky.pressure": {"values": [0.1]}})), "parameters.\"hosts.turky.pressure\": not a key of the scenario: hosts.turky does not exist (did you mean 'turkey'?)"),
    (variant(**p(**{"hosts.turkey": {"values": [0.1]}})), "parameters.\"hosts.turkey\": names a table, not a value: give one of its keys, e.g. hosts.turkey.label"),
    (variant(**p(**{"hosts.turkey.pressure": {"values": [0.1, 1.5]}})), "parameters.\"hosts.turkey.pressure\".values = [0.1, 1.5]: the scenario rejects 1.5: hosts.turkey.pressure = 1.5: must be between 0 and 1"),
    (variant(**p(**{"simulation.months": {"values": [1.5]}})), "parameters.\"simulation.months\".values = [1.5]: the scenario rejects 1.5: simulation.months = 1.5: must be a whole number (set integer = true)"),
    (variant(**p(**{"hosts.turkey.pressure": {"range": [0.1, 0.5]}})), "parameters.\"hosts.turkey.pressure\": a grid needs values, or range with steps (evenly spaced values)"),
    (variant(**p(**{"hosts.turkey.pressure": {"range": [0.5, 0.1], "steps": 3}})), "parameters.\"hosts.turkey.pressure\".range = [0.5, 0.1]: must be [low, high] with low < high"),
    (variant(**p(**{"hosts.turkey.pressure": {"values": [0.1], "range": [0.1, 0.5]}})), "parameters.\"hosts.turkey.pressure\": give either values or range"),
    (variant(**p(**{"hosts.turkey.pressure": {"vals": [0.1]}})), "parameters.\"hosts.turkey.pressure\".vals: unknown key (did you mean 'values'?)"),
    (variant(**p(**{"decision.intercept": {"values": [1, "a"]}})), "parameters.\"decision.intercept\".values = [1, \"a\"]: values must all be of one kind: numbers, true/false, or text strings"),
    (variant(**p(**{"decision.intercept": {"values": [1, 1]}})), "parameters.\"decision.intercept\".values = [1, 1]: lists a value more than once"),
    (variant(design={"type": "lhs", "points": 4}), "parameters.\"decision.intercept\": the lhs design samples ranges: give range = [low, high]"),
    (variant(design={"type": "lhs", "points": 4}, **p(**{"decision.intercept": {"range": [0, 1], "steps": 3}})), "parameters.\"decision.intercept\".steps: only a grid design takes steps"),
    (variant(**p(**{"events.99.quota": {"values": [1]}})), f"parameters.\"events.99.quota\": not a key of the scenario: events has {N_EVENTS} entries (0 to {N_EVENTS - 1})"),
    (variant(parameters={}), "parameters: needs at least one entry"),
    (variant(outcomes={"r": {"column": "returns_voluntry"}}), "outcomes.r.column = \"returns_voluntry\": returns_voluntry is not a time-series column (did you mean 'returns_voluntary'?)"),
    (variant(outcomes={"r": {"column": "returns_voluntary", "statistic": "median"}}), "outcomes.r.statistic = \"median\": must be one of 'sum', 'mean', 'last', 'first', 'max' or 'min'"),
    (variant(outcomes={"r": {"column": "returns_voluntary", "from": "2030-01"}}), "outcomes.r: from 2030-01 to 2024-06 lies outside the simulated months 2017-01 to 2024-06"),
    (variant(outcomes={"r": {"column": "returns_voluntary", "from": "2020-01", "to": "2019-01"}}), "outcomes.r: to = 2019-01 is before from = 2020-01"),
    (variant(outcomes={"r": {"column": "returns_voluntary", "from": "2020-1"}}), "outcomes.r.from = \"2020-1\": must be a month written YYYY-MM, e.g. 2017-01"),
    (variant(outcomes={"r": {"column": "refugees_{host}"}, "r_turkey": {"column": "returns_forced"}}), "outcomes: names used twice (after {host} expansion): r_turkey"),
    (variant(outcomes={"r": {"column": "returns_voluntary"}, "series": ["returns_forced"]}), "outcomes.series = [array]: must be a table (series belongs before the first [table]: in TOML, keys after [outcomes] are in it)"),
    (variant(series=["returns_forcd"]), "series[0] = \"returns_forcd\": returns_forcd is not a time-series column (did you mean 'returns_forced'?)"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "message"), ERRORS, ids=[m.split(":")[0] for _, m in ERRORS])
def test_each_rule_has_its_exact_located_message(data, message):
    with pytest.raises(ExperimentError) as info:
        experiment_from_dict(data, source="x.toml")
    assert info.value.problems == [f"x.toml: {message}"]


def test_every_problem_is_listed_at_once():
    data = variant(replications=0, design={"type": "grid", "points": 3})
    with pytest.raises(ExperimentError) as info:
        experiment_from_dict(data, source="x.toml")
    assert info.value.problems == [
        "x.toml: replications = 0: must be between 1 and 1000",
        "x.toml: design.points: unknown key",
    ]


def test_a_file_names_itself_and_its_scenario_is_found_beside_it(tmp_path):
    (tmp_path / "mine.toml").write_text('extends = "../../scenarios/baseline.toml"\n', encoding="utf-8")
    (tmp_path / "exp.toml").write_text(
        'scenario = "mine.toml"\n[design]\ntype = "grid"\n[parameters]\n"decision.intercept" = { values = [-6.0] }\n'
        '[outcomes]\nr = { column = "returns_voluntary", statistic = "maximum" }\n',
        encoding="utf-8",
    )
    with pytest.raises(ExperimentError) as info:
        load_experiment(tmp_path / "exp.toml")
    assert info.value.problems == [
        f"{tmp_path / 'exp.toml'}: outcomes.r.statistic = \"maximum\": must be one of 'sum', 'mean', 'last', 'first', "
        "'max' or 'min'"
    ]
    (tmp_path / "bad.toml").write_text("scenario = \n", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"bad\.toml: not valid TOML"):
        load_experiment(tmp_path / "bad.toml")


def test_the_name_defaults_to_the_file_stem_and_host_outcomes_expand(tmp_path):
    path = tmp_path / "my_sweep.toml"
    path.write_text(
        'scenario = "baseline"\nmonths = 12\n[design]\ntype = "grid"\n[parameters]\n'
        '"economy.sanctions" = { values = [true, false] }\n'
        '[outcomes]\nleft = { column = "refugees_{host}", statistic = "last", to = "2017-06" }\n',
        encoding="utf-8",
    )
    e = load_experiment(path)
    assert e.name == "my_sweep"
    assert [o.name for o in e.outcomes] == [f"left_{h}" for h in e.scenario.hosts]
    assert {(o.start, o.end) for o in e.outcomes} == {("2017-01", "2017-06")}
    assert e.months == 12 and e.households_per_agent == e.scenario.simulation.households_per_agent


def test_the_fingerprint_changes_with_anything_that_changes_results():
    a = experiment_from_dict(BASE)
    assert a.fingerprint == experiment_from_dict(copy.deepcopy(BASE)).fingerprint
    assert a.fingerprint != experiment_from_dict(variant(root_seed=1)).fingerprint
    assert a.fingerprint != experiment_from_dict(variant(households_per_agent=50)).fingerprint


@pytest.mark.parametrize("name", ["deportation_x_aid", "screening", "global_sensitivity"])
def test_example_experiments_validate(name):
    e = load_experiment(EXAMPLES / f"{name}.toml")
    assert e.name == name and len(plan(e)) > 0


def test_quota_x_relief_varies_event_fields_by_id():
    e = load_experiment(EXAMPLES / "quota_x_relief.toml")
    tasks = plan(e)
    assert len(tasks) == 4 * 3 * 5
    assert {t.changes["events.turkey_quota.quota"] for t in tasks} == {0, 2500, 5000, 10000}


def test_a_sweep_over_an_event_field_moves_what_the_event_does(tmp_path):
    from returnsim.experiments.store import load_results
    from returnsim.experiments.sweep import sweep

    e = experiment_from_dict(
        {
            "scenario": str(EXAMPLES / "scenarios" / "turkey_quota.toml"),
            "months": 36,  # to 2019-12: the quota starts in 2019-07
            "households_per_agent": 2000,
            "design": {"type": "grid"},
            "parameters": {"events.turkey_quota.quota": {"values": [0, 20000]}},
            "outcomes": {"forced": {"column": "returns_forced", "statistic": "sum", "from": "2019-07"}},
        }
    )
    assert sweep(e, tmp_path, workers=1, progress=False).ok == 2
    forced = load_results(tmp_path).set_index("events.turkey_quota.quota")["forced"]
    assert forced[20000] > forced[0] + 50000


def test_parameter_keys_may_be_written_without_quotes(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text(
        'scenario = "baseline"\n[design]\ntype = "grid"\n[parameters]\n'
        'hosts.turkey.pressure = { values = [0.1, 0.2] }\n"decision.intercept" = { values = [-6.0] }\n'
        'hosts.lebanon.presure = { values = [0.1] }\n[outcomes]\nr = { column = "returns_voluntary" }\n',
        encoding="utf-8",
    )
    with pytest.raises(ExperimentError) as info:
        load_experiment(path)
    assert info.value.problems == [
        f'{path}: parameters."hosts.lebanon.presure": not a key of the scenario: hosts.lebanon.presure does not '
        "exist (did you mean 'pressure'?)"
    ]
    path.write_text(path.read_text().replace("presure", "pressure"), encoding="utf-8")
    assert list(load_experiment(path).parameters) == [  # TOML groups the unquoted keys by their first part
        "hosts.turkey.pressure",
        "hosts.lebanon.pressure",
        "decision.intercept",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "{p}: is a folder, not an experiment file"),
        (b"name = 'x\xff'\n", "{p}: is not UTF-8 text (byte 0xff at offset 9); save it as UTF-8"),
        (b"a = " + b"[" * 40 + b"1" + b"]" * 40 + b"\n", "{p}: a[0][0][0][0][0]: nested more than 32 levels deep"),
    ],
    ids=["folder", "latin-1", "deep"],
)
def test_an_unreadable_experiment_file_is_refused_like_a_scenario_file(tmp_path, content, message):
    path = tmp_path / "x.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(ExperimentError) as err:
        load_experiment(path)
    assert err.value.problems == [message.format(p=path)]
