"""The scenario library: every file validates and runs, and scenarios/README.md documents it.

Also runs the README's examples: each ```toml block (one per event type) is appended to a child
of the baseline and must validate, so the documented keys cannot drift from the code.
"""

from __future__ import annotations

import glob
import re
import shlex
import shutil
from pathlib import Path

import pytest

from returnsim import run
from returnsim.cli import main
from returnsim.scenario import EVENT_TYPES, load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
README = SCENARIOS / "README.md"
FILES = sorted(SCENARIOS.glob("*.toml"))
LIBRARY = [p for p in FILES if p.stem != "baseline"]


def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_scenario_validates_and_runs_a_few_months(path):
    s = load_scenario(path)
    df = run(s, months=3, households_per_agent=2000)
    assert len(df) == 3 and df["refugees"].iloc[-1] > 0


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_library_scenarios_are_the_baseline_plus_a_few_lines(path):
    s, base = load_scenario(path), load_scenario(SCENARIOS / "baseline.toml")
    assert s.extends, "a library scenario extends another file"
    assert s.events[: len(base.events)] == base.events  # the history stays; policies come after
    assert len(s.events) > len(base.events)
    assert s.meta.name == path.stem


def test_readme_table_lists_every_library_scenario():
    table = {m.group(1) for m in re.finditer(r"^\|\s*\[?`([\w]+)\.toml`", readme(), re.M)}
    assert table == {p.stem for p in LIBRARY}


EXAMPLES = re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), re.S) if README.exists() else []


def test_readme_documents_every_event_type_with_an_example():
    documented = {t for block in EXAMPLES for t in re.findall(r'^type = "(\w+)"', block, re.M)}
    assert documented == set(EVENT_TYPES)


@pytest.mark.parametrize("block", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_examples_validate(block, tmp_path):
    """Each example, added to the baseline, loads and adds its events after the baseline's."""
    shutil.copy(SCENARIOS / "baseline.toml", tmp_path / "baseline.toml")
    (tmp_path / "example.toml").write_text('extends = "baseline.toml"\n' + block, encoding="utf-8")
    s = load_scenario(tmp_path / "example.toml")
    n = len(load_scenario(tmp_path / "baseline.toml").events)
    assert [e.type for e in s.events[n:]] == re.findall(r'^type = "(\w+)"', block, re.M)


def test_every_command_in_the_readme_runs(tmp_path, monkeypatch):
    """The ```sh block's commands, shortened (2 months, small scale) and run from a scratch folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(SCENARIOS)
    commands = [
        line.split("#")[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", readme(), re.S)
        for line in block.splitlines()
        if line.strip()
    ]
    for command in commands:
        words = [w for word in shlex.split(command)[1:] for w in (sorted(glob.glob(word)) or [word])]
        if words[0] != "check":
            words += ["--months", "2", "--households-per-agent", "5000", "--quiet", "--no-plot"]
        assert main(words) == 0, command
    assert [c.split()[1] for c in commands] == ["check", "run", "compare"]
    assert (tmp_path / "results" / "relief" / "runs.csv").exists()


def _totals(name: str) -> dict[str, float]:
    from returnsim.simulation import simulate

    s = simulate(load_scenario(name), seed=1, households_per_agent=200).series
    return {k: float(v.sum()) for k, v in s.items() if k != "month"} | {
        "refugees_end": float(s["refugees"][-1]),
        "poverty_end": float(s["returnees_in_poverty_share"][-1]),
        "confiscated_end": float(s["properties_confiscated"][-1]),
    }


@pytest.fixture(scope="module")
def totals():
    cache: dict[str, dict[str, float]] = {}
    return lambda name: cache.setdefault(name, _totals(name))


# what the library table of scenarios/README.md says each scenario does, as (outcome, direction, at least)
DOCUMENTED = {
    "turkey_deports_to_safe_zone": [("returns_forced", +1, 100_000), ("refugees_end", -1, 100_000)],
    "lebanon_deportations": [("returns_forced", +1, 20_000), ("refugees_end", -1, 20_000)],
    "sanctions_relief": [("returns_voluntary_refugees", +1, 200_000), ("poverty_end", -1, 0.1)],
    "property_restitution": [("properties_restituted", +1, 20_000), ("confiscated_end", -1, 10_000)],
    "amnesty_guarantees": [("detained", -1, 3_000)],
    "host_aid_cuts": [("intend_return_12m_pct_surveyed", +1, 0.0)],
    "push_package": [("returns_forced", +1, 100_000), ("refugees_end", -1, 100_000)],
    "political_transition": [("detained", -1, 5_000), ("returns_voluntary_idps", +1, 100_000)],
    "political_transition_sanctions_relief": [("returns_voluntary_refugees", +1, 300_000)],
    "lebanon_war": [("returns_voluntary_lebanon", +1, 100_000)],
    "return_package": [("returns_voluntary_refugees", +1, 2_000)],
    "shocks_2024": [
        ("returns_voluntary_lebanon", +1, 50_000),
        ("returns_voluntary_refugees", +1, 200_000),
        ("returns_voluntary_idps", +1, 1_000_000),  # without who rules: +146,000 refugees and +228,000 IDPs
    ],
}


def test_every_library_scenario_is_in_the_documented_directions():
    assert set(DOCUMENTED) == {p.stem for p in LIBRARY}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_a_library_scenario_moves_outcomes_the_way_its_row_says(name, totals):
    """Same seed, common random numbers: the difference from the baseline is the scenario's doing."""
    base, policy = totals("baseline"), totals(name)
    for outcome, sign, least in DOCUMENTED[name]:
        change = policy[outcome] - base[outcome]
        assert sign * change > least, (outcome, change)
