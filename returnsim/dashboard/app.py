"""The classroom page: a scenario picker, policy and decision-weight controls, play / step / reset, live
charts and a map, served by Panel (Bokeh's JavaScript ships inside the packages, so the page needs no
internet).

Each browser tab gets its own :class:`Dashboard` (and so its own model). A bad uploaded scenario or an
invalid value shows a message on the page; the server keeps running.
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import traceback
from pathlib import Path

import panel as pn

from returnsim import style
from returnsim.dashboard import policy
from returnsim.dashboard.charts import COMPARISON_NOTE, MAP_SENTENCE, Charts
from returnsim.dashboard.session import WEIGHTS, Session
from returnsim.scenario import Scenario, ScenarioError, builtin_scenarios, load_scenario

log = logging.getLogger(__name__)

TITLE = "returnsim classroom"
HOW_CHANGES_ACT = (
    "A policy set here starts next month and the months already shown stay as they were; a decision weight "
    "applies to the whole run, which is replayed from the start."
)
#: beside the security controls: which of them the counts after December 2024 support
SECURITY_NOTE = (
    "The fall of the government (December 2024) is fitted to what UNHCR counted after it: 'Who rules' moves "
    "returns most. An amnesty, a guarantee or the end of military service under the same government moves them "
    "little; no count isolates their effect."
)
COMPARISONS = {"nothing": "none", "this scenario without my changes": "loaded", "the built-in baseline": "baseline"}
CSS = """
.rs-sentence { font-size: 9.5pt; color: #444; margin-top: -6px; }
.rs-note { font-size: 9pt; color: #555; }
"""


def load_uploaded(filename: str, data: bytes) -> Scenario:
    """A scenario file uploaded on the page. It may extend a built-in scenario by file name
    (``extends = "baseline.toml"``). Errors name the uploaded file, not where it was stored."""
    name = Path(filename or "uploaded.toml").name
    if not name.endswith(".toml"):
        raise ScenarioError([f"{name}: not a scenario file (a .toml file is expected)"])
    with tempfile.TemporaryDirectory(prefix="returnsim-upload-") as tmp:
        for path in builtin_scenarios().values():
            shutil.copy(path, Path(tmp) / path.name)
        target = Path(tmp) / name
        target.write_bytes(data)
        try:
            return load_scenario(target)
        except ScenarioError as exc:
            raise ScenarioError([p.replace(f"{tmp}/", "") for p in exc.problems]) from None


def _guarded(method):
    """Run a page callback; show a bad input (or any failure) as a message on the page instead of failing."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            result = method(self, *args, **kwargs)
        except ScenarioError as exc:
            self.show_error("\n".join(exc.problems))
        except Exception as exc:  # the server must stay up: report on the page and in the log
            log.error("dashboard callback %s failed:\n%s", method.__name__, traceback.format_exc())
            self.show_error(f"Something went wrong ({type(exc).__name__}: {exc}). The page still works.")
        else:
            return result

    return run


class Dashboard:
    """One page: controls, a session and its charts."""

    def __init__(
        self,
        scenario: Scenario,
        label: str,
        *,
        seed: int | None = None,
        households_per_agent: int | None = None,
    ):
        self.seed, self.households_per_agent = seed, households_per_agent
        self.scenarios: dict[str, Scenario | None] = {name: None for name in builtin_scenarios()}
        self.scenarios[label] = scenario
        self._quiet = False  # set while controls are moved by the page itself
        self._player = None

        self.picker = pn.widgets.Select(name="Scenario", options=list(self.scenarios), value=label, width=300)
        self.upload = pn.widgets.FileInput(accept=".toml", name="or upload a scenario file", width=300)
        self.description = pn.pane.Markdown("", css_classes=["rs-note"], width=300)
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, width=300, name="message")
        self.notice = pn.pane.Markdown("", css_classes=["rs-note"], width=300, name="notice")
        self.status = pn.pane.Markdown("", name="status", width=300)
        self.play = pn.widgets.Toggle(name="▶ Play", button_type="success", width=90)
        self.step_button = pn.widgets.Button(name="Step", button_type="primary", width=90)
        self.reset_button = pn.widgets.Button(name="Reset", button_type="warning", width=90)
        self.speed = pn.widgets.IntSlider(name="Speed (months per second)", start=1, end=12, value=4, width=280)
        self.compare = pn.widgets.Select(name="Compare with", options=COMPARISONS, value="none", width=300)

        self.host = pn.widgets.Select(name="Host country", width=280)
        self.deport = pn.widgets.IntSlider(
            name="Deportations (persons a month; 0 = none)", start=0, end=20000, step=500, value=0, width=280
        )
        self.pressure = pn.widgets.FloatSlider(name="Pressure on refugees", start=0, end=1, step=0.05, width=280)
        self.aid = pn.widgets.FloatSlider(name="Aid to refugees", start=0, end=1, step=0.05, width=280)
        self.lift = pn.widgets.Checkbox(name="Lift sanctions on Syria", width=280)
        self.recon = pn.widgets.FloatSlider(
            name="Reconstruction aid (reached over a year)", start=0, end=1, step=0.05, value=0, width=280
        )
        self.who_rules = pn.widgets.Select(name="Who rules", options=list(policy.WHO_RULES), width=280)
        self.guarantee = pn.widgets.FloatSlider(
            name="Arrests of returnees (x as now; 1 = no amnesty)", start=0, end=1, step=0.05, value=1, width=280
        )
        self.credibility = pn.widgets.FloatSlider(
            name="Amnesty believed at once", start=0, end=1, step=0.05, value=0.3, width=280
        )
        self.conscription = pn.widgets.Select(name="Military service", options=list(policy.CONSCRIPTION), width=280)
        self.restitution = pn.widgets.FloatSlider(
            name="Homes given back each month (%)", start=0, end=5, step=0.1, value=0, width=280
        )
        self.weights = {
            key: pn.widgets.FloatSlider(name=text, start=0, end=1, step=0.1, width=280) for key, text in WEIGHTS.items()
        }

        self.map_legend = pn.pane.HTML("")
        self.main = pn.Column(sizing_mode="stretch_width")
        self._wire()
        self._start(scenario)

    # ---------------------------------------------------------------------------- layout

    def view(self) -> pn.viewable.Viewable:
        controls = pn.Column(
            pn.pane.Markdown(f"## {TITLE}"),
            self.picker,
            self.description,
            self.upload,
            pn.Row(self.play, self.step_button, self.reset_button),
            self.speed,
            self.status,
            self.compare,
            self.message,
            self.notice,
            pn.Card(
                pn.pane.Markdown(HOW_CHANGES_ACT, css_classes=["rs-note"], width=280),
                self.host,
                self.deport,
                self.pressure,
                self.aid,
                pn.layout.Divider(),
                self.lift,
                self.recon,
                pn.pane.Markdown(SECURITY_NOTE, css_classes=["rs-note"], width=280),
                self.who_rules,
                self.guarantee,
                self.credibility,
                self.conscription,
                self.restitution,
                title="Policies",
                width=310,
            ),
            pn.Card(
                pn.pane.Markdown(
                    "How much each reason weighs in a family's decision to go home.", css_classes=["rs-note"], width=280
                ),
                *self.weights.values(),
                title="Decision weights",
                width=310,
                collapsed=True,
            ),
            width=320,
        )
        return pn.Row(controls, self.main, sizing_mode="stretch_width")

    def _layout_charts(self) -> None:
        def block(fig, sentence):
            return pn.Column(
                pn.pane.Bokeh(fig, sizing_mode="stretch_width"),
                pn.pane.Markdown(sentence, css_classes=["rs-sentence"]),
                sizing_mode="stretch_width",
            )

        charts = [block(self.charts.figures[spec.key], spec.sentence) for spec in self.charts.specs]
        self.map_legend.object = self.charts.map_legend_html(self.session)
        self.main.objects = [
            pn.Row(
                pn.Column(
                    pn.pane.Bokeh(self.charts.map),
                    self.map_legend,
                    pn.pane.Markdown(MAP_SENTENCE, css_classes=["rs-sentence"], width=640),
                ),
            ),
            pn.pane.Markdown(COMPARISON_NOTE, css_classes=["rs-note"]),
            pn.GridBox(*charts, ncols=2, sizing_mode="stretch_width"),
        ]

    # ---------------------------------------------------------------------------- wiring

    def _wire(self) -> None:
        self.picker.param.watch(self._on_pick, "value")
        self.upload.param.watch(self._on_upload, "value")
        self.step_button.on_click(self._on_step)
        self.reset_button.on_click(self._on_reset)
        self.play.param.watch(self._on_play, "value")
        self.speed.param.watch(self._on_speed, "value_throttled")
        self.compare.param.watch(self._on_compare, "value")
        self.host.param.watch(self._on_host, "value")
        for widget, make in (
            (self.deport, lambda: policy.deportation(self.session.scenario, self.host.value, self.deport.value)),
            (self.pressure, lambda: policy.pressure(self.host.value, self.pressure.value)),
            (self.aid, lambda: policy.aid(self.host.value, self.aid.value)),
            (self.recon, lambda: policy.sanctions(self.lift.value, self.recon.value)),
            (self.guarantee, lambda: policy.guarantee(self.guarantee.value, self.credibility.value)),
            (self.credibility, lambda: policy.guarantee(self.guarantee.value, self.credibility.value)),
            (self.restitution, lambda: policy.restitution(self.restitution.value / 100)),
        ):
            widget.param.watch(functools.partial(self._on_policy, make), "value_throttled")
        self.lift.param.watch(
            functools.partial(self._on_policy, lambda: policy.sanctions(self.lift.value, self.recon.value)), "value"
        )
        self.conscription.param.watch(
            functools.partial(self._on_policy, lambda: policy.conscription(self.conscription.value)), "value"
        )
        self.who_rules.param.watch(
            functools.partial(self._on_policy, lambda: policy.who_rules(self.who_rules.value)), "value"
        )
        for key, widget in self.weights.items():
            widget.param.watch(functools.partial(self._on_weight, key), "value_throttled")

    def _start(self, scenario: Scenario) -> None:
        """A new session on ``scenario``: controls set to its values, charts rebuilt."""
        self._stop_playing()
        self.session = Session(scenario, seed=self.seed, households_per_agent=self.households_per_agent)
        self.charts = Charts(self.session)
        self.description.object = scenario.meta.description or ""
        self._reset_controls()
        self._layout_charts()
        self._redraw()

    def _reset_controls(self) -> None:
        s = self.session.scenario
        self._quiet = True
        try:
            display = style.names(s.model_dump(mode="json"))
            self.host.options = {display[h]: h for h in s.hosts}
            self.host.value = next(iter(s.hosts))
            self._host_controls()
            self.lift.value = False
            self.recon.value = 0.0
            self.who_rules.value = next(iter(policy.WHO_RULES))
            self.guarantee.value = 1.0
            self.credibility.value = 0.3
            self.conscription.value = next(iter(policy.CONSCRIPTION))
            self.restitution.value = 0.0
            for key, widget in self.weights.items():
                default = float(getattr(s.decision, key))
                widget.end = max(2.0 * abs(default), 1.0)
                widget.step = widget.end / 40
                widget.value = default
        finally:
            self._quiet = False

    def _host_controls(self) -> None:
        """Show the selected host's levers as they stand now: the page's own policy, else the scenario's value."""
        host = self.host.value
        scenario_host = self.session.scenario.hosts[host]
        deport = self.session.policy_value(f"deportation:{host}")
        pressure = self.session.policy_value(f"pressure:{host}")
        aid = self.session.policy_value(f"aid:{host}")
        self.deport.value = int(deport["quota"]) if deport else 0
        self.pressure.value = pressure["level"] if pressure else scenario_host.pressure
        self.aid.value = aid["level"] if aid else scenario_host.aid

    # ---------------------------------------------------------------------------- messages

    def show_error(self, text: str) -> None:
        self.message.object = text
        self.message.visible = True

    def _clear_error(self) -> None:
        self.message.visible = False
        self.message.object = ""

    def _redraw(self) -> None:
        self.charts.redraw(self.session, self._comparison())
        self._show_status()

    def _comparison(self):
        which = self.compare.value
        return None if which == "none" else self.session.comparison(which)

    def _show_status(self) -> None:
        s = self.session
        month = style.month_index([s.month]).strftime("%B %Y")[0] if s.month else "not started"
        done = " — the end of the run" if s.finished else ""
        self.status.object = (
            f"**{month}** (month {len(s.rows)} of {s.months}){done}  \n"
            f"seed {s.seed}, 1 agent = {s.households_per_agent} households"
        )

    # ---------------------------------------------------------------------------- callbacks

    @_guarded
    def _on_pick(self, event) -> None:
        name = event.new
        scenario = self.scenarios.get(name) or load_scenario(name)
        self.scenarios[name] = scenario
        self._clear_error()
        self._start(scenario)

    @_guarded
    def _on_upload(self, event) -> None:
        if not event.new:
            return
        scenario = load_uploaded(self.upload.filename, event.new)
        label = Path(self.upload.filename).name
        self.scenarios[label] = scenario
        self._clear_error()
        self._quiet = True
        try:
            self.picker.options = list(self.scenarios)
            self.picker.value = label
        finally:
            self._quiet = False
        self._start(scenario)
        self.notice.object = f"Loaded {label}."

    @_guarded
    def _on_step(self, _event=None) -> None:
        new = self.session.step(1)
        self.charts.append(self.session, new, self._comparison())
        self._show_status()
        if self.session.finished:
            self._stop_playing()

    @_guarded
    def _on_reset(self, _event=None) -> None:
        self._stop_playing()
        self.session.reset()
        self._clear_error()
        self.notice.object = "Back to the start, without your changes."
        self._reset_controls()
        self._redraw()

    def _on_play(self, event) -> None:
        if event.new and not self.session.finished:
            self.play.name = "❚❚ Pause"
            self._player = pn.state.add_periodic_callback(self._on_step, period=self._period())
        else:
            self._stop_playing()

    def _period(self) -> int:
        return int(1000 / self.speed.value)

    def _on_speed(self, _event) -> None:
        if self._player is not None:
            self._player.period = self._period()

    def _stop_playing(self) -> None:
        if self._player is not None:
            self._player.stop()
            self._player = None
        if self.play.value:
            self.play.value = False
        self.play.name = "▶ Play"

    @_guarded
    def _on_compare(self, _event) -> None:
        self._redraw()

    def _on_host(self, _event) -> None:
        if self._quiet:
            return
        self._quiet = True
        try:
            self._host_controls()
        finally:
            self._quiet = False

    @_guarded
    def _on_policy(self, make, _event) -> None:
        if self._quiet:
            return
        lever, event = make()
        self.session.set_policy(lever, event)
        self._clear_error()
        start = style.month_index([self.session.next_month]).strftime("%B %Y")[0]
        what = style.event_label(event, self.charts.display) if event else "back to the scenario's own policy"
        self.notice.object = f"From {start}: {what}."
        self._redraw()

    @_guarded
    def _on_weight(self, key: str, event) -> None:
        if self._quiet:
            return
        self.session.set_weights({key: float(event.new)})
        self._clear_error()
        self.notice.object = f"{WEIGHTS[key]}: weight {event.new:.3g} for the whole run (replayed from the start)."
        self._redraw()


def serve(
    scenario: Scenario,
    label: str,
    *,
    host: str = "127.0.0.1",
    port: int = 5006,
    seed: int | None = None,
    households_per_agent: int | None = None,
) -> None:
    """Serve the page until interrupted (each browser tab gets its own dashboard)."""
    pn.extension(raw_css=[CSS])

    def page():
        return Dashboard(scenario, label, seed=seed, households_per_agent=households_per_agent).view()

    origins = sorted({f"{host}:{port}", f"127.0.0.1:{port}", f"localhost:{port}"})
    pn.serve({"/": page}, address=host, port=port, show=False, title=TITLE, websocket_origin=origins, threaded=False)
