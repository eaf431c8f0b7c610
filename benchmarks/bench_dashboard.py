"""Dashboard responsiveness: one month's step plus redraw, at 1 agent per 100 households (target <= 150 ms).

Two measurements over the baseline's 84 months:

- in process: ``Dashboard._on_step`` (the model's month, the map's region counts, the charts' data streamed
  into a Bokeh document) and the serialisation of the document changes the server sends to the browser;
- in the browser (when /usr/bin/chromium and playwright are installed): a served page in headless
  Chromium, from the click on "Step" until the chart's data in the page holds the new month.

    python benchmarks/bench_dashboard.py                 # both, about 30 s
    python benchmarks/bench_dashboard.py --no-browser    # in process only
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_MS = 150.0
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]


def summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return (
        f"{name}: median {statistics.median(ms):.1f} ms, 95th percentile {q[-1]:.1f} ms, max {max(ms):.1f} ms "
        f"over {len(ms)} months (target {TARGET_MS:.0f} ms)"
    )


def in_process(months: int) -> list[float]:
    from bokeh.document import Document
    from bokeh.protocol import Protocol
    from panel.io.state import set_curdoc

    from returnsim import load_scenario
    from returnsim.dashboard.app import Dashboard

    scenario = load_scenario("baseline")
    dash = Dashboard(scenario, "baseline", households_per_agent=100)
    doc = Document()
    dash.view().server_doc(doc)
    protocol = Protocol()
    events: list = []
    doc.on_change(lambda event: events.append(event))
    times, sent = [], 0
    with set_curdoc(doc):
        for _ in range(months):
            events.clear()
            t0 = time.perf_counter()
            dash._on_step()
            if events:
                message = protocol.create("PATCH-DOC", events)  # what the server sends for this month
                sent += len(message.content_json)
            times.append(1000 * (time.perf_counter() - t0))
    print(f"document changes sent to the browser: {sent / months / 1000:.1f} kB a month on average")
    return times


MEASURE = """async (n) => {
    const source = Bokeh.documents[0].get_model_by_name('series');
    const find = (root) => {
        for (const el of root.querySelectorAll('*')) {
            if (el.tagName === 'BUTTON' && el.textContent.trim() === 'Step') return el;
            const inner = el.shadowRoot && find(el.shadowRoot);
            if (inner) return inner;
        }
        return null;
    };
    const button = find(document);
    const t0 = performance.now();
    button.click();
    while (source.data.x.length < n) await new Promise(r => requestAnimationFrame(r));
    await new Promise(r => requestAnimationFrame(r));
    return performance.now() - t0;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def in_browser(months: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "returnsim", "dashboard", "baseline", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            deadline = time.time() + 30
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/")
                    break
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.3)
            page.wait_for_function(
                "() => window.Bokeh && Bokeh.documents.length && Bokeh.documents[0].get_model_by_name('series')",
                timeout=30000,
            )
            page.get_by_role("button", name="Step").wait_for()
            times = []
            for n in range(1, months + 1):
                # timed inside the page: from the click to the next frame painted after the data arrived
                ms = page.evaluate(MEASURE, n)
                times.append(ms)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", type=int, default=84)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; baseline, 1 agent = 100 households")
    print(summary("in process (step + chart and map update + patch serialisation)", in_process(args.months)))
    if args.no_browser:
        return
    if not CHROMIUM.exists():
        print("in the browser: skipped (no /usr/bin/chromium; apt-get install chromium)")
        return
    print(summary("in the browser (click Step -> new month drawn in the page)", in_browser(args.months)))


if __name__ == "__main__":
    main()
