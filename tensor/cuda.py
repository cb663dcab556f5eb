"""`tensor.cuda`: PyTorch's `torch.cuda` query functions, answered by CuPy when a GPU is present,
the "cuda" generator's state for checkpoints (get_rng_state / set_rng_state), and CUDA graphs
(CUDAGraph, graph, is_current_stream_capturing): a training step recorded once and replayed.

Without a GPU they return what a CPU build of PyTorch returns (0 for counts and
memory, None for empty_cache) or raise where it raises (current_device,
get_device_name, synchronize, memory_usage), so a script that checks
`is_available()` first behaves the same under both.
"""

import numpy as np

from . import backend
from .backend import array_module
from .backend import is_cuda_available as is_available
from .creation import generator
from .fast import cublas

__all__ = [
    "CUDAGraph",
    "graph",
    "is_current_stream_capturing",
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "get_rng_state",
    "is_available",
    "max_memory_allocated",
    "memory_allocated",
    "memory_usage",
    "set_rng_state",
    "synchronize",
]


def _cupy_or_raise(name):
    if not is_available():
        raise AssertionError(f"torch.cuda.{name}() needs a GPU: CuPy with a usable NVIDIA GPU was not found")
    return array_module("cuda")


def device_count():
    """How many GPUs CuPy sees (0 without CuPy or a GPU)."""
    return array_module("cuda").cuda.runtime.getDeviceCount() if is_available() else 0


def current_device():
    """The index of the GPU in use."""
    return _cupy_or_raise("current_device").cuda.Device().id


def get_device_name(device=None):
    """The GPU's name, e.g. "NVIDIA H100 80GB HBM3"."""
    cupy = _cupy_or_raise("get_device_name")
    index = (
        cupy.cuda.Device().id if device is None else int(str(device).split(":")[-1] if ":" in str(device) else device)
    )
    name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else name


def synchronize(device=None):
    """Wait until every kernel queued on the GPU has finished (timings need it)."""
    cupy = _cupy_or_raise("synchronize")
    backend.refuse_while_capturing("torch.cuda.synchronize()", "the kernels are being recorded, not run")
    cupy.cuda.Device().synchronize()


def memory_allocated(device=None):
    """Bytes held by live "cuda" arrays (CuPy's memory pool, used part); 0 without a GPU."""
    return array_module("cuda").get_default_memory_pool().used_bytes() if is_available() else 0


def max_memory_allocated(device=None):
    """Bytes the CuPy memory pool holds, which only grows until empty_cache(): the peak of what the
    arrays needed, rounded up to the pool's blocks; 0 without a GPU."""
    return array_module("cuda").get_default_memory_pool().total_bytes() if is_available() else 0


def memory_usage(device=None):
    """The percent of the last sample period during which GPU memory was read or written (NVML)."""
    _cupy_or_raise("memory_usage")
    raise RuntimeError("torch.cuda.memory_usage() reads NVML, which this project does not use")


def empty_cache():
    """Hand the memory pool's free blocks back to the GPU (nothing to do without one)."""
    if is_available():
        array_module("cuda").get_default_memory_pool().free_all_blocks()
        for pool in _capture_pools:
            pool.free_all_blocks()


def get_rng_state(device="cuda"):
    """The "cuda" generator's state, as torch.cuda.get_rng_state: {"seed", "draws"}, two integers
    kept on the host, so it can be read and saved (in a checkpoint) without a GPU."""
    return generator(device).get_state()


def set_rng_state(new_state, device="cuda"):
    generator(device).set_state(new_state)


# ----- CUDA graphs --------------------------------------------------------------------------------------------


def is_current_stream_capturing():
    """True while a CUDA graph is being captured (inside `with tensor.cuda.graph(g):`)."""
    return backend.graph_capture is not None


class CUDAGraph:
    """torch.cuda.CUDAGraph: GPU work recorded once - every kernel it queues, with the memory each reads
    and writes and the numbers passed to it - and launched again, all of it, by one call: replay().

    Why: a training step of a small model queues thousands of small kernels, and on a fast GPU the
    Python that queues them sets the pace, not the kernels (benchmarks/README.md, "On a GPU"). A replay
    queues the whole step at once and runs none of the Python.

        g = tensor.cuda.CUDAGraph()
        step()                       # warm up outside the capture: CuPy compiles its kernels,
        step()                       # the gradients and the optimizer's state are made
        with tensor.cuda.graph(g):   # record one step (nothing runs)
            step()
        for xb, yb in batches:
            x.copy_(xb); y.copy_(yb) # new data into the tensors the step reads
            g.replay()               # the step, on them; loss, gradients and parameters updated in place

    A replay repeats exactly what was recorded, so:
    - inputs stay where the capture read them: copy each batch into the same tensors (`x.copy_(batch)`),
      never `x = batch`; outputs (the loss, the gradients, the parameters) are rewritten in place;
    - keep what the graph reads and writes alive while you replay it (the model, the optimizer, the input
      tensors): the graph holds the memory's addresses, not the tensors, so memory freed by Python and
      given to new arrays would be overwritten by the next replay (as with PyTorch's CUDA graphs);
    - whatever changes from step to step must live on the GPU: Adam's step count does with
      `Adam(..., capturable=True)`; a Python number (a learning rate a scheduler sets) is recorded as it was;
    - nothing recorded may read the GPU or draw random numbers: each raises a RuntimeError while
      capturing (a synchronize, `.item()`, dropout with p > 0). Embedding's index check, which reads
      the GPU, is recorded instead: replay() reads its answer, one read per replay, and raises the same
      IndexError after a replay that met a bad index.
    What the capture allocates comes from a memory pool of its own that nothing else allocates from, so
    the temporaries a replay writes cannot land in arrays made after the capture. Products call cuBLAS
    themselves while capturing (CuPy refuses to; tensor/cublas.py).
    """

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
                self._index_results = backend.stack(xp, flags), backend.stack(xp, first_bad)
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
        backend.refuse_while_capturing("CUDAGraph.replay()", "replay it after the capture ends")
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


class graph:  # noqa: N801  PyTorch's name
    """torch.cuda.graph: `with tensor.cuda.graph(g):` records the block's GPU work into CUDAGraph g
    (see CUDAGraph); if the block raises, the capture is discarded and g stays empty."""

    def __init__(self, cuda_graph):
        self.cuda_graph = cuda_graph

    def __enter__(self):
        self.cuda_graph.capture_begin()
        return self

    def __exit__(self, exc_type, exc, traceback):
        if exc_type is None:
            self.cuda_graph.capture_end()
        elif backend.graph_capture is self.cuda_graph:
            self.cuda_graph._abandon()
        return False
