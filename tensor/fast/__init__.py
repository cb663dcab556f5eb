"""The engine room, tensor side: devices whose only reason to exist is speed or memory, each registered as the
stand-in of a textbook object (tensor/kernels.py) and tested equal to it (tests/fast/). Importing this package
registers them; tensor/__init__.py does, and TINYGRAD_GPT_KERNELS=reference (or tensor.set_kernels) turns
them all off.

    threads.py       the BLAS thread policy and a second thread: Matmul's stand-in, and blocks of rows for nn/fast
    adam.py          Adam's step on flat arrays and in one CUDA kernel, with a capturable step count
    grad_buffers.py  gradient arrays kept from one backward to the next
    cuda_graphs.py   CUDA graphs (tensor.cuda.CUDAGraph) and what a capture records differently
    cublas.py        cuBLAS's product through ctypes, for captures
    malloc.py        glibc's mmap and trim thresholds (tensor.backend.tune_malloc)
    powers.py        x ** n for whole n in 3..8 by products (PowScalar's stand-in)
    select.py        np.where by two copies for a broadcast condition (Where's stand-in)
    relu.py          relu's gradient by a product with its mask, repaired where it made a nan (Relu's stand-in)
"""

from . import adam, cuda_graphs, grad_buffers, malloc, powers, relu, select, threads

__all__ = ["adam", "cuda_graphs", "grad_buffers", "malloc", "powers", "relu", "select", "threads"]
