"""One experiment: ``/sets/N/M`` (everything it recorded), ``/sets/N/M/notebook`` (its
exploration notebook, rendered, never executed), ``/sets/N/M/live.json`` (what a running
experiment's page polls) and ``/sets/N/M/artifacts/I`` (a download, addressed by its index
in the manifest: no path ever comes from the request).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from ... import layout
from ...comparison import lower_is_better
from ...errors import ExperimentNotFoundError, LineageError
from .. import charts
from ..documents import notebook
from ..pages import State, address, page
from ..security import (
    CSP_DOWNLOAD,
    MAX_NOTEBOOK,
    MAX_TEXT,
    NotServable,
    open_artifact,
    read_artifact,
)
from ..steps import read_steps

CHART_POINTS = 600


def _entry(record: dict[str, Any], role: str) -> tuple[int, dict[str, Any]] | None:
    for i, entry in enumerate(record.get("artifacts") or []):
        if isinstance(entry, dict) and entry.get("role") == role:
            return i, entry
    return None


def _text(state: State, record: dict[str, Any], entry: dict[str, Any] | None,
          limit: int = MAX_TEXT) -> dict[str, Any] | None:
    """A text artifact for display: ``{"path", "text", "cut"}`` or None when unreadable."""
    if entry is None:
        return None
    folder = state.registry.experiment_path(record["set"]["number"], record["number"])
    try:
        data, cut = read_artifact(folder, entry.get("path"), limit, entry.get("size"))
    except NotServable:
        return {"path": entry.get("path"), "text": None, "cut": False,
                "problem": "the file is missing, not a regular file, or not as recorded"}
    return {"path": entry.get("path"), "text": data.decode("utf-8", errors="replace"),
            "cut": cut}


def _record(state: State, number: int, exp: int) -> dict[str, Any]:
    state.registry.read_set(number)  # 404 naming the sets when the set is missing
    return state.registry.find_experiment(number, exp)


def _curves(state: State, record: dict[str, Any]) -> dict[str, list[list[float]]]:
    folder = state.registry.experiment_path(record["set"]["number"], record["number"])
    return {name: [list(p) for p in charts.downsample(points, CHART_POINTS // 2)]
            for name, points in sorted(read_steps(folder).items())}


def experiment_view(state: State, request: Any, number: int, exp: int) -> dict[str, Any]:
    registry = state.registry
    record = _record(state, number, exp)
    status = registry.effective_status(record)
    aliases = [name for name, held in registry.aliases()["current"].items()
               if held.get("set") == number and held.get("number") == exp]
    artifacts = []
    for i, entry in enumerate(record.get("artifacts") or []):
        if not isinstance(entry, dict):
            continue
        path = str(entry.get("path", ""))
        artifacts.append({**entry, "index": i,
                          "notebook": path.endswith(".ipynb"),
                          "download": f"/sets/{number}/{exp}/artifacts/{i}"})
    prov = record.get("provenance") or {}
    script = _entry(record, "script")
    diff = _entry(record, "git-diff")
    notes = _entry(record, "releasenotes")
    exploration = _entry(record, "exploration")
    metrics = record.get("metrics") or {}
    folder = registry.experiment_path(number, exp)
    extra_notes = None
    try:
        data, _ = read_artifact(folder, layout.NOTES, MAX_TEXT)
        extra_notes = data.decode("utf-8", errors="replace")
    except NotServable:
        pass
    return {
        "title": f"{record['name']} — {number}/{exp}",
        "record": {**record, "status": status},
        "address": address(record),
        "status": status,
        "aliases": aliases,
        "metrics": [{"name": k, "value": v,
                     "direction": "min" if lower_is_better(k) else "max",
                     "steps": (record.get("step_metrics") or {}).get(k)}
                    for k, v in sorted(metrics.items())],
        "curves": _curves(state, record),
        "release_notes": _text(state, record, notes[1] if notes else None),
        "notes": extra_notes,
        "script": _text(state, record, script[1] if script else None),
        "git_diff": _text(state, record, diff[1] if diff else None),
        "exploration": ({"index": exploration[0], "path": exploration[1].get("path"),
                         "notebook": str(exploration[1].get("path", "")).endswith(".ipynb")}
                        if exploration else None),
        "exploration_script": (_text(state, record, exploration[1]) if exploration and not
                               str(exploration[1].get("path", "")).endswith(".ipynb")
                               else None),
        "packages": prov.get("packages") or {},
        "artifacts": artifacts,
    }


def notebook_view(state: State, request: Any, number: int, exp: int) -> dict[str, Any]:
    record = _record(state, number, exp)
    found = _entry(record, "exploration")
    title = f"Notebook of {record['name']} — {number}/{exp}"
    base = {"title": title, "record": record, "address": address(record)}
    if found is None or not str(found[1].get("path", "")).endswith(".ipynb"):
        raise ExperimentNotFoundError(
            f"experiment {number}/{exp} has no exploration notebook")
    index, entry = found
    folder = state.registry.experiment_path(number, exp)
    try:
        raw, cut = read_artifact(folder, entry.get("path"), MAX_NOTEBOOK, entry.get("size"))
    except NotServable:
        return {**base, "notebook": None, "index": index,
                "problem": "the notebook file is missing, not a regular file, or not as "
                           "recorded"}
    if cut:
        return {**base, "notebook": None, "index": index,
                "problem": f"the notebook is over {MAX_NOTEBOOK // 2**20} MB: download it"}
    try:
        parsed = notebook(raw)
    except ValueError as exc:
        return {**base, "notebook": None, "index": index, "problem": str(exc)}
    return {**base, "notebook": parsed, "index": index, "problem": None}


def live_view(state: State, request: Any, number: int, exp: int) -> dict[str, Any]:
    """What a running experiment's page polls: status, metrics, and its charts as SVG."""
    record = _record(state, number, exp)
    status = state.registry.effective_status(record)
    curves = _curves(state, record)
    return {
        "status": status,
        "ended": record.get("ended"),
        "metrics": record.get("metrics") or {},
        "steps": {name: {"count": len(points), "last": points[-1] if points else None}
                  for name, points in curves.items()},
        "charts": {name: str(charts.line_chart(name, [(name, 0, points)]))
                   for name, points in curves.items()},
    }


def download(state: State, request: Any) -> Any:
    """An artifact as an attachment, by manifest index (or role): never a path from the URL."""
    from starlette.responses import StreamingResponse

    from ..pages import error_page

    number, exp = request.path_params["number"], request.path_params["exp"]
    which = request.path_params["which"]
    with state.lock:
        try:
            record = _record(state, number, exp)
        except LineageError:  # missing, or a record that cannot be read
            return error_page(state, request, 404, "no such experiment")
        entries = [e for e in record.get("artifacts") or [] if isinstance(e, dict)]
        entry = None
        if which.isdigit() and int(which) < len(entries):
            entry = entries[int(which)]
        elif not which.isdigit():
            entry = next((e for e in entries if e.get("role") == which), None)
        if entry is None:
            return error_page(state, request, 404, "no such artifact in the manifest")
        folder = state.registry.experiment_path(number, exp)
        try:
            fd, st = open_artifact(folder, entry.get("path"), entry.get("size"))
        except NotServable:
            return error_page(state, request, 404, "no such artifact")

    def chunks() -> Any:
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                yield chunk
        finally:
            os.close(fd)

    name = str(entry.get("path", "artifact")).rsplit("/", 1)[-1] or "artifact"
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
                         for c in name)
    headers = {
        "content-disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(name, safe='')}",
        "content-length": str(st.st_size),
        "content-security-policy": CSP_DOWNLOAD,
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
    }
    if isinstance(entry.get("hash"), str):
        headers["x-lineage-hash"] = entry["hash"]
    return StreamingResponse(chunks(), media_type="application/octet-stream", headers=headers)


def routes(state: State) -> list[Any]:
    from starlette.routing import Route

    return [
        *page(state, "/sets/{number:int}/{exp:int}", experiment_view, "experiment.html"),
        *page(state, "/sets/{number:int}/{exp:int}/notebook", notebook_view, "notebook.html"),
        *page(state, "/sets/{number:int}/{exp:int}/live", live_view, "error.html",
              twin=True)[1:],
        Route("/sets/{number:int}/{exp:int}/artifacts/{which}",
              lambda request: download(state, request), methods=["GET", "HEAD"]),
    ]

