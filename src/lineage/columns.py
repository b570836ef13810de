"""The columns of an experiment listing, shared by ``lineage ls`` and the web UI's table.

A column is a field of the filter language (``name``, ``params.max_depth``, ``metrics.f1``);
users pick them with comma-separated names or glob patterns (``name,params.*``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence

#: The fields every record has, in the order a listing offers them.
TOP = ("number", "name", "status", "model_version", "data_version", "created", "ended",
       "duration", "description", "id")
#: The top-level fields a listing shows before the params and metrics.
BASE = ("number", "name", "status", "model_version", "data_version", "created")
#: Where each kind of column lives in experiment.json.
SOURCES = {"params": "hyperparameters", "metrics": "metrics", "tags": "tags"}


def available(keys: Mapping[str, Iterable[str]], top: Sequence[str] = TOP) -> list[str]:
    """Every column a listing can show: ``top``, then ``params.*``, ``metrics.*``, ``tags.*``
    for the keys found in the records (``keys`` maps each kind to them)."""
    from .query import Field

    return list(top) + [str(Field(kind, k)) for kind in SOURCES for k in keys.get(kind, ())]


def expand(
    patterns: str,
    offered: Sequence[str],
    unknown: Callable[[str], list[str]] = lambda item: [],
) -> list[str]:
    """The columns ``patterns`` pick from ``offered``, in the order asked, each once.

    A glob (``params.*``) picks every offered column it matches; a plain name picks itself
    when offered, else whatever ``unknown(name)`` returns (nothing by default; a caller may
    keep the name or raise). ``hyperparameters.x`` is read as ``params.x``.
    """
    chosen: list[str] = []
    for item in (p.strip() for p in patterns.split(",")):
        if not item:
            continue
        if item.startswith("hyperparameters."):
            item = "params." + item.split(".", 1)[1]
        if any(ch in item for ch in "*?["):
            picked = [c for c in offered if fnmatch.fnmatchcase(c, item)]
        elif item in offered:
            picked = [item]
        else:
            picked = unknown(item)
        chosen += [c for c in picked if c not in chosen]
    return chosen
