"""The figures the benchmarks report mean what they say.

heap_in_use_mib separates memory the program holds from the free memory malloc keeps, which is
what tells a leak from the heap settling (benchmarks/README.md, "Memory over 1,000 steps");
interleaved_step_medians pools the step times of an implementation's replica processes.
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


class FakeWorker:
    """Answers time_steps with its own step time and notes each turn it was given."""

    def __init__(self, name, seconds, turns):
        self.name, self.seconds, self.turns = name, seconds, turns

    def time_steps(self, n):
        self.turns.append(self)
        return [self.seconds] * n


def test_replicas_of_an_implementation_take_the_rounds_in_turn_and_pool_their_times():
    """Two processes of one implementation (a fast and a slow one here) share its rounds, so the
    median sits between them, not at whichever process came first."""
    from benchmarks.worker import interleaved_step_medians

    turns = []
    a_fast, a_slow = FakeWorker("a", 1.0, turns), FakeWorker("a", 3.0, turns)
    b = FakeWorker("b", 2.0, turns)
    medians = interleaved_step_medians([a_fast, a_slow, b], rounds=4, steps_per_round=1, pause=0)
    assert turns == [a_fast, b, a_slow, b, a_fast, b, a_slow, b]  # one turn per implementation per round
    assert medians == {"a": 2.0, "b": 2.0}  # median of 1, 3, 1, 3
