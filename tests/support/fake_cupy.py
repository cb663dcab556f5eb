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
- Only the part of CuPy this project uses exists; anything else is an AttributeError here.
"""

import builtins
import sys
import weakref

import numpy as np

from . import fake_cupy_cuda as cuda
from . import fake_cupy_random as random

__version__ = "14.0.0+numpy.standin"

# dtypes and constants are NumPy's own objects in CuPy too
for _name in (
    "bool_ complex64 complex128 dtype e finfo float16 float32 float64 iinfo inf int8 int16 int32 int64 nan newaxis pi "
    "promote_types result_type uint8 uint16 uint32 uint64"
).split():
    globals()[_name] = getattr(np, _name)

_SCALARS = (bool, int, float, complex, np.generic)


# ----- device-to-host reads -----------------------------------------------------------------------------


class HostReads:
    """Every device-to-host read, as (what, where) pairs; `where` is the first caller outside this package."""

    def __init__(self):
        self.log = []

    def __len__(self):
        return len(self.log)

    def record(self, what):
        frame = sys._getframe(1)
        while frame is not None and frame.f_globals.get("__name__", "").startswith(__package__):
            frame = frame.f_back
        where = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"
        self.log.append((what, where))


host_reads = HostReads()


# ----- memory pool --------------------------------------------------------------------------------------


class MemoryPool:
    """The bytes of live device arrays, each rounded up to CuPy's 512-byte allocation unit."""

    def __init__(self):
        self._used = 0
        self._total = 0

    def _allocate(self, array):
        size = -(-array.nbytes // 512) * 512
        self._used += size
        self._total = builtins.max(self._total, self._used)
        weakref.finalize(array, self._release, size)

    def _release(self, size):
        self._used -= size

    def used_bytes(self):
        return self._used

    def total_bytes(self):
        return self._total

    def free_bytes(self):
        return self._total - self._used

    def free_all_blocks(self):
        self._total = self._used


_memory_pool = MemoryPool()


def get_default_memory_pool():
    return _memory_pool


# ----- operands and results -----------------------------------------------------------------------------


def _unsupported(value):
    return TypeError(f"Unsupported type {type(value)}")


def _ufunc_operand(value):
    """A ufunc takes device arrays and scalars only (not lists, not NumPy arrays)."""
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, _SCALARS):
        return value
    raise _unsupported(value)


def _unwrap(value):
    """Device arrays (also inside lists and tuples) to their NumPy data; a NumPy array is refused."""
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, np.ndarray):
        raise _unsupported(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(item) for item in value)
    return value


def _wrap(result, out=None):
    """NumPy results back to device arrays; NumPy scalars become 0-d device arrays."""
    if out is not None and result is out._array:
        return out
    if isinstance(result, np.ndarray):
        return ndarray._on_device(result)
    if isinstance(result, np.generic):
        return ndarray._on_device(np.asarray(result))
    if isinstance(result, (list, tuple)):
        return type(result)(_wrap(item) for item in result)
    return result


def _out_argument(kwargs):
    out = kwargs.get("out")
    if out is None:
        return None
    if isinstance(out, tuple):
        (out,) = out
    if not isinstance(out, ndarray):
        raise TypeError(f"Output arrays must be cupy.ndarray, got {type(out)}")
    kwargs["out"] = out._array
    return out


def _ufunc(name):
    numpy_ufunc = getattr(np, name)

    def ufunc(*operands, **kwargs):
        out = _out_argument(kwargs)
        arrays = [_ufunc_operand(x) for x in operands]
        with np.errstate(all="ignore"):
            return _wrap(numpy_ufunc(*arrays, **kwargs), out)

    ufunc.__name__ = ufunc.__qualname__ = name
    return ufunc


def _function(name, numpy_function=None, reads=False):
    numpy_function = numpy_function or getattr(np, name)

    def function(*args, **kwargs):
        out = _out_argument(kwargs)
        if reads:
            host_reads.record(name)
        args, kwargs = _unwrap(args), {key: _unwrap(value) for key, value in kwargs.items()}
        with np.errstate(all="ignore"):
            return _wrap(numpy_function(*args, **kwargs), out)

    function.__name__ = function.__qualname__ = name
    return function


# ----- indexing -----------------------------------------------------------------------------------------


def _device_key(key, shape):
    """(NumPy key, has an array index, has a bool mask): integer array indices wrapped into range."""
    items = []
    for item in key if isinstance(key, tuple) else (key,):
        if isinstance(item, ndarray):
            item = item._array
        elif isinstance(item, list):  # host index data is copied to the device, as CuPy does
            item = np.asarray(item) if item else np.zeros(0, dtype=np.int32)
        items.append(item)
    consumed = builtins.sum(
        item.ndim if isinstance(item, np.ndarray) and item.dtype == np.bool_ else 1
        for item in items
        if item is not None and item is not Ellipsis
    )
    dim, has_array, has_mask = 0, False, False
    for position, item in enumerate(items):
        if item is None:
            continue
        if item is Ellipsis:
            dim += len(shape) - consumed
            continue
        if isinstance(item, np.ndarray):
            has_array = True
            if item.dtype == np.bool_:
                has_mask = True
                dim += item.ndim
                continue
            if item.dtype.kind in "iu" and dim < len(shape) and shape[dim] > 0:
                items[position] = np.mod(item, shape[dim])  # CuPy wraps out-of-range indices
        dim += 1
    return tuple(items), has_array, has_mask


# ----- the device array ---------------------------------------------------------------------------------


class ndarray:
    """A device array: NumPy data that the host may read only through get() (or a counted conversion)."""

    __slots__ = ("_array", "__weakref__")
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float):
        self._array = _empty_host(shape, dtype)
        _memory_pool._allocate(self._array)

    @classmethod
    def _on_device(cls, array):
        out = object.__new__(cls)
        out._array = array
        if array.base is None:
            _memory_pool._allocate(array)
        return out

    # what it is
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    nbytes = property(lambda self: self._array.nbytes)
    itemsize = property(lambda self: self._array.itemsize)
    strides = property(lambda self: self._array.strides)
    flags = property(lambda self: self._array.flags)
    T = property(lambda self: _wrap(self._array.T))
    device = property(lambda self: cuda.Device(0))

    @property
    def __cuda_array_interface__(self):
        """Shape and type as CUDA's protocol gives them; the pointer is a host address nothing may read through."""
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self._array.__array_interface__["data"][0], False),
            "strides": None if self._array.flags.c_contiguous else self.strides,
            "version": 3,
        }

    # the ways back to the host: each is a device-to-host read
    def get(self, stream=None, order="C", out=None, blocking=True):
        host_reads.record("get()")
        return np.array(self._array, order=order, copy=True)

    def _read(self, what):
        host_reads.record(what)
        return self._array

    def item(self):
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self._read("item()").item()

    def tolist(self):
        return self._read("tolist()").tolist()

    def __int__(self):
        return int(self._read("int()"))

    def __float__(self):
        return float(self._read("float()"))

    def __complex__(self):
        return complex(self._read("complex()"))

    def __bool__(self):
        if self.size == 0:
            return False
        if self.size == 1:
            return bool(self._read("bool()"))
        raise ValueError("The truth value of an array with more than one element is ambiguous. Use a.any() or a.all()")

    def __repr__(self):
        return repr(self._read("repr()"))

    def __str__(self):
        return str(self._read("str()"))

    def __format__(self, spec):
        return format(self._read("format()"), spec)

    def __reduce__(self):
        return array, (self.get(),)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        implementation = _NAMESPACE.get(ufunc.__name__)
        if method != "__call__" or implementation is None:
            return NotImplemented
        return implementation(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        implementation = _NAMESPACE.get(func.__name__)
        if implementation is None:
            return NotImplemented
        return implementation(*args, **kwargs)

    # container
    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, key):
        key, has_array, has_mask = _device_key(key, self.shape)
        if has_mask:
            host_reads.record("boolean mask indexing")
        if not has_array and not builtins.any(item is Ellipsis for item in key):
            key += (Ellipsis,)  # an int index gives a 0-d view, not a NumPy scalar
        return _wrap(self._array[key])

    def __setitem__(self, key, value):
        key, has_array, has_mask = _device_key(key, self.shape)
        if has_mask:
            host_reads.record("boolean mask assignment")
        if isinstance(value, ndarray):
            value = value._array
        elif not has_array:  # CuPy's fill: a host value must be a scalar
            if np.asarray(value).shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        elif not isinstance(value, _SCALARS):
            value = np.array(value)  # copied to the device, as CuPy does for array indices
        self._array[key] = value

    def fill(self, value):
        if isinstance(value, ndarray):
            if value.shape != ():
                raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
            value = value._array
        elif np.asarray(value).shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        self._array.fill(value)

    def nonzero(self):
        host_reads.record("nonzero()")
        return _wrap(self._array.nonzero())

    # arithmetic: the ufuncs, which refuse NumPy arrays; a Tensor (or anything that opts out of
    # NumPy's ufuncs) gets its reflected method called instead, as CuPy's _should_use_rop does
    def _binary(ufunc_name, reflected=False, inplace=False):
        def method(self, other):
            if getattr(type(other), "__array_ufunc__", True) is None:
                return NotImplemented
            ufunc = _NAMESPACE[ufunc_name]
            if inplace:
                return ufunc(self, other, out=self)
            return ufunc(other, self) if reflected else ufunc(self, other)

        return method

    __add__, __radd__, __iadd__ = _binary("add"), _binary("add", True), _binary("add", inplace=True)
    __sub__, __rsub__, __isub__ = _binary("subtract"), _binary("subtract", True), _binary("subtract", inplace=True)
    __mul__, __rmul__, __imul__ = _binary("multiply"), _binary("multiply", True), _binary("multiply", inplace=True)
    __truediv__, __rtruediv__ = _binary("true_divide"), _binary("true_divide", True)
    __itruediv__ = _binary("true_divide", inplace=True)
    __floordiv__, __rfloordiv__ = _binary("floor_divide"), _binary("floor_divide", True)
    __mod__, __rmod__ = _binary("remainder"), _binary("remainder", True)
    __pow__, __rpow__, __ipow__ = _binary("power"), _binary("power", True), _binary("power", inplace=True)
    __matmul__, __rmatmul__ = _binary("matmul"), _binary("matmul", True)
    __and__, __rand__, __iand__ = (
        _binary("bitwise_and"),
        _binary("bitwise_and", True),
        _binary("bitwise_and", inplace=True),
    )
    __or__, __ror__, __ior__ = _binary("bitwise_or"), _binary("bitwise_or", True), _binary("bitwise_or", inplace=True)
    __xor__, __rxor__ = _binary("bitwise_xor"), _binary("bitwise_xor", True)
    __lt__, __le__ = _binary("less"), _binary("less_equal")
    __gt__, __ge__ = _binary("greater"), _binary("greater_equal")

    def __eq__(self, other):
        if other is None:
            return zeros(self.shape, dtype=np.bool_)  # CuPy: None is equal to no element
        if isinstance(other, np.ndarray) and other.ndim == 0:
            other = other.item()
        return (
            NotImplemented
            if getattr(type(other), "__array_ufunc__", True) is None
            else _NAMESPACE["equal"](self, other)
        )

    def __ne__(self, other):
        if other is None:
            return ones(self.shape, dtype=np.bool_)
        if isinstance(other, np.ndarray) and other.ndim == 0:
            other = other.item()
        return (
            NotImplemented
            if getattr(type(other), "__array_ufunc__", True) is None
            else _NAMESPACE["not_equal"](self, other)
        )

    del _binary

    def __neg__(self):
        return _NAMESPACE["negative"](self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _NAMESPACE["absolute"](self)

    def __invert__(self):
        return _NAMESPACE["invert"](self)


def _method(name):
    def method(self, *args, **kwargs):
        out = _out_argument(kwargs)
        args, kwargs = _unwrap(args), {key: _unwrap(value) for key, value in kwargs.items()}
        with np.errstate(all="ignore"):
            return _wrap(getattr(self._array, name)(*args, **kwargs), out)

    method.__name__ = name
    return method


for _name in (
    "all any argmax argmin argsort astype clip copy cumsum dot flatten max mean min prod ravel repeat reshape "
    "round sort squeeze std sum swapaxes take transpose var view"
).split():
    setattr(ndarray, _name, _method(_name))


def _empty_host(shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f" or dtype.kind == "c":
        return np.full(shape, np.nan, dtype=dtype)
    if dtype.kind in "iu":
        return np.full(shape, np.iinfo(dtype).max, dtype=dtype)
    return np.zeros(shape, dtype=dtype)


# ----- the namespace ------------------------------------------------------------------------------------

_UFUNCS = (
    "absolute add arccos arcsin arctan bitwise_and bitwise_or bitwise_xor ceil cos cosh divide equal exp exp2 "
    "expm1 floor floor_divide fmax fmin greater greater_equal invert isfinite isinf isnan less less_equal log "
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
        return ndarray._on_device(fill(*_unwrap(args), **{key: _unwrap(value) for key, value in kwargs.items()}))

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


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    return ndarray._on_device(np.array(_host_data(obj), dtype=dtype, copy=True, order=order, ndmin=ndmin))


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
    return _wrap(np.asarray(np.allclose(_unwrap(a), _unwrap(b), rtol=rtol, atol=atol, equal_nan=equal_nan)))


def array_equal(a1, a2, equal_nan=False):
    return _wrap(np.asarray(np.array_equal(_unwrap(a1), _unwrap(a2), equal_nan=equal_nan)))


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

# what NumPy hands over when one of its functions or ufuncs meets a device array
_NAMESPACE = {
    name: value
    for name, value in globals().items()
    if callable(value)
    and not isinstance(value, type)
    and not name.startswith("_")
    and name not in ("install", "modules")
}


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
