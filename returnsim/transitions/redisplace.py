"""Displacement after return, and flight from fighting.

``redisplace``: a returnee living at home (not one who arrived this month) leaves again with the monthly hazard
``decision.redisplacement_hazard`` of violence at home, the shortfall of its income below the poverty line and
the loss of its home; it goes to its region's ``displacement_destination`` and is ``REDISPLACED``.

``flee``: a ``conflict_displacement`` event in force moves residents of its region who are followed already
(returnees and IDPs living there; people who never left are moved by ``new_displacement``, in
``returnsim.transitions.movements``) to its destinations, spread over the event's window day by day: by a
share of residents, or by a number of persons (what is left of it, spread over what is left of the window). A
resident
sent to its own region is home; a returnee sent elsewhere is displaced again; a household arriving in a host
is registered there with the host's ``registered_share``.
"""

from __future__ import annotations

import numpy as np

from returnsim import decision, parallel
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.tables import Tables
from returnsim.transitions import DETAINED, REDISPLACED, RETURNED, STAYER

__all__ = ["flee", "redisplace"]


def redisplace(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Returnees who leave home again this month (see the module documentation)."""
    pop, g, t = state.pop, state.geo, state.t
    home = state.at_home()
    rows = parallel.where(lambda a, b: home[a:b] & (pop.arrived[a:b] != t), len(pop))
    tab = Tables.build(params, g, levers, state.livelihood)
    u = streams.uniform(Draw.REDISPLACE, t, rows)

    def leaving(a: int, b: int) -> np.ndarray:  # returnees apart: in parallel when many
        some = rows[a:b]
        income = tab.home_income[state.cell[some]] * pop.skill[some]
        hazard = decision.redisplacement_hazard(
            levers.violence[levers.controller[pop.origin[some]]],
            params.economy.poverty_line - income,
            decision.property_loss_score(pop.property[some], params.property),
            params.redisplacement,
        )
        return some[u[a:b] < hazard]

    leave = np.concatenate(parallel.each(leaving, len(rows)))
    return Flows(
        redisplaced=float(pop.size[leave].sum()) * pop.weight,
        changes=(
            Change("location", leave, g.displacement_destination[pop.origin[leave]] + np.int16(g.n_hosts)),
            Change("status", leave, REDISPLACED),
            Change("months_displaced", leave, np.int16(0)),
        ),
    )


def flee(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Residents fleeing fighting this month (see the module documentation)."""
    if not levers.displacements:
        return Flows()
    pop, g, t = state.pop, state.geo, state.t
    nH = g.n_hosts
    taken = np.zeros(len(pop), bool)  # a household moves once a month, whatever the number of events
    changes, moved, total = [], {}, 0.0
    for d in levers.displacements:
        resident = (pop.location == nH + d.region) & (pop.status != DETAINED) & (pop.status != STAYER)
        rows = np.flatnonzero(resident & ~taken)
        persons = float(pop.size[rows].sum()) * pop.weight
        if d.share is not None:
            share = d.share
        else:  # what is left of the persons, spread over what is left of the window
            left = max(d.persons - state.moved.get(d.event_id, 0.0), 0.0) * d.this_month / d.remaining_days
            share = min(1.0, left / persons) if persons > 0 else 0.0
        movers = rows[streams.uniform(Draw.CONFLICT, t, rows, d.salt) < share]
        pick = np.searchsorted(np.cumsum(d.weights), streams.uniform(Draw.DESTINATION, t, movers, d.salt), "right")
        dest = d.destinations[np.minimum(pick, len(d.weights) - 1)]
        was_home = pop.status[movers] == RETURNED
        home = dest == pop.origin[movers] + nH
        status = np.where(home, RETURNED, np.where(was_home, REDISPLACED, pop.status[movers]))
        abroad = dest < nH
        registered = streams.uniform(Draw.REGISTER, t, movers[abroad], d.salt) < levers.registered_share[dest[abroad]]
        n = float(pop.size[movers].sum()) * pop.weight
        changes += [
            Change("location", movers, dest.astype(np.int16)),
            Change("status", movers, status.astype(np.int8)),
            Change("months_displaced", movers[was_home & ~home], np.int16(0)),
            Change("registered", movers[abroad], registered),
        ]
        moved[d.event_id] = n
        total += n
        taken[movers] = True
    changes.append(Change("moved", None, moved))
    return Flows(displaced_by_conflict=total, changes=tuple(changes))
