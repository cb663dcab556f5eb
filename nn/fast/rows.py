"""The row kernels behind nn/fast/blocked.py's stand-ins for the fused ops of nn.functional.

Each function here computes what its docstring's plain NumPy line says (to rounding); the tests
compare them with those lines (tests/fast/test_nn_rows.py), and the stand-ins with the textbook ops
(tests/fast/test_nn_blocked.py). Four devices recur; benchmarks/ measures what they buy (the ladder):

- row sums as matrix-vector products: BLAS sums along a short last axis faster than NumPy's
  reduction does (on the CPU only: on "cuda" the plain reduction is one kernel, where the product
  needs a vector of ones first and CuPy's einsum costs more Python per call than the kernel takes);
- blocks of rows (tensor/fast/threads.py's for_each_block): an op's several passes run over one
  block of rows at a time, which stays in cache between the passes, instead of over the whole array;
- in-place updates (`out=`, `-=`): each pass writes into an array made once instead of a new
  temporary, which saves both the allocation and a trip through memory;
- one shift per block before exp (`exp_minus_max`): the block's max instead of each row's, which
  NumPy finds much faster per element than the maxes of many short rows; rows far below it are
  computed again with their own max.

On "cuda" the same code runs with CuPy, in one block.
"""

import numpy as np

from tensor.backend import device_of, matmul_on
from tensor.fast.threads import for_each_block


def row_sum(xp, a):
    """a.sum(axis=-1, keepdims=True), as a matrix-vector product with a vector of ones:
    BLAS runs it faster than NumPy's reduction along a short last axis."""
    if xp is not np:
        return a.sum(axis=-1, keepdims=True)
    return (a @ xp.ones(a.shape[-1], dtype=a.dtype))[..., None]


def row_dot(xp, a, b):
    """(a * b).sum(axis=-1, keepdims=True); on the CPU einsum skips the product's temporary."""
    if xp is not np:
        return (a * b).sum(axis=-1, keepdims=True)
    return xp.einsum("...i,...i->...", a, b)[..., None]


def column_dot(xp, a, b):
    """(a * b).sum(axis=0) for 2-D a and b; on the CPU einsum skips the product's temporary."""
    if xp is not np:
        return (a * b).sum(axis=0)
    return xp.einsum("nf,nf->f", a, b)


def contiguous_transpose(xp, a):
    """a.swapaxes(-1, -2) copied into C order: NumPy's batched matmul is markedly faster on
    such a copy of a thin (T, head_size) operand than on the transposed view."""
    return xp.ascontiguousarray(a.swapaxes(-1, -2))


def _empty_in_layout_of(xp, a, shape):
    """xp.empty(shape, a.dtype), laid out in memory as `a` is. Multi-head attention's q, k and v
    are (B, heads, T, d) views of (B, T, heads, d) arrays; an output or gradient laid out the
    same way turns back into (B, T, heads * d) as a view, where a C-ordered one needs a copy."""
    if xp is not np or a.shape != shape:
        return xp.empty(shape, dtype=a.dtype)
    return xp.empty_like(a)  # order="K": a's strides order (a stride-0 broadcast dim gets memory of its own)


def _for_each_row_block(fn, x, axis):
    """Run fn(rows) over blocks of x's first axis when the op reduces along another axis (the
    blocks are then independent), else once over everything."""
    if x.ndim > 1 and axis % x.ndim != 0:
        for_each_block(fn, x.shape[0], x[:1].nbytes, device_of(x))
    else:
        fn(Ellipsis)


def _is_last(axis, ndim):
    """Whether the op runs along the rows' last axis (a 0-d array has none: it takes the general path)."""
    return ndim > 0 and axis in (-1, ndim - 1)


# ----- softmax family ---------------------------------------------------------------------------


def _row_max(xp, a):
    return a.max(axis=-1, keepdims=True)


def _finite_row_max(xp, a):
    """The row max, 0 for a row without a finite max: a fully masked (-inf) row then stays -inf."""
    row_max = a.max(axis=-1, keepdims=True)
    return xp.where(xp.isfinite(row_max), row_max, 0)


def exp_minus_max(xp, x, out, row_max=_row_max):
    """out = exp(x - row_max(xp, x)) over the last axis (out not x: x is read again); returns out's
    row sums (..., 1).

    Softmax is the same whatever is subtracted before exp, as long as exp cannot overflow: the
    textbook subtracts each row's max. NumPy finds the max of many short rows slowly (a large share
    of a softmax over rows of 64), the max of the whole block much faster, so on the CPU the block's
    max is subtracted from every row instead. A row whose own max lies far below the block's (its
    sum under eps) would lose precision to underflow, and is computed again with its own max: every
    result is then within rounding of the textbook's, except weights below about 1e-30 (float32),
    which may come out as denormals or 0. A block holding inf or nan takes the textbook path whole,
    so their rows come out as the textbook's do.
    """
    if xp is np and x.dtype in (np.float32, np.float64) and x.size:
        top = x.max()
        if np.isfinite(top):
            np.subtract(x, top, out=out)
            np.exp(out, out=out)
            total = row_sum(xp, out)
            far = total[..., 0] < np.finfo(x.dtype).eps  # the row's max lies more than ~16 (float32) below top
            if far.any():
                x_far = x[far]  # (rows, n): a copy
                total[far] = _exp_minus_row_max(xp, x_far, x_far, row_max)  # in place: the copy is ours
                out[far] = x_far
            return total
    return _exp_minus_row_max(xp, x, out, row_max)


def _exp_minus_row_max(xp, x, out, row_max):
    """The textbook: out = exp(x - row_max(xp, x)); returns out's row sums."""
    xp.subtract(x, row_max(xp, x), out=out)  # exp(<= 0) cannot overflow
    xp.exp(out, out=out)
    return row_sum(xp, out)


def softmax(xp, x, axis, out=None):
    """e = exp(x - x.max(axis, keepdims=True)); return e / e.sum(axis, keepdims=True), into `out` if given
    (a C-ordered array of x's shape and dtype: a compiled step's buffer, tensor/fast/replay_buffers.py)"""
    y = xp.empty(x.shape, dtype=x.dtype) if out is None else out

    def normalize(rows):
        x_rows, y_rows = x[rows], y[rows]
        if _is_last(axis, x.ndim):
            y_rows /= exp_minus_max(xp, x_rows, y_rows)
            return
        xp.subtract(x_rows, x_rows.max(axis=axis, keepdims=True), out=y_rows)  # exp(<= 0) cannot overflow
        xp.exp(y_rows, out=y_rows)
        y_rows /= y_rows.sum(axis=axis, keepdims=True)

    _for_each_row_block(normalize, x, axis)
    return y


def softmax_backward(xp, y, grad, axis, out=None):
    """return y * (grad - (grad * y).sum(axis, keepdims=True)), into `out` if given (as softmax's)"""
    dx = xp.empty(y.shape, dtype=y.dtype) if out is None else out

    def backward_rows(rows):
        g, y_rows, dx_rows = grad[rows], y[rows], dx[rows]
        if _is_last(axis, y.ndim):
            xp.subtract(g, row_dot(xp, g, y_rows), out=dx_rows)
        else:
            xp.subtract(g, (g * y_rows).sum(axis=axis, keepdims=True), out=dx_rows)
        dx_rows *= y_rows

    _for_each_row_block(backward_rows, y, axis)
    return dx


def log_softmax(xp, x, axis):
    """z = x - x.max(axis, keepdims=True); return z - log(exp(z).sum(axis, keepdims=True))"""
    y = xp.empty(x.shape, dtype=x.dtype)

    def normalize(rows):
        x_rows, y_rows = x[rows], y[rows]
        xp.subtract(x_rows, x_rows.max(axis=axis, keepdims=True), out=y_rows)
        y_rows -= xp.log(xp.exp(y_rows).sum(axis=axis, keepdims=True))

    _for_each_row_block(normalize, x, axis)
    return y


def log_softmax_backward(xp, y, grad, axis):
    """return grad - exp(y) * grad.sum(axis, keepdims=True)"""
    dx = xp.empty(y.shape, dtype=y.dtype)

    def backward_rows(rows):
        g, dx_rows = grad[rows], dx[rows]
        xp.exp(y[rows], out=dx_rows)
        dx_rows *= -g.sum(axis=axis, keepdims=True)
        dx_rows += g

    _for_each_row_block(backward_rows, y, axis)
    return dx


# ----- layer norm -------------------------------------------------------------------------------


def layer_norm(xp, rows, eps, out=None):
    """For rows (N, F): centered = rows - rows.mean(-1, keepdims=True);
    rstd = 1 / sqrt((centered**2).mean(-1, keepdims=True) + eps); return centered * rstd (into `out` if
    given, as softmax's), rstd"""
    n_features = rows.shape[-1]
    xhat = xp.subtract(rows, row_sum(xp, rows) / n_features, out=out)  # centered for now
    rstd = 1 / xp.sqrt(row_dot(xp, xhat, xhat) / n_features + eps)  # (N, 1)
    xhat *= rstd
    return xhat, rstd


def layer_norm_backward(xp, xhat, rstd, g, scratch=None):
    """return rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True)),
    overwriting g (the caller's own array); xhat * (...) is written into `scratch` if given (as xhat)."""
    n_features = xhat.shape[-1]
    mean_g_xhat = row_dot(xp, g, xhat) / n_features
    g -= row_sum(xp, g) / n_features
    g -= xp.multiply(xhat, mean_g_xhat, out=scratch)
    g *= rstd
    return g


# ----- attention -----------------------------------------------------------------------------------


def attention(xp, q, k, v, bias, scale, keep, out=None):
    """For q, k, v of shape (B, ..., T, d) and keep the scaled dropout mask (or None):
    P = softmax(q @ k^T * scale + bias) with fully masked rows all 0; return P, (P * keep) @ v.

    Each batch element is independent, so the work runs block by block of the first axis (each
    block stays in cache through its passes), writing into the two arrays made here (or `out`, the
    two arrays P and the output: a compiled step's, tensor/fast/replay_buffers.py).
    """
    batch, q_len, k_len = q.shape[:-2], q.shape[-2], k.shape[-2]
    if out is None:
        weights = xp.empty(batch + (q_len, k_len), dtype=q.dtype)  # P
        out = _empty_in_layout_of(xp, q, batch + (q_len, v.shape[-1]))
    else:
        weights, out = out
    bias_per_row = bias is not None and bias.ndim == q.ndim and bias.shape[0] > 1  # else one bias for all blocks

    def attend(rows):
        p = weights[rows]
        scores = matmul_on(xp, q[rows] * scale, contiguous_transpose(xp, k[rows]))  # a block's worth: in cache
        if bias is not None:
            scores += bias[rows] if bias_per_row else bias
        total = exp_minus_max(xp, scores, p, _finite_row_max)
        p /= xp.where(total == 0, 1, total)  # a fully masked row: all zeros, as PyTorch
        matmul_on(xp, p if keep is None else p * keep[rows], v[rows], out=out[rows])

    for_each_block(attend, batch[0], weights[:1].nbytes, device_of(q))
    return weights, out


def attention_backward(xp, q, k, v, weights, keep, grad, scale, out=None):
    """With P = weights and Pd = P * keep:  dv = Pd^T grad,  dP = (grad v^T) * keep,
    dS = P * (dP - (dP * P).sum(-1, keepdims=True)) * scale;  return dS k, dS^T q, dv (into `out`, if given)."""
    dq, dk, dv = (_empty_in_layout_of(xp, a, a.shape) for a in (q, k, v)) if out is None else out

    def attend_backward(rows):
        w = weights[rows]
        matmul_on(xp, (w if keep is None else w * keep[rows]).swapaxes(-1, -2), grad[rows], out=dv[rows])
        d_scores = matmul_on(xp, grad[rows], contiguous_transpose(xp, v[rows]))  # dP (after dropout), ours
        if keep is not None:
            d_scores *= keep[rows]
        d_scores -= row_dot(xp, d_scores, w)
        d_scores *= w
        d_scores *= scale  # dS, with the scale of the scores folded in
        matmul_on(xp, d_scores, k[rows], out=dq[rows])
        matmul_on(xp, d_scores.swapaxes(-1, -2), q[rows], out=dk[rows])

    for_each_block(attend_backward, weights.shape[0], weights[:1].nbytes, device_of(q))
    return dq, dk, dv
