"""The CPU's cores: the BLAS's threads, a second thread of our own for the largest work, blocks of rows.

The engine room's "BLAS thread policy": `BlasMatmul`, the stand-in of the textbook's Matmul, runs its
products through `matmul` below; nn/fast's fused ops use `for_each_block` and `matmul`.

Three things share the cores of a training step:

- the BLAS (OpenBLAS under NumPy) splits a matrix product over its own threads. `blas_threads_for`
  sets how many: one for a product too small to share and while another program holds a core;
- a second thread of our own (`in_two_halves`) runs half of the largest products and of the
  fused ops' row blocks while the calling thread runs the other half, each half on one BLAS
  thread. OpenBLAS does not split a batched product (the (B, T, T) scores of attention heads run
  on one core) and NumPy's elementwise kernels run on one core; the second thread puts the other
  core to work on them. It costs ~35 us to hand work over (a lock, a wake-up, the GIL), where
  OpenBLAS's spinning threads take a few: so it runs only work of a few hundred microseconds or more;
- the fused ops whose rows are independent (the rows of a softmax, the (batch, head) pairs of
  attention) hand `for_each_block` a function of one block of rows; a block of about BLOCK_BYTES
  stays in a core's cache across the op's several passes over it, where the whole array would
  stream through memory on each pass. On the GPU the whole array is one block.

    def normalize(rows):              # rows: a slice of the first axis
        y[rows] = x[rows] / x[rows].sum(axis=-1, keepdims=True)
    for_each_block(normalize, n_rows=x.shape[0], row_bytes=x[0].nbytes, device="cpu")

The two kinds of threads must not meet: after a product it shared, OpenBLAS's worker spins on
the other core for about 0.1 s waiting for more work (BLAS_SPIN_SECONDS), and a thread of ours
sent there runs at half speed (an earlier pool of Python threads made the step 3-7% slower for
this reason, benchmarks/README.md, "One pool of threads"). So the second thread runs only when no
product has been shared with OpenBLAS's threads for that long: in the medium lecture step
every product is large and is split by us (the BLAS on one thread); in the small and tiny steps the
mid-sized products go to OpenBLAS's threads and the second thread stays idle. A large product that
comes inside the window also runs on OpenBLAS's threads, and so reopens it: OpenBLAS's worker spins
after it as after any product it shared. (Not reopening it, to get back to the second thread sooner,
sent our halves onto the core where that worker still spun: the course's MultiHeadVer2 timed right
after MultiHeadVer1 took 13-16 ms per (2048, 512) @ (512, 512) product for two calls, 6.7 ms on
OpenBLAS's threads, and lost the course's timing test one run in five.)
"""

import os
import threading
import time

from .. import kernels
from ..backend import matmul_on
from ..ops.matmul import Matmul, as_given, as_matrices, transposed

try:  # the well-kept library that finds the BLAS NumPy loaded and sets its thread count
    import threadpoolctl
except ImportError:  # optional: without it the BLAS keeps its own threading
    threadpoolctl = None

BLOCK_BYTES = 1 << 20  # about a core's share of L2 cache; tests lower it to force many blocks

_num_threads = None  # None: one per CPU this process may run on


def get_num_threads():
    """How many threads the BLAS may use on the CPU (as torch.get_num_threads). In reference mode the
    count set here is recorded but not applied: the textbook's products run on the BLAS's own threads."""
    if _num_threads is not None:
        return _num_threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_num_threads(n):
    """Let the BLAS use at most n threads on the CPU (as torch.set_num_threads; needs threadpoolctl). It is
    the BLAS thread policy's setting (fast mode): in reference mode nothing sets the BLAS's threads, and
    the count takes effect when fast mode does."""
    global _num_threads
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    _num_threads = int(n)
    if _blas is not None:
        _blas["now"] = None  # the next product sets the count anew


def for_each_block(fn, n_rows, row_bytes, device="cpu"):
    """Call fn(rows) for slices `rows` of range(n_rows) that together cover it, once each.

    row_bytes: the bytes one row takes in the op's largest array, which sets how many rows make
    a block of about BLOCK_BYTES. On "cuda", fn gets every row in one call. Rows of SPLIT_BYTES
    or more go in two halves to two threads (`in_two_halves`), each taking its half's blocks in
    order; fn must then write only to its own rows.
    """
    rows_per_block = max(1, BLOCK_BYTES // max(1, row_bytes)) if device == "cpu" else max(1, n_rows)
    if device == "cpu" and n_rows * row_bytes >= SPLIT_BYTES:
        in_two_halves(lambda half: _blocks(fn, half.start, half.stop, rows_per_block), n_rows)
    else:
        _blocks(fn, 0, n_rows, rows_per_block)


def _blocks(fn, first, stop, rows_per_block):
    for start in range(first, max(first + 1, stop), rows_per_block):  # no rows: one call with an empty slice
        fn(slice(start, min(start + rows_per_block, stop)))


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
    changes.
    """
    if threadpoolctl is None or xp.__name__ != "numpy":
        return
    if _blas is None:
        _find_blas()
    wanted = 1
    if multiply_adds >= SMALL_PRODUCT:
        now = time.monotonic()
        if not other_programs_busy(now):
            wanted = min(_blas["most"], get_num_threads())
            if wanted > 1:  # OpenBLAS's idle thread spins from the product's end, soon after
                _second["shared_at"] = now
    if wanted != _blas["now"]:  # a C call of a few microseconds: only when the count changes
        _set_blas_threads(wanted)


def _set_blas_threads(wanted):
    for controller in _blas["controllers"]:
        controller.set_num_threads(wanted)
    _blas["now"] = wanted


def _find_blas():
    global _blas
    controllers = [c for c in threadpoolctl.ThreadpoolController().lib_controllers if c.user_api == "blas"]
    _blas = {"controllers": controllers, "most": max((c.num_threads for c in controllers), default=1), "now": None}


# ----- the second thread: half of a large product or of a fused op's rows -----------------------------

# Measured on 2 cores (benchmarks/README.md, "A second thread of our own"): handing work to the
# second thread and back costs ~35 us. (4096, 256) @ (256, 32), 33.6 M multiply-adds, a head's query
# at the medium config: 728 us on one thread, 421 on OpenBLAS's two, 435 in two halves here; a
# head's scores there, (32, 128, 32) @ (32, 32, 128), which OpenBLAS does not split: 311 us on one
# thread, 220 in halves; (2048, 128) @ (128, 32), 8.4 M, a head's query at small: 185, 96 and 131 us.
SPLIT_WORK = 1 << 24  # multiply-adds from which a product runs in two halves on two threads
SPLIT_BYTES = 1 << 20  # bytes of rows from which for_each_block runs in two halves on two threads
BLAS_SPIN_SECONDS = 0.1  # OpenBLAS's idle worker spins this long after a product (0.104 CPU s measured)

_second = {"thread": None, "pid": None, "shared_at": -float("inf")}  # shared_at: last product OpenBLAS split


class SecondThread:
    """One worker thread that runs a function while the calling thread runs another.

    Two locks hand the work over and back (Python's lightest wake-up). `busy` is held while the
    worker has a function, so a call from two threads at once, or from inside a half, finds it
    taken and runs its halves itself, one after the other.
    """

    def __init__(self):
        self.busy = threading.Lock()
        self.start, self.done = threading.Lock(), threading.Lock()
        self.start.acquire()
        self.done.acquire()
        self.work, self.error, self.broken = None, None, False
        threading.Thread(target=self._serve, name="tinygrad_gpt second thread", daemon=True).start()

    def _serve(self):
        while True:
            self.start.acquire()
            try:
                self.work()
            except BaseException as error:  # handed to the caller, who raises it
                self.error = error
            self.done.release()

    def run_beside(self, there, here):
        """Call there() on the worker and here() on this thread; return when both have returned.
        False, having called neither, when the worker is busy."""
        if not self.busy.acquire(blocking=False):
            return False
        try:
            self.work, self.error = there, None
            self.start.release()
            try:
                here()
            finally:
                try:
                    self.done.acquire()  # never return while the worker still writes the caller's arrays
                except BaseException:  # interrupted (Ctrl-C) while waiting: the locks are out of step
                    self.broken = True
                    raise
            if self.error is not None:
                raise self.error
            return True
        finally:
            self.work, self.error = None, None
            self.busy.release()


def second_core_free():
    """True when the second thread may run now: threadpoolctl present (the BLAS must be set to one
    thread for each half), two cores ours, no other program holding one, and OpenBLAS's threads
    not spinning after a product they shared."""
    if threadpoolctl is None or get_num_threads() < 2:
        return False
    now = time.monotonic()
    return now - _second["shared_at"] >= BLAS_SPIN_SECONDS and not other_programs_busy(now)


def in_two_halves(fn, n):
    """On the CPU: fn(slice(0, h)) and fn(slice(h, n)) with h = n // 2, on two threads when the
    second core is free (the BLAS on one thread for each), else fn(slice(0, n)) here. fn must write
    only to its own rows."""
    if n < 2 or not second_core_free():
        fn(slice(0, n))
        return
    if _blas is None:
        _find_blas()
    if _blas["now"] != 1:
        _set_blas_threads(1)
    if _second["pid"] != os.getpid() or _second["thread"].broken:  # first use, or a child (fork copies no threads)
        _second.update(thread=SecondThread(), pid=os.getpid())
    half = n // 2
    if not _second["thread"].run_beside(lambda: fn(slice(0, half)), lambda: fn(slice(half, n))):
        fn(slice(0, n))  # the second thread is taken: from another thread of the caller's, or nested


def matmul(a, b, xp):
    """a @ b with NumPy's rules, on as many cores as its size earns: a product of SPLIT_WORK
    multiply-adds or more, 2-D or batched (same batch dims), in two halves (rows of a, or the
    first batch dim) when the second core is free; any other on the BLAS's threads
    (`blas_threads_for`)."""
    multiply_adds = a.size * (b.shape[-1] if b.ndim > 1 else 1)
    if multiply_adds >= SPLIT_WORK and xp.__name__ == "numpy" and a.ndim >= 2 and a.shape[0] >= 2:
        same_batch = b.ndim == a.ndim and b.shape[:-2] == a.shape[:-2]
        if (b.ndim == 2 or same_batch) and second_core_free():
            out = xp.empty(a.shape[:-1] + (b.shape[-1],), dtype=xp.result_type(a, b))
            if b.ndim == 2:  # rows of a (its first dim) times all of b
                in_two_halves(lambda rows: xp.matmul(a[rows], b, out=out[rows]), a.shape[0])
            else:  # the first batch dim of both
                in_two_halves(lambda rows: xp.matmul(a[rows], b[rows], out=out[rows]), a.shape[0])
            return out
    if xp.__name__ != "numpy":
        return matmul_on(xp, a, b)  # a @ b (cuBLAS; the capture's own call while a CUDA graph is captured)
    blas_threads_for(multiply_adds, xp)
    return a @ b


def check_shapes(a, b):
    """Shapes that do not multiply, refused before `matmul` above splits the work (the textbook's
    `a @ b` refuses them itself)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul needs tensors of at least 1 dimension")
    if a.shape[-1] != b.shape[0 if b.ndim == 1 else -2]:
        raise ValueError(f"cannot multiply: inner sizes {a.shape[-1]} and {b.shape[0 if b.ndim == 1 else -2]} differ")


class BlasMatmul(Matmul):
    """The textbook Matmul's formulas, each product run by `matmul` above: on the cores its size earns."""

    def forward(self, a, b):
        check_shapes(a, b)
        self.save_for_backward(a, b)
        return matmul(a, b, self.xp)

    def backward(self, grad):
        a, b = self.saved
        grad, a_matrix, b_matrix = as_matrices(grad, a, b)
        grad_a = matmul(grad, transposed(b_matrix), self.xp) if self.needs_input_grad[0] else None
        grad_b = matmul(transposed(a_matrix), grad, self.xp) if self.needs_input_grad[1] else None
        return as_given(grad_a, grad_b, a, b)


kernels.register_stand_in(Matmul, BlasMatmul, "BLAS thread policy")
