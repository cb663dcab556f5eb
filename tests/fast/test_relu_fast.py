"""The device "relu gradient by a product" (tensor/fast/relu.py) gives the textbook Relu's gradient,
np.where(x > 0, grad, 0), bit for bit: nan and inf gradients included (0 where the gradient stops, passed on
where it does not), in float32 and float64, whatever the suite's kernels mode."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensor
from tensor import kernels
from tensor.fast import relu


def relu_and_gradient(x, upstream, mode):
    with kernels.using(mode, only=["relu gradient by a product"] if mode == "fast" else None):
        t = tensor.tensor(x, requires_grad=True)
        y = t.relu()
        y.backward(tensor.tensor(upstream))
        return y.detach().numpy(), t.grad.numpy(), y._ctx


@given(st.data())
def test_the_gradient_is_the_textbooks_for_any_values_nan_and_inf_included(data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=6))
    x = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-3, 3, width=32)))
    upstream = data.draw(hnp.arrays(dtype, shape, elements=st.floats(allow_nan=True, allow_infinity=True, width=32)))
    y_book, g_book, _ = relu_and_gradient(x, upstream, "reference")
    y_fast, g_fast, fn = relu_and_gradient(x, upstream, "fast")
    assert type(fn) is relu.FastRelu
    np.testing.assert_array_equal(y_fast, y_book)
    np.testing.assert_array_equal(g_fast, g_book)  # nan where nan, the same numbers elsewhere


def test_an_inf_or_nan_gradient_stops_where_x_is_not_positive_and_passes_where_it_is():
    x = np.array([-1.0, 0.0, 2.0, 3.0, -2.0], dtype=np.float32)
    upstream = np.array([np.inf, np.nan, np.nan, -np.inf, 5.0], dtype=np.float32)
    _, grad, _ = relu_and_gradient(x, upstream, "fast")
    np.testing.assert_array_equal(grad, [0.0, 0.0, np.nan, -np.inf, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_gradient_writes_into_a_given_array(dtype):
    z = np.array([[0.0, 1.0], [2.0, 0.0]], dtype=dtype)
    grad = np.array([[np.inf, 3.0], [np.nan, 4.0]], dtype=dtype)
    out = np.empty_like(grad)
    assert relu.relu_gradient(grad, z, out=out) is out
    np.testing.assert_array_equal(out, np.where(z > 0, grad, 0))
