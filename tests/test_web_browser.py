"""The web UI in a real headless Chromium (Debian's, driven by playwright) against a real
``lineage ui`` process: what a person does, start to end. Screenshots of each view are
saved in docs/screenshots/ for the README."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from test_web_demo import build
from test_web_server import ui_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"



@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browsed")
    build(base / ".lineage", base / "work")
    return base / ".lineage"


@pytest.fixture(scope="module")
def server(demo: Path) -> Iterator[str]:
    with ui_server(demo) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright import sync_api

    if not os.path.exists(CHROMIUM):  # a missing browser fails: it must not hide the UI tests
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh page that fails the test on a console error, a dialog (an injected
    ``alert``), or any request to anywhere but the server."""
    context = browser.new_context(viewport={"width": 1280, "height": 860},
                                  accept_downloads=True)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    tab.on("request", lambda r: None if r.url.startswith((server, "data:")) else
           problems.append(f"request to {r.url}"))
    tab.problems = problems
    yield tab
    context.close()
    assert problems == []


def until(condition: Any, seconds: float = 10) -> None:
    """Wait for ``condition()`` in Python (the page's CSP forbids evaluating strings)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


@pytest.mark.parametrize("name, path, heading", [
    ("sets", "/sets", "Experiment sets"),
    ("table", "/sets/1?sort=-metrics.f1", "Random Forest <b>"),
    ("compare", "/sets/1/compare?e=1&e=2&e=3&e=4", "Compare 4 experiments"),
    ("experiment", "/sets/1/3", "rf depth 16"),
    ("notebook", "/sets/1/3/notebook", "Exploration notebook"),
    ("lineage", "/lineage?experiment=1/2", "Data lineage"),
])
def test_each_view_loads_cleanly_and_is_saved_as_a_screenshot(page, server, name, path,
                                                             heading) -> None:
    page.goto(server + path)
    assert heading in page.inner_text("h1")
    shot(page, name)


def test_sorting_and_filtering_the_table(page, server) -> None:
    page.goto(server + "/sets/1")
    page.click('a.sort[data-key="metrics.f1"]')
    page.wait_for_url("**sort=-metrics.f1")
    assert page.inner_text("table.experiments tbody tr:first-child td.name") == "rf depth 16"
    page.click('a.sort[data-key="params.max_depth"]', modifiers=["Shift"])
    page.wait_for_url("**sort=-metrics.f1%2Cparams.max_depth")
    assert page.locator("th.sorted").count() == 2
    page.fill("#where", "metrics.f1 >")
    page.press("#where", "Enter")
    page.wait_for_selector(".query-error")
    assert "^" in page.inner_text(".query-error pre")
    page.fill("#where", "metrics.f1 >= 0.89")
    page.press("#where", "Enter")
    page.wait_for_url("**where=metrics.f1*")
    assert page.locator("table.experiments tbody tr").count() == 2
    assert page.input_value("#where") == "metrics.f1 >= 0.89"


def test_selecting_experiments_and_comparing_them(page, server) -> None:
    page.goto(server + "/sets/1")
    button = page.locator("#compare-button")
    assert button.is_disabled()
    for number in (1, 2, 4):
        page.check(f'input[name="e"][value="{number}"]')
    assert button.is_enabled()
    button.click()
    page.wait_for_url("**/sets/1/compare?e=*")  # ticked newest first, shown oldest first
    assert page.locator("table.compare thead").inner_text().split()[:3] == ["1/1", "baseline", "1/2"]
    assert page.locator("svg.chart g.series").count() == 3
    assert page.locator(".delta.better").count() >= 2
    page.select_option('select[name="y"]', "rmse")
    page.wait_for_url("**y=rmse*")
    assert "rmse against max_depth" in page.inner_html("svg.scatter")


def test_opening_release_notes_and_the_notebook(page, server) -> None:
    page.goto(server + "/sets/1/3")
    page.click("nav.jump >> text=release notes")
    notes = page.locator("#release-notes article")
    assert notes.locator("h1").inner_text() == "Release 1.16"
    assert notes.locator("script").count() == 0 and "<script>" in notes.inner_text()
    page.click("text=view notebook")
    page.wait_for_url("**/sets/1/3/notebook")
    image = page.locator(".cell .output img")
    assert image.count() == 1
    assert image.evaluate("img => img.complete && img.naturalWidth") == 1
    assert page.locator(".notebook script").count() == 0
    assert "<b>bold</b>" in page.inner_text(".notebook")


def test_downloading_an_artifact_gives_the_recorded_bytes(page, server, demo) -> None:
    from blake3 import blake3

    record = json.loads((demo / "experiment_set_1" / "experiment_3" / "experiment.json")
                        .read_text())
    entry = next(a for a in record["artifacts"] if a["path"] == "artifacts/config.yaml")
    page.goto(server + "/sets/1/3")
    row = page.locator("#artifacts tr", has_text="artifacts/config.yaml")
    with page.expect_download() as info:
        row.locator("a.download").click()
    download = info.value
    assert download.suggested_filename == "config.yaml"
    data = Path(download.path()).read_bytes()
    assert "blake3:" + blake3(data).hexdigest() == entry["hash"]


def test_a_running_experiments_chart_updates_without_reloading(page, server, demo) -> None:
    script = textwrap.dedent(f"""
        import time
        from lineage import Experiment
        exp = Experiment(new_set=True, set_name="Live", experiment_name="training now",
                         root={str(demo)!r})
        for step in range(80):
            exp.log_metric("loss", 1.0 / (step + 1), step=step)
            time.sleep(0.05)
        exp.register()
    """)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")},
           "LINEAGE_FLUSH_INTERVAL": "0.2", "LINEAGE_CAPTURE_GIT": "0"}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        record = demo / "experiment_set_3" / "experiment_1" / "experiment.json"
        deadline = time.monotonic() + 15
        while not record.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        page.goto(server + "/sets/3/1")
        assert page.inner_text("#status") == "running"
        page.evaluate("() => { window.notReloaded = true; }")
        page.wait_for_selector('[data-chart="loss"][data-count]')
        first = int(page.get_attribute('[data-chart="loss"]', "data-count"))
        until(lambda: int(page.get_attribute('[data-chart="loss"]', "data-count")) > first + 5)
        assert page.locator('[data-chart="loss"] svg polyline').count() == 1
        shot(page, "live")
        until(lambda: page.inner_text("#status") == "registered", 20)
        assert page.get_attribute('[data-chart="loss"]', "data-count") == "80"
        assert page.evaluate("() => window.notReloaded") is True
    finally:
        proc.wait(30)
