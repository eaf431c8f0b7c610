"""What holds displaced households back: each factor's contribution to the return utility, and which barrier binds.

For every displaced household the utility of returning now (``decision.return_utility``) is a sum of terms. The
terms that lower it are the *barriers* refugees name in UNHCR's intention surveys (RPIS waves 5-9: safety and
security first, then basic services and shelter, military service, livelihoods and jobs); the others pull or
push. :func:`explain` groups the terms:

- **safety and security**: perceived risk of arrest and violence at origin (``-beta_D r``, ``-beta_V v``);
- **basic services and shelter**: missing services at origin and the loss of the home (``-beta_S (1 - S)``,
  ``-beta_H h``);
- **military service**: conscription for a man of military age (``-beta_C m k``);
- **livelihoods and jobs**: the livelihood gap when home is worse than here (``beta_L * gap`` when negative), and
  what the household would earn at home (``beta_O L_orig``, a pull; a barrier only with a negative weight);
- **who rules**: the fall of the government that refugees fled (``beta_R (1 - R)``, 0 while it rules: its weight
  is then part of the intercept). It is the same for every household, so it never decides which of the survey's
  barriers binds; it is reported on its own. Its size is what that government's fall in December 2024 released
  (docs/ODD.md, scenarios/shocks_2024.toml): more than every barrier of the surveys together;
- and, not barriers: pressure and violence in the host, network, attachment (pull or push), and integration
  where the household lives (what ties it there).

A household's *binding barrier* is the one that lowers its utility most. The shares of households for whom each
barrier binds, ranked, are what the surveys' ranking of conditions is set beside (:data:`SURVEY_RANKING`).

>>> from returnsim.simulation import Simulation
>>> sim = Simulation("baseline", seed=1, households_per_agent=2000)
>>> table = explain(sim)
>>> list(table.columns)[:4]
['factor', 'group', 'mean_contribution', 'binding_share']
"""

from __future__ import annotations

import itertools

import numpy as np

from returnsim import decision
from returnsim.simulation import Simulation
from returnsim.tables import Tables
from returnsim.transitions import decide

__all__ = ["BARRIERS", "SURVEY_RANKING", "binding_shares", "binding_shares_now", "contributions", "explain"]

#: the barriers, in the order refugees name them in UNHCR's RPIS (waves 5-9): the survey's ranking
SURVEY_RANKING = ("safety and security", "basic services and shelter", "military service", "livelihoods and jobs")
BARRIERS = SURVEY_RANKING

#: factor -> (group, how its contribution is computed from the inputs and weights)
FACTORS = {
    "perceived risk of arrest": "safety and security",
    "violence at origin": "safety and security",
    "missing services at origin": "basic services and shelter",
    "loss of the home": "basic services and shelter",
    "military service": "military service",
    "livelihood gap": "livelihoods and jobs",
    "livelihood at home": "livelihoods and jobs",
    "pressure in the host": "push",
    "violence in the host": "push",
    "network back home": "pull",
    "attachment": "pull",
    "integration where they live": "ties where they live",
    "displaced inside Syria": "pull",
    "the fall of the government they fled": "who rules",
    "intercept": "intercept",
}


def contributions(x: decision.ReturnInputs, b) -> dict[str, np.ndarray]:
    """Each factor's term of the return utility (positive raises it, negative lowers it); their sum is
    ``decision.return_utility(x, b)``."""
    n = np.broadcast(*(np.asarray(getattr(x, f)) for f in ("perceived_risk", "livelihood_gap"))).shape
    return {
        "perceived risk of arrest": -b.detention_risk * np.asarray(x.perceived_risk, float),
        "violence at origin": -b.violence * np.asarray(x.violence, float),
        "missing services at origin": -b.services * np.asarray(x.services, float),
        "loss of the home": -b.property_loss * np.asarray(x.property_loss, float),
        "military service": -b.conscription * np.asarray(x.conscription, float),
        "livelihood gap": b.livelihood * np.asarray(x.livelihood_gap, float),
        "livelihood at home": b.home_livelihood * np.asarray(x.home_livelihood, float),
        "pressure in the host": b.pressure * np.asarray(x.pressure, float),
        "violence in the host": b.host_violence * np.asarray(x.host_violence, float),
        "network back home": b.network * np.asarray(x.network, float),
        "attachment": b.attachment * np.asarray(x.attachment, float),
        "integration where they live": -b.integration * np.asarray(x.integration, float),
        "displaced inside Syria": b.internal * np.asarray(x.internal, float),
        "the fall of the government they fled": b.regime * (1.0 - np.asarray(x.regime, float)),
        "intercept": np.full(n, b.intercept),
    }


def binding_shares(parts: dict[str, np.ndarray], weights: np.ndarray | None = None) -> dict[str, float]:
    """The share of households (weighted) for whom each barrier lowers the utility most."""
    groups = {g: sum(-np.minimum(v, 0.0) for k, v in parts.items() if FACTORS[k] == g) for g in BARRIERS}
    stack = np.vstack([np.asarray(groups[g], float) for g in BARRIERS])
    binding = np.argmax(stack, axis=0)
    held = stack.max(axis=0) > 0
    w = np.ones(stack.shape[1]) if weights is None else np.asarray(weights, float)
    total = w.sum()
    return {g: float(w[(binding == i) & held].sum() / total) if total else 0.0 for i, g in enumerate(BARRIERS)}


def _rows(sim: Simulation, where: str) -> np.ndarray:
    state, g = sim.state, sim.geo
    loc = state.pop.location
    displaced = state.displaced()
    if where == "surveyed":
        surveyed = np.zeros(g.n_locations, bool)
        surveyed[: g.n_hosts] = g.host_surveyed
        return np.flatnonzero(displaced & surveyed[loc])
    if where == "refugees":
        return np.flatnonzero(displaced & (loc < g.n_hosts))
    return np.flatnonzero(displaced)


def explain(sim: Simulation, where: str = "surveyed"):
    """The factors of the return utility for the displaced households now (``where``: ``"surveyed"``, refugees
    in the hosts UNHCR's survey covers; ``"refugees"``; or ``"all"`` displaced, IDPs included), under the levers
    of the next month to simulate. Returns a ``pandas.DataFrame``: one row per factor with its group, mean
    contribution (logit units, weighted by persons) and, for the barriers, the share of households for whom it
    binds and its rank beside the survey's."""
    import pandas as pd

    rows = _rows(sim, where)
    tab = Tables.build(sim.params, sim.geo, sim.levers(), sim.state.livelihood)
    x = decide.inputs(sim.state, tab, sim.params, rows)
    parts = contributions(x, sim.params.decision)
    persons = sim.state.pop.size[rows].astype(float)
    shares = binding_shares(parts, persons)
    ranked = sorted(BARRIERS, key=lambda g: -shares[g])
    out = []
    for factor, values in parts.items():
        group = FACTORS[factor]
        out.append(
            {
                "factor": factor,
                "group": group,
                "mean_contribution": float(np.average(values, weights=persons)) if len(rows) else 0.0,
                "binding_share": shares.get(group, np.nan) if group in BARRIERS else np.nan,
                "model_rank": ranked.index(group) + 1 if group in BARRIERS else np.nan,
                "survey_rank": SURVEY_RANKING.index(group) + 1 if group in BARRIERS else np.nan,
            }
        )
    return pd.DataFrame(out)


def binding_shares_now(sim: Simulation, where: str = "surveyed") -> dict[str, float]:
    """:func:`binding_shares` of the displaced households now (see :func:`explain` for ``where``)."""
    rows = _rows(sim, where)
    tab = Tables.build(sim.params, sim.geo, sim.levers(), sim.state.livelihood)
    x = decide.inputs(sim.state, tab, sim.params, rows)
    return binding_shares(contributions(x, sim.params.decision), sim.state.pop.size[rows].astype(float))


def rank_penalty(shares: dict[str, float], margin: float = 0.02) -> float:
    """How far the binding shares are from the survey's order: the sum over consecutive barriers in the survey's
    ranking of how much the later one exceeds the earlier (plus ``margin``), in units of 0.05."""
    total = 0.0
    for first, second in itertools.pairwise(SURVEY_RANKING):
        total += max(0.0, shares[second] + margin - shares[first]) / 0.05
    return total


def figure(table, path, title: str = ""):
    """Two panels: each factor's mean contribution to the utility of returning (barriers in red, pulls and
    pushes in blue), and the share of households for whom each barrier binds beside the survey's ranking."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained", width_ratios=(3, 2))
    rows = table[table["factor"] != "intercept"].sort_values("mean_contribution")
    colours = ["#d62728" if g in BARRIERS else "#7f2704" if g == "who rules" else "#1f77b4" for g in rows["group"]]
    left.barh(rows["factor"], rows["mean_contribution"], color=colours)
    left.axvline(0, color="black", lw=0.8)
    left.set_xlabel("mean contribution to the utility of returning (logit units; red: barriers, brown: who rules)")
    left.grid(alpha=0.3, axis="x")
    shares = table.dropna(subset=["binding_share"]).drop_duplicates("group").set_index("group")
    order = list(SURVEY_RANKING)
    right.barh(range(len(order)), [shares.loc[g, "binding_share"] * 100 for g in order], color="#d62728")
    right.set_yticks(
        range(len(order)),
        [f"{g}\n(survey rank {i + 1}, model rank {int(shares.loc[g, 'model_rank'])})" for i, g in enumerate(order)],
        fontsize=8,
    )
    right.invert_yaxis()
    right.set_xlabel("households for whom it is the binding barrier (%)")
    right.grid(alpha=0.3, axis="x")
    fig.suptitle(title or "What holds displaced households back")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
