"""Row-parallel steps (``returnsim.parallel``): the same numbers whatever the number of threads."""

from __future__ import annotations

import functools
import itertools
import os

import numpy as np
import pytest

from returnsim import parallel
from returnsim.cli import main
from returnsim.experiments.executors import ProcessExecutor, available_cores
from returnsim.simulation import Simulation
from returnsim.streams import Draw, Streams


@pytest.fixture
def threads_from_few_rows(monkeypatch):
    """Split from 1 000 rows up, so that small runs take the parallel paths."""
    monkeypatch.setattr(parallel, "MIN_ROWS", 1_000)

    def use(count: int) -> None:
        monkeypatch.setenv("RETURNSIM_THREADS", str(count))

    return use


def _run(scenario: str, months: int) -> Simulation:
    sim = Simulation(scenario, seed=5, households_per_agent=400)
    for _ in range(months):
        sim.step()
    return sim


@pytest.mark.parametrize(
    ("scenario", "months"), [("baseline", 90), ("turkey_deports_to_safe_zone", 30), ("property_restitution", 30)]
)
def test_a_run_is_the_same_on_one_thread_and_on_three(threads_from_few_rows, scenario, months):
    threads_from_few_rows(1)
    assert parallel.parts(10_001) == [(0, 10_001)]
    one = _run(scenario, months)
    threads_from_few_rows(3)
    assert len(parallel.parts(10_001)) == 3
    three = _run(scenario, months)
    for name, column in vars(one.state.pop).items():
        if isinstance(column, np.ndarray):
            np.testing.assert_array_equal(column, getattr(three.state.pop, name), err_msg=name)
    np.testing.assert_array_equal(one.state.news_back, three.state.news_back)
    assert one.series == three.series


@pytest.mark.parametrize("n", [0, 1, 999, 1_000, 1_001, 54_321])
@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_parts_cover_the_rows_in_order_and_start_on_even_rows(threads_from_few_rows, n, count):
    threads_from_few_rows(count)
    cut = parallel.parts(n)
    assert cut[0][0] == 0 and cut[-1][1] == n
    assert all(a < b for a, b in cut) or cut == [(0, 0)]
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(cut))
    assert all(a % 2 == 0 for a, _ in cut)
    assert len(cut) == (min(count, n // 2) if n >= 1_000 else 1)


def test_where_is_flatnonzero_and_each_keeps_the_order_of_the_parts(threads_from_few_rows):
    threads_from_few_rows(3)
    mask = np.random.default_rng(1).random(10_000) < 0.3
    np.testing.assert_array_equal(parallel.where(lambda a, b: mask[a:b], len(mask)), np.flatnonzero(mask))
    assert parallel.each(lambda a, b: (a, b), 10_000) == parallel.parts(10_000)


def test_an_error_in_another_thread_is_raised_in_the_caller(threads_from_few_rows):
    threads_from_few_rows(2)

    def work(start, stop):
        if start > 0:
            raise ZeroDivisionError("in the second part")
        return start

    with pytest.raises(ZeroDivisionError, match="second part"):
        parallel.each(work, 10_000)


def test_a_stream_drawn_in_parts_gives_the_same_numbers(threads_from_few_rows):
    threads_from_few_rows(1)
    whole = Streams(3).uniform_all(Draw.RETURN, 40, 20_001)
    rows = np.array([7, 5_000, 19_999, 3])
    some = Streams(3).uniform(Draw.DETAIN, 40, rows, salt=2)
    threads_from_few_rows(4)
    np.testing.assert_array_equal(Streams(3).uniform_all(Draw.RETURN, 40, 20_001), whole)
    np.testing.assert_array_equal(Streams(3).uniform(Draw.DETAIN, 40, rows, salt=2), some)


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5", "5000"])
def test_a_bad_thread_count_is_refused_before_any_work(monkeypatch, tmp_path, capsys, value):
    monkeypatch.setenv("RETURNSIM_THREADS", value)
    assert main(["run", "--months", "2", "--households-per-agent", "2000", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (
        f"returnsim: RETURNSIM_THREADS: expected a whole number of threads from 1 to 1024, got {value!r}\n"
    )
    assert not (tmp_path / "r").exists()


def test_process_pool_workers_share_the_cores_between_them():
    with ProcessExecutor(2) as ex:
        seen = {d.value for d in ex.map_unordered(functools.partial(os.getenv, "RETURNSIM_THREADS"), [None] * 4)}
    assert seen == {str(max(1, available_cores() // 2))}
