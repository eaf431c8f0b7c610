"""``extends``: a scenario is its parent plus a few lines; chains work; bad chains are located errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from returnsim.scenario import ScenarioError, load_scenario

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"

EVENT = """
[[events]]
type = "host_pressure"
host = "lebanon"
month = "{month}"
level = {level}
"""


@pytest.fixture
def folder(tmp_path):
    """A folder holding a copy of the baseline, to write children next to."""
    shutil.copy(BASELINE, tmp_path / "baseline.toml")
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_child_overrides_keys_and_keeps_the_rest(folder):
    child = write(folder, "child.toml", 'extends = "baseline.toml"\n[hosts.lebanon]\npressure = 0.9\n')
    base, s = load_scenario(folder / "baseline.toml"), load_scenario(child)
    assert s.hosts["lebanon"].pressure == 0.9
    assert s.hosts["lebanon"].refugees == base.hosts["lebanon"].refugees
    assert s.model_dump(exclude={"hosts", "extends"}) == base.model_dump(exclude={"hosts", "extends"})


def test_parent_is_found_relative_to_the_child_file(folder):
    write(folder, "sub/child.toml", 'extends = "../baseline.toml"\n[meta]\nname = "child"\n')
    assert load_scenario(folder / "sub" / "child.toml").meta.name == "child"


def test_chains_concatenate_events_parent_first(folder):
    n = len(load_scenario(folder / "baseline.toml").events)
    write(folder, "a.toml", 'extends = "baseline.toml"\n' + EVENT.format(month="2019-01", level=0.6))
    write(folder, "b.toml", 'extends = "a.toml"\n' + EVENT.format(month="2020-01", level=0.9))
    s = load_scenario(folder / "b.toml")
    assert [e.month for e in s.events[n:]] == ["2019-01", "2020-01"]
    assert s.events[-1].level == 0.9


def test_errors_name_the_file_that_set_the_value(folder):
    """Even for events: each is numbered within the file that wrote it, not in the merged list."""
    write(folder, "a.toml", 'extends = "baseline.toml"\n' + EVENT.format(month="2019-01", level=1.6))
    b = write(
        folder, "b.toml", 'extends = "a.toml"\n' + EVENT.format(month="2020-01", level=0.9).replace("level", "levle")
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(b)
    assert err.value.problems == [
        f"{folder / 'a.toml'}: events[0].level = 1.6: must be between 0 and 1",
        f"{b}: events[0].level: required key is missing",
        f"{b}: events[0].levle: unknown key (did you mean 'level'?)",
    ]


def test_a_cycle_is_a_located_error(folder):
    a = write(folder, "a.toml", 'extends = "b.toml"\n')
    b = write(folder, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(a)
    assert err.value.problems == [f"{b}: extends: cycle of scenario files: {a} -> {b} -> {a}"]


def test_a_file_extending_itself_is_a_cycle(folder):
    a = write(folder, "a.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle of scenario files"):
        load_scenario(a)


def test_a_missing_parent_is_a_located_error(folder):
    a = write(folder, "a.toml", 'extends = "parent.toml"\n')
    b = write(folder, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(b)
    assert err.value.problems == [f'{a}: extends = "parent.toml": no such file {folder / "parent.toml"}']


def test_a_near_miss_of_a_builtin_name_is_suggested(folder):
    a = write(folder, "a.toml", 'extends = "baseline_v2"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(a)
    assert err.value.problems == [
        f'{a}: extends = "baseline_v2": no such file {folder / "baseline_v2"} '
        "(did you mean the built-in scenario 'baseline'?)"
    ]


@pytest.mark.parametrize("parent", ["baseline", "baseline.toml", "sanctions_relief"])
def test_extends_a_builtin_name_from_any_folder(tmp_path, parent):
    """Installed users have no scenarios/ folder: a bare built-in name resolves to the package's copy."""
    a = write(tmp_path / "anywhere", "a.toml", f'extends = "{parent}"\n[hosts.lebanon]\npressure = 0.9\n')
    s, ref = load_scenario(a), load_scenario(parent)
    assert s.hosts["lebanon"].pressure == 0.9
    assert s.events == ref.events and s.meta == ref.meta


def test_a_file_next_to_the_child_wins_over_the_builtin_of_that_name(folder):
    (folder / "baseline.toml").write_text(
        (folder / "baseline.toml").read_text().replace('name = "baseline"', 'name = "local copy"')
    )
    a = write(folder, "a.toml", 'extends = "baseline.toml"\n')
    assert load_scenario(a).meta.name == "local copy"


def test_event_numbers_count_the_users_own_events_in_cross_checks(folder):
    write(folder, "a.toml", 'extends = "baseline.toml"\n' + EVENT.format(month="2019-01", level=0.5))
    typo = EVENT.format(month="2020-01", level=0.5).replace("lebanon", "lebanom")
    b = write(folder, "b.toml", 'extends = "a.toml"\n' + typo)
    with pytest.raises(ScenarioError) as err:
        load_scenario(b)
    assert err.value.problems == [f"{b}: events[0].host: \"lebanom\" is not a known host (did you mean 'lebanon'?)"]


def test_a_parents_malformed_events_table_is_not_dropped_when_the_child_adds_events(folder):
    """``[events]`` (a table) in the parent would be replaced by the child's ``[[events]]`` list."""
    p = write(folder, "p.toml", 'extends = "baseline.toml"\n[events]\ntype = "amnesty"\nmonth = "2020-01"\n')
    c = write(folder, "c.toml", 'extends = "p.toml"\n[[events]]\ntype = "amnesty"\nmonth = "2021-01"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(c)
    assert err.value.problems == [f"{p}: events: must be an array of tables, each written [[events]], not [events]"]


def test_a_parents_value_hidden_by_a_childs_table_is_an_error_in_the_parent(folder):
    p = write(folder, "p.toml", 'extends = "baseline.toml"\nnetwork = 3\n')
    c = write(folder, "c.toml", 'extends = "p.toml"\n[network]\nties = 4\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(c)
    assert err.value.problems == [f"{p}: network = 3: must be a table"]
