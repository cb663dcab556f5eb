"""nn.functional: fused ops, each one Function whose forward and backward read as its formulas.

A composed op (softmax as exp, sum, divide) records several graph nodes and
keeps each intermediate alive until backward; a fused op records one node and
keeps only what its backward formula needs. nn/composed.py has the same ops
built from tensor/ primitives, and the tests prove both give equal values and
gradients.

This is the textbook: plain array calls (xp is NumPy or CuPy). The engine room, nn/fast/, registers
a faster stand-in for some of these Functions (blocks of rows, batched Linear gradients), which
runs in their place in fast mode (tensor/kernels.py) and is tested equal to them.
"""

import math

import numpy as np

import tensor
from tensor import Function, Tensor
from tensor.backend import erf, scatter_add
from tensor.ops import LogSoftmax as _LogSoftmax
from tensor.ops import Softmax as _Softmax

# ----- linear ----------------------------------------------------------------------------------------


class Linear(Function):
    """y = x W^T + b;  dx = dy W,  dW = dy^T x,  db = sum(dy), summing over every leading dim of x.

    The leading dims of x are flattened into one, so each product is one matrix multiplication
    over all rows (N, in) instead of one per batch element."""

    def forward(self, x, weight, *bias):
        rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # (N, in); in may be 0
        self.save_for_backward(rows, weight)
        y = rows @ weight.T  # (N, out)
        if bias:
            y = y + bias[0]
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, grad):
        rows, weight = self.saved
        grad_rows = grad.reshape(math.prod(grad.shape[:-1]), grad.shape[-1])  # (N, out)
        dx = (grad_rows @ weight).reshape(grad.shape[:-1] + (weight.shape[1],))
        dweight = grad_rows.T @ rows
        dbias = grad_rows.sum(axis=0)
        return (dx, dweight, dbias)[: len(self.needs_input_grad)]  # no bias: two gradients


def linear(input, weight, bias=None):
    """x W^T + b for W of shape (out_features, in_features)."""
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not end in in_features = {weight.shape[1]} (weight {weight.shape})"
        )
    # as PyTorch: no silent promotion (and the weight's gradient keeps the weight's dtype)
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise RuntimeError(
            f"linear: input, weight{'' if bias is None else ' and bias'} must have one dtype, got input {input.dtype}, "
            f"weight {weight.dtype}{'' if bias is None else f', bias {bias.dtype}'}: convert the input "
            "(x.to(weight.dtype)) or the model (.float(), .double())"
        )
    return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)


# ----- softmax family ---------------------------------------------------------------------------


class Softmax(_Softmax):
    """y = exp(x - max) / sum(exp(x - max)): tensor/ops/reductions.py's, where Tensor.softmax uses it too."""


class LogSoftmax(_LogSoftmax):
    """y = z - log(sum(exp(z))), z = x - max: tensor/ops/reductions.py's, where Tensor.log_softmax uses it too."""


def softmax(input, dim):
    if not input.is_floating_point():  # PyTorch gives an empty integer tensor back, and refuses any other
        if input.numel() == 0:
            return input.clone()
        tensor.dtypes.require(input.dtype, "f", "softmax")
    return Softmax.apply(input, axis=dim)


def log_softmax(input, dim):
    if input.numel() == 0 and not input.is_floating_point():
        return input.clone()
    tensor.dtypes.require(input.dtype, "f", "log_softmax")
    return LogSoftmax.apply(input, axis=dim)


class CrossEntropy(Function):
    """loss_i = -(1 - s) log p_i[t_i] - s * mean_c log p_ic,  p_i = softmax(logits_i), s = label smoothing;
    dlogits_i = p_i - q_i,  q_i = (1 - s) onehot(t_i) + s / C the target distribution.

    Rows whose target is ignore_index contribute nothing. A target outside [0, C) (not ignored)
    gives a NaN loss instead of reading another row: the device-side signal, as PyTorch's CUDA
    assert (on the CPU, cross_entropy raises an IndexError before this runs).
    """

    checked_inputs = (1,)  # the targets, as PyTorch saves them (what is saved here is a copy)

    def forward(self, logits, targets, ignore_index, reduction, label_smoothing):
        xp, s = self.xp, label_smoothing
        n, classes = logits.shape
        keep = targets != ignore_index
        in_range = (targets >= 0) & (targets < classes)
        safe_targets = xp.where(keep & in_range, targets, 0)
        z = logits - logits.max(axis=1, keepdims=True)
        log_p = z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))  # log softmax
        losses = -(1 - s) * log_p[xp.arange(n), safe_targets] - s * log_p.mean(axis=1)
        losses = xp.where(keep, xp.where(in_range, losses, xp.nan), 0).astype(logits.dtype)
        count = keep.sum()  # a 0-d array: dividing by it reads nothing back from the device
        self.save_for_backward(log_p, safe_targets, keep, count)
        self.reduction, self.label_smoothing = reduction, s
        return self.reduce(losses, count, reduction)

    @staticmethod
    def reduce(losses, count, reduction):
        """The losses of each row ("none"), their sum, or their mean over the `count` rows not ignored."""
        if reduction == "none":
            return losses
        total = losses.sum()
        return total if reduction == "sum" else total / count.astype(losses.dtype)

    def backward(self, grad):
        xp, s = self.xp, self.label_smoothing
        log_p, targets, keep, count = self.saved
        n, classes = log_p.shape
        if self.reduction == "mean":
            grad = grad / count.astype(grad.dtype)
        q = xp.full(log_p.shape, s / classes, dtype=log_p.dtype)  # the target distribution
        q[xp.arange(n), targets] += 1 - s
        row_scale = grad * keep  # (n,): d(loss)/d(loss_i), 0 for ignored rows
        return (xp.exp(log_p) - q) * row_scale[:, None], None


def cross_entropy(
    input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0
):
    """Mean (or sum, or per-row) negative log-likelihood of `target` under softmax(`input`).

    input: (N, C) logits (or (N, C, d1, ...), with the class dim second, as PyTorch);
    target: (N,) (or (N, d1, ...)) class indices; rows whose target is ignore_index are skipped.
    Class weights, probability targets and an unbatched (C,) input are composed of primitives in
    weighted_cross_entropy (end of this file); size_average and reduce are PyTorch's deprecated
    spellings of reduction, accepted and ignored when None.
    """
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None or input.ndim == 1 or (target.is_floating_point() and target.shape == input.shape):
        return weighted_cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype}")
    if input.ndim > 2:  # (N, C, d1, ...): one row of C logits per position, (N * d1 * ..., C)
        rows = input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])
        out = cross_entropy(
            rows, target.reshape(-1), ignore_index=ignore_index, reduction=reduction, label_smoothing=label_smoothing
        )
        return out.reshape((input.shape[0],) + input.shape[2:]) if reduction == "none" else out
    if input.ndim != 2 or target.ndim != 1 or input.shape[0] != target.shape[0]:
        raise ValueError(f"cross_entropy: expected input (N, C) and target (N,), got {input.shape} and {target.shape}")
    if target.device == "cpu":  # on "cuda" a bad target gives a NaN loss, so the step reads nothing back
        _check_indices("cross_entropy: target", target._array, input.shape[1], "classes", ignore_index)
    return CrossEntropy.apply(
        input, target, ignore_index=ignore_index, reduction=reduction, label_smoothing=float(label_smoothing)
    )


# ----- normalization ---------------------------------------------------------------------------------


class LayerNorm(Function):
    """y = xhat * weight + bias,  xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps), over the last dims.

    With g = dy * weight:  dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
    dweight = sum(dy * xhat),  dbias = sum(dy), summed over every row. The normalized dims are
    flattened into one, so x is (rows, features).
    """

    checked_inputs = (0, 2)  # PyTorch saves x and bias: a write into them before backward is refused

    def forward(self, x, weight, bias, n_features, eps):
        rows = x.reshape(-1, n_features)  # (N, F)
        rstd = 1 / self.xp.sqrt(rows.var(axis=1, keepdims=True) + eps)  # (N, 1)
        xhat = (rows - rows.mean(axis=1, keepdims=True)) * rstd
        self.save_for_backward(xhat, rstd, weight)
        return (xhat * weight.reshape(-1) + bias.reshape(-1)).reshape(x.shape)

    def backward(self, grad):
        xhat, rstd, weight = self.saved
        grad_rows = grad.reshape(xhat.shape)  # (N, F)
        g = grad_rows * weight.reshape(-1)
        dx = rstd * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
        dweight = (grad_rows * xhat).sum(axis=0).reshape(weight.shape)
        dbias = grad_rows.sum(axis=0).reshape(weight.shape)
        return dx.reshape(grad.shape), dweight, dbias  # dx has x's shape, as dy has


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last dims as one fused op (one graph node, an analytic backward).

    The three LayerNorms of the project: tinygrad_gpt.LayerNorm is the course's, written from
    tensor primitives so a learner sees every step; nn.composed.layer_norm is the same formula
    as a function, the reference the tests hold this one to; this fused op (and nn.LayerNorm,
    the module that calls it) is the one the GPT trains with, because it is faster and keeps
    less memory for backward.
    """
    tensor.dtypes.require(input.dtype, "f", "layer_norm")
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(normalized_shape) :] != normalized_shape:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end in normalized_shape {normalized_shape}"
        )
    if weight is None:  # no weight (or bias): the identity, 1 (or 0); PyTorch takes one without the other
        weight = tensor.ones(normalized_shape, dtype=input.dtype, device=input.device)
    if bias is None:
        bias = tensor.zeros(normalized_shape, dtype=input.dtype, device=input.device)
    if math.prod(normalized_shape) == 0:  # no features to normalize: the empty output, in the graph of all three
        return input * weight + bias
    return LayerNorm.apply(input, weight, bias, n_features=math.prod(normalized_shape), eps=eps)


# ----- activations -----------------------------------------------------------------------------------


class GELU(Function):
    """y = x * Phi(x), Phi the standard normal CDF;  dy/dx = Phi(x) + x * phi(x).

    approximate='tanh': Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, differentiated exactly.
    Forward keeps Phi(x) (or the tanh) for backward, so erf is computed once.
    """

    checked_inputs = (0,)  # x, as PyTorch saves it (the engine room's stand-in keeps only the derivative)

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
    tensor.dtypes.require(input.dtype, "f", "gelu")
    return GELU.apply(input, approximate=approximate)


def relu(input):
    return input.relu()


def tanh(input):
    return input.tanh()


# ----- dropout -------------------------------------------------------------------------------------------


class Dropout(Function):
    """y = x * mask / (1 - p), mask ~ Bernoulli(1 - p);  dx = dy * mask / (1 - p)"""

    def forward(self, x, p, generator):
        keep = generator.random(x.shape, dtype=x.dtype) >= p  # drawn in x's dtype: half the bits of float64
        scaled_mask = keep.astype(x.dtype) / x.dtype.type(1 - p)
        self.save_for_backward(scaled_mask)
        return x * scaled_mask

    def backward(self, grad):
        (scaled_mask,) = self.saved
        return grad * scaled_mask


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

    An index outside [0, num_embeddings) is an IndexError naming it (CuPy would wrap it silently)."""

    checked_inputs = (1,)  # the indices, as PyTorch saves them (what is saved here may be a copy)

    def forward(self, weight, indices):
        _check_indices("embedding: index", indices, weight.shape[0], "embeddings")
        self.save_for_backward(indices)
        self.weight_shape = weight.shape
        return weight[indices]

    def backward(self, grad):
        (indices,) = self.saved
        dweight = self.xp.zeros(self.weight_shape, dtype=grad.dtype)
        scatter_add(dweight, indices.reshape(-1), grad.reshape(-1, self.weight_shape[1]))  # np.add.at
        return dweight, None  # the indices get no gradient


def _check_indices(what, indices, size, unit, ignore_index=None):
    """Raise an IndexError naming the first index outside [0, size) (ignore_index excepted).

    The happy path reads one bool back from the device; only a failing check reads more, to name the index."""
    out_of_range = (indices < 0) | (indices >= size)
    if ignore_index is not None:
        out_of_range &= indices != ignore_index
    if out_of_range.any():
        raise IndexError(
            f"{what} {int(indices[out_of_range][0])} is out of range for {size} {unit} (valid: 0 to {size - 1})"
        )


def embedding(input, weight):
    """Rows of `weight` picked by the integer tensor `input`: weight[input]."""
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {input.dtype}")
    return Embedding.apply(weight, input.to(weight.device) if input.device != weight.device else input)


# ----- attention ----------------------------------------------------------------------------------------------


class ScaledDotProductAttention(Function):
    """O = dropout(softmax(Q K^T * scale + bias)) V, one graph node for the whole attention.

    With S the scores, P = softmax(S) the attention weights and Pd = P * keep / (1 - p) after dropout:
    dV = Pd^T dO,  dPd = dO V^T,  dP = dPd * keep / (1 - p),  dS = P * (dP - sum(dP * P)),
    dQ = dS K * scale,  dK = dS^T Q * scale. `bias` is 0 where a query may attend and -inf
    where it may not (or any float mask); rows where every key is masked give zeros, as PyTorch.
    Batch dims broadcast; the engine sums each gradient back to its input's shape.
    """

    def forward(self, q, k, v, bias, scale, dropout_p, generator):
        xp = self.xp
        scores = q @ k.swapaxes(-1, -2) * scale  # (..., Tq, Tk)
        if bias is not None:
            scores = scores + bias
        row_max = scores.max(axis=-1, keepdims=True)
        e = xp.exp(scores - xp.where(xp.isfinite(row_max), row_max, 0))  # a fully masked row: all 0
        total = e.sum(axis=-1, keepdims=True)
        weights = e / xp.where(total == 0, 1, total)  # P
        keep = xp.ones((), dtype=q.dtype)
        if dropout_p > 0:  # the mask covers every batch dim, v's included
            batch = np.broadcast_shapes(weights.shape[:-2], v.shape[:-2])
            draws = generator.random(batch + weights.shape[-2:], dtype=q.dtype)
            keep = (draws >= dropout_p).astype(q.dtype) / q.dtype.type(1 - dropout_p)
        self.save_for_backward(q, k, v, weights, keep)
        self.scale = scale
        return (weights * keep) @ v

    def backward(self, grad):
        q, k, v, weights, keep = self.saved
        dv = (weights * keep).swapaxes(-1, -2) @ grad
        d_weights = (grad @ v.swapaxes(-1, -2)) * keep  # dP
        d_scores = weights * (d_weights - (d_weights * weights).sum(axis=-1, keepdims=True)) * self.scale  # dS
        return d_scores @ k, d_scores.swapaxes(-1, -2) @ q, dv


def _check_one_device(op, **tensors):
    """Raise naming every device and shape when the tensors given to `op` are not on one device:
    masks are parameters, which the engine's own check (on a Function's inputs) never sees."""
    if len({t.device for t in tensors.values()}) > 1:
        listing = ", ".join(f"{name} {t.device} {tuple(t.shape)}" for name, t in tensors.items())
        raise RuntimeError(f"{op}: all inputs must be on one device, got {listing}")


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
    masks = {} if attn_mask is None else {"attn_mask": attn_mask}
    _check_one_device("scaled_dot_product_attention", query=query, key=key, value=value, **masks)
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
            bias = xp.where(attn_mask._array, query.dtype.type(0), query.dtype.type(-xp.inf))
        else:
            bias = attn_mask._array.astype(query.dtype)
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


# ----- more layers' ops: one_hot, sigmoid, mse_loss, batch_norm, the general cross_entropy ---------------------
# Compositions of tensor primitives: autograd derives their backward from the primitives'.

_arange = tensor.arange  # one_hot's argument is called `tensor`, as PyTorch's, hiding the module inside it


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated size_average/reduce flags, when given, decide the reduction (each defaults to True)."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def one_hot(tensor, num_classes=-1):
    """out[..., c] = 1 where tensor[...] == c, else 0: int64 of shape tensor.shape + (num_classes,).

    num_classes=-1 takes the largest class present plus one, as PyTorch."""
    if tensor.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor (got {tensor.dtype}).")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max().item()) + 1
    if tensor.numel() and int(tensor.min().item()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    if tensor.numel() and int(tensor.max().item()) >= num_classes:
        raise RuntimeError(f"Class values must be smaller than num_classes ({num_classes}).")
    return (tensor.unsqueeze(-1) == _arange(num_classes, device=tensor.device)).long()


def sigmoid(input):
    """1 / (1 + exp(-x))"""
    return input.sigmoid()


class MSELoss(Function):
    """loss = the mean (or sum, or each) of (x - t)**2, x and t broadcast;  dloss/dx = 2 (x - t), divided by
    their count for the mean;  dloss/dt = -dloss/dx. x and t are saved, as PyTorch saves them."""

    def forward(self, x, t, reduction):
        self.save_for_backward(x, t)
        self.reduction = reduction
        squared = (x - t) ** 2
        if reduction == "none":
            return squared
        return squared.sum() if reduction == "sum" else squared.mean()

    def backward(self, grad):
        x, t = self.saved
        difference = x - t
        scale = 2 / max(difference.size, 1) if self.reduction == "mean" else 2  # (an empty input: no gradient)
        grad_x = scale * difference * grad
        return grad_x, -grad_x


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean (or sum, or per-element) squared error (input - target)^2; shapes broadcast and dtypes promote
    as PyTorch's."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"mse_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, t = input._operands(target)  # promoted to one dtype, as a binary op's
    tensor.dtypes.require(x.dtype, "f", "mse_loss")
    return MSELoss.apply(x, t, reduction=reduction)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (dim 1) of an (N, C) or (N, C, L) input.

    training: mean and var are the batch's, over every dim but 1 (var biased, dividing by n), and the
    running stats, when given, move towards them: r = (1 - momentum) r + momentum * batch stat, the
    variance unbiased (dividing by n - 1) as PyTorch. Not training: the running stats normalize.
    """
    dims = (0,) + tuple(range(2, input.ndim))  # every dim but the channels
    stat_shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)  # broadcasts a (C,) vector against input
    if training:
        n = input.numel() // input.shape[1]
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, keepdim=True, correction=0)
        if running_mean is not None:
            with tensor.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(-1) * momentum)
                running_var.mul_(1 - momentum).add_(var.detach().reshape(-1) * (momentum * n / (n - 1)))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        mean, var = running_mean.reshape(stat_shape), running_var.reshape(stat_shape)
    out = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(stat_shape)
    if bias is not None:
        out = out + bias.reshape(stat_shape)
    return out


def weighted_cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """cross_entropy's general forms, composed of primitives (cross_entropy sends them here):

    class indices:  loss_i = -w[t_i] log p_i[t_i] (with smoothing s: (1 - s) of that plus
                    s/C * sum_c -w_c log p_ic); "mean" divides by the sum of w[t_i] over rows kept.
    probabilities:  target of input's shape, loss_i = -sum_c w_c q_ic log p_ic, q = (1 - s) target + s/C;
                    "mean" divides by the number of rows.
    An unbatched (C,) input (target () or (C,)) is one row.
    """
    if input.ndim == 1:
        out = cross_entropy(
            input.unsqueeze(0),
            target.unsqueeze(0),
            weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=label_smoothing,
        )
        return out.squeeze(0) if reduction == "none" else out
    classes = input.shape[1]
    if weight is not None and tuple(weight.shape) != (classes,):
        raise RuntimeError(
            f"weight tensor should be defined either for all {classes} classes or no classes "
            f"but got weight tensor of shape: {list(weight.shape)}"
        )
    class_shape = (1, classes) + (1,) * (input.ndim - 2)  # broadcasts a (C,) vector along dim 1
    log_p = log_softmax(input, dim=1)
    weighted_log_p = log_p * weight.reshape(class_shape) if weight is not None else log_p
    if target.is_floating_point():
        if target.shape != input.shape:
            raise ValueError(f"cross_entropy: probability targets need input's shape {input.shape}, got {target.shape}")
        if ignore_index != -100:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        losses = -(weighted_log_p * target).sum(1)  # (N, d1, ...)
        return losses if reduction == "none" else losses.sum() if reduction == "sum" else losses.mean()
    if target.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: target must hold integer class indices, got dtype {target.dtype}")
    if target.shape != (input.shape[0],) + input.shape[2:]:
        raise ValueError(
            f"cross_entropy: expected input (N, C, ...) and target (N, ...), got {input.shape} and {target.shape}"
        )
    if target.device == "cpu":
        _check_indices("cross_entropy: target", target._array, classes, "classes", ignore_index)
    rows = weighted_log_p.permute(0, *range(2, input.ndim), 1).reshape(-1, classes)  # (M, C): one row per target
    targets = target.reshape(-1)
    keep = targets != ignore_index
    safe_targets = tensor.where(keep, targets, 0)
    picked = rows[tensor.arange(rows.shape[0], device=rows.device), safe_targets]  # w[t_i] log p_i[t_i]
    kept = keep.type_as(rows)
    row_weights = (weight[safe_targets] if weight is not None else 1.0) * kept  # w[t_i], 0 where ignored
    losses = -picked * kept
    if label_smoothing:
        losses = (1 - label_smoothing) * losses - (label_smoothing / classes) * rows.sum(1) * kept
    if reduction == "none":
        return losses.reshape(target.shape)
    return losses.sum() if reduction == "sum" else losses.sum() / row_weights.sum()
