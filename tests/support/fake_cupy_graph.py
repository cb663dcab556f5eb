"""CUDA graphs on the stand-in: what a stream records while it captures, and the replay of it.

On a GPU, a kernel queued on a capturing stream does not run: it is recorded, with the memory it
reads and writes, and runs only when the graph is launched, as often as it is launched. The stand-in
does the same with NumPy: every device operation goes through `launch` (fake_cupy, fake_cupy_ndarray,
fake_cupyx, fake_cupy_cublas), which runs it at once, because the Python that follows needs shapes and
dtypes, and while a capture is on also records it as a kernel: a function that does the operation's
writes again, on the same memory, reading whatever that memory holds when it runs. When the capture
ends, memory is put back as a GPU would have it: arrays that existed before hold their old values
again, arrays allocated during the capture hold garbage (NaN, an integer's largest value, True). So a
value that only a replay should write is not there by luck, and a replay computes it again.

A launch refuses to run kernels that touch memory whose last array has been freed, where CuPy's pool
may since have given it to another array, so that on a GPU the replay would read or overwrite that
array: memory from before the capture, and memory the capture took from the default pool. Memory a
capture takes from a pool of its own (`cupy.cuda.using_allocator(pool.malloc)`, as tensor/cuda.py
does) stays with the graph, as no one else allocates from that pool.
"""

import numpy as np

recording = None  # the Capture of the stream that captures, or None


def storage_of(array):
    """The NumPy array that owns the memory `array` looks at."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _arrays_in(value):
    """The NumPy arrays in a value (arguments, keyword arguments, results), depth first."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [array for item in value for array in _arrays_in(item)]
    if isinstance(value, dict):
        return _arrays_in(list(value.values()))
    return []


def _as_arrays(compute):
    """compute, with a NumPy scalar result made a 0-d array (the device keeps every result in memory)."""

    def computed():
        result = compute()
        return np.asarray(result) if isinstance(result, np.generic) else result

    return computed


def launch(compute, operands=(), writes=()):
    """Run a device operation: `compute()` on NumPy data, returning its result (a NumPy scalar as a 0-d
    array). `operands`: what it reads (anything holding NumPy arrays); `writes`: the NumPy arrays it writes
    in place (out=, a[...] = v). While a capture is on, it is also recorded: each replay runs compute()
    again and writes what it returns into the memory the first call's result was given."""
    compute = _as_arrays(compute)
    capture = recording
    if capture is None:
        return compute()
    capture.will_write(writes)
    result = compute()
    inputs = {id(storage_of(array)) for array in _arrays_in((operands, writes))}
    results = _arrays_in(result)
    fresh = [i for i, array in enumerate(results) if id(storage_of(array)) not in inputs]  # not a view of an input

    def kernel():
        again = _arrays_in(compute())
        for i in fresh:
            results[i][...] = again[i]

    if fresh or writes:  # else a view of an input: no kernel, it shows whatever that memory holds
        capture.record(kernel if fresh else compute, (operands, writes, results))
    return result


def allocated(storage):
    """Note memory allocated while a capture is on (fake_cupy_ndarray calls it for every new array), and
    whether a pool of the capture's own served it."""
    if recording is not None:
        from .fake_cupy_cuda import _allocators

        recording.made[id(storage)] = storage
        if not _allocators or _allocators[-1] is None:  # the default pool, which serves everyone afterwards
            recording.shared[id(storage)] = storage


class Capture:
    """What one capture records: kernels in order, the memory they touch, and what to put back at its end."""

    def __init__(self):
        self.kernels = []
        self.made = {}  # id -> storage allocated during the capture
        self.shared = {}  # the part of it that came from the default pool
        self.saved = {}  # id -> (storage from before the capture, its values then), taken before its first write
        self.operands = []  # the device arrays' data that kernels read or write

    def will_write(self, arrays):
        for array in arrays:
            storage = storage_of(array)
            if id(storage) not in self.made and id(storage) not in self.saved:
                self.saved[id(storage)] = (storage, storage.copy())

    def record(self, kernel, operands):
        from .fake_cupy_ndarray import is_live

        self.kernels.append(kernel)
        self.operands.extend(a for a in _arrays_in(operands) if is_live(storage_of(a)))  # device memory, not the host's

    def end(self):
        """Memory as a capture leaves it on a GPU (nothing has run); returns the Graph to launch."""
        for storage, values in self.saved.values():
            storage[...] = values
        for storage in self.made.values():
            storage[...] = _garbage(storage.dtype)
        touched = {id(storage_of(a)): storage_of(a) for a in self.operands}
        shared = [s for key, s in touched.items() if key not in self.made or key in self.shared]
        return Graph(self.kernels, touched.values(), shared)


def _garbage(dtype):
    if dtype.kind in "fc":
        return np.nan
    if dtype.kind in "iu":
        return np.iinfo(dtype).max
    return True


def begin():
    global recording
    recording = Capture()


def end():
    global recording
    capture, recording = recording, None
    return capture.end()


class Graph:
    """What end_capture returns: launch() runs the recorded kernels, in order, on the memory they recorded."""

    def __init__(self, kernels=(), memory=(), memory_to_keep=()):
        self.kernels = list(kernels)
        # every storage the kernels touch, held as the capture's pool holds its blocks (a kernel may know its
        # memory by address only: fake_cupy_cublas)
        self.memory = list(memory)
        self.memory_to_keep = list(memory_to_keep)  # the part the default pool hands out again once freed

    def launch(self, stream=None):
        from .fake_cupy_ndarray import is_live

        freed = [storage for storage in self.memory_to_keep if not is_live(storage)]
        if freed:
            shapes = ", ".join(f"{storage.shape} {storage.dtype}" for storage in freed[:3])
            raise RuntimeError(
                f"the graph reads or writes memory freed since its capture ({len(freed)} array(s): {shapes}): "
                "on a GPU CuPy's pool may have given it to another array (the stand-in refuses the launch)"
            )
        with np.errstate(all="ignore"):
            for kernel in self.kernels:
                kernel()
