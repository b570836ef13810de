"""The harness: MLflow's venv, the worker processes, the seven cases, the report.

Every case runs lineage and MLflow (its default SQLite backend, and the file store) on the
same work, taking turns (A B C, then C B A, ...) so a noisy machine weighs on all of them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import common, mlflow_bulk, report

REPO = Path(__file__).resolve().parents[2]
MLFLOW_VERSION = "3.17.2"  # the version /work/shared/ANCHORS.md measured
VENV = REPO / "benchmarks" / ".venv-mlflow"
OUT = REPO / "benchmarks" / "results"

LINEAGE, SQLITE, FILE = "lineage", "mlflow-sqlite", "mlflow-file"
TOOLS = (LINEAGE, SQLITE, FILE)


@dataclass(frozen=True)
class Sizes:
    """Everything that depends on --quick / --tiny."""

    name: str
    import_reps: int
    run_rounds: int
    run_per_round: int
    process_reps: int
    step_calls: int
    step_reps_lineage: int
    step_reps_mlflow: int
    artifact_mb: int
    artifact_copies: int
    artifact_reps: int
    registries: tuple[int, ...]
    search_reps: int
    search_budget_s: float
    ui_size: int
    ui_starts: int
    ui_requests: int
    scaling_runs: int
    mlflow_cap_s: float


FULL = Sizes("default", import_reps=10, run_rounds=6, run_per_round=20, process_reps=6,
             step_calls=10_000, step_reps_lineage=5, step_reps_mlflow=2, artifact_mb=100,
             artifact_copies=10, artifact_reps=2, registries=(1_000, 10_000, 100_000),
             search_reps=7, search_budget_s=25.0, ui_size=10_000, ui_starts=2, ui_requests=7,
             scaling_runs=20, mlflow_cap_s=120.0)
QUICK = Sizes("quick", import_reps=4, run_rounds=2, run_per_round=10, process_reps=2,
              step_calls=1_000, step_reps_lineage=2, step_reps_mlflow=1, artifact_mb=100,
              artifact_copies=10, artifact_reps=1, registries=(1_000,), search_reps=3,
              search_budget_s=5.0, ui_size=1_000, ui_starts=1, ui_requests=3,
              scaling_runs=10, mlflow_cap_s=20.0)
TINY = Sizes("tiny", import_reps=1, run_rounds=1, run_per_round=3, process_reps=1,
             step_calls=200, step_reps_lineage=1, step_reps_mlflow=1, artifact_mb=2,
             artifact_copies=2, artifact_reps=1, registries=(40,), search_reps=2,
             search_budget_s=2.0, ui_size=40, ui_starts=1, ui_requests=2, scaling_runs=3,
             mlflow_cap_s=10.0)


# -- statistics --------------------------------------------------------------------------------


def summary(samples: Sequence[float]) -> dict[str, Any]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples)}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- environments ------------------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLFLOW_", "LINEAGE_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)  # the benchmarks package; lineage itself is installed
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"  # no network calls from either tool
    env["DO_NOT_TRACK"] = "true"
    env.update(extra or {})
    return env


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path, version: str) -> Path:
    """MLflow ``version`` (with numpy and scikit-learn) in its own venv, made once."""
    python = venv_python(venv)
    marker = venv / "bench-mlflow-version"
    if python.exists() and marker.exists() and marker.read_text().strip() == version:
        return python
    log(f"creating {venv} with mlflow=={version} (once; a few minutes)")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    f"mlflow=={version}", "scikit-learn", "numpy"], check=True)
    check = subprocess.run([str(python), "-c", "import mlflow; print(mlflow.__version__)"],
                           capture_output=True, text=True, check=True, env=child_env())
    if check.stdout.strip() != version:
        raise RuntimeError(f"{venv} has mlflow {check.stdout.strip()}, not {version}")
    marker.write_text(version + "\n")
    return python


# -- worker processes --------------------------------------------------------------------------


class Worker:
    """One long-lived measuring process (see worker.py)."""

    def __init__(self, name: str, python: str, side: str, cwd: Path, logdir: Path) -> None:
        self.name = name
        self._log = open(logdir / f"worker-{name}.log", "ab")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            [python, "-m", "benchmarks.vs_mlflow.worker", side], cwd=cwd, env=child_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)

    def call(self, fn: str, **args: Any) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"fn": fn, "args": args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died (see {self._log.name})")
        answer = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"{self.name}.{fn}: {answer['error']}\n{answer['traceback']}")
        return answer["result"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Bench:
    def __init__(self, args: argparse.Namespace, sizes: Sizes) -> None:
        self.args = args
        self.sizes = sizes
        self.tools: tuple[str, ...] = (LINEAGE,) if args.only == "lineage" else TOOLS
        self.work = Path(tempfile.mkdtemp(prefix="lineage-vs-mlflow-", dir=args.workdir))
        self.logdir = self.work / "logs"
        self.logdir.mkdir()
        self.mlflow_python = (str(ensure_venv(args.venv, args.mlflow_version))
                              if args.only != "lineage" else None)
        self.results: dict[str, Any] = {"cases": {}, "sizes": sizes.name}
        self.workers: dict[str, Worker] = {}
        self.registries: dict[str, str] = {}
        self.registry_size = 0

    # -- helpers -------------------------------------------------------------------------------

    def python_of(self, tool: str) -> str:
        return sys.executable if tool == LINEAGE else str(self.mlflow_python)

    def store(self, tool: str, folder: Path) -> str:
        """Where ``tool`` keeps its records inside ``folder``: a root or a tracking URI."""
        folder.mkdir(parents=True, exist_ok=True)
        if tool == LINEAGE:
            return str(folder / ".lineage")
        if tool == SQLITE:
            return f"sqlite:///{folder / 'mlflow.db'}"
        return (folder / "mlruns").as_uri()

    def worker(self, tool: str) -> Worker:
        if tool not in self.workers:
            cwd = self.work / f"cwd-{tool}"
            cwd.mkdir(exist_ok=True)
            side = "lineage" if tool == LINEAGE else "mlflow"
            self.workers[tool] = Worker(tool, self.python_of(tool), side, cwd, self.logdir)
        return self.workers[tool]

    def order(self, round_: int) -> tuple[str, ...]:
        """A B C, B C A, C A B, then C B A, A C B, B A C: everyone goes first in turn."""
        tools = list(self.tools)
        k = round_ % len(tools)
        rotated = tools[k:] + tools[:k]
        return tuple(reversed(rotated)) if (round_ // len(tools)) % 2 else tuple(rotated)

    def case(self, key: str, fn: Callable[[], dict[str, Any]]) -> None:
        if self.args.cases and key.split("_")[0] not in self.args.cases:
            return
        log(f"case {key} (load average {loadavg()})")
        before, start = loadavg(), time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            if self.args.strict:
                raise
            log(f"case {key} FAILED: {type(exc).__name__}: {exc}")
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["loadavg_before"] = before
        result["loadavg_after"] = loadavg()
        result["seconds"] = time.perf_counter() - start
        self.results["cases"][key] = result
        log(f"case {key} done in {result['seconds']:.0f} s")

    def close(self) -> None:
        for w in self.workers.values():
            w.close()
        if not self.args.keep_workdir:
            shutil.rmtree(self.work, ignore_errors=True)

    # -- 1: import -----------------------------------------------------------------------------

    def case_import(self) -> dict[str, Any]:
        modules = {LINEAGE: "lineage", SQLITE: "mlflow"}
        tools = [t for t in self.tools if t != FILE]  # the backend does not change the import
        code = ("import sys, time; n = len(sys.modules); t = time.perf_counter(); {imp}; "
                "print((time.perf_counter() - t) * 1000, len(sys.modules) - n)")
        cwd = self.work / "import"
        cwd.mkdir()

        def one(tool: str, bare: bool) -> tuple[float, float, int]:
            imp = "pass" if bare else f"import {modules[tool]}"
            start = time.perf_counter()
            done = subprocess.run([self.python_of(tool), "-c", code.format(imp=imp)], cwd=cwd,
                                  env=child_env(), capture_output=True, text=True, check=True)
            wall = (time.perf_counter() - start) * 1000
            inner, count = done.stdout.split()[-2:]
            return wall, float(inner), int(count)

        for tool in tools:  # warm-up: bytecode written, files in the page cache
            one(tool, True)
            one(tool, False)
        walls: dict[str, list[float]] = {f"{t}{s}": [] for t in tools for s in ("", ":bare")}
        inner: dict[str, list[float]] = {t: [] for t in tools}
        counts: dict[str, int] = {}
        for r in range(self.sizes.import_reps):
            for tool in self.order(r):
                if tool == FILE:
                    continue
                w, i, c = one(tool, False)
                walls[tool].append(w)
                inner[tool].append(i)
                counts[tool] = c
                walls[f"{tool}:bare"].append(one(tool, True)[0])
        out: dict[str, Any] = {"unit": "ms"}
        for tool in tools:
            above = statistics.median(walls[tool]) - statistics.median(walls[f"{tool}:bare"])
            out[tool] = {"process": summary(walls[tool]), "bare": summary(walls[f"{tool}:bare"]),
                         "above_bare_ms": above, "in_process": summary(inner[tool]),
                         "modules": counts[tool]}
        return out

    # -- 2: one run ------------------------------------------------------------------------------

    def case_run(self) -> dict[str, Any]:
        samples: dict[str, list[float]] = {t: [] for t in self.tools}
        for tool in self.tools:
            w = self.worker(tool)
            w.call("setup", **{"root" if tool == LINEAGE else "uri":
                               self.store(tool, self.work / "run" / tool)})
            w.call("one_run", count=max(3, self.sizes.run_per_round // 2), tag="warm-up")
        for r in range(self.sizes.run_rounds):
            for tool in self.order(r):
                samples[tool] += self.worker(tool).call("one_run",
                                                        count=self.sizes.run_per_round)
        return {"unit": "ms", **{t: summary(s) for t, s in samples.items()}}

    def case_process(self) -> dict[str, Any]:
        """A whole process: start python, import the tracker, record one run, exit."""
        p, m = json.dumps(common.PARAMS), json.dumps(common.METRICS)
        scripts = {
            LINEAGE: ("from lineage import Experiment\n"
                      "exp = Experiment(experiment_name='one', root={store!r})\n"
                      f"exp.hyperparameters = {p}\nexp.log_metrics({m})\nexp.register()\n"),
            "mlflow": ("import mlflow\nmlflow.set_tracking_uri({store!r})\n"
                       "mlflow.set_experiment('bench')\n"
                       "with mlflow.start_run(run_name='one'):\n"
                       f"    mlflow.log_params({p})\n    mlflow.log_metrics({m})\n"),
        }
        cwd = self.work / "process"
        cwd.mkdir()
        stores = {t: self.store(t, cwd / t) for t in self.tools}

        def one(tool: str) -> float:
            script = scripts[LINEAGE if tool == LINEAGE else "mlflow"].replace(
                "{store!r}", repr(stores[tool]))
            start = time.perf_counter()
            subprocess.run([self.python_of(tool), "-c", script], cwd=cwd, check=True,
                           env=child_env(self._ui_env(tool)), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
            return (time.perf_counter() - start) * 1000

        first = {t: one(t) for t in self.tools}  # creates the store (MLflow: its database)
        samples: dict[str, list[float]] = {t: [] for t in self.tools}
        for r in range(self.sizes.process_reps):
            for tool in self.order(r):
                samples[tool].append(one(tool))
        return {"unit": "ms", "first_process_ms": first,
                **{t: summary(s) for t, s in samples.items()}}

    # -- 3: step metrics -----------------------------------------------------------------------

    def case_steps(self) -> dict[str, Any]:
        calls = self.sizes.step_calls
        variants = list(self.tools)
        if SQLITE in self.tools:
            variants.append("mlflow-sqlite-async")
        for v in variants:
            w = self.worker(self._tool_of(v))
            w.call("setup", **{"root" if v == LINEAGE else "uri":
                               self.store(self._tool_of(v), self.work / "steps" / v)})
            w.call("steps", calls=min(calls, 100), **self._step_kw(v))  # warm-up
        found: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        reps = max(self.sizes.step_reps_lineage, self.sizes.step_reps_mlflow)
        for r in range(reps):
            order = list(self.order(r))
            if "mlflow-sqlite-async" in variants:
                order.insert(order.index(SQLITE) + (r % 2), "mlflow-sqlite-async")
            for v in order:
                limit = (self.sizes.step_reps_lineage if v == LINEAGE
                         else 1 if v == "mlflow-sqlite-async"  # ~1 ms a call, ~5 s to drain
                         else self.sizes.step_reps_mlflow)
                if len(found[v]) < limit:
                    found[v].append(self.worker(self._tool_of(v)).call(
                        "steps", calls=calls, **self._step_kw(v)))
        out: dict[str, Any] = {"calls": calls}
        for v, rows in found.items():
            out[v] = {k: summary([row[k] for row in rows])
                      for k in ("per_call_us", "loop_ms", "durable_ms", "total_ms")}
        return out

    @staticmethod
    def _tool_of(variant: str) -> str:
        return SQLITE if variant == "mlflow-sqlite-async" else variant

    @staticmethod
    def _step_kw(variant: str) -> dict[str, Any]:
        return {"synchronous": False} if variant == "mlflow-sqlite-async" else {}

    # -- 4: artifacts ------------------------------------------------------------------------------

    def case_artifacts(self) -> dict[str, Any]:
        s = self.sizes
        rows: dict[str, list[dict[str, Any]]] = {t: [] for t in self.tools}
        for r in range(s.artifact_reps):
            for tool in self.order(r):
                folder = self.work / "case4" / f"{tool}-{r}"  # not "artifacts": MLflow's file
                # store refuses a run whose path has a folder of that name (ZDI-CAN-26649 check)
                folder.mkdir(parents=True)
                if tool == LINEAGE:
                    row = self.worker(tool).call("artifacts", workdir=str(folder),
                                                 size_mb=s.artifact_mb, copies=s.artifact_copies)
                else:
                    row = self.worker(tool).call(
                        "artifacts", workdir=str(folder), uri=self.store(tool, folder),
                        size_mb=s.artifact_mb, copies=s.artifact_copies)
                    self.worker(tool).call("setup", uri=self.store(tool, self.work / "run" / tool))
                rows[tool].append(row)
                shutil.rmtree(folder)
        out: dict[str, Any] = {"size_mb": s.artifact_mb, "copies": s.artifact_copies}
        for tool, found in rows.items():
            out[tool] = {k: summary([row[k] for row in found])
                         for k in ("train_ms", "first_ms", "copies_ms", "first_bytes",
                                   "total_bytes")}
            out[tool]["log_model_error"] = found[-1].get("log_model_error")
        return out

    # -- 5 and 7: registries, search, scaling ------------------------------------------------------

    def build(self, size: int, previous: dict[str, Path]) -> dict[str, Any]:
        """Registries of ``size`` for each tool; MLflow's grown from the previous size."""
        from benchmarks import generate as gen

        made: dict[str, Any] = {}
        folder = self.work / "registries" / str(size)
        for tool in self.order(0):
            where = folder / tool
            if tool == LINEAGE:
                r = gen.run(where, size, 1, self.args.processes, quiet=True)
                made[tool] = {"created": size, "api_created": size, "rate": r["rate"],
                              "seconds": r["parallel_seconds"], "processes": r["processes"],
                              "store": str(where / ".lineage")}
                continue
            if tool == FILE and size > self.args.file_store_max:
                made[tool] = {"skipped": f"file store not built above {self.args.file_store_max:,}"
                                         " runs (creation and every query grow with the run count;"
                                         " see the rates at smaller sizes)"}
                continue
            start_at = 0
            if tool in previous:
                shutil.copytree(previous[tool], where)
                start_at = previous.get(f"{tool}:count", 0)  # type: ignore[assignment]
            else:
                where.mkdir(parents=True)
            uri = self.store(tool, where)
            done = subprocess.run(
                [str(self.mlflow_python), "-m", "benchmarks.vs_mlflow.mlflow_gen", uri,
                 str(start_at), str(size), str(self.args.processes or os.cpu_count() or 1),
                 str(self.sizes.mlflow_cap_s)],
                cwd=where, env=child_env(), capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"mlflow_gen failed: {done.stderr[-2000:]}")
            g = json.loads(done.stdout.strip().splitlines()[-1])
            count = start_at + g["created"]
            info = {"api_created": g["created"], "api_from": start_at, "rate": g["rate"],
                    "seconds": g["seconds"], "errors": g["errors"],
                    "last_error": g["last_error"], "processes": g["processes"]}
            if g["capped"]:
                info["extrapolated_seconds"] = (size - start_at) / g["rate"] if g["rate"] else None
                start = time.perf_counter()
                if tool == SQLITE:
                    info["bulk_inserted"] = mlflow_bulk.fill(str(where / "mlflow.db"), size)
                else:
                    info["bulk_inserted"] = mlflow_bulk.fill_file_store(str(where / "mlruns"),
                                                                        size)
                info["bulk_seconds"] = time.perf_counter() - start
                count = size
            info["created"] = count
            info["store"] = uri
            made[tool] = info
            previous[tool] = where
            previous[f"{tool}:count"] = count  # type: ignore[assignment]
        return made

    def case_search(self) -> dict[str, Any]:
        out: dict[str, Any] = {"where": common.WHERE, "order": {
            LINEAGE: common.LINEAGE_ORDER, "mlflow": common.MLFLOW_ORDER}, "limit": common.LIMIT,
            "sizes": {}}
        previous: dict[str, Path] = {}
        for size in self.sizes.registries:
            log(f"  registries of {size:,}")
            made = self.build(size, previous)
            entry: dict[str, Any] = {"built": made}
            os.sync()  # the registries just written must not be flushed during the timings
            tools = [t for t in self.tools if "store" in made.get(t, {})]
            samples: dict[str, list[float]] = {t: [] for t in tools}
            tops: dict[str, list[float]] = {}
            spent = {t: 0.0 for t in tools}
            for r in range(self.sizes.search_reps + 1):  # round 0 is the warm-up
                for tool in self.order(r):
                    if tool not in tools:
                        continue
                    if r > 1 and spent[tool] > self.sizes.search_budget_s:
                        continue  # slow: at least 1 timed sample, then within the budget
                    if r > 2 and spent[tool] > self.sizes.search_budget_s / 3:
                        continue  # a few seconds a query: 2 timed samples
                    key = "root" if tool == LINEAGE else "uri"
                    found = self.worker(tool).call("search", **{key: made[tool]["store"]},
                                                   warmup=0, repeat=1)
                    tops[tool] = found["top"]
                    spent[tool] += sum(found["samples"]) / 1000  # the warm-up counts too
                    if r:
                        samples[tool] += found["samples"]
            entry["search_ms"] = {t: summary(s) for t, s in samples.items()}
            entry["same_top10"] = {t: tops[t] == tops[tools[0]] for t in tools}
            entry["top10_f1"] = tops.get(tools[0])
            self.registries = {t: made[t]["store"] for t in tools}
            self.registry_size = size
            if size == self.sizes.ui_size and "6" in self.wanted:
                self.case("6_ui", self.case_ui)
            n = self.sizes.scaling_runs
            entry["one_run_ms"] = {}
            os.sync()
            for tool in tools:  # case 7: one run into this registry
                key = "root" if tool == LINEAGE else "uri"
                self.worker(tool).call("one_run_in", **{key: made[tool]["store"]}, count=2)
                entry["one_run_ms"][tool] = summary(self.worker(tool).call(
                    "one_run_in", **{key: made[tool]["store"]}, count=n))
            out["sizes"][str(size)] = entry
        return out

    @property
    def wanted(self) -> set[str]:
        return set(self.args.cases or "1234567")

    # -- 6: the UI ----------------------------------------------------------------------------

    def case_ui(self) -> dict[str, Any]:
        have = shutil.which("lineage") or None
        import importlib.util

        if importlib.util.find_spec("lineage.web") is None:
            return {"pending": "lineage ui does not exist yet"}
        out: dict[str, Any] = {"runs": self.registry_size, "page": 100}
        starts: dict[str, list[float]] = {t: [] for t in self.registries}
        lists: dict[str, list[float]] = {t: [] for t in self.registries}
        rows: dict[str, int] = {}
        memory: dict[str, int] = {}
        experiment_ids: dict[str, str] = {}
        for r in range(self.sizes.ui_starts):
            servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
            try:
                for tool in self.order(r):
                    if tool not in self.registries:
                        continue
                    port = free_port()
                    cmd = self.ui_command(tool, port, have)
                    start = time.perf_counter()
                    proc = subprocess.Popen(cmd, cwd=self.work, env=child_env(self._ui_env(tool)),
                                            stdout=subprocess.DEVNULL,
                                            stderr=open(self.logdir / f"ui-{tool}.log", "ab"),  # noqa: SIM115
                                            start_new_session=True)
                    servers[tool] = (proc, port)
                    wait_http(port, proc, timeout=180)
                    starts[tool].append((time.perf_counter() - start) * 1000)
                    if tool != LINEAGE and tool not in experiment_ids:
                        experiment_ids[tool] = mlflow_experiment_id(port)
                spent = {t: 0.0 for t in servers}
                for k in range(self.sizes.ui_requests + 1):  # request 0 is the warm-up
                    for tool in self.order(k):
                        if tool not in servers or (k > 2 and
                                                   spent[tool] > self.sizes.search_budget_s):
                            continue  # slow: 2 timed requests, then within the budget
                        port = servers[tool][1]
                        start = time.perf_counter()
                        n = list_call(tool, port, experiment_ids.get(tool))
                        elapsed = (time.perf_counter() - start) * 1000
                        rows[tool] = n
                        if k:
                            lists[tool].append(elapsed)
                            spent[tool] += elapsed / 1000
                for tool, (proc, _) in servers.items():
                    memory[tool] = tree_rss(proc.pid)
            finally:
                for proc, _ in servers.values():
                    stop(proc)
        for tool in self.registries:
            out[tool] = {"start_ms": summary(starts[tool]), "list_ms": summary(lists[tool]),
                         "rows": rows.get(tool), "rss_bytes": memory.get(tool),
                         "command": " ".join(self.ui_command(tool, 0, have)[1:3])}
        out["requests"] = {
            LINEAGE: "GET /sets/1.json?size=100 (the JSON twin of the set's table page)",
            "mlflow": "POST /ajax-api/2.0/mlflow/runs/search {experiment_ids: [id], filter: '', "
                      "run_view_type: ACTIVE_ONLY, max_results: 100, order_by: "
                      "['attributes.start_time DESC']} (what its runs table sends)"}
        return out

    def ui_command(self, tool: str, port: int, lineage_exe: str | None) -> list[str]:
        store = self.registries[tool]
        if tool == LINEAGE:
            exe = [lineage_exe] if lineage_exe else [sys.executable, "-m", "lineage"]
            return [*exe, "ui", "--root", store, "--port", str(port)]
        mlflow = str(Path(str(self.mlflow_python)).parent / "mlflow")
        return [mlflow, "server", "--backend-store-uri", store, "--host", "127.0.0.1",
                "--port", str(port)]

    @staticmethod
    def _ui_env(tool: str) -> dict[str, str]:
        return {"MLFLOW_ALLOW_FILE_STORE": "true"} if tool == FILE else {}


# -- HTTP and processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def request(port: int, method: str, path: str, body: Any = None, timeout: float = 600
            ) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_http(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Until ``GET /`` answers (the page a browser opens first; lineage redirects it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering")
        try:
            if request(port, "GET", "/", timeout=30)[0] < 400:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"no answer on port {port} within {timeout:.0f} s")


def mlflow_experiment_id(port: int) -> str:
    status, body = request(port, "GET",
                           "/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=bench")
    if status != 200:
        raise RuntimeError(f"experiments/get-by-name: {status} {body[:200]!r}")
    return str(json.loads(body)["experiment"]["experiment_id"])


def list_call(tool: str, port: int, experiment_id: str | None) -> int:
    """The request a UI makes for the first 100 rows; returns the number of rows."""
    if tool == LINEAGE:
        status, body = request(port, "GET", "/sets/1.json?size=100")
        if status != 200:
            raise RuntimeError(f"lineage list call: {status} {body[:200]!r}")
        data = json.loads(body)
        return len(data.get("rows") or data.get("experiments") or [])
    status, body = request(port, "POST", "/ajax-api/2.0/mlflow/runs/search", {
        "experiment_ids": [experiment_id], "filter": "", "run_view_type": "ACTIVE_ONLY",
        "max_results": 100, "order_by": ["attributes.start_time DESC"]})
    if status != 200:
        raise RuntimeError(f"mlflow runs/search: {status} {body[:200]!r}")
    return len(json.loads(body).get("runs", []))


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End a server we started, with its process group (uvicorn or gunicorn workers)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


# -- the machine -------------------------------------------------------------------------------


def machine(bench: Bench) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    disk = shutil.disk_usage(bench.work)
    fs = "unknown"
    try:
        best = ""
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mount, kind = line.split()[:3]
            if str(bench.work).startswith(mount) and len(mount) > len(best):
                best, fs = mount, f"{kind} on {dev} (mounted at {mount})"
    except OSError:
        pass
    import sqlite3

    import lineage

    versions = {"lineage": lineage.__version__, "python": platform.python_version(),
                "sqlite": sqlite3.sqlite_version}
    for name in ("numpy", "scikit-learn"):
        try:
            from importlib.metadata import version

            versions[f"{name} (lineage side)"] = version(name)
        except Exception:
            pass
    if bench.mlflow_python is not None:
        done = subprocess.run(
            [bench.mlflow_python, "-c", "import json, mlflow, numpy, sklearn; print(json.dumps("
             "{'mlflow': mlflow.__version__, 'numpy (mlflow side)': numpy.__version__, "
             "'scikit-learn (mlflow side)': sklearn.__version__}))"],
            capture_output=True, text=True, env=child_env())
        if done.returncode == 0:
            versions.update(json.loads(done.stdout))
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "nproc": os.cpu_count(), "cpu": cpu, "memory_bytes": memory,
            "disk": {"filesystem": fs, "total_bytes": disk.total, "free_bytes": disk.free},
            "platform": platform.platform(), "versions": versions}


# -- entry point -------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.vs_mlflow",
        description="lineage and MLflow on the same work, side by side (issue 6).")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, a few repetitions: under 3 minutes")
    parser.add_argument("--tiny", action="store_true",
                        help="the smallest sizes (the test suite's harness check)")
    parser.add_argument("--only", choices=("lineage", "all"), default="all",
                        help="lineage: skip MLflow entirely (no venv)")
    parser.add_argument("--out", type=Path, default=OUT, help="where results go")
    parser.add_argument("--venv", type=Path, default=VENV, help="MLflow's venv (made once)")
    parser.add_argument("--mlflow-version", default=MLFLOW_VERSION)
    parser.add_argument("--cases", default="", help="e.g. 125: run only these cases")
    parser.add_argument("--workdir", default=os.environ.get("BENCH_DIR"),
                        help="where the registries go (default: the system temp dir)")
    parser.add_argument("--processes", type=int, default=None,
                        help="processes that create registries (default: the CPUs)")
    parser.add_argument("--mlflow-cap", type=float, default=None,
                        help="seconds MLflow may spend creating each registry through its API; "
                             "past that the store is filled by copying the rows and files "
                             "MLflow wrote (labelled; mlflow_bulk.py)")
    parser.add_argument("--file-store-max", type=int, default=10_000,
                        help="largest registry built in MLflow's file store")
    parser.add_argument("--keep-workdir", action="store_true")
    parser.add_argument("--strict", action="store_true", help="stop at the first failing case")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    sizes = TINY if args.tiny else QUICK if args.quick else FULL
    if args.mlflow_cap is not None:
        sizes = Sizes(**{**sizes.__dict__, "mlflow_cap_s": args.mlflow_cap})
    started = time.perf_counter()
    bench = Bench(args, sizes)
    bench.results["machine"] = machine(bench)
    bench.results["loadavg_start"] = loadavg()
    bench.results["command"] = "python -m benchmarks.vs_mlflow " + " ".join(
        argv if argv is not None else sys.argv[1:])
    log(f"working in {bench.work}; tools: {', '.join(bench.tools)}; sizes: {sizes.name}")
    try:
        bench.case("1_import", bench.case_import)
        bench.case("2_run", bench.case_run)
        bench.case("2_process", bench.case_process)
        bench.case("3_steps", bench.case_steps)
        bench.case("4_artifacts", bench.case_artifacts)
        if bench.wanted & {"5", "6", "7"}:
            bench.case("5_search", bench.case_search)
        if "6" in bench.wanted and "6_ui" not in bench.results["cases"]:
            bench.results["cases"]["6_ui"] = {"pending": "no registry of the UI size was built"}
    finally:
        bench.close()
    bench.results["loadavg_end"] = loadavg()
    bench.results["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    stem = {"default": "vs_mlflow", "quick": "vs_mlflow-quick", "tiny": "vs_mlflow-tiny"}[
        sizes.name]
    if args.only == "lineage":
        stem += "-lineage-only"
    (args.out / f"{stem}.json").write_text(json.dumps(bench.results, indent=1, default=str))
    markdown = report.markdown(bench.results)
    (args.out / f"{stem}.md").write_text(markdown)
    print(markdown)
    log(f"wrote {args.out / stem}.json and .md in {bench.results['seconds']:.0f} s")
    return bench.results
