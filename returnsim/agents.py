"""``Household``: a thin Mesa agent whose attributes read and write its row in the columns.

The monthly work is done over all rows at once by the transitions (``returnsim.schedule``); a ``Household`` is
the per-agent face of that state for inspection, the dashboard and tests. One agent stands for
``model.population.weight`` identical households.
"""

from __future__ import annotations

import mesa

from returnsim.population import COLUMNS, PropertyStatus, Status


def _column(name: str) -> property:
    def get(self: Household):
        return getattr(self.model.population, name)[self.row].item()

    def set_(self: Household, value) -> None:
        getattr(self.model.population, name)[self.row] = value

    return property(get, set_, doc=f"This household's ``{name}`` (its row in the column).")


class Household(mesa.Agent):
    """A displaced Syrian household (or ``weight`` identical ones)."""

    @property
    def row(self) -> int:
        """Row number in the population columns (agents are created in row order)."""
        return self.unique_id - self.model.first_household_id

    @property
    def status_name(self) -> str:
        return Status(self.status).name.lower()

    @property
    def property_name(self) -> str:
        return PropertyStatus(self.property).name.lower()

    @property
    def location_name(self) -> str:
        return self.model.location_name(self.location)

    @property
    def origin_name(self) -> str:
        return self.model.geography.region_names[self.origin]

    def return_probability(self) -> float:
        """This month's probability of a voluntary return: the model's kernel on this row alone."""
        return float(self.model.return_probabilities([self.row])[0])


for _name in COLUMNS:
    setattr(Household, _name, _column(_name))
