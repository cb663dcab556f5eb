"""Gradient arrays kept between steps: zero_grad lets go of a gradient, and the next backward writes into
its array, when nothing else can see it. Stand-ins of tensor.optim.optimizer.clear_grads (zero_grad) and
Tensor._accumulate_grad, tested equal to them (tests/fast/test_tensor_grad_buffers.py).

Why: a gradient made anew each step is allocated in the middle of backward, among the step's temporaries,
and outlives them; malloc's heap then grows for several steps before the pattern settles (the GPT at the
medium config; flat from the second step with the arrays kept; benchmarks/README.md). PyTorch's caching
allocator hands the same memory back too.

Nothing else can see the array when the only references to the grad tensor and to its array are ours (no
view of it anywhere: a view holds its base), counted with sys.getrefcount: PyTorch's gradient accumulation
asks the same question of a tensor's use count. Python 3.14 may count fewer references (borrowed ones), so
the arrays are kept only where the count is exact. The array waits in the tensor's `_spare_grad` slot.
"""

import sys

from .. import hooks, kernels
from ..optim.optimizer import clear_grads
from ..tensor import Tensor

# Whether sys.getrefcount counts every reference (CPython before 3.14).
_COUNTS_EVERY_REFERENCE = sys.implementation.name == "cpython" and sys.version_info < (3, 14)


def clear_grads_keeping_arrays(params, set_to_none=True):
    """clear_grads; with set_to_none, each gradient array that nothing else can see stays with its tensor."""
    if not set_to_none:
        clear_grads.__wrapped__(params, set_to_none)
        return
    for p in params:
        drop_grad(p)


def drop_grad(t):
    """t.grad = None; the array stays with the tensor, for the next backward to write t's gradient into,
    when nothing else can see it."""
    grad, t.grad = t.grad, None
    if (
        _COUNTS_EVERY_REFERENCE
        and grad is not None
        and grad._array.base is None  # owns its memory: a view's base may be someone else's
        and sys.getrefcount(grad) == 2  # `grad` and getrefcount's argument
        and sys.getrefcount(grad._array) == 2  # grad's slot and the argument
    ):
        t._spare_grad = grad._array


def accumulate_into_spare(t, grad):
    """Tensor._accumulate_grad, writing a first gradient into the array that zero_grad let go of."""
    if getattr(t, "_no_grad_view", False):  # a view made under no_grad never receives a gradient
        return
    if getattr(t, "_hooks", None):  # register_hook's hooks see the gradient first, as the textbook's
        grad = hooks.run_hooks(t, grad)
    if t.grad is not None:  # added in place, as the textbook's
        t._xp.add(t.grad._array, grad, out=t.grad._array)
        t.grad._version_counter.value += 1
        return
    spare, t._spare_grad = t._spare_grad, None
    data = t._array
    if spare is not None and (type(spare), spare.shape, spare.dtype) == (type(data), data.shape, data.dtype):
        spare[...] = grad
        t.grad = Tensor._wrap(spare)
    else:
        t.grad = Tensor._wrap(grad.astype(data.dtype, copy=True))


DEVICE = "gradient buffers"
kernels.register_stand_in(clear_grads, clear_grads_keeping_arrays, DEVICE)
kernels.register_stand_in(Tensor._accumulate_grad, accumulate_into_spare, DEVICE)
