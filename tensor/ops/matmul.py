"""Matrix multiplication with NumPy's rules: 1-D vectors, 2-D matrices, and batches
(..., n, k) @ (..., k, m) whose batch dims broadcast."""

from ..autograd import Function


class Matmul(Function):
    """Z = A @ B;  dA = dZ @ B^T,  dB = A^T @ dZ.

    A 1-D A is a row (1, k) and a 1-D B a column (k, 1) whose extra dim the
    output drops; backward puts that dim back, applies the matrix formulas, and
    drops it again. Broadcast batch dims are summed by the engine (unbroadcast). Shapes that do not
    multiply make `a @ b` raise, which Function.apply reports with the inputs' shapes.
    """

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved
        grad, a_matrix, b_matrix = as_matrices(grad, a, b)
        grad_a = grad @ transposed(b_matrix) if self.needs_input_grad[0] else None
        grad_b = transposed(a_matrix) @ grad if self.needs_input_grad[1] else None
        return as_given(grad_a, grad_b, a, b)


def transposed(x):
    """x with its last two dims swapped (each matrix of a batch transposed)."""
    return x.swapaxes(-1, -2)


def as_matrices(grad, a, b):
    """A 1-D a as a row (1, k), a 1-D b as a column (k, 1), and grad with the dims the product dropped."""
    if b.ndim == 1:
        grad, b = grad[..., None], b[:, None]
    if a.ndim == 1:
        grad, a = grad[..., None, :], a[None, :]
    return grad, a, b


def as_given(grad_a, grad_b, a, b):
    """The gradients of a 1-D a or b back to 1-D."""
    if grad_a is not None and a.ndim == 1:
        grad_a = grad_a[..., 0, :]
    if grad_b is not None and b.ndim == 1:
        grad_b = grad_b[..., 0]
    return grad_a, grad_b
