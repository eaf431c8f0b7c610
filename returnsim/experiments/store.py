"""The results folder of a sweep: Parquet tables that lose nothing when a sweep is stopped.

Layout of ``DIR``::

    manifest.json     the experiment as resolved, its fingerprint, root seed, planned runs, package version
    runs.parquet      one row per run: run_id, point, replication, seed, the parameters (one column each,
                      named by dotted key), status ("ok"/"failed"), error, runtime_s, worker, finished_utc
                      and the outcomes (one column each)
    series.parquet    the monthly series the experiment keeps: run_id, month, one column per series
    parts/            runs finished since the last compaction: <run_id>.series.parquet, <run_id>.run.parquet

Each finished run is committed at once: its series part, then its run part, each written to a temporary
name and renamed into place, so a part file is always whole and a run part means the run is stored.
When a sweep ends, :meth:`SweepStore.compact` folds the parts into the two tables (written the same way)
and only then deletes them; readers take the union of the tables and the parts and keep one row per run,
so a folder is readable, and resumable, whenever a sweep was stopped — by Ctrl-C, SIGKILL or a power cut
between runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from returnsim.results import MANIFEST, OutputError, write_json_atomic

__all__ = ["SweepStore", "load_results", "load_series", "merge_stores", "read_manifest"]

RUNS, SERIES, PARTS = "runs.parquet", "series.parquet", "parts"
KIND = "returnsim sweep"


def read_manifest(folder: Path) -> dict:
    """The manifest of a sweep folder; :class:`OutputError` when ``folder`` is not one."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OutputError(f"{folder}: not a sweep results folder (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: cannot be read: {exc}") from None
    if manifest.get("kind") != KIND:
        raise OutputError(f"{folder}: holds results of another command, not of returnsim sweep")
    return manifest


def _write_atomic(table: pa.Table, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class SweepStore:
    """A sweep folder opened for writing (see the module docs)."""

    def __init__(self, folder: Path, manifest: dict):
        self.folder = Path(folder)
        self.manifest = manifest
        self.parts = self.folder / PARTS
        self.run_schema = _run_schema(manifest)
        self.series_schema = _series_schema(manifest)

    @classmethod
    def open(cls, folder: Path, manifest: dict) -> SweepStore:
        """Create ``folder`` for a new sweep, or reopen it to resume the same one.

        An existing folder must be empty or a sweep folder of the same experiment (fingerprint) and shard;
        anything else is an :class:`OutputError` and nothing is touched.
        """
        folder = Path(folder)
        check_sweep_folder(folder, manifest)
        if (folder / MANIFEST).exists():
            store = cls(folder, read_manifest(folder))
        else:
            folder.mkdir(parents=True, exist_ok=True)
            write_json_atomic(manifest, folder / MANIFEST)
            store = cls(folder, manifest)
        store.parts.mkdir(exist_ok=True)
        for stale in store.parts.glob(".*.tmp"):  # a write cut short by a kill: never renamed, so never counted
            stale.unlink(missing_ok=True)
        return store

    def statuses(self) -> dict[str, str]:
        """The runs stored so far: run_id → status."""
        runs = _read_runs(self.folder, columns=["run_id", "status"])
        return dict(zip(runs["run_id"], runs["status"], strict=True))

    def commit(self, record) -> None:
        """Store one finished run (a ``runner.RunRecord``): its series first, then its row."""
        task = record.task
        if record.series is not None and len(self.series_schema) > 2:
            frame = record.series.assign(run_id=task.run_id)
            table = pa.Table.from_pandas(frame, schema=self.series_schema, preserve_index=False)
            _write_atomic(table, self.parts / f"{task.run_id}.series.parquet")
        row = {
            "run_id": task.run_id,
            "point": task.point,
            "replication": task.replication,
            "seed": task.seed,
            **task.changes,
            "status": record.status,
            "error": record.error,
            "runtime_s": record.runtime_s,
            "worker": record.worker,
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            **{name: record.outcomes.get(name) for name in self.manifest["outcome_names"]},
        }
        table = pa.Table.from_pylist([row], schema=self.run_schema)
        _write_atomic(table, self.parts / f"{task.run_id}.run.parquet")

    def compact(self) -> None:
        """Fold the parts into ``runs.parquet`` and ``series.parquet``, then delete them."""
        parts = sorted(self.parts.glob("*.parquet")) if self.parts.exists() else []
        if not parts and (self.folder / RUNS).exists():
            return
        runs = _read_runs(self.folder)
        series = _read_series(self.folder)
        _write_atomic(pa.Table.from_pandas(runs, schema=self.run_schema, preserve_index=False), self.folder / RUNS)
        _write_atomic(
            pa.Table.from_pandas(series, schema=self.series_schema, preserve_index=False), self.folder / SERIES
        )
        for part in parts:
            part.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # left when another process is still adding parts
            self.parts.rmdir()


def stored_statuses(folder: Path) -> dict[str, str]:
    """run_id → status of the runs stored in ``folder`` (none if it is not a sweep folder yet); reads only."""
    return {} if not (Path(folder) / MANIFEST).exists() else SweepStore(folder, read_manifest(folder)).statuses()


def check_sweep_folder(folder: Path, manifest: dict) -> None:
    """Raise :class:`OutputError` unless ``folder`` is new, empty, or a sweep folder of this very experiment."""
    folder = Path(folder)
    if not folder.exists():
        parent = next((p for p in folder.absolute().parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            raise OutputError(f"{folder}: cannot be written (no permission)")
        return
    if not folder.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder; choose another --out")
    if not (folder / MANIFEST).exists():
        if any(folder.iterdir()):
            raise OutputError(f"{folder}: exists and is not a sweep results folder; choose another --out")
        return
    old = read_manifest(folder)
    if old["fingerprint"] != manifest["fingerprint"]:
        raise OutputError(
            f"{folder}: holds the runs of another experiment ({old['experiment']['spec']['name']}, "
            f"fingerprint {old['fingerprint']}; this one is {manifest['fingerprint']}): a changed experiment file "
            "needs a new --out"
        )
    if old["version"] != manifest["version"]:
        raise OutputError(
            f"{folder}: was started with returnsim {old['version']}, this is {manifest['version']}: finish it with "
            "that version, or choose another --out (runs of two versions would be mixed)"
        )
    if old.get("shard") != manifest.get("shard"):
        raise OutputError(f"{folder}: holds shard {old.get('shard') or 'all'}, not {manifest.get('shard') or 'all'}")
    if not os.access(folder, os.W_OK):
        raise OutputError(f"{folder}: cannot be written (no permission)")


def new_manifest(experiment, planned: int, shard: str | None) -> dict:
    """The manifest of a sweep folder (see the module docs)."""
    from returnsim import __version__
    from returnsim.experiments.designs import points

    return {
        "kind": KIND,
        "package": "returnsim",
        "version": __version__,
        "fingerprint": experiment.fingerprint,
        "experiment_source": experiment.source,
        "experiment": experiment.resolved(),
        "root_seed": experiment.spec.root_seed,
        "design": experiment.spec.design.type,
        "points": len(points(experiment)),
        "replications": experiment.spec.replications,
        "planned_runs": planned,
        "shard": shard,
        "parameters": {k: _kind(v) for k, v in experiment.parameters.items()},
        "outcome_names": [o.name for o in experiment.outcomes],
        "series": list(experiment.series),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }


def _kind(p) -> str:
    if p.values is not None:
        first = p.values[0]
        if isinstance(first, bool):
            return "bool"
        if isinstance(first, str):
            return "string"
        return "int" if all(isinstance(v, int) for v in p.values) else "float"
    return "int" if p.integer else "float"


_ARROW = {"bool": pa.bool_(), "string": pa.string(), "int": pa.int64(), "float": pa.float64()}


def _run_schema(manifest: dict) -> pa.Schema:
    fields = [("run_id", pa.string()), ("point", pa.int64()), ("replication", pa.int64()), ("seed", pa.int64())]
    fields += [(k, _ARROW[v]) for k, v in manifest["parameters"].items()]
    fields += [
        ("status", pa.string()),
        ("error", pa.string()),
        ("runtime_s", pa.float64()),
        ("worker", pa.string()),
        ("finished_utc", pa.string()),
    ]
    fields += [(name, pa.float64()) for name in manifest["outcome_names"]]
    return pa.schema(fields)


def _series_schema(manifest: dict) -> pa.Schema:
    return pa.schema(
        [("run_id", pa.string()), ("month", pa.string())] + [(c, pa.float64()) for c in manifest["series"]]
    )


def _read_table(path: Path, schema: pa.Schema, columns=None) -> pa.Table | None:
    try:
        return pq.read_table(path, schema=schema, columns=columns)
    except FileNotFoundError:
        return None


def _read_parts(folder: Path, suffix: str, schema: pa.Schema, columns=None) -> pa.Table | None:
    import pyarrow.dataset as ds

    files = sorted(str(p) for p in (folder / PARTS).glob(f"*.{suffix}.parquet"))
    if not files:
        return None
    return ds.dataset(files, schema=schema, format="parquet").to_table(columns=columns)


def _read_runs(folder: Path, columns=None) -> pd.DataFrame:
    manifest = read_manifest(folder)
    schema = _run_schema(manifest)
    tables = [
        t for t in (_read_table(folder / RUNS, schema, columns), _read_parts(folder, "run", schema, columns)) if t
    ]
    if not tables:
        return schema.empty_table().select(columns or schema.names).to_pandas()
    frame = pa.concat_tables(tables).to_pandas()
    frame = frame.drop_duplicates("run_id", keep="last")  # a part (newer: a retried run) wins over the table
    if "point" in frame:
        frame = frame.sort_values(["point", "replication"], kind="stable")
    return frame.reset_index(drop=True)


def _read_series(folder: Path) -> pd.DataFrame:
    manifest = read_manifest(folder)
    schema = _series_schema(manifest)
    table = _read_table(folder / SERIES, schema)
    parts = _read_parts(folder, "series", schema)
    frames = [t.to_pandas() for t in (table, parts) if t is not None]
    if not frames:
        return schema.empty_table().to_pandas()
    if len(frames) == 2:  # a retried run's new series replace its old ones
        frames[0] = frames[0][~frames[0]["run_id"].isin(set(frames[1]["run_id"]))]
    ok = set(_read_runs(folder, columns=["run_id"])["run_id"])
    frame = pd.concat(frames, ignore_index=True)
    return frame[frame["run_id"].isin(ok)].reset_index(drop=True)  # series whose run row was never committed


def load_results(folder: str | Path) -> pd.DataFrame:
    """Every stored run of a sweep folder, one row each (see :mod:`returnsim.experiments.store`).

    ``attrs["manifest"]`` holds the folder's manifest. Works on a folder whose sweep is still running or
    was stopped: the runs stored so far.
    """
    frame = _read_runs(Path(folder))
    frame.attrs["manifest"] = read_manifest(Path(folder))
    return frame


def load_series(folder: str | Path) -> pd.DataFrame:
    """The monthly series kept by a sweep: run_id, month and one column per series (tidy, one row per month)."""
    return _read_series(Path(folder))


def merge_stores(folders: list[Path], out: Path) -> dict:
    """Merge the folders of a sharded sweep (same experiment) into one folder ``out``, written at once.

    A run stored in several folders is kept once (an ``ok`` row wins over a ``failed`` one). Returns counts:
    planned, stored, ok, failed, missing.
    """
    from returnsim.results import atomic_folder

    manifests = [read_manifest(Path(f)) for f in folders]
    first = manifests[0]
    for folder, m in zip(folders, manifests, strict=True):
        if m["fingerprint"] != first["fingerprint"]:
            raise OutputError(
                f"{folder}: holds another experiment (fingerprint {m['fingerprint']}, not {first['fingerprint']})"
            )
    runs = pd.concat([_read_runs(Path(f)) for f in folders], ignore_index=True)
    runs = runs.sort_values("status", key=lambda s: s.eq("ok"), kind="stable").drop_duplicates("run_id", keep="last")
    runs = runs.sort_values(["point", "replication"]).reset_index(drop=True)
    series = pd.concat([_read_series(Path(f)) for f in folders], ignore_index=True)
    series = series.drop_duplicates(["run_id", "month"]).reset_index(drop=True)
    manifest = {**first, "shard": None, "merged_from": [str(f) for f in folders]}
    manifest["planned_runs"] = first["points"] * first["replications"]
    with atomic_folder(Path(out)) as tmp:
        write_json_atomic(manifest, tmp / MANIFEST)
        pq.write_table(pa.Table.from_pandas(runs, schema=_run_schema(manifest), preserve_index=False), tmp / RUNS)
        schema = _series_schema(manifest)
        pq.write_table(pa.Table.from_pandas(series, schema=schema, preserve_index=False), tmp / SERIES)
    ok = int((runs["status"] == "ok").sum())
    return {
        "planned": manifest["planned_runs"],
        "stored": len(runs),
        "ok": ok,
        "failed": len(runs) - ok,
        "missing": manifest["planned_runs"] - len(runs),
    }
