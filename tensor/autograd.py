"""The autograd engine: Function, the backward pass, and no_grad.

Forward: every differentiable op is a Function. `Function.apply` runs its
forward on raw arrays and, when an input needs a gradient, records the
Function as the output's creator (`tensor._ctx`). The recorded creators form
a graph from the output back to the leaves.

Backward: `backward(root)` sorts that graph topologically (iteratively, so a
10,000-op chain is fine), then walks it from the root to the leaves calling
each Function's backward. Two things happen in exactly one place here:
gradients of a tensor used twice are added up, and gradients of broadcast
inputs are summed back to the input's shape (`unbroadcast`).
"""

import functools
import time
from collections import defaultdict

import numpy as np

_grad_enabled = True
_profile = None  # while a `profile` is active: op name -> [calls, forward seconds, backward seconds]


def is_grad_enabled():
    return _grad_enabled


class no_grad:
    """Context manager and decorator: inside it, ops record no graph."""

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = False

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager and decorator: turn graph recording back on inside no_grad."""

    def __enter__(self):
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = True


class profile:
    """Context manager: time every Function's forward and backward, by op name.

    The time inside forward/backward is array work (NumPy or CuPy kernels); whatever
    else a step takes is Python: building tensors, the graph walk, the optimizer loop.
    `summary(total_seconds)` prints the split.
    """

    def __enter__(self):
        global _profile
        self.records = _profile = defaultdict(lambda: [0, 0.0, 0.0])
        return self

    def __exit__(self, *exc_info):
        global _profile
        _profile = None

    def kernel_seconds(self):
        return sum(forward + backward for _, forward, backward in self.records.values())

    def summary(self, total_seconds=None):
        rows = sorted(self.records.items(), key=lambda item: -(item[1][1] + item[1][2]))
        lines = [f"{'op':<28}{'calls':>8}{'forward ms':>12}{'backward ms':>13}"]
        lines += [
            f"{name:<28}{calls:>8}{forward * 1e3:>12.2f}{backward * 1e3:>13.2f}"
            for name, (calls, forward, backward) in rows
        ]
        if total_seconds:
            kernels = self.kernel_seconds()
            lines.append(
                f"inside ops {kernels * 1e3:.1f} ms of {total_seconds * 1e3:.1f} ms ({kernels / total_seconds:.0%}); the rest is Python"
            )
        return "\n".join(lines)


def unbroadcast(grad, shape):
    """Sum a gradient that was broadcast up to grad.shape back down to `shape`.

    Broadcasting copies an input along new leading dims and along dims of size 1;
    the gradient of a copy is the sum over the copies.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    kept_ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if kept_ones:
        grad = grad.sum(axis=kept_ones, keepdims=True)
    return grad


class Function:
    """A differentiable op: `forward` on arrays, `backward` maps the output's gradient
    to one gradient per tensor input (None where an input needs none).

    An instance is the op's context: forward stores on `self` what backward needs.
    `self.xp` is the array module (numpy or cupy) and `self.needs_input_grad` says
    which inputs want a gradient, so backward can skip work nobody uses.
    """

    def __init__(self, xp, parents):
        self.xp = xp
        self.parents = parents
        self.needs_input_grad = tuple(p.requires_grad for p in parents)
        self.freed = False
        self.grad_output = None

    def save_for_backward(self, *arrays):
        self.saved = arrays

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on Tensors and return a Tensor that remembers how it was made."""
        from .tensor import Tensor

        device = inputs[0].device
        for other in inputs[1:]:
            if other.device != device:
                devices = ", ".join(f"{t.device} {t.shape}" for t in inputs)
                raise RuntimeError(f"{cls.__name__}: all inputs must be on one device, got {devices}")
        requires_grad = _grad_enabled and any(t.requires_grad for t in inputs)
        fn = cls(inputs[0]._xp, inputs if requires_grad else ())
        started = time.perf_counter() if _profile is not None else 0.0
        try:
            out = fn.forward(*(t.data for t in inputs), **params)
        except ValueError as error:
            shapes = " and ".join(str(t.shape) for t in inputs)
            raise RuntimeError(f"{cls.__name__} failed for inputs of shapes {shapes}: {error}") from None
        if isinstance(out, np.generic):  # NumPy turns full reductions into scalars; keep 0-d arrays
            out = np.asarray(out)
        if _profile is not None:
            record = _profile[cls.__name__]
            record[0] += 1
            record[1] += time.perf_counter() - started
        return Tensor._wrap(out, requires_grad, fn if requires_grad else None)

    def __repr__(self):
        return f"<{type(self).__name__}>"


def topological_order(root):
    """Functions reachable from root, each listed after every Function that uses its output.

    An iterative depth-first search with an explicit stack, so graph depth is
    limited by memory, not by Python's recursion limit.
    """
    order, visited = [], set()
    stack = [(root._ctx, False)]
    while stack:
        fn, children_done = stack.pop()
        if children_done:
            order.append(fn)
            continue
        if id(fn) in visited:
            continue
        visited.add(id(fn))
        stack.append((fn, True))
        for parent in fn.parents:
            if parent._ctx is not None and id(parent._ctx) not in visited:
                stack.append((parent._ctx, False))
    order.reverse()
    return order


def backward(root, grad, retain_graph=False):
    """Accumulate d(root)/d(leaf) into every leaf's .grad, seeded with `grad` = d(root)/d(root).

    The gradient flowing into a non-leaf tensor is kept on the Function that made
    it (`fn.grad_output`); a tensor used twice receives the sum of both paths.
    """
    if root._ctx is None:
        root._accumulate_grad(grad)
        return
    root._ctx.grad_output = grad
    for fn in topological_order(root):
        if fn.freed:
            raise RuntimeError(
                f"trying to backward through the graph a second time ({type(fn).__name__} has "
                "already been freed); pass retain_graph=True to the first backward() to keep it"
            )
        out_grad, fn.grad_output = fn.grad_output, None
        started = time.perf_counter() if _profile is not None else 0.0
        input_grads = fn.backward(out_grad) if out_grad is not None else ()
        if _profile is not None:
            _profile[type(fn).__name__][2] += time.perf_counter() - started
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        for parent, parent_grad in zip(fn.parents, input_grads):
            if parent_grad is None or not parent.requires_grad:
                continue
            parent_grad = unbroadcast(parent_grad, parent.shape)
            producer = parent._ctx
            if producer is None:
                parent._accumulate_grad(parent_grad)
            elif producer.grad_output is None:
                producer.grad_output = parent_grad
            else:
                producer.grad_output = producer.grad_output + parent_grad
        if not retain_graph:
            fn.saved, fn.parents, fn.freed = (), (), True
