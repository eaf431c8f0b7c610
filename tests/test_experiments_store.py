"""The sweep store loses nothing: failed runs are rows, a killed sweep resumes with exactly one row per
planned run, shards merge into the unsharded result, and a folder holds one experiment only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from returnsim.cli import main
from returnsim.experiments import experiment_from_dict
from returnsim.experiments.designs import plan
from returnsim.experiments.store import load_results, load_series, merge_stores
from returnsim.experiments.sweep import sweep
from returnsim.results import OutputError

VOLATILE = ["runtime_s", "worker", "finished_utc"]
OUTCOMES = {"returns": {"column": "returns_voluntary_refugees"}, "forced": {"column": "returns_forced"}}


def tiny(**more) -> dict:
    return {
        "scenario": "baseline",
        "months": 3,
        "households_per_agent": 2000,
        "replications": 2,
        "design": {"type": "lhs", "points": 4},
        "parameters": {"decision.intercept": {"range": [-6.0, -5.0]}},
        "outcomes": OUTCOMES,
        "series": ["returns_voluntary"],
        **more,
    }


def test_a_raising_run_is_a_failed_row_and_the_sweep_goes_on(tmp_path):
    e = experiment_from_dict(
        tiny(
            design={"type": "grid"},
            parameters={
                "population.single_man_share": {"values": [0.05, 0.3]},
                "population.military_age_man_share": {"values": [0.2, 0.45]},
            },
        )
    )
    report = sweep(e, tmp_path, workers=1, progress=False)
    assert (report.planned, report.ok, report.failed) == (8, 6, 2)
    runs = load_results(tmp_path)
    failed = runs[runs["status"] == "failed"]
    assert set(failed["population.single_man_share"]) == {0.3} and set(failed["population.military_age_man_share"]) == {
        0.2
    }
    assert failed["error"].str.contains("population.single_man_share: must not exceed").all()
    assert failed[["returns", "forced"]].isna().all().all()
    assert runs.loc[runs["status"] == "ok", "error"].isna().all()
    assert set(load_series(tmp_path)["run_id"]) == set(runs.loc[runs["status"] == "ok", "run_id"])
    again = sweep(e, tmp_path, workers=1, progress=False)
    assert (again.ran, again.failed) == (0, 2)  # failed runs stay failed ...
    retried = sweep(e, tmp_path, workers=1, progress=False, retry_failed=True)
    assert (retried.ran, retried.failed) == (2, 2)  # ... unless asked
    assert len(load_results(tmp_path)) == 8


def test_an_error_inside_the_model_is_recorded_with_where_it_happened(tmp_path, monkeypatch):
    from returnsim.experiments import runner

    def broken(*args):
        raise RuntimeError("the model broke")

    monkeypatch.setattr(runner, "run_point", broken)
    sweep(experiment_from_dict(tiny()), tmp_path, workers=1, progress=False)
    errors = load_results(tmp_path)["error"]
    assert len(errors) == 8
    assert errors.str.match(r"RuntimeError: the model broke \(at test_experiments_store\.py:\d+\)").all()


def _write(tmp_path: Path, points: int) -> Path:
    path = tmp_path / "slow.toml"
    path.write_text(
        'scenario = "baseline"\nmonths = 60\nhouseholds_per_agent = 2000\nreplications = 2\n'
        'series = ["returns_forced"]\n'
        f'[design]\ntype = "lhs"\npoints = {points}\n[parameters]\n"decision.intercept" = {{ range = [-6.0, -5.0] }}\n'
        '[outcomes]\nreturns = { column = "returns_voluntary_refugees" }\n',
        encoding="utf-8",
    )
    return path


def _start(spec: Path, out: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "returnsim",
            "sweep",
            str(spec),
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_parts(out: Path, at_least: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "parts").is_dir() and len(list((out / "parts").glob("*.run.parquet"))) >= at_least:
            return
        time.sleep(0.01)
    raise AssertionError(f"the sweep stored fewer than {at_least} runs before it ended: {proc.communicate()}")


def _check_complete(out: Path, before: pd.DataFrame, planned: int) -> None:
    runs = load_results(out)
    assert len(runs) == planned and runs["run_id"].is_unique  # exactly one row per planned run
    assert (runs["status"] == "ok").all()
    kept = runs.set_index("run_id").loc[before["run_id"], VOLATILE]
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), before[VOLATILE].reset_index(drop=True))  # not rerun
    series = load_series(out)
    assert series.groupby("run_id").size().eq(60).all() and series["run_id"].nunique() == planned
    assert not list(out.glob("parts/*")) and not list(out.glob(".*.tmp"))


def test_a_sweep_killed_part_way_resumes_with_exactly_one_row_per_run(tmp_path):
    spec, out = _write(tmp_path, points=12), tmp_path / "out"
    proc = _start(spec, out, workers=2)
    _wait_for_parts(out, 4, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes, mid-run
    proc.communicate()
    before = load_results(out)
    assert 4 <= len(before) < 24, "killed part-way"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    _check_complete(out, before, planned=24)


def test_ctrl_c_stops_at_once_keeps_what_is_stored_and_says_how_to_go_on(tmp_path):
    spec, out = _write(tmp_path, points=12), tmp_path / "out"
    proc = _start(spec, out, workers=1)
    _wait_for_parts(out, 4, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    before = load_results(out)
    assert f"interrupted: {len(before)} of 24 runs are stored in {out}/; run the same command again" in stderr
    assert 4 <= len(before) < 24
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    _check_complete(out, before, planned=24)


def test_shards_merge_into_the_unsharded_result_and_a_merged_folder_resumes(tmp_path):
    e = experiment_from_dict(tiny())
    sweep(e, tmp_path / "all", workers=1, progress=False)
    for i in (1, 2, 3):
        sweep(e, tmp_path / f"s{i}", workers=1, progress=False, shard_spec=(i, 3))
    counts = merge_stores([tmp_path / "s1", tmp_path / "s2", tmp_path / "s3"], tmp_path / "merged")
    assert counts == {"planned": 8, "stored": 8, "ok": 8, "failed": 0, "missing": 0}
    merged, full = load_results(tmp_path / "merged"), load_results(tmp_path / "all")
    pd.testing.assert_frame_equal(merged.drop(columns=VOLATILE), full.drop(columns=VOLATILE))
    pd.testing.assert_frame_equal(
        load_series(tmp_path / "merged").sort_values(["run_id", "month"]).reset_index(drop=True),
        load_series(tmp_path / "all").sort_values(["run_id", "month"]).reset_index(drop=True),
    )
    # two shards of three: the merged folder knows what is missing, and sweep runs only that
    assert merge_stores([tmp_path / "s1", tmp_path / "s3"], tmp_path / "partial")["missing"] == 3
    report = sweep(e, tmp_path / "partial", workers=1, progress=False)
    assert (report.ran, report.ok) == (3, 8)


def test_a_folder_holds_one_experiment_and_nothing_is_written_when_refused(tmp_path):
    sweep(experiment_from_dict(tiny()), tmp_path / "a", workers=1, progress=False)
    before = sorted(p.name for p in (tmp_path / "a").iterdir())
    with pytest.raises(OutputError, match=r"holds the runs of another experiment .*: a changed experiment file"):
        sweep(experiment_from_dict(tiny(root_seed=3)), tmp_path / "a", workers=1, progress=False)
    with pytest.raises(OutputError, match=r"holds shard all, not 1/2"):
        sweep(experiment_from_dict(tiny()), tmp_path / "a", workers=1, progress=False, shard_spec=(1, 2))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == before
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    (tmp_path / "a" / "manifest.json").write_text(json.dumps({**manifest, "version": "0.0.1"}))
    with pytest.raises(OutputError, match=r"was started with returnsim 0.0.1, this is .*: finish it with that version"):
        sweep(experiment_from_dict(tiny()), tmp_path / "a", workers=1, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="exists and is not a sweep results folder"):
        sweep(experiment_from_dict(tiny()), tmp_path / "other", workers=1, progress=False)
    sweep(experiment_from_dict(tiny(root_seed=3)), tmp_path / "b", workers=1, progress=False)
    with pytest.raises(OutputError, match="holds another experiment"):
        merge_stores([tmp_path / "a", tmp_path / "b"], tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_load_results_reads_a_folder_whose_sweep_was_cut_short(tmp_path):
    e = experiment_from_dict(tiny())
    sweep(e, tmp_path, workers=1, progress=False)
    complete = load_results(tmp_path)
    # as if killed before compaction: the rows are still parts, some also in the table
    from returnsim.experiments.store import SweepStore

    store = SweepStore(tmp_path, complete.attrs["manifest"])
    store.parts.mkdir()
    from returnsim.experiments.runner import RunRecord

    for task in plan(e)[:3]:
        store.commit(RunRecord(task, "ok", None, 0.1, {"returns": 1.0, "forced": 2.0}, None, "w"))
    runs = load_results(tmp_path)
    assert len(runs) == 8 and runs["run_id"].is_unique
    assert runs.set_index("run_id").loc["p0-r0", "returns"] == 1.0  # the newer part wins
    assert runs.attrs["manifest"]["planned_runs"] == 8
