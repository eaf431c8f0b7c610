"""Scenarios side by side: every scenario over the same seeds, key outcomes and their differences.

``compare`` runs each scenario once per seed through the one entry point, spread over every core
(``returnsim.experiments.executors``), with common seeds (the first scenario's ``simulation.seed``,
plus 1, 2…) and a common horizon and scale (the first scenario's unless given), so a difference
between two scenarios is the policy's and its spread across seeds is the model's randomness.

>>> c = compare(["baseline", "baseline"], seeds=2, months=3, households_per_agent=5000, progress=False)
>>> c.labels, c.seeds
(['baseline', 'baseline#2'], [20170101, 20170102])
>>> float(c.summary.query("scenario == 'baseline#2'")["diff_mean"].abs().max())
0.0
"""

from __future__ import annotations

import math
import platform
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from returnsim.experiments.executors import Executor, make_executor
from returnsim.scenario import Scenario, ScenarioError
from returnsim.simulation import as_scenario

__all__ = ["OUTCOMES", "PANELS", "Comparison", "compare", "format_table", "write_comparison"]

# (time-series column, how a run is summed up, label). Persons unless the label says otherwise.
OUTCOMES = (
    ("returns_voluntary_refugees", "sum", "voluntary returns from abroad"),
    ("returns_voluntary_idps", "sum", "IDP returns home"),
    ("returns_forced", "sum", "forced returns (deportations)"),
    ("detained", "sum", "returnees detained"),
    ("redisplaced", "sum", "returnees displaced again"),
    ("displaced_by_conflict", "sum", "displaced by fighting (events)"),
    ("properties_confiscated", "last", "homes confiscated (households)"),
    ("properties_restituted", "sum", "homes restituted (households)"),
    ("returnees_in_poverty_share", "last", "returnees in poverty at end (share)"),
    ("intend_return_12m_pct", "mean", "intend to return in 12 months (% mean)"),
    ("refugees", "last", "refugees abroad at end"),
    ("returnees", "last", "returnees at home at end"),
)
# the overlay figure: (column, title)
PANELS = (
    ("returns_voluntary", "Voluntary returns, refugees and IDPs (persons/month)"),
    ("returns_forced", "Forced returns (persons/month)"),
    ("detained", "Detentions (persons/month)"),
    ("redisplaced", "Returnees displaced again (persons/month)"),
    ("returnees_in_poverty_share", "Returnees in poverty (share)"),
    ("intend_return_12m_pct", "Intend to return within 12 months (%)"),
)


@dataclass
class Comparison:
    """The runs of a comparison and their summaries.

    ``runs``: tidy time series, one row per scenario, seed and month. ``outcomes``: one row per
    scenario and seed, one column per key outcome. ``summary``: per scenario and outcome, the mean
    and standard deviation across seeds, and the mean and standard deviation of the seed-by-seed
    difference from the first scenario.
    """

    labels: list[str]
    scenarios: list[Scenario]
    sources: list[str]
    seeds: list[int]
    months: int
    households_per_agent: int
    runs: pd.DataFrame
    outcomes: pd.DataFrame
    summary: pd.DataFrame
    wall_seconds: float


def _labels(items: Sequence[Scenario | str | Path], scenarios: list[Scenario]) -> list[str]:
    """A file's stem, or a scenario object's ``meta.name``; repeated labels get ``#2``, ``#3``…"""
    out: list[str] = []
    for item, s in zip(items, scenarios, strict=True):
        base = s.meta.name if isinstance(item, Scenario) else Path(str(item)).name.removesuffix(".toml")
        label, n = base, 1
        while label in out:
            n += 1
            label = f"{base}#{n}"
        out.append(label)
    return out


def compare(
    scenarios: Sequence[Scenario | str | Path],
    *,
    seeds: int | Sequence[int] = 5,
    months: int | None = None,
    households_per_agent: int | None = None,
    progress: bool = True,
    workers: int | None = None,
    executor: Executor | None = None,
) -> Comparison:
    """Run every scenario over common seeds and summarise the key outcomes (see module docs).

    ``seeds`` is a count (the first scenario's seed and the ones after it) or a list of seeds.
    All scenarios are loaded (and validated) before anything runs. The runs are spread over ``workers``
    local processes (default: every core) or run by ``executor`` (see ``returnsim.experiments.executors``).
    """
    from tqdm import tqdm

    items = list(scenarios)
    if not items:
        raise ValueError("compare needs at least one scenario")
    loaded = _load_all(items)
    labels = _labels(items, loaded)
    first = loaded[0].simulation
    seed_list = list(range(first.seed, first.seed + seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise ValueError("compare needs at least one seed")
    months = months or first.months
    hpa = households_per_agent or first.households_per_agent
    jobs = [(i, label, s, seed) for i, (label, s) in enumerate(zip(labels, loaded, strict=True)) for seed in seed_list]
    frames: dict[tuple[int, int], pd.DataFrame] = {}
    wall = 0.0
    with (
        tqdm(total=len(jobs), desc="compare", unit="run", disable=None if progress else True, leave=False) as bar,
        nullcontext(executor) if executor else make_executor(workers, jobs=len(jobs)) as ex,
    ):
        for done in ex.map_unordered(partial(_run_job, months, hpa), jobs):
            if done.error is not None:
                raise done.error
            i, label, _, seed = done.item
            timeseries, seconds = done.value
            wall += seconds
            frames[i, seed] = timeseries.assign(scenario=label, seed=seed)
            bar.update()
    runs = pd.concat([frames[i, seed] for i, _, _, seed in jobs], ignore_index=True)
    runs = runs[["scenario", "seed", *[c for c in runs.columns if c not in ("scenario", "seed")]]]
    outcomes = _outcomes(runs, labels)
    return Comparison(
        labels=labels,
        scenarios=loaded,
        sources=[str(i) if not isinstance(i, Scenario) else f"<{i.meta.name}>" for i in items],
        seeds=seed_list,
        months=months,
        households_per_agent=hpa,
        runs=runs,
        outcomes=outcomes,
        summary=_summary(outcomes, labels),
        wall_seconds=wall,
    )


def _run_job(months: int, hpa: int, job: tuple) -> tuple[pd.DataFrame, float]:
    """One (scenario, seed) run of a comparison, in whichever process the executor chose."""
    from returnsim.experiments.runner import run_series

    _, _, scenario, seed = job
    return run_series(scenario, seed, months, hpa)


def _load_all(items: list) -> list[Scenario]:
    """Load every scenario; report the problems of all of them at once (one ScenarioError)."""
    loaded, problems = [], []
    for item in items:
        try:
            loaded.append(as_scenario(item))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    return loaded


def _outcomes(runs: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """One row per scenario and seed, one column per key outcome (as ``OUTCOMES`` sums them up)."""
    present = [(col, how) for col, how, _ in OUTCOMES if col in runs.columns]
    grouped = runs.groupby(["scenario", "seed"], sort=False)
    out = pd.DataFrame({col: getattr(grouped[col], how)() for col, how in present}).reset_index()
    out["scenario"] = pd.Categorical(out["scenario"], categories=labels, ordered=True)
    return out.sort_values(["scenario", "seed"]).reset_index(drop=True)


def _summary(outcomes: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Mean and sd across seeds of each outcome, and of its seed-by-seed difference from the first."""
    cols = [c for c in outcomes.columns if c not in ("scenario", "seed")]
    wide = outcomes.set_index(["scenario", "seed"])[cols]
    reference = wide.xs(labels[0], level="scenario")
    rows = []
    for label in labels:
        values = wide.xs(label, level="scenario")
        diff = values - reference.loc[values.index]
        n = len(values)
        for col in cols:
            rows.append(
                {
                    "scenario": label,
                    "outcome": col,
                    "mean": values[col].mean(),
                    "sd": values[col].std(ddof=1) if n > 1 else 0.0,
                    "diff_mean": diff[col].mean(),
                    "diff_sd": diff[col].std(ddof=1) if n > 1 else 0.0,
                    "seeds": n,
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ reporting


def _pair(mean: float, sd: float, share: bool, signed: bool = False) -> str:
    """``mean ± sd``, both rounded at the sd's second significant digit, never finer than the outcome's own
    precision (whole persons; three decimals for shares), so the mean shows no digits its spread does not
    support.

    >>> _pair(238_667, 42_194, False), _pair(1.8403, 0.1093, True), _pair(-0.2, 0.0, False, signed=True)
    ('239,000 ± 42,000', '1.84 ± 0.11', '+0 ± 0')
    """
    finest = 3 if share else 0
    decimals = min(finest, 1 - math.floor(math.log10(sd))) if sd > 0 and math.isfinite(sd) else finest
    m, s = round(mean, decimals) + 0.0, round(sd, decimals) + 0.0  # + 0.0: no "-0"
    places = max(decimals, 0)
    return f"{m:{'+' if signed else ''},.{places}f} ± {s:,.{places}f}"


def format_table(c: Comparison) -> str:
    """The table ``returnsim compare`` prints: each scenario's mean ± sd across seeds, then each
    scenario's difference from the first (mean ± sd of the seed-by-seed differences)."""
    labels_by_col = {col: label for col, _, label in OUTCOMES}
    s = c.summary
    start, end = c.runs["month"].iloc[0], c.runs["month"].iloc[c.months - 1]
    head = (
        f"{len(c.labels)} scenarios x {len(c.seeds)} seeds ({', '.join(map(str, c.seeds))}), {start} to {end}, "
        f"1 agent = {c.households_per_agent} households; persons unless stated; mean ± sd across seeds"
    )
    titles = [*c.labels, *(f"Δ {label}" for label in c.labels[1:])]
    cells: list[list[str]] = []
    for col in dict.fromkeys(s["outcome"]):
        share = "share" in col or "pct" in col
        row = [labels_by_col[col]]
        by = s[s["outcome"] == col].set_index("scenario")
        row += [_pair(by.at[lab, "mean"], by.at[lab, "sd"], share) for lab in c.labels]
        row += [_pair(by.at[lab, "diff_mean"], by.at[lab, "diff_sd"], share, signed=True) for lab in c.labels[1:]]
        cells.append(row)
    widths = [max(len(r[i]) for r in [["", *titles], *cells]) for i in range(len(titles) + 1)]

    def line(r: list[str]) -> str:
        return "  ".join(f"{v:<{w}}" if i == 0 else f"{v:>{w}}" for i, (v, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([head, "", line(["outcome", *titles]), "-" * (sum(widths) + 2 * len(titles)), *map(line, cells)])


def overlay_figure(runs: pd.DataFrame, labels: Sequence[str], n_seeds: int, scenarios: Sequence = ()):
    """One panel per key series: each scenario's mean across seeds, with its min-max band. Events that not
    every scenario has (the policies that tell them apart) are marked where they start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from returnsim import style

    trees = [style.scenario_tree(s) for s in scenarios]
    display = {k: v for tree in trees for k, v in style.names(tree).items()}
    months = sorted(runs["month"].unique())
    shared = [e for e in (trees[0].get("events", []) if trees else []) if all(e in t.get("events", []) for t in trees)]
    policies = [e for t in trees for e in t.get("events", []) if e not in shared]
    marks = style.event_marks(policies, months[0], months[-1], display) if months else []
    fig, axes = plt.subplots(3, 2, figsize=(12, 10), sharex=True, layout="constrained")
    for i, (ax, (col, title)) in enumerate(zip(axes.flat, PANELS, strict=True)):
        for label in labels:
            one = runs[runs["scenario"] == label]
            stats = one.groupby("month", sort=True)[col].agg(["mean", "min", "max"])
            x = style.month_index(stats.index)
            (ln,) = ax.plot(x, stats["mean"], label=label, lw=1.4)
            ax.fill_between(x, stats["min"], stats["max"], color=ln.get_color(), alpha=0.2, lw=0)
        ax.set_title(title, fontsize=10, loc="left")
        style.style_axis(ax, col)
        style.mark_events(ax, marks, captions=i < 2)
    for ax in axes[-1]:
        style.date_axis(ax)
    axes.flat[0].legend(fontsize=8, frameon=False)
    fig.suptitle(f"{' vs '.join(labels)}: mean of {n_seeds} seeds, band = min-max")
    return fig


def overlay(c: Comparison, path: Path) -> Path:
    """:func:`overlay_figure` of a comparison, saved as PNG."""
    import matplotlib.pyplot as plt

    fig = overlay_figure(c.runs, c.labels, len(c.seeds), c.scenarios)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_comparison(c: Comparison, out: Path, plot: bool = True) -> Path:
    """Write ``runs.csv``, ``outcomes.csv``, ``summary.csv``, ``comparison.png`` and ``manifest.json``
    into ``out``, all at once (a temporary folder renamed into place)."""
    from returnsim import __version__
    from returnsim.results import atomic_folder, write_manifest

    with atomic_folder(Path(out), "compare") as tmp:
        c.runs.to_csv(tmp / "runs.csv", index=False)
        c.outcomes.to_csv(tmp / "outcomes.csv", index=False)
        c.summary.to_csv(tmp / "summary.csv", index=False)
        (tmp / "summary.txt").write_text(format_table(c) + "\n", encoding="utf-8")
        if plot:
            overlay(c, tmp / "comparison.png")
        manifest = {
            "package": "returnsim",
            "kind": "compare",
            "version": __version__,
            "command": "compare",
            "labels": c.labels,
            "scenario_sources": c.sources,
            "scenarios": {lab: s.model_dump(mode="json") for lab, s in zip(c.labels, c.scenarios, strict=True)},
            "seeds": c.seeds,
            "months": c.months,
            "households_per_agent": c.households_per_agent,
            "wall_seconds": round(c.wall_seconds, 3),
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "numpy": np.__version__,
        }
        write_manifest(tmp, manifest)
    return Path(out)
