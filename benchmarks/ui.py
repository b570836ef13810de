"""How quick and small ``lineage ui`` is, against the goals of issue 5.

    python -m benchmarks.ui [PATH] [--experiments 10000] [--no-browser]

PATH (default: a temporary folder) gets a registry of ``--experiments`` synthetic
experiments in set 1 (made with benchmarks.generate when PATH has none yet) and a set of 10
experiments with 1,000-step curves of 3 metrics each. Then, against a real ``lineage ui``
process on a free loopback port:

- start: from launching the process to the first answered request (goal < 1 s);
- memory: the server's peak RSS after all the requests below (goal < 150 MB);
- the 10,000-row set's first page: server time, median of warm requests and the first one
  (goal < 200 ms), and in a cold browser (a new Chromium context, empty cache) from
  navigation to the first row visible (goal < 0.5 s);
- compare of 10 experiments with 1,000-step curves (goal < 500 ms).
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOALS = {"start_s": 1.0, "rss_mb": 150.0, "table_ms": 200.0, "browser_s": 0.5,
         "compare_ms": 500.0}
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def make_registry(path: Path, n: int) -> Path:
    root = path / ".lineage"
    if not (root / "experiment_set_1").exists():
        from benchmarks.generate import generate

        print(f"making {n:,} experiments in {root} …", flush=True)
        rate = generate(root, n)
        print(f"  {rate:,.0f} experiments/s", flush=True)
    if not (root / "experiment_set_2").exists():
        os.environ["LINEAGE_CAPTURE_GIT"] = "0"
        os.environ["LINEAGE_FLUSH_INTERVAL"] = "60"
        from lineage import Experiment

        for i in range(10):
            exp = Experiment(new_set=(i == 0), set_name="curves",
                             experiment_name=f"curves {i}", root=root,
                             set=None if i == 0 else 2)
            exp.hyperparameters = {"lr": 10 ** -(1 + i % 4), "depth": 2 + i}
            for step in range(1000):
                exp.log_metrics({"loss": 1 / (1 + step * (i + 1) / 100),
                                 "accuracy": 1 - 1 / (2 + step / (10 + i)),
                                 "lr": 0.1 * 0.999 ** step}, step=step)
            exp.register()
    return root


def request(port: int, path: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, time.perf_counter() - started


def start(root: Path) -> tuple[subprocess.Popen[str], int, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "lineage", "ui", "--root", str(root),
                             "--port", "0"], stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    status, _, _ = request(port, "/sets")
    assert status == 200
    return proc, port, time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(port: int, path: str, repeat: int = 7) -> tuple[float, float]:
    """(first, median of the rest) in milliseconds."""
    times = []
    for _ in range(repeat):
        status, _, seconds = request(port, path)
        assert status == 200, (status, path)
        times.append(seconds * 1000)
    return times[0], statistics.median(times[1:])


def browser_time(port: int) -> tuple[float, float, float]:
    """Seconds: Chromium's launch, then medians over 5 cold contexts (a new context has an
    empty cache and its own renderer) from navigation to the table's first row visible, and
    to a bare static file visible (what Chromium alone costs for any page)."""
    from playwright.sync_api import sync_playwright

    def visible(browser: Any, path: str, selector: str) -> float:
        context = browser.new_context()
        page = context.new_page()
        started = time.perf_counter()
        page.goto(f"http://127.0.0.1:{port}{path}", wait_until="commit")
        page.wait_for_selector(selector, state="visible")
        elapsed = time.perf_counter() - started
        context.close()
        return elapsed

    with sync_playwright() as p:
        launched = time.perf_counter()
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        launch = time.perf_counter() - launched
        visible(browser, "/static/icon.svg", "svg")  # the first context of a browser is slower
        table = [visible(browser, "/sets/1", "table.experiments tbody tr") for _ in range(5)]
        bare = [visible(browser, "/static/icon.svg", "svg") for _ in range(5)]
        browser.close()
    return launch, statistics.median(table), statistics.median(bare)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", nargs="?")
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_registry(Path(args.path or tmp), args.experiments)
        proc, port, start_s = start(root)
        try:
            table_first, table_ms = timed(port, "/sets/1")
            sorted_first, sorted_ms = timed(port, "/sets/1?sort=-metrics.f1,params.max_depth")
            filtered_first, filtered_ms = timed(
                port, "/sets/1?where=metrics.f1+%3E+0.5+and+params.max_depth+%3E%3D+10")
            compare_path = "/sets/2/compare?" + "&".join(f"e={i}" for i in range(1, 11))
            compare_first, compare_ms = timed(port, compare_path, 5)
            launch, browser_s, bare_s = ((None, None, None) if args.no_browser
                                         else browser_time(port))
            rss = peak_rss_mb(proc.pid)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
    result = {"experiments": args.experiments, "start_s": start_s, "rss_mb": rss,
              "table_ms": table_ms, "table_first_ms": table_first,
              "sorted_ms": sorted_ms, "sorted_first_ms": sorted_first,
              "filtered_ms": filtered_ms, "filtered_first_ms": filtered_first,
              "compare_ms": compare_ms, "compare_first_ms": compare_first,
              "browser_launch_s": launch, "browser_s": browser_s, "browser_bare_s": bare_s}
    report(result)
    return result


def report(r: dict[str, Any]) -> None:
    def line(label: str, value: float | None, unit: str, goal_key: str | None) -> None:
        if value is None:
            print(f"{label:<58} skipped")
            return
        goal = GOALS.get(goal_key or "")
        verdict = "" if goal is None else ("  meets" if value < goal else "  MISSES") + \
            f" (goal < {goal:g} {unit})"
        print(f"{label:<58} {value:8.3g} {unit}{verdict}")

    n = f"{r['experiments']:,}"
    line("lineage ui: start to first answered request", r["start_s"], "s", "start_s")
    line("peak memory (RSS) of the server", r["rss_mb"], "MB", "rss_mb")
    line(f"set table, first page of {n} rows (warm median)", r["table_ms"], "ms", "table_ms")
    line("  the first request after start", r["table_first_ms"], "ms", "table_ms")
    line("  sorted by two keys (warm median)", r["sorted_ms"], "ms", "table_ms")
    line("  filtered (warm median)", r["filtered_ms"], "ms", "table_ms")
    line(f"cold browser: navigation to first row visible ({n} rows)", r["browser_s"], "s",
         "browser_s")
    line("  a bare static file, same cold context (Chromium alone)", r["browser_bare_s"], "s",
         None)
    line("  (Chromium launch, not counted)", r["browser_launch_s"], "s", None)
    line("compare 10 experiments, 1,000-step curves (warm median)", r["compare_ms"], "ms",
         "compare_ms")
    line("  the first compare request", r["compare_first_ms"], "ms", "compare_ms")


if __name__ == "__main__":
    main()
