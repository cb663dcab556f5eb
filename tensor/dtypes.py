"""The dtypes a Tensor can have, and how Python scalars and mixed dtypes combine.

Rules as PyTorch's: floats default to float32; a Python scalar takes the
tensor's dtype (a float32 tensor times 0.5 stays float32); int with float
gives the float; float32 with float64 gives float64.
"""

import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

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
    if result not in SUPPORTED:
        names = ", ".join(str(d) for d in SUPPORTED)
        raise TypeError(f"unsupported dtype {result}: expected one of {names}")
    return result


def infer_dtype(data):
    """The dtype torch.tensor(data) would pick: float32 for floats, int64 for ints, bool for bools."""
    array = np.asarray(data)
    if array.dtype.kind == "f":
        return array.dtype if array.dtype in (float32, float64) and isinstance(data, np.ndarray) else default_float
    if array.dtype.kind in "iu":
        return array.dtype if array.dtype == int32 and isinstance(data, np.ndarray) else int64
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
    return np.promote_types(a, b)
