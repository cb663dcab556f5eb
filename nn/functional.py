"""nn.functional: fused ops, each one Function with a hand-derived backward.

A composed op (softmax as exp, sum, divide) records several graph nodes and
keeps each intermediate alive until backward; a fused op records one node and
keeps only what its backward formula needs. nn/composed.py has the same ops
built from tensor/ primitives, and the tests prove both give equal values and
gradients.
"""

import math

import numpy as np

import tensor
from tensor import Function, Tensor
from tensor.backend import device_of, erf, scatter_add
from tensor.parallel import for_each_block

# ----- linear ----------------------------------------------------------------------------------------


class Linear(Function):
    """y = x W^T + b;  dx = dy W,  dW = dy^T x,  db = sum(dy), summing over every leading dim.

    The leading dims of x are flattened into one, so each product is a single matrix
    multiplication instead of one per batch element."""

    def forward(self, x, weight, *bias):
        rows = x.reshape(-1, x.shape[-1])  # (N, in)
        y = rows @ weight.T  # (N, out)
        if bias:
            y += bias[0]
        self.save_for_backward(rows, weight)
        self.input_shape = x.shape
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        rows, weight = self.saved
        grad_rows = grad.reshape(-1, grad.shape[-1])  # (N, out)
        dx = (grad_rows @ weight).reshape(self.input_shape) if self.needs_input_grad[0] else None
        dweight = grad_rows.T @ rows if self.needs_input_grad[1] else None
        if len(self.needs_input_grad) == 2:  # no bias: one gradient per input
            return dx, dweight
        dbias = grad_rows.sum(axis=0) if self.needs_input_grad[2] else None
        return dx, dweight, dbias


def linear(input, weight, bias=None):
    """x W^T + b for W of shape (out_features, in_features)."""
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not end in in_features = {weight.shape[1]} (weight {weight.shape})"
        )
    return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)


# ----- softmax family ---------------------------------------------------------------------------


def _row_sum(xp, a):
    """sum over the last dim, keeping it (size 1), as a matrix-vector product: BLAS runs it two
    to five times faster than NumPy's reduction along a short last axis (measured: 0.09 against
    0.50 ms for (4096, 256) float32, 1.5 against 3.4 ms for (256, 128, 128))."""
    return (a @ xp.ones(a.shape[-1], dtype=a.dtype))[..., None]


def _row_dot(xp, a, b):
    """sum(a * b) over the last dim, keeping it (size 1); einsum skips the product's temporary."""
    return xp.einsum("...i,...i->...", a, b)[..., None]


def _for_each_row_block(fn, x, axis):
    """Run fn(rows) over blocks of x's first axis when the op reduces along another axis (so the
    blocks are independent, tensor.parallel), else once over everything."""
    if x.ndim > 1 and axis % x.ndim != 0:
        for_each_block(fn, x.shape[0], x[:1].nbytes, device_of(x))
    else:
        fn(Ellipsis)


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max));  dx = y * (dy - sum(dy * y))"""

    def forward(self, x, axis):
        xp = self.xp
        y = xp.empty(x.shape, dtype=x.dtype)

        def normalize(rows):
            x_rows, y_rows = x[rows], y[rows]
            xp.subtract(x_rows, x_rows.max(axis=axis, keepdims=True), out=y_rows)  # exp(<= 0) cannot overflow
            xp.exp(y_rows, out=y_rows)
            y_rows /= _row_sum(xp, y_rows) if axis in (-1, x.ndim - 1) else y_rows.sum(axis=axis, keepdims=True)

        _for_each_row_block(normalize, x, axis)
        self.save_for_backward(y)
        self.axis = axis
        return y

    def backward(self, grad):
        xp, axis = self.xp, self.axis
        (y,) = self.saved
        dx = xp.empty(y.shape, dtype=y.dtype)

        def backward_rows(rows):
            g, y_rows, dx_rows = grad[rows], y[rows], dx[rows]
            if axis in (-1, y.ndim - 1):
                xp.subtract(g, _row_dot(xp, g, y_rows), out=dx_rows)
            else:
                xp.subtract(g, (g * y_rows).sum(axis=axis, keepdims=True), out=dx_rows)
            dx_rows *= y_rows

        _for_each_row_block(backward_rows, y, axis)
        return dx


class LogSoftmax(Function):
    """y = x - max - log(sum(exp(x - max)));  dx = dy - exp(y) * sum(dy)"""

    def forward(self, x, axis):
        xp = self.xp
        y = xp.empty(x.shape, dtype=x.dtype)

        def normalize(rows):
            x_rows, y_rows = x[rows], y[rows]
            xp.subtract(x_rows, x_rows.max(axis=axis, keepdims=True), out=y_rows)
            y_rows -= xp.log(xp.exp(y_rows).sum(axis=axis, keepdims=True))

        _for_each_row_block(normalize, x, axis)
        self.save_for_backward(y)
        self.axis = axis
        return y

    def backward(self, grad):
        xp, axis = self.xp, self.axis
        (y,) = self.saved
        dx = xp.empty(y.shape, dtype=y.dtype)

        def backward_rows(rows):
            g, dx_rows = grad[rows], dx[rows]
            xp.exp(y[rows], out=dx_rows)
            dx_rows *= -g.sum(axis=axis, keepdims=True)
            dx_rows += g

        _for_each_row_block(backward_rows, y, axis)
        return dx


def softmax(input, dim):
    return Softmax.apply(input, axis=dim)


def log_softmax(input, dim):
    return LogSoftmax.apply(input, axis=dim)


class CrossEntropy(Function):
    """loss_i = -(1 - s) log p_i[target_i] - s * mean_c log p_ic, with p = softmax(logits_i), s = label smoothing.

    dlogits_i = p_i - q_i, where q_i = (1 - s) onehot(target_i) + s / C is the target distribution;
    rows whose target is ignore_index contribute nothing. With z = logits - max,
    log p_ic = z_c - log(sum(exp(z))), so only the target's z and the row sums are needed; the
    forward keeps exp(z) and its row sums, and backward divides once, folded into the scaling.
    """

    def forward(self, logits, targets, ignore_index, reduction, label_smoothing):
        xp = self.xp
        n, classes = logits.shape
        keep = targets != ignore_index
        safe_targets = xp.where(keep, targets, 0)
        z = logits - logits.max(axis=1, keepdims=True)
        picked = z[xp.arange(n), safe_targets]
        mean_z = z.mean(axis=1) if label_smoothing else None
        exp_z = xp.exp(z, out=z)  # z is not needed any more: reuse its memory
        total = _row_sum(xp, exp_z)[:, 0]
        log_sum_exp = xp.log(total)
        losses = (1 - label_smoothing) * (log_sum_exp - picked)
        if label_smoothing:
            losses += label_smoothing * (log_sum_exp - mean_z)
        losses = xp.where(keep, losses, 0).astype(logits.dtype)
        self.save_for_backward(exp_z, total, safe_targets, keep)
        self.reduction, self.label_smoothing = reduction, label_smoothing
        self.count = keep.sum()
        if reduction == "none":
            return losses
        total_loss = losses.sum()
        return total_loss if reduction == "sum" else total_loss / self.count.astype(logits.dtype)

    def backward(self, grad):
        xp = self.xp
        exp_z, total, targets, keep = self.saved
        n, classes = exp_z.shape
        if self.reduction == "mean":
            grad = grad / self.count.astype(grad.dtype)
        row_scale = grad * keep  # (n,): d(loss)/d(loss_i), 0 for ignored rows
        dlogits = exp_z * (row_scale / total)[:, None]  # p_i, scaled
        dlogits[xp.arange(n), targets] -= (1 - self.label_smoothing) * row_scale
        if self.label_smoothing:
            dlogits -= (self.label_smoothing / classes) * row_scale[:, None]
        return dlogits, None


def cross_entropy(input, target, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Mean (or sum, or per-row) negative log-likelihood of `target` under softmax(`input`).

    input: (N, C) logits (or (N, C, d1, ...), with the class dim second, as PyTorch);
    target: (N,) (or (N, d1, ...)) class indices; rows whose target is ignore_index are skipped.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype}")
    if input.ndim > 2:  # (N, C, d1, ...) -> (N * d1 * ..., C)
        extra_shape = (input.shape[0],) + input.shape[2:]
        input = input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])
        target = target.reshape(-1)
    else:
        extra_shape = None
    if input.ndim != 2 or target.ndim != 1 or input.shape[0] != target.shape[0]:
        raise ValueError(f"cross_entropy: expected input (N, C) and target (N,), got {input.shape} and {target.shape}")
    classes = input.shape[1]
    targets = target.data
    valid = (targets == ignore_index) | ((targets >= 0) & (targets < classes))
    if not bool(valid.all()):
        bad = int(targets[~valid][0])
        raise IndexError(f"cross_entropy: target {bad} is out of range for {classes} classes")
    out = CrossEntropy.apply(
        input, target, ignore_index=ignore_index, reduction=reduction, label_smoothing=float(label_smoothing)
    )
    return out.reshape(extra_shape) if reduction == "none" and extra_shape else out


# ----- normalization ---------------------------------------------------------------------------------


class LayerNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dims.

    With xhat the normalized x, rstd = 1 / sqrt(var + eps), and g = dy * weight:
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dweight = sum(dy * xhat),  dbias = sum(dy).
    The normalized dims are flattened into one, so every statistic is a reduction over the
    last axis of a (rows, features) array; arrays made here are updated in place.
    """

    def forward(self, x, *affine, n_features, eps):
        xp = self.xp
        self.input_shape = x.shape
        rows = x.reshape(-1, n_features)  # (N, F)
        xhat = rows - _row_sum(xp, rows) / n_features  # centered for now
        rstd = 1 / xp.sqrt(_row_dot(xp, xhat, xhat) / n_features + eps)  # (N, 1)
        xhat *= rstd
        if not affine:
            self.save_for_backward(xhat, rstd)
            return xhat.reshape(x.shape)
        weight, bias = (a.reshape(-1) for a in affine)  # (F,)
        self.parameter_shape = affine[0].shape
        self.save_for_backward(xhat, rstd, weight)
        y = xhat * weight
        y += bias
        return y.reshape(x.shape)

    def backward(self, grad):
        xp = self.xp
        xhat, rstd, *affine = self.saved
        n_features = xhat.shape[1]
        grad = grad.reshape(xhat.shape)  # (N, F)
        g = grad * affine[0] if affine else grad.copy()  # g is ours to overwrite
        mean_g_xhat = _row_dot(xp, g, xhat) / n_features
        g -= _row_sum(xp, g) / n_features
        g -= xhat * mean_g_xhat
        g *= rstd
        dx = g.reshape(self.input_shape)
        if not affine:
            return (dx,)
        dweight = xp.einsum("nf,nf->f", grad, xhat).reshape(self.parameter_shape) if self.needs_input_grad[1] else None
        dbias = grad.sum(axis=0).reshape(self.parameter_shape) if self.needs_input_grad[2] else None
        return dx, dweight, dbias


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(normalized_shape) :] != normalized_shape:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end in normalized_shape {normalized_shape}"
        )
    n_features = math.prod(normalized_shape)
    if weight is None and bias is None:
        return LayerNorm.apply(input, n_features=n_features, eps=eps)
    if weight is None or bias is None:
        raise ValueError("layer_norm: pass both weight and bias, or neither")
    return LayerNorm.apply(input, weight, bias, n_features=n_features, eps=eps)


# ----- activations -----------------------------------------------------------------------------------


class GELU(Function):
    """y = x * Phi(x), Phi the standard normal CDF;  dy/dx = Phi(x) + x * phi(x).

    approximate='tanh': Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, differentiated exactly.
    Forward keeps Phi(x) (or the tanh) for backward, so erf is computed once.
    """

    def forward(self, x, approximate):
        xp = self.xp
        self.approximate = approximate
        if approximate == "tanh":
            t = xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
            self.save_for_backward(x, t)
            return 0.5 * x * (1 + t)
        cdf = erf(x / math.sqrt(2))
        cdf += 1
        cdf *= 0.5
        self.save_for_backward(x, cdf)
        return x * cdf

    def backward(self, grad):
        xp = self.xp
        if self.approximate == "tanh":
            x, t = self.saved
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        x, cdf = self.saved
        pdf = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return grad * (cdf + x * pdf)


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def relu(input):
    return input.relu()


def tanh(input):
    return input.tanh()


# ----- dropout -------------------------------------------------------------------------------------------


class Dropout(Function):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);  dx = dy * mask / (1 - p)"""

    def forward(self, x, p, generator):
        keep = generator.random(x.shape) >= p
        self.scaled_mask = keep.astype(x.dtype) / x.dtype.type(1 - p)
        return x * self.scaled_mask

    def backward(self, grad):
        return grad * self.scaled_mask


def dropout(input, p=0.5, training=True):
    """Inverted dropout: zero each element with probability p and scale the rest by 1 / (1 - p)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    return Dropout.apply(input, p=p, generator=tensor.generator(input.device))


# ----- embedding --------------------------------------------------------------------------------------------


class Embedding(Function):
    """out[...] = weight[indices[...]];  dweight[v] = sum of the output gradients of every position holding v.

    Backward adds each gradient element into the flattened weight at token * dim + column:
    a scatter-add over one dimension, which NumPy runs about 3x faster than over rows.
    """

    def forward(self, weight, indices):
        self.indices, self.weight_shape = indices, weight.shape
        return weight[indices]

    def backward(self, grad):
        xp = self.xp
        dim = self.weight_shape[1]
        dweight = xp.zeros(self.weight_shape[0] * dim, dtype=grad.dtype)
        positions = (self.indices.reshape(-1, 1) * dim + xp.arange(dim)).reshape(-1)
        scatter_add(dweight, positions, grad.reshape(-1))
        return dweight.reshape(self.weight_shape), None  # the indices get no gradient


def embedding(input, weight):
    """Rows of `weight` picked by the integer tensor `input`: weight[input]."""
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {input.dtype}")
    if input.numel() and (int(input.data.min()) < 0 or int(input.data.max()) >= weight.shape[0]):
        bad = int(input.data.max()) if int(input.data.max()) >= weight.shape[0] else int(input.data.min())
        raise IndexError(f"embedding: index {bad} is out of range for {weight.shape[0]} embeddings")
    return Embedding.apply(weight, input.to(weight.device) if input.device != weight.device else input)


# ----- attention ----------------------------------------------------------------------------------------------


def _contiguous_transpose(xp, a):
    """a with its last two dims swapped, copied into C order. For the thin (T, head_size)
    operands NumPy's batched matmul is markedly faster on such a copy than on a transposed
    view; for the square (T, T) ones the view is faster than copying (measured)."""
    return xp.ascontiguousarray(a.swapaxes(-1, -2))


class ScaledDotProductAttention(Function):
    """O = dropout(softmax(Q K^T * scale + bias)) V, one graph node for the whole attention.

    With P the attention weights (after dropout: Pd = P * keep / (1 - p)):
    dV = Pd^T dO,  dPd = dO V^T,  dP = dPd * keep / (1 - p),  dS = P * (dP - sum(dP * P)),
    dQ = dS K * scale,  dK = dS^T Q * scale. `bias` is 0 where a query may attend and -inf
    where it may not (or any float mask); rows where every key is masked give zeros, as PyTorch.

    Each batch element is independent, so both passes are written for one block of the
    first (batch) axis and run block by block on every core (tensor.parallel); the blocks
    write into arrays made once, in place (`out=`, `-=`).
    """

    def forward(self, q, k, v, bias, scale, dropout_p, generator):
        xp = self.xp
        bias_batch = bias.shape[:-2] if bias is not None else ()
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], bias_batch)
        squeeze = batch == ()  # no batch dims: work on a batch of one
        batch = batch or (1,)
        q, k, v = (xp.broadcast_to(a, batch + a.shape[-2:]) for a in (q, k, v))
        bias_per_row = len(bias_batch) == len(batch) and bias_batch[0] > 1  # else the same for every block
        q_len, k_len = q.shape[-2], k.shape[-2]
        weights = xp.empty(batch + (q_len, k_len), dtype=q.dtype)  # P
        out = xp.empty(batch + (q_len, v.shape[-1]), dtype=q.dtype)
        keep = None  # drawn whole, before the blocks, so the random stream does not depend on them
        if dropout_p > 0:
            keep = (generator.random(weights.shape) >= dropout_p).astype(q.dtype) / q.dtype.type(1 - dropout_p)
        scale = q.dtype.type(scale)

        def attend(rows):
            scores = weights[rows]
            xp.matmul(q[rows] * scale, _contiguous_transpose(xp, k[rows]), out=scores)
            if bias is not None:
                scores += bias[rows] if bias_per_row else bias
            row_max = scores.max(axis=-1, keepdims=True)
            row_max[~xp.isfinite(row_max)] = 0  # a fully masked row: exp(-inf - 0) = 0 everywhere
            scores -= row_max  # exp of a number <= 0 cannot overflow
            xp.exp(scores, out=scores)
            total = _row_sum(xp, scores)
            total[total == 0] = 1
            scores /= total
            xp.matmul(scores if keep is None else scores * keep[rows], v[rows], out=out[rows])

        for_each_block(attend, batch[0], weights[:1].nbytes, device_of(q))
        self.save_for_backward(q, k, v, weights)
        self.keep, self.scale, self.squeeze = keep, scale, squeeze
        return out[0] if squeeze else out

    def backward(self, grad):
        xp = self.xp
        q, k, v, weights = self.saved
        keep, scale = self.keep, self.scale
        if self.squeeze:
            grad = grad[None]
        dq, dk, dv = (xp.empty(a.shape, dtype=a.dtype) for a in (q, k, v))  # the engine sums broadcast dims

        def attend_backward(rows):
            w = weights[rows]
            xp.matmul((w if keep is None else w * keep[rows]).swapaxes(-1, -2), grad[rows], out=dv[rows])
            d_scores = grad[rows] @ _contiguous_transpose(xp, v[rows])  # dP (after dropout), ours to overwrite
            if keep is not None:
                d_scores *= keep[rows]
            d_scores -= _row_dot(xp, d_scores, w)
            d_scores *= w
            d_scores *= scale  # dS, with the scale of the scores folded in
            xp.matmul(d_scores, k[rows], out=dq[rows])
            xp.matmul(d_scores.swapaxes(-1, -2), q[rows], out=dk[rows])

        for_each_block(attend_backward, weights.shape[0], weights[:1].nbytes, device_of(q))
        return dq, dk, dv


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(Q K^T / sqrt(d) + mask) V for Q (..., Tq, d), K (..., Tk, d), V (..., Tk, dv).

    attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to (..., Tq, Tk).
    is_causal: query i attends to keys 0..i (the top-left aligned lower triangle, as PyTorch).
    """
    q_len, k_len, d = query.shape[-2], key.shape[-2], query.shape[-1]
    if key.shape[-1] != d or value.shape[-2] != k_len:
        raise ValueError(f"attention: query {query.shape}, key {key.shape}, value {value.shape} do not fit (..., T, d)")
    if is_causal and attn_mask is not None:
        raise ValueError("attention: pass either attn_mask or is_causal=True, not both")
    xp = query._xp
    bias = None  # added to the scores: 0 where a query may attend, -inf where it may not
    if is_causal:
        bias = xp.triu(xp.full((q_len, k_len), -xp.inf, dtype=query.dtype), 1)
    elif attn_mask is not None:
        if attn_mask.shape[-2:] not in ((q_len, k_len), (1, k_len), (q_len, 1), (1, 1)) and attn_mask.ndim >= 2:
            raise ValueError(
                f"attention: attn_mask of shape {attn_mask.shape} does not broadcast to (..., {q_len}, {k_len})"
            )
        if attn_mask.dtype == tensor.bool:
            bias = xp.where(attn_mask.data, query.dtype.type(0), query.dtype.type(-xp.inf))
        else:
            bias = attn_mask.data.astype(query.dtype)
    scale = 1 / math.sqrt(d) if scale is None else scale
    return ScaledDotProductAttention.apply(
        query,
        key,
        value,
        bias=bias,
        scale=scale,
        dropout_p=dropout_p,
        generator=tensor.generator(query.device) if dropout_p > 0 else None,
    )


__all__ = [
    "Tensor",
    "linear",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "layer_norm",
    "gelu",
    "relu",
    "tanh",
    "dropout",
    "embedding",
    "scaled_dot_product_attention",
]
