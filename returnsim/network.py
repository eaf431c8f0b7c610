"""Who hears from whom, and how news of returnees' fates moves perceived risk.

Each row holds ``ties`` links to other rows, most to rows from the same origin region
(``same_origin_share``), the rest to anyone. Ties are drawn once, vectorised, at start.
Each month a household looks at its ties who went back: the share of them detained is the
news it hears, and its perceived risk moves towards that news by ``learning_rate`` times its
information confidence. A slower pull (``media_rate``) moves every perception towards the
true risk for its profile.
"""

from __future__ import annotations

import numpy as np

from returnsim.population import Status
from returnsim.scenario import Network


def build_ties(origin: np.ndarray, cfg: Network, rng: np.random.Generator) -> np.ndarray:
    """An ``(n, ties)`` int32 array of row numbers (self-ties are possible and harmless)."""
    n = len(origin)
    if n == 0 or cfg.ties == 0:
        return np.zeros((n, 0), np.int32)
    order = np.argsort(origin, kind="stable").astype(np.int32)
    counts = np.bincount(origin, minlength=int(origin.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    u = rng.random((n, cfg.ties))
    same = rng.random((n, cfg.ties)) < cfg.same_origin_share
    within = starts[origin][:, None] + (u * counts[origin][:, None]).astype(np.int64)
    anyone = (u * n).astype(np.int64)
    return np.where(same, order[within], anyone).astype(np.int32)


def news(ties: np.ndarray, status: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: ties back home (returned), ties detained, and the share of ties back home."""
    if ties.shape[1] == 0:
        zero = np.zeros(len(ties), np.float32)
        return zero, zero, zero
    s = status[ties]
    back = (s == Status.RETURNED).sum(axis=1, dtype=np.int16)
    detained = (s == Status.DETAINED).sum(axis=1, dtype=np.int16)
    return back, detained, back / np.float32(ties.shape[1])


def update_perceived_risk(
    perceived: np.ndarray,
    actual: np.ndarray,
    back: np.ndarray,
    detained: np.ndarray,
    confidence: np.ndarray,
    cfg: Network,
) -> np.ndarray:
    """New perceived detention risk from network news and the slow pull of public information.

    ``r' = r + lam * c * (d / (b + d) - r) * [b + d > 0] + mu * (r_true - r)``
    """
    heard = back + detained
    signal = np.divide(detained, heard, out=np.zeros(len(heard), np.float32), where=heard > 0)
    learn = np.where(heard > 0, cfg.learning_rate * confidence, 0.0)
    out = perceived + learn * (signal - perceived) + cfg.media_rate * (actual - perceived)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
