"""The month: the transitions in their order (docs/ODD.md section 3), each one's changes applied before the next.

This is the one place that orders the mechanisms; ``ReturnModel.step`` and ``returnsim.simulate`` both call
:func:`advance`.
"""

from __future__ import annotations

import numpy as np

from returnsim.flows import Flows
from returnsim.levers import Levers
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.streams import Streams
from returnsim.transitions.decide import decide
from returnsim.transitions.deport import deport
from returnsim.transitions.information import announce, learn
from returnsim.transitions.livelihoods import economy, livelihoods
from returnsim.transitions.movements import come_back, deregister, destroy_homes, displace_stayers, register
from returnsim.transitions.property import property_
from returnsim.transitions.redisplace import flee, redisplace
from returnsim.transitions.security import security

__all__ = ["STAGES", "advance"]

#: the transitions of a month, in order
STAGES = (
    economy,
    announce,
    destroy_homes,
    flee,
    displace_stayers,
    register,
    deregister,
    come_back,
    decide,
    deport,
    security,
    redisplace,
    property_,
    livelihoods,
    learn,
)


def advance(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Simulate month ``state.t``: run every stage and apply its changes; return the month's flows (without the
    changes). The caller moves ``state.t`` on."""
    by_location = state.geo.n_hosts + 1
    total = Flows(
        returns_voluntary_from=np.zeros(by_location),
        returns_forced_from=np.zeros(by_location),
        returns_voluntary_to=np.zeros((state.geo.n_hosts, state.geo.n_regions)),
    )
    for stage in STAGES:
        flows = stage(state, levers, params, streams)
        state.apply(flows.changes)
        total = total + flows.without_changes()
    return total
