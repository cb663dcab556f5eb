"""CUDA graphs are an engine-room device: the tests that capture one run in fast mode, whatever
TINYGRAD_GPT_KERNELS says (the `fast_kernels` fixture)."""

import pytest

import tensor


@pytest.fixture
def fast_kernels():
    """Fast mode for the test; the mode before is restored after."""
    before = tensor.get_kernels()
    tensor.set_kernels("fast")
    yield
    tensor.set_kernels(before)
