"""The Markdown report: one table of medians (min–max) and ratios, the goals, the machine."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

LINEAGE, SQLITE, FILE = "lineage", "mlflow-sqlite", "mlflow-file"

# Issue 6: lineage at least this many times better than MLflow's default backend.
GOALS = {
    "import": 25.0, "process": 20.0, "run": 5.0, "step": 200.0, "disk": 10.0,
    "search@10000": 50.0, "ui_start": 10.0,
}


def complexity(sizes: Sequence[int], values: Sequence[float]) -> float | None:
    """The exponent k of t ~ n^k between the smallest and the largest size."""
    if len(sizes) < 2 or values[0] <= 0 or values[-1] <= 0:
        return None
    return math.log(values[-1] / values[0]) / math.log(sizes[-1] / sizes[0])


def fmt_ms(ms: float) -> str:
    if ms >= 10_000:
        return f"{ms / 1000:,.1f} s"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.1f} ms"
    return f"{ms * 1000:.0f} µs"


def fmt_us(us: float) -> str:
    return fmt_ms(us / 1000) if us >= 1000 else (f"{us:.1f} µs" if us < 100 else f"{us:.0f} µs")


def fmt_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:.0f} B"


def spread(s: dict[str, Any] | None, fmt: Any = fmt_ms) -> str:
    if not s:
        return "–"
    if s.get("n", 1) == 1 or s["min"] == s["max"]:
        return fmt(s["median"])
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def ratio_text(theirs: float | None, ours: float | None, better: str = "faster",
               worse: str = "slower") -> str:
    if not theirs or not ours:
        return "–"
    r = theirs / ours
    if r >= 1:
        return f"**{r:,.0f}×** {better}" if r >= 10 else f"**{r:.1f}×** {better}"
    return f"{1 / r:.1f}× {worse}"


def ratio(theirs: float | None, ours: float | None) -> float | None:
    return theirs / ours if theirs and ours else None


def verdict(r: float | None, goal: float | None) -> str:
    if goal is None:
        return ""
    if r is None:
        return f"≥{goal:g}×: –"
    return f"≥{goal:g}×: {'met' if r >= goal else 'MISSED'}"


def med(d: dict[str, Any] | None, *keys: str) -> float | None:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    if isinstance(d, dict):
        return d.get("median")
    return d  # type: ignore[return-value]


class Table:
    def __init__(self) -> None:
        self.rows: list[str] = [
            "| case | lineage | MLflow SQLite (default) | MLflow file store | "
            "lineage vs MLflow default | vs file store | goal |",
            "|---|---|---|---|---|---|---|",
        ]
        self.goals: dict[str, float | None] = {}

    def add(self, what: str, cells: dict[str, str], ours: float | None,
            theirs: dict[str, float | None], goal_key: str | None = None,
            better: str = "faster", worse: str = "slower", higher_is_better: bool = False
            ) -> None:
        def r(t: float | None) -> str:
            if higher_is_better:
                return ratio_text(ours, t, better, worse)
            return ratio_text(t, ours, better, worse)

        main_ratio = (ratio(ours, theirs.get(SQLITE)) if higher_is_better
                      else ratio(theirs.get(SQLITE), ours))
        goal = GOALS.get(goal_key) if goal_key else None
        if goal_key:
            self.goals[goal_key] = main_ratio
        self.rows.append(
            f"| {what} | {cells.get(LINEAGE, '–')} | {cells.get(SQLITE, '–')} | "
            f"{cells.get(FILE, '–')} | {r(theirs.get(SQLITE))} | {r(theirs.get(FILE))} | "
            f"{verdict(main_ratio, goal)} |")


def markdown(results: dict[str, Any]) -> str:
    cases = results["cases"]
    t = Table()
    notes: list[str] = []

    c = cases.get("1_import")
    if c and "error" not in c:
        ours = c[LINEAGE]["above_bare_ms"]
        theirs = c.get(SQLITE, {}).get("above_bare_ms")
        cells = {LINEAGE: f"{fmt_ms(ours)} ({c[LINEAGE]['modules']} modules)"}
        if theirs is not None:
            cells[SQLITE] = cells[FILE] = f"{fmt_ms(theirs)} ({c[SQLITE]['modules']} modules)"
        t.add("1 · cold `import`, above the bare interpreter (median process time minus bare "
              "python)", cells, ours, {SQLITE: theirs, FILE: theirs}, "import")

    c = cases.get("2_run")
    if c and "error" not in c:
        t.add("2 · one run in process: create, 10 params, 10 metrics, finish (lineage fsyncs "
              "its commit)", {k: spread(c.get(k)) for k in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE), {k: med(c, k) for k in (SQLITE, FILE)}, "run")
    c = cases.get("2_process")
    if c and "error" not in c:
        t.add("2 · whole process: start python, import, record one run, exit",
              {k: spread(c.get(k)) for k in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE), {k: med(c, k) for k in (SQLITE, FILE)}, "process")

    c = cases.get("3_steps")
    if c and "error" not in c:
        n = c["calls"]
        t.add(f"3 · `log_metric(..., step=i)`, per call ({n:,} calls)",
              {k: spread(med_dict(c, k, "per_call_us"), fmt_us) for k in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE, "per_call_us"),
              {k: med(c, k, "per_call_us") for k in (SQLITE, FILE)}, "step", "cheaper", "dearer")
        t.add(f"3 · {n:,} step values: from the first call until durable on disk",
              {k: spread(med_dict(c, k, "total_ms")) for k in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE, "total_ms"), {k: med(c, k, "total_ms") for k in (SQLITE, FILE)})
        if "mlflow-sqlite-async" in c:
            a = c["mlflow-sqlite-async"]
            notes.append(
                f"MLflow's asynchronous logging (`log_metric(..., synchronous=False)`, SQLite): "
                f"{spread(a['per_call_us'], fmt_us)} per call, {spread(a['total_ms'])} until "
                f"durable for {n:,} values — "
                f"{ratio_text(med(a, 'per_call_us'), med(c, LINEAGE, 'per_call_us'), 'cheaper', 'dearer')}"  # noqa: E501
                " per call for lineage.")

    c = cases.get("4_artifacts")
    if c and "error" not in c:
        mb, k = c["size_mb"], c["copies"]
        t.add(f"4 · RandomForest (4000×20) + {mb} MB array logged: tracking time (training "
              "excluded)", {x: spread(med_dict(c, x, "first_ms")) for x in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE, "first_ms"), {x: med(c, x, "first_ms") for x in (SQLITE, FILE)})
        t.add(f"4 · the same data in {k} more experiments",
              {x: spread(med_dict(c, x, "copies_ms")) for x in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE, "copies_ms"), {x: med(c, x, "copies_ms") for x in (SQLITE, FILE)})
        t.add(f"4 · bytes on disk after those {k + 1} experiments (hard links once)",
              {x: spread(med_dict(c, x, "total_bytes"), fmt_bytes)
               for x in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE, "total_bytes"), {x: med(c, x, "total_bytes") for x in (SQLITE, FILE)},
              "disk", "less", "more")
        for x in (SQLITE, FILE):
            err = (c.get(x) or {}).get("log_model_error")
            if err:
                notes.append(f"{x}: `mlflow.sklearn.log_model(clf)` with default settings fails "
                             f"(`{err[:160]}…`); measured with "
                             "`skops_trusted_types=['sklearn.tree._tree.Tree']`, as it advises.")

    c = cases.get("5_search")
    scaling: dict[str, dict[str, list[tuple[int, float]]]] = {}
    if c and "error" not in c:
        for size, entry in c["sizes"].items():
            n = int(size)
            built = entry["built"]
            cells, rates = {}, {}
            for x in (LINEAGE, SQLITE, FILE):
                b = built.get(x) or {}
                if "skipped" in b:
                    cells[x] = "not built"
                    notes.append(f"{n:,} runs, {x}: {b['skipped']}")
                    continue
                if "rate" not in b:
                    continue
                rates[x] = b["rate"]
                cell = f"{b['rate']:,.0f}/s"
                if b.get("api_created", n) < n - b.get("api_from", 0):
                    cell += f" (API: {b['api_created']:,} runs in {b['seconds']:.0f} s)*"
                    est = b.get("extrapolated_seconds") or 0.0
                    would = fmt_ms(est * 1000) if est < 120 else f"{est / 60:.0f} min"
                    how = "rows copied in by SQL" if x == SQLITE else "run folders copied"
                    filled = (f"; the other {b['bulk_inserted']:,} were {how} from MLflow's own "
                              f"({b['bulk_seconds']:.1f} s; mlflow_bulk.py)"
                              if b.get("bulk_inserted") else
                              f"; the store stopped at {b['created']:,} runs")
                    notes.append(
                        f"\\* {n:,} runs, {x}: creation capped — {b['api_created']:,} runs added "
                        f"through the API from {b.get('api_from', 0):,}, in "
                        f"{b['seconds']:.0f} s; all {n - b.get('api_from', 0):,} would take "
                        f"~{would} at that rate (extrapolated){filled}.")
                if b.get("errors"):
                    notes.append(f"{n:,} runs, {x}: {b['errors']} runs failed while creating "
                                 f"({b['last_error']})")
                cells[x] = cell
            t.add(f"5 · create {n:,} experiments (5 params + 5 metrics), "
                  f"{built.get(LINEAGE, {}).get('processes', '') or 'parallel'} processes, rate",
                  cells, rates.get(LINEAGE), {x: rates.get(x) for x in (SQLITE, FILE)},
                  better="faster", worse="slower", higher_is_better=True)
            s = entry["search_ms"]
            t.add(f"5 · filtered, ordered top-10 search over {n:,}",
                  {x: spread(s.get(x)) for x in (LINEAGE, SQLITE, FILE)}, med(s, LINEAGE),
                  {x: med(s, x) for x in (SQLITE, FILE)},
                  "search@10000" if n == 10_000 else None)
            if not all(entry.get("same_top10", {}).values()):
                notes.append(f"{n:,} runs: the tools' top 10 differ: {entry['same_top10']}")
            for x, v in s.items():
                scaling.setdefault("search", {}).setdefault(x, []).append((n, v["median"]))
            for x, v in entry.get("one_run_ms", {}).items():
                scaling.setdefault("run", {}).setdefault(x, []).append((n, v["median"]))

    c = cases.get("6_ui")
    if c and "pending" in c:
        notes.append(f"case 6 (UI) pending: {c['pending']}")
    elif c and "error" not in c:
        n = c["runs"]
        t.add("6 · UI server start, until `GET /` answers",
              {x: spread(med_dict(c, x, "start_ms")) for x in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE, "start_ms"), {x: med(c, x, "start_ms") for x in (SQLITE, FILE)},
              "ui_start")
        t.add(f"6 · the UI's list call: first 100 rows of a {n:,}-run experiment",
              {x: spread(med_dict(c, x, "list_ms")) for x in (LINEAGE, SQLITE, FILE)},
              med(c, LINEAGE, "list_ms"), {x: med(c, x, "list_ms") for x in (SQLITE, FILE)})
        t.add("6 · server memory (RSS of the process tree)",
              {x: fmt_bytes(c[x]["rss_bytes"]) for x in (LINEAGE, SQLITE, FILE)
               if c.get(x, {}).get("rss_bytes")},
              (c.get(LINEAGE) or {}).get("rss_bytes"),
              {x: (c.get(x) or {}).get("rss_bytes") for x in (SQLITE, FILE)}, None, "less",
              "more")

    for what, label in (("run", "one run (case 2) added to a registry of n"),
                        ("search", "top-10 search (case 5) over n")):
        series = scaling.get(what) or {}
        if not series or len(next(iter(series.values()))) < 2:
            continue
        cells = {}
        for x, pts in series.items():
            k = complexity([p[0] for p in pts], [p[1] for p in pts])
            cells[x] = " → ".join(fmt_ms(p[1]) for p in pts) + (
                f": O(n^{k:.2f})" if k is not None else "")
        sizes = " → ".join(f"{p[0]:,}" for p in next(iter(series.values())))
        t.rows.append(f"| 7 · {label}, n = {sizes} | {cells.get(LINEAGE, '–')} | "
                      f"{cells.get(SQLITE, '–')} | {cells.get(FILE, '–')} | | | |")

    m = results.get("machine", {})
    lines = [
        f"Measured {m.get('date', '')} with `{results.get('command', '')}` "
        f"({results.get('sizes')} sizes, {results.get('seconds', 0) / 60:.1f} min in all).",
        "",
        *t.rows,
        "",
        "Medians, (min–max) over the repetitions; ratios are MLflow's median over lineage's "
        "(for rates, lineage's over MLflow's).",
    ]
    if notes:
        lines += ["", *[f"- {n}" for n in notes]]
    lines += ["", machine_text(results)]
    lines += ["", "Goals (issue 6), against MLflow's default backend:"]
    for key, goal in GOALS.items():
        r = t.goals.get(key)
        lines.append(f"- {key}: ≥{goal:g}× — measured "
                     f"{'–' if r is None else f'{r:,.1f}×'}: "
                     f"{'–' if r is None else ('met' if r >= goal else 'MISSED')}")
    return "\n".join(lines) + "\n"


def med_dict(c: dict[str, Any], tool: str, key: str) -> dict[str, Any] | None:
    d = c.get(tool)
    return d.get(key) if isinstance(d, dict) else None


def machine_text(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    v = m.get("versions", {})
    disk = m.get("disk", {})
    mem = m.get("memory_bytes") or 0
    cases = results.get("cases", {})
    loads = [x for c in cases.values() for x in (c.get("loadavg_before"), c.get("loadavg_after"))
             if x]
    load = (f"1-minute load average {min(x[0] for x in loads):.1f}–{max(x[0] for x in loads):.1f}"
            if loads else "")
    return (f"Machine: {m.get('nproc')} CPUs ({m.get('cpu')}), {mem / 2**30:.0f} GiB memory, "
            f"{disk.get('filesystem', '')}; {m.get('platform', '')}; "
            + ", ".join(f"{k} {val}" for k, val in v.items())
            + f". Shared with other jobs: {load} during the run "
              f"(start {results.get('loadavg_start')}, end {results.get('loadavg_end')}).")
