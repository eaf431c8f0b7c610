"""Random numbers: one stream per stochastic decision, indexed by household and month.

Every stochastic decision of the model (a voluntary return, a deportation, an arrest...) reads its uniform
draw from its own stream, and within a stream the draw of household ``i`` in month ``t`` depends only on the
run's seed, the decision, ``t`` and ``i``; not on how many other households took that decision, nor on what
was drawn before. Two scenarios run with the same seed therefore see the same draws household by household
(common random numbers): a policy changes the decisions only of the households it touches, and the difference
between the two runs is the policy's, not noise from random draws that slid out of step (the method of
Starsim; Klein et al. 2024, "Noise-free comparison of stochastic agent-based simulations using common random
numbers").

How: the generator of (decision, month) is a PCG64 seeded from ``SeedSequence([seed, decision, month])``, so
any month can be reached at once, without drawing the months before; row ``i`` takes its ``i``-th uniform
(the generator jumps to the lowest row asked for and draws up to the highest). Households are identified by
their row, which never changes. Uniforms are ``float32`` (resolution 2^-24 ≈ 6e-8; the smallest rate in the
library is 2e-5).

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

__all__ = ["Draw", "Streams"]


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

    def generator(self, draw: Draw, month: int = 0, salt: int = 0) -> np.random.Generator:
        """The generator of one decision in one month (``salt`` separates several events of one kind)."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, int(draw), month, salt])))

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
        gen = self.generator(draw, month, salt)
        if first:
            gen.bit_generator.advance(first // 2)
        return gen.random(int(rows.max()) + 1 - first, dtype=np.float32)[rows - first]

    def uniform_all(self, draw: Draw, month: int, n: int, salt: int = 0) -> np.ndarray:
        """One uniform per row ``0 .. n-1``: the same numbers as ``uniform`` over ``arange(n)``, without the
        index. With sequential streams, ``n`` draws from the run's one generator."""
        if not self.common:
            return self._sequential.random(n, dtype=np.float32)
        return self.generator(draw, month, salt).random(n, dtype=np.float32)
