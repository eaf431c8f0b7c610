"""People who had stayed, displaced or arriving in a host; refugees leaving a host's register; homes destroyed.

These carry out events that change who is displaced beyond the decisions of the households already followed:

``displace_stayers`` (``new_displacement``): people who had not left their region flee it, as many persons as
the event moves this month; they become displaced (IDPs in another region, or refugees in a host, registered
there with the host's ``registered_share``), with months displaced counted from 0. A share of them
(``temporary_share``) are displaced for a short while only: ``come_back`` takes them home ``return_months``
later (OCHA on Daraa, July 2018: most of the 320,000 displaced went back within weeks).

``register`` (``registration``): new arrivals from Syria join a host's registered refugees, as many persons as
the event registers this month, by origin (the event's ``origin_shares`` or the host's). Most were registered
late rather than newly displaced: their months displaced are drawn like those of the households at the start,
plus the months since.

``deregister`` (``deregistration``): refugees leave a host's register without a verified return (records
closed, onward movement, resettlement), as many persons as the event says; they are no longer followed
(status ``DEPARTED``).

``destroy_homes`` (``housing_destruction``): in its first month, homes in the event's regions that are intact
or damaged are destroyed with ``destroyed_share``, or intact ones damaged with ``damaged_share``, whoever
lives in them.

Which households move is decided by each household's own draw (``returnsim.streams``): the households with the
smallest draws go first, until the persons are reached (the last row by chance, so that the persons moved are
right on average at any scale), so that the same households move in any scenario with
the same seed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from returnsim import parallel
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.transitions import DAMAGED, DEPARTED, DESTROYED, DISPLACED, INTACT, RETURNED, STAYER, refugees_to

__all__ = ["coins", "come_back", "deregister", "destroy_homes", "displace_stayers", "pick", "register"]


def pick(
    rows: np.ndarray, persons_per_row: np.ndarray, persons: float, draws: np.ndarray, coin: Callable[[int], float]
) -> np.ndarray:
    """The rows with the smallest ``draws``, as many as hold ``persons``.

    The row that crosses the total is taken with the probability of the part of it still wanted (its
    ``coin(row)``, a uniform, below that part), so the persons moved are right on average at any scale: a
    monthly share of an event smaller than one row still moves a row now and then, instead of never.

    >>> rows, size = np.arange(4), np.full(4, 10.0)
    >>> draws = np.array([0.4, 0.1, 0.3, 0.2])  # rows 1 and 3 fill 20 persons; row 2 would cross 25
    >>> pick(rows, size, 25.0, draws, coin=lambda row: 0.4).tolist()  # 0.4 < 5/10: taken
    [1, 2, 3]
    >>> pick(rows, size, 25.0, draws, coin=lambda row: 0.6).tolist()
    [1, 3]
    """
    if persons <= 0 or len(rows) == 0:
        return rows[:0]
    # Only the smallest draws can be taken: sort the rows below a cut that holds the persons with room to
    # spare (the rows below any cut come first in the full sort, so the result is the same), else sort all.
    cut = 1.5 * persons / persons_per_row.sum() + 64 / len(rows)
    if cut < 1:
        below = np.flatnonzero(draws < cut)
        if persons_per_row[below].sum() >= persons:
            rows, persons_per_row, draws = rows[below], persons_per_row[below], draws[below]
    order = np.argsort(draws, kind="stable")
    size = persons_per_row[order]
    after = np.cumsum(size)
    before = after - size
    take = after <= persons
    crossing = np.flatnonzero((before < persons) & (after > persons))
    if len(crossing):
        c = crossing[0]
        take[c] = coin(int(rows[order[c]])) < (persons - before[c]) / size[c]
    return np.sort(rows[order[take]])


def coins(streams: Streams, t: int, salt: int, draw: Draw = Draw.ROUNDING) -> Callable[[int], float]:
    """The ``coin`` of :func:`pick`: a row's own uniform of month ``t`` in the rounding stream (or ``draw``'s)."""
    return lambda row: streams.one(draw, t, int(row), salt)


def displace_stayers(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """People who had stayed and flee their region this month (see the module documentation)."""
    if not levers.new_displacements:
        return Flows()
    pop, g, t = state.pop, state.geo, state.t
    nH = g.n_hosts
    changes, total = [], 0.0
    taken = np.zeros(len(pop), bool)  # a household moves once a month, whatever the number of events
    for m in levers.new_displacements:
        rows = np.flatnonzero((pop.status == STAYER) & (pop.origin == m.region) & ~taken)
        persons = pop.size[rows].astype(np.float64) * pop.weight
        draws = streams.uniform(Draw.NEW_DISPLACEMENT, t, rows, m.salt)
        go = pick(rows, persons, m.persons, draws, coins(streams, t, m.salt))
        where = np.searchsorted(np.cumsum(m.weights), streams.uniform(Draw.DESTINATION, t, go, m.salt), "right")
        dest = m.destinations[np.minimum(where, len(m.weights) - 1)]
        abroad = dest < nH
        registered = streams.uniform(Draw.REGISTER, t, go[abroad], m.salt) < levers.registered_share[dest[abroad]]
        short = go[streams.uniform(Draw.TEMPORARY, t, go, m.salt) < m.temporary_share]
        changes += [
            Change("location", go, dest.astype(np.int16)),
            Change("status", go, DISPLACED),
            Change("months_displaced", go, np.int16(0)),
            Change("registered", go[abroad], registered),
            Change("return_due", short, np.int16(t + m.return_months)),
        ]
        total += float(pop.size[go].sum()) * pop.weight
        taken[go] = True
    return Flows(newly_displaced=total, changes=tuple(changes))


def come_back(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Households displaced for a short while (``new_displacement`` with ``temporary_share``) go home in the month
    they are due, if still displaced; counted as voluntary returns from where they were."""
    pop, g, t = state.pop, state.geo, state.t
    due = np.flatnonzero((pop.return_due == t) & state.displaced())
    if len(due) == 0:
        return Flows()
    nH = g.n_hosts
    persons = pop.size[due].astype(np.float64) * pop.weight
    left = np.minimum(pop.location[due], nH)
    return Flows(
        returns_voluntary_from=np.bincount(left, weights=persons, minlength=nH + 1),
        returns_voluntary_to=refugees_to(state, due, left, persons),
        changes=(
            Change("location", due, pop.origin[due] + np.int16(nH)),
            Change("status", due, RETURNED),
            Change("arrived", due, np.int16(t)),
        ),
    )


def register(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """New arrivals registered in hosts this month (see the module documentation)."""
    if not levers.registrations:
        return Flows()
    pop, t = state.pop, state.t
    changes, total = [], 0.0
    stayers = parallel.where(lambda a, b: pop.status[a:b] == STAYER, len(pop))
    for m in levers.registrations:
        go = []
        draws = streams.uniform(Draw.ARRIVAL, t, stayers, m.salt)  # once for all regions: the same numbers
        by_origin = np.argsort(pop.origin[stayers], kind="stable")  # each region's stayers, in row order
        bounds = np.searchsorted(pop.origin[stayers][by_origin], np.arange(len(m.weights) + 1))
        for region in np.flatnonzero(m.weights):
            here = by_origin[bounds[region] : bounds[region + 1]]
            rows = stayers[here]
            persons = pop.size[rows].astype(np.float64) * pop.weight
            go.append(pick(rows, persons, m.persons * m.weights[region], draws[here], coins(streams, t, m.salt)))
        go = np.sort(np.concatenate(go)) if go else np.zeros(0, np.int64)
        changes += [  # registered late, not newly displaced: years away, counted from their draw at the start
            Change("location", go, np.int16(m.host)),
            Change("status", go, DISPLACED),
            Change("registered", go, True),
            Change("months_displaced", go, (pop.months_displaced[go] + t).astype(np.int16)),
        ]
        kept = np.ones(len(stayers), bool)
        kept[np.searchsorted(stayers, go)] = False
        stayers = stayers[kept]
        total += float(pop.size[go].sum()) * pop.weight
    return Flows(registered_arrivals=total, changes=tuple(changes))


def deregister(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Refugees leaving hosts' registers this month (see the module documentation)."""
    if not levers.deregistrations:
        return Flows()
    pop, t = state.pop, state.t
    changes, total = [], 0.0
    taken = np.zeros(len(pop), bool)  # a household leaves once, whatever the number of events
    displaced = state.displaced()
    for m in levers.deregistrations:
        rows = parallel.where(
            lambda a, b, host=m.host: displaced[a:b] & (pop.location[a:b] == host) & ~taken[a:b], len(pop)
        )
        persons = pop.size[rows].astype(np.float64) * pop.weight
        draws = streams.uniform(Draw.DEREGISTRATION, t, rows, m.salt)
        go = pick(rows, persons, m.persons, draws, coins(streams, t, m.salt))
        changes.append(Change("status", go, DEPARTED))
        total += float(pop.size[go].sum()) * pop.weight
        taken[go] = True
    return Flows(deregistered=total, changes=tuple(changes))


def destroy_homes(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Homes destroyed or damaged this month (see the module documentation)."""
    if not levers.destructions:
        return Flows()
    pop, t = state.pop, state.t
    changes, total = [], 0
    home = pop.property  # as the events before this one in the month left it (a copy once one has acted)
    for d in levers.destructions:
        standing = (home == INTACT) | (home == DAMAGED)
        rows = np.flatnonzero(standing & d.regions[pop.origin])
        u = streams.uniform(Draw.DESTRUCTION, t, rows, d.salt)
        destroyed = u < d.destroyed_share
        damaged = ~destroyed & (home[rows] == INTACT) & (u < d.destroyed_share + d.damaged_share)
        changes += [
            Change("property", rows[destroyed], DESTROYED),
            Change("property", rows[damaged], DAMAGED),
        ]
        total += int(destroyed.sum() + damaged.sum())
        home = home.copy() if home is pop.property else home
        home[rows[destroyed]], home[rows[damaged]] = DESTROYED, DAMAGED
    return Flows(homes_destroyed=float(total * pop.weight), changes=tuple(changes))
