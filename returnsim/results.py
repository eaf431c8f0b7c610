"""Results folders: written atomically, and only ever replacing a folder that returnsim wrote.

Ownership. A results folder holds ``manifest.json`` with ``"package": "returnsim"``, a ``"kind"`` (the
command that wrote it: ``run``, ``compare``…) and the names of the files written (``"files"``). An existing
``--out`` folder is replaced only when its manifest proves it is a results folder of the same kind and
everything in it is one of those files. Otherwise the command refuses before simulating, naming what it
did not write. (Refusing, rather than carrying a user's files over into the new folder, never touches
them: a file being moved could be caught by an interrupt inside a hidden temporary folder.) A symbolic
link is never replaced by a folder.

Atomic writing. Everything is written into a hidden sibling ``.NAME.returnsim-PID-XXXX`` (marked as ours
by a file inside), then swapped into place in one step (``renameat2(RENAME_EXCHANGE)`` on Linux; two
renames elsewhere), so an interrupted or failed write leaves the previous results as they were. Leftover
temporary folders of ours (the name, the mark or a manifest, and a process that is gone) are removed by
the next command that writes beside them. Folders and files respect the umask (``tempfile.mkdtemp``
alone would make them private).

Other commands reuse this: check the place with :func:`check_output_folder` before working, then write
inside ``with atomic_folder(out) as tmp:`` ending with :func:`write_manifest`.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "res"
>>> with atomic_folder(out) as tmp:
...     _ = (tmp / "table.csv").write_text("a,b\\n1,2\\n")
...     _ = write_manifest(tmp, {"package": "returnsim", "kind": "example"})
>>> sorted(p.name for p in out.iterdir()), read_manifest(out)["files"]
(['manifest.json', 'table.csv'], ['manifest.json', 'table.csv'])
>>> shutil.rmtree(out.parent)
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import platform
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from returnsim.simulation import Result as RunResult

MANIFEST = "manifest.json"
MARK = ".returnsim-partial"  # inside a temporary folder while it is being written
#: files each kind of results folder holds, for manifests written before they listed their files
KNOWN_FILES = {
    "run": ("timeseries.csv", "manifest.json", "overview.png"),
    "compare": ("runs.csv", "outcomes.csv", "summary.csv", "summary.txt", "comparison.png", "manifest.json"),
}


class OutputError(RuntimeError):
    """The output folder may not or cannot be written; found before any work is done (exit status 2)."""


class WriteError(RuntimeError):
    """Writing the results failed after the work was done (exit status 1); the previous results are intact."""


# ------------------------------------------------------------------------------ manifests


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest as a dict, or ``None`` if it has none that returnsim wrote."""
    path = Path(folder) / MANIFEST
    try:
        if not stat.S_ISREG(path.lstat().st_mode) or path.lstat().st_size > 64 * 2**20:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("package") != "returnsim":
        return None
    return data


def manifest_kind(data: dict[str, Any]) -> str | None:
    """The command that wrote a manifest (manifests from before ``"kind"`` are recognised by their keys)."""
    kind = data.get("kind")
    if isinstance(kind, str):
        return kind
    if data.get("command") == "compare":
        return "compare"
    if "scenario_source" in data:
        return "run"
    return None


def write_manifest(folder: Path, data: dict[str, Any]) -> Path:
    """Write ``manifest.json`` last, listing every file written into ``folder`` (``"files"``)."""
    folder = Path(folder)
    files = sorted({p.name for p in folder.iterdir() if p.name != MARK} | {MANIFEST})
    path = folder / MANIFEST
    path.write_text(json.dumps({**data, "files": files}, indent=2) + "\n", encoding="utf-8")
    return path


def write_json_atomic(data: dict[str, Any], path: Path) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file in the same folder, replaced in one step: a
    reader sees the old file or the new one, never half of it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: files a desktop's file browser leaves in any folder it shows (macOS Finder, Windows Explorer, KDE Dolphin):
#: not a user's work, made again when wanted, so they do not stop a results folder from being replaced
DESKTOP_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".directory"})


def _desktop_file(entry: os.DirEntry) -> bool:
    return entry.name in DESKTOP_FILES and entry.is_file(follow_symlinks=False)


def _foreign(folder: Path, data: dict[str, Any], kind: str) -> list[str]:
    """Entries of ``folder`` that its manifest does not list as written by returnsim (folders end in /), other
    than the files of :data:`DESKTOP_FILES`."""
    listed = data.get("files")
    ours = set(listed) if isinstance(listed, list) else set(KNOWN_FILES.get(kind, (MANIFEST,)))
    out = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if _desktop_file(entry):
            continue
        if entry.name not in ours or not entry.is_file(follow_symlinks=False):
            out.append(entry.name + ("/" if entry.is_dir(follow_symlinks=False) else ""))
    return out


def _ownership(out: Path, kind: str | None) -> None:
    """Raise unless the existing folder ``out`` may be replaced by results of ``kind`` (any kind if None)."""
    data = read_manifest(out)
    found = manifest_kind(data) if data else None
    if data is None or found is None:
        with os.scandir(out) as entries:
            if all(_desktop_file(entry) for entry in entries):
                return  # an empty folder (or one a file browser has shown)
        raise OutputError(f"{out}: exists and is not a returnsim results folder; choose another --out")
    if kind is not None and found != kind:
        raise OutputError(
            f"{out}: holds the results of `returnsim {found}`, not of `returnsim {kind}`; choose another --out"
        )
    foreign = _foreign(out, data, found)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputError(
            f"{out}: holds files returnsim did not write ({shown}); move them out of the folder or choose another --out"
        )


# ------------------------------------------------------------------------------ the place


def check_output_folder(out: Path, kind: str | None = None) -> Path:
    """Raise :class:`OutputError` unless results of ``kind`` may be written to ``out``; return ``out``.

    ``out`` may be new, an empty folder, or a results folder of the same kind holding only files returnsim
    wrote. It may not be a symbolic link, a file, the current folder or one that holds it, nor lie under a
    file or anywhere the process cannot create a folder (tested by creating and removing one). Commands call
    this before they start working, so a bad ``--out`` fails at once, not after the runs.
    """
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise OutputError(f"{out}: is not a folder name; give one, e.g. results/run1")
    if out.is_symlink():
        raise OutputError(
            f"{out}: is a symbolic link (to {os.readlink(out)}); give the folder it points to or another --out"
        )
    absolute = Path.cwd() / out
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"{out}: is not a folder; choose another --out")
        here = Path.cwd().resolve()
        if here == out.resolve() or out.resolve() in here.parents:
            raise OutputError(f"{out}: holds the current folder; choose another --out")
        _ownership(out, kind)
    parent = next((p for p in absolute.parents if p.exists() or p.is_symlink()), None)
    if parent is None or (parent.is_symlink() and not parent.exists()):
        raise OutputError(f"{out}: {parent} is a broken symbolic link; choose another --out")
    if not parent.is_dir():
        raise OutputError(f"{out}: {parent} is a file, so no folder can be made under it; choose another --out")
    _clean_leftovers(out)
    _probe(out, parent)
    return out


def _probe(out: Path, parent: Path) -> None:
    """Create and remove a folder where ``out`` or its first missing parent will be made."""
    try:
        with _signals_held():  # never leave the probe behind
            probe = tempfile.mkdtemp(prefix=f".{out.name}.returnsim-{os.getpid()}-", dir=parent)
            os.rmdir(probe)
    except OSError as exc:
        raise OutputError(f"{out}: cannot be written: {parent} does not allow new folders ({exc.strerror})") from None
    if out.exists() and not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: cannot be written: permission denied")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _clean_leftovers(out: Path) -> list[Path]:
    """Remove temporary folders that an earlier command of ours left beside ``out`` (killed while it wrote).

    A leftover is a folder named ``.NAME.returnsim-PID-…`` whose process is gone and that holds our mark, a
    manifest of returnsim and only the files it lists, or nothing. Anything else is left alone.
    """
    parent, prefix = Path(out).parent, f".{Path(out).name}.returnsim-"
    removed = []
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        pid = entry.name[len(prefix) :].split("-", 1)[0]
        if not (pid.isascii() and pid.isdigit()) or _pid_alive(int(pid)) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if (path / MARK).exists() or not any(path.iterdir()) or _is_results_folder(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _is_results_folder(path: Path) -> bool:
    data = read_manifest(path)
    kind = manifest_kind(data) if data else None
    return kind is not None and not _foreign(path, data, kind)


def _umask() -> int:
    status = Path("/proc/self/status")
    with contextlib.suppress(OSError, ValueError):
        for line in status.read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read it by setting it (and put it back at once)
    os.umask(mask)
    return mask


def _make_parents(folder: Path) -> list[Path]:
    """``mkdir -p`` that returns the folders it made (to remove them again if nothing is written)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(exist_ok=True)
    return missing


# ------------------------------------------------------------------------------ writing


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``); False where unsupported."""
    if platform.system() != "Linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # a file system or kernel without it
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM during a step that must not be cut in two (making or swapping a folder): they
    are recorded, and acted on as soon as the step is done. Python runs signal handlers in the main thread
    only, so replacing the handlers holds them whatever other threads (BLAS, plotting) do."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, lambda signum, _frame: caught.append(signum)) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if caught:
            handler = previous[caught[0]]
            if callable(handler):
                handler(caught[0], None)  # e.g. KeyboardInterrupt
            elif handler in (signal.SIG_DFL, None):
                signal.raise_signal(caught[0])


def _commit(tmp: Path, out: Path, kind: str | None) -> None:
    data = read_manifest(tmp)
    if data is None:
        raise WriteError(f"{out}: no manifest was written; the previous results are unchanged")
    kind = kind or manifest_kind(data)
    if "files" not in data:
        write_manifest(tmp, data)
    with _signals_held():
        if out.is_symlink() or out.exists():
            try:
                check_output_folder(out, kind)
            except OutputError as exc:  # changed while we worked
                raise WriteError(f"{exc} (it changed while returnsim worked; nothing was written)") from None
            (tmp / MARK).unlink()
            if _exchange(tmp, out):
                shutil.rmtree(tmp, ignore_errors=True)  # now the previous results
                return
            old = tmp.with_name(tmp.name + "-old")
            out.rename(old)
            try:
                tmp.rename(out)
            except OSError:
                old.rename(out)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            (tmp / MARK).unlink()
            tmp.rename(out)


@contextlib.contextmanager
def atomic_folder(out: Path, kind: str | None = None) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``out`` in one step when the block succeeds.

    The block must write a manifest (:func:`write_manifest`); its ``"kind"`` must match ``kind`` when given.
    ``out`` is checked first (:func:`check_output_folder`) and again before it is replaced. If the block
    fails or is interrupted, the temporary folder (and any parent folder made for it) is removed and
    ``out`` is left as it was; a failure to write (disk full, no permission) becomes :class:`WriteError`.
    """
    out = Path(out)
    check_output_folder(out, kind)
    made = []
    tmp: Path | None = None
    done = False
    try:
        with _signals_held():  # an interrupt now would leave a folder we have not yet marked or named
            made = _make_parents(out.parent)
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.returnsim-{os.getpid()}-", dir=out.parent))
            (tmp / MARK).write_text(f"{os.getpid()}\n")
            tmp.chmod(0o777 & ~_umask())
        yield tmp
        _commit(tmp, out, kind)
        done = True
    except (OSError, MemoryError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise WriteError(
            f"{out}: the results could not be written: {reason}; any earlier results there are unchanged"
        ) from exc
    finally:
        with _signals_held():  # a second Ctrl-C must not stop the cleaning half-way
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            if not done:
                for folder in made:  # innermost first
                    with contextlib.suppress(OSError):
                        folder.rmdir()


# ------------------------------------------------------------------------------ a run's folder


def manifest(result: RunResult, source: str, **extra) -> dict:
    """Provenance of a run: the scenario as resolved, seed, sizes, versions, time."""
    from returnsim import __version__

    return {
        "package": "returnsim",
        "kind": "run",
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
    with atomic_folder(out, "run") as tmp:
        result.write_csv(tmp / "timeseries.csv")
        if figure is not None:
            figure(result, tmp / "overview.png")
        write_manifest(tmp, manifest(result, source))
    return Path(out)
