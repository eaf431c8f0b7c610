"""Who hears from whom: ties between households, and the news they pass on.

Each row holds ``ties`` links to other rows, most to rows from the same origin region (``same_origin_share``),
the rest to anyone. Ties are drawn once, at the start. A household hears how many of its ties are back home and
free, and how many have a member in detention; the transition ``returnsim.transitions.information`` turns this
news into perceived risk, and the return decision reads the share of ties back home.

Speed: news is kept as two small counts per row and updated only where something changed. Each month few
households change status (return, arrest, release...), so instead of looking at every tie of every household,
the counts of the households that hold a tie to a changed one are adjusted; the ties held *to* each household
are indexed once at the start (:class:`Ties`, ``in_ptr`` / ``in_rows``, in compressed sparse row form).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from returnsim.population import Status
from returnsim.scenario import Network

__all__ = ["BACK", "HELD", "Ties", "build_ties", "codes", "update_news"]

BACK, HELD = 1, 16  # news codes: a tie back home and free; a tie with a member in detention


@dataclass(frozen=True)
class Ties:
    """Ties out of each row (``out``: rows x ties, column-major) and the rows holding a tie to each row."""

    out: np.ndarray  # int32 (n, k), Fortran order: column j is every row's j-th tie
    in_ptr: np.ndarray  # int64 (n + 1,): rows holding a tie to row r are in_rows[in_ptr[r]:in_ptr[r + 1]]
    in_rows: np.ndarray  # int32 (n * k,)

    @property
    def k(self) -> int:
        return self.out.shape[1]


def build_ties(
    origin: np.ndarray,
    cfg: Network,
    rng: np.random.Generator,
    base: int | None = None,
    extra_rng: np.random.Generator | None = None,
) -> Ties:
    """Draw ``cfg.ties`` ties per row (self-ties are possible and harmless) and index them both ways.

    Only the first ``base`` rows (default: all) are tie targets; the rows after them (households who have not
    left home yet, ``returnsim.population.stayers_needed``) draw their ties into the first ``base`` with
    ``extra_rng``, so the ties among the first rows are the same whatever events a scenario adds.
    """
    n, k = len(origin), cfg.ties
    base = n if base is None else base
    if n == 0 or k == 0:
        return Ties(np.zeros((n, 0), np.int32, order="F"), np.zeros(n + 1, np.int64), np.zeros(0, np.int32))
    out = np.empty((n, k), np.int32, order="F")
    out[:base] = _draw(origin[:base], origin[:base], k, cfg.same_origin_share, rng)
    if base == 0:  # nobody displaced at the start: those whom events will displace tie among themselves
        out[:] = _draw(origin, origin, k, cfg.same_origin_share, extra_rng)
    elif base < n:
        out[base:] = _draw(origin[base:], origin[:base], k, cfg.same_origin_share, extra_rng)
    return Ties(out, *_incoming(out))


def _draw(origin: np.ndarray, targets: np.ndarray, k: int, same_share: float, rng) -> np.ndarray:
    """``k`` ties for each row of ``origin`` to rows of ``targets``: with probability ``same_share`` to a row of
    the same origin (any row if there is none), otherwise to any row."""
    n, m = len(origin), len(targets)
    regions = int(max(origin.max(initial=0), targets.max(initial=0))) + 1
    order = np.argsort(targets, kind="stable").astype(np.int32)
    counts = np.bincount(targets, minlength=regions)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    start, count = starts[origin], counts[origin]
    out = np.empty((n, k), np.int32, order="F")
    for j in range(k):  # a loop over tie columns, not households
        u = rng.random(n)
        same = (rng.random(n) < same_share) & (count > 0)
        within = start + (u * count).astype(np.int64)
        out[:, j] = np.where(same, order[np.minimum(within, m - 1)], (u * m).astype(np.int64))
    return out


def _incoming(out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index ties by the row they point to: sort the ties by target (each packed with the row holding it into
    one 64-bit key, which numpy sorts fast), then read off the rows holding them, in ascending order (a row
    holding two ties to the same row appears twice). Packed column by column, into one array: building the
    keys costs no more memory than the keys."""
    n, k = out.shape
    packed = np.empty(n * k, np.int64)
    rows = np.arange(n, dtype=np.int64)
    for c in range(k):
        key = packed[c * n : (c + 1) * n]
        np.left_shift(out[:, c], 32, out=key, dtype=np.int64)
        key |= rows
    packed.sort()
    in_rows = packed.astype(np.int32)  # the low 32 bits: the row
    in_ptr = np.zeros(n + 1, np.int64)
    in_ptr[1:] = np.searchsorted(packed, np.arange(1, n + 1, dtype=np.int64) << 32)  # ties to rows below r + 1
    return in_ptr, in_rows


def codes(status: np.ndarray, detained: np.ndarray) -> np.ndarray:
    """Each row's news code: ``BACK`` if home and free, ``HELD`` if a member is in detention, else 0."""
    table = np.zeros(max(Status) + 1, np.uint8)
    table[Status.RETURNED] = BACK
    table[Status.DETAINED] = HELD
    code = table[status]
    code[detained > 0] = HELD  # a member in detention is the news, whatever the household's status
    return code


def update_news(ties: Ties, old: np.ndarray, new: np.ndarray, back: np.ndarray, held: np.ndarray):
    """The counts ``back`` and ``held`` after rows' codes changed from ``old`` to ``new`` (new arrays; the
    inputs are not modified). Only the rows holding a tie to a changed row are touched."""
    back, held = back.copy(), held.copy()
    changed = np.flatnonzero(old != new)
    if len(changed) == 0 or ties.k == 0:
        return back, held
    lo, hi = ties.in_ptr[changed], ties.in_ptr[changed + 1]
    lengths = hi - lo
    # the rows holding a tie to each changed row, and that row's change, flattened
    idx = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + np.arange(lengths.sum())
    holders = ties.in_rows[idx]
    d_back = np.repeat((new[changed] == BACK).astype(np.int8) - (old[changed] == BACK), lengths)
    d_held = np.repeat((new[changed] == HELD).astype(np.int8) - (old[changed] == HELD), lengths)
    np.add.at(back, holders, d_back)
    np.add.at(held, holders, d_held)
    return back, held


def count_news(ties: Ties, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The counts from scratch, over every tie (what :func:`update_news` keeps up to date; used by tests)."""
    n = len(code)
    back, held = np.zeros(n, np.int8), np.zeros(n, np.int8)
    for j in range(ties.k):
        c = code[ties.out[:, j]]
        back += c == BACK
        held += c == HELD
    return back, held
