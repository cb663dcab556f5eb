"""The fused ops of nn.functional computed in blocks of rows: the engine room's stand-ins for
Softmax, LogSoftmax, CrossEntropy, LayerNorm and ScaledDotProductAttention.

Each class here is the textbook op of the same name (it subclasses it, so it is still that op for
every isinstance check and error message) with its forward and backward computed by nn/fast/rows.py:
row sums as BLAS products, cache-sized blocks of rows, in-place updates, one shift per block before
exp. tests/fast/test_nn_blocked.py holds each to the textbook op it replaces.
"""

import numpy as np

from tensor import Function

from .. import functional as textbook
from . import rows


class _AlongAnAxis(Function):
    """An op along one axis whose backward needs only its output y: rows.py's `compute` and `differentiate`."""

    def forward(self, x, axis):
        y = self.compute(self.xp, x, axis) if x.size else x.copy()  # empty: nothing to normalize
        self.save_for_backward(y)
        self.axis = axis
        return y

    def backward(self, grad):
        (y,) = self.saved
        return self.differentiate(self.xp, y, grad, self.axis)


class Softmax(_AlongAnAxis, textbook.Softmax):
    compute, differentiate = staticmethod(rows.softmax), staticmethod(rows.softmax_backward)


class LogSoftmax(_AlongAnAxis, textbook.LogSoftmax):
    compute, differentiate = staticmethod(rows.log_softmax), staticmethod(rows.log_softmax_backward)


class CrossEntropy(textbook.CrossEntropy):
    """Only the target's z and the row sums are needed: forward keeps exp(z) (in z's memory) and its
    row sums (a BLAS product on the CPU), and backward divides once, folded into the scaling."""

    def forward(self, logits, targets, ignore_index, reduction, label_smoothing, z=None):
        """z: an array of logits' shape and dtype to work in (a compiled step's, nn/fast/into_forms.py), or None"""
        xp = self.xp
        n, classes = logits.shape
        keep = targets != ignore_index
        in_range = (targets >= 0) & (targets < classes)
        safe_targets = xp.where(keep & in_range, targets, 0)
        z = xp.subtract(logits, logits.max(axis=1, keepdims=True), out=z)
        picked = z[xp.arange(n), safe_targets]
        mean_z = z.mean(axis=1) if label_smoothing else None
        exp_z = xp.exp(z, out=z)  # z is not needed any more: reuse its memory
        total = rows.row_sum(xp, exp_z)[:, 0]
        log_sum_exp = xp.log(total)
        losses = (1 - label_smoothing) * (log_sum_exp - picked)
        if label_smoothing:
            losses += label_smoothing * (log_sum_exp - mean_z)
        losses = xp.where(keep, xp.where(in_range, losses, xp.nan), 0).astype(logits.dtype)
        count = keep.sum()  # a 0-d array: dividing by it reads nothing back from the device
        self.save_for_backward(exp_z, total, safe_targets, keep, count)
        self.reduction, self.label_smoothing = reduction, label_smoothing
        return self.reduce(losses, count, reduction)

    def backward(self, grad):
        xp = self.xp
        exp_z, total, targets, keep, count = self.saved
        n, classes = exp_z.shape
        if self.reduction == "mean":
            grad = grad / count.astype(grad.dtype)
        row_scale = grad * keep  # (n,): d(loss)/d(loss_i), 0 for ignored rows
        dlogits = exp_z * (row_scale / total)[:, None]  # p_i, scaled
        dlogits[xp.arange(n), targets] -= (1 - self.label_smoothing) * row_scale
        if self.label_smoothing:
            dlogits -= (self.label_smoothing / classes) * row_scale[:, None]
        return dlogits, None


class LayerNorm(textbook.LayerNorm):
    def forward(self, x, weight, bias, n_features, eps):
        self.input_shape = x.shape
        xhat, rstd = rows.layer_norm(self.xp, x.reshape(-1, n_features), eps)  # (N, F), (N, 1)
        self.parameter_shape = weight.shape
        weight, bias = weight.reshape(-1), bias.reshape(-1)  # (F,)
        self.save_for_backward(xhat, rstd, weight)
        y = xhat * weight
        y += bias
        return y.reshape(x.shape)

    def backward(self, grad):
        xp = self.xp
        xhat, rstd, weight = self.saved
        grad = grad.reshape(xhat.shape)  # (N, F)
        g = grad * weight  # g is ours to overwrite
        dx = rows.layer_norm_backward(xp, xhat, rstd, g).reshape(self.input_shape)
        dweight = rows.column_dot(xp, grad, xhat).reshape(self.parameter_shape) if self.needs_input_grad[1] else None
        dbias = grad.sum(axis=0).reshape(self.parameter_shape) if self.needs_input_grad[2] else None
        return dx, dweight, dbias


class ScaledDotProductAttention(textbook.ScaledDotProductAttention):
    """Inputs without batch dims work as a batch of one; the dropout mask is drawn whole, as the
    textbook draws it, so the random stream does not depend on the blocks."""

    def batched(self, xp, q, k, v, bias):
        """The common batch dims of q, k, v and the bias, and q, k, v broadcast to them; no batch dims at all
        work as a batch of one (self.squeeze says so, for the output and its gradient)."""
        bias_batch = bias.shape[:-2] if bias is not None else ()
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], bias_batch)
        self.squeeze = batch == ()
        batch = batch or (1,)
        return batch, *(xp.broadcast_to(a, batch + a.shape[-2:]) for a in (q, k, v))

    def forward(self, q, k, v, bias, scale, dropout_p, generator):
        xp = self.xp
        batch, q, k, v = self.batched(xp, q, k, v, bias)
        keep = None
        if dropout_p > 0:
            draws = generator.random(batch + (q.shape[-2], k.shape[-2]), dtype=q.dtype)
            keep = (draws >= dropout_p).astype(q.dtype) / q.dtype.type(1 - dropout_p)
        self.scale = q.dtype.type(scale)
        weights, out = rows.attention(xp, q, k, v, bias, self.scale, keep)
        self.save_for_backward(q, k, v, weights, *([] if keep is None else [keep]))
        return out[0] if self.squeeze else out

    def backward(self, grad):
        q, k, v, weights, *keep = self.saved
        grad = grad[None] if self.squeeze else grad
        keep = keep[0] if keep else None
        return rows.attention_backward(self.xp, q, k, v, weights, keep, grad, self.scale)  # dq, dk, dv
