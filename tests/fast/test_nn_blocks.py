"""The fused ops that run in blocks of rows (the device "row blocks", nn/fast/blocked.py, whose blocks
tensor/fast/threads.py makes) give what one block gives: these tests run in fast mode with that device on.

The gradient and fused-equals-composed tests run these ops on small arrays, which are one
block; here every row is its own block, and values and gradients must be those of the single
block up to the last bit or two: not always bit-for-bit, because a row sum taken as a BLAS
matrix-vector product (nn/fast/rows.row_sum) may add up one row in another order than a
block of rows (OpenBLAS's AVX-512 kernel gives 1.4060058497098382 for a row of
[exp(0), exp(-2), exp(-2), exp(-2)] summed beside a second row, ...384 alone). A block that
lost or repeated rows would be off by far more than the tolerance.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn.functional as F
import tensor
from tensor.fast import threads as parallel
from tests.fast.nn_helpers import kernels_mode


@pytest.fixture(autouse=True, scope="module")
def _row_blocks_on():
    with kernels_mode("fast", only=["row blocks"]):
        yield


@contextlib.contextmanager
def blocks(block_bytes):
    previous = parallel.BLOCK_BYTES
    parallel.BLOCK_BYTES = block_bytes
    try:
        yield
    finally:
        parallel.BLOCK_BYTES = previous


def run(op, arrays, upstream_seed=0):
    inputs = [tensor.tensor(a, requires_grad=True) for a in arrays]
    tensor.manual_seed(1)  # dropout draws the same mask in both runs
    out = op(*inputs)
    out.backward(tensor.tensor(np.random.default_rng(upstream_seed).standard_normal(out.shape)))
    return [out.detach().numpy()] + [x.grad.numpy() for x in inputs]


def assert_blocks_change_nothing(op, arrays):
    with blocks(block_bytes=1 << 40):  # everything in one block
        whole = run(op, arrays)
    with blocks(block_bytes=1):  # one row a block
        blocked = run(op, arrays)
    for a, b in zip(whole, blocked):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)  # float64, elements within [-4, 4]


floats = st.floats(-4, 4)


@pytest.mark.parametrize("op", [F.softmax, F.log_softmax])
@given(data=st.data())
def test_softmax_family(op, data):
    x = data.draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), elements=floats))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert_blocks_change_nothing(lambda t: op(t, dim), [x])


@st.composite
def attention_case(draw):
    """Query, key and value with broadcasting batch dims, and a mask of one of PyTorch's shapes."""
    batch, heads, tq, tk, d = (draw(st.integers(1, 3)) for _ in range(5))
    q = draw(hnp.arrays(np.float64, (batch, heads, tq, d), elements=floats))
    kv_batch = draw(st.sampled_from([(batch, heads), (1, heads), (batch, 1), (heads,)]))
    k, v = (draw(hnp.arrays(np.float64, kv_batch + (tk, d), elements=floats)) for _ in range(2))
    mask_shape = draw(
        st.sampled_from([None, "causal", (tq, tk), (batch, 1, 1, tk), (batch, heads, tq, tk), (heads, tq, tk)])
    )
    kwargs = {"dropout_p": draw(st.sampled_from([0.0, 0.3]))}
    if mask_shape == "causal":
        kwargs["is_causal"] = tq == tk
    elif mask_shape is not None:
        kwargs["attn_mask"] = tensor.tensor(draw(hnp.arrays(bool, mask_shape)))  # fully masked rows included
    return [q, k, v], kwargs


@given(case=attention_case())
def test_attention(case):
    arrays, kwargs = case
    assert_blocks_change_nothing(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kwargs), arrays)
