"""Fingerprints of data sets, read from memory before anything is serialized.

Two data sets with the same fingerprint hold the same values, shapes, dtypes, column names
and index, so lineage can reuse what it stored the first time instead of serializing and
writing gigabytes again. numpy and pandas are handled without importing them here: the
objects passed in bring their own modules.

A *sketch* is a cheap stand-in: the same walk over the data, but large byte ranges are fed
as their length and a few evenly spaced samples. Equal data always has equal sketches, so a
sketch never seen before proves the data is new, and registration can then fingerprint it
on one core while serializing it on the other instead of one after the other.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Mapping
from typing import Any

MAX_DEPTH = 8
_LIST_PICKLE_THRESHOLD = 1000  # longer lists of plain values are hashed as one pickle


class _Unknown(Exception):
    """A value the fingerprint cannot describe faithfully."""


def fingerprint(obj: Any) -> str | None:
    """``blake3:<hex>`` over the data's content, or None for objects of unknown types."""
    from .objects import hasher

    h = hasher()
    try:
        _feed(h, obj, 0)
    except _Unknown:
        return None
    return f"blake3:{h.hexdigest()}"


def sketch(obj: Any) -> str | None:
    """``blake3:<hex>`` over the data's structure and sampled bytes (microseconds), or None
    where a sketch would cost about as much as the fingerprint (object columns, copies)."""
    from blake3 import blake3

    h = _Sampler(blake3())
    try:
        _feed(h, obj, 0)
    except _Unknown:
        return None
    return f"blake3:{h.hexdigest()}"


class _Sampler:
    """A hasher that takes large updates as their length and a few samples of them."""

    SAMPLES = 64
    SAMPLE_BYTES = 64

    def __init__(self, h: Any) -> None:
        self._h = h
        self.hexdigest = h.hexdigest

    def update(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        size = view.nbytes
        if size <= 4 * self.SAMPLES * self.SAMPLE_BYTES:
            self._h.update(view)
            return
        self._h.update(struct.pack("<Q", size))
        step = (size - self.SAMPLE_BYTES) // (self.SAMPLES - 1)
        for i in range(self.SAMPLES):
            self._h.update(view[i * step : i * step + self.SAMPLE_BYTES])


def _tag(h: Any, kind: str, *parts: Any) -> None:
    text = "|".join([kind, *map(str, parts)]).encode()
    h.update(struct.pack("<Q", len(text)) + text)


def _module(obj: Any) -> str:
    return type(obj).__module__.split(".", 1)[0]


def _feed(h: Any, obj: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Unknown
    module = _module(obj)
    if module == "numpy" and hasattr(obj, "dtype") and hasattr(obj, "shape"):
        _feed_array(h, obj)
    elif module == "pandas" and hasattr(obj, "columns"):
        _tag(h, "frame", list(map(str, obj.columns)), [str(t) for t in obj.dtypes])
        _feed_index(h, obj.index)
        for _, column in obj.items():
            _feed_values(h, column)
    elif module == "pandas" and hasattr(obj, "dtype") and hasattr(obj, "index"):
        _tag(h, "series", obj.name, obj.dtype)
        _feed_index(h, obj.index)
        _feed_values(h, obj)
    elif obj is None or isinstance(obj, (bool, int, float, complex, str)):
        _tag(h, "scalar", type(obj).__name__, repr(obj))
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        _tag(h, "bytes", len(data))
        h.update(data)
    elif isinstance(obj, (list, tuple)):
        _tag(h, type(obj).__name__, len(obj))
        if len(obj) > _LIST_PICKLE_THRESHOLD and all(
            v is None or isinstance(v, (bool, int, float, str)) for v in obj
        ):
            h.update(pickle.dumps(list(obj), protocol=5))
        else:
            for item in obj:
                _feed(h, item, depth + 1)
    elif isinstance(obj, Mapping):
        _tag(h, "mapping", len(obj))
        for key, value in obj.items():
            _feed(h, key, depth + 1)
            _feed(h, value, depth + 1)
    else:
        raise _Unknown


def _feed_array(h: Any, array: Any) -> None:
    if array.dtype.hasobject:
        raise _Unknown  # object arrays have no stable bytes
    import numpy as np

    if isinstance(h, _Sampler) and not array.flags.c_contiguous:
        raise _Unknown  # a contiguous copy would cost as much as the fingerprint
    _tag(h, "ndarray", array.dtype.str, array.shape)
    data = np.ascontiguousarray(array)
    h.update(memoryview(data).cast("B") if data.ndim else data.tobytes())  # type: ignore[arg-type]


def _feed_values(h: Any, series: Any) -> None:
    """A column's values: raw bytes where it has them, pandas' row hashes otherwise."""
    values = series.to_numpy()
    if getattr(values, "dtype", None) is not None and not values.dtype.hasobject:
        _feed_array(h, values)
    elif isinstance(h, _Sampler):
        raise _Unknown  # hashing every row is the cost a sketch exists to avoid
    else:
        import pandas as pd

        _feed_array(h, pd.util.hash_pandas_object(series, index=False).to_numpy())


def _feed_index(h: Any, index: Any) -> None:
    if type(index).__name__ == "RangeIndex":
        _tag(h, "range", index.start, index.stop, index.step, index.name)
    else:
        import pandas as pd

        _tag(h, "index", index.dtype, index.names)
        _feed_array(h, pd.util.hash_pandas_object(index, index=False).to_numpy())
