"""The MLflow comparison's harness keeps working: lineage's half at the smallest sizes.

MLflow stays out of the test environment: ``--only lineage`` never makes its venv.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from benchmarks.vs_mlflow import harness, report

REPO = Path(__file__).resolve().parents[1]


def test_lineage_half_runs_at_tiny_sizes(tmp_path: Path) -> None:
    out, venv = tmp_path / "out", tmp_path / "never-made"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.vs_mlflow", "--tiny", "--only", "lineage", "--strict",
         "--out", str(out), "--venv", str(venv), "--workdir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not venv.exists()

    results = json.loads((out / "vs_mlflow-tiny-lineage-only.json").read_text())
    cases = results["cases"]
    assert set(cases) == {"1_import", "2_run", "2_process", "3_steps", "4_artifacts",
                          "5_search", "6_ui"}
    for key, case in cases.items():
        assert "error" not in case, (key, case)
        assert "mlflow-sqlite" not in case
    assert cases["1_import"]["lineage"]["above_bare_ms"] < 1000
    assert cases["2_run"]["lineage"]["n"] == 3
    assert cases["3_steps"]["lineage"]["per_call_us"]["median"] > 0
    art = cases["4_artifacts"]["lineage"]
    # the same 2 MB array in 2 more experiments is stored once
    assert art["total_bytes"]["median"] - art["first_bytes"]["median"] < 2**20
    size = cases["5_search"]["sizes"]["40"]
    assert size["built"]["lineage"]["created"] == 40
    assert 1 <= len(size["top10_f1"]) <= 10
    assert size["top10_f1"] == sorted(size["top10_f1"], reverse=True)
    if "pending" not in cases["6_ui"]:
        assert cases["6_ui"]["lineage"]["rows"] == 40
    assert results["machine"]["nproc"] >= 1
    markdown = (out / "vs_mlflow-tiny-lineage-only.md").read_text()
    assert "| 2 · one run in process" in markdown
    assert not list(tmp_path.glob("lineage-vs-mlflow-*")), "the work folder is removed"


def test_turns_alternate() -> None:
    bench = harness.Bench.__new__(harness.Bench)
    bench.tools = harness.TOOLS
    orders = [bench.order(r) for r in range(6)]
    assert all(sorted(o) == sorted(harness.TOOLS) for o in orders)
    assert len({o[0] for o in orders[:3]}) == 3  # everyone goes first in turn
    assert len(set(orders)) == 6


def test_report_figures() -> None:
    assert report.complexity([1000, 100_000], [1.0, 100.0]) == 1.0
    assert report.ratio_text(30.0, 1.0) == "**30×** faster"
    assert report.ratio_text(1.0, 2.0) == "2.0× slower"
    assert report.fmt_ms(0.5) == "500 µs"
    assert report.fmt_bytes(1.2e9) == "1.2 GB"
    assert report.verdict(60.0, 50.0) == "≥50×: met"
    assert report.verdict(20.0, 50.0) == "≥50×: MISSED"


def run_benchmark(module: str, *args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env["PYTHONPATH"] = str(REPO)
    env["BENCH_DIR"] = str(cwd)
    done = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_other_benchmarks_run_at_tiny_sizes(tmp_path: Path) -> None:
    """Each prints its figures; at these sizes they mean nothing, but the scripts work."""
    out = run_benchmark("artifacts", "--size-mb", "2", "--repeat", "1", cwd=tmp_path)
    assert "register (first time)" in out and "2 MiB on disk" in out
    assert "x np.save + fsync" in out
    assert re.search(r"register \(same data again\): .* [0-9]+ KiB more on disk", out), out
    out = run_benchmark("integrity", "--size-mb", "2", "--repeat", "1", cwd=tmp_path)
    assert "verify" in out
    out = run_benchmark("core", "--repeat", "3", cwd=tmp_path)
    assert "log_metric(step=) per call" in out
    out = run_benchmark("ui", str(tmp_path / "ui"), "--experiments", "30", "--no-browser",
                        cwd=tmp_path)
    assert "lineage ui: start to first answered request" in out
    assert "set table, first page of 30 rows" in out and "compare 10 experiments" in out
