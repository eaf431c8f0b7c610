"""The dashboard's Bokeh charts and map, drawn in the style of ``returnsim.style`` and fed by a session.

Every chart reads one shared data source of the months simulated so far (``series``), a source of the
comparison run (``comparison``, dashed lines) and a source of event starts (``events``, dotted lines with a
caption). A month's step streams one row into them and replaces the map's few rows, so a redraw sends little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from bokeh.models import (
    ColumnDataSource,
    CustomJSTickFormatter,
    DataRange1d,
    DatetimeTickFormatter,
    HoverTool,
    LabelSet,
    Range1d,
)
from bokeh.plotting import figure

from returnsim import style
from returnsim.dashboard import geo
from returnsim.dashboard.session import region_state

if TYPE_CHECKING:
    from returnsim.dashboard.session import Session

_JS_NUMBER = """
const a = Math.abs(tick);
const units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
for (const [limit, suffix] of units) {
    if (a >= limit) return parseFloat((tick / limit).toPrecision(3)) + suffix;
}
return parseFloat(tick.toPrecision(3)).toString();
"""
_JS_SHARE = "return parseFloat((tick * 100).toPrecision(3)) + '%';"
_JS_PCT = "return parseFloat(tick.toPrecision(3)) + '%';"
_JS_INDEX = "return tick.toFixed(2);"
_FORMATTERS = {"count": _JS_NUMBER, "share": _JS_SHARE, "pct": _JS_PCT, "index": _JS_INDEX}


@dataclass(frozen=True)
class ChartSpec:
    key: str
    title: str
    columns: tuple[str, ...]  # "refugees_*" stands for every host's column
    sentence: str


CHARTS = (
    ChartSpec(
        "hosts",
        "Refugees by host country",
        ("refugees_*",),
        "Syrian refugees living in each host country at the end of each month (persons).",
    ),
    ChartSpec(
        "returns",
        "Returns home, voluntary and forced",
        ("returns_voluntary_refugees", "returns_voluntary_idps", "returns_forced"),
        "People who went home each month: of their own accord from abroad or from elsewhere in Syria, "
        "or deported by a host country.",
    ),
    ChartSpec(
        "detained",
        "Returnees arrested",
        ("detained",),
        "Returnees and deportees arrested by security services each month (one person per arrest).",
    ),
    ChartSpec(
        "redisplaced",
        "Returnees displaced again",
        ("redisplaced",),
        "People back home who had to leave again each month, because of violence, poverty or a lost home.",
    ),
    ChartSpec(
        "poverty",
        "Returnees in poverty",
        ("returnees_in_poverty_share",),
        "Share of the people living back home whose income is below the poverty line.",
    ),
    ChartSpec(
        "intention",
        "Intention to return within a year",
        ("intend_return_12m_pct", "intend_return_12m_pct_surveyed"),
        "Refugee households who would go home within 12 months if this month's conditions held; black dots: "
        "UNHCR's surveys of refugees in Egypt, Iraq, Jordan and Lebanon (compare them with the second line).",
    ),
)
COMPARISON_NOTE = (
    "Dashed lines: the comparison run. Dotted lines: policy events starting (named on the top two charts)."
)
MAP_SENTENCE = (
    "Rings: displaced people living in each place (refugees in host countries, displaced Syrians in each "
    "governorate). Filled circles: people back in their home governorate, coloured by who controls it. "
    "Areas are proportional to people; Europe is drawn at the map's edge."
)


def _ms(months) -> np.ndarray:
    """``YYYY-MM`` labels as epoch milliseconds (Bokeh's datetime axis unit)."""
    return style.month_index(months).to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(float)


def columns_of(spec: ChartSpec, hosts: list[str]) -> list[str]:
    return [c for col in spec.columns for c in ([f"refugees_{h}" for h in hosts] if col == "refugees_*" else [col])]


class Charts:
    """The six time-series charts and the map of one session, with the data sources behind them."""

    def __init__(self, session: Session):
        tree = session.scenario.model_dump(mode="json")
        self.display = style.names(tree)
        self.hosts = list(tree["hosts"])
        self.specs = CHARTS
        self.columns = sorted({c for spec in CHARTS for c in columns_of(spec, self.hosts)})
        start = session.scenario.simulation.start
        first_last = _ms([start, _last_month(start, session.months)])
        empty = {"x": [], **{c: [] for c in self.columns}}
        self.series = ColumnDataSource(dict(empty), name="series")
        self.comparison = ColumnDataSource(dict(empty), name="comparison")
        self.events = ColumnDataSource({"x": [], "caption": []}, name="events")
        self.x_range = Range1d(first_last[0] - 15 * 86400e3, first_last[1] + 15 * 86400e3)
        # event captions on the top row only (as in the PNG figures): text costs time at every redraw
        self.figures = {spec.key: self._chart(spec, captions=i < 2) for i, spec in enumerate(CHARTS)}
        self._size_ref = None
        self.places = ColumnDataSource(self._place_data(region_state(session.model)), name="places")
        self.map = self._map()

    # -------------------------------------------------------------------------------- charts

    def _chart(self, spec: ChartSpec, captions: bool):
        cols = columns_of(spec, self.hosts)
        p = figure(
            title=spec.title,
            x_axis_type="datetime",
            x_range=self.x_range,
            y_range=DataRange1d(start=0, default_span=1.0, only_visible=True),
            height=290,
            sizing_mode="stretch_width",
            tools="pan,box_zoom,reset,save",
            toolbar_location="right",
            name=f"chart-{spec.key}",
        )
        p.title.text_font_size = "11pt"
        p.yaxis.formatter = CustomJSTickFormatter(code=_FORMATTERS[style.kind(cols[0])])
        p.xaxis.formatter = DatetimeTickFormatter(months="%b %Y", years="%Y")
        p.xgrid.grid_line_alpha = 0.15
        p.ygrid.grid_line_alpha = 0.4
        p.outline_line_color = None
        p.vspan(x="x", source=self.events, line_color=style.EVENT_COLOR, line_dash="dotted", line_width=1)
        if captions:
            p.add_layout(
                LabelSet(
                    x="x",
                    y=4,
                    y_units="screen",
                    text="caption",
                    source=self.events,
                    angle=90,
                    angle_units="deg",
                    x_offset=3,
                    text_font_size="7pt",
                    text_color=style.EVENT_COLOR,
                )
            )
        for i, col in enumerate(cols):
            color = style.PALETTE[i % len(style.PALETTE)]
            line = p.line(
                "x", col, source=self.series, color=color, line_width=2, legend_label=style.label(col, self.display)
            )
            p.line("x", col, source=self.comparison, color=color, line_width=1.5, line_dash="dashed", alpha=0.8)
            p.add_tools(
                HoverTool(
                    renderers=[line],
                    tooltips=[("", style.label(col, self.display)), ("month", "@x{%b %Y}"), ("value", f"@{{{col}}}")],
                    formatters={"@x": "datetime"},
                    mode="vline" if i == 0 else "mouse",
                )
            )
        if spec.key == "intention":
            self._survey_points(p)
        legend = p.legend[0]
        p.add_layout(legend, "below")  # under the chart, never over the lines
        legend.ncols = 2
        legend.label_text_font_size = "8pt"
        legend.spacing = 0
        legend.padding = 2
        legend.margin = 2
        legend.border_line_color = None
        legend.click_policy = "hide"
        return p

    def _survey_points(self, p) -> None:
        from returnsim.observed import load

        waves = load("intention_surveys")
        months = waves["fieldwork"].str[:7]
        source = ColumnDataSource({"x": _ms(months), "y": waves["intend_return_next_12_months_pct"].to_numpy()})
        p.scatter("x", "y", source=source, size=7, color="black", legend_label="UNHCR survey")

    # -------------------------------------------------------------------------------- map

    def _place_data(self, state: pd.DataFrame) -> dict:
        coords = geo.places().set_index("place")
        known = state[state["place"].isin(coords.index)].reset_index(drop=True)
        lon = coords.loc[known["place"], "lon"].to_numpy(float)
        lat = coords.loc[known["place"], "lat"].to_numpy(float)
        x, y, moved = geo.in_view(lon, lat)
        displaced = known["displaced_here"].to_numpy(float)
        returned = known["returned_here"].to_numpy(float)
        if self._size_ref is None:  # one scale for the whole run: the largest place at the start is 64 px wide
            self._size_ref = max(float(displaced.max(initial=0)), float(returned.max(initial=0)), 1.0)
        scale = 64.0 / np.sqrt(self._size_ref)
        names = [self.display.get(p, style.pretty(p)) for p in known["place"]]
        return {
            "x": x,
            "y": y,
            "name": [f"{n} (off the map)" if m else n for n, m in zip(names, moved, strict=True)],
            "short": [
                f"{n} ↖" if m else (n if k == "host" else "")
                for n, m, k in zip(names, moved, known["kind"], strict=True)
            ],
            "kind": ["host country" if k == "host" else "Syrian governorate" for k in known["kind"]],
            "displaced": displaced,
            "returned": returned,
            "displaced_text": [style.human(v) for v in displaced],
            "returned_text": [
                style.human(v) if k == "region" else "-" for v, k in zip(returned, known["kind"], strict=True)
            ],
            "controller": [self.display.get(c, style.pretty(c)) if c else "-" for c in known["controller"]],
            "color": [style.CONTROLLER_COLORS.get(c, "#95a5a6") for c in known["controller"]],
            "size_displaced": np.sqrt(displaced) * scale,
            "size_returned": np.sqrt(returned) * scale,
        }

    def _map(self):
        span_x = geo.VIEW_LON[1] - geo.VIEW_LON[0]
        span_y = geo.VIEW_LAT[1] - geo.VIEW_LAT[0]
        width = 620
        height = int(width * span_y / (span_x * np.cos(np.radians(35.0))))
        p = figure(
            title="Where people are now",
            x_range=Range1d(*geo.VIEW_LON),
            y_range=Range1d(*geo.VIEW_LAT),
            frame_width=width,
            frame_height=height,
            tools="pan,wheel_zoom,reset,save",
            name="map",
        )
        p.title.text_font_size = "11pt"
        p.background_fill_color = "#dfeaf2"  # sea
        p.grid.visible = False
        p.xaxis.axis_label = "longitude (°E)"
        p.yaxis.axis_label = "latitude (°N)"
        countries, xs, ys = geo.patches()
        fill = ["#fbf3df" if c == "Syria" else "#eeeeea" for c in countries]
        p.patches(xs, ys, fill_color=fill, line_color="#8a8a8a", line_width=0.8)
        labels = geo.country_labels()
        p.text(
            labels["lon"],
            labels["lat"],
            text=labels["country"],
            text_color="#9a9a9a",
            text_font_size="9pt",
            text_font_style="italic",
            text_align="center",
        )
        rings = p.scatter(
            "x", "y", source=self.places, size="size_displaced", fill_alpha=0, line_color="#1f4e79", line_width=2
        )
        dots = p.scatter(
            "x", "y", source=self.places, size="size_returned", fill_color="color", fill_alpha=0.85, line_color="white"
        )
        p.text("x", "y", text="short", source=self.places, x_offset=8, y_offset=-8, text_font_size="8pt")
        p.add_tools(
            HoverTool(
                renderers=[rings, dots],
                tooltips=[
                    ("", "@name (@kind)"),
                    ("displaced living here", "@displaced_text"),
                    ("back home here", "@returned_text"),
                    ("controlled by", "@controller"),
                ],
            )
        )
        return p

    def map_legend_html(self, session: Session) -> str:
        """The colours of the controllers of the scenario, as HTML."""
        items = []
        for name in session.scenario.controllers:
            color = style.CONTROLLER_COLORS.get(name, "#95a5a6")
            items.append(
                f'<span style="white-space:nowrap;margin-right:12px"><span style="display:inline-block;width:11px;'
                f'height:11px;border-radius:6px;background:{color};margin-right:4px"></span>'
                f"{self.display.get(name, style.pretty(name))}</span>"
            )
        ring = (
            '<span style="display:inline-block;width:11px;height:11px;border-radius:6px;border:2px solid #1f4e79;'
            'margin-right:4px"></span>displaced living here'
        )
        return f'<div style="font-size:9pt">{ring} &nbsp; filled: back home, controlled by: {"".join(items)}</div>'

    # -------------------------------------------------------------------------------- updates

    def _frame(self, rows: pd.DataFrame) -> dict:
        if rows.empty:
            return {"x": [], **{c: [] for c in self.columns}}
        return {
            "x": _ms(rows["month"]),
            **{c: rows[c].to_numpy(float) if c in rows else np.zeros(len(rows)) for c in self.columns},
        }

    def redraw(self, session: Session, comparison: pd.DataFrame | None) -> None:
        """Replace every source from the session (after a reset, a replay or a new comparison)."""
        self.series.data = self._frame(session.timeseries())
        self.comparison.data = self._frame(self._compare_rows(session, comparison))
        self.update_events(session)
        self.places.data = self._place_data(region_state(session.model))

    def append(self, session: Session, new: list[dict], comparison: pd.DataFrame | None) -> None:
        """Add the months just simulated: stream their rows and redraw the map."""
        if not new:
            return
        self.series.stream(self._frame(pd.DataFrame(new)))
        if comparison is not None:
            months = {row["month"] for row in new}
            rows = comparison[comparison["month"].isin(months)]
            if not rows.empty:
                self.comparison.stream(self._frame(rows))
        self.places.data = self._place_data(region_state(session.model))

    def _compare_rows(self, session: Session, comparison: pd.DataFrame | None) -> pd.DataFrame:
        if comparison is None or not session.rows:
            return pd.DataFrame()
        return comparison[comparison["month"] <= session.month]

    def update_events(self, session: Session) -> None:
        start = session.scenario.simulation.start
        marks = style.event_marks(session.all_events(), start, _last_month(start, session.months), self.display)
        self.events.data = {"x": _ms([m for m, _ in marks]), "caption": [c for _, c in marks]}


def _last_month(start: str, months: int) -> str:
    from returnsim.geography import month_label

    return month_label(start, months - 1)
