"""``returnsim compare`` and ``returnsim check``: common seeds, honest differences, atomic outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from returnsim.cli import main
from returnsim.compare import OUTCOMES, compare, format_table, write_comparison

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"
FAST = ["--seeds", "2", "--months", "3", "--households-per-agent", "5000", "--quiet"]
DEPORT = {"type": "deportation", "month": "2020-01", "host": "alpha", "rate": 0.05, "targeting": "all"}


@pytest.fixture
def pair(toy):
    """The toy world without and with a deportation policy, compared over 3 seeds for 6 months."""
    return compare([toy(), toy(**{"meta.name": "deport", "events": [DEPORT]})], seeds=3, months=6, progress=False)


def test_runs_are_tidy_with_common_seeds(pair):
    runs = pair.runs
    assert list(runs.columns[:3]) == ["scenario", "seed", "month"]
    assert len(runs) == 2 * 3 * 6
    seeds = runs.groupby("scenario")["seed"].unique()
    assert [list(s) for s in seeds] == [[3, 4, 5], [3, 4, 5]]  # the first scenario's seed, then +1, +2
    assert pair.labels == ["toy", "deport"]
    assert len(pair.outcomes) == 6 and set(pair.outcomes.columns) >= {c for c, _, _ in OUTCOMES}


def test_differences_are_seed_by_seed_against_the_first(pair):
    out = pair.outcomes.set_index(["scenario", "seed"])["returns_forced"]
    diff = out["deport"] - out["toy"]
    row = pair.summary.query("scenario == 'deport' and outcome == 'returns_forced'").iloc[0]
    assert row["diff_mean"] == pytest.approx(diff.mean()) and row["diff_sd"] == pytest.approx(diff.std())
    assert (diff > 0).all()
    first = pair.summary.query("scenario == 'toy'")
    assert (first["diff_mean"] == 0).all() and (first["diff_sd"] == 0).all()


def test_identical_scenarios_differ_by_nothing():
    c = compare(["baseline", "baseline"], seeds=2, months=2, households_per_agent=5000, progress=False)
    assert c.labels == ["baseline", "baseline#2"]
    assert (c.summary["diff_mean"] == 0).all()
    assert c.summary.query("outcome == 'intend_return_12m_pct'")["sd"].iloc[0] > 0  # seeds do differ


def test_table_shows_means_spreads_and_differences(pair):
    text = format_table(pair)
    assert "2 scenarios x 3 seeds (3, 4, 5)" in text
    header = text.splitlines()[2]
    assert header.split() == ["outcome", "toy", "deport", "Δ", "deport"]
    forced = next(line for line in text.splitlines() if line.startswith("forced returns"))
    assert forced.count("±") == 3 and "+" in forced.split("±")[-2]


def test_outputs_are_written_at_once(pair, tmp_path):
    out = tmp_path / "cmp"
    write_comparison(pair, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "comparison.png",
        "manifest.json",
        "outcomes.csv",
        "runs.csv",
        "summary.csv",
        "summary.txt",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["cmp"]  # no temporary folder left behind
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seeds"] == [3, 4, 5] and manifest["labels"] == ["toy", "deport"]
    assert manifest["scenarios"]["deport"]["events"][0]["type"] == "deportation"
    pd.testing.assert_frame_equal(pd.read_csv(out / "runs.csv"), pair.runs, check_dtype=False)


def test_cli_compare_prints_the_table_and_writes_the_folder(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(BASELINE), "baseline", "--out", str(out), *FAST[:-1]]) == 0
    printed = capsys.readouterr().out
    assert "Δ baseline#2" in printed and "voluntary returns from abroad" in printed
    assert (out / "comparison.png").exists()
    runs = pd.read_csv(out / "runs.csv")
    assert runs.groupby(["scenario", "seed"]).size().tolist() == [3, 3, 3, 3]


def test_cli_compare_with_a_bad_scenario_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "missing.toml"\n')
    typo = tmp_path / "typo.toml"
    typo.write_text(f'extends = "{BASELINE}"\n[[events]]\ntype = "amnesti"\nmonth = "2020-01"\n')
    out = tmp_path / "cmp"
    assert main(["compare", str(BASELINE), str(bad), str(typo), "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f'{bad}: extends = "missing.toml": no such file {tmp_path / "missing.toml"}'
    assert err[1].startswith(f"{typo}: events[")
    assert err[1].endswith(".type = \"amnesti\": unknown event type (did you mean 'amnesty'?)")
    assert not out.exists()


def test_cli_compare_needs_two_scenarios(tmp_path, capsys):
    assert main(["compare", "baseline", "--out", str(tmp_path / "x"), *FAST]) == 2
    assert "at least two scenarios" in capsys.readouterr().err


def test_cli_check_validates_without_running(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(f'extends = "{BASELINE}"\n[[events]]\ntype = "amnesty"\nmonth = "2020-01"\n')
    assert main(["check", str(good), "baseline"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"ok: {good} (baseline: ")
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{BASELINE}"\n[hosts.turkey]\npressure = 1.5\n')
    assert main(["check", str(bad), str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"{bad}: hosts.turkey.pressure = 1.5: must be between 0 and 1"
    assert captured.out.startswith(f"ok: {good}")  # the other files are still checked


def test_check_and_compare_warn_when_an_event_lies_outside_the_runs_months(tmp_path, capsys):
    """A 36-month compare of a policy starting in month 37 printed "+0 ± 0" without a word."""
    late = tmp_path / "late.toml"
    late.write_text(
        f'extends = "{BASELINE}"\n[[events]]\ntype = "amnesty"\nmonth = "2020-01"\n'
        '[[events]]\ntype = "amnesty"\nmonth = "2016-01"\nend = "2016-12"\n'
    )
    assert main(["check", str(late)]) == 0  # a warning does not change the exit status
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {late}: events[1] (amnesty) ends in 2016-12, before the run's first month 2017-01: "
        "it changes nothing"
    ]
    out = tmp_path / "cmp"
    flags = ["--months", "36", "--seeds", "2", "--households-per-agent", "20000", "--quiet", "--no-plot"]
    assert main(["compare", "baseline", str(late), "--out", str(out), *flags]) == 0
    err = capsys.readouterr().err.splitlines()
    assert (
        f"warning: {late}: events[0] (amnesty) starts in 2020-01, after the run's last month 2019-12: "
        "it changes nothing"
    ) in err
    assert len(err) == len(set(err))  # the baseline's own late events once, not once per scenario


def test_each_mean_is_rounded_where_its_sd_allows(pair):
    """mean and sd share their last decimal place, set by the sd's second significant digit."""
    for line in format_table(pair).splitlines()[4:]:
        for cell in (c for c in line.split("  ") if "±" in c):
            mean, sd = (part.strip() for part in cell.split("±"))
            places = [len(x.split(".")[1]) if "." in x else 0 for x in (mean, sd)]
            assert places[0] == places[1], cell
            digits = sd.replace(",", "").replace(".", "").lstrip("0")
            assert len(digits.rstrip("0")) <= 2 or places[1] == 3, cell


def test_list_shows_every_builtin_scenario_with_its_description(capsys):
    from returnsim.scenario import builtin_scenarios, load_scenario

    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name, path in builtin_scenarios().items():
        line = next(line for line in text.splitlines() if line.split()[:1] == [name])
        assert line.endswith(load_scenario(path).meta.description)


def test_an_event_that_moves_people_once_is_outside_when_its_one_month_is(tmp_path, capsys):
    """Without an end, a registration acts in its first month only: dated before the run, it changes nothing."""
    early = tmp_path / "early.toml"
    early.write_text(
        f'extends = "{BASELINE}"\n[[events]]\ntype = "registration"\nhost = "turkey"\nmonth = "2016-06"\n'
        "persons = 1000\n"
    )
    assert main(["check", str(early)]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {early}: events[0] (registration) ends in 2016-06, before the run's first month 2017-01: "
        "it changes nothing"
    ]
