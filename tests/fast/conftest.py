"""tests/fast: the engine room's devices, each compared with the textbook object it stands in for.

Every test here runs in fast mode, whatever TINYGRAD_GPT_KERNELS says, and restores the mode after; a
test that needs the textbook calls it explicitly (`marked.__wrapped__`, the Function class itself) or
switches with the `kernels` fixture."""

import pytest

import tensor


@pytest.fixture(autouse=True)
def kernels():
    """Fast mode for the test; `kernels("reference")` switches inside it. The mode before is restored."""
    before = tensor.get_kernels()
    tensor.set_kernels("fast")
    yield tensor.set_kernels
    tensor.set_kernels(before)
