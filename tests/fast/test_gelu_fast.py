"""The device "fused GELU" (nn/fast/gelu.py) gives the textbook GELU's values and gradients, both forms,
on the CPU (float32: its own passes; float64: the textbook's) and on the CuPy stand-in (the textbook's),
whatever the kernels mode the suite runs in: each side is run in the mode it needs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn.functional as F
import tensor
from nn.fast import gelu as fast_gelu
from tensor import kernels
from tensor.fast import threads
from tests.fast.nn_helpers import device_of_test

FORMS = pytest.mark.parametrize("approximate", ["none", "tanh"])
# float32: the two compute the same formulas by different float32 steps, a few ulps apart. Tiny values are
# compared absolutely, at the gradient's scale (upstream ~1 times dy/dx ~1): the textbook's tanh-form derivative
# 0.5 x (1 - tanh(u)^2) u'(x) rounds 1 - tanh(u)^2 to float32's spacing near 1 (6e-8), times |x u'(x) / 2| (~10
# for x near -5), as PyTorch's float32 does; the stand-in's sigma (1 - sigma) keeps its digits.
# float64: the stand-in hands over to the textbook, one computation.
TOLERANCE = {
    (np.float32, "none"): dict(rtol=2e-6, atol=1e-6),
    (np.float32, "tanh"): dict(rtol=2e-6, atol=5e-6),
    (np.float64, "none"): dict(rtol=0, atol=0),
    (np.float64, "tanh"): dict(rtol=0, atol=0),
}
EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3, 1.0, -1.0, 3.0, -3.0, 5.5, -5.5, 9.0, -9.0, 14.0, -14.0, 40.0, -40.0]


kernels_mode = kernels.using  # the block in one kernels mode, the previous mode put back after


def gelu_and_gradient(x, approximate, device, mode):
    """gelu(x) and x's gradient for a fixed random upstream gradient, in kernels `mode`, and the Function that ran."""
    with kernels_mode(mode, only=["fused GELU"] if mode == "fast" else None):
        t = tensor.tensor(x, requires_grad=True, device=device)
        y = F.gelu(t, approximate=approximate)
        upstream = np.random.default_rng(0).standard_normal(x.shape).astype(x.dtype)
        y.backward(tensor.tensor(upstream, device=device))
        return y.detach().cpu().numpy(), t.grad.cpu().numpy(), y._ctx


def assert_fast_equals_textbook(x, approximate, device="cpu"):
    y_book, g_book, book_fn = gelu_and_gradient(x, approximate, device, "reference")
    y_fast, g_fast, fast_fn = gelu_and_gradient(x, approximate, device, "fast")
    assert type(book_fn) is F.GELU and type(fast_fn) is fast_gelu.FastGELU  # which room ran each side
    fused = device == "cpu" and x.dtype == np.float32
    assert fast_fn.fused is fused, "the stand-in's own passes run on float32 CPU arrays only"
    assert y_fast.dtype == y_book.dtype == g_fast.dtype == x.dtype and y_fast.shape == x.shape
    np.testing.assert_allclose(y_fast, y_book, **TOLERANCE[x.dtype.type, approximate])
    np.testing.assert_allclose(g_fast, g_book, **TOLERANCE[x.dtype.type, approximate])


@FORMS
@pytest.mark.parametrize("where", ["cpu", "stand-in"])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_fast_equals_textbook_over_shapes(where, approximate, request, data, dtype):
    device = device_of_test(where, request)
    x = data.draw(
        hnp.arrays(
            dtype,
            hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
            elements=st.floats(-12, 12, width=32),
        )
    )
    assert_fast_equals_textbook(x, approximate, device)


@FORMS
def test_edge_values(approximate):
    x = np.array(EDGES + [np.inf, 1e30, -1e30], np.float32)
    assert_fast_equals_textbook(x, approximate)


@FORMS
def test_many_blocks_in_two_halves_and_a_strided_input(approximate, monkeypatch):
    """Blocks of 256 elements: the array's blocks, and its halves on two threads where the second core is
    free, each write their own part of y and dy/dx; a transposed (non-contiguous) input reads right too."""
    monkeypatch.setattr(threads, "BLOCK_BYTES", 256)
    monkeypatch.setattr(threads, "SPLIT_BYTES", 4096)
    x = np.random.default_rng(1).normal(0, 3, (70, 131)).astype(np.float32)
    assert_fast_equals_textbook(x, approximate)
    assert_fast_equals_textbook(x.T, approximate)


@FORMS
def test_without_gradient_saves_nothing_and_gives_the_same_values(approximate):
    x = np.random.default_rng(2).normal(0, 2, (4, 9)).astype(np.float32)
    with kernels_mode("reference"):
        expected = F.gelu(tensor.tensor(x), approximate=approximate).numpy()
    with kernels_mode("fast"), tensor.no_grad():
        y = F.gelu(tensor.tensor(x, requires_grad=True), approximate=approximate)
    assert y._ctx is None
    np.testing.assert_allclose(y.numpy(), expected, **TOLERANCE[np.float32, approximate])


def test_backward_saves_only_the_derivative():
    """One saved array (dy/dx) where the textbook keeps two (x and Phi(x))."""
    x = tensor.tensor(np.linspace(-3, 3, 12, dtype=np.float32), requires_grad=True)
    with kernels_mode("fast"):
        fn = F.gelu(x)._ctx
    assert len(fn.saved) == 1 and fn.saved[0].shape == (12,)


def test_fast_mode_registers_the_stand_in():
    assert "fused GELU" in kernels.devices()
    with kernels_mode("fast"):
        assert kernels.stand_in(F.GELU) is fast_gelu.FastGELU
    with kernels_mode("reference"):
        assert kernels.stand_in(F.GELU) is F.GELU
