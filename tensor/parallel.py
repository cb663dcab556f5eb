"""Running an op's independent blocks of rows on every CPU core.

NumPy runs each kernel on one core, but it lets go of Python's GIL while the kernel runs,
so Python threads that each work on their own block of rows do run at the same time. The
fused ops whose rows are independent (the rows of a softmax, the (batch, head) pairs of
attention) hand `for_each_block` a function of one block; a block of about BLOCK_BYTES also
stays in a core's cache across the op's several passes over it. On the GPU a kernel is
already parallel, so there the whole array is one block.

    def normalize(rows):              # rows: a slice of the first axis
        y[rows] = x[rows] / x[rows].sum(axis=-1, keepdims=True)
    for_each_block(normalize, n_rows=x.shape[0], row_bytes=x[0].nbytes, device="cpu")

Measured effect (benchmarks/README.md): attention's forward and backward at the medium
model size, 74 ms in one piece against 30 ms in blocks on 2 cores.
"""

import os
from concurrent.futures import ThreadPoolExecutor

BLOCK_BYTES = 1 << 20  # about a core's share of L2 cache; tests lower it to force many blocks

_num_threads = None  # None: one per CPU this process may run on
_pool = None


def _forget_pool():
    """A forked child inherits the pool object but not its threads: it must start its own."""
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def get_num_threads():
    """How many threads the fused ops use on the CPU (as torch.get_num_threads)."""
    if _num_threads is not None:
        return _num_threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_num_threads(n):
    """Use n threads for the fused ops on the CPU (as torch.set_num_threads); 1 runs blocks in turn."""
    global _num_threads, _pool
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    if _pool is not None:
        _pool.shutdown()
        _pool = None
    _num_threads = int(n)


def for_each_block(fn, n_rows, row_bytes, device="cpu"):
    """Call fn(rows) for slices `rows` of range(n_rows) that together cover it, once each.

    row_bytes: the bytes one row takes in the op's largest array, which sets how many rows make
    a block of about BLOCK_BYTES. Each call must write only to its own rows. On "cpu", blocks run
    on a pool of get_num_threads() threads; on "cuda", fn gets every row in one call.
    """
    rows_per_block = max(1, BLOCK_BYTES // max(1, row_bytes))
    if device != "cpu" or n_rows <= rows_per_block:
        fn(slice(0, n_rows))
        return
    blocks = [slice(start, min(start + rows_per_block, n_rows)) for start in range(0, n_rows, rows_per_block)]
    if get_num_threads() == 1:
        for rows in blocks:
            fn(rows)
        return
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(get_num_threads(), thread_name_prefix="tensor-block")
    for _ in _pool.map(fn, blocks):  # waits for every block, and re-raises the first error
        pass
