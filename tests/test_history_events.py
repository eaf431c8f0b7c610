"""The policy language that states history: one toy-world test per new event type, dates to the day, and the
households that stay until an event displaces or registers them."""

from __future__ import annotations

import numpy as np
import pytest

from returnsim.geography import Geography
from returnsim.levers import coverage, levers_at
from returnsim.population import Status
from returnsim.scenario import ScenarioError
from returnsim.simulation import Simulation

LIVELY = {"decision.intercept": -2.0, "population.savings_mean": 1.0}
ALPHA, BETA, NORTH, SOUTH = 0, 1, 2, 3


@pytest.fixture
def world(toy):
    return lambda *events, **changes: toy(**{**LIVELY, **changes, "events": list(events)})


def levers(s, months):
    g = Geography.from_scenario(s)
    return [levers_at(s, g, t) for t in range(months)]


def run(scenario, months=12):
    sim = Simulation(scenario)
    for _ in range(months):
        sim.step()
    return sim


# --------------------------------------------------------------------------------------- dates to the day


def test_an_event_dated_to_the_day_acts_pro_rata_in_its_first_and_last_month(world):
    event = {"type": "host_pressure", "host": "alpha", "month": "2020-01-16", "end": "2020-03-10", "level": 0.9}
    s = world(event)
    jan, feb, mar, apr = (float(lv.host_pressure[ALPHA]) for lv in levers(s, 4))
    assert jan == pytest.approx(0.3 + (16 / 31) * 0.6)  # 16 of January's 31 days
    assert feb == 0.9
    assert mar == pytest.approx(0.3 + (10 / 31) * 0.6)
    assert apr == 0.3
    assert coverage(s.events[0], "2020-01", 0) == pytest.approx(16 / 31)


def test_a_change_of_control_dated_to_the_day_acts_in_the_month_it_covers_most(world):
    late = {"type": "control_change", "region": "south", "controller": "gov", "month": "2020-01-20"}
    early = {"type": "control_change", "region": "south", "controller": "gov", "month": "2020-01-10"}
    assert [int(lv.controller[1]) for lv in levers(world(late), 2)] == [1, 0]
    assert [int(lv.controller[1]) for lv in levers(world(early), 2)] == [0, 0]


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2020-02-30", 'toy: events[0].month = "2020-02-30": 2020-02 has no day 30'),
        (
            "2020-1-05",
            'toy: events[0].month = "2020-1-05": must be a month YYYY-MM or a day YYYY-MM-DD, e.g. 2019-07 '
            "or 2019-07-15",
        ),
    ],
)
def test_bad_days_are_located_errors(world, month, message):
    with pytest.raises(ScenarioError) as err:
        world({"type": "host_pressure", "host": "alpha", "month": month, "level": 0.9})
    assert message in err.value.problems


def test_persons_are_spread_over_the_window_day_by_day(world):
    event = {"type": "deregistration", "host": "alpha", "month": "2020-01-16", "end": "2020-02-29", "persons": 1000}
    moves = [sum(m.persons for m in lv.deregistrations) for lv in levers(world(event), 3)]
    assert moves == pytest.approx([1000 * 16 / 45, 1000 * 29 / 45, 0.0])


# ------------------------------------------------------------------------------------- levers of the regime


def test_controller_policy_moves_a_controllers_practice_over_its_ramp(world):
    event = {
        "type": "controller_policy",
        "controllers": ["gov"],
        "month": "2020-02",
        "detention_on_return": 0.105,
        "conscription": False,
        "ramp_months": 2,
    }
    steps = levers(world(event, **{"controllers.gov.detention_on_return": 0.005}), 4)
    assert [round(float(lv.detention_on_return[0]), 4) for lv in steps] == [0.005, 0.055, 0.105, 0.105]
    assert [float(lv.conscription[0]) for lv in steps] == [1.0, 0.5, 0.0, 0.0]
    assert all(float(lv.detention_on_return[1]) == 0.005 for lv in steps)  # rebels untouched


def test_authority_change_takes_every_region_of_a_controller(world):
    event = {"type": "authority_change", "controller": "gov", "from_controllers": ["rebels"], "month": "2020-02"}
    assert [lv.controller.tolist() for lv in levers(world(event), 2)] == [[0, 1], [0, 0]]
    with pytest.raises(ScenarioError, match="give regions or from_controllers"):
        world({"type": "authority_change", "controller": "gov", "month": "2020-02"})


def test_idp_conditions_set_the_levers_of_the_displaced_inside(world):
    event = {"type": "idp_conditions", "month": "2020-02", "months": 1, "return_cost": 2.0, "pressure": 0.1}
    steps = levers(world(event), 3)
    assert [lv.idp_return_cost for lv in steps] == [0.5, 2.0, 0.5]
    assert [lv.idp_pressure for lv in steps] == [0.3, 0.1, 0.3]


def test_national_economy_lowers_the_livelihood_target_and_then_livelihoods(world):
    event = {"type": "national_economy", "month": "2020-01", "national": 0.2, "sanctions_penalty": 0.5}
    before, after = run(world(), 12), run(world(event), 12)
    assert after.series["origin_livelihood_mean"][-1] < before.series["origin_livelihood_mean"][-1] - 0.05
    assert levers(world(event), 1)[0].sanctions_penalty == 0.5


def test_host_economy_lowers_earnings_in_that_host_only(world):
    event = {"type": "host_economy", "host": "alpha", "month": "2020-01", "change": -0.3}
    lv = levers(world(event), 1)[0]
    assert lv.host_livelihood.tolist() == pytest.approx([0.2, 0.5])


def test_a_border_closed_with_some_capacity_lets_that_share_through(world):
    """Returns from alpha fall to about the capacity's share; from beta, unchanged (common random numbers)."""
    closed = {"type": "border_closure", "host": "alpha", "month": "2020-01", "capacity": 0.3}
    base, limited = run(world(), 12), run(world(closed), 12)
    a0, a1 = base.series["returns_voluntary_alpha"], limited.series["returns_voluntary_alpha"]
    assert 0.15 < sum(a1) / sum(a0) < 0.5
    assert sum(limited.series["returns_voluntary_beta"]) == pytest.approx(
        sum(base.series["returns_voluntary_beta"]), rel=0.15
    )


# ------------------------------------------------------------------------------------ people who move


def test_new_displacement_moves_people_who_had_stayed(world):
    event = {
        "type": "new_displacement",
        "region": "south",
        "month": "2020-03",
        "months": 2,
        "persons": 900,
        "destinations": {"north": 1.0},
    }
    s = world(event, **{"decision.intercept": -30.0})
    sim = Simulation(s)
    pop = sim.state.pop
    stayers = np.flatnonzero(pop.status == Status.STAYER)
    assert len(stayers) > 0 and (pop.origin[stayers] == 1).all()
    assert (pop.location[stayers] == SOUTH).all()
    idps0 = None
    for _ in range(5):
        sim.step()
        idps0 = idps0 if idps0 is not None else sim.series["idps"][0]
    moved = sim.series["newly_displaced"]
    assert moved[:2] == [0.0, 0.0] and moved[4] == 0.0
    assert sum(moved) == pytest.approx(900, abs=10)  # within half a household
    assert sim.series["idps"][-1] == pytest.approx(idps0 + sum(moved), abs=1)
    newly = stayers[pop.status[stayers] == Status.DISPLACED]
    assert (pop.location[newly] == NORTH).all() and (pop.months_displaced[newly] <= 3).all()


def test_stayers_do_not_change_the_households_before_them(toy):
    """Adding a new displacement adds households after the others: the first rows and their ties are the same."""
    plain = Simulation(toy())
    more = Simulation(
        toy(
            events=[
                {
                    "type": "new_displacement",
                    "region": "north",
                    "month": "2020-06",
                    "persons": 500,
                    "destinations": {"alpha": 1.0},
                }
            ]
        )
    )
    n = len(plain.state.pop)
    assert len(more.state.pop) > n
    for name, column in plain.state.pop.columns().items():
        np.testing.assert_array_equal(column, getattr(more.state.pop, name)[:n], err_msg=name)
    np.testing.assert_array_equal(plain.state.ties.out, more.state.ties.out[:n])


def test_registration_adds_registered_refugees_by_origin(world):
    event = {"type": "registration", "host": "beta", "month": "2020-01", "months": 3, "persons": 600}
    sim = Simulation(world(event, **{"decision.intercept": -30.0}))
    first_stayer = int(np.count_nonzero(sim.state.pop.status != Status.STAYER))  # stayers come after the others
    for _ in range(4):
        sim.step()
    assert sum(sim.series["registered_arrivals"]) == pytest.approx(600, abs=10)
    gain = sim.series["refugees_beta"][-1] - run(world(**{"decision.intercept": -30.0}), 4).series["refugees_beta"][-1]
    assert gain == pytest.approx(sum(sim.series["registered_arrivals"]), abs=5)
    pop = sim.state.pop
    late = np.flatnonzero(pop.status[first_stayer:] == Status.DISPLACED) + first_stayer
    assert len(late) and (pop.location[late] == BETA).all() and pop.registered[late].all()
    assert (pop.origin[late] == 1).all()  # beta's origin shares: south only
    # registered late, not newly displaced: their months displaced are years, like the others'
    assert pop.months_displaced[late].min() >= sim.params.population.months_displaced_min


def test_deregistration_takes_people_off_a_hosts_register(world):
    event = {"type": "deregistration", "host": "alpha", "month": "2020-02", "persons": 500}
    sim = run(world(event, **{"decision.intercept": -30.0}), 3)
    assert sim.series["deregistered"][:3] == pytest.approx([0.0, 500.0, 0.0], abs=5)
    pop = sim.state.pop
    assert ((pop.status == Status.DEPARTED) == (sim.series["deregistered"][1] > 0)).any()
    start, end = sim.series["refugees_alpha"][0], sim.series["refugees_alpha"][-1]
    assert start - end == pytest.approx(sim.series["deregistered"][1], abs=5)


def test_housing_destruction_destroys_standing_homes_once(world):
    event = {"type": "housing_destruction", "regions": ["north"], "month": "2020-02", "destroyed_share": 0.5}
    base, hit = run(world(), 3), run(world(event), 3)
    assert hit.series["homes_destroyed"][1] > 0 and hit.series["homes_destroyed"][2] == 0
    north = hit.state.pop.origin == 0
    destroyed = hit.state.pop.property == 2
    before = base.state.pop.property == 2
    assert destroyed[north].mean() > before[north].mean() + 0.3
    assert (destroyed[~north] == before[~north]).all()


def test_persons_are_conserved_with_every_new_event(world):
    events = [
        {
            "type": "new_displacement",
            "region": "south",
            "month": "2020-02",
            "persons": 400,
            "destinations": {"north": 1.0, "alpha": 1.0},
        },
        {"type": "registration", "host": "alpha", "month": "2020-03", "persons": 300},
        {"type": "deregistration", "host": "beta", "month": "2020-04", "persons": 200},
        {"type": "housing_destruction", "regions": ["south"], "month": "2020-05", "destroyed_share": 0.2},
    ]
    sim = Simulation(world(*events, **{"population.growth_annual": 0.1}))
    start = sim.state.persons_by_origin()
    for _ in range(8):
        sim.step()
        np.testing.assert_array_equal(sim.state.persons_by_origin(), start + sim.state.births_by_origin)
