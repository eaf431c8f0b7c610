r"""Pure, vectorised decision kernels: arrays and parameters in, probabilities out.

No model, no globals and no random numbers here: the model draws with its own generator.
The same functions serve the whole population (arrays of millions) and one household
(``Household.return_probability`` passes its row).

A displaced household's decision has two layers, as UNHCR's intention surveys ask about it: whether it hopes
to return home one day, and, if it does, whether the conditions that stop it now let it go this month.

Hope to return one day (a logit share, :func:`hope`):

.. math::

    \eta_i = \sigma(\eta_0 + \eta_A a_i - \eta_G g_i + \eta_L L_o - \eta_V v_c - \eta_H h_i + \eta_R (1 - R))

Return now (a random-utility logit hazard, Klabunde & Willekens 2016). For household *i* displaced at
location *l* from origin region *o* under controller *c*:

.. math::

    V_i = \beta_0 + \beta_P P_l + \beta_L (L^{orig}_i - L^{here}_i) + \beta_O L^{orig}_i - \beta_D \hat r_i
          - \beta_V v_c - \beta_C m_i k_c - \beta_H h_i - \beta_S (1 - S_o) + \beta_N n_i + \beta_A a_i - \beta_G g_i
          + \beta_W w_l + \beta_I d_l + \beta_R (1 - R)

    q_i = \sigma(V_i)                      \text{(monthly hazard of intending to return, for those who hope)}

    F_i = \sigma(\kappa (s_i - C_i))       \text{(feasibility: savings vs cost)}

    p_i = \eta_i \, b_l \, (1 - (1 - q_i F_i)(1 - \epsilon)(1 - \delta \pi_i))  \text{(monthly return probability)}

with :math:`b_l` the host's border open (0 to 1), :math:`\epsilon` the monthly chance that an event the household did
not plan (family reunified at home, a death, a property to protect, an eviction) sends home a household that hopes
to return, whatever its savings (``decision.unplanned_rate``), :math:`\delta` the same for a household below the
poverty line where it lives (:math:`\pi_i` = 1), pushed home by its poverty (``decision.distress_rate``; both 0:
every return is planned and paid for),
:math:`\sigma` the logistic function, :math:`\hat r_i` the perceived detention probability,
:math:`m_i` a military-age man present, :math:`k_c` conscription enforced, :math:`h_i` the
property-loss score, :math:`S_o` basic services and shelter functioning at origin, :math:`n_i` the share of
network ties back home, :math:`a_i` attachment, :math:`g_i` integration, :math:`w_l` violence against
refugees in their host (a war reaching them, ``host_conflict_shock``) and :math:`d_l` 1 for the internally
displaced (near home, no border to cross), :math:`R` how far the government that refugees fled still rules
(1 in power, 0 gone: ``politics.regime``, moved by ``regime_change`` events), as the household weighs it:
:math:`1 - e_c (1 - R)` with :math:`e_c` how far its home's controller depended on that government
(``controllers.<name>.regime_exposure``; while it rules, 1 for every household and its weight part of the
intercept), and :math:`C_i` the cost of the journey (the host's, more across a
front line, less when fleeing a war: ``tables.Tables``). The survey-comparable intention is
:math:`\eta_i (1-(1-q_i)^{12})`.

>>> import numpy as np
>>> from returnsim.scenario import Decision
>>> x = ReturnInputs.single(pressure=0.3, livelihood_gap=-0.2, perceived_risk=0.02)
>>> p = return_probability(x, Decision())
>>> bool(0 < p[0] < 0.05)
True
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from returnsim.scenario import Decision, Hope, Property, Redisplacement, Security

__all__ = [
    "ReturnInputs",
    "detention_probability",
    "expit",
    "feasibility",
    "household_utility",
    "integration",
    "intend_within",
    "intention_hazard",
    "place_utility",
    "property_loss_score",
    "redisplacement_hazard",
    "return_probability",
    "return_utility",
    "unplanned_probability",
]


def expit(x):
    """The logistic function ``1 / (1 + exp(-x))``, in the precision of ``x`` (float32 stays float32)."""
    x = np.asarray(x)
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: the result is then 0
        return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class ReturnInputs:
    """What a displaced household weighs, one array entry per household (broadcastable)."""

    pressure: np.ndarray = 0.0
    livelihood_gap: np.ndarray = 0.0
    perceived_risk: np.ndarray = 0.0
    violence: np.ndarray = 0.0
    conscription: np.ndarray = 0.0
    property_loss: np.ndarray = 0.0
    network: np.ndarray = 0.0
    attachment: np.ndarray = 0.0
    integration: np.ndarray = 0.0
    savings: np.ndarray = 0.0
    return_cost: np.ndarray = 0.0
    border_open: np.ndarray = 1.0
    host_violence: np.ndarray = 0.0
    services: np.ndarray = 0.0  # what is missing of basic services and shelter at origin (1 - services index)
    home_livelihood: np.ndarray = 0.0  # what the household would earn at home (L^orig_i)
    internal: np.ndarray = 0.0  # 1 for the internally displaced (near home, no border to cross), 0 abroad
    regime: np.ndarray = 1.0  # how far the government that refugees fled still rules, as the household weighs it
    poor: np.ndarray = 0.0  # 1 if the household earns below the poverty line where it lives (unplanned returns)
    overland: np.ndarray = 1.0  # 1 if home is reached by land (a host with a land border, or inside Syria), else 0

    @classmethod
    def single(cls, **values: float) -> ReturnInputs:
        """One household from scalars (unnamed inputs take their defaults)."""
        return cls(**{f.name: np.atleast_1d(np.asarray(values.get(f.name, f.default), float)) for f in fields(cls)})


def place_utility(x: ReturnInputs, b: Decision) -> np.ndarray:
    """The terms of :math:`V_i` that depend only on the place (where the household is, where it is from, its
    home's status, whether a man of military age is present): the intercept, pressure, violence at origin,
    conscription, property loss, violence in the host, missing services, being displaced inside Syria, and the
    rule of the government that refugees fled."""
    return (
        b.intercept
        + b.pressure * x.pressure
        - b.violence * x.violence
        - b.conscription * x.conscription
        - b.property_loss * x.property_loss
        + b.host_violence * x.host_violence
        - b.services * x.services
        + b.internal * x.internal
        + b.regime * (1.0 - x.regime)
    )


def household_utility(x: ReturnInputs, b: Decision) -> np.ndarray:
    """The terms of :math:`V_i` that differ between households of one place: the livelihood gap, what it would
    earn at home, perceived risk, network, attachment and integration."""
    return (
        b.livelihood * x.livelihood_gap
        + b.home_livelihood * x.home_livelihood
        - b.detention_risk * x.perceived_risk
        + b.network * x.network
        + b.attachment * x.attachment
        - b.integration * x.integration
    )


def return_utility(x: ReturnInputs, b: Decision) -> np.ndarray:
    """The utility :math:`V_i` of returning this month: place terms plus household terms."""
    return place_utility(x, b) + household_utility(x, b)


@dataclass(frozen=True)
class HopeInputs:
    """What the hope to return one day rests on, one array entry per household (broadcastable)."""

    attachment: np.ndarray = 0.0
    integration: np.ndarray = 0.0
    livelihood: np.ndarray = 0.0  # the origin region's livelihood index (economic prospects at home)
    violence: np.ndarray = 0.0  # violence at origin (security outlook)
    property_loss: np.ndarray = 0.0
    regime: np.ndarray = 1.0  # how far the government that refugees fled still rules, as the household weighs it


def hope_place(x: HopeInputs, h: Hope) -> np.ndarray:
    """The terms of the hope logit that depend only on the place: intercept, prospects at home, violence
    there, the loss of the home, and the fall of the government that refugees fled."""
    return (
        h.intercept
        + h.livelihood * x.livelihood
        - h.violence * x.violence
        - h.property_loss * x.property_loss
        + h.regime * (1.0 - x.regime)
    )


def hope_household(x: HopeInputs, h: Hope) -> np.ndarray:
    """The household terms of the hope logit: attachment to home and integration where it lives."""
    return h.attachment * x.attachment - h.integration * x.integration


def hope(x: HopeInputs, h: Hope) -> np.ndarray:
    r""":math:`\eta_i`, the probability that a household hopes to return home one day (UNHCR's surveys ask it)."""
    return expit(hope_place(x, h) + hope_household(x, h))


def intention_hazard(x: ReturnInputs, b: Decision) -> np.ndarray:
    """Monthly hazard :math:`q_i` of intending to return (no feasibility constraints)."""
    return expit(return_utility(x, b))


def feasibility(savings, return_cost, border_open, slope: float) -> np.ndarray:
    """Probability :math:`f_i` that an intention can be carried out this month."""
    return expit(slope * (np.asarray(savings) - return_cost)) * border_open


def return_probability(x: ReturnInputs, b: Decision) -> np.ndarray:
    """Monthly probability :math:`q_i F_i k_i + (1 - k_i) R_i` of a voluntary return for a household that hopes to
    return one day (times :math:`\\eta_i`, the probability :math:`p_i`): a planned return, intended and paid for
    (:math:`F_i` the feasibility, the border :math:`b_l` in it), or an unplanned one, with :math:`k_i = (1 -
    \\epsilon)(1 - \\delta \\pi_i)` the chance of none: an event (``decision.unplanned_rate``) or, below the poverty
    line (:math:`\\pi_i`), poverty (``decision.distress_rate``). An unplanned return needs the border open and, where
    home is reached by land (:math:`o_i = 1`), no savings: :math:`R_i = b_l` there; from a host without a land
    border it needs the fare as a plan does, :math:`R_i = F_i`."""
    fare = feasibility(x.savings, x.return_cost, x.border_open, b.feasibility_slope)
    planned = intention_hazard(x, b) * fare
    kept = 1.0 - unplanned_probability(x.poor, b)
    overland = np.asarray(x.overland)
    reach = overland * np.asarray(x.border_open) + (1.0 - overland) * fare
    return planned * kept + (1.0 - kept) * reach


def unplanned_probability(poor, b: Decision) -> np.ndarray:
    """Monthly chance :math:`1 - (1 - \\epsilon)(1 - \\delta \\pi_i)` of an unplanned return (before the hope and
    the border): an event or, below the poverty line (``poor``), poverty."""
    return 1.0 - (1.0 - b.unplanned_rate) * (1.0 - b.distress_rate * np.asarray(poor))


def intend_within(hazard, months: int = 12) -> np.ndarray:
    """Probability of intending to return within ``months`` at a constant monthly hazard: ``1 - (1 - q)^months``
    (the power by repeated squaring, which keeps float32 and is several times faster than ``**``)."""
    stay = 1.0 - np.asarray(hazard)
    power, base, k = None, stay, int(months)
    while k:
        if k & 1:
            power = base if power is None else power * base
        k >>= 1
        if k:
            base = base * base
    return 1.0 - (np.ones_like(stay) if power is None else power)


def integration(months_displaced, host_integration, time_scale: float) -> np.ndarray:
    """Integration :math:`g_i = G_l (1 - e^{-t_i/\\tau})` after ``months_displaced`` where the household lives
    (a host, or an IDP location with ``G_l`` = ``idps.integration``)."""
    return host_integration * -np.expm1(-np.asarray(months_displaced, float) / time_scale)


def property_loss_score(status, p: Property) -> np.ndarray:
    """Loss score by property status (0 intact, 1 damaged, 2 destroyed, 3 occupied, 4 confiscated)."""
    table = np.array([0.0, p.loss_damaged, p.loss_destroyed, p.loss_occupied, p.loss_confiscated])
    return table[status]


def detention_probability(base, military_age_man, exposed, forced, s: Security) -> np.ndarray:
    """Controller's base rate times the household's profile multipliers, capped at 1.

    ``p = min(1, base * M^man * E^exposed * F^forced)``
    """
    p = (
        np.asarray(base, float)
        * np.where(military_age_man, s.military_age_multiplier, 1.0)
        * np.where(exposed, s.political_exposure_multiplier, 1.0)
        * np.where(forced, s.forced_return_multiplier, 1.0)
    )
    return np.minimum(p, 1.0)


def redisplacement_hazard(violence, poverty_gap, property_loss, r: Redisplacement) -> np.ndarray:
    """Monthly hazard that a returnee leaves home again: ``sigma(c0 + cV v + cP gap+ + cH h)``."""
    return expit(
        r.intercept + r.violence * violence + r.poverty * np.maximum(poverty_gap, 0.0) + r.property_loss * property_loss
    )
