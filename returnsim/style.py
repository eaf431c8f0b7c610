"""One figure style for every chart: plain-language labels, readable numbers, one y-axis, marked policy starts.

``overview.png``, ``comparison.png``, the dashboard and the report all draw through this module, so a
series has the same name, number format and colour everywhere.

>>> human(35_000), human(1_200_000), human(950), human(0.35)
('35k', '1.2M', '950', '0.35')
>>> label("returns_voluntary_refugees")
'Voluntary returns from abroad'
>>> label("refugees_turkey", {"turkey": "Turkey"})
'Refugees in Turkey'
>>> event_label({"type": "deportation", "month": "2019-07", "host": "turkey", "quota": 5000}, {"turkey": "Turkey"})
'Turkey deports 5k/month'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: plain-language name of every time-series column (``refugees_<host>`` is made by :func:`label`)
LABELS: dict[str, str] = {
    "refugees": "Refugees abroad",
    "idps": "Displaced inside Syria (IDPs)",
    "returnees": "Back home (returnees)",
    "detained_stock": "In detention",
    "returns_voluntary": "Voluntary returns",
    "returns_voluntary_refugees": "Voluntary returns from abroad",
    "returns_voluntary_idps": "IDPs returning home",
    "returns_forced": "Forced returns (deportations)",
    "returns_unplanned_refugees": "Unplanned returns from abroad (events, poverty)",
    "returns_unplanned_idps": "Unplanned returns of IDPs (events, poverty)",
    "detained": "Returnees arrested",
    "detained_on_arrival": "Arrested on arrival",
    "released": "Released from detention",
    "redisplaced": "Returnees displaced again",
    "displaced_by_conflict": "Displaced by fighting",
    "newly_displaced": "Newly displaced (people who had stayed)",
    "registered_arrivals": "New arrivals registered in hosts",
    "deregistered": "Left hosts' registers without a verified return",
    "homes_destroyed": "Homes destroyed or damaged (households)",
    "births": "Births in displaced families",
    "properties_restituted": "Homes given back (households)",
    "properties_confiscated": "Homes confiscated so far (households)",
    "intend_return_12m_pct": "Intend to return within a year (all hosts)",
    "intend_return_12m_pct_surveyed": "Intend to return within a year (hosts UNHCR surveys)",
    "hope_return_pct": "Hope to return one day (all hosts)",
    "hope_return_pct_surveyed": "Hope to return one day (hosts UNHCR surveys)",
    "returnees_in_poverty_share": "Returnees below the poverty line",
    "mean_perceived_risk": "Feared risk of arrest on return (refugees' mean)",
    "origin_livelihood_mean": "Livelihoods in Syria (index, pre-war = 1)",
}

#: how a column's values read on an axis: persons (35k), a 0-1 share or a 0-100 percentage (both as %),
#: or an index (plain decimals)
INDEX_COLUMNS = ("mean_perceived_risk", "origin_livelihood_mean")

#: the colour cycle (matplotlib's tab10 = Bokeh's Category10), so a series has one colour everywhere
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

#: colours of the controllers of Syrian regions on the map; others get grey
CONTROLLER_COLORS: dict[str, str] = {
    "government": "#c0392b",
    "opposition": "#27ae60",
    "turkish_backed": "#e67e22",
    "sdf": "#f1c40f",
    "isis": "#2c3e50",
}
#: short names of the usual controllers, for event captions
CONTROLLER_SHORT: dict[str, str] = {
    "government": "government",
    "opposition": "opposition",
    "turkish_backed": "Turkish-backed forces",
    "sdf": "SDF",
    "isis": "ISIS",
}
EVENT_COLOR = "#555555"
COMPARISON_DASH = "dashed"


def human(value: float, _pos: Any = None) -> str:
    """A count as people read it: 35k, 1.2M, 950 (three significant digits)."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def kind(column: str) -> str:
    """``"count"``, ``"share"`` (0-1), ``"pct"`` (0-100) or ``"index"``: how the column's values read."""
    if column.endswith("_share"):
        return "share"
    if "_pct" in column:
        return "pct"
    if column in INDEX_COLUMNS:
        return "index"
    return "count"


def count(n: int, word: str) -> str:
    """``count(1, "seed") == '1 seed'``, ``count(5, "seed") == '5 seeds'``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def percent(value: float, _pos: Any = None, *, share: bool = False) -> str:
    """``percent(84.0) == '84%'``; ``percent(0.84, share=True) == '84%'``."""
    return f"{value * (100 if share else 1):.3g}%"


def tick_text(column: str, value: float) -> str:
    """One tick or table value of ``column``, formatted by its kind."""
    k = kind(column)
    if k == "share":
        return percent(value, share=True)
    if k == "pct":
        return percent(value)
    if k == "index":
        return f"{value:.2f}"
    return human(value)


def pretty(name: str) -> str:
    """A name without underscores, for places and scenarios that have no label: ``"al_hasakah"`` → ``"Al hasakah"``."""
    text = name.replace("_", " ")
    return text[:1].upper() + text[1:]


#: columns by host, ``<prefix><host>``, and how their label begins
BY_HOST = (
    "refugees_",
    "returns_voluntary_",
    "returns_forced_",
    "intend_return_12m_pct_",
    "hope_return_pct_",
    "in_poverty_pct_",
)
_BY_HOST_WORDS = {
    "refugees_": "Refugees in",
    "returns_voluntary_": "Voluntary returns from",
    "returns_forced_": "Deported from",
    "intend_return_12m_pct_": "Intend to return within a year, in",
    "hope_return_pct_": "Hope to return one day, in",
    "in_poverty_pct_": "Refugee households below the poverty line, in",
}


def label(column: str, host_labels: Mapping[str, str] | None = None) -> str:
    """The plain-language name of a time-series column (never the raw column name)."""
    if column in LABELS:
        return LABELS[column]
    for prefix in BY_HOST:
        if column.startswith(prefix):
            host = column.removeprefix(prefix)
            return f"{_BY_HOST_WORDS[prefix]} {(host_labels or {}).get(host) or pretty(host)}"
    return pretty(column)


def scenario_tree(scenario: Any) -> Mapping[str, Any]:
    """A scenario as a plain tree: a :class:`~returnsim.scenario.Scenario`, or its ``model_dump`` (e.g. from a
    manifest)."""
    if scenario is None:
        return {}
    return scenario.model_dump(mode="json") if hasattr(scenario, "model_dump") else scenario


def names(tree: Mapping[str, Any]) -> dict[str, str]:
    """Display names of the hosts, regions and controllers of a scenario tree (their ``label``, else the key)."""
    out: dict[str, str] = {}
    for table in ("hosts", "regions", "controllers"):
        for key, entry in (tree.get(table) or {}).items():
            out[key] = (entry or {}).get("label") or pretty(key)
    return out


def event_label(event: Mapping[str, Any], display: Mapping[str, str] | None = None) -> str:
    """A short caption for an event's start marker: ``"Turkey deports 5k/month"``, ``"Sanctions lifted"``."""
    d = display or {}

    def n(key: str) -> str:
        value = event.get(key) or ""
        return d.get(value) or pretty(value)

    t = event.get("type", "")
    if t == "deportation":
        amount = f"{human(event['quota'])}/month" if event.get("quota") is not None else f"{event.get('rate', 0):.2%}"
        return f"{n('host')} deports {amount}"
    if t == "host_pressure":
        return f"{n('host')} pressure {event['level']:.2g}"
    if t == "aid_change":
        if event.get("level") is not None:
            return f"{n('host')} aid {event['level']:.2g}"
        return f"{n('host')} aid {event['change']:+.2g}"
    if t == "sanctions_relief":
        aid = event.get("reconstruction_aid", 0) or 0
        head = "Sanctions lifted" if event.get("lift_sanctions", True) else "Reconstruction"
        return f"{head}, aid {aid:.2g}" if aid else head
    if t in ("amnesty", "security_guarantee"):
        what = "Amnesty" if t == "amnesty" else "Guarantee"
        return f"{what}: arrests x{event.get('detention_factor', 0.5):.2g}"
    if t == "conscription":
        return "Conscription enforced" if event.get("enforced") else "Conscription ended"
    if t == "property_confiscation":
        return "Confiscation law"
    if t == "property_restitution":
        return "Homes restituted"
    if t == "control_change":
        return f"{n('region')} to {CONTROLLER_SHORT.get(event.get('controller', ''), n('controller'))}"
    if t == "border_closure":
        return f"{n('host')} border {'reopens' if event.get('open') else 'closed'}"
    if t == "host_conflict_shock":
        return f"War in {n('host')}"
    if t == "return_package":
        return f"{n('host')} return grant"
    if t == "conflict_displacement":
        return f"Fighting in {n('region')}"
    if t == "regime_change":
        return "Government falls" if event.get("regime") == 0 else f"Government's rule {event.get('regime', 1):.0%}"
    return pretty(t)


def event_marks(
    events: Iterable[Mapping[str, Any]], first: str, last: str, display: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """``(month, caption)`` for each month from ``first`` to ``last`` (``YYYY-MM``) in which events start;
    the captions of events starting in the same month are joined."""
    by_month: dict[str, list[str]] = {}
    for event in events:
        month = event.get("month", "")
        if first <= month <= last:
            caption = event_label(event, display)
            if caption not in by_month.setdefault(month, []):
                by_month[month].append(caption)
    return [(month, "; ".join(captions)) for month, captions in sorted(by_month.items())]


# ------------------------------------------------------------------------------ matplotlib


def month_index(months: Iterable[str]):
    """``YYYY-MM`` labels as the first day of each month (a pandas ``DatetimeIndex``)."""
    import pandas as pd

    return pd.PeriodIndex(list(months), freq="M").to_timestamp()


def style_axis(ax, column: str) -> None:
    """The one y-axis style: starts at zero, light horizontal grid, values formatted by the column's kind."""
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: tick_text(column, value)))
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.grid(axis="x", alpha=0.12)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)


def date_axis(ax) -> None:
    """Calendar months on the x-axis, concise (2018, Jul, 2019…)."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def mark_events(ax, marks: list[tuple[str, str]], captions: bool = True) -> None:
    """A vertical line at each event start, with its short caption written along it when ``captions``."""
    if not marks:
        return
    when = month_index(m for m, _ in marks)
    for x, (_, caption) in zip(when, marks, strict=True):
        ax.axvline(x, color=EVENT_COLOR, lw=0.8, ls=":", zorder=0)
        if captions:
            ax.annotate(
                caption,
                xy=(x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -2),
                textcoords="offset points",
                rotation=90,
                va="top",
                ha="left",
                fontsize=6.5,
                color=EVENT_COLOR,
            )
