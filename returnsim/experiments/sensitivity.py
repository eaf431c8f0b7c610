"""Sensitivity of a sweep's outcomes to its parameters, read from its results folder.

The method follows the design the sweep ran:

- ``sobol``: first-order and total Sobol' indices with bootstrap confidence intervals
  (``SALib.analyze.sobol``), ranked by the total index;
- ``morris``: Morris screening, mu* (mean absolute elementary effect, with its confidence interval) and sigma
  (``SALib.analyze.morris``), ranked by mu*;
- ``grid``: one-factor profiles: each outcome's mean over the runs at each value of each parameter (the
  other parameters and the replications averaged), with a 95 % interval, ranked by the spread of the means;
- ``lhs``: Spearman rank correlations of each parameter with each outcome, ranked by their size.

Sobol' and Morris estimators need one value per design point: the mean over that point's successful
replications. Every point needs at least one; a point whose runs all failed stops the analysis with a
message saying which.

>>> import numpy as np
>>> problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 1], [0, 2]]}
>>> from SALib.sample import morris as sample
>>> X = sample.sample(problem, 10, num_levels=4, seed=1)
>>> t = morris_table(problem, X, {"y": 3 * X[:, 0] + X[:, 1]}, levels=4, seed=1)
>>> t[["parameter", "mu_star", "sigma"]].round(6).to_dict("records")
[{'parameter': 'a', 'mu_star': 3.0, 'sigma': 0.0}, {'parameter': 'b', 'mu_star': 2.0, 'sigma': 0.0}]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from returnsim.experiments.seeds import analysis_seed
from returnsim.results import OutputError

__all__ = [
    "Sensitivity",
    "analyze",
    "correlation_table",
    "format_table",
    "morris_table",
    "profile_table",
    "sobol_table",
    "write_sensitivity",
]

METHODS = {"sobol": "sobol", "morris": "morris", "grid": "profiles", "lhs": "correlation"}
RANK_BY = {"sobol": "ST", "morris": "mu_star", "profiles": "spread", "correlation": "abs_rho"}


@dataclass
class Sensitivity:
    """The indices of every outcome, one row per (outcome, parameter), ranked within each outcome.
    ``profiles`` holds the one-factor profiles of a grid (one row per outcome, parameter and value)."""

    method: str
    table: pd.DataFrame
    folder: Path
    notes: list[str] = field(default_factory=list)
    profiles: pd.DataFrame | None = None


def analyze(
    folder: str | Path, outcomes: list[str] | None = None, conf_level: float = 0.95, resamples: int = 1000
) -> Sensitivity:
    """Sensitivity of the outcomes (default: all) of the sweep in ``folder`` (see the module docs)."""
    from returnsim.experiments.store import load_results

    folder = Path(folder)
    runs = load_results(folder)
    manifest = runs.attrs["manifest"]
    spec = manifest["experiment"]["spec"]
    names = list(manifest["parameters"])
    known = manifest["outcome_names"]
    outcomes = outcomes or known
    unknown = [o for o in outcomes if o not in known]
    if unknown:
        raise OutputError(f"{folder}: no outcome {', '.join(unknown)} (outcomes: {', '.join(known)})")
    ok = runs[runs["status"] == "ok"]
    if ok.empty:
        raise OutputError(f"{folder}: no successful run to analyse ({len(runs)} stored, all failed)")
    notes = []
    missing = manifest["points"] * manifest["replications"] - len(runs)
    if missing > 0:
        notes.append(f"{missing} planned runs are not stored yet; means are over the replications stored")
    failed = len(runs) - len(ok)
    if failed:
        notes.append(f"{failed} runs failed and are left out")
    method = METHODS[manifest["design"]]
    seed = analysis_seed(manifest["root_seed"])
    if method in ("sobol", "morris"):
        means = ok.groupby("point")[outcomes].mean()
        absent = sorted(set(range(manifest["points"])) - set(means.index))
        if absent:
            shown = ", ".join(map(str, absent[:10])) + (" …" if len(absent) > 10 else "")
            raise OutputError(
                f"{folder}: {len(absent)} of {manifest['points']} design points have no successful run (points "
                f"{shown}); {method} indices need every point: finish the sweep, or rerun it with --retry-failed"
            )
        problem = {"num_vars": len(names), "names": names, "bounds": [spec["parameters"][n]["range"] for n in names]}
        ys = {o: means[o].to_numpy(float) for o in outcomes}
        if method == "sobol":
            table = sobol_table(problem, ys, spec["design"]["second_order"], conf_level, resamples, seed)
        else:
            X = ok.groupby("point")[names].first().to_numpy(float)
            table = morris_table(problem, X, ys, spec["design"]["levels"], conf_level, resamples, seed)
        for o in outcomes:
            if np.ptp(ys[o]) == 0:
                notes.append(f"{o} is the same at every point: its indices are undefined")
        return Sensitivity(method, table, folder, notes)
    if method == "profiles":
        profiles = profile_table(ok, names, outcomes)
        spread = profiles.groupby(["outcome", "parameter"], sort=False)["mean"].agg(lambda m: m.max() - m.min())
        table = _ranked(spread.rename("spread").reset_index(), "spread")
        return Sensitivity(method, table, folder, notes, profiles=profiles)
    return Sensitivity(method, correlation_table(ok, names, outcomes), folder, notes)


def _ranked(table: pd.DataFrame, by: str) -> pd.DataFrame:
    table = table.copy()
    key = table[by].fillna(-np.inf)
    table["rank"] = key.groupby(table["outcome"], sort=False).rank(ascending=False, method="min").astype(int)
    order = table.assign(_k=-key).sort_values(["outcome", "_k"], kind="stable").drop(columns="_k")
    outcomes = list(dict.fromkeys(table["outcome"]))
    order["outcome"] = pd.Categorical(order["outcome"], categories=outcomes, ordered=True)
    return order.sort_values(["outcome", "rank"], kind="stable").assign(outcome=lambda t: t["outcome"].astype(str))


def sobol_table(
    problem: dict,
    ys: dict[str, np.ndarray],
    second_order: bool = False,
    conf_level: float = 0.95,
    resamples: int = 1000,
    seed: int | None = None,
) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol' indices of each outcome in ``ys`` (values in the order of
    ``SALib.sample.sobol``), with the half-widths of their confidence intervals (``S1_conf``, ``ST_conf``)."""
    from SALib.analyze import sobol

    rows = []
    for outcome, y in ys.items():
        if np.ptp(y) == 0:
            res = {k: np.full(problem["num_vars"], np.nan) for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            with warnings.catch_warnings():
                # an outcome that is nearly constant (a rare event in small runs) has constant bootstrap
                # resamples: SALib warns, and the wide or missing confidence half-widths say the same
                warnings.filterwarnings("ignore", "Constant values encountered", UserWarning)
                res = sobol.analyze(
                    problem, np.asarray(y, float), calc_second_order=second_order, num_resamples=resamples,
                    conf_level=conf_level, seed=seed,
                )  # fmt: skip
        for i, name in enumerate(problem["names"]):
            rows.append(
                {"outcome": outcome, "parameter": name}
                | {k: float(res[k][i]) for k in ("S1", "S1_conf", "ST", "ST_conf")}
            )
    return _ranked(pd.DataFrame(rows), "ST")


def morris_table(
    problem: dict,
    X: np.ndarray,
    ys: dict[str, np.ndarray],
    levels: int = 4,
    conf_level: float = 0.95,
    resamples: int = 1000,
    seed: int | None = None,
) -> pd.DataFrame:
    """Morris mu*, its confidence half-width, μ and sigma of each outcome (X and values in the order of
    ``SALib.sample.morris``)."""
    from SALib.analyze import morris

    rows = []
    for outcome, y in ys.items():
        res = morris.analyze(
            problem, np.asarray(X, float), np.asarray(y, float), num_resamples=resamples, conf_level=conf_level,
            num_levels=levels, seed=seed,
        )  # fmt: skip
        for i, name in enumerate(problem["names"]):
            rows.append(
                {"outcome": outcome, "parameter": name}
                | {k: float(res[k][i]) for k in ("mu_star", "mu_star_conf", "mu", "sigma")}
            )
    return _ranked(pd.DataFrame(rows), "mu_star")


def profile_table(runs: pd.DataFrame, names: list[str], outcomes: list[str]) -> pd.DataFrame:
    """One-factor profiles of a grid: for each outcome, parameter and value, the mean of the runs at that
    value, their standard deviation, count and the half-width of a 95 % t interval of the mean."""
    from scipy import stats

    rows = []
    for outcome in outcomes:
        for name in names:
            for value, group in runs.groupby(name, sort=True)[outcome]:
                n = group.count()
                sd = float(group.std(ddof=1)) if n > 1 else 0.0
                half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n > 1 else float("nan")
                rows.append(
                    {
                        "outcome": outcome,
                        "parameter": name,
                        "value": value,
                        "mean": float(group.mean()),
                        "sd": sd,
                        "runs": int(n),
                        "ci95": half,
                    }
                )
    return pd.DataFrame(rows)


def correlation_table(runs: pd.DataFrame, names: list[str], outcomes: list[str]) -> pd.DataFrame:
    """Spearman rank correlation of each parameter with each outcome over the runs, with its p-value."""
    from scipy import stats

    rows = []
    for outcome in outcomes:
        for name in names:
            y, x = runs[outcome].to_numpy(float), runs[name].to_numpy(float)
            if np.ptp(y) == 0 or np.ptp(x) == 0:
                rho, p = float("nan"), float("nan")
            else:
                res = stats.spearmanr(x, y)
                rho, p = float(res.statistic), float(res.pvalue)
            rows.append({"outcome": outcome, "parameter": name, "rho": rho, "p_value": p, "abs_rho": abs(rho)})
    return _ranked(pd.DataFrame(rows), "abs_rho")


# ---------------------------------------------------------------------------------------------- output

_COLUMNS = {
    "sobol": [("S1", "S1"), ("S1_conf", "± S1"), ("ST", "ST"), ("ST_conf", "± ST")],
    "morris": [("mu_star", "mu*"), ("mu_star_conf", "± mu*"), ("sigma", "sigma"), ("mu", "mu")],
    "profiles": [("spread", "max - min of means")],
    "correlation": [("rho", "Spearman rho"), ("p_value", "p")],
}
_TITLES = {
    "sobol": "Sobol' indices (S1 first order, ST total; ± half-width of the confidence interval), ranked by ST",
    "morris": "Morris screening (mu* mean absolute elementary effect, sigma its spread), ranked by mu*",
    "profiles": "One-factor profiles: spread of an outcome's mean across each parameter's values, ranked",
    "correlation": "Spearman rank correlation of each parameter with each outcome, ranked by its size",
}


def format_table(result: Sensitivity) -> str:
    """The ranked table ``returnsim sensitivity`` prints."""
    cols = _COLUMNS[result.method]
    t = result.table
    head = ["outcome", "rank", "parameter", *(title for _, title in cols)]
    body = [[r["outcome"], str(r["rank"]), r["parameter"], *(_num(r[c]) for c, _ in cols)] for _, r in t.iterrows()]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells):
        return "  ".join(
            c.ljust(w) if i in (0, 2) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines = [_TITLES[result.method], "", line(head), "-" * (sum(widths) + 2 * (len(widths) - 1))]
    previous = None
    for cells in body:
        lines.append(line(cells if cells[0] != previous else ["", *cells[1:]]))
        previous = cells[0]
    return "\n".join([*lines, *(f"note: {n}" for n in result.notes)])


def _num(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"


def write_sensitivity(result: Sensitivity, out: Path, plot: bool = True) -> Path:
    """Write ``indices.csv`` (and ``profiles.csv`` for a grid), ``sensitivity.txt`` and ``sensitivity.png``
    into ``out``, all at once."""
    from returnsim import __version__
    from returnsim.results import atomic_folder, write_manifest

    with atomic_folder(Path(out), "sensitivity") as tmp:
        result.table.to_csv(tmp / "indices.csv", index=False)
        if result.profiles is not None:
            result.profiles.to_csv(tmp / "profiles.csv", index=False)
        (tmp / "sensitivity.txt").write_text(format_table(result) + "\n", encoding="utf-8")
        if plot:
            figure(result, tmp / "sensitivity.png")
        manifest = {
            "package": "returnsim",
            "kind": "sensitivity",
            "version": __version__,
            "command": "sensitivity",
            "method": result.method,
            "sweep": str(result.folder),
            "notes": result.notes,
        }
        write_manifest(tmp, manifest)
    return Path(out)


def figure(result: Sensitivity, path: Path) -> None:
    """One panel per outcome: indices as bars (Sobol', correlation), mu* against sigma (Morris), or, for a
    grid, one panel per outcome and parameter with the profile and its 95 % band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    outcomes = list(dict.fromkeys(result.table["outcome"]))
    if result.method == "profiles":
        names = list(dict.fromkeys(result.profiles["parameter"]))
        fig, axes = plt.subplots(
            len(outcomes), len(names), figsize=(3.2 * len(names) + 1, 2.6 * len(outcomes) + 0.6), squeeze=False,
            layout="constrained",
        )  # fmt: skip
        p = result.profiles
        for i, outcome in enumerate(outcomes):
            for j, name in enumerate(names):
                ax = axes[i, j]
                rows = p[(p["outcome"] == outcome) & (p["parameter"] == name)]
                x = np.arange(len(rows))
                ax.errorbar(x, rows["mean"], yerr=rows["ci95"].fillna(0), marker="o", capsize=3)
                ax.set_xticks(x, [str(v) for v in rows["value"]], fontsize=8)
                ax.grid(alpha=0.3)
                ax.ticklabel_format(axis="y", style="plain", useOffset=False)
                if i == len(outcomes) - 1:
                    ax.set_xlabel(name, fontsize=9)
                if j == 0:
                    ax.set_ylabel(outcome, fontsize=9)
        fig.suptitle("One-factor profiles: mean over the other parameters and the replications, 95 % interval")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return
    ncols = min(3, len(outcomes))
    nrows = -(-len(outcomes) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(max(5 * ncols, 7), 3.4 * nrows + 0.6), squeeze=False, layout="constrained"
    )
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        t = result.table[result.table["outcome"] == outcome].iloc[::-1]
        y = np.arange(len(t))
        if result.method == "sobol":
            ax.barh(y + 0.2, t["ST"], height=0.4, xerr=t["ST_conf"], label="total (ST)", capsize=2)
            ax.barh(y - 0.2, t["S1"], height=0.4, xerr=t["S1_conf"], label="first order (S1)", capsize=2)
            ax.set_yticks(y, t["parameter"], fontsize=8)
            finite = t["S1"].to_numpy()[np.isfinite(t["S1"].to_numpy())]
            ax.set_xlim(left=min(0.0, float(finite.min(initial=0.0)) - 0.05))
        elif result.method == "morris":
            ax.errorbar(t["mu_star"], t["sigma"], xerr=t["mu_star_conf"], fmt="o", capsize=2)
            for _, r in t.iterrows():
                ax.annotate(
                    r["parameter"], (r["mu_star"], r["sigma"]), fontsize=7, xytext=(3, 3), textcoords="offset points"
                )
            ax.set_xlabel("mu*")
            ax.set_ylabel("sigma")
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 250k, 1.5M: readable counts of persons
            ax.yaxis.set_major_formatter(EngFormatter(sep=""))
        else:
            ax.barh(y, t["rho"])
            ax.set_yticks(y, t["parameter"], fontsize=8)
            ax.set_xlim(-1, 1)
        ax.set_title(outcome, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_visible(False)
    if result.method == "sobol":
        axes.flat[0].legend(fontsize=8)
    short = {
        "sobol": "Sobol' indices with confidence intervals",
        "morris": "Morris screening: mu* (with its confidence interval) against sigma",
        "correlation": "Spearman rank correlation of each parameter with each outcome",
    }
    fig.suptitle(short[result.method], fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)
