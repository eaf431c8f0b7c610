"""Executors: how a batch of independent tasks is spread over cores or machines.

Every executor has one method, ``map_unordered(fn, items)``, which calls ``fn(item)`` for each item and
yields a :class:`Done` (the item, and the value or the exception ``fn`` raised) as each finishes, in any
order; one raising task never stops the others. ``fn`` and the items must be picklable (a module-level
function, or a ``functools.partial`` of one) for the process pool and Dask.

- :class:`SerialExecutor` runs in this process, one task after another;
- :class:`ProcessExecutor` is a local ``concurrent.futures.ProcessPoolExecutor`` (fresh worker processes,
  forked from a ``forkserver`` that has imported the model, so nothing is inherited from the parent's state;
  each worker's large runs use ``cores // workers`` threads, ``returnsim.parallel``);
- :class:`DaskExecutor` sends the tasks to a Dask distributed cluster (``Client(address)``); the workers
  must have returnsim installed (a worker with as many threads as cores should run with
  ``RETURNSIM_THREADS=1``: experiments/README.md, 'Dask').

:func:`make_executor` picks one from the command-line flags. All three pass the same conformance tests
(tests/test_experiments_executors.py).

>>> with SerialExecutor() as ex:
...     sorted(d.value for d in ex.map_unordered(abs, [-2, 1, -3]))
[1, 2, 3]
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "DaskExecutor",
    "Done",
    "Executor",
    "ExecutorError",
    "ProcessExecutor",
    "SerialExecutor",
    "available_cores",
    "make_executor",
]


class ExecutorError(RuntimeError):
    """The executor itself failed (a scheduler that cannot be reached, a worker process that died)."""


@dataclass
class Done:
    """A finished task: its item and either the value ``fn`` returned or the exception it raised."""

    item: Any
    value: Any = None
    error: BaseException | None = None


class Executor(Protocol):
    name: str
    workers: int

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Done]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc) -> None: ...


def available_cores() -> int:
    """Cores this process may use (its CPU affinity where the system reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


class _Base:
    name = "base"
    workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass


class SerialExecutor(_Base):
    """Tasks one after another in this process."""

    name = "serial"

    def map_unordered(self, fn, items):
        for item in items:
            try:
                value = fn(item)
            except Exception as exc:
                yield Done(item, error=exc)
            else:
                yield Done(item, value=value)


class ProcessExecutor(_Base):
    """A local pool of ``workers`` processes; at most ``2 x workers`` tasks are queued at a time."""

    name = "process pool"

    def __init__(self, workers: int | None = None):
        from concurrent.futures import ProcessPoolExecutor

        self.workers = workers or available_cores()
        threads = max(1, available_cores() // self.workers)  # the cores left to each worker's large steps
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=_context(), initializer=_set_threads, initargs=(threads,)
        )

    def map_unordered(self, fn, items):
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        pending: dict = {}
        queue = iter(items)
        try:
            while True:
                for item in queue:
                    pending[self._pool.submit(fn, item)] = item
                    if len(pending) >= 2 * self.workers:
                        break
                if not pending:
                    return
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = pending.pop(future)
                    error = future.exception()
                    if isinstance(error, BrokenProcessPool):
                        raise ExecutorError(f"a worker process died ({error}); was it out of memory?") from error
                    yield Done(item, error=error) if error else Done(item, value=future.result())
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _set_threads(threads: int) -> None:
    """In a worker process: how many threads a large run's steps may use (``returnsim.parallel``), so that
    workers filling the cores with processes do not also each start a thread per core."""
    os.environ["RETURNSIM_THREADS"] = str(threads)


def _context():
    """Worker processes forked from a clean server process that has imported the model once (``forkserver``,
    preloading ``returnsim.experiments.runner``): a pool starts in milliseconds instead of importing the
    model in every worker, and workers inherit nothing from this process's state. ``spawn`` where there is
    no forkserver (Windows)."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["returnsim.experiments.runner"])  # used when the server starts, once a process
    return ctx


class DaskExecutor(_Base):
    """A Dask distributed cluster: ``DaskExecutor("tcp://host:8786")``, or an existing ``Client``.

    A client made here from an address is closed by :meth:`close`; a client passed in is left open.
    """

    name = "dask"

    def __init__(self, address: str | None = None, *, client=None, timeout: float = 20):
        from distributed import Client

        if client is None:
            try:
                client = Client(address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
            self._owned = True
        else:
            self._owned = False
        self.client = client
        self.address = client.scheduler.address
        self.workers = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
        note = self.memory_note()
        if note:
            warnings.warn(note, RuntimeWarning, stacklevel=2)

    def memory_note(self) -> str | None:
        """A sentence when workers run with glibc's trim threshold below 1 MiB (Dask's nanny sets 65536 unless
        told otherwise): each month's arrays are then unmapped and faulted in again, and runs take 25-50 %
        longer (experiments/README.md, "Dask"). None when every worker keeps freed memory for reuse."""
        try:
            values = self.client.run(os.environ.get, "MALLOC_TRIM_THRESHOLD_")
        except Exception:  # a worker that cannot answer is not worth failing the sweep over
            return None
        low = sorted(w for w, v in values.items() if v is not None and v.strip().isdigit() and int(v) < 2**20)
        if not low:
            return None
        return (
            f"{len(low)} of {len(values)} Dask workers run with MALLOC_TRIM_THRESHOLD_ below 1 MiB "
            f"({values[low[0]]} at {low[0]}): runs will be 25-50 % slower; start the workers with "
            "MALLOC_TRIM_THRESHOLD_=67108864 MALLOC_MMAP_THRESHOLD_=33554432 (experiments/README.md, 'Dask')"
        )

    def map_unordered(self, fn, items):
        from distributed import as_completed

        items = list(items)
        if not items:
            return
        futures = self.client.map(fn, items, pure=False)
        by_key = {f.key: item for f, item in zip(futures, items, strict=True)}
        try:
            for future in as_completed(futures, loop=self.client.loop):
                item = by_key[future.key]
                if future.status == "error":
                    yield Done(item, error=future.exception())
                else:
                    yield Done(item, value=future.result())
                future.release()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        if self._owned:
            self.client.close()


def make_executor(workers: int | None = None, scheduler: str | None = None, jobs: int | None = None) -> Executor:
    """The executor the flags ask for: Dask when a scheduler address is given (or ``DASK_SCHEDULER_ADDRESS``
    is set), else a process pool of ``workers`` (default: every core, and no more than ``jobs``), else
    serial when only one worker would be used."""
    scheduler = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if scheduler:
        return DaskExecutor(scheduler)
    n = workers or available_cores()
    if jobs is not None:
        n = min(n, max(jobs, 1))
    return SerialExecutor() if n <= 1 else ProcessExecutor(n)
