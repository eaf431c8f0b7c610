"""Random numbers: one stream per stochastic decision, indexed by household and month.

Every stochastic decision of the model (a voluntary return, a deportation, an arrest...) reads its uniform
draw from its own stream, and within a stream the draw of household ``i`` in month ``t`` depends only on the
run's seed, the decision, ``t`` and ``i``; not on how many other households took that decision, nor on what
was drawn before. Two scenarios run with the same seed therefore see the same draws household by household
(common random numbers): a policy changes the decisions only of the households it touches, and the difference
between the two runs is the policy's, not noise from random draws that slid out of step (the method of
Starsim; Klein et al. 2024, "Noise-free comparison of stochastic agent-based simulations using common random
numbers").

How: each decision (and ``salt``, which separates several events of one kind) has one PCG64 generator,
seeded once from ``SeedSequence(seed, spawn_key=(decision, salt))``; month ``t`` is the part of that stream
that starts at output ``t * 2**64`` (PCG64 jumps ahead at once, so any month is reached without drawing the
months before, and months never overlap: a month would need 2^65 rows to reach the next). Row ``i`` takes
the ``i``-th uniform of its month (the generator jumps to the lowest row asked for and draws up to the
highest). Households are identified by their row, which never changes. Uniforms are ``float32`` (resolution
2^-24 ≈ 6e-8; the smallest rate in the library is 2e-5). Seeding a generator costs about 8 µs and a jump
about 2 µs, so each generator is seeded once per run and only jumped each month. (Earlier, every (decision,
month) seeded its own generator from ``SeedSequence([seed, decision, month, salt])``: the same design with
other numbers, at +20 % run time at 1 agent per 100 households; seeded runs made then differ from today's
within statistical tolerance, not draw for draw.)

The initial population and the network (``generator``) still draw from ``SeedSequence([seed, decision, 0,
salt])``.

``Streams(seed, common=False)`` gives the other design for comparison: one sequential generator for the whole
run, each decision drawing only for the households that take it (the draws of everyone after a changed
decision shift). ``benchmarks/bench_crn.py`` measures the difference.

>>> s = Streams(7)
>>> a = s.uniform(Draw.RETURN, 3, np.array([2, 5]))
>>> b = s.uniform(Draw.RETURN, 3, np.array([5]))
>>> bool(a[1] == b[0])  # household 5's draw does not depend on who else is drawing
True
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from returnsim import parallel

__all__ = ["Draw", "Streams"]

_PERIOD = 2**128  # of PCG64: a jump back is a jump forward by the period less the distance


class Draw(IntEnum):
    """The stochastic decisions, each with its own stream (the values are part of the seeding: never reuse)."""

    SYNTHESIS = 1  # the initial population (drawn once, month 0)
    NETWORK = 2  # ties (drawn once)
    RETURN = 3  # a displaced household returns this month
    DEPORT = 4  # a household is deported
    DETAIN = 5  # arrest on arrival (arrivals) or in a later month (settled returnees): never both in a month
    RELEASE = 6  # a detained member is released
    REDISPLACE = 7  # a returnee is displaced again
    CONFISCATE = 8  # an absentee's home is confiscated
    RESTITUTE = 9  # a lost home is given back
    BIRTH = 10  # a household gains a member
    CONFLICT = 11  # a resident flees fighting (conflict_displacement)
    DESTINATION = 12  # where a household fleeing fighting goes
    REGISTER = 13  # a household arriving in a host is registered there
    NEW_DISPLACEMENT = 14  # which of the people who stayed flee (new_displacement)
    ARRIVAL = 15  # which of the people who stayed arrive in a host (registration)
    DEREGISTRATION = 16  # which refugees leave a host's register
    DESTRUCTION = 17  # whose home is destroyed or damaged
    TEMPORARY = 18  # which of the newly displaced go back after a short while
    ROUNDING = 19  # whether the row that crosses an event's count of persons moves (transitions.movements.pick)


class Streams:
    """Uniform draws for (decision, month, rows); see the module documentation."""

    def __init__(self, seed: int, common: bool = True):
        self.seed = int(seed)
        self.common = common
        self._sequential = None if common else np.random.default_rng(np.random.SeedSequence([self.seed, 0]))
        self._monthly: dict[tuple[int, int, int], list] = {}  # generator, its bits, where they stand

    def generator(self, draw: Draw, month: int = 0, salt: int = 0) -> np.random.Generator:
        """The generator of one decision in one month (``salt`` separates several events of one kind)."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, int(draw), month, salt])))

    def _floats(self, draw: Draw, month: int, salt: int, skip: int, n: int, part: int = 0, out=None) -> np.ndarray:
        """``n`` uniforms of ``draw`` (and ``salt``) from output ``skip`` of ``month`` on (into ``out`` if
        given). One generator per (decision, salt) serves every month, jumped to where it is asked for from
        where the last call left it (a jump also drops the half of an output a float32 draw may leave
        unused), so what was drawn before does not matter. ``part`` > 0 is another copy of the same stream,
        for another thread."""
        key = (int(draw), salt, part)
        held = self._monthly.get(key)
        if held is None:
            bits = np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key[:2]))
            held = self._monthly[key] = [np.random.Generator(bits), bits, 0, bits.state]
        gen, bits, at, seeded = held
        target = (month << 64) + skip
        held[2] = None  # (unknown until the draw is done)
        if at is None:  # a draw that did not finish: start again from the seeded state
            bits.state, at = seeded, 0
        bits.advance((target - at) % _PERIOD)
        values = gen.random(n, dtype=np.float32, out=out)
        held[2] = target + (n + 1) // 2  # a float32 takes half of a 64-bit output
        return values

    def uniform(self, draw: Draw, month: int, rows: np.ndarray, salt: int = 0) -> np.ndarray:
        """One uniform in [0, 1) per row of ``rows`` (``float32``)."""
        rows = np.asarray(rows)
        if not self.common:
            return self._sequential.random(len(rows), dtype=np.float32)
        if len(rows) == 0:
            return np.zeros(0, np.float32)
        # skip the rows below the lowest asked for: PCG64 jumps ahead at once, and its 64-bit outputs each
        # give two float32 draws, so a jump of k outputs lands on draw 2k (tests/test_core.py checks this)
        first = int(rows.min()) & ~1
        return self._draw(draw, month, salt, first, int(rows.max()) + 1 - first)[rows - first]

    def one(self, draw: Draw, month: int, row: int, salt: int = 0) -> float:
        """The uniform of one row: ``uniform(draw, month, [row], salt)[0]`` without building arrays."""
        if not self.common:
            return float(self._sequential.random(dtype=np.float32))
        return float(self._floats(draw, month, salt, row // 2, 2)[row & 1])

    def uniform_all(self, draw: Draw, month: int, n: int, salt: int = 0) -> np.ndarray:
        """One uniform per row ``0 .. n-1``: the same numbers as ``uniform`` over ``arange(n)``, without the
        index. With sequential streams, ``n`` draws from the run's one generator."""
        if not self.common:
            return self._sequential.random(n, dtype=np.float32)
        return self._draw(draw, month, salt, 0, n)

    def _draw(self, draw: Draw, month: int, salt: int, first: int, n: int) -> np.ndarray:
        """The uniforms of rows ``first .. first+n-1`` (``first`` even), a large range in parallel parts (each
        part its own copy of the stream, jumped to its first row: the same numbers)."""
        cut = parallel.parts(n) if n >= parallel.MIN_ROWS else None  # (below: one part, without asking)
        if cut is None or len(cut) == 1:
            return self._floats(draw, month, salt, first // 2, n)
        out = np.empty(n, np.float32)
        part = {start: i for i, (start, _) in enumerate(cut)}

        def fill(start: int, stop: int) -> None:
            self._floats(draw, month, salt, (first + start) // 2, stop - start, part[start], out[start:stop])

        parallel.each(fill, n)
        return out
