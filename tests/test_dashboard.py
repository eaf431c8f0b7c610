"""The classroom dashboard: a session driven from the page (policies act from the next month, weights for the
whole run), the map's counts, what each control means, the command, and the page itself in headless Chromium.

The browser tests drive Debian's chromium (/usr/bin/chromium) with Playwright. Without it they skip, unless
RETURNSIM_REQUIRE_BROWSER=1 (as in CI), when they fail. Screenshots go to RETURNSIM_ARTIFACTS (default: the
test's temporary folder); with RETURNSIM_UPDATE_SCREENSHOTS=1 they also replace docs/images/dashboard.png.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from returnsim import load_scenario
from returnsim.cli import main
from returnsim.dashboard import geo, policy
from returnsim.dashboard.session import Session, region_state
from returnsim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
HPA = 100  # the classroom scale: 1 agent per 100 households


@pytest.fixture(scope="module")
def baseline():
    return load_scenario("baseline")


@pytest.fixture(scope="module")
def short(baseline):
    """The baseline over its first year."""
    return baseline.with_changes({"simulation.months": 12})


# ------------------------------------------------------------------------------ region_state


def test_region_state_counts_are_the_indicators_by_place(baseline):
    s = Session(baseline, households_per_agent=2000)
    s.step(12)
    state = region_state(s.model)
    ind = s.model.indicators
    assert list(state.columns) == ["place", "kind", "displaced_here", "returned_here", "controller"]
    hosts, regions = state[state.kind == "host"].set_index("place"), state[state.kind == "region"].set_index("place")
    assert list(hosts.index) == list(baseline.hosts) and list(regions.index) == list(baseline.regions)
    for h in baseline.hosts:
        assert hosts.at[h, "displaced_here"] == ind[f"refugees_{h}"]
    assert regions["displaced_here"].sum() == ind["idps"]
    assert regions["returned_here"].sum() == ind["returnees"] > 0
    assert (hosts["returned_here"] == 0).all() and (hosts["controller"] == "").all()


def test_region_state_follows_control_changes(baseline):
    s = Session(baseline, households_per_agent=5000)
    assert region_state(s.model).set_index("place").at["raqqa", "controller"] == "isis"
    s.step(10)  # the SDF took Raqqa in October 2017 (a baseline event)
    assert region_state(s.model).set_index("place").at["raqqa", "controller"] == "sdf"


# ------------------------------------------------------------------------------ session


def test_a_policy_acts_from_the_next_month_and_the_months_shown_stay(baseline):
    s = Session(baseline, households_per_agent=HPA)
    s.step(8)  # after the baseline's own transfer from Lebanon (the Arsal evacuation, August 2017)
    shown = s.timeseries()
    s.set_policy(*policy.deportation(baseline, "lebanon", 10000))
    pd.testing.assert_frame_equal(s.timeseries(), shown)  # replayed with the same seed: history unchanged
    assert s.page_events[0]["month"] == "2017-09" and s.page_events[0]["quota"] == 10000
    s.step(3)
    plain = Session(baseline, households_per_agent=HPA)
    plain.step(11)
    forced, before = s.timeseries()["returns_forced"], plain.timeseries()["returns_forced"]
    assert (forced.iloc[8:] > 5000).all() and before.iloc[8:].max() < 2000
    assert s.timeseries()["month"].tolist() == plain.timeseries()["month"].tolist()


def test_a_lever_changed_again_ends_its_earlier_event_or_replaces_it_in_the_same_month(baseline):
    s = Session(baseline, households_per_agent=2000)
    s.step(2)
    s.set_policy(*policy.guarantee(0.5, 0.3))
    s.set_policy(*policy.guarantee(0.4, 0.3))  # same month: replaces
    assert [(e["month"], e["detention_factor"]) for e in s.page_events] == [("2017-03", 0.4)]
    s.step(2)
    s.set_policy(*policy.guarantee(0.8, 0.3))  # later: the first ends the month before, so they do not compound
    assert [(e["month"], e.get("end"), e["detention_factor"]) for e in s.page_events] == [
        ("2017-03", "2017-04", 0.4),
        ("2017-05", None, 0.8),
    ]
    assert s.policy_value("guarantee")["detention_factor"] == 0.8
    s.step(1)
    s.set_policy(*policy.guarantee(1.0, 0.3))  # back to the scenario's own policy
    assert s.page_events[-1]["end"] == "2017-05" and s.policy_value("guarantee") is None


def test_an_amnesty_for_everyone_stops_arrests_from_its_month(baseline):
    s = Session(baseline, households_per_agent=HPA)
    s.step(3)
    s.set_policy(*policy.guarantee(0.0, 1.0))
    s.step(9)
    arrests = s.timeseries()["detained"]
    assert arrests.iloc[:3].sum() > 0 and arrests.iloc[3:].sum() == 0


def test_a_decision_weight_replays_the_whole_run(baseline):
    s = Session(baseline, households_per_agent=HPA)
    s.step(6)
    before = s.timeseries()
    s.set_weights({"detention_risk": 0.0})  # nobody fears arrest any more
    after = s.timeseries()
    assert len(after) == 6 and s.effective.decision.detention_risk == 0.0
    assert after["returns_voluntary_refugees"].iloc[0] > before["returns_voluntary_refugees"].iloc[0]
    assert after["returns_voluntary_refugees"].sum() > before["returns_voluntary_refugees"].sum()


def test_invalid_input_is_a_located_error_and_changes_nothing(baseline):
    s = Session(baseline, households_per_agent=2000)
    s.step(3)
    shown = s.timeseries()
    with pytest.raises(ScenarioError) as bad:
        s.set_policy("pressure:lebanon", {"type": "host_pressure", "host": "lebanon", "level": 1.5})
    n = len(baseline.events)
    assert bad.value.problems == [f"dashboard: events[{n}].level = 1.5: must be between 0 and 1"]
    with pytest.raises(ScenarioError) as unknown:
        s.set_policy("pressure:x", {"type": "host_pressure", "host": "atlantis", "level": 0.5})
    assert unknown.value.problems == [f'dashboard: events[{n}].host: "atlantis" is not a known host']
    with pytest.raises(ScenarioError) as weight:
        s.set_weights({"feasibility_slope": -1.0})
    assert weight.value.problems[0].startswith("dashboard: decision.feasibility_slope = -1.0:")
    assert s.page_events == [] and s.weights == {}
    pd.testing.assert_frame_equal(s.timeseries(), shown)


def test_the_run_stops_at_its_last_month_and_refuses_new_policies(short):
    s = Session(short, households_per_agent=5000)
    assert len(s.step(20)) == 12 and s.finished
    with pytest.raises(ScenarioError) as done:
        s.set_policy(*policy.restitution(0.02))
    assert done.value.problems == ["dashboard: the run has reached its last month (2017-12); reset to start again"]


def test_reset_goes_back_to_the_scenario_as_loaded(short):
    s = Session(short, households_per_agent=5000)
    s.step(4)
    s.set_policy(*policy.sanctions(True, 0.5))
    s.set_weights({"violence": 0.0})
    s.reset()
    assert (s.rows, s.page_events, s.weights, s.month) == ([], [], {}, None)
    assert s.effective is short and s.next_month == "2017-01"


def test_comparison_runs_are_the_plain_runs_with_the_same_seed(short):
    from returnsim import run

    s = Session(short, households_per_agent=5000)
    s.step(2)
    s.set_policy(*policy.pressure("turkey", 1.0))
    loaded = s.comparison("loaded")
    pd.testing.assert_frame_equal(
        loaded[["month", "refugees", "returns_voluntary"]],
        run(short, households_per_agent=5000)[["month", "refugees", "returns_voluntary"]],
        check_dtype=False,
    )
    assert s.comparison("baseline")["month"].iloc[0] == "2017-01"
    with pytest.raises(ValueError, match="unknown comparison 'other'"):
        s.comparison("other")


# ------------------------------------------------------------------------------ controls


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda s: policy.deportation(s, "turkey", 5000), "deportation"),
        (lambda s: policy.pressure("lebanon", 0.9), "host_pressure"),
        (lambda s: policy.aid("jordan", 0.1), "aid_change"),
        (lambda s: policy.sanctions(True, 0.5), "sanctions_relief"),
        (lambda s: policy.sanctions(False, 0.3), "sanctions_relief"),
        (lambda s: policy.guarantee(0.5, 0.3), "security_guarantee"),
        (lambda s: policy.conscription("ended everywhere"), "conscription"),
        (lambda s: policy.who_rules("the government falls"), "regime_change"),
        (lambda s: policy.who_rules("a negotiated transition (half its hold)"), "regime_change"),
        (lambda s: policy.restitution(0.02), "property_restitution"),
    ],
)
def test_every_control_makes_a_valid_event(short, change, kind):
    s = Session(short, households_per_agent=5000)
    s.step(1)
    s.set_policy(*change(short))
    added = s.all_events()[-1]
    assert added["type"] == kind and added["month"] == "2017-02"


def test_controls_back_at_the_scenario_value_add_no_event(short):
    assert policy.sanctions(False, 0.0)[1] is None
    assert policy.guarantee(1.0, 0.5)[1] is None
    assert policy.conscription("as in the scenario")[1] is None
    assert policy.restitution(0.0)[1] is None
    with pytest.raises(ValueError, match="'sometimes' is not one of"):
        policy.conscription("sometimes")
    assert policy.who_rules("as in the scenario") == ("regime", None)


def test_who_rules_makes_a_regime_change_over_the_fitted_three_months():
    assert policy.who_rules("the government falls") == (
        "regime",
        {"type": "regime_change", "regime": 0.0, "ramp_months": 3},
    )
    assert policy.who_rules("a negotiated transition (half its hold)")[1]["regime"] == 0.5
    with pytest.raises(ValueError) as bad:
        policy.who_rules("a coup")
    assert str(bad.value) == (
        "who_rules: 'a coup' is not one of as in the scenario, the government falls, "
        "a negotiated transition (half its hold)"
    )


# ------------------------------------------------------------------------------ map data


def test_every_place_of_the_library_has_coordinates_with_a_source(baseline):
    places = geo.places().set_index("place")
    assert set(baseline.hosts) | set(baseline.regions) <= set(places.index)
    assert places["source"].str.startswith("GeoNames ").all() and places["point"].str.len().gt(0).all()
    regions = places[places.kind == "region"]
    assert regions["lon"].between(35.5, 42.5).all() and regions["lat"].between(32.0, 37.5).all()  # inside Syria


def test_outlines_draw_syria_and_its_neighbours_and_far_places_sit_at_the_edge():
    countries, xs, ys = geo.patches()
    assert {"Syria", "Turkey", "Lebanon", "Jordan", "Iraq"} <= set(countries)
    assert all(len(x) == len(y) >= 4 for x, y in zip(xs, ys, strict=True))
    labels = geo.country_labels().set_index("country")
    assert 36 < labels.at["Syria", "lon"] < 40 and 33 < labels.at["Syria", "lat"] < 37
    import numpy as np

    x, y, moved = geo.in_view(np.array([13.4, 36.3]), np.array([52.5, 33.5]))
    assert moved.tolist() == [True, False] and x[1] == 36.3
    assert geo.VIEW_LON[0] < x[0] < geo.VIEW_LON[1] and geo.VIEW_LAT[0] < y[0] < geo.VIEW_LAT[1]


# ------------------------------------------------------------------------------ the command


def test_dashboard_command_checks_its_input_before_serving(capsys):
    assert main(["dashboard", "no_such_scenario"]) == 2
    assert "no_such_scenario: no such scenario file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_port:
        main(["dashboard", "--port", "70000"])
    assert bad_port.value.code == 2
    assert "70000 is not a port number (1-65535)" in capsys.readouterr().err
    from returnsim.cli import build_parser

    assert build_parser().parse_args(["dashboard"]).host == "127.0.0.1"


def test_dashboard_command_names_the_missing_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "panel", None)  # as if panel were not installed
    monkeypatch.delitem(sys.modules, "returnsim.dashboard.app", raising=False)
    assert main(["dashboard"]) == 1
    assert "pip install 'returnsim[dashboard]'" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the page, in Chromium


def artifact(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("RETURNSIM_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def publish(shot: Path, name: str) -> None:
    """Copy a screenshot into docs/images/ (the README's) when RETURNSIM_UPDATE_SCREENSHOTS=1."""
    if os.environ.get("RETURNSIM_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "images" / name)


def local(url: str, port: int) -> bool:
    """Whether a request stays on this computer's server (blob: and data: URLs are made by the page itself)."""
    if url.startswith("data:"):
        return True
    if url.startswith("blob:"):
        url = url[5:]
    parsed = urlparse(url)
    return parsed.hostname == "127.0.0.1" and parsed.port == port


@pytest.fixture(scope="module")
def server(tmp_path_factory, chromium):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("server") / "server.log"
    command = [sys.executable, "-m", "returnsim", "dashboard", "baseline", "--port", str(port), "--host", "127.0.0.1"]
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"the dashboard did not start:\n{log.read_text()}")
                time.sleep(0.2)
        yield port, proc, log
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def page(server, tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    port, _proc, _log = server
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            **chromium,
            viewport={"width": 1400, "height": 1000},
        )
        urls: list[str] = []
        context.on("request", lambda request: urls.append(request.url))
        pg = context.pages[0] if context.pages else context.new_page()
        pg.on("websocket", lambda ws: urls.append(ws.url))
        pg.goto(f"http://127.0.0.1:{port}/")
        pg.wait_for_function(
            "() => window.Bokeh && Bokeh.documents.length && Bokeh.documents[0].get_model_by_name('series')",
            timeout=60000,
        )
        yield pg, urls, port
        context.close()


SERIES = "(name) => Bokeh.documents[0].get_model_by_name(name).data"


def series(pg, column: str) -> list[float]:
    return pg.evaluate(f"(c) => Array.from(({SERIES})('series')[c])", column)


def months_shown(pg) -> int:
    return pg.evaluate(f"() => ({SERIES})('series').x.length")


def slider(pg, title: str):
    """The handle of the slider whose title starts with ``title`` (each slider has one title and one handle)."""
    titles = pg.locator(".bk-slider-title").all_inner_texts()
    index = next(i for i, t in enumerate(titles) if t.startswith(title))
    return pg.locator(".noUi-handle").nth(index)


def step(pg, times: int = 1) -> None:
    button = pg.get_by_role("button", name="Step")
    for _ in range(times):
        n = months_shown(pg)
        button.click()
        pg.wait_for_function(f"() => ({SERIES})('series').x.length > {n}", timeout=30000)


def test_page_moves_a_policy_slider_steps_and_stays_on_this_computer(page, tmp_path):
    pg, urls, port = page
    assert months_shown(pg) == 0
    step(pg)
    assert months_shown(pg) == 1
    assert pg.get_by_text("The fall of the government (December 2024)").count() == 1  # beside the security controls
    before = series(pg, "returns_forced")
    handle = slider(pg, "Deportations")  # the host shown first is Turkey
    handle.focus()
    for _ in range(8):  # 8 x 500 persons a month
        pg.keyboard.press("ArrowRight")
    pg.get_by_text("From February 2017: Turkey deports 4k/month.").wait_for(timeout=30000)
    step(pg)
    forced = series(pg, "returns_forced")
    assert forced[0] == before[0] < 1000 and forced[1] > 2000  # the chart's data changed: the quota acts
    captions = pg.evaluate(f"() => Array.from(({SERIES})('events').caption)")
    assert "Turkey deports 4k/month" in captions  # the policy start is marked
    pg.locator("select").nth(1).select_option(label="this scenario without my changes")
    pg.wait_for_function(f"() => ({SERIES})('comparison').x.length == 2", timeout=30000)
    assert series(pg, "returns_forced")[1] > pg.evaluate(f"() => ({SERIES})('comparison').returns_forced[1]")
    step(pg, 22)
    shot = artifact(tmp_path, "dashboard.png")
    pg.screenshot(path=str(shot), full_page=True)
    publish(shot, "dashboard.png")
    assert shot.stat().st_size > 50_000
    assert urls and [u for u in urls if not local(u, port)] == []


def test_a_bad_scenario_file_shows_a_message_and_the_server_stays_up(page, server):
    pg, urls, port = page
    pg.locator("input[type=file]").set_input_files(
        {
            "name": "broken.toml",
            "mimeType": "application/toml",
            "buffer": b'extends = "baseline.toml"\n[hosts.turkey]\npressure = 1.5\n',
        }
    )
    pg.get_by_text("broken.toml: hosts.turkey.pressure = 1.5: must be between 0 and 1").wait_for(timeout=30000)
    step(pg)  # the page still works
    assert months_shown(pg) == 1
    pg.get_by_role("button", name="▶ Play").click()  # play runs months on by itself until paused
    pg.wait_for_function(f"() => ({SERIES})('series').x.length >= 3", timeout=30000)
    pg.get_by_role("button", name="❚❚ Pause").click()
    pg.get_by_role("button", name="▶ Play").wait_for(timeout=10000)
    time.sleep(0.3)  # a month already on its way may still arrive
    paused = months_shown(pg)
    time.sleep(0.6)  # more than two periods at 4 months a second
    assert months_shown(pg) == paused
    who_rules = pg.locator("select").filter(has=pg.locator("option", has_text="the government falls"))
    who_rules.select_option(label="the government falls")  # a policy set from a choice list acts too
    pg.get_by_text(re.compile(r"^From \w+ \d{4}: Government falls\.$")).wait_for(timeout=30000)
    assert server[1].poll() is None  # and so does the server
    assert [u for u in urls if not local(u, port)] == []


@pytest.mark.parametrize("command", ["dashboard", "report"])
def test_the_readme_shows_each_classroom_command_with_the_flags_it_has(command):
    from returnsim.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    usage = re.search(rf"`returnsim {command} ([^`]*)`", readme).group(1)
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    flags = {o for a in sub._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
    assert set(re.findall(r"--[\w-]+", usage)) == flags
