"""glibc's allocator tuned for training: the stand-in of tensor.backend.tune_malloc in fast mode."""

import ctypes
import sys

from .. import backend, kernels


def keep_large_blocks():
    """Keep NumPy's large temporaries in the process between training steps (glibc only); True when set.

    Under glibc's defaults a large array may be mmap'ed and handed back to the OS when freed, then paged
    in again on the next step. Raising the mmap and trim thresholds keeps that memory in the process
    instead (measured effects in benchmarks/README.md). It changes the whole process: importing the
    library in fast mode calls it once, so a learner's own training script gets it too, as the command
    line and the benchmarks do (tensor.backend.tune_malloc); reference mode leaves the allocator alone.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        return bool(libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))
    except (OSError, AttributeError):
        return False


kernels.register_stand_in(backend.tune_malloc, keep_large_blocks, "malloc tuning")
if kernels.get_kernels() == "fast":  # a learner's script never calls tune_malloc: fresh 2 MB temporaries fault in
    keep_large_blocks()
