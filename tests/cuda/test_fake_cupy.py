"""The stand-in behaves as CuPy does where CuPy differs from NumPy (tests/support/fake_cupy.py's list).

These run in every pass: they import the stand-in directly, they do not need it installed.
"""

import copy

import numpy as np
import pytest

from tests.support import fake_cupy as cp
from tests.support import fake_cupyx


def reads_during(fn):
    start = len(cp.host_reads)
    fn()
    return [what for what, _ in cp.host_reads.log[start:]]


def test_a_device_array_is_not_a_numpy_array_and_refuses_implicit_conversion():
    a = cp.arange(3)
    assert not isinstance(a, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    with pytest.raises(TypeError, match="Implicit conversion"):
        a.__array__()
    assert isinstance(a.get(), np.ndarray) and a.get().tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "call",
    [
        lambda a, h: a + h,
        lambda a, h: h + a,
        lambda a, h: a * h,
        lambda a, h: a @ h,
        lambda a, h: cp.where(a > 0, h, a),
        lambda a, h: cp.maximum(a, h),
        lambda a, h: cp.concatenate([a, h]),
        lambda a, h: np.concatenate([h, a]),
        lambda a, h: np.exp(h) + a,
        lambda a, h: cp.exp(h),
    ],
)
def test_functions_and_ufuncs_refuse_numpy_arrays(call):
    with pytest.raises(TypeError, match=r"Unsupported type <class 'numpy.ndarray'>"):
        call(cp.ones(3), np.ones(3))


def test_python_and_numpy_scalars_are_fine_operands():
    a = cp.ones(2, dtype=cp.float32)
    assert (a * 2 + np.float32(1) - np.float64(0.5)).get().tolist() == [2.5, 2.5]
    assert (np.float32(2) * a).get().tolist() == [2.0, 2.0]


def test_reductions_and_integer_indexing_give_0d_device_arrays():
    a = cp.arange(6).reshape(2, 3)
    for result in (a.sum(), cp.sum(a), a.max(), a[1, 2], a[0][0], cp.allclose(a, a)):
        assert isinstance(result, cp.ndarray) and result.shape == ()
    view = a[1, 2]
    view[...] = 50  # an integer index gives a view, as CuPy's does
    assert a.get()[1, 2] == 50


def test_assigning_a_host_array_through_a_basic_index_fails_as_cupys_fill():
    a = cp.zeros((2, 3))
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        a[0] = np.ones(3)
    with pytest.raises(ValueError, match="non-scalar"):
        a[...] = [1.0, 2.0, 3.0]
    a[0] = 7  # scalars are fine
    a[1] = cp.ones(3)  # and device arrays
    a[cp.asarray([0])] = np.full(3, 2.0)  # through an array index host values are copied over
    assert a.get().tolist() == [[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]


def test_out_of_range_integer_array_indices_wrap_and_int_indices_raise():
    a = cp.arange(3) * 10
    assert a[cp.asarray([1, 3, -4])].get().tolist() == [10, 0, 20]
    a[[1, 3]] = 5  # CuPy's documented example
    assert a.get().tolist() == [5, 5, 20]
    b = cp.zeros((2, 3))
    b[:, cp.asarray([4])] = 1  # wraps along the dim it indexes
    assert b.get().tolist() == [[0, 1, 0], [0, 1, 0]]
    with pytest.raises(IndexError):
        a[3]


def test_every_device_to_host_read_is_recorded():
    a = cp.arange(4)
    mask = a > 1
    assert reads_during(lambda: a.get()) == ["get()"]
    assert reads_during(lambda: a[0].item()) == ["item()"]
    assert reads_during(lambda: (int(a[1]), float(a[1]), bool(a[1]))) == ["int()", "float()", "bool()"]
    assert reads_during(lambda: a.tolist()) == ["tolist()"]
    assert reads_during(lambda: a[mask]) == ["boolean mask indexing"]
    assert reads_during(lambda: a.__setitem__(mask, 0)) == ["boolean mask assignment"]
    assert reads_during(lambda: cp.cuda.Device().synchronize()) == ["Device.synchronize()"]
    assert reads_during(lambda: (a + 1, a.sum(), a[1:], cp.where(mask, a, 0), a[cp.asarray([0])])) == []
    assert cp.host_reads.log[-1][1].startswith(__file__ + ":")  # each read names the caller's line


def test_the_generator_has_only_cupys_methods_and_no_state_to_save():
    g = cp.random.default_rng(0)
    for missing in ("permutation", "shuffle", "choice"):
        assert not hasattr(g, missing)
    assert callable(g.bit_generator.state)  # a method returning a device pointer, as CuPy's
    assert isinstance(g.random(3), cp.ndarray) and g.random(3, dtype=np.float32).dtype == np.float32
    assert g.integers(0, 5, size=4).dtype == np.int64
    assert cp.random.default_rng(1).random(4).get().tolist() == cp.random.default_rng(1).random(4).get().tolist()


def test_cupyx_scatter_add_accumulates_and_wraps():
    a = cp.zeros(3)
    fake_cupyx.scatter_add(a, cp.asarray([0, 0, 4]), cp.ones(3))
    assert a.get().tolist() == [2.0, 1.0, 0.0]
    assert fake_cupyx.special.erf(cp.zeros(2, dtype=cp.float32)).dtype == np.float32
    with pytest.raises(TypeError, match="Unsupported type"):
        fake_cupyx.special.erf(np.zeros(2))


def test_the_runtime_reports_one_device_and_refuses_others():
    assert cp.cuda.runtime.getDeviceCount() == 1
    assert cp.cuda.runtime.getDeviceProperties(0)["name"]
    with pytest.raises(cp.cuda.runtime.CUDARuntimeError, match="invalid device ordinal"):
        cp.cuda.runtime.getDeviceProperties(1)
    with pytest.raises(cp.cuda.runtime.CUDARuntimeError):
        cp.cuda.Device(1).synchronize()
    assert cp.get_array_module(cp.ones(1)) is cp and cp.get_array_module(np.ones(1)) is np


def test_empty_arrays_show_unwritten_memory_and_copies_stay_on_the_device():
    assert np.isnan(cp.empty(3).get()).all()
    a = cp.arange(3)
    assert reads_during(lambda: copy.deepcopy(a)) == []
    host = np.arange(3)
    device = cp.asarray(host)
    host[0] = 99  # the device copy is its own memory
    assert device.get().tolist() == [0, 1, 2]


def test_the_memory_pool_counts_live_arrays_in_512_byte_blocks():
    pool = cp.get_default_memory_pool()
    before = pool.used_bytes()
    a = cp.zeros(1000, dtype=cp.float32)  # 4000 bytes: 8 blocks
    assert pool.used_bytes() - before == 4096
    del a
    assert pool.used_bytes() == before and pool.total_bytes() >= before + 4096
    pool.free_all_blocks()
    assert pool.total_bytes() == pool.used_bytes()


def test_a_view_has_its_storage_as_base_and_a_no_op_astype_is_the_array_itself():
    a = cp.arange(6)
    assert a.base is None
    view = a.reshape(2, 3)[1:]
    assert view.base is a and a[1:].base is a
    assert a.astype(a.dtype, copy=False) is a
    assert a.copy().base is None and (a + 1).base is None


def test_out_arguments_take_device_arrays_only_and_are_returned():
    a = cp.arange(4.0)
    assert cp.clip(a, 0.5, 2.5, out=a) is a and a.get().tolist() == [0.5, 1.0, 2.0, 2.5]
    assert cp.exp(a, out=(a,)) is a
    with pytest.raises(TypeError, match="Output arrays must be cupy.ndarray"):
        cp.exp(a, out=np.zeros(4))


# ----- CUDA graphs: a capture records, a launch runs (tests/support/fake_cupy_graph.py) ------------------------


def captured(fn, own_pool=True):
    """Capture fn() on a stream of its own and (own_pool) with a memory pool of its own, as tensor.cuda.CUDAGraph
    does; returns (graph, what fn returned)."""
    stream = cp.cuda.Stream(non_blocking=True)
    with cp.cuda.using_allocator(cp.cuda.MemoryPool().malloc if own_pool else None), stream:
        stream.begin_capture()
        try:
            result = fn()
        finally:
            graph = stream.end_capture()
    return graph, result


def test_a_capture_runs_nothing_and_each_launch_runs_everything_it_recorded():
    a = cp.arange(4, dtype=cp.float32)
    counts = cp.zeros(4, dtype=cp.int64)

    def work():
        a[...] += 1  # in place, on memory from before the capture
        cp.add(counts, 1, out=counts)
        counts[1:3].fill(7)
        return a * 10, cp.ones(2)  # new memory: written by each launch

    graph, (tenfold, ones) = captured(work)
    assert a.get().tolist() == [0, 1, 2, 3] and counts.get().tolist() == [0, 0, 0, 0]  # put back as they were
    assert np.isnan(tenfold.get()).all() and np.isnan(ones.get()).all()  # garbage until a launch writes them
    graph.launch()
    assert a.get().tolist() == [1, 2, 3, 4] and counts.get().tolist() == [1, 7, 7, 1]
    assert tenfold.get().tolist() == [10, 20, 30, 40] and ones.get().tolist() == [1, 1]
    graph.launch()  # again: the recorded operations, on what the memory holds now
    assert a.get().tolist() == [2, 3, 4, 5] and counts.get().tolist() == [2, 7, 7, 2]
    assert tenfold.get().tolist() == [20, 30, 40, 50]


def test_a_launch_reads_what_the_memory_holds_when_it_runs():
    """Inputs are read at launch: new data copied into them, and index arrays' new values, are used."""
    table = cp.arange(10, dtype=cp.float64) * 2
    index = cp.array([1, 3])
    x = cp.ones((2, 3))
    grads = cp.zeros(10)
    graph, (picked, doubled, view) = captured(lambda: (table[index], x * 2, x.reshape(3, 2)))
    index[...] = cp.array([0, 9])
    x[...] = 5
    graph.launch()
    assert picked.get().tolist() == [0, 18] and doubled.get().tolist() == [[10] * 3] * 2
    assert view.get().tolist() == [[5, 5]] * 3  # a view is no kernel: it shows the memory it looks at
    scatter, _ = captured(lambda: fake_cupyx.scatter_add(grads, index, cp.ones(2)))
    index[...] = cp.array([4, 4])
    scatter.launch()
    assert grads.get().tolist() == [0, 0, 0, 0, 2, 0, 0, 0, 0, 0]


def test_a_launch_refuses_memory_from_before_the_capture_freed_since():
    """CuPy frees memory with its last array, and its pool may give it to the next: a graph that would
    replay into it is refused. Memory the capture allocated stays with the graph."""
    arrays = {"kept": cp.ones(5), "dropped": cp.ones(5)}
    graph, _ = captured(lambda: (arrays["kept"] + arrays["dropped"], cp.ones(4) * 2))
    graph.launch()
    del arrays["dropped"]  # its last array: CuPy would free the memory
    with pytest.raises(RuntimeError, match=r"memory freed since its capture \(1 array\(s\): \(5,\) float64\)"):
        graph.launch()


def test_temporaries_of_a_capture_stay_with_the_graph_only_in_a_pool_of_its_own():
    """Memory a capture takes from the default pool and frees (its temporaries) goes back to everyone, so the
    launch refuses; from a pool of the capture's own (as tensor.cuda.CUDAGraph takes) it stays the graph's."""
    graph, total = captured(lambda: (cp.ones(3) * 2).sum(), own_pool=False)
    with pytest.raises(RuntimeError, match=r"memory freed since its capture \(2 array"):
        graph.launch()
    graph, total = captured(lambda: (cp.ones(3) * 2).sum())
    graph.launch()
    assert total.get() == 6.0


def test_a_random_draw_cannot_be_recorded_by_the_stand_in():
    rng = cp.random.default_rng(0)
    with pytest.raises(NotImplementedError, match="random draw"):
        captured(lambda: rng.random(3))
