"""The decision kernels against a table of hand-computed cases, and their monotonicity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from returnsim import decision
from returnsim.scenario import Decision, Hope, Property, Redisplacement, Security

B = Decision(
    intercept=-4.0,
    pressure=1.0,
    livelihood=2.0,
    detention_risk=20.0,
    violence=3.0,
    conscription=1.0,
    property_loss=1.0,
    network=2.0,
    attachment=1.5,
    integration=1.5,
    feasibility_slope=1.5,
)


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# (inputs, expected utility) — each row changes one term from the all-zero household
UTILITY_CASES = [
    ({}, -4.0),
    ({"pressure": 0.5}, -3.5),
    ({"livelihood_gap": -0.25}, -4.5),
    ({"perceived_risk": 0.05}, -5.0),
    ({"violence": 0.5}, -5.5),
    ({"conscription": 1.0}, -5.0),
    ({"property_loss": 1.0}, -5.0),
    ({"network": 0.5}, -3.0),
    ({"attachment": 1.0}, -2.5),
    ({"integration": 1.0}, -5.5),
    ({"pressure": 1.0, "attachment": 1.0, "perceived_risk": 0.1, "network": 1.0}, -4.0 + 1 + 1.5 - 2 + 2),
]


@pytest.mark.parametrize(("inputs", "utility"), UTILITY_CASES)
def test_utility_table(inputs, utility):
    x = decision.ReturnInputs.single(**inputs)
    assert decision.return_utility(x, B)[0] == pytest.approx(utility)
    assert decision.intention_hazard(x, B)[0] == pytest.approx(sigmoid(utility))


def test_the_fall_of_the_government_adds_its_weight_to_the_utility_and_the_hope_and_nothing_while_it_rules():
    b = Decision(intercept=-4.0, regime=3.0)
    h = Hope(intercept=0.0, regime=2.0)
    utility = {r: decision.return_utility(decision.ReturnInputs.single(regime=r), b)[0] for r in (1.0, 0.5, 0.0)}
    assert utility == pytest.approx({1.0: -4.0, 0.5: -2.5, 0.0: -1.0})
    assert decision.return_utility(decision.ReturnInputs.single(), b)[0] == -4.0  # in power unless told otherwise
    hope = {r: decision.hope(decision.HopeInputs(regime=np.array([r])), h)[0] for r in (1.0, 0.0)}
    assert hope == pytest.approx({1.0: 0.5, 0.0: sigmoid(2.0)})


@pytest.mark.parametrize(
    ("savings", "cost", "border", "expected"),
    [(2.0, 2.0, 1.0, 0.5), (4.0, 2.0, 1.0, sigmoid(3.0)), (0.0, 2.0, 1.0, sigmoid(-3.0)), (9.0, 0.0, 0.0, 0.0)],
)
def test_feasibility_table(savings, cost, border, expected):
    assert decision.feasibility(savings, cost, border, 1.5) == pytest.approx(expected)


def test_return_probability_is_intention_times_feasibility():
    x = decision.ReturnInputs.single(pressure=0.4, savings=1.0, return_cost=3.0)
    expected = sigmoid(-4.0 + 0.4) * sigmoid(1.5 * (1.0 - 3.0))
    assert decision.return_probability(x, B)[0] == pytest.approx(expected)


@pytest.mark.parametrize(("border", "savings"), [(1.0, 0.0), (0.5, 0.0), (0.0, 0.0), (1.0, 9.0)])
def test_an_unplanned_return_needs_the_border_open_not_savings(border, savings):
    b = Decision(intercept=-4.0, feasibility_slope=1.5, unplanned_rate=0.01)
    x = decision.ReturnInputs.single(pressure=0.4, savings=savings, return_cost=3.0, border_open=border)
    planned = sigmoid(-4.0 + 0.4) * sigmoid(1.5 * (savings - 3.0))
    assert decision.return_probability(x, b)[0] == pytest.approx(border * (1 - (1 - planned) * (1 - 0.01)))
    assert decision.return_probability(x, b)[0] >= 0.01 * border  # whatever the savings


@pytest.mark.parametrize(("poor", "expected_kept"), [(0.0, 0.99), (1.0, 0.99 * 0.8)])
def test_poverty_adds_its_own_chance_of_an_unplanned_return(poor, expected_kept):
    b = Decision(intercept=-4.0, feasibility_slope=1.5, unplanned_rate=0.01, distress_rate=0.2)
    x = decision.ReturnInputs.single(savings=1.0, return_cost=3.0, poor=poor)
    planned = sigmoid(-4.0) * sigmoid(1.5 * (1.0 - 3.0))
    assert decision.return_probability(x, b)[0] == pytest.approx(1 - (1 - planned) * expected_kept)


@pytest.mark.parametrize("savings", [0.0, 3.0, 9.0])
def test_an_unplanned_return_from_a_host_without_a_land_border_needs_the_fare(savings):
    b = Decision(intercept=-4.0, feasibility_slope=1.5, distress_rate=0.2)
    common = {"savings": savings, "return_cost": 3.0, "poor": 1.0, "border_open": 0.5}
    by_land = decision.return_probability(decision.ReturnInputs.single(**common), b)[0]
    by_air = decision.return_probability(decision.ReturnInputs.single(overland=0.0, **common), b)[0]
    fare = 0.5 * sigmoid(1.5 * (savings - 3.0))
    planned = sigmoid(-4.0) * fare
    assert by_land == pytest.approx(planned * 0.8 + 0.2 * 0.5)
    assert by_air == pytest.approx(planned * 0.8 + 0.2 * fare)
    assert by_air < by_land


def test_intend_within_twelve_months():
    assert decision.intend_within(0.0) == 0.0
    assert decision.intend_within(1.0) == 1.0
    assert decision.intend_within(0.01) == pytest.approx(1 - 0.99**12)


def test_detention_probability_multiplies_profile_and_caps_at_one():
    s = Security(military_age_multiplier=2.0, political_exposure_multiplier=3.0, forced_return_multiplier=2.0)
    p = decision.detention_probability(
        np.array([0.01, 0.01, 0.01, 0.01, 0.2]),
        np.array([False, True, True, True, True]),
        np.array([False, False, True, True, True]),
        np.array([False, False, False, True, True]),
        s,
    )
    np.testing.assert_allclose(p, [0.01, 0.02, 0.06, 0.12, 1.0])


def test_property_loss_score_by_status():
    p = Property(loss_damaged=0.3, loss_destroyed=1.0, loss_occupied=0.8, loss_confiscated=0.9)
    np.testing.assert_allclose(decision.property_loss_score(np.arange(5), p), [0, 0.3, 1.0, 0.8, 0.9])


def test_integration_grows_towards_host_level():
    g = decision.integration(np.array([0, 60, 6000]), 0.5, 60.0)
    np.testing.assert_allclose(g, [0.0, 0.5 * (1 - math.exp(-1)), 0.5], rtol=1e-6)


def test_redisplacement_hazard_counts_only_poverty_below_the_line():
    r = Redisplacement(intercept=-3.0, violence=1.0, poverty=2.0, property_loss=1.0)
    rich = decision.redisplacement_hazard(0.0, -0.5, 0.0, r)
    assert rich == pytest.approx(sigmoid(-3.0))
    assert decision.redisplacement_hazard(0.0, 0.5, 0.0, r) == pytest.approx(sigmoid(-2.0))


unit = st.floats(0.0, 1.0, allow_nan=False)


@given(risk=unit, extra=st.floats(0.0, 1.0), others=st.lists(unit, min_size=6, max_size=6), u=unit)
def test_more_risk_never_raises_return_with_common_random_numbers(risk, extra, others, u):
    pressure, gap, violence, network, attachment, savings = others
    common = dict(
        pressure=pressure,
        livelihood_gap=gap - 0.5,
        violence=violence,
        network=network,
        attachment=attachment,
        savings=3 * savings,
        return_cost=1.0,
    )
    low = decision.return_probability(decision.ReturnInputs.single(perceived_risk=risk, **common), B)[0]
    high = decision.return_probability(decision.ReturnInputs.single(perceived_risk=risk + extra, **common), B)[0]
    assert high <= low
    assert (u < high) <= (u < low)  # with the same uniform draw, a returner under high risk returns under low


@given(x=st.floats(-1.0, 1.0), d=st.floats(0.0, 1.0))
def test_livelihood_at_origin_and_pressure_push_towards_return(x, d):
    base = decision.return_probability(decision.ReturnInputs.single(livelihood_gap=x, pressure=0.2), B)[0]
    richer = decision.return_probability(decision.ReturnInputs.single(livelihood_gap=x + d, pressure=0.2), B)[0]
    pushed = decision.return_probability(decision.ReturnInputs.single(livelihood_gap=x, pressure=0.2 + d), B)[0]
    assert richer >= base and pushed >= base
