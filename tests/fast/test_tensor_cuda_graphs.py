"""The CUDA-graph device's stand-ins for the backend's functions (tensor/fast/cuda_graphs.py) against the
textbook's (tensor/backend.py): outside a capture the same results on "cpu" and on the CuPy stand-in;
inside one, a joined array that a replay fills with the textbook's values; and malloc tuning, whose
textbook leaves the allocator alone. (Captured products and steps: tests/cuda/test_graphs.py.)"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensor
from tensor import backend
from tensor.fast import cuda_graphs, malloc


@st.composite
def arrays_to_join(draw):
    ndim = draw(st.integers(1, 3))
    shape = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim))
    axis = draw(st.integers(-ndim, ndim - 1))
    count = draw(st.integers(1, 10))  # CuPy joins more than 8 arrays with a table read from host memory
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arrays = []
    for _ in range(count):
        piece = list(shape)
        piece[axis] = draw(st.integers(1, 3))
        arrays.append(rng.standard_normal(piece).astype(np.float32))
    return arrays, axis


@given(arrays_to_join())
def test_outside_a_capture_concatenate_and_stack_are_the_textbooks(joined):
    arrays, axis = joined
    np.testing.assert_array_equal(
        cuda_graphs.capturable_concatenate(np, arrays, axis), backend.concatenate.__wrapped__(np, arrays, axis)
    )
    same_shape = [a for a in arrays if a.shape == arrays[0].shape]
    np.testing.assert_array_equal(
        cuda_graphs.capturable_stack(np, same_shape, axis), backend.stack.__wrapped__(np, same_shape, axis)
    )


def test_outside_a_capture_the_stand_ins_are_the_textbooks_on_the_cupy_stand_in(fake_cuda):
    rng = np.random.default_rng(0)
    host = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(10)]
    arrays = [fake_cuda.asarray(a) for a in host]
    for stand_in, textbook in [
        (cuda_graphs.capturable_concatenate, backend.concatenate.__wrapped__),
        (cuda_graphs.capturable_stack, backend.stack.__wrapped__),
    ]:
        np.testing.assert_array_equal(stand_in(fake_cuda, arrays, 1).get(), textbook(fake_cuda, arrays, 1).get())
    np.testing.assert_array_equal(
        cuda_graphs.capturable_matmul(fake_cuda, arrays[0], arrays[1].T).get(),
        backend.matmul_on.__wrapped__(fake_cuda, arrays[0], arrays[1].T).get(),
    )
    seed = np.random.SeedSequence([3, 1])
    np.testing.assert_array_equal(
        cuda_graphs.random_generator_unless_capturing(fake_cuda, seed).random(4).get(),
        backend.random_generator.__wrapped__(fake_cuda, seed).random(4).get(),
    )


def test_inside_a_capture_a_join_of_many_arrays_replays_to_the_textbooks_values(fake_cuda):
    rng = np.random.default_rng(1)
    host = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(10)]
    arrays = [fake_cuda.asarray(a) for a in host]
    graph = tensor.cuda.CUDAGraph()
    with tensor.cuda.graph(graph):
        joined = backend.concatenate(fake_cuda, arrays, axis=0)  # the stand-in: one copy per array
        stacked = backend.stack(fake_cuda, arrays, axis=1)
    graph.replay()
    np.testing.assert_array_equal(joined.get(), np.concatenate(host, axis=0))
    np.testing.assert_array_equal(stacked.get(), np.stack(host, axis=1))


def test_fast_mode_calls_the_stand_ins_and_reference_mode_the_textbooks(kernels, monkeypatch):
    calls = []
    monkeypatch.setitem(tensor.kernels.active, backend.concatenate, lambda *args: calls.append(args))
    backend.concatenate(np, [np.ones(2)])
    assert len(calls) == 1
    kernels("reference")
    np.testing.assert_array_equal(backend.concatenate(np, [np.ones(2), np.zeros(1)]), [1, 1, 0])
    assert len(calls) == 1


class RecordingLibc:
    """Stands for glibc: records the mallopt calls it gets."""

    def __init__(self, name):
        self.calls = CALLS

    def mallopt(self, option, value):
        self.calls.append((option, value))
        return 1


CALLS = []


@pytest.mark.skipif(not malloc.sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_malloc_tuning_is_the_engine_rooms_and_the_textbook_leaves_the_allocator_alone(kernels, monkeypatch):
    monkeypatch.setattr(malloc.ctypes, "CDLL", RecordingLibc)
    CALLS.clear()
    kernels("reference")
    assert tensor.backend.tune_malloc() is False and CALLS == []
    kernels("fast")
    assert tensor.backend.tune_malloc() is True
    assert CALLS == [(-3, 1 << 30), (-1, 1 << 30)]  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
