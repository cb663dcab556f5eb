"""The device "where by copies" (tensor/fast/select.py) gives np.where's values, shape and dtype."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tensor.fast.select import select


@given(st.data())
def test_select_is_numpys_where_for_every_broadcast_and_dtype(data):
    """The stand-in behind Where: the same values, shape and dtype as np.where, inf and nan included."""
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4))
    condition_shape, x_shape, y_shape = shapes.input_shapes
    condition = data.draw(hnp.arrays(bool, condition_shape))
    x = data.draw(hnp.arrays(np.float32, x_shape))
    y = data.draw(hnp.arrays(data.draw(st.sampled_from([np.float32, np.float64, np.int64])), y_shape))
    expected = np.where(condition, x, y)
    got = select(condition, x, y)
    assert (got.shape, got.dtype) == (expected.shape, expected.dtype)
    np.testing.assert_array_equal(got, expected)
