"""`tensor.cuda`: PyTorch's `torch.cuda` query functions, answered by CuPy when a GPU is present,
and the "cuda" generator's state for checkpoints (get_rng_state / set_rng_state).

Without a GPU they return what a CPU build of PyTorch returns (0 for counts and
memory, None for empty_cache) or raise where it raises (current_device,
get_device_name, synchronize, memory_usage), so a script that checks
`is_available()` first behaves the same under both.
"""

from .backend import array_module
from .backend import is_cuda_available as is_available
from .creation import generator

__all__ = [
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
    _cupy_or_raise("synchronize").cuda.Device().synchronize()


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


def get_rng_state(device="cuda"):
    """The "cuda" generator's state, as torch.cuda.get_rng_state: {"seed", "draws"}, two integers
    kept on the host, so it can be read and saved (in a checkpoint) without a GPU."""
    return generator(device).get_state()


def set_rng_state(new_state, device="cuda"):
    generator(device).set_state(new_state)
