"""The ``returnsim`` command and the README's commands."""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pandas as pd
import pytest

from returnsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FAST = ["--months", "3", "--households-per-agent", "2000"]


def test_run_writes_timeseries_manifest_and_figure(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", "baseline", "--out", str(out), "--seed", "4", *FAST]) == 0
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts["month"]) == ["2017-01", "2017-02", "2017-03"]
    required = {
        "month",
        "refugees",
        "idps",
        "returnees",
        "returns_voluntary",
        "returns_forced",
        "detained",
        "redisplaced",
        "properties_confiscated",
        "returnees_in_poverty_share",
        "intend_return_12m_pct",
    }
    required |= {f"refugees_{h}" for h in ("turkey", "lebanon", "jordan", "iraq", "egypt", "europe")}
    assert required <= set(ts.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["months"] == 3 and manifest["households_per_agent"] == 2000
    assert manifest["scenario"]["hosts"]["turkey"]["refugees"] == 2_700_000
    assert manifest["version"] and manifest["wall_seconds"] > 0
    assert (out / "overview.png").read_bytes()[:4] == b"\x89PNG"
    text = capsys.readouterr().out
    for word in (
        "Turkey",
        "IDPs (inside Syria)",
        "returned voluntarily",
        "deported",
        "detained",
        "re-displaced",
        "still displaced",
    ):
        assert word in text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_run_replaces_an_earlier_results_folder(tmp_path):
    out = tmp_path / "res"
    assert main(["run", "--out", str(out), "--seed", "1", "--quiet", "--no-plot", *FAST]) == 0
    first = (out / "timeseries.csv").read_text()
    assert main(["run", "--out", str(out), "--seed", "2", "--quiet", "--no-plot", *FAST]) == 0
    assert (out / "timeseries.csv").read_text() != first
    assert not (out / "overview.png").exists()


def test_bad_scenario_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "missing.toml"\n')
    out = tmp_path / "res"
    assert main(["run", str(bad), "--out", str(out)]) == 2
    expected = f'{bad}: extends = "missing.toml": no such file {tmp_path / "missing.toml"}'
    assert capsys.readouterr().err.strip() == expected
    assert not out.exists()


def test_bad_value_exits_2_with_located_message(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{ROOT / "scenarios" / "baseline.toml"}"\n[hosts.turkey]\npressure = 1.5\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "res")]) == 2
    assert capsys.readouterr().err.strip() == f"{bad}: hosts.turkey.pressure = 1.5: must be between 0 and 1"
    assert not (tmp_path / "res").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--months", "0"], "argument --months: 0 must be at least 1"),
        (["--seed", "x"], "argument --seed: 'x' is not a whole number"),
        (["--households-per-agent", "-3"], "argument --households-per-agent: -3 must be at least 1"),
    ],
)
def test_bad_flags_exit_2(flags, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", *flags])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_refuses_to_overwrite_a_folder_that_is_not_a_results_folder(tmp_path, capsys):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    assert main(["run", "--out", str(precious), *FAST]) == 2
    expected = f"{precious}: exists and is not a returnsim results folder; choose another --out"
    assert capsys.readouterr().err.strip() == expected
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_bad_out_folder_fails_before_any_run(tmp_path, capsys, monkeypatch):
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")

    def must_not_run(*args, **kwargs):
        raise AssertionError("simulated before checking --out")

    monkeypatch.setattr("returnsim.simulation.simulate", must_not_run)
    monkeypatch.setattr("returnsim.compare.compare", must_not_run)
    assert main(["run", "--out", str(precious)]) == 2
    assert main(["compare", "baseline", "sanctions_relief", "--out", str(precious)]) == 2
    assert capsys.readouterr().err.count("is not a returnsim results folder") == 2


# ------------------------------------------------------------------------------ README


def readme_commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    return [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_quick_start_has_the_venv_step_then_the_two_commands_and_ci_runs_the_test_command():
    commands = readme_commands()
    assert commands[0] == "python3 -m venv .venv && . .venv/bin/activate"
    assert commands[1] == "python3 -m pip install . && returnsim run"
    assert commands[2] == "python3 -m pip install -e '.[test]' && python3 -m pytest"
    assert "Python 3.12 or newer" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'" in ci
    assert "\npython3 -m pytest\n" in ci


def test_every_returnsim_command_in_the_readme_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").symlink_to(ROOT / "scenarios")
    ran = 0
    for command in readme_commands():
        for part in command.split("&&"):
            words = shlex.split(part)
            if words[:1] != ["returnsim"]:
                continue
            words = [match for w in words[1:] for match in (sorted(glob.glob(w)) if "*" in w else [w])]
            if words[0] in ("run", "compare"):
                if "--months" not in words:
                    words += ["--months", "2"]
                if "--households-per-agent" in words:  # keep the full-scale example small in the test
                    words[words.index("--households-per-agent") + 1] = "5000"
                else:
                    words += ["--households-per-agent", "2000"]
                if "--seeds" in words:
                    words[words.index("--seeds") + 1] = "2"
                words += ["--quiet", "--no-plot"]
            if words[0] in ("validate", "explain"):  # small and quick in the test
                words += ["--households-per-agent", "5000", "--no-plot"]
                if "--seeds" in words:
                    words[words.index("--seeds") + 1] = "1"
            assert main(words) == 0, command
            ran += 1
    assert ran >= 6


def test_readme_python_example_runs():
    block = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    namespace: dict = {}
    exec(compile(block.replace("months=24", "months=2"), "README.md", "exec"), namespace)
    assert len(namespace["df"]) == 2
    assert namespace["s2"].hosts["turkey"].pressure == 0.8


def test_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "returnsim", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("returnsim ")


def test_installed_wheel_runs_the_builtin_scenario_from_any_directory(tmp_path):
    """Build a wheel, install it into a fresh environment, and run ``returnsim run`` outside the source tree."""
    wheels = tmp_path / "wheels"
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(wheels),
        str(ROOT),
    ]
    subprocess.run(build, check=True, capture_output=True)
    env_dir = tmp_path / "env"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    # The dependencies are those of the interpreter running the tests (a virtualenv's own, or the system's):
    # its site-packages go after the new environment's, by a .pth of plain paths (so the .pth files found
    # there, such as an editable install of returnsim, are not run). system_site_packages would give the
    # base interpreter's packages instead, which inside a virtualenv lack the dependencies.
    own = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    outer = [p for p in sys.path if p.endswith(("site-packages", "dist-packages")) and Path(p).is_dir()]
    (Path(own) / "_test_dependencies.pth").write_text("\n".join(outer) + "\n")
    wheel = next(wheels.glob("returnsim-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(env_dir / "bin" / "returnsim"), "run", *FAST, "--quiet"], cwd=work, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert (work / "results" / "baseline" / "timeseries.csv").exists()
    where = subprocess.run(
        [str(python), "-c", "import returnsim; print(returnsim.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    assert str(env_dir) in where  # the installed copy, not the source tree


def test_an_older_python_is_refused_with_a_sentence_naming_the_version():
    """pip resolves a source tree's dependencies before it reads requires-python, so on 3.11 it reported that
    no Mesa matched; setup.py, which the build runs first, stops with a sentence instead."""
    import tomllib

    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required == ">=3.12"
    pretend = "import sys; sys.version_info = (3, 11, 7, 'final', 0); sys.version = '3.11.7 (main)'; "
    done = subprocess.run(
        [sys.executable, "-c", pretend + "exec(open('setup.py').read())"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.startswith("returnsim needs Python 3.12 or newer, and this is Python 3.11.7 (")
