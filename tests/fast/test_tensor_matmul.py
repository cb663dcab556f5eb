"""The BLAS thread policy's Matmul (tensor/fast/threads.py, BlasMatmul) against the textbook's (tensor/ops/
matmul.py): the same values and gradients for every shape NumPy's matmul takes, in one thread, in two halves
on two threads, and on the CuPy stand-in; and fast mode runs it, reference mode the textbook."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensor
from tensor.fast import threads
from tensor.fast.threads import BlasMatmul
from tensor.ops import Matmul

# (a's shape, b's shape): vectors, matrices, batches, batches that broadcast
SHAPES = st.sampled_from(
    [
        ((3,), (3,)),
        ((3,), (3, 4)),
        ((2, 3), (3,)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (5, 3, 4)),
        ((5, 2, 3), (3, 4)),
        ((1, 2, 3), (4, 3, 2)),
        ((6, 3), (3, 0)),
    ]
)


def value_and_gradients(op, shapes, seed, device="cpu"):
    rng = np.random.default_rng(seed)
    a, b = (tensor.tensor(rng.standard_normal(s).astype(np.float32), device=device, requires_grad=True) for s in shapes)
    out = op.apply(a, b)
    upstream = tensor.tensor(rng.standard_normal(out.shape).astype(np.float32), device=device)
    (out * upstream).sum().backward()
    return [t.detach().cpu().numpy() for t in (out, a.grad, b.grad)]


def assert_equal_within_float32(got, expected):
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


@given(shapes=SHAPES, seed=st.integers(0, 2**16), split=st.booleans())
def test_the_blas_matmul_gives_the_textbooks_values_and_gradients(shapes, seed, split):
    """split: every product large enough for two halves on two threads (when the second core is free)."""
    saved = threads.SPLIT_WORK
    threads.SPLIT_WORK = 0 if split else saved
    try:
        got = value_and_gradients(BlasMatmul, shapes, seed)
    finally:
        threads.SPLIT_WORK = saved
    assert_equal_within_float32(got, value_and_gradients(Matmul, shapes, seed))


@pytest.mark.parametrize("shapes", [((3,), (3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (3,))])
def test_the_blas_matmul_gives_the_textbooks_values_and_gradients_on_the_cupy_stand_in(fake_cuda, shapes):
    got = value_and_gradients(BlasMatmul, shapes, 0, "cuda")
    assert_equal_within_float32(got, value_and_gradients(Matmul, shapes, 0, "cuda"))


def test_fast_mode_runs_the_blas_matmul_and_reference_mode_the_textbooks(kernels):
    a = tensor.ones(2, 3, requires_grad=True)
    assert type((a @ tensor.ones(3, 2))._ctx) is BlasMatmul
    kernels("reference")
    assert type((a @ tensor.ones(3, 2))._ctx) is Matmul
