"""GELU against PyTorch, both forms, float32 and float64, values and gradients, run with the textbook op and
with the engine room's stand-in (whatever the suite's kernels mode), edge values included.

"Correct to float32 round-off": each result is held to PyTorch's float64 result on the same inputs, within a
tolerance that PyTorch's own float32 result also meets (checked too, so the tolerance is no looser than the
round-off PyTorch itself makes). Infinities and NaN come out where PyTorch's do.
"""

import numpy as np
import pytest

from tests.conformance.oracle import TOLERANCE as SAME_DTYPE_TOLERANCE

torch = pytest.importorskip("torch")

import nn.functional as F  # noqa: E402
import tensor  # noqa: E402
from tensor import kernels  # noqa: E402

EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 1e-3, -1e-3, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 5.0, -5.0, 7.5, -7.5]
EDGES += [10.0, -10.0, 14.0, -14.0, 20.0, -20.0, 88.0, -88.0, 1e4, -1e4]  # 1e30: the test of large magnitudes
# against PyTorch's float64: float32 values ~ a few ulps; gradients carry the upstream gradient (|g| up to ~4) and,
# for the tanh form, the cancellation in 1 - tanh(u)^2 that PyTorch's float32 makes as well
TO_FLOAT64 = {
    ("float32", "none"): dict(value=dict(rtol=2e-6, atol=5e-7), grad=dict(rtol=2e-6, atol=1e-6)),
    ("float32", "tanh"): dict(value=dict(rtol=2e-6, atol=5e-7), grad=dict(rtol=2e-6, atol=5e-6)),
    ("float64", "none"): dict(value=dict(rtol=1e-12, atol=1e-14), grad=dict(rtol=1e-12, atol=1e-13)),
    ("float64", "tanh"): dict(value=dict(rtol=1e-12, atol=1e-14), grad=dict(rtol=1e-12, atol=1e-13)),
}
ROOMS = pytest.mark.parametrize("mode", ["reference", "fast"])
FORMS = pytest.mark.parametrize("approximate", ["none", "tanh"])
DTYPES = pytest.mark.parametrize("dtype", ["float32", "float64"])


kernels_mode = kernels.using  # the block in one kernels mode, the previous mode put back after


def inputs(dtype, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(0, 3, n), EDGES]).astype(dtype)
    upstream = rng.standard_normal(x.shape).astype(dtype)
    return x, upstream


def torch_gelu(x, upstream, approximate, dtype=None):
    t = torch.tensor(x if dtype is None else x.astype(dtype), requires_grad=True)
    y = torch.nn.functional.gelu(t, approximate=approximate)
    y.backward(torch.tensor(upstream if dtype is None else upstream.astype(dtype)))
    return y.detach().numpy(), t.grad.numpy()


def our_gelu(x, upstream, approximate, mode):
    with kernels_mode(mode):
        t = tensor.tensor(x, requires_grad=True)
        y = F.gelu(t, approximate=approximate)
        y.backward(tensor.tensor(upstream))
    return y.detach().numpy(), t.grad.numpy()


@ROOMS
@FORMS
@DTYPES
def test_values_and_gradients_match_pytorch(mode, approximate, dtype):
    x, upstream = inputs(dtype)
    exact_y, exact_g = torch_gelu(x, upstream, approximate, np.float64)
    torch_y, torch_g = torch_gelu(x, upstream, approximate)
    y, g = our_gelu(x, upstream, approximate, mode)
    assert y.dtype == g.dtype == np.dtype(dtype)
    tolerance = TO_FLOAT64[dtype, approximate]
    np.testing.assert_allclose(torch_y, exact_y, **tolerance["value"], err_msg="PyTorch's own values")
    np.testing.assert_allclose(torch_g, exact_g, **tolerance["grad"], err_msg="PyTorch's own gradients")
    np.testing.assert_allclose(y, exact_y, **tolerance["value"], err_msg="values")
    np.testing.assert_allclose(g, exact_g, **tolerance["grad"], err_msg="gradients")
    np.testing.assert_allclose(y, torch_y, **SAME_DTYPE_TOLERANCE[dtype], err_msg="values, same dtype")
    np.testing.assert_allclose(g, torch_g, **SAME_DTYPE_TOLERANCE[dtype], err_msg="gradients, same dtype")


@ROOMS
@FORMS
@DTYPES
def test_infinities_and_nan_where_pytorch_has_them(mode, approximate, dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, 2.0, -2.0], dtype)
    upstream = np.ones_like(x)
    torch_y, torch_g = torch_gelu(x, upstream, approximate)
    y, g = our_gelu(x, upstream, approximate, mode)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(torch_y))
    np.testing.assert_array_equal(np.isnan(g), np.isnan(torch_g))
    np.testing.assert_allclose(y, torch_y, **SAME_DTYPE_TOLERANCE[dtype], equal_nan=True)
    np.testing.assert_allclose(g, torch_g, **SAME_DTYPE_TOLERANCE[dtype], equal_nan=True)


@ROOMS
@FORMS
def test_large_magnitudes_are_x_and_zero(mode, approximate):
    """|x| >= 10: y is x (x > 0) or -0 to 0 (x < 0), the slope 1 or 0 (to round-off: the exact slope at -10
    is -7.6e-22, which PyTorch's float32 rounds to 0), as in PyTorch, for x^3 and x^2 that overflow too."""
    x = np.array([10.0, 40.0, 1e4, 1e30, -10.0, -40.0, -1e4, -1e30], np.float32)
    upstream = np.ones_like(x)
    torch_y, torch_g = torch_gelu(x, upstream, approximate)
    y, g = our_gelu(x, upstream, approximate, mode)
    np.testing.assert_allclose(y, torch_y, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(g, torch_g, rtol=1e-6, atol=1e-12, equal_nan=True)  # tanh form at +-1e30: nan, both
