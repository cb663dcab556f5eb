"""Reductions over `axis` (None, an int or a tuple of ints), with keepdims.

The backward of a reduction puts the reduced dims back (size 1) so the gradient
broadcasts over everything that was reduced."""

from ..autograd import Function


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


class Max(Function):
    """z = max of x over axis;  dz/dx = 1 at the maximum (split evenly between ties), else 0"""

    def forward(self, x, axis=None, keepdims=False):
        z = x.max(axis=axis, keepdims=True)
        self.save_for_backward(x, z)
        self.axis, self.keepdims = axis, keepdims
        return z if keepdims else self._drop_dims(z, axis)

    @staticmethod
    def _drop_dims(z, axis):
        return z.reshape(()) if axis is None else z.squeeze(axis)

    def backward(self, grad):
        x, z = self.saved
        grad = _restore_reduced_dims(grad, x.ndim, self.axis, self.keepdims)
        is_max = x == z
        count = is_max.sum(axis=self.axis, keepdims=True)
        return grad * is_max / count.astype(grad.dtype)


class Min(Max):
    """z = min of x over axis;  dz/dx = 1 at the minimum (split evenly between ties), else 0"""

    def forward(self, x, axis=None, keepdims=False):
        z = x.min(axis=axis, keepdims=True)
        self.save_for_backward(x, z)
        self.axis, self.keepdims = axis, keepdims
        return z if keepdims else self._drop_dims(z, axis)
