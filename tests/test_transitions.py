"""Every transition on tiny hand-built worlds: exact flows and changes, then properties over random worlds.

Each test builds a :class:`~returnsim.state.State` of a handful of households in the toy world of
``tests/conftest.py`` (hosts alpha and beta, regions north under ``gov`` and south under ``rebels``), calls one
transition directly with uniform draws chosen by hand (:class:`Draws`), and checks what it returns against
numbers worked out from docs/ODD.md sections 3 and 7. The hypothesis tests at the end run every transition
over random small worlds with real random streams: persons are conserved by every transition, origin by
origin; a zero rate moves nobody; more risk never means more returns, and so on.
"""

from __future__ import annotations

import math
from copy import deepcopy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from returnsim import decision, reporters
from returnsim.flows import Flows
from returnsim.geography import Geography, month_label
from returnsim.levers import ORIGIN, TARGETING, levers_at
from returnsim.network import Ties, codes, count_news
from returnsim.population import NEVER, Population, PropertyStatus, Status
from returnsim.reporters import columns, indicators
from returnsim.scenario import scenario_from_dict
from returnsim.schedule import STAGES
from returnsim.state import State
from returnsim.streams import Draw, Streams
from returnsim.tables import Tables
from returnsim.transitions import decide as decide_module
from returnsim.transitions.decide import decide
from returnsim.transitions.deport import deport, eligible
from returnsim.transitions.information import announce, learn, perceived_risk_update
from returnsim.transitions.livelihoods import economy, livelihood_target, livelihoods, steady_savings
from returnsim.transitions.movements import come_back, deregister, destroy_homes, displace_stayers, pick, register
from returnsim.transitions.property import property_
from returnsim.transitions.redisplace import flee, redisplace
from returnsim.transitions.security import detention_risk, risk_by_key, security


def _toy_dict():
    """``toy_dict`` of tests/conftest.py (a conftest is not importable by name)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_toy_conftest", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.toy_dict


toy_dict = _toy_dict()
ALPHA, BETA, NORTH, SOUTH = 0, 1, 2, 3  # location codes of the toy world
N, S = 0, 1  # region numbers: north (gov), south (rebels)
GOV, REBELS = 0, 1
DISPLACED, RETURNED, DETAINED, REDISPLACED, STAYER, DEPARTED = (int(s) for s in Status)
INTACT, DAMAGED, DESTROYED, OCCUPIED, CONFISCATED = (int(p) for p in PropertyStatus)


def sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# --------------------------------------------------------------------------------------- tiny worlds

DEFAULT_ROW = {
    "location": ALPHA,
    "origin": N,
    "size": 4,
    "military_age_man": False,
    "single_man": False,
    "exposed": False,
    "registered": True,
    "property": INTACT,
    "skill": 1.0,
    "savings": 0.0,
    "months_displaced": 0,
    "perceived_risk": 0.0,
    "info_confidence": 0.5,
    "attachment": 0.0,
    "status": DISPLACED,
    "forced": False,
    "detained": 0,
    "arrived": NEVER,
    "return_due": NEVER,
}
DTYPES = {
    "location": np.int16,
    "origin": np.int16,
    "size": np.int8,
    "military_age_man": bool,
    "single_man": bool,
    "exposed": bool,
    "registered": bool,
    "property": np.int8,
    "skill": np.float32,
    "savings": np.float32,
    "months_displaced": np.int16,
    "perceived_risk": np.float32,
    "info_confidence": np.float32,
    "attachment": np.float32,
    "status": np.int8,
    "forced": bool,
    "detained": np.int8,
    "arrived": np.int16,
    "return_due": np.int16,
}


def scenario(events=(), **changes):
    """The toy scenario with dotted keys changed and these events."""
    return scenario_from_dict(toy_dict(**changes, events=list(events)), source="toy")


def home(origin: int) -> int:
    return 2 + origin


def build(rows, s=None, *, weight: int = 1, t: int = 0, ties=None, livelihood=None, back=None) -> State:
    """A state of the given households (dicts of columns over ``DEFAULT_ROW``; a household at home defaults to
    RETURNED). ``ties``: each row's ties (a list of row lists, all of one length; none by default). The news
    counts start as "nothing heard yet" unless ``back`` gives each row's ties back home."""
    s = s or scenario()
    g = Geography.from_scenario(s)
    filled = []
    for r in rows:
        row = {**DEFAULT_ROW, **r}
        if "status" not in r and row["location"] == home(row["origin"]):
            row["status"] = RETURNED
        filled.append(row)
    pop = Population(**{k: np.array([r[k] for r in filled], DTYPES[k]) for k in DEFAULT_ROW}, weight=weight)
    n = len(pop)
    out = np.zeros((n, 0), np.int32) if ties is None else np.array(ties, np.int32).reshape(n, -1)
    out = np.asfortranarray(out)
    target = out.ravel(order="F")
    order = np.argsort(target, kind="stable")
    in_ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(target, minlength=n), out=in_ptr[1:])
    in_rows = (order % n).astype(np.int32)
    return State(
        geo=g,
        pop=pop,
        ties=Ties(out=out, in_ptr=in_ptr, in_rows=in_rows),
        t=t,
        livelihood=np.array([r.livelihood for r in s.regions.values()]) if livelihood is None else livelihood,
        births_by_origin=np.zeros(g.n_regions),
        confiscated=np.zeros(1),
        news_back=np.zeros(n, np.int8) if back is None else np.array(back, np.int8),
        news_detained=np.zeros(n, np.int8),
        news_code=np.zeros(n, np.uint8),
    )


class Draws:
    """Uniform draws chosen by hand: ``Draws({Draw.RETURN: [0.1, 0.9]})`` gives row 0 the draw 0.1 and row 1
    the draw 0.9 for the return decision. A decision not given draws 0.999 for every row (nothing happens);
    a scalar is every row's draw. Records which decisions were drawn for."""

    def __init__(self, draws=None, default: float = 0.999):
        self.draws = dict(draws or {})
        self.default = default
        self.used: list[Draw] = []

    def _values(self, draw: Draw, n: int) -> np.ndarray:
        self.used.append(draw)
        given = self.draws.get(draw, self.default)
        values = np.broadcast_to(np.asarray(given, np.float32), (n,)) if np.ndim(given) == 0 else given
        return np.asarray(values, np.float32)

    def uniform(self, draw: Draw, month: int, rows, salt: int = 0) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return np.zeros(0, np.float32)
        return self._values(draw, int(rows.max()) + 1)[rows]

    def uniform_all(self, draw: Draw, month: int, n: int, salt: int = 0) -> np.ndarray:
        return self._values(draw, n)[:n]

    def one(self, draw: Draw, month: int, row: int, salt: int = 0) -> float:
        return float(self.uniform(draw, month, [row], salt)[0])


def run(transition, state: State, s, draws: Draws | dict | None = None, t: int | None = None) -> Flows:
    """Call one transition with the levers of month ``state.t`` (or ``t``) and apply its changes."""
    draws = draws if isinstance(draws, Draws) else Draws(draws)
    lv = levers_at(s, state.geo, state.t if t is None else t)
    flows = transition(state, lv, s, draws)
    state.apply(flows.changes)
    return flows


def persons_by_origin(state: State) -> np.ndarray:
    pop = state.pop
    return np.bincount(pop.origin, weights=(pop.size.astype(np.int64) + pop.detained) * pop.weight, minlength=2)


# ------------------------------------------------------------------------------------ 7.1 economy


def test_economy_moves_livelihood_towards_its_target_less_last_months_inflow():
    s = scenario(
        **{
            "regions.north.livelihood": 0.6,
            "regions.south.livelihood": 0.4,
            "economy.adjust_rate": 0.1,
            "economy.strain": 50.0,
        }
    )
    rows = [
        {"location": NORTH, "size": 3, "detained": 1, "arrived": 4},  # arrived last month: 4 persons (1 held)
        {"location": NORTH, "size": 5, "arrived": 5},  # arrives this month: counted next month
        {"location": NORTH, "size": 7, "arrived": 3},
        {"location": SOUTH, "origin": N, "size": 2, "arrived": 4},  # a deportee put down in the south
        {"location": SOUTH, "origin": S, "size": 9, "arrived": 4, "return_due": 4},  # back after weeks: no strain
        {"location": SOUTH, "origin": S, "size": 6, "arrived": 4, "return_due": 3},  # due earlier, came later
        {"location": SOUTH, "origin": S, "size": 5, "arrived": 4, "return_due": 6},  # back before due: no strain
    ]
    st_ = build(rows, s, weight=10, t=5, livelihood=np.array([0.5, 0.3]))
    run(economy, st_, s)
    # L + alpha * (target - L) - strain * inflow / prewar: north 40 persons of 100 000, south 20 + 60 of 80 000
    np.testing.assert_allclose(
        st_.livelihood, [0.5 + 0.1 * 0.1 - 50 * 40 / 100_000, 0.3 + 0.1 * 0.1 - 50 * 80 / 80_000]
    )


def test_economy_target_follows_sanctions_national_output_and_aid():
    relief = {"type": "sanctions_relief", "month": "2020-01", "reconstruction_aid": 0.5, "ramp_months": 0}
    s = scenario(
        [relief], **{"regions.north.livelihood": 0.6, "regions.south.livelihood": 0.4, "economy.aid_effect": 0.4}
    )
    g = Geography.from_scenario(s)
    # without sanctions (penalty 0.2 at the start) and with aid 0.5: L0 / 0.8 + 0.4 * 0.5, at most 1
    np.testing.assert_allclose(livelihood_target(s, levers_at(s, g, 0)), [0.6 / 0.8 + 0.2, 0.4 / 0.8 + 0.2])
    lower = scenario(**{"regions.north.livelihood": 0.6, "economy.national": 0.3})
    assert livelihood_target(lower, levers_at(lower, g, 0))[N] == pytest.approx(0.6)  # the start's own level
    st_ = build([{}], s, livelihood=np.array([0.5, 0.3]))
    run(economy, st_, s)
    np.testing.assert_allclose(st_.livelihood, [0.5 + 0.05 * (0.95 - 0.5), 0.3 + 0.05 * (0.7 - 0.3)])


def test_economy_target_without_sanctions_at_the_start_and_never_above_one():
    s = scenario(**{"economy.sanctions": False, "regions.north.livelihood": 0.6, "economy.national": 0.3})
    g = Geography.from_scenario(s)
    np.testing.assert_allclose(livelihood_target(s, levers_at(s, g, 0)), [0.6, 0.5])
    relief = {"type": "sanctions_relief", "month": "2020-01", "reconstruction_aid": 1.0, "ramp_months": 0}
    rich = scenario([relief], **{"regions.north.livelihood": 0.9, "economy.aid_effect": 0.4})
    np.testing.assert_allclose(livelihood_target(rich, levers_at(rich, g, 0)), [1.0, 1.0])  # 1.525 and 1.025


def test_economy_keeps_livelihood_between_the_floor_and_one():
    s = scenario(**{"economy.strain": 1000.0, "economy.livelihood_floor": 0.07})
    st_ = build([{"location": NORTH, "size": 50, "arrived": 0}], s, weight=100, t=1, livelihood=np.array([0.2, 1.0]))
    run(economy, st_, s)
    np.testing.assert_allclose(st_.livelihood, [0.07, 1.0 + 0.05 * (0.5 - 1.0)])


# ---------------------------------------------------------------------------------- 7.0 announcements


def test_an_announced_amnesty_lowers_perceived_risk_of_the_covered_displaced_who_believe_it():
    amnesty = {
        "type": "amnesty",
        "month": "2020-01",
        "controllers": ["gov"],
        "profiles": ["military_age_men"],
        "detention_factor": 0.2,
        "credibility": 0.5,
    }
    s = scenario([amnesty])
    rows = [
        {"military_age_man": True, "perceived_risk": 0.5},  # covered
        {"perceived_risk": 0.5},  # not a military-age man
        {"military_age_man": True, "origin": S, "perceived_risk": 0.5},  # origin held by rebels
        {"military_age_man": True, "location": NORTH, "perceived_risk": 0.5},  # at home: not displaced
        {"military_age_man": True, "exposed": True, "location": SOUTH, "perceived_risk": 0.3},  # an IDP, covered
    ]
    st_ = build(rows, s)
    flows = run(announce, st_, s)
    np.testing.assert_allclose(st_.pop.perceived_risk, [0.5 * 0.6, 0.5, 0.5, 0.5, 0.3 * 0.6], rtol=1e-6)
    assert flows.detained == 0 and len(flows.changes) == 1
    st_.t = 1  # the month after: no announcement any more
    assert run(announce, st_, s).changes == ()


def test_two_announcements_in_one_month_both_lower_perceived_risk():
    events = [
        {"type": "amnesty", "month": "2020-01", "profiles": ["all"], "detention_factor": 0.5, "credibility": 1.0},
        {"type": "security_guarantee", "month": "2020-01", "detention_factor": 0.0, "credibility": 0.25},
    ]
    s = scenario(events)
    st_ = build([{"perceived_risk": 0.8}], s)
    run(announce, st_, s)
    assert st_.pop.perceived_risk[0] == pytest.approx(0.8 * 0.5 * 0.75)


# ------------------------------------------------------------------------------ 7.6 flight from fighting


def test_conflict_displacement_by_share_moves_residents_to_drawn_destinations():
    fighting = {
        "type": "conflict_displacement",
        "month": "2020-01",
        "months": 2,
        "region": "north",
        "share": 0.5,
        "destinations": {"alpha": 1.0, "south": 3.0},
    }
    s = scenario([fighting])
    rows = [
        {"location": NORTH, "months_displaced": 9},  # a returnee at home
        {"location": NORTH, "origin": S, "months_displaced": 9},  # an IDP from the south living in the north
        {"location": NORTH, "size": 0, "detained": 2, "status": DETAINED},  # wholly detained: stays
        {"location": NORTH, "months_displaced": 9},  # a returnee whose draw keeps it
        {"location": ALPHA},  # not a resident
        {"location": NORTH, "origin": S, "size": 2, "months_displaced": 7},  # an IDP who flees abroad
    ]
    st_ = build(rows, s, weight=10)
    monthly = 1.0 - 0.5**0.5  # the share of the window, spread over two months
    draws = {
        Draw.CONFLICT: [monthly - 0.01, 0.01, 0.0, monthly + 0.01, 0.0, 0.2],
        Draw.DESTINATION: [0.2, 0.9, 0.0, 0.0, 0.0, 0.1],  # weights 1/4 alpha, 3/4 south
        Draw.REGISTER: [0.95, 0.0, 0.0, 0.0, 0.0, 0.85],  # alpha registers 0.9 of arrivals
    }
    flows = run(flee, st_, s, draws)
    pop = st_.pop
    assert pop.location.tolist() == [ALPHA, SOUTH, NORTH, NORTH, ALPHA, ALPHA]
    assert pop.status.tolist() == [REDISPLACED, RETURNED, DETAINED, RETURNED, DISPLACED, DISPLACED]
    assert pop.months_displaced.tolist() == [0, 9, 0, 9, 0, 7]  # reset for the returnee who left home only
    assert pop.registered.tolist() == [False, True, True, True, True, True]
    assert flows.displaced_by_conflict == (4 + 4 + 2) * 10
    assert st_.moved == {"conflict_displacement_1": 100.0}
    assert pop.forced.sum() == 0 and (pop.arrived == NEVER).all()  # not an arrival: no detention on arrival


def test_conflict_displacement_by_persons_moves_what_is_left_over_the_months_left():
    fighting = {
        "type": "conflict_displacement",
        "month": "2019-12",  # one month before the start: in its second of three months
        "months": 3,
        "region": "south",
        "persons": 100,
        "destinations": {"north": 1.0},
    }
    s = scenario([fighting])
    rows = [{"location": SOUTH, "origin": S, "size": 4} for _ in range(3)]  # 12 persons of weight 5: 60
    st_ = build(rows, s, weight=5)
    st_.moved["conflict_displacement_1"] = 40.0  # moved in the first month
    # 60 left over the 60 days left (January and a leap February), 31 of them this month: 31 persons of the 60
    # residents, a share of 31 / 60
    flows = run(flee, st_, s, {Draw.CONFLICT: [31 / 60 - 1e-3, 31 / 60 + 1e-3, 0.1], Draw.DESTINATION: 0.5})
    assert st_.pop.location.tolist() == [NORTH, SOUTH, NORTH]
    assert flows.displaced_by_conflict == 40.0
    assert st_.moved["conflict_displacement_1"] == 80.0


def test_conflict_displacement_by_persons_in_its_first_month_and_when_nothing_is_left():
    fighting = {
        "type": "conflict_displacement",
        "month": "2020-01",
        "months": 2,
        "region": "south",
        "persons": 4,
        "destinations": {"north": 1.0},
    }
    s = scenario([fighting])
    # one resident of one person: 4 persons over 2 months is 2 a month, more than there are: a share of 1
    st_ = build([{"location": SOUTH, "origin": S, "size": 1}, {"location": NORTH}], s)
    flows = run(flee, st_, s, {Draw.CONFLICT: 0.999, Draw.DESTINATION: 0.5})
    assert st_.pop.location.tolist() == [NORTH, NORTH] and flows.displaced_by_conflict == 1.0
    # 60 persons, none moved yet, over 60 days: 31 in January, a share of 31 / 60 of the 60 residents
    s60 = scenario([{**fighting, "persons": 60}])
    st_ = build([{"location": SOUTH, "origin": S, "size": 6}] * 10, s60)
    run(flee, st_, s60, {Draw.CONFLICT: [31 / 60 - 1e-4] * 5 + [31 / 60 + 1e-4] * 5, Draw.DESTINATION: 0.5})
    assert (st_.pop.location == NORTH).sum() == 5
    # every person already moved, or nobody left in the region: nobody moves, and nothing is divided by zero
    st_ = build([{"location": SOUTH, "origin": S}], s)
    st_.moved["conflict_displacement_1"] = 4.0
    assert run(flee, st_, s, {Draw.CONFLICT: 0.0}).displaced_by_conflict == 0
    st_ = build([{"location": NORTH}], s)
    assert run(flee, st_, s, {Draw.CONFLICT: 0.0}).displaced_by_conflict == 0


def test_people_who_never_left_do_not_flee_fighting_as_followed_residents():
    """Stayers are moved by new_displacement only (7.11); flight from fighting moves returnees and IDPs."""
    fighting = {
        "type": "conflict_displacement",
        "month": "2020-01",
        "region": "north",
        "persons": 8,
        "destinations": {"south": 1.0},
    }
    s = scenario([fighting])
    st_ = build([{"location": NORTH, "status": STAYER, "size": 8}, {"location": NORTH}], s)
    flows = run(flee, st_, s, {Draw.CONFLICT: 0.0, Draw.DESTINATION: 0.5})
    assert st_.pop.location.tolist() == [NORTH, SOUTH] and st_.pop.status.tolist() == [STAYER, REDISPLACED]
    assert flows.displaced_by_conflict == 4.0  # and the share is of the followed residents' 4 persons
    consistent(st_)


def test_a_household_flees_once_a_month_whatever_the_number_of_events():
    events = [
        {
            "type": "conflict_displacement",
            "month": "2020-01",
            "region": "north",
            "share": 1.0,
            "destinations": {"south": 1},
        },
        {
            "type": "conflict_displacement",
            "month": "2020-01",
            "region": "north",
            "share": 1.0,
            "destinations": {"beta": 1},
        },
    ]
    s = scenario(events)
    st_ = build([{"location": NORTH}], s)
    flows = run(flee, st_, s, {Draw.CONFLICT: 0.0, Draw.DESTINATION: 0.0})
    assert st_.pop.location.tolist() == [SOUTH]  # moved by the first, not again by the second
    assert flows.displaced_by_conflict == 4.0


# ------------------------------------------------------------- 7.11 stayers, registration, destruction


def test_pick_takes_the_smallest_draws_until_the_persons_and_the_crossing_row_by_its_coin():
    rows = np.array([10, 11, 12, 13])
    persons = np.array([4.0, 4.0, 2.0, 6.0])
    draws = np.array([0.3, 0.1, 0.2, 0.4], np.float32)  # order 11, 12, 10, 13: 4, 6, 10, 16 persons

    def coin(value):
        asked = []

        def toss(row):
            asked.append(row)
            return value

        toss.asked = asked
        return toss

    # 7 persons: 11 and 12 hold 6; row 10 would cross, with 1 of its 4 persons wanted: taken if its coin < 0.25
    low, high = coin(0.24), coin(0.25)
    assert pick(rows, persons, 7.0, draws, low).tolist() == [10, 11, 12] and low.asked == [10]
    assert pick(rows, persons, 7.0, draws, high).tolist() == [11, 12] and high.asked == [10]
    assert pick(rows, persons, 8.0, draws, coin(0.99)).tolist() == [11, 12]  # 2 of 4 wanted: a half chance
    assert pick(rows, persons, 8.0, draws, coin(0.49)).tolist() == [10, 11, 12]
    exact = coin(0.0)
    assert pick(rows, persons, 10.0, draws, exact).tolist() == [10, 11, 12] and exact.asked == []  # nobody crosses
    assert pick(rows, persons, 100.0, draws, coin(0.0)).tolist() == [10, 11, 12, 13]
    assert pick(rows, persons, 1.0, draws, coin(0.26)).tolist() == []  # a quarter of the first row wanted
    assert pick(rows, persons, 1.0, draws, coin(0.24)).tolist() == [11]
    assert pick(rows, persons, 0.0, draws, coin(0.0)).tolist() == []
    assert pick(rows[:0], persons[:0], 5.0, draws[:0], coin(0.0)).size == 0
    ties = np.array([0.5, 0.5, 0.5, 0.5], np.float32)  # equal draws: in row order
    assert pick(rows, persons, 8.0, ties, coin(0.99)).tolist() == [10, 11]
    assert pick(rows[:1], persons[:1], 4.0, draws[:1], coin(0.99)).tolist() == [10]  # one candidate is a candidate
    assert pick(rows[:1], np.array([1.0]), 1.0, draws[:1], coin(0.99)).tolist() == [10]  # one person to move


def test_pick_moves_the_persons_asked_for_on_average_even_when_a_row_is_larger():
    """Rounding to the nearest row would never move a row for 1 person a month out of rows of 4."""
    rows, persons, draws = np.arange(50), np.full(50, 4.0), np.linspace(0, 1, 50, dtype=np.float32)
    coins = np.random.default_rng(1).random(4000)
    moved = [len(pick(rows, persons, 1.0, draws, lambda row, c=c: c)) * 4.0 for c in coins]
    assert np.mean(moved) == pytest.approx(1.0, rel=0.1)


STAYERS = {"status": STAYER, "location": NORTH, "registered": False, "months_displaced": 50}
OFFENSIVE = {
    "type": "new_displacement",
    "month": "2020-01",
    "region": "north",
    "persons": 30,
    "destinations": {"alpha": 1.0, "south": 3.0},
    "temporary_share": 0.5,
    "return_months": 2,
}


def test_new_displacement_moves_stayers_of_its_region_by_their_own_draws():
    s = scenario([OFFENSIVE])
    rows = [
        {**STAYERS},  # third smallest draw: taken (4 + 2 + 4 = 10 households' persons of 10)
        {**STAYERS},  # smallest draw
        {**STAYERS},  # beyond the persons
        {**STAYERS, "size": 2},  # second smallest
        {"location": NORTH},  # a returnee at home: not a stayer
        {**STAYERS, "location": SOUTH, "origin": S},  # a stayer of another region
    ]
    st_ = build(rows, s, weight=3, t=0)
    draws = {
        Draw.NEW_DISPLACEMENT: [0.3, 0.1, 0.5, 0.2, 0.0, 0.0],
        Draw.DESTINATION: [0.1, 0.6, 0.0, 0.25, 0.0, 0.0],  # weights 1/4 alpha, 3/4 south: 0.25 is the south
        Draw.REGISTER: [0.85, 0.0, 0.0, 0.0, 0.0, 0.0],  # alpha registers 0.9 of arrivals
        Draw.TEMPORARY: [0.6, 0.4, 0.0, 0.5, 0.0, 0.0],  # half go back after 2 months: 0.5 is not below
    }
    flows = run(displace_stayers, st_, s, draws)
    pop = st_.pop
    assert pop.location.tolist() == [ALPHA, SOUTH, NORTH, SOUTH, NORTH, SOUTH]
    assert pop.status.tolist() == [DISPLACED, DISPLACED, STAYER, DISPLACED, RETURNED, STAYER]
    assert pop.months_displaced.tolist() == [0, 0, 50, 0, 0, 50]
    assert pop.registered.tolist() == [True, False, False, False, True, False]  # only those arriving in a host
    assert pop.return_due.tolist() == [NEVER, 2, NEVER, NEVER, NEVER, NEVER]
    assert flows.newly_displaced == (4 + 4 + 2) * 3
    assert (pop.arrived == NEVER).all() and not pop.forced.any()  # not an arrival home
    consistent(st_)
    st_.t = 1  # a one-off event: nothing more the month after
    assert run(displace_stayers, st_, s, {Draw.NEW_DISPLACEMENT: 0.0}).changes == ()


def test_new_displacement_refugees_are_registered_at_their_hosts_share():
    s = scenario([{**OFFENSIVE, "destinations": {"beta": 1.0}}], **{"hosts.beta.registered_share": 0.25})
    st_ = build([{**STAYERS}, {**STAYERS}], s)
    run(displace_stayers, st_, s, {Draw.NEW_DISPLACEMENT: 0.0, Draw.REGISTER: [0.24, 0.25], Draw.TEMPORARY: 0.9})
    assert st_.pop.location.tolist() == [BETA, BETA] and st_.pop.registered.tolist() == [True, False]


def test_two_new_displacements_of_one_region_in_one_month_move_a_household_once():
    s = scenario([OFFENSIVE, {**OFFENSIVE, "destinations": {"beta": 1.0}, "temporary_share": 0.0}])
    st_ = build([{**STAYERS} for _ in range(10)], s)
    draws = {Draw.NEW_DISPLACEMENT: np.linspace(0, 0.9, 10), Draw.DESTINATION: 0.5, Draw.ROUNDING: 0.0}
    flows = run(displace_stayers, st_, s, draws)
    pop = st_.pop
    # 30 persons each: the first event takes the 8 households with the smallest draws (the 8th crosses the 30 and
    # its coin of 0 takes it), the second the 2 left
    assert (pop.status == DISPLACED).sum() == 10 and pop.location.tolist() == [SOUTH] * 8 + [BETA] * 2
    assert flows.newly_displaced == 40.0


def test_temporarily_displaced_come_home_when_due_as_voluntary_returns_from_where_they_are():
    s = scenario()
    t = 4
    rows = [
        {"return_due": t, "months_displaced": 2},  # a refugee in alpha: home
        {"location": SOUTH, "return_due": t, "size": 3},  # an IDP in the south: home, an IDP return
        {"location": NORTH, "return_due": t},  # already home
        {"return_due": t + 1},  # not yet
        {"location": SOUTH, "return_due": t, "status": DETAINED, "size": 0, "detained": 1},  # held: not displaced
        {"location": BETA, "origin": S, "return_due": t, "status": REDISPLACED, "size": 2},
        {"location": ALPHA, "status": DEPARTED, "return_due": t},  # no longer followed
    ]
    st_ = build(rows, s, weight=2, t=t)
    flows = run(come_back, st_, s)
    pop = st_.pop
    assert pop.location.tolist() == [NORTH, NORTH, NORTH, ALPHA, SOUTH, SOUTH, ALPHA]
    assert pop.status.tolist() == [RETURNED, RETURNED, RETURNED, DISPLACED, DETAINED, RETURNED, DEPARTED]
    assert pop.arrived.tolist() == [t, t, NEVER, NEVER, NEVER, t, NEVER]
    np.testing.assert_array_equal(flows.returns_voluntary_from, [4 * 2, 2 * 2, 3 * 2])
    # refugees by host left (rows: alpha, beta) and region gone back to (columns: north, south)
    np.testing.assert_array_equal(flows.returns_voluntary_to, [[4 * 2, 0], [0, 2 * 2]])
    assert not pop.forced.any()
    st_ = build(rows[3:4], s, t=t)
    assert run(come_back, st_, s).changes == ()
    st_ = build(rows[:1], s, t=t)  # only a refugee of the first host: still one entry per host and one for IDPs
    np.testing.assert_array_equal(run(come_back, st_, s).returns_voluntary_from, [4, 0, 0])


REGISTRATION = {"type": "registration", "month": "2020-01", "host": "alpha", "persons": 16}  # alpha: half each


def test_registration_takes_stayers_by_origin_into_the_host_with_their_years_away():
    s = scenario([REGISTRATION])
    t = 5
    rows = [
        {**STAYERS, "months_displaced": 20},  # north: third draw, beyond the 8 persons of the north
        {**STAYERS, "months_displaced": 30},  # north: first
        {**STAYERS, "months_displaced": 10},  # north: second
        {**STAYERS, "location": SOUTH, "origin": S, "size": 8, "months_displaced": 40},  # south: crosses, coin 0
        {**STAYERS, "location": SOUTH, "origin": S},  # south: first
        {"location": SOUTH, "status": DISPLACED},  # an IDP: not a stayer
    ]
    st_ = build(rows, s, t=t)
    draws = {Draw.ARRIVAL: [0.5, 0.2, 0.3, 0.9, 0.1, 0.0], Draw.ROUNDING: 0.0}
    flows = run(register, st_, s, draws, t=0)  # the event's month
    pop = st_.pop
    assert pop.location.tolist() == [NORTH, ALPHA, ALPHA, ALPHA, ALPHA, SOUTH]
    assert pop.status.tolist() == [STAYER, DISPLACED, DISPLACED, DISPLACED, DISPLACED, DISPLACED]
    assert pop.registered.tolist() == [False, True, True, True, True, True]
    assert pop.months_displaced.tolist() == [20, 30 + t, 10 + t, 40 + t, 50 + t, 0]  # late: away since their draw
    assert flows.registered_arrivals == 4 + 4 + 8 + 4
    consistent(st_)
    heavy = build(rows, s, weight=2, t=t)  # rows of 2 households: 8 of each region's 8 persons in its first row
    flows = run(register, heavy, s, draws, t=0)
    assert heavy.pop.location.tolist() == [NORTH, ALPHA, NORTH, SOUTH, ALPHA, SOUTH]
    assert flows.registered_arrivals == 8 + 8
    # the event's own origin shares, and two registrations in one month never take a household twice
    south = scenario([{**REGISTRATION, "origin_shares": {"south": 1.0}}, {**REGISTRATION, "host": "beta"}])
    st_ = build(rows, south, t=t)
    flows = run(register, st_, south, draws, t=0)
    # alpha takes the south's 12 persons; beta (its own shares: the south) finds no stayer left there
    assert st_.pop.location.tolist() == [NORTH, NORTH, NORTH, ALPHA, ALPHA, SOUTH]
    assert flows.registered_arrivals == 12


def test_deregistration_takes_refugees_off_a_hosts_register():
    s = scenario([{"type": "deregistration", "month": "2020-01", "host": "alpha", "persons": 16}])
    rows = [
        {},  # second draw
        {"status": REDISPLACED, "origin": S},  # first
        {"location": BETA},  # another host
        {"size": 8},  # crosses: 8 + 8 > 16 + 4
        {"location": NORTH},  # at home
        {},  # third: 4 + 4 + 4 <= 16
    ]
    st_ = build(rows, s, weight=2)
    flows = run(deregister, st_, s, {Draw.DEREGISTRATION: [0.2, 0.1, 0.0, 0.4, 0.0, 0.3]})
    pop = st_.pop
    assert pop.status.tolist() == [DEPARTED, DEPARTED, DISPLACED, DISPLACED, RETURNED, DISPLACED]
    assert pop.location.tolist() == [ALPHA, ALPHA, BETA, ALPHA, NORTH, ALPHA]  # they stay where they were
    assert flows.deregistered == 16 and not st_.displaced()[:2].any()
    twice = scenario([{"type": "deregistration", "month": "2020-01", "host": "alpha", "persons": 8}] * 2)
    st_ = build(rows, twice, weight=2)
    flows = run(deregister, st_, twice, {Draw.DEREGISTRATION: [0.2, 0.1, 0.0, 0.4, 0.0, 0.3]})
    assert (st_.pop.status == DEPARTED).sum() == 2 and flows.deregistered == 16  # each event its own households


def test_housing_destruction_destroys_or_damages_standing_homes_of_its_regions_once():
    quake = {
        "type": "housing_destruction",
        "month": "2020-01",
        "months": 3,
        "regions": ["north"],
        "destroyed_share": 0.2,
        "damaged_share": 0.3,
    }
    s = scenario([quake])
    rows = [
        {"property": INTACT},  # 0.1: destroyed (whoever lives there: a refugee's home)
        {"property": INTACT, "location": NORTH},  # 0.3: damaged
        {"property": DAMAGED},  # 0.3: stays damaged, not counted
        {"property": DAMAGED, "status": STAYER, "location": NORTH},  # 0.1: destroyed
        {"property": OCCUPIED},  # not standing
        {"property": INTACT, "origin": S},  # another region
        {"property": INTACT},  # 0.5: spared
        {"property": INTACT},  # 0.2: not below the destroyed share, below both: damaged
        {"property": CONFISCATED},  # not standing
    ]
    st_ = build(rows, s, weight=5)
    draws = {Draw.DESTRUCTION: [0.1, 0.3, 0.3, 0.1, 0.0, 0.0, 0.5, 0.2, 0.0]}
    flows = run(destroy_homes, st_, s, draws)
    assert st_.pop.property.tolist() == [
        DESTROYED,
        DAMAGED,
        DAMAGED,
        DESTROYED,
        OCCUPIED,
        INTACT,
        INTACT,
        DAMAGED,
        CONFISCATED,
    ]
    assert flows.homes_destroyed == 4 * 5
    st_.t = 1  # in force three months, acts in its first only
    assert run(destroy_homes, st_, s, {Draw.DESTRUCTION: 0.0}).changes == ()
    south = {**quake, "regions": ["south"], "destroyed_share": 1.0}
    both = scenario([quake, south])
    st_ = build(rows, both, weight=5)
    flows = run(destroy_homes, st_, both, draws)
    assert st_.pop.property[5] == DESTROYED and st_.pop.property[0] == DESTROYED  # each event its own regions
    assert flows.homes_destroyed == 5 * 5
    # two events over one region in one month: the second sees what the first left (a destroyed home is not
    # damaged again, nor counted twice)
    aftershock = {**quake, "destroyed_share": 0.0, "damaged_share": 1.0}
    twice = scenario([quake, aftershock])
    st_ = build(rows, twice, weight=5)
    flows = run(destroy_homes, st_, twice, draws)
    assert st_.pop.property.tolist() == [
        DESTROYED,
        DAMAGED,
        DAMAGED,
        DESTROYED,
        OCCUPIED,
        INTACT,
        DAMAGED,  # spared by the first, damaged by the second
        DAMAGED,
        CONFISCATED,
    ]
    assert flows.homes_destroyed == (4 + 1) * 5


# ------------------------------------------------------------------------------------ 7.3 decide

CUSTOM_DECISION = {
    "decision.intercept": -1.0,
    "decision.pressure": 1.1,
    "decision.livelihood": 2.3,
    "decision.detention_risk": 17.0,
    "decision.violence": 3.7,
    "decision.conscription": 0.9,
    "decision.property_loss": 1.3,
    "decision.network": 2.9,
    "decision.attachment": 1.7,
    "decision.integration": 1.9,
    "decision.host_violence": 5.3,
    "decision.feasibility_slope": 1.2,
    "decision.integration_months": 40.0,
    "controllers.gov.violence": 0.15,
    "controllers.rebels.violence": 0.45,
    "controllers.rebels.conscription": False,
    "hosts.alpha.pressure": 0.35,
    "hosts.alpha.livelihood": 0.5,
    "hosts.alpha.aid": 0.2,
    "hosts.alpha.integration": 0.6,
    "hosts.alpha.return_cost": 3.0,
    "hosts.beta.pressure": 0.7,
    "hosts.beta.return_cost": 1.0,
    "idps.pressure": 0.25,
    "idps.integration": 0.1,
    "idps.return_cost": 0.5,
    "idps.livelihood_factor": 0.8,
    "economy.host_aid_effect": 0.3,
    "property.housing_livelihood_penalty": 0.4,
    "property.loss_destroyed": 1.0,
    "property.loss_damaged": 0.3,
    "decision.services": 0.8,
    "decision.home_livelihood": 1.4,
    "decision.internal": 0.6,
    "regions.north.services": 0.7,
    "regions.south.services": 0.4,
    "hope.intercept": 0.5,
    "hope.attachment": 1.2,
    "hope.integration": 0.8,
    "hope.livelihood": 1.1,
    "hope.violence": 2.1,
    "hope.property_loss": 0.7,
}
DECIDERS = [
    # a refugee in alpha from the north (gov, conscription), home destroyed, a military-age man present
    {
        "military_age_man": True,
        "property": DESTROYED,
        "skill": 1.5,
        "savings": 4.0,
        "months_displaced": 30,
        "perceived_risk": 0.05,
        "attachment": 0.6,
    },
    # an IDP from the south (rebels) living in the north, home damaged
    {
        "location": NORTH,
        "origin": S,
        "property": DAMAGED,
        "savings": 0.2,
        "months_displaced": 12,
        "perceived_risk": 0.01,
        "attachment": 0.9,
    },
    # a refugee in beta (where violence reached refugees) from the south, re-displaced once
    {"location": BETA, "origin": S, "savings": 2.0, "status": REDISPLACED, "attachment": 0.3, "size": 2},
    {"location": NORTH, "savings": 9.0},  # at home: does not decide
]


def hand_probabilities() -> tuple[list[float], list[float], list[float]]:
    """eta, q and p of the deciders, from docs/ODD.md 7.2-7.3 worked out term by term (livelihood north 0.5,
    south 0.5; services north 0.7, south 0.4; ties back home 3, 0 and 6 of 6; beta's host violence 0.4)."""
    host_alpha = 0.5 + 0.3 * 0.2  # earnings plus assistance
    g0, g1 = 0.6 * (1 - math.exp(-30 / 40)), 0.1 * (1 - math.exp(-12 / 40))  # integration; beta's is 0 at month 0
    home0, home1, home2 = 1.5 * 0.5 * (1 - 0.4 * 1.0), 0.5 * (1 - 0.4 * 0.3), 0.5  # L_orig: skill L_o (1 - pi h)
    v0 = (
        -1.0
        + 1.1 * 0.35
        + 2.3 * (home0 - 1.5 * host_alpha)
        + 1.4 * home0
        - 17.0 * 0.05
        - 3.7 * 0.15
        - 0.9 * 1.0
        - 1.3 * 1.0
        - 0.8 * (1 - 0.7)
        + 2.9 * 3 / 6
        + 1.7 * 0.6
        - 1.9 * g0
    )
    v1 = (
        -1.0
        + 1.1 * 0.25
        + 2.3 * (home1 - 0.8 * 0.5)
        + 1.4 * home1
        - 17.0 * 0.01
        - 3.7 * 0.45
        - 1.3 * 0.3
        - 0.8 * (1 - 0.4)
        + 1.7 * 0.9
        - 1.9 * g1
        + 0.6  # displaced inside Syria
    )
    host_beta = 0.5 + 0.3 * 0.3
    v2 = (-1.0 + 1.1 * 0.7 + 2.3 * (home2 - host_beta) + 1.4 * home2 - 3.7 * 0.45 - 0.8 * (1 - 0.4) + 2.9 * 6 / 6) + (
        1.7 * 0.3 + 5.3 * 0.4
    )
    eta = [
        sigmoid(0.5 + 1.2 * 0.6 - 0.8 * g0 + 1.1 * 0.5 - 2.1 * 0.15 - 0.7 * 1.0),
        sigmoid(0.5 + 1.2 * 0.9 - 0.8 * g1 + 1.1 * 0.5 - 2.1 * 0.45 - 0.7 * 0.3),
        sigmoid(0.5 + 1.2 * 0.3 + 1.1 * 0.5 - 2.1 * 0.45),
    ]
    q = [sigmoid(v0), sigmoid(v1), sigmoid(v2)]
    # beta's journey costs 1.0 less its host violence: 1.0 (1 - 0.4) (people fleeing violence need less)
    f = [sigmoid(1.2 * (4.0 - 3.0)), sigmoid(1.2 * (0.2 - 0.5)), sigmoid(1.2 * (2.0 - 1.0 * (1 - 0.4)))]
    return eta, q, [e * a * b for e, a, b in zip(eta, q, f, strict=True)]


def deciders_world(*events, **changes):
    shock = {"type": "host_conflict_shock", "month": "2020-01", "host": "beta", "violence": 0.4}
    s = scenario([shock, *events], **CUSTOM_DECISION, **changes)
    return s, build(DECIDERS, s, weight=10, t=0, ties=[[3] * 6] * 4, back=[3, 0, 6, 0])


def test_return_probability_is_the_odd_formula_term_by_term():
    s, st_ = deciders_world()
    tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, 0), st_.livelihood)
    eta_hand, q_hand, p_hand = hand_probabilities()
    eta, q, p = decide_module.hazards(st_, tab, s)
    np.testing.assert_allclose(eta[:3], eta_hand, rtol=2e-5)
    np.testing.assert_allclose(q[:3], q_hand, rtol=2e-5)
    np.testing.assert_allclose(p[:3], p_hand, rtol=2e-5)
    # the same through the kernels on every gathered input
    x = decide_module.inputs(st_, tab, s)
    eta_kernel = decision.hope(decide_module.hope_inputs(st_, tab, s), s.hope)
    np.testing.assert_allclose(eta_kernel[:3], eta_hand, rtol=2e-5)
    np.testing.assert_allclose(decision.intention_hazard(x, s.decision)[:3], q_hand, rtol=2e-5)
    p_kernel = eta_kernel * decision.return_probability(x, s.decision)
    np.testing.assert_allclose(p_kernel[:3], p_hand, rtol=2e-5)


def test_an_unplanned_return_adds_to_the_planned_one_and_leaves_the_surveyed_intention_alone():
    eta_hand, q_hand, p_hand = hand_probabilities()
    feasible = [p / (e * q) for e, q, p in zip(eta_hand, q_hand, p_hand, strict=True)]
    planned, st_ = deciders_world()
    s, unplanned_st = deciders_world(**{"decision.unplanned_rate": 0.05})
    tab = Tables.build(s, unplanned_st.geo, levers_at(s, unplanned_st.geo, 0), unplanned_st.livelihood)
    _, q, p = decide_module.hazards(unplanned_st, tab, s)
    # p = eta b (1 - (1 - q F)(1 - e)), the border open (b = 1) for all three
    expected = [e * (1 - (1 - q * f) * (1 - 0.05)) for e, q, f in zip(eta_hand, q_hand, feasible, strict=True)]
    np.testing.assert_allclose(p[:3], expected, rtol=2e-5)
    np.testing.assert_allclose(q[:3], q_hand, rtol=2e-5)
    x = decide_module.inputs(unplanned_st, tab, s)
    kernel = decision.hope(decide_module.hope_inputs(unplanned_st, tab, s), s.hope) * decision.return_probability(
        x, s.decision
    )
    np.testing.assert_allclose(kernel[:3], expected, rtol=2e-5)
    # an unplanned return is no plan: the survey's intention and hope are those of the planned world
    nobody = {Draw.RETURN: [1.0] * 4}
    a, b = run(decide, st_, planned, nobody), run(decide, unplanned_st, s, nobody)
    assert (a.intend_return_12m_pct, a.hope_return_pct) == (b.intend_return_12m_pct, b.hope_return_pct)
    assert a.intend_return_12m_pct > 0


#: unplanned returns: an event for anyone, poverty for the IDP alone (earning 0.4, below the line)
UNPLANNED = {"decision.unplanned_rate": 0.05, "decision.distress_rate": 0.1, "economy.poverty_line": 0.5}


def test_poverty_pushes_home_only_those_below_the_line():
    """Earnings where they live: alpha's refugee 0.56 x 1.5 = 0.84, the IDP 0.5 x 0.8 = 0.4, beta's refugee 0.59;
    with the line at 0.5 only the IDP is poor, and only its probability gains the distress rate."""
    eta_hand, q_hand, p_hand = hand_probabilities()
    feasible = [p / (e * q) for e, q, p in zip(eta_hand, q_hand, p_hand, strict=True)]
    s, st_ = deciders_world(**UNPLANNED)
    tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, 0), st_.livelihood)
    _, _, p = decide_module.hazards(st_, tab, s)
    kept = [0.95, 0.95 * 0.9, 0.95]
    expected = [e * (1 - (1 - q * f) * k) for e, q, f, k in zip(eta_hand, q_hand, feasible, kept, strict=True)]
    np.testing.assert_allclose(p[:3], expected, rtol=2e-5)
    x = decide_module.inputs(st_, tab, s)
    assert x.poor[:3].tolist() == [0.0, 1.0, 0.0]
    kernel = decision.hope(decide_module.hope_inputs(st_, tab, s), s.hope) * decision.return_probability(x, s.decision)
    np.testing.assert_allclose(kernel[:3], expected, rtol=2e-5)


def test_an_unplanned_return_is_one_whose_draw_falls_in_the_part_that_needs_no_plan():
    eta_hand, q_hand, p_hand = hand_probabilities()
    feasible = [p / (e * q) for e, q, p in zip(eta_hand, q_hand, p_hand, strict=True)]
    s, st_ = deciders_world(**UNPLANNED)
    kept = [0.95, 0.95 * 0.9, 0.95]  # only the IDP is poor
    unplanned = [e * (1 - k) for e, k in zip(eta_hand, kept, strict=True)]
    p = [e * (1 - (1 - q * f) * k) for e, q, f, k in zip(eta_hand, q_hand, feasible, kept, strict=True)]
    # alpha's refugee goes by plan (its draw between the two), the IDP and beta's refugee unplanned
    draws = {Draw.RETURN: [(unplanned[0] + p[0]) / 2, unplanned[1] * 0.999, unplanned[2] * 0.999, 0.0]}
    flows = run(decide, st_, s, draws)
    np.testing.assert_array_equal(flows.returns_voluntary_from, [40.0, 20.0, 40.0])  # alpha, beta, IDPs
    np.testing.assert_array_equal(flows.returns_unplanned_from, [0.0, 20.0, 40.0])
    month = flows + Flows(returns_forced_from=np.zeros(st_.geo.n_locations))
    out = indicators(st_, month, levers_at(s, st_.geo, 0), s, "2017-01")
    assert (out["returns_unplanned_refugees"], out["returns_unplanned_idps"]) == (20.0, 40.0)


def test_through_a_half_open_border_half_as_many_go_unplanned():
    """Alpha's border lets half the usual returns cross: its refugee's unplanned part is eta 0.5 (1 - k)."""
    half_open = {"type": "border_closure", "month": "2020-01", "months": 12, "host": "alpha", "capacity": 0.5}
    eta_hand, _, _ = hand_probabilities()
    s, st_ = deciders_world(half_open, **UNPLANNED)
    unplanned = eta_hand[0] * 0.5 * 0.05
    _, _, p = decide_module.hazards(st_, Tables.build(s, st_.geo, levers_at(s, st_.geo, 0), st_.livelihood), s)
    assert unplanned * 1.5 < p[0]
    flows = run(decide, st_, s, {Draw.RETURN: [unplanned * 1.5, 1.0, 1.0, 1.0]})  # above it: a planned return
    np.testing.assert_array_equal(flows.returns_voluntary_from, [40.0, 0.0, 0.0])
    np.testing.assert_array_equal(flows.returns_unplanned_from, [0.0, 0.0, 0.0])
    _, st_ = deciders_world(half_open, **UNPLANNED)
    flows = run(decide, st_, s, {Draw.RETURN: [unplanned * 0.999, 1.0, 1.0, 1.0]})
    np.testing.assert_array_equal(flows.returns_unplanned_from, [40.0, 0.0, 0.0])


def test_from_a_host_without_a_land_border_an_unplanned_return_needs_the_fare():
    """Beta has no land border: its refugee's unplanned part is eta F (1 - k), not eta (1 - k), while alpha's
    refugee and the IDP keep theirs (ODD 7.3)."""
    eta_hand, q_hand, p_hand = hand_probabilities()
    feasible = [p / (e * q) for e, q, p in zip(eta_hand, q_hand, p_hand, strict=True)]
    s, st_ = deciders_world(**UNPLANNED, **{"hosts.beta.overland": False})
    tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, 0), st_.livelihood)
    _, _, p = decide_module.hazards(st_, tab, s)
    kept = [0.95, 0.95 * 0.9, 0.95]
    reach = [1.0, 1.0, feasible[2]]
    expected = [
        e * (q * f * k + r * (1 - k)) for e, q, f, k, r in zip(eta_hand, q_hand, feasible, kept, reach, strict=True)
    ]
    np.testing.assert_allclose(p[:3], expected, rtol=2e-5)
    assert p[2] < eta_hand[2] * (1 - (1 - q_hand[2] * feasible[2]) * kept[2])  # less than by land
    x = decide_module.inputs(st_, tab, s)
    assert x.overland[:3].tolist() == [1.0, 1.0, 0.0]
    kernel = decision.hope(decide_module.hope_inputs(st_, tab, s), s.hope) * decision.return_probability(x, s.decision)
    np.testing.assert_allclose(kernel[:3], expected, rtol=2e-5)
    # a draw inside the fare-bound part goes unplanned; one just above it, inside p, goes by plan
    unplanned = eta_hand[2] * feasible[2] * (1 - kept[2])
    assert unplanned * 1.001 < expected[2]
    flows = run(decide, st_, s, {Draw.RETURN: [1.0, 1.0, unplanned * 0.999, 1.0]})
    np.testing.assert_array_equal(flows.returns_unplanned_from, [0.0, 20.0, 0.0])
    _, st_ = deciders_world(**UNPLANNED, **{"hosts.beta.overland": False})
    flows = run(decide, st_, s, {Draw.RETURN: [1.0, 1.0, unplanned * 1.001, 1.0]})
    np.testing.assert_array_equal(flows.returns_voluntary_from, [0.0, 20.0, 0.0])
    np.testing.assert_array_equal(flows.returns_unplanned_from, [0.0, 0.0, 0.0])


@pytest.mark.parametrize(("line", "poor"), [(0.41, True), (0.4, False)])
def test_poverty_alone_sends_home_those_below_the_line_and_not_those_on_it(line, poor):
    """The baseline's case: no unplanned rate for everyone, a distress rate below the line. The IDP earns 0.4."""
    eta_hand, _, _ = hand_probabilities()
    s, st_ = deciders_world(**{"decision.distress_rate": 0.1, "economy.poverty_line": line})
    tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, 0), st_.livelihood)
    x = decide_module.inputs(st_, tab, s)
    assert x.poor[1] == poor
    kernel = decision.hope(decide_module.hope_inputs(st_, tab, s), s.hope) * decision.return_probability(x, s.decision)
    np.testing.assert_allclose(decide_module.hazards(st_, tab, s)[2][:3], kernel[:3], rtol=2e-5)
    flows = run(decide, st_, s, {Draw.RETURN: [1.0, eta_hand[1] * 0.1 * 0.999, 1.0, 1.0]})
    np.testing.assert_array_equal(flows.returns_unplanned_from, [0.0, 0.0, 40.0 if poor else 0.0])


def test_decide_sends_home_those_whose_draw_is_below_their_probability_and_they_pay_the_cost():
    s, st_ = deciders_world()
    _, _, p = hand_probabilities()
    draws = {Draw.RETURN: [p[0] * 0.999, p[1] * 0.999, p[2] * 1.001, 0.0]}
    flows = run(decide, st_, s, draws)
    pop = st_.pop
    assert pop.location.tolist() == [NORTH, SOUTH, BETA, NORTH]
    assert pop.status.tolist() == [RETURNED, RETURNED, REDISPLACED, RETURNED]
    assert pop.arrived.tolist() == [0, 0, NEVER, NEVER]
    assert not pop.forced.any()
    # savings less the cost of the journey, never below 0: alpha's 3 months, the IDPs' 0.5
    np.testing.assert_allclose(pop.savings, [1.0, 0.0, 2.0, 9.0])
    np.testing.assert_array_equal(flows.returns_voluntary_from, [40.0, 0.0, 40.0])
    np.testing.assert_array_equal(flows.returns_voluntary_to, [[40.0, 0.0], [0.0, 0.0]])  # the refugee, not the IDP


def test_decide_reports_the_intention_and_hope_to_return_of_refugee_households():
    s, st_ = deciders_world()
    eta, q, _ = hand_probabilities()
    flows = run(decide, st_, s)
    # refugees only (the IDP is not counted): hope times intending within 12 months at a constant hazard
    intend = [eta[0] * (1 - (1 - q[0]) ** 12), eta[2] * (1 - (1 - q[2]) ** 12)]
    assert flows.intend_return_12m_pct == pytest.approx(100 * sum(intend) / 2, rel=1e-5)
    assert flows.intend_return_12m_pct_surveyed == pytest.approx(flows.intend_return_12m_pct)
    assert flows.hope_return_pct == pytest.approx(100 * (eta[0] + eta[2]) / 2, rel=1e-5)
    assert flows.hope_return_pct_surveyed == pytest.approx(flows.hope_return_pct)
    # each host's own share: alpha's one refugee household, beta's one
    np.testing.assert_allclose(flows.intend_return_12m_pct_by_host, [100 * intend[0], 100 * intend[1]], rtol=1e-5)
    np.testing.assert_allclose(flows.hope_return_pct_by_host, [100 * eta[0], 100 * eta[2]], rtol=1e-5)
    # a mean over each host's households: two like the first in alpha still give alpha its share
    twice = build(
        [DECIDERS[0], DECIDERS[0], DECIDERS[2], DECIDERS[3]], s, weight=10, ties=[[3] * 6] * 4, back=[3, 3, 6, 0]
    )
    flows = run(decide, twice, s)
    np.testing.assert_allclose(flows.intend_return_12m_pct_by_host, [100 * intend[0], 100 * intend[1]], rtol=1e-5)
    np.testing.assert_allclose(flows.hope_return_pct_by_host, [100 * eta[0], 100 * eta[2]], rtol=1e-5)
    s2 = s.with_changes({"hosts.beta.surveyed": False})
    flows = run(decide, build(DECIDERS, s2, ties=[[3] * 6] * 4, back=[3, 0, 6, 0]), s2)
    assert flows.intend_return_12m_pct_surveyed == pytest.approx(100 * intend[0], rel=1e-5)
    assert flows.hope_return_pct_surveyed == pytest.approx(100 * eta[0], rel=1e-5)
    assert flows.hope_return_pct == pytest.approx(100 * (eta[0] + eta[2]) / 2, rel=1e-5)


def test_without_refugee_households_the_intention_share_is_zero_and_flows_keep_one_entry_per_location():
    s = scenario(**{"decision.intercept": 10.0})
    st_ = build([{"location": SOUTH, "savings": 20.0}, {"location": NORTH}], s)
    flows = run(decide, st_, s, {Draw.RETURN: 0.0})
    assert (flows.intend_return_12m_pct, flows.intend_return_12m_pct_surveyed) == (0.0, 0.0)
    assert (flows.hope_return_pct, flows.hope_return_pct_surveyed) == (0.0, 0.0)
    np.testing.assert_array_equal(flows.intend_return_12m_pct_by_host, [0.0, 0.0])  # no household: 0, not 0/0
    np.testing.assert_array_equal(flows.returns_voluntary_from, [0, 0, 4])
    st_ = build([{"savings": 20.0}], s)
    np.testing.assert_array_equal(run(decide, st_, s, {Draw.RETURN: 0.0}).returns_voluntary_from, [4, 0, 0])


def test_one_tie_back_home_is_the_whole_network():
    s = scenario()
    st_ = build([{}, {"location": NORTH}], s, ties=[[1], [1]], back=[1, 1])
    tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, 0), st_.livelihood)
    assert decide_module.inputs(st_, tab, s).network[0] == 1.0


def test_a_closed_border_stops_voluntary_returns_from_that_host_only():
    closure = {"type": "border_closure", "month": "2020-01", "host": "alpha"}
    s = scenario([closure], **{"decision.intercept": 10.0})
    st_ = build([{"savings": 20.0}, {"location": BETA, "savings": 20.0}, {"location": SOUTH, "savings": 20.0}], s)
    flows = run(decide, st_, s, {Draw.RETURN: 0.0})
    assert st_.pop.location.tolist() == [ALPHA, NORTH, NORTH]
    np.testing.assert_array_equal(flows.returns_voluntary_from, [0.0, 4.0, 4.0])


# ---------------------------------------------------------------------------------- 7.4 deportation


def test_eligibility_by_targeting_rule():
    registered = np.array([True, False, True, False])
    man = np.array([False, False, True, True])
    single = np.array([False, False, False, True])
    expected = {
        "all": [True, True, True, True],
        "unregistered": [False, True, False, True],
        "military_age_men": [False, False, True, True],
        "single_men": [False, False, False, True],
    }
    for name, want in expected.items():
        assert eligible(np.int8(TARGETING.index(name)), registered, man, single).tolist() == want, name


def test_deportation_at_a_rate_takes_eligible_refugees_to_their_origin():
    s = scenario(**{"hosts.alpha.deportation_rate": 0.2})  # targeting "unregistered", destination origin
    rows = [
        {"registered": False, "months_displaced": 20},  # deported home
        {"registered": True},  # registered: protected
        {"registered": False},  # draw above the rate
        {"location": BETA, "registered": False},  # beta does not deport
        {"location": NORTH, "registered": False},  # at home
        {"location": SOUTH, "registered": False},  # an IDP: not in a host
        {"registered": False, "origin": S, "status": REDISPLACED, "size": 3},  # deported home to the south
    ]
    st_ = build(rows, s, weight=2, t=3)
    flows = run(deport, st_, s, {Draw.DEPORT: [0.19, 0.0, 0.21, 0.0, 0.0, 0.0, 0.0]})
    pop = st_.pop
    assert pop.location.tolist() == [NORTH, ALPHA, ALPHA, BETA, NORTH, SOUTH, SOUTH]
    assert pop.status.tolist() == [RETURNED, DISPLACED, DISPLACED, DISPLACED, RETURNED, DISPLACED, RETURNED]
    assert pop.forced.tolist() == [True, False, False, False, False, False, True]
    assert pop.arrived.tolist() == [3, NEVER, NEVER, NEVER, NEVER, NEVER, 3]
    assert pop.months_displaced[0] == 20  # sent home: its months displaced no longer count
    np.testing.assert_array_equal(flows.returns_forced_from, [(4 + 3) * 2, 0, 0])


def test_deportees_pay_no_return_cost():
    s = scenario(**{"hosts.alpha.deportation_rate": 1.0, "hosts.alpha.deportation_targeting": "all"})
    st_ = build([{"savings": 5.0}], s)
    run(deport, st_, s, {Draw.DEPORT: 0.0})
    assert st_.pop.savings[0] == 5.0 and st_.pop.forced[0]


def test_deportation_to_a_named_region_leaves_deportees_from_elsewhere_displaced_there():
    event = {"type": "deportation", "month": "2020-01", "host": "beta", "rate": 0.5, "destination": "south"}
    s = scenario([event], **{"hosts.beta.registered_share": 0.5})
    rows = [
        {"location": BETA, "registered": False, "months_displaced": 30},  # from the north: an IDP in the south
        {"location": BETA, "registered": False, "origin": S},  # from the south: home
    ]
    st_ = build(rows, s)
    flows = run(deport, st_, s, {Draw.DEPORT: 0.4})
    pop = st_.pop
    assert pop.location.tolist() == [SOUTH, SOUTH]
    assert pop.status.tolist() == [DISPLACED, RETURNED]
    assert pop.months_displaced.tolist() == [0, 0]
    assert pop.forced.all()
    np.testing.assert_array_equal(flows.returns_forced_from, [0, 8, 0])
    assert levers_at(s, st_.geo, 0).deportation_destination[ALPHA] == ORIGIN


def test_a_deportation_quota_takes_the_eligible_households_with_the_smallest_draws_until_they_hold_it():
    """Three households of 4 at beta. A quota of 8: the two smallest draws, exactly 8 persons, whatever a rate
    of 8 / 12 would have drawn. A quota of 6: row 2, then row 0 crosses the quota and goes
    if its coin (here its own draw) is below the part still wanted, 2 / 4."""
    event = {"type": "deportation", "month": "2020-01", "host": "beta", "quota": 8, "targeting": "all"}
    rows = [{"location": BETA}, {"location": BETA}, {"location": BETA}, {"location": ALPHA}]
    for quota, draws, forced in [
        (8, [0.7, 0.69, 0.1, 0.0], [False, True, True, False]),
        (8, [0.3, 0.9, 0.1, 0.0], [True, False, True, False]),
        (6, [0.3, 0.9, 0.1, 0.0], [True, False, True, False]),
        (6, [0.7, 0.9, 0.1, 0.0], [False, False, True, False]),
        (6, [0.7, 0.9, 0.8, 0.0], [True, False, False, False]),
    ]:
        s = scenario([{**event, "quota": quota}])
        st_ = build(rows, s)
        flows = run(deport, st_, s, {Draw.DEPORT: draws})
        assert st_.pop.forced.tolist() == forced, (quota, draws)
        np.testing.assert_array_equal(flows.returns_forced_from, [0, 4 * sum(forced), 0])
    big = scenario([{**event, "quota": 1000}])
    st_ = build(rows, big)
    run(deport, st_, big, {Draw.DEPORT: 0.999})  # fewer eligible than the quota: everyone at beta
    assert st_.pop.forced.tolist() == [True, True, True, False]


def test_the_household_that_crosses_a_quota_goes_by_its_own_coin_of_the_deportation_stream():
    """The coin is the crossing household's uniform of that month in the deportation stream's part for the host
    (salt 1 + host), not its ordering draw (salt 0, which is what put it last in line: a biased coin)."""
    event = {"type": "deportation", "month": "2020-01", "host": "beta", "quota": 6, "targeting": "all"}
    s = scenario([event])
    streams = Streams(17)
    seen = set()
    for t in range(40):
        st_ = build([{"location": BETA}, {"location": BETA}], s, t=t)  # 8 persons: the second in line crosses 6
        st_.apply(deport(st_, levers_at(s, st_.geo, 0), s, streams).changes)
        order = streams.uniform(Draw.DEPORT, t, np.arange(2))
        second = int(np.argmax(order))
        coin = streams.one(Draw.DEPORT, t, second, salt=1 + BETA)
        assert st_.pop.forced.tolist()[second] == (coin < 0.5), t
        assert st_.pop.forced[1 - second]
        seen.add(bool(st_.pop.forced[second]))
    assert seen == {True, False}


def test_a_quota_of_one_person_is_a_policy_and_a_quota_with_nobody_eligible_deports_nobody():
    one = {"type": "deportation", "month": "2020-01", "host": "beta", "quota": 1, "targeting": "all"}
    s = scenario([one])
    st_ = build([{"location": BETA}], s)  # 4 persons: it crosses the quota, and goes if its coin is below 1/4
    run(deport, st_, s, {Draw.DEPORT: 0.24})
    assert st_.pop.forced[0]
    nobody = scenario([{**one, "quota": 100, "targeting": "single_men"}])
    st_ = build([{"location": BETA}, {"location": ALPHA, "single_man": True, "military_age_man": True}], nobody)
    flows = run(deport, st_, nobody, {Draw.DEPORT: 0.0})  # no warning from 100 / 0 either
    assert not st_.pop.forced.any() and flows.returns_forced_from.sum() == 0


def test_no_deportation_policy_draws_nothing_and_changes_nothing():
    s = scenario()
    draws = Draws({Draw.DEPORT: 0.0})
    st_ = build([{"registered": False}, {"location": BETA, "registered": False}], s)
    flows = run(deport, st_, s, draws)
    assert flows.changes == () and draws.used == []


# ----------------------------------------------------------------------------------- 7.5 security

SECURITY = {
    "controllers.gov.detention_on_return": 0.01,
    "controllers.gov.detention_monthly": 0.002,
    "controllers.rebels.detention_on_return": 0.04,
    "controllers.rebels.detention_monthly": 0.001,
    "security.military_age_multiplier": 2.0,
    "security.political_exposure_multiplier": 3.0,
    "security.forced_return_multiplier": 2.5,
    "security.release_monthly": 0.1,
}


def test_arrivals_are_detained_on_arrival_with_the_profile_and_forced_return_multipliers():
    s = scenario(**SECURITY)
    t = 2
    rows = [
        {"location": NORTH, "arrived": t, "forced": True},  # deportee: 0.01 * 2.5 = 0.025
        {"location": NORTH, "arrived": t},  # volunteer: 0.01
        {"location": NORTH, "arrived": t, "military_age_man": True, "exposed": True},  # 0.01 * 2 * 3 = 0.06
        {"location": SOUTH, "arrived": t, "forced": True, "status": DISPLACED},  # put down in the south: 0.04 * 2.5
        {"location": NORTH, "arrived": t, "size": 1, "single_man": True, "military_age_man": True},  # 0.02
    ]
    st_ = build(rows, s, weight=3, t=t)
    flows = run(security, st_, s, {Draw.DETAIN: [0.02, 0.02, 0.059, 0.099, 0.019]})
    pop = st_.pop
    assert pop.detained.tolist() == [1, 0, 1, 1, 1]
    assert pop.size.tolist() == [3, 4, 3, 3, 0]
    assert pop.status.tolist() == [RETURNED, RETURNED, RETURNED, DISPLACED, DETAINED]
    assert flows.detained == 4 * 3 and flows.detained_on_arrival == 4 * 3
    # just above each probability: nobody
    st_ = build(rows, s, weight=3, t=t)
    flows = run(security, st_, s, {Draw.DETAIN: [0.026, 0.011, 0.061, 0.101, 0.021]})
    assert flows.detained == 0 and st_.pop.detained.sum() == 0


def test_returnees_settled_at_home_face_the_monthly_hazard_of_their_origins_controller():
    s = scenario(**SECURITY)
    rows = [
        {"location": NORTH, "arrived": 0},  # 0.002
        {"location": SOUTH, "origin": S, "arrived": 0, "military_age_man": True},  # 0.001 * 2
        {"location": NORTH, "arrived": NEVER, "forced": True},  # forced long ago: no multiplier monthly
        {"location": NORTH, "arrived": 0},  # draw above
        {"location": ALPHA},  # displaced: no monthly hazard
    ]
    st_ = build(rows, s, t=4)
    flows = run(security, st_, s, {Draw.DETAIN: [0.0019, 0.0019, 0.0021, 0.0021, 0.0]})
    assert st_.pop.detained.tolist() == [1, 1, 0, 0, 0]
    assert flows.detained == 2 and flows.detained_on_arrival == 0


def test_amnesty_factor_multiplies_detention_of_the_profiles_and_controllers_it_covers():
    amnesty = {"type": "amnesty", "month": "2020-01", "controllers": ["gov"], "detention_factor": 0.5}
    s = scenario([amnesty], **SECURITY)
    g = Geography.from_scenario(s)
    lv = levers_at(s, g, 0)
    # region, profile (man + 2 * exposed), forced
    p = detention_risk(lv, s, lv.detention_on_return, [N, N, N, S, N], [0, 1, 3, 1, 1], [0, 0, 0, 0, 1])
    np.testing.assert_allclose(p, [0.01, 0.01 * 0.5 * 2, 0.01 * 0.5 * 6, 0.04 * 2, 0.01 * 0.5 * 2 * 2.5])
    keys = risk_by_key(lv, s, lv.detention_monthly, 2)
    np.testing.assert_allclose(keys, [0.002, 0.002, 0.006, 0.006, 0.001, 0.002, 0.003, 0.006])


def test_detention_probability_is_capped_at_one():
    s = scenario(**{**SECURITY, "controllers.gov.detention_on_return": 0.5})
    st_ = build([{"location": NORTH, "arrived": 0, "forced": True, "military_age_man": True}], s)
    lv = levers_at(s, st_.geo, 0)
    assert detention_risk(lv, s, lv.detention_on_return, [N], [1], [True])[0] == 1.0
    run(security, st_, s, {Draw.DETAIN: 0.9999})
    assert st_.pop.detained[0] == 1


def test_releases_come_before_arrests_and_a_wholly_detained_household_regains_its_status():
    s = scenario(**SECURITY)
    rows = [
        {"location": NORTH, "size": 0, "detained": 1, "status": DETAINED, "arrived": 0},  # released, home
        {"location": SOUTH, "size": 0, "detained": 2, "status": DETAINED, "arrived": 0},  # deported elsewhere
        {"location": NORTH, "size": 3, "detained": 1, "arrived": 0},  # one released, stays returned
        {"location": NORTH, "size": 0, "detained": 1, "status": DETAINED, "arrived": 0},  # not released
        {"location": NORTH, "size": 2, "detained": 1, "arrived": 0},  # released and arrested again
        {"location": NORTH, "size": 1, "detained": 1, "arrived": 0},  # the same with one at liberty: stays home
    ]
    st_ = build(rows, s, weight=5, t=6)
    draws = {Draw.RELEASE: [0.09, 0.05, 0.0, 0.11, 0.0, 0.0], Draw.DETAIN: [0.0, 0.0, 0.5, 0.0, 0.001, 0.001]}
    flows = run(security, st_, s, draws)
    pop = st_.pop
    assert pop.size.tolist() == [1, 1, 4, 0, 2, 1]
    assert pop.detained.tolist() == [0, 1, 0, 1, 1, 1]
    assert pop.status.tolist() == [RETURNED, DISPLACED, RETURNED, DETAINED, RETURNED, RETURNED]
    assert flows.released == 5 * 5 and flows.detained == 2 * 5


# ------------------------------------------------------------------------------ 7.6 re-displacement

REDISPLACEMENT = {
    "redisplacement.intercept": -3.0,
    "redisplacement.violence": 4.0,
    "redisplacement.poverty": 2.0,
    "redisplacement.property_loss": 1.5,
    "controllers.gov.violence": 0.1,
    "controllers.rebels.violence": 0.5,
    "economy.poverty_line": 0.4,
    "property.housing_livelihood_penalty": 0.4,
    "property.loss_destroyed": 1.0,
    "property.loss_occupied": 0.8,
}


def test_redisplacement_hazard_weighs_violence_poverty_and_property_loss():
    s = scenario(**REDISPLACEMENT)
    rows = [
        {"location": NORTH, "property": DESTROYED, "months_displaced": 5},  # 0.5 * 0.6 = 0.3: sigma(-3+.4+.2+1.5)
        {"location": NORTH, "months_displaced": 5},  # intact, income 0.5 above the line: sigma(-3 + 0.4)
        {"location": SOUTH, "origin": S, "skill": 0.5, "property": OCCUPIED, "months_displaced": 5},  # 0.17
        {"location": NORTH, "property": DESTROYED, "arrived": 7},  # arrived this month: exempt
        {"location": SOUTH, "property": DESTROYED},  # displaced: not a returnee
        {"location": NORTH, "property": DESTROYED, "size": 0, "detained": 1, "status": DETAINED},
    ]
    p = [sigmoid(-3 + 0.4 + 0.2 + 1.5), sigmoid(-3 + 0.4), sigmoid(-3 + 2.0 + 2 * (0.4 - 0.17) + 1.5 * 0.8)]
    st_ = build(rows, s, weight=2, t=7)
    flows = run(redisplace, st_, s, {Draw.REDISPLACE: [p[0] - 1e-4, p[1] + 1e-4, p[2] - 1e-4, 0.0, 0.0, 0.0]})
    pop = st_.pop
    # the north's displaced go to the south, the south's to the north (the toy's displacement destinations)
    assert pop.location.tolist() == [SOUTH, NORTH, NORTH, NORTH, SOUTH, NORTH]
    assert pop.status.tolist() == [REDISPLACED, RETURNED, REDISPLACED, RETURNED, DISPLACED, DETAINED]
    assert pop.months_displaced.tolist() == [0, 5, 0, 0, 0, 0]
    assert flows.redisplaced == (4 + 4) * 2
    st_ = build(rows, s, weight=2, t=7)
    run(redisplace, st_, s, {Draw.REDISPLACE: [p[0] + 1e-4, 1.0, p[2] + 1e-4, 1.0, 1.0, 1.0]})
    assert (st_.pop.status[:3] == RETURNED).all()


def test_property_loss_alone_raises_the_redisplacement_hazard():
    s = scenario(**{**REDISPLACEMENT, "economy.poverty_line": 0.0, "controllers.gov.violence": 0.0})
    st_ = build([{"location": NORTH, "property": p} for p in (INTACT, DESTROYED)], s)
    u = sigmoid(-3.0 + 1.5 / 2)  # between sigma(-3) and sigma(-3 + 1.5)
    run(redisplace, st_, s, {Draw.REDISPLACE: u})
    assert st_.pop.status.tolist() == [RETURNED, REDISPLACED]


# --------------------------------------------------------------------------------------- 7.7 property


def test_confiscation_takes_absentees_homes_at_the_hazard_less_claims():
    law = {
        "type": "property_confiscation",
        "month": "2020-01",
        "hazard": 0.5,
        "claim_window_months": 0,
        "regions": ["north"],
    }
    s = scenario([law], **{"property.claim_success": 0.2})  # 0.5 * 0.8 = 0.4
    rows = [
        {"property": INTACT},  # absent, confiscated
        {"location": SOUTH, "property": DESTROYED},  # an IDP: absent too
        {"property": OCCUPIED},  # already lost
        {"location": NORTH, "property": INTACT},  # at home
        {"origin": S, "property": INTACT},  # the south has no law
        {"property": DAMAGED},  # draw above
        {"location": SOUTH, "size": 0, "detained": 1, "status": DETAINED, "property": DAMAGED},  # held away: absent
    ]
    st_ = build(rows, s, weight=7)
    flows = run(property_, st_, s, {Draw.CONFISCATE: [0.39, 0.39, 0.0, 0.0, 0.0, 0.41, 0.1]})
    expected = [CONFISCATED, CONFISCATED, OCCUPIED, INTACT, INTACT, DAMAGED, CONFISCATED]
    assert st_.pop.property.tolist() == expected
    assert flows.properties_confiscated == 3 * 7
    assert st_.confiscated[0] == 3 * 7
    run(property_, st_, s, {Draw.CONFISCATE: 0.0})
    assert st_.confiscated[0] == 4 * 7  # cumulative: the damaged home of row 5 too


def test_no_confiscation_during_the_claim_window():
    law = {"type": "property_confiscation", "month": "2020-01", "hazard": 1.0, "claim_window_months": 2}
    s = scenario([law], **{"property.claim_success": 0.0})
    st_ = build([{}], s)
    for t in range(2):
        run(property_, st_, s, {Draw.CONFISCATE: 0.0}, t=t)
        assert st_.pop.property[0] == INTACT
    run(property_, st_, s, {Draw.CONFISCATE: 0.999}, t=2)
    assert st_.pop.property[0] == CONFISCATED


def test_restitution_gives_back_lost_homes_but_not_one_confiscated_this_month():
    events = [
        {"type": "property_confiscation", "month": "2020-01", "hazard": 1.0, "claim_window_months": 0},
        {"type": "property_restitution", "month": "2020-01", "monthly": 0.1, "repeal_confiscation": False},
    ]
    s = scenario(events, **{"property.claim_success": 0.0})
    rows = [
        {"property": OCCUPIED},
        {"location": NORTH, "property": CONFISCATED},  # at home or not
        {"property": CONFISCATED},  # draw above
        {"property": INTACT},  # confiscated this month, not restituted at once
        {"location": NORTH, "property": DAMAGED},  # not lost
    ]
    st_ = build(rows, s, weight=2)
    draws = {Draw.CONFISCATE: 0.5, Draw.RESTITUTE: [0.09, 0.05, 0.11, 0.0, 0.0]}
    flows = run(property_, st_, s, draws)
    assert st_.pop.property.tolist() == [INTACT, INTACT, CONFISCATED, CONFISCATED, DAMAGED]
    assert flows.properties_restituted == 2 * 2 and flows.properties_confiscated == 1 * 2


def test_no_property_policy_draws_nothing():
    s = scenario()
    draws = Draws({Draw.CONFISCATE: 0.0, Draw.RESTITUTE: 0.0})
    st_ = build([{"property": OCCUPIED}, {}], s)
    flows = run(property_, st_, s, draws)
    assert draws.used == [] and flows.changes == ()


def test_restitution_repeals_confiscation_by_default():
    events = [
        {"type": "property_confiscation", "month": "2020-01", "hazard": 1.0, "claim_window_months": 0},
        {"type": "property_restitution", "month": "2020-01", "monthly": 0.1},
    ]
    s = scenario(events)
    st_ = build([{}], s)
    flows = run(property_, st_, s, {Draw.CONFISCATE: 0.0})
    assert st_.pop.property[0] == INTACT and flows.properties_confiscated == 0


# ---------------------------------------------------------------------------- 7.8 savings and births

ECONOMY = {
    "economy.saving_rate": 0.5,
    "economy.poverty_line": 0.4,
    "economy.savings_max": 6.0,
    "economy.host_aid_effect": 0.3,
    "hosts.alpha.livelihood": 0.5,
    "hosts.alpha.aid": 0.3,
    "idps.livelihood_factor": 0.8,
    "property.housing_livelihood_penalty": 0.4,
    "property.loss_occupied": 0.8,
}


def test_savings_move_with_income_against_the_poverty_line():
    s = scenario(**ECONOMY)
    rows = [
        {"skill": 2.0, "savings": 1.0, "months_displaced": 5},  # alpha: (0.5 + 0.09) * 2 = 1.18
        {"skill": 0.5, "savings": 0.01},  # 0.295: below the line, floored at 0
        {"skill": 2.0, "savings": 5.9},  # capped at 6
        {"location": NORTH, "property": OCCUPIED, "savings": 1.0, "months_displaced": 5},  # 0.6 * 0.68 = 0.408
        {"location": SOUTH, "savings": 1.0, "status": REDISPLACED},  # an IDP: 0.8 * 0.3 = 0.24
        {"location": NORTH, "size": 0, "detained": 1, "status": DETAINED, "savings": 1.0},  # held: saves nothing
    ]
    st_ = build(rows, s, livelihood=np.array([0.6, 0.3]))
    flows = run(livelihoods, st_, s)
    want = [1.0 + 0.5 * 0.78, 0.0, 6.0, 1.0 + 0.5 * (0.408 - 0.4), 1.0 + 0.5 * (0.24 - 0.4), 1.0]
    np.testing.assert_allclose(st_.pop.savings, want, rtol=1e-6)
    assert st_.pop.months_displaced.tolist() == [6, 1, 1, 5, 1, 0]  # displaced only
    assert flows.births == 0


def test_each_hosts_poverty_share_is_its_refugee_households_earning_below_the_line():
    s = scenario(**ECONOMY)
    rows = [
        {"skill": 2.0},  # alpha: earns (0.5 + 0.09) * 2 = 1.18, above the line
        {"skill": 0.5},  # 0.295: below
        {"skill": 0.6, "size": 9},  # 0.354: below (households are counted, not persons)
        {"location": NORTH, "skill": 0.1},  # at home: not a refugee
        {"location": SOUTH, "skill": 0.1, "status": REDISPLACED},  # displaced inside Syria: not a refugee
    ]
    st_ = build(rows, s)
    g = st_.geo
    flows = Flows(
        returns_voluntary_from=np.zeros(g.n_locations),
        returns_voluntary_to=np.zeros((g.n_hosts, g.n_regions)),
        returns_forced_from=np.zeros(g.n_locations),
    )
    out = indicators(st_, flows, levers_at(s, g, 0), s, "2017-01")
    assert out["in_poverty_pct_alpha"] == pytest.approx(100 * 2 / 3)
    assert out["in_poverty_pct_beta"] == 0.0  # no refugee household: zero, not 0/0
    assert list(out) == columns(g)


def test_the_months_indicators_count_persons_by_status_and_place_and_copy_the_flows():
    s = scenario(**ECONOMY, **{"hosts.beta.livelihood": 0.9, "population.max_household_size": 12})
    at_line = float(np.float32(0.4 / 0.59))  # alpha earns 0.59 per unit skill: this skill earns the line exactly
    rows = [
        {"size": 4, "skill": 2.0, "perceived_risk": 0.2},  # in alpha: earns 1.18
        {"size": 3, "skill": 0.5, "perceived_risk": 0.4},  # in alpha: 0.295, below the line
        {"size": 12, "skill": at_line, "perceived_risk": 0.3},  # in alpha, the largest household: on the line
        {"location": BETA, "origin": S, "size": 5, "skill": 0.1, "perceived_risk": 0.9},  # in beta: below
        {"location": SOUTH, "size": 2, "status": REDISPLACED, "perceived_risk": 5.0},  # an IDP: not a refugee
        {"location": NORTH, "size": 6},  # back home in the north: 0.4, on the line (not below it)
        {"location": SOUTH, "origin": S, "size": 2, "skill": 0.5},  # back home in the south: 0.15, below
        {"location": NORTH, "size": 0, "detained": 1, "status": DETAINED},  # the one member held
    ]
    st_ = build(rows, s, weight=10, livelihood=np.array([0.4, 0.3]))
    st_.confiscated[:] = 3.0
    g = st_.geo
    shares = {"intend_return_12m_pct": 4.0, "intend_return_12m_pct_surveyed": 4.5, "hope_return_pct": 60.0}
    counts = {k: float(i + 1) for i, k in enumerate(reporters.FLOW_KEYS[4:]) if k not in shares}
    flows = Flows(
        returns_voluntary_from=np.array([7.0, 3.0, 11.0, 0.0]),
        returns_voluntary_to=np.array([[4.0, 3.0], [1.0, 2.0]]),
        returns_forced_from=np.array([2.0, 1.0, 0.0, 0.0]),
        intend_return_12m_pct_by_host=np.array([5.0, 7.0]),
        hope_return_pct_by_host=np.array([50.0, 70.0]),
        **counts,
        **shares,
    )
    out = indicators(st_, flows, levers_at(s, g, 0), s, "2020-01")
    assert out["month"] == "2020-01"
    assert (out["refugees"], out["refugees_alpha"], out["refugees_beta"]) == (240.0, 190.0, 50.0)
    assert (out["idps"], out["returnees"], out["detained_stock"]) == (20.0, 80.0, 10.0)
    assert (out["returns_voluntary"], out["returns_voluntary_refugees"], out["returns_voluntary_idps"]) == (21, 10, 11)
    assert (out["returns_forced"], out["returns_forced_alpha"], out["returns_forced_beta"]) == (3.0, 2.0, 1.0)
    assert (out["returns_voluntary_alpha"], out["returns_voluntary_beta"]) == (7.0, 3.0)
    assert all(out[k] == v for k, v in {**counts, **shares}.items())
    assert (out["intend_return_12m_pct_alpha"], out["intend_return_12m_pct_beta"]) == (5.0, 7.0)
    assert (out["hope_return_pct_alpha"], out["hope_return_pct_beta"]) == (50.0, 70.0)
    assert (out["returns_voluntary_to_north"], out["returns_voluntary_to_south"]) == (5.0, 5.0)
    assert (out["returns_voluntary_alpha_to_south"], out["returns_voluntary_beta_to_north"]) == (3.0, 1.0)
    assert out["properties_confiscated"] == 3.0
    assert out["returnees_in_poverty_share"] == pytest.approx(2 / 8)  # persons back home, earning skill times 0.3
    assert (out["in_poverty_pct_alpha"], out["in_poverty_pct_beta"]) == (pytest.approx(100 / 3), 100.0)
    assert out["mean_perceived_risk"] == pytest.approx(0.45)  # refugee households' mean (not the IDP's)
    assert out["origin_livelihood_mean"] == pytest.approx((0.4 * 100_000 + 0.3 * 80_000) / 180_000)


def test_a_month_with_nobody_displaced_or_back_home_reports_zeros_not_0_by_0():
    s = scenario()
    st_ = build([{"location": NORTH, "size": 0, "detained": 2, "status": DETAINED}], s)
    g = st_.geo
    flows = Flows(
        returns_voluntary_from=np.zeros(g.n_locations),
        returns_voluntary_to=np.zeros((g.n_hosts, g.n_regions)),
        returns_forced_from=np.zeros(g.n_locations),
    )  # the decision's shares by host left empty, as when nobody decided
    out = indicators(st_, flows, levers_at(s, g, 0), s, "2020-01")
    zeros = ["returnees_in_poverty_share", "mean_perceived_risk", "refugees", "returnees"]
    zeros += [
        f"{p}{h}" for p in ("intend_return_12m_pct_", "hope_return_pct_", "in_poverty_pct_") for h in g.host_names
    ]
    assert all(out[k] == 0.0 for k in zeros), {k: out[k] for k in zeros}
    assert out["detained_stock"] == 2.0


def test_households_spend_a_share_of_their_savings_each_month():
    s = scenario(**ECONOMY, **{"economy.savings_spend": 0.1})
    rows = [
        {"skill": 2.0, "savings": 1.0},  # 0.9 + 0.5 * 0.78
        {"skill": 0.5, "savings": 0.05},  # 0.045 + 0.5 * (0.295 - 0.4): floored at 0
        {"skill": 2.0, "savings": 7.0},  # 6.3 + 0.39: capped at 6
        {"location": NORTH, "size": 0, "detained": 1, "status": DETAINED, "savings": 1.0},  # held: unchanged
    ]
    st_ = build(rows, s)
    run(livelihoods, st_, s)
    np.testing.assert_allclose(st_.pop.savings, [0.9 + 0.5 * 0.78, 0.0, 6.0, 1.0], rtol=1e-6)


def test_steady_savings_are_the_fixed_point_of_the_savings_rule_scaled_to_the_mean():
    rows = [
        {"skill": 2.0},  # alpha: earns 1.18, steady 0.5 * 0.78 / 0.1 = 3.9
        {"skill": 0.5},  # below the line: 0
        {"skill": 1.2},  # 0.708: 0.5 * 0.308 / 0.1 = 1.54
        {"location": NORTH, "skill": 3.0},  # at home (not displaced): 0.6 * 3 = 1.8 -> 7, capped at 6
    ]
    fixed = scenario(**ECONOMY, **{"economy.savings_spend": 0.1, "population.savings_mean": (3.9 + 1.54) / 3})
    st_ = build(rows, fixed, livelihood=np.array([0.6, 0.3]))
    lv = levers_at(fixed, st_.geo, 0)
    steady = steady_savings(st_, lv, fixed)
    np.testing.assert_allclose(steady, [3.9, 0.0, 1.54, 6.0], rtol=1e-5)
    st_.pop.savings[:] = steady
    run(livelihoods, st_, fixed)  # a steady state: one more month changes nothing
    np.testing.assert_allclose(st_.pop.savings, steady, rtol=1e-5)
    doubled = scenario(**ECONOMY, **{"economy.savings_spend": 0.1, "population.savings_mean": 2 * (3.9 + 1.54) / 3})
    np.testing.assert_allclose(steady_savings(st_, lv, doubled), [6.0, 0.0, 3.08, 6.0], rtol=1e-5)


def test_steady_savings_cap_before_taking_the_mean_and_scale_any_mean_but_zero():
    rows = [
        {"skill": 4.0},  # 0.5 * (0.59 * 4 - 0.4) / d = 0.98 / d: above the cap of 6 when d = 0.1
        {"skill": 2.0},  # 0.39 / d
        {"skill": 0.5},  # below the line: 0
    ]
    s = scenario(**ECONOMY, **{"economy.savings_spend": 0.1, "population.savings_mean": 3.0})
    st_ = build(rows, s)
    lv = levers_at(s, st_.geo, 0)
    # capped first (6, 3.9, 0: mean 3.3), then scaled to the mean of 3 and capped again
    np.testing.assert_allclose(steady_savings(st_, lv, s), np.array([6.0, 3.9, 0.0]) * 3.0 / 3.3, rtol=1e-5)
    slow = scenario(**ECONOMY, **{"economy.savings_spend": 1.0, "population.savings_mean": 3.0})
    # nothing capped at d = 1 (0.98, 0.39, 0: mean 0.457): scaled up to the mean, then capped
    np.testing.assert_allclose(
        steady_savings(st_, lv, slow), np.minimum(np.array([0.98, 0.39, 0.0]) * 3.0 / (1.37 / 3), 6.0), rtol=1e-5
    )
    poor = build([{"skill": 0.5}, {"skill": 0.2}], s)  # no displaced household earns above the line
    np.testing.assert_array_equal(steady_savings(poor, lv, s), [0.0, 0.0])
    at_home = build([{"location": NORTH, "skill": 1.0}], s, livelihood=np.array([0.6, 0.3]))  # nobody displaced:
    np.testing.assert_allclose(steady_savings(at_home, lv, s), [0.5 * (0.6 - 0.4) / 0.1], rtol=1e-5)  # unscaled


def test_a_run_starts_from_steady_savings_only_when_households_spend():
    from returnsim.simulation import Simulation

    spend = Simulation("baseline", households_per_agent=1000).params.with_changes({"economy.savings_spend": 0.04})
    sim = Simulation(spend, households_per_agent=1000)
    np.testing.assert_allclose(sim.state.pop.savings, steady_savings(sim.state, sim.levers(0), spend), rtol=1e-6)
    mean = sim.state.pop.savings[sim.state.displaced()].mean()  # the scenario's mean, less what the cap cuts
    assert mean == pytest.approx(spend.population.savings_mean, rel=0.01)
    plain = Simulation("baseline", households_per_agent=1000)  # the baseline spends nothing: exponential start
    assert plain.params.economy.savings_spend == 0.0
    assert not np.allclose(plain.state.pop.savings, sim.state.pop.savings)
    unselected = {"population.survived_months": 0}  # (the selection of who stayed weighs savings too)
    a = Simulation(plain.params.with_changes(unselected), households_per_agent=1000)
    b = Simulation(spend.with_changes(unselected), households_per_agent=1000)
    np.testing.assert_array_equal(a.state.pop.skill, b.state.pop.skill)  # the same draws otherwise


def test_displaced_households_gain_members_at_the_growth_rate_up_to_the_largest_size():
    s = scenario(**{"population.growth_annual": 0.2, "population.max_household_size": 5})
    m = 1.2 ** (1 / 12) - 1
    rows = [
        {"size": 4},  # 4m: born
        {"size": 4},  # draw above 4m
        {"size": 5},  # at the largest size
        {"location": NORTH, "size": 4},  # at home: no growth counted
        {"location": NORTH, "origin": S, "size": 1},  # an IDP of one: m
    ]
    st_ = build(rows, s, weight=3)
    st_.births_by_origin[:] = [10, 20]  # born in earlier months
    flows = run(livelihoods, st_, s, {Draw.BIRTH: [4 * m - 1e-4, 4 * m + 1e-4, 0.0, 0.0, m - 1e-4]})
    assert st_.pop.size.tolist() == [5, 4, 5, 4, 2]
    assert flows.births == 2 * 3
    np.testing.assert_array_equal(st_.births_by_origin, [13, 23])
    assert st_.pop.months_displaced.tolist() == [1, 1, 1, 0, 1]  # the month is counted too
    assert st_.pop.savings[0] > 0  # and savings move


def test_no_growth_draws_nothing():
    s = scenario()
    draws = Draws({Draw.BIRTH: 0.0})
    st_ = build([{}], s)
    run(livelihoods, st_, s, draws)
    assert st_.pop.size[0] == 4 and Draw.BIRTH not in draws.used


# ------------------------------------------------------------------------------ 7.9 information


def test_learning_counts_ties_back_home_and_held_and_moves_perceived_risk():
    s = scenario(
        **{
            "network.learning_rate": 0.3,
            "network.media_rate": 0.02,
            "controllers.gov.detention_on_return": 0.01,
            "security.military_age_multiplier": 2.0,
        }
    )
    rows = [
        {"perceived_risk": 0.1, "info_confidence": 0.5},  # hears 1 back home, 2 held
        {"location": NORTH},  # back home and free
        {"location": NORTH, "size": 3, "detained": 1},  # home, a member held
        {"location": NORTH, "size": 0, "detained": 1, "status": DETAINED},
        {"perceived_risk": 0.1, "military_age_man": True},  # hears nothing: only the pull to the true risk
        {"location": NORTH, "perceived_risk": 0.3},  # at home: keeps its belief
    ]
    ties = [[1, 2, 3], [0, 0, 0], [1, 1, 1], [4, 4, 4], [4, 4, 0], [1, 2, 3]]
    st_ = build(rows, s, ties=ties)
    run(learn, st_, s)
    assert st_.news_back.tolist() == [1, 0, 3, 0, 0, 1]
    assert st_.news_detained.tolist() == [2, 0, 0, 0, 0, 2]
    r0 = 0.1 + 0.3 * 0.5 * (2 / 3 - 0.1) + 0.02 * (0.01 - 0.1)
    r4 = 0.1 + 0.02 * (0.02 - 0.1)
    np.testing.assert_allclose(st_.pop.perceived_risk, [r0, 0, 0, 0, r4, 0.3], rtol=1e-6)
    np.testing.assert_array_equal(st_.news_code, codes(st_.pop.status, st_.pop.detained))
    # next month, nothing changed: the counts stay, the beliefs move on
    run(learn, st_, s)
    assert st_.news_back.tolist() == [1, 0, 3, 0, 0, 1]
    back, held = count_news(st_.ties, st_.news_code)
    np.testing.assert_array_equal(back, st_.news_back)
    np.testing.assert_array_equal(held, st_.news_detained)


def test_the_network_share_back_home_enters_next_months_decision():
    s = scenario(**{"decision.network": 2.0})
    st_ = build([{"savings": 5.0}, {"location": NORTH}], s, ties=[[1, 1, 1, 1], [1, 1, 1, 1]])
    tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, 0), st_.livelihood)
    before = decide_module.inputs(st_, tab, s).network[0]
    run(learn, st_, s)
    after = decide_module.inputs(st_, tab, s).network[0]
    assert (before, after) == (0.0, 1.0)


def test_perceived_risk_update_formula():
    from returnsim.scenario import Network

    cfg = Network(learning_rate=0.4, media_rate=0.1)
    f = np.float32
    r = perceived_risk_update(
        np.array([0.2, 0.2, 0.9], f),
        np.array([0.05, 0.05, 0.05], f),
        np.array([3, 0, 0], np.int8),
        np.array([1, 0, 4], np.int8),
        np.array([0.5, 0.5, 1.0], f),
        cfg,
    )
    want = [0.2 + 0.4 * 0.5 * (0.25 - 0.2) + 0.1 * (0.05 - 0.2), 0.2 + 0.1 * (0.05 - 0.2), 0.9 + 0.4 * 0.1 - 0.085]
    np.testing.assert_allclose(r, want, rtol=1e-6)
    eager = Network(learning_rate=1.0, media_rate=0.5)  # overshoots: kept within 0 and 1
    r = perceived_risk_update(
        np.array([0.9, 0.1], f),
        np.array([1.0, 0.0], f),
        np.array([0, 1], np.int8),
        np.array([1, 0], np.int8),
        np.array([1.0, 1.0], f),
        eager,
    )
    np.testing.assert_array_equal(r, [1.0, 0.0])


def test_perceived_risk_of_rows_that_do_not_learn_is_kept_bit_for_bit():
    """``learning`` gives the other rows a rate of 0 (no masked update): their value must come back exactly,
    news or not, and the learning rows must get the same numbers as without ``learning``."""
    from returnsim.scenario import Network

    cfg, f = Network(learning_rate=0.4, media_rate=0.1), np.float32
    rng = np.random.default_rng(3)
    perceived, actual, confidence = (rng.random(200).astype(f) for _ in range(3))
    back, held = rng.integers(0, 3, 200).astype(np.int8), rng.integers(0, 2, 200).astype(np.int8)
    learning = rng.random(200) < 0.5
    r = perceived_risk_update(perceived, actual, back, held, confidence, cfg, learning=learning)
    everyone = perceived_risk_update(perceived, actual, back, held, confidence, cfg)
    np.testing.assert_array_equal(r[~learning], perceived[~learning])
    np.testing.assert_array_equal(r[learning], everyone[learning])
    assert not np.array_equal(everyone[~learning], perceived[~learning])


# --------------------------------------------------------------------------------- 7.0 levers, exact


def lever(s, name, t=0):
    return getattr(levers_at(s, Geography.from_scenario(s), t), name)


def test_event_windows_end_months_and_forever():
    s = scenario(
        [
            {"type": "host_pressure", "month": "2020-02", "end": "2020-03", "host": "alpha", "level": 0.9},
            {"type": "host_pressure", "month": "2020-05", "months": 2, "host": "beta", "level": 0.8},
            {"type": "return_package", "month": "2019-06", "host": "alpha", "subsidy": 1.0},  # before the start
        ]
    )
    alpha = [float(lever(s, "host_pressure", t)[0]) for t in range(5)]
    beta = [float(lever(s, "host_pressure", t)[1]) for t in range(8)]
    assert alpha == [0.3, 0.9, 0.9, 0.3, 0.3]
    assert beta == [0.3] * 4 + [0.8, 0.8, 0.3, 0.3]
    assert [float(lever(s, "host_return_cost", t)[0]) for t in (0, 100)] == [2.0, 2.0]


def test_within_a_kind_the_later_start_overrides_whatever_the_file_order():
    late = {"type": "host_pressure", "month": "2020-03", "host": "alpha", "level": 0.9}
    early = {"type": "host_pressure", "month": "2020-01", "host": "alpha", "level": 0.6}
    same = {"type": "host_pressure", "month": "2020-03", "host": "alpha", "level": 0.1}
    assert float(lever(scenario([late, early]), "host_pressure", 3)[0]) == 0.9
    assert float(lever(scenario([early, late]), "host_pressure", 3)[0]) == 0.9
    assert float(lever(scenario([late, same]), "host_pressure", 3)[0]) == 0.1  # same start: file order


def test_deportation_event_sets_rate_targeting_destination_or_a_quota():
    rate = {"type": "deportation", "month": "2020-01", "months": 1, "host": "beta", "rate": 0.3}
    quota = {
        "type": "deportation",
        "month": "2020-02",
        "host": "alpha",
        "quota": 500,
        "targeting": "single_men",
        "destination": "south",
    }
    s = scenario([rate, quota], **{"hosts.alpha.deportation_rate": 0.05})
    lv0, lv1 = (levers_at(s, Geography.from_scenario(s), t) for t in (0, 1))
    assert lv0.deportation_rate.tolist() == [0.05, 0.3] and np.isnan(lv0.deportation_quota).all()
    assert lv0.deportation_targeting.tolist() == [1, 1] and lv0.deportation_destination.tolist() == [ORIGIN] * 2
    assert lv1.deportation_rate.tolist() == [0.05, 0.0]  # the quota rules where it is set (deport)
    assert lv1.deportation_quota[0] == 500 and np.isnan(lv1.deportation_quota[1])
    assert lv1.deportation_targeting[0] == TARGETING.index("single_men") and lv1.deportation_destination[0] == S


def test_aid_change_sets_a_level_or_adds_a_change_within_zero_and_one():
    events = [
        {"type": "aid_change", "month": "2020-01", "host": "alpha", "level": 0.9},
        {"type": "aid_change", "month": "2020-02", "host": "alpha", "change": 0.3},
        {"type": "aid_change", "month": "2020-01", "host": "beta", "change": -0.5},
    ]
    s = scenario(events)
    assert lever(s, "host_aid", 0).tolist() == [0.9, 0.0]
    assert lever(s, "host_aid", 1).tolist() == [1.0, 0.0]


def test_host_levers_from_border_shock_and_package_events():
    events = [
        {"type": "border_closure", "month": "2020-01", "host": "beta"},
        {"type": "host_conflict_shock", "month": "2020-01", "host": "alpha", "violence": 0.3},
        {"type": "host_conflict_shock", "month": "2020-01", "host": "alpha", "violence": 0.2},
        {"type": "return_package", "month": "2020-01", "host": "alpha", "subsidy": 1.0},
        {"type": "return_package", "month": "2020-01", "host": "alpha", "subsidy": 0.5},
        {"type": "return_package", "month": "2020-01", "host": "beta", "subsidy": 9.0},
    ]
    s = scenario(events, **{"hosts.alpha.return_cost": 3.0, "hosts.beta.return_cost": 2.0})
    assert lever(s, "host_border", 0).tolist() == [1.0, 0.0]
    assert lever(s, "host_violence", 0).tolist() == [0.3, 0.0]  # the strongest shock
    assert lever(s, "host_return_cost", 0).tolist() == [1.5, 0.0]  # subsidies add up, not below 0
    reopened = scenario(
        [{"type": "border_closure", "month": "2020-01", "host": "beta", "open": True}],
        **{"hosts.beta.border_open": False},
    )
    assert lever(reopened, "host_border", 0).tolist() == [1.0, 1.0]


def test_sanctions_relief_lifts_sanctions_and_ramps_aid_up():
    relief = {"type": "sanctions_relief", "month": "2020-01", "reconstruction_aid": 0.6, "ramp_months": 4}
    keep = {"type": "sanctions_relief", "month": "2020-01", "lift_sanctions": False, "reconstruction_aid": 0.6}
    s = scenario([relief], **{"economy.reconstruction_aid": 0.1})
    assert [round(lever(s, "reconstruction_aid", t), 9) for t in range(5)] == [0.25, 0.4, 0.55, 0.7, 0.7]
    assert lever(s, "sanctions", 0) == 0.0
    k = scenario([keep], **{"economy.reconstruction_aid": 0.7})
    assert lever(k, "sanctions", 0) == 1.0 and lever(k, "reconstruction_aid", 11) == 1.0  # at most 1


def test_confiscation_law_by_region_after_its_window_and_restitution_rate():
    events = [
        {"type": "property_confiscation", "month": "2020-01", "hazard": 0.01, "regions": ["south"]},
        {"type": "property_restitution", "month": "2021-06", "monthly": 0.02, "repeal_confiscation": False},
        {"type": "property_restitution", "month": "2022-01", "monthly": 0.03},
    ]
    s = scenario(events, **{"property.confiscation_hazard": 0.001})
    assert lever(s, "confiscation_hazard", 11).tolist() == [0.001, 0.001]  # within the 12-month claim window
    assert lever(s, "confiscation_hazard", 12).tolist() == [0.001, 0.01]
    assert lever(s, "restitution_monthly", 17) == 0.02 and lever(s, "confiscation_hazard", 17)[1] == 0.01
    assert lever(s, "restitution_monthly", 24) == 0.03 and lever(s, "confiscation_hazard", 24).tolist() == [0, 0]


def test_control_change_and_conscription_events():
    events = [
        {"type": "control_change", "month": "2020-02", "region": "north", "controller": "rebels"},
        {"type": "conscription", "month": "2020-01", "controllers": ["rebels"], "enforced": True},
        {"type": "conscription", "month": "2020-03", "enforced": False},
    ]
    s = scenario(events, **{"controllers.gov.conscription": False})
    assert lever(s, "controller", 0).tolist() == [GOV, REBELS] and lever(s, "controller", 1).tolist() == [1, 1]
    assert lever(s, "conscription", 0).tolist() == [False, True]  # the named controller only
    assert lever(s, "conscription", 2).tolist() == [False, False]  # empty list: every controller


def test_amnesties_and_guarantees_multiply_detention_factors_by_controller_and_profile():
    events = [
        {"type": "amnesty", "month": "2020-01", "detention_factor": 0.5},  # military-age men, all controllers
        {
            "type": "security_guarantee",
            "month": "2020-02",
            "controllers": ["gov"],
            "profiles": ["politically_exposed", "others"],
            "detention_factor": 0.2,
            "credibility": 0.4,
        },
    ]
    s = scenario(events)
    factor = lever(s, "detention_factor", 1)
    np.testing.assert_allclose(factor, [[0.2, 0.5, 0.2, 0.1], [1.0, 0.5, 1.0, 0.5]])
    assert lever(s, "announcements", 0) == ()  # no credibility
    (a,) = lever(s, "announcements", 1)
    assert a.controllers.tolist() == [True, False] and a.profiles.tolist() == [True, False, True, True]
    assert (a.detention_factor, a.credibility) == (0.2, 0.4)
    assert lever(s, "announcements", 2) == ()  # the first month only


def test_conflict_displacement_lever_describes_the_event_in_force():
    events = [
        {"type": "host_pressure", "month": "2020-01", "host": "alpha", "level": 0.5},
        {
            "type": "conflict_displacement",
            "month": "2020-02",
            "months": 3,
            "region": "south",
            "persons": 900,
            "destinations": {"north": 1.0, "beta": 3.0},
        },
    ]
    s = scenario(events)
    assert lever(s, "displacements", 0) == () and lever(s, "displacements", 4) == ()
    (d,) = lever(s, "displacements", 2)
    # February to April 2020 is 90 days; March holds 31 of them, and 61 are ahead at its start
    assert (d.event_id, d.salt, d.region, d.share, d.persons) == ("conflict_displacement_1", 1, S, None, 900.0)
    assert (d.this_month, d.remaining_days) == (pytest.approx(31 / 90), pytest.approx(61 / 90))
    assert d.destinations.tolist() == [NORTH, BETA] and d.weights.tolist() == [0.25, 0.75]
    one_off = scenario([{**events[1], "months": None, "share": 0.2, "persons": None}])
    assert [len(lever(one_off, "displacements", t)) for t in range(3)] == [0, 1, 0]
    assert lever(one_off, "displacements", 1)[0].share == pytest.approx(0.2)  # all of it in its one month
    spread = scenario([{**events[1], "share": 0.5, "persons": None}])
    shares = [lever(spread, "displacements", t)[0].share for t in (1, 2, 3)]
    # 1 - (1 - share) ** (days this month / days of the window): 29, 31 and 30 of 90 days
    np.testing.assert_allclose(shares, [1 - 0.5 ** (d / 90) for d in (29, 31, 30)])


def test_controller_policy_changes_a_controllers_own_practice_ramped_and_pro_rata():
    events = [
        {
            "type": "controller_policy",
            "month": "2020-02",
            "controllers": ["gov"],
            "violence": 0.9,
            "detention_on_return": 0.105,
            "ramp_months": 4,
        },
        {"type": "controller_policy", "month": "2020-01", "conscription": False, "detention_monthly": 0.01},
        {
            "type": "controller_policy",
            "month": "2020-01-17",
            "end": "2020-03-10",
            "controllers": ["rebels"],
            "violence": 0.5,
        },
    ]
    s = scenario(events)
    assert lever(s, "violence", 0).tolist() == pytest.approx([0.1, 0.1 + 15 / 31 * 0.4])  # 17-31 January
    assert lever(s, "violence", 1).tolist() == pytest.approx([0.1 + 0.8 / 4, 0.5])  # a quarter of its ramp
    assert lever(s, "violence", 2).tolist() == pytest.approx([0.1 + 0.8 / 2, 0.1 + 10 / 31 * 0.4])  # 1-10 March
    assert lever(s, "violence", 4).tolist() == pytest.approx([0.9, 0.1])
    assert lever(s, "violence", 50).tolist() == pytest.approx([0.9, 0.1])
    assert lever(s, "detention_on_return", 1).tolist() == pytest.approx([0.005 + 0.1 / 4, 0.005])
    assert lever(s, "detention_monthly", 0).tolist() == [0.01, 0.01]  # no controllers named: every one
    assert lever(s, "conscription", 0).tolist() == [0.0, 0.0]  # the toy's gov enforced it


def test_authority_change_takes_listed_regions_and_every_region_of_the_controllers_it_replaces():
    events = [
        {"type": "authority_change", "month": "2020-04-20", "controller": "gov", "regions": ["north"]},
        {"type": "authority_change", "month": "2020-02-10", "controller": "council", "from_controllers": ["rebels"]},
        {"type": "control_change", "month": "2020-02", "region": "north", "controller": "rebels"},
    ]
    s = scenario(events, **{"controllers.council": {"violence": 0.0}})
    council = 2
    assert lever(s, "controller", 0).tolist() == [GOV, REBELS]
    # February: the control change first, then the new authority over whatever the rebels hold (20 of 29 days)
    assert lever(s, "controller", 1).tolist() == [council, council]
    assert lever(s, "controller", 3).tolist() == [council, council]  # 20-30 April: 11 of 30 days, not yet
    assert lever(s, "controller", 4).tolist() == [GOV, council]  # the later start is applied last


def test_idp_conditions_set_the_internally_displaced_levers_pro_rata():
    events = [
        {"type": "idp_conditions", "month": "2020-02", "months": 2, "pressure": 0.9, "return_cost": 2.0},
        {
            "type": "idp_conditions",
            "month": "2020-01-16",
            "end": "2020-01-31",
            "integration": 0.6,
            "livelihood_factor": 0.5,
        },
    ]
    s = scenario(events)
    lv = [levers_at(s, Geography.from_scenario(s), t) for t in range(4)]
    assert (lv[0].idp_integration, lv[0].idp_livelihood_factor) == pytest.approx(
        (0.2 + 16 / 31 * 0.4, 0.8 - 16 / 31 * 0.3)
    )
    assert (lv[0].idp_pressure, lv[0].idp_return_cost) == (0.3, 0.5)
    assert (lv[1].idp_pressure, lv[1].idp_return_cost, lv[1].idp_integration) == (0.9, 2.0, 0.2)
    assert (lv[3].idp_pressure, lv[3].idp_return_cost, lv[3].idp_livelihood_factor) == (0.3, 0.5, 0.8)
    # and they are what an IDP weighs: its pressure, its cost, its integration, its income where it lives
    st_ = build([{"location": SOUTH, "months_displaced": 30000}, {}], s)
    tab = Tables.build(s, st_.geo, lv[1], st_.livelihood)
    x = decide_module.inputs(st_, tab, s)
    assert (x.pressure[0], x.return_cost[0], x.pressure[1]) == pytest.approx((0.9, 2.0, 0.3))
    tab = Tables.build(s, st_.geo, lv[0], st_.livelihood)
    x = decide_module.inputs(st_, tab, s)
    assert x.integration[0] == pytest.approx(0.2 + 16 / 31 * 0.4, rel=1e-5)
    assert x.livelihood_gap[0] == pytest.approx(0.5 - 0.5 * (0.8 - 16 / 31 * 0.3), rel=1e-5)


def test_national_economy_moves_the_livelihood_target_ramped():
    event = {
        "type": "national_economy",
        "month": "2020-03",
        "national": 0.3,
        "sanctions_penalty": 0.5,
        "ramp_months": 2,
    }
    s = scenario([event], **{"regions.north.livelihood": 0.6})
    assert (lever(s, "national", 1), lever(s, "sanctions_penalty", 1)) == (0.45, 0.2)
    assert (lever(s, "national", 2), lever(s, "sanctions_penalty", 2)) == pytest.approx((0.375, 0.35))
    assert (lever(s, "national", 3), lever(s, "sanctions_penalty", 3)) == (0.3, 0.5)
    g = Geography.from_scenario(s)
    # L0 * N (1 - p S) / (N0 (1 - p0 S0)), sanctions in force
    np.testing.assert_allclose(livelihood_target(s, levers_at(s, g, 3)), [0.6 * 0.15 / 0.36, 0.5 * 0.15 / 0.36])
    only = scenario([{"type": "national_economy", "month": "2020-01", "sanctions_penalty": 0.0}])
    assert (lever(only, "national", 0), lever(only, "sanctions_penalty", 0)) == (0.45, 0.0)


def test_regime_change_moves_who_rules_pro_rata_then_ramped_and_lifts_every_households_utility_and_hope():
    event = {"type": "regime_change", "month": "2020-03-17", "regime": 0.0, "ramp_months": 2}
    s = scenario([event], **{"decision.regime": 2.0, "hope.regime": 1.0})
    assert [lever(s, "regime", t) for t in (0, 1)] == [1.0, 1.0]
    assert lever(s, "regime", 2) == pytest.approx(1 - 15 / 31 * 0.5)  # 15 of March's 31 days, half the ramp
    assert [lever(s, "regime", t) for t in (3, 11)] == [0.0, 0.0]
    g = Geography.from_scenario(s)
    st_ = build([{}, {"location": SOUTH, "origin": S}], s)  # a refugee and an IDP from another controller's region
    before, after = (Tables.build(s, g, levers_at(s, g, t), st_.livelihood) for t in (0, 3))
    np.testing.assert_allclose(after.place_utility - before.place_utility, 2.0, rtol=1e-6)
    np.testing.assert_allclose(after.hope_place - before.hope_place, 1.0, rtol=1e-6)
    x = decide_module.inputs(st_, after, s)
    assert decision.return_utility(x, s.decision) - decision.return_utility(
        decide_module.inputs(st_, before, s), s.decision
    ) == pytest.approx([2.0, 2.0], rel=1e-6)
    partial = scenario([{**event, "regime": 0.5, "ramp_months": 0}], **{"decision.regime": 2.0})
    assert lever(partial, "regime", 3) == 0.5


def test_the_fall_counts_by_how_far_the_controller_of_the_households_home_depended_on_it():
    event = {"type": "regime_change", "month": "2020-03", "regime": 0.0}
    changes = {"decision.regime": 2.0, "hope.regime": 1.0}
    s = scenario(
        [event], **changes, **{"controllers.gov.regime_exposure": 0.5, "controllers.rebels.regime_exposure": 0}
    )
    g = Geography.from_scenario(s)
    st_ = build([{}, {"location": SOUTH, "origin": S}], s)  # from the north (gov) abroad, from the south (rebels)
    before, after = (Tables.build(s, g, levers_at(s, g, t), st_.livelihood) for t in (0, 3))
    x_before, x_after = (decide_module.inputs(st_, tab, s) for tab in (before, after))
    np.testing.assert_allclose(x_after.regime, [0.5, 1.0])  # R_i = 1 - e_c (1 - R): half for gov, none for rebels
    gained = decision.return_utility(x_after, s.decision) - decision.return_utility(x_before, s.decision)
    np.testing.assert_allclose(gained, [1.0, 0.0], atol=1e-6)
    hoped = decide_module.hope_inputs(st_, after, s), decide_module.hope_inputs(st_, before, s)
    logit = [np.log(e / (1 - e)) for e in (decision.hope(h, s.hope) for h in hoped)]
    np.testing.assert_allclose(logit[0] - logit[1], [0.5, 0.0], atol=1e-5)
    # the default is every controller fully exposed: the fall counts alike for everyone, as before the key
    plain = scenario([event], **changes)
    assert list(levers_at(plain, g, 3).regime_exposure) == [1.0, 1.0]


def test_host_economy_sets_or_changes_refugees_earnings_ramped_never_below_zero():
    events = [
        {"type": "host_economy", "month": "2020-01", "host": "alpha", "change": -0.3, "ramp_months": 3},
        {"type": "host_economy", "month": "2020-01", "host": "beta", "livelihood": 0.9},
        {"type": "host_economy", "month": "2020-03", "host": "beta", "change": -1.0},
    ]
    s = scenario(events)
    assert [lever(s, "host_livelihood", t)[0] for t in range(4)] == pytest.approx([0.4, 0.3, 0.2, 0.2])
    assert [lever(s, "host_livelihood", t)[1] for t in (0, 1, 2)] == [0.9, 0.9, 0.0]


def test_border_capacity_lets_a_share_of_the_usual_returns_through():
    events = [
        {"type": "border_closure", "month": "2020-01", "host": "alpha", "capacity": 0.25},
        {"type": "border_closure", "month": "2020-01-16", "end": "2020-02-29", "host": "beta"},
    ]
    s = scenario(events, **{"decision.intercept": 2.0})
    assert lever(s, "host_border", 0).tolist() == pytest.approx([0.25, 1 - 16 / 31])
    assert lever(s, "host_border", 1).tolist() == [0.25, 0.0]
    st_ = build([{"savings": 20.0}, {"location": BETA, "savings": 20.0}], s, t=1)
    tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, 1), st_.livelihood)
    eta, q, p = decide_module.hazards(st_, tab, s)
    f = sigmoid(1.5 * (20.0 - 3.0))
    np.testing.assert_allclose(p, [eta[0] * q[0] * f * 0.25, 0.0], rtol=1e-5)


def test_a_return_across_a_front_line_costs_more_and_follows_the_controller_of_the_month():
    """Alpha's crossings lead only into the government's territory: going home to the rebels' south costs
    ``cross_line_cost`` more; once the south changes hands it costs no more; a war in the host lowers the whole.
    Beta's own cost is smaller; IDPs cross no border and pay none; a host listing no crossings charges none."""
    events = [
        {"type": "control_change", "month": "2020-02", "region": "south", "controller": "gov"},
        {"type": "host_conflict_shock", "month": "2020-03", "host": "alpha", "violence": 0.5},
    ]
    s = scenario(
        events,
        **{"hosts.alpha.crossings": ["gov"], "hosts.alpha.cross_line_cost": 2.0},
        **{"hosts.beta.crossings": ["gov"], "hosts.beta.cross_line_cost": 1.0},
    )
    rows = [{"origin": 0}, {"origin": 1}, {"location": BETA, "origin": 1}, {"location": NORTH, "origin": 1}]
    costs = []
    for t in range(3):
        st_ = build([{**r, "savings": 5.0} for r in rows], s, t=t)
        tab = Tables.build(s, st_.geo, levers_at(s, st_.geo, t), st_.livelihood)
        costs.append(tab.return_cost[st_.cell].tolist())
        eta, q, p = decide_module.hazards(st_, tab, s)
        np.testing.assert_allclose(p, eta * q * decision.expit(1.5 * (5.0 - np.array(costs[-1]))), rtol=1e-5)
    np.testing.assert_allclose(costs, [[3.0, 5.0, 4.0, 0.5], [3.0, 3.0, 3.0, 0.5], [1.5, 1.5, 3.0, 0.5]])
    plain = scenario(events)
    g = Geography.from_scenario(plain)
    assert Tables.build(plain, g, levers_at(plain, g, 0), st_.livelihood).return_cost.max() == 3.0


def test_crossings_into_a_territory_taken_over_whole_lead_into_the_new_authority_not_into_one_region_taken():
    """Alpha's crossings lead into the government's territory only. When the rebels take over all of it
    (``from_controllers``), alpha's crossings lead into theirs: no home costs more. When they take one region by
    name, its refugees in alpha must cross a front line; beta's crossings lead into the rebels' and stay so."""
    crossings = {"hosts.alpha.crossings": ["gov"], "hosts.alpha.cross_line_cost": 2.0}
    crossings |= {"hosts.beta.crossings": ["rebels"], "hosts.beta.cross_line_cost": 1.0}
    rows = [{"origin": N}, {"origin": S}, {"location": BETA, "origin": N}, {"location": BETA, "origin": S}]
    whole = {"type": "authority_change", "month": "2020-02", "controller": "rebels", "from_controllers": ["gov"]}
    named = {"type": "authority_change", "month": "2020-02", "controller": "rebels", "regions": ["north"]}

    def costs(event, t):
        s = scenario([event], **crossings)
        st_ = build(rows, s, t=t)
        return Tables.build(s, st_.geo, levers_at(s, st_.geo, t), st_.livelihood).return_cost[st_.cell].tolist()

    assert costs(whole, 0) == [3.0, 5.0, 4.0, 3.0]  # before: south behind a line from alpha, north from beta
    assert costs(whole, 1) == [3.0, 3.0, 3.0, 3.0]
    assert costs(named, 1) == [5.0, 5.0, 3.0, 3.0]
    s = scenario([whole], **crossings)
    g = Geography.from_scenario(s)
    np.testing.assert_array_equal(levers_at(s, g, 1).cross_line_cost, [[0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(g.cross_line_cost, [[0.0, 2.0], [1.0, 0.0]])  # the geography keeps the start


def test_a_host_listing_no_crossings_reaches_every_controller_whatever_its_cross_line_cost():
    s = scenario(**{"hosts.alpha.cross_line_cost": 2.0})
    assert not Geography.from_scenario(s).cross_line_cost.any()


def test_a_region_naming_no_displacement_destination_sends_its_displaced_to_the_next_region():
    east = {"controller": "gov", "prewar_population": 50000}
    changes = {"regions.north.displacement_destination": "east", "regions.south.displacement_destination": ""}
    s = scenario(**{"regions.east": east, **changes})
    # north names east; south names none: the next region, east; east names none: the next, north (wrapping)
    assert Geography.from_scenario(s).displacement_destination.tolist() == [2, 2, 0]


def test_month_labels_count_on_from_the_start():
    assert [month_label("2019-11", k) for k in (0, 1, 2, 14)] == ["2019-11", "2019-12", "2020-01", "2021-01"]


def test_levels_rates_and_quotas_act_pro_rata_in_a_month_an_event_covers_in_part():
    events = [  # 11 of January's 31 days, 22 for the quota and the second pressure
        {"type": "deportation", "month": "2020-01-21", "host": "alpha", "rate": 0.5, "targeting": "all"},
        {"type": "deportation", "month": "2020-01-10", "host": "beta", "quota": 310, "targeting": "all"},
        {"type": "host_pressure", "month": "2020-01-21", "host": "alpha", "level": 0.9},
        {"type": "aid_change", "month": "2020-01-21", "host": "alpha", "level": 0.0},
        {"type": "return_package", "month": "2020-01-21", "host": "beta", "subsidy": 3.1},
        {"type": "host_conflict_shock", "month": "2020-01-21", "host": "beta", "violence": 0.62},
        {"type": "sanctions_relief", "month": "2020-01-21", "reconstruction_aid": 0.31, "ramp_months": 0},
        {"type": "property_confiscation", "month": "2020-01-21", "hazard": 0.031, "claim_window_months": 0},
        {"type": "amnesty", "month": "2020-01-21", "profiles": ["all"], "detention_factor": 0.0},
        {"type": "conscription", "month": "2020-01-21", "enforced": False},
        {"type": "control_change", "month": "2020-01-21", "region": "north", "controller": "rebels"},
        {"type": "host_pressure", "month": "2020-01-10", "host": "beta", "level": 0.9},
        {"type": "property_restitution", "month": "2020-01-21", "monthly": 0.31, "repeal_confiscation": False},
    ]
    s = scenario(events, **{"hosts.beta.return_cost": 2.0})
    lv = levers_at(s, Geography.from_scenario(s), 0)
    w = 11 / 31
    assert lv.deportation_rate.tolist() == pytest.approx([0.5 * w, 0.0])
    assert lv.deportation_targeting.tolist() == [TARGETING.index("unregistered"), TARGETING.index("all")]
    assert lv.deportation_quota[1] == pytest.approx(220.0)
    assert lv.host_pressure.tolist() == pytest.approx([0.3 + 0.6 * w, 0.3 + 0.6 * 22 / 31])
    assert lv.host_aid[0] == pytest.approx(0.3 * (1 - w))
    assert lv.host_return_cost[1] == pytest.approx(2.0 - 1.1)
    assert lv.host_violence[1] == pytest.approx(0.22)
    assert (lv.sanctions, lv.reconstruction_aid) == pytest.approx((1 - w, 0.11))
    assert lv.confiscation_hazard.tolist() == pytest.approx([0.011, 0.011])
    assert lv.restitution_monthly == pytest.approx(0.11)
    np.testing.assert_allclose(lv.detention_factor, 1 - w)
    assert lv.conscription.tolist() == pytest.approx([1 - w, 0.0])
    assert lv.controller.tolist() == [GOV, REBELS]  # fewer than half the days: not yet
    after = levers_at(s, Geography.from_scenario(s), 1)
    assert after.deportation_rate[0] == 0.5 and after.controller.tolist() == [REBELS, REBELS]


def test_a_change_of_controller_or_of_targeting_needs_at_least_half_the_month():
    events = [  # 16-30 April 2020: 15 of 30 days, exactly half
        {"type": "control_change", "month": "2020-04-16", "region": "north", "controller": "rebels"},
        {"type": "authority_change", "month": "2020-04-16", "controller": "council", "regions": ["south"]},
        {"type": "deportation", "month": "2020-04-16", "host": "beta", "rate": 0.2, "targeting": "all"},
    ]
    s = scenario(events, **{"controllers.council": {}})
    assert lever(s, "controller", 3).tolist() == [REBELS, 2]
    assert lever(s, "deportation_targeting", 3)[1] == TARGETING.index("all")
    assert lever(s, "deportation_rate", 3)[1] == pytest.approx(0.1)
    later = scenario([{**e, "month": "2020-04-17"} for e in events], **{"controllers.council": {}})  # 14 of 30
    assert lever(later, "controller", 3).tolist() == [GOV, REBELS]
    assert lever(later, "deportation_targeting", 3)[1] == TARGETING.index("unregistered")


def test_windows_of_whole_months_count_the_days_of_a_leap_february():
    s = scenario(
        [
            {
                "type": "new_displacement",
                "month": "2000-01",
                "months": 2,
                "region": "north",
                "persons": 600,
                "destinations": {"south": 1.0},
            }
        ],
        **{"simulation.start": "2000-01"},
    )
    assert [lever(s, "new_displacements", t)[0].persons for t in (0, 1)] == pytest.approx([310.0, 290.0])


def test_registration_weights_are_the_origin_shares_normalised():
    event = {
        "type": "registration",
        "month": "2020-01",
        "host": "beta",
        "persons": 8,
        "origin_shares": {"north": 1.0, "south": 3.0},
    }
    (r,) = lever(scenario([event]), "registrations", 0)
    assert r.weights.tolist() == [0.25, 0.75]


def test_reconstruction_aid_restores_the_missing_part_of_services():
    relief = {"type": "sanctions_relief", "month": "2020-01", "reconstruction_aid": 0.6, "ramp_months": 0}
    s = scenario(
        [relief], **{"regions.north.services": 0.5, "regions.south.services": 0.9, "economy.services_aid_effect": 0.5}
    )
    assert lever(s, "services", 0).tolist() == pytest.approx([0.5 + 0.5 * 0.5 * 0.6, 0.9 + 0.1 * 0.5 * 0.6])
    assert lever(scenario(**{"regions.north.services": 0.5}), "services", 0).tolist() == [0.5, 0.5]


def test_movement_events_spread_their_persons_over_their_days():
    events = [
        {
            "type": "new_displacement",
            "month": "2020-01-16",
            "end": "2020-02-29",
            "region": "south",
            "persons": 450,
            "destinations": {"north": 1.0, "beta": 3.0},
            "temporary_share": 0.3,
            "return_months": 2,
        },
        {"type": "registration", "month": "2020-01", "months": 2, "host": "alpha", "persons": 600},
        {"type": "registration", "month": "2020-02", "host": "beta", "persons": 10, "origin_shares": {"north": 1.0}},
        {"type": "deregistration", "month": "2020-01-11", "host": "beta", "persons": 21},
        {
            "type": "housing_destruction",
            "month": "2020-02-03",
            "months": 2,
            "regions": ["south"],
            "destroyed_share": 0.1,
            "damaged_share": 0.2,
        },
    ]
    s = scenario(events)
    (d0,), (d1,) = lever(s, "new_displacements", 0), lever(s, "new_displacements", 1)
    assert (d0.persons, d1.persons) == pytest.approx((160.0, 290.0))  # 16 and 29 of 45 days
    assert (d0.event_id, d0.salt, d0.region, d0.temporary_share, d0.return_months) == (
        "new_displacement_1",
        0,
        S,
        0.3,
        2,
    )
    assert d0.destinations.tolist() == [NORTH, BETA] and d0.weights.tolist() == [0.25, 0.75]
    assert lever(s, "new_displacements", 2) == ()
    (r0,) = lever(s, "registrations", 0)
    assert (r0.host, r0.salt, r0.persons, r0.weights.tolist()) == (ALPHA, 1, pytest.approx(310.0), [0.5, 0.5])
    r1, r2 = lever(s, "registrations", 1)
    assert r1.persons == pytest.approx(290.0) and (r2.host, r2.persons, r2.weights.tolist()) == (BETA, 10.0, [1, 0])
    (g,) = lever(s, "deregistrations", 0)
    assert (g.host, g.persons) == (BETA, 21.0) and lever(s, "deregistrations", 1) == ()  # a one-off: 11-31 Jan
    (h,) = lever(s, "destructions", 1)
    assert (h.salt, h.regions.tolist(), h.destroyed_share, h.damaged_share) == (4, [False, True], 0.1, 0.2)
    assert lever(s, "destructions", 0) == () and lever(s, "destructions", 2) == ()


def test_levers_without_events_are_the_scenarios_values():
    s = scenario(
        **{
            "hosts.beta.pressure": 0.65,
            "controllers.rebels.detention_monthly": 0.004,
            "hosts.beta.deportation_destination": "south",
        }
    )
    lv = levers_at(s, Geography.from_scenario(s), 30)
    assert lv.host_pressure.tolist() == [0.3, 0.65] and lv.detention_monthly.tolist() == [0.0003, 0.004]
    assert (lv.detention_factor == 1).all() and lv.announcements == () and lv.displacements == ()
    assert lv.deportation_destination.tolist() == [ORIGIN, S]


def test_levers_are_read_only():
    s = scenario([{"type": "host_pressure", "month": "2020-01", "host": "alpha", "level": 0.5}])
    lv = levers_at(s, Geography.from_scenario(s), 0)
    for name in ("host_pressure", "controller", "detention_factor", "confiscation_hazard", "deportation_rate"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(lv, name)[0] = 0


# ------------------------------------------------------------------------ kernels at their edges


def test_kernels_at_their_edges():
    assert decision.expit(np.array([-1000.0, 1000.0])).tolist() == [0.0, 1.0]  # no overflow warning either
    never = decision.intend_within(np.array([0.1, 0.5], np.float32), 0)
    assert never.tolist() == [0.0, 0.0] and never.dtype == np.float32
    assert decision.intend_within(np.float32(0.1), 1) == pytest.approx(0.1, rel=1e-6)
    from returnsim.scenario import Redisplacement

    r = Redisplacement(intercept=-3.0, violence=1.0, poverty=2.0, property_loss=1.5)
    assert decision.redisplacement_hazard(0.0, 0.0, 1.0, r) == pytest.approx(sigmoid(-1.5))
    assert decision.redisplacement_hazard(0.5, 0.1, 0.8, r) == pytest.approx(sigmoid(-3 + 0.5 + 0.2 + 1.2))


def test_a_draw_equal_to_the_probability_does_not_fire():
    """Every decision happens when its uniform draw is *below* its probability (a draw in [0, 1) below p has
    probability exactly p); these probabilities are exactly 0.5, and so are the draws."""
    half = Draws(default=0.5)
    events = [
        {"type": "deportation", "month": "2020-01", "host": "alpha", "rate": 0.5, "targeting": "all"},
        {"type": "property_confiscation", "month": "2020-01", "hazard": 0.5, "claim_window_months": 0},
        {"type": "property_restitution", "month": "2020-01", "monthly": 0.5, "repeal_confiscation": False},
        {
            "type": "conflict_displacement",
            "month": "2020-01",
            "region": "south",
            "share": 0.5,
            "destinations": {"alpha": 1.0, "beta": 1.0},
        },
    ]
    s = scenario(
        events,
        **{
            "property.claim_success": 0.0,
            "security.release_monthly": 0.5,
            "controllers.gov.detention_on_return": 0.5,
            "controllers.gov.detention_monthly": 0.5,
            "redisplacement.intercept": 0.0,
            "redisplacement.violence": 0.0,
            "redisplacement.poverty": 0.0,
            "redisplacement.property_loss": 0.0,
            "hosts.beta.registered_share": 0.5,
        },
    )
    rows = [
        {},  # deportation at 0.5
        {"location": NORTH, "arrived": 0, "size": 2, "detained": 1},  # arrival at 0.5, release at 0.5
        {"location": NORTH, "arrived": NEVER},  # monthly detention at 0.5, re-displacement at sigma(0)
        {"property": OCCUPIED, "location": SOUTH},  # restitution at 0.5 (an IDP: confiscation of intact homes)
        {"location": SOUTH, "origin": S, "registered": True},  # flees with 0.5; destination draw 0.5 is beta
    ]
    st_ = build(rows, s, t=0)
    before = {k: v.copy() for k, v in st_.pop.columns().items()}
    for stage in (deport, security, redisplace, property_):
        run(stage, st_, s, half)
    for name in ("location", "status", "size", "detained", "property", "forced"):
        np.testing.assert_array_equal(getattr(st_.pop, name), before[name], err_msg=name)
    run(flee, st_, s, Draws({Draw.CONFLICT: 0.0, Draw.DESTINATION: 0.5, Draw.REGISTER: 0.5}))
    assert st_.pop.location[4] == BETA and not st_.pop.registered[4]  # weights 1/2, 1/2: 0.5 is the second
    growth = scenario(**{"population.growth_annual": 0.12})
    monthly = np.float32(1.12 ** (1 / 12) - 1)
    st_ = build([{"size": 3}], growth)
    run(livelihoods, st_, growth, {Draw.BIRTH: np.float32(3) * monthly})
    assert st_.pop.size[0] == 3


# ------------------------------------------------------------------------------- random small worlds

KINDS = ("refugee", "idp", "returned", "returned_held", "detained", "redisplaced", "stayer", "departed")


@st.composite
def households(draw):
    origin = draw(st.integers(0, 1))
    kind = draw(st.sampled_from(KINDS))
    other = home(1 - origin)
    location = {
        "refugee": draw(st.sampled_from([ALPHA, BETA])),
        "idp": other,
        "returned": home(origin),
        "returned_held": home(origin),
        "detained": draw(st.sampled_from([home(origin), other])),
        "redisplaced": draw(st.sampled_from([ALPHA, BETA, other])),
        "stayer": home(origin),
        "departed": draw(st.sampled_from([ALPHA, BETA])),
    }[kind]
    status = {
        "returned": RETURNED,
        "returned_held": RETURNED,
        "detained": DETAINED,
        "redisplaced": REDISPLACED,
        "stayer": STAYER,
        "departed": DEPARTED,
    }
    man = draw(st.booleans())
    size = 0 if kind == "detained" else draw(st.integers(1, 8))
    unit = st.floats(0.0, 1.0, width=32)
    return {
        "location": location,
        "origin": origin,
        "size": size,
        "military_age_man": man,
        "single_man": man and size == 1,
        "exposed": draw(st.booleans()),
        "registered": draw(st.booleans()),
        "property": draw(st.integers(0, 4)),
        "skill": draw(st.floats(0.25, 3.0, width=32)),
        "savings": draw(st.floats(0.0, 10.0, width=32)),
        "months_displaced": draw(st.integers(0, 100)),
        "perceived_risk": draw(unit),
        "info_confidence": draw(unit),
        "attachment": draw(unit),
        "status": status.get(kind, DISPLACED),
        "forced": draw(st.booleans()),
        "detained": draw(st.integers(1, 3)) if kind in ("detained", "returned_held") else 0,
        "arrived": draw(st.sampled_from([NEVER, 0] if location < 2 else [NEVER, 0, 1])),  # before this month
        "return_due": draw(st.sampled_from([NEVER, 2, 3])),  # the world's month is 2 or 3
    }


EVERYTHING = [
    {"type": "deportation", "month": "2020-01", "host": "beta", "quota": 20, "targeting": "all"},
    {"type": "property_confiscation", "month": "2020-01", "hazard": 0.3, "claim_window_months": 0},
    {"type": "property_restitution", "month": "2020-01", "monthly": 0.2, "repeal_confiscation": False},
    {"type": "amnesty", "month": "2020-03", "profiles": ["all"], "detention_factor": 0.5, "credibility": 0.5},
    {
        "type": "conflict_displacement",
        "month": "2020-03",
        "region": "south",
        "share": 0.5,
        "destinations": {"north": 1.0, "alpha": 1.0},
    },
    {
        "type": "new_displacement",
        "month": "2020-03",
        "months": 2,
        "region": "north",
        "persons": 12,
        "destinations": {"alpha": 1.0, "south": 1.0},
        "temporary_share": 0.5,
    },
    {"type": "registration", "month": "2020-03", "months": 2, "host": "beta", "persons": 10},
    {"type": "deregistration", "month": "2020-03", "months": 2, "host": "alpha", "persons": 8},
    {
        "type": "housing_destruction",
        "month": "2020-03",
        "regions": ["north", "south"],
        "destroyed_share": 0.3,
        "damaged_share": 0.3,
    },
]


@st.composite
def worlds(draw):
    """A random small state, month 2 or 3 of a scenario where every mechanism is active."""
    rows = draw(st.lists(households(), min_size=1, max_size=12))
    n = len(rows)
    k = draw(st.integers(0, 4))
    ties = [[draw(st.integers(0, n - 1)) for _ in range(k)] for _ in range(n)]
    rate = st.floats(0.0, 1.0)
    s = scenario(
        EVERYTHING,
        **{
            "decision.intercept": draw(st.floats(-6.0, 2.0)),
            "hosts.alpha.deportation_rate": draw(rate),
            "hosts.alpha.deportation_targeting": draw(st.sampled_from(TARGETING)),
            "hosts.alpha.deportation_destination": draw(st.sampled_from(["origin", "south"])),
            "controllers.gov.detention_on_return": draw(st.floats(0.0, 0.5)),
            "controllers.rebels.detention_monthly": draw(st.floats(0.0, 0.5)),
            "security.release_monthly": draw(rate),
            "redisplacement.intercept": draw(st.floats(-5.0, 1.0)),
            "population.growth_annual": draw(st.floats(0.0, 0.2)),
            "population.max_household_size": 10,
            "hope.intercept": draw(st.floats(-2.0, 4.0)),
            "hope.attachment": 2.0,
            "hope.violence": 3.0,
            "decision.services": 1.0,
            "decision.internal": 1.0,
        },
    )
    t = draw(st.integers(2, 3))
    state = build(rows, s, weight=draw(st.integers(1, 3)), t=t, ties=ties if k else None)
    seed = draw(st.integers(0, 2**32 - 1))
    return s, state, seed


def consistent(state: State) -> None:
    """Statuses agree with where households are and who is held."""
    pop, nH = state.pop, state.geo.n_hosts
    at_home = pop.location == pop.origin + nH
    status = pop.status
    assert (at_home[status == RETURNED]).all() and (at_home[status == STAYER]).all()
    assert (pop.location[status == DEPARTED] < nH).all()  # refugees who left a host's register
    assert not at_home[(status == DISPLACED) | (status == REDISPLACED)].any()
    assert ((pop.size == 0) == (status == DETAINED)).all()
    assert (pop.detained[status == DETAINED] > 0).all()
    np.testing.assert_array_equal(state.displaced(), (status == DISPLACED) | (status == REDISPLACED))


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(world=worlds())
def test_every_transition_conserves_persons_origin_by_origin(world):
    s, state, seed = world
    streams = Streams(seed)
    consistent(state)
    for stage in STAGES:
        before = persons_by_origin(state)
        born_before = state.births_by_origin.copy()
        flows = stage(state, levers_at(s, state.geo, state.t), s, streams)
        state.apply(flows.changes)
        born = state.births_by_origin - born_before
        np.testing.assert_array_equal(persons_by_origin(state), before + born, err_msg=stage.__name__)
        assert flows.births == born.sum(), stage.__name__
        consistent(state)


@PROPERTY
@given(world=worlds())
def test_flows_count_what_the_changes_do(world):
    s, state, seed = world
    streams, w = Streams(seed), state.pop.weight
    for stage in STAGES:
        pop = state.pop
        before = {k: v.copy() for k, v in pop.columns().items()}
        flows = stage(state, levers_at(s, state.geo, state.t), s, streams)
        state.apply(flows.changes)
        came_home = (pop.arrived == state.t) & (before["arrived"] != state.t)
        if stage in (decide, come_back):  # refugees' returns by the host they left and the region they went to
            g = state.geo
            abroad = came_home & (before["location"] < g.n_hosts)
            pair = before["location"][abroad].astype(int) * g.n_regions + pop.origin[abroad]
            by_pair = np.bincount(pair, before["size"][abroad] * w, minlength=g.n_hosts * g.n_regions)
            to = flows.returns_voluntary_to if len(flows.returns_voluntary_to) else np.zeros((g.n_hosts, g.n_regions))
            np.testing.assert_array_equal(to, by_pair.reshape(g.n_hosts, g.n_regions))
        if stage is decide:
            assert flows.returns_voluntary_from.sum() == (before["size"][came_home] * w).sum()
            assert not pop.forced[came_home].any()
        if stage is deport and len(flows.returns_forced_from):
            assert flows.returns_forced_from.sum() == (before["size"][came_home] * w).sum()
            assert pop.forced[came_home].all()
        if stage is security:
            assert flows.detained - flows.released == (pop.detained.sum() - before["detained"].sum()) * w
        if stage is redisplace:
            left = (before["status"] == RETURNED) & (pop.status == REDISPLACED)
            assert flows.redisplaced == (pop.size[left].astype(int) * w).sum()
        if stage is come_back:
            assert flows.returns_voluntary_from.sum() == (before["size"][came_home] * w).sum()
        left_home = (before["status"] == STAYER) & (pop.status != STAYER)
        if stage is displace_stayers:
            assert flows.newly_displaced == (pop.size[left_home].astype(int) * w).sum()
        if stage is register:
            assert flows.registered_arrivals == (pop.size[left_home].astype(int) * w).sum()
            assert (pop.location[left_home] == BETA).all() and pop.registered[left_home].all()
        if stage is deregister:
            gone = (before["status"] != DEPARTED) & (pop.status == DEPARTED)
            assert flows.deregistered == (pop.size[gone].astype(int) * w).sum()
        if stage is destroy_homes:
            assert flows.homes_destroyed == (pop.property != before["property"]).sum() * w
        if stage is property_:
            taken = (before["property"] != CONFISCATED) & (pop.property == CONFISCATED)
            given = (before["property"] >= OCCUPIED) & (pop.property == INTACT)
            assert (flows.properties_confiscated, flows.properties_restituted) == (taken.sum() * w, given.sum() * w)


def single_stage(stage, s, state, seed):
    flows = stage(state, levers_at(s, state.geo, state.t), s, Streams(seed))
    state.apply(flows.changes)
    return flows


@PROPERTY
@given(world=worlds())
def test_zero_rates_move_nobody(world):
    s, state, seed = world
    zero = s.with_changes(
        {
            "events": [],
            "hosts.alpha.deportation_rate": 0.0,
            "controllers.gov.detention_on_return": 0.0,
            "controllers.gov.detention_monthly": 0.0,
            "controllers.rebels.detention_on_return": 0.0,
            "controllers.rebels.detention_monthly": 0.0,
            "security.release_monthly": 0.0,
            "population.growth_annual": 0.0,
            "property.confiscation_hazard": 0.0,
            "property.restitution_monthly": 0.0,
        }
    )
    pop = state.pop
    before = {k: v.copy() for k, v in pop.columns().items()}
    assert single_stage(deport, zero, state, seed).changes == ()
    flows = single_stage(security, zero, state, seed)
    assert flows.detained == flows.released == 0
    flows = single_stage(property_, zero, state, seed)
    assert flows.properties_confiscated == flows.properties_restituted == 0
    flows = single_stage(livelihoods, zero, state, seed)
    assert flows.births == 0
    assert single_stage(flee, zero, state, seed).changes == ()
    assert single_stage(announce, zero, state, seed).changes == ()
    for name in ("location", "status", "size", "detained", "property", "forced", "registered"):
        np.testing.assert_array_equal(getattr(pop, name), before[name], err_msg=name)


@PROPERTY
@given(world=worlds())
def test_events_of_zero_persons_or_shares_move_nobody(world):
    s, state, seed = world
    zero = s.with_changes(
        {
            "events.new_displacement_1.persons": 0,
            "events.registration_1.persons": 0,
            "events.deregistration_1.persons": 0,
            "events.housing_destruction_1.destroyed_share": 0.0,
            "events.housing_destruction_1.damaged_share": 0.0,
            "events.conflict_displacement_1.share": 0.0,
        }
    )
    pop = state.pop
    before = {k: v.copy() for k, v in pop.columns().items()}
    flows = [single_stage(stage, zero, state, seed) for stage in (destroy_homes, flee, displace_stayers, register)]
    flows.append(single_stage(deregister, zero, state, seed))
    assert sum(f.newly_displaced + f.registered_arrivals + f.deregistered + f.homes_destroyed for f in flows) == 0
    assert sum(f.displaced_by_conflict for f in flows) == 0
    for name in ("location", "status", "property", "registered", "months_displaced", "return_due"):
        np.testing.assert_array_equal(getattr(pop, name), before[name], err_msg=name)


def moved_by(stage, s, state, seed, column="arrived") -> np.ndarray:
    """Which rows a stage changes (run on a copy of the state)."""
    copy = deepcopy(state)
    before = getattr(copy.pop, column).copy()
    single_stage(stage, s, copy, seed)
    return getattr(copy.pop, column) != before


@PROPERTY
@given(world=worlds(), more=st.floats(0.0, 1.0))
def test_more_risk_or_violence_never_more_returns_and_more_pressure_hope_or_services_never_fewer(world, more):
    s, state, seed = world
    base = moved_by(decide, s, state, seed)
    state.pop.perceived_risk[:] = np.minimum(state.pop.perceived_risk + np.float32(more), 1)
    riskier = moved_by(decide, s, state, seed)
    assert not (riskier & ~base).any()
    pushed = moved_by(decide, s.with_changes({"hosts.alpha.pressure": 1.0, "hosts.beta.pressure": 1.0}), state, seed)
    assert not (riskier & ~pushed).any()
    # violence at home lowers both the hope and the intention; more hope never means fewer returns
    violent = s.with_changes({"controllers.gov.violence": 1.0, "controllers.rebels.violence": 1.0})
    assert not (moved_by(decide, violent, state, seed) & ~riskier).any()
    hopeful = s.with_changes({"hope.intercept": s.hope.intercept + more})
    assert not (riskier & ~moved_by(decide, hopeful, state, seed)).any()
    serviced = s.with_changes({"regions.north.services": 1.0, "regions.south.services": 1.0})
    assert not (riskier & ~moved_by(decide, serviced, state, seed)).any()


@PROPERTY
@given(world=worlds(), factor=st.floats(1.0, 50.0))
def test_higher_rates_touch_more_households(world, factor):
    s, state, seed = world

    c = s.controllers
    no_release = s.with_changes({"security.release_monthly": 0.0})
    no_arrest = s.with_changes(
        {f"controllers.{n}.{k}": 0.0 for n in c for k in ("detention_on_return", "detention_monthly")}
    )
    for key, value, stage, column, base in (
        ("controllers.gov.detention_on_return", c["gov"].detention_on_return, security, "detained", no_release),
        ("controllers.rebels.detention_monthly", c["rebels"].detention_monthly, security, "detained", no_release),
        ("security.release_monthly", s.security.release_monthly, security, "detained", no_arrest),
        ("hosts.alpha.deportation_rate", s.hosts["alpha"].deportation_rate, deport, "arrived", s),
        ("events.property_confiscation_1.hazard", 0.3, property_, "property", s),
    ):
        high_scenario = base.with_changes({key: min(1.0, value * factor)})
        low, high = moved_by(stage, base, state, seed, column), moved_by(stage, high_scenario, state, seed, column)
        assert not (low & ~high).any(), key
    for key, value, stage, column in (
        ("events.new_displacement_1.persons", 12, displace_stayers, "status"),
        ("events.registration_1.persons", 10, register, "status"),
        ("events.deregistration_1.persons", 8, deregister, "status"),
        ("events.housing_destruction_1.destroyed_share", 0.3, destroy_homes, "property"),
    ):
        more = value * factor if isinstance(value, int) else min(1.0, value * factor)
        high_scenario = s.with_changes({key: int(more) if isinstance(value, int) else more})
        low, high = moved_by(stage, s, state, seed, column), moved_by(stage, high_scenario, state, seed, column)
        assert not (low & ~high).any(), key
    worse = s.with_changes({"redisplacement.intercept": s.redisplacement.intercept + factor / 10})
    assert not (
        moved_by(redisplace, s, state, seed, "status") & ~moved_by(redisplace, worse, state, seed, "status")
    ).any()


def _start(scenario, **kw):
    from returnsim.simulation import Simulation

    sim = Simulation(scenario, **kw)
    rows = np.flatnonzero(sim.state.displaced())
    tab = Tables.build(sim.params, sim.geo, sim.levers(0), sim.state.livelihood)
    p = decide_module.hazards(sim.state, tab, sim.params, rows)[2].astype(np.float64)
    return sim, rows, p


def test_the_start_keeps_the_traits_of_households_that_stayed_through_its_months(toy):
    """Rejection sampling: the traits kept follow the drawn ones weighted by s = (1 - p) ** M, so in each place
    cell the kept mean of s is E[s^2] / E[s] over unselected draws (one redraw, or weighting by 1 - p, differ)."""
    big = {"hosts.alpha.refugees": 400000, "hosts.beta.refugees": 200000, "idps.persons": 200000}
    big |= {"decision.intercept": -1.0, "decision.attachment": 4.0, "hope.intercept": 2.0}
    months = 6
    plain, rows, p0 = _start(toy(**big))
    kept, rows1, p1 = _start(toy(**big, **{"population.survived_months": months}))
    for name in ("location", "origin", "size", "status", "registered", "property"):  # the stocks do not change
        np.testing.assert_array_equal(getattr(plain.state.pop, name), getattr(kept.state.pop, name))
    np.testing.assert_array_equal(rows, rows1)
    s0, s1 = (1.0 - p0) ** months, (1.0 - p1) ** months
    # households drawn alike: one place cell (a place and a profile) and one perceived risk
    risk = np.unique(plain.state.pop.perceived_risk[rows], return_inverse=True)[1]
    kinds = plain.state.cell[rows] * (risk.max() + 1) + risk
    counts = np.bincount(kinds)
    assert (counts >= 5000).sum() >= 8
    for c in np.flatnonzero(counts >= 5000):
        here = kinds == c
        expected = (s0[here] ** 2).mean() / s0[here].mean()
        assert s1[here].mean() == pytest.approx(expected, rel=0.02), c
        assert s1[here].mean() > s0[here].mean() + 0.02  # the test has power: the selection moves it
    redrawn = np.flatnonzero(plain.state.pop.attachment != kept.state.pop.attachment)
    assert 0 < len(redrawn) < len(rows)


def test_a_start_that_selects_who_stayed_opens_without_a_burst_of_returns():
    from returnsim.simulation import Simulation

    plain = Simulation("baseline", households_per_agent=100)
    months = plain.params.population.survived_months  # the baseline's: 18
    assert months >= 12
    plain_params = plain.params.with_changes({"population.survived_months": 0})
    runs = {
        m: Simulation(plain_params.with_changes({"population.survived_months": m}), households_per_agent=100)
        for m in (0, months)
    }
    first = {m: sim.step()["returns_voluntary"] for m, sim in runs.items()}
    second = {m: sim.step()["returns_voluntary"] for m, sim in runs.items()}
    assert first[0] > 2.0 * second[0]  # unselected: the households likely to go all go in the first month
    assert first[months] < 1.3 * second[months]
    stayers = runs[0].state.pop.status == Status.STAYER  # people at home are not selected
    assert stayers.any()
    np.testing.assert_array_equal(runs[0].state.pop.skill[stayers], runs[months].state.pop.skill[stayers])


def test_selection_stops_after_its_budget_of_redraws(toy, monkeypatch):
    from returnsim.simulation import Simulation

    # every displaced household goes home whatever its traits: an event for anyone who hopes, and all hope
    gone = {"hosts.alpha.refugees": 40000, "decision.unplanned_rate": 1.0, "hope.intercept": 40.0}
    sim = Simulation(toy(**gone))
    params = sim.params.with_changes({"population.survived_months": 12.0})
    drawn = []
    real = decide_module.draw_traits
    monkeypatch.setattr(decide_module, "draw_traits", lambda cfg, rng, n: drawn.append(n) or real(cfg, rng, n))
    redrawn = decide_module.select_stayed(sim.state, sim.levers(0), params, np.random.default_rng(5))
    displaced = int(sim.state.displaced().sum())
    assert displaced > 0 and drawn == [displaced] * decide_module.SELECTION_BUDGET  # not 1000 rounds
    assert redrawn == decide_module.SELECTION_BUDGET * displaced


def test_selection_counts_its_redraws_and_does_nothing_at_zero_months(toy, monkeypatch):
    from returnsim.simulation import Simulation

    lively = {"hosts.alpha.refugees": 40000, "decision.intercept": -1.0, "hope.intercept": 2.0}
    sim = Simulation(toy(**lively))  # survived_months 0: traits as drawn
    drawn = []
    real = decide_module.draw_traits
    monkeypatch.setattr(decide_module, "draw_traits", lambda cfg, rng, n: drawn.append(n) or real(cfg, rng, n))
    before = sim.state.pop.attachment.copy()
    for months, expect_change in ((0.0, False), (1.0, True), (6.0, True)):
        drawn.clear()
        params = sim.params.with_changes({"population.survived_months": months})
        redrawn = decide_module.select_stayed(sim.state, sim.levers(0), params, np.random.default_rng(5))
        changed = int((sim.state.pop.attachment != before).sum())
        assert redrawn == sum(drawn)  # the traits drawn again, over every round
        if expect_change:
            assert 0 < changed <= redrawn  # a row may be drawn again more than once
        else:
            assert redrawn == 0 and changed == 0
        before = sim.state.pop.attachment.copy()
