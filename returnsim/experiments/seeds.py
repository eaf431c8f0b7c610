"""Seeds of an experiment, all derived from its one ``root_seed`` with ``numpy.random.SeedSequence``.

The root spawns independent streams: one seeds the design's sampler (Latin hypercube, Sobol', Morris),
one spawns a child per replication, and one seeds the bootstrap of the sensitivity estimators.
Replication ``r`` has the same seed at every design point, so the difference between two points is paired
(common random numbers): it is the parameters', not the draws'. Adding replications keeps the seeds of the
earlier ones, and changing the design keeps them all.

>>> replication_seeds(1, 3) == replication_seeds(1, 5)[:3]
True
>>> len(set(replication_seeds(1, 100)))
100
"""

from __future__ import annotations

import numpy as np

__all__ = ["analysis_seed", "design_seed", "replication_seeds"]


def _streams(root_seed: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(root_seed).spawn(3)  # design, replications, analysis (children 0, 1, 2)


def replication_seeds(root_seed: int, replications: int) -> list[int]:
    """One model seed (a 32-bit whole number) per replication."""
    children = _streams(root_seed)[1].spawn(replications)
    return [int(child.generate_state(1, np.uint32)[0]) for child in children]


def design_seed(root_seed: int) -> int:
    """The seed of the design's sampler."""
    return int(_streams(root_seed)[0].generate_state(1, np.uint32)[0])


def analysis_seed(root_seed: int) -> int:
    """The seed of the sensitivity estimators' bootstrap (never 0, which SALib reads as "no seed")."""
    return int(_streams(root_seed)[2].generate_state(1, np.uint32)[0]) or 1
