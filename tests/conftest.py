"""Shared fixtures: a toy world of two hosts and two regions, built from a dict."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
from hypothesis import settings

from returnsim.scenario import scenario_from_dict

# CI runs the property tests on a fixed sequence of examples (HYPOTHESIS_PROFILE=ci, set by .ci/run), so that a
# submission lands or not on its own merits; elsewhere each run draws new examples and may find new failures.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TOY = {
    "meta": {"name": "toy"},
    "simulation": {"start": "2020-01", "months": 12, "households_per_agent": 1, "seed": 3},
    "idps": {"persons": 2000, "origin_shares": {"north": 1.0}, "location_shares": {"south": 1.0}},
    "hosts": {
        "alpha": {"refugees": 3000, "origin_shares": {"north": 0.5, "south": 0.5}},
        "beta": {"refugees": 2000, "origin_shares": {"south": 1.0}},
    },
    "regions": {
        "north": {"controller": "gov", "prewar_population": 100000, "displacement_destination": "south"},
        "south": {"controller": "rebels", "prewar_population": 80000, "displacement_destination": "north"},
    },
    "controllers": {"gov": {"conscription": True}, "rebels": {}},
}


def toy_dict(**changes) -> dict:
    """A deep copy of the toy world with dotted keys replaced (``toy_dict(**{"hosts.alpha.pressure": 1})``)."""
    data = copy.deepcopy(TOY)
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data


@pytest.fixture
def toy():
    """Factory for validated toy scenarios: ``toy(**{"hosts.alpha.deportation_rate": 0.1})``."""
    return lambda **changes: scenario_from_dict(toy_dict(**changes), source="toy")


#: Debian's Chromium, driven by Playwright (which cannot download a browser here)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> dict:
    """Playwright's launch options for Debian's Chromium; skip (or fail, with RETURNSIM_REQUIRE_BROWSER=1) when
    Chromium or Playwright is missing."""
    reason = None
    if not CHROMIUM.exists():
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    if reason:
        if os.environ.get("RETURNSIM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (RETURNSIM_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(reason)
    return {"executable_path": str(CHROMIUM), "args": CHROMIUM_FLAGS}
