"""Running an experiment: plan its runs, skip those already stored, run the rest, commit each as it ends.

>>> import tempfile
>>> from returnsim.experiments import experiment_from_dict
>>> e = experiment_from_dict({"scenario": "baseline", "months": 2, "households_per_agent": 5000,
...     "design": {"type": "grid"}, "replications": 2,
...     "parameters": {"decision.intercept": {"values": [-6.0, -5.0]}},
...     "outcomes": {"returns": {"column": "returns_voluntary"}}})
>>> out = tempfile.mkdtemp()
>>> report = sweep(e, out, workers=1, progress=False)
>>> report.planned, report.ran, report.ok
(4, 4, 4)
>>> sweep(e, out, workers=1, progress=False).ran  # everything is stored: nothing runs again
0
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from returnsim import style
from returnsim.experiments.designs import plan, shard
from returnsim.experiments.executors import Executor, make_executor
from returnsim.experiments.runner import Setup, execute
from returnsim.experiments.spec import Experiment, load_experiment
from returnsim.experiments.store import SweepStore, check_sweep_folder, new_manifest, stored_statuses

__all__ = ["SweepReport", "prepare", "sweep"]


@dataclass
class SweepReport:
    """What a call of :func:`sweep` did. ``planned``: runs of this shard; ``stored_before``: already in the
    folder (skipped); ``ran``: run now; ``ok``/``failed``: stored now in total."""

    folder: Path
    planned: int
    stored_before: int
    ran: int
    ok: int
    failed: int
    wall_seconds: float
    model_seconds: float
    workers: int
    executor: str

    def summary(self) -> str:
        missing = self.planned - self.ok - self.failed
        text = (
            f"{self.planned} runs planned: {self.ok} ok, {self.failed} failed"
            f"{f', {missing} missing' if missing else ''}; {self.ran} run now, {self.stored_before} already stored; "
            f"{self.wall_seconds:.1f} s, {style.count(self.workers, 'worker')} ({self.executor})"
        )
        if self.failed:
            text += f"\nfailed runs keep their error text in {self.folder}/runs.parquet (column error)"
        return text


def prepare(experiment: Experiment | str | Path, out: Path | None, shard_spec: tuple[int, int] | None = None):
    """Load the experiment, plan its runs (this shard's), and check the output folder; nothing is written."""
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    tasks = plan(experiment)
    shard_text = None
    if shard_spec is not None:
        tasks = shard(tasks, *shard_spec)
        shard_text = f"{shard_spec[0]}/{shard_spec[1]}"
    out = Path(out) if out is not None else Path("results") / experiment.name
    manifest = new_manifest(experiment, len(tasks), shard_text)
    check_sweep_folder(out, manifest)
    return experiment, tasks, out, manifest


def sweep(
    experiment: Experiment | str | Path,
    out: str | Path | None = None,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    executor: Executor | None = None,
    shard_spec: tuple[int, int] | None = None,
    retry_failed: bool = False,
    progress: bool = True,
) -> SweepReport:
    """Run the runs of ``experiment`` not yet stored in ``out`` (default ``results/<name>``).

    The executor is ``executor`` if given, else chosen from ``workers`` and ``scheduler`` (see
    :func:`~returnsim.experiments.executors.make_executor`). Failed runs stay failed on a rerun unless
    ``retry_failed``. Interrupted (Ctrl-C), it stops at once; the runs stored so far stay stored.
    """
    experiment, tasks, out, manifest = prepare(experiment, out, shard_spec)
    stored = stored_statuses(out)
    todo = [t for t in tasks if t.run_id not in stored or (retry_failed and stored[t.run_id] == "failed")]
    own = executor is None
    if own:  # before anything is written: an unreachable scheduler leaves no folder behind
        executor = make_executor(workers, scheduler, jobs=len(todo))
    try:
        store = SweepStore.open(out, manifest)
        setup = Setup(
            scenario=experiment.scenario,
            months=experiment.months,
            households_per_agent=experiment.households_per_agent,
            outcomes=experiment.outcomes,
            series=experiment.series,
        )
        t0 = time.perf_counter()
        model_seconds = 0.0
        with _Progress(len(todo), len(tasks) - len(todo), progress) as bar:
            for done in executor.map_unordered(partial(execute, setup), todo):
                record = done.value
                if done.error is not None:  # execute() catches the run's errors; this is the executor's
                    record = _failed(done.item, done.error)
                store.commit(record)
                model_seconds += record.runtime_s
                bar.tick(record.status != "ok")
        store.compact()
        statuses = store.statuses()
        mine = [statuses[t.run_id] for t in tasks if t.run_id in statuses]
        return SweepReport(
            folder=out,
            planned=len(tasks),
            stored_before=len(tasks) - len(todo),
            ran=len(todo),
            ok=mine.count("ok"),
            failed=mine.count("failed"),
            wall_seconds=time.perf_counter() - t0,
            model_seconds=model_seconds,
            workers=executor.workers,
            executor=executor.name,
        )
    finally:
        if own:
            executor.close()


def _failed(task, error: BaseException):
    import os
    import socket

    from returnsim.experiments.runner import RunRecord

    return RunRecord(
        task=task,
        status="failed",
        error=f"{type(error).__name__}: {error}",
        runtime_s=0.0,
        outcomes={},
        series=None,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


class _Progress:
    """A progress bar on stderr (terminals only): done / failed / remaining, and the time left."""

    def __init__(self, total: int, stored: int, show: bool):
        from tqdm import tqdm

        self.failed = 0
        self.bar = tqdm(
            total=total,
            desc=f"sweep ({stored} already stored)" if stored else "sweep",
            unit="run",
            disable=None if show else True,
            leave=False,
            bar_format="{desc} {bar} {n_fmt}/{total_fmt} runs{postfix} | {elapsed} elapsed, {remaining} left",
        )
        self._post()

    def _post(self) -> None:
        left = self.bar.total - self.bar.n
        self.bar.set_postfix_str(f"done {self.bar.n - self.failed}, failed {self.failed}, remaining {left}")

    def tick(self, failed: bool) -> None:
        self.failed += failed
        self.bar.update()
        self._post()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
