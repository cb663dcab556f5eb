"""Each function of nn/fast/rows.py computes what the plain NumPy line of its docstring says.

The engine room's fused ops (nn/fast/blocked.py) call these; the plain lines here are the math a learner
checks them against. They run whatever the kernels mode: they are called directly.
"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nn.fast import rows

floats = st.floats(-4, 4)
arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), elements=floats)


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@given(x=arrays, data=st.data())
def test_softmax_and_its_backward_are_the_plain_formulas(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    dy = data.draw(hnp.arrays(np.float64, x.shape, elements=floats))
    e = np.exp(x - x.max(axis, keepdims=True))
    y = e / e.sum(axis, keepdims=True)
    close(rows.softmax(np, x, axis), y)
    close(rows.softmax_backward(np, y, dy, axis), y * (dy - (dy * y).sum(axis, keepdims=True)))


@given(x=arrays, data=st.data())
def test_log_softmax_and_its_backward_are_the_plain_formulas(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    dy = data.draw(hnp.arrays(np.float64, x.shape, elements=floats))
    z = x - x.max(axis, keepdims=True)
    y = z - np.log(np.exp(z).sum(axis, keepdims=True))
    close(rows.log_softmax(np, x, axis), y)
    close(rows.log_softmax_backward(np, y, dy, axis), dy - np.exp(y) * dy.sum(axis, keepdims=True))


@given(data=st.data())
def test_layer_norm_and_its_backward_are_the_plain_formulas(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=6))
    x = data.draw(hnp.arrays(np.float64, shape, elements=floats))
    g = data.draw(hnp.arrays(np.float64, shape, elements=floats))
    eps = 1e-5
    rstd = 1 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xhat = (x - x.mean(-1, keepdims=True)) * rstd
    got_xhat, got_rstd = rows.layer_norm(np, x, eps)
    close(got_xhat, xhat)
    close(got_rstd, rstd)
    dx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    close(rows.layer_norm_backward(np, xhat, rstd, g.copy()), dx)


def plain_attention(q, k, v, bias, scale, keep):
    scores = q @ k.swapaxes(-1, -2) * scale + bias
    row_max = scores.max(-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(row_max), row_max, 0))
    total = e.sum(-1, keepdims=True)
    weights = e / np.where(total == 0, 1, total)
    return weights, (weights * keep) @ v


@given(data=st.data())
def test_attention_is_the_plain_formula_and_fully_masked_rows_are_zero(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    batch, tq, tk, d = (data.draw(st.integers(1, 4)) for _ in range(4))
    q, k, v, dout = (
        rng.standard_normal(shape) for shape in [(batch, tq, d), (batch, tk, d), (batch, tk, d), (batch, tq, d)]
    )
    bias = np.where(rng.random((batch, tq, tk)) < 0.3, -np.inf, 0.0)
    bias[:, 0, :] = -np.inf  # the first query may attend to nothing
    keep = (rng.random((batch, tq, tk)) >= 0.25) / 0.75
    weights, out = rows.attention(np, q, k, v, bias, 0.5, keep)
    plain_weights, plain_out = plain_attention(q, k, v, bias, 0.5, keep)
    close(weights, plain_weights)
    close(out, plain_out)
    assert not weights[:, 0].any() and np.isfinite(out).all()

    d_scores_dropped = (dout @ v.swapaxes(-1, -2)) * keep
    d_scores = weights * (d_scores_dropped - (d_scores_dropped * weights).sum(-1, keepdims=True)) * 0.5
    dq, dk, dv = rows.attention_backward(np, q, k, v, weights, keep, dout, 0.5)
    close(dv, (weights * keep).swapaxes(-1, -2) @ dout)
    close(dq, d_scores @ k)
    close(dk, d_scores.swapaxes(-1, -2) @ q)


def test_attention_of_split_heads_gives_outputs_and_gradients_that_merge_without_a_copy():
    """q, k, v as multi-head attention makes them, (B, heads, T, d) views of (B, T, heads, d) arrays:
    the output and the three gradients come out laid out the same way, so merging the heads back into
    (B, T, heads * d) is a view (a copy of every one of them cost 2 ms of a 93 ms small GPT step)."""
    rng = np.random.default_rng(0)
    B, T, H, d = 2, 5, 3, 4
    q, k, v, dout = (rng.standard_normal((B, T, H, d)).transpose(0, 2, 1, 3) for _ in range(4))
    weights, out = rows.attention(np, q, k, v, None, 0.5, None)
    plain_weights, plain_out = plain_attention(q, k, v, 0.0, 0.5, 1.0)
    close(out, plain_out)
    gradients = rows.attention_backward(np, q, k, v, weights, None, dout, 0.5)
    for a in (out, *gradients):
        merged = a.transpose(0, 2, 1, 3).reshape(B, T, H * d)
        assert np.shares_memory(merged, a), "merging the heads copied"


@given(data=st.data())
def test_the_row_and_column_sums_are_the_plain_reductions_on_every_device(device, data):
    """BLAS and einsum on the CPU, plain reductions on "cuda": the same numbers either way."""
    import tensor

    xp = tensor.backend.array_module(device)
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=6))
    a, b = (data.draw(hnp.arrays(np.float64, shape, elements=floats)) for _ in range(2))
    on_device = [xp.asarray(a), xp.asarray(b)]
    got = [
        rows.row_sum(xp, on_device[0]),
        rows.row_dot(xp, *on_device),
        rows.column_dot(xp, *on_device),
    ]
    for value, expected in zip(got, [a.sum(-1, keepdims=True), (a * b).sum(-1, keepdims=True), (a * b).sum(0)]):
        assert tensor.backend.device_of(value) == device
        close(tensor.backend.to_device(value, "cpu"), expected)


# ----- one shift per block: exp_minus_max -----------------------------------------------------------


def textbook_exp_minus_max(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e, e.sum(-1, keepdims=True)


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_rows_far_below_the_blocks_max_come_out_as_the_textbooks(data, dtype):
    """Rows whose max lies hundreds below another row's: subtracting the block's max would underflow
    them to 0 (a softmax of 0 / 0); they are computed again with their own max. Softmax is then the
    textbook's within rounding for every row."""
    n_rows, n = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    x = data.draw(hnp.arrays(np.float64, (n_rows, n), elements=floats))
    offsets = data.draw(hnp.arrays(np.float64, (n_rows, 1), elements=st.floats(-2000, 0)))
    x = (x + offsets).astype(dtype)
    tol = dict(rtol=1e-5, atol=0) if dtype == np.float32 else dict(rtol=1e-12, atol=0)
    e, total = textbook_exp_minus_max(x)
    out = np.empty_like(x)
    got_total = rows.exp_minus_max(np, x, out)
    np.testing.assert_allclose(out / got_total, e / total, **tol)
    np.testing.assert_allclose(rows.softmax(np, x, -1), e / total, **tol)


def test_every_row_far_from_every_other_is_still_the_textbooks():
    """Row maxes 0, -100, -200, ... (float32): each row is far below the one before; one pass of
    computing again must cover them all (no recursion, no row left at 0 / 0)."""
    x = (np.random.default_rng(0).standard_normal((40, 8)) - 100.0 * np.arange(40)[:, None]).astype(np.float32)
    e, total = textbook_exp_minus_max(x)
    np.testing.assert_allclose(rows.softmax(np, x, -1), e / total, rtol=1e-5)


def test_inf_and_nan_rows_come_out_as_the_textbooks():
    x = np.array([[1.0, 2.0, 3.0], [-np.inf, -np.inf, -np.inf], [1.0, np.inf, 0.0], [np.nan, 1.0, 2.0]])
    with np.errstate(invalid="ignore"):
        e, total = textbook_exp_minus_max(x)
        expected = e / total
        got = rows.softmax(np, x, -1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)


def test_attention_rows_far_below_the_others_and_fully_masked_rows():
    """The scores of one query lie 500 below another's, a third query may attend to nothing."""
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((1, 3, 2)), rng.standard_normal((1, 4, 2)), rng.standard_normal((1, 4, 2))
    bias = np.zeros((1, 3, 4))
    bias[0, 1] -= 500.0
    bias[0, 2] = -np.inf
    weights, out = rows.attention(np, q, k, v, bias, 0.5, None)
    plain_weights, plain_out = plain_attention(q, k, v, bias, 0.5, 1.0)
    close(weights, plain_weights)
    close(out, plain_out)
    assert not weights[0, 2].any() and np.isclose(weights[0, 1].sum(), 1.0)
