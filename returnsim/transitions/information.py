r"""Information: what households hear, and what they come to believe about the risk of going home.

``announce``: an amnesty or security guarantee announced this month with some ``credibility`` is believed at
once by that share of the displaced households it covers (by profile and by the controller of their origin):
their perceived risk falls by the share of it that the relief removes, ``credibility * (1 - detention_factor)``.

``learn``: households hear how many of their ties are back home and free, and how many have a member in
detention (``returnsim.network``); perceived risk moves towards the share of detained among those heard of,
by ``learning_rate`` times the household's information confidence, and slowly towards the true risk for its
profile (``media_rate``)::

    r' = r + lam * c * (d / (b + d) - r) * [b + d > 0] + mu * (r_true - r)

Only displaced households update; those at home know their situation.
"""

from __future__ import annotations

import numpy as np

from returnsim import network
from returnsim.flows import Change, Flows
from returnsim.levers import Levers
from returnsim.scenario import Network, Scenario
from returnsim.state import State
from returnsim.streams import Streams
from returnsim.transitions.security import risk_by_key

__all__ = ["announce", "learn", "perceived_risk_update"]


def announce(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """Perceived risk after this month's announcements (see the module documentation)."""
    if not levers.announcements:
        return Flows()
    pop = state.pop
    profile = state.risk_key % 4
    ctrl = levers.controller[pop.origin]
    factor = np.ones(len(pop), np.float32)
    for a in levers.announcements:
        covered = a.profiles[profile] & a.controllers[ctrl]
        factor[covered] *= np.float32(1.0 - a.credibility * (1.0 - a.detention_factor))
    rows = np.flatnonzero(state.displaced() & (factor < 1.0))
    return Flows(changes=(Change("perceived_risk", rows, pop.perceived_risk[rows] * factor[rows]),))


def perceived_risk_update(perceived, actual, back, detained, confidence, cfg: Network) -> np.ndarray:
    """New perceived detention risk from network news and the slow pull of public information (see above).
    Float32 in, float32 out; the news term is computed only where there is news."""
    out = actual - perceived
    out *= np.float32(cfg.media_rate)
    out += perceived
    heard = np.flatnonzero((back != 0) | (detained != 0))
    if len(heard):
        b, d = back[heard].astype(np.float32), detained[heard].astype(np.float32)
        r = perceived[heard]
        out[heard] += np.float32(cfg.learning_rate) * confidence[heard] * (d / (b + d) - r)
    return np.clip(out, np.float32(0.0), np.float32(1.0), out=out)


def learn(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """This month's news and perceived risk (see the module documentation)."""
    pop = state.pop
    code = network.codes(pop.status, pop.detained)
    back, held = network.update_news(state.ties, state.news_code, code, state.news_back, state.news_detained)
    actual = risk_by_key(levers, params, levers.detention_on_return, state.geo.n_regions).astype(np.float32)
    updated = perceived_risk_update(
        pop.perceived_risk, np.take(actual, state.risk_key), back, held, pop.info_confidence, params.network
    )
    perceived = updated
    np.copyto(perceived, pop.perceived_risk, where=~state.displaced())
    return Flows(
        changes=(
            Change("news_code", None, code),
            Change("news_back", None, back),
            Change("news_detained", None, held),
            Change("perceived_risk", None, perceived),
        )
    )
