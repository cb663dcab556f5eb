"""Reductions over `axis` (None, an int or a tuple of ints), with keepdims.

The backward of a reduction puts the reduced dims back (size 1) so the gradient
broadcasts over everything that was reduced."""

import math

from ..autograd import Function
from .elementwise import sign


def _restore_reduced_dims(grad, input_ndim, axis, keepdims):
    """Reshape a reduction's gradient so it broadcasts against the reduction's input."""
    if keepdims or axis is None:
        return grad if keepdims else grad.reshape((1,) * input_ndim)
    axes = (axis,) if isinstance(axis, int) else axis
    axes = sorted(a % input_ndim for a in axes)
    shape = list(grad.shape)
    for a in axes:
        shape.insert(a, 1)
    return grad.reshape(shape)


class Sum(Function):
    """z = sum of x over axis;  dz/dx = 1 for every summed element"""

    def forward(self, x, axis=None, keepdims=False):
        self.input_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        grad = _restore_reduced_dims(grad, len(self.input_shape), self.axis, self.keepdims)
        return self.xp.broadcast_to(grad, self.input_shape)


class Mean(Function):
    """z = mean of x over axis = (sum over axis) / n, n the number of elements averaged;  dz/dx = 1 / n"""

    def forward(self, x, axis=None, keepdims=False):
        self.input_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
        self.count = math.prod(x.shape[a] for a in axes)
        return x.sum(axis=axis, keepdims=keepdims) / self.count

    def backward(self, grad):
        grad = _restore_reduced_dims(grad, len(self.input_shape), self.axis, self.keepdims)
        return self.xp.broadcast_to(grad / self.count, self.input_shape)


class Max(Function):
    """z = max of x over axis;  dz/dx = 1 at the maximum (split evenly between ties), else 0.

    As PyTorch at the edges: amax multiplies the gradient by that mask (a nan gradient stays nan
    everywhere); max() of all elements (`only_at_extremes`) writes it at the maxima only (zeros elsewhere,
    whatever the gradient), and a nan maximum is taken at the nan elements; the largest magnitude of
    norm(p=inf) (`nan_is_extreme`) multiplies as amax, with a nan maximum taken at the nan elements."""

    def forward(self, x, axis=None, keepdims=False, only_at_extremes=False, nan_is_extreme=False):
        return self._keep(x, x.max(axis=axis, keepdims=keepdims), axis, keepdims, only_at_extremes, nan_is_extreme)

    def _keep(self, x, z, axis, keepdims, only_at_extremes, nan_is_extreme):
        """Save x and the output itself (an in-place write to the output is then caught, as in PyTorch)."""
        z = self.xp.asarray(z)  # NumPy's full reduction gives a scalar
        self.save_for_backward(x, z)
        self.axis, self.keepdims, self.only_at_extremes = axis, keepdims, only_at_extremes
        self.nan_is_extreme = nan_is_extreme or only_at_extremes
        return z

    def backward(self, grad):
        x, z = self.saved
        z = _restore_reduced_dims(z, x.ndim, self.axis, self.keepdims)
        grad = _restore_reduced_dims(grad, x.ndim, self.axis, self.keepdims)
        is_max = x == z
        if self.nan_is_extreme:
            is_max = is_max | (self.xp.isnan(x) & self.xp.isnan(z))
        count = is_max.sum(axis=self.axis, keepdims=True)
        if self.only_at_extremes:
            return self.xp.where(is_max, grad / count.astype(grad.dtype), grad.dtype.type(0))
        return grad * is_max / count.astype(grad.dtype)


class Min(Max):
    """z = min of x over axis;  dz/dx = 1 at the minimum (split evenly between ties), else 0 (Max's edges)"""

    def forward(self, x, axis=None, keepdims=False, only_at_extremes=False, nan_is_extreme=False):
        return self._keep(x, x.min(axis=axis, keepdims=keepdims), axis, keepdims, only_at_extremes, nan_is_extreme)


class MaxAlongDim(Function):
    """z = max (or min) of x along one axis, as max(dim) returns it with its indices;
    dz/dx = 1 at the index returned (the first extreme), 0 elsewhere: with ties the whole
    gradient goes to the returned index, as PyTorch's max(dim), where max() and amax split it."""

    def forward(self, x, axis, keepdims=False, largest=True):
        z = x.max(axis=axis, keepdims=True) if largest else x.min(axis=axis, keepdims=True)
        indices = x.argmax(axis=axis, keepdims=True) if largest else x.argmin(axis=axis, keepdims=True)
        self.save_for_backward(indices)
        self.input_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return z if keepdims else z.squeeze(axis)

    def backward(self, grad):
        (indices,) = self.saved
        grad = _restore_reduced_dims(grad, len(self.input_shape), self.axis, self.keepdims)
        axis = self.axis % len(self.input_shape)
        positions = self.xp.arange(self.input_shape[axis]).reshape(
            [-1 if i == axis else 1 for i in range(len(self.input_shape))]
        )
        return self.xp.where(positions == indices, grad, grad.dtype.type(0))


class RootOfSquares(Function):
    """z = sqrt(s) for s a sum of squares (std from var, the 2-norm);  dz/ds = 1 / (2 z), taken as 0
    where z = 0: there s is at its minimum, and PyTorch's std and norm give the gradient 0, not inf * 0."""

    def forward(self, s):
        z = self.xp.sqrt(s)
        self.save_for_backward(z)
        return z

    def backward(self, grad):
        (z,) = self.saved
        return self.xp.where(z == 0, z.dtype.type(0), grad / (2 * z))


class PowerNorm(Function):
    """z = (sum |x|**p) ** (1/p) over axis, the p-norm (p = 0: the count of nonzeros);
    dz/dx = sign(x) |x|**(p-1) / z**(p-1), taken as 0 where z = 0 or x = 0 (PyTorch's choice);
    none for p = 0."""

    def forward(self, x, p, axis=None, keepdims=False):
        magnitude = self.xp.abs(x)
        if p == 0:
            z = (magnitude != 0).sum(axis=axis, keepdims=keepdims).astype(x.dtype)
        else:
            z = (magnitude**p).sum(axis=axis, keepdims=keepdims) ** (1 / p)
        self.save_for_backward(x, z)
        self.p, self.axis, self.keepdims = p, axis, keepdims
        return z

    def backward(self, grad):
        x, z = self.saved
        zero = x.dtype.type(0)
        if self.p == 0:  # as PyTorch: no gradient at all (the input's .grad stays None)
            return None
        z = _restore_reduced_dims(z, x.ndim, self.axis, self.keepdims)
        grad = _restore_reduced_dims(grad, x.ndim, self.axis, self.keepdims)
        scaled = self.xp.where(x == 0, zero, sign(x) * self.xp.abs(x) ** (self.p - 1))
        return self.xp.where(z == 0, zero, scaled * grad / z ** (self.p - 1))


class Var(Function):
    """z = sum((x - mean)**2) / (n - correction) over axis;  dz/dx = 2 (x - mean) / (n - correction).

    n counts the elements reduced; as PyTorch, forward divides by max(n - correction, 0) (inf or nan
    at 0) and backward by n - correction itself. x is saved, so an in-place write to it before backward is caught."""

    def forward(self, x, axis=None, keepdims=False, correction=1):
        n = x.size if axis is None else math.prod(x.shape[a] for a in (axis if isinstance(axis, tuple) else (axis,)))
        self.divisor, self.backward_divisor = max(n - correction, 0), n - correction  # as PyTorch: unclamped
        self.axis, self.keepdims = axis, keepdims
        self.save_for_backward(x)
        centered = x - x.mean(axis=axis, keepdims=True)
        return (centered * centered).sum(axis=axis, keepdims=keepdims) / x.dtype.type(self.divisor)

    def backward(self, grad):
        (x,) = self.saved
        grad = _restore_reduced_dims(grad, x.ndim, self.axis, self.keepdims)
        centered = x - x.mean(axis=self.axis, keepdims=True)
        if self.axis is None and self.backward_divisor <= 0:  # PyTorch's full variance there: +-inf by grad's sign
            return self.xp.where(centered == 0, x.dtype.type("nan"), grad * x.dtype.type("inf"))
        return grad * centered * (x.dtype.type(2) / x.dtype.type(self.backward_divisor))


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max));  dx = y * (dy - sum(dy * y)), sums along `axis`.

    Subtracting the max first changes nothing but keeps exp from overflowing."""

    def forward(self, x, axis):
        if x.size == 0:  # nothing to normalize: the empty output, saved as any other
            y = x.copy()
        else:
            e = self.xp.exp(x - x.max(axis=axis, keepdims=True))
            y = e / e.sum(axis=axis, keepdims=True)
        self.save_for_backward(y)
        self.axis = axis
        return y

    def backward(self, grad):
        (y,) = self.saved
        return y * (grad - (grad * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = z - log(sum(exp(z))), z = x - max;  dx = dy - exp(y) * sum(dy), sums along `axis`."""

    def forward(self, x, axis):
        if x.size == 0:  # nothing to normalize: the empty output, saved as any other
            y = x.copy()
        else:
            z = x - x.max(axis=axis, keepdims=True)
            y = z - self.xp.log(self.xp.exp(z).sum(axis=axis, keepdims=True))
        self.save_for_backward(y)
        self.axis = axis
        return y

    def backward(self, grad):
        (y,) = self.saved
        return grad - self.xp.exp(y) * grad.sum(axis=self.axis, keepdims=True)
