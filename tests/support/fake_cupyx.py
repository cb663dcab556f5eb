"""cupyx of the stand-in: scatter_add and scipy.special.erf.

cupyx.scatter_add(a, slices, value) adds with atomics: repeated indices accumulate (NumPy's add.at),
integer indices out of range wrap as in any CuPy indexing, and a host value is copied to the device
only through an array index (through a basic index it goes to a ufunc, which refuses it).
erf is computed in float64 with math.erf and cast back: the numerics are the host's.
"""

import math
import types

import numpy as np

from . import fake_cupy_ndarray as device
from .fake_cupy_graph import launch


def scatter_add(a, slices, value):
    if not isinstance(a, device.ndarray):
        raise TypeError(f"scatter_add needs a cupy.ndarray, got {type(a)}")
    _, has_array, has_mask = device._device_key(slices, a.shape)
    if has_mask:
        device.host_reads.record("boolean mask scatter_add")
    if isinstance(value, device.ndarray):
        value = value._array
    elif isinstance(value, np.ndarray) and not has_array:
        raise device._unsupported(value)
    array, slices = a._array, device._data_key(slices)
    launch(lambda: np.add.at(array, device._device_key(slices, array.shape)[0], value), (slices, value), (array,))


_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x, out=None):
    host = device._ufunc_operand(x)
    dtype = host.dtype if isinstance(host, np.ndarray) and host.dtype.kind == "f" else np.dtype(np.float64)
    result = device.ndarray._on_device(launch(lambda: np.asarray(_erf(host), dtype=dtype), (host,)))
    if out is None:
        return result
    out[...] = result
    return out


special = types.ModuleType("cupyx.scipy.special")
special.erf = erf
scipy = types.ModuleType("cupyx.scipy")
scipy.special = special
