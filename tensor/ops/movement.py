"""Ops that move data without arithmetic: reshape, permute, expand, indexing, cat.

Their backward moves the gradient back: reshape it, permute it back, sum it
over the expanded dims, scatter it to where the elements came from."""

import numpy as np

from ..autograd import Function, unbroadcast
from ..backend import concatenate, device_of, scatter_add, to_device


class Reshape(Function):
    """z = x with a new shape (same elements, same order);  dx = dz reshaped back"""

    def forward(self, x, shape):
        self.input_shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.input_shape)


class Permute(Function):
    """z = x with its dims reordered by `dims`;  dx = dz with the inverse order"""

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, grad):
        return grad.transpose(tuple(np.argsort(self.dims)))  # dim self.dims[i] of x went to position i of z


class Expand(Function):
    """z = x broadcast to `shape` (a view, no copy);  dx = dz summed over the copies.

    Each element of x appears in z once per copy, so its gradient is the sum of the
    gradients of its copies: over the new leading dims and over the dims of size 1
    that were stretched. That sum is unbroadcast, the same one the engine applies to
    the gradients of binary ops whose inputs broadcast."""

    def forward(self, x, shape):
        self.input_shape = x.shape
        z = self.xp.broadcast_to(x, shape)
        if self.xp.__name__ == "numpy" and x.flags.writeable:
            z.flags.writeable = True  # NumPy's broadcast view is read-only; PyTorch's lets z[0] be written
        return z

    def backward(self, grad):
        return unbroadcast(grad, self.input_shape)


class Index(Function):
    """z = x[key] for any NumPy-style key;  dx = zeros with dz added at the picked places.

    With integer arrays an element can be picked twice (x[[0, 0]]); its gradient is
    then the sum of both, which scatter_add accumulates."""

    def forward(self, x, key, is_basic):
        self.input_shape, self.is_basic = x.shape, is_basic
        if is_basic:
            self.key = key  # ints, slices, None and Ellipsis: small
        else:
            self.save_for_backward(*key)  # holds index arrays: the engine frees them after backward
        return x[key]

    def backward(self, grad):
        grad_x = self.xp.zeros(self.input_shape, dtype=grad.dtype)
        if self.is_basic:  # slices and ints pick every element at most once
            grad_x[self.key] = grad
        else:
            scatter_add(grad_x, self.saved, grad)
        return grad_x


class Cat(Function):
    """z = the inputs joined along `axis`;  each input's gradient is its slice of dz"""

    def forward(self, *xs, axis):
        self.axis = axis
        self.sizes = [x.shape[axis] for x in xs]
        return concatenate(self.xp, xs, axis=axis)  # xp.concatenate (capturable: tensor/backend.py)

    def backward(self, grad):
        boundaries = np.cumsum(self.sizes[:-1]).tolist()  # where each input after the first starts in z
        return tuple(self.xp.split(grad, boundaries, axis=self.axis))


class Clone(Function):
    """z = a copy of x;  dz/dx = 1. Laid out in memory as x (a transposed x gives a transposed copy), as
    PyTorch's clone, unless x repeats elements (an expanded x) or `row_major` is asked (contiguous())."""

    def forward(self, x, row_major=False):
        return x.copy(order="C" if row_major or 0 in x.strides else "K")

    def backward(self, grad):
        return grad


class ToDevice(Function):
    """z = x copied to another device;  the gradient is copied back"""

    def forward(self, x, device):
        self.source_device = device_of(x)
        return to_device(x, device)

    def backward(self, grad):
        return to_device(grad, self.source_device)
