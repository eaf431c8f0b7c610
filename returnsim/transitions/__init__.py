"""The mechanisms of a month, one module each: ``f(state, levers, params, streams) -> Flows``.

Each transition reads the state (``returnsim.state.State``), this month's levers (``returnsim.levers``), the
scenario's parameters and the run's random streams (``returnsim.streams``), and returns the month's flows with
the changes to make (``returnsim.flows``); it writes nothing itself. ``returnsim.schedule`` calls them in the
order of docs/ODD.md section 3 and applies each one's changes before the next runs.

- ``livelihoods.economy``: origin economies move towards their targets, strained by returnee inflow;
- ``information.announce``: amnesties and guarantees announced this month change perceived risk;
- ``redisplace.flee``: residents flee fighting (``conflict_displacement`` events);
- ``decide.decide``: displaced households decide whether to return;
- ``deport.deport``: host countries deport households;
- ``security.security``: arrests on arrival and later, and releases;
- ``redisplace.redisplace``: returnees leave home again when security or livelihood fails;
- ``property.property_``: absentees' homes confiscated, lost homes restituted;
- ``livelihoods.livelihoods``: savings, months displaced, births;
- ``information.learn``: news of returnees' fates, and perceived risk.
"""

import numpy as np

from returnsim.population import PropertyStatus, Status

# the codes as the columns' own dtype (comparing an int8 column with an IntEnum member widens it to int64)
DISPLACED, RETURNED, DETAINED, REDISPLACED, STAYER, DEPARTED = (np.int8(s) for s in Status)
INTACT, DAMAGED, DESTROYED, OCCUPIED, CONFISCATED = (np.int8(p) for p in PropertyStatus)


def refugees_to(state, rows: np.ndarray, left: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """Persons of the returning ``rows`` who came from a host (``left``: their location before, hosts first), by
    that host and the region they went back to: an array of shape (hosts, regions)."""
    g = state.geo
    abroad = left < g.n_hosts
    pair = left[abroad].astype(np.int64) * g.n_regions + state.pop.origin[rows][abroad]
    out = np.bincount(pair, weights=persons[abroad], minlength=g.n_hosts * g.n_regions)
    return out.reshape(g.n_hosts, g.n_regions)
