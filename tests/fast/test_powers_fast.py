"""The device "integer powers" (tensor/fast/powers.py) gives the textbook PowScalar's values and gradient:
x ** n by products for a whole n from 3 to 8 on float CPU arrays, the textbook's own power elsewhere
(other exponents, integer arrays, NumPy scalar exponents, the CuPy stand-in), whatever the suite's kernels mode."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensor
from tensor import kernels
from tensor.fast import powers
from tensor.ops.elementwise import PowScalar
from tests.fast.nn_helpers import device_of_test

# products round up to four times where the power rounds once: a few ulps of the result
TOLERANCE = {np.float32: dict(rtol=1e-6, atol=1e-30), np.float64: dict(rtol=1e-14, atol=1e-300)}


kernels_mode = kernels.using  # the block in one kernels mode, the previous mode put back after


def power_and_gradient(x, exponent, device, mode):
    with kernels_mode(mode, only=["integer powers"] if mode == "fast" else None):
        t = tensor.tensor(x, requires_grad=x.dtype.kind == "f", device=device)
        y = t**exponent
        if not t.requires_grad:
            return y.cpu().numpy(), None, y._ctx
        upstream = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
        y.backward(tensor.tensor(upstream, device=device))
        return y.detach().cpu().numpy(), t.grad.cpu().numpy(), y._ctx


def assert_fast_equals_textbook(x, exponent, device="cpu", by_products=None):
    y_book, g_book, _ = power_and_gradient(x, exponent, device, "reference")
    y_fast, g_fast, fn = power_and_gradient(x, exponent, device, "fast")
    if fn is not None:
        assert type(fn) is powers.FastPowScalar
        assert fn.by_products is by_products
    assert y_fast.dtype == y_book.dtype and y_fast.shape == y_book.shape
    tolerance = TOLERANCE.get(x.dtype.type, dict(rtol=0, atol=0))
    np.testing.assert_allclose(y_fast, y_book, **tolerance)
    if g_book is not None:
        np.testing.assert_allclose(g_fast, g_book, **tolerance)


@pytest.mark.parametrize("where", ["cpu", "stand-in"])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    data=st.data(),
    dtype=st.sampled_from([np.float32, np.float64]),
    exponent=st.sampled_from([3, 3.0, 4, 5, 6.0, 7, 8]),
)
def test_whole_exponents_equal_the_textbook_over_shapes(where, request, data, dtype, exponent):
    device = device_of_test(where, request)
    x = data.draw(
        hnp.arrays(dtype, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5), elements=st.floats(-9, 9))
    )
    assert_fast_equals_textbook(x, exponent, device, by_products=device == "cpu")


@pytest.mark.parametrize("exponent", [2, 2.5, -3, 9, 0.5])
def test_other_exponents_run_the_textbook_power(exponent):
    x = np.linspace(0.5, 3, 7, dtype=np.float32)
    assert_fast_equals_textbook(x, exponent, by_products=False)


def test_integer_arrays_run_the_textbook_power():
    assert_fast_equals_textbook(np.arange(-4, 5, dtype=np.int64), 3, by_products=None)


def test_large_and_special_values_as_the_textbook():
    x = np.array([0.0, -0.0, 1e-20, -1e-20, 1e13, -1e13, 1e30, np.inf, -np.inf, np.nan], np.float32)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        assert_fast_equals_textbook(x, 3, by_products=True)


def test_power_by_products_for_every_exponent_it_takes():
    x = np.array([1.5, -2.0, 0.25], np.float64)
    for n in range(1, 9):
        np.testing.assert_allclose(powers.power_by_products(x, n), x**n, rtol=1e-15)
    assert powers.whole_exponent(3.0) == 3 and powers.whole_exponent(True) is None
    assert powers.whole_exponent(np.float64(3.0)) is None and powers.whole_exponent(3.5) is None


def test_registered_for_pow_scalar():
    assert "integer powers" in kernels.devices()
    with kernels_mode("fast"):
        assert kernels.stand_in(PowScalar) is powers.FastPowScalar
