"""Devices and their array modules: "cpu" runs on NumPy, "cuda" on CuPy.

This is the only module that knows CuPy exists. CuPy is imported lazily, the
first time a "cuda" array is asked for, so the CPU path never needs it.
"""

import numpy as np

from . import dtypes
from .kernels import replaceable
from .special import erf as numpy_erf

DEVICES = ("cpu", "cuda")

_cupy = None

# The CUDA graph being captured, or None; always None in reference mode. CUDA graphs are an engine-room
# device: tensor/fast/cuda_graphs.py sets this while it captures, and its stand-ins for the functions
# marked @replaceable below record what a capture can record and refuse the rest.
graph_capture = None


def _import_cupy():
    """Import CuPy once; raise a RuntimeError that says what is missing."""
    global _cupy
    if _cupy is None:
        try:
            import cupy
        except ImportError as error:
            raise RuntimeError(
                'device "cuda" needs CuPy, which is not installed: on a machine with an NVIDIA GPU, '
                'pip install -e ".[cuda12]" (or ".[cuda13]": the "CUDA Version" that nvidia-smi prints)'
            ) from error
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CUDA driver missing or broken
            raise RuntimeError(f'device "cuda": CuPy is installed but no GPU is usable ({error})') from error
        if count == 0:
            raise RuntimeError('device "cuda": CuPy is installed but no GPU was found')
        _cupy = cupy
    return _cupy


def is_cuda_available():
    """True when CuPy imports and sees at least one GPU."""
    try:
        _import_cupy()
    except RuntimeError:
        return False
    return True


def normalize_device(device):
    """Accept "cpu", "cuda", "cuda:0" (or None for "cpu") and return "cpu" or "cuda".

    Tensors live on one GPU, device 0: "cuda:1" and up are errors that say how many GPUs
    there are, rather than silently meaning device 0."""
    if device is None:
        return "cpu"
    name, _, index = str(device).partition(":")
    if name in DEVICES and index in ("", "0"):
        return name
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES}")
    if not index.isdigit():
        raise ValueError(f"unknown device {device!r}: the index after ':' must be a number")
    if name == "cpu":
        raise RuntimeError(f'device {device!r} does not exist: the CPU is "cpu" (or "cpu:0")')
    count = _import_cupy().cuda.runtime.getDeviceCount()
    raise RuntimeError(
        f'device {device!r}: this library runs on one GPU, "cuda:0" (or "cuda"); '
        f"this machine has {count} GPU{'s' if count != 1 else ''}"
    )


class device(str):  # noqa: N801  PyTorch's name
    """torch.device: where a tensor lives, "cpu" or "cuda" (GPU 0). A string subclass, so a device goes
    wherever a device name goes (device("cuda") == "cuda"); `.type` and `.index` are PyTorch's, and
    str() is the type alone ("cuda" where PyTorch writes "cuda:0" for device("cuda:0")).

    device("cuda"), device("cuda:0"), device("cuda", 0); `tensor.device` is one of these."""

    def __new__(cls, type, index=None):
        spec = str(type) if index is None else f"{type}:{index}"
        self = super().__new__(cls, normalize_device(spec))
        _, _, number = spec.partition(":")
        self.index = int(number) if number else None
        return self

    @property
    def type(self):
        return str.__str__(self)

    def __repr__(self):
        return f"device(type={self.type!r}" + ("" if self.index is None else f", index={self.index}") + ")"

    def __reduce__(self):
        return device, (self.type, self.index)


_CPU, _CUDA = device("cpu"), device("cuda")


def array_module(device):
    """numpy for "cpu", cupy for "cuda"."""
    return np if device == "cpu" else _import_cupy()


def device_of(array):
    """device("cpu") for a NumPy array, device("cuda") for a CuPy array."""
    return _CPU if isinstance(array, (np.ndarray, np.generic)) else _CUDA


def to_device(array, device):
    """Copy an array to a device's module (a no-op when it is already there)."""
    if device_of(array) == device:
        return array
    if device == "cpu":
        return array.get()
    return _import_cupy().asarray(array)


def array_from(data, dtype=None, device=None):
    """A new array holding a copy of `data` (a number, nested list, or NumPy/CuPy array): of `dtype`, or
    inferred as PyTorch does (float32 for Python floats, int64 for ints); on `device`, or the data's own."""
    is_array = hasattr(data, "dtype") and hasattr(data, "shape")
    device = normalize_device(device) if device is not None else (device_of(data) if is_array else "cpu")
    host = to_device(data, "cpu") if is_array else data
    dtype = dtypes.normalize_dtype(dtype) if dtype is not None else dtypes.infer_dtype(host)
    try:
        array = np.array(host, dtype=dtype)
    except (ValueError, TypeError) as error:
        raise TypeError(f"cannot make a {dtype} tensor from {type(data).__name__}: {error}") from None
    return to_device(array, device)


def scatter_add(target, index, values):
    """target[index] += values, accumulating repeated indices (numpy.add.at semantics).

    NumPy accumulates sequentially, so the result is deterministic. CuPy uses
    atomic adds: repeated indices are summed correctly, though the order of
    the float additions (and so the last bit) may vary between runs.
    """
    if device_of(target) == "cpu":
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)
    return target


def erf(array):
    """The error function, elementwise: our NumPy implementation on "cpu", CuPy's on "cuda"."""
    if device_of(array) == "cpu":
        return numpy_erf(array)
    from cupyx.scipy.special import erf as cupy_erf

    return cupy_erf(array)


@replaceable  # the engine room raises glibc's mmap and trim thresholds (tensor/fast/malloc.py)
def tune_malloc():
    """Tune the C allocator for training (importing the library in fast mode does it once). In reference
    mode it leaves the allocator as it is and returns False; in fast mode it keeps NumPy's large
    temporaries in the process between steps (True when that worked)."""
    return False


@replaceable
def synchronize(xp):
    """Wait until every kernel queued on xp's device has finished (NumPy runs synchronously: no wait)."""
    if xp is not np:
        xp.cuda.get_current_stream().synchronize()


@replaceable
def matmul_on(xp, a, b, out=None):
    """xp.matmul(a, b, out=out): a matrix product of arrays of one device."""
    return xp.matmul(a, b, out=out)


@replaceable
def concatenate(xp, arrays, axis=0):
    """xp.concatenate(arrays, axis)."""
    return xp.concatenate(arrays, axis=axis)


@replaceable
def stack(xp, arrays, axis=0):
    """xp.stack(arrays, axis)."""
    return xp.stack(arrays, axis=axis)


@replaceable
def random_generator(xp, seed):
    """A generator of random numbers on xp's device, from a numpy.random.SeedSequence `seed`."""
    return xp.random.Generator(xp.random.Philox4x3210(seed))
