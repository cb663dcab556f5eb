"""cupy.cuda of the stand-in: the runtime's device queries, Device, and streams that never lag.

One device unless a test sets `runtime.device_count`. An invalid device ordinal raises
CUDARuntimeError when the device is used, as CuPy's Device(i) does (constructing it is fine).
A synchronisation is recorded with the host reads: the host waits for the device there too.
"""

from . import fake_cupy_graph

TOTAL_MEMORY = 80 * 2**30


class CUDARuntimeError(RuntimeError):
    pass


def _record(what):
    from .fake_cupy import host_reads

    host_reads.record(what)


class _Runtime:
    """cupy.cuda.runtime: the functions of the CUDA runtime API the project calls."""

    CUDARuntimeError = CUDARuntimeError
    is_hip = False
    device_count = 1
    current_device = 0

    def getDeviceCount(self):
        return self.device_count

    def _check(self, device):
        if not 0 <= device < self.device_count:
            raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def getDeviceProperties(self, device):
        self._check(device)
        return {
            "name": b"CuPy stand-in (NumPy on the host)",
            "totalGlobalMem": TOTAL_MEMORY,
            "multiProcessorCount": 1,
            "major": 9,
            "minor": 0,
        }

    def getDevice(self):
        return self.current_device

    def setDevice(self, device):
        self._check(device)
        self.current_device = device

    def memGetInfo(self):
        from .fake_cupy import get_default_memory_pool

        return TOTAL_MEMORY - get_default_memory_pool().total_bytes(), TOTAL_MEMORY

    def deviceSynchronize(self):
        _record("deviceSynchronize()")

    def runtimeGetVersion(self):
        return 12080

    def driverGetVersion(self):
        return 12080


runtime = _Runtime()


class Device:
    def __init__(self, device=None):
        self.id = runtime.getDevice() if device is None else int(device)

    def use(self):
        runtime.setDevice(self.id)

    def synchronize(self):
        runtime._check(self.id)
        _record("Device.synchronize()")

    @property
    def cublas_handle(self):
        runtime._check(self.id)
        return 1

    @property
    def compute_capability(self):
        runtime._check(self.id)
        return "90"

    @property
    def mem_info(self):
        runtime._check(self.id)
        return runtime.memGetInfo()

    def __enter__(self):
        self._previous = runtime.getDevice()
        self.use()
        return self

    def __exit__(self, *exc_info):
        runtime.setDevice(self._previous)

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


def get_device_id():
    return runtime.getDevice()


# ----- streams, graph capture, allocators ----------------------------------------------------------------

CAPTURE_ERROR = "cudaErrorStreamCaptureUnsupported: operation not permitted when stream is capturing"
capturing = None  # the Stream recording a graph, or None; every host read raises meanwhile, as CUDA's do


class Stream:
    """A stream; `with stream:` makes it the current one. A non-default stream can record a graph
    (begin_capture / end_capture), as CuPy's can; the default (null) stream cannot."""

    _current = []  # the streams entered, innermost last

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        self.null = null
        self.ptr = 0 if null else id(self)

    def synchronize(self):
        _record("Stream.synchronize()")

    def __enter__(self):
        Stream._current.append(self)
        return self

    def __exit__(self, *exc_info):
        Stream._current.pop()

    def begin_capture(self, mode=None):
        global capturing
        if self.null:
            raise CUDARuntimeError("cudaErrorStreamCaptureUnsupported: the default stream cannot be captured")
        if capturing is not None:
            raise CUDARuntimeError("cudaErrorIllegalState: a stream is capturing already")
        capturing = self
        fake_cupy_graph.begin()

    def is_capturing(self):
        return capturing is self

    def end_capture(self):
        global capturing
        if capturing is not self:
            raise CUDARuntimeError("cudaErrorIllegalState: this stream is not capturing")
        capturing = None
        return fake_cupy_graph.end()


Stream.null = Stream(null=True)


def get_current_stream():
    return Stream._current[-1] if Stream._current else Stream.null


Graph = fake_cupy_graph.Graph


class MemoryPool:
    """A pool for using_allocator (CUDA graphs' private pool). Arrays are counted by the default pool."""

    def malloc(self, size):
        raise NotImplementedError("the stand-in allocates through NumPy")

    def free_all_blocks(self):
        pass


_allocators = []


class using_allocator:  # noqa: N801  CuPy's name
    """Context manager: `allocator` serves the allocations inside (recorded; the stand-in allocates with NumPy)."""

    def __init__(self, allocator=None):
        self.allocator = allocator

    def __enter__(self):
        _allocators.append(self.allocator)

    def __exit__(self, *exc_info):
        _allocators.pop()
