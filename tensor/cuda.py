"""`tensor.cuda.is_available()`, as `torch.cuda.is_available()`."""

from .backend import is_cuda_available as is_available

__all__ = ["is_available"]
