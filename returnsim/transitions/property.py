"""Property: absentees' homes confiscated, and lost homes given back.

Where a confiscation hazard is in force (``property_confiscation`` events, after their claim window), each home
of an absent household (anywhere but at home) that is intact, damaged or destroyed is confiscated each month
with that hazard times the share of owners who fail to claim it (``1 - property.claim_success``). Where a
restitution programme runs, each confiscated or occupied home is given back each month with
``restitution_monthly``. The two sets are disjoint, so a home changes at most once a month.
"""

from __future__ import annotations

import numpy as np

from returnsim import parallel
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.population import PropertyStatus
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.transitions import CONFISCATED, INTACT

__all__ = ["property_"]

_CONFISCABLE = np.isin(np.arange(len(PropertyStatus)), [0, 1, 2])  # intact, damaged, destroyed
_LOST = np.isin(np.arange(len(PropertyStatus)), [3, 4])  # occupied, confiscated


def property_(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Confiscations and restitutions this month (see the module documentation)."""
    pop, g, t = state.pop, state.geo, state.t
    changes, confiscated, restituted = [], 0, 0
    hazard = levers.confiscation_hazard * (1.0 - params.property.claim_success)
    if hazard.any():
        # over whole columns: most households are absent, so this beats gathering the candidates first
        risk, home = hazard.astype(np.float32), np.int16(g.n_hosts)
        u = streams.uniform_all(Draw.CONFISCATE, t, len(pop))

        def taken(a: int, b: int) -> np.ndarray:  # rows apart: in parallel on large populations
            origin = pop.origin[a:b]
            absent = pop.location[a:b] != origin + home
            return absent & np.take(_CONFISCABLE, pop.property[a:b]) & (u[a:b] < np.take(risk, origin))

        taken = parallel.where(taken, len(pop))
        confiscated = len(taken)
        changes += [Change("property", taken, CONFISCATED), Change("confiscated", None, confiscated * pop.weight, True)]
    if levers.restitution_monthly > 0:
        lost = np.flatnonzero(_LOST[pop.property])
        back = lost[streams.uniform(Draw.RESTITUTE, t, lost) < levers.restitution_monthly]
        restituted = len(back)
        changes.append(Change("property", back, INTACT))
    return Flows(
        properties_confiscated=float(confiscated * pop.weight),
        properties_restituted=float(restituted * pop.weight),
        changes=tuple(changes),
    )
