"""Limits of a run: the largest values scenario files and flags accept, and the memory a run needs.

Every limit here is a rule with a plain message. The scenario schema (``returnsim.scenario``) and the
command line read the same constants, so ``returnsim check`` refuses what ``returnsim run`` would refuse.

Memory is estimated before anything is allocated: agents (rows) times the bytes one agent needs while the
model runs. The bytes of the household columns and of the network ties are read from the real column
dtypes (a one-row population is synthesised once), so the estimate follows the columns if they change;
the monthly temporaries are a measured allowance (``TEMPORARY_BYTES_PER_AGENT``).

>>> from returnsim.scenario import load_scenario
>>> e = estimate(load_scenario("baseline"), households_per_agent=1)
>>> e.agents > 2_000_000, e.bytes_per_agent > 100
(True, True)
>>> gib(3 * 2**30)
'3.0 GiB'
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from returnsim.scenario import Scenario

#: months one run may simulate (100 years); ``months_displaced`` (int16) stays far below its maximum
MAX_MONTHS = 1200
#: the calendar a scenario may use: pandas and the figures handle these dates and ``MAX_MONTHS`` after them
FIRST_MONTH, LAST_MONTH = "1900-01", "2100-12"
#: households one agent may stand for
MAX_HOUSEHOLDS_PER_AGENT = 1_000_000
#: seeds of the random generator: 0 to 2**32 - 1
MAX_SEED = 2**32 - 1
#: seeds one comparison may run for each scenario
MAX_SEEDS = 1000
#: persons in any one count of a scenario (refugees in a host, IDPs, a pre-war population, a quota)
MAX_PERSONS = 1_000_000_000
#: largest months displaced at the start (fits int16 with ``MAX_MONTHS`` added during a run)
MAX_MONTHS_DISPLACED = 1200
#: largest household (persons); ``size`` and ``detained`` are int8 columns
MAX_HOUSEHOLD_SIZE = 100
#: magnitude of an otherwise unbounded non-negative quantity (costs, multipliers, savings in months…)
MAX_MAGNITUDE = 1_000_000.0
#: smallest value of a quantity that must be positive (a time scale, a concentration); smaller ones overflow
MIN_POSITIVE = 0.001
#: magnitude of a logit coefficient: e**1000 is already beyond any probability's resolution
MAX_COEFFICIENT = 1000.0
#: weights of shares (they may be written as persons)
MAX_WEIGHT = float(MAX_PERSONS)
#: size of one scenario file; the library's largest is about 15 kB
MAX_FILE_BYTES = 4 * 2**20
#: files in one ``extends`` chain
MAX_EXTENDS = 32
#: levels of nested tables and arrays in a scenario file (the schema needs five)
MAX_NESTING = 32

#: monthly temporaries per agent beyond the columns and the ties, rounded up from the peak RSS of the
#: baseline without Mesa handles less the interpreter (2 cores, numpy 2.5): 223 bytes per agent measured at
#: 2.58 M agents and 6 ties (estimate 297), 231 at 258 k agents (297), 946 at 1.29 M agents and 50 ties (1045)
TEMPORARY_BYTES_PER_AGENT = 160
#: the interpreter with numpy, pandas, Mesa and pydantic loaded
BASE_BYTES = 200 * 2**20


@dataclass(frozen=True)
class MemoryEstimate:
    """What a run will hold in memory at its peak."""

    agents: int
    bytes_per_agent: int
    total: int  # bytes
    available: int | None  # bytes this process may still take, if known

    @property
    def fits(self) -> bool:
        return self.available is None or self.total <= self.available


def gib(n: float) -> str:
    """Bytes as GiB with one decimal (``MiB`` below one GiB)."""
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def agents(scenario: Scenario, households_per_agent: int) -> int:
    """Agent rows the initial population will have (the population's own rounding, host by host), with the
    households that events will displace or register later (``returnsim.population.stayers_needed``)."""
    import numpy as np

    from returnsim.geography import Geography
    from returnsim.population import _n_rows, stayers_needed

    mean = scenario.population.persons_per_household
    counts = [h.refugees for h in scenario.hosts.values()] + [scenario.idps.persons]
    stayers = stayers_needed(scenario, Geography.from_scenario(scenario))
    extra = np.ceil(1.1 * stayers / (mean * households_per_agent)) + (stayers > 0)
    return sum(_n_rows(p, mean, households_per_agent) for p in counts) + int(extra.sum())


@functools.cache
def _state_bytes() -> tuple[int, int]:
    """Bytes per row of everything the state holds per household (columns, caches, news counts, the index of
    ties), and bytes per tie, from the real dtypes of a tiny run's state."""
    from returnsim.scenario import scenario_from_dict
    from returnsim.simulation import Simulation

    one = scenario_from_dict(
        {
            "hosts": {"h": {"refugees": 50, "origin_shares": {"a": 1.0}}},
            "regions": {name: {"controller": "c", "prewar_population": 10} for name in ("a", "b")},
            "controllers": {"c": {}},
        },
        source="<limits>",
    )
    state = Simulation(one, households_per_agent=1).state
    n = len(state.pop)
    per_row = [a for a in vars(state).values() if hasattr(a, "shape") and a.shape[:1] == (n,) and a.ndim == 1]
    columns = sum(c.itemsize for c in state.pop.columns().values()) + sum(a.itemsize for a in per_row)
    columns += state.ties.in_ptr.itemsize  # one index entry per row
    return columns, state.ties.out.itemsize + state.ties.in_rows.itemsize


def bytes_per_agent(ties: int) -> int:
    """Peak bytes one agent needs: its columns, its ties (and their draws while they are built), temporaries."""
    columns, per_tie = _state_bytes()
    building = 8 + 1  # one float64 draw and one bool per tie while the network is built
    return columns + ties * (per_tie + building) + TEMPORARY_BYTES_PER_AGENT


def available_memory() -> int | None:
    """Bytes this process may still allocate: the least of free memory, the cgroup's limit and
    ``RLIMIT_AS``; ``None`` where none of them can be read."""
    found: list[int] = []
    meminfo = _read_fields(Path("/proc/meminfo"))
    if "MemAvailable" in meminfo:
        found.append(meminfo["MemAvailable"] * 1024)
    limit, used = _read_int(Path("/sys/fs/cgroup/memory.max")), _read_int(Path("/sys/fs/cgroup/memory.current"))
    if limit is not None and used is not None:
        found.append(max(limit - used, 0))
    try:
        import resource
    except ImportError:  # not on every platform
        resource = None
    if resource is not None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            size = _read_fields(Path("/proc/self/status")).get("VmSize", 0) * 1024
            found.append(max(soft - size, 0))
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def _read_fields(path: Path) -> dict[str, int]:
    """``Key:   123 kB`` lines as ``{"Key": 123}``."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, rest = line.partition(":")
        words = rest.split()
        if words and words[0].isdigit():
            out[key] = int(words[0])
    return out


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def estimate(scenario: Scenario, households_per_agent: int, extra_bytes: int = 0) -> MemoryEstimate:
    """Peak memory of one run of ``scenario`` at ``households_per_agent`` (plus ``extra_bytes``)."""
    n = agents(scenario, households_per_agent)
    per = bytes_per_agent(scenario.network.ties)
    return MemoryEstimate(n, per, BASE_BYTES + n * per + extra_bytes, available_memory())


def run_problems(scenario: Scenario, households_per_agent: int, where: str, extra_bytes: int = 0) -> list[str]:
    """Why a run of ``scenario`` at ``households_per_agent`` cannot start, one line each (empty if it can).

    ``where`` names what set the scale, e.g. ``"x.toml: simulation.households_per_agent = 1"`` or
    ``"--households-per-agent 1"``. Checked: the run has at least one agent, and it fits in memory.
    """
    n = agents(scenario, households_per_agent)
    if n == 0:
        persons = scenario.population.persons_per_household
        return [
            f"{where}: the run would have no agents: one agent stands for {households_per_agent:,} households "
            f"of {persons:g} persons, more than any host or the IDPs hold; lower the households per agent"
        ]
    e = estimate(scenario, households_per_agent, extra_bytes)
    if e.fits:
        return []
    assert e.available is not None
    room = max(e.available - BASE_BYTES - extra_bytes, e.bytes_per_agent)
    fewest = -(-households_per_agent * n * e.bytes_per_agent // room)  # households per agent that would fit
    return [
        f"{where}: the run needs about {gib(e.total)} of memory ({n:,} agents x {e.bytes_per_agent} bytes); "
        f"{gib(e.available)} is available; use --households-per-agent {max(fewest, households_per_agent + 1):,} "
        "or more"
    ]
