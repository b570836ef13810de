"""Turn the ``results=`` object given to ``register()`` into plain JSON metrics.

The pickle of the results object is kept anyway; this summary exists so that experiments
can be listed, filtered and compared later without unpickling anything (which is slow, needs
the original libraries, and runs arbitrary code).

Known kinds, tried in this order:

    classification_report   scikit-learn's report, as its default text or ``output_dict=True``
    score                   a single number (int, float, numpy scalar, 0-d array)
    metrics                 a mapping of names to numbers, nested one level ("cv.mean")

Anything else gives None. Non-finite numbers (NaN, inf) are stored as None in the structured
form and left out of the flat metrics, so the JSON is always strict. Bools are not numbers.
"""

from __future__ import annotations

import functools
import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from lineage.errors import ValidationError

#: Row names of scikit-learn's average lines -> key under "averages".
_AVERAGES: dict[str, str] = {
    "macro avg": "macro",
    "weighted avg": "weighted",
    "micro avg": "micro",
    "samples avg": "samples",
}
#: Keys of one class (or average) entry in the dict form -> key in the structured form.
_FIELDS: dict[str, str] = {
    "precision": "precision",
    "recall": "recall",
    "f1-score": "f1",
    "support": "support",
}

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf"


@functools.cache
def _report_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The header, accuracy and class-row lines of a classification report, compiled on first
    use (3 ms that a run without a text report need not pay at import)."""
    return (
        re.compile(r"\s*precision\s+recall\s+f1-score\s+support\s*"),
        re.compile(rf"\s*accuracy\s+(?P<a>{_NUM})\s+(?P<s>{_NUM})\s*", re.IGNORECASE),
        re.compile(
            rf"\s*(?P<label>.*?)\s+(?P<p>{_NUM})\s+(?P<r>{_NUM})\s+(?P<f>{_NUM})\s+"
            rf"(?P<s>{_NUM})\s*",
            re.IGNORECASE,
        ),
    )

#: Stands for "not a number at all" (as opposed to a non-finite number, which is None).
_NOT_A_NUMBER = object()


def parse_results(obj: object) -> dict[str, Any] | None:
    """Structured, JSON-safe summary of a results object, or None when it is of no known kind."""
    if isinstance(obj, str):
        return _parse_text_report(obj)
    if isinstance(obj, Mapping):
        return _parse_dict_report(obj) or _parse_metrics(obj)
    value = _number(obj)
    if value is not _NOT_A_NUMBER:
        return {"kind": "score", "score": value}
    return None


def flat_metrics(parsed: dict[str, Any]) -> dict[str, float]:
    """The metrics to merge into the experiment's ``metrics`` from a parse_results() answer.

    A report gives ``accuracy``, ``precision``/``recall``/``f1`` (macro average, or micro when
    there is no macro line), ``weighted_precision``/``weighted_recall``/``weighted_f1`` and
    ``support`` (the total). Values that are None (non-finite) or absent are left out.
    """
    kind = parsed.get("kind") if isinstance(parsed, Mapping) else None
    out: dict[str, float | None] = {}
    if kind == "score":
        out["score"] = parsed.get("score")
    elif kind == "metrics":
        out.update(parsed.get("metrics") or {})
    elif kind == "classification_report":
        averages: dict[str, Any] = parsed.get("averages") or {}
        out["accuracy"] = parsed.get("accuracy")
        main = averages.get("macro") or averages.get("micro") or {}
        weighted = averages.get("weighted") or {}
        for field in ("precision", "recall", "f1"):
            out[field] = main.get(field)
            out[f"weighted_{field}"] = weighted.get(field)
        out["support"] = _total_support(parsed)
    else:
        raise ValidationError(
            f"flat_metrics() needs an answer of parse_results(), got kind {kind!r}; "
            "pass the dict that parse_results() returned (and skip it when that was None)"
        )
    return {k: float(v) for k, v in out.items() if v is not None and _is_finite(v)}


# -- the three kinds -----------------------------------------------------------------------


def _parse_text_report(text: str) -> dict[str, Any] | None:
    """A classification_report string, or None when the text is not one.

    Lines before the header (a title) are ignored; every non-blank line after it must be a
    report row, so a string that merely mentions "precision" is not mistaken for a report.
    """
    header, accuracy_line, class_row = _report_patterns()
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if header.fullmatch(line)), None)
    if start is None:
        return None
    accuracy: float | None | object = _NOT_A_NUMBER
    classes: dict[str, dict[str, Any]] = {}
    averages: dict[str, dict[str, Any]] = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        acc = accuracy_line.fullmatch(line)
        if acc:
            accuracy = _finite(float(acc["a"]))
            continue
        row = class_row.fullmatch(line)
        if row is None:
            return None
        entry = {
            "precision": _finite(float(row["p"])),
            "recall": _finite(float(row["r"])),
            "f1": _finite(float(row["f"])),
            "support": _support(float(row["s"])),
        }
        label = row["label"]
        if label in _AVERAGES:
            averages[_AVERAGES[label]] = entry
        else:
            classes[label] = entry
    return _report(classes, averages, accuracy)


def _parse_dict_report(data: Mapping[Any, Any]) -> dict[str, Any] | None:
    """A classification_report(output_dict=True) mapping, or None when it is not one."""
    accuracy: float | None | object = _NOT_A_NUMBER
    classes: dict[str, dict[str, Any]] = {}
    averages: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            return None
        if key == "accuracy" and not isinstance(value, Mapping):
            accuracy = _number(value)
            if accuracy is _NOT_A_NUMBER:
                return None
            continue
        if not isinstance(value, Mapping) or set(value) != set(_FIELDS):
            return None
        numbers_ = {_FIELDS[k]: _number(v) for k, v in value.items()}
        if any(v is _NOT_A_NUMBER for v in numbers_.values()):
            return None
        entry = {f: numbers_[f] for f in ("precision", "recall", "f1")}
        entry["support"] = _support(numbers_["support"])
        if key in _AVERAGES:
            averages[_AVERAGES[key]] = entry
        else:
            classes[key] = entry
    return _report(classes, averages, accuracy)


def _report(
    classes: dict[str, dict[str, Any]],
    averages: dict[str, dict[str, Any]],
    accuracy: float | None | object,
) -> dict[str, Any] | None:
    """Assemble the structured report; None when there is not a single class row."""
    if not classes:
        return None
    out: dict[str, Any] = {"kind": "classification_report"}
    if accuracy is not _NOT_A_NUMBER:
        out["accuracy"] = accuracy
    out["classes"] = classes
    out["averages"] = averages
    return out


def _parse_metrics(data: Mapping[Any, Any]) -> dict[str, Any] | None:
    """A mapping of names to numbers (one nested level joined with '.'), or None."""
    metrics: dict[str, float | None] = {}

    def put(name: str, value: object) -> bool:
        number = _number(value)
        if number is _NOT_A_NUMBER or name in metrics:
            return False
        metrics[name] = number  # type: ignore[assignment]
        return True

    for key, value in data.items():
        if not isinstance(key, str):
            return None
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                if not isinstance(sub, str) or not put(f"{key}.{sub}", inner):
                    return None
        elif not put(key, value):
            return None
    if not metrics:
        return None
    return {"kind": "metrics", "metrics": metrics}


# -- numbers -------------------------------------------------------------------------------


def _number(value: object) -> float | None | object:
    """``value`` as a finite float, None when non-finite, _NOT_A_NUMBER when not a number.

    Accepts real numbers (numpy scalars included) and 0-d arrays or tensors with ``.item()``;
    rejects bools, numpy bools, complex numbers and strings.
    """
    if isinstance(value, bool):
        return _NOT_A_NUMBER
    if not isinstance(value, numbers.Real) and getattr(value, "shape", None) == ():
        item = getattr(value, "item", None)
        if callable(item):
            try:
                return _number(item())
            except Exception:
                return _NOT_A_NUMBER
    if not isinstance(value, numbers.Real):
        return _NOT_A_NUMBER
    try:
        return _finite(float(value))
    except (OverflowError, ValueError, TypeError):
        return None  # an int too large for a float: not representable, like inf


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _is_finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _support(value: float | None | object) -> int | float | None:
    """Support as an int when whole (a count), a float with sample weights, None if non-finite."""
    if not isinstance(value, float):
        return None
    return int(value) if value.is_integer() else value


def _total_support(parsed: Mapping[str, Any]) -> int | float | None:
    """The report's total support: from an average line, else the sum over the classes."""
    averages: Mapping[str, Any] = parsed.get("averages") or {}
    for name in ("macro", "weighted", "micro"):
        support = (averages.get(name) or {}).get("support")
        if support is not None:
            return support
    supports = [c.get("support") for c in (parsed.get("classes") or {}).values()]
    if not supports or any(s is None for s in supports):
        return None
    return sum(supports)
