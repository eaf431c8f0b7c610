"""Pinned seeded outputs of the library scenarios: what ``tests/test_pinned.py`` compares each run with.

For every scenario file in ``scenarios/`` this runs the model at a fixed seed and scale and keeps the yearly
totals of its main series in ``tests/pinned/<scenario>.json``: flows summed by year, stocks and shares at each
year's end, the intention and hope shares averaged over the year. Run it again when behaviour changes *deliberately*
(a rule, a parameter, a random stream), check the differences it prints, and commit the new files with the
change that caused them::

    python tests/pinned/regenerate.py              # every scenario; prints what changed; removes the fixtures
                                                   # of scenarios no longer in scenarios/
    python tests/pinned/regenerate.py baseline     # one scenario
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from returnsim.scenario import load_scenario
from returnsim.simulation import simulate

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parents[1] / "scenarios"
SEED = 20240601
HOUSEHOLDS_PER_AGENT = 100

#: flows summed over each year (persons; restitutions and homes destroyed in homes)
FLOWS = (
    "returns_voluntary_refugees",
    "returns_voluntary_idps",
    "returns_forced",
    "detained",
    "released",
    "redisplaced",
    "displaced_by_conflict",
    "newly_displaced",
    "registered_arrivals",
    "deregistered",
    "homes_destroyed",
    "births",
    "properties_restituted",
)
#: stocks at each year's end (persons; confiscations in homes, cumulative)
STOCKS = ("refugees", "idps", "returnees", "detained_stock", "properties_confiscated")
#: shares at each year's end
SHARES = ("returnees_in_poverty_share", "origin_livelihood_mean")
#: percentages averaged over each year
PERCENTAGES = ("intend_return_12m_pct", "intend_return_12m_pct_surveyed", "hope_return_pct", "hope_return_pct_surveyed")


def tolerance(name: str, households_per_agent: int) -> tuple[float, float]:
    """(relative, absolute) tolerance of a pinned value: 1 % of it, and at least about two agent rows' worth
    (another platform may round a float differently, and one household more or less then changes a count)."""
    if name in SHARES:
        return 0.01, 0.005
    if name in PERCENTAGES:
        return 0.01, 0.02
    if name in ("properties_confiscated", "properties_restituted", "homes_destroyed"):
        return 0.01, 2.0 * households_per_agent  # homes
    return 0.01, 10.0 * households_per_agent  # persons


def summary(path: Path) -> dict:
    """Run one scenario at the pinned seed and scale; its yearly totals."""
    s = load_scenario(path)
    r = simulate(s, seed=SEED, households_per_agent=HOUSEHOLDS_PER_AGENT)
    months = r.series["month"]
    years = sorted({m[:4] for m in months})
    last = [max(i for i, m in enumerate(months) if m.startswith(y)) for y in years]
    series = {}
    for name in FLOWS:
        x = r.series[name]
        series[name] = [float(x[[m.startswith(y) for m in months]].sum()) for y in years]
    for name in STOCKS + SHARES:
        series[name] = [float(r.series[name][i]) for i in last]
    for name in PERCENTAGES:
        x = r.series[name]
        series[name] = [round(float(x[[m.startswith(y) for m in months]].mean()), 6) for y in years]
    return {
        "scenario": s.meta.name,
        "seed": SEED,
        "households_per_agent": HOUSEHOLDS_PER_AGENT,
        "months": int(r.months),
        "years": years,
        "series": series,
    }


def differences(old: dict, new: dict) -> list[str]:
    """Every pinned value of ``new`` outside the tolerance around ``old``, one line each."""
    out = []
    if {k: old[k] for k in ("seed", "households_per_agent", "months", "years")} != {
        k: new[k] for k in ("seed", "households_per_agent", "months", "years")
    }:
        return [f"{new['scenario']}: run settings differ (seed, scale, months or years)"]
    for name, values in new["series"].items():
        pinned = old["series"].get(name)
        if pinned is None:
            out.append(f"{new['scenario']}: {name} is not pinned")
            continue
        rel, tol = tolerance(name, new["households_per_agent"])
        for year, a, b in zip(new["years"], values, pinned, strict=True):
            if not np.isclose(a, b, rtol=rel, atol=tol):
                allowed = max(rel * abs(b), tol)
                out.append(f"{new['scenario']}: {name} {year}: {a:,.6g} (pinned {b:,.6g}, tolerance ±{allowed:,.3g})")
    return out


def path_for(name: str) -> Path:
    return HERE / f"{name}.json"


def _format(summary_: dict) -> str:
    """JSON with one line per series, so that a regenerated file's diff shows which series moved."""
    head = {k: v for k, v in summary_.items() if k != "series"}
    lines = [f"  {json.dumps(name)}: {json.dumps(values)}" for name, values in summary_["series"].items()]
    body = json.dumps(head, indent=1)[:-2]
    return body + ',\n "series": {\n' + ",\n".join(lines) + "\n }\n}\n"


def write(summary_: dict) -> Path:
    """Write a fixture atomically."""
    path = path_for(summary_["scenario"])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=HERE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_format(summary_))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="*", help="scenario names (default: every file in scenarios/)")
    args = ap.parse_args(argv)
    files = [SCENARIOS / f"{n}.toml" for n in args.scenarios] or sorted(SCENARIOS.glob("*.toml"))
    for path in files:
        new = summary(path)
        old_path = path_for(new["scenario"])
        existed = old_path.exists()
        changed = differences(json.loads(old_path.read_text(encoding="utf-8")), new) if existed else []
        write(new)
        status = "new" if not existed else f"{len(changed)} values beyond tolerance" if changed else "within tolerance"
        print(f"{new['scenario']}: {status}")
        for line in changed:
            print("   ", line)
    if not args.scenarios:  # the fixtures are exactly the library's scenarios
        for stale in sorted(set(HERE.glob("*.json")) - {path_for(load_scenario(f).meta.name) for f in files}):
            stale.unlink()
            print(f"{stale.stem}: removed (no scenario file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
