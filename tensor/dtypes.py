"""The dtypes a Tensor can have, and how Python scalars and mixed dtypes combine.

Rules as PyTorch's: floats default to float32; a Python scalar takes the
tensor's dtype (a float32 tensor times 0.5 stays float32); int with float
gives the float; float32 with float64 gives float64.
"""

import numpy as np


class DType:
    """A NumPy dtype that prints as PyTorch prints its dtypes: `tensor.int64` (PyTorch: `torch.int64`).

    NumPy and CuPy accept it wherever they take a dtype (they read its `.dtype`), it
    compares equal to the NumPy dtype of the same name, and it answers `.kind`,
    `.itemsize`, ... as that dtype does.
    """

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __getattr__(self, name):
        if name == "dtype":  # not yet set (while unpickling): no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.dtype, name)

    def __reduce__(self):
        return named, (self.dtype.name,)

    def __eq__(self, other):
        if isinstance(other, DType):  # the common case, 20x faster than converting other below
            return self.dtype == other.dtype
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.dtype)

    def __repr__(self):
        return f"tensor.{'bool' if self.dtype == np.bool_ else self.dtype.name}"

    @property
    def is_floating_point(self):
        return self.dtype.kind == "f"


float32 = DType("float32")
float64 = DType("float64")
int32 = DType("int32")
int64 = DType("int64")
bool_ = DType("bool")
_BY_NUMPY_DTYPE = {d.dtype: d for d in (float32, float64, int32, int64, bool_)}


def named(dtype):
    """The DType of a NumPy dtype (a NumPy dtype we do not support is returned unchanged)."""
    return _BY_NUMPY_DTYPE.get(np.dtype(dtype), dtype)


default_float = float32

SUPPORTED = (float32, float64, int32, int64, bool_)


def is_floating(dtype):
    return dtype.kind == "f"


def normalize_dtype(dtype):
    """Accept np.float32, "float32", float, int, bool, ... and return a supported np.dtype."""
    if dtype is float:
        return default_float
    if dtype is int:
        return int64
    result = np.dtype(dtype)
    if result not in _BY_NUMPY_DTYPE:
        names = ", ".join(str(d) for d in SUPPORTED)
        raise TypeError(f"unsupported dtype {result}: expected one of {names}")
    return _BY_NUMPY_DTYPE[result]


def infer_dtype(data):
    """The dtype torch.tensor(data) would pick: float32 for floats, int64 for ints, bool for bools."""
    array = np.asarray(data)
    if array.dtype.kind == "f":
        return (
            named(array.dtype) if array.dtype in (float32, float64) and isinstance(data, np.ndarray) else default_float
        )
    if array.dtype.kind in "iu":
        return int32 if array.dtype == int32 and isinstance(data, np.ndarray) else int64
    if array.dtype.kind == "b":
        return bool_
    raise TypeError(f"cannot make a tensor from data of dtype {array.dtype}")


def scalar_dtype(tensor_dtype, scalar):
    """The result dtype of `tensor op scalar` for a Python (or NumPy) scalar."""
    if isinstance(scalar, (bool, np.bool_)):
        return tensor_dtype
    if isinstance(scalar, (int, np.integer)):
        return int64 if tensor_dtype == bool_ else tensor_dtype
    if is_floating(tensor_dtype):
        return tensor_dtype
    return default_float


def promote(a, b):
    """The result dtype of an op on tensors of dtypes a and b."""
    if a == b:
        return a
    if is_floating(a) and is_floating(b):
        return float64
    if is_floating(a) or is_floating(b):
        return a if is_floating(a) else b
    return named(np.promote_types(a, b))
