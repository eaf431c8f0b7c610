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

from returnsim.results import OutputError
from returnsim.scenario import ScenarioError, load_scenario
from returnsim.state import StateError

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


def _set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change a scenario key, e.g. --set decision.intercept=-5.5 or --set events.turkey_quota.quota=8000 "
        "(repeatable; VALUE is read as TOML)",
    )


def _save_state_option(args: argparse.Namespace, scenario, first: int, months: int):
    """``(k, path)``: save after the k-th month of the run (``--save-at``, default the last)."""
    from returnsim.geography import month_label, month_number
    from returnsim.scenario import ScenarioError

    if args.save_at is None:
        return months, args.save_state
    start = scenario.simulation.start
    try:
        k = month_number(args.save_at) - month_number(start) - first + 1
    except ValueError:
        k = 0
    if not 1 <= k <= months:
        last = month_label(start, first + months - 1)
        raise ScenarioError(
            [f"--save-at {args.save_at}: must be a month of the run, {month_label(start, first)} to {last}"]
        )
    return k, args.save_state


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
    _set_option(run)
    run.add_argument(
        "--from",
        dest="from_state",
        metavar="STATE",
        help="start from a state saved by --save-state (same seed and streams: a branch of that run)",
    )
    run.add_argument("--save-state", metavar="STATE", help="save the state at the end (or at --save-at) to this file")
    run.add_argument("--save-at", metavar="YYYY-MM", help="with --save-state: save after this month instead")
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
    _set_option(cmp)
    _size_and_output_options(cmp, "the first scenario's", "the first scenario's", "comparison.png")
    from returnsim.experiments.cli import workers_flag

    workers_flag(cmp, "runs")
    cmp.set_defaults(handler=cmd_compare)

    check = sub.add_parser(
        "check",
        help="validate scenario files without running them",
        description="Load and validate each scenario file (extends, events, cross-references). Exit 0 when all "
        "are valid, 2 otherwise; each problem is printed to stderr on its own line.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="scenario files or built-in names")
    _set_option(check)
    check.set_defaults(handler=cmd_check)
    from returnsim import credibility
    from returnsim.dashboard.cli import add_commands

    add_commands(sub)
    from returnsim.experiments.cli import add_commands as add_experiment_commands

    add_experiment_commands(sub)  # sweep, sweep-merge, sensitivity (returnsim/experiments/cli.py)
    credibility.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OutputError, StateError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT


def _progress_bar(total: int, desc: str, quiet: bool):
    """A tqdm bar on stderr (shown on terminals only) and its per-month callback."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="month", disable=True if quiet else None, leave=False)

    def tick(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return bar, tick


def _scenario(name: str, settings: list[str] | None):
    """Load a scenario and apply ``--set KEY=VALUE`` changes (validated like the file itself)."""
    from returnsim.scenario.changes import parse_assignment

    scenario = load_scenario(name)
    if settings:
        scenario = scenario.with_changes(dict(parse_assignment(a) for a in settings), source="--set")
    return scenario


def _figure(scenario):
    def draw(result, path: Path) -> None:
        from returnsim.plots import overview

        overview(result.timeseries, path, f"{scenario.meta.name} (seed {result.seed})", scenario)

    return draw


def cmd_run(args: argparse.Namespace) -> int:
    from returnsim.results import check_output_folder, write_run
    from returnsim.simulation import Simulation, simulate

    scenario = _scenario(args.scenario, args.set)
    out = args.out or Path("results") / scenario.meta.name
    check_output_folder(out)  # before the run, so a bad --out fails at once
    first = Simulation.start_of(args.from_state) if args.from_state else 0
    months = args.months or max(scenario.simulation.months - first, 1)
    save = _save_state_option(args, scenario, first, months) if args.save_state else None
    bar, tick = _progress_bar(months, scenario.meta.name, args.quiet)
    with bar:
        result = simulate(
            scenario,
            seed=args.seed,
            months=months,
            households_per_agent=args.households_per_agent,
            state=args.from_state,
            save_state=save,
            progress=tick,
        )
    write_run(result, out, str(args.scenario), None if args.no_plot else _figure(scenario))
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
    scenarios = [_scenario(name, args.set) for name in args.scenarios] if args.set else args.scenarios
    result = compare(  # a ScenarioError lists the problems of every file; main() prints them
        scenarios,
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
            s = _scenario(name, args.set)
        except ScenarioError as exc:
            failed += 1
            print("\n".join(exc.problems), file=sys.stderr)
            continue
        sim = s.simulation
        print(f"ok: {name} ({s.meta.name}: {len(s.events)} events, {sim.months} months from {sim.start})")
    return EXIT_BAD_INPUT if failed else 0


def format_summary(result) -> str:
    """The table ``returnsim run`` prints: persons by host, then overall outcomes."""
    by = result.by_location
    rows = [{key: by[key][i] for key in by} for i in range(len(by["where"]))]
    rows.append({k: ("total" if k == "where" else sum(r[k] for r in rows)) for k in rows[0]})
    totals = result.totals()
    first, last = result.series["month"][0], result.series["month"][-1]
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
