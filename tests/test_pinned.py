"""Pinned seeded outputs: every library scenario, run at a fixed seed and scale, gives the yearly totals kept
in ``tests/pinned/<scenario>.json`` within their tolerances (1 % and about two agent rows; see
``tests/pinned/regenerate.py``). A failure means behaviour changed: if deliberately, regenerate the fixtures with
``python tests/pinned/regenerate.py`` and commit them with the change; if not, it is a bug.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

PINNED = Path(__file__).resolve().parent / "pinned"
SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


def _regenerate():
    spec = importlib.util.spec_from_file_location("pinned_regenerate", PINNED / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regenerate = _regenerate()


def test_every_library_scenario_is_pinned_and_nothing_else():
    assert sorted(p.stem for p in PINNED.glob("*.json")) == sorted(p.stem for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_seeded_run_matches_its_pinned_yearly_totals(path):
    pinned = json.loads((PINNED / f"{path.stem}.json").read_text(encoding="utf-8"))
    now = regenerate.summary(path)
    assert set(now["series"]) == set(pinned["series"])
    changed = regenerate.differences(pinned, now)
    assert not changed, "behaviour changed (python tests/pinned/regenerate.py if deliberate):\n" + "\n".join(changed)


def test_the_comparison_catches_a_change_beyond_tolerance():
    pinned = json.loads((PINNED / "baseline.json").read_text(encoding="utf-8"))
    moved = json.loads(json.dumps(pinned))
    k = pinned["households_per_agent"]
    for name, factor in (("returns_voluntary_refugees", 2.0), ("intend_return_12m_pct", 0.5)):
        value = pinned["series"][name][2]
        rel, tol = regenerate.tolerance(name, k)
        moved["series"][name][2] = value + factor * max(rel * abs(value), tol)  # beyond, then within tolerance
    (line,) = regenerate.differences(pinned, moved)
    assert line.startswith(f"baseline: returns_voluntary_refugees {pinned['years'][2]}: ")
    assert regenerate.differences(pinned, pinned) == []


def test_the_readme_development_commands_are_true():
    """The scripts the README's Development section runs exist and take the flags it gives; mutmut's
    configuration names existing paths and test files."""
    import re
    import tomllib

    root = PINNED.parents[1]
    section = (root / "README.md").read_text(encoding="utf-8").split("## Development", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    scripts = [w for c in commands for w in c.split() if w.endswith(".py")]
    assert scripts == ["tests/pinned/regenerate.py", "benchmarks/agreement.py"]
    for script in scripts:
        text = (root / script).read_text(encoding="utf-8")
        assert "def main(" in text and "argparse" in text, script
    assert any(c.endswith("mutmut run") for c in commands)
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    config = project["tool"]["mutmut"]
    for pattern in config["only_mutate"]:
        assert list(root.glob(pattern)), pattern
    for test in config["pytest_add_cli_args_test_selection"]:
        assert (root / test).is_file(), test
    assert any(d.startswith("mutmut") for d in project["project"]["optional-dependencies"]["dev"])
