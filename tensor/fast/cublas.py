"""cuBLAS's matrix product, called directly: what a CUDA graph capture records (tensor/cuda.py, CUDAGraph).

CuPy refuses every cuBLAS call while a stream captures (its cublas.setStream raises NotImplementedError),
so a capture calls cuBLAS's strided-batched GEMM itself, through ctypes, on CuPy's own cuBLAS handle and
the library CuPy loaded. cuBLAS is column-major: a row-major (m, k) matrix is its (k, m) transpose there,
so C = A @ B is computed as C^T = B^T @ A^T, with B's memory first. While recording, cuBLAS works in a
workspace the graph holds (cublasSetWorkspace), as cuBLAS's notes on CUDA graphs advise, so that it
allocates nothing itself. The signatures are written here by hand, so before a process's first capture
`check_gemm_once` compares this call with CuPy's own products and refuses captures if they differ.
"""

import ctypes

import numpy as np

from ..backend import array_module

GEMM = {
    np.dtype(np.float32): ("cublasSgemmStridedBatched", ctypes.c_float),
    np.dtype(np.float64): ("cublasDgemmStridedBatched", ctypes.c_double),
}
_OP_N, _OP_T = 0, 1  # cublasOperation_t: as stored, transposed
WORKSPACE_BYTES = 32 * 2**20  # cuBLAS's recommendation for Hopper GPUs (4 MiB before them)
_loaded = {}  # "library": the ctypes library; "checked": the first-capture check passed


def _function(name):
    """A cuBLAS function of the library CuPy has loaded (found in the process's memory map)."""
    if "library" not in _loaded:
        with open("/proc/self/maps") as maps:
            major = array_module("cuda").cuda.runtime.runtimeGetVersion() // 1000  # CuPy's CUDA major version
            library = ctypes.CDLL(_library_path(maps, major))
        library.cublasSetStream_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        library.cublasSetPointerMode_v2.argtypes = [ctypes.c_void_p, ctypes.c_int]
        library.cublasSetWorkspace_v2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        for function_name, scalar in GEMM.values():
            function = getattr(library, function_name)
            matrix = [ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong]  # pointer, leading dim, batch stride
            function.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                 ctypes.c_int, ctypes.POINTER(scalar), *matrix, *matrix,
                                 ctypes.POINTER(scalar), *matrix, ctypes.c_int]  # fmt: skip
        _loaded["library"] = library
    return getattr(_loaded["library"], name)


def _library_path(maps, major):
    """The file of the cuBLAS that CuPy uses, among the libraries mapped into the process (lines of
    /proc/self/maps): the one of CuPy's CUDA major version where another (PyTorch's, say) is mapped too."""
    paths = sorted({line.split()[-1] for line in maps if "/libcublas.so" in line})  # not libcublasLt
    if not paths:
        raise RuntimeError(
            "a matrix product inside a CUDA graph capture calls cuBLAS as CuPy loaded it, and CuPy has not "
            "loaded it yet: run the captured work once before capturing it (a warm-up step)"
        )
    return min(paths, key=lambda path: f"/libcublas.so.{major}" not in path)  # .so.13, .so.13.1.0, ...


def _check(status, what):
    if status != 0:
        raise RuntimeError(
            f"cuBLAS {what} failed with status {status} (called by tensor/fast/cublas.py for a CUDA graph)"
        )


def gemm(xp, a, b, result, workspace=None):
    """result[...] = a @ b, result C-ordered of the broadcast batch shape; a and b of result's dtype.
    `workspace`: a byte array cuBLAS works in (while capturing: so that it allocates nothing itself)."""
    (b_op, a_op, n, m, k), (b, b_ld, b_stride), (a, a_ld, a_stride), (ldc, c_stride, count) = _gemm_arguments(
        xp, a, b, result
    )
    name, scalar = GEMM[result.dtype]
    handle, stream = xp.cuda.Device().cublas_handle, xp.cuda.get_current_stream().ptr
    _check(_function("cublasSetStream_v2")(handle, stream), "cublasSetStream")
    _check(_function("cublasSetPointerMode_v2")(handle, 0), "cublasSetPointerMode")  # alpha, beta on the host
    if workspace is not None:  # after setStream, which gives the handle its default workspace back
        _check(
            _function("cublasSetWorkspace_v2")(handle, workspace.data.ptr, workspace.nbytes),
            "cublasSetWorkspace",
        )
    one, zero = scalar(1), scalar(0)
    status = _function(name)(
        handle, b_op, a_op, n, m, k, ctypes.byref(one), b.data.ptr, b_ld, b_stride, a.data.ptr, a_ld, a_stride,
        ctypes.byref(zero), result.data.ptr, ldc, c_stride, count,
    )  # fmt: skip
    _check(status, name)


def _gemm_arguments(xp, a, b, result):
    """The column-major GEMM that computes result = a @ b: C^T (n, m) = op(B^T) (n, k) @ op(A^T) (k, m)
    over `count` batches, as ((op of b, op of a, n, m, k), (b, ld, batch stride), (a, ld, batch stride),
    (ldc, batch stride of result, count)); strides and leading dims in elements."""
    batch = result.shape[:-2]
    (m, k), n = a.shape[-2:], b.shape[-1]
    b_op, b_ld, b_stride, b = _gemm_operand(xp, b, batch)
    a_op, a_ld, a_stride, a = _gemm_operand(xp, a, batch)
    count = int(np.prod(batch)) if batch else 1
    return (b_op, a_op, n, m, k), (b, b_ld, b_stride), (a, a_ld, a_stride), (n, m * n, count)


def check_gemm_once(xp):
    """Before a process's first capture: products of every layout through `_gemm` (the call of cuBLAS
    written here by hand, through ctypes) must equal CuPy's own, or captures are refused. A signature
    that did not match the installed cuBLAS would otherwise give wrong numbers without a word."""
    if _loaded.get("checked"):
        return
    rng = np.random.default_rng(0)

    def operand(*shape, dtype=np.float32):
        return xp.asarray(rng.standard_normal(shape).astype(dtype))

    cases = {
        "(5, 3) @ (3, 4)": (operand(5, 3), operand(3, 4)),
        "(5, 3) @ a transposed (4, 3)": (operand(5, 3), operand(4, 3).T),
        "a transposed (3, 5) @ (3, 4)": (operand(3, 5).T, operand(3, 4)),
        "(2, 3, 5, 3) @ (3, 4), broadcast": (operand(2, 3, 5, 3), operand(3, 4)),
        "(5, 3) @ (2, 3, 4), broadcast": (operand(5, 3), operand(2, 3, 4)),
        "float64 (4, 6, 2) @ (4, 2, 3)": (operand(4, 6, 2, dtype=np.float64), operand(4, 2, 3, dtype=np.float64)),
    }
    for case, (a, b) in cases.items():
        expected = xp.matmul(a, b)
        ours = xp.empty(expected.shape, dtype=expected.dtype)
        try:
            gemm(xp, a, b, ours)
            wrong = "differs from CuPy's own" if not bool(xp.allclose(ours, expected, rtol=1e-5, atol=1e-5)) else None
        except (RuntimeError, OSError, AttributeError) as error:  # a status, or no such library or function
            wrong = f"failed ({error})"
        if wrong:
            raise RuntimeError(
                f"CUDA graphs are not available here: a product that a capture records through cuBLAS, {case}, "
                f"{wrong} on this system (tensor/fast/cublas.py calls cuBLAS itself while capturing)"
            )
    _loaded["checked"] = True


def _gemm_operand(xp, x, batch):
    """(operation, leading dim, batch stride, array) that present row-major x, broadcast to `batch`, to
    cuBLAS as its transpose: as stored when its rows are contiguous, transposed when its columns are (a
    view such as weight.T); a copy in C order when neither or its batch dims do not step by one stride."""
    x = xp.broadcast_to(x, batch + x.shape[-2:])
    rows, cols = x.shape[-2:]
    item = x.itemsize
    (row_step, col_step), stride = x.strides[-2:], _one_stride(x.shape[:-2], x.strides[:-2])
    if stride is not None and stride % item == 0 and row_step % item == 0 and col_step % item == 0:
        if col_step == item and row_step // item >= max(cols, 1):
            return _OP_N, row_step // item, stride // item, x
        if row_step == item and col_step // item >= max(rows, 1):
            return _OP_T, col_step // item, stride // item, x
    x = xp.ascontiguousarray(x)
    return _OP_N, max(cols, 1), rows * cols, x


def _one_stride(shape, strides):
    """The stride (bytes) that steps through dims `shape` as one flat dim, or None where none does."""
    stride, span = None, 1
    for size, step in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue
        if stride is None:
            stride = step
        elif step != stride * span:
            return None
        span *= size
    if stride is None:  # no dim longer than 1
        return 0
    return stride if stride >= 0 else None
