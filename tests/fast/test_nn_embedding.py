"""The device "flat embedding gradient" (nn/fast/embedding.py) gives the textbook Embedding's values and
gradient, repeated tokens included, on the CPU and on the CuPy stand-in, whatever the kernels mode."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn.functional as F
from tests.fast.nn_helpers import ON_BOTH, assert_device_equals_textbook, device_of_test


@ON_BOTH
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_embedding(where, request, data, dtype):
    device = device_of_test(where, request)
    vocab, dim = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    weight = data.draw(hnp.arrays(dtype, (vocab, dim), elements=st.floats(-4, 4)))
    indices = data.draw(
        hnp.arrays(np.int64, hnp.array_shapes(max_dims=3, max_side=5), elements=st.integers(0, vocab - 1))
    )

    def op(weight, indices):
        return F.embedding(indices, weight)

    assert_device_equals_textbook(
        "flat embedding gradient", op, [weight, indices], device, "nn.fast.embedding", rtol=1e-6, atol=1e-6
    )
