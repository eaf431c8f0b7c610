"""The experiment commands of ``returnsim``, registered by :func:`add_commands`.

    returnsim sweep EXPERIMENT [--out DIR] [--workers N] [--scheduler tcp://HOST:PORT] [--shard I/N]
    returnsim sweep-merge DIR [DIR ...] --out DIR
    returnsim sensitivity DIR [--outcome NAME ...] [--out DIR] [--no-plot] [--quiet]

Bad input (experiment file, flag, folder, unreachable scheduler) exits with status 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def _shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)/(\d+)", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N, e.g. 1/4 (shard I of N)")
    i, n = int(m.group(1)), int(m.group(2))
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(f"{text}: I must be between 1 and N")
    return i, n


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _scheduler(text: str) -> str:
    if not re.fullmatch(r"[a-z]+://[^\s:/]+(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a scheduler address such as tcp://10.0.0.5:8786")
    return text


def workers_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers N``, shared with ``compare``."""
    parser.add_argument(
        "--workers", type=_workers, metavar="N", help=f"local worker processes for the {what} (default: all cores)"
    )


def add_commands(sub) -> None:
    """Add ``sweep``, ``sweep-merge`` and ``sensitivity`` to the ``returnsim`` subparsers."""
    sw = sub.add_parser(
        "sweep",
        help="run an experiment file: a parameter sweep, resumable",
        description="Run every design point of an experiment file over its replications, on a local process pool "
        "or a Dask cluster. Each run is stored as it finishes (runs.parquet, series.parquet, manifest.json); "
        "rerunning the same command on the same folder runs only what is missing.",
    )
    sw.add_argument("experiment", help="experiment file (TOML, see experiments/README.md)")
    sw.add_argument("--out", type=Path, help="results folder (default: results/<experiment name>)")
    workers_flag(sw, "runs")
    sw.add_argument(
        "--scheduler",
        type=_scheduler,
        metavar="tcp://HOST:PORT",
        help="run on this Dask distributed scheduler (default: $DASK_SCHEDULER_ADDRESS if set, else local processes)",
    )
    sw.add_argument(
        "--shard", type=_shard, metavar="I/N", help="run only shard I of N (job arrays); merge with sweep-merge"
    )
    sw.add_argument("--retry-failed", action="store_true", help="run again the runs stored as failed")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(handler=cmd_sweep)

    mg = sub.add_parser(
        "sweep-merge",
        help="merge the folders of a sharded sweep",
        description="Merge the results folders of the shards of one experiment into one folder. A later "
        "`returnsim sweep EXPERIMENT --out MERGED` runs whatever is still missing.",
    )
    mg.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="results folders of the shards")
    mg.add_argument("--out", type=Path, required=True, help="the merged results folder")
    mg.set_defaults(handler=cmd_merge)

    se = sub.add_parser(
        "sensitivity",
        help="sensitivity indices of a sweep's outcomes",
        description="Sobol' indices (sobol design), Morris screening (morris), one-factor profiles (grid) or rank "
        "correlations (lhs) of each outcome of a sweep; prints a ranked table and writes indices.csv, "
        "sensitivity.txt and sensitivity.png.",
    )
    se.add_argument("folder", type=Path, metavar="DIR", help="results folder of a sweep")
    se.add_argument("--outcome", action="append", metavar="NAME", help="analyse only this outcome (repeatable)")
    se.add_argument("--out", type=Path, help="output folder (default: DIR/sensitivity)")
    se.add_argument("--no-plot", action="store_true", help="skip sensitivity.png")
    se.add_argument("--quiet", action="store_true", help="no table")
    se.set_defaults(handler=cmd_sensitivity)


def cmd_sweep(args: argparse.Namespace) -> int:
    from returnsim.experiments.executors import ExecutorError
    from returnsim.experiments.sweep import prepare, sweep

    experiment, tasks, out, _ = prepare(args.experiment, args.out, args.shard)  # errors: main() exits 2
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    where = f"Dask scheduler {scheduler}" if scheduler else "local processes"
    if not args.quiet:
        print(f"{experiment.name}: {len(tasks)} runs, results in {out}/ ({where})", file=sys.stderr)
    try:
        report = sweep(
            experiment,
            out,
            workers=args.workers,
            scheduler=scheduler,
            shard_spec=args.shard,
            retry_failed=args.retry_failed,
            progress=not args.quiet,
        )
    except ExecutorError as exc:
        print(f"returnsim sweep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        from returnsim.experiments.store import load_results

        stored = len(load_results(out)) if (out / "manifest.json").exists() else 0
        print(
            f"\ninterrupted: {stored} of {len(tasks)} runs are stored in {out}/; "
            "run the same command again to run the rest",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(report.summary())
    print(f"results in {out}/ (runs.parquet, series.parquet, manifest.json); read them with returnsim.load_results")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from returnsim.experiments.store import merge_stores

    counts = merge_stores(args.folders, args.out)
    text = f"merged {len(args.folders)} folders into {args.out}/: {counts['ok']} ok, {counts['failed']} failed"
    if counts["missing"]:
        text += f", {counts['missing']} missing (run `returnsim sweep` on {args.out} to finish)"
    print(text)
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from returnsim.experiments.sensitivity import analyze, format_table, write_sensitivity

    result = analyze(args.folder, outcomes=args.outcome)
    out = args.out or args.folder / "sensitivity"
    write_sensitivity(result, out, plot=not args.no_plot)
    if not args.quiet:
        print(format_table(result))
    files = ["indices.csv", *(["profiles.csv"] if result.profiles is not None else []), "sensitivity.txt"]
    print(f"written to {out}/ ({', '.join(files + ([] if args.no_plot else ['sensitivity.png']))})")
    return 0
