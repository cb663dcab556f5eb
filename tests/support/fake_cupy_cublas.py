"""The cuBLAS library as tensor/cublas.py calls it while a CUDA graph is captured, for the CuPy stand-in.

CuPy refuses cuBLAS during a capture, so the library calls cuBLAS's strided-batched GEMM itself (ctypes,
on the library CuPy loaded). With the stand-in there is no cuBLAS; this object takes its place in
`tensor.cublas._loaded["library"]` and does what cuBLAS documents, on the stand-in arrays' host memory
(their `.data.ptr`): column-major matrices at a pointer, a leading dimension and a stride between the
batch's matrices (in elements), C = alpha op(A) op(B) + beta C, and CUBLAS_STATUS_INVALID_VALUE (7)
for a leading dimension shorter than a column or a negative size. So the tests prove what is ours -
the column-major presentation of row-major operands, views and broadcast batches - everywhere; the
real library is exercised by tests/cuda/test_graphs.py on a GPU.
"""

import ctypes

import numpy as np

from .fake_cupy_graph import launch
from .fake_cupy_ndarray import storage_at

INVALID_VALUE = 7
OP_N, OP_T = 0, 1


class Library:
    def __init__(self):
        self.calls = []  # the GEMMs' names, in order
        self.pointer_mode = 0
        self.workspace = None  # (address, bytes) of the user workspace, once set

    def cublasSetStream_v2(self, handle, stream):  # noqa: N802  cuBLAS's names
        return 0

    def cublasSetPointerMode_v2(self, handle, mode):  # noqa: N802
        self.pointer_mode = mode
        return 0

    def cublasSetWorkspace_v2(self, handle, workspace, size):  # noqa: N802
        self.workspace = (workspace, size)
        return 0

    def cublasSgemmStridedBatched(self, *arguments):  # noqa: N802
        return self._gemm("cublasSgemmStridedBatched", ctypes.c_float, *arguments)

    def cublasDgemmStridedBatched(self, *arguments):  # noqa: N802
        return self._gemm("cublasDgemmStridedBatched", ctypes.c_double, *arguments)

    def _gemm(self, name, scalar, handle, transa, transb, m, n, k, alpha, a, lda, stride_a, b, ldb, stride_b,
              beta, c, ldc, stride_c, count):  # fmt: skip
        self.calls.append(name)
        a_rows, a_cols = (m, k) if transa == OP_N else (k, m)
        b_rows, b_cols = (k, n) if transb == OP_N else (n, k)
        if min(m, n, k, count) < 0 or lda < max(1, a_rows) or ldb < max(1, b_rows) or ldc < max(1, m):
            return INVALID_VALUE
        if self.pointer_mode != 0:
            return INVALID_VALUE  # alpha and beta are host values here
        op_a = _matrices(scalar, a, lda, stride_a, count, a_rows, a_cols)
        op_b = _matrices(scalar, b, ldb, stride_b, count, b_rows, b_cols)
        if transa == OP_T:
            op_a = op_a.swapaxes(1, 2)
        if transb == OP_T:
            op_b = op_b.swapaxes(1, 2)
        out = _matrices(scalar, c, ldc, stride_c, count, m, n)
        alpha, beta = alpha._obj.value, beta._obj.value

        def product():  # a kernel: recorded while a stream captures, on the memory at those addresses
            # C^T = op(B)^T op(A)^T, the row-major product that the stand-in's matmul runs for the same operands
            # (NumPy's A @ B), so a captured product sums as the eager one does: op(A) @ op(B) runs the mirrored
            # BLAS call, which can round some elements differently. A GPU's CuPy calls cuBLAS this way itself.
            product = (op_b.swapaxes(1, 2) @ op_a.swapaxes(1, 2)).swapaxes(1, 2)
            out[...] = alpha * product + (beta * out if beta else 0)

        read, written = [storage_at(a), storage_at(b)], storage_at(c)
        launch(product, [memory for memory in read if memory is not None], () if written is None else (written,))
        return 0


def _matrices(scalar, pointer, ld, stride, count, rows, cols):
    """`count` column-major (rows, cols) matrices at host address `pointer` as one NumPy view."""
    if count == 0 or rows == 0 or cols == 0:
        return np.zeros((count, rows, cols), dtype=np.dtype(scalar))
    extent = (count - 1) * stride + (cols - 1) * ld + rows  # elements from the first to the last one read
    memory = np.ctypeslib.as_array((scalar * extent).from_address(pointer))
    item = memory.itemsize
    return np.lib.stride_tricks.as_strided(memory, (count, rows, cols), (stride * item, item, ld * item))
