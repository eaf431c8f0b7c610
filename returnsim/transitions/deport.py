"""Deportation: host countries send displaced households back, by their policy (``deportation`` levers).

Each host has a monthly rate or a quota of persons, a targeting rule (``levers.TARGETING``) and a destination
(the household's origin, or a named region such as the Turkish-backed zone). Under a rate, each eligible
household is deported with that probability. Under a quota, the eligible households with the smallest draws
of the deportation stream are deported until they hold the quota, the one that crosses it by chance
(``movements.pick``): the persons deported are the quota every month (all eligible, if they are fewer), not
only on average, and with the same seed a scenario deports the same households as long as they are eligible.
Households that went home of their own accord this month are no longer there to deport. A deportee sent to its
own region is home (``RETURNED``); one sent elsewhere is displaced inside Syria, with its months displaced
counted anew.
"""

from __future__ import annotations

import numpy as np

from returnsim import parallel
from returnsim.flows import Change, Flows
from returnsim.levers import ORIGIN, Levers
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.transitions import RETURNED
from returnsim.transitions.movements import coins, pick

__all__ = ["deport", "eligible"]


def eligible(targeting, registered, military_age_man, single_man) -> np.ndarray:
    """Whether each household is a target of its host's policy (codes of ``levers.TARGETING``: all,
    unregistered, military-age men, single men)."""
    return (
        (targeting == 0)
        | ((targeting == 1) & ~registered)
        | ((targeting == 2) & military_age_man)
        | ((targeting == 3) & single_man)
    )


def deport(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Who is deported this month (see the module documentation)."""
    pop, g, t = state.pop, state.geo, state.t
    nH = g.n_hosts
    quota = np.nan_to_num(levers.deportation_quota, nan=0.0)
    active = (levers.deportation_rate > 0) | (quota > 0)
    if not active.any():
        return Flows()
    at_active_host = np.zeros(g.n_locations, bool)
    at_active_host[:nH] = active
    targeting = np.zeros(g.n_locations, np.asarray(levers.deportation_targeting).dtype)  # (0 outside hosts)
    targeting[:nH] = levers.deportation_targeting
    displaced = state.displaced()

    def targets(a: int, b: int) -> np.ndarray:  # over whole columns: a random mask is slow to apply to a gather
        location = pop.location[a:b]
        targeted = eligible(
            np.take(targeting, location), pop.registered[a:b], pop.military_age_man[a:b], pop.single_man[a:b]
        )
        return displaced[a:b] & np.take(at_active_host, location) & targeted

    rows = parallel.where(targets, len(pop))
    host = pop.location[rows]
    persons = pop.size[rows].astype(np.float64) * pop.weight
    rate = levers.deportation_rate.copy()
    by_quota = ~np.isnan(levers.deportation_quota)
    rate[by_quota] = 0.0  # (where a quota is set it rules)
    u = streams.uniform(Draw.DEPORT, t, rows)
    out = u < rate[host]
    for h in np.flatnonzero(by_quota & (quota > 0)):  # the crossing household's coin: salt 1 + host
        at = np.flatnonzero(host == h)
        chosen = pick(rows[at], persons[at], float(quota[h]), u[at], coins(streams, t, 1 + int(h), Draw.DEPORT))
        out[np.searchsorted(rows, chosen)] = True  # (rows ascend)
    gone, host, persons = rows[out], host[out], persons[out]
    dest = levers.deportation_destination[host].astype(np.int16)
    dest = np.where(dest == ORIGIN, pop.origin[gone], dest)
    home = dest == pop.origin[gone]
    return Flows(
        returns_forced_from=np.bincount(host, weights=persons, minlength=nH + 1),
        changes=(
            Change("location", gone, dest + np.int16(nH)),
            Change("forced", gone, True),
            Change("status", gone[home], RETURNED),
            Change("months_displaced", gone[~home], np.int16(0)),
            Change("arrived", gone, np.int16(t)),
        ),
    )
