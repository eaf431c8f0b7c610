"""What a transition returns: the month's flows (typed counts) and the changes to the state that make them.

A transition (``returnsim.transitions``) reads the state and writes nothing. It returns a :class:`Flows`: how
many persons returned, were deported, arrested... (typed fields, zero by default), and the list of
:class:`Change` records (set or add values at rows of a named state array) that
:meth:`returnsim.state.State.apply` then carries out. The month's flows are the sum of its transitions' flows.

>>> a = Flows(detained=2.0, returns_forced_from=np.array([1.0, 0.0]))
>>> b = Flows(detained=1.0, returns_forced_from=np.array([0.0, 3.0]))
>>> total = a + b
>>> total.detained, total.returns_forced_from.tolist()
(3.0, [1.0, 3.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

__all__ = ["Change", "Flows"]


@dataclass(frozen=True, slots=True)
class Change:
    """Set (``add=False``) or add to the values of state array ``target`` at ``rows`` (all rows if ``None``).

    ``target`` names a household column (``returnsim.population.COLUMNS``) or another array of the state
    (``returnsim.state.STATE_ARRAYS``). Rows within one change are distinct.
    """

    target: str
    rows: np.ndarray | None
    values: np.ndarray | float | int | bool
    add: bool = False


def _zero_by_location() -> np.ndarray:
    return np.zeros(0)


@dataclass(frozen=True, slots=True)
class Flows:
    """This month's flows (persons unless stated) and the changes that carry them out.

    Arrays ``*_from`` are by the location people left: one entry per host, then one for all IDP locations;
    ``returns_voluntary_to`` holds refugees' returns by the host they left and the region they went back to (an
    array of hosts x regions).
    """

    returns_voluntary_from: np.ndarray = field(default_factory=_zero_by_location)
    returns_voluntary_to: np.ndarray = field(default_factory=_zero_by_location)  # refugees only: host x region
    returns_forced_from: np.ndarray = field(default_factory=_zero_by_location)
    returns_unplanned_from: np.ndarray = field(default_factory=_zero_by_location)  # the voluntary ones unplanned
    detained: float = 0.0  # persons arrested (each arrest takes one member)
    detained_on_arrival: float = 0.0
    released: float = 0.0
    redisplaced: float = 0.0  # returnees who left home again
    displaced_by_conflict: float = 0.0
    properties_confiscated: float = 0.0  # households (homes)
    properties_restituted: float = 0.0  # households (homes)
    births: float = 0.0
    newly_displaced: float = 0.0  # people who had stayed, displaced this month (new_displacement)
    registered_arrivals: float = 0.0  # new arrivals registered in hosts (registration)
    deregistered: float = 0.0  # refugees who left a host's register without a verified return
    homes_destroyed: float = 0.0  # households whose home was destroyed or damaged (housing_destruction)
    intend_return_12m_pct: float = 0.0  # % of refugee households (a share, not a flow: set by the decision)
    intend_return_12m_pct_surveyed: float = 0.0
    hope_return_pct: float = 0.0  # % of refugee households hoping to return one day (a share)
    hope_return_pct_surveyed: float = 0.0
    intend_return_12m_pct_by_host: np.ndarray = field(default_factory=_zero_by_location)  # % of each host's households
    hope_return_pct_by_host: np.ndarray = field(default_factory=_zero_by_location)  # the same, hoping to return
    changes: tuple[Change, ...] = ()

    def __add__(self, other: Flows) -> Flows:
        values = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "changes":
                values[f.name] = a + b
            elif isinstance(a, np.ndarray):
                values[f.name] = a if len(b) == 0 else b if len(a) == 0 else a + b
            else:
                values[f.name] = a + b
        return Flows(**values)

    def without_changes(self) -> Flows:
        """The counts alone (what indicators and results keep)."""
        return replace(self, changes=())


#: names of the count fields
COUNTS = tuple(f.name for f in fields(Flows) if f.name != "changes")
