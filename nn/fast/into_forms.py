"""Into forms of nn's ops (tensor/fast/into_forms.py says what an into form is): Linear, LayerNorm, Softmax,
Dropout, the fused attention and GELU, and Embedding forward, with Dropout's draw, LayerNorm's normalized
rows, the attention's weights and GELU's dy/dx in arrays of their own (kept on the op's instance); Dropout,
Softmax, LayerNorm's dx, CrossEntropy, the attention, GELU and Embedding backward; CrossEntropy's forward and
Linear's backward keeping their temporaries; Linear's batched gradient products (LinearGradients.compute
into kept arrays); clip_grad_norm_ as a replay's host form."""

import math

import numpy as np

from tensor import Tensor
from tensor.backend import stack
from tensor.fast.into_forms import (
    BACKWARD_KEEPING,
    FORWARD_KEEPING,
    PENDING_INTO,
    backward_into_form,
    host_form,
    into_form,
    kept,
    matmul_into,
)

from .. import functional as textbook_nn
from .. import utils
from . import blocked, embedding, gelu, linear


@into_form(linear.Linear)
def linear_into(fn, out, x, weight, *bias):
    rows = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
    y = out.reshape(rows.shape[0], weight.shape[0])  # a view: `out` is the C-ordered array a replay made
    matmul_into(rows, weight.T, y)
    if bias:
        y += bias[0]
    fn.save_for_backward(rows, weight)
    fn.input_shape = x.shape
    return out


@into_form(blocked.LayerNorm)
def layer_norm_into(fn, out, x, weight, bias, n_features, eps):
    fn.input_shape = x.shape
    rows = x.reshape(-1, n_features)
    scratch = fn.__dict__.get("replay_scratch")  # the normalized rows, saved: in float32 or float64 an array of its own
    if rows.dtype in (np.float32, np.float64) and (
        scratch is None or (scratch.shape, scratch.dtype) != (rows.shape, rows.dtype)
    ):
        scratch = fn.replay_scratch = np.empty(rows.shape, rows.dtype)
    xhat, rstd = blocked.rows.layer_norm(np, rows, eps, out=scratch if rows.dtype in (np.float32, np.float64) else None)
    fn.parameter_shape = weight.shape
    weight, bias = weight.reshape(-1), bias.reshape(-1)
    fn.save_for_backward(xhat, rstd, weight)
    y = np.multiply(xhat, weight, out=out.reshape(xhat.shape))
    y += bias
    return out


@into_form(blocked.Softmax)
def softmax_into(fn, out, x, axis):
    fn.compute(np, x, axis, out=out)  # nn/fast/rows.py's softmax, which writes into an array of its own
    fn.save_for_backward(out)
    fn.axis = axis
    return out


@into_form(textbook_nn.Dropout)
def dropout_into(fn, out, x, p, generator):
    """Dropout's forward; on "cpu" in float32 or float64 its draw, keep and mask in arrays of its own too."""
    scaled_mask = scaled_mask_into(fn, generator, x.shape, x.dtype, p)
    fn.save_for_backward(scaled_mask)
    return np.multiply(x, scaled_mask, out=out)


def scaled_mask_into(fn, generator, shape, dtype, p):
    """(generator.random(shape, dtype) >= p).astype(dtype) / (1 - p), Dropout's and attention's mask: on
    "cpu" in float32 or float64 drawn into arrays kept on the op's instance (the generator's NumPy stream
    fills the draw's array with the numbers it would have returned), else made as the textbook makes it."""
    if generator.device != "cpu" or dtype not in (np.float32, np.float64):
        keep = generator.random(shape, dtype=dtype) >= p  # the textbook's draw, allocated
        return keep.astype(dtype) / dtype.type(1 - p)
    draw, keep = kept(fn, "draw", shape, dtype), kept(fn, "keep", shape, np.bool_)
    scaled_mask = kept(fn, "scaled mask", shape, dtype)
    generator._next_stream().random(dtype=dtype, out=draw)  # Generator.random's draw, in x's dtype
    np.greater_equal(draw, p, out=keep)
    np.copyto(scaled_mask, keep)  # keep.astype(dtype)
    return np.divide(scaled_mask, dtype.type(1 - p), out=scaled_mask)


@into_form(blocked.ScaledDotProductAttention, any_layout=True)
def attention_into(fn, out, q, k, v, bias, scale, dropout_p, generator):
    """ScaledDotProductAttention's forward (nn/fast/blocked.py) with P, the dropout mask and the output in
    arrays of their own (the output laid out as q, as the first replay made it)."""
    batch, q, k, v = fn.batched(np, q, k, v, bias)
    keep = None
    if dropout_p > 0:
        keep = scaled_mask_into(fn, generator, batch + (q.shape[-2], k.shape[-2]), q.dtype, dropout_p)
    fn.scale = q.dtype.type(scale)
    weights = kept(fn, "weights", batch + (q.shape[-2], k.shape[-2]), q.dtype)
    blocked.rows.attention(np, q, k, v, bias, fn.scale, keep, out=(weights, out[None] if fn.squeeze else out))
    fn.save_for_backward(q, k, v, weights, *([] if keep is None else [keep]))
    return out


@into_form(gelu.FastGELU)
def gelu_into(fn, out, x, approximate):
    """The fused GELU's forward with y in `out` and dy/dx in an array of its own (float32 on "cpu")."""
    slope = kept(fn, "slope", x.shape, x.dtype) if fn.needs_input_grad else None
    return gelu.FastGELU.forward(fn, x, approximate, y=out, slope=slope)


@backward_into_form(gelu.FastGELU)
def gelu_backward_into(fn, out, grad):
    if not fn.fused:
        return fn.backward(grad)
    (slope,) = fn.saved
    return np.multiply(grad, slope, out=out)


@into_form(embedding.Embedding)
def embedding_into(fn, out, weight, indices):
    size = weight.shape[0]
    textbook_nn._check_indices("embedding: index", indices, size, "embeddings")
    fn.save_for_backward(indices)
    fn.weight_shape = weight.shape
    return np.take(weight, indices, axis=0, out=out, mode="clip")  # checked above; "raise" would buffer


@backward_into_form(textbook_nn.Dropout)
def dropout_backward_into(fn, out, grad):
    (scaled_mask,) = fn.saved
    return np.multiply(grad, scaled_mask, out=out)


@backward_into_form(blocked.Softmax)
def softmax_backward_into(fn, out, grad):
    (y,) = fn.saved
    return fn.differentiate(np, y, grad, fn.axis, out=out)


@backward_into_form(blocked.LayerNorm)
def layer_norm_backward_into(fn, out, grad):
    xhat, rstd, weight = fn.saved
    grad = grad.reshape(xhat.shape)
    g = np.multiply(grad, weight, out=out[0].reshape(xhat.shape))  # dx's array: overwritten into dx below
    blocked.rows.layer_norm_backward(np, xhat, rstd, g, scratch=kept(fn, "xhat times", xhat.shape, xhat.dtype))
    # dweight and dbias, (F,) each: made anew, as the textbook's backward makes them
    dweight = blocked.rows.column_dot(np, grad, xhat).reshape(fn.parameter_shape) if fn.needs_input_grad[1] else None
    dbias = grad.sum(axis=0).reshape(fn.parameter_shape) if fn.needs_input_grad[2] else None
    return out[0], dweight, dbias


def cross_entropy_keeping(fn, logits, targets, **params):
    """CrossEntropy's forward with logits - max and then exp of it (saved for backward) in an array of its own."""
    z = kept(fn, "z", logits.shape, logits.dtype)
    return blocked.CrossEntropy.forward(fn, logits, targets, **params, z=z)


FORWARD_KEEPING[blocked.CrossEntropy] = cross_entropy_keeping


@backward_into_form(blocked.CrossEntropy)
def cross_entropy_backward_into(fn, out, grad):
    """CrossEntropy's backward (nn/fast/blocked.py) with dlogits written into `out[0]`."""
    exp_z, total, targets, keep, count = fn.saved
    n, classes = exp_z.shape
    if fn.reduction == "mean":
        grad = grad / count.astype(grad.dtype)
    row_scale = grad * keep  # (n,)
    dlogits = np.multiply(exp_z, (row_scale / total)[:, None], out=out[0])  # p_i, scaled
    dlogits[np.arange(n), targets] -= (1 - fn.label_smoothing) * row_scale
    if fn.label_smoothing:
        dlogits -= (fn.label_smoothing / classes) * row_scale[:, None]
    return dlogits, None


@backward_into_form(blocked.ScaledDotProductAttention, any_layout=True)
def attention_backward_into(fn, out, grad):
    q, k, v, weights, *keep = fn.saved
    grad = grad[None] if fn.squeeze else grad
    keep = keep[0] if keep else None
    return blocked.rows.attention_backward(np, q, k, v, weights, keep, grad, fn.scale, out=out)


@backward_into_form(embedding.Embedding)
def embedding_backward_into(fn, out, grad):
    (indices,) = fn.saved
    dim = fn.weight_shape[1]
    dweight = out[0].reshape(-1)  # a view: the first replay's (num_embeddings, dim) gradient
    dweight.fill(0)
    # positions = indices * dim + columns, without a broadcast operand (NumPy gives each one a buffer)
    shape, dtype = (indices.size, dim), np.result_type(indices.dtype, np.intp)
    columns = kept(fn, "columns", shape, dtype, fill=np.arange(dim))  # each row 0, 1, ..., dim - 1
    positions = kept(fn, "positions", shape, dtype)
    np.copyto(positions, indices.reshape(-1, 1) * dim)
    positions += columns
    positions = positions.reshape(-1)
    embedding.scatter_add(dweight, positions, grad.reshape(-1))
    return out[0], None


@host_form(utils.clip_grad_norm_)
def clip_grad_norm_into():
    """nn.utils.clip_grad_norm_ with each gradient's |g| ** 2 in one flat array kept for the replay step (the
    textbook makes two arrays per gradient); other norms and other devices run the textbook's."""
    scratch = {}  # dtype -> a flat array as large as the largest gradient

    def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
        parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
        grads = [p.grad._array for p in parameters if p.grad is not None]
        if float(norm_type) != 2.0 or error_if_nonfinite or not grads or type(grads[0]) is not np.ndarray:
            return utils.clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)
        norms = []
        for g in grads:
            flat = scratch.get(g.dtype)
            if flat is None or flat.size < g.size:
                flat = scratch[g.dtype] = np.empty(g.size, g.dtype)
            squares = np.abs(g, out=flat[: g.size].reshape(g.shape))
            norms.append(np.square(squares, out=squares).sum() ** 0.5)  # (|g| ** 2.0).sum() ** (1 / 2.0)
        total = np.asarray((stack(np, norms) ** 2.0).sum() ** 0.5, dtype=grads[0].dtype)
        scale = np.minimum(float(max_norm) / (total + 1e-6), 1.0).astype(total.dtype)
        for g in grads:
            g *= scale
        return Tensor._wrap(total)

    return clip_grad_norm_


def linear_backward_keeping(fn, grad):
    """Linear's backward; a gradient that its reshape to rows would copy (a transposed view, from a Permute's
    backward) is copied into an array of its own first (the same values, in C order as the copy's)."""
    if not grad.flags.c_contiguous:
        copy = kept(fn, "grad", grad.shape, grad.dtype)
        np.copyto(copy, grad)
        grad = copy
    return linear.Linear.backward(fn, grad)


BACKWARD_KEEPING[linear.Linear] = linear_backward_keeping


def linear_gradients_into(pending, arrays):
    """LinearGradients.compute (nn/fast/linear.py) with its concatenations and products written into
    `arrays`, kept for the op whose input gradient it is; the gradients of leaf weights accumulated as
    there (copied into their .grad)."""
    if pending.xp is not np:
        return pending.compute()
    grads, weights, leaf_weights = zip(*pending.terms)
    g, w = grads[0], weights[0]
    if len(grads) > 1:
        g = np.concatenate(grads, axis=1, out=kept(arrays, "g", (g.shape[0], sum(a.shape[1] for a in grads)), g.dtype))
        w = np.concatenate(weights, axis=0, out=kept(arrays, "w", (g.shape[1], w.shape[1]), w.dtype))
    dx = matmul_into(g, w, kept(arrays, "dx", (g.shape[0], w.shape[1]), np.result_type(g, w))).reshape(pending.shape)
    if pending.other is not None:
        dx += pending.other
    if any(leaf is not None for leaf in leaf_weights):
        dweights = matmul_into(g.T, pending.rows, kept(arrays, "dweights", w.shape, np.result_type(g, pending.rows)))
        linear.hand_out(dweights, weights, leaf_weights)
    return dx


PENDING_INTO[linear.LinearGradients] = linear_gradients_into
