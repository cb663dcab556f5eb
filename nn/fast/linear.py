"""The Linears' batched gradient products: the engine room's stand-in for nn.functional.Linear.

The textbook Linear's backward runs dx = g W and dW = g^T x at once, two products per Linear.
The lecture model reads each block's LayerNorm output with three Linears per head (key, query,
value: 12 at the small config, 24 at medium); this stand-in hands dx (and a leaf weight's dW) on
as products not yet run, `LinearGradients`, which the engine adds up and runs as one wide product
when x's gradient is needed. Its products run on the cores their size earns (tensor/fast/threads.py).
"""

import math

from tensor.autograd import PendingGradient
from tensor.backend import concatenate
from tensor.fast.threads import matmul

from .. import functional as textbook


class Linear(textbook.Linear):
    """nn.functional.Linear, with the gradients of the Linears that read one made input x batched.

    When x was made by an op, backward hands dx (and a leaf weight's dW) on as `LinearGradients`;
    a weight made by an op gets its gradient at once; with x a leaf, both products run at once."""

    def forward(self, x, weight, *bias):
        rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # (N, in); in may be 0
        y = matmul(rows, weight.T, self.xp)  # (N, out): rows @ weight.T on the cores its size earns
        if bias:
            y += bias[0]
        self.save_for_backward(rows, weight)
        self.input_shape = x.shape
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        rows, weight = self.saved
        grad_rows = grad.reshape(math.prod(grad.shape[:-1]), grad.shape[-1])  # (N, out)
        x, w = self.parents[:2]
        if self.needs_input_grad[0] and x._ctx is not None:  # x made by an op: its other Linears may join in
            leaf_weight = w if self.needs_input_grad[1] and w._ctx is None else None  # receives dW from there
            dx = LinearGradients(self.xp, rows, self.input_shape, grad_rows, weight, leaf_weight)
            dweight = None
            if self.needs_input_grad[1] and leaf_weight is None:  # a weight made by an op: its gradient now
                dweight = matmul(grad_rows.T, rows, self.xp)
        else:
            dx = matmul(grad_rows, weight, self.xp).reshape(self.input_shape) if self.needs_input_grad[0] else None
            dweight = matmul(grad_rows.T, rows, self.xp) if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 2:  # no bias: one gradient per input
            return dx, dweight
        dbias = grad_rows.sum(axis=0) if self.needs_input_grad[2] else None
        return dx, dweight, dbias


class LinearGradients(PendingGradient):
    """The gradients that the Linears reading one input x send back, run as two matrix products.

    With g_i the output gradient (N, out_i) and W_i the weight (out_i, in) of Linear i:
        dx   = sum_i g_i W_i  =  [g_1 ... g_n] @ [W_1; ...; W_n]     one (N, sum out) @ (sum out, in) product
        dW_i = g_i^T x        =  rows of [g_1 ... g_n]^T @ x          one (sum out, N) @ (N, in) product
    Each Linear's own backward would run 2n products and add n (N, in) arrays: one wide product
    runs faster than many narrow ones.

    The engine adds the gradients that reach x (`+`) and calls compute() just before the
    backward of the op that made x; a leaf weight's dW goes to its .grad then.
    """

    def __init__(self, xp, rows, shape, grad_rows, weight, leaf_weight):
        self.xp, self.rows, self.shape, self.dtype = xp, rows, shape, rows.dtype
        self.terms = [(grad_rows, weight, leaf_weight)]  # leaf_weight: the tensor that receives dW, or None
        self.other = None  # the sum of x's gradients from other ops (arrays)

    def __add__(self, other):
        if isinstance(other, LinearGradients):
            self.terms += other.terms
            other = other.other
        if other is not None:
            self.other = other if self.other is None else self.other + other
        return self

    def compute(self):
        xp = self.xp
        grads, weights, leaf_weights = zip(*self.terms)
        g = grads[0] if len(grads) == 1 else concatenate(xp, grads, axis=1)  # (N, sum out)
        w = weights[0] if len(weights) == 1 else concatenate(xp, weights, axis=0)  # (sum out, in)
        dx = matmul(g, w, xp).reshape(self.shape)
        if self.other is not None:
            dx += self.other
        if any(leaf is not None for leaf in leaf_weights):
            hand_out(matmul(g.T, self.rows, xp), weights, leaf_weights)
        return dx


def hand_out(dweights, weights, leaf_weights):
    """dweights: the W_i's gradients one below the other, (sum out, in); each leaf W_i gets its rows."""
    start = 0
    for weight, leaf in zip(weights, leaf_weights):
        if leaf is not None:
            leaf._accumulate_grad(dweights[start : start + weight.shape[0]])
        start += weight.shape[0]
