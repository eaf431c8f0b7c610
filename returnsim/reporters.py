"""Model-level indicators, computed vectorised from the columns and collected by Mesa's DataCollector.

Counts are persons (household size times households per agent), except ``properties_confiscated`` and
``properties_restituted``, which count households (homes).
Flows (``returns_*``, ``detained``, ``redisplaced``…) are this month's; stocks are at month end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from returnsim.population import Status

if TYPE_CHECKING:
    from returnsim.model import ReturnModel

FLOW_KEYS = (
    "returns_voluntary",
    "returns_voluntary_refugees",
    "returns_voluntary_idps",
    "returns_forced",
    "detained",
    "detained_on_arrival",
    "released",
    "redisplaced",
    "displaced_by_conflict",
    "properties_restituted",
    "intend_return_12m_pct",
    "intend_return_12m_pct_surveyed",
    "births",
)


def columns(model: ReturnModel) -> list[str]:
    """Names of the time-series columns, in order (``month`` first)."""
    hosts = [f"refugees_{h}" for h in model.places.host_names]
    return [
        "month",
        "refugees",
        *hosts,
        "idps",
        "returnees",
        "detained_stock",
        *FLOW_KEYS,
        "properties_confiscated",
        "returnees_in_poverty_share",
        "mean_perceived_risk",
        "origin_livelihood_mean",
    ]


def indicators(model: ReturnModel) -> dict[str, float | str]:
    """Every indicator for the month just simulated."""
    pop, pl = model.population, model.places
    nH = pl.n_hosts
    persons = pop.persons
    displaced = model.is_displaced()
    in_host = displaced & (pop.location < nH)
    # persons by (status, location) in one pass; sums of whole persons are exact in float64
    n_loc = nH + pl.n_regions
    key = pop.status.astype(np.intp)
    key *= n_loc
    key += pop.location
    table = np.bincount(key, weights=persons, minlength=len(Status) * n_loc).reshape(len(Status), n_loc)
    away = table[Status.DISPLACED] + table[Status.REDISPLACED]
    by_host = away[:nH]
    returned = pop.status == Status.RETURNED
    out: dict[str, float | str] = {"month": model.month, "refugees": float(by_host.sum())}
    out.update({f"refugees_{h}": float(v) for h, v in zip(pl.host_names, by_host, strict=False)})
    out["idps"] = float(away[nH:].sum())
    out["returnees"] = float(table[Status.RETURNED].sum())
    out["detained_stock"] = float(pop.persons_detained.sum())
    out.update({k: float(v) for k, v in model.flows.items()})
    out["properties_confiscated"] = float(model.cumulative["properties_confiscated"])
    rows = np.flatnonzero(returned)
    if len(rows):
        poor = model.income(rows) < model.params.economy.poverty_line
        out["returnees_in_poverty_share"] = float(persons[rows][poor].sum() / persons[rows].sum())
    else:
        out["returnees_in_poverty_share"] = 0.0
    refugees = in_host
    out["mean_perceived_risk"] = float(pop.perceived_risk[refugees].mean()) if refugees.any() else 0.0
    weights = pl.prewar_population
    out["origin_livelihood_mean"] = float((pl.livelihood * weights).sum() / weights.sum())
    return out


def model_reporters(model: ReturnModel) -> dict:
    """DataCollector reporters: each reads the month's precomputed indicator."""
    return {name: _reader(name) for name in columns(model)}


def _reader(name: str):
    def read(model: ReturnModel):
        return model.indicators[name]

    read.__name__ = f"report_{name}"
    return read


def summary(model: ReturnModel, timeseries) -> tuple[list[dict], dict]:
    """Per-host rows (persons at start, returned voluntarily, deported, still displaced) and totals."""
    hosts = model.params.hosts
    names = [*(hosts[h].label or h for h in model.places.host_names), "IDPs (inside Syria)"]
    now = model.persons_by_location()
    rows = [
        {
            "where": name,
            "at_start": model.initial_persons_by_location[i],
            "returned_voluntarily": model.departed_voluntary[i],
            "deported": model.departed_forced[i],
            "still_displaced": now[i],
        }
        for i, name in enumerate(names)
    ]
    rows.append({k: ("total" if k == "where" else sum(r[k] for r in rows)) for k in rows[0]})
    last = timeseries.iloc[-1]
    totals = {
        "returned voluntarily": timeseries["returns_voluntary"].sum(),
        "returned forcibly": timeseries["returns_forced"].sum(),
        "detained": timeseries["detained"].sum(),
        "re-displaced": timeseries["redisplaced"].sum(),
        "still displaced": float(now.sum()),
        "living back home": last["returnees"],
        "in detention": last["detained_stock"],
        "properties confiscated (households)": last["properties_confiscated"],
        "returnees in poverty (share)": last["returnees_in_poverty_share"],
        "intend to return in 12 months (% of refugee households)": last["intend_return_12m_pct"],
    }
    return rows, totals
