"""The monthly step: conservation of people, determinism, agent handles, mechanism directions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returnsim import ReturnModel, load_scenario, run
from returnsim.agents import Household
from returnsim.population import PropertyStatus, Status
from returnsim.tables import Tables
from returnsim.transitions import decide


def test_people_are_conserved_every_month_per_origin(toy):
    s = toy(
        **{
            "hosts.alpha.deportation_rate": 0.05,
            "hosts.alpha.deportation_targeting": "all",
            "controllers.gov.detention_on_return": 0.2,
            "security.release_monthly": 0.2,
            "redisplacement.intercept": -2.0,
            "decision.intercept": -1.0,
            "population.growth_annual": 0.2,
        }
    )
    m = ReturnModel(s, seed=5)
    start = m.state.persons_by_origin()
    pop = m.population
    seen = set()
    for _ in range(24):
        m.step()
        displaced = m.state.displaced()
        returned = pop.status == Status.RETURNED
        emptied = pop.status == Status.DETAINED
        assert not (displaced & returned).any()
        assert (displaced | returned | emptied).all()
        assert (pop.size[emptied] == 0).all() and (pop.size[~emptied] > 0).all()
        # displaced + returned + detained persons add up to the initial total (plus births) for every origin
        total = sum(
            np.bincount(pop.origin[mask], weights=pop.persons[mask], minlength=2) for mask in (displaced, returned)
        )
        total += np.bincount(pop.origin, weights=pop.persons_detained, minlength=2)
        np.testing.assert_array_equal(total, start + m.state.births_by_origin)
        # returnees live in their origin region; displaced people do not
        assert (pop.location[returned] == pop.origin[returned] + m.geography.n_hosts).all()
        assert (pop.location[displaced] != pop.origin[displaced] + m.geography.n_hosts).all()
        seen.update(np.unique(pop.status).tolist())
    assert seen == {Status.DISPLACED, Status.RETURNED, Status.DETAINED, Status.REDISPLACED}
    assert m.state.births_by_origin.sum() > 0
    assert (pop.detained[pop.status == Status.RETURNED] > 0).any()  # families at home with a member held


def test_totals_in_timeseries_add_up(toy):
    df = run(toy(**{"controllers.gov.detention_on_return": 0.1, "population.growth_annual": 0.1}), seed=2, months=18)
    total = df["refugees"] + df["idps"] + df["returnees"] + df["detained_stock"]
    assert (total.diff().iloc[1:] == df["births"].iloc[1:]).all()
    assert df["births"].sum() > 0
    hosts = df["refugees_alpha"] + df["refugees_beta"]
    assert (hosts == df["refugees"]).all()
    assert (df["returns_voluntary"] == df["returns_voluntary_refugees"] + df["returns_voluntary_idps"]).all()
    to = df[[c for c in df.columns if c.startswith("returns_voluntary_to_")]]
    assert to.shape[1] == 2 and (to.sum(axis=1) == df["returns_voluntary_refugees"]).all()
    for h in ("alpha", "beta"):  # by host and region: each host's returns, and each region's over the hosts
        pairs = df[[f"returns_voluntary_{h}_to_{r}" for r in ("north", "south")]]
        assert (pairs.sum(axis=1) == df[f"returns_voluntary_{h}"]).all()
    for r in ("north", "south"):
        pairs = df[[f"returns_voluntary_{h}_to_{r}" for h in ("alpha", "beta")]]
        assert (pairs.sum(axis=1) == df[f"returns_voluntary_to_{r}"]).all()


def test_same_seed_same_output_and_different_seed_differs():
    a = run("baseline", seed=11, months=12, households_per_agent=500)
    b = run("baseline", seed=11, months=12, households_per_agent=500)
    c = run("baseline", seed=12, months=12, households_per_agent=500)
    assert a.equals(b)
    assert not a.equals(c)


def test_seed_defaults_to_the_scenarios(toy):
    s = toy()
    assert ReturnModel(s).seed == s.simulation.seed
    assert run(s, months=3).equals(run(s, seed=s.simulation.seed, months=3))


def test_households_per_agent_scales_rows_not_persons():
    s = load_scenario("baseline")
    small = ReturnModel(s, seed=1, households_per_agent=1000, agents=False)
    large = ReturnModel(s, seed=1, households_per_agent=100, agents=False)
    assert len(large.population) == pytest.approx(10 * len(small.population), rel=0.01)

    def followed(m):  # displaced at the start (not the households events will displace later)
        pop = m.population
        return pop.persons[pop.status != Status.STAYER].sum()

    assert followed(large) == pytest.approx(followed(small), rel=0.02)
    observed = 2_700_000 + 1_000_000 + 655_675 + 228_894 + 115_204 + 850_000 + 6_300_000
    assert followed(large) == pytest.approx(observed, rel=0.01)


def test_household_agents_are_handles_on_their_rows(toy):
    m = ReturnModel(toy(), seed=1)
    agents = list(m.agents)
    assert len(agents) == len(m.population)
    assert all(isinstance(a, Household) for a in agents)
    a = agents[7]
    assert a.row == 7
    assert a.origin == m.population.origin[7]
    assert a.origin_name in ("north", "south")
    a.savings = 5.5
    assert m.population.savings[7] == pytest.approx(5.5)
    rows = np.arange(len(m.population))
    np.testing.assert_allclose([x.return_probability() for x in agents[:20]], m.return_probabilities(rows)[:20])
    # the probability of returning (hope x intention x feasibility), not the intention hazard alone
    sim = m.sim
    tab = Tables.build(sim.params, sim.geo, sim.levers(), sim.state.livelihood)
    _, q, p = decide.hazards(sim.state, tab, sim.params)
    np.testing.assert_allclose(m.return_probabilities(rows), p)
    assert (p < q).any()
    assert a.status_name == "displaced" and a.property_name in {p.name.lower() for p in PropertyStatus}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    pressure=st.floats(0.0, 1.0),
    targeting=st.sampled_from(["all", "unregistered", "military_age_men", "single_men"]),
    other_rate=st.floats(0.0, 1.0),
)
def test_zero_deportation_rate_means_zero_forced_returns(toy, seed, pressure, targeting, other_rate):
    """Whatever else holds, a host with deportation rate 0 deports nobody; the other host's rate is its own."""
    s = toy(
        **{
            "hosts.alpha.deportation_rate": 0.0,
            "hosts.alpha.deportation_targeting": targeting,
            "hosts.alpha.pressure": pressure,
            "hosts.beta.deportation_rate": other_rate,
            "hosts.beta.deportation_targeting": targeting,
        }
    )
    m = ReturnModel(s, seed=seed, agents=False)
    for _ in range(3):
        m.step()
    assert m.sim.departed_forced[0] == 0  # host alpha
    if other_rate == 0.0:
        assert m.sim.departed_forced.sum() == 0


def test_deportation_moves_people_to_the_named_region(toy):
    s = toy(
        **{
            "hosts.alpha.deportation_rate": 0.5,
            "hosts.alpha.deportation_targeting": "all",
            "hosts.alpha.deportation_destination": "south",
            "decision.intercept": -30.0,
        }
    )
    m = ReturnModel(s, seed=1)
    alpha = np.flatnonzero(m.population.location == 0)
    m.step()
    moved = alpha[m.population.location[alpha] != 0]
    assert len(moved) > 0.3 * len(alpha)
    assert (m.population.location[moved] == m.geography.n_hosts + 1).all()  # region "south"
    assert m.population.forced[moved].all()
    from_north = moved[m.population.origin[moved] == 0]
    status = m.population.status[from_north]  # deported to a region not their own: displaced, not returned
    arrested = (status == Status.DETAINED) & (m.population.detained[from_north] > 0)  # (arrest on arrival)
    assert ((status == Status.DISPLACED) | arrested).all() and (status == Status.DISPLACED).any()


def test_confiscation_takes_only_absentee_property(toy):
    s = toy(**{"property.confiscation_hazard": 1.0, "property.claim_success": 0.0})
    m = ReturnModel(s, seed=4)
    m.step()
    pop = m.population
    absent = pop.location != pop.origin + m.geography.n_hosts
    assert (pop.property[absent] >= PropertyStatus.OCCUPIED).all()
    assert m.indicators["properties_confiscated"] > 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(factor=st.floats(1.0, 20.0))
def test_higher_origin_risk_never_raises_voluntary_returns(toy, factor):
    """Common random numbers: same seed, only detention risk differs; month one's returns cannot rise."""
    base = toy(**{"decision.intercept": -2.0})
    risky = base.with_changes(
        {
            "controllers.gov.detention_on_return": min(1.0, base.controllers["gov"].detention_on_return * factor),
            "controllers.rebels.detention_on_return": min(1.0, base.controllers["rebels"].detention_on_return * factor),
        }
    )
    low, high = ReturnModel(base, seed=9), ReturnModel(risky, seed=9)
    p_low = low.return_probabilities(np.arange(len(low.population)))
    p_high = high.return_probabilities(np.arange(len(high.population)))
    assert (p_high <= p_low + 1e-12).all()
    low.step()
    high.step()
    assert high.indicators["returns_voluntary"] <= low.indicators["returns_voluntary"]


def test_sanctions_relief_raises_origin_livelihood(toy):
    with_sanctions = run(toy(**{"economy.sanctions": True}), seed=1, months=24)
    s = toy(**{"economy.sanctions": True})
    m = ReturnModel(s, seed=1)
    m.change({"economy.sanctions": False, "economy.reconstruction_aid": 0.5})
    for _ in range(24):
        m.step()
    assert m.indicators["origin_livelihood_mean"] > with_sanctions["origin_livelihood_mean"].iloc[-1]


def test_news_of_detentions_raises_perceived_risk(toy):
    s = toy(
        **{
            "controllers.gov.detention_on_return": 0.5,
            "controllers.rebels.detention_on_return": 0.5,
            "decision.intercept": 0.0,
            "network.same_origin_share": 1.0,
            "network.media_rate": 0.0,
            "population.initial_risk_bias": 0.05,
        }
    )
    m = ReturnModel(s, seed=3)
    before = m.population.perceived_risk.copy()
    for _ in range(3):
        m.step()
    displaced = m.state.displaced()
    assert m.population.perceived_risk[displaced].mean() > before[displaced].mean()


def test_baseline_volumes_are_realistic():
    """Seven years of baseline: tens of thousands of refugee returns a year, intentions in low single digits."""
    df = run("baseline", seed=1, households_per_agent=200)
    year = df["month"].str[:4]
    whole = year.map(year.value_counts()) == 12  # (the run ends in mid-2024)
    yearly = df[whole].groupby(year[whole])["returns_voluntary_refugees"].sum()
    assert yearly.between(10_000, 250_000).all(), yearly
    assert df["intend_return_12m_pct"].between(0.3, 9.9).all()
    arrested = df["detained_on_arrival"].sum() / (df["returns_voluntary"].sum() + df["returns_forced"].sum())
    assert 0.001 < arrested < 0.05
