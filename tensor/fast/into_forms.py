"""Into forms: an op's forward (or backward) with its result written into given arrays, for the buffers
of a replay (tensor/fast/replay_buffers.py).

An into form does what the op's own form does (what it saves for backward, the attributes backward
reads) with `out=` of NumPy's ufuncs and matmul, np.take, np.concatenate, np.copyto. The same NumPy calls
run on the same operands in the same order, so the values are the op's own bit for bit
(tests/fast/test_compile_buffers.py holds each one to its op's form at every replay of a training
step). Only NumPy arrays ("cpu"): on "cuda" the plan's arrays live in CUDA graphs (tensor/fast/graphs.py).

Here the tensor ops' into forms and the registries: forward Add, Mul, Relu, matmul, where, Cat; backward
Relu (its masks kept), Mul, where, matmul. nn's ops register theirs from nn/fast/into_forms.py (Linear,
LayerNorm, Softmax, Dropout, Embedding, the fused attention and GELU; backward of Dropout, Softmax,
LayerNorm's dx, CrossEntropy, Embedding, the fused attention and GELU), forms that keep their temporaries where the output is no
buffer (CrossEntropy's forward, Linear's backward: FORWARD_KEEPING, BACKWARD_KEEPING), Linear's batched
gradient products (a pending gradient computed into arrays kept for the op that receives it,
PENDING_INTO) and clipping (a host form, HOST_FORMS), as nn's stand-ins register themselves. An into
form's temporaries live in arrays `kept` on the op's instance; the engine's sums of gradients too
(tensor/fast/replay.py's _send).

What still allocates in a replay: views (reshape, permute, basic indexing: no data), NumPy's iteration
buffer of a ufunc with a broadcast operand (8192 elements per such operand, whatever the arrays' size),
small arrays (the ops' row statistics, LayerNorm's dweight and dbias, (T, T) mask comparisons), the fused
attention's blocks of rows (cache-sized temporaries), the backwards of Permute and Index (views
or small), and the optimizer's and clipping's scalars (tensor/fast/adam.py keeps its one temporary per
optimizer).
"""

import numpy as np

from tensor.ops import elementwise, movement
from tensor.ops.matmul import transposed

from . import relu, select, threads

INTO = {}  # the Function class a plan's op runs -> its into form: into(fn, out, *inputs, **params) -> out


def into_form(cls, any_layout=False):
    """Register an into form. any_layout: it writes into `out` as it is laid out (no reshape of it), so
    an output that owns its memory in another order than C's may be kept too (replay_buffers.py)."""

    def register(function):
        INTO[cls] = function
        function.any_layout = any_layout
        return function

    return register


def kept(fn, name, shape, dtype, fill=None):
    """An array of `shape` and `dtype` kept on the op's instance under `name`, for an into form's
    temporaries: made at its first replay (with `fill`'s values, if given), again only when the shape or
    dtype changes. Never an output or a gradient: nothing but the into form sees it."""
    arrays = fn if type(fn) is dict else fn.__dict__.setdefault("replay_arrays", {})  # or a dict given
    array = arrays.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = arrays[name] = np.empty(shape, dtype)
        if fill is not None:
            np.copyto(array, fill)
    return array


# a Function class -> forward(fn, *inputs, **params) (backward(fn, grad)): its own, with temporaries kept on fn,
# for an op whose output is never a buffer (the loss: an output of the call) or whose gradients are pending
# ones; the replay's instances on "cpu" run it as their forward (backward)
FORWARD_KEEPING, BACKWARD_KEEPING = {}, {}
PENDING_INTO = {}  # a PendingGradient class -> compute_into(pending, arrays): its compute(), into kept arrays
HOST_FORMS = {}  # a host function (clipping) -> make(): a function that does its work with arrays of its own


def host_form(function):
    """Register make(), called once per replay step of `function`: the function that step runs instead,
    giving the same values and keeping its temporaries between replays."""

    def register(make):
        HOST_FORMS[function] = make
        return make

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
    fn.save_operands(x, y)
    return np.multiply(x, y, out=out)


@into_form(relu.FastRelu)
def relu_into(fn, out, x):
    np.maximum(x, 0, out=out)
    fn.save_for_backward(out)
    return out


@into_form(threads.BlasMatmul)
def matmul_op_into(fn, out, a, b):
    threads.check_shapes(a, b)
    fn.save_for_backward(a, b)
    return matmul_into(a, b, out)


@into_form(select.FastWhere)
def where_into(fn, out, x, y, condition):
    fn.save_for_backward(condition)
    return _select_into(out, condition, x, y)


@into_form(movement.Cat)
def cat_into(fn, out, *xs, axis):
    fn.axis = axis
    fn.sizes = [x.shape[axis] for x in xs]
    return np.concatenate(xs, axis=axis, out=out)


# ----- backward: an op's gradients written into the arrays its first replay's backward made -----------------

BACKWARD_INTO = {}  # the Function class -> backward_into(fn, buffers, grad) -> the gradients, as its backward


def backward_into_form(cls, any_layout=False):
    def register(function):  # any_layout: as into_form's
        BACKWARD_INTO[cls] = function
        function.any_layout = any_layout
        return function

    return register


@backward_into_form(relu.FastRelu)
def relu_backward_into(fn, out, grad):
    (z,) = fn.saved
    masks = kept(fn, "passes", z.shape, np.bool_), kept(fn, "nans", z.shape, np.bool_)
    return relu.relu_gradient(grad, z, out=out, masks=masks)


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
