"""Checks on user input, run before anything is written, with messages that say the fix."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from .errors import InvalidMetricError, InvalidNameError, InvalidParameterError

MAX_NAME = 256
MAX_DESCRIPTION = 100_000
_JSON_HINT = "pass a number, string, bool, None, list or dict"


def _bad_char(text: str, allow_newlines: bool) -> str | None:
    for ch in text:
        if allow_newlines and ch in "\n\t\r":
            continue
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in "\u202e\u202d\u2066\u2067":
            return ch
    return None


def name(value: Any, what: str = "name", *, max_length: int = MAX_NAME) -> str:
    """A display name: non-empty printable text up to ``max_length`` characters.

    Names are never used in a path, so a slash or any Unicode letter is fine.
    """
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InvalidNameError(f"{what} is empty; give it a few words that describe it")
    if len(value) > max_length:
        raise InvalidNameError(
            f"{what} is {len(value)} characters long; the limit is {max_length}. "
            "Put the details in the description"
        )
    bad = _bad_char(value, allow_newlines=False)
    if bad is not None:
        raise InvalidNameError(
            f"{what} {value!r} contains the control character {bad!r}; "
            "names must be printable text on one line"
        )
    return value


def description(value: Any, what: str = "description") -> str:
    """Free text: may be empty or span lines, but holds no NUL or other control characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidNameError(f"{what} must be a string, not {type(value).__name__}")
    if len(value) > MAX_DESCRIPTION:
        raise InvalidNameError(f"{what} is {len(value)} characters; the limit is {MAX_DESCRIPTION}")
    bad = _bad_char(value, allow_newlines=True)
    if bad is not None:
        raise InvalidNameError(f"{what} contains the control character {bad!r}; remove it")
    return value


def version(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return name(value, what, max_length=128)


def to_json(value: Any, where: str, kind: str = "hyperparameter") -> Any:
    """``value`` as plain JSON types; numpy scalars and tuples are converted.

    Raises:
        InvalidParameterError: naming the key whose value cannot be stored.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameterError(
                f"{kind} {where!r} is {value}, which JSON cannot store faithfully; "
                "pass a finite number or a string such as 'inf'"
            )
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidParameterError(
                    f"{kind} {where!r} has the key {k!r} of type {type(k).__name__}; "
                    "keys must be strings"
                )
            out[k] = to_json(v, f"{where}.{k}", kind)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(v, f"{where}[{i}]", kind) for i, v in enumerate(value)]
    item = getattr(value, "item", None)
    if type(value).__module__ == "numpy" and callable(item) and getattr(value, "ndim", 1) == 0:
        return to_json(item(), where, kind)
    raise InvalidParameterError(
        f"{kind} {where!r} has value of type {type(value).__name__}, which cannot be stored "
        f"as JSON; {_JSON_HINT}"
    )


def mapping(value: Any, kind: str = "hyperparameters") -> dict[str, Any]:
    """A mapping of string keys to JSON values, e.g. hyperparameters or tags."""
    if not isinstance(value, Mapping):
        raise InvalidParameterError(
            f"{kind} must be a mapping such as {{'max_depth': 10}}, not {type(value).__name__}"
        )
    singular = kind.rstrip("s")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise InvalidParameterError(
                f"{kind} key {k!r} must be a non-empty string; rename it, e.g. {str(k)!r}"
            )
        name(k, f"{singular} name")
        out[k] = to_json(v, k, singular)
    return out


def metric_name(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidMetricError(f"metric name must be a string, not {type(value).__name__}")
    return name(value, "metric name")


def metric_value(metric: str, value: Any) -> float:
    """A finite float, or InvalidMetricError naming the metric."""
    if isinstance(value, (str, bytes)) or isinstance(value, bool):
        raise InvalidMetricError(
            f"metric {metric!r} has value {value!r} of type {type(value).__name__}; "
            "pass a finite number"
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidMetricError(
            f"metric {metric!r} has value of type {type(value).__name__}; pass a finite number"
        ) from None
    if not math.isfinite(number):
        raise InvalidMetricError(
            f"metric {metric!r} is {number}; only finite numbers can be compared. "
            "Check the training for divergence, or skip the value"
        )
    return number


def step(metric: str, value: Any) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidMetricError(
            f"step of metric {metric!r} is {value!r}; pass an integer such as the epoch or batch"
        )
    return int(value.__index__())


_ALIAS = __import__("re").compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def alias(value: Any) -> str:
    """An alias: a short word such as ``production`` or ``v1.2-candidate``."""
    if not isinstance(value, str) or not _ALIAS.fullmatch(value):
        raise InvalidNameError(
            f"alias {value!r} must be 1 to 64 letters, digits, '_', '.' or '-', starting "
            "with a letter or digit, e.g. 'production'"
        )
    return value
