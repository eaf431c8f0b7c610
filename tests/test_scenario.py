"""Scenario files: loading, the built-in library, and exact error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from returnsim.scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario, scenario_from_dict
from tests.conftest import toy_dict


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value.problems


def test_baseline_loads_frozen_and_complete():
    s = load_scenario("baseline")
    assert s.simulation.start == "2017-01"
    assert set(s.hosts) == {"turkey", "lebanon", "jordan", "iraq", "egypt", "europe"}
    assert len(s.regions) >= 14
    assert s.hosts["turkey"].refugees == 2_700_000
    with pytest.raises(Exception, match="frozen"):
        s.hosts["turkey"].pressure = 0.9  # type: ignore[misc]


def test_builtin_names_and_paths_resolve_to_the_same_scenario():
    assert "baseline" in builtin_scenarios()
    assert load_scenario("baseline.toml") == load_scenario(builtin_scenarios()["baseline"])


def test_value_out_of_range_names_file_key_and_rule(tmp_path):
    path = write(tmp_path, 'extends = "baseline.toml"\n[hosts.turkey]\npressure = 1.5\n')
    (tmp_path / "baseline.toml").write_text(builtin_scenarios()["baseline"].read_text())
    assert problems(path) == [f"{path}: hosts.turkey.pressure = 1.5: must be between 0 and 1"]


def test_unknown_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, "[simulation]\nmonts = 3\n[hosts]\n[regions]\n[controllers]\n")
    assert f"{path}: simulation.monts: unknown key (did you mean 'months'?)" in problems(path)


def test_unknown_key_inside_a_named_table_suggests_the_nearest(tmp_path):
    data = toy_dict()
    data["hosts"]["alpha"]["presure"] = 0.2
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(data, source="toy.toml")
    assert info.value.problems == ["toy.toml: hosts.alpha.presure: unknown key (did you mean 'pressure'?)"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"simulation.months": "12"}, 'simulation.months = "12": must be a whole number'),
        ({"simulation.months": 0}, "simulation.months = 0: must be between 1 and 1200"),
        (
            {"simulation.start": "2017-13"},
            'simulation.start = "2017-13": must be a month written YYYY-MM, e.g. 2017-01',
        ),
        ({"economy.sanctions": "false"}, 'economy.sanctions = "false": must be true or false'),
        ({"hosts.alpha.pressure": -0.1}, "hosts.alpha.pressure = -0.1: must be between 0 and 1"),
        (
            {"hosts.alpha.deportation_targeting": "men"},
            "hosts.alpha.deportation_targeting = \"men\": must be one of 'all', 'unregistered', 'military_age_men' "
            "or 'single_men'",
        ),
        (
            {"hosts.alpha.deportation_destination": "nort"},
            "hosts.alpha.deportation_destination: \"nort\" is not a known region (did you mean 'north'?)",
        ),
        (
            {"regions.north.controller": "gouv"},
            "regions.north.controller: \"gouv\" is not a known controller (did you mean 'gov'?)",
        ),
        (
            {"hosts.beta.origin_shares": {"sooth": 1.0}},
            "hosts.beta.origin_shares.sooth: \"sooth\" is not a known region (did you mean 'south'?)",
        ),
        (
            {"decision.integration_months": 0.0},
            "decision.integration_months = 0.0: must be between 0.001 and 1000000",
        ),
        (
            {"regions.north.displacement_destination": "north"},
            "regions.north.displacement_destination: must name another region",
        ),
        (
            {"population.single_man_share": 0.9},
            "population.single_man_share: must not exceed population.military_age_man_share",
        ),
    ],
)
def test_exact_error_messages(change, message):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(toy_dict(**change), source="toy.toml")
    assert info.value.problems == [f"toy.toml: {message}"]


def test_every_error_is_reported_at_once():
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(toy_dict(**{"hosts.alpha.pressure": 2.0, "economy.strain": -1.0}), source="t")
    assert len(info.value.problems) == 2


def test_missing_required_table_is_named(tmp_path):
    path = write(tmp_path, "[meta]\nname = 'empty'\n")
    assert f"{path}: hosts: required key is missing" in problems(path)


def test_invalid_toml_and_missing_file(tmp_path):
    bad = write(tmp_path, "[meta\nname=1")
    assert problems(bad)[0].startswith(f"{bad}: not valid TOML:")
    assert problems(tmp_path / "nope.toml") == [f"{tmp_path / 'nope.toml'}: no such scenario file"]
    assert problems("baselin") == ["baselin: no such scenario file (did you mean the built-in scenario 'baseline'?)"]


def test_with_changes_validates():
    s = load_scenario("baseline")
    assert s.with_changes({"hosts.turkey.pressure": 0.8}).hosts["turkey"].pressure == 0.8
    with pytest.raises(ScenarioError, match="must be between 0 and 1"):
        s.with_changes({"hosts.turkey.pressure": 8})


def test_scenario_round_trips_through_a_dict():
    s = load_scenario("baseline")
    assert Scenario.model_validate(s.model_dump()) == s


def test_a_crossing_into_an_unknown_controller_is_named_with_its_place_in_the_list(tmp_path):
    path = write(tmp_path, 'extends = "baseline.toml"\n[hosts.turkey]\ncrossings = ["oposition", "turkish_backed"]\n')
    assert problems(path) == [
        f"{path}: hosts.turkey.crossings[0]: \"oposition\" is not a known controller (did you mean 'opposition'?)"
    ]
