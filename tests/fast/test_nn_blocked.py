"""Each fused op of nn/fast/blocked.py (the device "row blocks") gives the values and gradients of the
textbook op of nn.functional it stands in for, on the CPU and on the CuPy stand-in.

Both run explicitly whatever TINYGRAD_GPT_KERNELS says: the textbook in reference mode, the stand-in in
fast mode with only this device on; each test checks which Function made the output.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn.functional as F
import tensor
from tests.fast.nn_helpers import ON_BOTH, assert_device_equals_textbook, device_of_test

DEVICE = "row blocks"
STAND_INS = "nn.fast.blocked"
floats = st.floats(-4, 4)
dtypes = st.sampled_from([np.float32, np.float64])
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def any_array(dtype):
    return hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), elements=floats)


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


@ON_BOTH
@fixture_ok
@given(x=dtypes.flatmap(any_array), data=st.data(), log=st.booleans())
def test_softmax_and_log_softmax(where, request, x, data, log):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    op = F.log_softmax if log else F.softmax
    on = device_of_test(where, request)
    assert_device_equals_textbook(DEVICE, lambda t: op(t, dim), [x], on, STAND_INS, **tolerance(x.dtype))


@ON_BOTH
@fixture_ok
@given(data=st.data(), dtype=dtypes, affine=st.booleans())
def test_layer_norm(where, request, data, dtype, affine):
    device = device_of_test(where, request)
    x = data.draw(any_array(dtype))
    normalized_shape = x.shape[data.draw(st.integers(0, x.ndim - 1)) :]
    arrays = [x]
    if affine:
        arrays += [data.draw(hnp.arrays(dtype, normalized_shape, elements=floats)) for _ in range(2)]

    def op(x, *affine):
        return F.layer_norm(x, normalized_shape, *affine)

    # float32: a row of equal elements has a variance of round-off, which 1 / sqrt(eps) (~316) scales up
    close = dict(rtol=1e-3, atol=1e-3) if dtype == np.float32 else tolerance(dtype)
    assert_device_equals_textbook(DEVICE, op, arrays, device, STAND_INS, **close)


@ON_BOTH
@fixture_ok
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # every row ignored: a mean over no rows is NaN, as PyTorch's
@given(data=st.data(), dtype=dtypes)
def test_cross_entropy(where, request, data, dtype):
    device = device_of_test(where, request)
    n, classes = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    logits = data.draw(hnp.arrays(dtype, (n, classes), elements=floats))
    targets = np.array(data.draw(st.lists(st.integers(0, classes - 1) | st.just(-100), min_size=n, max_size=n)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    smoothing = data.draw(st.sampled_from([0.0, 0.1]))

    def op(logits, targets):
        return F.cross_entropy(logits, targets, reduction=reduction, label_smoothing=smoothing)

    assert_device_equals_textbook(DEVICE, op, [logits, targets], device, STAND_INS, **tolerance(dtype))


@st.composite
def attention_case(draw):
    """Query, key and value with broadcasting batch dims (or none), a mask of one of PyTorch's shapes
    (fully masked rows included), dropout or not."""
    batch, heads, tq, tk, d = (draw(st.integers(1, 3)) for _ in range(5))
    q_batch = draw(st.sampled_from([(batch, heads), ()]))
    q = draw(hnp.arrays(np.float64, q_batch + (tq, d), elements=floats))
    kv_batch = draw(st.sampled_from([(batch, heads), (1, heads), (batch, 1), (heads,), ()]))
    k, v = (draw(hnp.arrays(np.float64, kv_batch + (tk, d), elements=floats)) for _ in range(2))
    mask_shape = draw(st.sampled_from([None, "causal", (tq, tk), (batch, 1, 1, tk), (heads, tq, tk)]))
    kwargs = {"dropout_p": draw(st.sampled_from([0.0, 0.3]))}
    if mask_shape == "causal":
        kwargs["is_causal"] = True
    elif mask_shape is not None:
        kwargs["mask"] = draw(hnp.arrays(bool, mask_shape))
    return [q, k, v], kwargs


@ON_BOTH
@fixture_ok
@given(case=attention_case())
def test_scaled_dot_product_attention(where, request, case):
    device = device_of_test(where, request)
    arrays, kwargs = case
    mask = kwargs.pop("mask", None)

    def op(q, k, v):
        attn_mask = None if mask is None else tensor.tensor(mask, device=device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, **kwargs)

    assert_device_equals_textbook(DEVICE, op, arrays, device, STAND_INS)


def test_attention_of_a_query_far_below_another_and_of_a_fully_masked_one():
    """Scores of one query 500 below another's (the block's shift computes it again with its own max),
    a query that may attend to nothing (zeros, as PyTorch)."""
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((1, 3, 2)), rng.standard_normal((1, 4, 2)), rng.standard_normal((1, 4, 2))
    bias = np.zeros((1, 3, 4))
    bias[0, 1] -= 500.0
    bias[0, 2] = -np.inf

    def op(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=tensor.tensor(bias))

    assert_device_equals_textbook(DEVICE, op, [q, k, v], "cpu", STAND_INS)
