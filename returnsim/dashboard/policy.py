"""What each policy control on the page means as an ``[[events]]`` table (see scenarios/README.md).

Each function returns the event (without ``month``: the session dates it) or ``None`` when the control is
back at "as in the scenario". The lever name says which earlier page event a new one replaces.

>>> from returnsim import load_scenario
>>> s = load_scenario("baseline")
>>> deportation(s, "turkey", 5000)
('deportation:turkey', {'type': 'deportation', 'host': 'turkey', 'quota': 5000, 'targeting': 'unregistered', \
'destination': 'northern_safe_zone'})
>>> guarantee(1.0, 0.3)
('guarantee', None)
"""

from __future__ import annotations

from typing import Any

from returnsim.scenario import Scenario

Change = tuple[str, dict[str, Any] | None]

#: the page's choices for conscription, in the order the control lists them
CONSCRIPTION = {"as in the scenario": None, "ended everywhere": False, "enforced everywhere": True}
#: the page's choices for who rules Syria: how far the government that refugees fled still rules (1 in power, 0 gone)
WHO_RULES = {"as in the scenario": None, "the government falls": 0.0, "a negotiated transition (half its hold)": 0.5}


def deportation(scenario: Scenario, host: str, quota: int) -> Change:
    """Deport ``quota`` persons a month from ``host``, with the host's own targeting and destination."""
    h = scenario.hosts[host]
    event = {
        "type": "deportation",
        "host": host,
        "quota": int(quota),
        "targeting": h.deportation_targeting,
        "destination": h.deportation_destination,
    }
    return f"deportation:{host}", event


def pressure(host: str, level: float) -> Change:
    """Hostile politics, raids, loss of permits in ``host``: pressure index 0-1."""
    return f"pressure:{host}", {"type": "host_pressure", "host": host, "level": float(level)}


def aid(host: str, level: float) -> Change:
    """Assistance to refugees in ``host``: aid index 0-1."""
    return f"aid:{host}", {"type": "aid_change", "host": host, "level": float(level)}


def sanctions(lift: bool, reconstruction_aid: float) -> Change:
    """Sanctions lifted and/or reconstruction aid (index 0-1, reached over 12 months)."""
    if not lift and reconstruction_aid <= 0:
        return "sanctions", None
    return "sanctions", {
        "type": "sanctions_relief",
        "lift_sanctions": bool(lift),
        "reconstruction_aid": float(reconstruction_aid),
    }


def guarantee(detention_factor: float, credibility: float) -> Change:
    """An amnesty with guarantees against arrest for every returnee, by every controller: detention risk times
    ``detention_factor``; ``credibility`` is the share of the reduction households believe at once."""
    if detention_factor >= 1.0:
        return "guarantee", None
    return "guarantee", {
        "type": "security_guarantee",
        "profiles": ["all"],
        "detention_factor": float(detention_factor),
        "credibility": float(credibility),
    }


def conscription(choice: str) -> Change:
    """Military service ended or enforced everywhere, or as in the scenario (a key of :data:`CONSCRIPTION`)."""
    if choice not in CONSCRIPTION:
        raise ValueError(f"conscription: {choice!r} is not one of {', '.join(CONSCRIPTION)}")
    enforced = CONSCRIPTION[choice]
    return "conscription", None if enforced is None else {"type": "conscription", "enforced": enforced}


def who_rules(choice: str) -> Change:
    """The government that refugees fled falls, or keeps half its hold, or rules as in the scenario (a key of
    :data:`WHO_RULES`). The change is reached over 3 months, the fitted value of scenarios/shocks_2024.toml (how
    long displaced households took to believe the fall of December 2024)."""
    if choice not in WHO_RULES:
        raise ValueError(f"who_rules: {choice!r} is not one of {', '.join(WHO_RULES)}")
    regime = WHO_RULES[choice]
    return "regime", None if regime is None else {"type": "regime_change", "regime": regime, "ramp_months": 3}


def restitution(monthly: float) -> Change:
    """A share of confiscated or occupied homes given back each month (and absentee confiscation stopped)."""
    if monthly <= 0:
        return "restitution", None
    return "restitution", {"type": "property_restitution", "monthly": float(monthly)}
