"""Into forms: an op's forward (or backward) with its result written into given arrays, for the buffers
of a replay (tensor/fast/replay_buffers.py).

An into form does what the op's own form does (what it saves for backward, the attributes backward
reads) with `out=` of NumPy's ufuncs and matmul, np.take, np.concatenate, np.copyto. The same NumPy calls
run on the same operands in the same order, so the values are the op's own bit for bit
(tests/fast/test_compile_buffers.py holds each one to its op's form at every replay of a training
step). Only NumPy arrays ("cpu"): on "cuda" the plan's arrays live in CUDA graphs (tensor/fast/graphs.py).

Forward: Linear, matmul, LayerNorm, Softmax, Dropout, where, Embedding, Cat, Add, Mul, Relu; Dropout
draws into arrays of its own and LayerNorm normalizes into one (kept on the op's instance). Backward:
Relu, Dropout, Softmax, Mul, where, matmul, LayerNorm's dx, Embedding.

What has no into form, and so still allocates in a replay: views (reshape, permute, basic indexing:
no data), CrossEntropy (its output is the loss, which the caller keeps), the GPT's fused attention and
GELU (their row blocks work in arrays of their own), the ops' small row statistics (maxima, sums),
Linear's batched gradient products (a pending sum the engine adds up), LayerNorm's dweight and dbias,
the backwards of Permute and Index, the engine's sums of gradients, and the optimizer's and clipping's
own arithmetic (tensor/fast/adam.py keeps its state; its temporaries are its own).
"""

import math

import numpy as np

from nn import functional as textbook_nn
from nn.fast import blocked, embedding, linear
from tensor.ops import elementwise, movement
from tensor.ops.matmul import transposed

from . import select, threads

INTO = {}  # the Function class a plan's op runs -> its into form: into(fn, out, *inputs, **params) -> out


def into_form(cls):
    def register(function):
        INTO[cls] = function
        return function

    return register


def matmul_into(a, b, out):
    """threads.matmul(a, b, np) written into `out`: the same products, split the same way."""
    multiply_adds = a.size * (b.shape[-1] if b.ndim > 1 else 1)
    if multiply_adds >= threads.SPLIT_WORK and a.ndim >= 2 and a.shape[0] >= 2:
        same_batch = b.ndim == a.ndim and b.shape[:-2] == a.shape[:-2]
        if (b.ndim == 2 or same_batch) and threads.second_core_free():
            if b.ndim == 2:
                threads.in_two_halves(lambda rows: np.matmul(a[rows], b, out=out[rows]), a.shape[0])
            else:
                threads.in_two_halves(lambda rows: np.matmul(a[rows], b[rows], out=out[rows]), a.shape[0])
            return out
    threads.blas_threads_for(multiply_adds, np)
    return np.matmul(a, b, out=out)


@into_form(elementwise.Add)
def add_into(fn, out, x, y):
    return np.add(x, y, out=out)


@into_form(elementwise.Mul)
def mul_into(fn, out, x, y):
    fn.save_for_backward(x, y)
    return np.multiply(x, y, out=out)


@into_form(elementwise.Relu)
def relu_into(fn, out, x):
    np.maximum(x, 0, out=out)
    fn.save_for_backward(out)
    return out


@into_form(threads.BlasMatmul)
def matmul_op_into(fn, out, a, b):
    threads.check_shapes(a, b)
    fn.save_for_backward(a, b)
    return matmul_into(a, b, out)


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
    """Dropout's forward; on "cpu" in float32 or float64 its draw, keep and mask in arrays of its own too
    (the generator's NumPy stream fills the draw's array with the numbers it would have returned)."""
    scratch = fn.__dict__.get("replay_scratch")
    if scratch is None or scratch[0].shape != x.shape or scratch[2].dtype != x.dtype:
        if generator.device != "cpu" or x.dtype not in (np.float32, np.float64):
            keep = generator.random(x.shape, dtype=x.dtype) >= p  # the textbook's draw, allocated
            scaled_mask = keep.astype(x.dtype) / x.dtype.type(1 - p)
            fn.save_for_backward(scaled_mask)
            return np.multiply(x, scaled_mask, out=out)
        scratch = fn.replay_scratch = (np.empty(x.shape, x.dtype), np.empty(x.shape, bool), np.empty(x.shape, x.dtype))
    draw, keep, scaled_mask = scratch
    generator._next_stream().random(dtype=x.dtype, out=draw)  # Generator.random's draw, in x's dtype
    np.greater_equal(draw, p, out=keep)
    np.copyto(scaled_mask, keep)  # keep.astype(x.dtype)
    np.divide(scaled_mask, x.dtype.type(1 - p), out=scaled_mask)
    fn.save_for_backward(scaled_mask)
    return np.multiply(x, scaled_mask, out=out)


@into_form(select.FastWhere)
def where_into(fn, out, x, y, condition):
    fn.save_for_backward(condition)
    return _select_into(out, condition, x, y)


@into_form(embedding.Embedding)
def embedding_into(fn, out, weight, indices):
    size = weight.shape[0]
    textbook_nn._check_indices("embedding: index", indices, size, "embeddings")
    fn.save_for_backward(indices)
    fn.weight_shape = weight.shape
    return np.take(weight, indices, axis=0, out=out, mode="clip")  # checked above; "raise" would buffer


@into_form(movement.Cat)
def cat_into(fn, out, *xs, axis):
    fn.axis = axis
    fn.sizes = [x.shape[axis] for x in xs]
    return np.concatenate(xs, axis=axis, out=out)


# ----- backward: an op's gradients written into the arrays its first replay's backward made -----------------

BACKWARD_INTO = {}  # the Function class -> backward_into(fn, buffers, grad) -> the gradients, as its backward


def backward_into_form(cls):
    def register(function):
        BACKWARD_INTO[cls] = function
        return function

    return register


@backward_into_form(elementwise.Relu)
def relu_backward_into(fn, out, grad):
    (z,) = fn.saved
    return np.multiply(grad, z > 0, out=out)


@backward_into_form(textbook_nn.Dropout)
def dropout_backward_into(fn, out, grad):
    (scaled_mask,) = fn.saved
    return np.multiply(grad, scaled_mask, out=out)


@backward_into_form(blocked.Softmax)
def softmax_backward_into(fn, out, grad):
    (y,) = fn.saved
    return fn.differentiate(np, y, grad, fn.axis, out=out)


@backward_into_form(elementwise.Mul)
def mul_backward_into(fn, out, grad):
    x, y = fn.saved
    grad_x = np.multiply(grad, y, out=out[0]) if fn.needs_input_grad[0] else None
    grad_y = np.multiply(grad, x, out=out[1]) if fn.needs_input_grad[1] else None
    return grad_x, grad_y


@backward_into_form(select.FastWhere)
def where_backward_into(fn, out, grad):
    (condition,) = fn.saved
    zero = grad.dtype.type(0)
    grad_x = _select_into(out[0], condition, grad, zero) if fn.needs_input_grad[0] else None
    grad_y = _select_into(out[1], condition, zero, grad) if fn.needs_input_grad[1] else None
    return grad_x, grad_y, None


def _select_into(out, condition, x, y):
    """select(condition, x, y) written into `out`: np.where's values, by two copies as select makes them."""
    if condition.dtype != np.bool_:
        np.copyto(out, select.select(condition, x, y))
        return out
    np.copyto(out, y)
    np.copyto(out, x, where=condition)
    return out


@backward_into_form(threads.BlasMatmul)
def matmul_backward_into(fn, out, grad):
    a, b = fn.saved
    if a.ndim < 2 or b.ndim < 2:  # a row or a column: its textbook form (a gradient is then a view)
        return fn.backward(grad)
    grad_a = matmul_into(grad, transposed(b), out[0]) if fn.needs_input_grad[0] else None
    grad_b = matmul_into(transposed(a), grad, out[1]) if fn.needs_input_grad[1] else None
    return grad_a, grad_b


@backward_into_form(blocked.LayerNorm)
def layer_norm_backward_into(fn, out, grad):
    xhat, rstd, weight = fn.saved
    grad = grad.reshape(xhat.shape)
    g = np.multiply(grad, weight, out=out[0].reshape(xhat.shape))  # dx's array: overwritten into dx below
    blocked.rows.layer_norm_backward(np, xhat, rstd, g)
    # dweight and dbias, (F,) each: made anew, as the textbook's backward makes them
    dweight = blocked.rows.column_dot(np, grad, xhat).reshape(fn.parameter_shape) if fn.needs_input_grad[1] else None
    dbias = grad.sum(axis=0).reshape(fn.parameter_shape) if fn.needs_input_grad[2] else None
    return out[0], dweight, dbias


@backward_into_form(embedding.Embedding)
def embedding_backward_into(fn, out, grad):
    (indices,) = fn.saved
    dim = fn.weight_shape[1]
    dweight = out[0].reshape(-1)  # a view: the first replay's (num_embeddings, dim) gradient
    dweight.fill(0)
    positions = (indices.reshape(-1, 1) * dim + np.arange(dim)).reshape(-1)
    embedding.scatter_add(dweight, positions, grad.reshape(-1))
    return out[0], None
