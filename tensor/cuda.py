"""`tensor.cuda`: PyTorch's `torch.cuda` query functions, answered by CuPy when a GPU is present,
the "cuda" generator's state for checkpoints (get_rng_state / set_rng_state), and CUDA graphs
(CUDAGraph, graph, is_current_stream_capturing): a training step recorded once and replayed, which the
engine room implements (tensor/fast/cuda_graphs.py; fast mode only).

Without a GPU they return what a CPU build of PyTorch returns (0 for counts and
memory, None for empty_cache) or raise where it raises (current_device,
get_device_name, synchronize, memory_usage), so a script that checks
`is_available()` first behaves the same under both.
"""

from . import backend
from .backend import array_module
from .backend import is_cuda_available as is_available
from .kernels import replaceable, stand_in
from .random import generator

__all__ = [
    "CUDAGraph",
    "graph",
    "is_current_stream_capturing",
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "get_rng_state",
    "initial_seed",
    "is_available",
    "manual_seed",
    "manual_seed_all",
    "max_memory_allocated",
    "memory_allocated",
    "memory_usage",
    "seed",
    "seed_all",
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
    backend.synchronize(cupy)  # the current stream (refused while a CUDA graph is captured, tensor/fast/)
    cupy.cuda.Device().synchronize()  # and every other stream, as torch.cuda.synchronize


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


@replaceable  # the engine room also empties its CUDA graphs' pools (tensor/fast/cuda_graphs.py)
def empty_cache():
    """Hand the memory pool's free blocks back to the GPU (nothing to do without one)."""
    if is_available():
        array_module("cuda").get_default_memory_pool().free_all_blocks()


def get_rng_state(device="cuda"):
    """The "cuda" generator's state, as torch.cuda.get_rng_state: {"seed", "draws"}, two integers
    kept on the host, so it can be read and saved (in a checkpoint) without a GPU."""
    return generator(device).get_state()


def set_rng_state(new_state, device="cuda"):
    generator(device).set_state(new_state)


def manual_seed(seed):
    """Reseed the "cuda" generator (without a GPU too: the draws wait until one is used), as torch.cuda's."""
    generator("cuda").manual_seed(seed)


manual_seed_all = manual_seed  # one GPU here: "all" is that one


def seed():
    """Reseed the "cuda" generator from the operating system's entropy."""
    generator("cuda").seed()


seed_all = seed


def initial_seed():
    return generator("cuda").initial_seed()


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
    themselves while capturing (CuPy refuses to; tensor/fast/cublas.py).

    CUDA graphs are an engine-room device (tensor/fast/cuda_graphs.py): in fast mode CUDAGraph() makes the
    engine room's graph; in reference mode, which has no CUDA graphs, it raises a RuntimeError that says to
    call tensor.set_kernels("fast") first.
    """

    def __new__(cls):
        if cls is CUDAGraph:
            cls = stand_in(CUDAGraph)
        if cls is CUDAGraph:
            raise RuntimeError(
                "tensor.cuda.CUDAGraph: CUDA graphs are an engine-room device, and the kernels are in reference "
                'mode (the textbook only); call tensor.set_kernels("fast") first (or TINYGRAD_GPT_KERNELS=fast)'
            )
        return super().__new__(cls)


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
