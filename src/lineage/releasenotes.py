"""Release notes a person would ship: what the model is, how it was made, what changed."""

from __future__ import annotations

import json
from typing import Any


class Draft(str):
    """Markdown from ``draft_release_note()``, remembering which experiment drafted it.

    ``register()`` completes an unchanged draft with what it learns (data, results); any
    edit makes a plain ``str``, which is stored exactly as written.
    """

    experiment_id: str

    def __new__(cls, text: str, experiment_id: str) -> Draft:
        draft = super().__new__(cls, text)
        draft.experiment_id = experiment_id
        return draft


def fmt(value: Any) -> str:
    """A value as a table cell: numbers to 4 significant figures, pipes escaped."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = f"{value:.4g}"
    elif isinstance(value, (int, str)):
        text = str(value)
    else:
        text = json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def _delta(new: Any, old: Any) -> str:
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        if isinstance(new, bool) or isinstance(old, bool):
            return ""
        d = new - old
        return f"{d:+.4g}" if d else "="
    return ""


def _changes(record: dict[str, Any], previous: dict[str, Any]) -> list[str]:
    lines = []
    for key in ("model_version", "data_version"):
        if record.get(key) != previous.get(key):
            lines.append(f"- {key}: {fmt(previous.get(key))} → {fmt(record.get(key))}")
    new_p, old_p = record.get("hyperparameters") or {}, previous.get("hyperparameters") or {}
    for key in sorted(set(new_p) | set(old_p)):
        if new_p.get(key) != old_p.get(key):
            old = fmt(old_p[key]) if key in old_p else "(not set)"
            new = fmt(new_p[key]) if key in new_p else "(removed)"
            lines.append(f"- hyperparameter `{key}`: {old} → {new}")
    new_m, old_m = record.get("metrics") or {}, previous.get("metrics") or {}
    for key in sorted(set(new_m) & set(old_m)):
        if new_m[key] != old_m[key]:
            lines.append(
                f"- metric `{key}`: {fmt(old_m[key])} → {fmt(new_m[key])} "
                f"({_delta(new_m[key], old_m[key])})"
            )
    old_commit = ((previous.get("provenance") or {}).get("git") or {}).get("commit")
    new_commit = ((record.get("provenance") or {}).get("git") or {}).get("commit")
    if old_commit and new_commit and old_commit != new_commit:
        lines.append(f"- code: commit {old_commit[:10]} → {new_commit[:10]}")
    return lines or ["- nothing recorded differs"]


def _environment(prov: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    git = prov.get("git")
    if git:
        where = f"`{(git.get('commit') or 'no commit')[:10]}`"
        if git.get("branch"):
            where += f" on `{git['branch']}`"
        if git.get("dirty"):
            where += " with uncommitted changes"
        rows.append(("Git", where))
    python = prov.get("python") or {}
    platform = prov.get("platform") or {}
    if python:
        rows.append(
            ("Python", f"{python.get('version', '?')} on {platform.get('system', '?')} "
                       f"{platform.get('machine', '')}".strip())
        )
    script = prov.get("script") or {}
    if script.get("name"):
        rows.append(("Script", f"`{script['name']}`"))
    return rows


def render(record: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """Markdown release notes for an experiment record (and the one before it in its set)."""
    title = record.get("name", "experiment")
    if record.get("model_version"):
        title += f" — model {record['model_version']}"
    out = [f"# {title}", ""]
    if record.get("description"):
        out += [record["description"], ""]
    s = record.get("set") or {}
    rows = [
        ("Experiment", f"{s.get('number')}/{record.get('number')} in set “{s.get('name')}”"),
        ("Model version", fmt(record.get("model_version"))),
        ("Data version", fmt(record.get("data_version"))),
        ("Created", fmt(record.get("created"))),
    ]
    if record.get("seed"):
        rows.append(("Seed", fmt(record["seed"].get("value"))))
    rows += _environment(record.get("provenance") or {})
    out += ["| | |", "|---|---|", *[f"| {k} | {fmt(v) if k != 'Git' else v} |" for k, v in rows]]

    params = record.get("hyperparameters") or {}
    out += ["", "## Hyperparameters", ""]
    if params:
        out += ["| name | value |", "|---|---|"]
        out += [f"| `{fmt(k)}` | {fmt(v)} |" for k, v in sorted(params.items())]
    else:
        out.append("None recorded.")

    data = record.get("data")
    if data:
        out += ["", "## Data", ""]
        out += [f"- {line}" for line in _data_lines(data)]

    metrics = record.get("metrics") or {}
    old_metrics = (previous or {}).get("metrics") or {}
    out += ["", "## Results", ""]
    if metrics:
        prev_label = f"Δ vs {previous['number']}" if previous else ""
        out += [f"| metric | value |{f' {prev_label} |' if previous else ''}",
                f"|---|---|{'---|' if previous else ''}"]
        for k, v in sorted(metrics.items()):
            delta = f" {_delta(v, old_metrics[k]) if k in old_metrics else 'new'} |"
            out.append(f"| `{fmt(k)}` | {fmt(v)} |{delta if previous else ''}")
    else:
        out.append("No metrics recorded yet.")

    out += ["", "## Changes", ""]
    if previous:
        out.append(f"Against experiment {previous['number']} (“{previous.get('name')}”):")
        out.append("")
        out += _changes(record, previous)
    else:
        out.append("First experiment of this set.")
    return "\n".join(out) + "\n"


def _data_lines(data: dict[str, Any], label: str = "data") -> list[str]:
    lines = []
    kind = data.get("type", "?").rsplit(".", 1)[-1]
    if "shape" in data:
        text = f"`{label}`: {kind} of shape {tuple(data['shape'])}, {data.get('rows')} rows"
        if data.get("dtype"):
            text += f", dtype {data['dtype']}"
        if data.get("columns"):
            text += f", {len(data['columns'])} columns"
        lines.append(text)
    elif isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            lines += _data_lines(item, f"{label}[{i}]")
    elif isinstance(data.get("items"), dict):
        for k, item in data["items"].items():
            lines += _data_lines(item, f"{label}[{k!r}]")
    else:
        length = f" of length {data['length']}" if "length" in data else ""
        lines.append(f"`{label}`: {kind}{length}")
    if data.get("fingerprint"):
        lines.append(f"fingerprint `{data['fingerprint']}`")
    return lines
