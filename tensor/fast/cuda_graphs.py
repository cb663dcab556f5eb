"""CUDA graphs (tensor.cuda.CUDAGraph in fast mode): a training step's GPU work recorded once and replayed.

While a graph is captured every "cuda" kernel is recorded rather than run, so the textbook functions that
cannot be recorded as they are get stand-ins here (tensor/kernels.py, `@replaceable` in tensor/backend.py):
a matrix product calls cuBLAS itself (CuPy refuses to while a stream captures; tensor/fast/cublas.py), a
concatenation copies each array into its slice, and a synchronize or a random draw refuses to run. Outside
a capture each stand-in does what the textbook function does.
"""

import numpy as np

from .. import backend, cuda, kernels
from ..backend import array_module
from ..cuda import _cupy_or_raise
from ..ops import Matmul
from ..optim import Adam
from . import cublas


def refuse_while_capturing(what, why):
    """Raise a RuntimeError naming `what` when a CUDA graph is being captured: it cannot be recorded."""
    if backend.graph_capture is not None:
        raise RuntimeError(f"{what} cannot run inside a CUDA graph capture: {why}")


class CapturedGraph(cuda.CUDAGraph):
    """tensor.cuda.CUDAGraph's implementation (its docstring says how to use one)."""

    def __init__(self):
        self._graph = None  # CuPy's Graph, once captured
        self._pool = None  # the capture's own memory pool
        self._context = None  # (allocator, stream) entered while capturing
        self._workspace = None  # cuBLAS's workspace for the recorded products, kept as long as the graph
        self._index_checks = []  # while capturing: (message, any out of range, first bad index), 0-d arrays
        self._index_results = None  # (flags, first bad indices): arrays each replay writes
        self._index_messages = ()

    def capture_begin(self):
        cupy = _cupy_or_raise("CUDAGraph.capture_begin")
        if backend.graph_capture is not None:
            raise RuntimeError("a CUDA graph is being captured already: captures do not nest")
        if self._graph is not None:
            raise RuntimeError("this CUDAGraph holds a captured graph: reset() it before capturing again")
        if any(kernels.stand_in(textbook) is textbook for textbook in _RECORDED_AS_CAPTURABLE):
            raise RuntimeError(
                "a CUDA graph capture needs the engine room's capturable products and optimizer steps: "
                'call tensor.set_kernels("fast") without only=, or add the devices that provide them'
            )
        cupy.cuda.Device().synchronize()  # the work queued before the capture runs first, outside it
        cublas.check_gemm_once(cupy)
        self._pool = cupy.cuda.MemoryPool()
        _capture_pools.append(self._pool)  # kept while the process runs (see _capture_pools)
        allocator, stream = cupy.cuda.using_allocator(self._pool.malloc), cupy.cuda.Stream(non_blocking=True)
        allocator.__enter__()
        stream.__enter__()  # CuPy queues on the current stream: this one, which records (the default cannot)
        self._context = allocator, stream
        self._workspace = cupy.empty(cublas.WORKSPACE_BYTES, dtype=cupy.uint8)  # cuBLAS's, for what it records
        try:
            stream.begin_capture()
        except BaseException:
            self._leave()
            raise
        backend.graph_capture = self

    def capture_end(self):
        if backend.graph_capture is not self:
            raise RuntimeError("capture_end() without capture_begin() on this CUDAGraph")
        stream = self._context[1]
        try:
            if self._index_checks:  # recorded too: every replay gathers its checks' answers here
                messages, flags, first_bad = zip(*self._index_checks)
                xp = array_module("cuda")
                self._index_results = capturable_stack(xp, flags), capturable_stack(xp, first_bad)
                self._index_messages = messages
            self._graph = stream.end_capture()
        except BaseException:
            self._abandon()
            raise
        self._index_checks = []
        self._leave()

    def replay(self):
        """Launch the recorded work on the current stream; then read the recorded index checks (one read
        of the GPU, which waits for the replay) and raise an IndexError if one failed."""
        if self._graph is None:
            raise RuntimeError("replay() needs a captured graph: capture one first (with tensor.cuda.graph(g): ...)")
        refuse_while_capturing("CUDAGraph.replay()", "replay it after the capture ends")
        self._graph.launch()
        self._raise_if_an_index_failed()

    def _raise_if_an_index_failed(self):
        """Read the recorded index checks' answers (one read, which waits for the replay) and raise the
        IndexError of the first that failed."""
        if self._index_results is None:
            return
        flags = self._index_results[0].get()
        if flags.any():
            check = int(flags.argmax())
            bad = int(self._index_results[1][check].get())
            raise IndexError(
                self._index_messages[check].format(bad) + " (found after a CUDA graph replay, which has run "
                "with it: the values it wrote, parameters included, are not to be trusted)"
            )

    def reset(self):
        """Drop the captured graph and hand its pool's idle memory back to the GPU; arrays the capture
        made (the loss, gradients made during it) stay valid. A CUDAGraph let go without reset() keeps
        that memory until tensor.cuda.empty_cache()."""
        if backend.graph_capture is self:
            raise RuntimeError("reset() during this CUDAGraph's capture: end the capture first")
        self._graph, self._index_results, self._index_messages, self._workspace = None, None, (), None
        if self._pool is not None:
            self._pool.free_all_blocks()
            self._pool = None

    def matmul(self, a, b, out=None):
        """a @ b with NumPy's rules (batch dims broadcast; into `out` if given), recorded into this
        capture by cuBLAS itself: CuPy's matmul refuses to call cuBLAS while a stream captures."""
        xp = array_module("cuda")
        if a.ndim == 1 or b.ndim == 1:  # NumPy's rules: a 1-D a is a row, a 1-D b a column, dropped after
            product = self.matmul(a[None, :] if a.ndim == 1 else a, b[:, None] if b.ndim == 1 else b)
            if b.ndim == 1:
                product = product[..., 0]  # b's column
            if a.ndim == 1:
                product = product[..., 0] if b.ndim == 1 else product[..., 0, :]  # a's row
            return _into(out, product)
        dtype = np.result_type(a.dtype, b.dtype)
        if dtype not in cublas.GEMM:
            raise TypeError(f"a matrix product inside a CUDA graph capture runs on float32 or float64, not {dtype}")
        (m, k), (k_b, n) = a.shape[-2:], b.shape[-2:]
        if k != k_b:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not fit (inner dims {k} and {k_b})")
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        result = xp.empty(batch + (m, n), dtype=dtype)
        if result.size and k == 0:
            result.fill(0)
        elif result.size:
            cublas.gemm(xp, a.astype(dtype, copy=False), b.astype(dtype, copy=False), result, self._workspace)
        return _into(out, result)

    def _check_indices_on_replay(self, message, out_of_range, indices):
        """Record an index check instead of reading its answer: `message` has {} for the bad index."""
        flat = out_of_range.reshape(-1)
        xp = array_module("cuda")
        self._index_checks.append((message, flat.any(), xp.take(indices.reshape(-1), flat.argmax())))

    def _abandon(self):
        """End a capture that failed: CUDA's capture is closed and discarded, our state restored."""
        try:
            self._context[1].end_capture()
        except Exception:  # an invalidated capture reports its error here again; the first one is raised
            pass
        self._index_checks = []
        self._leave()
        self.reset()

    def _leave(self):
        allocator, stream = self._context
        self._context = None
        backend.graph_capture = None
        stream.__exit__(None, None, None)
        allocator.__exit__(None, None, None)


def _into(out, result):
    if out is None:
        return result
    out[...] = result
    return out


# Every capture's memory pool. Arrays a capture made (its loss, say) live in its pool's memory and may outlive
# the graph, so no pool is let go while the process runs; empty_cache() hands their idle blocks back.
_capture_pools = []


# ----- the textbook's device functions, as a capture can record them ------------------------------------------


def capturable_matmul(xp, a, b, out=None):
    """backend.matmul_on; while a CUDA graph is captured, the capture's own call of cuBLAS (CapturedGraph.matmul),
    since CuPy's matmul refuses to run then."""
    if backend.graph_capture is not None and xp is not np:
        return backend.graph_capture.matmul(a, b, out)
    return xp.matmul(a, b, out=out)


def capturable_concatenate(xp, arrays, axis=0):
    """backend.concatenate; while a CUDA graph is captured, one copy of each array into its slice of the
    result. (CuPy joins more than 8 small arrays with one kernel that reads a table of their addresses
    copied from host memory: a graph would replay that copy from whatever the memory then holds.)"""
    if backend.graph_capture is None or xp is np:
        return xp.concatenate(arrays, axis=axis)
    axis %= arrays[0].ndim
    shape = arrays[0].shape[:axis] + (sum(a.shape[axis] for a in arrays),) + arrays[0].shape[axis + 1 :]
    out = xp.empty(shape, dtype=np.result_type(*[a.dtype for a in arrays]))
    start = 0
    for a in arrays:
        out[(slice(None),) * axis + (slice(start, start + a.shape[axis]),)] = a
        start += a.shape[axis]
    return out


def capturable_stack(xp, arrays, axis=0):
    """backend.stack, capturable as `capturable_concatenate` is."""
    return capturable_concatenate(xp, [xp.expand_dims(a, axis) for a in arrays], axis)


def synchronize_unless_capturing(xp):
    """backend.synchronize, refused while a CUDA graph is captured: nothing runs then, so there is nothing to wait for."""
    if xp is not np:
        refuse_while_capturing("synchronize()", "the kernels are being recorded, not run")
    backend.synchronize.__wrapped__(xp)


def random_generator_unless_capturing(xp, seed):
    """backend.random_generator, refused while a CUDA graph is captured."""
    refuse_while_capturing(
        'a random draw on "cuda"',
        "every replay would repeat the numbers drawn at the capture (the same dropout mask every step); "
        "capture without dropout (p=0, or the model in eval())",
    )
    return backend.random_generator.__wrapped__(xp, seed)


def empty_cache_with_capture_pools():
    """tensor.cuda.empty_cache, and the idle blocks of every capture's pool too."""
    cuda.empty_cache.__wrapped__()
    if cuda.is_available():
        for pool in _capture_pools:
            pool.free_all_blocks()


DEVICE = "CUDA graphs"
# what a capture must not run as the textbook does: the products (CuPy's matmul refuses to be recorded), Adam's
# step (a step count on the host would be recorded once), and the functions above
_RECORDED_AS_CAPTURABLE = (Matmul, Adam._step_group, backend.matmul_on, backend.concatenate, backend.stack)
kernels.register_stand_in(cuda.CUDAGraph, CapturedGraph, DEVICE)
kernels.register_stand_in(backend.matmul_on, capturable_matmul, DEVICE)
kernels.register_stand_in(backend.concatenate, capturable_concatenate, DEVICE)
kernels.register_stand_in(backend.stack, capturable_stack, DEVICE)
kernels.register_stand_in(backend.synchronize, synchronize_unless_capturing, DEVICE)
kernels.register_stand_in(backend.random_generator, random_generator_unless_capturing, DEVICE)
kernels.register_stand_in(cuda.empty_cache, empty_cache_with_capture_pools, DEVICE)
