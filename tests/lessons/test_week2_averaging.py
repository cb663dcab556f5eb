"""Week 2: averaging the past, three ways. Why rewrite a loop as a masked softmax?"""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensor
from tinygrad_gpt import HeadVer1, HeadVer2, HeadVer3

inputs = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=5), elements=st.floats(-10, 10)
)


def test_head_ver1_averages_the_past():
    x = tensor.tensor([[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]])
    assert HeadVer1()(x).tolist() == [[[1, 2, 3], [2.5, 3.5, 4.5], [4, 5, 6]]]


@given(x=inputs)
def test_head_ver2_and_ver3_compute_the_same_as_ver1(x):
    t = tensor.tensor(x)
    expected = HeadVer1()(t).numpy()
    np.testing.assert_allclose(HeadVer2()(t).numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(HeadVer3()(t).numpy(), expected, rtol=1e-12, atol=1e-12)


@given(t=st.integers(1, 12))
def test_head_ver3_weights_are_zero_above_the_diagonal_and_rows_sum_to_one(t):
    head = HeadVer3()
    head(tensor.randn(2, t, 4))
    weights = head.wei.numpy()
    assert (np.triu(weights, 1) == 0).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-6)
