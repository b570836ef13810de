"""HTML for notebooks (``_repr_html_``): experiments, lists of them, comparisons.

Every value passes through ``html.escape``; nothing here reads files or unpickles anything.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .comparison import Comparison

_STYLE = "border-collapse:collapse;font-size:0.9em"


def fmt(value: Any) -> str:
    """A value as text: floats to 4 significant figures, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cell(value: Any, tag: str = "td", extra: str = "") -> str:
    full = html.escape(repr(value) if isinstance(value, float) else fmt(value), quote=True)
    return f'<{tag} title="{full}"{extra}>{html.escape(fmt(value))}</{tag}>'


def experiments_html(records: Sequence[dict[str, Any]], statuses: Sequence[str]) -> str:
    """One row per experiment: address, name, status, versions, every param and metric."""
    params = sorted({k for r in records for k in (r.get("hyperparameters") or {})})
    metrics = sorted({k for r in records for k in (r.get("metrics") or {})})
    head = ["experiment", "name", "status", "model", "data"]
    head += [f"params.{p}" for p in params] + [f"metrics.{m}" for m in metrics]
    rows = []
    for r, status in zip(records, statuses, strict=True):
        cells = [f"{r['set']['number']}/{r['number']}", r.get("name"), status,
                 r.get("model_version"), r.get("data_version")]
        cells += [(r.get("hyperparameters") or {}).get(p) for p in params]
        cells += [(r.get("metrics") or {}).get(m) for m in metrics]
        rows.append("<tr>" + "".join(_cell(c) for c in cells) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table style="{_STYLE}"><tr>{header}</tr>{"".join(rows)}</table>'


def comparison_html(comparison: Comparison) -> str:
    """Rows = keys, columns = experiments; changed rows bold, best metric values starred."""
    header = "<th></th>" + "".join(
        f"<th>{html.escape(label)}</th>" for label in comparison.labels
    )
    rows = []
    for row in comparison.rows:
        cells = []
        for i, value in enumerate(row.values):
            text = fmt(value)
            if row.best == i:
                text += " ★"
            delta = row.deltas[i] if row.section == "metrics" else None
            if delta and i != comparison.baseline:
                text += f" ({delta:+.4g})"
            cells.append(f"<td>{html.escape(text)}</td>")
        weight = "bold" if row.changed else "normal"
        key = html.escape(f"{row.section}.{row.key}")
        rows.append(f'<tr style="font-weight:{weight}"><th>{key}</th>{"".join(cells)}</tr>')
    return f'<table style="{_STYLE}"><tr>{header}</tr>{"".join(rows)}</table>'
