"""cupy.cuda of the stand-in: the runtime's device queries, Device, and streams that never lag.

One device unless a test sets `runtime.device_count`. An invalid device ordinal raises
CUDARuntimeError when the device is used, as CuPy's Device(i) does (constructing it is fine).
A synchronisation is recorded with the host reads: the host waits for the device there too.
"""

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


class Stream:
    def synchronize(self):
        _record("Stream.synchronize()")


def get_current_stream():
    return Stream()
