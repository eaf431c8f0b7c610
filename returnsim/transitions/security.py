"""Detention and release: arrests of returnees on arrival and in later months, and releases.

An arriving household (a voluntary return or a deportation this month) is arrested on arrival with the
probability of the region it arrives in (``detention_on_return`` of its controller); a household living back
home is arrested each month with ``detention_monthly`` of its origin's controller. Both are times the amnesty or
guarantee factor in force for its profile, and the profile multipliers (``decision.detention_probability``;
deportees carry the forced-return multiplier). An arrest takes one member (``size`` down, ``detained`` up); a
household with nobody left at liberty is wholly ``DETAINED``. Each month one detained member of a household may
be released (``security.release_monthly``) and rejoins it where it lives: a wholly detained household released
at home is ``RETURNED`` again; one away from home (deported elsewhere than its origin) is ``DISPLACED`` again, as it
was before the arrest (it has not been home).
"""

from __future__ import annotations

import numpy as np

from returnsim import decision, parallel
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.transitions import DETAINED, DISPLACED, RETURNED

__all__ = ["detention_risk", "security"]


def detention_risk(levers: Levers, params: Scenario, table: np.ndarray, region, profile, forced=False) -> np.ndarray:
    """Probability of arrest of households in ``region`` with ``profile`` (military-age man + 2 * exposed):
    ``table`` (``levers.detention_on_return`` or ``levers.detention_monthly``) of the region's controller, times
    the relief factor for the profile, times the profile multipliers."""
    region, profile = np.asarray(region), np.asarray(profile)
    ctrl = levers.controller[region]
    base = table[ctrl] * levers.detention_factor[ctrl, profile]
    return decision.detention_probability(base, profile & 1, profile >= 2, forced, params.security)


def risk_by_key(levers: Levers, params: Scenario, table: np.ndarray, n_regions: int) -> np.ndarray:
    """``detention_risk`` (not forced) for every ``State.risk_key`` = origin * 4 + profile."""
    key = np.arange(n_regions * 4)
    return detention_risk(levers, params, table, key // 4, key % 4)


def security(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Arrests and releases this month (see the module documentation)."""
    pop, g, t = state.pop, state.geo, state.t
    nH, w = g.n_hosts, pop.weight
    home, n = state.at_home(), len(pop)
    arrivals = parallel.where(lambda a, b: pop.arrived[a:b] == t, n)
    settled = parallel.where(lambda a, b: home[a:b] & (pop.arrived[a:b] != t), n)
    profile = state.risk_key[arrivals] % 4
    p_arrival = detention_risk(
        levers, params, levers.detention_on_return, pop.location[arrivals] - nH, profile, pop.forced[arrivals]
    )
    p_settled = risk_by_key(levers, params, levers.detention_monthly, g.n_regions)[state.risk_key[settled]]
    rows = np.concatenate([arrivals, settled])
    caught = streams.uniform(Draw.DETAIN, t, rows) < np.concatenate([p_arrival, p_settled])
    new = rows[caught]
    on_arrival = int(caught[: len(arrivals)].sum())

    held = np.flatnonzero(pop.detained > 0)
    released = held[streams.uniform(Draw.RELEASE, t, held) < params.security.release_monthly]
    emptied = released[pop.status[released] == DETAINED]
    at_home = pop.location[emptied] == pop.origin[emptied] + nH
    size_after = pop.size[new] + np.isin(new, released) - 1
    return Flows(
        detained=float(len(new) * w),
        detained_on_arrival=float(on_arrival * w),
        released=float(len(released) * w),
        changes=(
            Change("detained", released, -1, add=True),
            Change("size", released, 1, add=True),
            Change("status", emptied, np.where(at_home, RETURNED, DISPLACED)),
            Change("detained", new, 1, add=True),
            Change("size", new, -1, add=True),
            Change("status", new[size_after == 0], DETAINED),
        ),
    )
