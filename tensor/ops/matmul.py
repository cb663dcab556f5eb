"""Matrix multiplication with NumPy's rules: 1-D vectors, 2-D matrices, and batches
(..., n, k) @ (..., k, m) whose batch dims broadcast."""

from ..autograd import Function
from ..fast.threads import matmul


def _swap_last_two(a):
    return a.swapaxes(-1, -2)


class Matmul(Function):
    """Z = A @ B;  dA = dZ @ B^T,  dB = A^T @ dZ.

    A 1-D A is a row (1, k) and a 1-D B a column (k, 1) whose extra dim the
    output drops; backward puts that dim back, applies the matrix formulas, and
    drops it again. Broadcast batch dims are summed by the engine (unbroadcast).
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs tensors of at least 1 dimension")
        if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
            raise ValueError(
                f"cannot multiply: inner sizes {a.shape[-1]} and {b.shape[0 if b.ndim == 1 else -2]} differ"
            )
        self.save_for_backward(a, b)
        return matmul(a, b, self.xp)  # a @ b, on the cores its size earns (tensor/fast/threads.py)

    def backward(self, grad):
        a, b = self.saved
        if b.ndim == 1:
            grad, b = grad[..., None], b[:, None]
        if a.ndim == 1:
            grad, a = grad[..., None, :], a[None, :]
        grad_a = matmul(grad, _swap_last_two(b), self.xp) if self.needs_input_grad[0] else None
        grad_b = matmul(_swap_last_two(a), grad, self.xp) if self.needs_input_grad[1] else None
        a_was_vector, b_was_vector = self.saved[0].ndim == 1, self.saved[1].ndim == 1
        if grad_a is not None and a_was_vector:
            grad_a = grad_a[..., 0, :]
        if grad_b is not None and b_was_vector:
            grad_b = grad_b[..., 0]
        return grad_a, grad_b
