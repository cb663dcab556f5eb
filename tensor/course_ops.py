"""Ops the learner's course programs use beyond the lecture GPT (issue 29), each composed from the
primitives in tensor/ops (so its gradient comes from theirs) or, where no composition is cheap,
one Function with its derivative beside it (CumSum, Triangle, LogSumExp).

flip, roll, tril and triu, cumsum, sort, logsumexp, log10, histogram; inference_mode; the keepdims= spelling.
"""

import functools
import math
from collections import namedtuple

import numpy as np

from . import dtypes
from .autograd import Function
from .backend import to_device
from .grad_mode import _grad_mode, _SetGradMode
from .ops import Cat

sorted_values_and_indices = namedtuple("sort", ["values", "indices"])
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


REDUCTIONS_WITH_KEEPDIM = (
    *("sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin", "all", "any", "logsumexp"),
)


def accepts_keepdims(reduction):
    """reduction(..., keepdims=True) as reduction(..., keepdim=True): NumPy's spelling, which PyTorch's
    reductions accept too (the course writes `counts.sum(1, keepdims=True)`)."""

    @functools.wraps(reduction)
    def with_keepdims(*args, keepdims=None, **kwargs):
        if keepdims is not None:
            kwargs["keepdim"] = keepdims
        return reduction(*args, **kwargs)

    return with_keepdims


def _dims(x, dims):
    """dims as a tuple of non-negative dims of x (a 0-d x has dim 0, as PyTorch's); one out of range is refused."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    n = max(x.ndim, 1)
    for d in dims:
        if not -n <= d < n:
            raise IndexError(f"dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})")
    return tuple(d % n for d in dims)


def flip(x, dims):
    """The elements in reverse order along each of `dims` (a copy, as PyTorch's)."""
    dims = _dims(x, dims)
    reversed_along = tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(x.ndim))
    return x[reversed_along].clone()


def roll(x, shifts, dims=None):
    """Shift the elements along dims, wrapping around: roll(x, 1)[i] = x[i - 1]. Without dims, x is
    rolled as one flat row and keeps its shape."""
    if x.numel() == 0:  # nothing to move (PyTorch checks nothing else then)
        return x.clone()
    if dims is None:
        return roll(x.flatten(), shifts, 0).view(x.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = _dims(x, dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dims must have the same length, got {len(shifts)} and {len(dims)}")
    for shift, dim in zip(shifts, dims):
        n = x.shape[dim]
        cut = n - shift % n if n else 0  # out[i] = x[i - shift]: the last shift % n elements come first
        before = (slice(None),) * dim
        x = Cat.apply(x[before + (slice(cut, None),)], x[before + (slice(None, cut),)], axis=dim)
    return x


class Triangle(Function):
    """z = x with the elements outside one triangle of its last two dims zeroed: tril keeps those on and
    below the `diagonal`-th diagonal, triu those on and above it;  dz/dx = 1 where kept, else 0."""

    def forward(self, x, diagonal, upper):
        self.diagonal, self.upper = diagonal, upper
        return self.keep(x)

    def keep(self, array):
        return (self.xp.triu if self.upper else self.xp.tril)(array, self.diagonal)

    def backward(self, grad):
        return self.keep(grad)


def triangle(x, diagonal, upper):
    if x.ndim < 2:
        name = "triu" if upper else "tril"
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got shape {x.shape}")
    return Triangle.apply(x, diagonal=diagonal, upper=upper)


class CumSum(Function):
    """z_i = x_1 + ... + x_i along axis;  dx_j = dz_j + ... + dz_n (the cumulative sum from the end)."""

    def forward(self, x, axis):
        self.axis = axis
        return self.xp.cumsum(x, axis=axis)

    def backward(self, grad):
        from_the_end = self.xp.flip(grad, axis=self.axis)
        return self.xp.flip(self.xp.cumsum(from_the_end, axis=self.axis), axis=self.axis)


def cumsum(x, dim):
    """Running sums along dim; integers and bools sum as int64, as PyTorch's."""
    if not dtypes.is_floating(x.dtype):
        x = x.long()
    if x.ndim == 0:  # the one element: a row of one, as a 0-d tensor again
        if dim not in (0, -1):
            raise IndexError(f"cumsum: dimension out of range (expected to be in range of [-1, 0], but got {dim})")
        return CumSum.apply(x.reshape(1), axis=0).reshape(())
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(
            f"cumsum: dimension out of range (expected to be in range of [{-x.ndim}, {x.ndim - 1}], but got {dim})"
        )
    return CumSum.apply(x, axis=dim % x.ndim)


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices) along dim, ascending unless descending; equal elements keep their order."""
    values, indices = x.topk(x.shape[dim] if x.ndim else 1, dim, largest=descending)
    return sorted_values_and_indices(values, indices)


class LogSumExp(Function):
    """z = log(sum(exp(x))) along axis, computed as m + log(sum(exp(x - m))) with m the max, so exp stays
    finite;  dz/dx = exp(x - z), the softmax of x. x and z are saved, as PyTorch saves them."""

    def forward(self, x, axis, keepdims):
        xp = self.xp
        top = x.max(axis=axis, keepdims=True) if x.size else x.dtype.type(0)  # (an empty x: nothing to shift)
        top = xp.where(xp.isinf(top), 0, top)  # an infinite max: no shift (a row of only -inf gives log(0) = -inf)
        with np.errstate(divide="ignore"):
            z = xp.log(xp.exp(x - top).sum(axis=axis, keepdims=True)) + top
        self.save_for_backward(x, z)
        return z if keepdims else z.squeeze(axis)  # a view of z: a write into the output is caught in backward

    def backward(self, grad):
        x, z = self.saved
        return grad.reshape(z.shape) * self.xp.exp(x - z)


@accepts_keepdims
def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x))) along dim (one int or several)."""
    x = x._as_float()
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if x.ndim == 0:  # dim 0 or -1 means the one element
        if any(d not in (0, -1) for d in dims):
            raise IndexError(f"logsumexp: dimension out of range (expected to be in range of [-1, 0], but got {dim})")
        return LogSumExp.apply(x, axis=None, keepdims=keepdim)
    return LogSumExp.apply(x, axis=dims, keepdims=keepdim)


def log10(x):
    """log(x) / log(10)."""
    return x.log() * (1.0 / math.log(10.0))


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """(hist, bin_edges) of input's values, on the CPU as PyTorch's: `bins` equal bins over `range` (the
    values' min and max when not given), or the edges given as a 1-D tensor. A value on the last edge
    counts in the last bin."""
    if not dtypes.is_floating(input.dtype):
        raise NotImplementedError(f'"histogram" not implemented for {input.dtype}: convert with .float() first')
    values = to_device(input.detach()._array, "cpu").reshape(-1)
    edges = bins if isinstance(bins, int) else to_device(bins._array, "cpu")
    weights = None if weight is None else to_device(weight._array, "cpu").reshape(-1)
    hist, edges = np.histogram(values, bins=edges, range=range, weights=weights, density=density)
    wrap = type(input)._wrap
    return histogram_result(wrap(hist.astype(input.dtype)), wrap(edges.astype(input.dtype)))


class inference_mode(_SetGradMode):
    """Context manager and decorator: as no_grad (no graph is recorded), PyTorch's faster-no_grad
    for inference. inference_mode(False) leaves grad mode as it is. (Tensors made inside are plain
    tensors here: PyTorch's inference tensors refuse later autograd use; ours do not.)"""

    def __new__(cls, mode=True):
        if callable(mode):  # @inference_mode without parentheses
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        self.inference = bool(mode)
        self.mode = False  # the grad mode inside, when inference is on

    def __enter__(self):
        if not self.inference:
            self.mode = _grad_mode.enabled
        super().__enter__()

    def __call__(self, fn):
        if self.inference:
            return super().__call__(fn)

        @functools.wraps(fn)
        def unchanged(*args, **kwargs):
            return fn(*args, **kwargs)

        return unchanged
