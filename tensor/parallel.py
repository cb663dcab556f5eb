"""The CPU's cores: blocks of rows for the fused ops, and how many threads the BLAS may use.

The fused ops whose rows are independent (the rows of a softmax, the (batch, head) pairs of
attention) hand `for_each_block` a function of one block of rows; a block of about BLOCK_BYTES
stays in a core's cache across the op's several passes over it, where the whole array would
stream through memory on each pass. On the GPU the whole array is one block.

    def normalize(rows):              # rows: a slice of the first axis
        y[rows] = x[rows] / x[rows].sum(axis=-1, keepdims=True)
    for_each_block(normalize, n_rows=x.shape[0], row_bytes=x[0].nbytes, device="cpu")

The blocks run in turn on the calling thread. They once ran on a pool of Python threads (NumPy
lets go of the GIL inside a kernel), which halved attention's time measured alone; inside a
training step it made the step 3-7% slower (benchmarks/README.md, "One pool of threads"): after
each matrix product OpenBLAS's worker threads spin for a while on the cores the pool wanted.
So the cores belong to the BLAS, and `blas_threads_for`, at the end of this file, sets how many
threads it uses: one for a product too small to share and while another program holds a core.
"""

import os
import time

try:  # the well-kept library that finds the BLAS NumPy loaded and sets its thread count
    import threadpoolctl
except ImportError:  # optional: without it the BLAS keeps its own threading
    threadpoolctl = None

BLOCK_BYTES = 1 << 20  # about a core's share of L2 cache; tests lower it to force many blocks

_num_threads = None  # None: one per CPU this process may run on


def get_num_threads():
    """How many threads the BLAS may use on the CPU (as torch.get_num_threads)."""
    if _num_threads is not None:
        return _num_threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_num_threads(n):
    """Let the BLAS use at most n threads on the CPU (as torch.set_num_threads; needs threadpoolctl)."""
    global _num_threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _num_threads = int(n)
    if _blas is not None:
        _blas["now"] = None  # the next product sets the count anew


def for_each_block(fn, n_rows, row_bytes, device="cpu"):
    """Call fn(rows) for slices `rows` of range(n_rows) that together cover it, once each, in order.

    row_bytes: the bytes one row takes in the op's largest array, which sets how many rows make
    a block of about BLOCK_BYTES. On "cuda", fn gets every row in one call.
    """
    rows_per_block = max(1, BLOCK_BYTES // max(1, row_bytes)) if device == "cpu" else max(1, n_rows)
    for start in range(0, max(1, n_rows), rows_per_block):  # no rows: one call with an empty slice
        fn(slice(start, min(start + rows_per_block, n_rows)))


# ----- the BLAS's threads: every free core for a large product, one thread for a small one --------

# multiply-adds (m * n * k) below which a product runs on one BLAS thread. Measured on 2 cores, idle:
# (512, 64) @ (64, 16), 0.5 M, 13 us on one thread and 11-17 us on two; (2048, 128) @ (128, 32), a
# head's key at the small config, 8.4 M, 165 us on one and 100 us on two. 2^24 (the first choice)
# kept every head's product on one thread: the small lecture step 1.27x the hand-written, 1.19x at 2^20.
SMALL_PRODUCT = 1 << 20
LOAD_INTERVAL = 0.25  # seconds between two looks at how busy our cores are
IDLE_SHARE = 0.5  # we ran less than this much of a core over an interval: we sat idle, it says nothing
BUSY_CORE = 0.5  # other programs using at least this much of our cores: the BLAS gets one thread

_blas = None  # {"controllers": threadpoolctl's, "most": their thread count at first use, "now": count set}
_load = {"at": None, "cpu_ticks": None, "own_seconds": None, "busy": False}


def _busy_ticks_of(cpus):
    """Clock ticks that the CPUs `cpus` spent running anything (every program), from /proc/stat."""
    total = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *ticks = line.split()
            if name[3:].isdigit() and name.startswith("cpu") and int(name[3:]) in cpus:
                idle, iowait = int(ticks[3]), int(ticks[4])
                total += sum(int(t) for t in ticks[:8]) - idle - iowait
    return total


def other_programs_busy(now):
    """True when, over the last LOAD_INTERVAL, other programs kept at least BUSY_CORE of the cores we
    may run on busy: the CPU time of those cores minus our own process's. Looked at again only
    once per LOAD_INTERVAL (a read of /proc/stat); False where /proc/stat does not exist.

    An interval in which our own process ran less than IDLE_SHARE of a core (it sat idle: waiting
    for input, or another program had its turn, as in an interleaved benchmark) is not judged: it
    measured what others did while we slept, not whether they hold a core now, so the answer stays
    the one from the last interval we ran through until the next look. Judged over such a gap, the
    steps after it ran the BLAS on one thread for nothing (a third of the looks in an interleaved
    benchmark of the small model, steps 10-25% slower).
    """
    if _load["at"] is not None and now - _load["at"] < LOAD_INTERVAL:
        return _load["busy"]
    try:
        cpus = os.sched_getaffinity(0)
        cpu_ticks = _busy_ticks_of(cpus)
    except (AttributeError, OSError):  # not on Linux
        return False
    own = os.times()
    own_seconds = own.user + own.system
    if _load["at"] is not None:
        elapsed = now - _load["at"]
        ours = own_seconds - _load["own_seconds"]
        others = (cpu_ticks - _load["cpu_ticks"]) / os.sysconf("SC_CLK_TCK") - ours
        if ours / elapsed >= IDLE_SHARE:  # we ran through the interval: what others ran is load
            _load["busy"] = others / elapsed >= BUSY_CORE
    _load.update(at=now, cpu_ticks=cpu_ticks, own_seconds=own_seconds)
    return _load["busy"]


def blas_threads_for(multiply_adds, xp):
    """Set the BLAS's threads for the next matrix product of `multiply_adds` (m * n * k): one when
    the product is small or another program keeps one of our cores busy, else the BLAS's own
    count. A no-op on the GPU or without threadpoolctl.

    Why: OpenBLAS splits even a product of a few microseconds over every core, and its threads
    spin and wait for each other at the end. When another program keeps a core busy, the thread
    that shares it runs a time slice late: a 15-microsecond product took milliseconds, and a tiny
    training step ran 15 to 30 times slower than on one core. A small product loses little on one
    thread, and a large one gains nothing from a core it must share. The count is set only when it
    changes (a C call of a few microseconds).
    """
    global _blas
    if threadpoolctl is None or xp.__name__ != "numpy":
        return
    if _blas is None:
        controllers = [c for c in threadpoolctl.ThreadpoolController().lib_controllers if c.user_api == "blas"]
        _blas = {"controllers": controllers, "most": max((c.num_threads for c in controllers), default=1), "now": None}
    if multiply_adds < SMALL_PRODUCT or other_programs_busy(time.monotonic()):
        wanted = 1
    else:
        wanted = min(_blas["most"], get_num_threads())
    if wanted != _blas["now"]:
        for controller in _blas["controllers"]:
            controller.set_num_threads(wanted)
        _blas["now"] = wanted
