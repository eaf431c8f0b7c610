"""``returnsim report`` and the one figure style (``returnsim.style``) shared by every chart.

The report must be one self-contained page (no request of any kind), tell what happened in words that match
the results, describe every event from its fields, and be written atomically; a bad results folder is one
line and exit status 2. Screenshots of a report go to RETURNSIM_ARTIFACTS (default: the test's temporary
folder); with RETURNSIM_UPDATE_SCREENSHOTS=1 they also replace docs/images/report.png.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from returnsim import style
from returnsim.cli import main
from returnsim.dashboard import report
from returnsim.scenario import EVENT_TYPES, load_scenario
from returnsim.validate import SECURITY_LIMIT

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--months", "30", "--households-per-agent", "2000", "--quiet", "--no-plot"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "run"
    assert main(["run", "lebanon_deportations", "--out", str(out), *SMALL]) == 0
    return out


@pytest.fixture(scope="module")
def compare_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "cmp"
    size = ["--months", "42", "--households-per-agent", "100", "--quiet", "--no-plot"]  # 14 months of the policy
    assert main(["compare", "baseline", "lebanon_deportations", "--seeds", "2", "--out", str(out), *size]) == 0
    return out


def copy_of(folder: Path, tmp_path: Path) -> Path:
    dest = tmp_path / folder.name
    shutil.copytree(folder, dest)
    return dest


def text_of(page: str) -> str:
    """The page's text, tags removed and entities decoded."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def external_references(page: str) -> list[str]:
    """Every src/href/url() that is not an embedded data: URL."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", page) + re.findall(r"url\(([^)]*)\)", page)
    return [r for r in refs if not r.strip("'\"").startswith("data:")]


# ------------------------------------------------------------------------------ the report


def test_run_report_is_self_contained_and_tells_what_happened(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out == f"report written to {run_dir / 'report.html'}\n"
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert external_references(page) == [] and "http://" not in page and "https://" not in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 1 and base64.b64decode(images[0])[:4] == b"\x89PNG"
    assert "@media print" in page and "@page" in page
    words = text_of(page)
    ts = pd.read_csv(run_dir / "timeseries.csv")
    assert f"{style.human(ts['returns_voluntary_refugees'].sum())} refugees went home of their own accord" in words
    assert f"{style.human(ts['returns_forced'].sum())} were deported" in words
    assert f"{ts['returnees_in_poverty_share'].iloc[-1]:.0%} of them were below the poverty line" in words
    assert "From January 2017 to June 2019 (30 months)" in words
    assert "UNHCR's survey of refugees in Egypt, Iraq, Jordan and Lebanon found 5.9%" in words  # wave 5, 2018-11
    tree = json.loads((run_dir / "manifest.json").read_text())["scenario"]
    display = style.names(tree)
    for event in tree["events"]:  # the history and the policy, each in words
        assert report.describe_event(event, display) in words
    assert "From May 2019 on, Lebanon deports 1,000 people a month" in words


def test_compare_report_tells_each_scenarios_difference_and_its_own_policy(compare_dir):
    out = compare_dir / "handout.html"
    assert main(["report", str(compare_dir), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert external_references(page) == []
    words = text_of(page)
    summary = pd.read_csv(compare_dir / "summary.csv")
    row = summary.query("scenario == 'lebanon_deportations' and outcome == 'returns_forced'").iloc[0]
    expected = f"forced returns (deportations) +{style.human(row['diff_mean'])} (± {style.human(row['diff_sd'])})"
    assert expected in words
    assert "Each scenario ran 2 times, with the same seeds (20170101, 20170102)" in words
    own = words.split("'lebanon_deportations'")[-1]
    assert "Lebanon deports 1,000 people a month" in own  # the policy is listed under its scenario…
    shared = words.split("What the scenarios share")[1].split("'baseline'")[1]
    assert "Raqqa passes to" in shared and "deports 1,000" not in shared  # …the history once, as shared


def test_a_report_on_security_or_political_levers_says_how_far_to_trust_them(tmp_path, run_dir, capsys):
    out = tmp_path / "guarantee"
    assert main(["run", "political_transition", "--out", str(out), *SMALL]) == 0
    assert capsys.readouterr().err.strip().endswith(f"note: {SECURITY_LIMIT}")  # run says it too
    assert main(["run", "lebanon_deportations", "--out", str(tmp_path / "d"), *SMALL]) == 0
    assert "note:" not in capsys.readouterr().err
    cmp = ["compare", "baseline", "amnesty_guarantees", "--seeds", "1", "--out", str(tmp_path / "c"), *SMALL]
    assert main(cmp) == 0
    assert capsys.readouterr().err.strip().endswith(f"note: {SECURITY_LIMIT}")  # and compare
    assert main(["report", str(out)]) == 0
    words = text_of((out / "report.html").read_text(encoding="utf-8"))
    assert SECURITY_LIMIT in words
    assert main(["report", str(run_dir), "--out", str(tmp_path / "deport.html")]) == 0
    assert "How far to trust" not in text_of((tmp_path / "deport.html").read_text(encoding="utf-8"))  # deportations


def test_the_manifest_kind_decides_when_present(run_dir, tmp_path, capsys):
    folder = copy_of(run_dir, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "kind": "compare"}))
    assert main(["report", str(folder)]) == 2
    assert capsys.readouterr().err == f"{folder / 'manifest.json'}: missing key 'labels'\n"
    (folder / "manifest.json").write_text(json.dumps({**manifest, "kind": "run"}))
    assert main(["report", str(folder)]) == 0


def _no_manifest(folder: Path) -> None:
    (folder / "manifest.json").unlink()


def _bad_json(folder: Path) -> None:
    (folder / "manifest.json").write_text('{"seed": 1,\n "months": }')


def _bad_kind(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "kind": "sweep"}))


def _no_seed(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["seed"]
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _no_column(folder: Path) -> None:
    ts = pd.read_csv(folder / "timeseries.csv").drop(columns=["returns_forced"])
    ts.to_csv(folder / "timeseries.csv", index=False)


def _no_series(folder: Path) -> None:
    (folder / "timeseries.csv").unlink()


def _empty_series(folder: Path) -> None:
    (folder / "timeseries.csv").write_text("")


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (_no_manifest, "{d}: not a returnsim results folder (no manifest.json)"),
        (_bad_json, "{d}/manifest.json: not valid JSON: Expecting value (line 2)"),
        (_bad_kind, "{d}/manifest.json: kind = 'sweep': must be 'run' or 'compare'"),
        (_no_seed, "{d}/manifest.json: missing key 'seed'"),
        (_no_column, "{d}/timeseries.csv: missing column 'returns_forced'"),
        (_no_series, "{d}/timeseries.csv: missing"),
        (_empty_series, "{d}/timeseries.csv: cannot be read as CSV: No columns to parse from file"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[1:],
)
def test_a_bad_results_folder_is_one_line_exit_2_and_nothing_written(run_dir, tmp_path, capsys, spoil, message):
    folder = copy_of(run_dir, tmp_path)
    (folder / "report.html").unlink(missing_ok=True)
    before = sorted(p.name for p in folder.iterdir())
    spoil(folder)
    after_spoil = sorted(p.name for p in folder.iterdir())
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == message.format(d=folder) + "\n"
    assert sorted(p.name for p in folder.iterdir()) == after_spoil and len(after_spoil) <= len(before)


def test_missing_or_wrong_folders_are_one_line_exit_2(tmp_path, run_dir, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'nowhere'}: no such folder\n"
    (tmp_path / "file.txt").write_text("x")
    assert main(["report", str(tmp_path / "file.txt")]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert main(["report", str(run_dir), "--out", str(tmp_path / "missing" / "r.html")]) == 2
    assert (
        capsys.readouterr().err
        == f"{tmp_path / 'missing' / 'r.html'}: the folder {tmp_path / 'missing'} does not exist\n"
    )


def test_the_report_is_written_atomically(run_dir, tmp_path, monkeypatch):
    folder = copy_of(run_dir, tmp_path)
    out = folder / "report.html"
    out.write_text("the earlier report")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", fail)
    with pytest.raises(OSError):
        report.write_report(folder)
    assert out.read_text() == "the earlier report"
    assert not [p for p in folder.iterdir() if p.name.startswith(".report.html")]  # no temporary file left
    monkeypatch.undo()
    report.write_report(folder)
    assert out.read_text().startswith("<!DOCTYPE html>") and oct(out.stat().st_mode & 0o044) == "0o44"


# ------------------------------------------------------------------------------ events in words


README_EVENTS = [
    event
    for block in re.findall(r"```toml\n(.*?)```", (ROOT / "scenarios" / "README.md").read_text(), re.S)
    for event in tomllib.loads(block).get("events", [])
]


def test_every_event_type_of_the_readme_examples_has_its_own_sentence():
    assert {e["type"] for e in README_EVENTS} == set(EVENT_TYPES)
    names = style.names(load_scenario("baseline").model_dump(mode="json"))
    for event in README_EVENTS:
        sentence = report.describe_event(event, names)
        assert report.month_words(event["month"]) in sentence, sentence
        assert " = " not in sentence and "None" not in sentence and "_" not in sentence, sentence  # not the fallback


@pytest.mark.parametrize(
    ("event", "sentence"),
    [
        (
            {"type": "deportation", "month": "2019-05", "host": "lebanon", "rate": 0.01, "targeting": "single_men"},
            "From May 2019 on, Lebanon deports 1.00% of the households it targets each month, single men of "
            "military age, to their home governorate.",
        ),
        (
            {"type": "aid_change", "month": "2020-01", "end": "2020-12", "host": "jordan", "change": -0.2},
            "From January 2020 to December 2020, aid to refugees in Jordan falls by 0.2 on a 0-1 scale.",
        ),
        (
            {"type": "sanctions_relief", "month": "2020-01", "reconstruction_aid": 0.5, "ramp_months": 24},
            "From January 2020 on, sanctions on Syria are lifted and reconstruction aid rises to 0.5 on a 0-1 scale "
            "over 24 months.",
        ),
        (
            {
                "type": "amnesty",
                "month": "2020-01",
                "months": 6,
                "controllers": ["government"],
                "profiles": ["military_age_men"],
                "detention_factor": 0.3,
                "credibility": 0.3,
            },
            "For 6 months from January 2020, an amnesty in areas held by Government of Syria multiplies the risk of "
            "arrest for men of military age by 0.3; displaced families believe 30% of it at once and learn the rest "
            "from returnees.",
        ),
        (
            {
                "type": "conflict_displacement",
                "month": "2019-12",
                "region": "idlib",
                "persons": 30000,
                "destinations": {"aleppo": 1, "turkey": 3},
            },
            "In December 2019, fighting in Idlib drives out 30,000 people, to Aleppo (25%) and Turkey (75%).",
        ),
        (
            {"type": "some_new_lever", "month": "2021-03", "strength": 2},
            "From March 2021 on, some new lever (strength = 2).",
        ),
    ],
)
def test_event_sentences(event, sentence):
    names = style.names(load_scenario("baseline").model_dump(mode="json"))
    assert report.describe_event(event, names) == sentence


# ------------------------------------------------------------------------------ the figure style


def test_numbers_read_as_people_read_them():
    cases = {0: "0", 950: "950", 35_000: "35k", 35_499: "35.5k", 1_200_000: "1.2M", 2_500_000: "2.5M", -4200: "-4.2k"}
    assert {v: style.human(v) for v in cases} == cases
    assert style.tick_text("returnees_in_poverty_share", 0.84) == "84%"
    assert style.tick_text("intend_return_12m_pct", 2.5) == "2.5%"
    assert style.tick_text("origin_livelihood_mean", 0.456) == "0.46"


def test_every_time_series_column_has_a_plain_label():
    from returnsim import ReturnModel
    from returnsim.reporters import columns

    s = load_scenario("baseline")
    display = style.names(s.model_dump(mode="json"))
    for col in columns(ReturnModel(s, households_per_agent=20000, agents=False).geography)[1:]:
        assert col in style.LABELS or col.startswith(style.BY_HOST), f"{col} has no plain-language label"
        text = style.label(col, display)
        assert "_" not in text and text[0].isupper(), text
    assert style.label("refugees_europe", display) == "Refugees in Europe"


def test_event_marks_group_a_months_events_and_skip_those_outside_the_run():
    events = [
        {"type": "control_change", "month": "2018-07", "region": "daraa", "controller": "government"},
        {"type": "control_change", "month": "2018-07", "region": "quneitra", "controller": "government"},
        {"type": "sanctions_relief", "month": "2030-01"},
        {"type": "border_closure", "month": "2016-05", "host": "jordan"},
    ]
    marks = style.event_marks(events, "2017-01", "2023-12", {"daraa": "Daraa", "quneitra": "Quneitra"})
    assert marks == [("2018-07", "Daraa to government; Quneitra to government")]


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_overview_and_overlay_use_words_readable_numbers_and_mark_policy_starts(run_dir, compare_dir):
    import matplotlib.pyplot as plt

    from returnsim.compare import overlay_figure
    from returnsim.plots import overview_figure

    manifest = json.loads((run_dir / "manifest.json").read_text())
    fig = overview_figure(pd.read_csv(run_dir / "timeseries.csv"), "t", manifest["scenario"])
    legends = _legend_texts(fig)
    assert "Voluntary returns from abroad" in legends and "Refugees in Lebanon" in legends
    assert not [t for t in legends if "_" in t]  # no raw column names
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any(t.endswith("M") for t in ticks), ticks
    captions = [t.get_text() for t in fig.axes[0].texts]
    assert "Lebanon deports 1k/month; Lebanon pressure 0.8" in captions and "Raqqa to SDF" in captions
    plt.close(fig)

    cm = json.loads((compare_dir / "manifest.json").read_text())
    runs = pd.read_csv(compare_dir / "runs.csv")
    fig = overlay_figure(runs, cm["labels"], 2, [cm["scenarios"][label] for label in cm["labels"]])
    captions = [t.get_text() for t in fig.axes[0].texts]
    assert captions == ["Lebanon deports 1k/month; Lebanon pressure 0.8"]  # the policy only, not the shared history
    plt.close(fig)


# ------------------------------------------------------------------------------ in Chromium


def test_report_opens_offline_in_chromium_and_prints(compare_dir, tmp_path, chromium):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    assert main(["report", str(compare_dir), "--out", str(out)]) == 0
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            **chromium,
            viewport={"width": 1100, "height": 900},
        )
        urls: list[str] = []
        context.on("request", lambda request: urls.append(request.url))
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        width = page.evaluate("() => document.querySelector('figure img').naturalWidth")
        folder = Path(os.environ.get("RETURNSIM_ARTIFACTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        shot = folder / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        pdf = page.pdf(format="A4")  # print to PDF: the print stylesheet lays it out
        context.close()
    assert width > 500  # the embedded figure decoded and drew
    assert urls == [out.as_uri()]  # the page itself, nothing else
    assert pdf[:4] == b"%PDF" and shot.stat().st_size > 50_000
    if os.environ.get("RETURNSIM_UPDATE_SCREENSHOTS") == "1":
        (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "images" / "report.png")
