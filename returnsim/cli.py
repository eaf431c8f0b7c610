"""The ``returnsim`` command.

    returnsim run [SCENARIO] [--out DIR] [--seed N] [--months N] [--households-per-agent K]
    returnsim compare A B [C ...] [--out DIR] [--seeds N] [--months N] [--households-per-agent K] [--workers N]
    returnsim check FILE [FILE ...]
    returnsim list
    returnsim sweep EXPERIMENT [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT] [--shard I/N]
    returnsim sweep-merge DIR [DIR ...] --out DIR
    returnsim sensitivity DIR
    returnsim dashboard [SCENARIO] [--port N] [--host ADDRESS]
    returnsim report RESULTS_DIR [--out FILE]
    returnsim validate [SCENARIO] [--seeds N]   /   explain [SCENARIO] [--month YYYY-MM]
    returnsim calibrate SPEC [--out DIR] [--quick] [--workers N] [--scheduler ADDRESS]

``run``, ``compare`` and ``check`` take ``--set KEY=VALUE`` (repeatable) to change any scenario key, event
fields included (``events.<id>.<key>``).

Everything that can fail before simulating is checked before simulating: the scenario files, the flags
(each bounded, with its limit in the message), the memory the run needs and the output folder.

Exit codes: 0 success; 1 the simulation ran but its results could not be written (the earlier results
are unchanged); 2 bad input (a scenario file, a flag or the output folder), found before anything ran,
nothing written; 130 interrupted by Ctrl-C (SIGINT); 143 stopped by SIGTERM (128 + 15). An interrupted
command prints one line and leaves no half-written folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from returnsim import limits, parallel
from returnsim.results import OutputError, WriteError
from returnsim.scenario import Located, ScenarioError, event_warnings, load_located
from returnsim.state import StateError

EXIT_WRITE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_SIGINT = 130  # 128 + SIGINT (2), as shells report it
EXIT_SIGTERM = 143  # 128 + SIGTERM (15)
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE (13): the reader of the output went away


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like Ctrl-C, so temporary folders are removed on the way out."""


def _whole_number(minimum: int, maximum: int, unit: str = ""):
    """An argparse type: a whole number from ``minimum`` to ``maximum``, with a plain error otherwise."""

    def parse(text: str) -> int:
        shown = text if len(text) <= 24 else text[:20] + "…"
        if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):  # ASCII digits: int() would take any script's
            raise argparse.ArgumentTypeError(f"{shown!r} is not a whole number")
        value = int(text) if len(text.strip()) <= 30 else maximum + 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{shown} must be at least {minimum}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{shown} is more than the limit {maximum}{unit}")
        return value

    return parse


_months = _whole_number(1, limits.MAX_MONTHS, " (100 years)")
_households_per_agent = _whole_number(1, limits.MAX_HOUSEHOLDS_PER_AGENT)
_seed = _whole_number(0, limits.MAX_SEED, " (2**32 - 1)")
_seeds = _whole_number(1, limits.MAX_SEEDS)


def _size_and_output_options(parser: argparse.ArgumentParser, months: str, per_agent: str, figure: str) -> None:
    """Flags shared by the commands that run the model: run length, scale, figure and verbosity."""
    parser.add_argument(
        "--months", type=_months, help=f"months to simulate, 1 to {limits.MAX_MONTHS} (default: {months})"
    )
    parser.add_argument(
        "--households-per-agent",
        type=_households_per_agent,
        metavar="K",
        help=f"households each agent stands for: 1 is full scale, at most {limits.MAX_HOUSEHOLDS_PER_AGENT:,} "
        f"(default: {per_agent})",
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


def _with_settings(located: Located, settings: list[str] | None) -> Located:
    """Apply ``--set KEY=VALUE`` changes (validated like the file itself)."""
    from dataclasses import replace

    from returnsim.scenario.changes import parse_assignment

    if not settings:
        return located
    changes = dict(parse_assignment(a) for a in settings)
    return replace(located, scenario=located.scenario.with_changes(changes, source="--set"))


def _save_state_option(args: argparse.Namespace, scenario, first: int, months: int):
    """``(k, path)``: save after the k-th month of the run (``--save-at``, default the last)."""
    from returnsim.geography import month_label, month_number

    if args.save_at is None:
        return months, args.save_state
    start = scenario.simulation.start
    try:
        k = month_number(args.save_at) - month_number(start) - first + 1
    except ValueError:
        k = 0
    if not 1 <= k <= months:
        span = f"{month_label(start, first)} to {month_label(start, first + months - 1)}"
        raise ScenarioError([f"--save-at {args.save_at}: must be a month of the run, {span}"])
    return k, args.save_state


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="returnsim",
        description="Agent-based model of Syrian refugee households deciding whether to return home.",
        epilog="Exit status: 0 done; 1 results could not be written; 2 bad input, nothing written; "
        "130 Ctrl-C; 143 SIGTERM.",
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
    run.add_argument(
        "--out",
        type=Path,
        help="results folder (default: results/<the scenario file's name>); an earlier results folder of "
        "`returnsim run` is replaced, any other folder is refused",
    )
    run.add_argument(
        "--seed", type=_seed, help=f"random seed, 0 to {limits.MAX_SEED} (default: the scenario's simulation.seed)"
    )
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
        "comparison.png and manifest.json into the output folder. Events wholly outside the run's months "
        "are reported as warnings.",
    )
    cmp.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files or built-in names (2 or more)")
    cmp.add_argument(
        "--out", type=Path, default=Path("results") / "compare", help="output folder (default: %(default)s)"
    )
    cmp.add_argument(
        "--seeds", type=_seeds, default=5, help=f"seeds per scenario, 1 to {limits.MAX_SEEDS} (default: %(default)s)"
    )
    _set_option(cmp)
    _size_and_output_options(cmp, "the first scenario's", "the first scenario's", "comparison.png")
    from returnsim.experiments.cli import workers_flag

    workers_flag(cmp, "runs")
    cmp.set_defaults(handler=cmd_compare)

    check = sub.add_parser(
        "check",
        help="validate scenario files without running them",
        description="Load and validate each scenario file (extends, events, cross-references, the memory a run "
        "needs at its own scale): every rule `run` relies on. Exit 0 when all are valid, 2 otherwise; each "
        "problem is printed to stderr on its own line. Events wholly outside the run's months are warnings.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="scenario files or built-in names")
    _set_option(check)
    check.set_defaults(handler=cmd_check)

    listing = sub.add_parser(
        "list",
        help="list the built-in scenarios",
        description="The scenarios shipped with returnsim, with their descriptions. Run one by name "
        '(`returnsim run NAME`) or extend it from your own file (`extends = "NAME"`).',
    )
    listing.set_defaults(handler=cmd_list)
    from returnsim import credibility
    from returnsim.dashboard.cli import add_commands
    from returnsim.experiments.cli import add_commands as add_experiment_commands

    add_commands(sub)  # dashboard, report (returnsim/dashboard/cli.py)
    add_experiment_commands(sub)  # sweep, sweep-merge, sensitivity (returnsim/experiments/cli.py)
    credibility.add_commands(sub)  # validate, explain, calibrate (returnsim/credibility.py)
    return parser


# ------------------------------------------------------------------------------ interrupts


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated` (restored afterwards)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(_signum, _frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _state(folder: Path | None) -> tuple | None:
    """What identifies a folder's current contents (it changes when results are swapped in)."""
    if folder is None:
        return None
    try:
        st = os.lstat(folder)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


def _interrupted(args: argparse.Namespace | None, what: str) -> str:
    out = getattr(args, "writing_to", None)
    if out is None:
        return f"returnsim: {what}; nothing was written"
    if _state(out) == args.state_before:
        return f"returnsim: {what}; nothing was written to {out}"
    return f"returnsim: {what} after the results were written to {out}"


def main(argv: Sequence[str] | None = None) -> int:
    args = None
    with _sigterm_unwinds():
        try:
            args = build_parser().parse_args(argv)
            parallel.threads()  # a bad RETURNSIM_THREADS is refused before any work
            return args.handler(args)
        except parallel.ThreadsError as exc:
            print(f"returnsim: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except ScenarioError as exc:
            for line in exc.problems:
                print(line, file=sys.stderr)
            return EXIT_BAD_INPUT
        except (OutputError, StateError) as exc:
            print(exc, file=sys.stderr)
            return EXIT_BAD_INPUT
        except WriteError as exc:
            print(exc, file=sys.stderr)
            return EXIT_WRITE_FAILED
        except KeyboardInterrupt:
            print(_interrupted(args, "interrupted (Ctrl-C)"), file=sys.stderr)
            return EXIT_SIGINT
        except Terminated:
            print(_interrupted(args, "stopped by SIGTERM"), file=sys.stderr)
            return EXIT_SIGTERM
        except BrokenPipeError:
            # the reader of our output went away (``returnsim run | head``): what was to be written is written
            # (results before the summary); stop quietly, as a command killed by SIGPIPE would
            _silence_stdout()
            return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (tests capture it): nothing to flush
        pass


# ------------------------------------------------------------------------------ checks before running


def _load_all(names: Sequence[str]) -> list[Located]:
    """Load every scenario; report the problems of all of them at once (one ScenarioError)."""
    loaded, problems = [], []
    for name in names:
        try:
            loaded.append(load_located(name))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    return loaded


def _scale_problems(
    located: Located, households_per_agent: int | None, extra_bytes: int = 0, scale_from: Located | None = None
) -> list[str]:
    """The run's size rules (at least one agent, fits in memory), located at the flag or the key that set the
    scale (``scale_from``'s: compare runs every scenario at the first one's scale)."""
    source = scale_from or located
    hpa = households_per_agent or source.scenario.simulation.households_per_agent
    if households_per_agent:
        where = f"{located.name}: --households-per-agent {hpa}"
    else:
        where = f"{source.where('simulation', 'households_per_agent')} = {hpa}"
    return limits.run_problems(located.scenario, hpa, where, extra_bytes)


def default_out(scenario: str) -> Path:
    """``results/<name>``: the scenario file's name without ``.toml`` (a built-in's name), made safe as a
    folder name. Never taken from inside the file."""
    stem = Path(scenario).name.removesuffix(".toml")
    safe = re.sub(r"[^\w.-]+", "_", stem).strip("._-")[:100]
    return Path("results") / (safe or "scenario")


def _figure_text_is_plain():
    """Figure text as written: names holding ``$`` are not read as mathtext (which could fail to render)."""
    import matplotlib

    return matplotlib.rc_context({"text.parse_math": False})


def _progress_bar(total: int, desc: str, quiet: bool):
    """A tqdm bar on stderr (shown on terminals only) and its per-month callback."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="month", disable=True if quiet else None, leave=False)

    def tick(done: int, _total: int) -> None:
        bar.update(done - bar.n)

    return bar, tick


# ------------------------------------------------------------------------------ commands


def cmd_run(args: argparse.Namespace) -> int:
    from returnsim.results import check_output_folder, write_run

    located = _with_settings(load_located(args.scenario), args.set)
    scenario = located.scenario
    problems = _scale_problems(located, args.households_per_agent)
    if problems:
        raise ScenarioError(problems)
    out = args.out or default_out(args.scenario)
    check_output_folder(out, "run")  # before the run, so a bad --out fails at once
    args.writing_to, args.state_before = out, _state(out)

    from returnsim.simulation import Simulation, simulate

    first = Simulation.start_of(args.from_state) if args.from_state else 0
    months = args.months or max(scenario.simulation.months - first, 1)
    save = _save_state_option(args, scenario, first, months) if args.save_state else None
    name = default_out(args.scenario).name
    bar, tick = _progress_bar(months, name, args.quiet)
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

    def figure(r, path: Path) -> None:
        from returnsim.plots import overview

        with _figure_text_is_plain():
            overview(r.timeseries, path, f"{scenario.meta.name} (seed {r.seed})", scenario)

    try:
        write_run(result, out, str(args.scenario), None if args.no_plot else figure)
    except OutputError as exc:  # the folder changed while the model ran
        raise WriteError(str(exc)) from None
    if not args.quiet:
        print(format_summary(result))
    print(f"results written to {out}/ (timeseries.csv, manifest.json{'' if args.no_plot else ', overview.png'})")
    _security_note([scenario])
    return 0


def _security_note(scenarios) -> None:
    """The known limit of the security and political levers, on stderr, when a scenario uses them."""
    from returnsim.validate import SECURITY_LIMIT, touches_security

    if any(touches_security(s.events) for s in scenarios):
        print(f"note: {SECURITY_LIMIT}", file=sys.stderr)


def cmd_compare(args: argparse.Namespace) -> int:
    from returnsim.compare import compare, write_comparison
    from returnsim.results import check_output_folder

    if len(args.scenarios) < 2:
        print("returnsim compare: give at least two scenarios to compare", file=sys.stderr)
        return EXIT_BAD_INPUT
    loaded = [_with_settings(one, args.set) for one in _load_all(args.scenarios)]  # every file's problems at once
    first = loaded[0].scenario.simulation
    months = args.months or first.months
    # the tidy table of every run is held in memory too: about 60 columns of 8 bytes per month and seed
    table = 2 * len(loaded) * args.seeds * months * 60 * 8
    hpa = args.households_per_agent
    problems = [line for one in loaded for line in _scale_problems(one, hpa, table, scale_from=loaded[0])]
    if problems:
        raise ScenarioError(problems)
    warnings = [w for one in loaded for w in event_warnings(one, months)]
    for line in dict.fromkeys(warnings):  # a parent's events are shared: once each
        print(line, file=sys.stderr)
    check_output_folder(args.out, "compare")  # before the runs, so a bad --out fails at once
    args.writing_to, args.state_before = args.out, _state(args.out)
    result = compare(
        [one.scenario for one in loaded] if args.set else args.scenarios,
        seeds=args.seeds,
        months=args.months,
        households_per_agent=args.households_per_agent,
        progress=not args.quiet,
        workers=args.workers,
    )
    try:
        with _figure_text_is_plain():
            write_comparison(result, args.out, plot=not args.no_plot)
    except OutputError as exc:
        raise WriteError(str(exc)) from None
    if not args.quiet:
        from returnsim.compare import format_table

        print(format_table(result))
    print(
        f"results written to {args.out}/ (runs.csv, outcomes.csv, summary.csv, "
        f"{'' if args.no_plot else 'comparison.png, '}manifest.json)"
    )
    _security_note([one.scenario for one in loaded])
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for name in args.files:
        try:
            located = _with_settings(load_located(name), args.set)
            problems = _scale_problems(located, None)
            if problems:
                raise ScenarioError(problems)
        except ScenarioError as exc:
            failed += 1
            print("\n".join(exc.problems), file=sys.stderr)
            continue
        for line in event_warnings(located):
            print(line, file=sys.stderr)
        s = located.scenario
        sim = s.simulation
        print(f"ok: {name} ({s.meta.name}: {len(s.events)} events, {sim.months} months from {sim.start})")
    return EXIT_BAD_INPUT if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from returnsim.scenario import builtin_scenarios, load_scenario

    rows = []
    for name, path in builtin_scenarios().items():
        try:
            description = load_scenario(path).meta.description or "(no description)"
        except ScenarioError:
            description = f"(does not load: returnsim check {name})"
        rows.append((name, description))
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    print('\nrun one: returnsim run NAME; compare: returnsim compare baseline NAME; extend one: extends = "NAME"')
    return 0


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
