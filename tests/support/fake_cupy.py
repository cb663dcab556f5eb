"""A strict stand-in for CuPy 14, backed by NumPy, so the "cuda" path runs on CI without a GPU.

The test suite installs it as `cupy` (and `fake_cupyx` as `cupyx`) when TINYGRAD_GPT_FAKE_CUPY=1
(tests/conftest.py); the library imports `cupy` as always and cannot tell. It is strict exactly where
CuPy differs from NumPy, so code that works on it fails on a real GPU only for reasons listed under
"cannot model" below. Each modelled behaviour was checked against CuPy v14.2.0's documentation
("Differences between CuPy and NumPy") or its source (cupy/_core/core.pyx, _routines_indexing.pyx,
cupy/random/_generator_api.pyx, _bit_generator.pyx):

Models
- Device arrays are their own class, not numpy.ndarray subclasses. np.asarray(a) / a.__array__()
  raise CuPy's TypeError; a.get() (and cupy.asnumpy) is the way back to the host.
- Functions and ufuncs refuse numpy.ndarray operands (TypeError: Unsupported type <class
  'numpy.ndarray'>), also when NumPy dispatches to them (`host_array + device_array`); Python and
  NumPy scalars are fine. cupy.array/asarray copy host data to the device.
- Reductions and integer indexing give 0-d device arrays, never NumPy scalars (x[0] is a view).
- Assigning through a basic index (ints, slices) takes a device array or a scalar: a non-scalar
  NumPy array or list fails as CuPy's ndarray.fill does (ValueError: non-scalar numpy.ndarray cannot
  be used for fill). Through an integer or bool array index, host values are copied over, as CuPy does.
- Integer array indices out of range wrap around silently (index mod size, CuPy's default); an out of
  range Python int index raises IndexError, as in CuPy.
- Every device-to-host read is recorded in `host_reads`: get(), item(), tolist(), int/float/bool/
  complex(), repr/str/format, pickling, nonzero/unique, and boolean-mask indexing (get and set), which
  in CuPy reads the mask's count back (_prepare_mask_indexing_single: int(mask_scanned[-1])).
- No floating-point warnings: a GPU kernel does not warn on overflow, division by zero or NaN.
- cupy.random.default_rng gives a Generator with only methods CuPy's has (no permutation, shuffle,
  choice; its bit_generator.state is a method returning a device pointer, not a state to save).
- CUDA graphs: a non-default Stream records (begin_capture / end_capture; `with stream:` makes it current,
  using_allocator and MemoryPool exist), and while it does every host read raises CUDA's
  cudaErrorStreamCaptureUnsupported, as on a GPU, and matmul/dot/einsum raise CuPy's NotImplementedError
  (CuPy refuses cuBLAS during a capture); so do copies from the host (cupy.array of host arrays, and
  concatenate/stack of more than 8 arrays, which CuPy makes with a table of addresses copied from the
  host): a graph would replay such a copy from whatever the host memory then holds, where CUDA does not
  refuse it outright. tests/support/fake_cupy_cublas.py stands for the cuBLAS library
  that tensor/cublas.py then calls itself: its strided-batched GEMMs on the arrays' memory, column-major.
  A captured operation is recorded, not run: after end_capture, arrays from before the capture hold
  their old values and arrays made during it garbage, and Graph.launch() runs every recorded operation
  again, in order, on the memory it recorded, reading what that memory then holds; a launch that would
  touch freed memory raises where CuPy's pool may have given it away: memory from before the capture,
  and memory the capture took from the default pool rather than from a pool of its own
  (using_allocator). tests/support/fake_cupy_graph.py.
- cupy.cuda: runtime.getDeviceCount/getDeviceProperties/memGetInfo, Device(i).synchronize()/use(),
  one device unless a test sets cupy.cuda.runtime.device_count; cupyx.scatter_add (integer indices
  wrap, repeated indices accumulate); cupyx.scipy.special.erf; the default memory pool's used_bytes,
  total_bytes and free_all_blocks (live arrays' bytes, rounded up to CuPy's 512-byte blocks).
- empty() arrays hold NaN (floats) or the dtype's largest value (ints): CuPy's are uninitialised,
  and a read of memory never written then shows instead of passing by luck.

Cannot model
- Numerics: the results are NumPy's (float32 sums, matmul, erf, exp may differ in the last bits on a
  GPU; cuBLAS may use TF32 where allowed); random streams are NumPy's PCG64, not cuRAND's.
- Timing and asynchrony: every call runs synchronously on the host, so a missing synchronize() before
  reading a clock, or a race between streams, goes unnoticed; only host reads are counted.
- Memory: nothing runs out of device memory; views keep NumPy's read-only flags (broadcast_to) where
  CuPy would let a write through; duplicate indices in an assignment store the last value (NumPy's
  order) where CuPy's is undefined; empty-slice copies from the host (CUPY_EXPERIMENTAL_SLICE_COPY)
  are not modelled.
- Graph replay: a launch runs the recorded NumPy operations, not kernels; memory is never handed out twice,
  so a replay cannot actually overwrite an array made after the capture (the launch's refusal above
  stands for that; tests/cuda/test_graphs.py checks it on a GPU). A random draw while capturing raises
  NotImplementedError here (the library refuses it before).
- Compiled kernels: there is no ElementwiseKernel, so the library's one kernel (Adam's step,
  tensor/optim/optimizer.py) runs as its array operations here; on a GPU the "cuda" cases of
  tests/tensor/test_optim.py and the conformance programs prove the kernel gives the same numbers
  (they caught a first version, written with cupy.fuse, that did not).
- Only the part of CuPy this project uses exists; anything else is an AttributeError here.
"""

import builtins
import sys

import numpy as np

from . import fake_cupy_cuda as cuda
from . import fake_cupy_ndarray
from . import fake_cupy_random as random
from .fake_cupy_graph import launch
from .fake_cupy_ndarray import _arguments, _empty_host, _ufunc_operand, _unwrap, _wrap, host_reads, ndarray

__version__ = "14.0.0+numpy.standin"

# dtypes and constants are NumPy's own objects in CuPy too
for _name in (
    "bool_ complex64 complex128 dtype e finfo float16 float32 float64 iinfo inf int8 int16 int32 int64 nan newaxis pi "
    "promote_types result_type uint8 uint16 uint32 uint64"
).split():
    globals()[_name] = getattr(np, _name)

# ----- functions and ufuncs: NumPy's, on the unwrapped data ------------------------------------------------


def _ufunc(name):
    numpy_ufunc = getattr(np, name)

    def ufunc(*operands, **kwargs):
        arrays, kwargs, out = _arguments(operands, kwargs, unwrap=_ufunc_operand)
        writes = () if out is None else (out._array,)
        with np.errstate(all="ignore"):
            return _wrap(launch(lambda: numpy_ufunc(*arrays, **kwargs), (arrays, kwargs), writes), out)

    ufunc.__name__ = ufunc.__qualname__ = name
    return ufunc


def _function(name, numpy_function=None, reads=False):
    numpy_function = numpy_function or getattr(np, name)

    def function(*args, **kwargs):
        args, kwargs, out = _arguments(args, kwargs)
        if reads:
            host_reads.record(name)
        writes = () if out is None else (out._array,)
        with np.errstate(all="ignore"):
            return _wrap(launch(lambda: numpy_function(*args, **kwargs), (args, kwargs), writes), out)

    function.__name__ = function.__qualname__ = name
    return function


def get_default_memory_pool():
    return fake_cupy_ndarray._memory_pool


# ----- the namespace ------------------------------------------------------------------------------------

_UFUNCS = (
    "absolute add arccos arcsin arctan bitwise_and bitwise_or bitwise_xor ceil cos cosh divide equal exp exp2 "
    "expm1 floor floor_divide fmax fmin fmod greater greater_equal invert isfinite isinf isnan less less_equal log "
    "log10 log1p log2 logical_and logical_not logical_or logical_xor matmul maximum minimum multiply negative "
    "not_equal power reciprocal remainder rint sign sin sinh sqrt square subtract tan tanh true_divide trunc where"
).split()
_FUNCTIONS = (
    "all amax amin any argmax argmin argsort ascontiguousarray broadcast_arrays broadcast_to clip "
    "concatenate cumsum diag dot einsum expand_dims flip isclose max mean min moveaxis outer prod repeat reshape "
    "round searchsorted sort split squeeze stack std sum swapaxes take tile transpose tril triu var"
).split()


def _make(fill):
    def creation(*args, **kwargs):
        args, kwargs = _unwrap(args), {key: _unwrap(value) for key, value in kwargs.items()}
        return ndarray._on_device(launch(lambda: fill(*args, **kwargs), (args, kwargs)))

    return creation


zeros, ones, full, arange, linspace, eye = (
    _make(np.zeros),
    _make(np.ones),
    _make(np.full),
    _make(np.arange),
    _make(np.linspace),
    _make(np.eye),
)


def empty(shape, dtype=float, order="C"):
    return ndarray._on_device(_empty_host(shape, dtype))


def zeros_like(a, dtype=None):
    return zeros(a.shape, dtype=dtype or a.dtype)


def ones_like(a, dtype=None):
    return ones(a.shape, dtype=dtype or a.dtype)


def empty_like(a, dtype=None):
    return empty(a.shape, dtype=dtype or a.dtype)


def full_like(a, fill_value, dtype=None):
    return full(a.shape, fill_value, dtype=dtype or a.dtype)


def _host_data(obj):
    """Anything array-like to NumPy data: device arrays (also inside lists) unwrapped, host data copied."""
    if isinstance(obj, ndarray):
        return obj._array
    if isinstance(obj, (list, tuple)):
        return [_host_data(item) for item in obj]
    return obj


def _refuse_host_copy_while_capturing(what):
    """A copy from host memory recorded in a graph would be replayed from whatever that memory then holds
    (CUDA refuses one from pageable memory outright): refused while capturing."""
    if cuda.capturing is not None:
        raise cuda.CUDARuntimeError(f"{cuda.CAPTURE_ERROR} (a host-to-device copy: {what})")


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    # a scalar is no copy: CuPy fills a 0-d array with it by a kernel (cupy/_core/core.pyx, _array_default)
    if cuda.capturing is not None and not isinstance(obj, ndarray) and np.ndim(obj) > 0:
        _refuse_host_copy_while_capturing("cupy.array of host data")
    data = _host_data(obj)
    return ndarray._on_device(launch(lambda: np.array(data, dtype=dtype, copy=True, order=order, ndmin=ndmin), data))


def asarray(a, dtype=None, order=None):
    """A device array: `a` itself when it already is one of that dtype, else a copy on the device."""
    if isinstance(a, ndarray):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return array(a, dtype=dtype, order=order or "K")


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    return a.get() if isinstance(a, ndarray) else np.asarray(a, order=order)


def get_array_module(*args):
    return sys.modules[__name__] if builtins.any(isinstance(arg, ndarray) for arg in args) else np


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """A 0-d device array (CuPy's allclose does not read the answer back)."""
    a, b = _unwrap(a), _unwrap(b)
    return _wrap(launch(lambda: np.asarray(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)), (a, b)))


def array_equal(a1, a2, equal_nan=False):
    a1, a2 = _unwrap(a1), _unwrap(a2)
    return _wrap(launch(lambda: np.asarray(np.array_equal(a1, a2, equal_nan=equal_nan)), (a1, a2)))


def shape(a):
    return a.shape


def ndim(a):
    return a.ndim


def size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


abs = absolute = _ufunc("absolute")
around = _function("around", np.round)
nonzero = _function("nonzero", reads=True)
argwhere = _function("argwhere", reads=True)
flatnonzero = _function("flatnonzero", reads=True)
unique = _function("unique", reads=True)
count_nonzero = _function("count_nonzero")

for _name in _UFUNCS:
    if _name not in globals():
        globals()[_name] = _ufunc(_name)
for _name in _FUNCTIONS:
    if _name not in globals() and hasattr(np, _name):
        globals()[_name] = _function(_name)


def _cublas_refused_while_capturing(name):
    """CuPy's products call cuBLAS, and CuPy refuses cuBLAS while a stream captures (cublas.setStream)."""
    function = globals()[name]

    def guarded(*args, **kwargs):
        if cuda.capturing is not None:
            raise NotImplementedError("calling cuBLAS API during stream capture is currently unsupported")
        return function(*args, **kwargs)

    guarded.__name__ = guarded.__qualname__ = name
    return guarded


for _name in ("matmul", "dot", "einsum", "tensordot", "inner", "outer"):
    if _name in globals():
        globals()[_name] = _cublas_refused_while_capturing(_name)


def _joins_through_the_host(name):
    """CuPy joins more than 8 small arrays with one kernel that reads their addresses from a table it
    copies from the host (cupy/_core/_routines_manipulation.pyx, _concatenate_single_kernel)."""
    function = globals()[name]

    def join(arrays, *args, **kwargs):
        if cuda.capturing is not None and len(arrays) > 8:
            _refuse_host_copy_while_capturing(f"cupy.{name} of {len(arrays)} arrays copies their addresses")
        return function(arrays, *args, **kwargs)

    join.__name__ = join.__qualname__ = name
    return join


for _name in ("concatenate", "stack"):
    globals()[_name] = _joins_through_the_host(_name)

# the functions a device array's operators call, and NumPy hands over when its functions meet one
fake_cupy_ndarray.NAMESPACE.update(
    (name, value)
    for name, value in globals().items()
    if callable(value) and not isinstance(value, type) and not name.startswith("_")
)


def modules():
    """The module names the stand-in takes: cupy, cupy.cuda, cupy.random, cupyx, cupyx.scipy(.special)."""
    from . import fake_cupyx

    return {
        "cupy": sys.modules[__name__],
        "cupy.cuda": cuda,
        "cupy.random": random,
        "cupyx": fake_cupyx,
        "cupyx.scipy": fake_cupyx.scipy,
        "cupyx.scipy.special": fake_cupyx.special,
    }


def install():
    """Put the stand-in in sys.modules in place of CuPy, for the rest of the process."""
    sys.modules.update(modules())
