"""``returnsim report``: one self-contained, printable HTML page for a results folder.

A results folder of ``returnsim run`` (``timeseries.csv`` + ``manifest.json``) or ``returnsim compare``
(``runs.csv``, ``summary.csv`` + ``manifest.json``) becomes a page with a plain-language account of what
happened, the figures (embedded PNG: the page makes no request of any kind) and what the scenario assumed,
each event described in words. The manifest's ``kind`` says which; without it, the files do.

>>> describe_event({"type": "deportation", "month": "2019-07", "host": "turkey", "quota": 5000,
...                 "targeting": "unregistered", "destination": "northern_safe_zone"},
...                {"turkey": "Turkey", "northern_safe_zone": "Northern Aleppo"})
'From July 2019 on, Turkey deports 5,000 people a month, refugees without registration or legal residency, \
to Northern Aleppo.'
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from returnsim import style

MANIFEST = "manifest.json"
#: time-series columns the report reads from a run
RUN_COLUMNS = (
    "month",
    "refugees",
    "idps",
    "returnees",
    "returns_voluntary_refugees",
    "returns_voluntary_idps",
    "returns_forced",
    "detained",
    "redisplaced",
    "returnees_in_poverty_share",
    "intend_return_12m_pct",
    "intend_return_12m_pct_surveyed",
)
RUN_KEYS = ("scenario", "seed", "months", "households_per_agent")
COMPARE_KEYS = ("labels", "scenarios", "seeds", "months")
SUMMARY_COLUMNS = ("scenario", "outcome", "mean", "sd", "diff_mean", "diff_sd")
TARGETING = {
    "all": "anyone",
    "unregistered": "refugees without registration or legal residency",
    "military_age_men": "households with a man of military age",
    "single_men": "single men of military age",
}
PROFILES = {
    "all": "every returnee",
    "military_age_men": "men of military age",
    "politically_exposed": "people wanted or profiled for their politics",
    "others": "returnees neither of military age nor politically exposed",
}


class ReportError(ValueError):
    """A results folder that cannot be reported on; the message is one line naming the file and the problem."""


@dataclass
class Results:
    """What a results folder holds."""

    kind: str  # "run" or "compare"
    folder: Path
    manifest: dict[str, Any]
    timeseries: pd.DataFrame | None = None  # run
    runs: pd.DataFrame | None = None  # compare
    summary: pd.DataFrame | None = None  # compare


# ------------------------------------------------------------------------------ reading


def _csv(path: Path, required: Sequence[str]) -> pd.DataFrame:
    if not path.is_file():
        raise ReportError(f"{path}: missing")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ReportError(f"{path}: missing column {', '.join(repr(c) for c in missing)}")
    if frame.empty:
        raise ReportError(f"{path}: has no rows")
    return frame


def read_results(folder: Path) -> Results:
    """Read and check a results folder; raise :class:`ReportError` naming what is wrong."""
    folder = Path(folder)
    if not folder.exists():
        raise ReportError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise ReportError(f"{folder}: not a folder; give a results folder of 'returnsim run' or 'returnsim compare'")
    path = folder / MANIFEST
    if not path.is_file():
        raise ReportError(f"{folder}: not a returnsim results folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(manifest, dict):
        raise ReportError(f"{path}: must hold a JSON object")
    kind = manifest.get("kind")
    if kind is None:
        if (folder / "timeseries.csv").is_file():
            kind = "run"
        elif (folder / "runs.csv").is_file():
            kind = "compare"
        else:
            raise ReportError(f"{folder}: neither timeseries.csv (a run) nor runs.csv (a comparison) is there")
    if kind not in ("run", "compare"):
        raise ReportError(f"{path}: kind = {kind!r}: must be 'run' or 'compare'")
    for key in RUN_KEYS if kind == "run" else COMPARE_KEYS:
        if key not in manifest:
            raise ReportError(f"{path}: missing key '{key}'")
    if kind == "run":
        if not isinstance(manifest["scenario"], dict):
            raise ReportError(f"{path}: scenario must be the scenario tree (an object)")
        return Results("run", folder, manifest, timeseries=_csv(folder / "timeseries.csv", RUN_COLUMNS))
    labels, scenarios = manifest["labels"], manifest["scenarios"]
    if not isinstance(labels, list) or not labels or not isinstance(scenarios, dict):
        raise ReportError(f"{path}: labels must be a list of scenario labels and scenarios an object")
    unknown = [label for label in labels if label not in scenarios]
    if unknown:
        raise ReportError(f"{path}: scenarios has no tree for label {unknown[0]!r}")
    runs = _csv(folder / "runs.csv", ("scenario", "seed", *RUN_COLUMNS))
    summary = _csv(folder / "summary.csv", SUMMARY_COLUMNS)
    return Results("compare", folder, manifest, runs=runs, summary=summary)


# ------------------------------------------------------------------------------ words


def month_words(month: str) -> str:
    """``month_words("2019-07") == "July 2019"``; a day: ``month_words("2019-10-17") == "17 October 2019"``."""
    words = style.month_index([month[:7]]).strftime("%B %Y")[0]
    return f"{int(month[8:])} {words}" if len(month) == 10 else words


def _window(event: Mapping[str, Any]) -> str:
    start = month_words(event["month"])
    if event.get("end"):
        return f"From {start} to {month_words(event['end'])}"
    if event.get("months"):
        n = event["months"]
        return f"For {style.count(n, 'month')} from {start}"
    if event.get("type") in ONE_OFF:
        return f"In {start}"
    return f"From {start} on"


#: event types that act in one month when they have neither end nor months
ONE_OFF = ("conflict_displacement", "housing_destruction", "new_displacement", "registration", "deregistration")


def _list(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _what(event: Mapping[str, Any], display: Mapping[str, str]) -> str:
    """The body of an event's sentence (after its window)."""

    def n(value: str) -> str:
        return display.get(value) or style.pretty(value)

    def controllers() -> str:
        names = event.get("controllers") or []
        return f"areas held by {_list([n(c) for c in names])}" if names else "all of Syria"

    t = event.get("type", "")
    host = n(event.get("host", ""))
    if t == "deportation":
        amount = (
            f"{event['quota']:,} people a month"
            if event.get("quota") is not None
            else f"{event.get('rate', 0):.2%} of the households it targets each month"
        )
        where = event.get("destination", "origin")
        to = "to their home governorate" if where == "origin" else f"to {n(where)}"
        return f"{host} deports {amount}, {TARGETING.get(event.get('targeting', 'unregistered'), 'anyone')}, {to}"
    if t == "host_pressure":
        level = event["level"]
        return (
            f"pressure on refugees in {host} (hostile politics, raids, loss of permits) is {level:.2g} on a 0-1 scale"
        )
    if t == "aid_change":
        if event.get("level") is not None:
            return f"aid to refugees in {host} is set to {event['level']:.2g} on a 0-1 scale"
        change = event["change"]
        return f"aid to refugees in {host} {'rises' if change > 0 else 'falls'} by {abs(change):.2g} on a 0-1 scale"
    if t == "sanctions_relief":
        aid = event.get("reconstruction_aid", 0.0) or 0.0
        ramp = event.get("ramp_months", 12)
        parts = ["sanctions on Syria are lifted"] if event.get("lift_sanctions", True) else ["sanctions stay"]
        if aid:
            over = f" over {ramp} months" if ramp else " at once"
            parts.append(f"reconstruction aid rises to {aid:.2g} on a 0-1 scale{over}")
        return " and ".join(parts)
    if t in ("amnesty", "security_guarantee"):
        what = "an amnesty" if t == "amnesty" else "a guarantee against arrest"
        profiles = _list([PROFILES.get(p, style.pretty(p)) for p in event.get("profiles") or ["all"]])
        factor = event.get("detention_factor", 0.5)
        believed = event.get("credibility", 0.0) or 0.0
        belief = (
            f"; displaced families believe {believed:.0%} of it at once and learn the rest from returnees"
            if believed
            else "; displaced families learn of it only from what happens to returnees"
        )
        return f"{what} in {controllers()} multiplies the risk of arrest for {profiles} by {factor:.2g}{belief}"
    if t == "conscription":
        verb = "is enforced" if event.get("enforced") else "ends"
        return f"military service for men of military age {verb} in {controllers()}"
    if t == "property_confiscation":
        regions = event.get("regions") or []
        where = _list([n(r) for r in regions]) if regions else "every governorate"
        window = event.get("claim_window_months", 12)
        return (
            f"an absentee-property law lets the authorities in {where} confiscate the homes of people away: after a "
            f"{window}-month window to claim them, {event['hazard']:.2%} of absentees' homes are taken each month "
            "(fewer where owners prove ownership in time)"
        )
    if t == "property_restitution":
        repeal = " and confiscation of absentees' homes stops" if event.get("repeal_confiscation", True) else ""
        return (
            f"{event['monthly']:.1%} of confiscated or occupied homes are given back to their owners each month{repeal}"
        )
    if t == "control_change":
        return f"{n(event['region'])} passes to {n(event['controller'])}"
    if t == "border_closure":
        if event.get("open"):
            return f"{host} reopens its border crossings into Syria"
        return f"{host} closes its border crossings into Syria: refugees there cannot go home of their own accord"
    if t == "host_conflict_shock":
        return f"war reaches refugees in {host} (violence {event['violence']:.2g} on a 0-1 scale)"
    if t == "return_package":
        return f"refugees going home from {host} get help worth {event['subsidy']:.2g} months of household expenses"
    if t == "conflict_displacement":
        amount = (
            f"{event['share']:.0%} of its residents"
            if event.get("share") is not None
            else f"{event['persons']:,} people"
        )
        weights = event.get("destinations") or {}
        total = sum(weights.values()) or 1.0
        to = _list([f"{n(k)} ({v / total:.0%})" for k, v in weights.items()])
        return f"fighting in {n(event['region'])} drives out {amount}, to {to}"
    if t == "controller_policy":
        changes = []
        for key, words in (("detention_on_return", "arrests on return"), ("detention_monthly", "arrests later")):
            if event.get(key) is not None:
                changes.append(f"{words} at {event[key]:.2%}")
        if event.get("violence") is not None:
            changes.append(f"violence at {event['violence']:.2g} on a 0-1 scale")
        if event.get("conscription") is not None:
            changes.append("military service enforced" if event["conscription"] else "no military service")
        ramp = event.get("ramp_months") or 0
        over = f", reached over {ramp} months" if ramp else ""
        return f"the authorities of {controllers()} change their practice: {_list(changes)}{over}"
    if t == "authority_change":
        taken = [n(r) for r in event.get("regions") or []]
        taken += [f"every area held by {n(c)}" for c in event.get("from_controllers") or []]
        return f"{n(event['controller'])} takes over {_list(taken)}"
    if t == "idp_conditions":
        words = {
            "pressure": "pressure on them",
            "return_cost": "the cost of going home (months of expenses)",
            "integration": "their integration where they are",
            "livelihood_factor": "their livelihood factor",
        }
        parts = [f"{words[k]} is {event[k]:.2g}" for k in words if event.get(k) is not None]
        return f"for people displaced inside Syria, {_list(parts)}"
    if t == "national_economy":
        parts = []
        if event.get("national") is not None:
            parts.append(f"Syria's economy stands at {event['national']:.0%} of its 2010 output")
        if event.get("sanctions_penalty") is not None:
            parts.append(f"sanctions take {event['sanctions_penalty']:.0%} of livelihoods")
        ramp = event.get("ramp_months") or 0
        return _list(parts) + (f", reached over {ramp} months" if ramp else "")
    if t == "regime_change":
        ramp = event.get("ramp_months") or 0
        level = event["regime"]
        what = (
            "the government that refugees fled loses power"
            if level == 0
            else f"the government that refugees fled rules to {level:.0%} of its former hold"
        )
        return what + (f", over {ramp} months" if ramp else "")
    if t == "host_economy":
        if event.get("livelihood") is not None:
            level = f"refugees' earnings in {host} move to {event['livelihood']:.2g} on a 0-1 scale"
        else:
            change = event["change"]
            level = f"refugees' earnings in {host} {'rise' if change > 0 else 'fall'} by {abs(change):.2g}"
        ramp = event.get("ramp_months") or 0
        return level + (f" over {ramp} months" if ramp else "")
    if t == "housing_destruction":
        where = _list([n(r) for r in event.get("regions") or []])
        return (
            f"a disaster destroys {event.get('destroyed_share', 0):.0%} of standing homes in {where} and damages "
            f"{event.get('damaged_share', 0):.0%} of intact ones"
        )
    if t == "new_displacement":
        weights = event.get("destinations") or {}
        total = sum(weights.values()) or 1.0
        to = _list([f"{n(k)} ({v / total:.0%})" for k, v in weights.items()])
        return f"{event['persons']:,} people who had stayed in {n(event['region'])} flee, to {to}"
    if t == "registration":
        return f"{event['persons']:,} new arrivals from Syria are registered as refugees in {host}"
    if t == "deregistration":
        return f"{event['persons']:,} refugees leave {host}'s register without a verified return"
    details = ", ".join(f"{k} = {v}" for k, v in event.items() if k not in ("type", "month", "end", "months", "note"))
    return f"{style.pretty(t).lower()} ({details})"


def describe_event(event: Mapping[str, Any], display: Mapping[str, str] | None = None) -> str:
    """One sentence saying what an ``[[events]]`` table does, from its fields."""
    return f"{_window(event)}, {_what(event, display or {})}."


# ------------------------------------------------------------------------------ figures


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(data: str, alt: str, caption: str) -> str:
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


# ------------------------------------------------------------------------------ sections


def _h(value: float) -> str:
    return style.human(float(value))


def _assumptions(tree: Mapping[str, Any], events: Sequence[Mapping[str, Any]], heading: str) -> str:
    display = style.names(tree)
    sim = tree.get("simulation", {})
    hosts = tree.get("hosts", {})
    stock = _list([f"{display[h]} {_h(v.get('refugees', 0))}" for h, v in hosts.items()])
    idps = tree.get("idps", {}).get("persons", 0)
    economy = tree.get("economy", {})
    held: dict[str, list[str]] = {}
    for region, entry in tree.get("regions", {}).items():
        held.setdefault(entry.get("controller", ""), []).append(display[region])
    control = "; ".join(f"{display.get(c, style.pretty(c))}: {_list(r)}" for c, r in held.items())
    weights = tree.get("decision", {})
    from returnsim.dashboard.session import WEIGHTS

    weight_text = ", ".join(f"{text.lower()} {weights[k]:g}" for k, text in WEIGHTS.items() if k in weights)
    items = "".join(f"<li>{html.escape(describe_event(e, display))}</li>" for e in events) or "<li>No events.</li>"
    description = tree.get("meta", {}).get("description", "")
    return f"""
<h2>{html.escape(heading)}</h2>
<p>{html.escape(description)}</p>
<p>The run starts in {html.escape(month_words(sim.get("start", "2017-01")))} with refugees registered in
{html.escape(stock)}, and {_h(idps)} people displaced inside Syria. Who controls each governorate at the start:
{html.escape(control)}. Sanctions on Syria are {"in force" if economy.get("sanctions", False) else "not in force"}.</p>
<p>Each displaced family weighs, month by month, reasons to go home or to stay
(weights: {html.escape(weight_text)}).</p>
<h3>Events</h3>
<ul class="events">{items}</ul>"""


def _survey_sentence(last_month: str, first_month: str) -> str:
    from returnsim.observed import load

    waves = load("intention_surveys")
    inside = waves[(waves["fieldwork"].str[:7] >= first_month) & (waves["fieldwork"].str[:7] <= last_month)]
    if inside.empty:
        return ""
    wave = inside.iloc[-1]
    return (
        f" UNHCR's survey of refugees in Egypt, Iraq, Jordan and Lebanon found "
        f"{wave['intend_return_next_12_months_pct']:g}% intending to return within a year "
        f"(fieldwork {wave['fieldwork']})."
    )


def _run_story(ts: pd.DataFrame, tree: Mapping[str, Any]) -> str:
    first, last = ts["month"].iloc[0], ts["month"].iloc[-1]
    end = ts.iloc[-1]
    display = style.names(tree)
    hosts = tree.get("hosts", {})
    at_start = sum(h.get("refugees", 0) for h in hosts.values())
    story = [
        f"From {month_words(first)} to {month_words(last)} ({len(ts)} months), "
        f"{_h(ts['returns_voluntary_refugees'].sum())} refugees went home of their own accord and "
        f"{_h(ts['returns_forced'].sum())} were deported; {_h(ts['returns_voluntary_idps'].sum())} people displaced "
        "inside Syria went back to their home governorate.",
        f"Security services arrested {_h(ts['detained'].sum())} returnees or deportees, and "
        f"{_h(ts['redisplaced'].sum())} returnees had to leave home again.",
        f"At the end, {_h(end['refugees'])} refugees were still abroad ({_h(at_start)} at the start) and "
        f"{_h(end['returnees'])} people were living back home; "
        f"{end['returnees_in_poverty_share']:.0%} of them were below the poverty line.",
        f"In the last month {end['intend_return_12m_pct']:.1f}% of refugee households intended to return within a "
        f"year ({end['intend_return_12m_pct_surveyed']:.1f}% in the host countries UNHCR surveys)."
        + _survey_sentence(last, first),
    ]
    rows = "".join(
        f"<tr><td>{html.escape(display[h])}</td><td>{_h(entry.get('refugees', 0))}</td>"
        f"<td>{_h(end[f'refugees_{h}']) if f'refugees_{h}' in ts else '-'}</td></tr>"
        for h, entry in hosts.items()
    )
    table = (
        "<table><thead><tr><th>host country</th><th>refugees at the start</th><th>at the end</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
    return "<h2>What happened</h2>" + "".join(f"<p>{html.escape(s)}</p>" for s in story) + table


def _compare_story(r: Results) -> str:
    from returnsim.compare import OUTCOMES

    labels = r.manifest["labels"]
    names = {col: text for col, _, text in OUTCOMES}
    summary = r.summary
    runs = r.runs
    months = sorted(runs["month"].unique())
    seeds = r.manifest["seeds"]
    head = (
        f"Each scenario ran {len(seeds)} times, with the same seeds ({', '.join(map(str, seeds))}), from "
        f"{month_words(months[0])} to {month_words(months[-1])}. Differences are the mean, across seeds, of each "
        f"run's difference from the same seed's run of '{labels[0]}', ± its standard deviation: the spread is "
        "the model's randomness."
    )
    paragraphs = [head]
    for label in labels[1:]:
        rows = summary[summary["scenario"] == label].set_index("outcome")
        clear, unclear = [], []
        for col in rows.index:
            if col not in names:
                continue
            mean, sd = rows.at[col, "diff_mean"], rows.at[col, "diff_sd"]
            if abs(mean) <= max(sd, 1e-12):
                unclear.append(names[col])
                continue
            if style.kind(col) in ("share", "pct") or "share" in col or "pct" in col:
                scale = 100 if "share" in col else 1
                clear.append(f"{names[col]} {mean * scale:+.2g} points (± {sd * scale:.2g})")
            else:
                clear.append(f"{names[col]} {'+' if mean > 0 else '-'}{_h(abs(mean))} (± {_h(sd)})")
        text = f"'{label}' against '{labels[0]}': " + ("; ".join(clear) if clear else "no change beyond the spread")
        if unclear:
            text += f". Within the spread across seeds: {', '.join(unclear)}"
        paragraphs.append(text + ".")
    return "<h2>What happened</h2>" + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs) + _summary_table(r)


def _summary_table(r: Results) -> str:
    from returnsim.compare import OUTCOMES

    labels = r.manifest["labels"]
    names = {col: text for col, _, text in OUTCOMES}
    s = r.summary
    head = "".join(f"<th>{html.escape(label)}</th>" for label in labels)
    head += "".join(f"<th>Δ {html.escape(label)}</th>" for label in labels[1:])
    body = []
    for col in dict.fromkeys(s["outcome"]):
        by = s[s["outcome"] == col].set_index("scenario")

        def cell(value: float, col: str = col, signed: bool = False) -> str:
            text = style.tick_text(col, value) if style.kind(col) != "count" else _h(value)
            return "+" + text if signed and value > 0 else text

        cells = [f"<td>{cell(by.at[lab, 'mean'])} ± {cell(by.at[lab, 'sd'])}</td>" for lab in labels if lab in by.index]
        cells += [
            f"<td>{cell(by.at[lab, 'diff_mean'], signed=True)} ± {cell(by.at[lab, 'diff_sd'])}</td>"
            for lab in labels[1:]
            if lab in by.index
        ]
        body.append(f"<tr><td>{html.escape(names.get(col, style.label(col)))}</td>{''.join(cells)}</tr>")
    return (
        "<table class='summary'><thead><tr><th>outcome (persons unless stated)</th>"
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


CSS = """
body { font-family: Georgia, 'DejaVu Serif', serif; max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222;
       line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.05em; } .meta { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
ul.events li { margin-bottom: 0.3em; }
p.limit { border-left: 4px solid #b8860b; padding: 0.4em 0.8em; background: #fdf8e8; }
footer { margin-top: 3em; font-size: 0.8em; color: #666; }
@page { size: A4; margin: 15mm; }
@media print {
  body { max-width: none; margin: 0; font-size: 10.5pt; }
  h2 { break-after: avoid; } figure, table, li { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _limits(trees: Sequence[Mapping[str, Any]]) -> str:
    """The known limits that apply to these scenarios, as a paragraph (or nothing)."""
    from returnsim.validate import SECURITY_LIMIT, touches_security

    if any(touches_security(t.get("events", [])) for t in trees):
        return f"<p class='limit'><strong>{html.escape(SECURITY_LIMIT)}</strong></p>"
    return ""


def build_report(results: Results) -> str:
    """The report page as one HTML string (no external resources)."""
    m = results.manifest
    if results.kind == "run":
        tree = m["scenario"]
        name = tree.get("meta", {}).get("name", results.folder.name)
        title = f"returnsim report: {name}"
        meta = f"seed {m['seed']}, {m['months']} months, 1 agent = {m['households_per_agent']} households"
        from returnsim.plots import overview_figure

        fig = overview_figure(results.timeseries, f"{name} (seed {m['seed']})", tree)
        figures = _figure(
            _png(fig),
            f"Main series of {name}",
            "Persons unless stated. Dotted lines: events starting (captions on the top panels). Black: observed "
            "returns from abroad (UNHCR, monthly mean of each year) and UNHCR's intention surveys.",
        )
        story = _run_story(results.timeseries, tree) + _limits([tree])
        assumptions = _assumptions(tree, tree.get("events", []), "What the scenario assumed")
    else:
        labels, trees = m["labels"], m["scenarios"]
        title = f"returnsim comparison: {' vs '.join(labels)}"
        meta = f"{len(m['seeds'])} seeds per scenario, {m['months']} months"
        if "households_per_agent" in m:
            meta += f", 1 agent = {m['households_per_agent']} households"
        from returnsim.compare import overlay_figure

        fig = overlay_figure(results.runs, labels, len(m["seeds"]), [trees[label] for label in labels])
        figures = _figure(
            _png(fig),
            "Key series of each scenario",
            "Mean across seeds (line) and min-max across seeds (band). Dotted lines: policy events that not "
            "every scenario has.",
        )
        story = _compare_story(results) + _limits([trees[label] for label in labels])
        first = trees[labels[0]]
        shared = [e for e in first.get("events", []) if all(e in trees[lab].get("events", []) for lab in labels)]
        assumptions = _assumptions(first, shared, f"What the scenarios share ('{labels[0]}' as the reference)")
        for label in labels:
            own = [e for e in trees[label].get("events", []) if e not in shared]
            display = style.names(trees[label])
            items = "".join(f"<li>{html.escape(describe_event(e, display))}</li>" for e in own)
            description = trees[label].get("meta", {}).get("description", "")
            assumptions += (
                f"<h3>'{html.escape(label)}'</h3><p>{html.escape(description)}</p>"
                f"<ul class='events'>{items or '<li>No events beyond those shared.</li>'}</ul>"
            )
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="meta">{html.escape(meta)}; returnsim {html.escape(str(m.get("version", "?")))}; results folder
{html.escape(results.folder.name)}; report made {made}.</p>
{story}
<h2>Figures</h2>
{figures}
{assumptions}
<footer>An agent-based model of Syrian refugee and IDP households deciding each month whether to go home. Its
figures are a model's, not forecasts: see docs/ODD.md for every mechanism and its sources.</footer>
</body>
</html>
"""


def write_report(folder: Path, out: Path | None = None) -> Path:
    """Read ``folder``, build its report and write it to ``out`` (default ``folder/report.html``) atomically:
    a temporary file in the same folder, then one rename. Raise :class:`ReportError` on bad input."""
    results = read_results(folder)
    out = Path(out) if out is not None else Path(folder) / "report.html"
    if out.is_dir():
        raise ReportError(f"{out}: is a folder; give a file name such as {out / 'report.html'}")
    if not out.parent.is_dir():
        raise ReportError(f"{out}: the folder {out.parent} does not exist")
    page = build_report(results)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    except OSError as exc:
        raise ReportError(f"{out}: cannot be written: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file (mkstemp makes it private)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
