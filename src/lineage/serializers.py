"""How models, data sets and results become bytes, and back.

Serializers are entries in one table, :data:`SERIALIZERS`. :func:`choose` picks one by the
object's type and the caller's ``safe`` wish *before* anything is written (an object that
cannot be stored raises there); :func:`dump` streams the object into a binary sink;
:func:`load` reads it back from a manifest entry.

- Default: the seed's names and formats: ``joblib`` for models and data, ``pickle`` for
  results and extra objects. A PyTorch module given as a model is always stored as its
  state dict (``torch``), never pickled whole.
- ``safe=True``: only formats that cannot run code when loaded: ``skops`` for scikit-learn
  models, ``npy``/``npz`` for arrays, ``parquet`` for data frames, ``json`` for results and
  small values, ``torch`` (a state dict read back with ``weights_only=True``).

A user type can teach lineage how to store itself by defining
``__lineage_serialize__(self, out)`` (write bytes to the binary file-like ``out``) and a
classmethod ``__lineage_deserialize__(cls, path)``; lineage records the type and calls it back
on an explicit ``load()``. (Not under ``safe=True``: its loader is code lineage cannot vouch
for.)

Loading joblib or pickle files can run arbitrary code: only ``load()`` of a trusted registry
ever does it. Nothing that lists or shows experiments calls :func:`load`.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple

from .errors import LineageError, SerializationError

PROTOCOL_DUMP = "__lineage_serialize__"
PROTOCOL_LOAD = "__lineage_deserialize__"

#: What ``pip install`` brings each optional library in.
SAFE_EXTRA = 'pip install "lineage-ml[safe]"'
TORCH_EXTRA = 'pip install "lineage-ml[torch]"'

#: Rows of a data frame converted to Arrow at a time: bounds the second copy parquet needs.
PARQUET_CHUNK_BYTES = 64 * 1024 * 1024

Loader = Callable[[Path, Mapping[str, Any], Sequence[str] | None], Any]
Dumper = Callable[[Any, IO[bytes]], dict[str, Any] | None]


class Serializer(NamedTuple):
    """One way of writing an object to bytes and reading it back.

    ``suffix`` names the file of a standard artifact (``model/model.<suffix>``); None keeps
    the role's seed name. ``dump`` returns extra manifest fields (or None); ``load`` gets the
    file, its manifest entry and the types the caller trusts (skops only).
    """

    name: str
    suffix: str | None
    dump: Dumper
    load: Loader
    runs_code_on_load: bool
    requires: tuple[str, ...] = ()  # modules that must import, checked before writing
    extra: str = ""  # the pip command that installs them


class _Sink:
    """The StagedObject seen through the file-object surface pyarrow asks for (``closed``)."""

    closed = False

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out

    def write(self, data: Any) -> int:
        return self._out.write(data)

    def flush(self) -> None:
        self._out.flush()

    def tell(self) -> int:
        return self._out.tell()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False


def _import(module: str, purpose: str, extra: str) -> Any:
    try:
        importlib.import_module(module.split(".")[0])  # as `import a.b` does: the package first
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        raise SerializationError(
            f"{purpose} needs {package}, which is not installed ({exc}); install it with: {extra}"
        ) from None


# -- joblib, pickle, text: the seed's formats ----------------------------------------------


def _joblib_dump(obj: Any, out: IO[bytes]) -> None:
    import joblib

    joblib.dump(obj, out)


def _joblib_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    import joblib

    return joblib.load(path)


def _pickle_dump(obj: Any, out: IO[bytes]) -> None:
    import pickle

    pickle.dump(obj, out, protocol=5)


def _pickle_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    import pickle

    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301 - only reached through an explicit, trusted load()


def _text_dump(obj: Any, out: IO[bytes]) -> None:
    out.write(str(obj).encode("utf-8"))


def _text_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    return path.read_text(encoding="utf-8")


# -- formats that cannot run code on load --------------------------------------------------


def _json_dump(obj: Any, out: IO[bytes]) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8"))


def _json_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _npy_dump(obj: Any, out: IO[bytes]) -> None:
    import numpy as np

    np.save(out, obj, allow_pickle=False)  # streams the array in chunks, no copy


def _npy_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    import numpy as np

    return np.load(path, allow_pickle=False)


def _container_kind(obj: Any) -> str:
    return "dict" if isinstance(obj, Mapping) else "tuple" if isinstance(obj, tuple) else "list"


def _npz_members(obj: Any) -> tuple[str, list[str], list[Any]]:
    """Kind, member names and arrays of a tuple, list or dict of arrays."""
    kind = _container_kind(obj)
    if kind == "dict":
        return kind, [str(k) for k in obj], list(obj.values())
    return kind, [f"arr_{i}" for i in range(len(obj))], list(obj)


def _npz_dump(obj: Any, out: IO[bytes]) -> dict[str, Any]:
    """A zip of ``.npy`` members, as ``np.savez`` writes, streamed member by member."""
    import zipfile

    import numpy as np

    kind, keys, arrays = _npz_members(obj)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in zip(keys, arrays, strict=True):
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return {"container": {"kind": kind, "keys": keys}}


def _npz_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    import numpy as np

    container = entry.get("container") or {}
    with np.load(path, allow_pickle=False) as npz:
        keys = list(container.get("keys") or npz.files)
        arrays = [npz[k] for k in keys]
    kind = container.get("kind", "dict")
    if kind == "dict":
        return dict(zip(keys, arrays, strict=True))
    return tuple(arrays) if kind == "tuple" else arrays


def _parquet_dump(frame: Any, out: IO[bytes]) -> None:
    """The frame converted to Arrow a slice of rows at a time, so the Arrow copy stays small."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.Schema.from_pandas(frame)
    names = [str(c) for c in frame.columns]
    per_row = max(1, int(frame.memory_usage(index=True, deep=False).sum()) // max(len(frame), 1))
    rows = max(1, PARQUET_CHUNK_BYTES // per_row)
    with pq.ParquetWriter(_Sink(out), schema) as writer:  # type: ignore[arg-type]
        for start in range(0, max(len(frame), 1), rows):
            part = frame.iloc[start : start + rows]
            if list(part.columns) != names:  # e.g. integer labels: Arrow names are strings
                part = part.set_axis(names, axis=1)
            writer.write_table(pa.Table.from_pandas(part, schema=schema, safe=True))


def _parquet_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    _import("pyarrow.parquet", f"reading {path.name}", SAFE_EXTRA)
    import pandas as pd

    return pd.read_parquet(path, engine="pyarrow")


def _skops_dump(obj: Any, out: IO[bytes]) -> None:
    import skops.io

    skops.io.dump(obj, out)  # skops builds its zip in memory itself, then writes it here once


def _skops_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    sio = _import("skops.io", f"reading {path.name}", SAFE_EXTRA)
    allowed = list(trusted or [])
    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in allowed]
    if untrusted:
        listed = ", ".join(untrusted)
        raise SerializationError(
            f"{path.name} holds types that skops does not trust by default: {listed}. "
            "Loading them could run code or crash on a file someone crafted; if you trust "
            f"this registry, load it with exp.load_model(trusted={untrusted!r})"
        )
    return sio.load(path, trusted=allowed or None)


def _torch_dump(module: Any, out: IO[bytes]) -> None:
    import torch

    torch.save(module.state_dict(), out)


def _torch_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    torch = _import("torch", f"reading {path.name}", TORCH_EXTRA)
    return torch.load(path, weights_only=True, map_location="cpu")


def _protocol_dump(obj: Any, out: IO[bytes]) -> None:
    getattr(obj, PROTOCOL_DUMP)(out)


def _protocol_load(path: Path, entry: Mapping[str, Any], trusted: Sequence[str] | None) -> Any:
    type_ = entry.get("type")
    if not type_:
        raise SerializationError(f"{path}: no type recorded for a protocol artifact")
    module_name, _, qualname = str(type_).rpartition(".")
    cls: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    return getattr(cls, PROTOCOL_LOAD)(path)


SERIALIZERS: dict[str, Serializer] = {
    s.name: s
    for s in (
        Serializer("joblib", "joblib", _joblib_dump, _joblib_load, runs_code_on_load=True),
        Serializer("pickle", "pickle", _pickle_dump, _pickle_load, runs_code_on_load=True),
        Serializer("protocol", None, _protocol_dump, _protocol_load, runs_code_on_load=True),
        Serializer("text", "txt", _text_dump, _text_load, runs_code_on_load=False),
        Serializer("json", "value.json", _json_dump, _json_load, runs_code_on_load=False),
        Serializer("npy", "npy", _npy_dump, _npy_load, runs_code_on_load=False),
        Serializer("npz", "npz", _npz_dump, _npz_load, runs_code_on_load=False),
        Serializer(
            "parquet", "parquet", _parquet_dump, _parquet_load, runs_code_on_load=False,
            requires=("pyarrow.parquet",), extra=SAFE_EXTRA,
        ),
        Serializer(
            "skops", "skops", _skops_dump, _skops_load, runs_code_on_load=False,
            requires=("skops.io",), extra=SAFE_EXTRA,
        ),
        Serializer("torch", "pt", _torch_dump, _torch_load, runs_code_on_load=False),
    )
}

#: The serializer of each role when the object has no more specific one (the seed's).
DEFAULTS = {"model": "joblib", "data": "joblib", "results": "pickle", "artifact": "pickle"}

#: What ``safe=True`` accepts per role, as the error message lists it.
SAFE_TYPES = {
    "model": "a scikit-learn estimator (skops) or a torch.nn.Module (its state dict)",
    "data": "a numpy array (npy), a tuple, list or dict of numpy arrays (npz), "
    "or a pandas DataFrame (parquet)",
    "results": "a JSON value: a string (such as a classification report), a number, "
    "or lists and dicts (string keys) of them",
    "artifact": "a numpy array (npy) or a JSON value (json)",
}


def type_name(obj: Any) -> str:
    """``module.QualName`` of an object's type, as recorded in the manifest."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


# -- recognising types without importing their libraries -----------------------------------


def is_torch_module(obj: Any) -> bool:
    """A ``torch.nn.Module``: only possible when torch is imported already, so never imports it."""
    torch = sys.modules.get("torch")
    nn = getattr(torch, "nn", None)
    module_cls = getattr(nn, "Module", None)
    return isinstance(module_cls, type) and isinstance(obj, module_cls)


def _is_sklearn_estimator(obj: Any) -> bool:
    return any(c.__module__.split(".")[0] == "sklearn" for c in type(obj).__mro__) and hasattr(
        obj, "get_params"
    )


def _is_plain_array(obj: Any) -> bool:
    """A numpy ndarray (or memmap) of fixed-size values: no Python objects inside."""
    numpy = sys.modules.get("numpy")
    if numpy is None or type(obj) not in (numpy.ndarray, numpy.memmap):
        return False
    return not obj.dtype.hasobject


def _is_data_frame(obj: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and type(obj) is pandas.DataFrame


def _npz_problem(obj: Any) -> str | None:
    """Why ``obj`` cannot be an npz container (None when it can)."""
    if not isinstance(obj, (tuple, list, Mapping)) or type(obj) not in (tuple, list, dict):
        return "it is not a plain tuple, list or dict"
    values = obj.values() if isinstance(obj, Mapping) else obj
    for key in obj if isinstance(obj, Mapping) else ():
        if not isinstance(key, str) or not key or any(c in key for c in "/\\\x00"):
            return f"its key {key!r} is not a plain string (no slashes)"
    for value in values:
        if not _is_plain_array(value):
            return f"it holds a {type_name(value)}, not a numpy array of numbers"
    return None


def _frame_problem(frame: Any) -> str | None:
    columns = frame.columns
    if not columns.is_unique:
        return "its column names repeat, which parquet cannot store"
    if str(getattr(columns, "inferred_type", "")).startswith("mixed"):
        return "its column names mix types, which parquet turns into strings"
    return None


def is_json_value(obj: Any, _depth: int = 0) -> bool:
    """JSON that reads back as the same value: no tuples, no NaN, string keys only."""
    if _depth > 100:
        return False
    if obj is None or isinstance(obj, (bool, int, str)):
        return True
    if isinstance(obj, float):
        return math.isfinite(obj)
    if type(obj) is list:
        return all(is_json_value(v, _depth + 1) for v in obj)
    if type(obj) is dict:
        return all(
            isinstance(k, str) and is_json_value(v, _depth + 1) for k, v in obj.items()
        )
    return False


def _safe_choice(obj: Any, role: str) -> Serializer | str:
    """The safe serializer for ``obj`` in ``role``, or why there is none."""
    if role == "model":
        if _is_sklearn_estimator(obj):
            return SERIALIZERS["skops"]
    elif role == "data":
        if _is_plain_array(obj):
            return SERIALIZERS["npy"]
        if _is_data_frame(obj):
            return _frame_problem(obj) or SERIALIZERS["parquet"]
        if isinstance(obj, (tuple, list, Mapping)):
            return _npz_problem(obj) or SERIALIZERS["npz"]
    elif role == "results":
        if is_json_value(obj):
            return SERIALIZERS["json"]
    elif role == "artifact":
        if _is_plain_array(obj):
            return SERIALIZERS["npy"]
        if is_json_value(obj):
            return SERIALIZERS["json"]
    return ""


def choose(obj: Any, role: str, *, safe: bool = False, label: str | None = None) -> Serializer:
    """How ``obj`` will be stored in ``role`` (``model``, ``data``, ``results``, ``artifact``).

    Called before anything is written, so that every error comes first.

    Raises:
        SerializationError: under ``safe=True``, ``obj`` has no format that cannot run code
        on load (the message names its type and what is accepted); or the library its format
        needs is not installed (the message names the extra to install).
    """
    label = label or role
    if role == "model" and is_torch_module(obj):
        return SERIALIZERS["torch"]
    if not safe:
        if hasattr(type(obj), PROTOCOL_DUMP):
            return SERIALIZERS["protocol"]
        return SERIALIZERS[DEFAULTS[role]]
    choice = _safe_choice(obj, role)
    if isinstance(choice, str):
        why = f" ({choice})" if choice else ""
        raise SerializationError(
            f"{label} of type {type_name(obj)} has no safe format{why}; with safe=True, "
            f"{label} can be {SAFE_TYPES[role]}. Convert it, or register without safe=True "
            "(joblib/pickle, which can run code when loaded)"
        )
    for module in choice.requires:
        _import(module, f"storing {label} as {choice.name} (safe=True)", choice.extra)
    return choice


def artifact_suffix(serializer: Serializer, role: str) -> str:
    """The file suffix for a standard artifact: the serializer's, or the role's seed name's."""
    return serializer.suffix or SERIALIZERS[DEFAULTS[role]].suffix or ""


def dump(obj: Any, out: IO[bytes], serializer: Serializer, role: str) -> dict[str, Any]:
    """Write ``obj`` to ``out`` with ``serializer`` (from :func:`choose`); returns the manifest
    fields that say how to read it back (``serializer``, ``type``, ``container``…).

    Raises:
        SerializationError: the object cannot be stored; the message names its type.
    """
    try:
        extra = serializer.dump(obj, out)
    except LineageError:
        raise  # SerializationError, or StorageError from a full disk: already clear
    except Exception as exc:
        hint = (
            f"Pass a picklable object, or give its class a {PROTOCOL_DUMP}(self, out) method "
            f"and a {PROTOCOL_LOAD}(cls, path) classmethod."
            if serializer.runs_code_on_load
            else "Convert it to one of the types the format takes."
        )
        raise SerializationError(
            f"{role} of type {type_name(obj)} cannot be serialized with {serializer.name}: "
            f"{exc}. {hint}"
        ) from exc
    return {"serializer": serializer.name, "type": type_name(obj), **(extra or {})}


def load(
    path: Path, entry: Mapping[str, Any], *, trusted: Sequence[str] | None = None
) -> Any:
    """Read an artifact back as its manifest ``entry`` says (serializer, type, container).

    Trusted registries only for joblib, pickle and protocol entries: they can run code. The
    other formats never do; skops refuses types it does not trust unless they are listed in
    ``trusted``.
    """
    name = entry.get("serializer", "joblib")
    try:
        serializer = SERIALIZERS[name]
    except KeyError:
        raise SerializationError(
            f"{path}: unknown serializer {name!r}; known: {', '.join(SERIALIZERS)}"
        ) from None
    return serializer.load(path, entry, trusted)


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
