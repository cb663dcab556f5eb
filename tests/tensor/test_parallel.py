"""tensor.parallel: blocks of rows cover every row exactly once, on any number of threads."""

import threading

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


@given(
    n_rows=st.integers(0, 50),
    row_bytes=st.integers(0, 5000),
    block_bytes=st.integers(1, 20000),
    threads=st.integers(1, 4),
)
def test_blocks_cover_every_row_exactly_once(n_rows, row_bytes, block_bytes, threads):
    seen, lock = [], threading.Lock()

    def record(rows):
        with lock:
            seen.extend(range(n_rows)[rows])

    previous = parallel.BLOCK_BYTES, parallel.get_num_threads()
    parallel.BLOCK_BYTES = block_bytes
    parallel.set_num_threads(threads)
    try:
        parallel.for_each_block(record, n_rows, row_bytes)
    finally:
        parallel.BLOCK_BYTES = previous[0]
        parallel.set_num_threads(previous[1])
    assert sorted(seen) == list(range(n_rows))


def test_blocks_run_on_several_threads_when_there_are_several(restore_threads, monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 1)
    parallel.set_num_threads(2)
    both_started = threading.Barrier(2, timeout=10)

    def wait_for_the_other(rows):  # deadlocks (and times out) unless two blocks run at once
        both_started.wait()

    parallel.for_each_block(wait_for_the_other, n_rows=2, row_bytes=1)


def test_an_error_in_a_block_reaches_the_caller(restore_threads, monkeypatch):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 1)
    parallel.set_num_threads(2)

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


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_runs_blocks_on_its_own_threads(restore_threads, monkeypatch):
    import os
    import signal

    monkeypatch.setattr(parallel, "BLOCK_BYTES", 1)
    parallel.set_num_threads(2)
    parallel.for_each_block(lambda rows: None, n_rows=4, row_bytes=1)  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # child: with the parent's dead pool this would wait forever
        signal.alarm(10)  # so a hang kills the child and fails the test instead
        seen = []
        parallel.for_each_block(lambda rows: seen.append(rows), n_rows=4, row_bytes=1)
        os._exit(0 if len(seen) == 4 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
