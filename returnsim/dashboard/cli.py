"""The ``returnsim dashboard`` and ``returnsim report`` commands (registered by ``returnsim.cli``).

returnsim dashboard [SCENARIO] [--port N] [--host ADDRESS] [--seed N] [--households-per-agent K]
returnsim report RESULTS_DIR [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_MISSING_EXTRA = 1
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port number (1-65535)")
    return value


def add_commands(sub) -> None:
    """Add ``dashboard`` and ``report`` to the ``returnsim`` command's subparsers."""
    from returnsim.cli import _households_per_agent, _seed

    dash = sub.add_parser(
        "dashboard",
        help="serve the classroom dashboard in the browser",
        description="Serve a page with a scenario picker, policy and decision-weight controls, play / step / reset, "
        "live charts and a map of the region. Needs the dashboard extra: pip install 'returnsim[dashboard]'. "
        "The page works without internet access.",
    )
    dash.add_argument(
        "scenario",
        nargs="?",
        default="baseline",
        help="scenario file or built-in name to start with (default: baseline)",
    )
    dash.add_argument("--port", type=_port, default=5006, metavar="N", help="port to serve on (default: %(default)s)")
    dash.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDRESS",
        help="address to listen on (default: %(default)s, this computer only; 0.0.0.0 lets others on the network in)",
    )
    dash.add_argument("--seed", type=_seed, metavar="N", help="random seed (default: the scenario's simulation.seed)")
    dash.add_argument(
        "--households-per-agent",
        type=_households_per_agent,
        metavar="K",
        help="households each agent stands for (default: simulation.households_per_agent)",
    )
    dash.set_defaults(handler=cmd_dashboard)

    report = sub.add_parser(
        "report",
        help="write a printable HTML report of a results folder",
        description="Write one self-contained HTML page (figures embedded, no external requests) for a results "
        "folder of 'returnsim run' or 'returnsim compare': what happened and what the scenario assumed, in words.",
    )
    report.add_argument("results", type=Path, metavar="RESULTS_DIR", help="a results folder of run or compare")
    report.add_argument(
        "--out", type=Path, metavar="FILE", help="the HTML file to write (default: RESULTS_DIR/report.html)"
    )
    report.set_defaults(handler=cmd_report)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from returnsim.scenario import load_scenario

    scenario = load_scenario(args.scenario)  # a ScenarioError is printed by returnsim.cli.main (exit 2)
    try:
        from returnsim.dashboard.app import serve
    except ImportError as exc:
        print(
            f"returnsim dashboard needs the dashboard extra ({exc.name} is missing): "
            "pip install 'returnsim[dashboard]'",
            file=sys.stderr,
        )
        return EXIT_MISSING_EXTRA
    label = Path(str(args.scenario)).name.removesuffix(".toml")
    if args.host not in LOOPBACK:
        print(f"warning: serving on {args.host}: other computers on the network can open this page", file=sys.stderr)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"returnsim dashboard: open http://{shown}:{args.port}/ (Ctrl+C stops it)", flush=True)
    try:
        serve(
            scenario,
            label,
            host=args.host,
            port=args.port,
            seed=args.seed,
            households_per_agent=args.households_per_agent,
        )
    except OSError as exc:
        print(f"returnsim dashboard: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        pass
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from returnsim.dashboard.report import ReportError, write_report

    try:
        out = write_report(args.results, args.out)
    except ReportError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"report written to {out}")
    return 0
