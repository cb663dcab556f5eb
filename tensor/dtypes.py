"""The dtypes a Tensor can have, and how mixed operands combine (PyTorch's promotion rule).

Floats default to float32. An op on mixed operands takes the dtype `result_type` gives:
categories bool < integer < float; the highest category present wins; within it, tensors
with dims decide, and 0-d tensors and Python scalars count only by their category (a
float32 tensor times a float64 0-d tensor or times 0.5 stays float32; an int32 tensor
times 1.5 is float32, the default float).
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


def require(dtype, kinds, op):
    """Refuse an op on a dtype PyTorch refuses it for: kinds lists the accepted ones, NumPy's letters
    ("f" floats, "iu" integers, "b" bool). NumPy would compute a value where PyTorch raises."""
    if dtype.kind not in kinds:
        accepted = " or ".join({"f": "floating point", "i": "integer", "b": "bool"}[k] for k in kinds if k != "u")
        raise TypeError(f"{op} needs a {accepted} tensor (as PyTorch), got {named(dtype)}")


def category(dtype):
    """0 for bool, 1 for the integers, 2 for the floats: the order in which dtypes win a promotion."""
    return 2 if dtype.kind == "f" else 1 if dtype.kind in "iu" else 0


def promote(a, b):
    """The result dtype of an op on two tensors with dims, of dtypes a and b."""
    if a == b:
        return a
    if is_floating(a) and is_floating(b):
        return float64
    if is_floating(a) or is_floating(b):
        return a if is_floating(a) else b
    return named(np.promote_types(a, b))


def scalar_dtype_of(value):
    """The dtype a Python (or NumPy) scalar stands for: bool, int64, or the default float."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return default_float
    raise TypeError(f"unsupported operand: {type(value).__name__} (expected a tensor or a Python number)")


def result_type(*operands):
    """The dtype PyTorch gives an op on these operands (tensors, or anything with .dtype and .ndim,
    and Python scalars), as torch.result_type.

    Three groups are promoted separately: tensors with dims, 0-d tensors, Python scalars. The
    groups then combine from the strongest down: a weaker group replaces the result only where
    its category is higher (an int32 tensor with a 0-d int64 stays int32; with a 0-d
    float64 it is float64; with the scalar 1.5 it is float32, the default float)."""
    groups = [None, None, None]  # tensors with dims, 0-d tensors, Python scalars
    for operand in operands:
        if hasattr(operand, "ndim") and not isinstance(operand, np.generic):
            group, dtype = (0 if operand.ndim else 1), named(operand.dtype)
        else:
            group, dtype = 2, scalar_dtype_of(operand)
        groups[group] = dtype if groups[group] is None else promote(groups[group], dtype)
    present = [dtype for dtype in groups if dtype is not None]  # strongest group first
    return max(present, key=category)  # the highest category; of equal ones max keeps the first, the strongest
