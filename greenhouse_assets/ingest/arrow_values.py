"""Arrow values to and from Python and NumPy without pyarrow's conversions, which import pandas.

`pa.scalar(1)`, a plain number passed to a compute function and `Array.to_numpy()` all import pandas
on first use: ≈ 0.25 s of a `greenhouse ingest` (on the thread that feeds the COPY), which needs
nothing else of pandas. tests/test_definitions.py holds the command path free of it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_NUMPY = {pa.int64(): np.int64, pa.uint8(): np.uint8}


def int64_scalar(value: int) -> pa.Int64Scalar:
    """`pa.scalar(value, pa.int64())`, built from its bytes."""
    return pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(np.array([value], np.int64).tobytes())])[0]


def numpy_view(array: pa.Array) -> np.ndarray:
    """`array.to_numpy()` of a null-free int64 or uint8 array: a view of its values buffer."""
    if array.null_count:
        raise ValueError(f"{array.type} array with {array.null_count} nulls: fill them first")
    dtype = np.dtype(_NUMPY[array.type])
    return np.frombuffer(array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)
