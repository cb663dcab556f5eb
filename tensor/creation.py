"""Making tensors: from data, filled, ranges, random draws; joining them.

Random draws come from a Generator (tensor/random.py): the one passed as generator=, else the
default generator of the device, which manual_seed reseeds.
"""

import numpy as np

from . import dtypes, ops
from .backend import array_from, array_module, normalize_device
from .random import pick_generator
from .tensor import Tensor, _dims_tuple


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (a number, nested list, NumPy/CuPy array or Tensor).

    The dtype is inferred as PyTorch does (float32 for Python floats, int64 for ints)
    unless given; the device is the data's own unless given.
    """
    array = array_from(data._array if isinstance(data, Tensor) else data, dtype, device)
    return Tensor._wrap(array).requires_grad_(requires_grad)


def _make(fill, size, dtype, device, requires_grad):
    device = normalize_device(device)
    dtype = dtypes.normalize_dtype(dtype) if dtype is not None else dtypes.default_float
    array = fill(array_module(device), _dims_tuple(size), dtype)
    return Tensor._wrap(array).requires_grad_(requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, shape, dt: xp.zeros(shape, dtype=dt), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, shape, dt: xp.ones(shape, dtype=dt), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.infer_dtype(fill_value)
    return _make(lambda xp, shape, dt: xp.full(shape, fill_value, dtype=dt), (size,), dtype, device, requires_grad)


def zeros_like(t, dtype=None, device=None):
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def ones_like(t, dtype=None, device=None):
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def empty(*size, dtype=None, device=None):
    return zeros(*size, dtype=dtype, device=device)


def arange(start, end=None, step=1, dtype=None, device=None):
    """arange(n) or arange(start, end, step): int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    dtype = dtypes.infer_dtype([start, end, step]) if dtype is None else dtypes.normalize_dtype(dtype)
    xp = array_module(normalize_device(device))
    return Tensor._wrap(xp.arange(start, end, step, dtype=dtype))


def linspace(start, end, steps, dtype=None, device=None):
    xp = array_module(normalize_device(device))
    return Tensor._wrap(xp.linspace(start, end, steps, dtype=dtypes.normalize_dtype(dtype or dtypes.default_float)))


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform draws from [0, 1)."""
    rng = pick_generator(normalize_device(device), generator)
    return _make(lambda xp, shape, dt: rng.random(shape).astype(dt), size, dtype, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal draws."""
    rng = pick_generator(normalize_device(device), generator)
    return _make(lambda xp, shape, dt: rng.standard_normal(shape).astype(dt), size, dtype, device, requires_grad)


def randint(*args, size=None, generator=None, dtype=None, device=None):
    """randint(high, size) or randint(low, high, size): integers drawn from [low, high), int64."""
    if size is None:
        *args, size = args
    low, high = (0, args[0]) if len(args) == 1 else args
    device = normalize_device(device)
    array = pick_generator(device, generator).integers(low, high, size=_dims_tuple((size,)))
    return Tensor._wrap(array.astype(dtypes.normalize_dtype(dtype or dtypes.int64)))


def randperm(n, generator=None, device=None):
    """A random ordering of 0..n-1, made on the device itself: on "cpu" PyTorch's own order for the same seed
    (Generator.permutation says how)."""
    device = normalize_device(device)
    return Tensor._wrap(pick_generator(device, generator).permutation(n).astype(dtypes.int64, copy=False))


def multinomial(input, num_samples, replacement=False, generator=None):
    """Draw num_samples category indices from each row of (unnormalized) probabilities."""
    probs = input._array
    xp = input._xp
    if probs.ndim not in (1, 2):
        raise RuntimeError(f"multinomial needs 1-D or 2-D probabilities, got shape {input.shape}")
    if bool((probs < 0).any()) or not bool(xp.isfinite(probs).all()):
        raise RuntimeError("multinomial: probabilities must be finite and non-negative")
    rows = probs.reshape(-1, probs.shape[-1]).astype(np.float64)
    if not replacement and num_samples > rows.shape[-1]:
        raise RuntimeError(
            f"multinomial: cannot draw {num_samples} samples without replacement from {rows.shape[-1]} categories"
        )
    rng = pick_generator(input.device, generator)
    if replacement or num_samples == 1:
        # Inverse CDF: the first category whose cumulative probability exceeds a uniform draw.
        cdf = xp.cumsum(rows, axis=-1)
        draws = rng.random((rows.shape[0], num_samples)) * cdf[:, -1:]
        samples = (cdf[:, None, :] <= draws[:, :, None]).sum(axis=-1)
        samples = xp.minimum(samples, rows.shape[-1] - 1)
    else:
        # Gumbel top-k: the k largest log p + Gumbel noise are k draws without replacement.
        with np.errstate(divide="ignore"):
            keys = xp.log(rows) - xp.log(-xp.log(rng.random(rows.shape)))
        samples = xp.argsort(-keys, axis=-1)[:, :num_samples]
    return Tensor._wrap(samples.reshape(probs.shape[:-1] + (num_samples,)).astype(dtypes.int64))


def tril(input, diagonal=0):
    """Keep the elements on and below the `diagonal`-th diagonal, zero the rest (Tensor.tril)."""
    return input.tril(diagonal)


def triu(input, diagonal=0):
    """Keep the elements on and above the `diagonal`-th diagonal, zero the rest (Tensor.triu)."""
    return input.triu(diagonal)


def clamp(input, min=None, max=None):
    """Each element limited to [min, max] (Tensor.clamp); torch.clip is its other name."""
    return input.clamp(min, max)


clip = clamp


def cat(tensors, dim=0):
    """Join tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat needs at least one tensor")
    first = tensors[0]
    dim = dim % max(first.ndim, 1)
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:dim] + t.shape[dim + 1 :] != first.shape[:dim] + first.shape[dim + 1 :]:
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise RuntimeError(f"cat along dim {dim}: shapes must match except in that dim, got {shapes}")
    dtype = dtypes.result_type(*[t._array for t in tensors])  # PyTorch's promotion, as for a binary op
    return ops.Cat.apply(*(t if t.dtype == dtype else t.to(dtype) for t in tensors), axis=dim)


concat = cat


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dim."""
    tensors = list(tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise RuntimeError(f"stack needs tensors of one shape, got {', '.join(str(t.shape) for t in tensors)}")
    dim = dim % (tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)


# ----- from NumPy, and the legacy typed constructors (torch.FloatTensor, ...) ---------------------------


def from_numpy(array):
    """A CPU tensor that shares memory with `array`: writes to one show in the other, as in PyTorch."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an np.ndarray, got {type(array).__name__}")
    if array.dtype not in dtypes.SUPPORTED:
        names = ", ".join(str(d) for d in dtypes.SUPPORTED)
        raise TypeError(f"from_numpy: can't convert an array of dtype {array.dtype}; supported: {names}")
    return Tensor._wrap(array)


def _legacy_constructor(dtype, name):
    def construct(*args, device=None):
        """name(data) copies data into a tensor of this dtype; name(*sizes) makes one of that shape (zeros here)."""
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            data = args[0]
            if isinstance(data, Tensor):
                if data.dtype != dtype:
                    raise TypeError(f"{name}() of a {data.dtype} tensor: use tensor.to({dtype}) to convert")
                return data
            if isinstance(data, (float, bool, np.floating)):
                raise TypeError(f"{name}(): data must be a sequence, got {type(data).__name__}")
            return tensor(data, dtype=dtype, device=device)
        if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in args):
            raise TypeError(f"{name}() takes data or integer sizes, got {args}")
        return zeros(*(args or (0,)), dtype=dtype, device=device)

    construct.__name__ = construct.__qualname__ = name
    construct.__doc__ = f"torch.{name}: the legacy constructor of {dtype} tensors. " + construct.__doc__
    return construct


FloatTensor = _legacy_constructor(dtypes.float32, "FloatTensor")
DoubleTensor = _legacy_constructor(dtypes.float64, "DoubleTensor")
LongTensor = _legacy_constructor(dtypes.int64, "LongTensor")
IntTensor = _legacy_constructor(dtypes.int32, "IntTensor")
BoolTensor = _legacy_constructor(dtypes.bool_, "BoolTensor")
