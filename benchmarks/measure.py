"""How we time things: warm-up, then the median of several runs, alternating between the
things compared so that a noisy neighbour slows all of them alike; plus the machine header."""

import ctypes
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

import tensor


def synchronize(device):
    if device == "cuda":
        tensor.backend.array_module("cuda").cuda.Device().synchronize()


def interleaved_medians(functions, repeats, warmup=2, device="cpu", pause=0.0):
    """{name: median seconds} for {name: zero-argument function}, run alternately.

    pause: seconds to sleep before each timed run. BLAS and OpenMP worker threads keep
    spinning for a while after their last task (OpenBLAS's default is 2^28 cycles, about
    0.1 s), taking a core from whatever runs next; when two libraries are compared, the pause
    keeps one's idle threads out of the other's time. Without it, PyTorch's tiny step measured
    66 ms right after ours, against 30 ms after a pause (benchmarks/README.md).
    """
    for fn in functions.values():
        for _ in range(warmup):
            fn()
        synchronize(device)
    samples = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            time.sleep(pause)
            started = time.perf_counter()
            fn()
            synchronize(device)
            samples[name].append(time.perf_counter() - started)
    return {name: statistics.median(times) for name, times in samples.items()}


def peak_rss_mib():
    """This process's peak resident memory (VmHWM). Unlike getrusage's ru_maxrss, which Linux
    carries across fork and exec (a child would report its parent's peak), VmHWM starts afresh
    in every new program."""
    try:
        with open("/proc/self/status") as file:
            return next(int(line.split()[1]) for line in file if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def current_rss_mib():
    try:
        with open("/proc/self/statm") as file:
            return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


class _MallInfo2(ctypes.Structure):
    """glibc's struct mallinfo2 (glibc 2.33 and later): what malloc holds, in bytes."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def heap_in_use_mib():
    """Memory that malloc has handed to the program and not had back, in MiB (glibc's mallinfo2:
    uordblks, the heap's chunks in use, plus hblkhd, the chunks mmap'ed on their own); None where
    that is not available (another C library, glibc before 2.33).

    Resident memory also counts the free chunks that malloc keeps for the next allocation: a
    program that keeps nothing can still see it rise once, when a freed hole is too small for the
    next array and the heap grows instead. This figure rises only when the program keeps memory."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20


# The side of the square product that measures the peak. A CPU core reaches its BLAS peak at 1024;
# a GPU finishes a 1024^3 product in microseconds, so launch overhead dominates and the "peak" comes
# out far too low: 8192^3 (1.1 TFLOP) keeps every multiprocessor of a large GPU busy for milliseconds.
GEMM_PEAK_SIZE = {"cpu": 1024, "cuda": 8192}


def gemm_peak_gflops(device, size=None, repeats=5):
    """Measured float32 matrix-multiply throughput of this machine, the yardstick for a step's FLOP use."""
    size = size or GEMM_PEAK_SIZE[device]
    xp = tensor.backend.array_module(device)
    a = xp.asarray(np.random.default_rng(0).standard_normal((size, size)), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats + 1):
        synchronize(device)
        started = time.perf_counter()
        a @ a
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def machine_header(devices):
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "unknown"
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{config.get('name')} {config.get('version')}"
    except Exception:  # older NumPy has no dict mode
        pass
    header = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "date": time.strftime("%Y-%m-%d"),
    }
    if "cuda" in devices:
        cupy = tensor.backend.array_module("cuda")
        header["gpu"] = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
        header["cupy"] = cupy.__version__
    try:
        import torch

        header["torch"] = torch.__version__
        header["torch_threads"] = torch.get_num_threads()
    except ImportError:
        header["torch"] = None
    return header
