"""How models, data sets and results become bytes, and back.

Serializers are entries in one table. A user type can teach lineage how to store itself
by defining ``__lineage_serialize__(self, out)`` (write bytes to the binary file-like ``out``)
and a classmethod ``__lineage_deserialize__(cls, path)``; lineage records the type and calls
it back on an explicit ``load()``.

Loading joblib or pickle files can run arbitrary code: only ``load()`` of a trusted registry
ever does it. Nothing that lists or shows experiments calls :func:`load`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from .errors import SerializationError

PROTOCOL_DUMP = "__lineage_serialize__"
PROTOCOL_LOAD = "__lineage_deserialize__"


class Serializer(NamedTuple):
    """One way of writing an object to bytes and reading it back."""

    name: str
    dump: Callable[[Any, IO[bytes]], None]
    load: Callable[[Path], Any]
    runs_code_on_load: bool


def _joblib_dump(obj: Any, out: IO[bytes]) -> None:
    import joblib

    joblib.dump(obj, out)


def _joblib_load(path: Path) -> Any:
    import joblib

    return joblib.load(path)


def _pickle_dump(obj: Any, out: IO[bytes]) -> None:
    import pickle

    pickle.dump(obj, out, protocol=5)


def _pickle_load(path: Path) -> Any:
    import pickle

    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301 - only reached through an explicit, trusted load()


def _text_dump(obj: Any, out: IO[bytes]) -> None:
    out.write(str(obj).encode("utf-8"))


def _text_load(path: Path) -> Any:
    return path.read_text(encoding="utf-8")


def _protocol_dump(obj: Any, out: IO[bytes]) -> None:
    getattr(obj, PROTOCOL_DUMP)(out)


SERIALIZERS: dict[str, Serializer] = {
    s.name: s
    for s in (
        Serializer("joblib", _joblib_dump, _joblib_load, runs_code_on_load=True),
        Serializer("pickle", _pickle_dump, _pickle_load, runs_code_on_load=True),
        Serializer("text", _text_dump, _text_load, runs_code_on_load=False),
    )
}


def type_name(obj: Any) -> str:
    """``module.QualName`` of an object's type, as recorded in the manifest."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def dump(obj: Any, out: IO[bytes], default: str, role: str) -> dict[str, str]:
    """Write ``obj`` to ``out``; returns the manifest fields that say how to read it back.

    Raises:
        SerializationError: the object cannot be stored; the message names its type.
    """
    if hasattr(type(obj), PROTOCOL_DUMP):
        serializer_name = "protocol"
        writer: Callable[[Any, IO[bytes]], None] = _protocol_dump
    else:
        serializer_name = default
        writer = SERIALIZERS[default].dump
    try:
        writer(obj, out)
    except Exception as exc:
        raise SerializationError(
            f"{role} of type {type_name(obj)} cannot be serialized with {serializer_name}: "
            f"{exc}. Pass a picklable object, or give its class a "
            f"{PROTOCOL_DUMP}(self, out) method and a {PROTOCOL_LOAD}(cls, path) classmethod."
        ) from exc
    return {"serializer": serializer_name, "type": type_name(obj)}


def load(path: Path, serializer: str, type_: str | None = None) -> Any:
    """Read an artifact back. Trusted registries only: joblib and pickle can run code."""
    if serializer == "protocol":
        if not type_:
            raise SerializationError(f"{path}: no type recorded for a protocol artifact")
        module_name, _, qualname = type_.rpartition(".")
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
        return getattr(cls, PROTOCOL_LOAD)(path)
    try:
        return SERIALIZERS[serializer].load(path)
    except KeyError:
        raise SerializationError(
            f"{path}: unknown serializer {serializer!r}; known: {', '.join(SERIALIZERS)}"
        ) from None


def describe_data(obj: Any, _depth: int = 0) -> dict[str, Any]:
    """Shapes, dtypes and row counts of a data set, read without importing numpy or pandas."""
    info: dict[str, Any] = {"type": type_name(obj)}
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        info["shape"] = list(shape)
        info["rows"] = shape[0] if shape else 1
        columns = getattr(obj, "columns", None)
        dtypes = getattr(obj, "dtypes", None)
        if columns is not None and dtypes is not None and hasattr(dtypes, "items"):
            info["columns"] = {str(k): str(v) for k, v in list(dtypes.items())[:100]}
        elif getattr(obj, "dtype", None) is not None:
            info["dtype"] = str(obj.dtype)
        return info
    if _depth < 2 and isinstance(obj, Mapping):
        items = list(obj.items())[:20]
        info["items"] = {str(k): describe_data(v, _depth + 1) for k, v in items}
    elif _depth < 2 and isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
        info["length"] = len(obj)
        if isinstance(obj, tuple) and len(obj) <= 10:
            info["items"] = [describe_data(v, _depth + 1) for v in obj]
    return info
