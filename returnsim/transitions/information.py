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

from returnsim import network, parallel
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


def perceived_risk_update(perceived, actual, back, detained, confidence, cfg: Network, learning=None) -> np.ndarray:
    """New perceived detention risk from network news and the slow pull of public information (see above).
    Float32 in, float32 out. ``learning``: the rows that learn this month (the others keep ``perceived``;
    every row when ``None``).

    Computed over whole columns, with the rows that do not learn, or hear no news, given a rate of 0 instead
    of being picked out (a masked or gathered update costs several times the arithmetic when the mask is
    random, and most rows hear news after the first year): ``x + 0 * y`` is ``x``."""
    f32 = np.float32
    out = actual - perceived
    if learning is None:
        out *= f32(cfg.media_rate)
    else:
        rate = learning.astype(f32)
        rate *= f32(cfg.media_rate)
        out *= rate
    out += perceived
    heard = (back != 0) | (detained != 0)
    if learning is not None:
        heard &= learning
    if heard.any():
        b, d = back.astype(f32), detained.astype(f32)
        b += d
        np.maximum(b, f32(1.0), out=b)  # (rows without news: 0 / 1, finite, then times 0)
        share = np.divide(d, b, out=d)
        share -= perceived
        news = np.multiply(confidence, f32(cfg.learning_rate), out=b)
        news *= share  # learning_rate * confidence * (detained / (back + detained) - perceived)
        news *= heard.astype(f32)
        out += news
    return np.clip(out, f32(0.0), f32(1.0), out=out)


def learn(state: State, levers: Levers, params: Scenario, streams: Streams) -> Flows:
    """This month's news and perceived risk (see the module documentation)."""
    pop, n = state.pop, len(state.pop)
    code = np.empty(n, np.uint8)

    def codes(a: int, b: int) -> None:
        code[a:b] = network.codes(pop.status[a:b], pop.detained[a:b])

    parallel.each(codes, n)
    back, held = network.update_news(state.ties, state.news_code, code, state.news_back, state.news_detained)
    actual = risk_by_key(levers, params, levers.detention_on_return, state.geo.n_regions).astype(np.float32)
    displaced = state.displaced()
    perceived = np.empty(n, np.float32)

    def part(a: int, b: int) -> None:  # rows apart: in parallel on large populations
        perceived[a:b] = perceived_risk_update(  # only the displaced learn
            pop.perceived_risk[a:b],
            np.take(actual, state.risk_key[a:b]),
            back[a:b],
            held[a:b],
            pop.info_confidence[a:b],
            params.network,
            learning=displaced[a:b],
        )

    parallel.each(part, n)
    return Flows(
        changes=(
            Change("news_code", None, code),
            Change("news_back", None, back),
            Change("news_detained", None, held),
            Change("perceived_risk", None, perceived),
        )
    )
