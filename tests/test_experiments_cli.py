"""``returnsim sweep``, ``sweep-merge`` and ``sensitivity`` from the command line; ``compare --workers``;
``returnsim.experiment``; and every command of experiments/README.md."""

from __future__ import annotations

import glob
import re
import shlex
import shutil
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

import returnsim
from returnsim.cli import main
from returnsim.compare import compare
from returnsim.experiments import executors
from returnsim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "experiments" / "README.md"
GOOD = (
    'scenario = "baseline"\nmonths = 2\nhouseholds_per_agent = 5000\nreplications = 2\n[design]\ntype = "grid"\n'
    '[parameters]\n"decision.intercept" = { values = [-6.0, -5.0] }\n'
    '[outcomes]\nreturns = { column = "returns_voluntary" }\n'
)


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.toml"
    path.write_text(GOOD, encoding="utf-8")
    return path


def test_sweep_runs_stores_and_reports(good, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(good), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr()
    assert printed.out.startswith("4 runs planned: 4 ok, 0 failed; 4 run now, 0 already stored;")
    assert f"good: 4 runs, results in {out}/ (local processes)" in printed.err
    runs = returnsim.load_results(out)
    assert list(runs["run_id"]) == ["p0-r0", "p0-r1", "p1-r0", "p1-r1"] and (runs["status"] == "ok").all()
    assert runs.attrs["manifest"]["version"] == returnsim.__version__
    assert main(["sweep", str(good), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("4 runs planned: 4 ok, 0 failed; 0 run now, 4 already stored;")


def test_default_folder_is_results_and_the_experiment_name(good, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(good), "--workers", "1", "--quiet"]) == 0
    assert (tmp_path / "results" / "good" / "runs.parquet").exists()


def test_a_bad_experiment_exits_2_with_located_messages_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace('type = "grid"', 'type = "grd"').replace("replications = 2", "replications = 0"))
    out = tmp_path / "out"
    assert main(["sweep", str(bad), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}: replications = 0: must be between 1 and 1000",
        f"{bad}: design.type = \"grd\": unknown design (did you mean 'grid'?)",
    ]
    assert not out.exists()
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml: cannot be read: No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--shard", "3/2"], "argument --shard: 3/2: I must be between 1 and N"),
        (["--shard", "first"], "argument --shard: 'first' is not I/N, e.g. 1/4 (shard I of N)"),
        (["--workers", "0"], "argument --workers: 0 must be at least 1"),
        (["--scheduler", "localhost"], "'localhost' is not a scheduler address such as tcp://10.0.0.5:8786"),
    ],
)
def test_bad_flags_exit_2(good, tmp_path, flags, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(good), "--out", str(tmp_path / "out"), *flags])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


class Unreachable:
    """Stands in for DaskExecutor: records the address, fails as an unreachable scheduler does."""

    seen: ClassVar[list[str]] = []

    def __init__(self, address):
        Unreachable.seen.append(address)
        raise executors.ExecutorError(f"cannot reach the Dask scheduler at {address}: timed out")


def test_an_unreachable_scheduler_exits_2_and_writes_nothing(good, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(executors, "DaskExecutor", Unreachable)
    out = tmp_path / "out"
    assert main(["sweep", str(good), "--out", str(out), "--scheduler", "tcp://10.1.2.3:8786", "--quiet"]) == 2
    assert "returnsim sweep: cannot reach the Dask scheduler at tcp://10.1.2.3:8786" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.9.9.9:8786")
    assert main(["sweep", str(good), "--out", str(out), "--quiet"]) == 2  # the environment names the cluster
    assert Unreachable.seen[-2:] == ["tcp://10.1.2.3:8786", "tcp://10.9.9.9:8786"] and not out.exists()


def test_another_experiment_in_the_same_folder_exits_2(good, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(good), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    good.write_text(GOOD.replace("-5.0", "-4.0"), encoding="utf-8")
    assert main(["sweep", str(good), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    assert "holds the runs of another experiment (good, fingerprint" in capsys.readouterr().err


def test_shards_and_merge_from_the_command_line(good, tmp_path, capsys):
    for i in (1, 2):
        out = str(tmp_path / f"s{i}")
        assert main(["sweep", str(good), "--out", out, "--shard", f"{i}/2", "--workers", "1", "--quiet"]) == 0
    assert main(["sweep-merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "m")]) == 0
    assert capsys.readouterr().out.endswith(f"merged 2 folders into {tmp_path / 'm'}/: 4 ok, 0 failed\n")
    assert len(returnsim.load_results(tmp_path / "m")) == 4
    assert main(["sweep-merge", str(tmp_path / "s1"), "--out", str(tmp_path / "m1")]) == 0
    assert "2 ok, 0 failed, 2 missing (run `returnsim sweep` on" in capsys.readouterr().out
    assert main(["sweep-merge", str(tmp_path), "--out", str(tmp_path / "m2")]) == 2
    assert "not a sweep results folder (no manifest.json)" in capsys.readouterr().err


def test_compare_uses_every_worker_and_keeps_its_outputs(tmp_path):
    args = (["baseline", "sanctions_relief"],)
    kwargs = {"seeds": 2, "months": 4, "households_per_agent": 3000, "progress": False}
    serial, parallel = compare(*args, workers=1, **kwargs), compare(*args, workers=2, **kwargs)
    pd.testing.assert_frame_equal(serial.runs, parallel.runs)
    pd.testing.assert_frame_equal(serial.summary, parallel.summary)
    with pytest.raises(SystemExit):
        main(["compare", "baseline", "baseline", "--workers", "0"])


def test_experiment_function_takes_dotted_or_double_underscore_keys():
    small = {"months": 6, "households_per_agent": 2000, "seed": 2}
    a = returnsim.experiment(**small, **{"hosts.turkey.deportation_rate": 0.05})
    b = returnsim.experiment(**small, hosts__turkey__deportation_rate=0.05)
    base = returnsim.experiment(**small)
    assert a == b and a["returns_forced"] > base["returns_forced"]
    assert all(isinstance(v, float) for v in a.values())
    with pytest.raises(ScenarioError) as info:
        returnsim.experiment(**small, hosts__turkey__presure=0.5)
    assert info.value.problems == [
        "experiment(): hosts.turkey.presure: not a key of the scenario: hosts.turkey.presure does not exist "
        "(did you mean 'pressure'?)"
    ]
    with pytest.raises(ScenarioError, match=r"hosts.turkey.pressure = 2.0: must be between 0 and 1"):
        returnsim.experiment(**small, hosts__turkey__pressure=2.0)


# ------------------------------------------------------------------------------ experiments/README.md


def readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def shrink(text: str) -> str:
    """An experiment file made tiny: 2 months, 1 agent per 5000 households, few points."""
    text = re.sub(r"^(points = )\d+", r"\g<1>4", text, flags=re.M)
    text = re.sub(r"^(trajectories = )\d+", r"\g<1>2", text, flags=re.M)
    text = re.sub(r"^(replications = )\d+", r"\g<1>2", text, flags=re.M)
    return "months = 2\nhouseholds_per_agent = 5000\n" + text


def test_every_command_in_the_experiments_readme_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    for path in (ROOT / "experiments").glob("*.toml"):
        (tmp_path / "experiments" / path.name).write_text(shrink(path.read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copytree(ROOT / "experiments" / "scenarios", tmp_path / "experiments" / "scenarios")
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    ran = []
    for command in readme_commands():
        words = shlex.split(command)
        if words[0] != "returnsim":
            continue
        words = [m for w in words[1:] for m in (sorted(glob.glob(w)) if "*" in w else [w])]
        if words[0] == "sweep":
            words += ["--quiet", "--workers", "1"]  # the process pool has its own tests
        assert main(words) == 0, command
        ran.append(words[0])
    assert {"sweep", "sensitivity", "sweep-merge"} <= set(ran)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    namespace: dict = {}
    for block in blocks:  # after the commands: the first reads the folder of the first sweep
        exec(compile(block, str(README), "exec"), namespace)
    assert len(blocks) == 2 and namespace["table"].notna().all() and namespace["out"]["returns_voluntary_refugees"] > 0
