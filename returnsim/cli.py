"""The ``returnsim`` command.

    returnsim run [SCENARIO] [--out DIR] [--seed N] [--months N] [--households-per-agent K]
    returnsim compare A.toml B.toml [C.toml ...] [--out DIR] [--seeds N] [--months N] [--households-per-agent K]
                      [--workers N]
    returnsim check FILE [FILE ...]
    returnsim sweep EXPERIMENT [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT] [--shard I/N]
    returnsim sweep-merge DIR [DIR ...] --out DIR
    returnsim sensitivity DIR

Exit codes: 0 success, 2 bad input (scenario file, flag or output folder), nothing written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from returnsim.experiments.cli import add_commands as add_experiment_commands
from returnsim.experiments.cli import workers_flag
from returnsim.results import OutputError
from returnsim.scenario import ScenarioError, load_scenario

EXIT_BAD_INPUT = 2


def _whole_number(minimum: int):
    """An argparse type: a whole number of at least ``minimum``, with a plain error otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be at least {minimum}")
        return value

    return parse


_positive_int = _whole_number(1)
_seed = _whole_number(0)


def _size_and_output_options(parser: argparse.ArgumentParser, months: str, per_agent: str, figure: str) -> None:
    """Flags shared by the commands that run the model: run length, scale, figure and verbosity."""
    parser.add_argument("--months", type=_positive_int, help=f"months to simulate (default: {months})")
    parser.add_argument(
        "--households-per-agent",
        type=_positive_int,
        metavar="K",
        help=f"households each agent stands for: 1 is full scale (default: {per_agent})",
    )
    parser.add_argument("--no-plot", action="store_true", help=f"skip {figure}")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="returnsim",
        description="Agent-based model of Syrian refugee households deciding whether to return home.",
    )
    from returnsim import __version__

    parser.add_argument("--version", action="version", version=f"returnsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run one scenario and write its results folder",
        description="Run one scenario; print a summary table; write timeseries.csv, manifest.json and "
        "overview.png into the results folder.",
    )
    run.add_argument(
        "scenario",
        nargs="?",
        default="baseline",
        help="scenario file, or the name of a built-in scenario (default: baseline)",
    )
    run.add_argument("--out", type=Path, help="results folder (default: results/<scenario name>)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's simulation.seed)")
    _size_and_output_options(run, "simulation.months", "simulation.households_per_agent", "overview.png")
    run.set_defaults(handler=cmd_run)

    cmp = sub.add_parser(
        "compare",
        help="run scenarios side by side over common seeds",
        description="Run each scenario over the same seeds; print key outcomes with differences from the first "
        "scenario and their spread across seeds; write runs.csv (tidy), outcomes.csv, summary.csv, "
        "comparison.png and manifest.json into the output folder.",
    )
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files or built-in names (2 or more)")
    cmp.add_argument(
        "--out", type=Path, default=Path("results") / "compare", help="output folder (default: %(default)s)"
    )
    cmp.add_argument("--seeds", type=_positive_int, default=5, help="seeds per scenario (default: %(default)s)")
    _size_and_output_options(cmp, "the first scenario's", "the first scenario's", "comparison.png")
    workers_flag(cmp, "runs")
    cmp.set_defaults(handler=cmd_compare)

    check = sub.add_parser(
        "check",
        help="validate scenario files without running them",
        description="Load and validate each scenario file (extends, events, cross-references). Exit 0 when all "
        "are valid, 2 otherwise; each problem is printed to stderr on its own line.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="scenario files or built-in names")
    check.set_defaults(handler=cmd_check)
    add_experiment_commands(sub)  # sweep, sweep-merge, sensitivity (returnsim/experiments/cli.py)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except OutputError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT


def _progress_bar(total: int, desc: str, quiet: bool):
    """A tqdm bar on stderr (shown on terminals only) and its per-month callback."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="month", disable=True if quiet else None, leave=False)

    def tick(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return bar, tick


def cmd_run(args: argparse.Namespace) -> int:
    from returnsim.api import simulate
    from returnsim.plots import overview
    from returnsim.results import check_output_folder, write_run

    scenario = load_scenario(args.scenario)
    out = args.out or Path("results") / scenario.meta.name
    check_output_folder(out)  # before the run, so a bad --out fails at once
    months = args.months or scenario.simulation.months
    bar, tick = _progress_bar(months, scenario.meta.name, args.quiet)
    with bar:
        result = simulate(
            scenario,
            seed=args.seed,
            months=months,
            households_per_agent=args.households_per_agent,
            agents=False,
            progress=tick,
        )
    figure = (
        None
        if args.no_plot
        else (lambda r, path: overview(r.timeseries, path, f"{scenario.meta.name} (seed {r.seed})"))
    )
    write_run(result, out, str(args.scenario), figure)
    if not args.quiet:
        print(format_summary(result))
    print(f"results written to {out}/ (timeseries.csv, manifest.json{'' if args.no_plot else ', overview.png'})")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from returnsim.compare import compare, format_table, write_comparison
    from returnsim.results import check_output_folder

    if len(args.scenarios) < 2:
        print("returnsim compare: give at least two scenarios to compare", file=sys.stderr)
        return EXIT_BAD_INPUT
    check_output_folder(args.out)  # before the runs, so a bad --out fails at once
    result = compare(  # a ScenarioError lists the problems of every file; main() prints them
        args.scenarios,
        seeds=args.seeds,
        months=args.months,
        households_per_agent=args.households_per_agent,
        progress=not args.quiet,
        workers=args.workers,
    )
    write_comparison(result, args.out, plot=not args.no_plot)
    if not args.quiet:
        print(format_table(result))
    print(
        f"results written to {args.out}/ (runs.csv, outcomes.csv, summary.csv, "
        f"{'' if args.no_plot else 'comparison.png, '}manifest.json)"
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for name in args.files:
        try:
            s = load_scenario(name)
        except ScenarioError as exc:
            failed += 1
            print("\n".join(exc.problems), file=sys.stderr)
            continue
        sim = s.simulation
        print(f"ok: {name} ({s.meta.name}: {len(s.events)} events, {sim.months} months from {sim.start})")
    return EXIT_BAD_INPUT if failed else 0


def format_summary(result) -> str:
    """The table ``returnsim run`` prints: persons by host, then overall outcomes."""
    from returnsim.reporters import summary

    rows, totals = summary(result.model, result.timeseries)
    first, last = result.timeseries["month"].iloc[0], result.timeseries["month"].iloc[-1]
    head = (
        f"{result.scenario.meta.name}: {first} to {last}, seed {result.seed}, "
        f"{result.agents:,} agents x {result.households_per_agent} households (persons)"
    )
    cols = ("at_start", "returned_voluntarily", "deported", "still_displaced")
    titles = ("at start", "returned voluntarily", "deported", "still displaced")
    width = max(len(r["where"]) for r in rows)
    lines = [head, "", f"{'':<{width}}  " + "  ".join(f"{t:>20}" for t in titles)]
    for r in rows:
        if r["where"] == "total":
            lines.append("-" * (width + 2 + 22 * len(cols)))
        lines.append(f"{r['where']:<{width}}  " + "  ".join(f"{r[c]:>20,.0f}" for c in cols))
    lines.append("")
    key_width = max(len(k) for k in totals)
    for key, value in totals.items():
        text = f"{value:,.3f}" if "share" in key or "%" in key else f"{value:,.0f}"
        lines.append(f"{key:<{key_width}}  {text:>14}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
