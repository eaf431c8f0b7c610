"""Observed figures shipped with the package (``returnsim/data/*.csv``), each row with its source.

>>> sorted(tables())[:3]
['history_events', 'host_government_returns', 'host_poverty']
>>> int(load("returns_annual").query("year == 2019 and series == 'unhcr_verified'")["refugee_returns_verified"].iloc[0])
94971
"""

from __future__ import annotations

from importlib import resources

import pandas as pd


def tables() -> list[str]:
    """Names of the observed tables."""
    return sorted(p.name[:-4] for p in resources.files("returnsim.data").iterdir() if p.name.endswith(".csv"))


def load(name: str) -> pd.DataFrame:
    """One observed table by name, e.g. ``load("returns_annual")``."""
    if name not in tables():
        raise KeyError(f"no observed table {name!r}; known: {', '.join(tables())}")
    with resources.files("returnsim.data").joinpath(f"{name}.csv").open() as fh:
        return pd.read_csv(fh)


def verified_refugee_returns() -> pd.Series:
    """UNHCR-verified refugee returns to Syria by year (persons)."""
    df = load("returns_annual").query("series == 'unhcr_verified'")
    return df.set_index("year")["refugee_returns_verified"]
