"""Interrupts: SIGINT (Ctrl-C), SIGTERM and SIGKILL sent to ``returnsim run`` subprocesses while they simulate
and while they write. One line, exit 130 or 143, nothing half-written; after SIGKILL the next run cleans up.

"While simulating" is recognised by the process's memory (the population of a large run is allocated);
"while writing" by the hidden temporary folder appearing beside ``--out``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from returnsim.cli import main
from returnsim.results import MARK

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc to follow the run")

LONG = ["--households-per-agent", "2", "--months", "1200", "--no-plot", "--quiet"]  # minutes of work
SHORT = ["--households-per-agent", "5000", "--months", "2", "--quiet"]  # writes its figure: about a second


def start(folder: Path, *args: str) -> subprocess.Popen:
    code = "import sys; from returnsim.cli import main; raise SystemExit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, "run", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(proc: subprocess.Popen, ready, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"exited early: {proc.communicate()}"
        assert time.monotonic() < end, "never got there"
        time.sleep(0.002)


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def simulating(proc: subprocess.Popen):
    return lambda: resident_mib(proc.pid) > 220  # the baseline at 2 households per agent holds ~1.3 M rows


def writing(folder: Path, name: str):
    """The marked temporary folder exists (not the probe made when the place was checked)."""
    return lambda: any((p / MARK).exists() for p in folder.glob(f".{name}.returnsim-*"))


def earlier_results(folder: Path, seed: str = "1") -> bytes:
    """A complete run into ``res`` (in this process): what an interrupted run must leave as it was."""
    assert main(["run", "--out", str(folder / "res"), "--seed", seed, *SHORT]) == 0
    return (folder / "res" / "timeseries.csv").read_bytes()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize(
    ("sig", "status", "words"),
    [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)
def test_a_signal_while_simulating_prints_one_line_and_writes_nothing(tmp_path, sig, status, words):
    proc = start(tmp_path, "--out", "res", *LONG)
    wait_until(proc, simulating(proc))
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err == f"returnsim: {words}; nothing was written to res\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("sig", "status", "words"),
    [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, 143, "stopped by SIGTERM")],
)
def test_a_signal_while_writing_leaves_the_earlier_results_whole(tmp_path, sig, status, words):
    before = earlier_results(tmp_path)
    for _attempt in range(3):  # on a busy machine the run may finish between seeing the folder and the signal
        proc = start(tmp_path, "--out", "res", "--seed", "2", *SHORT)
        wait_until(proc, writing(tmp_path, "res"))
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            break
        before = earlier_results(tmp_path)
    assert proc.returncode == status
    # the signal may land just after the new results were swapped in: then they are whole, and it says so
    replaced = (tmp_path / "res" / "timeseries.csv").read_bytes() != before
    expected = "after the results were written to res" if replaced else "nothing was written to res"
    assert err == f"returnsim: {words}; {expected}\n".replace("; after", " after")
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["manifest.json", "overview.png", "timeseries.csv"]
    assert leftovers(tmp_path) == []


def test_sigkill_while_simulating_leaves_nothing(tmp_path):
    proc = start(tmp_path, "--out", "res", *LONG)
    wait_until(proc, simulating(proc))
    proc.kill()
    proc.communicate(timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_after_sigkill_while_writing_the_next_run_cleans_the_temporary_folder(tmp_path):
    before = earlier_results(tmp_path)
    for _attempt in range(3):  # on a busy machine the run may finish between seeing the folder and the kill
        proc = start(tmp_path, "--out", "res", "--seed", "2", *SHORT)
        wait_until(proc, writing(tmp_path, "res"))
        proc.kill()
        proc.communicate(timeout=60)  # reaped: its process id is gone
        if proc.returncode == -signal.SIGKILL and leftovers(tmp_path):
            break
        before = (tmp_path / "res" / "timeseries.csv").read_bytes()
    left = leftovers(tmp_path)
    assert left, "SIGKILL leaves the temporary folder behind"
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["manifest.json", "overview.png", "timeseries.csv"]
    if (tmp_path / left[0] / MARK).exists():  # killed before the swap: the earlier results are untouched
        assert (tmp_path / "res" / "timeseries.csv").read_bytes() == before
    assert earlier_results(tmp_path, seed="3") != before  # the next run, which cleans up
    assert leftovers(tmp_path) == []


def test_the_exit_status_of_a_signal_is_128_plus_its_number():
    from returnsim.cli import EXIT_SIGINT, EXIT_SIGTERM

    assert (EXIT_SIGINT, EXIT_SIGTERM) == (128 + signal.SIGINT, 128 + signal.SIGTERM)
    assert os.name != "posix" or signal.SIGTERM == 15


def test_a_reader_that_goes_away_stops_the_output_quietly_and_keeps_the_results(tmp_path):
    """``returnsim run | head -0``: the summary meets a closed pipe after the results are written."""
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "returnsim", "run", "--out", str(out), "--months", "3"]
    cmd += ["--households-per-agent", "2000", "--no-plot"]
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line
    try:
        proc = subprocess.run(cmd, stdout=write, stderr=subprocess.PIPE, cwd=tmp_path, timeout=120)
    finally:
        os.close(write)
    err = proc.stderr.decode()
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
    assert (out / "timeseries.csv").is_file() and (out / "manifest.json").is_file() and not (out / MARK).exists()
