"""Matplotlib figures of a run's time series."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.ticker import FuncFormatter

PANELS = (
    ("Where displaced Syrians live (persons)", ["refugees", "idps", "returnees"]),
    ("Returns this month (persons)", ["returns_voluntary_refugees", "returns_voluntary_idps", "returns_forced"]),
    ("Detained and re-displaced this month (persons)", ["detained", "redisplaced"]),
    ("Refugees by host (persons)", None),
    (
        "Intend to return within 12 months (% of refugee households)",
        ["intend_return_12m_pct", "intend_return_12m_pct_surveyed"],
    ),
    ("Returnees below the poverty line (share)", ["returnees_in_poverty_share"]),
)


def overview(timeseries: pd.DataFrame, path: Path, title: str = "") -> Path:
    """A 3x2 grid of the main series, saved as PNG."""
    ts = timeseries.copy()
    ts.index = pd.PeriodIndex(ts["month"], freq="M").to_timestamp()
    fig, axes = plt.subplots(3, 2, figsize=(12, 10), sharex=True, layout="constrained")
    for ax, (panel_title, cols) in zip(axes.flat, PANELS, strict=True):
        if cols is None:
            cols = [c for c in ts.columns if c.startswith("refugees_")]
        for col in cols:
            ax.plot(ts.index, ts[col], label=col.removeprefix("refugees_"))
        if "returns_voluntary_refugees" in cols:
            _observed_returns(ax, ts.index)
        if "intend_return_12m_pct_surveyed" in cols:
            _observed_intentions(ax, ts.index)
        ax.set_title(panel_title, fontsize=10)
        ax.grid(alpha=0.3)
        if len(cols) > 1:
            ax.legend(fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(_human))
        ax.set_ylim(bottom=0)
    locator = AutoDateLocator()
    for ax in axes[-1]:
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    fig.suptitle(title or "returnsim run")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def _human(value: float, _pos=None) -> str:
    """Axis labels people read: 2.5M, 40k, 0.35."""
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:g}M"
    if size >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _observed_returns(ax, months: pd.DatetimeIndex) -> None:
    """UNHCR-verified refugee returns as monthly averages of each observed year, where the run covers it."""
    from returnsim.observed import verified_refugee_returns

    label = "observed refugee returns (UNHCR, monthly mean)"
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
            label="observed (UNHCR RPIS, surveyed hosts)",
        )
        ax.legend(fontsize=8)
