"""The stand-in's device array (tests/support/fake_cupy.py says what it models): NumPy data that the
host reads only through get() or a counted conversion, with CuPy's indexing and operand rules."""

import builtins
import sys
import weakref

import numpy as np

from . import fake_cupy_cuda as cuda
from .fake_cupy_graph import allocated, launch, storage_of

_SCALARS = (bool, int, float, complex, np.generic)
NAMESPACE = {}  # the cupy namespace's functions by name, filled in by fake_cupy: operators call its ufuncs
_owners = weakref.WeakValueDictionary()  # id of NumPy data that owns its memory -> the device array around it


# ----- device-to-host reads -----------------------------------------------------------------------------


class HostReads:
    """Every device-to-host read, as (what, where) pairs; `where` is the first caller outside this package."""

    def __init__(self):
        self.log = []

    def __len__(self):
        return len(self.log)

    def record(self, what):
        if cuda.capturing is not None:  # CUDA refuses a read of the device while a stream records a graph
            raise cuda.CUDARuntimeError(f"{cuda.CAPTURE_ERROR} ({what})")
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


class MemoryPointer:
    """cupy.cuda.MemoryPointer's `ptr`: here the host address of the NumPy data (fake_cupy_cublas reads it)."""

    def __init__(self, ptr):
        self.ptr = ptr


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


def _arguments(args, kwargs, unwrap=_unwrap):
    """(NumPy args, NumPy kwargs, the `out` device array or None): `out` must be a device array."""
    out = kwargs.pop("out", None)
    if isinstance(out, tuple):
        (out,) = out
    if out is not None and not isinstance(out, ndarray):
        raise TypeError(f"Output arrays must be cupy.ndarray, got {type(out)}")
    args, kwargs = [unwrap(a) for a in args], {key: _unwrap(value) for key, value in kwargs.items()}
    if out is not None:
        kwargs["out"] = out._array
    return args, kwargs, out


# ----- indexing -----------------------------------------------------------------------------------------


def _data_key(key):
    """An index with its device arrays replaced by their NumPy data: what a recorded kernel may hold (a
    kernel that held the device arrays would keep them alive, where on a GPU it holds only addresses)."""
    if isinstance(key, tuple):
        return tuple(item._array if isinstance(item, ndarray) else item for item in key)
    return key._array if isinstance(key, ndarray) else key


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


class _Flags:
    """CuPy's ndarray.flags: contiguity and ownership only (no `writeable`: every CuPy array is writable)."""

    def __init__(self, flags):
        self.c_contiguous, self.f_contiguous, self.owndata = flags.c_contiguous, flags.f_contiguous, flags.owndata

    def __getitem__(self, name):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous, "OWNDATA": self.owndata}[name]


class ndarray:
    """A device array: NumPy data that the host may read only through get() (or a counted conversion)."""

    __slots__ = ("_array", "_base", "__weakref__")
    __array_priority__ = 100
    __hash__ = None

    def __init__(self, shape, dtype=float):
        self._array, self._base = _empty_host(shape, dtype), None
        _memory_pool._allocate(self._array)
        _owners[id(self._array)] = self
        allocated(self._array)

    @classmethod
    def _on_device(cls, array):
        """The device array around NumPy data: the one that already owns it, or a new owner, or a view
        whose `base` is its storage's owner (as CuPy's views keep the array they look at alive)."""
        owner = _owners.get(id(array))
        if owner is not None and owner._array is array:
            return owner  # as CuPy returns `a` itself from a.astype(a.dtype, copy=False)
        out = object.__new__(cls)
        out._array, out._base = array, None
        if array.base is None:
            _memory_pool._allocate(array)
            _owners[id(array)] = out
            allocated(array)
        else:
            storage = storage_of(array)
            out._base = cls._on_device(storage) if storage.base is None else None
        return out

    base = property(lambda self: self._base)

    # what it is
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    nbytes = property(lambda self: self._array.nbytes)
    itemsize = property(lambda self: self._array.itemsize)
    data = property(lambda self: MemoryPointer(self._array.ctypes.data))  # .data.ptr: the first element's address
    strides = property(lambda self: self._array.strides)
    flags = property(lambda self: _Flags(self._array.flags))
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
        return NAMESPACE["array"], (self.get(),)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy array explicitly."
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        implementation = NAMESPACE.get(ufunc.__name__)
        if method != "__call__" or implementation is None:
            return NotImplemented
        return implementation(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        implementation = NAMESPACE.get(func.__name__)
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
        _, has_array, has_mask = _device_key(key, self.shape)
        if has_mask:
            host_reads.record("boolean mask indexing")
        array, key = self._array, _data_key(key)

        def index():  # the key made again by each replay: an index array's values are read when it runs
            device_key = _device_key(key, array.shape)[0]
            if not has_array and not builtins.any(item is Ellipsis for item in device_key):
                device_key += (Ellipsis,)  # an int index gives a 0-d view, not a NumPy scalar
            return array[device_key]

        return _wrap(launch(index, (array, key)))

    def __setitem__(self, key, value):
        _, has_array, has_mask = _device_key(key, self.shape)
        if has_mask:
            host_reads.record("boolean mask assignment")
        if isinstance(value, ndarray):
            value = value._array
        elif not has_array:  # CuPy's fill: a host value must be a scalar
            if np.asarray(value).shape != ():
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        elif not isinstance(value, _SCALARS):
            value = np.array(value)  # copied to the device, as CuPy does for array indices

        array, key = self._array, _data_key(key)

        def assign():
            array[_device_key(key, array.shape)[0]] = value

        launch(assign, (key, value), writes=(array,))

    def fill(self, value):
        if isinstance(value, ndarray):
            if value.shape != ():
                raise ValueError("non-scalar cupy.ndarray cannot be used for fill")
            value = value._array
        elif np.asarray(value).shape != ():
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
        array = self._array
        launch(lambda: array.fill(value), (value,), writes=(array,))

    def nonzero(self):
        host_reads.record("nonzero()")
        return _wrap(self._array.nonzero())

    # arithmetic: the ufuncs, which refuse NumPy arrays; a Tensor (or anything that opts out of
    # NumPy's ufuncs) gets its reflected method called instead, as CuPy's _should_use_rop does
    def _binary(ufunc_name, reflected=False, inplace=False):
        def method(self, other):
            if getattr(type(other), "__array_ufunc__", True) is None:
                return NotImplemented
            ufunc = NAMESPACE[ufunc_name]
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
        if other is None:  # CuPy: None equals no element
            shape = self.shape
            return ndarray._on_device(launch(lambda: np.zeros(shape, dtype=np.bool_)))
        if isinstance(other, np.ndarray) and other.ndim == 0:
            other = other.item()
        return (
            NotImplemented if getattr(type(other), "__array_ufunc__", True) is None else NAMESPACE["equal"](self, other)
        )

    def __ne__(self, other):
        if other is None:
            shape = self.shape
            return ndarray._on_device(launch(lambda: np.ones(shape, dtype=np.bool_)))
        if isinstance(other, np.ndarray) and other.ndim == 0:
            other = other.item()
        return (
            NotImplemented
            if getattr(type(other), "__array_ufunc__", True) is None
            else NAMESPACE["not_equal"](self, other)
        )

    del _binary

    def __neg__(self):
        return NAMESPACE["negative"](self)

    def __pos__(self):
        return self

    def __abs__(self):
        return NAMESPACE["absolute"](self)

    def __invert__(self):
        return NAMESPACE["invert"](self)


def _method(name):
    def method(self, *args, **kwargs):
        args, kwargs, out = _arguments(args, kwargs)
        array = self._array
        writes = (array,) if name == "sort" else () if out is None else (out._array,)  # sort: in place
        with np.errstate(all="ignore"):
            return _wrap(launch(lambda: getattr(array, name)(*args, **kwargs), (array, args, kwargs), writes), out)

    method.__name__ = name
    return method


for _name in (
    "all any argmax argmin argsort astype clip copy cumsum dot flatten max mean min prod ravel repeat reshape "
    "round sort squeeze std sum swapaxes take transpose var view"
).split():
    setattr(ndarray, _name, _method(_name))


def is_live(storage):
    """Whether a device array still holds this memory (CuPy frees memory with its last array)."""
    owner = _owners.get(id(storage))
    return owner is not None and owner._array is storage


def storage_at(address):
    """The memory (a live array's NumPy data) that holds host address `address`, or None."""
    for owner in list(_owners.values()):
        start = owner._array.__array_interface__["data"][0]
        if start <= address < start + builtins.max(owner._array.nbytes, 1):
            return owner._array
    return None


def _empty_host(shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f" or dtype.kind == "c":
        return np.full(shape, np.nan, dtype=dtype)
    if dtype.kind in "iu":
        return np.full(shape, np.iinfo(dtype).max, dtype=dtype)
    return np.zeros(shape, dtype=dtype)
