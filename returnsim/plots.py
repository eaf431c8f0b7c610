"""Matplotlib figures of a run's time series, drawn in the one style of ``returnsim.style``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from returnsim import style

PANELS = (
    ("Where displaced Syrians live (persons)", ["refugees", "idps", "returnees"]),
    ("Returns this month (persons)", ["returns_voluntary_refugees", "returns_voluntary_idps", "returns_forced"]),
    ("Detained and re-displaced this month (persons)", ["detained", "redisplaced"]),
    ("Refugees by host (persons)", None),
    (
        "Intend to return within 12 months (% of refugee households)",
        ["intend_return_12m_pct", "intend_return_12m_pct_surveyed"],
    ),
    ("Returnees below the poverty line (share of returnees)", ["returnees_in_poverty_share"]),
)


def overview_figure(timeseries: pd.DataFrame, title: str = "", scenario: Any = None) -> Figure:
    """The 3x2 grid of the main series; the start of each of the scenario's events inside the run is marked."""
    tree = style.scenario_tree(scenario)
    display = style.names(tree)
    ts = timeseries.copy()
    ts.index = style.month_index(ts["month"])
    marks = style.event_marks(tree.get("events", ()), ts["month"].iloc[0], ts["month"].iloc[-1], display)
    fig, axes = plt.subplots(3, 2, figsize=(12, 10), sharex=True, layout="constrained")
    for i, (ax, (panel_title, cols)) in enumerate(zip(axes.flat, PANELS, strict=True)):
        if cols is None:
            cols = [c for c in ts.columns if c.startswith("refugees_")]
        for col in cols:
            ax.plot(ts.index, ts[col], label=style.label(col, display), lw=1.4)
        if "returns_voluntary_refugees" in cols:
            _observed_returns(ax, ts.index)
        if "intend_return_12m_pct_surveyed" in cols:
            _observed_intentions(ax, ts.index)
        ax.set_title(panel_title, fontsize=10, loc="left")
        style.style_axis(ax, cols[0])
        style.mark_events(ax, marks, captions=i < 2)
        if len(cols) > 1 or ax.get_legend_handles_labels()[0][1:]:
            ax.legend(fontsize=8, frameon=False)
    for ax in axes[-1]:
        style.date_axis(ax)
    fig.suptitle(title or "returnsim run")
    return fig


def overview(timeseries: pd.DataFrame, path: Path, title: str = "", scenario: Any = None) -> Path:
    """:func:`overview_figure`, saved as PNG."""
    fig = overview_figure(timeseries, title, scenario)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _observed_returns(ax, months: pd.DatetimeIndex) -> None:
    """UNHCR-verified refugee returns as monthly averages of each observed year, where the run covers it."""
    from returnsim.observed import verified_refugee_returns

    label = "Observed returns from abroad (UNHCR, monthly mean)"
    for year, persons in verified_refugee_returns().items():
        start, end = pd.Timestamp(f"{year}-01-01"), pd.Timestamp(f"{year}-12-01")
        if start >= months.min() and end <= months.max():
            ax.hlines(persons / 12, start, end, colors="black", linewidth=2, label=label)
            label = None


def _observed_intentions(ax, months: pd.DatetimeIndex) -> None:
    """UNHCR RPIS survey shares (Egypt, Iraq, Jordan, Lebanon) at the start of each wave's fieldwork."""
    from returnsim.observed import load

    waves = load("intention_surveys")
    when = pd.to_datetime(waves["fieldwork"].str[:7], format="%Y-%m")
    inside = (when >= months.min()) & (when <= months.max())
    if inside.any():
        ax.plot(
            when[inside],
            waves["intend_return_next_12_months_pct"][inside],
            "ko",
            label="Observed (UNHCR survey of refugees in Egypt, Iraq, Jordan, Lebanon)",
        )
