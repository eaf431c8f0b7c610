"""Model-level indicators of a month, computed from the state and the month's flows.

Counts are persons (household size times households per agent), except ``properties_confiscated`` and
``properties_restituted``, which count households (homes). Flows (``returns_*``, ``detained``, ``redisplaced``...)
are the month's; stocks are at the month's end. Every column is described in docs/ODD.md section 7.10.
"""

from __future__ import annotations

import numpy as np

from returnsim import parallel
from returnsim.flows import Flows
from returnsim.geography import Geography
from returnsim.levers import Levers
from returnsim.population import Status
from returnsim.scenario import Scenario
from returnsim.state import State
from returnsim.tables import Tables, host_income

__all__ = ["FLOW_KEYS", "columns", "indicators"]

#: flow columns taken from the month's :class:`~returnsim.flows.Flows`, in order
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
    "newly_displaced",
    "registered_arrivals",
    "deregistered",
    "homes_destroyed",
    "properties_restituted",
    "intend_return_12m_pct",
    "intend_return_12m_pct_surveyed",
    "hope_return_pct",
    "hope_return_pct_surveyed",
    "births",
)


def columns(geo: Geography) -> list[str]:
    """Names of the time-series columns, in order (``month`` first)."""
    hosts = geo.host_names
    return [
        "month",
        "refugees",
        *(f"refugees_{h}" for h in hosts),
        "idps",
        "returnees",
        "detained_stock",
        *FLOW_KEYS,
        "returns_unplanned_refugees",
        "returns_unplanned_idps",
        *(f"returns_voluntary_{h}" for h in hosts),
        *(f"returns_forced_{h}" for h in hosts),
        *(f"intend_return_12m_pct_{h}" for h in hosts),
        *(f"hope_return_pct_{h}" for h in hosts),
        *(f"returns_voluntary_to_{r}" for r in geo.region_names),
        *(f"returns_voluntary_{h}_to_{r}" for h in hosts for r in geo.region_names),
        "properties_confiscated",
        "returnees_in_poverty_share",
        *(f"in_poverty_pct_{h}" for h in hosts),
        "mean_perceived_risk",
        "origin_livelihood_mean",
    ]


def indicators(state: State, flows: Flows, levers: Levers, params: Scenario, month: str) -> dict[str, float | str]:
    """Every indicator for the month just simulated, in the order of :func:`columns`."""
    pop, g = state.pop, state.geo
    nH = g.n_hosts
    # persons by (status, location): households counted by (status, location, size) in one pass, times size
    n_loc, sizes = g.n_locations, int(params.population.max_household_size) + 1
    cells = len(Status) * n_loc * sizes

    def count(a: int, b: int) -> np.ndarray:  # whole numbers: counts of parts add up exactly
        key = pop.status[a:b].astype(np.int32)
        key *= n_loc
        key += pop.location[a:b]
        key *= sizes
        key += pop.size[a:b]
        return np.bincount(key, minlength=cells)

    counts = sum(parallel.each(count, len(pop))).reshape(len(Status), n_loc, sizes)
    table = (counts @ np.arange(sizes, dtype=np.float64)) * pop.weight
    away = table[Status.DISPLACED] + table[Status.REDISPLACED]
    by_host = away[:nH]
    vol, forced = flows.returns_voluntary_from, flows.returns_forced_from
    out: dict[str, float | str] = {"month": month, "refugees": float(by_host.sum())}
    out |= {f"refugees_{h}": float(v) for h, v in zip(g.host_names, by_host, strict=True)}
    out["idps"] = float(away[nH:].sum())
    out["returnees"] = float(table[Status.RETURNED].sum())
    out["detained_stock"] = float(pop.detained.sum(dtype=np.int64) * pop.weight)
    out["returns_voluntary"] = float(vol.sum())
    out["returns_voluntary_refugees"] = float(vol[:nH].sum())
    out["returns_voluntary_idps"] = float(vol[nH])
    out["returns_forced"] = float(forced.sum())
    for name in FLOW_KEYS[4:]:
        out[name] = float(getattr(flows, name))
    unplanned = flows.returns_unplanned_from  # empty when no decision was taken
    out["returns_unplanned_refugees"] = float(unplanned[:nH].sum())
    out["returns_unplanned_idps"] = float(unplanned[nH]) if len(unplanned) else 0.0
    out |= {f"returns_voluntary_{h}": float(v) for h, v in zip(g.host_names, vol[:nH], strict=True)}
    out |= {f"returns_forced_{h}": float(v) for h, v in zip(g.host_names, forced[:nH], strict=True)}
    for prefix, shares in (
        ("intend_return_12m_pct_", flows.intend_return_12m_pct_by_host),
        ("hope_return_pct_", flows.hope_return_pct_by_host),
    ):  # (empty when nobody decided)
        out |= {f"{prefix}{h}": float(shares[i]) if len(shares) else 0.0 for i, h in enumerate(g.host_names)}
    by_pair = flows.returns_voluntary_to
    out |= {f"returns_voluntary_to_{r}": float(v) for r, v in zip(g.region_names, by_pair.sum(axis=0), strict=True)}
    out |= {
        f"returns_voluntary_{h}_to_{r}": float(by_pair[i, j])
        for i, h in enumerate(g.host_names)
        for j, r in enumerate(g.region_names)
    }
    out["properties_confiscated"] = float(state.confiscated[0])
    home, refugees = state.at_home(), state.displaced() & (pop.location < nH)
    tab = Tables.build(params, g, levers, state.livelihood)
    line = params.economy.poverty_line
    with np.errstate(divide="ignore"):  # no income at all: every skill is below the line
        lowest = (line / host_income(params, levers)).astype(np.float32)  # the skill that earns the line, by host

    def poverty(a: int, b: int) -> tuple[int, int, np.ndarray]:
        """Persons at home and those of them in poverty, over whole columns; refugee households by host and
        whether they earn below the poverty line where they live (host x 2 counts)."""
        income = np.take(tab.home_income, state.cell[a:b])  # (a gather of the returnees alone is slower)
        income *= pop.skill[a:b]
        poor = income < line
        poor &= home[a:b]
        size = pop.size[a:b]
        rows = np.flatnonzero(refugees[a:b])  # (the refugees alone: a third of the rows)
        host = np.take(pop.location[a:b], rows).astype(np.intp)
        below = np.take(pop.skill[a:b], rows) < np.take(lowest, host)
        host <<= 1
        host += below
        return (
            int(np.multiply(size, home[a:b], dtype=np.int16).sum(dtype=np.int64)),
            int(np.multiply(size, poor, dtype=np.int16).sum(dtype=np.int64)),
            np.bincount(host, minlength=2 * nH)[: 2 * nH].reshape(nH, 2),
        )

    at_home, in_poverty, by_host = (sum(x) for x in zip(*parallel.each(poverty, len(pop)), strict=True))
    out["returnees_in_poverty_share"] = in_poverty / at_home if at_home else 0.0
    n_by_host = by_host.sum(axis=1)
    out |= {
        f"in_poverty_pct_{h}": 100.0 * float(by_host[i, 1]) / float(n_by_host[i]) if n_by_host[i] else 0.0
        for i, h in enumerate(g.host_names)
    }
    n_refugees = int(n_by_host.sum())
    risk = np.compress(refugees, pop.perceived_risk).sum(dtype=np.float64)  # (a masked sum is 5x slower)
    out["mean_perceived_risk"] = float(risk / n_refugees) if n_refugees else 0.0
    weights = g.prewar_population
    out["origin_livelihood_mean"] = float((state.livelihood * weights).sum() / weights.sum())
    return out
