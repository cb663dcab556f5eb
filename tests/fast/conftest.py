"""tensor.compile is an engine-room device: its tests set fast mode, and restore the mode after,
so they run the same in either pass of CI (TINYGRAD_GPT_KERNELS=reference or fast).
"""

import pytest

from tensor import kernels


@pytest.fixture(autouse=True)
def fast_mode():
    previous = kernels.get_kernels()
    kernels.set_kernels("fast")
    yield
    kernels.set_kernels(previous)
