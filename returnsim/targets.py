"""What the model is judged on: every observed figure in ``returnsim/data/`` set beside the model's own.

Each :class:`Target` is one observed number with the model quantity that corresponds to it (which columns, over
which months, summed, averaged or taken at the end), its tolerance and whether it falls in the calibration
period or in the hold-out. :func:`compare` evaluates a set of runs against them; :func:`summary` gives the
statistics per family (mean absolute percentage error, worst ratio, year-to-year correlation, points within
tolerance); :func:`loss` is what calibration minimises: the mean squared error of each family in units of its
tolerance, over the calibration points only.

Families and their tolerances (those of the project's targets):

- ``refugee_returns``: UNHCR-verified refugee returns by year, set beside voluntary returns from the hosts
  that UNHCR's verification covers (the region's hosts, not Europe); within a factor of 1.5.
- ``returns_by_host``: verified returns by host and period, and UNHCR's yearly returns by country of asylum
  (its population statistics, every host 2017-2022) where UNHCR does not flag them as including
  host-government reports (Turkey 2017 and 2018) and no figure of the same host and period is given above;
  within a factor of 1.5. Set beside the host's voluntary returns, or voluntary and forced where the figure counts
  organised transfers too (its ``counted``: UNHCR Lebanon's estimates for 2017 and 2018).
- ``refugee_stock``: registered refugees by host and date (Germany is not Europe: not compared); within 15 %.
- ``intention``: % of refugees intending to return within 12 months, by RPIS wave (the surveyed hosts, the
  months of the wave's fieldwork); within 1.5 points.
- ``hope``: % hoping to return one day, by wave; within 10 points.
- ``intention_by_host`` and ``hope_by_host`` (``intention_by_host.csv``): the same, host by host, where UNHCR
  reported a host's own figure (RPIS waves 5 and 8); within 1.5 and 10 points. Not among the project's checks.
- ``idp_stock``: IDPs at the end of each year; within 15 %.
- ``idp_returns``: IDP returns by year (2018: January to November); within a factor of 1.35.

The figures of the same files that are not targets (:func:`context`, family ``reported_returns``) are set beside
the model too but neither fitted nor checked: UNHCR's returns from Turkey in 2017 and 2018, flagged as including
the Turkish government's reports, the government's cumulative claim, and a UN estimate for 2017 that differs
from the verified series. Family ``returns_to_region`` (``returns_to_region.csv``) sets what is known of where
refugees went back to beside the model's returns to that region. Families ``shock_returns``,
``shock_intention`` and ``shock_hope`` (``shocks_2024.csv``) hold what followed the shocks of 2024, after the
baseline's months: Syrians fleeing the war in Lebanon, and the returns, intentions and hope after the fall of
the government on 8 December 2024; a scenario that runs over those months (``scenarios/shocks_2024.toml``) is
set beside them, and ``experiments/calibration_fall.toml`` fits the weight of who rules to them (``calibrate``
counts context families only when its ``fit`` names them). Families ``shock_returns_by_host`` and
``shock_intention_by_host`` (rows ``returns_<host>`` and ``intention_<host>`` of the same file) split the fall's
returns and intentions by host; that fit does not count them, so they test it. Family ``host_poverty``
(``host_poverty.csv``) sets the hosts' vulnerability surveys beside the share of each host's refugee households
earning below the poverty line.

>>> t = targets()
>>> sorted({x.family for x in t})[:3]
['hope', 'hope_by_host', 'idp_returns']
>>> [x.label for x in t if x.family == "refugee_returns"][:2]
['2017', '2018']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from returnsim import observed

__all__ = [
    "CONTEXT",
    "COUNTED",
    "FAMILIES",
    "PERCENT_BANDS",
    "SHOWN",
    "Target",
    "compare",
    "context",
    "loss",
    "period_months",
    "summary",
    "targets",
]

#: (family, what it is, tolerance, kind): "ratio" tolerances are factors, "points" are percentage points
FAMILIES = {
    "refugee_returns": ("verified refugee returns by year", 1.5, "ratio"),
    "returns_by_host": ("verified returns by host", 1.5, "ratio"),
    "refugee_stock": ("registered refugees by host", 1.15, "ratio"),
    "intention": ("intend to return within 12 months (%)", 1.5, "points"),
    "hope": ("hope to return one day (%)", 10.0, "points"),
    "intention_by_host": ("intend to return within 12 months, by host (%)", 1.5, "points"),
    "hope_by_host": ("hope to return one day, by host (%)", 10.0, "points"),
    "idp_stock": ("IDPs (stock)", 1.15, "ratio"),
    "idp_returns": ("IDP returns by year", 1.35, "ratio"),
}
#: figures shown beside the model but not targets (no calibration, no check): (family, what it is, the factor
#: used to mark them, kind), as in :data:`FAMILIES`
CONTEXT = {
    "reported_returns": ("returns reported beyond UNHCR's verification (context, not a target)", 1.5, "ratio"),
    "returns_to_region": ("refugee returns by region of return (context, not a target)", 1.5, "ratio"),
    "shock_returns": ("returns after the shocks of 2024 (fitted by calibration_fall, not checked)", 1.5, "ratio"),
    "shock_intention": ("intend to return within 12 months after the fall (%) (fitted, not checked)", 5.0, "points"),
    "shock_hope": ("hope to return one day after the fall (%) (fitted, not checked)", 10.0, "points"),
    "shock_returns_by_host": ("returns after the fall, by host (not fitted, not checked)", 1.5, "ratio"),
    "shock_intention_by_host": (
        "12-month intention after the fall, by host (%) (not fitted, not checked)",
        5.0,
        "points",
    ),
    "host_poverty": ("refugee households below the poverty line, by host (%) (context, not a target)", 10.0, "points"),
}
#: every family set beside the model, targets first
SHOWN = {**FAMILIES, **CONTEXT}
#: families whose target is a share either way (15 % below as well as above), not the factor their tolerance
#: gives the loss's units (the factor 1.15 would put 0.86 outside: its floor is 0.87): what validate marks
PERCENT_BANDS = {"refugee_stock": 0.15, "idp_stock": 0.15}
#: what a figure of returns by host counts (``returns_by_host.csv``'s ``counted``): voluntary returns, or those
#: with organised transfers (the Arsal evacuations of 2017 in UNHCR Lebanon's estimates), which the model makes
#: by ``deportation`` events
COUNTED = {"voluntary": ("voluntary",), "voluntary_and_forced": ("voluntary", "forced")}
#: the hosts UNHCR's verified returns cover (the region's)
VERIFIED_HOSTS = ("turkey", "lebanon", "jordan", "iraq", "egypt")
#: the lines of ``host_poverty.csv``: what each is called beside the model's share below ``economy.poverty_line``
#: (basic needs); the share below the extreme line (survival) is a floor for it
POVERTY_LINES = {"poverty": "", "extreme": " (extreme line: a floor)"}
#: what a row of ``shocks_2024.csv`` counts: (family, label, the model's columns, how); ``None`` columns stand
#: for the verified hosts' voluntary returns
SHOCKS = {
    "refugee_returns": ("shock_returns", "refugees", None, "sum"),
    "idp_returns": ("shock_returns", "IDPs", ("returns_voluntary_idps",), "sum"),
    "from_lebanon": ("shock_returns", "from Lebanon", ("returns_voluntary_lebanon", "returns_forced_lebanon"), "sum"),
    "intention": ("shock_intention", "intention", ("intend_return_12m_pct_surveyed",), "mean"),
    "hope": ("shock_hope", "hope", ("hope_return_pct_surveyed",), "mean"),
}
#: rows of ``shocks_2024.csv`` by host, ``what`` = ``<kind>_<host>``: (family, label, the model's column, how)
SHOCKS_BY_HOST = {
    "returns": ("shock_returns_by_host", "returns from {}", "returns_voluntary_{}", "sum"),
    "intention": ("shock_intention_by_host", "intention in {}", "intend_return_12m_pct_{}", "mean"),
}


@dataclass(frozen=True)
class Target:
    """One observed figure and the model quantity set beside it."""

    family: str
    label: str
    observed: float
    columns: tuple[str, ...]  # model columns (summed across)
    first: str  # first month of the model window, YYYY-MM
    last: str  # last month of the model window
    how: str  # "sum" over the window, "mean" over it, or "last" (the value at its last month)
    source: str

    @property
    def tolerance(self) -> float:
        return SHOWN[self.family][1]

    @property
    def kind(self) -> str:
        return SHOWN[self.family][2]

    def period(self, calibrate_until: str) -> str:
        """``calibration`` if the window ends by ``calibrate_until`` (YYYY-MM), else ``holdout``."""
        return "calibration" if self.last <= calibrate_until else "holdout"

    def value(self, series: dict[str, np.ndarray]) -> float | None:
        """The model's figure from one run's series (``None`` if the run does not cover the window, or lacks one of
        the columns: a scenario without that host or region)."""
        if any(c not in series for c in self.columns):
            return None
        months = np.asarray(series["month"])
        inside = (months >= self.first) & (months <= self.last)
        if not inside.any() or months[0] > self.first or months[-1] < self.last:
            return None
        total = sum(np.asarray(series[c], float)[inside] for c in self.columns)
        if self.how == "sum":
            return float(total.sum())
        if self.how == "mean":
            return float(total.mean())
        return float(total[-1])

    def error(self, simulated: float) -> float:
        """The error in units of the tolerance: log ratio over log tolerance, or points over points."""
        if self.kind == "points":
            return (simulated - self.observed) / self.tolerance
        return math.log(max(simulated, 1.0) / max(self.observed, 1.0)) / math.log(self.tolerance)

    def within(self, simulated: float) -> bool:
        """Whether ``simulated`` meets the target: within :data:`PERCENT_BANDS` for a share, else within one
        tolerance unit."""
        if self.family in PERCENT_BANDS:
            return abs(simulated / self.observed - 1) <= PERCENT_BANDS[self.family]
        return abs(self.error(simulated)) <= 1.0


def period_months(period: str) -> tuple[str, str]:
    """First and last month of a period of the observed tables: a year (``2022``), a quarter (``2024Q1``), a
    half-year (``2019H1``), a month (``2025-01``) or a span of months (``2018-01/2018-09``, both ends included).

    >>> period_months("2024Q2"), period_months("2019H2"), period_months("2022")
    (('2024-04', '2024-06'), ('2019-07', '2019-12'), ('2022-01', '2022-12'))
    >>> period_months("2018-01/2018-09")
    ('2018-01', '2018-09')
    """
    if _is_month(period):
        return period, period
    year, part = period[:4], period[4:]
    if len(year) == 4 and year.isdigit() and part == "":
        return f"{year}-01", f"{year}-12"
    if year.isdigit() and len(part) == 2 and part[0] in "QH" and part[1].isdigit():
        n, months = int(part[1]), 3 if part[0] == "Q" else 6
        if 1 <= n <= 12 // months:
            return f"{year}-{(n - 1) * months + 1:02d}", f"{year}-{n * months:02d}"
    first, slash, last = period.partition("/")
    if slash and _is_month(first) and _is_month(last) and first <= last:
        return first, last
    raise ValueError(
        f"period {period!r}: expected a year (2022), a quarter (2024Q1), a half-year (2019H1), a month (2025-01) "
        "or a span of months (2018-01/2018-09)"
    )


def _is_month(text: str) -> bool:
    return len(text) == 7 and text[:4].isdigit() and text[4] == "-" and text[5:].isdigit() and 1 <= int(text[5:]) <= 12


def _months(fieldwork: str) -> tuple[str, str]:
    first, _, last = fieldwork.partition("/")
    return first, last or first


def targets(hosts: Sequence[str] = VERIFIED_HOSTS) -> list[Target]:
    """Every observed figure the model can be set beside (see the module documentation)."""
    out: list[Target] = []
    verified = [f"returns_voluntary_{h}" for h in hosts]
    for row in observed.load("returns_annual").query("series == 'unhcr_verified'").itertuples():
        y = str(row.year)
        out.append(
            Target(
                "refugee_returns",
                y,
                float(row.refugee_returns_verified),
                tuple(verified),
                f"{y}-01",
                f"{y}-12",
                "sum",
                row.source,
            )
        )
    for row in observed.load("returns_by_host").itertuples():
        if row.host not in hosts:
            continue
        period = str(row.period)
        first, last = period_months(period)
        if row.counted not in COUNTED:
            raise ValueError(
                f"returns_by_host.csv, {row.host} {period}: counted {row.counted!r} is not one of {', '.join(COUNTED)}"
            )
        out.append(
            Target(
                "returns_by_host",
                f"{row.host} {period}",
                float(row.refugee_returns_verified),
                tuple(f"returns_{kind}_{row.host}" for kind in COUNTED[row.counted]),
                first,
                last,
                "sum",
                row.source,
            )
        )
    # UNHCR's population statistics by country of asylum, the series of the by-host figures above, where UNHCR
    # does not flag them as including returns reported by the host government (all but Turkey 2017 and 2018)
    seen = {(x.label.split()[0], x.label.split()[1]) for x in out if x.family == "returns_by_host"}
    statistics = observed.load("host_government_returns").query("series == 'unhcr_population_statistics'")
    for row in statistics.itertuples():
        y = str(row.year)
        if row.host not in hosts or (row.host, y) in seen or (isinstance(row.note, str) and row.note.strip()):
            continue
        out.append(
            Target(
                "returns_by_host",
                f"{row.host} {y}",
                float(row.returns_reported),
                (f"returns_voluntary_{row.host}",),
                f"{y}-01",
                f"{y}-12",
                "sum",
                row.source,
            )
        )
    for row in observed.load("refugee_stocks").itertuples():
        if row.host not in hosts or row.date < "2017-01":
            continue
        out.append(
            Target(
                "refugee_stock",
                f"{row.host} {row.date}",
                float(row.registered_syrian_refugees),
                (f"refugees_{row.host}",),
                row.date,
                row.date,
                "last",
                row.source,
            )
        )
    for row in observed.load("intention_surveys").itertuples():
        first, last = _months(row.fieldwork)
        out.append(
            Target(
                "intention",
                f"wave {row.wave}",
                float(row.intend_return_next_12_months_pct),
                ("intend_return_12m_pct_surveyed",),
                first,
                last,
                "mean",
                row.source,
            )
        )
        out.append(
            Target(
                "hope",
                f"wave {row.wave}",
                float(row.hope_return_someday_pct),
                ("hope_return_pct_surveyed",),
                first,
                last,
                "mean",
                row.source,
            )
        )
    for row in observed.load("intention_by_host").itertuples():
        if row.host not in VERIFIED_HOSTS:
            raise ValueError(
                f"intention_by_host.csv, wave {row.wave}: host {row.host!r} is not one of {', '.join(VERIFIED_HOSTS)}"
            )
        if row.host not in hosts:
            continue
        first, last = _months(str(row.fieldwork))
        for family, value, column in (
            ("intention_by_host", row.intend_return_next_12_months_pct, f"intend_return_12m_pct_{row.host}"),
            ("hope_by_host", row.hope_return_someday_pct, f"hope_return_pct_{row.host}"),
        ):
            if not math.isnan(value):
                label = f"{row.host} wave {row.wave}"
                out.append(Target(family, label, float(value), (column,), first, last, "mean", row.source))
    for row in observed.load("idps").itertuples():
        y = str(row.year)
        if row.year >= 2017:
            out.append(
                Target("idp_stock", y, float(row.idp_stock), ("idps",), f"{y}-12", f"{y}-12", "last", row.source)
            )
        if not math.isnan(row.idp_returns):
            last = f"{y}-11" if "Jan-Nov" in str(row.note) else f"{y}-12"
            out.append(
                Target(
                    "idp_returns",
                    y,
                    float(row.idp_returns),
                    ("returns_voluntary_idps",),
                    f"{y}-01",
                    last,
                    "sum",
                    row.source,
                )
            )
    return out


def context(hosts: Sequence[str] = VERIFIED_HOSTS) -> list[Target]:
    """The observed figures in ``returnsim/data/`` that are not targets, set beside the model for context
    (family ``reported_returns``): UNHCR's yearly returns from Turkey where flagged as including the Turkish
    government's reports (2017, 2018) and the government's own cumulative claim (the model counts from its
    start, January 2017, the claim from 2016), each beside the model's voluntary and forced returns from Turkey;
    and the UN estimate of 2017's returns beside the verified hosts' voluntary returns. Family
    ``returns_to_region``: refugees' returns to one region of origin, from the host the figure was counted in
    (``returns_voluntary_<host>_to_<region>``), or from every host when the row names none
    (``returns_voluntary_to_<region>``)."""
    out: list[Target] = []
    verified = tuple(f"returns_voluntary_{h}" for h in hosts)
    for row in observed.load("returns_annual").query("series != 'unhcr_verified'").itertuples():
        y = str(row.year)
        out.append(
            Target(
                "reported_returns",
                f"{row.series.replace('un_estimate', 'UN estimate')} {y}",
                float(row.refugee_returns_verified),
                verified,
                f"{y}-01",
                f"{y}-12",
                "sum",
                row.source,
            )
        )
    for row in observed.load("host_government_returns").itertuples():
        flagged = isinstance(row.note, str) and row.note.strip()
        if row.host not in hosts or (row.series == "unhcr_population_statistics" and not flagged):
            continue  # unflagged statistics are targets (returns_by_host)
        y = str(row.year)
        cumulative = row.series.endswith("cumulative")
        label = f"{row.host} 2017-{y[2:]} claimed" if cumulative else f"{row.host} {y} with gov."
        first = "2017-01" if cumulative else f"{y}-01"
        columns = (f"returns_voluntary_{row.host}", f"returns_forced_{row.host}")
        out.append(
            Target("reported_returns", label, float(row.returns_reported), columns, first, f"{y}-12", "sum", row.source)
        )
    for row in observed.load("returns_to_region").itertuples():
        first, last = period_months(str(row.period))
        counted_in = row.host if isinstance(row.host, str) and row.host else ""
        column = (
            f"returns_voluntary_{counted_in}_to_{row.region}" if counted_in else f"returns_voluntary_to_{row.region}",
        )
        label = f"{counted_in} to {row.region} {row.period}" if counted_in else f"{row.region} {row.period}"
        out.append(
            Target("returns_to_region", label, float(row.refugee_returns), column, first, last, "sum", row.source)
        )
    for row in observed.load("shocks_2024").itertuples():
        kind, _, host = str(row.what).partition("_")
        if row.what in SHOCKS:
            family, label, columns, how = SHOCKS[row.what]
        elif kind in SHOCKS_BY_HOST and host in VERIFIED_HOSTS:
            family, label, column, how = SHOCKS_BY_HOST[kind]
            label, columns = label.format(host.capitalize()), (column.format(host),)
        else:
            known = [*SHOCKS, *(f"{k}_<host>" for k in SHOCKS_BY_HOST)]
            raise ValueError(
                f"shocks_2024.csv, {row.period}: what {row.what!r} is not one of {', '.join(known)} "
                f"(<host> one of {', '.join(VERIFIED_HOSTS)})"
            )
        if (row.what == "from_lebanon" and "lebanon" not in hosts) or (row.what not in SHOCKS and host not in hosts):
            continue
        first, last = period_months(str(row.period))
        cols = tuple(f"returns_voluntary_{h}" for h in hosts) if columns is None else columns
        out.append(Target(family, f"{label} {row.period}", float(row.observed), cols, first, last, how, row.source))
    for row in observed.load("host_poverty").itertuples():
        if row.host not in VERIFIED_HOSTS or row.line not in POVERTY_LINES:
            raise ValueError(
                f"host_poverty.csv, {row.period}: host {row.host!r} and line {row.line!r} must be one of "
                f"{', '.join(VERIFIED_HOSTS)} and one of {', '.join(POVERTY_LINES)}"
            )
        if row.host not in hosts:
            continue
        first, last = period_months(str(row.period))
        label = f"{row.host} {row.period}{POVERTY_LINES[row.line]}"
        column = (f"in_poverty_pct_{row.host}",)
        out.append(
            Target("host_poverty", label, float(row.below_poverty_line_pct), column, first, last, "mean", row.source)
        )
    return out


def compare(
    runs: Sequence[dict[str, np.ndarray]], points: Sequence[Target] | None = None, calibrate_until: str = "2021-12"
):
    """Every target beside the model: one row each with the observed figure, the mean and standard deviation
    of the model's over ``runs`` (each a run's ``series``), the error in tolerance units, the ratio, and the
    period. Targets the runs do not cover are left out. Returns a ``pandas.DataFrame``."""
    import pandas as pd

    rows = []
    for p in points if points is not None else targets():
        values = [v for v in (p.value(r) for r in runs) if v is not None]
        if not values:
            continue
        sim = float(np.mean(values))
        rows.append(
            {
                "family": p.family,
                "label": p.label,
                "period": p.period(calibrate_until),
                "observed": p.observed,
                "simulated": sim,
                "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                "ratio": sim / p.observed if p.observed else float("nan"),
                "difference": sim - p.observed,
                "error": p.error(sim),
                "within": p.within(sim),
                "source": p.source,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


#: the columns of :func:`compare`'s frame (also when no target is covered)
COLUMNS = (
    "family",
    "label",
    "period",
    "observed",
    "simulated",
    "sd",
    "ratio",
    "difference",
    "error",
    "within",
    "source",
)
#: the columns of :func:`summary`'s frame
SUMMARY_COLUMNS = ("family", "period", "points", "within", "mape_pct", "worst_ratio", "mean_abs_points")


def summary(frame):
    """Per family and period: points, within tolerance, mean absolute percentage error, worst ratio (the largest
    factor between model and observed, either way), mean absolute difference in points, and the correlation of
    year-to-year changes (annual families)."""
    import pandas as pd

    kinds = {f: kind for f, (_, _, kind) in SHOWN.items()}
    rows = []
    for (family, period), part in frame.groupby(["family", "period"], sort=False):
        obs, sim = part["observed"].to_numpy(), part["simulated"].to_numpy()
        row = {
            "family": family,
            "period": period,
            "points": len(part),
            "within": int(part["within"].sum()),
            "mape_pct": float(np.mean(np.abs(sim - obs) / obs) * 100) if kinds[family] == "ratio" else np.nan,
            "worst_ratio": float(np.max(np.maximum(sim / obs, obs / np.maximum(sim, 1.0))))
            if kinds[family] == "ratio"
            else np.nan,
            "mean_abs_points": float(np.mean(np.abs(sim - obs))) if kinds[family] == "points" else np.nan,
        }
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    # year-to-year correlation over the whole span, for the annual families
    for family in ("refugee_returns", "idp_returns"):
        part = frame[frame["family"] == family].sort_values("label")
        if len(part) >= 3 and np.diff(part["simulated"]).std() > 0:
            corr = np.corrcoef(np.diff(part["observed"]), np.diff(part["simulated"]))[0, 1]
            out.loc[out["family"] == family, "change_correlation"] = float(corr)
    return out


#: errors beyond this many tolerance units count as this many in :func:`loss` (a run whose count falls to zero at a
#: coarse scale would otherwise swamp every other point)
ERROR_CAP = 5.0


def loss(frame, weights: dict[str, float] | None = None, period: str = "calibration", families=None) -> float:
    """Mean over families (weighted) of the mean squared error in tolerance units, over ``period``'s points
    (each error capped at :data:`ERROR_CAP`). ``families``: those counted (default: every target family; context
    is fitted only when named)."""
    counted = list(FAMILIES) if families is None else list(families)
    part = frame[(frame["period"] == period) & frame["family"].isin(counted)]
    if part.empty:
        return float("inf")
    weights = weights or {}
    total, norm = 0.0, 0.0
    for family, rows in part.groupby("family"):
        w = weights.get(family, 1.0)
        total += w * float(np.mean(np.minimum(rows["error"].to_numpy() ** 2, ERROR_CAP**2)))
        norm += w
    return total / norm if norm else float("inf")
