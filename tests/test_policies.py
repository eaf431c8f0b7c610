"""One toy-world test per event type: each event does what scenarios/README.md says it does.

The toy world (tests/conftest.py) has two hosts (alpha, beta), two regions (north under ``gov``,
south under ``rebels``) and about 1,500 households; ``LIVELY`` makes returns common enough that
a year shows clear differences. Runs share a seed, so a difference is the event's doing.
"""

from __future__ import annotations

import numpy as np
import pytest

from returnsim.geography import Geography, month_number
from returnsim.levers import levers_at
from returnsim.model import ReturnModel
from returnsim.population import PropertyStatus, Status
from returnsim.scenario import ScenarioError
from returnsim.simulation import Simulation
from returnsim.tables import Tables
from returnsim.transitions import decide

LIVELY = {
    "decision.intercept": -2.0,
    "population.savings_mean": 1.0,
    "controllers.gov.detention_on_return": 0.03,
    "controllers.rebels.detention_on_return": 0.03,
}
ALPHA, BETA, NORTH, SOUTH = 0, 1, 2, 3  # location codes in the toy world


@pytest.fixture
def world(toy):
    """A lively toy scenario with the given events: ``world(event, ..., **{"dotted.key": value})``."""
    return lambda *events, **changes: toy(**{**LIVELY, **changes, "events": list(events)})


class Ran:
    """A finished toy run: its time series and its final state."""

    def __init__(self, scenario, months: int):
        self.sim = Simulation(scenario)
        for _ in range(months):
            self.sim.step()
        self.timeseries = self.sim.result(0.0).timeseries
        self.pop = self.sim.state.pop


@pytest.fixture
def run(world):
    """Run a lively toy scenario with the given events for ``months`` (default 12)."""
    return lambda *events, months=12, **changes: Ran(world(*events, **changes), months)


def levers(scenario, months: int):
    """The levers of the first ``months`` months of a scenario."""
    g = Geography.from_scenario(scenario)
    return [levers_at(scenario, g, t) for t in range(months)]


def total(result, column):
    return float(result.timeseries[column].sum())


# ------------------------------------------------------------------------------ windows


def test_month_number_counts_calendar_months():
    assert month_number("2018-04") - month_number("2017-01") == 15


def test_event_starts_at_its_month_and_reverts_after_its_end(world):
    s = world({"type": "host_pressure", "month": "2020-03", "end": "2020-05", "host": "alpha", "level": 0.95})
    levels = [float(lv.host_pressure[0]) for lv in levers(s, 7)]
    assert levels == [0.3, 0.3, 0.95, 0.95, 0.95, 0.3, 0.3]


def test_overlapping_events_compose_in_file_order(world):
    s = world(
        {"type": "aid_change", "month": "2020-01", "host": "alpha", "change": -0.1},
        {"type": "aid_change", "month": "2020-02", "months": 1, "host": "alpha", "change": -0.1},
    )
    aid = [round(float(lv.host_aid[0]), 6) for lv in levers(s, 3)]
    assert aid == [0.2, 0.1, 0.2]


def test_no_events_leave_the_run_unchanged(run):
    a, b = run(months=6), run(months=6)
    assert a.timeseries.equals(b.timeseries)


# ------------------------------------------------------------------------ one per type


def test_deportation_moves_people_to_the_named_destination(run):
    event = {
        "type": "deportation",
        "month": "2020-02",
        "host": "alpha",
        "rate": 0.1,
        "targeting": "all",
        "destination": "south",
    }
    before, after = run(), run(event)
    assert total(before, "returns_forced") == 0
    assert total(after, "returns_forced") > 1000
    pop = after.pop
    assert pop.forced.any()
    # every deportee from alpha was put down in the south, whatever their origin
    assert set(np.unique(pop.location[pop.forced & (pop.status != Status.REDISPLACED)])) <= {SOUTH}


def test_deportation_targets_only_the_unregistered(run):
    event = {"type": "deportation", "month": "2020-01", "host": "alpha", "rate": 0.5, "targeting": "unregistered"}
    result = run(event, months=3)
    pop = result.pop
    assert pop.forced.any() and not (pop.forced & pop.registered).any()


def test_deportation_quota_deports_about_that_many_persons_a_month(run):
    event = {"type": "deportation", "month": "2020-01", "host": "alpha", "quota": 100, "targeting": "all"}
    forced = run(event, months=6).timeseries["returns_forced"]
    assert 60 < forced.mean() < 140


def test_host_pressure_raises_intentions_and_returns_from_that_host(run):
    event = {"type": "host_pressure", "month": "2020-01", "host": "alpha", "level": 1.0}
    before, after = run(), run(event)
    assert total(after, "intend_return_12m_pct") > total(before, "intend_return_12m_pct")
    assert after.timeseries["refugees_alpha"].iloc[-1] < before.timeseries["refugees_alpha"].iloc[-1]


def test_aid_cut_lowers_host_livelihood_and_raises_intentions(run):
    event = {"type": "aid_change", "month": "2020-01", "host": "alpha", "change": -0.3}
    before, after = run(), run(event)
    assert after.sim.levers(0).host_aid[0] == pytest.approx(0.0)
    assert total(after, "intend_return_12m_pct") > total(before, "intend_return_12m_pct")


def test_sanctions_relief_ramps_up_reconstruction_and_lifts_origin_livelihoods(world, run):
    event = {"type": "sanctions_relief", "month": "2020-01", "reconstruction_aid": 0.6, "ramp_months": 3}
    steps = levers(world(event), 4)
    aid = [round(lv.reconstruction_aid, 6) for lv in steps]
    assert aid == [0.2, 0.4, 0.6, 0.6] and steps[-1].sanctions == 0.0
    before, after = run(), run(event)
    livelihood = [r.timeseries["origin_livelihood_mean"].iloc[-1] for r in (before, after)]
    assert livelihood[1] > livelihood[0] + 0.1


def test_amnesty_lowers_detentions(run):
    event = {"type": "amnesty", "month": "2020-01", "profiles": ["all"], "detention_factor": 0.1}
    before, after = run(months=24), run(event, months=24)
    assert total(before, "detained") > 20
    assert total(after, "detained") < 0.5 * total(before, "detained")


def test_security_guarantee_covers_only_the_profiles_it_names(world):
    event = {
        "type": "security_guarantee",
        "month": "2020-01",
        "profiles": ["politically_exposed"],
        "detention_factor": 0.2,
        "controllers": ["gov"],
        "credibility": 1.0,
    }
    base, m = ReturnModel(world(), agents=False), ReturnModel(world(event), agents=False)
    before_risk = m.population.perceived_risk.copy()
    base.step()
    m.step()
    pop = m.population
    ratio = true_risk(m) / true_risk(base)
    gov = pop.origin == 0
    assert np.allclose(ratio[gov & pop.exposed], 0.2)
    assert np.allclose(ratio[~(gov & pop.exposed)], 1.0)
    # believed at once (credibility 1) by the covered displaced households only
    moved = pop.perceived_risk < 0.5 * before_risk
    assert moved.any() and not (moved & ~(gov & pop.exposed)).any()


def true_risk(model) -> np.ndarray:
    """Detention risk on arrival at home for each row's profile, under the levers of the month just simulated."""
    from returnsim.transitions.security import risk_by_key

    sim = model.sim
    table = risk_by_key(sim.levers(sim.t - 1), sim.params, sim.levers().detention_on_return, sim.geo.n_regions)
    return table[sim.state.risk_key]


def decision_inputs(model):
    sim = model.sim
    tab = Tables.build(sim.params, sim.geo, sim.levers(), sim.state.livelihood)
    return decide.inputs(sim.state, tab, sim.params)


def test_conscription_off_removes_it_from_decisions(world):
    event = {"type": "conscription", "month": "2020-01", "enforced": False}
    m = ReturnModel(world(event), agents=False)
    m.step()
    rows = m.sim.state.displaced()
    assert not decision_inputs(m).conscription[rows].any()
    before = ReturnModel(world(), agents=False)
    before.step()
    assert before.sim.state.displaced().any() and decision_inputs(before).conscription[rows].any()


def test_property_confiscation_starts_after_the_claim_window(run):
    event = {"type": "property_confiscation", "month": "2020-01", "hazard": 0.2, "claim_window_months": 3}
    confiscated = run(event, months=6).timeseries["properties_confiscated"]
    assert list(confiscated[:3]) == [0, 0, 0]
    assert confiscated.iloc[-1] > 100


def test_property_restitution_returns_property_and_repeals_confiscation(run):
    law = {"type": "property_confiscation", "month": "2020-01", "hazard": 0.3, "claim_window_months": 0}
    restitution = {"type": "property_restitution", "month": "2020-04", "monthly": 0.2}
    without, with_ = run(law), run(law, restitution)
    lost = PropertyStatus.CONFISCATED
    assert (with_.pop.property == lost).sum() < 0.2 * (without.pop.property == lost).sum()
    ts = with_.timeseries
    assert ts["properties_restituted"].iloc[3:].sum() > 0
    assert ts["properties_confiscated"].iloc[-1] == ts["properties_confiscated"].iloc[3]  # no new confiscations


def test_control_change_hands_a_region_to_another_controller_and_back(world):
    event = {"type": "control_change", "month": "2020-02", "months": 2, "region": "south", "controller": "gov"}
    controllers = [int(lv.controller[1]) for lv in levers(world(event), 4)]
    assert controllers == [1, 0, 0, 1]


def test_border_closure_stops_voluntary_returns_from_that_host(run):
    event = {"type": "border_closure", "month": "2020-01", "host": "alpha"}
    before, after = run(), run(event)
    assert before.timeseries["refugees_alpha"].iloc[-1] < before.timeseries["refugees_alpha"].iloc[0]
    assert after.timeseries["refugees_alpha"].diff().iloc[1:].eq(0).all()


def test_host_conflict_shock_raises_departures_from_that_host(run):
    event = {"type": "host_conflict_shock", "month": "2020-01", "months": 3, "host": "alpha", "violence": 0.8}
    before, after = run(), run(event)
    left = [r.timeseries["refugees_alpha"].iloc[0] - r.timeseries["refugees_alpha"].iloc[3] for r in (before, after)]
    assert left[1] > 3 * left[0]
    # beta is not at war: its refugees leave at the usual pace
    beta = [r.timeseries["refugees_beta"].iloc[3] for r in (before, after)]
    assert beta[1] == pytest.approx(beta[0], rel=0.1)


def test_refugees_flee_a_war_without_the_savings_a_planned_journey_needs(run):
    """The cost of the journey falls with violence in the host: at violence 1 nobody needs savings to leave."""
    event = {"type": "host_conflict_shock", "month": "2020-01", "months": 3, "host": "alpha", "violence": 1.0}
    dear = {"hosts.alpha.return_cost": 1000.0}  # no household can pay this
    before, after = run(**dear), run(event, **dear)
    assert total(before, "returns_voluntary_alpha") == 0
    assert total(after, "returns_voluntary_alpha") > 0.05 * before.timeseries["refugees_alpha"].iloc[0]


def test_return_package_lowers_the_cost_of_return_and_raises_returns(world, run):
    event = {"type": "return_package", "month": "2020-01", "host": "alpha", "subsidy": 3.0}
    assert levers(world(event), 1)[0].host_return_cost[0] == 0.0
    assert total(run(event), "returns_voluntary_refugees") > 2 * total(run(), "returns_voluntary_refugees")


def test_conflict_displacement_moves_residents_and_redisplaces_returnees(world):
    event = {
        "type": "conflict_displacement",
        "month": "2020-07",
        "region": "south",
        "share": 0.6,
        "destinations": {"north": 1.0, "beta": 1.0},
    }
    s = world(event)
    m = ReturnModel(s, agents=False)
    for _ in range(6):
        m.step()
    pop = m.population
    residents = np.flatnonzero((pop.location == SOUTH) & (pop.status != Status.DETAINED))
    returnees = residents[pop.status[residents] == Status.RETURNED]
    assert len(returnees) > 10
    m.step()
    moved = residents[pop.location[residents] != SOUTH]
    assert 0.5 < len(moved) / len(residents) < 0.7
    assert set(np.unique(pop.location[moved])) == {BETA, NORTH}
    now = pop.status[returnees]
    assert ((now == Status.REDISPLACED) | (pop.location[returnees] == SOUTH) | (pop.origin[returnees] == 0)).all()
    # (a few residents also left of their own accord that month)
    assert 0.8 < m.indicators["displaced_by_conflict"] / float(pop.persons[moved].sum()) <= 1.0


def test_conflict_displacement_by_persons_over_several_months(run):
    event = {
        "type": "conflict_displacement",
        "month": "2020-01",
        "months": 4,
        "region": "south",
        "persons": 800,
        "destinations": {"north": 1.0},
    }
    moved = run(event, months=6).timeseries["displaced_by_conflict"]
    assert moved.iloc[4:].sum() == 0
    assert 600 < moved.sum() < 1000


def test_population_growth_adds_persons_to_displaced_households(run):
    grown = run(months=12, **{"population.growth_annual": 0.1, "decision.intercept": -30.0})
    still = run(months=12, **{"decision.intercept": -30.0})
    first = grown.timeseries["refugees"].iloc[0]
    assert still.timeseries["refugees"].iloc[-1] == pytest.approx(first, rel=0.01)
    assert grown.timeseries["refugees"].iloc[-1] / first == pytest.approx(1.1, abs=0.03)


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"type": "deportation", "month": "2020-01", "host": "alpha", "rate_typo": 0.1},
            "toy: events[0].rate_typo: unknown key (did you mean 'rate'?)",
        ),
        (
            {"type": "deportaton", "month": "2020-01"},
            "toy: events[0].type = \"deportaton\": unknown event type (did you mean 'deportation'?)",
        ),
        ({"type": "regime_change", "month": "2020-01"}, "toy: events[0].regime: required key is missing"),
        (
            {"type": "regime_change", "month": "2020-01", "regime": 1.5},
            "toy: events[0].regime = 1.5: must be between 0 and 1",
        ),
        (
            {"type": "deportation", "month": "2020-01", "host": "alpha"},
            "toy: events[0]: give exactly one of rate or quota",
        ),
        (
            {"type": "host_pressure", "month": "2020-01", "host": "alfa", "level": 0.5},
            "toy: events[0].host: \"alfa\" is not a known host (did you mean 'alpha'?)",
        ),
        (
            {"type": "host_pressure", "month": "2020-01", "host": "alpha", "level": 1.5},
            "toy: events[0].level = 1.5: must be between 0 and 1",
        ),
        (
            {"type": "border_closure", "month": "2020-03", "end": "2020-01", "host": "alpha"},
            "toy: events[0]: end 2020-01 is before month 2020-03",
        ),
        (
            {"type": "amnesty", "month": "2020-01", "profiles": ["men"]},
            "toy: events[0].profiles[0] = \"men\": must be one of 'all', 'military_age_men', 'politically_exposed' "
            "or 'others'",
        ),
        (
            {
                "type": "conflict_displacement",
                "month": "2020-01",
                "region": "south",
                "share": 0.1,
                "destinations": {"south": 1.0},
            },
            'toy: events[0].destinations.south: "south" is not a known destination (another region or a host)',
        ),
    ],
)
def test_bad_events_are_located_errors(event, message, toy):
    with pytest.raises(ScenarioError) as err:
        toy(events=[event])
    assert err.value.problems[0].startswith(message)
