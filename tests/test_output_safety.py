"""Output folders: nothing returnsim did not write is ever deleted or replaced; results appear whole or not at all.

Every case works on scratch folders under ``tmp_path`` (the working folder is moved there too).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import returnsim.experiments.runner
from returnsim import results
from returnsim.cli import default_out, main
from returnsim.results import MARK, OutputError, WriteError, atomic_folder, check_output_folder, write_manifest
from returnsim.simulation import Result

BASELINE = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"
FAST = ["--months", "2", "--households-per-agent", "5000", "--quiet", "--no-plot"]


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (``None`` for folders): what must not change."""
    return {
        str(p.relative_to(folder)): (None if p.is_dir() and not p.is_symlink() else os.readlink(p).encode())
        if p.is_dir() or p.is_symlink()
        else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def must_not_simulate(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("simulated before the output folder was checked")

    monkeypatch.setattr("returnsim.simulation.simulate", fail)
    monkeypatch.setattr(returnsim.experiments.runner, "run_point", fail)


# ------------------------------------------------------------------------------ ownership


def test_a_users_file_in_a_results_folder_is_kept_and_named(scratch, capsys):
    assert main(["run", "--out", "res", "--seed", "1", *FAST]) == 0
    (scratch / "res" / "notes.txt").write_text("my analysis")
    (scratch / "res" / "figures").mkdir()
    before = tree(scratch)
    assert main(["run", "--out", "res", "--seed", "2", *FAST]) == 2
    assert capsys.readouterr().err.strip() == (
        "res: holds files returnsim did not write (figures/, notes.txt); "
        "move them out of the folder or choose another --out"
    )
    assert tree(scratch) == before


@pytest.mark.parametrize("name", [".DS_Store", "Thumbs.db", "desktop.ini", ".directory"])
def test_a_file_browsers_own_file_does_not_stop_a_rerun(scratch, capsys, name):
    assert main(["run", "--out", "res", "--seed", "1", *FAST]) == 0
    (scratch / "res" / name).write_bytes(b"\0\0\0\1Bud1")
    assert main(["run", "--out", "res", "--seed", "2", *FAST]) == 0
    assert json.loads((scratch / "res" / "manifest.json").read_text())["seed"] == 2
    (scratch / "new").mkdir()  # a folder made in a file browser before the first run
    (scratch / "new" / name).write_bytes(b"\0")
    assert main(["run", "--out", "new", *FAST]) == 0
    assert (scratch / "new" / "timeseries.csv").is_file()


def test_a_file_browsers_file_beside_a_users_file_is_not_named_and_the_folder_kept(scratch, capsys):
    assert main(["run", "--out", "res", "--seed", "1", *FAST]) == 0
    (scratch / "res" / ".DS_Store").write_bytes(b"\0")
    (scratch / "res" / "notes.txt").write_text("my analysis")
    (scratch / "mine").mkdir()
    (scratch / "mine" / ".DS_Store").mkdir()  # a folder of that name is not a file browser's
    before = tree(scratch)
    capsys.readouterr()
    assert main(["run", "--out", "res", "--seed", "2", *FAST]) == 2
    assert capsys.readouterr().err.strip() == (
        "res: holds files returnsim did not write (notes.txt); move them out of the folder or choose another --out"
    )
    assert main(["run", "--out", "mine", *FAST]) == 2
    assert capsys.readouterr().err.strip() == "mine: exists and is not a returnsim results folder; choose another --out"
    assert tree(scratch) == before


def test_a_folder_with_a_manifest_that_returnsim_did_not_write_is_refused(scratch, capsys, monkeypatch):
    """The issue's data loss: any folder merely holding a file named manifest.json was deleted."""
    web = scratch / "site"
    web.mkdir()
    (web / "manifest.json").write_text('{"name": "my web app", "start_url": "/"}')
    (web / "index.html").write_text("<html></html>")
    before = tree(scratch)
    must_not_simulate(monkeypatch)
    assert main(["run", "--out", "site", *FAST]) == 2
    assert main(["compare", "baseline", "baseline", "--out", "site", "--seeds", "2", *FAST]) == 2
    err = capsys.readouterr().err
    assert err.count("site: exists and is not a returnsim results folder; choose another --out") == 2
    assert tree(scratch) == before


def test_a_results_folder_of_the_other_command_is_refused(scratch, capsys):
    assert main(["run", "--out", "res", *FAST]) == 0
    assert main(["compare", "baseline", "baseline", "--out", "cmp", "--seeds", "2", *FAST]) == 0
    before = tree(scratch)
    capsys.readouterr()
    assert main(["run", "--out", "cmp", *FAST]) == 2
    assert main(["compare", "baseline", "baseline", "--out", "res", "--seeds", "2", *FAST]) == 2
    assert [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")] == [
        "cmp: holds the results of `returnsim compare`, not of `returnsim run`; choose another --out",
        "res: holds the results of `returnsim run`, not of `returnsim compare`; choose another --out",
    ]
    assert tree(scratch) == before


def test_manifests_say_what_wrote_them_and_list_their_files(scratch):
    assert main(["run", "--out", "res", *FAST[:-1]]) == 0
    data = json.loads((scratch / "res" / "manifest.json").read_text())
    assert data["package"] == "returnsim" and data["kind"] == "run"
    assert data["files"] == ["manifest.json", "overview.png", "timeseries.csv"]
    assert {"scenario_source", "scenario", "seed", "months", "households_per_agent", "version"} <= set(data)


def test_a_results_folder_from_before_manifests_had_a_kind_is_still_replaced(scratch):
    old = scratch / "res"
    old.mkdir()
    (old / "timeseries.csv").write_text("month\n2017-01\n")
    (old / "manifest.json").write_text(json.dumps({"package": "returnsim", "scenario_source": "baseline"}))
    assert main(["run", "--out", "res", *FAST]) == 0
    assert len(pd.read_csv(old / "timeseries.csv")) == 2


def test_the_default_folder_is_the_files_name_never_meta_name(scratch):
    """meta.name = "/abs", "../../x" or "" chose (and replaced) folders outside results/."""
    victim = scratch / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    names = [str(victim), "../../victim", "", "baseline"]
    for i, name in enumerate(names):
        (scratch / f"s{i}.toml").write_text(f'extends = "{BASELINE}"\n[meta]\nname = "{name}"\n')
        assert main(["run", f"s{i}.toml", *FAST]) == 0
    assert sorted(p.name for p in (scratch / "results").iterdir()) == ["s0", "s1", "s2", "s3"]
    assert tree(victim) == {"keep.txt": b"keep"}
    assert not (scratch / "results" / "baseline").exists()  # a variant named "baseline" does not overwrite it


@pytest.mark.parametrize(
    ("given", "folder"),
    [
        ("baseline", "baseline"),
        ("scenarios/sanctions_relief.toml", "sanctions_relief"),
        ("my policy (v2).toml", "my_policy_v2"),
        ("$(rm -rf ~).toml", "rm_-rf"),
        ("..toml", "scenario"),
        ("عودة.toml", "عودة"),
    ],
)
def test_default_folder_names_are_sanitised(given, folder):
    assert default_out(given) == Path("results") / folder


def test_a_symbolic_link_is_never_replaced_by_a_folder(scratch, capsys, monkeypatch):
    assert main(["run", "--out", "real", *FAST]) == 0
    (scratch / "link").symlink_to("real")
    (scratch / "broken").symlink_to("nowhere")
    before = tree(scratch)
    must_not_simulate(monkeypatch)
    assert main(["run", "--out", "link", *FAST]) == 2
    assert main(["run", "--out", "broken", *FAST]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "link: is a symbolic link (to real); give the folder it points to or another --out",
        "broken: is a symbolic link (to nowhere); give the folder it points to or another --out",
    ]
    assert tree(scratch) == before and (scratch / "link").is_symlink()


@pytest.mark.parametrize(
    ("out", "message"),
    [
        (".", ".: is not a folder name; give one, e.g. results/run1"),
        ("..", "..: is not a folder name; give one, e.g. results/run1"),
        ("/", "/: is not a folder name; give one, e.g. results/run1"),
        ("afile", "afile: is not a folder; choose another --out"),
        ("afile/out", "afile/out: {d}/afile is a file, so no folder can be made under it; choose another --out"),
        ("/proc/returnsim-out", "/proc/returnsim-out: cannot be written: /proc does not allow new folders"),
        ("/dev/null", "/dev/null: is not a folder; choose another --out"),
    ],
)
def test_an_output_place_that_cannot_work_fails_before_simulating(scratch, capsys, monkeypatch, out, message):
    if out.startswith("/proc") and not Path("/proc/self").exists():
        pytest.skip("no /proc here")
    (scratch / "afile").write_text("x")
    before = tree(scratch)
    must_not_simulate(monkeypatch)
    assert main(["run", "--out", out, *FAST]) == 2
    assert capsys.readouterr().err.strip().startswith(message.format(d=scratch))
    assert tree(scratch) == before


def test_the_folder_holding_the_current_folder_is_refused(scratch, capsys, monkeypatch):
    assert main(["run", "--out", "res", *FAST]) == 0
    monkeypatch.chdir(scratch / "res")
    must_not_simulate(monkeypatch)
    assert main(["run", "--out", str(scratch / "res"), *FAST]) == 2
    assert "holds the current folder" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not bind root")
def test_an_unwritable_parent_fails_before_simulating(scratch, capsys, monkeypatch):
    locked = scratch / "locked"
    locked.mkdir(mode=0o555)
    must_not_simulate(monkeypatch)
    assert main(["run", "--out", "locked/res", *FAST]) == 2
    assert "locked/res: cannot be written" in capsys.readouterr().err


# ------------------------------------------------------------------------------ writing


@pytest.mark.parametrize(
    ("umask", "folder", "file"), [(0o022, 0o755, 0o644), (0o002, 0o775, 0o664), (0o077, 0o700, 0o600)]
)
def test_results_follow_the_umask(scratch, umask, folder, file):
    previous = os.umask(umask)
    try:
        assert main(["run", "--out", "res", *FAST]) == 0
    finally:
        os.umask(previous)
    assert (scratch / "res").stat().st_mode & 0o777 == folder
    assert {p.stat().st_mode & 0o777 for p in (scratch / "res").iterdir()} == {file}


def test_a_full_disk_after_the_run_is_one_line_exit_1_and_the_earlier_results_stay(scratch, capsys, monkeypatch):
    assert main(["run", "--out", "res", "--seed", "1", *FAST]) == 0
    before = tree(scratch)
    capsys.readouterr()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Result, "write_csv", full)
    assert main(["run", "--out", "res", "--seed", "2", *FAST]) == 1
    err = capsys.readouterr().err
    assert err == (
        "res: the results could not be written: No space left on device; any earlier results there are unchanged\n"
    )
    assert tree(scratch) == before


def test_a_folder_that_changes_during_the_run_is_not_replaced(scratch, capsys, monkeypatch):
    assert main(["run", "--out", "res", *FAST]) == 0
    from returnsim import simulation

    real = simulation.simulate

    def meanwhile(*args, **kwargs):
        (scratch / "res" / "added-during-the-run.txt").write_text("mine")
        return real(*args, **kwargs)

    monkeypatch.setattr(simulation, "simulate", meanwhile)
    capsys.readouterr()
    assert main(["run", "--out", "res", *FAST]) == 1
    assert "added-during-the-run.txt" in capsys.readouterr().err
    assert (scratch / "res" / "added-during-the-run.txt").read_text() == "mine"
    assert hidden(scratch) == []


def test_leftover_temporary_folders_of_ours_are_removed_and_nothing_else(scratch):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(gone.stdout)
    marked = scratch / f".res.returnsim-{dead}-aaaa"  # killed while writing
    marked.mkdir()
    (marked / MARK).write_text(f"{dead}\n")
    (marked / "timeseries.csv").write_text("half")
    swapped = scratch / f".res.returnsim-{dead}-bbbb"  # killed after the swap: the previous results
    swapped.mkdir()
    (swapped / "timeseries.csv").write_text("old")
    write_manifest(swapped, {"package": "returnsim", "kind": "run"})
    empty = scratch / f".res.returnsim-{dead}-cccc"  # killed between making and using a folder
    empty.mkdir()
    users = scratch / f".res.returnsim-{dead}-dddd"  # a name like ours, but not our content
    users.mkdir()
    (users / "thesis.tex").write_text("mine")
    alive = scratch / f".res.returnsim-{os.getpid()}-eeee"  # a command still writing
    alive.mkdir()
    (alive / MARK).write_text("")
    other = scratch / ".res.backup"
    other.mkdir()
    assert main(["run", "--out", "res", *FAST]) == 0
    assert sorted(hidden(scratch)) == sorted([users.name, alive.name, other.name])
    assert (users / "thesis.tex").read_text() == "mine"


def test_the_exchange_falls_back_to_two_renames_where_the_kernel_lacks_it(scratch, monkeypatch):
    assert main(["run", "--out", "res", "--seed", "1", *FAST]) == 0
    first = (scratch / "res" / "timeseries.csv").read_text()
    monkeypatch.setattr(results, "_exchange", lambda a, b: False)
    assert main(["run", "--out", "res", "--seed", "2", *FAST]) == 0
    assert (scratch / "res" / "timeseries.csv").read_text() != first
    assert hidden(scratch) == []


def test_a_failed_write_removes_the_parent_folders_it_made(scratch):
    with pytest.raises(WriteError), atomic_folder(scratch / "a" / "b" / "res") as tmp:
        (tmp / "x.csv").write_text("1")
        raise OSError(errno.EIO, "I/O error")
    assert list(scratch.iterdir()) == []


def test_other_commands_reuse_the_helpers_with_their_own_kind(scratch):
    """A sweep or a report: its own kind of folder, replaced by itself, protected from the others."""
    for value in ("1", "2"):
        with atomic_folder(scratch / "sweep", "sweep") as tmp:
            (tmp / "points.csv").write_text(value)
            write_manifest(tmp, {"package": "returnsim", "kind": "sweep"})
    assert (scratch / "sweep" / "points.csv").read_text() == "2"
    with pytest.raises(OutputError, match="holds the results of `returnsim sweep`, not of `returnsim run`"):
        check_output_folder(scratch / "sweep", "run")
    with pytest.raises(WriteError, match="no manifest was written"), atomic_folder(scratch / "report") as tmp:
        (tmp / "index.html").write_text("<html>")
    assert not (scratch / "report").exists()


def test_names_with_mathtext_do_not_break_the_figures(scratch):
    """A ``$`` in a name used to crash the figure after the whole run."""
    (scratch / "a$b$c.toml").write_text(f'extends = "{BASELINE}"\n[meta]\nname = "$\\\\frac{{1$ \\\\undefined$"\n')
    assert main(["run", "a$b$c.toml", "--out", "res", *FAST[:-1]]) == 0
    assert (scratch / "res" / "overview.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["compare", "baseline", "a$b$c.toml", "--out", "cmp", "--seeds", "2", *FAST[:-1]]) == 0
    assert (scratch / "cmp" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
