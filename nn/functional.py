"""nn.functional: fused ops, each one Function with a hand-derived backward.

A composed op (softmax as exp, sum, divide) records several graph nodes and
keeps each intermediate alive until backward; a fused op records one node and
keeps only what its backward formula needs. nn/composed.py has the same ops
built from tensor/ primitives, and the tests prove both give equal values and
gradients.
"""

import math

import tensor
from tensor import Function, Tensor
from tensor.backend import erf

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
        dbias = grad_rows.sum(axis=0) if len(self.needs_input_grad) > 2 and self.needs_input_grad[2] else None
        return dx, dweight, dbias


def linear(input, weight, bias=None):
    """x W^T + b for W of shape (out_features, in_features)."""
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not end in in_features = {weight.shape[1]} (weight {weight.shape})"
        )
    return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)


# ----- softmax family ---------------------------------------------------------------------------


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max));  dx = y * (dy - sum(dy * y))"""

    def forward(self, x, axis):
        shifted = x - x.max(axis=axis, keepdims=True)  # exp of a number <= 0 cannot overflow
        y = self.xp.exp(shifted, out=shifted)
        y /= y.sum(axis=axis, keepdims=True)
        self.save_for_backward(y)
        self.axis = axis
        return y

    def backward(self, grad):
        (y,) = self.saved
        return y * (grad - (grad * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - max - log(sum(exp(x - max)));  dx = dy - exp(y) * sum(dy)"""

    def forward(self, x, axis):
        shifted = x - x.max(axis=axis, keepdims=True)
        y = shifted - self.xp.log(self.xp.exp(shifted).sum(axis=axis, keepdims=True))
        self.save_for_backward(y)
        self.axis = axis
        return y

    def backward(self, grad):
        (y,) = self.saved
        return grad - self.xp.exp(y) * grad.sum(axis=self.axis, keepdims=True)


def softmax(input, dim):
    return Softmax.apply(input, axis=dim)


def log_softmax(input, dim):
    return LogSoftmax.apply(input, axis=dim)


class CrossEntropy(Function):
    """loss_i = -(1 - s) log p_i[target_i] - s * mean_c log p_ic, with p = softmax(logits_i), s = label smoothing.

    dlogits_i = p_i - q_i, where q_i = (1 - s) onehot(target_i) + s / C is the target distribution;
    rows whose target is ignore_index contribute nothing.
    """

    def forward(self, logits, targets, ignore_index, reduction, label_smoothing):
        xp = self.xp
        n, classes = logits.shape
        keep = targets != ignore_index
        safe_targets = xp.where(keep, targets, 0)
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        rows = xp.arange(n)
        losses = -(1 - label_smoothing) * log_probs[rows, safe_targets]
        if label_smoothing:
            losses -= label_smoothing * log_probs.mean(axis=1)
        losses = xp.where(keep, losses, 0).astype(logits.dtype)
        self.save_for_backward(log_probs, safe_targets, keep)
        self.reduction, self.label_smoothing = reduction, label_smoothing
        self.count = keep.sum()
        if reduction == "none":
            return losses
        total = losses.sum()
        return total if reduction == "sum" else total / self.count.astype(logits.dtype)

    def backward(self, grad):
        xp = self.xp
        log_probs, targets, keep = self.saved
        n, classes = log_probs.shape
        dlogits = xp.exp(log_probs)  # p
        dlogits[xp.arange(n), targets] -= 1 - self.label_smoothing
        if self.label_smoothing:
            dlogits -= self.label_smoothing / classes
        if self.reduction == "none":
            scale = grad[:, None]
        elif self.reduction == "sum":
            scale = grad
        else:
            scale = grad / self.count.astype(grad.dtype)
        return dlogits * (scale * keep[:, None]), None


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
    Arrays made here are updated in place to spare allocations (this op is memory-bound).
    """

    def forward(self, x, *affine, axes, eps):
        xhat = x - x.mean(axis=axes, keepdims=True)  # centered for now
        var = self.xp.square(xhat).mean(axis=axes, keepdims=True)
        rstd = 1 / self.xp.sqrt(var + eps)
        xhat *= rstd
        self.save_for_backward(xhat, rstd, *affine)
        self.axes = axes
        if not affine:
            return xhat
        weight, bias = affine
        y = xhat * weight
        y += bias
        return y

    def backward(self, grad):
        xhat, rstd, *affine = self.saved
        g = grad * affine[0] if affine else grad.copy()  # g is ours to overwrite
        mean_g_xhat = (g * xhat).mean(axis=self.axes, keepdims=True)
        g -= g.mean(axis=self.axes, keepdims=True)
        g -= xhat * mean_g_xhat
        g *= rstd
        if not affine:
            return (g,)
        batch_axes = tuple(range(grad.ndim - len(self.axes)))  # weight and bias are shared across these
        dweight = (grad * xhat).sum(axis=batch_axes) if self.needs_input_grad[1] else None
        dbias = grad.sum(axis=batch_axes) if self.needs_input_grad[2] else None
        return g, dweight, dbias


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(normalized_shape) :] != normalized_shape:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end in normalized_shape {normalized_shape}"
        )
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    if weight is None and bias is None:
        return LayerNorm.apply(input, axes=axes, eps=eps)
    if weight is None or bias is None:
        raise ValueError("layer_norm: pass both weight and bias, or neither")
    return LayerNorm.apply(input, weight, bias, axes=axes, eps=eps)


# ----- activations -----------------------------------------------------------------------------------


class GELU(Function):
    """y = x * Phi(x), Phi the standard normal CDF;  dy/dx = Phi(x) + x * phi(x).

    approximate='tanh': Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, differentiated exactly.
    """

    def forward(self, x, approximate):
        self.save_for_backward(x)
        self.approximate = approximate
        if approximate == "tanh":
            return 0.5 * x * (1 + self.xp.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        return 0.5 * x * (1 + erf(x / math.sqrt(2)))

    def backward(self, grad):
        (x,) = self.saved
        if self.approximate == "tanh":
            inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
            t = self.xp.tanh(inner)
            d_inner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner)
        cdf = 0.5 * (1 + erf(x / math.sqrt(2)))
        pdf = self.xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
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


def embedding(input, weight):
    """Rows of `weight` picked by the integer tensor `input`: weight[input]."""
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {input.dtype}")
    return weight[input]


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
    The arrays made here are updated in place (`out=`, `-=`) to spare allocations.
    """

    def forward(self, q, k, v, bias, scale, dropout_p, generator):
        xp = self.xp
        scores = (q * q.dtype.type(scale)) @ _contiguous_transpose(xp, k)  # (..., Tq, Tk)
        if bias is not None:
            scores += bias
        row_max = scores.max(axis=-1, keepdims=True)
        row_max[~xp.isfinite(row_max)] = 0  # a fully masked row: exp(-inf - 0) = 0 everywhere
        scores -= row_max  # exp of a number <= 0 cannot overflow
        weights = xp.exp(scores, out=scores)
        total = weights.sum(axis=-1, keepdims=True)
        total[total == 0] = 1
        weights /= total
        self.keep = None
        dropped = weights
        if dropout_p > 0:
            self.keep = (generator.random(weights.shape) >= dropout_p).astype(q.dtype) / q.dtype.type(1 - dropout_p)
            dropped = weights * self.keep
        self.save_for_backward(q, k, v, weights, dropped)
        self.scale = scale
        return dropped @ v

    def backward(self, grad):
        xp = self.xp
        q, k, v, weights, dropped = self.saved
        dv = dropped.swapaxes(-1, -2) @ grad
        d_scores = grad @ _contiguous_transpose(xp, v)  # dP (after dropout), a fresh array we may overwrite
        if self.keep is not None:
            d_scores *= self.keep
        d_scores -= (d_scores * weights).sum(axis=-1, keepdims=True)
        d_scores *= weights
        d_scores *= q.dtype.type(self.scale)  # dS, with the scale of the scores folded in
        dq = d_scores @ k if self.needs_input_grad[0] else None
        dk = d_scores.swapaxes(-1, -2) @ q if self.needs_input_grad[1] else None
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
