"""tensor/fast/threads.py: blocks of rows cover every row exactly once; the BLAS's threads follow the load."""

import io
import os
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensor
from tensor.fast import threads as parallel


@pytest.fixture
def restore_threads():
    before = parallel.get_num_threads()
    yield
    parallel.set_num_threads(before)


@given(n_rows=st.integers(0, 50), row_bytes=st.integers(0, 5000), block_bytes=st.integers(1, 20000))
def test_blocks_cover_every_row_exactly_once_in_order(n_rows, row_bytes, block_bytes):
    seen, calls = [], []

    def record(rows):
        calls.append(rows)
        seen.extend(range(n_rows)[rows])

    previous = parallel.BLOCK_BYTES
    parallel.BLOCK_BYTES = block_bytes
    try:
        parallel.for_each_block(record, n_rows, row_bytes)
    finally:
        parallel.BLOCK_BYTES = previous
    assert seen == list(range(n_rows))
    rows_per_block = max(1, block_bytes // max(1, row_bytes))
    assert all(rows.stop - rows.start <= rows_per_block for rows in calls)  # each block at most BLOCK_BYTES


def test_blocks_run_on_the_calling_thread(monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 1)
    threads = set()
    parallel.for_each_block(lambda rows: threads.add(threading.get_ident()), n_rows=8, row_bytes=1)
    assert threads == {threading.get_ident()}


def test_an_error_in_a_block_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 1)

    def fail_on_row_3(rows):
        if 3 in range(10)[rows]:
            raise ValueError("row 3")

    with pytest.raises(ValueError, match="row 3"):
        parallel.for_each_block(fail_on_row_3, n_rows=10, row_bytes=1)


def test_one_block_on_the_gpu(monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 1)
    calls = []
    parallel.for_each_block(calls.append, n_rows=10, row_bytes=1, device="cuda")
    assert calls == [slice(0, 10)]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_set_num_threads_rejects_what_is_not_a_positive_integer(bad, restore_threads):
    with pytest.raises((ValueError, TypeError)):
        parallel.set_num_threads(bad)


def test_num_threads_follows_pytorchs_names(restore_threads):
    tensor.set_num_threads(3)
    assert tensor.get_num_threads() == 3


# ----- the BLAS's threads ------------------------------------------------------------------------


class RecordingController:
    """Stands for threadpoolctl's controller of one BLAS: remembers the thread counts it is given."""

    user_api, num_threads = "blas", 2

    def __init__(self):
        self.calls = []

    def set_num_threads(self, n):
        self.calls.append(n)


@pytest.fixture
def blas(monkeypatch):
    controller = RecordingController()
    monkeypatch.setattr(parallel, "threadpoolctl", object())  # present (its controllers are the line below)
    monkeypatch.setattr(parallel, "_blas", {"controllers": [controller], "most": 2, "now": None})
    monkeypatch.setattr(parallel, "get_num_threads", lambda: 2)
    return controller


def test_a_small_product_gets_one_blas_thread_and_a_large_one_every_core(blas, monkeypatch):
    monkeypatch.setattr(parallel, "other_programs_busy", lambda now: False)
    parallel.blas_threads_for(parallel.SMALL_PRODUCT - 1, np)
    parallel.blas_threads_for(parallel.SMALL_PRODUCT, np)
    assert blas.calls == [1, 2]


def test_the_blas_gets_one_thread_while_another_program_keeps_a_core_busy(blas, monkeypatch):
    monkeypatch.setattr(parallel, "other_programs_busy", lambda now: True)
    parallel.blas_threads_for(10 * parallel.SMALL_PRODUCT, np)
    assert blas.calls == [1]


def test_the_thread_count_is_set_only_when_it_changes(blas, monkeypatch):
    monkeypatch.setattr(parallel, "other_programs_busy", lambda now: False)
    for _ in range(3):
        parallel.blas_threads_for(10, np)
    parallel.blas_threads_for(10 * parallel.SMALL_PRODUCT, np)
    parallel.blas_threads_for(10 * parallel.SMALL_PRODUCT, np)
    assert blas.calls == [1, 2]


def test_set_num_threads_caps_the_blas(monkeypatch, restore_threads):
    controller = RecordingController()
    monkeypatch.setattr(parallel, "threadpoolctl", object())
    monkeypatch.setattr(parallel, "_blas", {"controllers": [controller], "most": 2, "now": None})
    monkeypatch.setattr(parallel, "other_programs_busy", lambda now: False)
    tensor.set_num_threads(1)
    parallel.blas_threads_for(10 * parallel.SMALL_PRODUCT, np)
    tensor.set_num_threads(2)
    parallel.blas_threads_for(10 * parallel.SMALL_PRODUCT, np)
    assert controller.calls == [1, 2]


def test_without_threadpoolctl_the_blas_is_left_alone(blas, monkeypatch):
    monkeypatch.setattr(parallel, "threadpoolctl", None)
    monkeypatch.setattr(parallel, "other_programs_busy", lambda now: True)
    parallel.blas_threads_for(10, np)
    assert blas.calls == []


def test_the_gpu_leaves_the_blas_alone(blas):
    class CuPyLike:
        __name__ = "cupy"
        matmul = staticmethod(np.matmul)

    parallel.blas_threads_for(10, CuPyLike())
    assert blas.calls == []


def fake_cpu_readings(monkeypatch, readings, busy_before=False):
    """Each look at the load reads the next (seconds all our cores ran, seconds our process ran)."""
    ticks, readings, reading = os.sysconf("SC_CLK_TCK"), iter(readings), {}

    def busy_ticks_of(cpus):
        cores_seconds, reading["own"] = next(readings)
        return round(cores_seconds * ticks)

    monkeypatch.setattr(parallel, "_busy_ticks_of", busy_ticks_of)
    monkeypatch.setattr(parallel.os, "times", lambda: os.times_result((reading["own"], 0.0, 0.0, 0.0, 0.0)))
    monkeypatch.setattr(parallel, "_load", {"at": None, "cpu_ticks": None, "own_seconds": None, "busy": busy_before})


@pytest.mark.parametrize(
    ("others_seconds", "busy"), [(0.0, False), (0.3 * parallel.LOAD_INTERVAL, False), (parallel.LOAD_INTERVAL, True)]
)
def test_other_programs_count_as_busy_from_half_a_core(monkeypatch, others_seconds, busy):
    """Over one interval our process ran 0.2 s; the cores ran that plus `others_seconds` of other programs."""
    fake_cpu_readings(monkeypatch, [(10.0, 10.0), (10.2 + others_seconds, 10.2)])
    assert parallel.other_programs_busy(100.0) is False  # the first look only starts the interval
    assert parallel.other_programs_busy(100.0 + parallel.LOAD_INTERVAL / 2) is False  # too soon: not looked at again
    assert parallel.other_programs_busy(100.0 + parallel.LOAD_INTERVAL) is busy


@pytest.mark.parametrize("busy_before", [False, True])
def test_an_interval_in_which_we_sat_idle_keeps_the_last_answer(monkeypatch, busy_before):
    """Two seconds between looks in which we ran 0.05 s and others 1.5 s (another program's turn in an
    interleaved benchmark, say): that says nothing about now, so the answer stays what it was. The
    same others in an interval we spent running do count."""
    fake_cpu_readings(monkeypatch, [(10.0, 10.0), (11.55, 10.05), (13.05, 11.05)], busy_before)
    assert parallel.other_programs_busy(100.0) is busy_before  # the first look only starts the interval
    assert parallel.other_programs_busy(102.0) is busy_before  # we were idle: others' 1.5 s do not count
    assert parallel.other_programs_busy(103.0) is True  # we ran 1 s of that second, others 0.5 s: busy


def test_busy_ticks_read_only_our_cores(tmp_path, monkeypatch):
    stat = "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 10 0 5 100 7 1 1 0 0 0\ncpu1 20 0 0 100 0 0 0 0 0 0\nintr 5\n"
    real_open = open
    monkeypatch.setattr(
        "builtins.open", lambda path, *a, **k: io.StringIO(stat) if path == "/proc/stat" else real_open(path, *a, **k)
    )
    assert parallel._busy_ticks_of({0}) == 17  # user + system + irq + softirq, not idle or iowait
    assert parallel._busy_ticks_of({0, 1}) == 37


# ----- the second thread: halves of a large product or of a fused op's rows --------------------------


def free_the_second_core(monkeypatch, controllers=()):
    """Two cores, no other program, OpenBLAS's threads idle, threadpoolctl present with `controllers`:
    every call of in_two_halves may use the second thread."""
    monkeypatch.setattr(parallel, "threadpoolctl", object())
    monkeypatch.setattr(parallel, "_blas", {"controllers": list(controllers), "most": 2, "now": None})
    monkeypatch.setattr(parallel, "get_num_threads", lambda: 2)
    monkeypatch.setattr(parallel, "other_programs_busy", lambda now: False)
    monkeypatch.setitem(parallel._second, "shared_at", -float("inf"))


@pytest.fixture
def second_core(monkeypatch):
    """The second core is free and the BLAS is a recording controller (returned)."""
    controller = RecordingController()
    free_the_second_core(monkeypatch, [controller])
    return controller


def halves_seen(n):
    """Run in_two_halves over n rows; return the (thread, rows) of each call."""
    calls, lock = [], threading.Lock()

    def record(rows):
        with lock:
            calls.append((threading.get_ident(), rows))

    parallel.in_two_halves(record, n)
    return calls


@given(n=st.integers(2, 1000))
def test_two_halves_cover_every_row_once_on_two_threads(n):
    with pytest.MonkeyPatch.context() as monkeypatch:
        free_the_second_core(monkeypatch)
        calls = halves_seen(n)
    assert sorted(r for _, rows in calls for r in range(n)[rows]) == list(range(n))
    assert len(calls) == 2 and len({thread for thread, _ in calls}) == 2
    assert threading.get_ident() in {thread for thread, _ in calls}  # one half here, one on the second thread


def test_each_half_runs_on_one_blas_thread(second_core):
    halves_seen(10)
    assert second_core.calls[-1] == 1  # two halves, each with the BLAS's two threads, would be four on two cores


@pytest.mark.parametrize(
    "taken",
    ["other program busy", "one core", "blas spinning", "no threadpoolctl"],
)
def test_without_a_free_second_core_all_rows_run_here_in_one_call(second_core, monkeypatch, restore_threads, taken):
    if taken == "other program busy":
        monkeypatch.setattr(parallel, "other_programs_busy", lambda now: True)
    elif taken == "one core":
        monkeypatch.setattr(parallel, "get_num_threads", lambda: 1)
    elif taken == "blas spinning":  # a product OpenBLAS split just now: its idle thread spins on the other core
        parallel.blas_threads_for(10 * parallel.SMALL_PRODUCT, np)
    else:
        monkeypatch.setattr(parallel, "threadpoolctl", None)
    assert halves_seen(10) == [(threading.get_ident(), slice(0, 10))]


def test_the_blas_spin_keeps_the_second_thread_idle_only_for_blas_spin_seconds(second_core, monkeypatch):
    clock = {"now": 1000.0}
    monkeypatch.setattr(parallel.time, "monotonic", lambda: clock["now"])
    parallel.blas_threads_for(10 * parallel.SMALL_PRODUCT, np)  # OpenBLAS's two threads: it spins from now
    clock["now"] += 0.9 * parallel.BLAS_SPIN_SECONDS
    assert not parallel.second_core_free()
    clock["now"] += 0.2 * parallel.BLAS_SPIN_SECONDS
    assert parallel.second_core_free()
    parallel.blas_threads_for(10, np)  # a small product runs on one BLAS thread: nothing spins after it
    assert parallel.second_core_free()


@pytest.mark.parametrize("failing_start", [0, 5])  # the second thread's half, then this thread's
def test_an_error_in_either_half_reaches_the_caller_and_the_thread_serves_again(second_core, failing_start):
    def fail_in_one_half(rows):
        if rows.start == failing_start:
            raise ValueError(f"the half from {failing_start}")

    with pytest.raises(ValueError, match=f"the half from {failing_start}"):
        parallel.in_two_halves(fail_in_one_half, 10)
    assert len(halves_seen(10)) == 2


def test_a_call_from_inside_a_half_runs_its_halves_itself(second_core):
    inner = []

    def outer(rows):
        inner.append(halves_seen(4))

    parallel.in_two_halves(outer, 10)
    assert [len(calls) for calls in inner] == [1, 1]  # the second thread was taken: no deadlock, one call each


def test_calls_from_two_threads_at_once_each_get_every_row(second_core):
    results, start = {}, threading.Barrier(2)

    def caller(name):
        start.wait()
        for i in range(50):
            results[name, i] = sorted(r for _, rows in halves_seen(7) for r in range(7)[rows])

    threads = [threading.Thread(target=caller, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 100 and all(rows == list(range(7)) for rows in results.values())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")  # Python 3.12+: the point of the test
def test_a_forked_child_gets_a_second_thread_of_its_own(second_core):
    assert len(halves_seen(4)) == 2  # the parent's thread exists
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: fork copied no thread; a half sent to the parent's would never run
        try:
            os.write(write, str(len(halves_seen(4))).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 8) == b"2"


def products():
    """Pairs (a, b) that matmul may split: 2-D, batched over a 2-D b, batched over the same batch."""
    dims = st.integers(1, 9)
    return st.one_of(
        st.tuples(dims, dims, dims).map(lambda s: ((s[0] + 1, s[1]), (s[1], s[2]))),
        st.tuples(dims, dims, dims, dims).map(lambda s: ((s[0] + 1, s[1], s[2]), (s[2], s[3]))),
        st.tuples(dims, dims, dims, dims).map(lambda s: ((s[0] + 1, s[1], s[2]), (s[0] + 1, s[2], s[3]))),
        st.tuples(dims, dims, dims, dims).map(lambda s: ((s[0] + 1, 2, s[1], s[2]), (s[0] + 1, 2, s[2], s[3]))),
    )


@given(shapes=products(), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_a_product_in_two_halves_is_numpys(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(shape).astype(dtype) for shape in shapes)
    with pytest.MonkeyPatch.context() as monkeypatch:
        free_the_second_core(monkeypatch)
        monkeypatch.setattr(parallel, "SPLIT_WORK", 0)  # every product splits
        halves = []
        monkeypatch.setattr(parallel, "in_two_halves", lambda fn, n: halves.append(n) or _run_halves(fn, n))
        product = parallel.matmul(a, b, np)
    assert halves == [a.shape[0]]
    assert product.dtype == (a @ b).dtype
    np.testing.assert_allclose(product, a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


def _run_halves(fn, n):
    fn(slice(0, n // 2))
    fn(slice(n // 2, n))


def test_products_whose_batches_broadcast_are_not_split(second_core, monkeypatch):
    monkeypatch.setattr(parallel, "SPLIT_WORK", 0)
    monkeypatch.setattr(parallel, "in_two_halves", lambda fn, n: pytest.fail("split a broadcast product"))
    a, b = np.ones((3, 1, 4, 5)), np.ones((2, 5, 6))
    np.testing.assert_array_equal(parallel.matmul(a, b, np), a @ b)
    np.testing.assert_array_equal(parallel.matmul(np.ones(5), np.ones((5, 2)), np), np.full(2, 5.0))


def test_small_products_and_the_gpu_are_not_split(second_core, monkeypatch):
    monkeypatch.setattr(parallel, "in_two_halves", lambda fn, n: pytest.fail("split"))
    a = np.ones((64, 64))
    assert parallel.SPLIT_WORK > a.size * 64
    np.testing.assert_array_equal(parallel.matmul(a, a, np), a @ a)

    class CuPyLike:
        __name__ = "cupy"
        matmul = staticmethod(np.matmul)

    monkeypatch.setattr(parallel, "SPLIT_WORK", 0)
    np.testing.assert_array_equal(parallel.matmul(a, a, CuPyLike()), a @ a)


@given(n_rows=st.integers(0, 60), row_bytes=st.integers(1, 64))
def test_blocks_past_split_bytes_cover_every_row_once_on_two_threads(n_rows, row_bytes):
    calls, lock = [], threading.Lock()

    def record(rows):
        with lock:
            calls.append((threading.get_ident(), rows))

    with pytest.MonkeyPatch.context() as monkeypatch:
        free_the_second_core(monkeypatch)
        monkeypatch.setattr(parallel, "BLOCK_BYTES", 100)
        monkeypatch.setattr(parallel, "SPLIT_BYTES", 300)
        parallel.for_each_block(record, n_rows, row_bytes)
    assert sorted(r for _, rows in calls for r in range(n_rows)[rows]) == list(range(n_rows))
    assert all(rows.stop - rows.start <= max(1, 100 // row_bytes) for _, rows in calls)
    threads = {thread for thread, _ in calls}
    assert len(threads) == (2 if n_rows * row_bytes >= 300 and n_rows >= 2 else 1)


def test_a_training_steps_ops_in_two_halves_give_the_values_and_gradients_of_one_thread(monkeypatch):
    """Linear, batched matmul and softmax forward and backward with every product and block split
    (the real second thread and BLAS) against the same with none split."""
    import nn.functional as F

    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((6, 10, 16)), rng.standard_normal((24, 16))

    def run():
        x, w = tensor.tensor(x0, requires_grad=True), tensor.tensor(w0, requires_grad=True)
        q, k = F.linear(x, w).split(12, dim=-1)
        p = F.softmax(q @ k.transpose(-1, -2), dim=-1)
        out = p @ k
        (out * out).sum().backward()
        return out.detach().numpy(), x.grad.numpy(), w.grad.numpy()

    monkeypatch.setattr(parallel, "SPLIT_WORK", float("inf"))
    monkeypatch.setattr(parallel, "SPLIT_BYTES", float("inf"))
    expected = run()
    split = []
    real_in_two_halves = parallel.in_two_halves
    monkeypatch.setattr(parallel, "in_two_halves", lambda fn, n: split.append(n) or real_in_two_halves(fn, n))
    monkeypatch.setattr(parallel, "SPLIT_WORK", 0)
    monkeypatch.setattr(parallel, "SPLIT_BYTES", 0)
    monkeypatch.setattr(parallel, "other_programs_busy", lambda now: False)
    monkeypatch.setitem(parallel._second, "shared_at", -float("inf"))
    got = run()
    assert len(split) >= 6  # forward and backward products, softmax's rows
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
