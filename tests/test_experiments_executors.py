"""Every executor passes the same conformance tests: serial, local process pool, Dask (a LocalCluster
started here). The same root seed gives identical sweep results, whichever executor ran them."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from returnsim.experiments import experiment_from_dict
from returnsim.experiments.executors import DaskExecutor, ProcessExecutor, SerialExecutor, make_executor
from returnsim.experiments.store import load_results, load_series
from returnsim.experiments.sweep import sweep

TINY = {
    "scenario": "baseline",
    "months": 4,
    "households_per_agent": 2000,
    "replications": 2,
    "root_seed": 5,
    "series": ["returns_voluntary"],
    "design": {"type": "lhs", "points": 3},
    "parameters": {"decision.intercept": {"range": [-6.0, -4.5]}, "hosts.turkey.pressure": {"range": [0.2, 0.9]}},
    "outcomes": {
        "returns": {"column": "returns_voluntary_refugees", "statistic": "sum"},
        "left": {"column": "refugees_{host}", "statistic": "last"},
    },
}
VOLATILE = ["runtime_s", "worker", "finished_utc"]


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is bad")
    return x


@pytest.fixture(scope="module")
def serial_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    sweep(experiment_from_dict(TINY), out, executor=SerialExecutor(), progress=False)
    return load_results(out), load_series(out)


class ExecutorConformance:
    """The contract of ``map_unordered``; subclasses provide the ``executor`` fixture."""

    def test_every_item_once_with_its_value(self, executor):
        done = list(executor.map_unordered(square, range(10)))
        assert sorted(d.item for d in done) == list(range(10))
        assert all(d.value == d.item**2 and d.error is None for d in done)

    def test_a_raising_task_is_a_value_and_the_others_finish(self, executor):
        done = {d.item: d for d in executor.map_unordered(fail_on_three, range(6))}
        assert sorted(done) == list(range(6))
        assert isinstance(done[3].error, ValueError) and str(done[3].error) == "three is bad"
        assert [done[i].value for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]

    def test_no_items_no_results(self, executor):
        assert list(executor.map_unordered(square, [])) == []

    def test_a_sweep_gives_the_serial_results(self, executor, serial_results, tmp_path):
        report = sweep(experiment_from_dict(TINY), tmp_path, executor=executor, progress=False)
        assert (report.planned, report.ok, report.failed) == (6, 6, 0)
        runs, series = load_results(tmp_path), load_series(tmp_path)
        expected_runs, expected_series = serial_results
        pd.testing.assert_frame_equal(runs.drop(columns=VOLATILE), expected_runs.drop(columns=VOLATILE))
        pd.testing.assert_frame_equal(series, expected_series)
        assert runs["returns"].gt(0).all()


class TestSerial(ExecutorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def executor(cls):
        with SerialExecutor() as ex:
            yield ex


class TestProcessPool(ExecutorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def executor(cls):
        with ProcessExecutor(2) as ex:
            yield ex

    def test_runs_happen_in_the_worker_processes(self, executor, tmp_path):
        sweep(experiment_from_dict(TINY), tmp_path, executor=executor, progress=False)
        pids = {int(w.rsplit(":", 1)[1]) for w in load_results(tmp_path)["worker"]}
        assert os.getpid() not in pids and 1 <= len(pids) <= 2
        assert executor.workers == 2


class TestDask(ExecutorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def executor(cls):
        distributed = pytest.importorskip("distributed")
        import dask

        keep = {"MALLOC_TRIM_THRESHOLD_": 64 * 2**20, "MALLOC_MMAP_THRESHOLD_": 32 * 2**20}
        with (
            dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in keep.items()}),
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            DaskExecutor(cluster.scheduler_address) as ex,
        ):
            assert ex.workers == 2
            assert ex.memory_note() is None  # the workers were started as experiments/README.md says
            yield ex


class _Client:
    """What DaskExecutor asks of a client, with the workers' environment given."""

    def __init__(self, trim: dict[str, str | None]):
        self.trim = trim
        self.scheduler = type("Scheduler", (), {"address": "tcp://scheduler:8786"})()

    def scheduler_info(self):
        return {"workers": {w: {"nthreads": 1} for w in self.trim}}

    def run(self, fn, name):
        assert name == "MALLOC_TRIM_THRESHOLD_"
        return dict(self.trim)


def test_dask_workers_that_trim_memory_are_named():
    with pytest.warns(RuntimeWarning) as caught:
        ex = DaskExecutor(client=_Client({"tcp://b:1": None, "tcp://a:1": "65536"}))
    assert str(caught[0].message) == (
        "1 of 2 Dask workers run with MALLOC_TRIM_THRESHOLD_ below 1 MiB (65536 at tcp://a:1): runs will be "
        "25-50 % slower; start the workers with MALLOC_TRIM_THRESHOLD_=67108864 MALLOC_MMAP_THRESHOLD_=33554432 "
        "(experiments/README.md, 'Dask')"
    )
    assert ex.workers == 2
    assert DaskExecutor(client=_Client({"tcp://a:1": "67108864", "tcp://b:1": None})).memory_note() is None


def test_make_executor_follows_the_flags(monkeypatch):
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert isinstance(make_executor(workers=1), SerialExecutor)
    assert isinstance(make_executor(workers=4, jobs=1), SerialExecutor)  # one job needs no pool
    with make_executor(workers=2, jobs=10) as ex:
        assert isinstance(ex, ProcessExecutor) and ex.workers == 2


def test_an_unreachable_scheduler_is_a_clear_error():
    from returnsim.experiments.executors import ExecutorError

    with pytest.raises(ExecutorError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1)
