"""The state of a run: household columns, the network, origin economies and what events remember.

Transitions (``returnsim.transitions``) read a :class:`State` and return :class:`~returnsim.flows.Flows`;
:meth:`State.apply` then carries out their changes. Nothing else writes to a state.

A state can be saved at any month and a run restarted from it (:func:`save`, :func:`load`): because every
random draw is indexed by month and household (``returnsim.streams``), a run restarted from a saved state gives
exactly the months that a straight run with the same seed would have given.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from returnsim.flows import Change
from returnsim.geography import Geography
from returnsim.network import Ties
from returnsim.population import COLUMNS, Population, PropertyStatus, Status

__all__ = ["STATE_ARRAYS", "State", "StateError", "load", "save"]

N_PROPERTY = len(PropertyStatus)
_DISPLACED = np.isin(np.arange(len(Status)), [Status.DISPLACED, Status.REDISPLACED])

#: arrays of the state other than the household columns, which changes may target
STATE_ARRAYS = ("livelihood", "births_by_origin", "confiscated", "news_back", "news_detained", "news_code")


class StateError(ValueError):
    """A saved state cannot be used (not a state file, or made for another world)."""


@dataclass
class State:
    """Everything that changes during a run (the scenario and levers do not live here)."""

    geo: Geography
    pop: Population
    ties: Ties
    t: int  # months simulated so far; the month being simulated is t
    livelihood: np.ndarray  # origin livelihood index by region (0-1)
    births_by_origin: np.ndarray  # persons born since the start, by origin region
    confiscated: np.ndarray  # homes confiscated since the start (households), one entry
    news_back: np.ndarray  # int8: ties back home and free, per row
    news_detained: np.ndarray  # int8: ties with a member in detention, per row
    news_code: np.ndarray  # uint8: each row's news code as its ties last heard it
    moved: dict[str, float] = field(default_factory=dict)  # persons moved so far by each conflict event, by id
    cell: np.ndarray = field(init=False, repr=False)  # intp (fastest for np.take): place cell of each row
    risk_key: np.ndarray = field(init=False, repr=False)  # intp: origin * 4 + profile (static)
    _displaced: np.ndarray = field(init=False, repr=False)  # bool: status is DISPLACED or REDISPLACED
    _at_home: np.ndarray = field(init=False, repr=False)  # bool: status is RETURNED

    def __post_init__(self):
        self.cell = self.cells(np.arange(len(self.pop)))
        self._displaced = _DISPLACED[self.pop.status]
        self._at_home = self.pop.status == Status.RETURNED
        profile = self.pop.military_age_man.astype(np.int16) + 2 * self.pop.exposed.astype(np.int16)
        self.risk_key = self.pop.origin.astype(np.intp) * 4 + profile

    # ------------------------------------------------------------------------------------- derived

    @property
    def n_cells(self) -> int:
        """Number of place cells: (location, origin, property status, military-age man)."""
        return self.geo.n_locations * self.geo.n_regions * N_PROPERTY * 2

    def cells(self, rows: np.ndarray) -> np.ndarray:
        """The place cell of each row: ``((location * R + origin) * P + property) * 2 + military_age_man``.

        What depends only on where a household lives, where it is from, its home's status and whether a man of
        military age is present is computed once a month per cell (``returnsim.tables``) and gathered."""
        pop, R = self.pop, self.geo.n_regions
        cell = pop.location[rows].astype(np.intp)
        cell *= R
        cell += pop.origin[rows]
        cell *= N_PROPERTY
        cell += pop.property[rows]
        cell *= 2
        cell += pop.military_age_man[rows]
        return cell

    def displaced(self) -> np.ndarray:
        """Whether each row is displaced (never returned, or displaced again). Kept up to date by :meth:`apply`;
        read-only."""
        return self._displaced

    def at_home(self) -> np.ndarray:
        """Whether each row's household lives back at its origin (status ``RETURNED``). Kept up to date by
        :meth:`apply`; read-only."""
        return self._at_home

    def persons_by_origin(self) -> np.ndarray:
        """Persons by origin region, members in detention included."""
        pop = self.pop
        return np.bincount(pop.origin, weights=pop.persons + pop.persons_detained, minlength=self.geo.n_regions)

    def persons_by_location(self) -> np.ndarray:
        """Displaced persons in each host, and in the last entry all IDPs together."""
        pop, nH = self.pop, self.geo.n_hosts
        displaced = self.displaced()
        return np.bincount(np.minimum(pop.location[displaced], nH), weights=pop.persons[displaced], minlength=nH + 1)

    # ------------------------------------------------------------------------------------- changes

    def _array(self, target: str) -> tuple[object, np.ndarray]:
        if target in COLUMNS:
            return self.pop, getattr(self.pop, target)
        if target in STATE_ARRAYS:
            return self, getattr(self, target)
        raise KeyError(f"no state array {target!r}")

    def apply(self, changes: tuple[Change, ...]) -> None:
        """Carry out changes in order (see :class:`~returnsim.flows.Change`)."""
        moved_rows, status_rows = [], []
        for c in changes:
            if c.target == "moved":
                for key, value in c.values.items():
                    self.moved[key] = self.moved.get(key, 0.0) + value
                continue
            owner, array = self._array(c.target)
            if c.rows is None:
                if c.add:
                    array += c.values
                else:
                    new = np.asarray(c.values)
                    if new.shape != array.shape:
                        raise ValueError(f"{c.target}: {new.shape} values for {array.shape}")
                    setattr(owner, c.target, new.astype(array.dtype, copy=False))
                    if c.target in ("location", "property"):
                        moved_rows.append(slice(None))
                    if c.target == "status":
                        status_rows.append(slice(None))
                continue
            if c.add:
                array[c.rows] += c.values
            else:
                array[c.rows] = c.values
            if c.target in ("location", "property"):
                moved_rows.append(c.rows)
            if c.target == "status":
                status_rows.append(c.rows)
        for rows in status_rows:
            self._displaced[rows] = _DISPLACED[self.pop.status[rows]]
            self._at_home[rows] = self.pop.status[rows] == Status.RETURNED
        for rows in moved_rows:
            if isinstance(rows, slice):
                self.cell = self.cells(np.arange(len(self.pop)))
            else:
                self.cell[rows] = self.cells(rows)


# ------------------------------------------------------------------------------------ save / load

_FORMAT = "returnsim-state-1"


def save(state: State, path: str | Path, meta: dict) -> Path:
    """Write ``state`` to ``path`` (a ``.npz`` file), atomically. ``meta`` (JSON-able) records where it came
    from: scenario, seed, households per agent, month."""
    path = Path(path)
    arrays = {f"pop.{name}": getattr(state.pop, name) for name in COLUMNS}
    arrays |= {name: getattr(state, name) for name in ("livelihood", *STATE_ARRAYS[1:])}
    arrays["ties.out"] = state.ties.out
    arrays["ties.in_ptr"], arrays["ties.in_rows"] = state.ties.in_ptr, state.ties.in_rows
    header = {
        "format": _FORMAT,
        "t": state.t,
        "weight": state.pop.weight,
        "moved": state.moved,
        "places": [state.geo.host_names, state.geo.region_names, state.geo.controller_names],
        **meta,
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_header(path: str | Path) -> dict:
    """The metadata of a saved state (without loading its arrays)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
    except (OSError, ValueError, KeyError) as exc:
        raise StateError(f"{path}: not a saved returnsim state ({exc})") from None
    if header.get("format") != _FORMAT:
        raise StateError(f"{path}: not a saved returnsim state (format {header.get('format')!r})")
    return header


def load(path: str | Path, geo: Geography) -> State:
    """A state saved by :func:`save`, for a world with the same places as ``geo``."""
    header = read_header(path)
    if header["places"] != [list(names) for names in geo.names()]:
        raise StateError(f"{path}: saved for other places (hosts, regions or controllers differ from the scenario's)")
    with np.load(path, allow_pickle=False) as data:
        columns = {name: data[f"pop.{name}"] for name in COLUMNS}
        pop = Population(**columns, weight=int(header["weight"]))
        ties = Ties(out=data["ties.out"], in_ptr=data["ties.in_ptr"], in_rows=data["ties.in_rows"])
        arrays = {name: data[name].copy() for name in ("livelihood", *STATE_ARRAYS[1:])}
    return State(geo=geo, pop=pop, ties=ties, t=int(header["t"]), moved=dict(header["moved"]), **arrays)
