"""The memory figures the benchmarks report mean what they say.

heap_in_use_mib separates memory the program holds from the free memory malloc keeps, which is
what tells a leak from the heap settling (benchmarks/README.md, "Memory over 1,000 steps").
"""

import numpy as np
import pytest

from benchmarks.measure import heap_in_use_mib

MIB = 2**20


@pytest.fixture
def heap():
    if heap_in_use_mib() is None:
        pytest.skip("malloc cannot say what it has handed out here (not glibc 2.33 or later)")
    return heap_in_use_mib


@pytest.mark.parametrize("mib", [1, 64])  # malloc serves them from its heap or mmaps them, by its thresholds
def test_an_array_the_program_keeps_counts_and_a_freed_one_stops_counting(heap, mib):
    before = heap()
    kept = np.empty(mib * MIB, dtype=np.uint8)  # never written: resident memory would not see it
    held = heap()
    del kept
    after = heap()
    assert held - before == pytest.approx(mib, abs=0.25)
    assert after - before == pytest.approx(0, abs=0.25)
