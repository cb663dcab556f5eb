"""tensor.parallel: blocks of rows cover every row exactly once; the BLAS's threads follow the load."""

import io
import os
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensor
from tensor import parallel


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
