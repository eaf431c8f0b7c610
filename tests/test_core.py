"""The core's contracts: an immutable scenario, addressable keys, a pure-data result, Mesa conventions,
branching from a saved state, and common random numbers."""

from __future__ import annotations

import copy
import pickle

import mesa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from returnsim import ReturnModel, load_scenario, simulate
from returnsim.cli import main
from returnsim.geography import Geography
from returnsim.levers import levers_at
from returnsim.scenario import ScenarioError
from returnsim.scenario.changes import parse_assignment
from returnsim.simulation import Simulation
from returnsim.state import StateError
from returnsim.streams import Draw, Streams
from returnsim.transitions.movements import pick

FAST = {"households_per_agent": 2000}
N_BASELINE_EVENTS = len(load_scenario("baseline").events)  # a library scenario's own events come after these


# --------------------------------------------------------------------------------- the scenario


def test_scenario_is_immutable_all_the_way_down_and_hashable():
    s = load_scenario("baseline")
    with pytest.raises(TypeError, match="read-only"):
        s.hosts["turkey"] = s.hosts["lebanon"]
    with pytest.raises(TypeError, match="read-only"):
        s.idps.origin_shares["aleppo"] = 1.0
    with pytest.raises(AttributeError):
        s.events.append(s.events[0])
    with pytest.raises(Exception, match="frozen"):
        s.hosts["turkey"].pressure = 0.9
    assert hash(s) == hash(load_scenario("baseline"))
    assert hash(s.with_changes({"decision.intercept": -5.0})) != hash(s)
    assert copy.deepcopy(s) == s and pickle.loads(pickle.dumps(s)) == s


def test_events_have_ids_and_every_key_is_addressable():
    s = load_scenario("turkey_deports_to_safe_zone")
    ids = [e.id for e in s.events]
    assert len(set(ids)) == len(ids)
    assert "deportation_1" in ids and "control_change_2" in ids
    changed = s.with_changes({"events.deportation_1.quota": 8000, "events.0.end": "2018-06"})
    assert changed.event("deportation_1").quota == 8000 and changed.events[0].end == "2018-06"
    assert s.event("deportation_1").quota == 5000  # the original is untouched


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"events.deportaton_1.quota": 1},
            "<changes>: events.deportaton_1: no event with id or index 'deportaton_1' (did you mean 'deportation_1'?)",
        ),
        (
            {"events.deportation_1.quota": -5},
            f"<changes>: events[{N_BASELINE_EVENTS}].quota = -5: must be between 0 and 1000000000",
        ),
        ({"decision.intercept": "high"}, '<changes>: decision.intercept = "high": must be a number'),
        ({"decision.intercep": 1.0}, "<changes>: decision.intercep: unknown key (did you mean 'intercept'?)"),
        ({"decision.intercept.x": 1.0}, "<changes>: decision.intercept.x: decision.intercept is a value, not a table"),
        ({"hosts.turky.pressure": 0.5}, "<changes>: hosts.turky.pressure: no host 'turky' (did you mean 'turkey'?)"),
        (
            {"events.1.id": "nasib_closure"},
            '<changes>: events[1].id: "nasib_closure" is also the id of events[0]',
        ),
    ],
)
def test_bad_changes_are_located_errors(changes, message):
    with pytest.raises(ScenarioError) as err:
        load_scenario("turkey_deports_to_safe_zone").with_changes(changes)
    assert message in err.value.problems


def test_set_values_are_read_as_toml_or_text():
    assert parse_assignment("decision.intercept=-5.5") == ("decision.intercept", -5.5)
    assert parse_assignment("economy.sanctions=false") == ("economy.sanctions", False)
    assert parse_assignment('meta.name="x y"') == ("meta.name", "x y")
    assert parse_assignment('events.amnesty_1.controllers=["government"]') == (
        "events.amnesty_1.controllers",
        ["government"],
    )
    with pytest.raises(ScenarioError, match="must be written KEY=VALUE"):
        parse_assignment("decision.intercept")


def test_event_order_within_a_month_does_not_depend_on_file_order():
    guarantee = {"type": "security_guarantee", "month": "2017-03", "controllers": ["sdf"], "detention_factor": 0.2}
    takeover = {"type": "control_change", "month": "2017-03", "region": "damascus", "controller": "sdf"}
    base = load_scenario("baseline")
    a = base.with_changes({"events": [guarantee, takeover]})
    b = base.with_changes({"events": [takeover, guarantee]})
    g = Geography.from_scenario(base)
    la, lb = levers_at(a, g, 2), levers_at(b, g, 2)
    assert int(la.controller[g.region("damascus")]) == g.controller("sdf")
    np.testing.assert_array_equal(la.detention_factor, lb.detention_factor)
    assert la.detention_factor[g.controller("sdf")].tolist() == [0.2] * 4


# ------------------------------------------------------------------------------------ the result


def test_result_is_pure_data_and_pickles():
    r = simulate("baseline", seed=3, months=4, **FAST)
    assert not any(isinstance(v, mesa.Model) for v in vars(r).values())
    back = pickle.loads(pickle.dumps(r))
    assert back.series["month"].tolist() == ["2017-01", "2017-02", "2017-03", "2017-04"]
    np.testing.assert_array_equal(back.series["refugees"], r.series["refugees"])
    assert back.scenario == r.scenario and back.provenance["common_random_numbers"] is True


def test_mesa_model_and_simulate_give_the_same_series():
    m = ReturnModel("baseline", seed=5, agents=False, **FAST)
    while m.running:
        m.step()
    frame = m.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    r = simulate("baseline", seed=5, **FAST)
    assert m.steps == 90 == r.months
    assert frame.equals(r.timeseries)


def test_model_takes_mesa_keyword_conventions():
    m = ReturnModel(households_per_agent=5000, agents=False, decision__intercept=-4.0, **{"economy.strain": 1.0})
    assert m.params.decision.intercept == -4.0 and m.params.economy.strain == 1.0
    assert m.seed == m.params.simulation.seed and m.running
    assert ReturnModel(households_per_agent=5000, agents=False, rng=7).seed == 7
    with pytest.raises(ScenarioError, match="ReturnModel"):
        ReturnModel(households_per_agent=5000, agents=False, decision__intercep=1.0)


def test_batch_run_sweeps_scenario_keys_with_readable_columns():
    rows = mesa.batch_run(
        ReturnModel,
        parameters={"households_per_agent": 5000, "agents": False, "decision.intercept": [-6.0, -4.0]},
        rng=[1],
        max_steps=1000,
        display_progress=False,
    )
    assert len(rows) == 2
    assert {r["decision.intercept"] for r in rows} == {-6.0, -4.0}
    assert all(r["month"] == "2024-06" and r["Step"] == 90 for r in rows)  # stopped at the scenario's horizon
    low, high = sorted(rows, key=lambda r: r["decision.intercept"])
    assert high["returnees"] > low["returnees"]


# -------------------------------------------------------------------------------------- branching


def test_a_branch_from_a_saved_state_equals_the_straight_run(tmp_path):
    straight = simulate("amnesty_guarantees", seed=9, months=48, **FAST)
    state = tmp_path / "history.npz"
    simulate("amnesty_guarantees", seed=9, months=30, save_state=(30, state), **FAST)
    branch = simulate("amnesty_guarantees", months=18, state=state)
    assert branch.seed == 9 and branch.series["month"][0] == "2019-07"
    for name, values in branch.series.items():
        assert list(values) == list(straight.series[name][30:]), name


def test_branches_share_history_and_differ_only_after(tmp_path):
    state = tmp_path / "history.npz"
    simulate("baseline", seed=2, months=24, save_state=(24, state), **FAST)
    base = simulate("baseline", state=state, months=12)
    quota = load_scenario("turkey_deports_to_safe_zone").with_changes({"events.deportation_1.quota": 200_000})
    policy = simulate(quota, state=state, months=12)
    assert base.series["month"][0] == policy.series["month"][0] == "2019-01"
    # the policy starts in 2019-07: the first six months of both branches are identical
    assert base.series["returns_forced"][:6].tolist() == policy.series["returns_forced"][:6].tolist()
    assert policy.series["returns_forced"][6:].sum() > 10 * max(base.series["returns_forced"][6:].sum(), 1.0)


def test_a_state_for_other_places_is_refused(tmp_path, toy):
    state = tmp_path / "s.npz"
    simulate("baseline", seed=1, months=2, save_state=(2, state), **FAST)
    with pytest.raises(StateError, match="saved from a run starting 2017-01"):
        Simulation(toy(), state=state)
    with pytest.raises(StateError, match="not a saved returnsim state"):
        Simulation("baseline", state=tmp_path)


def test_run_from_a_saved_state_on_the_command_line(tmp_path, capsys):
    state = tmp_path / "h.npz"
    args = ["--households-per-agent", "5000", "--no-plot", "--quiet"]
    assert (
        main(
            [
                "run",
                "--months",
                "6",
                "--save-state",
                str(state),
                "--save-at",
                "2017-03",
                *args,
                "--out",
                str(tmp_path / "a"),
            ]
        )
        == 0
    )
    assert (
        main(["run", "--months", "3", "--from", str(state), "--no-plot", "--quiet", "--out", str(tmp_path / "b")]) == 0
    )
    a = (tmp_path / "a" / "timeseries.csv").read_text().splitlines()
    b = (tmp_path / "b" / "timeseries.csv").read_text().splitlines()
    assert a[0] == b[0] and a[4:7] == b[1:4]
    assert main(["run", *args, "--save-state", str(state), "--save-at", "2030-01", "--out", str(tmp_path / "c")]) == 2
    assert "--save-at 2030-01: must be a month of the run, 2017-01 to 2024-06" in capsys.readouterr().err


def test_set_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["run", "--households-per-agent", "5000", "--months", "2", "--no-plot", "--quiet", "--out", str(out)]
    assert main([*args, "--set", "decision.intercept=-4", "--set", "events.nasib_closure.end=2017-01"]) == 0
    assert '"intercept": -4.0' in (out / "manifest.json").read_text()
    assert main([*args, "--set", "decision.intercept=abc"]) == 2
    assert '--set: decision.intercept = "abc": must be a number' in capsys.readouterr().err
    # the Nasib closure had the default id border_closure_1 until it was named: the old id names the new one
    assert main([*args, "--set", "events.border_closure_1.capacity=0.5"]) == 2
    err = capsys.readouterr().err
    assert "events.border_closure_1: event 'border_closure_1' is now called 'nasib_closure'" in err


# ------------------------------------------------------------------------ common random numbers


def test_a_policy_changes_only_the_households_it_touches():
    """Same seed, a deportation from Lebanon added: refugees in Turkey take exactly the same decisions. (The
    channels by which deportees reach households elsewhere are closed: what ties hear, and the strain of
    arrivals on the economy of their home region, which Turkey's refugees from there would feel.)"""
    deport = {"type": "deportation", "host": "lebanon", "month": "2017-01", "rate": 0.05, "targeting": "all"}
    closed = {"decision.network": 0.0, "network.learning_rate": 0.0, "economy.strain": 0.0}
    base = Simulation(load_scenario("baseline").with_changes(closed), seed=4, **FAST)
    events = [e.model_dump(exclude_defaults=True) | {"type": e.type} for e in base.params.events]
    policy = Simulation(base.params.with_changes({"events": [*events, deport]}), seed=4, **FAST)
    assert len(policy.state.pop) == len(base.state.pop)
    for _ in range(12):
        base.step()
        policy.step()
    assert policy.series["returns_forced"][0] > 0
    assert sum(base.series["returns_voluntary_turkey"]) > 0  # (a year: enough returns at this coarse scale)
    assert base.series["returns_voluntary_turkey"] == policy.series["returns_voluntary_turkey"]


def test_sequential_streams_are_a_different_design_with_the_same_population():
    a = Simulation("baseline", seed=4, **FAST)
    b = Simulation("baseline", seed=4, common_random_numbers=False, **FAST)
    np.testing.assert_array_equal(a.state.pop.origin, b.state.pop.origin)
    for _ in range(12):
        a.step()
        b.step()
    assert a.series["returns_voluntary"] != b.series["returns_voluntary"]


@pytest.mark.parametrize("first", [0, 1, 2, 3, 10_001, 500_000])
def test_a_household_draws_the_same_number_whichever_rows_are_asked_for(first):
    """``Streams.uniform`` jumps to the lowest row asked for; the draws must be those of the whole stream."""
    streams = Streams(11)
    whole = streams.uniform_all(Draw.ARRIVAL, 7, first + 40, salt=3)
    rows = np.array([first + 39, first, first + 1, first + 17, first + 17])
    assert np.array_equal(streams.uniform(Draw.ARRIVAL, 7, rows, salt=3), whole[rows])


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=300),
    share=st.floats(0.0, 1.2),
    seed=st.integers(0, 2**16),
)
def test_pick_takes_the_smallest_draws_up_to_the_persons_asked_for(sizes, share, seed):
    """``movements.pick`` sorts only the rows below a cut when it can: it must take exactly what sorting every
    row takes (the rows with the smallest draws while they fit, then the crossing row by its coin)."""
    rng = np.random.default_rng(seed)
    size = np.array(sizes, float)
    draws = rng.random(len(size)).astype(np.float32)
    coins = rng.random(len(size)).astype(np.float32)
    persons = share * size.sum()
    rows = np.arange(len(size)) + 1000
    expected, before = [], 0.0
    for i in np.argsort(draws, kind="stable"):
        if persons <= 0:
            break
        if before + size[i] <= persons or (before < persons and coins[i] < (persons - before) / size[i]):
            expected.append(rows[i])
        if before + size[i] > persons:
            break
        before += size[i]
    assert pick(rows, size, persons, draws, lambda row: coins[row - 1000]).tolist() == sorted(expected)


@pytest.mark.parametrize("row", [0, 1, 2, 7, 10_001, 500_000])
def test_one_row_draws_what_the_whole_stream_gives_it(row):
    streams = Streams(11)
    assert streams.one(Draw.ROUNDING, 7, row, salt=2) == streams.uniform(Draw.ROUNDING, 7, np.array([row]), salt=2)[0]
    assert streams.one(Draw.ROUNDING, 7, row, salt=2) == streams.uniform_all(Draw.ROUNDING, 7, row + 1, salt=2)[row]


def test_a_month_draws_the_same_numbers_whatever_was_drawn_before():
    """One generator per decision serves every month: what an earlier call drew must not leak into the next."""
    a, b = Streams(11), Streams(11)
    a.uniform_all(Draw.RETURN, 3, 1001)
    a.uniform(Draw.RETURN, 5, np.array([3, 900]))
    assert np.array_equal(a.uniform_all(Draw.RETURN, 4, 50), b.uniform_all(Draw.RETURN, 4, 50))
    assert not np.array_equal(b.uniform_all(Draw.RETURN, 4, 50), b.uniform_all(Draw.RETURN, 5, 50))
    assert not np.array_equal(b.uniform_all(Draw.RETURN, 4, 50), b.uniform_all(Draw.RETURN, 4, 50, salt=1))
    assert not np.array_equal(b.uniform_all(Draw.RETURN, 4, 50), b.uniform_all(Draw.DEPORT, 4, 50))


def test_a_stream_interrupted_in_a_draw_gives_the_same_numbers_next_time(monkeypatch):
    """A draw that fails half-way (out of memory, Ctrl-C) must not leave the stream out of place."""
    clean = Streams(11).uniform_all(Draw.RETURN, 4, 50)
    streams = Streams(11)
    streams.uniform_all(Draw.RETURN, 3, 7)  # the generator exists and stands somewhere
    held = streams._monthly[(int(Draw.RETURN), 0, 0)]
    real = held[0]

    class Failing:
        def random(self, *args, **kwargs):
            real.random(3, dtype=np.float32)  # moves the stream, then fails
            raise KeyboardInterrupt

    held[0] = Failing()
    with pytest.raises(KeyboardInterrupt):
        streams.uniform_all(Draw.RETURN, 9, 20)
    held[0] = real
    assert np.array_equal(streams.uniform_all(Draw.RETURN, 4, 50), clean)
