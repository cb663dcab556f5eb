"""Module-level functions of the PyTorch namespace that are not creation functions.

Most are the Tensor method of the same name; the comparisons (allclose, isclose,
equal) and round return results outside the graph.
"""

from . import course_ops, ops
from .tensor import Tensor


def _data(x):
    return x._array if isinstance(x, Tensor) else x


def maximum(input, other):
    return ops.Maximum.apply(*input._operands(other))


def minimum(input, other):
    return ops.Minimum.apply(*input._operands(other))


def isclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    return Tensor._wrap(input._xp.isclose(input._array, _data(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    return bool(input._xp.allclose(input._array, _data(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    """True when both have the same shape and the same elements."""
    return input.shape == other.shape and bool((input._array == other._array).all())


def round(input, decimals=0):
    """Round half to even, as PyTorch; the result is outside the graph (its gradient is zero)."""
    return Tensor._wrap(input._xp.round(input._array, decimals))


def abs(input):
    return input.abs()


def exp(input):
    return input.exp()


def log(input):
    return input.log()


def sqrt(input):
    return input.sqrt()


def reciprocal(input):
    return input.reciprocal()


def sin(input):
    return input.sin()


def cos(input):
    return input.cos()


def erf(input):
    return input.erf()


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def relu(input):
    return input.relu()


def matmul(input, other):
    return input @ other


# The reductions take PyTorch's signatures, positional forms included: the Tensor methods parse them.


def sum(input, *args, **kwargs):
    return input.sum(*args, **kwargs)


def mean(input, *args, **kwargs):
    return input.mean(*args, **kwargs)


def var(input, *args, **kwargs):
    return input.var(*args, **kwargs)


def std(input, *args, **kwargs):
    return input.std(*args, **kwargs)


def max(input, *args, **kwargs):
    """max(x), max(x, dim, keepdim) -> (values, indices), and max(x, other) = maximum(x, other)."""
    return input.max(*args, **kwargs)


def min(input, *args, **kwargs):
    """min(x), min(x, dim, keepdim) -> (values, indices), and min(x, other) = minimum(x, other)."""
    return input.min(*args, **kwargs)


def amax(input, *args, **kwargs):
    return input.amax(*args, **kwargs)


def amin(input, *args, **kwargs):
    return input.amin(*args, **kwargs)


def argmax(input, *args, **kwargs):
    return input.argmax(*args, **kwargs)


def argmin(input, *args, **kwargs):
    return input.argmin(*args, **kwargs)


def all(input, *args, **kwargs):
    return input.all(*args, **kwargs)


def any(input, *args, **kwargs):
    return input.any(*args, **kwargs)


def norm(input, *args, **kwargs):
    return input.norm(*args, **kwargs)


def softmax(input, dim):
    return input.softmax(dim)


def log_softmax(input, dim):
    return input.log_softmax(dim)


def reshape(input, *shape):
    return input.reshape(*shape)


def transpose(input, dim0, dim1):
    return input.transpose(dim0, dim1)


def permute(input, dims):
    return input.permute(dims)


def flatten(input, start_dim=0, end_dim=-1):
    return input.flatten(start_dim, end_dim)


def unsqueeze(input, dim):
    return input.unsqueeze(dim)


def squeeze(input, dim=None):
    return input.squeeze(dim)


def masked_fill(input, mask, value):
    return input.masked_fill(mask, value)


def split(tensor, split_size_or_sections, dim=0):
    return tensor.split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return input.chunk(chunks, dim)


def topk(input, k, dim=-1, largest=True, sorted=True):
    return input.topk(k, dim, largest, sorted)


def pow(input, exponent):
    return input**exponent


def unbind(input, dim=0):
    return input.unbind(dim)


for _name in course_ops.REDUCTIONS_WITH_KEEPDIM:  # torch.sum(x, 1, keepdims=True), as PyTorch accepts
    if _name in globals():
        globals()[_name] = course_ops.accepts_keepdims(globals()[_name])
