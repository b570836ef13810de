"""What differs between experiments: flat rows of values, changed flags, best marks, deltas.

Pure functions over experiment records (the dicts of ``experiment.json``); no I/O, so the CLI,
the Python API and the web UI show the same comparison.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

SECTIONS = ("experiment", "params", "metrics", "tags", "data", "environment", "packages")
_LOWER_IS_BETTER = re.compile(
    r"(loss|error|err|rmse|mse|mae|mape|smape|perplexity|wer|cer|fpr|fnr|"
    r"log_?loss|brier|time|seconds|latency|duration|_sec|_ms)$|^(loss|error)",
    re.IGNORECASE,
)


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of a metric are better, from its name (loss, error, rmse…)."""
    return bool(_LOWER_IS_BETTER.search(metric.rsplit(".", 1)[-1]))


def flatten(record: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(section, key) → value for every comparable fact of a record."""
    out: dict[tuple[str, str], Any] = {}
    for key in ("name", "status", "model_version", "data_version", "created", "duration"):
        out[("experiment", key)] = record.get(key)
    for section, source in (("params", "hyperparameters"), ("metrics", "metrics"),
                            ("tags", "tags")):
        for key, value in sorted((record.get(source) or {}).items()):
            out[(section, key)] = value
    data = record.get("data") or {}
    if data.get("fingerprint"):
        out[("data", "fingerprint")] = data["fingerprint"]
    if "shape" in data:
        out[("data", "shape")] = data["shape"]
    for i, item in enumerate(data.get("items") or []):
        if isinstance(item, dict) and "shape" in item:
            out[("data", f"[{i}].shape")] = item["shape"]
    prov = record.get("provenance") or {}
    git = prov.get("git") or {}
    for key in ("commit", "branch", "dirty"):
        if key in git:
            out[("environment", f"git.{key}")] = git[key]
    if prov.get("python"):
        out[("environment", "python")] = prov["python"].get("version")
    if prov.get("platform"):
        out[("environment", "platform")] = (
            f"{prov['platform'].get('system')} {prov['platform'].get('machine')}"
        )
    if prov.get("host"):
        out[("environment", "host")] = prov["host"]
    if (prov.get("script") or {}).get("name"):
        out[("environment", "script")] = prov["script"]["name"]
    for name, version in sorted((prov.get("packages") or {}).items()):
        out[("packages", name)] = version
    return out


class Row(NamedTuple):
    section: str
    key: str
    values: list[Any]  # one per experiment, None where missing
    changed: bool
    best: int | None  # index of the best value (metrics only)
    deltas: list[float | None]  # against the baseline (numbers only)

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Comparison(NamedTuple):
    """Experiments side by side: ``rows`` in section order."""

    experiments: list[dict[str, Any]]
    rows: list[Row]
    baseline: int

    @property
    def labels(self) -> list[str]:
        return [f"{r['set']['number']}/{r['number']}" for r in self.experiments]

    def _repr_html_(self) -> str:
        from .display import comparison_html

        return comparison_html(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiments": [
                {"set": r["set"]["number"], "number": r["number"], "id": r["id"],
                 "name": r["name"]}
                for r in self.experiments
            ],
            "baseline": self.baseline,
            "rows": [row.to_dict() for row in self.rows],
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def compare(
    records: Sequence[dict[str, Any]],
    *,
    only_diff: bool = False,
    baseline: int = 0,
    directions: dict[str, str] | None = None,
) -> Comparison:
    """Compare experiment records key by key.

    ``only_diff`` keeps the rows whose values differ (the name row always stays);
    ``baseline`` is the index deltas are computed against; ``directions`` overrides, per
    metric, whether ``"min"`` or ``"max"`` is best (by default guessed from the name).
    """
    directions = directions or {}
    flats = [flatten(r) for r in records]
    keys: dict[tuple[str, str], None] = {}
    for wanted in SECTIONS:
        for flat in flats:
            for pair in flat:
                if pair[0] == wanted:
                    keys.setdefault(pair)
    rows = []
    for section, key in keys:
        values = [flat.get((section, key)) for flat in flats]
        changed = any(v != values[0] for v in values[1:])
        if only_diff and not changed and (section, key) != ("experiment", "name"):
            continue
        best = None
        deltas: list[float | None] = [None] * len(values)
        if section in ("params", "metrics") and _is_number(values[baseline]):
            base = float(values[baseline])  # type: ignore[arg-type]
            deltas = [float(v) - base if _is_number(v) else None  # type: ignore[arg-type]
                      for v in values]
        if section == "metrics":
            numbers = [(v, i) for i, v in enumerate(values) if _is_number(v)]
            if numbers and changed:
                direction = directions.get(key) or ("min" if lower_is_better(key) else "max")
                best = (min if direction == "min" else max)(numbers)[1]
        rows.append(Row(section, key, values, changed, best, deltas))
    return Comparison(list(records), rows, baseline)


def package_changes(
    a: dict[str, str], b: dict[str, str]
) -> list[tuple[str, str | None, str | None]]:
    """(package, version in a, version in b) for every package that differs."""
    return [
        (name, a.get(name), b.get(name))
        for name in sorted(set(a) | set(b))
        if a.get(name) != b.get(name)
    ]


def unified_diff(a: str, b: str, a_label: str, b_label: str) -> str:
    """A unified diff of two texts ('' when they are equal)."""
    return "".join(
        difflib.unified_diff(
            a.splitlines(keepends=True), b.splitlines(keepends=True), a_label, b_label
        )
    )
