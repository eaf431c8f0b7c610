"""Writing a run's outputs atomically: a time series, a manifest and a figure in one folder.

Everything is first written into a temporary sibling folder, then moved into place with one
rename, so an interrupted or failed write never leaves a half-written results folder behind.
An existing results folder (one holding a ``manifest.json``) is replaced; any other existing
folder is left alone and reported as an error.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from returnsim.simulation import Result as RunResult

MANIFEST = "manifest.json"


class OutputError(RuntimeError):
    """The output folder cannot be written (exists and is not a results folder, or no permission)."""


def check_output_folder(out: Path) -> None:
    """Raise :class:`OutputError` unless ``out`` may be written: new, empty, or an earlier results folder.

    Commands call it before they start simulating, so a bad ``--out`` fails at once, not after the runs.
    """
    out = Path(out)
    foreign = out.exists() and not (out / MANIFEST).exists() and (not out.is_dir() or any(out.iterdir()))
    if foreign:
        raise OutputError(f"{out}: exists and is not a returnsim results folder; choose another --out")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is None or not os.access(parent if not out.exists() else out, os.W_OK):
        raise OutputError(f"{out}: cannot be written (no permission)")


@contextmanager
def atomic_folder(out: Path):
    """Yield a temporary folder that replaces ``out`` in one rename when the block succeeds."""
    out = Path(out)
    check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            old = out.with_name(f".{out.name}.old-{tmp.name}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def manifest(result: RunResult, source: str, **extra) -> dict:
    """Provenance of a run: the scenario as resolved, seed, sizes, versions, time."""
    from returnsim import __version__

    return {
        "package": "returnsim",
        "version": __version__,
        "scenario_source": source,
        "scenario": result.scenario.model_dump(mode="json"),
        "seed": result.seed,
        "months": result.months,
        "households_per_agent": result.households_per_agent,
        "agents": result.agents,
        "wall_seconds": round(result.wall_seconds, 3),
        "init_seconds": round(result.init_seconds, 3),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        **extra,
    }


def write_run(result: RunResult, out: Path, source: str, figure: Callable[[RunResult, Path], None] | None) -> Path:
    """Write ``timeseries.csv``, ``manifest.json`` and (if given) ``overview.png`` into ``out``."""
    with atomic_folder(out) as tmp:
        result.write_csv(tmp / "timeseries.csv")
        if figure is not None:
            figure(result, tmp / "overview.png")
        (tmp / MANIFEST).write_text(json.dumps(manifest(result, source), indent=2) + "\n")
    return Path(out)
