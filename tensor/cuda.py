"""`tensor.cuda.is_available()`, as `torch.cuda.is_available()`; the GPU generator's state for checkpoints."""

from .backend import is_cuda_available as is_available
from .creation import generator


def get_rng_state(device="cuda"):
    """The "cuda" generator's state, as torch.cuda.get_rng_state: {"seed", "draws"}, two integers
    kept on the host, so it can be read and saved (in a checkpoint) without a GPU."""
    return generator(device).get_state()


def set_rng_state(new_state, device="cuda"):
    generator(device).set_state(new_state)


__all__ = ["is_available", "get_rng_state", "set_rng_state"]
