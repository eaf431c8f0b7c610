"""Static geography: the names and fixed facts of hosts, regions and controllers, as arrays.

Locations are numbered in one space: hosts first (``0 .. n_hosts-1``), then Syrian regions
(``n_hosts .. n_hosts+n_regions-1``). A household's ``origin`` is a region number (``0 .. n_regions-1``); its
location code is ``n_hosts + origin`` when it is at home. What policies change month by month (pressure,
controllers, deportation...) is not here but in ``returnsim.levers``.

>>> from returnsim.scenario import load_scenario
>>> g = Geography.from_scenario(load_scenario("baseline"))
>>> g.n_hosts, g.n_regions, g.location_name(g.n_hosts)
(6, 15, 'damascus')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from returnsim.scenario import Scenario

__all__ = ["Geography", "month_label", "month_number"]


def month_number(month: str) -> int:
    """Months since year 0: ``month_number("2018-04") - month_number("2017-01") == 15``."""
    year, m = map(int, month.split("-"))
    return year * 12 + m - 1


def month_label(start: str, offset: int) -> str:
    """``month_label("2017-01", 13) == "2018-02"``."""
    total = month_number(start) + offset
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


def _frozen(values, dtype) -> np.ndarray:
    out = np.array(list(values), dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Geography:
    """Names and fixed facts of every place; arrays are read-only and indexed by place number."""

    host_names: tuple[str, ...]
    region_names: tuple[str, ...]
    controller_names: tuple[str, ...]
    host_labels: tuple[str, ...]
    prewar_population: np.ndarray  # persons, by region
    former_opposition: np.ndarray  # bool, by region
    displacement_destination: np.ndarray  # region number each region's re-displaced go to
    host_surveyed: np.ndarray  # bool: counted in the survey-comparable intention share
    host_overland: np.ndarray  # bool: a land border with Syria (an unplanned return needs no fare)
    cross_line_cost: np.ndarray  # months of expenses, by host and controller: 0 where the host's crossings lead

    @property
    def n_hosts(self) -> int:
        return len(self.host_names)

    @property
    def n_regions(self) -> int:
        return len(self.region_names)

    @property
    def n_locations(self) -> int:
        return self.n_hosts + self.n_regions

    def names(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """Names of the hosts, regions and controllers: what a saved state or a changed scenario must share."""
        return self.host_names, self.region_names, self.controller_names

    def location_name(self, code: int) -> str:
        """The name of a location code (a host, or a region)."""
        code = int(code)
        return self.host_names[code] if code < self.n_hosts else self.region_names[code - self.n_hosts]

    def host(self, name: str) -> int:
        return self.host_names.index(name)

    def region(self, name: str) -> int:
        return self.region_names.index(name)

    def controller(self, name: str) -> int:
        return self.controller_names.index(name)

    @classmethod
    def from_scenario(cls, s: Scenario) -> Geography:
        regions = list(s.regions)

        def destination(i: int, name: str) -> int:
            # A region with no destination named sends its displaced to the next region in the file.
            return regions.index(name) if name else (i + 1) % len(regions)

        return cls(
            host_names=tuple(s.hosts),
            region_names=tuple(regions),
            controller_names=tuple(s.controllers),
            host_labels=tuple(h.label or name for name, h in s.hosts.items()),
            prewar_population=_frozen((r.prewar_population for r in s.regions.values()), np.float64),
            former_opposition=_frozen((r.former_opposition for r in s.regions.values()), bool),
            displacement_destination=_frozen(
                (destination(i, r.displacement_destination) for i, r in enumerate(s.regions.values())), np.int16
            ),
            host_surveyed=_frozen((h.surveyed for h in s.hosts.values()), bool),
            host_overland=_frozen((h.overland for h in s.hosts.values()), bool),
            cross_line_cost=_frozen(
                (
                    [0.0 if not h.crossings or c in h.crossings else h.cross_line_cost for c in s.controllers]
                    for h in s.hosts.values()
                ),
                np.float64,
            ),
        )
