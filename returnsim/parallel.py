"""Row-parallel work for large populations: the heaviest elementwise steps of a month split over the cores.

numpy releases Python's global lock inside its loops over large arrays, and so does numpy's random generator
while it fills an array, so two threads each working through half of the rows of an elementwise computation
take about half the time. Only elementwise work is split (row ``i``'s result depends on row ``i``'s inputs
alone) and each part writes its own slice of the output, so the numbers are the same whatever the number of
threads: a run is bit-identical on one core or many (``tests/test_parallel.py``). Sums are never split (a sum
in two parts rounds differently).

Below :data:`MIN_ROWS` rows the work runs in the calling thread: starting a thread costs about 60 µs, more
than it saves on small arrays. The number of threads is ``RETURNSIM_THREADS`` if set, else the cores this
process may use, at most :data:`MAX_THREADS`; sweep and calibration workers run with one thread each, as
they already fill the cores with processes. Threads are started per call and end with it: nothing outlives a
model.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable

__all__ = ["MAX_THREADS", "MIN_ROWS", "ThreadsError", "each", "parts", "threads", "where"]

#: rows below which a computation runs in one thread (measured on 2 cores, months interleaved: with two
#: threads from 200 000 rows up, a month of the baseline takes 0.91x the time at 341 534 rows, 0.83x at
#: 683 000 and 0.76x at 3.4 M; with threads on everything, 1.9x at 34 172 rows)
MIN_ROWS = 200_000
#: more threads than this gain nothing measurable on the month's memory-bound loops
MAX_THREADS = 4


class ThreadsError(ValueError):
    """``RETURNSIM_THREADS`` is not a whole number of threads from 1 to 1024."""


def threads() -> int:
    """How many threads a large computation is split over (see the module documentation)."""
    given = os.environ.get("RETURNSIM_THREADS", "").strip()
    if given:
        try:
            count = int(given)
        except ValueError:
            count = 0
        if not 1 <= count <= 1024:
            raise ThreadsError(f"RETURNSIM_THREADS: expected a whole number of threads from 1 to 1024, got {given!r}")
        return count
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has affinity
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_THREADS))


def parts(n: int) -> list[tuple[int, int]]:
    """Rows ``0 .. n-1`` cut into contiguous ``(start, stop)`` parts, one per thread (one part below
    :data:`MIN_ROWS`). Every start is even: a part of a random stream then begins on a whole 64-bit output
    (``returnsim.streams``)."""
    k = threads() if n >= MIN_ROWS else 1
    cuts = [0] + [(n * i // k) & ~1 for i in range(1, k)] + [n]
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a] or [(0, n)]


def each(work: Callable[[int, int], object], n: int) -> list:
    """``work(start, stop)`` over :func:`parts` of ``n`` rows, in parallel threads; the results in the order of
    the parts. The first part runs in the calling thread; an exception in any part is raised here."""
    cut = parts(n)
    if len(cut) == 1:
        return [work(0, n)]
    results: list = [None] * len(cut)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(*cut[i])
        except BaseException as error:  # handed to the calling thread
            errors.append(error)

    others = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(cut))]
    for thread in others:
        thread.start()
    run(0)
    for thread in others:
        thread.join()
    if errors:
        raise errors[0]
    return results


def where(mask: Callable, n: int):
    """The rows (``int64``, ascending) among ``0 .. n-1`` where ``mask(start, stop)``, the boolean mask of rows
    ``start .. stop-1``, is true: ``np.flatnonzero`` of the whole mask, computed by parts."""
    import numpy as np

    def rows(start: int, stop: int):
        found = np.flatnonzero(mask(start, stop))
        return found + start if start else found

    found = each(rows, n)
    return found[0] if len(found) == 1 else np.concatenate(found)
