"""The commands that set the model beside the evidence: ``validate``, ``explain`` and ``calibrate``.

returnsim validate [SCENARIO] [--seeds N] [--households-per-agent K] [--out DIR]
returnsim explain [SCENARIO] [--month YYYY-MM] [--where surveyed|refugees|all] [--out DIR]
returnsim calibrate SPEC [--out DIR] [--quick] [--workers N] [--scheduler ADDRESS]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

__all__ = ["add_commands"]


def _month(text: str) -> str:
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a month written YYYY-MM")
    return text


def _stem(name: str) -> str:
    return Path(name).name.removesuffix(".toml") or "scenario"


def add_commands(sub) -> None:
    """Register ``validate``, ``explain`` and ``calibrate`` on the command line's subparsers."""
    from returnsim.cli import _households_per_agent, _seeds, _whole_number

    v = sub.add_parser(
        "validate",
        help="set every observed series beside the model, with the error of each",
        description="Run a scenario over several seeds and set it beside every observed series in returnsim/data/ "
        "(returns, returns by host, stocks, intentions, hope, IDPs), in the calibration period and the hold-out; "
        "print each error and which of the project's targets are met; write validation.csv, summary.csv, "
        "targets.txt and validation.png.",
    )
    v.add_argument("scenario", nargs="?", default="baseline", help="scenario file or built-in name (default: baseline)")
    v.add_argument(
        "--seeds",
        type=_seeds,
        default=3,
        help="runs, with the scenario's seed and the ones after it (default: %(default)s)",
    )
    v.add_argument(
        "--households-per-agent", type=_households_per_agent, metavar="K", help="scale (default: the scenario's)"
    )
    v.add_argument(
        "--calibrate-until",
        type=_month,
        default="2021-12",
        metavar="YYYY-MM",
        help="last month of the calibration period; later points are the hold-out (default: %(default)s)",
    )
    v.add_argument("--out", type=Path, help="output folder (default: results/validate-<scenario>)")
    v.add_argument("--no-plot", action="store_true", help="skip validation.png")
    v.set_defaults(handler=cmd_validate)

    e = sub.add_parser(
        "explain",
        help="what holds displaced households back: each factor's weight and the binding barrier",
        description="Run a scenario to a month and, for the displaced households then, print each factor's mean "
        "contribution to the utility of returning and the share of households for whom each barrier (safety "
        "and security, services and shelter, military service, livelihoods) binds, beside the ranking refugees "
        "give in UNHCR's surveys; write explain.csv and explain.png.",
    )
    e.add_argument("scenario", nargs="?", default="baseline", help="scenario file or built-in name (default: baseline)")
    e.add_argument(
        "--month",
        type=_month,
        metavar="YYYY-MM",
        help="the month whose decisions are explained (default: the scenario's last)",
    )
    e.add_argument(
        "--where",
        choices=("surveyed", "refugees", "all"),
        default="surveyed",
        help="refugees in the hosts UNHCR surveys, all refugees, or all displaced (default: %(default)s)",
    )
    e.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    e.add_argument(
        "--households-per-agent", type=_households_per_agent, metavar="K", help="scale (default: the scenario's)"
    )
    e.add_argument("--out", type=Path, help="output folder (default: results/explain-<scenario>)")
    e.add_argument("--no-plot", action="store_true", help="skip explain.png")
    e.set_defaults(handler=cmd_explain)

    c = sub.add_parser(
        "calibrate",
        help="fit free parameters to the observed figures, with a hold-out and a fit report",
        description="Fit the free parameters of a calibration file (experiments/calibration.toml) to the observed "
        "figures of the calibration period by differential evolution, every candidate run with the same seeds; "
        "resume from the output folder's evaluations.csv if it exists; write the fit report (fit.md, "
        "parameters.csv, fit.csv, summary.csv, accepted.csv, calibrated.toml, fit.png, parameters.png, "
        "convergence.png).",
    )
    c.add_argument("spec", metavar="SPEC", help="calibration file")
    c.add_argument("--out", type=Path, help="output folder (default: results/calibration-<spec>)")
    c.add_argument(
        "--quick",
        action="store_true",
        help="the file's quick settings: fewer parameters, seeds and generations (minutes, not half an hour)",
    )
    c.add_argument("--workers", type=_whole_number(1, 10_000), help="local worker processes (default: every core)")
    c.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="a Dask scheduler, e.g. tcp://host:8786 (default: DASK_SCHEDULER_ADDRESS if set, else local processes)",
    )
    c.set_defaults(handler=cmd_calibrate)


def cmd_validate(args: argparse.Namespace) -> int:
    from returnsim.results import atomic_folder, check_output_folder
    from returnsim.simulation import as_scenario
    from returnsim.validate import check_covered, format_validation, validate, write_validation

    scenario = as_scenario(args.scenario)
    check_covered(scenario, str(args.scenario))
    out = args.out or Path("results") / f"validate-{_stem(args.scenario)}"
    check_output_folder(out)
    v = validate(
        scenario, seeds=args.seeds, households_per_agent=args.households_per_agent, calibrate_until=args.calibrate_until
    )
    with atomic_folder(out) as tmp:
        write_validation(v, tmp, plot=not args.no_plot)
        _manifest(
            tmp,
            "validate",
            scenario=scenario.model_dump(mode="json"),
            seeds=v.seeds,
            households_per_agent=v.households_per_agent,
        )
    print(format_validation(v))
    print(f"results written to {out}/")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from returnsim.explain import explain, figure
    from returnsim.geography import month_number
    from returnsim.results import atomic_folder, check_output_folder
    from returnsim.scenario import ScenarioError
    from returnsim.simulation import Simulation, as_scenario

    scenario = as_scenario(args.scenario)
    start, months = scenario.simulation.start, scenario.simulation.months
    month = args.month or _label(start, months - 1)
    t = month_number(month) - month_number(start)
    if not 0 <= t < months:
        raise ScenarioError([f"--month {month}: must be a month of the run, {start} to {_label(start, months - 1)}"])
    out = args.out or Path("results") / f"explain-{_stem(args.scenario)}"
    check_output_folder(out)
    sim = Simulation(scenario, seed=args.seed, households_per_agent=args.households_per_agent)
    for _ in range(t):
        sim.step()
    table = explain(sim, args.where)
    with atomic_folder(out) as tmp:
        table.to_csv(tmp / "explain.csv", index=False)
        if not args.no_plot:
            figure(table, tmp / "explain.png", f"{scenario.meta.name}, {month}: {args.where} displaced households")
        _manifest(
            tmp,
            "explain",
            scenario=scenario.model_dump(mode="json"),
            month=month,
            where=args.where,
            seed=sim.seed,
            households_per_agent=sim.state.pop.weight,
        )
    print(format_explain(table, scenario.meta.name, month, args.where))
    print(f"results written to {out}/")
    return 0


def format_explain(table, name: str, month: str, where: str) -> str:
    lines = [f"{name}, decisions of {month}: {where} displaced households (utility of returning, logit units)", ""]
    width = max(32, *(len(f) for f in table["factor"]))  # every factor's name in one column
    lines.append(f"  {'factor':{width}s} {'group':28s} {'mean':>8s}")
    for row in table.itertuples():
        lines.append(f"  {row.factor:{width}s} {row.group:28s} {row.mean_contribution:+8.2f}")
    lines += ["", f"  {'binding barrier':32s} {'share':>8s} {'model rank':>11s} {'survey rank':>12s}"]
    barriers = table.dropna(subset=["binding_share"]).drop_duplicates("group").sort_values("model_rank")
    for row in barriers.itertuples():
        lines.append(
            f"  {row.group:32s} {row.binding_share:8.1%} {int(row.model_rank):>11d} {int(row.survey_rank):>12d}"
        )
    return "\n".join(lines)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from returnsim.calibrate import calibrate, load_spec, write_report

    spec = load_spec(args.spec)
    out = args.out or Path("results") / f"calibration-{_stem(args.spec)}"
    _check_calibration_folder(out, args.spec)
    from tqdm import tqdm

    with _executor(args) as map_unordered, tqdm(desc="calibrate", unit="candidate", disable=None, leave=False) as bar:
        c = calibrate(
            spec,
            out,
            source=args.spec,
            folder=Path(args.spec).parent,
            quick=args.quick,
            map_unordered=map_unordered,
            tick=lambda _c: bar.update(),
        )
    write_report(c, out, spec, args.spec, args.quick)
    _manifest(
        out,
        "calibration",
        spec=spec.model_dump(mode="json"),
        source=str(args.spec),
        quick=args.quick,
        evaluations=c.evaluations,
    )
    print((out / "fit.md").read_text(encoding="utf-8").split("## Every point")[0].rstrip())
    print(f"\nfit report written to {out}/ (fit.md, parameters.csv, fit.csv, calibrated.toml, figures)")
    return 0


def _label(start: str, offset: int) -> str:
    from returnsim.geography import month_label

    return month_label(start, offset)


def _manifest(folder: Path, kind: str, **data) -> None:
    import json
    import platform
    from datetime import UTC, datetime

    from returnsim import __version__

    manifest = {
        "package": "returnsim",
        "version": __version__,
        "kind": kind,
        **data,
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }
    (Path(folder) / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _check_calibration_folder(out: Path, spec: str) -> None:
    """A calibration folder is resumed: it may be new, empty, or hold an earlier calibration's files."""
    import json

    from returnsim.results import OutputError

    out = Path(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    names = {p.name for p in out.iterdir()}
    if not names:
        return
    manifest = out / "manifest.json"
    ours = "evaluations.csv" in names and (
        not manifest.exists() or json.loads(manifest.read_text(encoding="utf-8")).get("kind") == "calibration"
    )
    if not ours:
        raise OutputError(f"{out}: exists and is not a returnsim calibration folder; choose another --out")


class _executor:
    """The executor of ``returnsim.experiments`` for --workers / --scheduler, as a ``map_unordered``."""

    def __init__(self, args: argparse.Namespace):
        self.args = args

    def __enter__(self):
        import os

        from returnsim.experiments.executors import make_executor

        self.ex = make_executor(
            workers=self.args.workers, scheduler=self.args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
        )
        self.ex.__enter__()
        return self.ex.map_unordered

    def __exit__(self, *exc):
        self.ex.__exit__(*exc)
